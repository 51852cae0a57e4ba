/*
 * config.c - the configuration file: one table of keys, each with its
 * setter, default and bounds, parsed into an immutable, reference-counted
 * snapshot.
 *
 * Exports config_parse, config_load, config_defaults, config_ref,
 * config_unref, config_dump, config_is_internal_network,
 * config_find_mailbox and config_parse_duration (config.h).
 *
 * Defaults are written as text in the table and go through the same
 * setters as a file's values, so a default can never be something a file
 * could not say, and config_dump's output parses back to the same
 * snapshot. A file is read to the end before it is judged: every error is
 * reported as "file:line: message", and a file with any error gives no
 * snapshot at all (Postfix and OpenSMTPD behave the same way).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "address.h"
#include "config.h"
#include "log.h"
#include "util.h"

#define CONFIG_MAX_SIZE (1024 * 1024)	/* refuse to slurp /dev/zero */
#define LINE_MAX_LEN 65536
#define QUOTE_MAX 60			/* longest value quoted back in an error */
#define HEADER_NAME_MAX 64
#define TEXT_MAX 200			/* SecureSubject, HelpURL: they end up in headers and replies */
#define LIST_SEP ", \t"
#define MINUTE 60L
#define HOUR 3600L
#define DAY 86400L

/* QV(v) - the arguments for "\"%.*s%s\"": v, cut short in an error message. */
#define QV(v) quote_len(v), (v), (strlen(v) > (size_t)quote_len(v) ? "..." : "")

struct parser;
struct key;

typedef bool set_fn(struct parser *p, struct config *c, const struct key *k, char *v);
typedef void dump_fn(struct strbuf *out, const struct config *c, const struct key *k);
typedef bool check_fn(struct parser *p, const char *v);
typedef char *entry_fn(const char *entry, const char **why);

struct choice {
	const char *name;
	int value;
	const char *never;	/* set: the word is known but refused, for this reason */
};

struct numbered {
	unsigned line;
	size_t index;
};

enum {
	KEY_REPEAT = 1,		/* may be given more than once */
	KEY_REST = 2,		/* the value is the rest of the line, '#' included */
	KEY_LOWER = 4		/* store the value in lower case */
};

struct key {
	const char *name;
	set_fn *set;
	dump_fn *dump;
	const char *def;	/* default, as a file would write it; NULL = not set */
	size_t off;		/* the field in struct config */
	size_t off_n;		/* lists: the element count */
	long min, max;		/* numbers and durations */
	const struct choice *choices;
	check_fn *check;	/* strings: extra validation */
	entry_fn *entry;	/* lists: normalise one entry, or NULL with a reason */
	unsigned flags;
};

static set_fn set_str, set_bool, set_choice, set_int, set_octal, set_duration, set_list,
	set_networks, set_language, set_mailbox, set_default_mailbox, set_facility, set_level;
static dump_fn dump_str, dump_bool, dump_choice, dump_int, dump_octal, dump_duration, dump_list,
	dump_networks, dump_language, dump_mailboxes, dump_facility, dump_level;
static check_fn check_path, check_socket, check_userid, check_field_name, check_url,
	check_ldap_filter, check_cipher, check_reinject, check_text;
static entry_fn entry_domain, entry_ldap_uri;

static void perr(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void perr_at(struct parser *p, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int quote_len(const char *v);
static void parse_line(struct parser *p, struct config *c, const char *s, size_t n);
static const char *line_problem(const char *s, size_t n);
static char *clean_value(char *v, bool rest);
static int find_key(const char *name);
static void unknown_key(struct parser *p, const char *name);
static size_t edit_distance(const char *a, const char *b);
static void check_file(struct parser *p, struct config *c);
static bool failed(const struct parser *p, const char *key);
static void flush_errors(struct parser *p, struct strlist *errors);
static int by_line(const void *a, const void *b);
static bool find_choice(struct parser *p, const struct key *k, const char *v, int *out);
static const char *choice_name(const struct choice *ch, int value);
static bool parse_long(const char *v, int base, long *out);
static const char *skip_prefix(const char *s, const char *prefix);
static bool port_ok(const char *s, size_t n);
static bool host_ok(const char *s, size_t n);
static bool parse_network(struct parser *p, const char *e, struct netmask *out);
static void mask_addr(unsigned char *addr, int prefix);
static bool net_match(const struct netmask *n, int family, const unsigned char *addr);
static char *mailbox_address(struct parser *p, const char *v);
static bool same_address(const char *a, const char *b);
static void fmt_duration(long s, char *buf, size_t size);
static void free_strv(char **v, size_t n);
static void config_free(struct config *c);

_Static_assert(sizeof(enum mode) == sizeof(int), "enum fields are set through int *");
_Static_assert(sizeof(enum action) == sizeof(int), "enum fields are set through int *");
_Static_assert(sizeof(enum detect_cpr) == sizeof(int), "enum fields are set through int *");

static const struct choice bool_choices[] = {
	{ "yes", 1, NULL },  { "no", 0, NULL }, { "true", 1, NULL },
	{ "false", 0, NULL }, { "1", 1, NULL }, { "0", 0, NULL },
	{ NULL, 0, NULL },
};
static const struct choice mode_choices[] = {
	{ "enforce", MODE_ENFORCE, NULL }, { "monitor", MODE_MONITOR, NULL }, { NULL, 0, NULL },
};
static const struct choice partner_choices[] = {
	{ "accept", ACTION_DELIVER, NULL }, { "reject", ACTION_REJECT, NULL }, { NULL, 0, NULL },
};
static const struct choice freemail_choices[] = {
	{ "reject", ACTION_REJECT, NULL },
	{ "hold", ACTION_HOLD, NULL },
	{ "accept", ACTION_DELIVER,
	  "personal data may never go to a freemail provider, not even with TLS; "
	  "use reject or hold" },
	{ NULL, 0, NULL },
};
static const struct choice tls_choices[] = {
	{ "reject", ACTION_REJECT, NULL }, { "hold", ACTION_HOLD, NULL },
	{ "accept", ACTION_DELIVER, NULL }, { NULL, 0, NULL },
};
static const struct choice failure_choices[] = {
	{ "tempfail", ACTION_TEMPFAIL, NULL }, { "hold", ACTION_HOLD, NULL }, { NULL, 0, NULL },
};
static const struct choice cpr_choices[] = {
	{ "off", CPR_OFF, NULL }, { "monitor", CPR_MONITOR, NULL },
	{ "enforce", CPR_ENFORCE, NULL }, { NULL, 0, NULL },
};

static const char *const facility_names[] = {
	"mail", "daemon", "user", "local0", "local1", "local2", "local3", "local4", "local5",
	"local6", "local7", NULL,
};
static const char *const level_names[] = { "error", "warning", "notice", "info", "debug", NULL };

#define OFF(f) offsetof(struct config, f)
#define STR(n, f, d, chk, fl) \
	{ .name = n, .set = set_str, .dump = dump_str, .def = d, .off = OFF(f), .check = chk, .flags = fl }
#define PATH(n, f, d) STR(n, f, d, check_path, 0)
#define BOOL(n, f, d) \
	{ .name = n, .set = set_bool, .dump = dump_bool, .def = d, .off = OFF(f), .choices = bool_choices }
#define CHOICE(n, f, d, ch) \
	{ .name = n, .set = set_choice, .dump = dump_choice, .def = d, .off = OFF(f), .choices = ch }
#define NUM(n, f, d, lo, hi, s, dp) \
	{ .name = n, .set = s, .dump = dp, .def = d, .off = OFF(f), .min = lo, .max = hi }
#define LIST(n, f, d, e) \
	{ .name = n, .set = set_list, .dump = dump_list, .def = d, .off = OFF(f), \
	  .off_n = OFF(n_##f), .entry = e }
#define CUSTOM(n, d, s, dp, fl) { .name = n, .set = s, .dump = dp, .def = d, .flags = fl }

/* The keys, in the order config_dump writes them. */
static const struct key keys[] = {
	STR("Socket", socket, "local:/run/sikkermail/sikkermail.sock", check_socket, 0),
	STR("UserID", userid, "sikkermail", check_userid, 0),
	PATH("PidFile", pidfile, NULL),
	NUM("UMask", umask, "007", 0, 0777, set_octal, dump_octal),
	PATH("Database", database, "/var/lib/sikkermail/sikkermail.db"),
	CHOICE("Mode", mode, "enforce", mode_choices),
	LIST("InternalDomains", internal_domains, NULL, entry_domain),
	CUSTOM("InternalNetworks", "127.0.0.0/8, ::1/128", set_networks, dump_networks, 0),
	STR("PersonalHeader", personal_header, "X-KP-Personal", check_field_name, 0),
	STR("MailboxHeader", mailbox_header, "X-KP-Secure-Mailbox", check_field_name, 0),
	BOOL("PreferEncryption", prefer_encryption, "no"),
	CHOICE("PersonalToPartner", personal_to_partner, "accept", partner_choices),
	CHOICE("PersonalToFreemail", personal_to_freemail, "reject", freemail_choices),
	CHOICE("PersonalToTLS", personal_to_tls, "reject", tls_choices),
	CHOICE("OnLookupFailure", on_lookup_failure, "tempfail", failure_choices),
	CHOICE("DetectCPR", detect_cpr, "monitor", cpr_choices),
	CUSTOM("Language", "da,en", set_language, dump_language, 0),
	STR("HelpURL", help_url, NULL, check_url, 0),
	BOOL("TagHeader", tag_header, "yes"),
	LIST("LDAPURI", ldap_uri, NULL, entry_ldap_uri),
	STR("LDAPBase", ldap_base, NULL, NULL, 0),
	STR("LDAPFilter", ldap_filter, "(mail=%s)", check_ldap_filter, 0),
	STR("LDAPBindDN", ldap_bind_dn, NULL, NULL, 0),
	PATH("LDAPBindPasswordFile", ldap_bind_password_file, NULL),
	PATH("LDAPCACertFile", ldap_ca_cert_file, NULL),
	NUM("LDAPTimeout", ldap_timeout, "5", 1, 120, set_int, dump_int),
	NUM("CertTTL", cert_ttl, "1d", MINUTE, 90 * DAY, set_duration, dump_duration),
	NUM("NegativeTTL", negative_ttl, "1h", 0, 90 * DAY, set_duration, dump_duration),
	NUM("MaxStale", max_stale, "7d", 0, 90 * DAY, set_duration, dump_duration),
	PATH("TrustedCAFile", trusted_ca_file, NULL),
	PATH("CRLFile", crl_file, NULL),
	BOOL("AcceptSubjectEmail", accept_subject_email, "no"),
	CUSTOM("SecureMailbox", NULL, set_mailbox, dump_mailboxes, KEY_REPEAT),
	{ .name = "DefaultSecureMailbox", .set = set_default_mailbox, .dump = dump_str,
	  .off = OFF(default_secure_mailbox) },
	STR("SecureSubject", secure_subject, "Sikker besked / Secure message", check_text, KEY_REST),
	STR("Cipher", cipher, "aes-256-cbc", check_cipher, KEY_LOWER),
	STR("Reinject", reinject, "sendmail", check_reinject, KEY_LOWER),
	PATH("SendmailPath", sendmail_path, "/usr/sbin/sendmail"),
	BOOL("Syslog", syslog, "yes"),
	CUSTOM("SyslogFacility", "mail", set_facility, dump_facility, 0),
	CUSTOM("LogLevel", "info", set_level, dump_level, 0),
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

struct parser {
	const char *name;		/* file name for messages */
	unsigned line;
	const struct key *key;		/* the key being set, named in messages */
	bool defaults;			/* setting the built-in defaults: an error is a bug */
	struct strlist msgs;		/* the errors, in the order found */
	unsigned *msg_lines;		/* and the line of each, to sort them */
	unsigned seen[N_KEYS];		/* line where each key was first given */
	bool failed[N_KEYS];		/* an error was reported about the key */
};

/* ------------------------------------------------------------ public */

struct config *config_defaults(void)
{
	struct parser p = { .name = "(built-in)", .defaults = true };
	struct config *c = xcalloc(1, sizeof(*c));

	c->refcount = 1;
	c->path = xstrdup("(built-in)");
	for (size_t i = 0; i < N_KEYS; i++) {
		char *v;

		if (keys[i].def == NULL)
			continue;
		v = xstrdup(keys[i].def);	/* setters may cut their value up */
		p.key = &keys[i];
		keys[i].set(&p, c, &keys[i], v);
		free(v);
	}
	return c;
}

struct config *config_parse(const char *name, const char *text, size_t len,
			    struct strlist *errors)
{
	struct parser p = { .name = name ? name : "(config)" };
	struct config *c = config_defaults();
	size_t pos = 0;

	strlist_init(&p.msgs);
	free(c->path);
	c->path = xstrdup(p.name);
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;

		p.line++;
		parse_line(&p, c, text + pos, n);
		pos += n + 1;
	}
	check_file(&p, c);
	if (p.msgs.n > 0) {
		flush_errors(&p, errors);
		config_unref(c);
		return NULL;
	}
	return c;
}

struct config *config_load(const char *path, struct strlist *errors)
{
	struct strbuf sb;
	struct config *c = NULL;
	char buf[8192];
	ssize_t n;
	int fd;

	if (path == NULL)
		return config_defaults();
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errors != NULL)
			strlist_addf(errors, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	sb_init(&sb);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || sb.len + (size_t)n > CONFIG_MAX_SIZE) {
			if (errors != NULL)
				strlist_addf(errors, "%s: cannot read: %s", path,
					     n < 0 ? strerror(errno) : "larger than 1 MB");
			goto out;
		}
		sb_addmem(&sb, buf, (size_t)n);
	}
	c = config_parse(path, sb.s, sb.len, errors);
out:
	close(fd);
	sb_free(&sb);
	return c;
}

struct config *config_ref(struct config *c)
{
	if (c != NULL)
		__atomic_add_fetch(&c->refcount, 1, __ATOMIC_RELAXED);
	return c;
}

void config_unref(struct config *c)
{
	if (c != NULL && __atomic_sub_fetch(&c->refcount, 1, __ATOMIC_ACQ_REL) == 0)
		config_free(c);
}

void config_dump(const struct config *c, struct strbuf *out)
{
	sb_printf(out, "# effective configuration from %s\n", c->path);
	for (size_t i = 0; i < N_KEYS; i++)
		keys[i].dump(out, c, &keys[i]);
}

bool config_is_internal_network(const struct config *c, const struct sockaddr *sa)
{
	const unsigned char *addr;
	const unsigned char *mapped = NULL;
	int family;

	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET) {
		family = AF_INET;
		addr = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		family = AF_INET6;
		addr = (const unsigned char *)a6;
		if (IN6_IS_ADDR_V4MAPPED(a6))	/* ::ffff:127.0.0.1 is 127.0.0.1 */
			mapped = addr + 12;
	} else {
		return false;
	}
	for (size_t i = 0; i < c->n_internal_networks; i++)
		if (net_match(&c->internal_networks[i], family, addr) ||
		    (mapped != NULL && net_match(&c->internal_networks[i], AF_INET, mapped)))
			return true;
	return false;
}

const struct secure_mailbox *config_find_mailbox(const struct config *c, const char *address)
{
	if (address == NULL)
		return NULL;
	for (size_t i = 0; i < c->n_mailboxes; i++)
		if (same_address(c->mailboxes[i].address, address))
			return &c->mailboxes[i];
	return NULL;
}

long config_parse_duration(const char *s)
{
	long n = 0, unit;
	const char *p = s;

	if (s == NULL || *p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > (LONG_MAX - 9) / 10)
			return -1;
		n = n * 10 + (*p - '0');
	}
	switch (*p) {
	case '\0':
		return n;
	case 's':
		unit = 1;
		break;
	case 'm':
		unit = MINUTE;
		break;
	case 'h':
		unit = HOUR;
		break;
	case 'd':
		unit = DAY;
		break;
	case 'w':
		unit = 7 * DAY;
		break;
	default:
		return -1;
	}
	if (p[1] != '\0' || n > LONG_MAX / unit)
		return -1;
	return n * unit;
}

/* ------------------------------------------------------------ lines */

/* parse_line - one line of the file, without its '\n'. */
static void parse_line(struct parser *p, struct config *c, const char *s, size_t n)
{
	const char *problem;
	char *buf, *name, *v;
	bool given;
	int i;

	if (n > 0 && s[n - 1] == '\r')	/* a file written on Windows */
		n--;
	if (n > LINE_MAX_LEN) {
		perr(p, "line too long (more than %d bytes)", LINE_MAX_LEN);
		return;
	}
	if ((problem = line_problem(s, n)) != NULL) {
		perr(p, "%s", problem);
		return;
	}
	buf = xstrndup(s, n);
	name = buf + strspn(buf, " \t");
	if (*name == '\0' || *name == '#')
		goto out;
	v = name + strcspn(name, " \t");
	if (*v != '\0')
		*v++ = '\0';
	if ((i = find_key(name)) < 0) {
		unknown_key(p, name);
		goto out;
	}
	p->key = &keys[i];
	v = clean_value(v, keys[i].flags & KEY_REST);
	given = *v != '\0';
	if (!given)
		perr(p, "missing value");
	else if (p->seen[i] != 0 && !(keys[i].flags & KEY_REPEAT))
		perr(p, "duplicate key, first at line %u", p->seen[i]);
	else
		keys[i].set(p, c, &keys[i], v);
	if (given && p->seen[i] == 0)
		p->seen[i] = p->line;
	p->key = NULL;
out:
	free(buf);
}

/* line_problem - why a raw line cannot be read at all, or NULL. */
static const char *line_problem(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < n; i++) {
		unsigned c = u[i], need, min;

		if (c == 0)
			return "line contains a NUL byte";
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return "line contains a control character";
		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf)
			need = 1, min = 0x80;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, min = 0x800, c &= 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, min = 0x10000, c &= 0x07;
		else
			return "line is not valid UTF-8";
		c &= 0x1f;
		for (unsigned j = 0; j < need; j++) {
			if (++i >= n || (u[i] & 0xc0) != 0x80)
				return "line is not valid UTF-8";
			c = (c << 6) | (u[i] & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return "line is not valid UTF-8";
	}
	return NULL;
}

/*
 * clean_value - trim white space and, unless the key takes the rest of the
 * line, a trailing comment: a '#' that follows white space. A '#' inside a
 * word (an URL fragment, an LDAP DN) is kept.
 */
static char *clean_value(char *v, bool rest)
{
	char *end;

	v += strspn(v, " \t");
	if (!rest)
		for (char *h = v; (h = strchr(h, '#')) != NULL; h++)
			if (h == v || h[-1] == ' ' || h[-1] == '\t') {
				*h = '\0';
				break;
			}
	end = v + strlen(v);
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return v;
}

static int find_key(const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (ascii_strcasecmp(keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

static void unknown_key(struct parser *p, const char *name)
{
	const char *best = NULL;
	size_t best_d = SIZE_MAX, len = strlen(name);

	if (strchr(name, '=') != NULL) {
		perr(p, "unknown key \"%.*s%s\" (write \"Key value\", without '=')", QV(name));
		return;
	}
	for (size_t i = 0; i < N_KEYS; i++) {
		size_t d = edit_distance(name, keys[i].name);

		if (d < best_d)
			best_d = d, best = keys[i].name;
	}
	if (best != NULL && (best_d <= 2 || best_d <= len / 4))
		perr(p, "unknown key \"%.*s%s\"; did you mean %s?", QV(name), best);
	else
		perr(p, "unknown key \"%.*s%s\"", QV(name));
}

/* edit_distance - Levenshtein, ignoring ASCII case; SIZE_MAX for long names. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[33];

	if (la > 32 || lb > 32)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = ascii_strncasecmp(a + i - 1, b + j - 1, 1) != 0;
			size_t best = diag + cost;

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/*
 * check_file - rules that join several keys, once the whole file is read.
 * A rule whose keys already have an error stays quiet: one mistake, one
 * message.
 */
static void check_file(struct parser *p, struct config *c)
{
	if (c->default_secure_mailbox != NULL && !failed(p, "SecureMailbox") &&
	    config_find_mailbox(c, c->default_secure_mailbox) == NULL)
		perr_at(p, "DefaultSecureMailbox", "%s is not a configured SecureMailbox",
			c->default_secure_mailbox);
	if (c->n_ldap_uri > 0 && c->ldap_base == NULL && !failed(p, "LDAPBase"))
		perr_at(p, "LDAPURI", "LDAPBase must be set too");
	if (c->ldap_bind_dn != NULL && c->ldap_bind_password_file == NULL &&
	    !failed(p, "LDAPBindPasswordFile"))
		perr_at(p, "LDAPBindDN", "LDAPBindPasswordFile must be set too");
	if (c->ldap_bind_dn == NULL && c->ldap_bind_password_file != NULL &&
	    !failed(p, "LDAPBindDN"))
		perr_at(p, "LDAPBindPasswordFile", "LDAPBindDN must be set too");
	if (ascii_strcasecmp(c->personal_header, c->mailbox_header) == 0)
		perr_at(p, p->seen[find_key("MailboxHeader")] ? "MailboxHeader" : "PersonalHeader",
			"PersonalHeader and MailboxHeader must differ");
}

static bool failed(const struct parser *p, const char *key)
{
	return p->failed[find_key(key)];
}

/* ------------------------------------------------------------ errors */

static void perr(struct parser *p, const char *fmt, ...)
{
	struct strbuf sb;
	va_list ap;

	sb_init(&sb);
	sb_printf(&sb, "%s:%u: ", p->name, p->line);
	if (p->key != NULL) {
		sb_printf(&sb, "%s: ", p->key->name);
		p->failed[p->key - keys] = true;
	}
	va_start(ap, fmt);
	sb_vprintf(&sb, fmt, ap);
	va_end(ap);
	if (p->defaults)
		msg_fatal("bad built-in default: %s", sb.s);
	p->msg_lines = xrealloc(p->msg_lines, (p->msgs.n + 1) * sizeof(*p->msg_lines));
	p->msg_lines[p->msgs.n] = p->line;
	strlist_add(&p->msgs, sb.s);
	sb_free(&sb);
}

/*
 * flush_errors - hand the errors over in line order (the rules that join
 * keys run last but speak of earlier lines), and free them.
 */
static void flush_errors(struct parser *p, struct strlist *errors)
{
	struct numbered *order = xcalloc(p->msgs.n, sizeof(*order));

	for (size_t i = 0; i < p->msgs.n; i++)
		order[i] = (struct numbered){ p->msg_lines[i], i };
	qsort(order, p->msgs.n, sizeof(*order), by_line);
	for (size_t i = 0; errors != NULL && i < p->msgs.n; i++)
		strlist_add(errors, p->msgs.v[order[i].index]);
	free(order);
	strlist_free(&p->msgs);
	free(p->msg_lines);
}

/* by_line - line, then the order found: qsort is not stable by itself. */
static int by_line(const void *a, const void *b)
{
	const struct numbered *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* perr_at - an error about a key, at the line where it was given. */
static void perr_at(struct parser *p, const char *key, const char *fmt, ...)
{
	int i = find_key(key);
	struct strbuf sb;
	va_list ap;

	sb_init(&sb);
	va_start(ap, fmt);
	sb_vprintf(&sb, fmt, ap);
	va_end(ap);
	p->key = &keys[i];
	p->line = p->seen[i];
	perr(p, "%s", sb.s);
	p->key = NULL;
	sb_free(&sb);
}

/* quote_len - how much of v an error message quotes: QUOTE_MAX bytes, whole characters. */
static int quote_len(const char *v)
{
	size_t n = strlen(v);

	if (n <= QUOTE_MAX)
		return (int)n;
	n = QUOTE_MAX;
	while (n > 0 && ((unsigned char)v[n] & 0xc0) == 0x80)
		n--;
	return (int)n;
}

/* ------------------------------------------------------------ setters */

#define FIELD(c, k, type) ((type *)(void *)((char *)(c) + (k)->off))
#define CFIELD(c, k, type) ((type const *)(const void *)((const char *)(c) + (k)->off))

static bool set_str(struct parser *p, struct config *c, const struct key *k, char *v)
{
	char **field = FIELD(c, k, char *);

	if (k->check != NULL && !k->check(p, v))
		return false;
	if (k->flags & KEY_LOWER)
		ascii_lower(v);
	free(*field);
	*field = xstrdup(v);
	return true;
}

static bool set_bool(struct parser *p, struct config *c, const struct key *k, char *v)
{
	int n;

	if (!find_choice(p, k, v, &n))
		return false;
	*FIELD(c, k, bool) = n != 0;
	return true;
}

static bool set_choice(struct parser *p, struct config *c, const struct key *k, char *v)
{
	return find_choice(p, k, v, FIELD(c, k, int));
}

static bool set_int(struct parser *p, struct config *c, const struct key *k, char *v)
{
	long n;

	if (!parse_long(v, 10, &n)) {
		perr(p, "bad value \"%.*s%s\": expected a whole number, %ld..%ld", QV(v), k->min,
		     k->max);
		return false;
	}
	if (n < k->min || n > k->max) {
		perr(p, "%s is out of range (%ld..%ld)", v, k->min, k->max);
		return false;
	}
	*FIELD(c, k, int) = (int)n;
	return true;
}

static bool set_octal(struct parser *p, struct config *c, const struct key *k, char *v)
{
	long n;

	if (!parse_long(v, 8, &n)) {
		perr(p, "bad value \"%.*s%s\": expected an octal number such as 007 or 027", QV(v));
		return false;
	}
	if (n < k->min || n > k->max) {
		perr(p, "%s is out of range (%03lo..%03lo)", v, k->min, k->max);
		return false;
	}
	*FIELD(c, k, int) = (int)n;
	return true;
}

static bool set_duration(struct parser *p, struct config *c, const struct key *k, char *v)
{
	char lo[32], hi[32];
	long n = config_parse_duration(v);

	fmt_duration(k->min, lo, sizeof(lo));
	fmt_duration(k->max, hi, sizeof(hi));
	if (n < 0) {
		perr(p, "bad value \"%.*s%s\": expected a duration such as 30s, 15m, 12h, 7d or 2w",
		     QV(v));
		return false;
	}
	if (n < k->min || n > k->max) {
		perr(p, "%s is out of range (%s..%s)", v, lo, hi);
		return false;
	}
	*FIELD(c, k, long) = n;
	return true;
}

static bool set_list(struct parser *p, struct config *c, const struct key *k, char *v)
{
	char ***field = FIELD(c, k, char **);
	size_t *count = (size_t *)(void *)((char *)c + k->off_n);
	char **list = NULL, *save = NULL;
	size_t n = 0;
	bool good = true;

	for (char *e = strtok_r(v, LIST_SEP, &save); e; e = strtok_r(NULL, LIST_SEP, &save)) {
		const char *why = NULL;
		char *norm = k->entry(e, &why);

		if (norm == NULL) {
			perr(p, "bad entry \"%.*s%s\": %s", QV(e), why ? why : "not valid");
			good = false;
			continue;
		}
		list = xrealloc(list, (n + 1) * sizeof(*list));
		list[n++] = norm;
	}
	if (good && n == 0)
		perr(p, "empty list");
	if (!good || n == 0) {
		free_strv(list, n);
		return false;
	}
	free_strv(*field, *count);
	*field = list;
	*count = n;
	return true;
}

static bool set_networks(struct parser *p, struct config *c, const struct key *k, char *v)
{
	struct netmask *nets = NULL;
	char *save = NULL;
	size_t n = 0;
	bool good = true;

	for (char *e = strtok_r(v, LIST_SEP, &save); e; e = strtok_r(NULL, LIST_SEP, &save)) {
		nets = xrealloc(nets, (n + 1) * sizeof(*nets));
		if (parse_network(p, e, &nets[n]))
			n++;
		else
			good = false;
	}
	if (good && n == 0)
		perr(p, "empty list");
	if (!good || n == 0) {
		free(nets);
		return false;
	}
	free(c->internal_networks);
	c->internal_networks = nets;
	c->n_internal_networks = n;
	return true;
}

static bool set_language(struct parser *p, struct config *c, const struct key *k, char *v)
{
	int langs = 0, first = 0;
	char *save = NULL;

	for (char *e = strtok_r(v, LIST_SEP, &save); e; e = strtok_r(NULL, LIST_SEP, &save)) {
		int l = ascii_strcasecmp(e, "da") == 0 ? LANG_DA
			: ascii_strcasecmp(e, "en") == 0 ? LANG_EN
							  : 0;

		if (l == 0 || (langs & l) != 0) {
			perr(p, "bad value \"%.*s%s\": expected da, en, da,en or en,da", QV(e));
			return false;
		}
		if (first == 0)
			first = l;
		langs |= l;
	}
	if (langs == 0) {
		perr(p, "expected da, en, da,en or en,da");
		return false;
	}
	c->languages = langs;
	c->language_en_first = first == LANG_EN;
	return true;
}

static bool set_mailbox(struct parser *p, struct config *c, const struct key *k, char *v)
{
	char *w[4], *save = NULL, *addr;
	size_t n = 0;
	bool key_ok, cert_ok;
	struct secure_mailbox *m;

	for (char *e = strtok_r(v, " \t", &save); e && n < 4; e = strtok_r(NULL, " \t", &save))
		w[n++] = e;
	if (n != 3) {
		perr(p, "expected ADDRESS KEYFILE CERTFILE");
		return false;
	}
	if ((addr = mailbox_address(p, w[0])) == NULL)
		return false;
	if (config_find_mailbox(c, addr) != NULL) {
		perr(p, "%s is already a SecureMailbox", addr);
		free(addr);
		return false;
	}
	key_ok = check_path(p, w[1]);
	cert_ok = check_path(p, w[2]);
	if (!key_ok || !cert_ok) {
		free(addr);
		return false;
	}
	c->mailboxes = xrealloc(c->mailboxes, (c->n_mailboxes + 1) * sizeof(*c->mailboxes));
	m = &c->mailboxes[c->n_mailboxes++];
	m->address = addr;
	m->keyfile = xstrdup(w[1]);
	m->certfile = xstrdup(w[2]);
	return true;
}

/* set_default_mailbox - stored now; check_file sees that it is configured. */
static bool set_default_mailbox(struct parser *p, struct config *c, const struct key *k, char *v)
{
	char *addr;

	if (v[strcspn(v, " \t")] != '\0') {
		perr(p, "expected one address");
		return false;
	}
	if ((addr = mailbox_address(p, v)) == NULL)
		return false;
	free(c->default_secure_mailbox);
	c->default_secure_mailbox = addr;
	return true;
}

static bool set_facility(struct parser *p, struct config *c, const struct key *k, char *v)
{
	int f = log_facility_parse(v);

	if (f < 0) {
		perr(p, "bad value \"%.*s%s\": expected mail, daemon, user or local0..local7", QV(v));
		return false;
	}
	c->syslog_facility = f;
	return true;
}

static bool set_level(struct parser *p, struct config *c, const struct key *k, char *v)
{
	int l = log_level_parse(v);

	if (l < 0) {
		perr(p, "bad value \"%.*s%s\": expected error, warning, notice, info, debug or 0..7",
		     QV(v));
		return false;
	}
	c->log_level = l;
	return true;
}

/* ------------------------------------------------------------ value checks */

static bool check_path(struct parser *p, const char *v)
{
	if (v[0] == '/' && strlen(v) < PATH_MAX)
		return true;
	perr(p, "\"%.*s%s\" is not an absolute path", QV(v));
	return false;
}

/* check_socket - the forms libmilter's smfi_setconn accepts. */
static bool check_socket(struct parser *p, const char *v)
{
	const char *rest;

	if (v[0] == '/')
		return check_path(p, v);
	if ((rest = skip_prefix(v, "local:")) != NULL || (rest = skip_prefix(v, "unix:")) != NULL)
		return check_path(p, rest);
	if ((rest = skip_prefix(v, "inet:")) != NULL || (rest = skip_prefix(v, "inet6:")) != NULL) {
		size_t n = strcspn(rest, "@");

		if (port_ok(rest, n) && (rest[n] == '\0' || host_ok(rest + n + 1, strlen(rest + n + 1))))
			return true;
	}
	perr(p, "bad value \"%.*s%s\": expected local:/PATH, inet:PORT@HOST or inet6:PORT@HOST",
	     QV(v));
	return false;
}

static bool check_userid(struct parser *p, const char *v)
{
	size_t n = strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");

	if (v[n] == '\0' && n <= 32 && v[0] != '-')
		return true;
	perr(p, "bad value \"%.*s%s\": expected a user name", QV(v));
	return false;
}

/* check_field_name - RFC 5322 ftext: printable ASCII except ':'. */
static bool check_field_name(struct parser *p, const char *v)
{
	const unsigned char *s = (const unsigned char *)v;

	for (; *s > 32 && *s < 127 && *s != ':'; s++)
		;
	if (*s == '\0' && strlen(v) <= HEADER_NAME_MAX)
		return true;
	perr(p, "bad value \"%.*s%s\": expected a header field name (printable ASCII, no ':' "
	     "or white space, at most %d characters)", QV(v), HEADER_NAME_MAX);
	return false;
}

/* check_url - HelpURL goes into SMTP replies: printable ASCII, no space. */
static bool check_url(struct parser *p, const char *v)
{
	const char *rest = skip_prefix(v, "https://");
	const unsigned char *s;

	if (rest == NULL)
		rest = skip_prefix(v, "http://");
	for (s = (const unsigned char *)v; *s > 32 && *s < 127; s++)
		;
	if (rest != NULL && *rest != '\0' && *s == '\0' && strlen(v) <= TEXT_MAX)
		return true;
	perr(p, "bad value \"%.*s%s\": expected an http:// or https:// URL without spaces, "
	     "at most %d characters", QV(v), TEXT_MAX);
	return false;
}

/* check_ldap_filter - one %s for the (escaped) address, nothing else with '%'. */
static bool check_ldap_filter(struct parser *p, const char *v)
{
	int depth = 0, n_s = 0;
	bool good = v[0] == '(';

	for (const char *s = v; *s != '\0' && good; s++) {
		if (*s == '(')
			depth++;
		else if (*s == ')')
			good = --depth >= 0 && (depth > 0 || s[1] == '\0');
		else if (*s == '%' && s[1] == 's')
			n_s++, s++;
		else if (*s == '%')
			good = false;
	}
	if (!good || depth != 0) {
		perr(p, "bad value \"%.*s%s\": expected one parenthesised filter such as (mail=%%s)",
		     QV(v));
		return false;
	}
	if (n_s != 1) {
		perr(p, "must contain exactly one %%s (the address), not %d", n_s);
		return false;
	}
	return true;
}

static bool check_cipher(struct parser *p, const char *v)
{
	if (ascii_strcasecmp(v, "aes-256-cbc") == 0 || ascii_strcasecmp(v, "aes-256-gcm") == 0)
		return true;
	perr(p, "bad value \"%.*s%s\": expected aes-256-cbc or aes-256-gcm", QV(v));
	return false;
}

static bool check_reinject(struct parser *p, const char *v)
{
	const char *rest = skip_prefix(v, "smtp:"), *colon;

	if (ascii_strcasecmp(v, "sendmail") == 0)
		return true;
	if (rest != NULL && (colon = strrchr(rest, ':')) != NULL &&
	    host_ok(rest, (size_t)(colon - rest)) && port_ok(colon + 1, strlen(colon + 1)))
		return true;
	perr(p, "bad value \"%.*s%s\": expected sendmail or smtp:HOST:PORT (port 1..65535, "
	     "an IPv6 address in brackets)", QV(v));
	return false;
}

static bool check_text(struct parser *p, const char *v)
{
	if (strlen(v) <= TEXT_MAX)
		return true;
	perr(p, "too long (at most %d bytes)", TEXT_MAX);
	return false;
}

static char *entry_domain(const char *entry, const char **why)
{
	return domain_normalise(entry, true, why);
}

static char *entry_ldap_uri(const char *entry, const char **why)
{
	if (skip_prefix(entry, "ldap://") != NULL || skip_prefix(entry, "ldaps://") != NULL ||
	    skip_prefix(entry, "ldapi://") != NULL)
		return xstrdup(entry);
	*why = "expected an ldap://, ldaps:// or ldapi:// URI";
	return NULL;
}

/* ------------------------------------------------------------ dumpers */

static void dump_str(struct strbuf *out, const struct config *c, const struct key *k)
{
	const char *v = *CFIELD(c, k, char *);

	if (v == NULL)
		sb_printf(out, "# %s (not set)\n", k->name);
	else
		sb_printf(out, "%-20s %s\n", k->name, v);
}

static void dump_bool(struct strbuf *out, const struct config *c, const struct key *k)
{
	sb_printf(out, "%-20s %s\n", k->name, *CFIELD(c, k, bool) ? "yes" : "no");
}

static void dump_choice(struct strbuf *out, const struct config *c, const struct key *k)
{
	sb_printf(out, "%-20s %s\n", k->name, choice_name(k->choices, *CFIELD(c, k, int)));
}

static void dump_int(struct strbuf *out, const struct config *c, const struct key *k)
{
	sb_printf(out, "%-20s %d\n", k->name, *CFIELD(c, k, int));
}

static void dump_octal(struct strbuf *out, const struct config *c, const struct key *k)
{
	sb_printf(out, "%-20s %03o\n", k->name, (unsigned)*CFIELD(c, k, int));
}

static void dump_duration(struct strbuf *out, const struct config *c, const struct key *k)
{
	char buf[32];

	fmt_duration(*CFIELD(c, k, long), buf, sizeof(buf));
	sb_printf(out, "%-20s %s\n", k->name, buf);
}

static void dump_list(struct strbuf *out, const struct config *c, const struct key *k)
{
	char *const *list = *CFIELD(c, k, char **);
	size_t n = *(const size_t *)(const void *)((const char *)c + k->off_n);

	if (n == 0) {
		sb_printf(out, "# %s (not set)\n", k->name);
		return;
	}
	sb_printf(out, "%-20s", k->name);
	for (size_t i = 0; i < n; i++)
		sb_printf(out, "%s%s", i ? ", " : " ", list[i]);
	sb_addc(out, '\n');
}

static void dump_networks(struct strbuf *out, const struct config *c, const struct key *k)
{
	char buf[INET6_ADDRSTRLEN];

	sb_printf(out, "%-20s", k->name);
	for (size_t i = 0; i < c->n_internal_networks; i++) {
		const struct netmask *n = &c->internal_networks[i];

		inet_ntop(n->family, n->addr, buf, sizeof(buf));
		sb_printf(out, "%s%s/%d", i ? ", " : " ", buf, n->prefix);
	}
	sb_addc(out, '\n');
}

static void dump_language(struct strbuf *out, const struct config *c, const struct key *k)
{
	const char *v = c->languages == LANG_DA ? "da"
			: c->languages == LANG_EN ? "en"
			: c->language_en_first	  ? "en,da"
						  : "da,en";

	sb_printf(out, "%-20s %s\n", k->name, v);
}

static void dump_mailboxes(struct strbuf *out, const struct config *c, const struct key *k)
{
	if (c->n_mailboxes == 0)
		sb_printf(out, "# %s (not set)\n", k->name);
	for (size_t i = 0; i < c->n_mailboxes; i++)
		sb_printf(out, "%-20s %s %s %s\n", k->name, c->mailboxes[i].address,
			  c->mailboxes[i].keyfile, c->mailboxes[i].certfile);
}

static void dump_facility(struct strbuf *out, const struct config *c, const struct key *k)
{
	for (size_t i = 0; facility_names[i] != NULL; i++)
		if (log_facility_parse(facility_names[i]) == c->syslog_facility) {
			sb_printf(out, "%-20s %s\n", k->name, facility_names[i]);
			return;
		}
	sb_printf(out, "# %s (unknown value %d)\n", k->name, c->syslog_facility);
}

static void dump_level(struct strbuf *out, const struct config *c, const struct key *k)
{
	for (size_t i = 0; level_names[i] != NULL; i++)
		if (log_level_parse(level_names[i]) == c->log_level) {
			sb_printf(out, "%-20s %s\n", k->name, level_names[i]);
			return;
		}
	sb_printf(out, "%-20s %d\n", k->name, c->log_level);
}

/* ------------------------------------------------------------ helpers */

static bool find_choice(struct parser *p, const struct key *k, const char *v, int *out)
{
	struct strbuf sb;
	const struct choice *ch;
	size_t n = 0, total = 0;

	for (ch = k->choices; ch->name != NULL; ch++) {
		total += ch->never == NULL;
		if (ascii_strcasecmp(ch->name, v) != 0)
			continue;
		if (ch->never != NULL) {
			perr(p, "%s is never allowed: %s", ch->name, ch->never);
			return false;
		}
		*out = ch->value;
		return true;
	}
	sb_init(&sb);
	for (ch = k->choices; ch->name != NULL; ch++)
		if (ch->never == NULL)
			sb_printf(&sb, "%s%s", n++ == 0 ? "" : n == total ? " or " : ", ", ch->name);
	perr(p, "bad value \"%.*s%s\": expected %s", QV(v), sb.s);
	sb_free(&sb);
	return false;
}

static const char *choice_name(const struct choice *ch, int value)
{
	for (; ch->name != NULL; ch++)
		if (ch->value == value && ch->never == NULL)
			return ch->name;
	return "?";
}

/* parse_long - digits only (no sign, no space), in range of long. */
static bool parse_long(const char *v, int base, long *out)
{
	char *end;
	long n;

	if (*v < '0' || *v > '9')
		return false;
	errno = 0;
	n = strtol(v, &end, base);
	if (errno != 0 || *end != '\0')
		return false;
	*out = n;
	return true;
}

/* skip_prefix - s after a case-insensitive prefix, or NULL. */
static const char *skip_prefix(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	return ascii_strncasecmp(s, prefix, n) == 0 ? s + n : NULL;
}

static bool port_ok(const char *s, size_t n)
{
	long port = 0;

	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		port = port * 10 + (s[i] - '0');
	}
	return port >= 1 && port <= 65535;
}

/* host_ok - a host name, an IPv4 address, or an IPv6 address in brackets. */
static bool host_ok(const char *s, size_t n)
{
	char buf[INET6_ADDRSTRLEN];
	struct in6_addr a6;
	const char *ldh = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-";

	if (n == 0)
		return false;
	if (s[0] == '[') {
		if (n < 3 || s[n - 1] != ']' || n - 2 >= sizeof(buf))
			return false;
		memcpy(buf, s + 1, n - 2);
		buf[n - 2] = '\0';
		return inet_pton(AF_INET6, buf, &a6) == 1;
	}
	for (size_t i = 0; i < n; i++)
		if (strchr(ldh, s[i]) == NULL || s[i] == '\0')
			return false;
	return n <= 253;
}

/* parse_network - "10.0.0.0/8", "192.0.2.1", "2001:db8::/32", "[::1]/128". */
static bool parse_network(struct parser *p, const char *e, struct netmask *out)
{
	char buf[INET6_ADDRSTRLEN + 8], *addr = buf, *slash;
	unsigned char given[16];
	long prefix;
	int max;

	memset(out, 0, sizeof(*out));
	if (strlen(e) >= sizeof(buf))
		goto bad;
	strcpy(buf, e);
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (addr[0] == '[') {
		size_t n = strlen(addr);

		if (n < 2 || addr[n - 1] != ']')
			goto bad;
		addr[n - 1] = '\0';
		addr++;
	}
	out->family = strchr(addr, ':') != NULL ? AF_INET6 : AF_INET;
	max = out->family == AF_INET6 ? 128 : 32;
	if (inet_pton(out->family, addr, out->addr) != 1)
		goto bad;
	prefix = max;
	if (slash != NULL && (!parse_long(slash, 10, &prefix) || prefix > max)) {
		perr(p, "bad network \"%.*s%s\": the prefix length must be 0..%d", QV(e), max);
		return false;
	}
	out->prefix = (int)prefix;
	memcpy(given, out->addr, sizeof(given));
	mask_addr(out->addr, out->prefix);
	if (memcmp(given, out->addr, sizeof(given)) != 0) {
		inet_ntop(out->family, out->addr, buf, sizeof(buf));
		perr(p, "bad network \"%s\": host bits are set; did you mean %s/%d?", e, buf,
		     out->prefix);
		return false;
	}
	return true;
bad:
	perr(p, "bad network \"%.*s%s\": expected an IPv4 or IPv6 address with an optional "
	     "/PREFIX", QV(e));
	return false;
}

static void mask_addr(unsigned char *addr, int prefix)
{
	for (int i = 0; i < 16; i++) {
		int bits = prefix - 8 * i;

		if (bits <= 0)
			addr[i] = 0;
		else if (bits < 8)
			addr[i] &= (unsigned char)(0xff << (8 - bits));
	}
}

static bool net_match(const struct netmask *n, int family, const unsigned char *addr)
{
	int whole = n->prefix / 8, rest = n->prefix % 8;

	if (n->family != family || memcmp(n->addr, addr, (size_t)whole) != 0)
		return false;
	return rest == 0 || ((n->addr[whole] ^ addr[whole]) & (0xff << (8 - rest)) & 0xff) == 0;
}

/* mailbox_address - the normalised form of a function mailbox, or NULL. */
static char *mailbox_address(struct parser *p, const char *v)
{
	struct address a;
	const char *why = NULL;
	char *full;

	switch (address_normalise(v, strlen(v), &a, &why)) {
	case ADDR_OK:
		full = xstrdup(a.full);
		address_free(&a);
		return full;
	case ADDR_NULL:
		why = "the null address cannot be a mailbox";
		break;
	default:
		break;
	}
	perr(p, "bad address \"%.*s%s\": %s", QV(v), why ? why : "not valid");
	return NULL;
}

/* same_address - equal local parts, domains equal but for case. */
static bool same_address(const char *a, const char *b)
{
	const char *at_a = strrchr(a, '@'), *at_b = strrchr(b, '@');

	if (at_a == NULL || at_b == NULL)
		return strcmp(a, b) == 0;
	return at_a - a == at_b - b && memcmp(a, b, (size_t)(at_a - a)) == 0 &&
	       ascii_strcasecmp(at_a + 1, at_b + 1) == 0;
}

/* fmt_duration - the largest unit that says s exactly: 1d, 12h, 90s. */
static void fmt_duration(long s, char *buf, size_t size)
{
	if (s == 0)
		snprintf(buf, size, "0");
	else if (s % DAY == 0)
		snprintf(buf, size, "%ldd", s / DAY);
	else if (s % HOUR == 0)
		snprintf(buf, size, "%ldh", s / HOUR);
	else if (s % MINUTE == 0)
		snprintf(buf, size, "%ldm", s / MINUTE);
	else
		snprintf(buf, size, "%lds", s);
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* config_free - every string and array the setters allocated, by key type. */
static void config_free(struct config *c)
{
	for (size_t i = 0; i < N_KEYS; i++) {
		const struct key *k = &keys[i];

		if (k->set == set_str)
			free(*FIELD(c, k, char *));
		else if (k->set == set_list)
			free_strv(*FIELD(c, k, char **), *(size_t *)(void *)((char *)c + k->off_n));
	}
	for (size_t i = 0; i < c->n_mailboxes; i++) {
		free(c->mailboxes[i].address);
		free(c->mailboxes[i].keyfile);
		free(c->mailboxes[i].certfile);
	}
	free(c->mailboxes);
	free(c->internal_networks);
	free(c->default_secure_mailbox);
	free(c->path);
	free(c);
}

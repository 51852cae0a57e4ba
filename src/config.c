/*
 * config.c - the configuration file: one table of keys, each with its
 * setter, default and bounds, parsed into an immutable, reference-counted
 * snapshot.
 *
 * Exports config_parse, config_load, config_defaults, config_ref,
 * config_unref, config_dump, config_is_internal_network,
 * config_find_mailbox and config_parse_duration (config.h); and, to
 * config_values.c and config_checks.c only, config_perr and
 * config_quote_len (config_int.h). The value types the table refers to
 * (setters, dumpers) are in config_values.c, the checks of string values
 * and list entries in config_checks.c.
 *
 * Defaults are written as text in the table and go through the same
 * setters as a file's values, so a default can never be something a file
 * could not say, and config_dump's output parses back to the same
 * snapshot. A file is read to the end before it is judged: every error is
 * reported as "file:line: message", and a file with any error gives no
 * snapshot at all (Postfix and OpenSMTPD behave the same way).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "audit.h"
#include "config.h"
#include "config_int.h"
#include "log.h"
#include "util.h"

#define CONFIG_MAX_SIZE (1024 * 1024)	/* refuse to slurp /dev/zero */
#define LINE_MAX_LEN 65536
#define QUOTE_MAX 60			/* longest value quoted back in an error */

struct numbered {
	unsigned line;
	size_t index;
};

static void perr_at(struct parser *p, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
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
static bool net_match(const struct netmask *n, int family, const unsigned char *addr);
static bool same_address(const char *a, const char *b);
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
static const struct choice log_format_choices[] = {
	{ "kv", AUDIT_KV, NULL }, { "json", AUDIT_JSON, NULL }, { NULL, 0, NULL },
};
static const struct choice cpr_choices[] = {
	{ "off", CPR_OFF, NULL }, { "monitor", CPR_MONITOR, NULL },
	{ "enforce", CPR_ENFORCE, NULL }, { NULL, 0, NULL },
};

#define OFF(f) offsetof(struct config, f)
#define STR(n, f, d, chk, fl) \
	{ .name = n, .set = config_set_str, .dump = config_dump_str, .def = d, .off = OFF(f), \
	  .check = chk, .flags = fl }
#define PATH(n, f, d) STR(n, f, d, config_check_path, 0)
#define BOOL(n, f, d) \
	{ .name = n, .set = config_set_bool, .dump = config_dump_bool, .def = d, .off = OFF(f), \
	  .choices = bool_choices }
#define CHOICE(n, f, d, ch) \
	{ .name = n, .set = config_set_choice, .dump = config_dump_choice, .def = d, \
	  .off = OFF(f), .choices = ch }
#define NUM(n, f, d, lo, hi, s, dp) \
	{ .name = n, .set = s, .dump = dp, .def = d, .off = OFF(f), .min = lo, .max = hi }
#define DURATION(n, f, d, lo, hi) NUM(n, f, d, lo, hi, config_set_duration, config_dump_duration)
#define LIST(n, f, d, e) \
	{ .name = n, .set = config_set_list, .dump = config_dump_list, .def = d, .off = OFF(f), \
	  .off_n = OFF(n_##f), .entry = e }
#define CUSTOM(n, d, s, dp, fl) { .name = n, .set = s, .dump = dp, .def = d, .flags = fl }

/* The keys, in the order config_dump writes them. */
static const struct key keys[] = {
	STR("Socket", socket, "local:/run/sikkermail/sikkermail.sock", config_check_socket, 0),
	STR("UserID", userid, "sikkermail", config_check_userid, 0),
	PATH("PidFile", pidfile, NULL),
	NUM("UMask", umask, "007", 0, 0777, config_set_octal, config_dump_octal),
	PATH("Database", database, "/var/lib/sikkermail/sikkermail.db"),
	DURATION("Retention", retention, "396d", DAY, 3660 * DAY),
	CHOICE("Mode", mode, "enforce", mode_choices),
	LIST("InternalDomains", internal_domains, NULL, config_entry_domain),
	CUSTOM("InternalNetworks", "127.0.0.0/8, ::1/128", config_set_networks,
	       config_dump_networks, 0),
	STR("PersonalHeader", personal_header, "X-KP-Personal", config_check_field_name, 0),
	STR("MailboxHeader", mailbox_header, "X-KP-Secure-Mailbox", config_check_field_name, 0),
	CUSTOM("PersonalSubjectTag", NULL, config_set_subject_tag, config_dump_subject_tags,
	       KEY_REPEAT | KEY_REST),
	BOOL("PreferEncryption", prefer_encryption, "no"),
	CHOICE("PersonalToPartner", personal_to_partner, "accept", partner_choices),
	CHOICE("PersonalToFreemail", personal_to_freemail, "reject", freemail_choices),
	CHOICE("PersonalToTLS", personal_to_tls, "reject", tls_choices),
	CHOICE("OnLookupFailure", on_lookup_failure, "tempfail", failure_choices),
	CHOICE("DetectCPR", detect_cpr, "monitor", cpr_choices),
	CUSTOM("Language", "da,en", config_set_language, config_dump_language, 0),
	STR("HelpURL", help_url, NULL, config_check_url, 0),
	BOOL("TagHeader", tag_header, "yes"),
	LIST("LDAPURI", ldap_uri, NULL, config_entry_ldap_uri),
	STR("LDAPBase", ldap_base, NULL, NULL, 0),
	STR("LDAPFilter", ldap_filter, "(mail=%s)", config_check_ldap_filter, 0),
	STR("LDAPDomainFilter", ldap_domain_filter, "(associatedDomain=%s)",
	    config_check_ldap_filter, 0),
	STR("LDAPBindDN", ldap_bind_dn, NULL, NULL, 0),
	PATH("LDAPBindPasswordFile", ldap_bind_password_file, NULL),
	PATH("LDAPCACertFile", ldap_ca_cert_file, NULL),
	BOOL("LDAPStartTLS", ldap_start_tls, "no"),
	NUM("LDAPTimeout", ldap_timeout, "5", 1, 120, config_set_int, config_dump_int),
	DURATION("CertTTL", cert_ttl, "1d", MINUTE, 90 * DAY),
	DURATION("NegativeTTL", negative_ttl, "1h", 0, 90 * DAY),
	DURATION("MaxStale", max_stale, "7d", 0, 90 * DAY),
	DURATION("DecisionTimeout", decision_timeout, "150s", 5, HOUR),
	PATH("TrustedCAFile", trusted_ca_file, NULL),
	PATH("CRLFile", crl_file, NULL),
	BOOL("AcceptSubjectEmail", accept_subject_email, "no"),
	BOOL("DomainCertificates", domain_certificates, "no"),
	CUSTOM("SecureMailbox", NULL, config_set_mailbox, config_dump_mailboxes, KEY_REPEAT),
	CUSTOM("SecureMailboxUsers", NULL, config_set_mailbox_users, config_dump_mailbox_users,
	       KEY_REPEAT),
	{ .name = "DefaultSecureMailbox", .set = config_set_default_mailbox,
	  .dump = config_dump_str, .off = OFF(default_secure_mailbox) },
	STR("SecureSubject", secure_subject, "Sikker besked / Secure message", config_check_text,
	    KEY_REST),
	STR("Cipher", cipher, "aes-256-cbc", config_check_cipher, KEY_LOWER),
	STR("Reinject", reinject, "sendmail", config_check_reinject, KEY_LOWER),
	PATH("SendmailPath", sendmail_path, "/usr/sbin/sendmail"),
	DURATION("NoticeDelay", notice_delay, "60", 0, HOUR),
	BOOL("HoldNotice", hold_notice, "no"),
	STR("TLSPolicyMap", tls_policy_map, NULL, config_check_map, 0),
	BOOL("Syslog", syslog, "yes"),
	CUSTOM("SyslogFacility", "mail", config_set_facility, config_dump_facility, 0),
	CUSTOM("LogLevel", "info", config_set_level, config_dump_level, 0),
	CHOICE("LogFormat", log_format, "kv", log_format_choices),
	STR("InstanceName", instance_name, NULL, config_check_instance, 0),
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
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)	/* a byte order mark from an editor */
		pos = 3;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;

		p.line++;
		parse_line(&p, c, text + pos, n);
		pos += n + 1;
	}
	check_file(&p, c);
	c->key_lines = xcalloc(N_KEYS, sizeof(*c->key_lines));
	memcpy(c->key_lines, p.seen, sizeof(p.seen));
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

bool config_is_key(const char *name)
{
	return find_key(name) >= 0;
}

const char *config_socket_path(const char *spec)
{
	if (strncmp(spec, "local:", 6) == 0)
		return spec + 6;
	if (strncmp(spec, "unix:", 5) == 0)
		return spec + 5;
	if (spec[0] == '/')
		return spec;
	return NULL;
}

char *config_where(const struct config *c, const char *key)
{
	int i = find_key(key);
	unsigned line = i >= 0 && c->key_lines != NULL ? c->key_lines[i] : 0;
	const char *name = i >= 0 ? keys[i].name : key;

	if (line > 0)
		return xasprintf("%s:%u: %s: ", c->path, line, name);
	return xasprintf("%s: %s: ", c->path, name);
}

char *config_where_mailbox(const struct config *c, const struct secure_mailbox *m)
{
	if (m->line > 0)
		return xasprintf("%s:%u: SecureMailbox %s: ", c->path, m->line, m->address);
	return xasprintf("%s: SecureMailbox %s: ", c->path, m->address);
}

bool config_mailbox_allows(const struct config *c, const char *mailbox, const char *sender)
{
	const char *at = sender != NULL ? strrchr(sender, '@') : NULL;
	bool listed = false;

	for (size_t i = 0; i < c->n_mailbox_users; i++) {
		const struct mailbox_users *u = &c->mailbox_users[i];

		if (strcmp(u->mailbox, mailbox) != 0)	/* both normalised, as config_find_mailbox */
			continue;
		listed = true;
		for (size_t k = 0; k < u->n_entries && sender != NULL; k++) {
			const char *e = u->entries[k];

			/* senders' local parts vary in case in practice; domains are lower-case */
			if (e[0] == '@' ? at != NULL && strcmp(at, e) == 0
					: ascii_strcasecmp(sender, e) == 0)
				return true;
		}
	}
	return !listed;
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
	static const char units[] = "smhdw";
	static const long seconds[] = { 1, MINUTE, HOUR, DAY, 7 * DAY };
	const char *unit;
	long n = 0;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (n > (LONG_MAX - 9) / 10)
			return -1;
		n = n * 10 + (*s - '0');
	}
	if (*s == '\0')
		return n;
	if ((unit = strchr(units, *s)) == NULL || s[1] != '\0' ||
	    n > LONG_MAX / seconds[unit - units])
		return -1;
	return n * seconds[unit - units];
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
		config_perr(p, "line too long (more than %d bytes)", LINE_MAX_LEN);
		return;
	}
	if ((problem = line_problem(s, n)) != NULL) {
		config_perr(p, "%s", problem);
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
		config_perr(p, "missing value");
	else if (p->seen[i] != 0 && !(keys[i].flags & KEY_REPEAT))
		config_perr(p, "duplicate key, first at line %u", p->seen[i]);
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
		config_perr(p, "unknown key \"%.*s%s\" (write \"Key value\", without '=')",
			    QV(name));
		return;
	}
	for (size_t i = 0; i < N_KEYS; i++) {
		size_t d = edit_distance(name, keys[i].name);

		if (d < best_d)
			best_d = d, best = keys[i].name;
	}
	if (best != NULL && (best_d <= 2 || best_d <= len / 4))
		config_perr(p, "unknown key \"%.*s%s\"; did you mean %s?", QV(name), best);
	else
		config_perr(p, "unknown key \"%.*s%s\"", QV(name));
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
	for (size_t i = 0; i < c->n_mailbox_users && !failed(p, "SecureMailbox"); i++)
		if (config_find_mailbox(c, c->mailbox_users[i].mailbox) == NULL)
			perr_at(p, "SecureMailboxUsers", "%s is not a configured SecureMailbox",
				c->mailbox_users[i].mailbox);
	if (c->n_ldap_uri > 0 && c->ldap_base == NULL && !failed(p, "LDAPBase"))
		perr_at(p, "LDAPURI", "LDAPBase must be set too");
	if (c->ldap_bind_dn != NULL && c->ldap_bind_password_file == NULL &&
	    !failed(p, "LDAPBindPasswordFile"))
		perr_at(p, "LDAPBindDN", "LDAPBindPasswordFile must be set too");
	if (c->ldap_bind_dn == NULL && c->ldap_bind_password_file != NULL &&
	    !failed(p, "LDAPBindDN"))
		perr_at(p, "LDAPBindPasswordFile", "LDAPBindDN must be set too");
	/* StartTLS verifies the server against LDAPCACertFile, so it needs one. */
	if (c->ldap_start_tls && c->ldap_ca_cert_file == NULL && !failed(p, "LDAPCACertFile") &&
	    !failed(p, "LDAPStartTLS"))
		perr_at(p, "LDAPStartTLS", "LDAPCACertFile must be set too");
	/*
	 * The encrypted class is only worth having when a message can be
	 * encrypted: a recipient with a certificate and nothing to sign with
	 * would tempfail every personal message to it for days, then bounce.
	 */
	if (c->n_ldap_uri > 0 && c->n_mailboxes == 0 && !failed(p, "SecureMailbox"))
		perr_at(p, "LDAPURI",
			"certificates are looked up but no SecureMailbox is configured to encrypt "
			"from: add a SecureMailbox (and its key), or remove LDAPURI");
	/* a domain certificate, like a personal one, needs trust and a mailbox to encrypt from */
	if (c->domain_certificates && c->trusted_ca_file == NULL && !failed(p, "TrustedCAFile"))
		perr_at(p, "DomainCertificates", "TrustedCAFile must be set too");
	if (c->domain_certificates && c->n_ldap_uri == 0 && c->n_mailboxes == 0 &&
	    !failed(p, "SecureMailbox"))
		perr_at(p, "DomainCertificates",
			"domain certificates are used but no SecureMailbox is configured to "
			"encrypt from: add a SecureMailbox (and its key)");
	/* With one mailbox there is nothing to choose; with several the sender may name none. */
	if (c->default_secure_mailbox == NULL && c->n_mailboxes == 1)
		c->default_secure_mailbox = xstrdup(c->mailboxes[0].address);
	else if (c->default_secure_mailbox == NULL && c->n_mailboxes > 1 &&
		 !failed(p, "SecureMailbox"))
		perr_at(p, "SecureMailbox",
			"%zu SecureMailbox entries and no DefaultSecureMailbox: name the one that "
			"encrypts a message whose sender names none",
			c->n_mailboxes);
	if (ascii_strcasecmp(c->personal_header, c->mailbox_header) == 0)
		perr_at(p, p->seen[find_key("MailboxHeader")] ? "MailboxHeader" : "PersonalHeader",
			"PersonalHeader and MailboxHeader must differ");
}

static bool failed(const struct parser *p, const char *key)
{
	return p->failed[find_key(key)];
}

/* ------------------------------------------------------------ errors */

unsigned config_parser_line(const struct parser *p)
{
	return p->defaults ? 0 : p->line;
}

void config_perr(struct parser *p, const char *fmt, ...)
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
	config_perr(p, "%s", sb.s);
	p->key = NULL;
	sb_free(&sb);
}

/* config_quote_len - how much of v an error message quotes: QUOTE_MAX bytes, whole characters. */
int config_quote_len(const char *v)
{
	size_t n = strlen(v);

	if (n <= QUOTE_MAX)
		return (int)n;
	n = QUOTE_MAX;
	while (n > 0 && ((unsigned char)v[n] & 0xc0) == 0x80)
		n--;
	return (int)n;
}

/* ------------------------------------------------------------ helpers */

static bool net_match(const struct netmask *n, int family, const unsigned char *addr)
{
	int whole = n->prefix / 8, rest = n->prefix % 8;

	if (n->family != family || memcmp(n->addr, addr, (size_t)whole) != 0)
		return false;
	return rest == 0 || ((n->addr[whole] ^ addr[whole]) & (0xff << (8 - rest)) & 0xff) == 0;
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

/* config_free - every string and array the setters allocated, by key type. */
static void config_free(struct config *c)
{
	for (size_t i = 0; i < N_KEYS; i++) {
		const struct key *k = &keys[i];

		if (k->set == config_set_str)
			free(*FIELD(c, k, char *));
		else if (k->set == config_set_list)
			config_free_strv(*FIELD(c, k, char **),
					 *(size_t *)(void *)((char *)c + k->off_n));
	}
	config_free_strv(c->subject_tags, c->n_subject_tags);
	for (size_t i = 0; i < c->n_mailboxes; i++) {
		free(c->mailboxes[i].address);
		free(c->mailboxes[i].keyfile);
		free(c->mailboxes[i].certfile);
	}
	free(c->mailboxes);
	for (size_t i = 0; i < c->n_mailbox_users; i++) {
		free(c->mailbox_users[i].mailbox);
		for (size_t k = 0; k < c->mailbox_users[i].n_entries; k++)
			free(c->mailbox_users[i].entries[k]);
		free(c->mailbox_users[i].entries);
	}
	free(c->mailbox_users);
	free(c->key_lines);
	free(c->internal_networks);
	free(c->default_secure_mailbox);
	free(c->path);
	free(c);
}

struct config *config_load_default(const char *path)
{
	struct strlist errors;
	struct config *cfg;

	if (path == NULL && access(CONFIG_DEFAULT_PATH, F_OK) == 0)
		path = CONFIG_DEFAULT_PATH;
	strlist_init(&errors);
	cfg = config_load(path, &errors);
	for (size_t i = 0; i < errors.n; i++)
		msg_error("%s", errors.v[i]);
	if (cfg == NULL && errors.n == 0)
		msg_error("%s: cannot load the configuration", path ? path : "(built-in)");
	strlist_free(&errors);
	return cfg;
}

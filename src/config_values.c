/*
 * config_values.c - the value types of the configuration file: for each,
 * the setter that parses a value into struct config (or says exactly what
 * is wrong with it) and the dumper that writes it back. The checks of
 * string values and the list-entry rules are in config_checks.c.
 *
 * Exports, to config.c only (config_int.h): config_set_*, config_dump_*
 * and config_free_strv. The key table in config.c says which key uses
 * which.
 *
 * A setter either stores the whole value or reports why it cannot, with
 * config_perr, and leaves the field as it was. A dumper writes what its
 * setter reads back to the same value: config_dump relies on that.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "address.h"
#include "config.h"
#include "config_int.h"
#include "log.h"
#include "mime_subject.h"
#include "util.h"

#define LIST_SEP ", \t"

static bool find_choice(struct parser *p, const struct key *k, const char *v, int *out);
static const char *choice_name(const struct choice *ch, int value);
static bool parse_long(const char *v, int base, long *out);
static bool parse_network(struct parser *p, const char *e, struct netmask *out);
static void mask_addr(unsigned char *addr, int prefix);
static char *mailbox_address(struct parser *p, const char *v);
static void fmt_duration(long s, char *buf, size_t size);

/* The names config_dump_facility and config_dump_level write. */
static const char *const facility_names[] = {
	"mail", "daemon", "user", "local0", "local1", "local2", "local3", "local4", "local5",
	"local6", "local7", NULL,
};
static const char *const level_names[] = { "error", "warning", "notice", "info", "debug", NULL };

/* ------------------------------------------------------------ setters */

bool config_set_str(struct parser *p, struct config *c, const struct key *k, char *v)
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

bool config_set_bool(struct parser *p, struct config *c, const struct key *k, char *v)
{
	int n;

	if (!find_choice(p, k, v, &n))
		return false;
	*FIELD(c, k, bool) = n != 0;
	return true;
}

bool config_set_choice(struct parser *p, struct config *c, const struct key *k, char *v)
{
	return find_choice(p, k, v, FIELD(c, k, int));
}

bool config_set_int(struct parser *p, struct config *c, const struct key *k, char *v)
{
	long n;

	if (!parse_long(v, 10, &n)) {
		config_perr(p, "bad value \"%.*s%s\": expected a whole number, %ld..%ld", QV(v),
			    k->min, k->max);
		return false;
	}
	if (n < k->min || n > k->max) {
		config_perr(p, "%s is out of range (%ld..%ld)", v, k->min, k->max);
		return false;
	}
	*FIELD(c, k, int) = (int)n;
	return true;
}

bool config_set_octal(struct parser *p, struct config *c, const struct key *k, char *v)
{
	long n;

	if (!parse_long(v, 8, &n)) {
		config_perr(p, "bad value \"%.*s%s\": expected an octal number such as 007 or 027",
			    QV(v));
		return false;
	}
	if (n < k->min || n > k->max) {
		config_perr(p, "%s is out of range (%03lo..%03lo)", v, k->min, k->max);
		return false;
	}
	*FIELD(c, k, int) = (int)n;
	return true;
}

bool config_set_duration(struct parser *p, struct config *c, const struct key *k, char *v)
{
	char lo[32], hi[32];
	long n = config_parse_duration(v);

	fmt_duration(k->min, lo, sizeof(lo));
	fmt_duration(k->max, hi, sizeof(hi));
	if (n < 0) {
		config_perr(p, "bad value \"%.*s%s\": expected a duration such as 30s, 15m, 12h, "
			    "7d or 2w", QV(v));
		return false;
	}
	if (n < k->min || n > k->max) {
		config_perr(p, "%s is out of range (%s..%s)", v, lo, hi);
		return false;
	}
	*FIELD(c, k, long) = n;
	return true;
}

bool config_set_list(struct parser *p, struct config *c, const struct key *k, char *v)
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
			config_perr(p, "bad entry \"%.*s%s\": %s", QV(e), why ? why : "not valid");
			good = false;
			continue;
		}
		list = xrealloc(list, (n + 1) * sizeof(*list));
		list[n++] = norm;
	}
	if (good && n == 0)
		config_perr(p, "empty list");
	if (!good || n == 0) {
		config_free_strv(list, n);
		return false;
	}
	config_free_strv(*field, *count);
	*field = list;
	*count = n;
	return true;
}

bool config_set_networks(struct parser *p, struct config *c, const struct key *k, char *v)
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
		config_perr(p, "empty list");
	if (!good || n == 0) {
		free(nets);
		return false;
	}
	free(c->internal_networks);
	c->internal_networks = nets;
	c->n_internal_networks = n;
	return true;
}

bool config_set_language(struct parser *p, struct config *c, const struct key *k, char *v)
{
	int langs = 0, first = 0;
	char *save = NULL;

	for (char *e = strtok_r(v, LIST_SEP, &save); e; e = strtok_r(NULL, LIST_SEP, &save)) {
		int l = ascii_strcasecmp(e, "da") == 0 ? LANG_DA
			: ascii_strcasecmp(e, "en") == 0 ? LANG_EN
							  : 0;

		if (l == 0 || (langs & l) != 0) {
			config_perr(p, "bad value \"%.*s%s\": expected da, en, da,en or en,da",
				    QV(e));
			return false;
		}
		if (first == 0)
			first = l;
		langs |= l;
	}
	if (langs == 0) {
		config_perr(p, "expected da, en, da,en or en,da");
		return false;
	}
	c->languages = langs;
	c->language_en_first = first == LANG_EN;
	return true;
}

bool config_set_mailbox(struct parser *p, struct config *c, const struct key *k, char *v)
{
	char *w[4], *save = NULL, *addr;
	size_t n = 0;
	bool key_ok, cert_ok;
	struct secure_mailbox *m;

	for (char *e = strtok_r(v, " \t", &save); e && n < 4; e = strtok_r(NULL, " \t", &save))
		w[n++] = e;
	if (n != 3) {
		config_perr(p, "expected ADDRESS KEYFILE CERTFILE");
		return false;
	}
	if ((addr = mailbox_address(p, w[0])) == NULL)
		return false;
	if (config_find_mailbox(c, addr) != NULL) {
		config_perr(p, "%s is already a SecureMailbox", addr);
		free(addr);
		return false;
	}
	key_ok = config_check_path(p, w[1]);
	cert_ok = config_check_path(p, w[2]);
	if (!key_ok || !cert_ok) {
		free(addr);
		return false;
	}
	c->mailboxes = xrealloc(c->mailboxes, (c->n_mailboxes + 1) * sizeof(*c->mailboxes));
	m = &c->mailboxes[c->n_mailboxes++];
	m->address = addr;
	m->keyfile = xstrdup(w[1]);
	m->certfile = xstrdup(w[2]);
	m->line = config_parser_line(p);
	return true;
}

/*
 * config_set_subject_tag - PersonalSubjectTag TEXT, one tag a line, kept
 * as written (UTF-8: the line was checked); case is ignored when it is
 * looked for. It is the rest of the line, so '#' is part of it. No
 * control characters (a tab included) and at most MIME_SUBJECT_TAG_MAX
 * bytes: it is looked for in, and taken out of, a header field.
 */
bool config_set_subject_tag(struct parser *p, struct config *c, const struct key *k, char *v)
{
	const unsigned char *u = (const unsigned char *)v;

	(void)k;
	if (strlen(v) > MIME_SUBJECT_TAG_MAX) {
		config_perr(p, "too long (at most %d bytes)", MIME_SUBJECT_TAG_MAX);
		return false;
	}
	for (size_t i = 0; u[i] != '\0'; i++)
		/* C0, DEL, and C1 (U+0080..U+009F, which UTF-8 writes as C2 80..C2 9F) */
		if (u[i] < 0x20 || u[i] == 0x7f || (u[i] == 0xc2 && u[i + 1] >= 0x80 &&
						      u[i + 1] <= 0x9f)) {
			config_perr(p, "bad value \"%.*s%s\": a tag may not contain control "
				    "characters", QV(v));
			return false;
		}
	c->subject_tags = xrealloc(c->subject_tags, (c->n_subject_tags + 1) *
				   sizeof(*c->subject_tags));
	c->subject_tags[c->n_subject_tags++] = xstrdup(v);
	return true;
}

/*
 * config_set_mailbox_users - "MAILBOX ENTRY[, ENTRY...]": an entry is a
 * sender address or a domain ("kp.dk" or "@kp.dk", a whole top-level
 * domain refused). Checked against SecureMailbox once the file is read.
 */
bool config_set_mailbox_users(struct parser *p, struct config *c, const struct key *k, char *v)
{
	struct mailbox_users u = { 0 };
	char *rest = v + strcspn(v, " \t"), *save = NULL;
	bool good = true;

	(void)k;
	if (*rest != '\0')
		*rest++ = '\0';
	if ((u.mailbox = mailbox_address(p, v)) == NULL)
		return false;
	for (char *e = strtok_r(rest, ", \t", &save); e; e = strtok_r(NULL, ", \t", &save)) {
		const char *why = NULL;
		char *norm;

		if (strchr(e + 1, '@') != NULL || (e[0] != '@' && strchr(e, '@') != NULL)) {
			norm = mailbox_address(p, e);
		} else {
			char *d = domain_entry_normalise(e[0] == '@' ? e + 1 : e, &why);

			norm = d && d[0] != '.' ? xasprintf("@%s", d) : NULL;
			if (norm == NULL)
				config_perr(p, "bad entry \"%.*s%s\": %s", QV(e),
					    why ? why : "expected a sender address or a domain");
			free(d);
		}
		if (norm == NULL) {
			good = false;
			continue;
		}
		u.entries = xrealloc(u.entries, (u.n_entries + 1) * sizeof(*u.entries));
		u.entries[u.n_entries++] = norm;
	}
	if (good && u.n_entries == 0) {
		config_perr(p, "expected MAILBOX SENDER-OR-DOMAIN[, ...]");
		good = false;
	}
	if (!good) {
		for (size_t i = 0; i < u.n_entries; i++)
			free(u.entries[i]);
		free(u.entries);
		free(u.mailbox);
		return false;
	}
	u.line = config_parser_line(p);
	c->mailbox_users = xrealloc(c->mailbox_users, (c->n_mailbox_users + 1) * sizeof(u));
	c->mailbox_users[c->n_mailbox_users++] = u;
	return true;
}

/* config_set_default_mailbox - stored now; check_file sees that it is configured. */
bool config_set_default_mailbox(struct parser *p, struct config *c, const struct key *k, char *v)
{
	char *addr;

	if (v[strcspn(v, " \t")] != '\0') {
		config_perr(p, "expected one address");
		return false;
	}
	if ((addr = mailbox_address(p, v)) == NULL)
		return false;
	free(c->default_secure_mailbox);
	c->default_secure_mailbox = addr;
	return true;
}

bool config_set_facility(struct parser *p, struct config *c, const struct key *k, char *v)
{
	int f = log_facility_parse(v);

	if (f < 0) {
		config_perr(p, "bad value \"%.*s%s\": expected mail, daemon, user or "
			    "local0..local7", QV(v));
		return false;
	}
	c->syslog_facility = f;
	return true;
}

bool config_set_level(struct parser *p, struct config *c, const struct key *k, char *v)
{
	int l = log_level_parse(v);

	if (l < 0) {
		config_perr(p, "bad value \"%.*s%s\": expected error, warning, notice, info, debug "
			    "or 0..7", QV(v));
		return false;
	}
	c->log_level = l;
	return true;
}

/* ------------------------------------------------------------ dumpers */

void config_dump_str(struct strbuf *out, const struct config *c, const struct key *k)
{
	const char *v = *CFIELD(c, k, char *);

	if (v == NULL)
		sb_printf(out, "# %s (not set)\n", k->name);
	else
		sb_printf(out, "%-20s %s\n", k->name, v);
}

void config_dump_bool(struct strbuf *out, const struct config *c, const struct key *k)
{
	sb_printf(out, "%-20s %s\n", k->name, *CFIELD(c, k, bool) ? "yes" : "no");
}

void config_dump_choice(struct strbuf *out, const struct config *c, const struct key *k)
{
	sb_printf(out, "%-20s %s\n", k->name, choice_name(k->choices, *CFIELD(c, k, int)));
}

void config_dump_int(struct strbuf *out, const struct config *c, const struct key *k)
{
	sb_printf(out, "%-20s %d\n", k->name, *CFIELD(c, k, int));
}

void config_dump_octal(struct strbuf *out, const struct config *c, const struct key *k)
{
	sb_printf(out, "%-20s %03o\n", k->name, (unsigned)*CFIELD(c, k, int));
}

void config_dump_duration(struct strbuf *out, const struct config *c, const struct key *k)
{
	char buf[32];

	fmt_duration(*CFIELD(c, k, long), buf, sizeof(buf));
	sb_printf(out, "%-20s %s\n", k->name, buf);
}

void config_dump_list(struct strbuf *out, const struct config *c, const struct key *k)
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

void config_dump_networks(struct strbuf *out, const struct config *c, const struct key *k)
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

void config_dump_language(struct strbuf *out, const struct config *c, const struct key *k)
{
	const char *v = c->languages == LANG_DA ? "da"
			: c->languages == LANG_EN ? "en"
			: c->language_en_first	  ? "en,da"
						  : "da,en";

	sb_printf(out, "%-20s %s\n", k->name, v);
}

void config_dump_mailboxes(struct strbuf *out, const struct config *c, const struct key *k)
{
	if (c->n_mailboxes == 0)
		sb_printf(out, "# %s (not set)\n", k->name);
	for (size_t i = 0; i < c->n_mailboxes; i++)
		sb_printf(out, "%-20s %s %s %s\n", k->name, c->mailboxes[i].address,
			  c->mailboxes[i].keyfile, c->mailboxes[i].certfile);
}

void config_dump_subject_tags(struct strbuf *out, const struct config *c, const struct key *k)
{
	if (c->n_subject_tags == 0)
		sb_printf(out, "# %s (not set)\n", k->name);
	for (size_t i = 0; i < c->n_subject_tags; i++)
		sb_printf(out, "%-20s %s\n", k->name, c->subject_tags[i]);
}

void config_dump_mailbox_users(struct strbuf *out, const struct config *c, const struct key *k)
{
	if (c->n_mailbox_users == 0)
		sb_printf(out, "# %s (not set)\n",
			  k->name);
	for (size_t i = 0; i < c->n_mailbox_users; i++) {
		sb_printf(out, "%-20s %s", k->name, c->mailbox_users[i].mailbox);
		for (size_t e = 0; e < c->mailbox_users[i].n_entries; e++)
			sb_printf(out, "%s%s", e ? ", " : " ", c->mailbox_users[i].entries[e]);
		sb_adds(out, "\n");
	}
}

void config_dump_facility(struct strbuf *out, const struct config *c, const struct key *k)
{
	for (size_t i = 0; facility_names[i] != NULL; i++)
		if (log_facility_parse(facility_names[i]) == c->syslog_facility) {
			sb_printf(out, "%-20s %s\n", k->name, facility_names[i]);
			return;
		}
	sb_printf(out, "# %s (unknown value %d)\n", k->name, c->syslog_facility);
}

void config_dump_level(struct strbuf *out, const struct config *c, const struct key *k)
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
			config_perr(p, "%s is never allowed: %s", ch->name, ch->never);
			return false;
		}
		*out = ch->value;
		return true;
	}
	sb_init(&sb);
	for (ch = k->choices; ch->name != NULL; ch++)
		if (ch->never == NULL)
			sb_printf(&sb, "%s%s", n++ == 0 ? "" : n == total ? " or " : ", ", ch->name);
	config_perr(p, "bad value \"%.*s%s\": expected %s", QV(v), sb.s);
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
		config_perr(p, "bad network \"%.*s%s\": the prefix length must be 0..%d", QV(e),
			    max);
		return false;
	}
	out->prefix = (int)prefix;
	memcpy(given, out->addr, sizeof(given));
	mask_addr(out->addr, out->prefix);
	if (memcmp(given, out->addr, sizeof(given)) != 0) {
		inet_ntop(out->family, out->addr, buf, sizeof(buf));
		config_perr(p, "bad network \"%s\": host bits are set; did you mean %s/%d?", e, buf,
			    out->prefix);
		return false;
	}
	return true;
bad:
	config_perr(p, "bad network \"%.*s%s\": expected an IPv4 or IPv6 address with an optional "
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
	config_perr(p, "bad address \"%.*s%s\": %s", QV(v), why ? why : "not valid");
	return NULL;
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

void config_free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

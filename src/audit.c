/*
 * audit.c - the single decision line of earlier versions, and reading
 * back every kind of logged record: that line, and the summary and
 * recipient lines of audit_lines (audit_lines.c) in both formats.
 *
 * Exports audit_format, audit_parse, audit_parse_record and
 * audit_record_free (see audit.h). The lines are what a compliance
 * officer reads to answer "why", so they carry every fact the verdict
 * was made from; sikkermail-ctl report reads them back, so every value
 * survives the round trip byte for byte (in JSON, a byte that is not
 * UTF-8 was written as the text \xHH and reads back as that text).
 *
 * Values: written bare when they consist of printable ASCII other than
 * '"', '\' and '='; otherwise double-quoted, with \" and \\ escapes, and
 * \xHH for control characters, DEL and bytes that are not well-formed
 * UTF-8 (well-formed UTF-8 other than C1 controls is kept, for names like
 * "Københavns Kommune"). A NULL string is written as a bare "-", so the
 * empty string ("") and the string "-" ("\"-\"") stay distinct from it.
 * The line never contains CR, LF or any other control character.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "policy.h"

#define AUDIT_MAX_RCPTS 65536	/* more in one line is a corrupt line, not a message */

struct parse_state {
	struct decision *d;
	struct audit_record *rec;	/* NULL for audit_parse */
	enum audit_kind kind;
	bool have_n, have_of;
	long long n_rcpts;	/* rcpts=, -1 until seen */
	bool have_action;
	unsigned char *seen;	/* per recipient: bit i set once rcpt_keys[i]N was read */
	size_t cap_seen;
};

/* The per-recipient keys, in the order audit_format writes them. */
static const char *const rcpt_keys[] = { "rcpt", "class", "action", "rule", "evidence" };
#define N_RCPT_KEYS (sizeof(rcpt_keys) / sizeof(rcpt_keys[0]))
#define ALL_RCPT_KEYS ((1u << N_RCPT_KEYS) - 1)

static bool is_bare(const char *v);
static void put_value(struct strbuf *sb, const char *v);
static void put(struct strbuf *sb, const char *key, const char *v);
static void put_rcpt(struct strbuf *sb, size_t n, const struct rcpt *r);
static const char *yes_no(bool b);
static const char *find_start(const char *line);
static int read_value(const char **pp, char **out);
static int parse_bool(const char *v, bool *out);
static int parse_count(const char *v, long long max, long long *out);
static int set_field(struct parse_state *st, const char *key, char *v);
static int set_scalar(struct parse_state *st, const char *key, char *v);
static int parse_mode(const char *v, enum mode *out);
static int parse_psrc(const char *v, enum personal_source *out);
static int parse_action(const char *v, enum action *out);
static int take(char **field, char *v);
static int set_indexed(struct parse_state *st, const char *key, char *v);
static void set_rcpt_address(struct rcpt *r, const char *v);
static const char *rule_of(const char *v);
static int set_rcpt_value(struct rcpt *r, size_t which, char *v);
static int set_rcpt_field(struct parse_state *st, const char *key, char *v);
static int parse_pairs(struct parse_state *st, const char *p);
static int check_whole(struct parse_state *st);
static int json_string(const char **pp, char **out);
static int json_value(const char **pp, char **out);
static int parse_json(struct parse_state *st, const char *p);
static void utf8_put(struct strbuf *sb, unsigned long cp);

static bool is_bare(const char *v)
{
	if (v[0] == '\0' || strcmp(v, "-") == 0)
		return false;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == '"' || *p == '\\' || *p == '=')
			return false;
	return true;
}

static void put_value(struct strbuf *sb, const char *v)
{
	const unsigned char *p = (const unsigned char *)v;
	size_t n;

	if (v == NULL) {
		sb_addc(sb, '-');
		return;
	}
	if (is_bare(v)) {
		sb_adds(sb, v);
		return;
	}
	sb_addc(sb, '"');
	while (*p) {
		if (*p == '"' || *p == '\\') {
			sb_addc(sb, '\\');
			sb_addc(sb, *p++);
		} else if (*p >= 0x20 && *p < 0x7f) {
			sb_addc(sb, *p++);
		} else if (*p >= 0x80 && (n = utf8_text_len(p)) > 0) {
			sb_addmem(sb, p, n);
			p += n;
		} else {
			sb_printf(sb, "\\x%02x", *p++);
		}
	}
	sb_addc(sb, '"');
}

static void put(struct strbuf *sb, const char *key, const char *v)
{
	sb_printf(sb, " %s=", key);
	put_value(sb, v);
}

static void put_rcpt(struct strbuf *sb, size_t n, const struct rcpt *r)
{
	const char *addr = r->addr.full != NULL ? r->addr.full : r->raw;

	sb_printf(sb, " rcpt%zu=", n);
	put_value(sb, addr);
	sb_printf(sb, " class%zu=%s action%zu=%s rule%zu=", n, rclass_name(r->cls), n,
		  action_name(r->action), n);
	put_value(sb, r->rule != NULL && r->rule[0] != '\0' ? r->rule : NULL);
	sb_printf(sb, " evidence%zu=", n);
	put_value(sb, r->evidence);
}

static const char *yes_no(bool b)
{
	return b ? "yes" : "no";
}

void audit_format(const struct decision *d, struct strbuf *out)
{
	sb_printf(out, "decision time=%lld", d->time);
	put(out, "queue_id", d->queue_id);
	put(out, "message_id", d->message_id);
	put(out, "sender", d->sender);
	put(out, "client", d->client_addr);
	put(out, "trusted", yes_no(d->trusted));
	put(out, "mode", mode_name(d->mode));
	if (d->generation > 0)
		sb_printf(out, " generation=%lu", d->generation);
	put(out, "personal", yes_no(d->personal));
	put(out, "personal_source", personal_source_name(d->psrc));
	put(out, "personal_reason", d->personal_why);
	sb_printf(out, " cpr=%d", d->cpr_hits);
	put(out, "action", action_name(d->action));
	put(out, "applied", action_name(d->applied));
	put(out, "rule", d->rule != NULL && d->rule[0] != '\0' ? d->rule : NULL);
	/* the outcome, where it is more than the applied action says */
	if (d->copy_id != NULL)
		put(out, "copy", d->copy_id);
	if (d->mailbox != NULL)
		put(out, "mailbox", d->mailbox);
	if (d->failure != NULL)
		put(out, "failure", d->failure);
	if (d->unrecorded)
		put(out, "recorded", "no");
	sb_printf(out, " rcpts=%zu", d->n_rcpts);
	for (size_t i = 0; i < d->n_rcpts; i++)
		put_rcpt(out, i + 1, &d->rcpts[i]);
}

/*
 * find_start - the "decision" token: at the start of the line or after a
 * space, and followed by a key=value pair (a syslog prefix may contain
 * the word too, e.g. a host called "decision").
 */
static const char *find_start(const char *line)
{
	static const char tok[] = "decision ";
	const char *p = line, *q;

	while ((q = strstr(p, tok)) != NULL) {
		const char *k = q + sizeof(tok) - 1;
		size_t klen = strcspn(k, " =");

		if ((q == line || q[-1] == ' ') && klen > 0 && k[klen] == '=')
			return k;
		p = q + 1;
	}
	return NULL;
}

/* read_value - a bare or quoted value at *pp; *out is NULL for "-". 0 or -1. */
static int read_value(const char **pp, char **out)
{
	const char *p = *pp;
	struct strbuf sb;
	int hi, lo;

	*out = NULL;
	if (*p != '"') {
		size_t n = strcspn(p, " \r\n");

		if (n == 0 || memchr(p, '"', n) != NULL || memchr(p, '\\', n) != NULL)
			return -1;
		if (!(n == 1 && *p == '-'))
			*out = xstrndup(p, n);
		*pp = p + n;
		return 0;
	}
	sb_init(&sb);
	for (p++; *p != '"'; p++) {
		if (*p == '\0')
			goto bad;
		if (*p != '\\') {
			sb_addc(&sb, *p);
			continue;
		}
		p++;
		if (*p == '"' || *p == '\\') {
			sb_addc(&sb, *p);
		} else if (*p == 'x' && (hi = hex_digit(p[1])) >= 0 && (lo = hex_digit(p[2])) >= 0) {
			sb_addc(&sb, hi * 16 + lo);
			p += 2;
		} else {
			goto bad;
		}
	}
	if (memchr(sb.s, '\0', sb.len) != NULL)
		goto bad;	/* \x00 cannot be a C string */
	*pp = p + 1;
	*out = sb.s;
	return 0;
bad:
	sb_free(&sb);
	return -1;
}

static int parse_bool(const char *v, bool *out)
{
	if (v != NULL && strcmp(v, "yes") == 0)
		*out = true;
	else if (v != NULL && strcmp(v, "no") == 0)
		*out = false;
	else
		return -1;
	return 0;
}

static int parse_count(const char *v, long long max, long long *out)
{
	char *end;

	if (v == NULL || v[0] < '0' || v[0] > '9')
		return -1;
	errno = 0;
	*out = strtoll(v, &end, 10);
	if (errno != 0 || *end != '\0' || *out > max)
		return -1;
	return 0;
}

/* rule_of - rule names are static strings; one we do not know reads back as "other". */
static const char *rule_of(const char *v)
{
	const char *rule;

	if (v == NULL)
		return "";
	rule = policy_rule_intern(v);
	return rule != NULL ? rule : "other";
}

static void set_rcpt_address(struct rcpt *r, const char *v)
{
	const char *at;

	free(r->raw);
	address_free(&r->addr);
	r->raw = xstrdup(v ? v : "");
	if (v == NULL)
		return;
	r->addr.full = xstrdup(v);
	if ((at = strrchr(v, '@')) != NULL) {
		r->addr.local = xstrndup(v, (size_t)(at - v));
		r->addr.domain = xstrdup(at + 1);
	}
}

/* set_indexed - rcptN, classN, actionN, ruleN, evidenceN (N from 1); takes v. */
static int set_indexed(struct parse_state *st, const char *key, char *v)
{
	size_t klen = strcspn(key, "0123456789"), which;
	long long n;
	struct rcpt *r;
	int rc = -1;

	for (which = 0; which < N_RCPT_KEYS; which++)
		if (strlen(rcpt_keys[which]) == klen && strncmp(key, rcpt_keys[which], klen) == 0)
			break;
	if (which == N_RCPT_KEYS) {
		rc = 0;		/* not ours: a later version's key */
		goto out;
	}
	if (key[klen] == '0' || parse_count(key + klen, AUDIT_MAX_RCPTS, &n) < 0 || n < 1)
		goto out;
	while (st->d->n_rcpts < (size_t)n)
		decision_add_rcpt(st->d, "", NULL);
	if (st->cap_seen < (size_t)n) {
		st->seen = xrealloc(st->seen, (size_t)n * 2);
		memset(st->seen + st->cap_seen, 0, (size_t)n * 2 - st->cap_seen);
		st->cap_seen = (size_t)n * 2;
	}
	st->seen[n - 1] |= 1u << which;
	r = &st->d->rcpts[n - 1];
	return set_rcpt_value(r, which, v);
out:
	free(v);
	return rc;
}

/* set_rcpt_value - rcpt_keys[which] of r; takes v. */
static int set_rcpt_value(struct rcpt *r, size_t which, char *v)
{
	int k, rc = -1;

	switch (which) {
	case 0:
		set_rcpt_address(r, v);
		break;
	case 1:
		if (v == NULL || (k = rclass_parse(v)) < 0)
			goto out;
		r->cls = (enum rclass)k;
		break;
	case 2:
		if (v == NULL || (k = action_parse(v)) < 0)
			goto out;
		r->action = (enum action)k;
		break;
	case 3:
		r->rule = rule_of(v);
		break;
	default:
		free(r->evidence);
		r->evidence = v;
		v = NULL;
		break;
	}
	rc = 0;
out:
	free(v);
	return rc;
}

/*
 * set_rcpt_field - a key of a recipient line: what every line carries
 * (time, instance, id, queue_id), n and of, and the recipient's keys
 * without number. Takes v; unknown keys are skipped.
 */
static int set_rcpt_field(struct parse_state *st, const char *key, char *v)
{
	long long n;
	int rc;

	for (size_t which = 0; which < N_RCPT_KEYS; which++) {
		if (strcmp(key, rcpt_keys[which]) == 0) {
			if (st->d->n_rcpts == 0)
				decision_add_rcpt(st->d, "", NULL);
			if (st->seen == NULL) {
				st->seen = xcalloc(1, 1);
				st->cap_seen = 1;
			}
			st->seen[0] |= 1u << which;
			return set_rcpt_value(&st->d->rcpts[0], which, v);
		}
	}
	if (strcmp(key, "n") == 0 || strcmp(key, "of") == 0) {
		bool is_n = key[0] == 'n';

		rc = parse_count(v, AUDIT_MAX_RCPTS, &n);
		free(v);
		if (rc < 0 || n < 1)
			return -1;
		if (is_n) {
			st->rec->n = (size_t)n;
			st->have_n = true;
		} else {
			st->rec->of = (size_t)n;
			st->have_of = true;
		}
		return 0;
	}
	if (strcmp(key, "time") == 0 || strcmp(key, "instance") == 0 || strcmp(key, "id") == 0 ||
	    strcmp(key, "queue_id") == 0)
		return set_scalar(st, key, v);
	free(v);
	return 0;
}

static int parse_mode(const char *v, enum mode *out)
{
	if (v != NULL && strcmp(v, mode_name(MODE_ENFORCE)) == 0)
		*out = MODE_ENFORCE;
	else if (v != NULL && strcmp(v, mode_name(MODE_MONITOR)) == 0)
		*out = MODE_MONITOR;
	else
		return -1;
	return 0;
}

static int parse_psrc(const char *v, enum personal_source *out)
{
	static const enum personal_source all[] = { PSRC_NONE, PSRC_HEADER, PSRC_CPR,
						    PSRC_SUBJECT };

	for (size_t i = 0; v != NULL && i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(v, personal_source_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	}
	return -1;
}

static int parse_action(const char *v, enum action *out)
{
	int k = v != NULL ? action_parse(v) : -1;

	if (k < 0)
		return -1;
	*out = (enum action)k;
	return 0;
}

/* take - replace *field with v (which may be NULL). */
static int take(char **field, char *v)
{
	free(*field);
	*field = v;
	return 0;
}

/* set_scalar - one of the message's keys; takes v. Unknown keys are skipped. */
static int set_scalar(struct parse_state *st, const char *key, char *v)
{
	struct decision *d = st->d;
	long long n = 0;
	int rc = 0;

	if (strcmp(key, "queue_id") == 0)
		return take(&d->queue_id, v);
	if (strcmp(key, "message_id") == 0)
		return take(&d->message_id, v);
	if (strcmp(key, "sender") == 0)
		return take(&d->sender, v);
	if (strcmp(key, "client") == 0)
		return take(&d->client_addr, v);
	if (strcmp(key, "personal_reason") == 0)
		return take(&d->personal_why, v);
	if (strcmp(key, "copy") == 0)
		return take(&d->copy_id, v);
	if (strcmp(key, "failure") == 0)
		return take(&d->failure, v);
	if (strcmp(key, "mailbox") == 0)
		return take(&d->mailbox, v);
	if (strcmp(key, "instance") == 0)
		return take(&d->instance, v);
	if (strcmp(key, "id") == 0) {
		if (st->rec == NULL || v == NULL) {
			free(v);	/* an id means nothing to a single line; none is no id */
			return st->rec == NULL ? 0 : -1;
		}
		return take(&st->rec->id, v);
	}

	if (strcmp(key, "time") == 0) {
		rc = parse_count(v, LLONG_MAX, &n);
		d->time = n;
	} else if (strcmp(key, "trusted") == 0) {
		rc = parse_bool(v, &d->trusted);
	} else if (strcmp(key, "personal") == 0) {
		rc = parse_bool(v, &d->personal);
	} else if (strcmp(key, "mode") == 0) {
		rc = parse_mode(v, &d->mode);
	} else if (strcmp(key, "personal_source") == 0) {
		rc = parse_psrc(v, &d->psrc);
	} else if (strcmp(key, "cpr") == 0) {
		rc = parse_count(v, INT_MAX, &n);
		d->cpr_hits = (int)n;
	} else if (strcmp(key, "action") == 0) {
		rc = parse_action(v, &d->action);
		st->have_action = true;
	} else if (strcmp(key, "applied") == 0) {
		rc = parse_action(v, &d->applied);
	} else if (strcmp(key, "rule") == 0) {
		d->rule = rule_of(v);
	} else if (strcmp(key, "generation") == 0) {
		char *end;

		/* unsigned long: all of its range */
		errno = 0;
		if (v == NULL || v[0] < '0' || v[0] > '9')
			rc = -1;
		else if ((d->generation = strtoul(v, &end, 10)), errno != 0 || *end != '\0')
			rc = -1;
	} else if (strcmp(key, "recorded") == 0) {
		bool recorded = true;

		rc = parse_bool(v, &recorded);
		d->unrecorded = !recorded;
	} else if (strcmp(key, "rcpts") == 0) {
		rc = parse_count(v, AUDIT_MAX_RCPTS, &st->n_rcpts);
	} else if (strcmp(key, "type") == 0 && st->rec != NULL) {
		rc = -1;	/* JSON: only as the first key */
	}
	free(v);
	return rc;
}

static int set_field(struct parse_state *st, const char *key, char *v)
{
	size_t klen = strlen(key);

	if (st->kind == AUDIT_RCPT)
		return set_rcpt_field(st, key, v);

	if (klen > 0 && key[klen - 1] >= '0' && key[klen - 1] <= '9')
		return set_indexed(st, key, v);
	return set_scalar(st, key, v);
}

/* parse_pairs - the key=value pairs from p to the end of the line, each given to set_field. */
static int parse_pairs(struct parse_state *st, const char *p)
{
	char *key, *v;
	size_t klen;
	int rc;

	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0' || *p == '\n' || (*p == '\r' && p[1] == '\n'))
			return 0;
		klen = strcspn(p, " =");
		if (klen == 0 || p[klen] != '=')
			return -1;
		key = xstrndup(p, klen);
		p += klen + 1;
		if (read_value(&p, &v) < 0) {
			free(key);
			return -1;
		}
		if (*p != ' ' && *p != '\0' && *p != '\r' && *p != '\n') {
			free(v);	/* "a"b: junk glued to a value */
			free(key);
			return -1;
		}
		rc = set_field(st, key, v);	/* takes v */
		free(key);
		if (rc < 0)
			return -1;
	}
}

/* check_whole - a single line is whole: a line cut short (syslog line limits) must not pass. */
static int check_whole(struct parse_state *st)
{
	struct decision *d = st->d;

	if (!st->have_action || st->n_rcpts < 0 || (size_t)st->n_rcpts != d->n_rcpts)
		return -1;
	for (size_t i = 0; i < d->n_rcpts; i++)
		if (st->seen[i] != ALL_RCPT_KEYS)
			return -1;
	return 0;
}

int audit_parse(const char *line, struct decision *d)
{
	struct parse_state st = { .d = d, .n_rcpts = -1, .kind = AUDIT_WHOLE };
	const char *p;

	decision_init(d);
	if ((p = find_start(line)) == NULL || parse_pairs(&st, p) < 0 || check_whole(&st) < 0) {
		free(st.seen);
		decision_free(d);
		return -1;
	}
	free(st.seen);
	return 0;
}

/* ------------------------------------------------------------ JSON */

static void utf8_put(struct strbuf *sb, unsigned long cp)
{
	if (cp < 0x80) {
		sb_addc(sb, (int)cp);
	} else if (cp < 0x800) {
		sb_addc(sb, (int)(0xc0 | cp >> 6));
		sb_addc(sb, (int)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		sb_addc(sb, (int)(0xe0 | cp >> 12));
		sb_addc(sb, (int)(0x80 | (cp >> 6 & 0x3f)));
		sb_addc(sb, (int)(0x80 | (cp & 0x3f)));
	} else {
		sb_addc(sb, (int)(0xf0 | cp >> 18));
		sb_addc(sb, (int)(0x80 | (cp >> 12 & 0x3f)));
		sb_addc(sb, (int)(0x80 | (cp >> 6 & 0x3f)));
		sb_addc(sb, (int)(0x80 | (cp & 0x3f)));
	}
}

/* hex4 - four hex digits at p; -1 if they are not. */
static long hex4(const char *p)
{
	long v = 0;
	int h;

	for (int i = 0; i < 4; i++) {
		if ((h = hex_digit(p[i])) < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/* json_string - the string at *pp (at its '"'), decoded; \u0000 is refused. 0 or -1. */
static int json_string(const char **pp, char **out)
{
	const unsigned char *p = (const unsigned char *)*pp + 1;
	struct strbuf sb;
	long cp, lo;
	size_t n;

	sb_init(&sb);
	for (; *p != '"'; p++) {
		if (*p < 0x20)
			goto bad;	/* the end of the line, or a raw control character */
		if (*p >= 0x80) {
			if ((n = utf8_text_len(p)) == 0)
				goto bad;
			sb_addmem(&sb, p, n);
			p += n - 1;
			continue;
		}
		if (*p != '\\') {
			sb_addc(&sb, *p);
			continue;
		}
		switch (*++p) {
		case '"': case '\\': case '/':
			sb_addc(&sb, *p);
			break;
		case 'b': sb_addc(&sb, '\b'); break;
		case 'f': sb_addc(&sb, '\f'); break;
		case 'n': sb_addc(&sb, '\n'); break;
		case 'r': sb_addc(&sb, '\r'); break;
		case 't': sb_addc(&sb, '\t'); break;
		case 'u':
			if ((cp = hex4((const char *)p + 1)) <= 0 || (cp >= 0xdc00 && cp < 0xe000))
				goto bad;
			p += 4;
			if (cp >= 0xd800 && cp < 0xdc00) {
				if (p[1] != '\\' || p[2] != 'u' ||
				    (lo = hex4((const char *)p + 3)) < 0xdc00 || lo >= 0xe000)
					goto bad;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			}
			utf8_put(&sb, (unsigned long)cp);
			break;
		default:
			goto bad;
		}
	}
	*pp = (const char *)p + 1;
	*out = sb.s;
	return 0;
bad:
	sb_free(&sb);
	return -1;
}

/*
 * json_value - a string, a whole number (as its digits), true or false
 * (as "yes" or "no", the kv words) or null (NULL) at *pp. 0 or -1.
 */
static int json_value(const char **pp, char **out)
{
	const char *p = *pp;
	size_t n;

	*out = NULL;
	if (*p == '"')
		return json_string(pp, out);
	if (strncmp(p, "null", 4) == 0) {
		*pp = p + 4;
		return 0;
	}
	if (strncmp(p, "true", 4) == 0 || strncmp(p, "false", 5) == 0) {
		*out = xstrdup(*p == 't' ? "yes" : "no");
		*pp = p + (*p == 't' ? 4 : 5);
		return 0;
	}
	if ((n = strspn(p, "0123456789")) == 0 || (n > 1 && *p == '0'))
		return -1;
	*out = xstrndup(p, n);
	*pp = p + n;
	return 0;
}

/*
 * parse_json - one object of audit_lines' JSON: "type" first, then keys
 * with plain values, nothing after the closing brace but the line end.
 */
static int parse_json(struct parse_state *st, const char *p)
{
	char *key = NULL, *v = NULL;
	bool first = true;
	int rc;

	p += strspn(p + 1, " ") + 1;
	for (;;) {
		if (*p != '"' || json_string(&p, &key) < 0)
			goto bad;
		p += strspn(p, " ");
		if (*p++ != ':')
			goto bad;
		p += strspn(p, " ");
		if (json_value(&p, &v) < 0)
			goto bad;
		if (first) {
			if (strcmp(key, "type") != 0 || v == NULL)
				goto bad;
			if (strcmp(v, "decision") == 0)
				st->kind = AUDIT_SUMMARY;
			else if (strcmp(v, "decision-rcpt") == 0)
				st->kind = AUDIT_RCPT;
			else
				goto bad;
			free(v);
			rc = 0;
		} else {
			rc = set_field(st, key, v);	/* takes v */
		}
		v = NULL;
		free(key);
		key = NULL;
		if (rc < 0)
			goto bad;
		first = false;
		p += strspn(p, " ");
		if (*p == '}')
			break;
		if (*p++ != ',')
			goto bad;
		p += strspn(p, " ");
	}
	p++;
	p += strspn(p, " \r\n");
	return *p == '\0' ? 0 : -1;
bad:
	free(key);
	free(v);
	return -1;
}

/* ------------------------------------------------------------ records */

int audit_parse_record(const char *rec, struct audit_record *r)
{
	struct parse_state st = { .d = &r->d, .rec = r, .n_rcpts = -1 };
	static const char whole[] = "decision ", rcpt[] = "decision-rcpt ";
	int rc;

	memset(r, 0, sizeof(*r));
	decision_init(&r->d);
	if (rec[0] == '{') {
		rc = parse_json(&st, rec);
	} else if (strncmp(rec, rcpt, sizeof(rcpt) - 1) == 0) {
		st.kind = AUDIT_RCPT;
		rc = parse_pairs(&st, rec + sizeof(rcpt) - 1);
	} else if (strncmp(rec, whole, sizeof(whole) - 1) == 0) {
		st.kind = AUDIT_WHOLE;
		rc = parse_pairs(&st, rec + sizeof(whole) - 1);
		if (rc == 0 && r->id != NULL)
			st.kind = AUDIT_SUMMARY;
	} else {
		rc = -1;
	}
	if (rc < 0)
		goto bad;
	r->kind = st.kind;
	switch (st.kind) {
	case AUDIT_WHOLE:
		rc = check_whole(&st);
		break;
	case AUDIT_SUMMARY:
		/* the recipients are on lines of their own: none here */
		if (r->id == NULL || !st.have_action || st.n_rcpts < 0 || r->d.n_rcpts != 0)
			rc = -1;
		r->of = (size_t)st.n_rcpts;
		break;
	default:
		if (r->id == NULL || !st.have_n || !st.have_of || r->n > r->of ||
		    r->d.n_rcpts != 1 || st.seen == NULL || st.seen[0] != ALL_RCPT_KEYS)
			rc = -1;
		break;
	}
	if (rc < 0)
		goto bad;
	free(st.seen);
	return 0;
bad:
	free(st.seen);
	audit_record_free(r);
	return -1;
}

void audit_record_free(struct audit_record *r)
{
	free(r->id);
	decision_free(&r->d);
	memset(r, 0, sizeof(*r));
}

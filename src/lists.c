/*
 * lists.c - parse the tunnel, partner and freemail list files (pure: no
 * I/O, no logging).
 *
 * Exports lists_parse, list_kind_name, list_kind_parse, list_entry_free,
 * list_entries_free, partner_agreement_valid and lists_builtin_freemail.
 *
 * A list decides where personal data may go, so a bad line is never
 * skipped or guessed at: every bad line is reported, as "name:line:
 * reason", and the caller imports nothing unless there was none.
 *
 * Line syntax: UTF-8 text; CRLF line ends are tolerated and a UTF-8 byte
 * order mark at the start of the file is skipped. A '#' at the start of a
 * line or after white space starts a comment; blank lines are ignored.
 * Fields are separated by ',' and white space around them is trimmed:
 *   tunnel:   domain[,organisation]
 *   partners: domain,organisation,dpa_expires   (dpa_expires may be empty,
 *             but the field is required: "no expiry" must be deliberate)
 *   freemail: domain
 * A domain written ".example.dk" covers example.dk and every subdomain. A
 * bare top-level domain (".dk") is refused: it would cover a whole
 * country.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "lists.h"
#include "util.h"

#define LISTS_LINE_MAX 1000	/* bytes; a domain is at most 253 */

/* Field counts per kind: minimum and maximum. */
static const struct {
	const char *name;
	int min_fields;
	int max_fields;
	const char *syntax;
} list_kinds[LIST_COUNT] = {
	[LIST_TUNNEL] = { "tunnel", 1, 2, "domain[,organisation]" },
	[LIST_PARTNERS] = { "partners", 3, 3, "domain,organisation,dpa_expires" },
	[LIST_FREEMAIL] = { "freemail", 1, 1, "domain" },
};

/* Open-addressing set of the domains seen so far, for duplicate checks. */
struct seen {
	size_t *slot;		/* index into entries + 1; 0 = empty */
	size_t mask;
	const struct list_entries *entries;
};

static bool utf8_valid(const unsigned char *s, size_t n);
static void next_line(const char *text, size_t len, size_t *pos, struct strbuf *line);
static void cut_comment(char *line);
static const char *line_check(const char *line, size_t n);
static char *trim(char *s);
static int split_fields(char *s, char **field, int max);
static int parse_line(enum list_kind kind, char *line, size_t n, struct list_entry *e,
		      struct strbuf *why);
static char *parse_domain(const char *field, struct strbuf *why);
static bool date_valid(const char *s);
static void seen_init(struct seen *set, size_t max_entries, const struct list_entries *entries);
static long seen_add(struct seen *set, size_t idx);
static void entries_push(struct list_entries *l, struct list_entry *e);

const char *const lists_builtin_freemail[] = {
	/* SPEC section 3 */
	"gmail.com", "googlemail.com", "hotmail.com", "hotmail.dk", "outlook.com", "outlook.dk",
	"live.com", "live.dk", "msn.com", "yahoo.com", "yahoo.dk", "icloud.com", "me.com",
	"aol.com", "gmx.com", "gmx.net", "proton.me", "protonmail.com", "mail.dk",
	/* the same providers' other common consumer domains */
	"hotmail.co.uk", "live.co.uk", "yahoo.co.uk", "ymail.com", "mac.com", "pm.me",
	"gmx.de", "web.de",
	NULL
};

const char *list_kind_name(enum list_kind k)
{
	return (unsigned)k < LIST_COUNT ? list_kinds[k].name : "?";
}

int list_kind_parse(const char *s)
{
	for (int k = 0; k < LIST_COUNT; k++)
		if (strcmp(s, list_kinds[k].name) == 0)
			return k;
	if (strcmp(s, "partner") == 0)
		return LIST_PARTNERS;
	return -1;
}

int lists_parse(enum list_kind kind, const char *name, const char *text, size_t len,
		struct list_entries *out, struct strlist *errors)
{
	struct strbuf why, line;
	struct seen set;
	size_t pos = 0, nlines = 1;
	long lineno = 0;
	int bad = 0;

	for (size_t i = 0; i < len; i++)
		nlines += text[i] == '\n';
	seen_init(&set, nlines, out);
	sb_init(&why);
	sb_init(&line);
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		pos = 3;
	while (pos < len) {
		struct list_entry e = { 0 };
		long dup;

		lineno++;
		next_line(text, len, &pos, &line);
		sb_reset(&why);
		if (parse_line(kind, line.s, line.len, &e, &why) < 0) {
			strlist_addf(errors, "%s:%ld: %s", name, lineno, why.s);
			list_entry_free(&e);
			bad++;
			continue;
		}
		if (e.domain == NULL)
			continue;	/* blank or comment */
		e.source = xstrdup(name);
		e.line = lineno;
		entries_push(out, &e);
		if ((dup = seen_add(&set, out->n - 1)) > 0) {
			strlist_addf(errors, "%s:%ld: %s: duplicate of line %ld", name, lineno,
				     out->v[out->n - 1].domain, dup);
			list_entry_free(&out->v[--out->n]);
			bad++;
		}
	}
	free(set.slot);
	sb_free(&why);
	sb_free(&line);
	return bad ? -1 : 0;
}

/*
 * parse_line - one line of len bytes (CR already stripped; a NUL-terminated
 * copy that may be modified). On success e->domain is set, or left NULL for
 * a blank or comment line. On error the reason is in why and -1 is returned.
 */
static int parse_line(enum list_kind kind, char *line, size_t len, struct list_entry *e,
		      struct strbuf *why)
{
	char *field[4];
	const char *bad;
	int n;

	if ((bad = line_check(line, len)) != NULL) {
		sb_adds(why, bad);
		return -1;
	}
	cut_comment(line);
	if (*trim(line) == '\0')
		return 0;
	n = split_fields(line, field, 4);
	if (n < list_kinds[kind].min_fields || n > list_kinds[kind].max_fields) {
		sb_printf(why, "%s fields (a %s line is %s%s)",
			  n > list_kinds[kind].max_fields ? "too many" : "too few",
			  list_kinds[kind].name, list_kinds[kind].syntax,
			  kind == LIST_PARTNERS ? "; dpa_expires may be empty" : "");
		return -1;
	}
	for (int i = 0; i < n; i++)
		if (strchr(field[i], '\t') != NULL) {
			sb_printf(why, "tab inside field %d", i + 1);
			return -1;
		}
	if ((e->domain = parse_domain(field[0], why)) == NULL)
		return -1;
	if (n >= 2 && *field[1] != '\0')
		e->organisation = xstrdup(field[1]);
	else if (kind == LIST_PARTNERS) {
		sb_printf(why, "%s: missing organisation", e->domain);
		return -1;
	}
	if (n >= 3 && *field[2] != '\0') {
		if (!date_valid(field[2])) {
			sb_printf(why, "%s: invalid agreement expiry date \"%s\" (want YYYY-MM-DD)",
				  e->domain, field[2]);
			return -1;
		}
		e->dpa_expires = xstrdup(field[2]);
	}
	return 0;
}

/* parse_domain - the normalised domain of a list entry, or NULL with why. */
static char *parse_domain(const char *field, struct strbuf *why)
{
	const char *reason = NULL;
	char *d;

	if (*field == '\0') {
		sb_adds(why, "missing domain");
		return NULL;
	}
	if ((d = domain_entry_normalise(field, &reason)) == NULL) {
		if (reason != NULL && strncmp(reason, "is a whole", 10) == 0)
			sb_printf(why, "\"%s\" %s", field, reason);
		else
			sb_printf(why, "invalid domain \"%s\": %s", field,
				  reason ? reason : "bad syntax");
	}
	return d;
}

/* next_line - the line at text[*pos] into line, without its CR LF; advances *pos. */
static void next_line(const char *text, size_t len, size_t *pos, struct strbuf *line)
{
	const char *nl = memchr(text + *pos, '\n', len - *pos);
	size_t n = nl ? (size_t)(nl - (text + *pos)) : len - *pos;

	sb_reset(line);
	sb_addmem(line, text + *pos, n);
	*pos += n + (nl != NULL);
	if (line->len > 0 && line->s[line->len - 1] == '\r')
		line->s[--line->len] = '\0';
}

/* cut_comment - a '#' at the start or after white space starts a comment. */
static void cut_comment(char *line)
{
	for (char *p = line; (p = strchr(p, '#')) != NULL; p++)
		if (p == line || p[-1] == ' ' || p[-1] == '\t') {
			*p = '\0';
			return;
		}
}

/* line_check - NULL if the raw line is acceptable text, else why not. */
static const char *line_check(const char *line, size_t n)
{
	if (n > LISTS_LINE_MAX)
		return "line too long (more than 1000 bytes)";
	if (memchr(line, '\0', n) != NULL)
		return "NUL character in line";
	if (!utf8_valid((const unsigned char *)line, n))
		return "not valid UTF-8";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)line[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return "control character in line";
	}
	return NULL;
}

/* utf8_valid - strict UTF-8: no overlong forms, no surrogates, <= U+10FFFF. */
static bool utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], need, min;
		unsigned long cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			need = 1, min = 0x80, cp = c & 0x1F;
		else if (c >= 0xE0 && c <= 0xEF)
			need = 2, min = 0x800, cp = c & 0x0F;
		else if (c >= 0xF0 && c <= 0xF4)
			need = 3, min = 0x10000, cp = c & 0x07;
		else
			return false;
		if (n - i <= need)
			return false;
		for (unsigned k = 1; k <= need; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += need + 1;
	}
	return true;
}

/* trim - strip spaces and tabs at both ends, in place. */
static char *trim(char *s)
{
	char *start = s, *end;

	while (*start == ' ' || *start == '\t')
		start++;
	end = start + strlen(start);
	while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*end = '\0';
	if (start != s)
		memmove(s, start, (size_t)(end - start) + 1);
	return s;
}

/* split_fields - split s at ',' into at most max trimmed fields; returns the count (max + 1 if more). */
static int split_fields(char *s, char **field, int max)
{
	int n = 0;

	for (;;) {
		char *comma = strchr(s, ',');
		if (comma != NULL)
			*comma = '\0';
		if (n == max)
			return max + 1;
		field[n++] = trim(s);
		if (comma == NULL)
			return n;
		s = comma + 1;
	}
}

/* date_valid - "YYYY-MM-DD", a real calendar date (Gregorian leap years). */
static bool date_valid(const char *s)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, m, d, dim;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	y = atoi(s);
	m = atoi(s + 5);
	d = atoi(s + 8);
	if (y < 1 || m < 1 || m > 12)
		return false;
	dim = mdays[m - 1];
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		dim = 29;
	return d >= 1 && d <= dim;
}

int partner_agreement_valid(const char *dpa_expires, const char *today)
{
	if (dpa_expires == NULL || *dpa_expires == '\0')
		return 1;
	/* Fail safe: an unreadable date never extends an agreement. */
	if (today == NULL || !date_valid(dpa_expires) || !date_valid(today))
		return 0;
	return strcmp(today, dpa_expires) <= 0;
}

static size_t hash_str(const char *s)
{
	size_t h = 14695981039346656037ULL & (size_t)-1;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * (size_t)1099511628211ULL;
	return h;
}

static void seen_init(struct seen *set, size_t max_entries, const struct list_entries *entries)
{
	size_t size = 16;

	while (size < 2 * max_entries)
		size *= 2;
	set->slot = xcalloc(size, sizeof(*set->slot));
	set->mask = size - 1;
	set->entries = entries;
}

/* seen_add - remember entries->v[idx]; if its domain was seen, return that line instead. */
static long seen_add(struct seen *set, size_t idx)
{
	const char *d = set->entries->v[idx].domain;
	size_t h = hash_str(d) & set->mask;

	for (; set->slot[h] != 0; h = (h + 1) & set->mask) {
		const struct list_entry *o = &set->entries->v[set->slot[h] - 1];
		if (strcmp(o->domain, d) == 0)
			return o->line;
	}
	set->slot[h] = idx + 1;
	return 0;
}

static void entries_push(struct list_entries *l, struct list_entry *e)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = *e;
}

void list_entry_free(struct list_entry *e)
{
	free(e->domain);
	free(e->organisation);
	free(e->dpa_expires);
	free(e->source);
	memset(e, 0, sizeof(*e));
}

void list_entries_free(struct list_entries *l)
{
	for (size_t i = 0; i < l->n; i++)
		list_entry_free(&l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

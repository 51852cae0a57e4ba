/*
 * personal.c - the personal flag from PersonalHeader copies (pure).
 *
 * Exports flag_value_parse, personal_flag_init/add/result and
 * header_name_eq (see personal.h). The milter feeds every copy of the
 * header from a trusted submitter into a struct personal_flag; the result
 * fails safe: anything but an unanimous, recognised "no" (or no header at
 * all) makes the message personal, and the reason says why.
 */
#include <stdlib.h>
#include <string.h>

#include "personal.h"
#include "util.h"

static int is_fws(int c);
static void trim_span(const char *s, const char **start, size_t *len);
static void keep_first_other(struct personal_flag *f, const char *value);
static void add_count(struct strbuf *sb, int n, const char *what, bool *first);

static const char *const flag_yes[] = { "yes", "true", "1", "ja" };
static const char *const flag_no[] = { "no", "false", "0", "nej" };

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* is_fws - folding white space as it reaches us: SP, HTAB, CR, LF. */
static int is_fws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void trim_span(const char *s, const char **start, size_t *len)
{
	size_t n;

	while (is_fws((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && is_fws((unsigned char)s[n - 1]))
		n--;
	*start = s;
	*len = n;
}

static bool word_in(const char *s, size_t len, const char *const *words, size_t n_words)
{
	for (size_t i = 0; i < n_words; i++)
		if (strlen(words[i]) == len && ascii_strncasecmp(s, words[i], len) == 0)
			return true;
	return false;
}

enum flag_value flag_value_parse(const char *value)
{
	const char *s;
	size_t len;

	if (value == NULL)
		return FLAG_OTHER;
	trim_span(value, &s, &len);
	if (len == 0)
		return FLAG_OTHER;
	if (word_in(s, len, flag_yes, NELEM(flag_yes)))
		return FLAG_YES;
	if (word_in(s, len, flag_no, NELEM(flag_no)))
		return FLAG_NO;
	return FLAG_OTHER;
}

void personal_flag_init(struct personal_flag *f)
{
	memset(f, 0, sizeof(*f));
}

/*
 * keep_first_other - remember the first unrecognised value for the log.
 * It came from the message, so only printable ASCII survives: folding
 * runs become one space, anything else (controls, 8-bit, and the quote
 * and backslash that would confuse the quoted reason) becomes '?'. Values
 * too long for the buffer end in "...".
 */
static void keep_first_other(struct personal_flag *f, const char *value)
{
	const size_t max = sizeof(f->first_other) - 1;
	const char *s;
	size_t len, o = 0, i;

	trim_span(value ? value : "", &s, &len);
	for (i = 0; i < len && o < max; i++) {
		unsigned char c = (unsigned char)s[i];

		if (is_fws(c)) {
			while (i + 1 < len && is_fws((unsigned char)s[i + 1]))
				i++;
			c = ' ';
		} else if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
			c = '?';
		}
		f->first_other[o++] = (char)c;
	}
	if (i < len) {
		memcpy(f->first_other + max - 3, "...", 3);
		o = max;
	}
	f->first_other[o] = '\0';
}

void personal_flag_add(struct personal_flag *f, const char *value)
{
	switch (flag_value_parse(value)) {
	case FLAG_YES:
		f->n_yes++;
		break;
	case FLAG_NO:
		f->n_no++;
		break;
	default:
		if (f->n_other++ == 0)
			keep_first_other(f, value);
		break;
	}
}

static void add_count(struct strbuf *sb, int n, const char *what, bool *first)
{
	if (n == 0)
		return;
	sb_printf(sb, "%s%d %s", *first ? "" : ", ", n, what);
	*first = false;
}

/*
 * personal_flag_result - see personal.h. The reasons are fixed phrases so
 * that reports can group by them; header_name is not repeated in them
 * because the audit record already names the source (personal_source).
 */
bool personal_flag_result(const struct personal_flag *f, const char *header_name, char **why)
{
	struct strbuf sb;
	int kinds = (f->n_yes > 0) + (f->n_no > 0) + (f->n_other > 0);
	bool first = true;

	if (kinds == 0) {
		*why = xstrdup("no header");
		return false;
	}
	if (kinds == 1 && f->n_yes > 0) {
		*why = xstrdup("header yes");
		return true;
	}
	if (kinds == 1 && f->n_no > 0) {
		*why = xstrdup("header no");
		return false;
	}
	sb_init(&sb);
	if (kinds == 1) {
		sb_printf(&sb, "header unrecognised value \"%s\"", f->first_other);
		if (f->n_other > 1)
			sb_printf(&sb, " (%d copies)", f->n_other);
	} else {
		sb_adds(&sb, "headers disagree (");
		add_count(&sb, f->n_yes, "yes", &first);
		add_count(&sb, f->n_no, "no", &first);
		if (f->n_other > 0)
			sb_printf(&sb, "%s%d unrecognised \"%s\"", first ? "" : ", ", f->n_other,
				  f->first_other);
		sb_addc(&sb, ')');
	}
	*why = sb_steal(&sb);
	sb_free(&sb);
	return true;
}

bool header_name_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return false;
	return ascii_strcasecmp(a, b) == 0;
}

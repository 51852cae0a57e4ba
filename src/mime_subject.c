/*
 * mime_subject.c - find and take out PersonalSubjectTag tags in a Subject.
 * See mime_subject.h.
 *
 * Exports mime_subject_strip. The text is compared as UCS-4 so that a
 * match is found at character boundaries only and case is folded per
 * character; the positions found are positions in what the reader sees.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "mime.h"
#include "smime.h"
#include "mime_subject.h"
#include "util.h"

static char *unfold(const char *raw);
static char *decode(const char *raw);
static size_t match_at(const gunichar *u, size_t n, size_t i, gunichar *const *tags,
		       const size_t *lens, size_t n_tags);
static char *tidy(const gunichar *u, const bool *gone, size_t n);

/* unfold - RFC 5322 unfolding: the CR and LF of a folded field go, the white space stays. */
static char *unfold(const char *raw)
{
	char *s = xstrdup(raw), *o = s;

	for (const char *p = raw; *p != '\0'; p++)
		if (*p != '\r' && *p != '\n')
			*o++ = *p;
	*o = '\0';
	return s;
}

/* decode - the unfolded field as a reader sees it, in valid UTF-8. */
static char *decode(const char *raw)
{
	char *unfolded = unfold(raw), *dec, *out;

	mime_init();
	dec = g_mime_utils_header_decode_text(NULL, unfolded);
	free(unfolded);
	if (dec == NULL)
		return xstrdup("");
	if (g_utf8_validate(dec, -1, NULL)) {
		out = xstrdup(dec);
	} else {
		gchar *valid = g_utf8_make_valid(dec, -1);

		out = xstrdup(valid);
		g_free(valid);
	}
	g_free(dec);
	return out;
}

/* match_at - the length of the longest tag at u[i] (case folded), 0 if none. */
static size_t match_at(const gunichar *u, size_t n, size_t i, gunichar *const *tags,
		       const size_t *lens, size_t n_tags)
{
	size_t best = 0, j;

	for (size_t t = 0; t < n_tags; t++) {
		if (lens[t] == 0 || lens[t] <= best || lens[t] > n - i)
			continue;
		for (j = 0; j < lens[t]; j++)
			if (g_unichar_tolower(u[i + j]) != tags[t][j])
				break;
		if (j == lens[t])
			best = lens[t];
	}
	return best;
}

/* tidy - what is not gone, white space runs as one space, none at either end. */
static char *tidy(const gunichar *u, const bool *gone, size_t n)
{
	gunichar *o = xcalloc(n + 1, sizeof(*o));
	size_t len = 0;
	bool space = false;
	gchar *s;
	char *out;

	for (size_t i = 0; i < n; i++) {
		if (gone[i])
			continue;
		if (g_unichar_isspace(u[i])) {
			space = len > 0;
			continue;
		}
		if (space)
			o[len++] = ' ';
		space = false;
		o[len++] = u[i];
	}
	s = g_ucs4_to_utf8(o, (glong)len, NULL, NULL, NULL);
	out = xstrdup(s != NULL ? s : "");
	g_free(s);
	free(o);
	return out;
}

int mime_subject_strip(const char *raw, char *const *tags, size_t n_tags, char **text,
		      char **value)
{
	gunichar **lower = xcalloc(n_tags + 1, sizeof(*lower));
	size_t *lens = xcalloc(n_tags + 1, sizeof(*lens)), m;
	char *dec = NULL;
	gunichar *u = NULL;
	glong n = 0;
	bool *gone = NULL;
	int found = 0;

	*text = *value = NULL;
	if (raw == NULL || n_tags == 0)
		goto out;
	for (size_t t = 0; t < n_tags; t++) {
		glong len = 0;

		lower[t] = g_utf8_to_ucs4(tags[t], -1, NULL, &len, NULL);
		if (lower[t] == NULL)
			continue;	/* the configuration accepts UTF-8 only */
		for (glong j = 0; j < len; j++)
			lower[t][j] = g_unichar_tolower(lower[t][j]);
		lens[t] = (size_t)len;
	}
	dec = decode(raw);
	if ((u = g_utf8_to_ucs4_fast(dec, -1, &n)) == NULL || n == 0)
		goto out;
	gone = xcalloc((size_t)n, sizeof(*gone));
	for (size_t i = 0; i < (size_t)n; i++) {
		if ((m = match_at(u, (size_t)n, i, lower, lens, n_tags)) == 0)
			continue;
		found++;
		memset(gone + i, 1, m * sizeof(*gone));
		i += m - 1;
	}
	if (found > 0) {
		struct strbuf sb;

		*text = tidy(u, gone, (size_t)n);
		sb_init(&sb);
		smime_encode_text(&sb, *text, "\n");
		*value = sb_steal(&sb);
		sb_free(&sb);
	}
out:
	for (size_t t = 0; t < n_tags; t++)
		g_free(lower[t]);
	free(lower);
	free(lens);
	free(gone);
	g_free(u);
	free(dec);
	return found;
}

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
#include "mime_subject.h"
#include "smime.h"
#include "util.h"

/*
 * Tags that only show once others are out are taken out too, nested this
 * deep; deeper nesting, which no mail client writes, keeps what is left
 * (the message is personal all the same). Each pass costs one look at
 * every character.
 */
#define MIME_SUBJECT_PASSES 8

static char *unfold(const char *raw);
static char *decode(const char *raw);
static char *nfc(const char *s);
static size_t match_at(const gunichar *u, size_t n, size_t i, gunichar *const *tags,
		       const size_t *lens, size_t n_tags);
static int strip_once(gunichar *u, size_t *n, gunichar *const *tags, const size_t *lens,
		      size_t n_tags);
static size_t squeeze(gunichar *u, size_t n);
static char *tidy(const gunichar *u, size_t n);

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

/*
 * decode - the unfolded field as a reader sees it, in valid UTF-8,
 * composed (NFC): "å" is one character whether the client wrote it as
 * one or as "a" and a combining ring.
 */
static char *decode(const char *raw)
{
	char *unfolded = unfold(raw), *dec, *out;

	mime_init();
	dec = g_mime_utils_header_decode_text(NULL, unfolded);
	free(unfolded);
	if (dec == NULL)
		return xstrdup("");
	if (!g_utf8_validate(dec, -1, NULL)) {
		gchar *valid = g_utf8_make_valid(dec, -1);

		g_free(dec);
		dec = valid;
	}
	out = nfc(dec);
	g_free(dec);
	return out;
}

/* nfc - valid UTF-8 s composed (NFC), as a new string. */
static char *nfc(const char *s)
{
	gchar *n = g_utf8_normalize(s, -1, G_NORMALIZE_NFC);
	char *out = xstrdup(n != NULL ? n : s);

	g_free(n);
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

/*
 * strip_once - every tag taken out of u[0..*n), the longest at each place,
 * the rest moved up in place (a match only reads what is not yet moved
 * over); how many there were.
 */
static int strip_once(gunichar *u, size_t *n, gunichar *const *tags, const size_t *lens,
		      size_t n_tags)
{
	size_t o = 0, i = 0, m;
	int found = 0;

	while (i < *n) {
		if ((m = match_at(u, *n, i, tags, lens, n_tags)) > 0) {
			found++;
			i += m;
		} else {
			u[o++] = u[i++];
		}
	}
	*n = o;
	return found;
}

/*
 * squeeze - every run of white space in u[0..n) (tabs, a fold, several
 * spaces, a no-break space) made one space, in place; the new length. A
 * tag with a space in it ("[så sikker]") matches however the space was
 * written.
 */
static size_t squeeze(gunichar *u, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (!g_unichar_isspace(u[i]))
			u[o++] = u[i];
		else if (o == 0 || u[o - 1] != ' ')
			u[o++] = ' ';
	}
	return o;
}

/* tidy - u[0..n) as UTF-8, white space runs as one space, none at either end. */
static char *tidy(const gunichar *u, size_t n)
{
	gunichar *o = xcalloc(n + 1, sizeof(*o));
	size_t len = 0;
	bool space = false;
	gchar *s;
	char *out;

	for (size_t i = 0; i < n; i++) {
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
	size_t *lens = xcalloc(n_tags + 1, sizeof(*lens)), len;
	char *dec = NULL;
	gunichar *u = NULL;
	glong n = 0;
	int found = 0, k;

	*text = *value = NULL;
	if (raw == NULL || n_tags == 0)
		goto out;
	for (size_t t = 0; t < n_tags; t++) {
		glong chars = 0;
		char *tag;

		if (!g_utf8_validate(tags[t], -1, NULL))
			continue;	/* the configuration accepts UTF-8 only */
		tag = nfc(tags[t]);
		lower[t] = g_utf8_to_ucs4(tag, -1, NULL, &chars, NULL);
		free(tag);
		if (lower[t] == NULL)
			continue;
		for (glong j = 0; j < chars; j++)
			lower[t][j] = g_unichar_tolower(lower[t][j]);
		lens[t] = squeeze(lower[t], (size_t)chars);
	}
	dec = decode(raw);
	if ((u = g_utf8_to_ucs4_fast(dec, -1, &n)) == NULL || n == 0)
		goto out;
	/* "[sik[sikker]ker]": a tag that only shows once another is out goes too */
	len = squeeze(u, (size_t)n);
	for (int pass = 0; pass < MIME_SUBJECT_PASSES; pass++) {
		if ((k = strip_once(u, &len, lower, lens, n_tags)) == 0)
			break;
		found += k;
		len = squeeze(u, len);	/* "[så [sikker] sikker]" */
	}
	if (found > 0) {
		struct strbuf sb;

		*text = tidy(u, len);
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
	g_free(u);
	free(dec);
	return found;
}

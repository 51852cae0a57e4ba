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
static char *decode_lenient(const char *raw);
static const char *encoded_word(const char *p, struct strbuf *charset, struct strbuf *bytes);
static void flush_word(struct strbuf *out, struct strbuf *charset, struct strbuf *bytes);
static gunichar *to_text(const char *dec, size_t *len);
static int strip_all(gunichar *u, size_t *len, gunichar *const *tags, const size_t *lens,
		     size_t n_tags);
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

/*
 * decode_lenient - the field decoded as the more forgiving mail clients
 * show it: an encoded-word's base64 without its padding, an encoded-word
 * whose closing "?=" is missing (it ends at white space or the end), one
 * word decoded alone when GMime would not have it. Adjacent encoded-words
 * (white space between them only) are joined before their charset is
 * converted, so a character split over two words survives; the charset
 * is GMime's to convert. Valid UTF-8, NFC.
 */
static char *decode_lenient(const char *raw)
{
	char *unfolded = unfold(raw), *out;
	struct strbuf text, charset, bytes, cs, b;
	const char *p = unfolded, *next, *gap = NULL;
	bool pending = false;	/* bytes of encoded-words wait in bytes, in charset */

	sb_init(&text);
	sb_init(&charset);
	sb_init(&bytes);
	sb_init(&cs);
	sb_init(&b);
	while (*p != '\0') {
		sb_reset(&cs);
		sb_reset(&b);
		if (p[0] == '=' && p[1] == '?' && (next = encoded_word(p, &cs, &b)) != NULL) {
			/* another charset, or text between: what is pending goes first */
			if (pending && strcasecmp(cs.s, charset.s) != 0) {
				flush_word(&text, &charset, &bytes);
				pending = false;
			}
			gap = NULL;	/* white space between two encoded-words goes */
			if (!pending) {
				sb_reset(&charset);
				sb_adds(&charset, cs.s);
				pending = true;
			}
			sb_addmem(&bytes, b.s, b.len);
			p = next;
			continue;
		}
		/* white space after an encoded-word waits: it goes if another follows */
		if (pending && (*p == ' ' || *p == '\t')) {
			if (gap == NULL)
				gap = p;
			p++;
			continue;
		}
		if (pending)
			flush_word(&text, &charset, &bytes);
		pending = false;
		if (gap != NULL)
			sb_addmem(&text, gap, (size_t)(p - gap));
		gap = NULL;
		sb_addc(&text, *p++);
	}
	if (pending)
		flush_word(&text, &charset, &bytes);
	if (gap != NULL)
		sb_adds(&text, gap);
	free(unfolded);
	sb_free(&charset);
	sb_free(&bytes);
	sb_free(&cs);
	sb_free(&b);
	if (!g_utf8_validate(text.s, (gssize)text.len, NULL)) {
		gchar *valid = g_utf8_make_valid(text.s, (gssize)text.len);

		out = nfc(valid);
		g_free(valid);
	} else {
		out = nfc(text.s);
	}
	sb_free(&text);
	return out;
}

/*
 * encoded_word - "=?charset?B|Q?text?=" at p, leniently: its charset
 * (without a "*language") and its decoded bytes, and where it ends; NULL
 * when p does not start one.
 */
static const char *encoded_word(const char *p, struct strbuf *charset, struct strbuf *bytes)
{
	const char *cs = p + 2, *q, *t, *end;
	size_t cs_len = strcspn(cs, "?* \t");
	char enc;

	q = cs + cs_len;
	if (cs_len == 0 || (*q == '*' && (q = strchr(q, '?')) == NULL) || *q != '?')
		return NULL;
	enc = q[1];
	if ((enc != 'B' && enc != 'b' && enc != 'Q' && enc != 'q') || q[2] != '?')
		return NULL;
	t = q + 3;
	for (end = t; *end != '\0' && *end != ' ' && *end != '\t'; end++)
		if (end[0] == '?' && end[1] == '=')
			break;
	sb_addmem(charset, cs, cs_len);
	if (enc == 'Q' || enc == 'q') {
		for (const char *c = t; c < end; c++) {
			int hi, lo;

			if (*c == '_') {
				sb_addc(bytes, ' ');
			} else if (*c == '=' && c + 2 < end && (hi = hex_digit(c[1])) >= 0 &&
				   (lo = hex_digit(c[2])) >= 0) {
				sb_addc(bytes, (char)(hi << 4 | lo));
				c += 2;
			} else {
				sb_addc(bytes, *c);
			}
		}
	} else {
		struct strbuf b64;
		guchar *dec;
		gsize n = 0;

		sb_init(&b64);
		for (const char *c = t; c < end; c++)
			if (g_ascii_isalnum(*c) || *c == '+' || *c == '/')
				sb_addc(&b64, *c);
		if (b64.len % 4 == 1)
			b64.s[--b64.len] = '\0';	/* a lone sextet holds no byte */
		while (b64.len % 4 != 0)
			sb_addc(&b64, '=');
		dec = g_base64_decode(b64.s, &n);
		sb_addmem(bytes, (const char *)dec, n);
		g_free(dec);
		sb_free(&b64);
	}
	return *end == '?' ? end + 2 : end;
}

/*
 * flush_word - the pending bytes of encoded-words, in their charset, onto
 * out as UTF-8: made one well-formed encoded-word again and decoded by
 * GMime, so that a charset is found under GMime's names and with its
 * fall-backs ("ks_c_5601-1987", "iso-8859-8-i", "unknown-8bit" read as
 * GMime reads them). An encoded NUL would end the text there and hide
 * what follows: the bytes on either side are decoded apart, with a space
 * between.
 */
static void flush_word(struct strbuf *out, struct strbuf *charset, struct strbuf *bytes)
{
	size_t i = 0;

	while (i < bytes->len) {
		size_t n = strnlen(bytes->s + i, bytes->len - i);
		gchar *b64 = g_base64_encode((const guchar *)bytes->s + i, n);
		char *word = xasprintf("=?%s?B?%s?=", charset->s, b64);
		char *dec = g_mime_utils_header_decode_text(NULL, word);

		sb_adds(out, dec != NULL ? dec : "");
		g_free(dec);
		free(word);
		g_free(b64);
		i += n;
		if (i < bytes->len) {
			sb_addc(out, ' ');
			i++;	/* the NUL */
		}
	}
	sb_reset(bytes);
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

/* to_text - valid UTF-8 dec as UCS-4 with white space runs squeezed (*len); NULL when empty. */
static gunichar *to_text(const char *dec, size_t *len)
{
	glong n = 0;
	gunichar *u = g_utf8_to_ucs4_fast(dec, -1, &n);

	*len = 0;
	if (u == NULL || n == 0) {
		g_free(u);
		return NULL;
	}
	*len = squeeze(u, (size_t)n);
	return u;
}

/* strip_all - every tag out of u[0..*len), nested ones too (MIME_SUBJECT_PASSES); how many. */
static int strip_all(gunichar *u, size_t *len, gunichar *const *tags, const size_t *lens,
		     size_t n_tags)
{
	int found = 0, k;

	/* "[sik[sikker]ker]": a tag that only shows once another is out goes too */
	for (int pass = 0; pass < MIME_SUBJECT_PASSES && u != NULL; pass++) {
		if ((k = strip_once(u, len, tags, lens, n_tags)) == 0)
			break;
		found += k;
		*len = squeeze(u, *len);	/* "[så [sikker] sikker]" */
	}
	return found;
}

int mime_subject_strip(const char *raw, char *const *tags, size_t n_tags, char **text,
		       char **value)
{
	gunichar **lower = xcalloc(n_tags + 1, sizeof(*lower));
	size_t *lens = xcalloc(n_tags + 1, sizeof(*lens)), len = 0, len2 = 0;
	char *dec = NULL, *dec2 = NULL;
	gunichar *u = NULL, *u2 = NULL;
	int found = 0, found2;

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
	dec2 = decode_lenient(raw);
	u = to_text(dec, &len);
	u2 = to_text(dec2, &len2);
	if (len == len2 && (len == 0 || memcmp(u, u2, len * sizeof(*u)) == 0)) {
		/* both readings agree: the tags come out, the rest is written back */
		if ((found = strip_all(u, &len, lower, lens, n_tags)) > 0) {
			struct strbuf sb;

			*text = tidy(u, len);
			sb_init(&sb);
			smime_encode_text(&sb, *text, "\n");
			*value = sb_steal(&sb);
			sb_free(&sb);
		}
		goto out;
	}
	/*
	 * GMime and a forgiving client read the field differently (a broken
	 * encoded-word): a tag in either reading makes the message personal,
	 * but the field is kept as it is (*value NULL), since writing back
	 * either reading could lose what the reader of the other sees.
	 */
	found = strip_all(u, &len, lower, lens, n_tags);
	found2 = strip_all(u2, &len2, lower, lens, n_tags);
	if (found2 > 0)
		*text = tidy(u2, len2);
	else if (found > 0)
		*text = tidy(u, len);
	if (found2 > found)
		found = found2;
out:
	for (size_t t = 0; t < n_tags; t++)
		g_free(lower[t]);
	free(lower);
	free(lens);
	g_free(u);
	g_free(u2);
	free(dec);
	free(dec2);
	return found;
}

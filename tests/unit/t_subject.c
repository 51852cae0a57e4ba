/*
 * t_subject.c - PersonalSubjectTag: finding the tags in a Subject and
 * taking them out (mime_subject_strip), and the value written back.
 *
 * Each case gives the field as received and what a reader must see once
 * the tags are gone; the value written back is checked by decoding it
 * again with GMime, and for RFC 2047's limits (encoded-words of at most
 * 75 characters, lines of at most 78).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "mime.h"
#include "mime_subject.h"
#include "tap.h"

static void check_value(const char *label, const char *value, const char *text);
static bool is_plain(const char *s);

/* the last two: "[så sikker]" composed, "[fortrolig-é]" decomposed (e, combining acute) */
static char *tags[] = { "[sikker]", "[personf\xc3\xb8lsom]", "#pf", "#pfs", "[s\xc3\xa5 sikker]",
			"[fortrolig-e\xcc\x81]" };

#define N_TAGS (sizeof(tags) / sizeof(tags[0]))

static const struct {
	const char *label;
	const char *raw;
	int found;
	const char *text;	/* what is left; NULL when nothing was found */
} cases[] = {
	{ "unencoded, at the start", "[sikker] Referat", 1, "Referat" },
	{ "unencoded, at the end", "Referat [sikker]", 1, "Referat" },
	{ "unencoded, in the middle", "Referat [sikker] fra mødet", 1, "Referat fra mødet" },
	{ "upper case", "[SIKKER] Referat", 1, "Referat" },
	{ "mixed case", "Referat [SiKkEr]", 1, "Referat" },
	{ "non-ASCII tag, upper case", "[PERSONF\xc3\x98LSOM] sag 12", 1, "sag 12" },
	{ "non-ASCII tag, mixed case", "Sag [PersonF\xc3\xb8lsom]", 1, "Sag" },
	{ "inside a word", "Referat[sikker]2024", 1, "Referat2024" },
	{ "inside a word, unbracketed tag", "x ab#PFcd y", 1, "x abcd y" },
	{ "the longer of two overlapping tags", "x #pfs y", 1, "x y" },
	{ "several tags", "[sikker] a [personf\xc3\xb8lsom] b [SIKKER]", 3, "a b" },
	{ "the same tag twice, adjacent", "[sikker][sikker] a", 2, "a" },
	{ "a tag that shows once another is out", "[sik[sikker]ker] a", 2, "a" },
	{ "nested three deep", "[sik[sik[SIKKER]ker]ker] a [si[sikker]kker]", 5, "a" },
	{ "only the tag", "[sikker]", 1, "" },
	{ "only tags and white space", "  [sikker]\t [personf\xc3\xb8lsom]  ", 2, "" },
	{ "white space tidied", "a  [sikker]  b", 1, "a b" },
	{ "folded, tag on the continuation line",
	  "Referat fra m\xc3\xb8" "det om\r\n\t[sikker] budget", 1,
	  "Referat fra mødet om budget" },
	{ "folded, LF only", "[sikker]\n Referat", 1, "Referat" },
	{ "Q-encoded UTF-8", "=?UTF-8?Q?=5Bpersonf=C3=B8lsom=5D_Ans=C3=B8gning?=", 1,
	  "Ansøgning" },
	{ "B-encoded UTF-8", "=?utf-8?B?W1NJS0tFUl0gTMO4bg==?=", 1, "Løn" },
	{ "Q-encoded ISO-8859-1, non-ASCII tag in upper case",
	  "=?ISO-8859-1?Q?=5BPERSONF=D8LSOM=5D_L=F8n?=", 1, "Løn" },
	{ "B-encoded ISO-8859-1", "=?iso-8859-1?B?QW5z+GduaW5nIFtzaWtrZXJd?=", 1, "Ansøgning" },
	{ "a tag split over two encoded-words", "=?UTF-8?Q?=5Bsik?= =?UTF-8?Q?ker=5D_x?=", 1, "x" },
	{ "encoded and plain words mixed",
	  "Re: =?UTF-8?Q?m=C3=B8de?= [sikker] =?UTF-8?B?W1NJS0tFUl0=?= i dag", 2,
	  "Re: møde i dag" },
	{ "what is left reads like an encoded-word", "[sikker] a =?b?= c", 1, "a =?b?= c" },
	{ "a long non-ASCII Subject",
	  "[sikker] Ans\xc3\xb8gning om orlov for medarbejder p\xc3\xa5 afdelingen for "
	  "sygepleje og ern\xc3\xa6ring, med l\xc3\xa6gejournaler og \xc3\xb8vrige bilag",
	  1, "Ansøgning om orlov for medarbejder på afdelingen for sygepleje og ernæring, med "
	     "lægejournaler og øvrige bilag" },
	{ "decomposed in the Subject, composed in the tag", "[sa\xcc\x8a SIKKER] L\xc3\xb8n", 1,
	  "Løn" },
	{ "composed in the Subject, decomposed in the tag", "Sag [FORTROLIG-\xc3\x89]", 1, "Sag" },
	{ "a tag's space written as a tab and spaces", "[s\xc3\xa5\t  sikker] Budget", 1, "Budget" },
	{ "a tag's space written as a fold", "Budget [s\xc3\xa5\r\n\t sikker]", 1, "Budget" },
	{ "a tag with a space around another tag", "[s\xc3\xa5 [sikker] sikker] a", 2, "a" },
	/* "[sikker] a\r\nBcc: evil@x" encoded: what is left must not start a new field */
	/* charsets GMime knows under other names, or reads by its fall-back */
	{ "Outlook's Korean charset name", "=?ks_c_5601-1987?B?vsiz58fPvLy/5A==?= [sikker]", 1,
	  "\xec\x95\x88\xeb\x85\x95\xed\x95\x98\xec\x84\xb8\xec\x9a\x94" },
	{ "Hebrew, logical order", "=?iso-8859-8-i?q?=E0?= [sikker]", 1, "\xd7\x90" },
	{ "an unknown 8-bit charset", "=?unknown-8bit?q?F=F8lsom?= [sikker]", 1, "F\xc3\xb8lsom" },
	{ "an encoded CR LF does not start a field", "=?UTF-8?B?W3Npa2tlcl0gYQ0KQmNjOiBldmlsQHg=?=",
	  1, "a Bcc: evil@x" },
	{ "no tag", "Referat fra mødet", 0, NULL },
	{ "no tag: a near miss", "[sikke r] and [sikker", 0, NULL },
	{ "no tag: the word without its brackets", "sikker mail", 0, NULL },
	{ "no tag: encoded", "=?UTF-8?Q?Ans=C3=B8gning?=", 0, NULL },
	{ "empty Subject", "", 0, NULL },
};

/*
 * Broken encoded-words that forgiving clients show decoded and GMime does
 * not (or only in part): a tag in either reading is found, and the field
 * is kept as it is (no value to write back), since writing back either
 * reading could lose what a reader of the other sees.
 */
static const struct {
	const char *label;
	const char *raw;
	const char *text;	/* what a reader is told is left (for the notice) */
} two_ways[] = {
	{ "base64 without its padding", "=?utf-8?b?W3Npa2tlcl0?= a", "a" },
	{ "no closing ?=", "=?UTF-8?Q?=5Bsikker=5D", "" },
	{ "unpadded base64 GMime decodes only in part", "=?UTF-8?B?W3Npa2tlcl0gTMO4bg?=", "Løn" },
	{ "an encoded NUL before the tag", "=?UTF-8?Q?Ans=00=C3=B8gning?= [sikker]", "Ans øgning" },
	{ "a broken word, the tag in plain text", "=?UTF-8?Q?L=C3=B8n [SIKKER]", "Løn" },
	{ "a character split over two unpadded words", "=?UTF-8?B?W3Npa2tlcl0gTMO?= =?UTF-8?B?uG4?=",
	  "Løn" },
};

/* is_plain - printable ASCII only. */
static bool is_plain(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

/*
 * check_value - the header value written back: as it is when it is plain
 * ASCII that cannot be read as an encoded-word; otherwise encoded-words
 * within RFC 2047's limits, folded, that decode to the same text.
 */
static void check_value(const char *label, const char *value, const char *text)
{
	char *copy, *line, *save = NULL, *unfolded, *dec;
	bool words_ok = true, lines_ok = true;
	size_t o = 0;

	if (is_plain(text) && strstr(text, "=?") == NULL) {
		is_str(value, text, "%s: plain ASCII is written as it is", label);
		return;
	}
	ok(strncmp(value, "=?UTF-8?B?", 10) == 0, "%s: written as encoded-words", label);
	copy = strdup(value);
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* "Subject: " before the first line */
		if (strlen(line) + (line == copy ? 9 : 0) > 78)
			lines_ok = false;
		for (char *w = strstr(line, "=?"); w != NULL; w = strstr(w + 2, "=?")) {
			char *end = strstr(w + 2, "?=");

			while (end != NULL && end[2] != '\0' && end[2] != ' ')
				end = strstr(end + 1, "?=");
			if (end == NULL || end + 2 - w > 75)
				words_ok = false;
			if (end == NULL)
				break;
			w = end;
		}
	}
	free(copy);
	ok(words_ok, "%s: every encoded-word at most 75 characters", label);
	ok(lines_ok, "%s: every line at most 78 columns", label);
	ok(strchr(value, '\n') == NULL || strstr(value, "\n ") != NULL,
	   "%s: continuation lines start with a space", label);
	unfolded = strdup(value);
	for (const char *p = value; *p != '\0'; p++)
		if (*p != '\n')
			unfolded[o++] = *p;
	unfolded[o] = '\0';
	dec = g_mime_utils_header_decode_text(NULL, unfolded);
	is_str(dec, text, "%s: the value decodes to what is left", label);
	g_free(dec);
	free(unfolded);
}

int main(void)
{
	char *text, *value;
	int n;

	mime_init();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = mime_subject_strip(cases[i].raw, tags, N_TAGS, &text, &value);
		is_int(n, cases[i].found, "%s: %d tag(s) found", cases[i].label, cases[i].found);
		is_str(text, cases[i].text, "%s: what is left", cases[i].label);
		if (cases[i].text == NULL)
			ok(value == NULL, "%s: nothing to write back", cases[i].label);
		else if (ok(value != NULL, "%s: the field is written back", cases[i].label))
			check_value(cases[i].label, value, cases[i].text);
		else
			ok(0, "%s: a value to write back", cases[i].label);
		free(text);
		free(value);
	}

	/* no tags configured: nothing is looked for */
	for (size_t i = 0; i < sizeof(two_ways) / sizeof(two_ways[0]); i++) {
		n = mime_subject_strip(two_ways[i].raw, tags, N_TAGS, &text, &value);
		is_int(n, 1, "%s: the tag found", two_ways[i].label);
		is_str(text, two_ways[i].text, "%s: what a reader is told is left", two_ways[i].label);
		ok(value == NULL, "%s: the field stays as it is", two_ways[i].label);
		free(text);
		free(value);
	}
	n = mime_subject_strip("[sikker] Referat", tags, 0, &text, &value);
	ok(n == 0 && text == NULL && value == NULL, "no tags configured: nothing found");
	n = mime_subject_strip(NULL, tags, N_TAGS, &text, &value);
	ok(n == 0 && text == NULL && value == NULL, "no Subject: nothing found");
	return done_testing();
}

/*
 * fuzz_subject.c - the subject tag matcher (mime_subject.c): a Subject
 * field as a trusted submitter may write it, folded, encoded or not.
 *
 * Input: the field's value. The tags are fixed: two bracketed ones (one
 * with a non-ASCII letter), two that overlap, and one with a space in
 * it. Invariants: nothing found means nothing to write back; otherwise
 * what is left is valid UTF-8 with no white space at either end and no
 * run of it, the value written back is ASCII, empty only when the text
 * is, and a reader finds no tag in it any more (looking again finds none,
 * unless tags were nested deeper than the matcher goes).
 */
#include <stdbool.h>

#include <glib.h>

#include "fuzz.h"
#include "mime.h"
#include "mime_subject.h"

static char *tags[] = { "[sikker]", "[personf\xc3\xb8lsom]", "#pf", "#pfs", "[s\xc3\xa5 sikker]" };

#define N_TAGS (sizeof(tags) / sizeof(tags[0]))

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	mime_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_string(data, size), *text = NULL, *value = NULL, *t2, *v2;
	size_t len;
	int n;

	n = mime_subject_strip(s, tags, N_TAGS, &text, &value);
	FUZZ_ASSERT(n >= 0);
	if (n == 0) {
		FUZZ_ASSERT(text == NULL && value == NULL);
		free(s);
		return 0;
	}
	FUZZ_ASSERT(text != NULL);
	FUZZ_ASSERT(g_utf8_validate(text, -1, NULL));
	len = strlen(text);
	FUZZ_ASSERT(len == 0 || (text[0] != ' ' && text[len - 1] != ' '));
	FUZZ_ASSERT(strstr(text, "  ") == NULL);
	if (value == NULL) {
		/* read two ways (a broken encoded-word): the field stays as it is */
		free(text);
		free(s);
		return 0;
	}
	FUZZ_ASSERT((len == 0) == (value[0] == '\0'));
	for (const char *p = value; *p != '\0'; p++)
		FUZZ_ASSERT(*p == '\n' || (*p >= 0x20 && *p < 0x7f));
	/* fewer than the passes the matcher makes: nothing nested is left */
	if (n < 8)
		FUZZ_ASSERT(mime_subject_strip(value, tags, N_TAGS, &t2, &v2) == 0);
	free(text);
	free(value);
	free(s);
	return 0;
}

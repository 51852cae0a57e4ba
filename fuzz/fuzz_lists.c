/*
 * fuzz_lists.c - the list importer (lists.c): the text of a tunnel,
 * partner or freemail list file, as sikkermail-ctl import reads it, parsed
 * as each of the three kinds.
 *
 * Invariants: a file with no error gives entries whose domains are in
 * normal form and distinct; every entry names its source and a line
 * inside the file; a partner's agreement date is YYYY-MM-DD.
 */
#include <stdbool.h>

#include "address.h"
#include "fuzz.h"
#include "lists.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void check_entries(enum list_kind kind, const struct list_entries *l, size_t lines)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct list_entry *e = &l->v[i];
		const char *why;
		char *d;

		FUZZ_ASSERT(e->domain != NULL && strcmp(e->source, "fuzz.txt") == 0);
		FUZZ_ASSERT(e->line >= 1 && (size_t)e->line <= lines);
		d = domain_entry_normalise(e->domain, &why);
		FUZZ_ASSERT(d != NULL && strcmp(d, e->domain) == 0);
		free(d);
		if (kind == LIST_PARTNERS && e->dpa_expires != NULL) {
			FUZZ_ASSERT(strlen(e->dpa_expires) == 10);
			(void)partner_agreement_valid(e->dpa_expires, "2026-12-01");
		} else {
			FUZZ_ASSERT(e->dpa_expires == NULL);
		}
	}
	/* distinct domains: sorted, no two neighbours equal (a big list stays fast) */
	if (l->n > 1) {
		char **d = xmalloc(l->n * sizeof(*d));

		for (size_t i = 0; i < l->n; i++)
			d[i] = l->v[i].domain;
		qsort(d, l->n, sizeof(*d), cmp_str);
		for (size_t i = 1; i < l->n; i++)
			FUZZ_ASSERT(strcmp(d[i - 1], d[i]) != 0);
		free(d);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t lines = 1;

	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	for (int kind = 0; kind < LIST_COUNT; kind++) {
		struct list_entries l = { 0 };
		struct strlist errors = { 0 };
		int rc;

		rc = lists_parse(kind, "fuzz.txt", (const char *)data, size, &l, &errors);
		FUZZ_ASSERT((rc == 0) == (errors.n == 0));
		if (rc == 0)
			check_entries(kind, &l, lines);
		list_entries_free(&l);
		strlist_free(&errors);
	}
	return 0;
}

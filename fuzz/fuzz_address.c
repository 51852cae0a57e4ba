/*
 * fuzz_address.c - the envelope address normaliser (address.c) on what an
 * MTA might hand over as MAIL FROM or RCPT TO: brackets, ESMTP
 * parameters, source routes, quoted local parts, IDN domains.
 *
 * Invariants: an address that normalises is short enough, has a non-empty
 * local part and domain, and normalises again to itself; a normalised
 * domain is its own normal form; a domain matches itself as a list entry.
 */
#include <stdbool.h>

#include "address.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

static void check_domain(const char *s)
{
	const char *why = NULL;
	char *d, *again, *entry;

	if ((d = domain_normalise(s, false, &why)) != NULL) {
		FUZZ_ASSERT(*d != '\0');
		again = domain_normalise(d, false, &why);
		FUZZ_ASSERT(again != NULL && strcmp(again, d) == 0);
		FUZZ_ASSERT(domain_match(d, d));
		free(again);
		free(d);
	} else {
		FUZZ_ASSERT(why != NULL);
	}
	if ((entry = domain_entry_normalise(s, &why)) != NULL) {
		(void)domain_match(entry, entry[0] == '.' ? entry + 1 : entry);
		free(entry);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct address a, b;
	const char *why = NULL;
	enum addr_status st;
	char *s;

	st = address_normalise((const char *)data, size, &a, &why);
	if (st == ADDR_OK) {
		FUZZ_ASSERT(a.local != NULL && a.domain != NULL && a.full != NULL);
		FUZZ_ASSERT(*a.local != '\0' && *a.domain != '\0');
		FUZZ_ASSERT(strlen(a.full) <= ADDRESS_MAX);
		FUZZ_ASSERT(strlen(a.full) == strlen(a.local) + 1 + strlen(a.domain));
		/* what we deliver to must be stable: normalising it again changes nothing */
		FUZZ_ASSERT(address_normalise(a.full, strlen(a.full), &b, &why) == ADDR_OK);
		FUZZ_ASSERT(strcmp(a.full, b.full) == 0);
		address_free(&b);
		address_free(&a);
	} else {
		FUZZ_ASSERT(st == ADDR_NULL || why != NULL);
	}

	s = fuzz_string(data, size);
	check_domain(s);
	free(s);
	return 0;
}

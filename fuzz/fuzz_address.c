/*
 * fuzz_address.c - the envelope address normaliser (address.c) on what an
 * MTA might hand over as MAIL FROM or RCPT TO: brackets, ESMTP
 * parameters, source routes, quoted local parts, IDN domains.
 *
 * Invariants: an address that normalises is short enough, has a non-empty
 * local part and domain, and normalises again to itself; its local part,
 * once the MTA un-quotes it, holds nothing it could route on ('@', '%',
 * '!', ':', ',' ...); its domain is lower-case ASCII without a trailing
 * dot (or an address literal); a normalised
 * domain is its own normal form; a domain matches itself as a list entry.
 * The raw bytes, put into the LDAP search filter (directory.c) as the
 * address is, cannot change the filter's structure (RFC 4515 escapes).
 */
#include <stdbool.h>

#include "address.h"
#include "directory.h"
#include "fuzz.h"

/* check_routable - what the MTA will see of an accepted address. */
static void check_routable(const struct address *a)
{
	const char *l = a->local, *d = a->domain;
	size_t n = strlen(l);

	FUZZ_ASSERT(n <= ADDRESS_LOCAL_MAX);
	for (size_t i = l[0] == '"'; i < n - (l[0] == '"'); i++) {
		if (l[0] == '"' && l[i] == '\\')
			i++;	/* a quoted pair: the next byte is what the MTA sees */
		FUZZ_ASSERT(strchr("@%!:,;<>()[]", l[i]) == NULL || l[i] == '\0');
	}
	if (d[0] == '[') {
		FUZZ_ASSERT(d[strlen(d) - 1] == ']');
		return;
	}
	FUZZ_ASSERT(d[strlen(d) - 1] != '.' && d[0] != '.');
	for (; *d != '\0'; d++)
		FUZZ_ASSERT((*d >= 'a' && *d <= 'z') || (*d >= '0' && *d <= '9') || *d == '-' ||
			    *d == '.');
}

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

/* check_filter - "(mail=VALUE)" where VALUE has no bare '(', ')', '*', NUL or lone backslash. */
static void check_filter(const uint8_t *data, size_t size)
{
	char *f = directory_filter_expand("(mail=%s)", (const char *)data, size);
	size_t n = strlen(f);

	FUZZ_ASSERT(n >= 7 && strncmp(f, "(mail=", 6) == 0 && f[n - 1] == ')');
	for (size_t i = 6; i < n - 1; i++) {
		FUZZ_ASSERT(f[i] != '(' && f[i] != ')' && f[i] != '*');
		if (f[i] == '\\') {
			FUZZ_ASSERT(i + 2 < n - 1 && strchr("0123456789abcdefABCDEF", f[i + 1]) &&
				    strchr("0123456789abcdefABCDEF", f[i + 2]));
			i += 2;
		}
	}
	free(f);
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
		check_routable(&a);
		/* what we deliver to must be stable: normalising it again changes nothing */
		FUZZ_ASSERT(address_normalise(a.full, strlen(a.full), &b, &why) == ADDR_OK);
		FUZZ_ASSERT(strcmp(a.full, b.full) == 0);
		address_free(&b);
		address_free(&a);
	} else {
		FUZZ_ASSERT(st == ADDR_NULL || why != NULL);
	}

	check_filter(data, size);
	s = fuzz_string(data, size);
	check_domain(s);
	free(s);
	return 0;
}

/*
 * lists.h - parse the tunnel, partner and freemail list files (pure).
 *
 * Formats (SPEC section 9), UTF-8, '#' comments and blank lines ignored:
 *   tunnel:   domain[,organisation]
 *   partners: domain,organisation,dpa_expires   (YYYY-MM-DD or empty)
 *   freemail: domain
 * A domain may be written ".example.dk" to cover every subdomain too.
 * Domains are stored normalised (domain_normalise).
 */
#ifndef SIKKERMAIL_LISTS_H
#define SIKKERMAIL_LISTS_H

#include <stddef.h>
#include "util.h"

enum list_kind {
	LIST_TUNNEL,
	LIST_PARTNERS,
	LIST_FREEMAIL,
	LIST_COUNT
};

struct list_entry {
	char *domain;		/* normalised; may start with '.' */
	char *organisation;	/* NULL if none */
	char *dpa_expires;	/* "YYYY-MM-DD" or NULL (partners only) */
	char *source;		/* file it was imported from */
	long long imported_at;	/* unix time of the import */
	long line;		/* line in the source file */
};

struct list_entries {
	struct list_entry *v;
	size_t n;
	size_t cap;
};

const char *list_kind_name(enum list_kind k);	/* "tunnel", "partners", "freemail" */
int list_kind_parse(const char *s);		/* -1 if unknown; accepts "partner" too */

/*
 * lists_parse - parse a whole file's text. Every bad line is appended to
 * errors as "name:line: reason"; returns 0 if there was none. Duplicate
 * domains are errors. source is recorded in each entry.
 */
int lists_parse(enum list_kind kind, const char *name, const char *text, size_t len,
		struct list_entries *out, struct strlist *errors);

void list_entry_free(struct list_entry *e);
void list_entries_free(struct list_entries *l);

/* partner_agreement_valid - is a DPA with this expiry date valid on day today ("YYYY-MM-DD")? empty/NULL = no expiry. */
int partner_agreement_valid(const char *dpa_expires, const char *today);

/* The built-in freemail list loaded when a database is created; NULL-terminated. */
extern const char *const lists_builtin_freemail[];

#endif

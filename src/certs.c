/*
 * certs.c - the certificate seam of classification.
 *
 * Exports certs_lookup and cert_summary_free (see certs.h). This is the
 * one place classify.c asks "is there a valid S/MIME certificate for this
 * address?". Until the certificate module (cache and directory lookup)
 * arrives it knows no certificates: every address answers not found, so
 * classification falls through to the partner, freemail and tls rules
 * exactly as it will for an address without a certificate.
 */
#include <stdlib.h>
#include <string.h>

#include "certs.h"

enum lookup certs_lookup(const struct config *cfg, struct store *store, const struct address *addr,
			 struct cert_summary *out)
{
	memset(out, 0, sizeof(*out));
	return LOOKUP_NOTFOUND;
}

void cert_summary_free(struct cert_summary *c)
{
	free(c->subject);
	free(c->fingerprint);
	free(c->source);
	memset(c, 0, sizeof(*c));
}

/*
 * certs.h - the certificate interface of classification.
 *
 * certs_lookup answers whether a valid S/MIME encryption certificate is
 * known for exactly this address (cache or directory). Until the
 * certificate module arrives it answers LOOKUP_NOTFOUND for everything.
 */
#ifndef SIKKERMAIL_CERTS_H
#define SIKKERMAIL_CERTS_H

#include "address.h"
#include "config.h"
#include "sikkermail.h"
#include "store.h"

struct cert_summary {
	char *subject;
	char *fingerprint;	/* SHA-256, hex with colons */
	long long not_after;	/* unix time */
	char *source;		/* "cache", "ldap://..." */
};

enum lookup certs_lookup(const struct config *cfg, struct store *store, const struct address *addr,
			 struct cert_summary *out);
void cert_summary_free(struct cert_summary *c);

#endif

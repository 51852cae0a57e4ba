/*
 * certs.h - the certificate side of classification: is a valid S/MIME
 * encryption certificate known for exactly this address?
 *
 * certs_lookup asks the cache in the store first; on a miss it asks the
 * directory (LDAP, directory.h), validates what it finds (certcheck.h) and
 * caches the answer: a found certificate for CertTTL but never past its
 * expiry, "no certificate" for NegativeTTL. When the directory is down a
 * stale cache entry is used up to MaxStale after it was fetched; without
 * one the answer is LOOKUP_RETRY (class unknown). Concurrent lookups of one
 * address share a single directory query.
 *
 * A struct certs belongs to one configuration (a runtime, runtime.h): its
 * directory pool, TrustedCAFile and CRLFile. It is built before the
 * threads that use it and only read by them; a reload builds a new one.
 * Without LDAPURI no address has a personal certificate.
 *
 * Domain certificates (DomainCertificates yes): when no valid personal
 * certificate is known for an address (a personal one always wins), a
 * certificate for the address's domain serves it: first one imported with
 * sikkermail-ctl import domain-certs (the store's domain_cert table), then
 * the directory's entry for the domain (LDAPDomainFilter). An imported one
 * wins over the directory's, as the administrator's own, local choice.
 * Each is judged at every use for the domain (certcheck.h); of several
 * valid ones the one that expires last is chosen. The directory's answer
 * for a domain is cached like an address's, under the key "@domain" (kind
 * "domain"). A directory failure while looking for the domain's
 * certificate is LOOKUP_RETRY, as for an address.
 */
#ifndef SIKKERMAIL_CERTS_H
#define SIKKERMAIL_CERTS_H

#include <stdbool.h>
#include <stddef.h>

#include "address.h"
#include "config.h"
#include "sikkermail.h"
#include "store.h"
#include "util.h"

struct cert_summary {
	char *subject;
	char *issuer;
	char *fingerprint;	/* SHA-256, hex with colons */
	long long not_before;	/* unix time */
	long long not_after;
	char *source;		/* the directory URI it came from, or FILE:LINE of an import */
	char *domain;		/* a domain certificate: for this domain; NULL: personal */
	long long fetched_at;	/* when the directory was asked (the import: when imported) */
	bool from_cache;
	bool stale;		/* a cache entry past CertTTL, used while the directory is down */
	unsigned char *der;	/* the certificate, for encryption */
	size_t der_len;
	struct strlist rejected;	/* candidates found but not usable: "subject: reason" */
	char *error;		/* why, on LOOKUP_RETRY */
};

struct certs;

/*
 * certs_new - the directory pool and the trust store of cfg (referenced);
 * NULL with *err when a file cannot be read or is not what it should be.
 */
struct certs *certs_new(struct config *cfg, char **err);
/*
 * certs_new_cached - the same without the directory pool: lookups answer
 * from the cache in the store alone, whatever its age (a cached
 * certificate is still judged against cfg's trust store, now); an address
 * with nothing cached has no certificate. For sikkermail-ctl replay,
 * which must not ask the directory about past mail.
 */
struct certs *certs_new_cached(struct config *cfg, char **err);
void certs_free(struct certs *cs);

/*
 * certs_lookup - cache, then directory; then, with DomainCertificates,
 * the domain's certificate; see above. out is always initialised.
 */
enum lookup certs_lookup(const struct certs *cs, struct store *store, const struct address *addr,
			 struct cert_summary *out);

/* certs_lookup_now - ask the directory now, whatever the cache holds, and cache the answer. */
enum lookup certs_lookup_now(const struct certs *cs, struct store *store,
			     const struct address *addr, struct cert_summary *out);

void cert_summary_free(struct cert_summary *c);

/* certs_directory_queries - how many directory queries this process made (tests, stats). */
unsigned long certs_directory_queries(void);

#endif

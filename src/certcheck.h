/*
 * certcheck.h - is a certificate valid for S/MIME encryption to an
 * address? (SPEC section 6.) Uses OpenSSL; nothing else here does LDAP.
 *
 * A certificate is valid for an address when
 *   - it parses, and is not a CA certificate;
 *   - the address is in its subjectAltName as an rfc822Name (local part
 *     compared exactly, domain without regard to case); the subject's
 *     emailAddress counts too only with AcceptSubjectEmail yes;
 *   - for a domain certificate (the "address" is a bare domain, no '@';
 *     DomainCertificates): the domain is a dNSName or an rfc822Name of its
 *     subjectAltName, exactly, without regard to case; a wildcard names no
 *     domain, and the subject (emailAddress, commonName) never counts;
 *   - "now" lies inside its validity period;
 *   - its key can be encrypted to: RSA of at least 2048 bits, or EC on a
 *     curve of at least 256 bits (other key types cannot be used);
 *   - keyUsage, when present, includes keyEncipherment (RSA) or
 *     keyAgreement (EC);
 *   - extendedKeyUsage, when present, includes emailProtection or
 *     anyExtendedKeyUsage;
 *   - its chain reaches a certificate in TrustedCAFile, at time "now".
 *     Every certificate in that file is a trust anchor, an intermediate
 *     as well as a root. Intermediates the directory returned alongside
 *     (in a PKCS#7 bundle, say) may complete the chain;
 *   - with CRLFile set, it is not revoked. Then the file must hold a
 *     current CRL from the CA that issued it: no CRL, or an expired one,
 *     makes the certificate unusable (the check cannot be done).
 * Of several valid certificates the one that expires last is chosen.
 *
 * A struct certcheck holds the trust store, loaded once; threads share it
 * read-only and each check uses its own verification context.
 */
#ifndef SIKKERMAIL_CERTCHECK_H
#define SIKKERMAIL_CERTCHECK_H

#include <stddef.h>
#include <time.h>

#include "config.h"
#include "directory.h"
#include "util.h"

#define CERTCHECK_MIN_RSA_BITS 2048
#define CERTCHECK_MIN_EC_BITS 256

struct cert_choice {
	unsigned char *der;	/* the chosen certificate, DER */
	size_t der_len;
	char *subject;		/* RFC 2253, UTF-8 */
	char *issuer;
	char *fingerprint;	/* SHA-256, upper-case hex with colons */
	time_t not_before;
	time_t not_after;
	struct strlist rejected;	/* "subject: reason", one per unusable candidate */
	char *error;		/* set when certcheck_choose returns -1 */
};

struct certcheck;

/*
 * certcheck_new - load TrustedCAFile (PEM, one or more certificates) and,
 * when set, CRLFile (PEM, one or more CRLs; or one DER CRL). NULL with
 * *err (xmalloc'd) when a file is missing, unreadable or holds nothing
 * usable.
 */
struct certcheck *certcheck_new(const struct config *cfg, char **err);
void certcheck_free(struct certcheck *cc);

/*
 * certcheck_choose - the best valid certificate for address among the
 * values a directory returned, judged at time now. *out is initialised
 * here; release it with cert_choice_free. Returns 1 and fills out when
 * one is valid; 0 when none is (out->rejected says why, one line per
 * candidate); -1 on an internal failure (out->error), which callers treat
 * as a temporary failure, never as "no certificate".
 */
int certcheck_choose(struct certcheck *cc, const char *address, const struct dir_result *found,
		     time_t now, struct cert_choice *out);

/*
 * certcheck_check_der - is this one DER certificate valid for address at
 * now (say, a cached one)? 1 yes; 0 no, with *reason (xmalloc'd);
 * -1 internal failure, with *reason.
 */
int certcheck_check_der(struct certcheck *cc, const char *address, const unsigned char *der,
			size_t len, time_t now, char **reason);

/*
 * certcheck_changes_at - from when on a judgement may differ only because
 * time passed in the trust store (the first CA expiry or CRL next
 * update); 0 if nothing in it expires.
 */
time_t certcheck_changes_at(const struct certcheck *cc);

/*
 * certcheck_parse_one - describe a DER certificate (for display): fills
 * der, subject, issuer, fingerprint and the validity period, judging
 * nothing. 1 on success; 0 if it does not parse (*err xmalloc'd).
 */
int certcheck_parse_one(const unsigned char *der, size_t len, struct cert_choice *out, char **err);

void cert_choice_init(struct cert_choice *c);
void cert_choice_free(struct cert_choice *c);

#endif

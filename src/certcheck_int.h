/*
 * certcheck_int.h - what certcheck.c and certcheck_trust.c share, and
 * nothing else may see: struct certcheck (the trust store and the
 * settings the checks read) and the OpenSSL text helpers both use.
 * Included only by certcheck*.c; everyone else uses certcheck.h.
 *
 * certcheck_trust.c makes and frees a struct certcheck; certcheck.c
 * checks certificates against it and exports the helpers below.
 */
#ifndef SIKKERMAIL_CERTCHECK_INT_H
#define SIKKERMAIL_CERTCHECK_INT_H

#include <stdbool.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/x509.h>

struct certcheck {
	X509_STORE *store;
	bool accept_subject_email;
	bool crl;		/* CRLFile is set: revocation is checked */
	time_t changes_at;	/* the first expiry in the store (a CA, a CRL's next update); 0: none */
};

/* certcheck_openssl_reason - the reason of the last queued OpenSSL error; clears the queue. */
char *certcheck_openssl_reason(const char *fallback);

/* certcheck_name_text - a distinguished name as RFC 2253 text, UTF-8 kept, controls escaped. */
char *certcheck_name_text(const X509_NAME *name);

/* certcheck_asn1_time - an ASN.1 time as Unix time; 0 if it cannot be read. */
time_t certcheck_asn1_time(const ASN1_TIME *t);

/* certcheck_time_text - t as "YYYY-MM-DD HH:MM:SS UTC". */
char *certcheck_time_text(time_t t);

#endif

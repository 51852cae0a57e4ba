/*
 * certcheck_trust.c - the trust store of the certificate checks: every
 * certificate of TrustedCAFile a trust anchor, and with CRLFile its CRLs
 * (PEM, any number, or one DER), loaded once when a struct certcheck is
 * made; a CRL already expired is warned about at once, since it blocks
 * every certificate of its CA.
 *
 * Exports certcheck_new, certcheck_free and certcheck_changes_at
 * (certcheck.h); the checks that use the store are in certcheck.c.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "certcheck.h"
#include "certcheck_int.h"
#include "log.h"
#include "util.h"

static int load_trust(X509_STORE *store, const char *file, char **err);
static int load_crls(X509_STORE *store, const char *file, char **err);
static void warn_stale_crls(X509_STORE *store, const char *file);
static time_t store_changes_at(X509_STORE *store);

/* load_trust - every certificate of a PEM file becomes a trust anchor. */
static int load_trust(X509_STORE *store, const char *file, char **err)
{
	STACK_OF(X509_OBJECT) *objs;
	int n = 0;
	FILE *fp = fopen(file, "r");

	if (fp == NULL) {
		*err = xasprintf("TrustedCAFile %s: %s", file, strerror(errno));
		return 0;
	}
	fclose(fp);
	if (X509_STORE_load_file(store, file) != 1) {
		char *why = certcheck_openssl_reason("cannot load it");
		*err = xasprintf("TrustedCAFile %s: %s (a PEM file of CA certificates is "
				 "expected)", file, why);
		free(why);
		return 0;
	}
	objs = X509_STORE_get0_objects(store);
	for (int i = 0; i < sk_X509_OBJECT_num(objs); i++)
		if (X509_OBJECT_get_type(sk_X509_OBJECT_value(objs, i)) == X509_LU_X509)
			n++;
	if (n == 0) {
		*err = xasprintf("TrustedCAFile %s: no certificate in it", file);
		return 0;
	}
	return 1;
}

/* load_crls - the CRLs of a PEM file (any number) or a DER file (one). */
static int load_crls(X509_STORE *store, const char *file, char **err)
{
	X509_LOOKUP *lu = X509_STORE_add_lookup(store, X509_LOOKUP_file());
	FILE *fp = fopen(file, "r");

	if (fp == NULL) {
		*err = xasprintf("CRLFile %s: %s", file, strerror(errno));
		return 0;
	}
	fclose(fp);
	if (lu == NULL)
		msg_fatal("out of memory (X509_STORE_add_lookup)");
	if (X509_load_crl_file(lu, file, X509_FILETYPE_PEM) > 0 ||
	    (ERR_clear_error(), X509_load_crl_file(lu, file, X509_FILETYPE_ASN1) > 0)) {
		ERR_clear_error();
		return 1;
	}
	char *why = certcheck_openssl_reason("no CRL in it");
	*err = xasprintf("CRLFile %s: %s (PEM CRLs or one DER CRL expected)", file, why);
	free(why);
	return 0;
}

/* warn_stale_crls - an expired CRL blocks every certificate of its CA: say so early. */
static void warn_stale_crls(X509_STORE *store, const char *file)
{
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(store);
	time_t now = time(NULL);

	for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
		X509_CRL *crl = X509_OBJECT_get0_X509_CRL(sk_X509_OBJECT_value(objs, i));
		if (crl == NULL || X509_CRL_get0_nextUpdate(crl) == NULL)
			continue;
		time_t next = certcheck_asn1_time(X509_CRL_get0_nextUpdate(crl));
		if (next != 0 && next < now) {
			char *who = certcheck_name_text(X509_CRL_get_issuer(crl));
			char *when = certcheck_time_text(next);
			msg_warn("CRLFile %s: the CRL of %s expired on %s; no certificate of "
				 "that CA is usable until the CRL is renewed", file, who, when);
			free(who);
			free(when);
		}
	}
}

/* store_changes_at - the earliest CA expiry or CRL next update in store; 0 if none. */
static time_t store_changes_at(X509_STORE *store)
{
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(store);
	time_t first = 0;

	for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
		X509_OBJECT *o = sk_X509_OBJECT_value(objs, i);
		X509_CRL *crl = X509_OBJECT_get0_X509_CRL(o);
		X509 *x = X509_OBJECT_get0_X509(o);
		const ASN1_TIME *t = crl != NULL ? X509_CRL_get0_nextUpdate(crl)
				     : x != NULL ? X509_get0_notAfter(x) : NULL;
		time_t when = t != NULL ? certcheck_asn1_time(t) : 0;

		if (when != 0 && (first == 0 || when < first))
			first = when;
	}
	return first;
}

time_t certcheck_changes_at(const struct certcheck *cc)
{
	return cc->changes_at;
}

struct certcheck *certcheck_new(const struct config *cfg, char **err)
{
	struct certcheck *cc;
	unsigned long flags = X509_V_FLAG_PARTIAL_CHAIN;

	*err = NULL;
	if (cfg->trusted_ca_file == NULL || cfg->trusted_ca_file[0] == '\0') {
		*err = xstrdup("TrustedCAFile is not set: no certificate can be trusted");
		return NULL;
	}
	ERR_clear_error();
	cc = xcalloc(1, sizeof(*cc));
	cc->accept_subject_email = cfg->accept_subject_email;
	if ((cc->store = X509_STORE_new()) == NULL)
		msg_fatal("out of memory (X509_STORE_new)");
	if (!load_trust(cc->store, cfg->trusted_ca_file, err))
		goto fail;
	if (cfg->crl_file != NULL && cfg->crl_file[0] != '\0') {
		if (!load_crls(cc->store, cfg->crl_file, err))
			goto fail;
		warn_stale_crls(cc->store, cfg->crl_file);
		flags |= X509_V_FLAG_CRL_CHECK;
		cc->crl = true;
	}
	X509_STORE_set_flags(cc->store, flags);
	cc->changes_at = store_changes_at(cc->store);
	ERR_clear_error();
	return cc;
fail:
	certcheck_free(cc);
	ERR_clear_error();
	return NULL;
}

void certcheck_free(struct certcheck *cc)
{
	if (cc == NULL)
		return;
	X509_STORE_free(cc->store);
	free(cc);
}

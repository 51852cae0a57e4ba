/*
 * certcheck.c - decide which certificate, if any, S/MIME encryption to an
 * address may use (SPEC section 6; the rules are in certcheck.h).
 *
 * Exports certcheck_choose, certcheck_check_der, certcheck_parse_one and
 * cert_choice_init/free (certcheck.h); and, to certcheck_trust.c only,
 * the OpenSSL text helpers certcheck_openssl_reason, certcheck_name_text,
 * certcheck_asn1_time and certcheck_time_text (certcheck_int.h). The
 * trust store (certcheck_new/free) is loaded in certcheck_trust.c.
 *
 * The cheap, explicit checks (address, dates, key, usages) come before
 * the chain so that a rejection names the most specific reason; the chain
 * is then verified by OpenSSL at the caller's "now", with every
 * certificate of TrustedCAFile as a trust anchor (X509_V_FLAG_PARTIAL_CHAIN)
 * and, with CRLFile, every certificate of the chain but the anchor checked
 * against its issuer's CRL; a CA of the chain must allow e-mail protection. A CRL that is missing,
 * expired or not yet valid means "cannot judge now" (-1), not "invalid".
 * The OpenSSL error queue is cleared around every operation, so that a
 * reason never comes from an earlier one.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "certcheck.h"
#include "certcheck_int.h"
#include "log.h"
#include "util.h"

/* A bundle could hold any number of certificates; look at this many. */
#define CERTCHECK_MAX_CERTS 200

/* One certificate found in the directory's answer. */
struct candidate {
	X509 *cert;		/* reference held by the pool */
	bool judge;		/* an end-entity candidate, not just an intermediate */
};

struct cert_set {
	STACK_OF(X509) *pool;	/* everything, the untrusted chain material */
	struct candidate *cand;
	size_t n;
	size_t garbage;		/* values that were not certificates at all */
	char *first_garbage;	/* why the first of them was not */
};

static char *fingerprint_sha256(X509 *x);
static bool address_equal(const char *want, const unsigned char *got, size_t got_len);
static bool san_has_address(X509 *x, const char *address, struct strbuf *seen);
static bool subject_has_address(X509 *x, const char *address);
static char *check_address(const struct certcheck *cc, X509 *x, const char *address);
static char *check_domain(X509 *x, const char *domain);
static char *check_dates(X509 *x, time_t now);
static char *check_key(X509 *x);
static char *check_usage(X509 *x);
static int check_chain(const struct certcheck *cc, X509 *x, STACK_OF(X509) *untrusted,
		       time_t now, char **reason);
static int check_one(const struct certcheck *cc, const char *address, X509 *x,
		     STACK_OF(X509) *untrusted, time_t now, char **reason);
static int verify_to_anchor(const struct certcheck *cc, X509 *x, STACK_OF(X509) *untrusted,
			    time_t now, char **reason, STACK_OF(X509) **chain);
static int describe(X509 *x, struct cert_choice *out);
static int judge_all(struct certcheck *cc, const char *address, struct cert_set *set,
		     time_t now, struct cert_choice *out, X509 **best);
static void set_add(struct cert_set *set, X509 *x, bool judge);
static void set_add_value(struct cert_set *set, const struct dir_value *v, size_t i,
			  struct strlist *rejected);
static void set_garbage(struct cert_set *set, struct strlist *rejected, char *why);
static void set_free(struct cert_set *set);

/* ------------------------------------------------------------ helpers */

/* certcheck_openssl_reason - the reason of the last queued OpenSSL error; clears the queue. */
char *certcheck_openssl_reason(const char *fallback)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	char buf[256];

	if (e != 0 && r == NULL) {
		ERR_error_string_n(e, buf, sizeof(buf));
		r = buf;
	}
	ERR_clear_error();
	return xstrdup(r ? r : fallback);
}

/* certcheck_name_text - a distinguished name as RFC 2253 text, UTF-8 kept, controls escaped. */
char *certcheck_name_text(const X509_NAME *name)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p, *s;
	long n;

	if (b == NULL)
		msg_fatal("out of memory (BIO_new)");
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0) {
		BIO_free(b);
		ERR_clear_error();
		return xstrdup("(unprintable name)");
	}
	n = BIO_get_mem_data(b, &p);
	s = n > 0 ? xstrndup(p, (size_t)n) : xstrdup("(empty name)");
	BIO_free(b);
	return s;
}

/* certcheck_asn1_time - an ASN.1 time as Unix time; 0 if it cannot be read. */
time_t certcheck_asn1_time(const ASN1_TIME *t)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
		ERR_clear_error();
		return 0;
	}
	return timegm(&tm);
}

/* certcheck_time_text - t as "YYYY-MM-DD HH:MM:SS UTC". */
char *certcheck_time_text(time_t t)
{
	struct tm tm;
	char buf[64];

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
	return xstrdup(buf);
}

/* fingerprint_sha256 - "AB:CD:...", as openssl x509 -fingerprint -sha256 prints it. */
static char *fingerprint_sha256(X509 *x)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	struct strbuf sb;

	if (X509_digest(x, EVP_sha256(), md, &n) != 1)
		msg_fatal("SHA-256 digest of a certificate failed");
	sb_init(&sb);
	for (unsigned int i = 0; i < n; i++)
		sb_printf(&sb, "%s%02X", i ? ":" : "", md[i]);
	return sb.s;	/* the buffer itself: sb_steal would allocate a new one */
}

/* ---------------------------------------------------------- the checks */

/*
 * address_equal - got (an rfc822Name or emailAddress, not NUL-terminated)
 * names the mailbox want: the local part byte for byte, the domain
 * without regard to ASCII case.
 */
static bool address_equal(const char *want, const unsigned char *got, size_t got_len)
{
	const char *wat = strrchr(want, '@');
	const unsigned char *gat = NULL;

	if (wat == NULL || memchr(got, '\0', got_len) != NULL)
		return false;
	for (size_t i = 0; i < got_len; i++)
		if (got[i] == '@')
			gat = got + i;
	if (gat == NULL || (size_t)(gat - got) != (size_t)(wat - want) ||
	    memcmp(got, want, (size_t)(wat - want)) != 0)
		return false;
	size_t dlen = got_len - (size_t)(gat - got) - 1;
	return strlen(wat + 1) == dlen &&
	       ascii_strncasecmp((const char *)gat + 1, wat + 1, dlen) == 0;
}

/* san_has_address - is address an rfc822Name of x? Lists the names seen. */
static bool san_has_address(X509 *x, const char *address, struct strbuf *seen)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	bool found = false;
	int n = names ? sk_GENERAL_NAME_num(names) : 0;

	for (int i = 0; i < n && !found; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		if (g->type != GEN_EMAIL)
			continue;
		const unsigned char *p = ASN1_STRING_get0_data(g->d.rfc822Name);
		size_t len = (size_t)ASN1_STRING_length(g->d.rfc822Name);
		found = address_equal(address, p, len);
		if (seen->len >= 200)
			continue;
		/* These go into logs: nothing but printable ASCII from a certificate. */
		sb_adds(seen, seen->len ? ", " : "");
		for (size_t k = 0; k < len && k < 100; k++)
			sb_addc(seen, p[k] >= 0x20 && p[k] < 0x7f ? p[k] : '?');
	}
	GENERAL_NAMES_free(names);
	ERR_clear_error();
	return found;
}

static bool subject_has_address(X509 *x, const char *address)
{
	const X509_NAME *subject = X509_get_subject_name(x);
	int i = -1;

	while ((i = X509_NAME_get_index_by_NID(subject, NID_pkcs9_emailAddress, i)) >= 0) {
		const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
		if (address_equal(address, ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s)))
			return true;
	}
	return false;
}

/* check_address - NULL if the certificate names address (or the domain), else why not. */
static char *check_address(const struct certcheck *cc, X509 *x, const char *address)
{
	struct strbuf seen;
	char *why;

	if (strchr(address, '@') == NULL)
		return check_domain(x, address);
	sb_init(&seen);
	if (san_has_address(x, address, &seen)) {
		sb_free(&seen);
		return NULL;
	}
	if (subject_has_address(x, address)) {
		sb_free(&seen);
		if (cc->accept_subject_email)
			return NULL;
		return xasprintf("%s is only in the subject's emailAddress, not in "
				 "subjectAltName (AcceptSubjectEmail is off)", address);
	}
	if (seen.len)
		why = xasprintf("%s is not in subjectAltName (it names %s)", address, seen.s);
	else
		why = xasprintf("%s is not in the certificate (no rfc822Name in "
				"subjectAltName)", address);
	sb_free(&seen);
	return why;
}

/*
 * check_domain - NULL if the certificate names the domain itself, else why
 * not: a dNSName or an rfc822Name of subjectAltName equal to it, without
 * regard to ASCII case, exactly (a wildcard such as *.example.dk names no
 * domain, and a mailbox of the domain is not the domain). The subject's
 * emailAddress and commonName never count.
 */
static char *check_domain(X509 *x, const char *domain)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	int n = names ? sk_GENERAL_NAME_num(names) : 0;
	size_t dlen = strlen(domain);
	struct strbuf seen;
	bool found = false;
	char *why;

	sb_init(&seen);
	for (int i = 0; i < n && !found; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		const ASN1_IA5STRING *v;

		if (g->type == GEN_DNS)
			v = g->d.dNSName;
		else if (g->type == GEN_EMAIL)
			v = g->d.rfc822Name;
		else
			continue;
		const unsigned char *p = ASN1_STRING_get0_data(v);
		size_t len = (size_t)ASN1_STRING_length(v);
		found = len == dlen && memchr(p, '\0', len) == NULL &&
			ascii_strncasecmp((const char *)p, domain, len) == 0;
		if (seen.len >= 200)
			continue;
		/* These go into logs: nothing but printable ASCII from a certificate. */
		sb_adds(&seen, seen.len ? ", " : "");
		for (size_t k = 0; k < len && k < 100; k++)
			sb_addc(&seen, p[k] >= 0x20 && p[k] < 0x7f ? p[k] : '?');
	}
	GENERAL_NAMES_free(names);
	ERR_clear_error();
	if (found) {
		sb_free(&seen);
		return NULL;
	}
	if (seen.len)
		why = xasprintf("the domain %s is not in subjectAltName (it names %s)", domain,
				seen.s);
	else
		why = xasprintf("the domain %s is not in the certificate (no dNSName in "
				"subjectAltName)", domain);
	sb_free(&seen);
	return why;
}

static char *check_dates(X509 *x, time_t now)
{
	time_t nb = certcheck_asn1_time(X509_get0_notBefore(x));
	time_t na = certcheck_asn1_time(X509_get0_notAfter(x));
	char *t, *why;

	if (nb == 0 || na == 0)
		return xstrdup("unreadable validity period");
	if (now < nb) {
		t = certcheck_time_text(nb);
		why = xasprintf("not valid before %s", t);
	} else if (now > na) {
		t = certcheck_time_text(na);
		why = xasprintf("expired on %s", t);
	} else {
		return NULL;
	}
	free(t);
	return why;
}

/* check_key - only keys that S/MIME encryption can use, of a sound size. */
static char *check_key(X509 *x)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	int type, bits;

	if (pk == NULL)
		return certcheck_openssl_reason("unreadable public key");
	type = EVP_PKEY_get_base_id(pk);
	bits = EVP_PKEY_get_bits(pk);
	if (type == EVP_PKEY_RSA) {
		if (bits < CERTCHECK_MIN_RSA_BITS)
			return xasprintf("RSA key of %d bits is too weak (minimum %d)", bits,
					 CERTCHECK_MIN_RSA_BITS);
		return NULL;
	}
	if (type == EVP_PKEY_EC) {
		if (bits < CERTCHECK_MIN_EC_BITS)
			return xasprintf("EC key of %d bits is too weak (minimum %d)", bits,
					 CERTCHECK_MIN_EC_BITS);
		return NULL;
	}
	return xasprintf("a %s key cannot be used for S/MIME encryption",
			 type != NID_undef ? OBJ_nid2sn(type) : "unknown");
}

/* check_usage - keyUsage and extendedKeyUsage, when present, must allow encryption. */
static char *check_usage(X509 *x)
{
	int type = EVP_PKEY_get_base_id(X509_get0_pubkey(x));
	uint32_t ku, xku;

	if (X509_check_purpose(x, -1, 0) != 1 || (X509_get_extension_flags(x) & EXFLAG_INVALID))
		return certcheck_openssl_reason("invalid certificate extensions");
	ku = X509_get_key_usage(x);	/* UINT32_MAX: no keyUsage extension */
	if (type == EVP_PKEY_RSA && !(ku & KU_KEY_ENCIPHERMENT))
		return xstrdup("keyUsage does not include keyEncipherment");
	if (type == EVP_PKEY_EC && !(ku & KU_KEY_AGREEMENT))
		return xstrdup("keyUsage does not include keyAgreement");
	xku = X509_get_extended_key_usage(x);	/* UINT32_MAX: no extension */
	if (!(xku & (XKU_SMIME | XKU_ANYEKU)))
		return xstrdup("extendedKeyUsage does not include emailProtection");
	return NULL;
}

/*
 * check_chain_eku - a CA of the verified chain that limits its
 * extendedKeyUsage must allow e-mail protection (or any use): a CA for
 * TLS servers only does not vouch for S/MIME certificates. (OpenSSL's
 * S/MIME purpose would also demand keyEncipherment of the leaf, which an
 * EC key does not have; the leaf's usages are checked by check_usage.)
 */
static int check_chain_eku(X509_STORE_CTX *ctx, char **reason)
{
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);

	for (int i = 1; chain != NULL && i < sk_X509_num(chain); i++) {
		X509 *ca = sk_X509_value(chain, i);
		uint32_t xku = X509_get_extended_key_usage(ca);	/* UINT32_MAX: no extension */

		if (!(xku & (XKU_SMIME | XKU_ANYEKU))) {
			char *who = certcheck_name_text(X509_get_subject_name(ca));
			*reason = xasprintf("chain does not verify: the extendedKeyUsage of CA %s "
					    "does not include emailProtection",
					    who);
			free(who);
			return 0;
		}
	}
	return 1;
}

/*
 * check_chain - verify x up to a trust anchor at time now. 1 valid; 0 not,
 * with *reason; -1 on an internal failure.
 */
static int check_chain(const struct certcheck *cc, X509 *x, STACK_OF(X509) *untrusted,
		       time_t now, char **reason)
{
	STACK_OF(X509) *chain = NULL;
	int rc = verify_to_anchor(cc, x, untrusted, now, reason, &chain);

	/*
	 * X509_V_FLAG_CRL_CHECK covers the certificate itself. The CAs between
	 * it and the trust anchor are checked against their issuers' CRLs one
	 * by one (X509_V_FLAG_CRL_CHECK_ALL would also demand one for the
	 * anchor, which a partial chain cannot give).
	 */
	for (int i = 1; rc == 1 && cc->crl && i < sk_X509_num(chain) - 1; i++) {
		char *why = NULL, *who;

		rc = verify_to_anchor(cc, sk_X509_value(chain, i), untrusted, now, &why, NULL);
		if (rc != 1) {
			who = certcheck_name_text(X509_get_subject_name(sk_X509_value(chain, i)));
			*reason = xasprintf("CA %s: %s", who, why ? why : "?");
			free(who);
		}
		free(why);
	}
	sk_X509_pop_free(chain, X509_free);
	return rc;
}

/*
 * verify_to_anchor - X509_verify_cert of x at now, then the CA
 * extendedKeyUsage rule; *chain (when asked for) gets the verified chain.
 * 1 valid; 0 not; -1 cannot be judged now (no current CRL) or internal.
 */
static int verify_to_anchor(const struct certcheck *cc, X509 *x, STACK_OF(X509) *untrusted,
			    time_t now, char **reason, STACK_OF(X509) **chain)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int rc = -1, err, depth;

	if (ctx == NULL || X509_STORE_CTX_init(ctx, cc->store, x, untrusted) != 1) {
		*reason = certcheck_openssl_reason("cannot set up certificate verification");
		goto out;
	}
	X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), now);
	rc = X509_verify_cert(ctx);
	if (rc == 1) {
		rc = check_chain_eku(ctx, reason);
		if (chain != NULL)
			*chain = X509_STORE_CTX_get1_chain(ctx);
		goto out;
	}
	err = X509_STORE_CTX_get_error(ctx);
	depth = X509_STORE_CTX_get_error_depth(ctx);
	if (rc < 0 && err == X509_V_OK) {
		*reason = certcheck_openssl_reason("certificate verification failed internally");
		goto out;
	}
	/*
	 * No current CRL for a certificate of the chain: whether it is revoked
	 * cannot be judged now. That is a temporary failure, never "no
	 * certificate" (which would be cached for NegativeTTL).
	 */
	rc = err == X509_V_ERR_UNABLE_TO_GET_CRL || err == X509_V_ERR_CRL_HAS_EXPIRED ||
			     err == X509_V_ERR_CRL_NOT_YET_VALID ||
			     err == X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER
		     ? -1
		     : 0;
	if (depth > 0 && X509_STORE_CTX_get_current_cert(ctx) != NULL) {
		X509 *at = X509_STORE_CTX_get_current_cert(ctx);
		char *who = certcheck_name_text(X509_get_subject_name(at));
		*reason = xasprintf("chain does not verify: %s (at %s)",
				    X509_verify_cert_error_string(err), who);
		free(who);
	} else {
		*reason = xasprintf("chain does not verify: %s", X509_verify_cert_error_string(err));
	}
out:
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

/* check_one - every rule, cheapest first. 1 valid, 0 not (*reason), -1 internal. */
static int check_one(const struct certcheck *cc, const char *address, X509 *x,
		     STACK_OF(X509) *untrusted, time_t now, char **reason)
{
	ERR_clear_error();
	*reason = NULL;
	if (X509_check_ca(x) != 0)
		*reason = xstrdup("a CA certificate, not a personal one");
	if (*reason == NULL)
		*reason = check_address(cc, x, address);
	if (*reason == NULL)
		*reason = check_dates(x, now);
	if (*reason == NULL)
		*reason = check_key(x);
	if (*reason == NULL)
		*reason = check_usage(x);
	if (*reason != NULL)
		return 0;
	return check_chain(cc, x, untrusted, now, reason);
}

/* describe - fill the descriptive fields of out from x. 1 ok, 0 on failure. */
static int describe(X509 *x, struct cert_choice *out)
{
	unsigned char *der = NULL;
	int len = i2d_X509(x, &der);

	if (len <= 0) {
		ERR_clear_error();
		return 0;
	}
	out->der = xmalloc((size_t)len);
	memcpy(out->der, der, (size_t)len);
	out->der_len = (size_t)len;
	OPENSSL_free(der);
	out->subject = certcheck_name_text(X509_get_subject_name(x));
	out->issuer = certcheck_name_text(X509_get_issuer_name(x));
	out->fingerprint = fingerprint_sha256(x);
	out->not_before = certcheck_asn1_time(X509_get0_notBefore(x));
	out->not_after = certcheck_asn1_time(X509_get0_notAfter(x));
	return 1;
}

/* ------------------------------------------------ the directory's answer */

/* set_add - take x (consumes the reference) unless it is already there. */
static void set_add(struct cert_set *set, X509 *x, bool judge)
{
	for (size_t i = 0; i < set->n; i++) {
		if (X509_cmp(set->cand[i].cert, x) == 0) {
			set->cand[i].judge |= judge;
			X509_free(x);
			return;
		}
	}
	if (sk_X509_push(set->pool, x) <= 0)
		msg_fatal("out of memory (sk_X509_push)");
	set->cand = xrealloc(set->cand, (set->n + 1) * sizeof(*set->cand));
	set->cand[set->n++] = (struct candidate){ x, judge };
}

/*
 * set_add_value - the certificates of one directory value. A
 * userCertificate is always judged; the CA certificates in a bundle only
 * serve as intermediates.
 */
static void set_add_value(struct cert_set *set, const struct dir_value *v, size_t i,
			  struct strlist *rejected)
{
	const unsigned char *p = v->data;
	STACK_OF(X509) *certs;
	PKCS7 *p7;
	char *why;
	X509 *x;

	ERR_clear_error();
	if (v->kind == DIR_X509_DER) {
		if ((x = d2i_X509(NULL, &p, (long)v->len)) != NULL) {
			set_add(set, x, true);
			return;
		}
		why = certcheck_openssl_reason("unknown error");
		strlist_addf(rejected, "(value %zu, userCertificate): not a certificate: %s", i + 1,
			     why);
		set_garbage(set, rejected, why);
		return;
	}
	if ((p7 = d2i_PKCS7(NULL, &p, (long)v->len)) == NULL || !PKCS7_type_is_signed(p7) ||
	    p7->d.sign == NULL || (certs = p7->d.sign->cert) == NULL) {
		why = p7 ? xstrdup("no certificates in it")
			 : certcheck_openssl_reason("unknown error");
		strlist_addf(rejected, "(value %zu, userSMIMECertificate): not a PKCS#7 "
			     "certificate bundle: %s", i + 1, why);
		set_garbage(set, rejected, why);
		PKCS7_free(p7);
		return;
	}
	for (int k = 0; k < sk_X509_num(certs) && set->n < CERTCHECK_MAX_CERTS; k++) {
		x = sk_X509_value(certs, k);
		if (X509_up_ref(x) != 1)
			msg_fatal("X509_up_ref failed");
		set_add(set, x, X509_check_ca(x) == 0);
	}
	PKCS7_free(p7);
	ERR_clear_error();
}

/* set_garbage - count a value that is no certificate; takes why. */
static void set_garbage(struct cert_set *set, struct strlist *rejected, char *why)
{
	if (set->garbage++ == 0)
		set->first_garbage = xstrdup(rejected->v[rejected->n - 1]);
	free(why);
}

static void set_free(struct cert_set *set)
{
	sk_X509_pop_free(set->pool, X509_free);
	free(set->cand);
	free(set->first_garbage);
}

/*
 * judge_all - check every candidate; the valid one that expires last is
 * returned in *best. 0, or -1 on an internal failure (out->error).
 */
static int judge_all(struct certcheck *cc, const char *address, struct cert_set *set,
		     time_t now, struct cert_choice *out, X509 **best)
{
	time_t best_end = 0;

	*best = NULL;
	for (size_t i = 0; i < set->n; i++) {
		X509 *x = set->cand[i].cert;
		char *reason = NULL, *subject;
		int rc;

		if (!set->cand[i].judge)
			continue;
		rc = check_one(cc, address, x, set->pool, now, &reason);
		if (rc < 0) {
			/* this one cannot be judged now; another may still be valid */
			if (out->error == NULL)
				out->error = reason;
			else
				free(reason);
			continue;
		}
		if (rc == 0) {
			subject = certcheck_name_text(X509_get_subject_name(x));
			strlist_addf(&out->rejected, "%s: %s", subject, reason);
			free(subject);
			free(reason);
			continue;
		}
		time_t end = certcheck_asn1_time(X509_get0_notAfter(x));
		if (*best == NULL || end > best_end) {
			*best = x;
			best_end = end;
		}
	}
	if (*best != NULL) {
		free(out->error);
		out->error = NULL;
		return 0;
	}
	return out->error != NULL ? -1 : 0;
}

int certcheck_choose(struct certcheck *cc, const char *address, const struct dir_result *found,
		     time_t now, struct cert_choice *out)
{
	struct cert_set set = { sk_X509_new_null(), NULL, 0, 0, NULL };
	X509 *best = NULL;
	int rc;

	cert_choice_init(out);
	if (set.pool == NULL)
		msg_fatal("out of memory (sk_X509_new_null)");
	for (size_t i = 0; found != NULL && i < found->n_values; i++) {
		if (set.n >= CERTCHECK_MAX_CERTS) {
			strlist_addf(&out->rejected, "(values %zu and later): more than %d "
				     "certificates; ignored", i + 1, CERTCHECK_MAX_CERTS);
			break;
		}
		set_add_value(&set, &found->values[i], i, &out->rejected);
	}
	rc = judge_all(cc, address, &set, now, out, &best);
	if (rc == 0 && best != NULL) {
		rc = describe(best, out) ? 1 : -1;
		if (rc < 0)
			out->error = xstrdup("cannot encode the chosen certificate");
	} else if (rc == 0 && set.garbage > 0) {
		/* It may have been the good one: the directory failed, not the recipient. */
		out->error = xasprintf("the directory returned %zu value%s that %s no certificate, "
				       "and nothing else usable: %s", set.garbage,
				       set.garbage > 1 ? "s" : "", set.garbage > 1 ? "are" : "is",
				       set.first_garbage);
		rc = -1;
	}
	set_free(&set);
	ERR_clear_error();
	return rc;
}

int certcheck_check_der(struct certcheck *cc, const char *address, const unsigned char *der,
			size_t len, time_t now, char **reason)
{
	const unsigned char *p = der;
	X509 *x;
	int rc;

	ERR_clear_error();
	*reason = NULL;
	if ((x = d2i_X509(NULL, &p, (long)len)) == NULL) {
		char *why = certcheck_openssl_reason("unknown error");
		*reason = xasprintf("not a certificate: %s", why);
		free(why);
		return 0;
	}
	rc = check_one(cc, address, x, NULL, now, reason);
	X509_free(x);
	return rc;
}

int certcheck_parse_one(const unsigned char *der, size_t len, struct cert_choice *out, char **err)
{
	const unsigned char *p = der;
	X509 *x;
	int ok;

	cert_choice_init(out);
	ERR_clear_error();
	*err = NULL;
	if ((x = d2i_X509(NULL, &p, (long)len)) == NULL) {
		char *why = certcheck_openssl_reason("unknown error");
		*err = xasprintf("not a certificate: %s", why);
		free(why);
		return 0;
	}
	ok = describe(x, out);
	if (!ok)
		*err = xstrdup("cannot encode the certificate");
	X509_free(x);
	return ok;
}

void cert_choice_init(struct cert_choice *c)
{
	memset(c, 0, sizeof(*c));
	strlist_init(&c->rejected);
}

void cert_choice_free(struct cert_choice *c)
{
	free(c->der);
	free(c->subject);
	free(c->issuer);
	free(c->fingerprint);
	free(c->error);
	strlist_free(&c->rejected);
	cert_choice_init(c);
}

/*
 * t_certcheck.c - unit tests for certcheck.c on certificates made at test
 * time by tests/lib/mkcerts.sh (top_srcdir from the environment, default
 * "."), in a private temporary directory.
 *
 * A table of single certificates, each judged under a configuration
 * (trust file, CRL file, AcceptSubjectEmail) at an instant relative to
 * now, with the expected verdict and a piece of the reason; then choices
 * among several values (the latest expiry wins, garbage and duplicates,
 * PKCS#7 bundles), the descriptive fields against the openssl tool,
 * configuration errors, and many threads sharing one trust store.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "certcheck.h"
#include "directory.h"
#include "domcerts.h"
#include "tap.h"
#include "util.h"

#define DAY 86400L
#define YEAR (365 * DAY)

static char dir[] = "/tmp/t_certcheck.XXXXXX";
static time_t now;

enum trust { T_BOTH, T_ROOT, T_INTER };
enum crl { C_NONE, C_ALL, C_INTER, C_INTER2 };

static const char *const trust_files[] = { "trust.pem", "trust-root.pem", "trust-inter.pem" };
static const char *const crl_files[] = { NULL, "crl.pem", "crl-inter.pem", "ca/inter2/crl.pem" };

struct row {
	const char *file;	/* NAME.der, or NAME.p7b for a bundle */
	const char *address;
	enum trust trust;
	enum crl crl;
	bool subject_email;	/* AcceptSubjectEmail */
	long offset;		/* judged at now + offset */
	int valid;
	const char *why;	/* in the rejection, when not valid */
};

static const struct row rows[] = {
	{ "valid.der", "valid@example.dk", T_BOTH, C_NONE, false, 0, 1, NULL },
	{ "valid.der", "valid@EXAMPLE.DK", T_BOTH, C_NONE, false, 0, 1, NULL },
	{ "valid.der", "valid@Example.Dk", T_BOTH, C_NONE, false, 0, 1, NULL },
	{ "valid.der", "Valid@example.dk", T_BOTH, C_NONE, false, 0, 0,
	  "Valid@example.dk is not in subjectAltName (it names valid@example.dk)" },
	{ "valid.der", "valid@example.dk.evil.com", T_BOTH, C_NONE, false, 0, 0, "not in subjectAltName" },
	{ "valid.der", "xvalid@example.dk", T_BOTH, C_NONE, false, 0, 0, "not in subjectAltName" },
	{ "valid.der", "valid@example.d", T_BOTH, C_NONE, false, 0, 0, "not in subjectAltName" },
	{ "valid.der", "valid@example.dk", T_INTER, C_NONE, false, 0, 1, NULL },
	{ "valid.der", "valid@example.dk", T_ROOT, C_NONE, false, 0, 0,
	  "chain does not verify: unable to get local issuer certificate" },
	{ "valid.der", "valid@example.dk", T_BOTH, C_ALL, false, 0, 1, NULL },
	{ "valid.der", "valid@example.dk", T_BOTH, C_NONE, false, 2 * YEAR, 0, "expired on" },
	{ "valid.der", "valid@example.dk", T_BOTH, C_NONE, false, -2 * DAY, 0, "not valid before" },
	{ "mixedcase.der", "Mixed.Case@example.dk", T_BOTH, C_NONE, false, 0, 1, NULL },
	{ "mixedcase.der", "mixed.case@example.dk", T_BOTH, C_NONE, false, 0, 0,
	  "not in subjectAltName (it names Mixed.Case@EXAMPLE.DK)" },
	{ "expired.der", "expired@example.dk", T_BOTH, C_NONE, false, 0, 0, "expired on" },
	{ "expired.der", "expired@example.dk", T_BOTH, C_NONE, false, -YEAR - YEAR / 2, 1, NULL },
	{ "notyet.der", "notyet@example.dk", T_BOTH, C_NONE, false, 0, 0, "not valid before" },
	{ "notyet.der", "notyet@example.dk", T_BOTH, C_NONE, false, YEAR + YEAR / 2, 1, NULL },
	{ "wrongaddr.der", "wrongaddr@example.dk", T_BOTH, C_NONE, false, 0, 0,
	  "wrongaddr@example.dk is not in subjectAltName (it names someone.else@example.dk)" },
	{ "wrongaddr.der", "someone.else@example.dk", T_BOTH, C_NONE, false, 0, 1, NULL },
	{ "subjonly.der", "subjonly@example.dk", T_BOTH, C_NONE, false, 0, 0,
	  "only in the subject's emailAddress, not in subjectAltName (AcceptSubjectEmail is off)" },
	{ "subjonly.der", "subjonly@example.dk", T_BOTH, C_NONE, true, 0, 1, NULL },
	{ "subjonly.der", "other@example.dk", T_BOTH, C_NONE, true, 0, 0, "no rfc822Name" },
	{ "valid.der", "valid@example.dk", T_BOTH, C_NONE, true, 0, 1, NULL },
	{ "noeku.der", "noeku@example.dk", T_BOTH, C_NONE, false, 0, 0,
	  "extendedKeyUsage does not include emailProtection" },
	{ "nokeyenc.der", "nokeyenc@example.dk", T_BOTH, C_NONE, false, 0, 0,
	  "keyUsage does not include keyEncipherment" },
	{ "untrusted.der", "untrusted@example.dk", T_BOTH, C_NONE, false, 0, 0,
	  "chain does not verify: unable to get local issuer certificate" },
	{ "missinginter.der", "missinginter@example.dk", T_BOTH, C_NONE, false, 0, 0,
	  "chain does not verify: unable to get local issuer certificate" },
	{ "revoked.der", "revoked@example.dk", T_BOTH, C_NONE, false, 0, 1, NULL },
	{ "revoked.der", "revoked@example.dk", T_BOTH, C_ALL, false, 0, 0,
	  "chain does not verify: certificate revoked" },
	{ "revoked.der", "revoked@example.dk", T_BOTH, C_INTER, false, 0, 0, "certificate revoked" },
	{ "weak.der", "weak@example.dk", T_BOTH, C_NONE, false, 0, 0,
	  "RSA key of 1024 bits is too weak (minimum 2048)" },
	{ "ec.der", "ec@example.dk", T_BOTH, C_NONE, false, 0, 1, NULL },
	{ "star.der", "star*name@example.dk", T_BOTH, C_NONE, false, 0, 1, NULL },
	{ "star.der", "star*@example.dk", T_BOTH, C_NONE, false, 0, 0, "not in subjectAltName" },
	{ "bundle.p7b", "bundle@example.dk", T_BOTH, C_NONE, false, 0, 1, NULL },
	{ "bundle.p7b", "bundle@example.dk", T_BOTH, C_ALL, false, 0, 1, NULL },
	/* no CRL of the issuer: cannot be judged now (-1, a temporary failure) */
	{ "bundle.p7b", "bundle@example.dk", T_BOTH, C_INTER, false, 0, -1,
	  "unable to get certificate CRL" },
	/* the leaf's issuer has its CRL, but that issuer's own issuer (root) has none */
	{ "bundle.p7b", "bundle@example.dk", T_BOTH, C_INTER2, false, 0, -1,
	  "CA CN=Test Other Issuing CA,O=Sikkermail Test,C=DK: chain does not verify: unable to get "
	  "certificate CRL" },
	{ "bundle.der", "bundle@example.dk", T_BOTH, C_NONE, false, 0, 0,
	  "unable to get local issuer certificate" },
	{ "ca/inter/ca.der", "valid@example.dk", T_BOTH, C_NONE, false, 0, 0,
	  "a CA certificate, not a personal one" },
	/* domain certificates: judged for a bare domain (DomainCertificates) */
	{ "dom-partner.der", "partner.dk", T_BOTH, C_NONE, false, 0, 1, NULL },
	{ "dom-partner.der", "Partner.DK", T_BOTH, C_NONE, false, 0, 1, NULL },
	{ "dom-partner.der", "partner.dk", T_BOTH, C_ALL, false, 0, 1, NULL },
	{ "dom-partner.der", "other.dk", T_BOTH, C_NONE, false, 0, 0,
	  "the domain other.dk is not in subjectAltName (it names partner.dk)" },
	{ "dom-partner.der", "x.partner.dk", T_BOTH, C_NONE, false, 0, 0,
	  "the domain x.partner.dk is not in subjectAltName" },
	{ "dom-partner.der", "partner.dk.evil.com", T_BOTH, C_NONE, false, 0, 0,
	  "not in subjectAltName" },
	{ "dom-partner.der", "anna@partner.dk", T_BOTH, C_NONE, false, 0, 0,
	  "anna@partner.dk is not in the certificate (no rfc822Name" },
	{ "dom-partner.der", "partner.dk", T_ROOT, C_NONE, false, 0, 0,
	  "chain does not verify: unable to get local issuer certificate" },
	{ "dom-partner.der", "partner.dk", T_BOTH, C_NONE, false, 2 * YEAR, 0, "expired on" },
	{ "dom-email.der", "partner.dk", T_BOTH, C_NONE, false, 0, 1, NULL },
	{ "dom-wild.der", "partner.dk", T_BOTH, C_NONE, false, 0, 0,
	  "the domain partner.dk is not in subjectAltName (it names *.partner.dk)" },
	{ "dom-wild.der", "x.partner.dk", T_BOTH, C_NONE, false, 0, 0, "(it names *.partner.dk)" },
	{ "dom-mailbox.der", "partner.dk", T_BOTH, C_NONE, false, 0, 0,
	  "(it names someone@partner.dk)" },
	{ "valid.der", "example.dk", T_BOTH, C_NONE, false, 0, 0, "(it names valid@example.dk)" },
	{ "subjonly.der", "example.dk", T_BOTH, C_NONE, true, 0, 0,
	  "the domain example.dk is not in the certificate (no dNSName" },
	{ "dom-expired.der", "expired-partner.dk", T_BOTH, C_NONE, false, 0, 0, "expired on" },
	{ "dom-noeku.der", "noeku-partner.dk", T_BOTH, C_NONE, false, 0, 0,
	  "extendedKeyUsage does not include emailProtection" },
	{ "dom-dir.der", "dirpartner.dk", T_BOTH, C_NONE, false, 0, 1, NULL },
	{ "dom-revoked.der", "revoked-partner.dk", T_BOTH, C_NONE, false, 0, 1, NULL },
	{ "dom-revoked.der", "revoked-partner.dk", T_BOTH, C_ALL, false, 0, 0,
	  "certificate revoked" },
};

/* ------------------------------------------------------------ helpers */

static char *path_of(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static unsigned char *slurp(const char *name, size_t *len)
{
	char *path = path_of(name);
	FILE *fp = fopen(path, "rb");
	struct strbuf sb;
	char buf[4096];
	size_t n;

	if (fp == NULL) {
		printf("Bail out! cannot open %s\n", path);
		exit(1);
	}
	sb_init(&sb);
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
		sb_addmem(&sb, buf, n);
	fclose(fp);
	free(path);
	*len = sb.len;
	return (unsigned char *)sb.s;
}

/* run - a shell command's first output line, without the newline. */
static char *run(const char *cmd)
{
	FILE *fp = popen(cmd, "r");
	char line[1024] = "";

	if (fp == NULL || fgets(line, sizeof(line), fp) == NULL)
		line[0] = '\0';
	if (fp)
		pclose(fp);
	line[strcspn(line, "\n")] = '\0';
	return xstrdup(line);
}

static void result_add(struct dir_result *r, const char *name)
{
	struct dir_value *v;
	size_t len = strlen(name);

	r->values = xrealloc(r->values, (r->n_values + 1) * sizeof(*r->values));
	v = &r->values[r->n_values++];
	v->data = slurp(name, &v->len);
	v->kind = len > 4 && strcmp(name + len - 4, ".p7b") == 0 ? DIR_PKCS7_DER : DIR_X509_DER;
}

static void result_add_raw(struct dir_result *r, const char *bytes, size_t len,
			   enum dir_value_kind kind)
{
	r->values = xrealloc(r->values, (r->n_values + 1) * sizeof(*r->values));
	r->values[r->n_values].data = xmalloc(len);
	memcpy(r->values[r->n_values].data, bytes, len);
	r->values[r->n_values].len = len;
	r->values[r->n_values++].kind = kind;
}

static void result_clear(struct dir_result *r)
{
	for (size_t i = 0; i < r->n_values; i++)
		free(r->values[i].data);
	free(r->values);
	memset(r, 0, sizeof(*r));
}

static struct certcheck *new_check(enum trust t, enum crl c, bool subject_email)
{
	struct config cfg;
	struct certcheck *cc;
	char *err = NULL;

	memset(&cfg, 0, sizeof(cfg));
	cfg.trusted_ca_file = path_of(trust_files[t]);
	cfg.crl_file = crl_files[c] ? path_of(crl_files[c]) : NULL;
	cfg.accept_subject_email = subject_email;
	cc = certcheck_new(&cfg, &err);
	if (cc == NULL) {
		printf("Bail out! certcheck_new: %s\n", err);
		exit(1);
	}
	free(cfg.trusted_ca_file);
	free(cfg.crl_file);
	return cc;
}

static bool rejected_has(const struct cert_choice *c, const char *what)
{
	for (size_t i = 0; i < c->rejected.n; i++)
		if (strstr(c->rejected.v[i], what))
			return true;
	return false;
}

static void diag_rejected(const struct cert_choice *c)
{
	for (size_t i = 0; i < c->rejected.n; i++)
		diag("rejected: %s", c->rejected.v[i]);
	if (c->error)
		diag("error: %s", c->error);
}

/* -------------------------------------------------------------- tests */

static void test_rows(void)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct certcheck *cc = new_check(r->trust, r->crl, r->subject_email);
		struct dir_result found = { 0 };
		struct cert_choice c;
		int got;

		result_add(&found, r->file);
		got = certcheck_choose(cc, r->address, &found, now + r->offset, &c);
		if (!is_int(got, r->valid, "%s for <%s> (%s, CRL %s%s, now%+ld d): %s", r->file,
			    r->address, trust_files[r->trust], crl_files[r->crl] ? crl_files[r->crl] : "none",
			    r->subject_email ? ", AcceptSubjectEmail" : "", r->offset / DAY,
			    r->valid > 0 ? "valid" : r->valid < 0 ? "cannot judge now" : "rejected"))
			diag_rejected(&c);
		if (r->valid < 0) {
			ok(c.der == NULL && c.error != NULL && strstr(c.error, r->why) != NULL,
			   "%s: no certificate chosen, the error says \"%s\"", r->file, r->why);
		} else if (r->valid) {
			ok(c.der != NULL && c.rejected.n == 0, "%s: chosen, nothing rejected", r->file);
		} else {
			ok(c.der == NULL && c.rejected.n == 1 && rejected_has(&c, r->why),
			   "%s: one rejection saying \"%s\"", r->file, r->why);
			if (c.rejected.n != 1 || !rejected_has(&c, r->why))
				diag_rejected(&c);
		}
		cert_choice_free(&c);
		result_clear(&found);
		certcheck_free(cc);
	}
}

static void test_choice_fields(struct certcheck *cc)
{
	struct dir_result found = { 0 };
	struct cert_choice c;
	char *cmd, *fp, *want;
	size_t len;
	unsigned char *der = slurp("valid.der", &len);

	result_add(&found, "valid.der");
	is_int(certcheck_choose(cc, "valid@example.dk", &found, now, &c), 1, "valid: chosen");
	ok(c.der_len == len && memcmp(c.der, der, len) == 0, "valid: the DER is the certificate's");
	is_str(c.subject, "CN=Søren Ærø Valid,O=Example,C=DK", "valid: subject, RFC 2253, UTF-8 kept");
	is_str(c.issuer, "CN=Test Issuing CA,O=Sikkermail Test,C=DK", "valid: issuer");
	cmd = xasprintf("openssl x509 -inform DER -in %s/valid.der -noout -fingerprint -sha256", dir);
	fp = run(cmd);
	want = strchr(fp, '=') ? strchr(fp, '=') + 1 : fp;
	is_str(c.fingerprint, want, "valid: SHA-256 fingerprint as openssl prints it");
	free(cmd);
	free(fp);
	cmd = xasprintf("date -u -d \"$(openssl x509 -inform DER -in %s/valid.der -noout "
			"-enddate | cut -d= -f2)\" +%%s", dir);
	fp = run(cmd);
	is_int(c.not_after, atoll(fp), "valid: notAfter");
	free(cmd);
	free(fp);
	ok(c.not_before <= now - DAY + 60 && c.not_before >= now - DAY - 3600, "valid: notBefore is yesterday");
	cert_choice_free(&c);
	ok(c.der == NULL && c.subject == NULL && c.rejected.n == 0, "cert_choice_free leaves it empty");
	result_clear(&found);
	free(der);
}

/* choose - run certcheck_choose over files; returns the verdict, fills c. */
static int choose(struct certcheck *cc, const char *address, const char *const *files,
		  struct cert_choice *c)
{
	struct dir_result found = { 0 };
	int rc;

	for (size_t i = 0; files[i] != NULL; i++)
		result_add(&found, files[i]);
	rc = certcheck_choose(cc, address, &found, now, c);
	result_clear(&found);
	return rc;
}

static void test_several(struct certcheck *cc)
{
	static const char *const ab[] = { "two-a.der", "two-b.der", NULL };
	static const char *const ba[] = { "two-b.der", "two-a.der", NULL };
	static const char *const mixed[] = { "expired.der", "valid.der", "notyet.der", "weak.der", NULL };
	static const char *const twice[] = { "valid.der", "valid.der", NULL };
	static const char *const none_valid[] = { "expired.der", "untrusted.der", NULL };
	struct cert_choice b, c;
	size_t len;
	unsigned char *der = slurp("two-b.der", &len);
	char *err;

	is_int(certcheck_parse_one(der, len, &b, &err), 1, "parse_one: two-b parses");
	is_int(choose(cc, "twocerts@example.dk", ab, &c), 1, "two valid (a, b): one chosen");
	is_str(c.fingerprint, b.fingerprint, "two valid (a, b): the one that expires last (b)");
	ok(c.not_after > now + 399 * DAY, "two valid: its notAfter is 400 days away");
	cert_choice_free(&c);
	is_int(choose(cc, "twocerts@example.dk", ba, &c), 1, "two valid (b, a): one chosen");
	is_str(c.fingerprint, b.fingerprint, "two valid (b, a): still b");
	cert_choice_free(&c);
	cert_choice_free(&b);
	free(der);

	is_int(choose(cc, "valid@example.dk", mixed, &c), 1, "one valid among four: chosen");
	ok(c.subject && strstr(c.subject, "Valid") != NULL, "one valid among four: the valid one");
	is_int(c.rejected.n, 3, "one valid among four: three rejections, one per other certificate");
	ok(rejected_has(&c, "CN=Test expired,O=Example,C=DK: ") &&
	   rejected_has(&c, "CN=Test weak,O=Example,C=DK: "), "rejections read \"subject: reason\"");
	cert_choice_free(&c);

	is_int(choose(cc, "valid@example.dk", twice, &c), 1, "the same certificate twice: chosen");
	is_int(c.rejected.n, 0, "the same certificate twice: counted once, nothing rejected");
	cert_choice_free(&c);

	is_int(choose(cc, "expired@example.dk", none_valid, &c), 0, "none valid: 0");
	is_int(c.rejected.n, 2, "none valid: both rejected");
	ok(c.der == NULL && c.fingerprint == NULL && c.error == NULL, "none valid: nothing chosen, no error");
	cert_choice_free(&c);
}

static void test_garbage(struct certcheck *cc)
{
	static const char junk[] = "\x30\x82\x01\x00 this is not DER at all";
	struct dir_result found = { 0 };
	struct cert_choice c;
	char *err = NULL, *reason = NULL;

	result_add_raw(&found, junk, sizeof(junk) - 1, DIR_X509_DER);
	result_add_raw(&found, junk, sizeof(junk) - 1, DIR_PKCS7_DER);
	result_add_raw(&found, "", 0, DIR_X509_DER);
	result_add(&found, "valid.der");
	is_int(certcheck_choose(cc, "valid@example.dk", &found, now, &c), 1,
	       "garbage next to a valid certificate: the valid one is chosen");
	is_int(c.rejected.n, 3, "garbage: each bad value rejected");
	ok(rejected_has(&c, "(value 1, userCertificate): not a certificate: "),
	   "garbage userCertificate: named as such, with OpenSSL's reason");
	ok(rejected_has(&c, "(value 2, userSMIMECertificate): not a PKCS#7 certificate bundle"),
	   "garbage userSMIMECertificate: named as such");
	ok(rejected_has(&c, "(value 3, userCertificate)"), "an empty value: rejected");
	diag_rejected(&c);
	cert_choice_free(&c);
	result_clear(&found);

	/* A certificate sent as a bundle: garbage, so the directory failed. */
	result_add(&found, "valid.der");
	found.values[0].kind = DIR_PKCS7_DER;
	is_int(certcheck_choose(cc, "valid@example.dk", &found, now, &c), -1,
	       "only garbage (a certificate presented as a PKCS#7 bundle): -1, the directory failed");
	ok(rejected_has(&c, "not a PKCS#7"), "... rejected as such");
	ok(c.error && strstr(c.error, "the directory returned 1 value that is no certificate"),
	   "... and the error says so: %s", c.error ? c.error : "NULL");
	ok(c.der == NULL, "... nothing chosen");
	cert_choice_free(&c);
	result_clear(&found);

	result_add(&found, "expired.der");
	result_add_raw(&found, junk, sizeof(junk) - 1, DIR_X509_DER);
	is_int(certcheck_choose(cc, "expired@example.dk", &found, now, &c), -1,
	       "an invalid certificate and garbage: -1 (the garbage may have been the good one)");
	is_int(c.rejected.n, 2, "... both rejected");
	cert_choice_free(&c);
	result_clear(&found);

	is_int(certcheck_choose(cc, "valid@example.dk", NULL, now, &c), 0, "no answer: 0");
	is_int(c.rejected.n, 0, "no answer: nothing rejected");
	cert_choice_free(&c);
	ok(certcheck_choose(cc, "valid@example.dk", &found, now, &c) == 0 && c.rejected.n == 0,
	   "no values: 0, nothing rejected");
	cert_choice_free(&c);

	is_int(certcheck_parse_one((const unsigned char *)junk, sizeof(junk) - 1, &c, &err), 0,
	       "parse_one: garbage does not parse");
	ok(err && strncmp(err, "not a certificate: ", 19) == 0, "parse_one: says why (%s)", err ? err : "NULL");
	free(err);
	cert_choice_free(&c);
	is_int(certcheck_check_der(cc, "valid@example.dk", (const unsigned char *)junk, 5, now, &reason), 0,
	       "check_der: garbage is not valid");
	free(reason);
}

static void test_check_der(struct certcheck *cc)
{
	size_t len;
	unsigned char *der = slurp("valid.der", &len);
	char *reason = NULL;

	is_int(certcheck_check_der(cc, "valid@example.dk", der, len, now, &reason), 1, "check_der: valid");
	ok(reason == NULL, "check_der: no reason when valid");
	is_int(certcheck_check_der(cc, "valid@example.dk", der, len, now + 2 * YEAR, &reason), 0,
	       "check_der: valid two years later: expired");
	ok(reason && strstr(reason, "expired on "), "check_der: reason (%s)", reason ? reason : "NULL");
	free(reason);
	free(der);
	der = slurp("bundle.der", &len);
	is_int(certcheck_check_der(cc, "bundle@example.dk", der, len, now, &reason), 0,
	       "check_der: a leaf whose intermediate only came in its bundle does not verify alone");
	free(reason);
	free(der);
}

static void test_new_errors(void)
{
	static const struct {
		const char *trust, *crl, *why;
	} cases[] = {
		{ NULL, NULL, "TrustedCAFile is not set" },
		{ "", NULL, "TrustedCAFile is not set" },
		{ "no-such-file.pem", NULL, "no-such-file.pem: No such file or directory" },
		{ "valid.key", NULL, "no certificate" },
		{ "leaves.txt", NULL, "no certificate" },
		{ "trust.pem", "no-such-crl.pem", "CRLFile " },
		{ "trust.pem", "trust.pem", "CRLFile " },
		{ "trust.pem", "leaves.txt", "CRLFile " },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config cfg;
		char *err = NULL;
		struct certcheck *cc;

		memset(&cfg, 0, sizeof(cfg));
		cfg.trusted_ca_file = cases[i].trust == NULL ? NULL :
				      cases[i].trust[0] ? path_of(cases[i].trust) : xstrdup("");
		cfg.crl_file = cases[i].crl ? path_of(cases[i].crl) : NULL;
		cc = certcheck_new(&cfg, &err);
		ok(cc == NULL, "certcheck_new(%s, %s) fails", cases[i].trust ? cases[i].trust : "NULL",
		   cases[i].crl ? cases[i].crl : "NULL");
		ok(err && strstr(err, cases[i].why), "... saying \"%s\" (%s)", cases[i].why, err ? err : "NULL");
		free(err);
		certcheck_free(cc);
		free(cfg.trusted_ca_file);
		free(cfg.crl_file);
	}
	certcheck_free(NULL);
	ok(1, "certcheck_free(NULL) is harmless");
}

/* Many threads, one store: the same answers everywhere. */
struct worker {
	struct certcheck *cc;
	int good;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	static const char *const files[] = { "valid.der", "revoked.der", "two-a.der", NULL };
	static const char *const addrs[] = { "valid@example.dk", "revoked@example.dk", "twocerts@example.dk" };
	static const int want[] = { 1, 0, 1 };

	for (int i = 0; i < 60; i++) {
		struct dir_result found = { 0 };
		struct cert_choice c;

		result_add(&found, files[i % 3]);
		if (certcheck_choose(w->cc, addrs[i % 3], &found, now, &c) == want[i % 3])
			w->good++;
		cert_choice_free(&c);
		result_clear(&found);
	}
	return NULL;
}

static void test_threads(void)
{
	struct certcheck *cc = new_check(T_BOTH, C_ALL, false);
	struct worker w[8];
	pthread_t t[8];
	int good = 0;

	for (int i = 0; i < 8; i++) {
		w[i] = (struct worker){ cc, 0 };
		pthread_create(&t[i], NULL, worker_run, &w[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		good += w[i].good;
	}
	is_int(good, 8 * 60, "8 threads x 60 checks on one store: every verdict right");
	certcheck_free(cc);
}

/* pem - the text of a PEM file made by mkcerts.sh. */
static char *pem(const char *name)
{
	size_t len;
	char *s = (char *)slurp(name, &len);

	s = xrealloc(s, len + 1);
	s[len] = '\0';
	return s;
}

/* parse - domcerts_parse of text at now with the default trust; the errors joined by "|". */
static int parse(struct certcheck *cc, const char *text, struct domain_certs *out, char **errs)
{
	struct strlist errors;
	struct strbuf sb;
	int rc;

	strlist_init(&errors);
	rc = domcerts_parse("certs.txt", text, strlen(text), cc, now, out, &errors);
	sb_init(&sb);
	for (size_t i = 0; i < errors.n; i++)
		sb_printf(&sb, "%s%s", i ? "|" : "", errors.v[i]);
	*errs = sb.s;
	strlist_free(&errors);
	return rc;
}

static void test_domcerts(struct certcheck *cc)
{
	char *partner = pem("dom-partner.pem"), *email = pem("dom-email.pem");
	char *expired = pem("dom-expired.pem"), *noeku = pem("dom-noeku.pem");
	char *wild = pem("dom-wild.pem"), *text, *errs, *fp;
	struct domain_certs l;
	int rc;

	/* a good file: comments, blank lines, CRLF, an IDNA domain, two certificates */
	text = xasprintf("# partner certificates\n\n  domain Partner.DK.\r\n%s\n%s"
			 "# the end\n", partner, email);
	rc = parse(cc, text, &l, &errs);
	is_int(rc, 0, "domcerts: a good file parses");
	ok(errs[0] == '\0', "domcerts: no errors (%s)", errs);
	is_int((long)l.n, 2, "domcerts: two certificates");
	if (l.n == 2) {
		is_str(l.v[0].domain, "partner.dk", "domcerts: the domain is normalised");
		is_int(l.v[0].line, 4, "domcerts: the first certificate begins on line 4");
		char *cmd = xasprintf("openssl x509 -in '%s/dom-partner.pem' -noout -fingerprint "
				      "-sha256 | sed 's/.*=//'", dir);

		fp = run(cmd);
		free(cmd);
		is_str(l.v[0].fingerprint, fp, "domcerts: the fingerprint of dom-partner.pem");
		free(fp);
		ok(l.v[1].der_len > 0 && l.v[1].not_after > now, "domcerts: the second is kept too");
	}
	domain_certs_free(&l);
	free(text);
	free(errs);

	/* the same certificate twice for a domain: the database would keep one, count two */
	text = xasprintf("domain partner.dk\n%s\n%s", partner, partner);
	rc = parse(cc, text, &l, &errs);
	ok(rc < 0 && l.n == 0, "domcerts: a repeated certificate refuses the file");
	ok(strstr(errs, ": the same certificate for partner.dk as on line 2") != NULL &&
	   strncmp(errs, "certs.txt:", 10) == 0,
	   "domcerts: the repeat named FILE:LINE, with the first's line (%s)", errs);
	free(text);
	free(errs);

	text = xasprintf("domain bücher.example\n%s", partner);
	rc = parse(cc, text, &l, &errs);
	ok(rc < 0 && strstr(errs, "certs.txt:2: the certificate for xn--bcher-kva.example is "
			    "not valid: the domain xn--bcher-kva.example is not in subjectAltName"),
	   "domcerts: a UTF-8 domain becomes IDNA, and the certificate must name it (%s)", errs);
	free(text);
	free(errs);

	/* every bad line is reported, and nothing is returned */
	text = xasprintf("%s"				/* 1..n: before any domain */
			 "domain partner.dk\n"
			 "nonsense here\n"
			 "domain expired-partner.dk\n%s"
			 "domain noeku-partner.dk\n%s"
			 "domain partner.dk\n%s"
			 "domain a b\n"
			 "domain -bad-.dk\n"
			 "domain dk\n"
			 "domain empty.dk\n"
			 "domain partner.dk\n"
			 "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n"
			 "domain partner.dk\n-----BEGIN CERTIFICATE-----\nMIIB\n",
			 partner, expired, noeku, wild);
	rc = parse(cc, text, &l, &errs);
	is_int(rc, -1, "domcerts: a bad file is refused");
	is_int((long)l.n, 0, "domcerts: nothing returned from a bad file");
	ok(strstr(errs, "certs.txt:1: a certificate before any \"domain\" line") != NULL,
	   "domcerts: a certificate before any domain line, with its line");
	{
		/* the line numbers after the first PEM block */
		long pl = 0;
		for (const char *p = partner; *p; p++)
			pl += *p == '\n';
		long el = 0, nl = 0;
		for (const char *p = expired; *p; p++)
			el += *p == '\n';
		for (const char *p = noeku; *p; p++)
			nl += *p == '\n';
		char *want;

		want = xasprintf("certs.txt:%ld: expected \"domain NAME\" or a PEM certificate",
				 pl + 2);
		ok(strstr(errs, want) != NULL, "domcerts: an unknown line (%s)", want);
		free(want);
		want = xasprintf("certs.txt:%ld: the certificate for expired-partner.dk is not "
				 "valid: expired on", pl + 4);
		ok(strstr(errs, want) != NULL, "domcerts: an expired certificate (%s)", want);
		free(want);
		want = xasprintf("certs.txt:%ld: the certificate for noeku-partner.dk is not valid: "
				 "extendedKeyUsage does not include emailProtection", pl + 5 + el);
		ok(strstr(errs, want) != NULL, "domcerts: a wrong EKU (%s)", want);
		free(want);
		want = xasprintf("certs.txt:%ld: the certificate for partner.dk is not valid: the "
				 "domain partner.dk is not in subjectAltName (it names *.partner.dk)",
				 pl + 6 + el + nl);
		ok(strstr(errs, want) != NULL, "domcerts: a wildcard does not name it (%s)", want);
		free(want);
	}
	ok(strstr(errs, "expected \"domain NAME\"|") != NULL, "domcerts: \"domain a b\" refused");
	ok(strstr(errs, ": -bad-.dk: ") != NULL, "domcerts: a bad domain refused (%s)", errs);
	ok(strstr(errs, ": dk is a whole top-level domain") != NULL, "domcerts: a TLD refused");
	ok(strstr(errs, ": no certificate for empty.dk") != NULL,
	   "domcerts: a domain without a certificate refused");
	ok(strstr(errs, "not a PEM certificate (it cannot be decoded)") != NULL,
	   "domcerts: an undecodable PEM block refused");
	ok(strstr(errs, "the certificate has no \"-----END CERTIFICATE-----\" line") != NULL,
	   "domcerts: an unterminated PEM block refused");
	domain_certs_free(&l);
	free(text);
	free(errs);

	rc = parse(cc, "", &l, &errs);
	ok(rc == 0 && l.n == 0, "domcerts: an empty file is an empty set");
	free(errs);
	free(partner);
	free(email);
	free(expired);
	free(noeku);
	free(wild);
}

int main(void)
{
	const char *top = getenv("top_srcdir");
	struct certcheck *cc;
	char *cmd;

	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	cmd = xasprintf("bash '%s/tests/lib/mkcerts.sh' '%s' && openssl x509 -in '%s/ca/inter/ca.pem' "
			"-outform DER -out '%s/ca/inter/ca.der'", top ? top : ".", dir, dir, dir);
	if (system(cmd) != 0) {
		printf("Bail out! %s failed\n", cmd);
		return 1;
	}
	free(cmd);
	/* After mkcerts.sh: its CRLs are not valid before they were made. */
	now = time(NULL);

	test_rows();
	cc = new_check(T_BOTH, C_NONE, false);
	test_choice_fields(cc);
	test_several(cc);
	test_garbage(cc);
	test_check_der(cc);
	test_domcerts(cc);
	certcheck_free(cc);
	test_new_errors();
	test_threads();

	if (getenv("SIKKERMAIL_KEEP_TMP") == NULL) {
		cmd = xasprintf("rm -rf '%s'", dir);
		if (system(cmd) != 0)
			diag("could not remove %s", dir);
		free(cmd);
	} else {
		diag("kept %s", dir);
	}
	return done_testing();
}

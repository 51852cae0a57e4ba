/*
 * fuzz_certs.c - certificates as a directory returns them (certcheck.c):
 * the value of userCertificate (one DER certificate) and of
 * userSMIMECertificate (a DER PKCS#7 bundle), judged for an address
 * against a trust store with CRLs, as certs.c does after an LDAP search.
 *
 * Input: optionally "address\n" (any first byte but 0x30, the start of a
 * DER SEQUENCE), then the value; without it the address is
 * valid@example.dk. The value is offered once as each attribute kind.
 * Invariants: certcheck_choose answers 1 with a described certificate,
 * 0 with a reason per candidate, or -1 with an error; the one-certificate
 * check (certcheck_check_der, used on cached certificates) agrees that a
 * certificate chosen from a userCertificate value is valid.
 */
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#include "certcheck.h"
#include "config.h"
#include "fuzz.h"
#include "fuzz_certs_pki.h"

static struct certcheck *cc;

static char *write_temp(const char *dir, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "we");

	if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0)
		abort();
	return path;
}

/* LLVMFuzzerInitialize - load the trust store once, from a private temporary directory. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[] = "/tmp/sikkermail-fuzz-XXXXXX";
	struct strlist errors = { 0 };
	char *trust, *crl, *text, *err = NULL;
	struct config *cfg;

	fuzz_quiet();
	if (mkdtemp(dir) == NULL)
		abort();
	trust = write_temp(dir, "trust.pem", fuzz_trust_pem);
	crl = write_temp(dir, "crl.pem", fuzz_crl_pem);
	text = xasprintf("TrustedCAFile %s\nCRLFile %s\n", trust, crl);
	if ((cfg = config_parse("fuzz.conf", text, strlen(text), &errors)) == NULL ||
	    (cc = certcheck_new(cfg, &err)) == NULL) {
		fprintf(stderr, "fuzz_certs: %s\n", err != NULL ? err : errors.n ? errors.v[0] : "?");
		abort();
	}
	unlink(trust);
	unlink(crl);
	rmdir(dir);
	config_unref(cfg);
	strlist_free(&errors);
	free(text);
	free(trust);
	free(crl);
	return 0;
}

static void check_choice(int rc, const struct cert_choice *c)
{
	FUZZ_ASSERT(rc >= -1 && rc <= 1);
	if (rc == 1)
		FUZZ_ASSERT(c->der != NULL && c->subject != NULL && c->issuer != NULL &&
			    c->fingerprint != NULL && c->not_before <= c->not_after);
	if (rc == -1)
		FUZZ_ASSERT(c->error != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *address = "valid@example.dk";
	const uint8_t *nl;
	char *addr = NULL, *reason = NULL, *err = NULL;
	struct dir_value v;
	struct dir_result found = { .values = &v, .n_values = 1, .n_entries = 1 };
	struct cert_choice c;
	int rc;

	if (size > 0 && data[0] != 0x30 && (nl = memchr(data, '\n', size < 256 ? size : 256))) {
		address = addr = xstrndup((const char *)data, (size_t)(nl - data));
		size -= (size_t)(nl - data) + 1;
		data = nl + 1;
	}
	v = (struct dir_value){ (unsigned char *)data, size, DIR_X509_DER };
	rc = certcheck_choose(cc, address, &found, FUZZ_CERTS_NOW, &c);
	check_choice(rc, &c);
	if (rc == 1) {
		FUZZ_ASSERT(certcheck_check_der(cc, address, c.der, c.der_len, FUZZ_CERTS_NOW,
						&reason) == 1);
		free(reason);
	}
	cert_choice_free(&c);

	v.kind = DIR_PKCS7_DER;
	rc = certcheck_choose(cc, address, &found, FUZZ_CERTS_NOW, &c);
	check_choice(rc, &c);
	cert_choice_free(&c);

	rc = certcheck_check_der(cc, address, data, size, FUZZ_CERTS_NOW, &reason);
	FUZZ_ASSERT(rc == 1 || reason != NULL);
	free(reason);
	if (certcheck_parse_one(data, size, &c, &err) == 1)
		FUZZ_ASSERT(c.subject != NULL && c.fingerprint != NULL);
	cert_choice_free(&c);
	free(err);
	free(addr);
	return 0;
}

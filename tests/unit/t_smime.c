/*
 * t_smime.c - unit tests for smime.c and smime_text.c.
 *
 * Makes a test CA, a function mailbox certificate and two recipient
 * certificates (one RSA, one EC) with the openssl command in a private
 * temporary directory, builds encrypted messages, and checks them with
 * `openssl cms`, independently of our code: every recipient and the
 * mailbox can decrypt; the content is multipart/signed, verifies against
 * the CA and holds the original message byte for byte; nothing of the
 * original is visible outside; the outer headers are right; both ciphers.
 * Also: key file refusals, error reporting, threads, the already-encrypted
 * table, the loop-safety marker (a known answer computed elsewhere, and
 * every way a marker must be refused), and the peak memory for a 20 MB
 * message.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "smime.h"
#include "tap.h"
#include "tfiles.h"
#include "util.h"

#define MAILBOX "sikker@kp.test"
#define R1 "alice@example.test"
#define R2 "bob@example.org"
#define CANARY_SUBJECT "CANARY-SUBJ-91c2"
#define CANARY_BODY "CANARY-BODY-5e7d"

static const char *openssl_bin = "openssl";
static struct smime_key *mailbox_key;
static unsigned char *r1_der, *r2_der;
static size_t r1_len, r2_len;

static const char original_lf[] =
	"Return-Path: <hanne@kp.test>\n"
	"From: Hanne Person <hanne@kp.test>\n"
	"To: alice@example.test, bob@example.org\n"
	"Subject: Sag 4711 " CANARY_SUBJECT "\n"
	"Date: Sun, 29 Nov 2026 10:00:00 +0100\n"
	"Message-ID: <orig-1@kp.test>\n"
	"X-KP-Personal: yes\n"
	"MIME-Version: 1.0\n"
	"Content-Type: text/plain; charset=utf-8\n"
	"Content-Transfer-Encoding: 8bit\n"
	"\n"
	"Hej Alice,\n"
	"her er oplysningerne: " CANARY_BODY " (\xc3\xa6\xc3\xb8\xc3\xa5).\n"
	".a line that starts with a dot\n"
	"From the start of a line\n"
	"\n"
	"Venlig hilsen\n";

/* ---------------------------------------------------------------- helpers */

static void spew(const char *name, const char *data, size_t len)
{
	char *p = path(name);
	FILE *f = fopen(p, "wb");

	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		printf("Bail out! cannot write %s\n", p);
		exit(1);
	}
	free(p);
}

static unsigned char *pem_to_der(const char *name, size_t *len)
{
	char *p = path(name);
	FILE *f = fopen(p, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	unsigned char *der = NULL;
	int n;

	if (f)
		fclose(f);
	free(p);
	if (x == NULL || (n = i2d_X509(x, &der)) <= 0) {
		printf("Bail out! cannot read %s\n", name);
		exit(1);
	}
	X509_free(x);
	*len = (size_t)n;
	return der;
}

static void make_certs(void)
{
	static const char cnf[] =
		"[req]\ndistinguished_name=dn\n[dn]\n"
		"[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
		"subjectKeyIdentifier=hash\n";
	static const struct {
		const char *name, *addr, *alg, *usage;
	} leaf[] = {
		{ "mailbox", MAILBOX, "rsa:2048", "digitalSignature,keyEncipherment" },
		{ "r1", R1, "rsa:2048", "digitalSignature,keyEncipherment" },
		{ "r2", R2, "ec -pkeyopt ec_paramgen_curve:P-256", "digitalSignature,keyAgreement" },
	};
	size_t i;
	int rc;

	spew("req.cnf", cnf, sizeof(cnf) - 1);
	rc = sh("%s req -x509 -config req.cnf -extensions ca -newkey rsa:2048 -nodes "
		"-keyout ca.key -out ca.pem -days 30 -subj '/CN=Sikkermail Test CA'", openssl_bin);
	for (i = 0; rc == 0 && i < sizeof(leaf) / sizeof(leaf[0]); i++) {
		rc = sh("printf 'basicConstraints=CA:FALSE\\nkeyUsage=critical,%s\\n"
			"extendedKeyUsage=emailProtection\\nsubjectAltName=email:%s\\n' >%s.ext && "
			"%s req -new -config req.cnf -newkey %s -nodes -keyout %s.key -out %s.csr "
			"-subj '/CN=%s' && %s x509 -req -in %s.csr -CA ca.pem -CAkey ca.key "
			"-CAcreateserial -days 30 -extfile %s.ext -out %s.pem && chmod 600 %s.key",
			leaf[i].usage, leaf[i].addr, leaf[i].name, openssl_bin, leaf[i].alg,
			leaf[i].name, leaf[i].name, leaf[i].name, openssl_bin, leaf[i].name,
			leaf[i].name, leaf[i].name, leaf[i].name);
	}
	if (rc != 0) {
		printf("Bail out! cannot make test certificates with %s (see %s/log)\n",
		       openssl_bin, dir);
		exit(1);
	}
	r1_der = pem_to_der("r1.pem", &r1_len);
	r2_der = pem_to_der("r2.pem", &r2_len);
}

/* canonical - text with every bare LF made CRLF. */
static char *canonical(const char *text, size_t *lenp)
{
	struct strbuf sb;
	const char *p;

	sb_init(&sb);
	for (p = text; *p; p++) {
		if (*p == '\n' && (p == text || p[-1] != '\r'))
			sb_addc(&sb, '\r');
		sb_addc(&sb, *p);
	}
	*lenp = sb.len;
	return sb.s;
}

/* header - the unfolded value of the first header called name, or NULL. */
static char *header(const char *msg, const char *name)
{
	size_t n = strlen(name);
	const char *p = msg, *e;
	struct strbuf sb;

	while (*p && *p != '\n' && !(*p == '\r' && p[1] == '\n')) {
		if (ascii_strncasecmp(p, name, n) == 0 && p[n] == ':') {
			sb_init(&sb);
			for (p += n + 1; *p == ' '; p++)
				;
			for (;;) {
				e = strchr(p, '\n');
				sb_addmem(&sb, p, (size_t)(e - p) - (e > p && e[-1] == '\r'));
				p = e + 1;
				if (*p != ' ' && *p != '\t')
					return sb.s;
			}
		}
		p = strchr(p, '\n') + 1;
	}
	return NULL;
}

static int count_headers(const char *msg, const char *name)
{
	size_t n = strlen(name);
	const char *p = msg;
	int count = 0;

	while (*p && *p != '\n' && !(*p == '\r' && p[1] == '\n')) {
		if (ascii_strncasecmp(p, name, n) == 0 && p[n] == ':')
			count++;
		p = strchr(p, '\n') + 1;
	}
	return count;
}

/* body_lines_ok - base64 only, every line 76 columns but the last. */
static bool body_lines_ok(const char *msg, size_t *nlines)
{
	const char *lf = strstr(msg, "\n\n"), *crlf = strstr(msg, "\r\n\r\n"), *p, *e;
	size_t len;

	*nlines = 0;
	if (crlf != NULL && (lf == NULL || crlf < lf))
		p = crlf + 4;
	else if (lf != NULL)
		p = lf + 2;
	else
		return false;
	for (; *p; p = e + 1) {
		if ((e = strchr(p, '\n')) == NULL)
			return false;
		len = (size_t)(e - p) - (e > p && e[-1] == '\r');
		if (strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != len)
			return false;
		if (len == 0 || len > 76 || (len < 76 && e[1] != '\0'))
			return false;
		(*nlines)++;
	}
	return *nlines > 0;
}

static int build(const char *cipher, bool crlf, const char *subject, const char *orig_name,
		 const char *out_name, char **err)
{
	const char *to[] = { R1, R2 };
	const char *extra[] = { "X-Sikkermail-Reinjected: abc123" };
	struct smime_der certs[] = { { r1_der, r1_len }, { r2_der, r2_len } };
	struct smime_request req = {
		.key = mailbox_key, .mailbox = MAILBOX, .to = to, .n_to = 2,
		.certs = certs, .n_certs = 2, .subject = subject, .cipher = cipher,
		.reply_to = true, .extra_headers = extra, .n_extra_headers = 1, .crlf = crlf,
	};
	char *in = path(orig_name), *outp = path(out_name);
	FILE *fin = fopen(in, "rb"), *fout = fopen(outp, "wb");
	int rc = -1;

	*err = NULL;
	if (fin && fout)
		rc = smime_build_encrypted(&req, fin, fout, err);
	if (fin)
		fclose(fin);
	if (fout && fclose(fout) != 0)
		rc = -1;
	free(in);
	free(outp);
	return rc;
}

/* openssl_output - what an openssl command prints on stdout. */
static char *openssl_output(const char *args)
{
	char *cmd = xasprintf("cd '%s' && %s %s 2>>log", dir, openssl_bin, args);
	FILE *p = popen(cmd, "r");
	struct strbuf sb;
	char buf[4096];
	size_t n;

	free(cmd);
	sb_init(&sb);
	while (p && (n = fread(buf, 1, sizeof(buf), p)) > 0)
		sb_addmem(&sb, buf, n);
	if (p)
		pclose(p);
	return sb.s;
}

/* all_crlf - every LF is preceded by a CR, and there is at least one. */
static bool all_crlf(const char *s)
{
	const char *p = s;

	while ((p = strchr(p, '\n')) != NULL) {
		if (p == s || p[-1] != '\r')
			return false;
		p++;
	}
	return strchr(s, '\n') != NULL;
}

static char *fingerprint(const char *cert)
{
	char *args = xasprintf("x509 -noout -fingerprint -sha256 -in %s", cert);
	char *out = openssl_output(args);

	free(args);
	return out;
}

/* ---------------------------------------------------------------- keys */

static void test_key_load(void)
{
	char *key = path("mailbox.key"), *cert = path("mailbox.pem"), *r1cert = path("r1.pem");
	char *copy = path("copy.key"), *enc = path("enc.key"), *err = NULL;
	struct smime_key *k;

	mailbox_key = smime_key_load(key, cert, &err);
	ok(mailbox_key != NULL, "key: mailbox key and certificate load (mode 0600)");
	if (err)
		diag("%s", err);
	free(err);
	err = NULL;

	sh("cp mailbox.key copy.key && chmod 644 copy.key");
	k = smime_key_load(copy, cert, &err);
	ok(k == NULL && err && strstr(err, "mode 0644") && strstr(err, "copy.key"),
	   "key: mode 0644 refused with a clear error (%s)", err ? err : "none");
	smime_key_free(k);
	free(err);
	err = NULL;

	sh("chmod 640 copy.key");
	k = smime_key_load(copy, cert, &err);
	ok(k == NULL && err && strstr(err, "other users"), "key: mode 0640 refused too");
	smime_key_free(k);
	free(err);
	err = NULL;

	sh("chmod 600 copy.key");
	k = smime_key_load(copy, r1cert, &err);
	ok(k == NULL && err && strstr(err, "does not belong"),
	   "key: a key that does not match the certificate is refused (%s)", err ? err : "none");
	smime_key_free(k);
	free(err);
	err = NULL;

	k = smime_key_load(dir, cert, &err);
	ok(k == NULL && err && strstr(err, "not a regular file"), "key: a directory is refused");
	smime_key_free(k);
	free(err);
	err = NULL;

	sh("cp mailbox.pem cert600.pem && chmod 600 cert600.pem");
	free(copy);
	copy = path("cert600.pem");
	k = smime_key_load(copy, cert, &err);
	ok(k == NULL && err && strstr(err, "private key"), "key: a certificate is not a key");
	smime_key_free(k);
	free(err);
	err = NULL;

	sh("%s pkey -in mailbox.key -aes256 -passout pass:secret -out enc.key && chmod 600 enc.key",
	   openssl_bin);
	k = smime_key_load(enc, cert, &err);
	ok(k == NULL && err && strstr(err, "passphrase"),
	   "key: an encrypted key is refused without prompting");
	smime_key_free(k);
	free(err);
	err = NULL;

	free(copy);
	copy = path("copy.key");
	k = smime_key_load(key, copy, &err);
	ok(k == NULL && err && strstr(err, "PEM certificate"), "key: a key is not a certificate");
	smime_key_free(k);
	free(err);
	err = NULL;

	k = smime_key_load("/nonexistent/k.pem", cert, &err);
	ok(k == NULL && err && strstr(err, "No such file"), "key: a missing file is named");
	smime_key_free(k);
	free(err);
	ok(ERR_peek_error() == 0, "key: the OpenSSL error queue is left empty");
	free(key), free(cert), free(r1cert), free(copy), free(enc);
}

/* ---------------------------------------------------------------- messages */

/* check_decrypts - every recipient and the mailbox decrypt; a stranger does not. */
static void check_decrypts(const char *out, const char *label)
{
	static const char *who[] = { "r1", "r2", "mailbox" };
	size_t i;

	for (i = 0; i < 3; i++)
		is_int(sh("%s cms -decrypt -in %s -recip %s.pem -inkey %s.key -out %s.%s.dec",
			  openssl_bin, out, who[i], who[i], out, who[i]),
		       0, "%s: openssl cms -decrypt with the %s key", label, who[i]);
	ok(sh("%s cms -decrypt -in %s -recip ca.pem -inkey ca.key -out %s.ca.dec", openssl_bin,
	      out, out) != 0,
	   "%s: a key that is not a recipient cannot decrypt", label);
}

/* check_signed - the decrypted content is multipart/signed and holds the original. */
static void check_signed(const char *out, const char *label, const char *want_entity,
			 size_t want_len)
{
	char *dec_name = xasprintf("%s.r1.dec", out), *ver_name = xasprintf("%s.ver", out);
	char *dec = slurp(dec_name, NULL), *ver, *ct, *fp1, *fp2;
	size_t ver_len = 0;

	ct = dec ? header(dec, "Content-Type") : NULL;
	ok(ct && strstr(ct, "multipart/signed") && strstr(ct, "application/pkcs7-signature") &&
	   strstr(ct, "micalg=\"sha-256\""),
	   "%s: decrypted content is multipart/signed, SHA-256 (%s)", label, ct ? ct : "none");
	ok(dec && all_crlf(dec), "%s: the decrypted content has CRLF line ends throughout", label);
	is_int(sh("%s cms -verify -in %s -CAfile ca.pem -out %s -signer %s.signer", openssl_bin,
		  dec_name, ver_name, out),
	       0, "%s: signature verifies against the test CA (certificate included)", label);
	ver = slurp(ver_name, &ver_len);
	ok(ver && ver_len == want_len && memcmp(ver, want_entity, want_len) == 0,
	   "%s: signed content is message/rfc822 holding the original byte for byte", label);
	free(dec_name);
	dec_name = xasprintf("%s.signer", out);
	fp1 = fingerprint(dec_name);
	fp2 = fingerprint("mailbox.pem");
	ok(strlen(fp1) > 20 && strcmp(fp1, fp2) == 0, "%s: the signer is the function mailbox",
	   label);
	free(fp1), free(fp2), free(ct), free(dec), free(ver), free(dec_name), free(ver_name);
}

static void check_outer(const char *msg, const char *label, const char *smime_type, bool crlf)
{
	char *v;
	size_t nlines;
	bool lines_ok;

	is_str(v = header(msg, "From"), MAILBOX, "%s: From is the mailbox", label), free(v);
	is_str(v = header(msg, "To"), R1 ", " R2, "%s: To lists the encrypted recipients", label),
		free(v);
	is_str(v = header(msg, "Reply-To"), MAILBOX, "%s: Reply-To is the mailbox", label), free(v);
	is_str(v = header(msg, "Subject"), "Sikker besked / Secure message", "%s: neutral Subject",
	       label), free(v);
	v = header(msg, "Message-ID");
	ok(v && v[0] == '<' && strlen(v) == 33 + strlen("@kp.test>") &&
	   strspn(v + 1, "0123456789abcdef") == 32 && strcmp(v + 33, "@kp.test>") == 0, "%s: new Message-ID at the mailbox's domain (%s)",
	   label, v ? v : "none");
	free(v);
	v = header(msg, "Date");
	ok(v && strlen(v) >= 29 && strchr("+-", v[strlen(v) - 5]), "%s: Date (%s)", label,
	   v ? v : "none");
	free(v);
	is_str(v = header(msg, "X-Sikkermail-Reinjected"), "abc123", "%s: extra header", label),
		free(v);
	is_str(v = header(msg, "MIME-Version"), "1.0", "%s: MIME-Version", label), free(v);
	v = header(msg, "Content-Type");
	ok(v && ascii_strncasecmp(v, "application/pkcs7-mime;", 23) == 0 && strstr(v, smime_type) &&
	   strstr(v, "name=\"smime.p7m\""), "%s: Content-Type %s (%s)", label, smime_type,
	   v ? v : "none");
	ok(smime_is_encrypted(v), "%s: smime_is_encrypted says yes to our own output", label);
	free(v);
	is_int(count_headers(msg, "Content-Type") + count_headers(msg, "Subject") +
	       count_headers(msg, "From"), 3, "%s: no duplicate headers", label);
	is_str(v = header(msg, "Content-Transfer-Encoding"), "base64", "%s: base64", label), free(v);
	ok((v = header(msg, "Content-Disposition")) && strstr(v, "filename=\"smime.p7m\""),
	   "%s: Content-Disposition", label);
	free(v);
	lines_ok = body_lines_ok(msg, &nlines);
	ok(lines_ok, "%s: base64 body in 76-column lines (%zu lines)", label, nlines);
	if (crlf)
		ok(all_crlf(msg), "%s: CRLF line ends when asked", label);
	else
		ok(strchr(msg, '\r') == NULL, "%s: LF line ends by default", label);
	ok(!strstr(msg, CANARY_SUBJECT) && !strstr(msg, CANARY_BODY) && !strstr(msg, "Sag 4711") &&
	   !strstr(msg, "hanne@kp.test"),
	   "%s: nothing of the original is visible in the raw output", label);
}

static void test_message(const char *cipher, bool crlf, const char *label,
			 const char *smime_type, const char *print_want)
{
	char *out_name = xasprintf("%s.eml", label), *err = NULL, *msg, *want, *printed, *args;
	size_t orig_len, want_len;
	char *orig = canonical(original_lf, &orig_len);

	want = xasprintf("Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s",
			 orig);
	want_len = strlen(want);
	is_int(build(cipher, crlf, "Sikker besked / Secure message", "orig.eml", out_name, &err), 0,
	       "%s: smime_build_encrypted succeeds", label);
	if (err)
		diag("%s", err);
	msg = slurp(out_name, NULL);
	if (msg == NULL)
		msg = xstrdup("");
	check_outer(msg, label, smime_type, crlf);
	check_decrypts(out_name, label);
	check_signed(out_name, label, want, want_len);
	args = xasprintf("cms -cmsout -print -in %s", out_name);
	printed = openssl_output(args);
	ok(strstr(printed, print_want) != NULL, "%s: openssl cms -cmsout -print shows %s", label,
	   print_want);
	free(args), free(printed), free(msg), free(want), free(orig), free(err), free(out_name);
}

static void test_subject_encoding(void)
{
	static const char subject[] =
		"Fortroligt: l\xc3\xb8n og \xc3\xa6\xc3\xb8\xc3\xa5 \xe2\x80\x94 en ret lang emnelinje "
		"der skal foldes over flere linjer \xe2\x82\xac\xe2\x82\xac\xe2\x82\xac";
	char *err = NULL, *msg, *v, *p, *q;
	unsigned char dec[128];
	struct strbuf got;
	int n, words = 0;
	bool short_lines = true;

	is_int(build(NULL, false, subject, "orig.eml", "subj.eml", &err), 0,
	       "subject: non-ASCII subject builds");
	msg = slurp("subj.eml", NULL);
	v = msg ? header(msg, "Subject") : NULL;
	sb_init(&got);
	for (p = v; p && (p = strstr(p, "=?UTF-8?B?")) != NULL; p = q + 2) {
		p += 10;
		q = strstr(p, "?=");
		n = EVP_DecodeBlock(dec, (unsigned char *)p, (int)(q - p));
		n -= (q[-1] == '=') + (q[-2] == '=');
		sb_addmem(&got, dec, (size_t)n);
		words++;
	}
	is_str(got.s, subject, "subject: RFC 2047 words decode to the subject (%d words)", words);
	for (p = msg; p && *p && !(p[0] == '\n' && p > msg && p[-1] == '\n'); p = q + 1) {
		q = strchr(p, '\n');
		if (q - p > 76)
			short_lines = false;
	}
	ok(words > 1 && short_lines, "subject: folded into lines of at most 76 columns");
	sb_free(&got);
	free(v), free(msg), free(err);
}

/* ---------------------------------------------------------------- errors */

/* try_build - smime_build_encrypted from the start of in; returns its result. */
static int try_build(struct smime_request *req, FILE *in, FILE *out, char **err)
{
	free(*err);
	*err = NULL;
	rewind(in);
	return smime_build_encrypted(req, in, out, err);
}

static void test_errors(void)
{
	static const unsigned char junk[] = "not a certificate";
	const char *to[] = { R1 };
	struct smime_der bad[] = { { junk, sizeof(junk) } };
	struct smime_der good[] = { { r1_der, r1_len } };
	struct smime_request req = { .key = mailbox_key, .mailbox = MAILBOX, .to = to, .n_to = 1,
				     .certs = bad, .n_certs = 1, .subject = "s" };
	char *err = NULL, *in = path("orig.eml");
	FILE *fin = fopen(in, "rb"), *fout = tmpfile(), *full, *wonly;
	const unsigned char *p = junk;
	int rc;

	rc = try_build(&req, fin, fout, &err);
	ok(rc == -1 && err && strstr(err, "recipient certificate 1") && strstr(err, "error:"),
	   "errors: bad DER reported with OpenSSL's text (%s)", err ? err : "none");
	ok(ERR_peek_error() == 0, "errors: the error queue is empty afterwards");

	req.certs = good;
	req.cipher = "des-ede3-cbc";
	rc = try_build(&req, fin, fout, &err);
	ok(rc == -1 && err && strstr(err, "cipher"), "errors: unknown cipher refused");
	req.cipher = NULL;
	req.subject = "two\r\nBcc: x@y";
	rc = try_build(&req, fin, fout, &err);
	ok(rc == -1 && err, "errors: a line break in the subject is refused");
	req.subject = "s";
	req.key = NULL;
	rc = try_build(&req, fin, fout, &err);
	ok(rc == -1 && err, "errors: no key refused");
	req.key = mailbox_key;

	d2i_X509(NULL, &p, sizeof(junk));	/* leave a stale error in the queue */
	rc = try_build(&req, fin, fout, &err);
	ok(rc == 0 && err == NULL,
	   "errors: a stale error in the queue does not fail the next operation");

	if ((full = fopen("/dev/full", "w")) != NULL) {
		rc = try_build(&req, fin, full, &err);
		ok(rc == -1 && err && strstr(err, "space"), "errors: a full disk is reported (%s)",
		   err ? err : "none");
		fclose(full);
	} else {
		ok(0, "errors: /dev/full: %s", strerror(errno));
	}

	wonly = fopen(in, "a");
	rc = try_build(&req, wonly, fout, &err);
	ok(rc == -1 && err && strstr(err, "read"), "errors: an unreadable original is reported (%s)",
	   err ? err : "none");
	free(err);
	fclose(wonly);
	fclose(fin);
	fclose(fout);
	free(in);
}

/* ---------------------------------------------------------------- threads */

static void *thread_build(void *arg)
{
	char *name = xasprintf("thread%ld.eml", (long)(intptr_t)arg), *err = NULL;
	long rc = build(((intptr_t)arg & 1) ? "aes-256-gcm" : NULL, false, "t", "orig.eml", name,
			&err);

	free(err);
	free(name);
	return (void *)rc;
}

static void test_threads(void)
{
	pthread_t t[6];
	void *rc;
	long i, failed = 0;

	for (i = 0; i < 6; i++)
		pthread_create(&t[i], NULL, thread_build, (void *)(intptr_t)i);
	for (i = 0; i < 6; i++) {
		pthread_join(t[i], &rc);
		failed += rc != NULL;
	}
	is_int(failed, 0, "threads: six concurrent builds with one key succeed");
	for (i = 0; i < 6; i++)
		failed += sh("%s cms -decrypt -in thread%ld.eml -recip r1.pem -inkey r1.key "
			     "-out thread%ld.dec && %s cms -verify -in thread%ld.dec -CAfile ca.pem "
			     "-out /dev/null", openssl_bin, i, i, openssl_bin, i) != 0;
	is_int(failed, 0, "threads: every one decrypts and verifies");
}

/* ---------------------------------------------------------------- detection */

/* escaped - s with CR, LF and tab shown as \r, \n, \t: one TAP line per test. */
static char *escaped(const char *s)
{
	struct strbuf sb;

	sb_init(&sb);
	for (; *s; s++) {
		if (*s == '\r' || *s == '\n' || *s == '\t')
			sb_printf(&sb, "\\%c", *s == '\r' ? 'r' : *s == '\n' ? 'n' : 't');
		else
			sb_addc(&sb, *s);
	}
	return sb.s;
}

static void test_is_encrypted(void)
{
	static const struct {
		const char *ct;
		bool want;
	} cases[] = {
		{ "application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m", true },
		{ "application/pkcs7-mime; smime-type=authEnveloped-data", true },
		{ "APPLICATION/PKCS7-MIME; SMIME-TYPE=ENVELOPED-DATA", true },
		{ "application/x-pkcs7-mime; name=\"smime.p7m\"", true },
		{ "application/pkcs7-mime", true },
		{ "application/pkcs7-mime; smime-type=\"enveloped-data\"", true },
		{ "application/pkcs7-mime;\r\n\tsmime-type=enveloped-data;\r\n name=\"smime.p7m\"", true },
		{ " application/pkcs7-mime (S/MIME) ; (why) smime-type = enveloped-data", true },
		{ "application/pkcs7-mime; name=\"a;b=c\"; smime-type=enveloped-data", true },
		{ "application/pkcs7-mime; smime-type=signed-data; name=smime.p7m", false },
		{ "application/pkcs7-mime; smime-type=certs-only", false },
		{ "application/pkcs7-mime; smime-type=compressed-data", false },
		{ "application/pkcs7-mime; smime-type=enveloped-data; smime-type=signed-data", false },
		{ "multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"x\"", true },
		{ "Multipart/Encrypted;\n boundary=\"=-=\";\n protocol=application/pgp-encrypted", true },
		{ "multipart/encrypted; boundary=x", false },
		{ "multipart/encrypted; protocol=\"application/pkcs7-mime\"", false },
		{ "multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256", false },
		{ "multipart/signed; protocol=\"application/pgp-signature\"", false },
		{ "text/plain; charset=utf-8", false },
		{ "text/plain; name=\"smime.p7m\"", false },
		{ "application/octet-stream; name=smime.p7m", false },
		{ "application/pkcs7-signature", false },
		{ "application/pkcs7-mimex; smime-type=enveloped-data", false },
		{ "application/pkcs7-mime; smime-type=enveloped-datax", false },
		{ "application/pkcs7-mime; smime-type=\"enveloped-data", false },
		{ "application/pkcs7-mime; junk smime-type=signed-data", false },
		{ "application/pkcs7-mime; name=smime p7m", false },
		{ "application/pkcs7-mime; smime-type=enveloped-data; (comment) ;", true },
		{ "application/", false },
		{ "", false },
		{ "garbage", false },
		{ "/pkcs7-mime", false },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *name = escaped(cases[i].ct);

		is_int(smime_is_encrypted(cases[i].ct), cases[i].want, "is_encrypted: \"%s\"", name);
		free(name);
	}
	is_int(smime_is_encrypted(NULL), false, "is_encrypted: no Content-Type");
	ok(smime_cipher_valid("aes-256-cbc") && smime_cipher_valid("AES-256-GCM") &&
	   !smime_cipher_valid("des") && !smime_cipher_valid(NULL), "cipher names");
}

/* ---------------------------------------------------------------- markers */

#define M_SECRET "marker secret for the tests"
#define M_ID "<orig-1@kp.test>"
#define M_T 1790000000L
#define M_HEX "b11470659037754d6c48524be1040f7e518191908619f49d38d0bc19294c6e70"
#define M_AGE 3600L

/* marker_ok - smime_marker_valid with the test secret and message id. */
static bool marker_ok(const char *marker, time_t now)
{
	return smime_marker_valid((const unsigned char *)M_SECRET, strlen(M_SECRET), M_ID, marker,
				  now, M_AGE);
}

static void test_marker_refusals(void)
{
	static const char *const garbage[] = {
		"", " ", "1.", ".", "1", "x.abcd", "1790000000.abcd",
		"1790000000." M_HEX "0",				/* 65 hex digits */
		"1790000000.b11470659037754d6c48524be1040f7e518191908619f49d38d0bc19294c6e7",
		"1790000000.g11470659037754d6c48524be1040f7e518191908619f49d38d0bc19294c6e70",
		"1790000000.B11470659037754D6C48524BE1040F7E518191908619F49D38D0BC19294C6E70",
		"1790000000," M_HEX, "1790000000 ." M_HEX, "1790000000. " M_HEX,
		"01790000000." M_HEX, "+1790000000." M_HEX, "-1790000000." M_HEX,
		"1790000000." M_HEX " x", "1790000000." M_HEX ";", "x1790000000." M_HEX,
		"99999999999999999999999." M_HEX,		/* does not fit in any time_t */
	};
	size_t i;

	for (i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		char *name = escaped(garbage[i]);

		ok(!marker_ok(garbage[i], M_T), "marker: refused \"%s\"", name);
		free(name);
	}
	ok(!marker_ok(NULL, M_T), "marker: no marker is not valid");
}

static void test_marker(void)
{
	const unsigned char *secret = (const unsigned char *)M_SECRET;
	size_t slen = strlen(M_SECRET);
	char *m = smime_marker(secret, slen, M_ID, M_T), *v;
	unsigned char r1[32] = { 0 }, r2[32] = { 0 };

	is_str(m, "1790000000." M_HEX, "marker: T.HMAC-SHA256 in lower-case hex (known answer)");
	ok(marker_ok(m, M_T), "marker: round trip is valid");
	ok(marker_ok(m, M_T + M_AGE), "marker: valid at exactly max_age");
	ok(!marker_ok(m, M_T + M_AGE + 1), "marker: refused when older than max_age");
	ok(marker_ok(m, M_T - 300), "marker: valid 300 s in the future (clock skew)");
	ok(!marker_ok(m, M_T - 301), "marker: refused more than 300 s in the future");
	ok(!smime_marker_valid((const unsigned char *)"another secret", 14, M_ID, m, M_T, M_AGE),
	   "marker: refused under another secret");
	ok(!smime_marker_valid(secret, slen - 1, M_ID, m, M_T, M_AGE),
	   "marker: refused under a prefix of the secret");
	ok(!smime_marker_valid(secret, slen, "<orig-2@kp.test>", m, M_T, M_AGE),
	   "marker: refused for another message id");
	ok(!smime_marker_valid(secret, slen, NULL, m, M_T, M_AGE),
	   "marker: refused for no message id");
	ok(!marker_ok("1790000000.b11470659037754d6c48524be1040f7e518191908619f49d38d0bc19294c6e71",
		      M_T), "marker: refused with one hex digit changed");
	ok(!marker_ok("1790000001." M_HEX, M_T + 1), "marker: refused with the time changed");
	v = xasprintf(" %s", m);
	ok(marker_ok(v, M_T), "marker: valid with the header's leading space");
	free(v);
	v = xasprintf("\r\n\t%s \r\n", m);
	ok(marker_ok(v, M_T), "marker: valid folded, with white space around it");
	free(v);
	free(m);
	m = smime_marker(secret, slen, NULL, M_T);
	ok(m && smime_marker_valid(secret, slen, "", m, M_T, 0) &&
	   !smime_marker_valid(secret, slen, M_ID, m, M_T, M_AGE),
	   "marker: no message id is the empty one");
	free(m);
	ok(smime_marker(secret, 0, M_ID, M_T) == NULL &&
	   !smime_marker_valid(secret, 0, M_ID, "1790000000." M_HEX, M_T, M_AGE),
	   "marker: an empty secret makes no marker and accepts none");
	test_marker_refusals();
	ok(smime_random(r1, sizeof(r1)) == 0 && smime_random(r2, sizeof(r2)) == 0 &&
	   memcmp(r1, r2, sizeof(r1)) != 0 && smime_random(r1, 0) == 0,
	   "random: two draws differ");
}

/* ---------------------------------------------------------------- memory */

/* make_big - an original of about size octets, CRLF line ends throughout. */
static void make_big(const char *name, size_t size)
{
	char *p = path(name);
	FILE *f = fopen(p, "wb");
	size_t written = 0;
	long line = 0;

	fputs("From: Hanne Person <hanne@kp.test>\r\nTo: " R1 "\r\nSubject: big\r\n"
	      "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n", f);
	while (written < size)
		written += (size_t)fprintf(f, "%08ld " CANARY_BODY " Lorem ipsum dolor sit amet, "
					   "consectetur adipiscing elit.\r\n.dot\r\n", line++);
	fclose(f);
	free(p);
}

/*
 * peak_kb - ru_maxrss of a child that builds orig into out; with orig NULL,
 * of a child that only fills 20 MB of memory, to show the measure works.
 */
static long peak_kb(const char *orig, const char *out, int *status)
{
	struct rusage ru;
	pid_t pid;
	char *err = NULL;

	fflush(stdout);
	if ((pid = fork()) == 0) {
		if (orig == NULL) {
			/* volatile stores: an optimiser may not drop them as dead */
			volatile char *mem = malloc(20 << 20);
			int sum = 0;

			for (size_t i = 0; mem != NULL && i < (20u << 20); i += 4096)
				mem[i] = 1;
			for (size_t i = 0; mem != NULL && i < (20u << 20); i += 4096)
				sum += mem[i];
			_exit(mem != NULL && sum == (20 << 20) / 4096 ? 0 : 1);
		}
		_exit(build(NULL, false, "big", orig, out, &err) == 0 ? 0 : 1);
	}
	if (pid < 0 || wait4(pid, status, 0, &ru) != pid)
		return -1;
	return ru.ru_maxrss;
}

static void test_memory(void)
{
	long small, big, control;
	int st1 = -1, st2 = -1, st3 = -1;
	make_big("small.eml", 100 * 1024);
	make_big("big.eml", 20 * 1024 * 1024);
	small = peak_kb("small.eml", "small.out", &st1);
	big = peak_kb("big.eml", "big.out", &st2);
	ok(st1 == 0 && st2 == 0, "memory: 100 KB and 20 MB messages encrypt");
	control = peak_kb(NULL, NULL, &st3);
	diag("peak RSS: %ld KB for 100 KB, %ld KB for 20 MB (%+ld KB); "
	     "%ld KB for a child that fills 20 MB", small, big, big - small, control);
	ok(st3 == 0 && control - small > 15 * 1024,
	   "memory: the measure sees a child that fills 20 MB (%+ld KB)", control - small);
	ok(small > 0 && big - small < 10 * 1024,
	   "memory: 20 MB costs less than 10 MB more than 100 KB (%+ld KB)", big - small);

	is_int(sh("%s cms -decrypt -in big.out -recip r1.pem -inkey r1.key -out big.dec && "
		  "%s cms -verify -in big.dec -CAfile ca.pem -out big.ver", openssl_bin,
		  openssl_bin), 0, "memory: the 20 MB message decrypts and verifies");
	ok(sh("printf 'Content-Type: message/rfc822\\r\\n\\r\\n' | cat - big.eml | cmp -s - big.ver")
	   == 0, "memory: and holds the 20 MB original byte for byte");
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	char *orig;

	if (getenv("OPENSSL") != NULL)
		openssl_bin = getenv("OPENSSL");
	snprintf(dir, sizeof(dir), "%s/t_smime.XXXXXX", tmp && strlen(tmp) < 40 ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	make_certs();
	orig = xstrdup(original_lf);
	spew("orig.eml", orig, strlen(orig));
	test_key_load();
	if (mailbox_key == NULL) {
		printf("Bail out! cannot go on without the mailbox key\n");
		return 1;
	}
	test_message(NULL, false, "cbc", "smime-type=enveloped-data", "aes-256-cbc");
	test_message("aes-256-gcm", true, "gcm", "smime-type=authEnveloped-data",
		     "id-smime-ct-authEnvelopedData");
	test_subject_encoding();
	test_errors();
	test_threads();
	test_is_encrypted();
	test_marker();
	test_memory();
	smime_key_free(mailbox_key);
	free(orig), free(r1_der), free(r2_der);
	if (!getenv("KEEP_TMP"))
		sh("cd / && rm -rf '%s'", dir);
	return done_testing();
}

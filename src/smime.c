/*
 * smime.c - sign and encrypt a message for a function mailbox with OpenSSL
 * CMS; make and check the loop-safety marker of a re-injected message.
 *
 * Exports what smime.h declares. The encryption is one streamed pipeline,
 * so that a 20 MB message never sits in memory:
 *
 *   original FILE
 *     -> entity BIO     "Content-Type: message/rfc822" + the original, CRLF
 *     -> SMIME_write_CMS multipart/signed; the digest is taken on the way
 *     -> crlf BIO       the signature part's bare LFs become CRLF
 *     -> BIO_new_NDEF   CMS (Auth)EnvelopedData: cipher, DER framing
 *     -> base64 BIO     76-column lines
 *     -> out FILE
 *
 * The three small BIOs are ours (below); their methods are made per
 * operation, like every other OpenSSL object here, so nothing is shared
 * between threads but the read-only key. What needs no OpenSSL (the outer
 * headers, smime_is_encrypted, reading a marker) lives in smime_text.c.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "smime.h"
#include "smime_int.h"
#include "util.h"

struct smime_key {
	EVP_PKEY *pkey;
	X509 *cert;
};

/* entity BIO: reads "Content-Type: message/rfc822" + the original, CRLF. */
struct entity_src {
	FILE *in;
	char prefix[96];
	size_t prefix_len, prefix_off;
	unsigned char buf[16384];
	size_t len, pos;
	bool prev_cr, pending_lf, failed;
};

/* crlf BIO: a filter that turns bare LF into CRLF. */
struct crlf_filter {
	bool prev_cr, failed;
};

/* base64 BIO: the sink, 57 octets -> one 76-column line of out. */
struct b64_sink {
	FILE *out;
	const char *eol;
	unsigned char in[57];
	size_t n;
	bool failed;
	int errnum;
};

/* The OpenSSL objects of one smime_build_encrypted call. */
struct build {
	const struct smime_request *req;
	const EVP_CIPHER *cipher;
	STACK_OF(X509) *recips;
	CMS_ContentInfo *env;
	CMS_ContentInfo *sig;
	BIO_METHOD *m_entity, *m_crlf, *m_b64;
	BIO *entity;	/* source: the message/rfc822 entity */
	BIO *crlf;	/* top of the sink chain */
	BIO *b64;	/* bottom of the sink chain, writes to out */
	struct entity_src es;
	struct crlf_filter cf;
	struct b64_sink bs;
};

/* Our BIO types; the numbers only need to differ from OpenSSL's own. */
#define BIO_TYPE_SM_ENTITY ((BIO_TYPE_START + 41) | BIO_TYPE_SOURCE_SINK)
#define BIO_TYPE_SM_CRLF ((BIO_TYPE_START + 42) | BIO_TYPE_FILTER)
#define BIO_TYPE_SM_BASE64 ((BIO_TYPE_START + 43) | BIO_TYPE_SOURCE_SINK)

/* How far in the future a marker may be dated: clocks of the hosts differ. */
#define SMIME_MARKER_SKEW 300

static void set_error(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int no_passphrase(char *buf, int size, int rwflag, void *u);
static EVP_PKEY *load_private_key(const char *path, char **err);
static X509 *load_certificate(const char *path, char **err);
static void warn_validity(X509 *cert, const char *path);
static const EVP_CIPHER *cipher_by_name(const char *name);
static int check_request(const struct smime_request *req, char **err);
static bool has_line_break(const char *s);
static int collect_recipients(struct build *b, char **err);
static int make_cms(struct build *b, char **err);
static int run_pipeline(struct build *b, FILE *original, FILE *out, char **err);
static void free_build(struct build *b);
static BIO *new_bio(BIO_METHOD **m, int type, const char *name,
		    int (*wr)(BIO *, const char *, int), int (*rd)(BIO *, char *, int),
		    long (*ctrl)(BIO *, int, long, void *), void *state);
static int make_bios(struct build *b, FILE *original, FILE *out);
static int any_puts(BIO *bio, const char *str);
static int entity_read(BIO *bio, char *out, int outl);
static int entity_fill(struct entity_src *e);
static long entity_ctrl(BIO *bio, int cmd, long num, void *ptr);
static int crlf_write(BIO *bio, const char *in, int inl);
static long crlf_ctrl(BIO *bio, int cmd, long num, void *ptr);
static int b64_write(BIO *bio, const char *in, int inl);
static int b64_line(struct b64_sink *s);
static long b64_ctrl(BIO *bio, int cmd, long num, void *ptr);
static const char *pipeline_error(const struct build *b);
static int marker_mac(const unsigned char *secret, size_t secret_len, long long t,
		      const char *message_id, unsigned char mac[SMIME_MARKER_MAC_LEN]);
static int scan_8bit(FILE *f);

/*
 * set_error - *err = the formatted text, followed by whatever OpenSSL has
 * queued for this thread (earliest first), which is then empty.
 */
static void set_error(char **err, const char *fmt, ...)
{
	struct strbuf sb;
	unsigned long e;
	char buf[256];
	const char *sep = ": ";
	va_list ap;
	int n = 0;

	sb_init(&sb);
	va_start(ap, fmt);
	sb_vprintf(&sb, fmt, ap);
	va_end(ap);
	while ((e = ERR_get_error()) != 0) {
		if (n++ >= 4)
			continue;	/* drain, but keep the reply readable */
		ERR_error_string_n(e, buf, sizeof(buf));
		sb_adds(&sb, sep);
		sb_adds(&sb, buf);
		sep = "; ";
	}
	if (err != NULL) {
		free(*err);
		*err = sb_steal(&sb);
	}
	sb_free(&sb);
}

/* ---------------------------------------------------------------- keys */

/* no_passphrase - never prompt on a terminal: an encrypted key is an error. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

static EVP_PKEY *load_private_key(const char *path, char **err)
{
	struct stat st;
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;
	int fd;

	/* O_NONBLOCK: a FIFO planted in place of the key must not hang start-up. */
	fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		set_error(err, "cannot open key file %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		set_error(err, "cannot stat key file %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		set_error(err, "key file %s is not a regular file", path);
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		set_error(err, "key file %s is accessible to other users (mode %04o); "
			  "it must be readable by its owner only (chmod 600)",
			  path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if ((bio = BIO_new_fd(fd, BIO_CLOSE)) == NULL) {
		set_error(err, "key file %s", path);
		goto out;
	}
	fd = -1;
	pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	if (pkey == NULL)
		set_error(err, "cannot read a PEM private key from %s "
			  "(it must not be encrypted with a passphrase)", path);
out:
	if (fd >= 0)
		close(fd);
	BIO_free(bio);
	return pkey;
}

static X509 *load_certificate(const char *path, char **err)
{
	X509 *cert = NULL;
	BIO *bio;

	if ((bio = BIO_new_file(path, "r")) == NULL) {
		set_error(err, "cannot open certificate file %s", path);
		return NULL;
	}
	if ((cert = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)) == NULL)
		set_error(err, "cannot read a PEM certificate from %s", path);
	BIO_free(bio);
	return cert;
}

static void warn_validity(X509 *cert, const char *path)
{
	if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0)
		msg_warn("certificate %s has expired: recipients will not trust its signatures",
			 path);
	else if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0)
		msg_warn("certificate %s is not valid yet", path);
}

struct smime_key *smime_key_load(const char *keyfile, const char *certfile, char **err)
{
	struct smime_key *key = NULL;
	EVP_PKEY *pkey = NULL;
	X509 *cert = NULL;

	ERR_clear_error();
	if ((pkey = load_private_key(keyfile, err)) == NULL)
		goto out;
	if ((cert = load_certificate(certfile, err)) == NULL)
		goto out;
	if (X509_check_private_key(cert, pkey) != 1) {
		set_error(err, "private key %s does not belong to certificate %s", keyfile,
			  certfile);
		goto out;
	}
	warn_validity(cert, certfile);
	/* Fill the certificate's cached extensions now, while single-threaded. */
	X509_check_purpose(cert, -1, 0);
	ERR_clear_error();
	key = xmalloc(sizeof(*key));
	key->pkey = pkey;
	key->cert = cert;
	pkey = NULL;
	cert = NULL;
out:
	EVP_PKEY_free(pkey);
	X509_free(cert);
	return key;
}

void smime_key_free(struct smime_key *key)
{
	if (key == NULL)
		return;
	EVP_PKEY_free(key->pkey);
	X509_free(key->cert);
	free(key);
}

/* ---------------------------------------------------------------- encrypting */

static const EVP_CIPHER *cipher_by_name(const char *name)
{
	if (name == NULL || ascii_strcasecmp(name, "aes-256-cbc") == 0)
		return EVP_aes_256_cbc();
	if (ascii_strcasecmp(name, "aes-256-gcm") == 0)
		return EVP_aes_256_gcm();
	return NULL;
}

bool smime_cipher_valid(const char *name)
{
	return name != NULL && cipher_by_name(name) != NULL;
}

static bool has_line_break(const char *s)
{
	return s != NULL && strpbrk(s, "\r\n") != NULL;
}

/* check_request - refuse what would make a broken or forged header. */
static int check_request(const struct smime_request *req, char **err)
{
	size_t i;

	if (req->key == NULL) {
		set_error(err, "no key for the function mailbox");
		return -1;
	}
	if (req->mailbox == NULL || strchr(req->mailbox, '@') == NULL ||
	    has_line_break(req->mailbox)) {
		set_error(err, "bad function mailbox address");
		return -1;
	}
	if (req->n_certs == 0 || req->n_to == 0) {
		set_error(err, "no encrypted recipients");
		return -1;
	}
	if (has_line_break(req->subject) || has_line_break(req->message_id)) {
		set_error(err, "line break in the subject or message-id");
		return -1;
	}
	for (i = 0; i < req->n_to; i++)
		if (req->to[i] == NULL || has_line_break(req->to[i])) {
			set_error(err, "bad recipient address");
			return -1;
		}
	for (i = 0; i < req->n_extra_headers; i++)
		if (has_line_break(req->extra_headers[i]) ||
		    strchr(req->extra_headers[i], ':') == NULL) {
			set_error(err, "bad extra header");
			return -1;
		}
	if (cipher_by_name(req->cipher) == NULL) {
		set_error(err, "unknown cipher \"%s\" (aes-256-cbc or aes-256-gcm)", req->cipher);
		return -1;
	}
	return 0;
}

/* collect_recipients - the recipients' certificates plus the mailbox's own. */
static int collect_recipients(struct build *b, char **err)
{
	const struct smime_request *req = b->req;
	size_t i;

	if ((b->recips = sk_X509_new_null()) == NULL) {
		set_error(err, "cannot allocate the recipient list");
		return -1;
	}
	for (i = 0; i < req->n_certs; i++) {
		const unsigned char *p = req->certs[i].der;
		X509 *x = NULL;

		if (p != NULL && req->certs[i].len <= LONG_MAX)
			x = d2i_X509(NULL, &p, (long)req->certs[i].len);
		if (x == NULL) {
			set_error(err, "recipient certificate %zu is not a DER certificate", i + 1);
			return -1;
		}
		if (!sk_X509_push(b->recips, x)) {
			X509_free(x);
			set_error(err, "cannot add recipient certificate %zu", i + 1);
			return -1;
		}
	}
	if (!X509_up_ref(req->key->cert) || !sk_X509_push(b->recips, req->key->cert)) {
		set_error(err, "cannot add the mailbox certificate");
		return -1;
	}
	return 0;
}

/*
 * make_cms - the two CMS structures, both left open for streaming: the
 * envelope (CMS_encrypt picks AuthEnvelopedData for an AEAD cipher) and
 * the detached signature (SHA-256, signer certificate included).
 */
static int make_cms(struct build *b, char **err)
{
	const struct smime_key *key = b->req->key;
	unsigned int sflags = CMS_DETACHED | CMS_STREAM | CMS_BINARY | CMS_PARTIAL;

	b->env = CMS_encrypt(b->recips, NULL, b->cipher, CMS_BINARY | CMS_STREAM);
	if (b->env == NULL) {
		set_error(err, "cannot encrypt to the recipients' certificates");
		return -1;
	}
	b->sig = CMS_sign(NULL, NULL, NULL, NULL, sflags);
	if (b->sig == NULL ||
	    CMS_add1_signer(b->sig, key->cert, key->pkey, EVP_sha256(), CMS_BINARY) == NULL) {
		set_error(err, "cannot sign with the function mailbox key");
		return -1;
	}
	return 0;
}

/*
 * run_pipeline - stream the original through signing and encryption into
 * out. OpenSSL's copy loops ignore read and write errors, so each of our
 * BIOs records its own and they are checked at the end.
 */
static int run_pipeline(struct build *b, FILE *original, FILE *out, char **err)
{
	int sflags = CMS_DETACHED | CMS_STREAM | CMS_BINARY | CMS_CRLFEOL;
	BIO *ndef, *next;
	int ok;

	if (make_bios(b, original, out) < 0) {
		set_error(err, "cannot set up the streaming pipeline");
		return -1;
	}
	ndef = BIO_new_NDEF(b->b64, (ASN1_VALUE *)b->env, ASN1_ITEM_rptr(CMS_ContentInfo));
	if (ndef == NULL) {
		set_error(err, "cannot start the encryption stream");
		return -1;
	}
	BIO_push(b->crlf, ndef);
	ok = SMIME_write_CMS(b->crlf, b->sig, b->entity, sflags) == 1;
	/* Flushing the envelope's chain finishes the cipher and the DER framing. */
	ok = BIO_flush(ndef) > 0 && ok;
	BIO_pop(b->crlf);
	while (ndef != b->b64) {
		next = BIO_pop(ndef);
		BIO_free(ndef);
		ndef = next;
	}
	if (ok && !b->es.failed && !b->cf.failed && b->bs.n > 0)
		b64_line(&b->bs);
	if (!ok || b->es.failed || b->cf.failed || b->bs.failed) {
		set_error(err, "cannot sign and encrypt the message%s", pipeline_error(b));
		return -1;
	}
	return 0;
}

static const char *pipeline_error(const struct build *b)
{
	if (b->es.failed)
		return ": cannot read the original message";
	if (b->bs.failed)
		return b->bs.errnum == ENOSPC ? ": no space left on device" : ": cannot write it";
	return "";
}

static void free_build(struct build *b)
{
	BIO_free(b->entity);
	BIO_free(b->crlf);
	BIO_free(b->b64);
	BIO_meth_free(b->m_entity);
	BIO_meth_free(b->m_crlf);
	BIO_meth_free(b->m_b64);
	CMS_ContentInfo_free(b->sig);
	CMS_ContentInfo_free(b->env);
	sk_X509_pop_free(b->recips, X509_free);
	free(b);
}

int smime_build_encrypted(const struct smime_request *req, FILE *original, FILE *out, char **err)
{
	struct build *b = xcalloc(1, sizeof(*b));	/* 16 KB: not on a thread's stack */
	int ret = -1;

	ERR_clear_error();
	b->req = req;
	if (check_request(req, err) < 0)
		goto out;
	b->cipher = cipher_by_name(req->cipher);
	if (collect_recipients(b, err) < 0 || make_cms(b, err) < 0)
		goto out;
	if (smime_write_headers(req, EVP_CIPHER_get_flags(b->cipher) & EVP_CIPH_FLAG_AEAD_CIPHER,
				out) < 0) {
		set_error(err, "cannot write the message: %s", strerror(errno));
		goto out;
	}
	if (run_pipeline(b, original, out, err) < 0)
		goto out;
	if (fflush(out) != 0 || ferror(out)) {
		set_error(err, "cannot write the message: %s", strerror(errno));
		goto out;
	}
	ret = 0;
out:
	free_build(b);
	ERR_clear_error();
	return ret;
}

/*
 * scan_8bit - does the rest of f hold octets above 127? 1 yes, 0 no. A
 * stream that cannot be rewound is assumed to (declaring 8bit is always
 * true enough; declaring 7bit for 8-bit data is not).
 */
static int scan_8bit(FILE *f)
{
	unsigned char buf[16384];
	off_t start = ftello(f);
	size_t n, i;
	int found = 0;

	if (start < 0)
		return 1;
	while (!found && (n = fread(buf, 1, sizeof(buf), f)) > 0)
		for (i = 0; i < n; i++)
			if (buf[i] & 0x80) {
				found = 1;
				break;
			}
	clearerr(f);
	if (fseeko(f, start, SEEK_SET) != 0)
		return -1;	/* reading then fails and reports it */
	return found;
}

/* ---------------------------------------------------------------- our BIOs */

static BIO *new_bio(BIO_METHOD **m, int type, const char *name,
		    int (*wr)(BIO *, const char *, int), int (*rd)(BIO *, char *, int),
		    long (*ctrl)(BIO *, int, long, void *), void *state)
{
	BIO *bio;

	if ((*m = BIO_meth_new(type, name)) == NULL)
		return NULL;
	if ((wr != NULL && (!BIO_meth_set_write(*m, wr) || !BIO_meth_set_puts(*m, any_puts))) ||
	    (rd != NULL && !BIO_meth_set_read(*m, rd)) || !BIO_meth_set_ctrl(*m, ctrl))
		return NULL;
	if ((bio = BIO_new(*m)) == NULL)
		return NULL;
	BIO_set_data(bio, state);
	BIO_set_init(bio, 1);
	return bio;
}

/* any_puts - BIO_puts, which SMIME_write_CMS uses for some of its headers. */
static int any_puts(BIO *bio, const char *str)
{
	size_t len = strlen(str);

	return len > INT_MAX ? -1 : BIO_write(bio, str, (int)len);
}

/*
 * make_bios - the entity source, the crlf filter and the base64 sink. The
 * entity declares 8bit when the original has 8-bit octets: RFC 2046 allows
 * only 7bit, 8bit or binary for message/rfc822, and 7bit is the default.
 */
static int make_bios(struct build *b, FILE *original, FILE *out)
{
	struct entity_src *e = &b->es;

	e->in = original;
	e->prefix_len = (size_t)snprintf(e->prefix, sizeof(e->prefix),
					 "Content-Type: message/rfc822\r\n%s\r\n",
					 scan_8bit(original) ? "Content-Transfer-Encoding: 8bit\r\n" : "");
	b->bs.out = out;
	b->bs.eol = b->req->crlf ? "\r\n" : "\n";
	b->entity = new_bio(&b->m_entity, BIO_TYPE_SM_ENTITY, "sikkermail entity", NULL,
			    entity_read, entity_ctrl, e);
	b->crlf = new_bio(&b->m_crlf, BIO_TYPE_SM_CRLF, "sikkermail crlf", crlf_write, NULL,
			  crlf_ctrl, &b->cf);
	b->b64 = new_bio(&b->m_b64, BIO_TYPE_SM_BASE64, "sikkermail base64", b64_write, NULL,
			 b64_ctrl, &b->bs);
	return b->entity && b->crlf && b->b64 ? 0 : -1;
}

/* entity_read - the prefix, then the original with every bare LF made CRLF. */
static int entity_read(BIO *bio, char *out, int outl)
{
	struct entity_src *e = BIO_get_data(bio);
	unsigned char c;
	int n = 0;

	while (n < outl) {
		if (e->prefix_off < e->prefix_len) {
			out[n++] = e->prefix[e->prefix_off++];
		} else if (e->pending_lf) {
			out[n++] = '\n';
			e->pending_lf = false;
		} else if (e->pos < e->len || entity_fill(e) > 0) {
			c = e->buf[e->pos++];
			if (c == '\n' && !e->prev_cr) {
				c = '\r';
				e->pending_lf = true;
			}
			out[n++] = (char)c;
			e->prev_cr = c == '\r' && !e->pending_lf;
		} else {
			break;
		}
	}
	return n > 0 || !e->failed ? n : -1;
}

static int entity_fill(struct entity_src *e)
{
	e->pos = 0;
	e->len = fread(e->buf, 1, sizeof(e->buf), e->in);
	if (e->len == 0 && ferror(e->in))
		e->failed = true;
	return (int)e->len;
}

static long entity_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
	struct entity_src *e = BIO_get_data(bio);

	if (cmd == BIO_CTRL_EOF)
		return e->prefix_off == e->prefix_len && !e->pending_lf && e->pos == e->len &&
		       feof(e->in);
	return cmd == BIO_CTRL_FLUSH;
}

static int crlf_write(BIO *bio, const char *in, int inl)
{
	struct crlf_filter *f = BIO_get_data(bio);
	char buf[8192];
	int i = 0, n;

	while (i < inl) {
		for (n = 0; i < inl && n < (int)sizeof(buf) - 1; i++) {
			if (in[i] == '\n' && !f->prev_cr)
				buf[n++] = '\r';
			buf[n++] = in[i];
			f->prev_cr = in[i] == '\r';
		}
		if (BIO_write(BIO_next(bio), buf, n) != n) {
			f->failed = true;
			return -1;
		}
	}
	return inl;
}

/*
 * crlf_ctrl - pass everything down except a flush. OpenSSL flushes its
 * output when the signed content has been copied, and a flush reaching the
 * cipher BIO below would finish the encryption before the signature is
 * written. The envelope is flushed once, explicitly, at the end.
 */
static long crlf_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_PUSH:
	case BIO_CTRL_POP:
		return 0;
	default:
		return BIO_next(bio) ? BIO_ctrl(BIO_next(bio), cmd, num, ptr) : 0;
	}
}

static int b64_write(BIO *bio, const char *in, int inl)
{
	struct b64_sink *s = BIO_get_data(bio);
	size_t i = 0, take;

	while (i < (size_t)inl) {
		take = sizeof(s->in) - s->n;
		if (take > (size_t)inl - i)
			take = (size_t)inl - i;
		memcpy(s->in + s->n, in + i, take);
		s->n += take;
		i += take;
		if (s->n == sizeof(s->in) && b64_line(s) < 0)
			return -1;
	}
	return inl;
}

/* b64_line - encode what is buffered (57 octets, or fewer at the end) as a line. */
static int b64_line(struct b64_sink *s)
{
	unsigned char line[80];
	int len = EVP_EncodeBlock(line, s->in, (int)s->n);

	s->n = 0;
	if (s->failed)
		return -1;
	if (fwrite(line, 1, (size_t)len, s->out) != (size_t)len || fputs(s->eol, s->out) < 0) {
		s->failed = true;
		s->errnum = errno;
		return -1;
	}
	return 0;
}

/* b64_ctrl - a flush is not the end: run_pipeline writes the last line. */
static long b64_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
	return cmd == BIO_CTRL_FLUSH;
}

/* ---------------------------------------------------------------- random, markers */

char *smime_new_message_id(const char *mailbox)
{
	unsigned char r[16];
	char hex[sizeof(r) * 2 + 1];
	const char *at = mailbox ? strrchr(mailbox, '@') : NULL;
	struct timespec ts;
	size_t i;

	if (smime_random(r, sizeof(r)) < 0) {
		/* Not secret, only unique: time and process will do. */
		clock_gettime(CLOCK_REALTIME, &ts);
		memset(r, 0, sizeof(r));
		memcpy(r, &ts.tv_sec, sizeof(ts.tv_sec) < 8 ? sizeof(ts.tv_sec) : 8);
		memcpy(r + 8, &ts.tv_nsec, 4);
		i = (size_t)getpid();
		memcpy(r + 12, &i, 4);
	}
	smime_hex(r, sizeof(r), hex);
	return xasprintf("<%s@%s>", hex, at && at[1] ? at + 1 : "localhost");
}

int smime_random(unsigned char *buf, size_t len)
{
	size_t n;

	for (; len > 0; buf += n, len -= n) {
		n = len < INT_MAX ? len : INT_MAX;
		if (RAND_bytes(buf, (int)n) != 1) {
			ERR_clear_error();
			return -1;
		}
	}
	return 0;
}

/*
 * marker_mac - HMAC-SHA256(secret, "T\nmessage_id"). An empty secret is
 * refused: anyone could make that marker.
 */
static int marker_mac(const unsigned char *secret, size_t secret_len, long long t,
		      const char *message_id, unsigned char mac[SMIME_MARKER_MAC_LEN])
{
	char *data;
	unsigned int len = 0;
	bool ok;

	if (secret == NULL || secret_len == 0 || secret_len > INT_MAX)
		return -1;
	data = xasprintf("%lld\n%s", t, message_id ? message_id : "");
	ok = HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)data,
		  strlen(data), mac, &len) != NULL && len == SMIME_MARKER_MAC_LEN;
	free(data);
	ERR_clear_error();
	return ok ? 0 : -1;
}

char *smime_marker(const unsigned char *secret, size_t secret_len, const char *message_id,
		   time_t now)
{
	unsigned char mac[SMIME_MARKER_MAC_LEN];
	char hex[2 * SMIME_MARKER_MAC_LEN + 1];

	if (now < 0 || marker_mac(secret, secret_len, (long long)now, message_id, mac) < 0)
		return NULL;
	smime_hex(mac, sizeof(mac), hex);
	return xasprintf("%lld.%s", (long long)now, hex);
}

bool smime_marker_valid(const unsigned char *secret, size_t secret_len, const char *message_id,
			const char *marker, time_t now, long max_age)
{
	unsigned char got[SMIME_MARKER_MAC_LEN], want[SMIME_MARKER_MAC_LEN];
	long long t;

	if (marker == NULL || now < 0 || !smime_marker_parse(marker, &t, got))
		return false;
	/* t >= 0 once parsed and now >= 0, so neither subtraction can overflow. */
	if (t - SMIME_MARKER_SKEW > (long long)now || (long long)now - t > max_age)
		return false;
	if (marker_mac(secret, secret_len, t, message_id, want) < 0)
		return false;
	return CRYPTO_memcmp(got, want, sizeof(want)) == 0;
}

bool smime_payload_encrypted(FILE *payload, const char *kind, const char **why)
{
	CMS_ContentInfo *cms;
	BIO *in;
	int nid;

	rewind(payload);
	if (kind != NULL && strcmp(kind, "pgp") == 0)
		return smime_pgp_armour_encrypted(payload, why);
	if ((in = BIO_new_fp(payload, BIO_NOCLOSE)) == NULL) {
		*why = "out of memory";
		return false;
	}
	cms = d2i_CMS_bio(in, NULL);
	BIO_free(in);
	ERR_clear_error();
	if (cms == NULL) {
		*why = "the body is not CMS";
		return false;
	}
	/* one CMS object and nothing after it: clear text behind it would go out as it is */
	if (fgetc(payload) != EOF) {
		CMS_ContentInfo_free(cms);
		*why = "the body holds more than one CMS object";
		return false;
	}
	nid = OBJ_obj2nid(CMS_get0_type(cms));
	CMS_ContentInfo_free(cms);
	if (nid == NID_pkcs7_enveloped || nid == NID_id_smime_ct_authEnvelopedData)
		return true;
	*why = nid == NID_pkcs7_signed ? "the body is CMS SignedData, not encrypted"
				       : "the body is CMS but not EnvelopedData";
	return false;
}

char *smime_marker_digest(const char *marker)
{
	unsigned char md[32];
	unsigned int len = 0;
	char *hex = xmalloc(2 * sizeof(md) + 1);

	if (EVP_Digest(marker, strlen(marker), md, &len, EVP_sha256(), NULL) != 1 ||
	    len != sizeof(md)) {
		free(hex);
		return NULL;
	}
	for (unsigned int i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return hex;
}

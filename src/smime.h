/*
 * smime.h - S/MIME for the function mailboxes: load a mailbox's key, and
 * turn an original message into a signed-then-encrypted one.
 *
 * This module and the certificate checks are the only places that use
 * OpenSSL. Everything here is thread-safe: a loaded key is only read after
 * start-up, every operation makes its own OpenSSL objects, and the OpenSSL
 * error queue (thread-local) is cleared when an operation starts.
 *
 * Exports:
 *   smime_key_load, smime_key_free   a mailbox's private key + certificate
 *   smime_build_encrypted            original -> complete encrypted message
 *   smime_new_message_id             a fresh Message-ID for a mailbox
 *   smime_cipher_valid               is a Cipher setting known here?
 *   smime_is_encrypted               is a message already S/MIME/PGP encrypted?
 *                                    (smime_text.c: pure string logic)
 *   smime_encode_text                a text as an unstructured header value
 *                                    (smime_text.c)
 *   smime_marker, smime_marker_valid the loop-safety marker of a re-injected
 *                                    message
 *   smime_random                     random octets (keys, secrets)
 *
 * Every function that can fail returns 0 / non-NULL on success, and on
 * failure -1 / NULL with *err set to a malloc'ed English explanation
 * (including OpenSSL's own error text) that the caller frees.
 */
#ifndef SIKKERMAIL_SMIME_H
#define SIKKERMAIL_SMIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

struct smime_key;	/* opaque: a private key and its certificate */

/*
 * smime_key_load - read a PEM private key and the PEM certificate that goes
 * with it. Meant to run at start-up, as root, before privileges are
 * dropped. Refuses a key file that is not a regular file or that group or
 * others may access in any way (mode & 077), an encrypted key (there is no
 * one to type a passphrase), and a key that does not belong to the
 * certificate. A certificate outside its validity period is loaded with a
 * warning: refusing it would stop all mail at the next restart.
 */
struct smime_key *smime_key_load(const char *keyfile, const char *certfile, char **err);
void smime_key_free(struct smime_key *key);

/* A certificate in DER form, as the directory and the cache hand it over. */
struct smime_der {
	const unsigned char *der;
	size_t len;
};

struct smime_request {
	const struct smime_key *key;	/* the function mailbox: signs, is encrypted to */
	const char *mailbox;		/* its address: From (and Reply-To), Message-ID domain */
	const char *const *to;		/* the encrypted recipients, for the To: header */
	size_t n_to;
	const struct smime_der *certs;	/* their certificates (the mailbox's is added) */
	size_t n_certs;
	const char *subject;		/* outer Subject, UTF-8; RFC 2047-encoded if not ASCII */
	const char *cipher;		/* "aes-256-cbc" (NULL: the same) or "aes-256-gcm" */
	bool reply_to;			/* add "Reply-To: mailbox" */
	const char *message_id;		/* "<id@domain>"; NULL: a new one (smime_new_message_id) */
	time_t date;			/* Date: header; 0: now */
	const char *const *extra_headers;	/* complete "Name: value" lines, no line end */
	size_t n_extra_headers;
	bool crlf;			/* CRLF line ends in the output; default LF */
};

/*
 * smime_build_encrypted - read the original message (headers and body, as
 * the MTA saw it, LF or CRLF line ends) from the current position of
 * original to its end; write to out a complete RFC 5322 message:
 *
 *   From, To, [Reply-To], Subject, Date, Message-ID, extra headers,
 *   MIME-Version, Content-Type: application/pkcs7-mime; smime-type=
 *   enveloped-data (authEnveloped-data for GCM), base64 body in 76-column
 *   lines.
 *
 * Inside: the original as a message/rfc822 entity, signed (multipart/signed,
 * detached, SHA-256, signer certificate included) with the mailbox's key,
 * then encrypted (CMS EnvelopedData with AES-256-CBC, or AuthEnvelopedData
 * with AES-256-GCM) to every certificate in req->certs and to the mailbox's
 * own certificate. The data is streamed: memory use does not grow with
 * the size of the message. On failure out holds garbage and must be
 * discarded. Returns 0 or -1.
 */
int smime_build_encrypted(const struct smime_request *req, FILE *original, FILE *out, char **err);

/* smime_new_message_id - "<32 random hex digits@domain of mailbox>", malloc'ed. */
char *smime_new_message_id(const char *mailbox);

/* smime_cipher_valid - is name a Cipher value that smime_build_encrypted accepts? */
bool smime_cipher_valid(const char *name);

/*
 * smime_is_encrypted - decide from the value of a message's top-level
 * Content-Type header whether it is already encrypted, so that it is not
 * wrapped again: application/pkcs7-mime or application/x-pkcs7-mime with
 * smime-type enveloped-data or authEnveloped-data or with no smime-type,
 * and multipart/encrypted with protocol application/pgp-encrypted. Pure
 * string logic: case-insensitive, tolerant of folding, comments and
 * quoting. NULL (no header) is not encrypted.
 */
bool smime_is_encrypted(const char *content_type);

struct strbuf;

/*
 * smime_encode_text - UTF-8 text appended to sb as the value of an
 * unstructured header field (Subject), without the field name and the
 * space after it and without a final eol: printable ASCII as it is,
 * anything else as RFC 2047 encoded-words of at most 64 columns, one per
 * line, folded with eol and a space.
 */
void smime_encode_text(struct strbuf *sb, const char *text, const char *eol);

/*
 * smime_payload_encrypted - is the payload a label points at (see
 * mime_encrypted_payload) really encrypted? For kind "cms": it parses as
 * CMS ContentInfo whose content is EnvelopedData or AuthEnvelopedData
 * (smime.c). For kind "pgp": an ASCII-armoured PGP MESSAGE whose first
 * packet is an encrypted session key, public-key or symmetric (RFC 4880
 * tags 1 and 3; smime_text.c). The FILE is read from its start. Anything
 * else - a clear text under an encrypted label - is false, with *why set
 * to a fixed phrase saying what was found.
 */
bool smime_payload_encrypted(FILE *payload, const char *kind, const char **why);
bool smime_pgp_armour_encrypted(FILE *payload, const char **why);

/*
 * smime_marker - the value of the header the milter puts in every message
 * it re-injects into the MTA, so that the copy is recognised when it comes
 * back and is not filtered twice: "T.HEX", T the time now in decimal
 * seconds since the epoch, HEX the lower-case hex HMAC-SHA256 under secret
 * of T, a LF and message_id (NULL counts as ""). Without the secret an
 * outside sender cannot make one, and the message id and the time keep a
 * marker copied from another message from passing. Malloc'ed; NULL if
 * secret is empty or now is negative.
 */
/*
 * smime_marker_digest - what the database keeps of a marker: the SHA-256
 * of its value, in hex (64 digits), malloc'ed. Whoever can read the
 * database learns nothing they could put in a message.
 */
char *smime_marker_digest(const char *marker);

char *smime_marker(const unsigned char *secret, size_t secret_len, const char *message_id,
		   time_t now);

/*
 * smime_marker_valid - true only if marker is exactly a marker that
 * smime_marker made with this secret for this message id, at a time T at
 * most 300 s after now (the clocks of two hosts differ) and with
 * now - T <= max_age. White space and folding around the value are
 * allowed, nothing else. The HMAC is compared in constant time. An empty
 * secret makes every marker invalid.
 */
bool smime_marker_valid(const unsigned char *secret, size_t secret_len, const char *message_id,
			const char *marker, time_t now, long max_age);

/* smime_random - fill buf with len random octets from OpenSSL. Returns 0 or -1. */
int smime_random(unsigned char *buf, size_t len);

#endif

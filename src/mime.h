/*
 * mime.h - the decoded text of a message, for the CPR scanner.
 *
 * mime.c and mime_subject.c (the subject tags) are the only files that
 * include GMime. mime.c parses a whole RFC 5322
 * message (headers and body as received) and feeds the CPR scanner:
 *
 *  - the Subject, RFC 2047 encoded words decoded (an undeclared 8-bit
 *    Subject is read as UTF-8, else Windows-1252);
 *  - every text leaf (text/plain, text/html, text/csv, ...) of any MIME
 *    structure: multipart/mixed, alternative, related, signed, nested to
 *    any depth up to MIME_MAX_DEPTH, and message/rfc822 attachments
 *    (their Subject too),
 *    with base64, quoted-printable and uuencode decoded and the declared
 *    charset converted to UTF-8 (any charset iconv knows; an unknown one
 *    is scanned as it is: the digits are ASCII in every common charset);
 *    attachments too (Content-Disposition does not matter), text/html
 *    with its markup skipped (see cpr.h).
 *
 * Not scanned: non-text parts (image, audio, video, application types
 * including PDF, Office files, ZIP archives, S/MIME and PGP bodies), and
 * headers other than Subject.
 *
 * Memory does not grow with the message: the parser keeps the part
 * contents in the file (persistent stream) and each part is decoded
 * through a filter chain in small chunks. The FILE must be seekable.
 *
 * Threads: GMime is initialised once (pthread_once); after that GMime 3
 * may be used from several threads as long as no object is shared between
 * them, and mime_scan_cpr shares none (its charset-conversion cache is
 * locked inside GMime).
 */
#ifndef SIKKERMAIL_MIME_H
#define SIKKERMAIL_MIME_H

#include <stdio.h>

#include "cpr.h"

#define MIME_MAX_DEPTH 100	/* nested multiparts and messages; Postfix's mime_nesting_limit */

/* mime_init - initialise GMime; optional (mime_scan_cpr does it), best before threads start. */
void mime_init(void);

/*
 * mime_scan_cpr - scan the message from the current position of the FILE
 * to its end; *out gets the counts (cpr.h). 0 on success; -1 with *err
 * set (a new string) when the message cannot be read or parsed at all (no
 * header), nests deeper than MIME_MAX_DEPTH, or is (or holds) a fragment of
 * a split message (message/partial): the caller decides what an
 * unscannable message means. The FILE is left at the position it had.
 */
int mime_scan_cpr(FILE *message, struct cpr_result *out, char **err);

/*
 * mime_encrypted_payload - the part of a message that claims to carry its
 * encryption, transfer-decoded, handed to sink in chunks: the whole body
 * of an application/pkcs7-mime (or x-pkcs7-mime) message, or the second
 * part of a multipart/encrypted one. *kind gets "cms" or "pgp". 0 when
 * such a part was found and handed over; -1 with *err set otherwise (not
 * labelled so, unparsable, or sink returned non-zero). Whether the bytes
 * are really encrypted is for the caller to judge (smime.h). The FILE is
 * left at the position it had.
 */
int mime_encrypted_payload(FILE *message, int (*sink)(void *ctx, const void *p, size_t n),
			   void *ctx, const char **kind, char **err);

#endif

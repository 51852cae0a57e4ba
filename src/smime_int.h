/*
 * smime_int.h - what smime.c and smime_text.c share; not for the rest of
 * the program (use smime.h).
 *
 * smime.c does everything that needs OpenSSL; smime_text.c the parts that
 * are pure text (the outer headers, hex, reading a marker), so that they
 * need no OpenSSL header. Nothing here names an OpenSSL type.
 */
#ifndef SIKKERMAIL_SMIME_INT_H
#define SIKKERMAIL_SMIME_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "smime.h"

/* The length of a marker's HMAC-SHA256, in octets; twice that in hex digits. */
#define SMIME_MARKER_MAC_LEN 32

/*
 * smime_write_headers - the outer headers of the encrypted message and the
 * empty line after them, as smime.h describes, to out. aead: the cipher is
 * an AEAD one (smime-type=authEnveloped-data). The request has been
 * checked. Returns 0, or -1 with errno set when writing failed.
 */
int smime_write_headers(const struct smime_request *req, bool aead, FILE *out);

/* smime_hex - len octets as lower-case hex into out, which holds 2 * len + 1. */
void smime_hex(const unsigned char *in, size_t len, char *out);

/*
 * smime_marker_parse - read a marker "T.HEX" (T decimal, no sign, no
 * leading zero; HEX exactly 64 lower-case hex digits), with white space
 * and folding allowed around it but not inside. On success *t and mac
 * hold T and the decoded HMAC; false when it is not exactly that.
 */
bool smime_marker_parse(const char *marker, long long *t, unsigned char mac[SMIME_MARKER_MAC_LEN]);

#endif

/*
 * smime_text.c - the parts of S/MIME handling that are pure text and need
 * no OpenSSL: is a message already encrypted, the outer headers of an
 * encrypted message, and reading a loop-safety marker.
 *
 * Exports smime_is_encrypted and smime_encode_text (declared in smime.h),
 * and smime_write_headers, smime_hex and smime_marker_parse (smime_int.h,
 * for smime.c).
 *
 * Already encrypted is decided from the value of the top-level
 * Content-Type header alone. The value is read as RFC 2045 says, but
 * tolerantly: folding (CR, LF, tabs), comments in parentheses, quoted
 * values with backslash escapes, and any case. What cannot be parsed is
 * "not encrypted": the message is then encrypted (again), which is safe;
 * the opposite mistake would send a clear-text message on as if it were
 * encrypted.
 */
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smime.h"
#include "smime_int.h"
#include "util.h"

/* The parameters that matter, and what was seen of them. */
struct ct_params {
	int smime_types;	/* smime-type parameters seen */
	bool smime_type_other;	/* one of them is not an encrypted type */
	int protocols;		/* protocol parameters seen */
	bool protocol_other;	/* one of them is not application/pgp-encrypted */
	bool malformed;		/* something that is not "; attr=value" */
};

static bool is_space(char c);
static bool is_token_char(char c);
static const char *skip_cfws(const char *p);
static size_t token_len(const char *p);
static bool span_is(const char *s, size_t n, const char *word);
static const char *read_value(const char *p, char *buf, size_t size, bool *ok);
static void note_param(const char *attr, size_t n, const char *value, struct ct_params *out);
static void parse_params(const char *p, struct ct_params *out);
static void write_address_list(struct strbuf *sb, const char *name, const char *const *v,
			       size_t n, const char *eol);
static void write_subject(struct strbuf *sb, const char *subject, const char *eol);
static void base64(const unsigned char *in, size_t n, char *out);
static void format_date(time_t t, char *buf, size_t len);
static int hex_value(char c);

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* is_token_char - RFC 2045 token: not a space, control or tspecial. */
static bool is_token_char(char c)
{
	return (unsigned char)c > 0x20 && (unsigned char)c < 0x7f &&
	       strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* skip_cfws - white space (folding included) and comments, which may nest. */
static const char *skip_cfws(const char *p)
{
	int depth = 0;

	for (; *p != '\0'; p++) {
		if (*p == '\\' && depth > 0 && p[1] != '\0')
			p++;
		else if (*p == '(')
			depth++;
		else if (*p == ')' && depth > 0)
			depth--;
		else if (depth == 0 && !is_space(*p))
			break;
	}
	return p;
}

static size_t token_len(const char *p)
{
	size_t n = 0;

	while (is_token_char(p[n]))
		n++;
	return n;
}

static bool span_is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && ascii_strncasecmp(s, word, n) == 0;
}

/*
 * read_value - a token or a quoted string (escapes undone) into buf.
 * *ok is false when it was empty, unterminated or too long for buf.
 * Unquoted, '/' is taken as part of the value: "protocol=application/
 * pgp-encrypted" is common, if not strictly a token.
 */
static const char *read_value(const char *p, char *buf, size_t size, bool *ok)
{
	size_t n = 0;

	*ok = true;
	if (*p != '"') {
		while (is_token_char(p[n]) || p[n] == '/')
			n++;
		if (n == 0 || n >= size) {
			*ok = false;
		} else {
			memcpy(buf, p, n);
			buf[n] = '\0';
		}
		return p + n;
	}
	for (p++; *p != '\0' && *p != '"'; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		if (*p == '\r' || *p == '\n')
			continue;	/* folding inside the quotes */
		if (n + 1 < size)
			buf[n++] = *p;
		else
			*ok = false;
	}
	buf[n] = '\0';
	if (*p != '"')
		*ok = false;
	return *p == '"' ? p + 1 : p;
}

static void note_param(const char *attr, size_t n, const char *value, struct ct_params *out)
{
	if (span_is(attr, n, "smime-type")) {
		out->smime_types++;
		if (value == NULL || (ascii_strcasecmp(value, "enveloped-data") != 0 &&
				      ascii_strcasecmp(value, "authEnveloped-data") != 0))
			out->smime_type_other = true;
	} else if (span_is(attr, n, "protocol")) {
		out->protocols++;
		if (value == NULL || ascii_strcasecmp(value, "application/pgp-encrypted") != 0)
			out->protocol_other = true;
	}
}

/* parse_params - "; attr=value" pairs; stops at the first thing that is not one. */
static void parse_params(const char *p, struct ct_params *out)
{
	char value[128];
	const char *attr;
	size_t n;
	bool ok;

	for (;;) {
		p = skip_cfws(p);
		if (*p != ';')
			break;
		p = skip_cfws(p + 1);
		attr = p;
		if ((n = token_len(p)) == 0)
			continue;	/* ";;" or a trailing ';' */
		p = skip_cfws(p + n);
		if (*p != '=')
			break;
		p = read_value(skip_cfws(p + 1), value, sizeof(value), &ok);
		note_param(attr, n, ok ? value : NULL, out);
		if (!ok)
			break;
	}
	out->malformed = *p != '\0';
}

bool smime_is_encrypted(const char *content_type)
{
	struct ct_params params = { 0 };
	const char *p, *type, *sub;
	size_t ntype, nsub;

	if (content_type == NULL)
		return false;
	type = skip_cfws(content_type);
	ntype = token_len(type);
	p = skip_cfws(type + ntype);
	if (ntype == 0 || *p != '/')
		return false;
	sub = skip_cfws(p + 1);
	nsub = token_len(sub);
	parse_params(sub + nsub, &params);
	if (params.malformed || nsub == 0)
		return false;

	if (span_is(type, ntype, "application") &&
	    (span_is(sub, nsub, "pkcs7-mime") || span_is(sub, nsub, "x-pkcs7-mime")))
		return !params.smime_type_other;	/* absent counts as enveloped */
	if (span_is(type, ntype, "multipart") && span_is(sub, nsub, "encrypted"))
		return params.protocols > 0 && !params.protocol_other;
	return false;
}

/* pgp_length - one packet's body length at *pos (after its tag octet); -1 if cut short. */
static long long pgp_length(const unsigned char *p, size_t n, size_t *pos, bool new_format,
			    int old_type, bool *partial)
{
	size_t i = *pos;
	long long len;

	*partial = false;
	if (!new_format) {
		static const int octets[4] = { 1, 2, 4, 0 };
		int k = octets[old_type];

		if (k == 0)	/* indeterminate: to the end */
			return (long long)(n - i);
		if (i + (size_t)k > n)
			return -1;
		for (len = 0; k > 0; k--)
			len = (len << 8) | p[i++];
		*pos = i;
		return len;
	}
	if (i >= n)
		return -1;
	if (p[i] < 192) {
		len = p[i];
		i += 1;
	} else if (p[i] < 224) {
		if (i + 2 > n)
			return -1;
		len = ((long long)(p[i] - 192) << 8) + p[i + 1] + 192;
		i += 2;
	} else if (p[i] == 255) {
		if (i + 5 > n)
			return -1;
		len = ((long long)p[i + 1] << 24) | (p[i + 2] << 16) | (p[i + 3] << 8) | p[i + 4];
		i += 5;
	} else {
		len = 1LL << (p[i] & 0x1f);
		*partial = true;
		i += 1;
	}
	*pos = i;
	return len;
}

/*
 * pgp_packets_encrypted - the decoded packets are one or more encrypted
 * session keys (RFC 4880 tags 1, 3) and then one encrypted data packet
 * (tags 9, 18, 20) that ends exactly where the data ends.
 */
static bool pgp_packets_encrypted(const unsigned char *p, size_t n, const char **why)
{
	size_t pos = 0;
	int keys = 0;

	while (pos < n) {
		bool new_format, partial;
		int tag, old_type = 0;
		long long len;

		if (!(p[pos] & 0x80))
			break;
		new_format = (p[pos] & 0x40) != 0;
		tag = new_format ? (p[pos] & 0x3f) : ((p[pos] >> 2) & 0x0f);
		old_type = p[pos] & 0x03;
		pos++;
		do {
			len = pgp_length(p, n, &pos, new_format, old_type, &partial);
			if (len < 0 || (unsigned long long)len > n - pos) {
				*why = "the PGP MESSAGE is cut short";
				return false;
			}
			pos += (size_t)len;
		} while (partial);
		if (tag == 1 || tag == 3) {
			keys++;
			continue;
		}
		if ((tag == 9 || tag == 18 || tag == 20) && keys > 0 && pos == n)
			return true;
		break;
	}
	*why = keys == 0 ? "the PGP MESSAGE does not start with an encrypted session key"
			 : "the PGP MESSAGE holds more than encrypted data";
	return false;
}

/*
 * smime_pgp_armour_encrypted - the part is nothing but one armoured PGP
 * MESSAGE (whitespace around it allowed): "-----BEGIN PGP MESSAGE-----",
 * armour headers up to an empty line, base64, an optional "=" checksum
 * line, "-----END PGP MESSAGE-----"; and its packets are encrypted
 * session keys followed by encrypted data, nothing else.
 */
bool smime_pgp_armour_encrypted(FILE *payload, const char **why)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	struct strbuf data;
	char line[4096];
	int state = 0;	/* 0 before, 1 headers, 2 data, 3 checksum seen, 4 after END */
	unsigned acc = 0;
	int bits = 0;
	bool ok = false;

	*why = "the body is not an armoured PGP MESSAGE";
	sb_init(&data);
	while (fgets(line, sizeof(line), payload) != NULL) {
		size_t len = strcspn(line, "\r\n");
		bool blank = line[strspn(line, " \t\r\n")] == '\0';

		if (line[len] == '\0' && !feof(payload))
			goto out;	/* a line longer than armour has */
		line[len] = '\0';
		switch (state) {
		case 0:
			if (blank)
				continue;
			if (strcmp(line, "-----BEGIN PGP MESSAGE-----") != 0)
				goto out;
			state = 1;
			continue;
		case 1:
			if (blank)
				state = 2;
			continue;
		case 2:
		case 3:
			if (strcmp(line, "-----END PGP MESSAGE-----") == 0) {
				state = 4;
				continue;
			}
			if (state == 3 || blank)
				goto out;
			if (line[0] == '=') {
				state = 3;
				continue;
			}
			for (const char *c = line; *c != '\0'; c++) {
				const char *v = strchr(b64, *c);

				if (*c == '=')
					break;
				if (v == NULL)
					goto out;
				acc = (acc << 6) | (unsigned)(v - b64);
				bits += 6;
				if (bits >= 8) {
					bits -= 8;
					sb_addc(&data, (int)((acc >> bits) & 0xff));
				}
			}
			continue;
		default:
			if (!blank)
				goto out;	/* something after the armour */
			continue;
		}
	}
	if (state != 4)
		goto out;
	ok = pgp_packets_encrypted((const unsigned char *)(data.s ? data.s : ""), data.len, why);
out:
	sb_free(&data);
	return ok;
}

/* ---------------------------------------------------------------- headers */

int smime_write_headers(const struct smime_request *req, bool aead, FILE *out)
{
	const char *eol = req->crlf ? "\r\n" : "\n";
	char *msgid = NULL;
	struct strbuf sb;
	char date[64];
	size_t i;
	int ret;

	sb_init(&sb);
	sb_printf(&sb, "From: %s%s", req->mailbox, eol);
	write_address_list(&sb, "To", req->to, req->n_to, eol);
	if (req->reply_to)
		sb_printf(&sb, "Reply-To: %s%s", req->mailbox, eol);
	write_subject(&sb, req->subject ? req->subject : "", eol);
	format_date(req->date ? req->date : time(NULL), date, sizeof(date));
	sb_printf(&sb, "Date: %s%s", date, eol);
	if (req->message_id == NULL)
		msgid = smime_new_message_id(req->mailbox);
	sb_printf(&sb, "Message-ID: %s%s", msgid ? msgid : req->message_id, eol);
	for (i = 0; i < req->n_extra_headers; i++)
		sb_printf(&sb, "%s%s", req->extra_headers[i], eol);
	sb_printf(&sb, "MIME-Version: 1.0%s", eol);
	sb_printf(&sb, "Content-Type: application/pkcs7-mime; smime-type=%s;%s name=\"smime.p7m\"%s",
		  aead ? "authEnveloped-data" : "enveloped-data", eol, eol);
	sb_printf(&sb, "Content-Transfer-Encoding: base64%s", eol);
	sb_printf(&sb, "Content-Disposition: attachment; filename=\"smime.p7m\"%s%s", eol, eol);
	ret = fwrite(sb.s, 1, sb.len, out) == sb.len ? 0 : -1;
	free(msgid);
	sb_free(&sb);
	return ret;
}

/* write_address_list - "Name: a, b, c", folded before a line passes 78 columns. */
static void write_address_list(struct strbuf *sb, const char *name, const char *const *v,
			       size_t n, const char *eol)
{
	size_t col, i, len;

	sb_printf(sb, "%s:", name);
	col = strlen(name) + 1;
	for (i = 0; i < n; i++) {
		len = strlen(v[i]) + 1 + (i + 1 < n);
		if (i > 0 && col + len > 78) {
			sb_adds(sb, eol);
			col = 0;
		}
		sb_printf(sb, " %s%s", v[i], i + 1 < n ? "," : "");
		col += len;
	}
	sb_adds(sb, eol);
}

/* write_subject - the Subject field of the outer message, as smime_encode_text writes it. */
static void write_subject(struct strbuf *sb, const char *subject, const char *eol)
{
	sb_adds(sb, "Subject: ");
	smime_encode_text(sb, subject, eol);
	sb_adds(sb, eol);
}

/*
 * smime_encode_text - see smime.h: printable ASCII as it is (unless it
 * would read as an encoded-word, or is too long for one line); anything
 * else as RFC 2047 UTF-8 B encoded-words of at most 39 octets each (64
 * columns), split only between UTF-8 characters, one per folded line.
 */
void smime_encode_text(struct strbuf *sb, const char *text, const char *eol)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t len = strlen(text), i, chunk;
	char word[64];
	bool plain = len < 900 && strstr(text, "=?") == NULL;

	for (i = 0; plain && i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			plain = false;
	if (plain) {
		sb_adds(sb, text);
		return;
	}
	for (i = 0; i < len; i += chunk) {
		chunk = len - i < 39 ? len - i : 39;
		while (chunk < len - i && chunk > 1 && (s[i + chunk] & 0xc0) == 0x80)
			chunk--;
		base64(s + i, chunk, word);
		sb_printf(sb, "%s%s=?UTF-8?B?%s?=", i > 0 ? eol : "", i > 0 ? " " : "", word);
	}
}

/* base64 - n octets as RFC 4648 base64 with padding; out holds 4 * ((n + 2) / 3) + 1. */
static void base64(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned long v;
	size_t i;

	for (i = 0; i < n; i += 3) {
		v = (unsigned long)in[i] << 16;
		if (i + 1 < n)
			v |= (unsigned long)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		*out++ = digits[(v >> 18) & 63];
		*out++ = digits[(v >> 12) & 63];
		*out++ = i + 1 < n ? digits[(v >> 6) & 63] : '=';
		*out++ = i + 2 < n ? digits[v & 63] : '=';
	}
	*out = '\0';
}

/* format_date - RFC 5322 date in local time, independent of the locale. */
static void format_date(time_t t, char *buf, size_t len)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	long off;

	localtime_r(&t, &tm);
	off = tm.tm_gmtoff / 60;
	snprintf(buf, len, "%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld", days[tm.tm_wday % 7],
		 tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		 tm.tm_sec, off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60);
}

/* ---------------------------------------------------------------- markers */

void smime_hex(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

/* hex_value - a lower-case hex digit's value, or -1: we write lower case only. */
static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * smime_marker_parse - strict, because the marker arrives in a header an
 * outside sender can write too: anything but our own format is refused
 * before any arithmetic on it. A leading zero is refused so that one
 * marker has one spelling only.
 */
bool smime_marker_parse(const char *marker, long long *t, unsigned char mac[SMIME_MARKER_MAC_LEN])
{
	const char *p = marker;
	long long v = 0;
	int hi, lo;
	size_t i;

	while (is_space(*p))
		p++;
	if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] != '.'))
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (LLONG_MAX - (*p - '0')) / 10)
			return false;
		v = v * 10 + (*p - '0');
	}
	if (*p++ != '.')
		return false;
	for (i = 0; i < SMIME_MARKER_MAC_LEN; i++, p += 2) {
		if ((hi = hex_value(p[0])) < 0 || (lo = hex_value(p[1])) < 0)
			return false;
		mac[i] = (unsigned char)(hi << 4 | lo);
	}
	while (is_space(*p))
		p++;
	if (*p != '\0')
		return false;
	*t = v;
	return true;
}

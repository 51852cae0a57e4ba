/*
 * smime_detect.c - is a message already encrypted? Decided from the value
 * of its top-level Content-Type header alone (pure string logic, no I/O).
 *
 * Exports smime_is_encrypted (declared in smime.h).
 *
 * The value is read as RFC 2045 says, but tolerantly: folding (CR, LF,
 * tabs), comments in parentheses, quoted values with backslash escapes,
 * and any case. What cannot be parsed is "not encrypted": the message is
 * then encrypted (again), which is safe; the opposite mistake would send
 * a clear-text message on as if it were encrypted.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "smime.h"
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

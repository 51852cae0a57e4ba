/*
 * jsoncheck.c - is standard input one valid JSON text (RFC 8259)? For
 * tests/report.sh, where neither jq nor python may be installed.
 *
 *   jsoncheck < FILE
 *
 * Exits 0 if it is, 1 (with the byte offset and why) if not. Strict:
 * one value and white space only, UTF-8 well-formed, no control
 * characters in strings, escapes and numbers as the grammar says.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUT (256L * 1024 * 1024)
#define MAX_DEPTH 512

struct in {
	const unsigned char *p, *start, *end;
	const char *why;
};

static int value(struct in *in, int depth);

static int bad(struct in *in, const char *why)
{
	if (in->why == NULL)
		in->why = why;
	return -1;
}

static void ws(struct in *in)
{
	while (in->p < in->end && strchr(" \t\r\n", *in->p) != NULL && *in->p != '\0')
		in->p++;
}

static int literal(struct in *in, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(in->end - in->p) < n || memcmp(in->p, word, n) != 0)
		return bad(in, "unknown literal");
	in->p += n;
	return 0;
}

/* utf8 - skip one well-formed multi-byte UTF-8 sequence. */
static int utf8(struct in *in)
{
	const unsigned char *s = in->p;
	unsigned long cp;
	size_t n;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return bad(in, "not UTF-8");
	if ((size_t)(in->end - s) < n)
		return bad(in, "UTF-8 cut short");
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return bad(in, "not UTF-8");
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return bad(in, "not UTF-8 (overlong or surrogate)");
	in->p += n;
	return 0;
}

static int string(struct in *in)
{
	in->p++;	/* the opening quote */
	while (in->p < in->end && *in->p != '"') {
		if (*in->p < 0x20)
			return bad(in, "control character in a string");
		if (*in->p >= 0x80) {
			if (utf8(in) < 0)
				return -1;
			continue;
		}
		if (*in->p++ != '\\')
			continue;
		if (in->p >= in->end)
			break;
		if (*in->p == 'u') {
			for (int i = 1; i <= 4; i++)
				if (in->p + i >= in->end || strchr("0123456789abcdefABCDEF", in->p[i]) == NULL ||
				    in->p[i] == '\0')
					return bad(in, "bad \\u escape");
			in->p += 5;
		} else if (*in->p != '\0' && strchr("\"\\/bfnrt", *in->p) != NULL) {
			in->p++;
		} else {
			return bad(in, "bad escape");
		}
	}
	if (in->p >= in->end)
		return bad(in, "string not closed");
	in->p++;
	return 0;
}

static size_t digits(struct in *in)
{
	size_t n = 0;

	while (in->p < in->end && *in->p >= '0' && *in->p <= '9')
		in->p++, n++;
	return n;
}

static int number(struct in *in)
{
	if (*in->p == '-')
		in->p++;
	if (in->p < in->end && *in->p == '0')
		in->p++;
	else if (digits(in) == 0)
		return bad(in, "bad number");
	if (in->p < in->end && *in->p == '.') {
		in->p++;
		if (digits(in) == 0)
			return bad(in, "bad fraction");
	}
	if (in->p < in->end && (*in->p == 'e' || *in->p == 'E')) {
		in->p++;
		if (in->p < in->end && (*in->p == '+' || *in->p == '-'))
			in->p++;
		if (digits(in) == 0)
			return bad(in, "bad exponent");
	}
	return 0;
}

/* members - the inside of an object (object: true) or array, after its opening bracket. */
static int members(struct in *in, int depth, int object)
{
	char close = object ? '}' : ']';

	in->p++;
	ws(in);
	if (in->p < in->end && *in->p == close) {
		in->p++;
		return 0;
	}
	for (;;) {
		ws(in);
		if (object) {
			if (in->p >= in->end || *in->p != '"' || string(in) < 0)
				return bad(in, "object key expected");
			ws(in);
			if (in->p >= in->end || *in->p++ != ':')
				return bad(in, "':' expected");
		}
		if (value(in, depth + 1) < 0)
			return -1;
		ws(in);
		if (in->p < in->end && *in->p == ',') {
			in->p++;
			continue;
		}
		if (in->p < in->end && *in->p == close) {
			in->p++;
			return 0;
		}
		return bad(in, object ? "',' or '}' expected" : "',' or ']' expected");
	}
}

static int value(struct in *in, int depth)
{
	if (depth > MAX_DEPTH)
		return bad(in, "nested too deep");
	ws(in);
	if (in->p >= in->end)
		return bad(in, "value expected");
	switch (*in->p) {
	case '{':
		return members(in, depth, 1);
	case '[':
		return members(in, depth, 0);
	case '"':
		return string(in);
	case 't':
		return literal(in, "true");
	case 'f':
		return literal(in, "false");
	case 'n':
		return literal(in, "null");
	default:
		if (*in->p == '-' || (*in->p >= '0' && *in->p <= '9'))
			return number(in);
		return bad(in, "value expected");
	}
}

int main(void)
{
	unsigned char *buf = malloc(MAX_INPUT);
	struct in in = { 0 };
	size_t n;

	if (buf == NULL)
		return 2;
	n = fread(buf, 1, MAX_INPUT, stdin);
	in.p = in.start = buf;
	in.end = buf + n;
	if (value(&in, 0) == 0) {
		ws(&in);
		if (in.p != in.end)
			bad(&in, "text after the value");
	}
	if (in.why != NULL) {
		fprintf(stderr, "jsoncheck: offset %ld: %s\n", (long)(in.p - in.start), in.why);
		free(buf);
		return 1;
	}
	free(buf);
	return 0;
}

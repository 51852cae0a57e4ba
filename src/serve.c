/*
 * serve.c - what "sikkermail-ctl serve" does to the bytes it is given,
 * apart from HTTP: query values decoded strictly, the rate limit per
 * client (an IPv4 address or an IPv6 /64), and a certificate as PEM.
 *
 * Exports serve_decode, serve_rate_charge, serve_rate_key, serve_pem and
 * serve_filename (serve.h).
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"
#include "util.h"


char *serve_decode(const char *s, size_t len, const char **why)
{
	char *out = xmalloc(len + 1), *o = out;
	const unsigned char *u, *end;
	size_t n;

	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (s[i] != '%') {
			*o++ = s[i];
			continue;
		}
		if (i + 2 >= len || (hi = hex_digit(s[i + 1])) < 0 ||
		    (lo = hex_digit(s[i + 2])) < 0) {
			*why = "a % not followed by two hex digits";
			goto bad;
		}
		*o++ = (char)(hi << 4 | lo);
		i += 2;
	}
	*o = '\0';
	end = (const unsigned char *)o;
	for (u = (const unsigned char *)out; u < end; u += n) {
		if (*u == '\0') {
			*why = "contains a NUL";
			goto bad;
		}
		if ((n = *u < 0x80 ? 1 : utf8_decode(u, (size_t)(end - u), NULL)) == 0) {
			*why = "not UTF-8";
			goto bad;
		}
	}
	return out;
bad:
	free(out);
	return NULL;
}

double serve_rate_charge(struct serve_limiter *l, const char *key, unsigned n, double now)
{
	struct serve_bucket *b = NULL, *oldest = &l->bucket[0];
	double per_s = l->rate / 60.0;

	for (size_t i = 0; i < SERVE_BUCKETS && b == NULL; i++) {
		if (strcmp(l->bucket[i].addr, key) == 0)
			b = &l->bucket[i];
		else if (l->bucket[i].last < oldest->last)
			oldest = &l->bucket[i];
	}
	if (b == NULL) {
		b = oldest;
		snprintf(b->addr, sizeof(b->addr), "%s", key);
		b->tokens = l->rate;
		b->last = now;
	}
	b->tokens += (now - b->last) * per_s;
	if (b->tokens > l->rate)
		b->tokens = l->rate;
	b->last = now;
	if (b->tokens < 1)
		return (1 - b->tokens) / per_s;
	b->tokens -= n;		/* into debt, if it must: what was asked is paid for */
	return 0;
}

void serve_rate_key(const char *addr, char *buf, size_t size)
{
	struct in6_addr a6;
	char text[INET6_ADDRSTRLEN];

	if (size == 0)
		return;
	if (inet_pton(AF_INET6, addr, &a6) != 1) {
		snprintf(buf, size, "%s", addr);
		return;
	}
	if (IN6_IS_ADDR_V4MAPPED(&a6) &&
	    inet_ntop(AF_INET, &a6.s6_addr[12], text, sizeof(text)) != NULL) {
		snprintf(buf, size, "%s", text);
		return;
	}
	memset(&a6.s6_addr[8], 0, 8);
	if (inet_ntop(AF_INET6, &a6, text, sizeof(text)) == NULL) {
		snprintf(buf, size, "%s", addr);
		return;
	}
	snprintf(buf, size, "%s/64", text);
}

char *serve_pem(const unsigned char *der, size_t len)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	struct strbuf sb;
	size_t col = 0;

	sb_init(&sb);
	sb_adds(&sb, "-----BEGIN CERTIFICATE-----\n");
	for (size_t i = 0; i < len; i += 3) {
		size_t left = len - i;
		unsigned long v = (unsigned long)der[i] << 16;

		if (left > 1)
			v |= (unsigned long)der[i + 1] << 8;
		if (left > 2)
			v |= der[i + 2];
		sb_addc(&sb, b64[(v >> 18) & 63]);
		sb_addc(&sb, b64[(v >> 12) & 63]);
		sb_addc(&sb, left > 1 ? b64[(v >> 6) & 63] : '=');
		sb_addc(&sb, left > 2 ? b64[v & 63] : '=');
		if ((col += 4) == 64) {
			sb_addc(&sb, '\n');
			col = 0;
		}
	}
	if (col > 0)
		sb_addc(&sb, '\n');
	sb_adds(&sb, "-----END CERTIFICATE-----\n");
	return sb.s;	/* the buffer itself: sb_steal would allocate a new one */
}

void serve_filename(const char *addr, char *buf, size_t size)
{
	size_t i = 0;

	if (size == 0)
		return;
	for (; addr[i] != '\0' && i + 1 < size; i++) {
		unsigned char ch = (unsigned char)addr[i];
		bool keep = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
			    (ch >= 'A' && ch <= 'Z') || ch == '@' || ch == '.' || ch == '-';

		buf[i] = keep ? (char)ch : '_';
	}
	buf[i] = '\0';
}

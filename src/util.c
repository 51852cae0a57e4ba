/*
 * util.c - allocation wrappers that never return NULL, strbuf, strlist.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		msg_fatal("out of memory allocating %zu bytes", n);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (p == NULL)
		msg_fatal("out of memory allocating %zu x %zu bytes", n, size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (q == NULL)
		msg_fatal("out of memory reallocating %zu bytes", n);
	return q;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	struct strbuf sb;
	va_list ap;

	sb_init(&sb);
	va_start(ap, fmt);
	sb_vprintf(&sb, fmt, ap);
	va_end(ap);
	return sb.s;
}

void sb_init(struct strbuf *sb)
{
	sb->cap = 64;
	sb->len = 0;
	sb->s = xmalloc(sb->cap);
	sb->s[0] = '\0';
}

void sb_free(struct strbuf *sb)
{
	free(sb->s);
	sb->s = NULL;
	sb->len = sb->cap = 0;
}

void sb_reset(struct strbuf *sb)
{
	sb->len = 0;
	sb->s[0] = '\0';
}

/* sb_reserve - make room for n more bytes plus the NUL. */
static void sb_reserve(struct strbuf *sb, size_t n)
{
	if (n >= SIZE_MAX / 2 - sb->len)
		msg_fatal("string too long");
	if (sb->len + n + 1 <= sb->cap)
		return;
	while (sb->len + n + 1 > sb->cap)
		sb->cap *= 2;
	sb->s = xrealloc(sb->s, sb->cap);
}

void sb_addmem(struct strbuf *sb, const void *p, size_t n)
{
	sb_reserve(sb, n);
	memcpy(sb->s + sb->len, p, n);
	sb->len += n;
	sb->s[sb->len] = '\0';
}

void sb_adds(struct strbuf *sb, const char *s)
{
	sb_addmem(sb, s, strlen(s));
}

void sb_addc(struct strbuf *sb, int c)
{
	char ch = (char)c;
	sb_addmem(sb, &ch, 1);
}

void sb_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(sb->s + sb->len, sb->cap - sb->len, fmt, aq);
	va_end(aq);
	if (n < 0)
		msg_fatal("vsnprintf failed");
	if ((size_t)n >= sb->cap - sb->len) {
		sb_reserve(sb, (size_t)n);
		n = vsnprintf(sb->s + sb->len, sb->cap - sb->len, fmt, ap);
	}
	sb->len += (size_t)n;
}

void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sb_vprintf(sb, fmt, ap);
	va_end(ap);
}

char *sb_steal(struct strbuf *sb)
{
	char *s = sb->s;
	sb_init(sb);
	return s;
}

void strlist_init(struct strlist *l)
{
	l->v = NULL;
	l->n = l->cap = 0;
}

void strlist_add(struct strlist *l, const char *s)
{
	if (l->n + 1 >= l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = xstrdup(s);
	l->v[l->n] = NULL;
}

void strlist_addf(struct strlist *l, const char *fmt, ...)
{
	struct strbuf sb;
	va_list ap;

	sb_init(&sb);
	va_start(ap, fmt);
	sb_vprintf(&sb, fmt, ap);
	va_end(ap);
	strlist_add(l, sb.s);
	sb_free(&sb);
}

void strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	strlist_init(l);
}

static int ascii_tolower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

int ascii_strcasecmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		int ca = ascii_tolower((unsigned char)*a), cb = ascii_tolower((unsigned char)*b);
		if (ca != cb || ca == 0)
			return ca - cb;
	}
}

int ascii_strncasecmp(const char *a, const char *b, size_t n)
{
	for (; n > 0; a++, b++, n--) {
		int ca = ascii_tolower((unsigned char)*a), cb = ascii_tolower((unsigned char)*b);
		if (ca != cb || ca == 0)
			return ca - cb;
	}
	return 0;
}

void ascii_lower(char *s)
{
	for (; *s; s++)
		*s = (char)ascii_tolower((unsigned char)*s);
}

size_t utf8_decode(const unsigned char *s, size_t left, unsigned long *cpp)
{
	size_t n;
	unsigned long cp;

	if (left == 0)
		return 0;
	if (s[0] < 0x80) {
		n = 1;
		cp = s[0];
	} else if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff) ||
	    cp > 0x10ffff)
		return 0;
	if (cpp != NULL)
		*cpp = cp;
	return n;
}

size_t utf8_text_len(const unsigned char *s)
{
	unsigned long cp;
	size_t n = utf8_decode(s, SIZE_MAX, &cp);

	return n > 1 && cp >= 0xa0 ? n : 0;
}

int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * util.h - memory allocation that never returns NULL, and a growable string.
 *
 * Allocation failure is fatal (msg_fatal); callers never test for NULL.
 * struct strbuf is a NUL-terminated, length-counted buffer (Postfix's
 * VSTRING, smaller).
 */
#ifndef SIKKERMAIL_UTIL_H
#define SIKKERMAIL_UTIL_H

#include <stdarg.h>
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct strbuf {
	char *s;	/* always NUL-terminated once initialised */
	size_t len;
	size_t cap;
};

void sb_init(struct strbuf *sb);
void sb_free(struct strbuf *sb);
void sb_reset(struct strbuf *sb);
void sb_addmem(struct strbuf *sb, const void *p, size_t n);
void sb_adds(struct strbuf *sb, const char *s);
void sb_addc(struct strbuf *sb, int c);
void sb_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_vprintf(struct strbuf *sb, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
char *sb_steal(struct strbuf *sb);	/* returns the string, resets sb */

/* strlist - an array of owned strings, used for error lists and the like. */
struct strlist {
	char **v;
	size_t n;
	size_t cap;
};

void strlist_init(struct strlist *l);
void strlist_add(struct strlist *l, const char *s);
void strlist_addf(struct strlist *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strlist_free(struct strlist *l);

/*
 * utf8_decode - the length of the well-formed UTF-8 sequence at s (1 for
 * ASCII), at most left bytes, with its code point in *cp (may be NULL); 0
 * for a malformed one: a bad lead or continuation byte, an overlong form, a
 * UTF-16 surrogate, past U+10FFFF. A NUL never continues a sequence.
 */
size_t utf8_decode(const unsigned char *s, size_t left, unsigned long *cp);
/* utf8_text_len - like utf8_decode for a NUL-terminated s, but only a multi-byte
 * sequence that is not a C1 control counts (escaping keeps those as text); else 0. */
size_t utf8_text_len(const unsigned char *s);

/* Case-insensitive ASCII comparison, independent of the locale. */
/* hex_digit - the value of a hex digit (either case), or -1. */
int hex_digit(int c);

int ascii_strcasecmp(const char *a, const char *b);
int ascii_strncasecmp(const char *a, const char *b, size_t n);
void ascii_lower(char *s);

#endif

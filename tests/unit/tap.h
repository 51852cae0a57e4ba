/*
 * tap.h - a tiny TAP producer for the unit tests (header-only).
 *
 *   ok(cond, "name %d", i);  is_str(got, want, "name");  is_int(got, want, "name");
 *   return done_testing();
 *
 * Each check is one TAP line; the automake TAP driver counts them.
 */
#ifndef SIKKERMAIL_TAP_H
#define SIKKERMAIL_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

static __attribute__((format(printf, 2, 0))) void tap_vline(int pass, const char *fmt, va_list ap)
{
	tap_n++;
	if (!pass)
		tap_failed++;
	printf("%sok %d - ", pass ? "" : "not ", tap_n);
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
}

static __attribute__((format(printf, 2, 3), unused)) int ok(int pass, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tap_vline(pass, fmt, ap);
	va_end(ap);
	return pass;
}

static __attribute__((format(printf, 3, 4), unused)) int
is_str(const char *got, const char *want, const char *fmt, ...)
{
	va_list ap;
	int pass = (got == NULL && want == NULL) ||
		   (got != NULL && want != NULL && strcmp(got, want) == 0);
	va_start(ap, fmt);
	tap_vline(pass, fmt, ap);
	va_end(ap);
	if (!pass)
		printf("#   got:  %s%s%s\n#   want: %s%s%s\n", got ? "\"" : "", got ? got : "NULL",
		       got ? "\"" : "", want ? "\"" : "", want ? want : "NULL", want ? "\"" : "");
	return pass;
}

static __attribute__((format(printf, 3, 4), unused)) int
is_int(long long got, long long want, const char *fmt, ...)
{
	va_list ap;
	int pass = got == want;
	va_start(ap, fmt);
	tap_vline(pass, fmt, ap);
	va_end(ap);
	if (!pass)
		printf("#   got:  %lld\n#   want: %lld\n", got, want);
	return pass;
}

static __attribute__((format(printf, 1, 2), unused)) void diag(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("# ", stdout);
	vprintf(fmt, ap); /* fmt is checked at the call site */
	putchar('\n');
	va_end(ap);
}

static __attribute__((unused)) int done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif

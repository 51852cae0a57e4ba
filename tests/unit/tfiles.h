/*
 * tfiles.h - a unit test's scratch directory and the small file helpers
 * that go with it (header-only; include after util.h).
 *
 *   dir            the scratch directory (the test fills it with mkdtemp)
 *   path(NAME)     "dir/NAME", allocated
 *   slurp(NAME, &len)  the whole file, NUL-terminated, or NULL
 *   sh(FMT, ...)   run a shell command in dir, its output appended to
 *                  dir/log; its exit status (-1 if it did not exit)
 */
#ifndef SIKKERMAIL_TFILES_H
#define SIKKERMAIL_TFILES_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "util.h"

static char dir[64];

static __attribute__((unused)) char *path(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static __attribute__((unused)) char *slurp(const char *name, size_t *lenp)
{
	char *p = path(name);
	FILE *f = fopen(p, "rb");
	struct strbuf sb;
	char buf[65536];
	size_t n;

	free(p);
	if (f == NULL)
		return NULL;
	sb_init(&sb);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		sb_addmem(&sb, buf, n);
	fclose(f);
	if (lenp)
		*lenp = sb.len;
	return sb.s;
}

static __attribute__((unused, format(printf, 1, 2))) int sh(const char *fmt, ...)
{
	char *cmd;
	struct strbuf sb;
	va_list ap;
	int st;

	sb_init(&sb);
	va_start(ap, fmt);
	sb_vprintf(&sb, fmt, ap);
	va_end(ap);
	cmd = xasprintf("cd '%s' && { %s; } >>log 2>&1", dir, sb.s);
	st = system(cmd);
	free(cmd);
	sb_free(&sb);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#endif

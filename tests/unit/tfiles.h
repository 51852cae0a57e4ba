/*
 * tfiles.h - a unit test's scratch directory and the small file helpers
 * that go with it (header-only; include after util.h).
 *
 *   dir            the scratch directory (the test fills it with mkdtemp)
 *   path(NAME)     "dir/NAME", allocated
 *   slurp(NAME, &len)  the whole file, NUL-terminated, or NULL
 */
#ifndef SIKKERMAIL_TFILES_H
#define SIKKERMAIL_TFILES_H

#include <stdio.h>
#include <stdlib.h>

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

#endif

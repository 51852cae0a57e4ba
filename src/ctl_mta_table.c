/*
 * ctl_mta_table.c - the entries of a Postfix lookup table, for
 * sikkermail-ctl check-mta, whatever the table's type.
 *
 * Exports mta_table_split and mta_table_check (ctl_mta.h). The indexed
 * types (hash, btree, lmdb, cdb, dbm) are listed with postmap -s; a
 * texthash: or cidr: table is its source file, read as Postfix reads it;
 * inline:{...} and static: hold their entries in the setting. Any other
 * type (ldap:, pcre:, regexp:, ...) cannot be listed: an UNCHECKED line.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>

#include "ctl.h"
#include "ctl_mta.h"
#include "util.h"

#define SOURCE_MAX (64L * 1024 * 1024)

static char *read_source(const char *path);
static void each_entry(struct check *k, char *text, const char *where,
		       const struct table_use *u, bool cidr);

/* mta_table_split - see ctl_mta.h. */
void mta_table_split(const char *list, struct strlist *tables)
{
	const char *t, *end;

	/* inline:{ a=b, c=d } holds commas and spaces: take it whole */
	for (t = list; *t != '\0'; t = end) {
		t += strspn(t, ", \t");
		if (*t == '\0')
			break;
		if (strncmp(t, "inline:{", 8) == 0 && (end = strchr(t, '}')) != NULL)
			end++;
		else
			end = t + strcspn(t, ", \t");
		{
			char *table = xstrndup(t, (size_t)(end - t));

			strlist_add(tables, table);
			free(table);
		}
	}
}

/*
 * mta_table_check - see ctl_mta.h. postmap -s lists the indexed types; a
 * texthash: or cidr: table is its source file, read here.
 */
void mta_table_check(struct check *k, const char *table, const struct table_use *u)
{
	const char *colon = strchr(table, ':');
	char *type = colon ? xstrndup(table, (size_t)(colon - table)) : xstrdup("");
	char *where = xasprintf("%s (%s)%s", u->param, table, u->scope), *out = NULL;
	int st;

	if (strcmp(type, "static") == 0) {
		u->entry(k, u, where, u->every, colon + 1);
	} else if (strcmp(type, "inline") == 0 && colon[1] == '{') {
		char *body = xstrdup(colon + 2), *e, *end, *s2 = NULL;

		body[strcspn(body, "}")] = '\0';
		for (e = strtok_r(body, ",", &s2); e; e = strtok_r(NULL, ",", &s2)) {
			char *eq = strchr(e, '=');

			if (eq == NULL)
				continue;
			*eq = '\0';
			e += strspn(e, " \t");
			e[strcspn(e, " \t")] = '\0';
			eq++;
			eq += strspn(eq, " \t");
			for (end = eq + strlen(eq); end > eq && strchr(" \t", end[-1]); end--)
				;
			*end = '\0';
			u->entry(k, u, where, e, eq);
		}
		free(body);
	} else if (strcmp(type, "texthash") == 0 || strcmp(type, "cidr") == 0) {
		if ((out = read_source(colon + 1)) == NULL) {
			k->unchecked++;
			fprintf(k->c->out, "UNCHECKED %s: cannot be read (%s); check it by hand\n",
				where, strerror(errno));
		}
		each_entry(k, out, where, u, strcmp(type, "cidr") == 0);
	} else if (strcmp(type, "hash") == 0 || strcmp(type, "btree") == 0 ||
		   strcmp(type, "lmdb") == 0 || strcmp(type, "cdb") == 0 ||
		   strcmp(type, "dbm") == 0) {
		const char *argv[6];
		size_t n = 0;

		argv[n++] = "postmap";
		if (k->config_dir != NULL) {
			argv[n++] = "-c";
			argv[n++] = k->config_dir;
		}
		argv[n++] = "-s";
		argv[n++] = table;
		argv[n] = NULL;
		out = ctl_run(argv, CTL_RUN_STDERR, &st);
		if (out != NULL && (!WIFEXITED(st) || WEXITSTATUS(st) != 0)) {
			free(out);
			out = NULL;
		}
		if (out == NULL) {
			k->unchecked++;
			fprintf(k->c->out, "UNCHECKED %s: cannot be read (postmap -s failed); check "
					   "it by hand\n", where);
		}
		each_entry(k, out, where, u, false);
	} else {
		k->unchecked++;
		fprintf(k->c->out, "UNCHECKED %s: a %s table cannot be listed; check by hand %s\n",
			where, type[0] ? type : "(no type)", u->by_hand);
	}
	free(out);
	free(where);
	free(type);
}

/* read_source - a table's source file, whole; NULL (errno set) if unreadable. */
static char *read_source(const char *path)
{
	FILE *f = fopen(path, "r");
	struct strbuf sb;
	char buf[4096];
	size_t got;
	int err;

	if (f == NULL)
		return NULL;
	sb_init(&sb);
	sb_adds(&sb, "");
	while ((got = fread(buf, 1, sizeof(buf), f)) > 0 && sb.len < (size_t)SOURCE_MAX)
		sb_addmem(&sb, buf, got);
	err = ferror(f) ? errno : 0;
	fclose(f);
	if (err != 0) {
		sb_free(&sb);
		errno = err;
		return NULL;
	}
	return sb.s;
}

/*
 * each_entry - the "KEY VALUE" entries of postmap -s output or a source
 * file, as Postfix reads them: a line that starts with whitespace
 * continues the one before, blank lines and # comments are skipped; in a
 * cidr: table "if PATTERN" and "endif" only narrow the entries between
 * them, which count as entries. text may be NULL (nothing to read).
 */
static void each_entry(struct check *k, char *text, const char *where,
		       const struct table_use *u, bool cidr)
{
	struct strbuf logical;
	char *line, *save = NULL;

	if (text == NULL)
		return;
	sb_init(&logical);
	for (line = strtok_r(text, "\n", &save);; line = strtok_r(NULL, "\n", &save)) {
		char *p = line ? line + strspn(line, " \t\r") : NULL;

		if (line != NULL && (*p == '\0' || *p == '#'))
			continue;
		if (line != NULL && p != line && logical.len > 0) {	/* a continuation */
			sb_addc(&logical, ' ');
			sb_adds(&logical, p);
			continue;
		}
		if (logical.len > 0) {
			char *key = logical.s, *val = key + strcspn(key, u->key_end), *e;
			bool cond = cidr && ((strncasecmp(key, "if", 2) == 0 &&
					      strchr(" \t", key[2]) != NULL) ||
					     strcasecmp(key, "endif") == 0);

			if (*val != '\0' && !cond) {
				*val++ = '\0';
				val += strspn(val, " \t:");
				for (e = val + strlen(val); e > val && strchr(" \t\r", e[-1]); e--)
					;
				*e = '\0';
				if (*val != '\0')
					u->entry(k, u, where, key, val);
			}
		}
		if (line == NULL)
			break;
		sb_reset(&logical);
		sb_adds(&logical, p);
	}
	sb_free(&logical);
}

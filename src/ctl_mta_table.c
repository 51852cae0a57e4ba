/*
 * ctl_mta_table.c - the entries of a Postfix lookup table, for
 * sikkermail-ctl check-mta, whatever the table's type.
 *
 * Exports mta_list_next, mta_group_strip, mta_table_split and
 * mta_table_check (ctl_mta.h). The indexed types (hash, btree, lmdb, cdb,
 * dbm) are listed with postmap -s; a texthash: or cidr: table is its
 * source file, read as Postfix reads it; inline:{...} and static: hold
 * their entries in the setting, parsed as Postfix parses them (elements
 * split outside braces, "{ ... }" one element). Any other type (ldap:,
 * pcre:, regexp:, ...) cannot be listed: an UNCHECKED line.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ctl.h"
#include "ctl_mta.h"
#include "util.h"

/* no table source is read past this: cut, it would be checked in part */
#define SOURCE_MAX (64L * 1024 * 1024)
/* what separates the elements of a Postfix list (CHARS_COMMA_SP) */
#define LIST_SEP ", \t\r\n"

static void check_inline(struct check *k, const char *name, const char *where,
			 const struct table_use *u);
static void check_static(struct check *k, const char *name, const char *where,
			 const struct table_use *u);
static const char *split_key_value(char *text, char **key, char **value);
static void unparsable(struct check *k, const char *where, const char *why);
static char *read_source(const char *path);
static void each_entry(struct check *k, char *text, const char *where,
		       const struct table_use *u, bool cidr);

/* mta_list_next - see ctl_mta.h. As Postfix's mystrtokq. */
char *mta_list_next(char **cursor)
{
	char *start = *cursor + strspn(*cursor, LIST_SEP), *p;
	int depth = 0;

	if (*start == '\0') {
		*cursor = start;
		return NULL;
	}
	for (p = start; *p != '\0'; p++) {
		if (*p == '{') {
			depth++;
		} else if (*p == '}' && depth > 0) {
			depth--;
		} else if (depth == 0 && strchr(LIST_SEP, *p) != NULL) {
			*p++ = '\0';
			break;
		}
	}
	*cursor = p;
	return start;
}

/* mta_group_strip - see ctl_mta.h. As Postfix's extpar(..., EXTPAR_FLAG_STRIP). */
const char *mta_group_strip(char **elem)
{
	char *text = *elem, *p, *end;
	int depth = 0;

	if (text[0] != '{')
		return "no '{'";
	for (p = text; *p != '\0'; p++) {
		if (*p == '{')
			depth++;
		else if (*p == '}' && --depth == 0)
			break;
	}
	if (*p == '\0')
		return "a '{' without its '}'";
	if (p[1] != '\0')
		return "text after '}'";
	for (end = p; end > text + 1 && strchr(" \t\r\n", end[-1]) != NULL; end--)
		;
	*end = '\0';
	*elem = text + 1 + strspn(text + 1, " \t\r\n");
	return NULL;
}

/*
 * mta_table_split - see ctl_mta.h. As Postfix's maps: an element in braces
 * is not unwrapped (Postfix would refuse it as a table).
 */
void mta_table_split(const char *list, struct strlist *tables)
{
	char *copy = xstrdup(list), *cursor = copy, *t;

	while ((t = mta_list_next(&cursor)) != NULL)
		strlist_add(tables, t);
	free(copy);
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
		check_static(k, colon + 1, where, u);
	} else if (strcmp(type, "inline") == 0) {
		check_inline(k, colon + 1, where, u);
	} else if (strcmp(type, "texthash") == 0 || strcmp(type, "cidr") == 0) {
		if ((out = read_source(colon + 1)) == NULL && errno == EFBIG) {
			k->unchecked++;
			fprintf(k->c->out, "UNCHECKED %s: larger than %ld MB, not read; check it by "
					   "hand\n", where, SOURCE_MAX >> 20);
		} else if (out == NULL) {
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
		if (out != NULL && strlen(out) >= (size_t)CTL_RUN_OUTPUT_MAX) {
			/* ctl_run keeps no more than that: the listing was cut */
			free(out);
			out = NULL;
			k->unchecked++;
			fprintf(k->c->out, "UNCHECKED %s: its listing is larger than %ld MB, not "
					   "read; check it by hand\n", where, CTL_RUN_OUTPUT_MAX >> 20);
		} else if (out == NULL) {
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

/*
 * check_inline - an inline:{ ... } table, as Postfix's dict_inline reads
 * it: elements "key=value" or "{ key = value }" (the value may hold
 * commas and spaces inside braces). Postfix refuses the whole table when
 * one element is malformed: then so does this, with an UNCHECKED line.
 */
static void check_inline(struct check *k, const char *name, const char *where,
			 const struct table_use *u)
{
	char *copy = xstrdup(name), *cursor = copy, *e, *key, *value;
	const char *err = NULL;
	struct strlist keys, values;

	strlist_init(&keys);
	strlist_init(&values);
	if (copy[0] != '{')
		err = "no '{' after inline:";
	else
		err = mta_group_strip(&cursor);
	while (err == NULL && (e = mta_list_next(&cursor)) != NULL) {
		if (e[0] == '{' && (err = mta_group_strip(&e)) != NULL)
			break;
		if ((err = split_key_value(e, &key, &value)) != NULL)
			break;
		strlist_add(&keys, key);
		strlist_add(&values, value);
	}
	if (err == NULL && keys.n == 0)
		err = "no entries";
	if (err != NULL)
		unparsable(k, where, err);
	else
		for (size_t i = 0; i < keys.n; i++)
			u->entry(k, u, where, keys.v[i], values.v[i]);
	strlist_free(&keys);
	strlist_free(&values);
	free(copy);
}

/* check_static - static:value or static:{ value }: one value for every key. */
static void check_static(struct check *k, const char *name, const char *where,
			 const struct table_use *u)
{
	char *copy = xstrdup(name), *value = copy;
	const char *err = NULL;

	if (value[0] == '{')
		err = mta_group_strip(&value);
	if (err == NULL && value[strspn(value, " \t")] == '\0')
		err = "no value";
	if (err != NULL)
		unparsable(k, where, err);
	else
		u->entry(k, u, where, u->every, value + strspn(value, " \t"));
	free(copy);
}

/*
 * split_key_value - "key = value" as Postfix's split_qnameval: the key
 * ends at an unquoted blank or '=' (quotes and backslashes stay in it),
 * the value is the rest after '=', without blanks around it. NULL, or
 * what is wrong.
 */
static const char *split_key_value(char *text, char **key, char **value)
{
	char *p, *end;
	bool quoted = false;

	*key = text + strspn(text, " \t\r\n");
	for (p = *key; *p != '\0'; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (!quoted && strchr(" \t\r\n=", *p) != NULL)
			break;
	}
	if (quoted)
		return "a '\"' without its pair";
	end = p;
	p += strspn(p, " \t\r\n");
	if (*p != '=')
		return "no '=' after a key (\"key = value\" needs braces around it)";
	*end = '\0';
	p++;
	*value = p + strspn(p, " \t\r\n");
	for (end = *value + strlen(*value); end > *value && strchr(" \t\r\n", end[-1]); end--)
		;
	*end = '\0';
	return NULL;
}

/* unparsable - a table in the setting that Postfix itself would refuse. */
static void unparsable(struct check *k, const char *where, const char *why)
{
	k->unchecked++;
	fprintf(k->c->out, "UNCHECKED %s: cannot be parsed (%s), and Postfix refuses it too; "
			   "check it by hand\n", where, why);
}

/*
 * read_source - a table's source file, whole; NULL (errno set) if
 * unreadable, EFBIG when larger than SOURCE_MAX: half a table read would
 * be a check that passes on what it never saw.
 */
static char *read_source(const char *path)
{
	FILE *f = fopen(path, "r");
	struct strbuf sb;
	struct stat st;
	char buf[4096];
	size_t got;
	int err = 0;

	if (f == NULL)
		return NULL;
	if (fstat(fileno(f), &st) == 0 && st.st_size > SOURCE_MAX) {
		fclose(f);
		errno = EFBIG;
		return NULL;
	}
	sb_init(&sb);
	sb_adds(&sb, "");
	while (err == 0 && (got = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (sb.len + got > (size_t)SOURCE_MAX)
			err = EFBIG;	/* it grew, or is no regular file */
		else
			sb_addmem(&sb, buf, got);
	}
	if (err == 0 && ferror(f))
		err = errno;
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

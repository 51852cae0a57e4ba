/*
 * store_lists.c - the tunnel, partner and freemail lists in the SQLite
 * store: matching a domain, replacing a list in one transaction with its
 * provenance, walking a list, and the lists' generation with a whole
 * read of them for listcache.c.
 *
 * Exports store_list_match, store_list_replace, store_list_each,
 * store_list_generation and store_lists_load (store.h), and
 * store_list_replace_locked to store.c (store_int.h). Works on the handle
 * and statement cache of store.c.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lists.h"
#include "store.h"
#include "store_int.h"
#include "util.h"

static enum lookup match_one(struct store *s, enum list_kind kind, const char *key,
			     struct list_entry *out);
static void entry_from_row(sqlite3_stmt *st, struct list_entry *e);
static int insert_entry(struct store *s, const char *kname, const struct list_entry *e,
			long long now);

/* ------------------------------------------------------------ lists */

enum lookup store_list_match(struct store *s, enum list_kind kind, const char *domain,
			     struct list_entry *out)
{
	enum lookup r;
	char *dotted;

	memset(out, 0, sizeof(*out));
	if (domain == NULL || *domain == '\0')
		return LOOKUP_NOTFOUND;
	if ((r = match_one(s, kind, domain, out)) != LOOKUP_NOTFOUND)
		return r;
	/* ".kp.dk" covers kp.dk itself, then each parent from the nearest up. */
	dotted = xasprintf(".%s", domain);
	r = match_one(s, kind, dotted, out);
	free(dotted);
	for (const char *p = strchr(domain, '.'); r == LOOKUP_NOTFOUND && p != NULL;
	     p = strchr(p + 1, '.'))
		r = match_one(s, kind, p, out);
	return r;
}

static enum lookup match_one(struct store *s, enum list_kind kind, const char *key,
			     struct list_entry *out)
{
	sqlite3_stmt *st = store_stmt_get(s, ST_MATCH);
	enum lookup r = LOOKUP_RETRY;
	int rc;

	if (st == NULL)
		return LOOKUP_RETRY;
	store_bind_text(st, 1, list_kind_name(kind));
	store_bind_text(st, 2, key);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		entry_from_row(st, out);
		r = LOOKUP_FOUND;
	} else if (rc == SQLITE_DONE) {
		r = LOOKUP_NOTFOUND;
	} else {
		store_set_db_err(s, "list lookup failed");
	}
	store_stmt_done(st);
	return r;
}

static void entry_from_row(sqlite3_stmt *st, struct list_entry *e)
{
	e->domain = store_column_dup(st, 0);
	e->organisation = store_column_dup(st, 1);
	e->dpa_expires = store_column_dup(st, 2);
	e->source = store_column_dup(st, 3);
	e->imported_at = sqlite3_column_int64(st, 4);
	e->line = (long)sqlite3_column_int64(st, 5);
	if (e->domain == NULL)
		e->domain = xstrdup("");
}

int store_list_replace(struct store *s, enum list_kind kind, const struct list_entries *entries,
		       char **err)
{
	if (store_write_begin(s) < 0 || store_write_end(s, store_list_replace_locked(s, kind, entries)) < 0)
		goto fail;
	return 0;
fail:
	*err = xstrdup(s->errmsg);
	return -1;
}

/* store_list_replace_locked - the body of store_list_replace, inside the caller's transaction. */
int store_list_replace_locked(struct store *s, enum list_kind kind, const struct list_entries *l)
{
	sqlite3_stmt *del = store_stmt_get(s, ST_LIST_DELETE);
	sqlite3_stmt *imp = store_stmt_get(s, ST_IMPORT_INSERT);
	long long now = (long long)time(NULL);
	const char *kname = list_kind_name(kind);
	int rc;

	if (del == NULL || imp == NULL)
		return -1;
	store_bind_text(del, 1, kname);
	rc = sqlite3_step(del);
	store_stmt_done(del);
	if (rc != SQLITE_DONE) {
		store_set_db_err(s, "cannot delete the old list");
		return -1;
	}
	for (size_t i = 0; i < l->n; i++)
		if (insert_entry(s, kname, &l->v[i], now) < 0)
			return -1;
	store_bind_text(imp, 1, kname);
	store_bind_text(imp, 2, l->n > 0 ? l->v[0].source : NULL);
	sqlite3_bind_int64(imp, 3, now);
	sqlite3_bind_int64(imp, 4, (long long)l->n);
	rc = sqlite3_step(imp);
	store_stmt_done(imp);
	if (rc != SQLITE_DONE) {
		store_set_db_err(s, "cannot record the import");
		return -1;
	}
	return 0;
}

static int insert_entry(struct store *s, const char *kname, const struct list_entry *e,
			long long now)
{
	sqlite3_stmt *ins = store_stmt_get(s, ST_LIST_INSERT);
	int rc;

	if (ins == NULL)
		return -1;
	store_bind_text(ins, 1, kname);
	store_bind_text(ins, 2, e->domain);
	store_bind_text(ins, 3, e->organisation);
	store_bind_text(ins, 4, e->dpa_expires);
	store_bind_text(ins, 5, e->source);
	sqlite3_bind_int64(ins, 6, now);
	sqlite3_bind_int64(ins, 7, e->line);
	rc = sqlite3_step(ins);
	store_stmt_done(ins);
	if (rc != SQLITE_DONE) {
		store_set_err(s, "database %s: cannot insert %s (line %ld): %s", s->path,
			      e->domain ? e->domain : "(null)", e->line, sqlite3_errmsg(s->db));
		return -1;
	}
	return 0;
}

/*
 * store_list_each - the entry passed to fn lives only during the call. A
 * non-zero return from fn stops the walk and is returned. fn must not call
 * store_list_each on the same handle.
 */
int store_list_each(struct store *s, enum list_kind kind,
		    int (*fn)(const struct list_entry *e, void *arg), void *arg)
{
	sqlite3_stmt *st = store_stmt_get(s, ST_LIST_EACH);
	int rc, ret = 0;

	if (st == NULL)
		return -1;
	store_bind_text(st, 1, list_kind_name(kind));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct list_entry e = { 0 };

		entry_from_row(st, &e);
		ret = fn(&e, arg);
		list_entry_free(&e);
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE) {
		store_set_db_err(s, "cannot read the list");
		ret = -1;
	}
	store_stmt_done(st);
	return ret;
}

/*
 * store_list_generation - every import adds a row to list_import, so the
 * newest row identifies the lists' contents; the file's inode is mixed
 * in, for a database restored under the same name.
 */
int store_list_generation(struct store *s, long long *gen)
{
	sqlite3_stmt *st = store_stmt_get(s, ST_LIST_GENERATION);
	unsigned long long g = (unsigned long long)s->ino * 0x9E3779B97F4A7C15ull;
	int rc;

	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		g ^= (unsigned long long)sqlite3_column_int64(st, 0) << 40;
		g ^= (unsigned long long)sqlite3_column_int64(st, 1);
		g ^= (unsigned long long)sqlite3_column_int64(st, 2) << 20;
	}
	store_stmt_done(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_set_db_err(s, "cannot read the list generation");
		return -1;
	}
	*gen = (long long)(g & 0x7fffffffffffffffull);
	return 0;
}

struct lists_load {
	enum list_kind kind;
	int (*fn)(enum list_kind kind, const struct list_entry *e, void *arg);
	void *arg;
};

static int load_one(const struct list_entry *e, void *arg)
{
	struct lists_load *l = arg;

	return l->fn(l->kind, e, l->arg);
}

int store_lists_load(struct store *s, long long *gen,
		     int (*fn)(enum list_kind kind, const struct list_entry *e, void *arg), void *arg)
{
	struct lists_load l = { .fn = fn, .arg = arg };
	int rc;

	/* one read transaction: the generation and the lists it names */
	if (store_exec(s, "BEGIN") < 0)
		return -1;
	rc = store_list_generation(s, gen);
	for (int k = 0; rc == 0 && k < LIST_COUNT; k++) {
		l.kind = (enum list_kind)k;
		rc = store_list_each(s, l.kind, load_one, &l);
	}
	if (store_exec(s, "COMMIT") < 0)
		rc = -1;
	if (sqlite3_get_autocommit(s->db) == 0)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

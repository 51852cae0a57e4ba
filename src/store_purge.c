/*
 * store_purge.c - retention in the SQLite store: forgetting the recorded
 * decisions older than a moment, with everything that hangs off them,
 * and giving the space back.
 *
 * Exports store_purge_count, store_purge_batch, store_reclaim,
 * store_vacuum and store_space (see store.h). Works on the handle of
 * store.c, through store_int.h.
 *
 * What hangs off a decision is found, not listed: every table with a
 * foreign key to decision (decision_rcpt, and whatever a later schema
 * step adds that declares REFERENCES decision) loses the rows of the
 * decisions purged, explicitly and before the decision itself, so that
 * neither a missing ON DELETE CASCADE nor a connection without
 * foreign_keys leaves personal data behind or blocks the purge. The
 * certificate cache's answers fetched, and fresh, last before the same
 * moment go too: they name external addresses as well.
 *
 * A batch is one write transaction (store_write_begin: the process's
 * writer mutex) over at most the given number of the oldest decisions,
 * so the milter's writers wait for one small batch at most, never for
 * the whole purge. The decisions of a batch are chosen by the same
 * ordered subquery in every statement of the transaction, so each
 * statement sees the same set.
 *
 * Space: a database made by this version has auto_vacuum INCREMENTAL
 * (store.c); store_reclaim hands the free pages back to the file system
 * a bounded number at a time. An older database (auto_vacuum NONE) keeps
 * them for its next rows; store_vacuum rebuilds it once, turning
 * incremental auto-vacuum on.
 */
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_int.h"
#include "util.h"

/* The decisions of one batch: the oldest before ?1, at most ?2 of them. */
#define BATCH_WHERE "WHERE time < ?1 ORDER BY time, id LIMIT ?2"

struct dependent {
	char *table;
	char *column;			/* its column that refers to ... */
	char *key;			/* ... this column of decision (id, mostly) */
};

static int dependents(struct store *s, struct dependent **out, size_t *n);
static void dependents_free(struct dependent *v, size_t n);
static char *quote_ident(const char *name);
static long long delete_batch(struct store *s, const char *sql, long long before, long max);
static int pragma_int(struct store *s, const char *sql, long long *out);

/* ------------------------------------------------------------ counting */

int store_purge_count(struct store *s, long long before, struct purge_counts *out)
{
	struct dependent *dep = NULL;
	sqlite3_stmt *st = NULL;
	size_t n = 0;
	char *sql, *t, *c, *k;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (store_exec(s, "BEGIN") < 0)
		return -1;
	if (dependents(s, &dep, &n) < 0)
		goto out;
	if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM decision WHERE time < ?1", -1, &st,
			       NULL) != SQLITE_OK)
		goto db_error;
	sqlite3_bind_int64(st, 1, before);
	if (sqlite3_step(st) != SQLITE_ROW)
		goto db_error;
	out->decisions = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	for (size_t i = 0; i < n; i++) {
		t = quote_ident(dep[i].table);
		c = quote_ident(dep[i].column);
		k = quote_ident(dep[i].key);
		sql = xasprintf("SELECT count(*) FROM %s WHERE %s IN"
				" (SELECT %s FROM decision WHERE time < ?1)", t, c, k);
		free(t);
		free(c);
		free(k);
		rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
		free(sql);
		if (rc != SQLITE_OK)
			goto db_error;
		sqlite3_bind_int64(st, 1, before);
		if (sqlite3_step(st) != SQLITE_ROW)
			goto db_error;
		if (strcmp(dep[i].table, "decision_rcpt") == 0)
			out->rcpts += sqlite3_column_int64(st, 0);
		else
			out->other += sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		st = NULL;
	}
	rc = 0;
	goto out;
db_error:
	rc = -1;
	store_set_db_err(s, "cannot count the decisions to purge");
out:
	sqlite3_finalize(st);
	dependents_free(dep, n);
	sqlite3_exec(s->db, rc == 0 ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* ------------------------------------------------------------ deleting */

int store_purge_batch(struct store *s, long long before, long max, struct purge_counts *done)
{
	struct dependent *dep = NULL;
	size_t n = 0;
	long long got, rcpts = 0, other = 0, certs = 0, decisions = -1;
	char *sql, *t, *c, *k;

	if (max <= 0) {
		store_set_err(s, "purge: a batch must hold at least one decision");
		return -1;
	}
	if (store_write_begin(s) < 0)
		return -1;
	/*
	 * secure_delete ON for the purge: whole pages freed here are zeroed,
	 * not left on the free list with their addresses readable until
	 * reused (FAST, the connection's setting, only clears what it writes
	 * anyway). Set back before the handle goes on with other work.
	 */
	if (store_exec(s, "PRAGMA secure_delete = ON") < 0 || dependents(s, &dep, &n) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		t = quote_ident(dep[i].table);
		c = quote_ident(dep[i].column);
		k = quote_ident(dep[i].key);
		sql = xasprintf("DELETE FROM %s WHERE %s IN (SELECT %s FROM decision " BATCH_WHERE
				")", t, c, k);
		free(t);
		free(c);
		free(k);
		got = delete_batch(s, sql, before, max);
		free(sql);
		if (got < 0)
			goto out;
		if (strcmp(dep[i].table, "decision_rcpt") == 0)
			rcpts += got;
		else
			other += got;
	}
	decisions = delete_batch(s, "DELETE FROM decision WHERE id IN (SELECT id FROM decision "
				 BATCH_WHERE ")", before, max);
	/*
	 * Certificate answers not asked for since then hold external
	 * addresses too; they are long past CertTTL and MaxStale (90 days at
	 * most), so no lookup would have used them again.
	 */
	if (decisions >= 0 &&
	    (certs = delete_batch(s, "DELETE FROM cert_cache WHERE address IN (SELECT address"
				     " FROM cert_cache WHERE fetched_at < ?1 AND fresh_until < ?1"
				     " LIMIT ?2)", before, max)) < 0)
		decisions = -1;
out:
	dependents_free(dep, n);
	if (store_exec(s, "PRAGMA secure_delete = FAST") < 0)
		decisions = -1;
	if (store_write_end(s, decisions < 0 ? -1 : 0) < 0)
		return -1;
	done->decisions += decisions;
	done->rcpts += rcpts;
	done->other += other;
	done->certs += certs;
	return (int)(decisions > 0 || certs > 0);
}

/* delete_batch - run one DELETE of a batch inside the caller's write; rows deleted, or -1. */
static long long delete_batch(struct store *s, const char *sql, long long before, long max)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		store_set_db_err(s, "cannot purge decisions");
		return -1;
	}
	sqlite3_bind_int64(st, 1, before);
	sqlite3_bind_int64(st, 2, max);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		store_set_db_err(s, "cannot purge decisions");
		return -1;
	}
	return (long long)sqlite3_changes(s->db);
}

/*
 * dependents - every (table, column) whose foreign key refers to the
 * decision table; read inside the caller's transaction, so that the
 * schema cannot change between this and the deletes.
 */
static int dependents(struct store *s, struct dependent **out, size_t *n)
{
	static const char sql[] = "SELECT m.name, f.\"from\", coalesce(f.\"to\", 'id')"
				  " FROM sqlite_master AS m,"
				  " pragma_foreign_key_list(m.name) AS f"
				  " WHERE m.type = 'table' AND f.\"table\" = 'decision'"
				  " ORDER BY m.name";
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		store_set_db_err(s, "cannot read which tables refer to decisions");
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		(*out)[*n].table = store_column_dup(st, 0);
		(*out)[*n].column = store_column_dup(st, 1);
		(*out)[*n].key = store_column_dup(st, 2);
		if ((*out)[*n].table == NULL || (*out)[*n].column == NULL ||
		    (*out)[*n].key == NULL) {
			(*n)++;
			rc = SQLITE_CORRUPT;
			break;
		}
		(*n)++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		store_set_db_err(s, "cannot read which tables refer to decisions");
		dependents_free(*out, *n);
		*out = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

static void dependents_free(struct dependent *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].table);
		free(v[i].column);
		free(v[i].key);
	}
	free(v);
}

/* quote_ident - name as an SQL identifier in double quotes. Free it. */
static char *quote_ident(const char *name)
{
	struct strbuf sb;

	sb_init(&sb);
	sb_addc(&sb, '"');
	for (const char *p = name; *p; p++) {
		if (*p == '"')
			sb_addc(&sb, '"');
		sb_addc(&sb, *p);
	}
	sb_addc(&sb, '"');
	return sb.s;	/* the buffer itself: sb_steal would allocate a new one */
}

/* ------------------------------------------------------------ space */

int store_reclaim(struct store *s, long max_pages, long long *freed)
{
	long long mode, before, after;
	char sql[64];
	int rc;

	*freed = 0;
	if (pragma_int(s, "PRAGMA auto_vacuum", &mode) < 0)
		return -1;
	/* NONE keeps the pages for reuse; FULL gives them back by itself */
	if (mode != 2)
		return 0;
	snprintf(sql, sizeof(sql), "PRAGMA incremental_vacuum(%ld)", max_pages > 0 ? max_pages : 1);
	if (store_write_begin(s) < 0)
		return -1;
	rc = pragma_int(s, "PRAGMA freelist_count", &before) < 0 || store_exec(s, sql) < 0 ||
	     pragma_int(s, "PRAGMA freelist_count", &after) < 0 ? -1 : 0;
	if (store_write_end(s, rc) < 0)
		return -1;
	*freed = before - after;
	return 0;
}

int store_vacuum(struct store *s, bool *checkpointed)
{
	sqlite3_stmt *st;
	int rc;

	*checkpointed = false;
	/*
	 * VACUUM cannot run in a transaction, so it does not go through
	 * store_write_begin; it takes SQLite's write lock itself, and this
	 * process's writer mutex keeps this process's other writers from
	 * meeting it. Setting auto_vacuum first makes the rebuilt file
	 * incremental.
	 */
	if (store_exec(s, "PRAGMA auto_vacuum = INCREMENTAL") < 0)
		return -1;
	if (store_exec_alone(s, "VACUUM") < 0)
		return -1;
	/*
	 * In WAL mode the rebuilt database is in the WAL until a checkpoint
	 * copies it back and truncates the file; readers of another process
	 * (the running filter) can hold that up, and their next checkpoint
	 * finishes it.
	 */
	if (sqlite3_prepare_v2(s->db, "PRAGMA wal_checkpoint(TRUNCATE)", -1, &st, NULL) !=
	    SQLITE_OK) {
		store_set_db_err(s, "cannot checkpoint");
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*checkpointed = sqlite3_column_int(st, 0) == 0 &&
				sqlite3_column_int(st, 1) == sqlite3_column_int(st, 2);
	sqlite3_finalize(st);
	return 0;
}

int store_space(struct store *s, struct store_space *out)
{
	memset(out, 0, sizeof(*out));
	if (pragma_int(s, "PRAGMA page_size", &out->page_size) < 0 ||
	    pragma_int(s, "PRAGMA page_count", &out->page_count) < 0 ||
	    pragma_int(s, "PRAGMA freelist_count", &out->free_pages) < 0 ||
	    pragma_int(s, "PRAGMA auto_vacuum", &out->auto_vacuum) < 0)
		return -1;
	return 0;
}

/* pragma_int - the one number a pragma answers; 0 or -1. */
static int pragma_int(struct store *s, const char *sql, long long *out)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		store_set_db_err(s, sql);
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else
		store_set_db_err(s, sql);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

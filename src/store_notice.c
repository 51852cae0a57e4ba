/*
 * store_notice.c - the mailbox notices waiting in the SQLite store for
 * their digest (NoticeDelay): kept when an encrypted copy is queued,
 * claimed by the process that sends the digest, deleted once the MTA has
 * it, released when it could not be handed over.
 *
 * Exports store_notice_add, store_notice_pending, store_notice_claim,
 * store_notice_done and notice_entries_free (see store.h). Works on the
 * handle and statement cache of store.c, through store_int.h; every write
 * goes through store_write_begin/store_write_end.
 *
 * A claim is a time, not a lock: the process that claimed rows and died
 * before deleting them leaves them to whoever reads them after the claim
 * has run out. A digest may then be sent twice; a notice is never lost.
 */
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>

#include "store.h"
#include "store_int.h"
#include "util.h"

static int step_done(struct store *s, sqlite3_stmt *st, const char *what);
static long take_locked(struct store *s, const char *mailbox, long long now, size_t max,
			struct notice_entry **out);
static int set_claim(struct store *s, const struct notice_entry *v, size_t n, long long until);

/* step_done - run a statement that returns no rows and reset it; 0 or -1 with the error set. */
static int step_done(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	store_stmt_done(st);
	if (rc == SQLITE_DONE)
		return 0;
	store_set_db_err(s, what);
	return -1;
}

int store_notice_add(struct store *s, const char *mailbox, long long created, const char *ref,
		     const char *text)
{
	sqlite3_stmt *st;
	int rc = -1;

	if (store_write_begin(s) < 0)
		return -1;
	if ((st = store_stmt_get(s, ST_NOTICE_PUT)) != NULL) {
		store_bind_text(st, 1, mailbox);
		sqlite3_bind_int64(st, 2, created);
		store_bind_text(st, 3, ref);
		store_bind_text(st, 4, text);
		rc = step_done(s, st, "cannot keep the mailbox notice");
	}
	return store_write_end(s, rc);
}

int store_notice_pending(struct store *s, long long now,
			 int (*fn)(const char *mailbox, long long oldest, long count, void *arg),
			 void *arg)
{
	sqlite3_stmt *st = store_stmt_get(s, ST_NOTICE_PENDING);
	int rc = SQLITE_DONE, stop = 0;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, now);
	while (stop == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
		stop = fn((const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1),
			  (long)sqlite3_column_int64(st, 2), arg);
	store_stmt_done(st);
	if (stop != 0 || rc == SQLITE_DONE)
		return 0;
	store_set_db_err(s, "cannot read the waiting mailbox notices");
	return -1;
}

long store_notice_claim(struct store *s, const char *mailbox, long long now, long long until,
			size_t max, struct notice_entry **out)
{
	long n;

	*out = NULL;
	if (store_write_begin(s) < 0)
		return -1;
	/* read and claim under one write lock: no other process takes the same rows */
	if ((n = take_locked(s, mailbox, now, max, out)) > 0 &&
	    set_claim(s, *out, (size_t)n, until) < 0)
		n = -1;
	if (store_write_end(s, n < 0 ? -1 : 0) < 0 || n < 0) {
		notice_entries_free(*out, max);	/* zeroed past what was read */
		*out = NULL;
		return -1;
	}
	return n;
}

/* take_locked - the oldest max unclaimed rows of mailbox into *out; how many, or -1. */
static long take_locked(struct store *s, const char *mailbox, long long now, size_t max,
			struct notice_entry **out)
{
	sqlite3_stmt *st = store_stmt_get(s, ST_NOTICE_TAKE);
	size_t n = 0;
	int rc = SQLITE_DONE;

	if (st == NULL)
		return -1;
	*out = xcalloc(max ? max : 1, sizeof(**out));
	store_bind_text(st, 1, mailbox);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, (long long)max);
	while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		(*out)[n].id = sqlite3_column_int64(st, 0);
		(*out)[n].created = sqlite3_column_int64(st, 1);
		(*out)[n].ref = store_column_dup(st, 2);
		(*out)[n].text = store_column_dup(st, 3);
		n++;
	}
	if (n < max && rc != SQLITE_DONE) {
		store_stmt_done(st);
		store_set_db_err(s, "cannot read the waiting mailbox notices");
		return -1;
	}
	store_stmt_done(st);
	return (long)n;
}

/* set_claim - claimed_until of each row, inside the caller's write; 0 or -1. */
static int set_claim(struct store *s, const struct notice_entry *v, size_t n, long long until)
{
	sqlite3_stmt *st = store_stmt_get(s, ST_NOTICE_CLAIM);

	if (st == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_int64(st, 1, v[i].id);
		sqlite3_bind_int64(st, 2, until);
		if (step_done(s, st, "cannot claim the mailbox notices") < 0)
			return -1;
	}
	return 0;
}

int store_notice_done(struct store *s, const struct notice_entry *v, size_t n, bool sent)
{
	sqlite3_stmt *st;
	int rc = 0;

	if (store_write_begin(s) < 0)
		return -1;
	if (!sent) {
		rc = set_claim(s, v, n, 0);
	} else if ((st = store_stmt_get(s, ST_NOTICE_DELETE)) == NULL) {
		rc = -1;
	} else {
		for (size_t i = 0; i < n && rc == 0; i++) {
			sqlite3_bind_int64(st, 1, v[i].id);
			rc = step_done(s, st, "cannot delete the sent mailbox notices");
		}
	}
	return store_write_end(s, rc);
}

void notice_entries_free(struct notice_entry *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(v[i].ref);
		free(v[i].text);
	}
	free(v);
}

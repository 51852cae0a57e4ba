/*
 * store_held.c - the held messages in the SQLite store: the decisions the
 * filter carried out as a hold (enforce mode), each with its held
 * recipients and what became of it, and the outcome sikkermail-ctl
 * records when it releases or deletes one.
 *
 * Exports store_held_each, store_held_find, store_held_record,
 * held_message_free, held_state_name and held_state_parse (see
 * store_held.h). Works on the handle of store.c through store_int.h.
 *
 * These are administrator's reads and writes, a few per command: the
 * statements are prepared per call, not cached in the handle.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_held.h"
#include "store_int.h"
#include "util.h"

/* The columns every read starts with; the outcome comes from the optional held_outcome row. */
#define HELD_SELECT \
	"SELECT d.id, d.time, d.queue_id, d.message_id, d.sender, d.rule, o.state, o.by_user," \
	" o.at FROM decision d LEFT JOIN held_outcome o ON o.decision_id = d.id" \
	" WHERE d.mode = 'enforce' AND d.applied = 'hold'"

static const char *const state_names[HELD_STATE_COUNT] = { "held", "released", "deleted" };

static sqlite3_stmt *prepare(struct store *s, const char *sql);
static int read_held(struct store *s, sqlite3_stmt *st, struct held_message *h);
static int read_rcpts(struct store *s, struct held_message *h);

const char *held_state_name(enum held_state st)
{
	return (unsigned)st < HELD_STATE_COUNT ? state_names[st] : "?";
}

int held_state_parse(const char *name)
{
	for (int i = 0; i < HELD_STATE_COUNT; i++)
		if (strcmp(name, state_names[i]) == 0)
			return i;
	return -1;
}

void held_message_free(struct held_message *h)
{
	for (size_t i = 0; i < h->n_rcpts; i++) {
		free(h->rcpts[i].address);
		free(h->rcpts[i].cls);
		free(h->rcpts[i].rule);
		free(h->rcpts[i].evidence);
	}
	free(h->rcpts);
	free(h->queue_id);
	free(h->message_id);
	free(h->sender);
	free(h->rule);
	free(h->by);
	memset(h, 0, sizeof(*h));
}

static sqlite3_stmt *prepare(struct store *s, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		store_set_db_err(s, "cannot read the held messages");
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

int store_held_each(struct store *s, long long since, long long until,
		    int (*fn)(const struct held_message *h, void *arg), void *arg)
{
	sqlite3_stmt *st = prepare(s, HELD_SELECT " AND d.time >= ?1 AND d.time < ?2"
					     " ORDER BY d.time, d.id");
	int rc = SQLITE_DONE, ret = 0;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, since);
	sqlite3_bind_int64(st, 2, until);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct held_message h;

		ret = read_held(s, st, &h);
		if (ret == 0)
			ret = fn(&h, arg);
		held_message_free(&h);
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE) {
		store_set_db_err(s, "cannot read the held messages");
		ret = -1;
	}
	sqlite3_finalize(st);
	return ret;
}

enum lookup store_held_find(struct store *s, const char *queue_id, struct held_message *out)
{
	sqlite3_stmt *st = prepare(s, HELD_SELECT " AND d.queue_id = ?1"
					     " ORDER BY d.time DESC, d.id DESC LIMIT 1");
	enum lookup r = LOOKUP_NOTFOUND;
	int rc;

	memset(out, 0, sizeof(*out));
	if (st == NULL)
		return LOOKUP_RETRY;
	store_bind_text(st, 1, queue_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = read_held(s, st, out) == 0 ? LOOKUP_FOUND : LOOKUP_RETRY;
	else if (rc != SQLITE_DONE) {
		store_set_db_err(s, "cannot look the held message up");
		r = LOOKUP_RETRY;
	}
	if (r == LOOKUP_RETRY)
		held_message_free(out);
	sqlite3_finalize(st);
	return r;
}

int store_held_record(struct store *s, long long id, enum held_state state, const char *by,
		      long long at)
{
	sqlite3_stmt *st;
	int rc = -1;

	if ((unsigned)state >= HELD_STATE_COUNT || by == NULL) {
		store_set_err(s, "database %s: a held message's outcome needs a state and a user",
			      s->path);
		return -1;
	}
	if (store_write_begin(s) < 0)
		return -1;
	if ((st = prepare(s, "INSERT OR REPLACE INTO held_outcome (decision_id, state, by_user,"
			     " at) VALUES (?1, ?2, ?3, ?4)")) != NULL) {
		sqlite3_bind_int64(st, 1, id);
		store_bind_text(st, 2, held_state_name(state));
		store_bind_text(st, 3, by);
		sqlite3_bind_int64(st, 4, at);
		if (sqlite3_step(st) == SQLITE_DONE)
			rc = 0;
		else
			store_set_db_err(s, "cannot record what became of the held message");
		sqlite3_finalize(st);
	}
	return store_write_end(s, rc);
}

/* read_held - one row of HELD_SELECT, then its held recipients; 0 or -1. */
static int read_held(struct store *s, sqlite3_stmt *st, struct held_message *h)
{
	const char *state = (const char *)sqlite3_column_text(st, 6);
	int v = state != NULL ? held_state_parse(state) : HELD_WAITING;

	memset(h, 0, sizeof(*h));
	h->id = sqlite3_column_int64(st, 0);
	h->time = sqlite3_column_int64(st, 1);
	h->queue_id = store_column_dup(st, 2);
	h->message_id = store_column_dup(st, 3);
	h->sender = store_column_dup(st, 4);
	h->rule = store_column_dup(st, 5);
	h->by = store_column_dup(st, 7);
	h->at = sqlite3_column_int64(st, 8);
	if (v < 0) {
		store_set_err(s, "database %s: unknown held state \"%s\"", s->path, state);
		return -1;
	}
	h->state = (enum held_state)v;
	return read_rcpts(s, h);
}

static int read_rcpts(struct store *s, struct held_message *h)
{
	sqlite3_stmt *st = prepare(s, "SELECT rcpt, class, rule, evidence FROM decision_rcpt"
				      " WHERE decision_id = ?1 AND action = 'hold' ORDER BY idx");
	size_t cap = 0;
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, h->id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct held_rcpt *r;

		if (h->n_rcpts == cap) {
			cap = cap ? cap * 2 : 4;
			h->rcpts = xrealloc(h->rcpts, cap * sizeof(*h->rcpts));
		}
		r = &h->rcpts[h->n_rcpts++];
		r->address = store_column_dup(st, 0);
		r->cls = store_column_dup(st, 1);
		r->rule = store_column_dup(st, 2);
		r->evidence = store_column_dup(st, 3);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		store_set_db_err(s, "cannot read the recipients of a held message");
		return -1;
	}
	return 0;
}

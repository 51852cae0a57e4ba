/*
 * store_decision.c - the recorded message decisions in the SQLite store:
 * writing one decision with its recipients in one transaction, and
 * reading them back for a time range.
 *
 * Exports store_record_decision and store_decisions_each (see store.h).
 * Works on the handle and statement cache of store.c, through
 * store_int.h.
 *
 * The facts a replay decides again from, the function mailbox named and
 * the failure have a table of their own (decision_facts, one row per
 * decision); a decision recorded before it has no row, and is read back
 * with those facts "n/a".
 *
 * Enum values are stored by name (action_name and the like) and read back
 * with the matching parser; a name this program does not know is an error
 * for the whole walk, never a default.
 */
#include <sqlite3.h>
#include <stdbool.h>
#include <string.h>

#include "address.h"
#include "decision.h"
#include "sikkermail.h"
#include "store.h"
#include "store_int.h"
#include "util.h"

static int insert_decision(struct store *s, const struct decision *d);
static int insert_rcpts(struct store *s, long long id, const struct decision *d);
static int insert_facts(struct store *s, long long id, const struct decision *d);
static int read_decision(struct store *s, sqlite3_stmt *st, struct decision *d);
static int read_rcpts(struct store *s, long long id, struct decision *d);
static int read_facts(struct store *s, long long id, struct decision *d);
static const char *arena_keep(struct store *s, sqlite3_stmt *st, int col);
static int name_lookup(struct store *s, sqlite3_stmt *st, int col, int (*parse)(const char *),
		       const char *what);
static int mode_parse(const char *t);
static int psrc_parse(const char *t);

/* ------------------------------------------------------------ recording */

int store_record_decision(struct store *s, const struct decision *d)
{
	if (store_write_begin(s) < 0)
		return -1;
	return store_write_end(s, insert_decision(s, d));
}

/* insert_decision - the message row, then one row per recipient. */
static int insert_decision(struct store *s, const struct decision *d)
{
	sqlite3_stmt *st = store_stmt_get(s, ST_DECISION_INSERT);
	long long id;
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, d->time);
	store_bind_text(st, 2, d->queue_id);
	store_bind_text(st, 3, d->message_id);
	store_bind_text(st, 4, d->sender);
	store_bind_text(st, 5, d->client_addr);
	sqlite3_bind_int(st, 6, d->trusted);
	sqlite3_bind_int(st, 7, d->personal);
	store_bind_text(st, 8, personal_source_name(d->psrc));
	store_bind_text(st, 9, d->personal_why);
	sqlite3_bind_int(st, 10, d->cpr_hits);
	store_bind_text(st, 11, mode_name(d->mode));
	store_bind_text(st, 12, action_name(d->action));
	store_bind_text(st, 13, action_name(d->applied));
	store_bind_text(st, 14, d->rule);
	store_bind_text(st, 15, d->instance);
	rc = sqlite3_step(st);
	store_stmt_done(st);
	if (rc != SQLITE_DONE) {
		store_set_db_err(s, "cannot record the decision");
		return -1;
	}
	id = sqlite3_last_insert_rowid(s->db);
	if (insert_rcpts(s, id, d) != 0)
		return -1;
	return insert_facts(s, id, d);
}

/* insert_rcpts - the recipients, each as the address delivered to (raw if it never normalised). */
static int insert_rcpts(struct store *s, long long id, const struct decision *d)
{
	sqlite3_stmt *rs = store_stmt_get(s, ST_RCPT_INSERT);
	int rc;

	if (rs == NULL)
		return -1;
	for (size_t i = 0; i < d->n_rcpts; i++) {
		const struct rcpt *r = &d->rcpts[i];

		sqlite3_bind_int64(rs, 1, id);
		sqlite3_bind_int64(rs, 2, (long long)i);
		store_bind_text(rs, 3, r->addr.full ? r->addr.full : r->raw ? r->raw : "");
		store_bind_text(rs, 4, rclass_name(r->cls));
		store_bind_text(rs, 5, action_name(r->action));
		store_bind_text(rs, 6, r->rule);
		store_bind_text(rs, 7, r->evidence);
		rc = sqlite3_step(rs);
		store_stmt_done(rs);
		if (rc != SQLITE_DONE) {
			store_set_db_err(s, "cannot record a recipient");
			return -1;
		}
	}
	return 0;
}

/* insert_facts - the replay's facts, the function mailbox named and what failed. */
static int insert_facts(struct store *s, long long id, const struct decision *d)
{
	sqlite3_stmt *st = store_stmt_get(s, ST_FACTS_INSERT);
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	store_bind_text(st, 2, flag_said_name(d->flag));
	store_bind_text(st, 3, cpr_scan_name(d->cpr_scan));
	sqlite3_bind_int(st, 4, d->already_encrypted);
	store_bind_text(st, 5, d->mailbox);
	store_bind_text(st, 6, d->failure);
	rc = sqlite3_step(st);
	store_stmt_done(st);
	if (rc != SQLITE_DONE) {
		store_set_db_err(s, "cannot record the facts of the decision");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ reading */

/*
 * store_decisions_each - decisions are rebuilt as struct decision. Their
 * rule strings (const char * in the struct) live in the handle's arena,
 * which is emptied after each call of fn. A non-zero return from fn stops
 * the walk and is returned.
 */
int store_decisions_each(struct store *s, long long since, long long until,
			 int (*fn)(const struct decision *d, void *arg), void *arg)
{
	sqlite3_stmt *st = store_stmt_get(s, ST_DECISIONS);
	int rc, ret = 0;

	if (st == NULL || store_stmt_get(s, ST_RCPTS) == NULL || store_stmt_get(s, ST_FACTS) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, since);
	sqlite3_bind_int64(st, 2, until);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct decision d;

		decision_init(&d);
		ret = read_decision(s, st, &d);
		if (ret == 0)
			ret = fn(&d, arg);
		decision_free(&d);
		strlist_free(&s->arena);
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE) {
		store_set_db_err(s, "cannot read the decisions");
		ret = -1;
	}
	store_stmt_done(st);
	return ret;
}

static const char *arena_keep(struct store *s, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	if (sqlite3_column_type(st, col) == SQLITE_NULL || t == NULL)
		return "";
	strlist_add(&s->arena, (const char *)t);
	return s->arena.v[s->arena.n - 1];
}

/* name_lookup - an enum value stored by name; -1 (with the error set) if unknown. */
static int name_lookup(struct store *s, sqlite3_stmt *st, int col, int (*parse)(const char *),
		       const char *what)
{
	const char *t = (const char *)sqlite3_column_text(st, col);
	int v = t ? parse(t) : -1;

	if (v < 0)
		store_set_err(s, "database %s: unknown %s \"%s\" in a recorded decision", s->path,
			      what, t ? t : "NULL");
	return v;
}

static int mode_parse(const char *t)
{
	return strcmp(t, "enforce") == 0 ? MODE_ENFORCE : strcmp(t, "monitor") == 0 ? MODE_MONITOR : -1;
}

static int psrc_parse(const char *t)
{
	for (int p = PSRC_NONE; p <= PSRC_SUBJECT; p++)
		if (strcmp(t, personal_source_name((enum personal_source)p)) == 0)
			return p;
	return -1;
}

static int read_decision(struct store *s, sqlite3_stmt *st, struct decision *d)
{
	int psrc, mode, action, applied;

	d->time = sqlite3_column_int64(st, 1);
	d->queue_id = store_column_dup(st, 2);
	d->message_id = store_column_dup(st, 3);
	d->sender = store_column_dup(st, 4);
	d->client_addr = store_column_dup(st, 5);
	d->trusted = sqlite3_column_int(st, 6) != 0;
	d->personal = sqlite3_column_int(st, 7) != 0;
	d->personal_why = store_column_dup(st, 9);
	d->cpr_hits = sqlite3_column_int(st, 10);
	d->rule = arena_keep(s, st, 14);
	d->instance = store_column_dup(st, 15);
	if ((psrc = name_lookup(s, st, 8, psrc_parse, "personal source")) < 0 ||
	    (mode = name_lookup(s, st, 11, mode_parse, "mode")) < 0 ||
	    (action = name_lookup(s, st, 12, action_parse, "action")) < 0 ||
	    (applied = name_lookup(s, st, 13, action_parse, "action")) < 0)
		return -1;
	d->psrc = (enum personal_source)psrc;
	d->mode = (enum mode)mode;
	d->action = (enum action)action;
	d->applied = (enum action)applied;
	if (read_facts(s, sqlite3_column_int64(st, 0), d) != 0)
		return -1;
	return read_rcpts(s, sqlite3_column_int64(st, 0), d);
}

/* read_facts - the row of decision_facts, if the decision has one. */
static int read_facts(struct store *s, long long id, struct decision *d)
{
	sqlite3_stmt *st = s->stmt[ST_FACTS];
	int rc, ret = 0, flag, scan;

	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if ((flag = name_lookup(s, st, 0, flag_said_parse, "flag")) < 0 ||
		    (scan = name_lookup(s, st, 1, cpr_scan_parse, "CPR scan")) < 0) {
			ret = -1;
		} else {
			d->flag = (enum flag_said)flag;
			d->cpr_scan = (enum cpr_scan)scan;
			d->already_encrypted = sqlite3_column_int(st, 2) != 0;
			d->mailbox = store_column_dup(st, 3);
			d->failure = store_column_dup(st, 4);
		}
	} else if (rc != SQLITE_DONE) {
		store_set_db_err(s, "cannot read the facts of a decision");
		ret = -1;
	}
	store_stmt_done(st);
	return ret;
}

/* read_rcpts - the recipients of decision id; the address is split at its last '@'. */
static int read_rcpts(struct store *s, long long id, struct decision *d)
{
	sqlite3_stmt *st = s->stmt[ST_RCPTS];
	int rc, ret = 0;

	sqlite3_bind_int64(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		struct address a = { 0 };
		const char *at;
		struct rcpt *r;
		int cls, action;

		t = t ? t : "";
		a.full = xstrdup(t);
		if ((at = strrchr(t, '@')) != NULL) {
			a.local = xstrndup(t, (size_t)(at - t));
			a.domain = xstrdup(at + 1);
		}
		r = decision_add_rcpt(d, t, &a);
		if ((cls = name_lookup(s, st, 1, rclass_parse, "class")) < 0 ||
		    (action = name_lookup(s, st, 2, action_parse, "action")) < 0) {
			ret = -1;
			break;
		}
		r->cls = (enum rclass)cls;
		r->action = (enum action)action;
		r->rule = arena_keep(s, st, 3);
		r->evidence = store_column_dup(st, 4);
	}
	if (ret == 0 && rc != SQLITE_DONE) {
		store_set_db_err(s, "cannot read the recipients of a decision");
		ret = -1;
	}
	store_stmt_done(st);
	return ret;
}

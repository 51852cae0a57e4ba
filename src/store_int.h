/*
 * store_int.h - what the files of the store share, and nothing else may
 * see: struct store, the ids of its cached prepared statements, and the
 * helpers that set the handle's error message and drive a statement.
 * Included only by store*.c; everyone else uses store.h.
 *
 * store.c owns the handle, the schema and the statement texts, and
 * exports the store_* helpers below; store_decision.c records and reads
 * back the decisions with them, store_notice.c keeps the mailbox notices,
 * store_purge.c forgets the decisions older than the retention period.
 *
 * The SQLite types are named here as structs, so that this header does
 * not need <sqlite3.h>: only the store*.c files include that.
 */
#ifndef SIKKERMAIL_STORE_INT_H
#define SIKKERMAIL_STORE_INT_H

#include <sys/types.h>

#include "store.h"
#include "util.h"

struct sqlite3;
struct sqlite3_stmt;

/* The prepared statements, indexes of struct store's stmt[] and of store.c's texts. */
enum stmt_id {
	ST_MATCH,
	ST_LIST_EACH,
	ST_LIST_DELETE,
	ST_LIST_INSERT,
	ST_IMPORT_INSERT,
	ST_DECISION_INSERT,
	ST_RCPT_INSERT,
	ST_DECISIONS,
	ST_RCPTS,
	ST_CERT_GET,
	ST_CERT_PUT,
	ST_BEGIN_WRITE,
	ST_COMMIT,
	ST_LIST_GENERATION,
	ST_MARKER_EXPIRE,
	ST_MARKER_PUT,
	ST_MARKER_TAKE,
	ST_NOTICE_PUT,
	ST_NOTICE_PENDING,
	ST_NOTICE_TAKE,
	ST_NOTICE_CLAIM,
	ST_NOTICE_DELETE,
	ST_FACTS_INSERT,
	ST_FACTS,
	ST_DOMCERT_GET,
	ST_COUNT
};

struct store {
	struct sqlite3 *db;
	char *path;
	enum store_mode mode;
	dev_t dev;			/* the file opened, to notice it being replaced */
	ino_t ino;
	struct sqlite3_stmt *stmt[ST_COUNT];	/* prepared on first use */
	struct strlist arena;		/* strings of a decision read back, for one callback */
	char errmsg[512];
};

/* store_set_err - set the message store_errmsg returns. */
void store_set_err(struct store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* store_set_db_err - "database PATH: what: SQLite's last error". */
void store_set_db_err(struct store *s, const char *what);
/* store_exec - run SQL without results. 0, or -1 with the error set. */
int store_exec(struct store *s, const char *sql);
/*
 * store_write_begin - take the process's writer mutex and begin an
 * immediate transaction; 0, or -1 (error set, mutex not held).
 * store_write_end - commit when rc is 0, else roll back; release the
 * mutex; rc, or -1 when the commit failed.
 */
int store_write_begin(struct store *s);
int store_write_end(struct store *s, int rc);
/*
 * store_exec_alone - run SQL that cannot be in a transaction (VACUUM)
 * holding the process's writer mutex, so that this process's writers
 * wait for it instead of meeting SQLite's lock. 0, or -1 with the error set.
 */
int store_exec_alone(struct store *s, const char *sql);
/* store_list_replace_locked - replace a list inside the caller's write transaction; 0 or -1. */
int store_list_replace_locked(struct store *s, enum list_kind kind, const struct list_entries *l);
/* store_stmt_get - the statement, prepared on first use; NULL with the error set. */
struct sqlite3_stmt *store_stmt_get(struct store *s, enum stmt_id id);
/* store_stmt_done - reset a statement and clear its bindings, for its next use. */
void store_stmt_done(struct sqlite3_stmt *st);
/* store_column_dup - a copy of a text column, NULL for SQL NULL. */
char *store_column_dup(struct sqlite3_stmt *st, int col);

/* store_column_blob - a copy of a blob column, *len its size; NULL (and 0) for none or empty. */
unsigned char *store_column_blob(struct sqlite3_stmt *st, int col, size_t *len);
/* store_bind_text - bind s (not copied: keep it until store_stmt_done), or SQL NULL. */
void store_bind_text(struct sqlite3_stmt *st, int idx, const char *s);

#endif

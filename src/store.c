/*
 * store.c - the SQLite store: the tunnel, partner and freemail lists with
 * their provenance, and the recorded message decisions.
 *
 * Exports store_open, store_close, store_list_match, store_list_replace,
 * store_list_each, store_record_decision, store_decisions_each and
 * store_errmsg (see store.h). The only file that includes <sqlite3.h>.
 *
 * Threads: one struct store is one SQLite connection with its own cached
 * prepared statements; it must only be used by one thread at a time (the
 * milter opens one per SMTP connection). The connection is opened in the
 * library's default threading mode; nothing here relies on SQLite's own
 * mutexes. Processes share the file through WAL mode and a busy timeout.
 *
 * Schema: PRAGMA application_id marks the file as ours and PRAGMA
 * user_version holds the schema version. store_migrations[v] takes a
 * database from version v to v + 1; a read-write open applies the missing
 * steps in one transaction, so a later version adds a table by appending
 * one step. A new database also gets the built-in freemail list.
 *
 * Lookups never answer "not found" when the database could not answer:
 * every SQLite error is LOOKUP_RETRY (or -1), with the reason in
 * store_errmsg().
 */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

#define STORE_APPLICATION_ID 0x536b6d6c	/* "Skml" */
#define STORE_BUSY_TIMEOUT_MS 5000
#define STORE_FILE_MODE 0640

/* Schema steps: store_migrations[v] upgrades version v to v + 1. */
static const char *const store_migrations[] = {
	/* 0 -> 1: lists with provenance, decisions */
	"CREATE TABLE list_entry (kind TEXT NOT NULL, domain TEXT NOT NULL,"
	"  organisation TEXT, dpa_expires TEXT, source TEXT, imported_at INTEGER NOT NULL,"
	"  line INTEGER, PRIMARY KEY (kind, domain)) WITHOUT ROWID;"
	"CREATE TABLE list_import (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, source TEXT,"
	"  imported_at INTEGER NOT NULL, count INTEGER NOT NULL);"
	"CREATE TABLE decision (id INTEGER PRIMARY KEY, time INTEGER NOT NULL,"
	"  queue_id TEXT, message_id TEXT, sender TEXT, client_addr TEXT,"
	"  trusted INTEGER NOT NULL, personal INTEGER NOT NULL,"
	"  personal_source TEXT NOT NULL, personal_why TEXT, cpr_hits INTEGER NOT NULL,"
	"  mode TEXT NOT NULL, action TEXT NOT NULL, applied TEXT NOT NULL, rule TEXT);"
	"CREATE INDEX decision_time ON decision (time);"
	"CREATE TABLE decision_rcpt ("
	"  decision_id INTEGER NOT NULL REFERENCES decision (id) ON DELETE CASCADE,"
	"  idx INTEGER NOT NULL, rcpt TEXT NOT NULL, class TEXT NOT NULL,"
	"  action TEXT NOT NULL, rule TEXT, evidence TEXT,"
	"  PRIMARY KEY (decision_id, idx)) WITHOUT ROWID;",
};

#define STORE_SCHEMA_VERSION ((int)(sizeof(store_migrations) / sizeof(store_migrations[0])))

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
	ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
	[ST_MATCH] = "SELECT domain, organisation, dpa_expires, source, imported_at, line"
		     " FROM list_entry WHERE kind = ?1 AND domain = ?2",
	[ST_LIST_EACH] = "SELECT domain, organisation, dpa_expires, source, imported_at, line"
			 " FROM list_entry WHERE kind = ?1 ORDER BY ltrim(domain, '.'), domain DESC",
	[ST_LIST_DELETE] = "DELETE FROM list_entry WHERE kind = ?1",
	[ST_LIST_INSERT] = "INSERT INTO list_entry (kind, domain, organisation, dpa_expires,"
			   " source, imported_at, line) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_IMPORT_INSERT] = "INSERT INTO list_import (kind, source, imported_at, count)"
			     " VALUES (?1, ?2, ?3, ?4)",
	[ST_DECISION_INSERT] = "INSERT INTO decision (time, queue_id, message_id, sender,"
			       " client_addr, trusted, personal, personal_source, personal_why,"
			       " cpr_hits, mode, action, applied, rule) VALUES"
			       " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
	[ST_RCPT_INSERT] = "INSERT INTO decision_rcpt (decision_id, idx, rcpt, class, action,"
			   " rule, evidence) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_DECISIONS] = "SELECT id, time, queue_id, message_id, sender, client_addr, trusted,"
			 " personal, personal_source, personal_why, cpr_hits, mode, action,"
			 " applied, rule FROM decision WHERE time >= ?1 AND time < ?2"
			 " ORDER BY time, id",
	[ST_RCPTS] = "SELECT rcpt, class, action, rule, evidence FROM decision_rcpt"
		     " WHERE decision_id = ?1 ORDER BY idx",
};

struct store {
	sqlite3 *db;
	char *path;
	enum store_mode mode;
	sqlite3_stmt *stmt[ST_COUNT];	/* prepared on first use */
	struct strlist arena;		/* strings of a decision read back, for one callback */
	char errmsg[512];
};

static void set_err(struct store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_db_err(struct store *s, const char *what);
static int exec(struct store *s, const char *sql);
static int create_file(struct store *s);
static int schema_state(struct store *s, int *app_id, int *version, int *objects);
static int schema_check(struct store *s, bool *need_migrate);
static int migrate(struct store *s);
static int configure_connection(struct store *s);
static sqlite3_stmt *stmt_get(struct store *s, enum stmt_id id);
static void stmt_done(sqlite3_stmt *st);
static char *column_dup(sqlite3_stmt *st, int col);
static void bind_text(sqlite3_stmt *st, int idx, const char *s);
static enum lookup match_one(struct store *s, enum list_kind kind, const char *key,
			     struct list_entry *out);
static void entry_from_row(sqlite3_stmt *st, struct list_entry *e);
static int replace_locked(struct store *s, enum list_kind kind, const struct list_entries *l);
static int load_builtin_freemail(struct store *s);
static int insert_entry(struct store *s, const char *kname, const struct list_entry *e,
			long long now);
static int insert_decision(struct store *s, const struct decision *d);
static int insert_rcpts(struct store *s, long long id, const struct decision *d);
static int read_decision(struct store *s, sqlite3_stmt *st, struct decision *d);
static int read_rcpts(struct store *s, long long id, struct decision *d);
static const char *arena_keep(struct store *s, sqlite3_stmt *st, int col);
static int name_lookup(struct store *s, sqlite3_stmt *st, int col, int (*parse)(const char *),
		       const char *what);
static int mode_parse(const char *t);
static int psrc_parse(const char *t);

/* ------------------------------------------------------------ open/close */

struct store *store_open(const char *path, enum store_mode mode, char **err)
{
	struct store *s = xcalloc(1, sizeof(*s));
	int flags = mode == STORE_RO ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
	bool need_migrate = false;

	s->path = xstrdup(path);
	s->mode = mode;
	strlist_init(&s->arena);
	if (sqlite3_threadsafe() == 0) {
		set_err(s, "the SQLite library was built without thread support");
		goto fail;
	}
	if (create_file(s) < 0)
		goto fail;
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		set_err(s, "cannot open database %s: %s", path,
			s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
	if (schema_check(s, &need_migrate) < 0 || configure_connection(s) < 0)
		goto fail;
	if (need_migrate && migrate(s) < 0)
		goto fail;
	return s;
fail:
	*err = xstrdup(s->errmsg);
	store_close(s);
	return NULL;
}

void store_close(struct store *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->stmt[i]);
	sqlite3_close_v2(s->db);
	strlist_free(&s->arena);
	free(s->path);
	free(s);
}

const char *store_errmsg(struct store *s)
{
	return s->errmsg[0] ? s->errmsg : "no error";
}

/*
 * create_file - make sure the file exists with mode 0640 whatever the
 * umask (read-write), or say clearly that it is missing (read-only).
 * SQLite would create it with 0644 less the umask, and would report a
 * missing or unreadable file only as "unable to open database file".
 */
static int create_file(struct store *s)
{
	int fd;

	if (s->mode == STORE_RO)
		fd = open(s->path, O_RDONLY | O_CLOEXEC);
	else
		fd = open(s->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			  STORE_FILE_MODE);
	if (fd < 0 && s->mode == STORE_RW && errno == EEXIST)
		fd = open(s->path, O_RDWR | O_CLOEXEC);
	else if (fd >= 0 && s->mode == STORE_RW && fchmod(fd, STORE_FILE_MODE) < 0) {
		set_err(s, "cannot set the mode of database %s: %s", s->path, strerror(errno));
		close(fd);
		return -1;
	}
	if (fd < 0) {
		if (errno == ENOENT)
			set_err(s, "database %s does not exist", s->path);
		else
			set_err(s, "cannot open database %s: %s", s->path, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

/* schema_state - what the file holds: our mark, schema version, number of schema objects. */
static int schema_state(struct store *s, int *app_id, int *version, int *objects)
{
	static const char sql[] = "SELECT (SELECT application_id FROM pragma_application_id),"
				  " (SELECT user_version FROM pragma_user_version),"
				  " (SELECT count(*) FROM sqlite_master)";
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);

	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*app_id = sqlite3_column_int(st, 0);
		*version = sqlite3_column_int(st, 1);
		*objects = sqlite3_column_int(st, 2);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_OK)
		return 0;
	if ((rc & 0xff) == SQLITE_NOTADB)
		set_err(s, "%s is not an SQLite database (nor a sikkermail one)", s->path);
	else
		set_db_err(s, "cannot read the schema");
	return -1;
}

/* schema_check - is this a sikkermail database we can use? Sets *need_migrate. */
static int schema_check(struct store *s, bool *need_migrate)
{
	int app_id, version, objects;

	if (schema_state(s, &app_id, &version, &objects) < 0)
		return -1;
	*need_migrate = false;
	if (app_id == 0 && objects == 0 && version == 0) {
		if (s->mode == STORE_RO) {
			set_err(s, "%s is an empty database, not (yet) a sikkermail database", s->path);
			return -1;
		}
		*need_migrate = true;
		return 0;
	}
	if (app_id != STORE_APPLICATION_ID) {
		set_err(s, "%s is an SQLite database but not a sikkermail database", s->path);
		return -1;
	}
	if (version > STORE_SCHEMA_VERSION) {
		set_err(s, "database %s has schema version %d; this program knows up to %d"
			" (a newer sikkermail made it)", s->path, version, STORE_SCHEMA_VERSION);
		return -1;
	}
	if (version < STORE_SCHEMA_VERSION) {
		if (s->mode == STORE_RO) {
			set_err(s, "database %s has schema version %d, older than %d; open it"
				" read-write once to upgrade it", s->path, version, STORE_SCHEMA_VERSION);
			return -1;
		}
		*need_migrate = true;
	}
	return 0;
}

/* configure_connection - WAL, synchronous NORMAL (safe with WAL), foreign keys. */
static int configure_connection(struct store *s)
{
	if (exec(s, "PRAGMA foreign_keys = ON") < 0)
		return -1;
	if (s->mode == STORE_RO)
		return 0;
	if (exec(s, "PRAGMA journal_mode = WAL") < 0 || exec(s, "PRAGMA synchronous = NORMAL") < 0)
		return -1;
	return 0;
}

/*
 * migrate - bring the schema to STORE_SCHEMA_VERSION in one transaction.
 * The state is read again under the write lock: another process may have
 * created or upgraded the database meanwhile.
 */
static int migrate(struct store *s)
{
	int app_id, version, objects;
	char *sql;

	if (exec(s, "BEGIN IMMEDIATE") < 0)
		return -1;
	if (schema_state(s, &app_id, &version, &objects) < 0)
		goto fail;
	if (app_id != 0 && app_id != STORE_APPLICATION_ID) {
		set_err(s, "%s is an SQLite database but not a sikkermail database", s->path);
		goto fail;
	}
	for (int v = version; v < STORE_SCHEMA_VERSION; v++)
		if (exec(s, store_migrations[v]) < 0)
			goto fail;
	if (version == 0 && load_builtin_freemail(s) < 0)
		goto fail;
	sql = xasprintf("PRAGMA application_id = %d; PRAGMA user_version = %d",
			STORE_APPLICATION_ID, STORE_SCHEMA_VERSION);
	if (exec(s, sql) < 0) {
		free(sql);
		goto fail;
	}
	free(sql);
	if (exec(s, "COMMIT") < 0)
		goto fail;
	return 0;
fail:
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static int load_builtin_freemail(struct store *s)
{
	struct list_entries l = { 0 };
	size_t n = 0;
	int rc;

	while (lists_builtin_freemail[n] != NULL)
		n++;
	l.v = xcalloc(n, sizeof(*l.v));
	for (l.n = 0; l.n < n; l.n++) {
		l.v[l.n].domain = xstrdup(lists_builtin_freemail[l.n]);
		l.v[l.n].source = xstrdup("built-in");
	}
	l.cap = n;
	rc = replace_locked(s, LIST_FREEMAIL, &l);
	list_entries_free(&l);
	return rc;
}

/* ------------------------------------------------------------ helpers */

static void set_err(struct store *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->errmsg, sizeof(s->errmsg), fmt, ap);
	va_end(ap);
}

static void set_db_err(struct store *s, const char *what)
{
	set_err(s, "database %s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

static int exec(struct store *s, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	set_err(s, "database %s: %s", s->path, msg ? msg : sqlite3_errmsg(s->db));
	sqlite3_free(msg);
	return -1;
}

static sqlite3_stmt *stmt_get(struct store *s, enum stmt_id id)
{
	if (s->stmt[id] != NULL)
		return s->stmt[id];
	if (sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[id],
			       NULL) != SQLITE_OK) {
		set_db_err(s, "cannot prepare a statement");
		s->stmt[id] = NULL;
	}
	return s->stmt[id];
}

static void stmt_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

static char *column_dup(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	if (sqlite3_column_type(st, col) == SQLITE_NULL || t == NULL)
		return NULL;
	return xstrdup((const char *)t);
}

static void bind_text(sqlite3_stmt *st, int idx, const char *s)
{
	if (s == NULL)
		sqlite3_bind_null(st, idx);
	else
		sqlite3_bind_text(st, idx, s, -1, SQLITE_STATIC);
}

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
	sqlite3_stmt *st = stmt_get(s, ST_MATCH);
	enum lookup r = LOOKUP_RETRY;
	int rc;

	if (st == NULL)
		return LOOKUP_RETRY;
	bind_text(st, 1, list_kind_name(kind));
	bind_text(st, 2, key);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		entry_from_row(st, out);
		r = LOOKUP_FOUND;
	} else if (rc == SQLITE_DONE) {
		r = LOOKUP_NOTFOUND;
	} else {
		set_db_err(s, "list lookup failed");
	}
	stmt_done(st);
	return r;
}

static void entry_from_row(sqlite3_stmt *st, struct list_entry *e)
{
	e->domain = column_dup(st, 0);
	e->organisation = column_dup(st, 1);
	e->dpa_expires = column_dup(st, 2);
	e->source = column_dup(st, 3);
	e->imported_at = sqlite3_column_int64(st, 4);
	e->line = (long)sqlite3_column_int64(st, 5);
	if (e->domain == NULL)
		e->domain = xstrdup("");
}

int store_list_replace(struct store *s, enum list_kind kind, const struct list_entries *entries,
		       char **err)
{
	if (exec(s, "BEGIN IMMEDIATE") < 0)
		goto fail;
	if (replace_locked(s, kind, entries) < 0 || exec(s, "COMMIT") < 0) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		goto fail;
	}
	return 0;
fail:
	*err = xstrdup(s->errmsg);
	return -1;
}

/* replace_locked - the body of store_list_replace, inside the caller's transaction. */
static int replace_locked(struct store *s, enum list_kind kind, const struct list_entries *l)
{
	sqlite3_stmt *del = stmt_get(s, ST_LIST_DELETE), *imp = stmt_get(s, ST_IMPORT_INSERT);
	long long now = (long long)time(NULL);
	const char *kname = list_kind_name(kind);
	int rc;

	if (del == NULL || imp == NULL)
		return -1;
	bind_text(del, 1, kname);
	rc = sqlite3_step(del);
	stmt_done(del);
	if (rc != SQLITE_DONE) {
		set_db_err(s, "cannot delete the old list");
		return -1;
	}
	for (size_t i = 0; i < l->n; i++)
		if (insert_entry(s, kname, &l->v[i], now) < 0)
			return -1;
	bind_text(imp, 1, kname);
	bind_text(imp, 2, l->n > 0 ? l->v[0].source : NULL);
	sqlite3_bind_int64(imp, 3, now);
	sqlite3_bind_int64(imp, 4, (long long)l->n);
	rc = sqlite3_step(imp);
	stmt_done(imp);
	if (rc != SQLITE_DONE) {
		set_db_err(s, "cannot record the import");
		return -1;
	}
	return 0;
}

static int insert_entry(struct store *s, const char *kname, const struct list_entry *e,
			long long now)
{
	sqlite3_stmt *ins = stmt_get(s, ST_LIST_INSERT);
	int rc;

	if (ins == NULL)
		return -1;
	bind_text(ins, 1, kname);
	bind_text(ins, 2, e->domain);
	bind_text(ins, 3, e->organisation);
	bind_text(ins, 4, e->dpa_expires);
	bind_text(ins, 5, e->source);
	sqlite3_bind_int64(ins, 6, now);
	sqlite3_bind_int64(ins, 7, e->line);
	rc = sqlite3_step(ins);
	stmt_done(ins);
	if (rc != SQLITE_DONE) {
		set_err(s, "database %s: cannot insert %s (line %ld): %s", s->path,
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
	sqlite3_stmt *st = stmt_get(s, ST_LIST_EACH);
	int rc, ret = 0;

	if (st == NULL)
		return -1;
	bind_text(st, 1, list_kind_name(kind));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct list_entry e = { 0 };

		entry_from_row(st, &e);
		ret = fn(&e, arg);
		list_entry_free(&e);
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE) {
		set_db_err(s, "cannot read the list");
		ret = -1;
	}
	stmt_done(st);
	return ret;
}

/* ------------------------------------------------------------ decisions */

int store_record_decision(struct store *s, const struct decision *d)
{
	if (exec(s, "BEGIN IMMEDIATE") < 0)
		return -1;
	if (insert_decision(s, d) < 0 || exec(s, "COMMIT") < 0) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

/* insert_decision - the message row, then one row per recipient. */
static int insert_decision(struct store *s, const struct decision *d)
{
	sqlite3_stmt *st = stmt_get(s, ST_DECISION_INSERT);
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, d->time);
	bind_text(st, 2, d->queue_id);
	bind_text(st, 3, d->message_id);
	bind_text(st, 4, d->sender);
	bind_text(st, 5, d->client_addr);
	sqlite3_bind_int(st, 6, d->trusted);
	sqlite3_bind_int(st, 7, d->personal);
	bind_text(st, 8, personal_source_name(d->psrc));
	bind_text(st, 9, d->personal_why);
	sqlite3_bind_int(st, 10, d->cpr_hits);
	bind_text(st, 11, mode_name(d->mode));
	bind_text(st, 12, action_name(d->action));
	bind_text(st, 13, action_name(d->applied));
	bind_text(st, 14, d->rule);
	rc = sqlite3_step(st);
	stmt_done(st);
	if (rc != SQLITE_DONE) {
		set_db_err(s, "cannot record the decision");
		return -1;
	}
	return insert_rcpts(s, sqlite3_last_insert_rowid(s->db), d);
}

/* insert_rcpts - the recipients, each as the address delivered to (raw if it never normalised). */
static int insert_rcpts(struct store *s, long long id, const struct decision *d)
{
	sqlite3_stmt *rs = stmt_get(s, ST_RCPT_INSERT);
	int rc;

	if (rs == NULL)
		return -1;
	for (size_t i = 0; i < d->n_rcpts; i++) {
		const struct rcpt *r = &d->rcpts[i];

		sqlite3_bind_int64(rs, 1, id);
		sqlite3_bind_int64(rs, 2, (long long)i);
		bind_text(rs, 3, r->addr.full ? r->addr.full : r->raw ? r->raw : "");
		bind_text(rs, 4, rclass_name(r->cls));
		bind_text(rs, 5, action_name(r->action));
		bind_text(rs, 6, r->rule);
		bind_text(rs, 7, r->evidence);
		rc = sqlite3_step(rs);
		stmt_done(rs);
		if (rc != SQLITE_DONE) {
			set_db_err(s, "cannot record a recipient");
			return -1;
		}
	}
	return 0;
}

/*
 * store_decisions_each - decisions are rebuilt as struct decision. Their
 * rule strings (const char * in the struct) live in the handle's arena,
 * which is emptied after each call of fn. A non-zero return from fn stops
 * the walk and is returned.
 */
int store_decisions_each(struct store *s, long long since, long long until,
			 int (*fn)(const struct decision *d, void *arg), void *arg)
{
	sqlite3_stmt *st = stmt_get(s, ST_DECISIONS);
	int rc, ret = 0;

	if (st == NULL || stmt_get(s, ST_RCPTS) == NULL)
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
		set_db_err(s, "cannot read the decisions");
		ret = -1;
	}
	stmt_done(st);
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
		set_err(s, "database %s: unknown %s \"%s\" in a recorded decision", s->path, what,
			t ? t : "NULL");
	return v;
}

static int mode_parse(const char *t)
{
	return strcmp(t, "enforce") == 0 ? MODE_ENFORCE : strcmp(t, "monitor") == 0 ? MODE_MONITOR : -1;
}

static int psrc_parse(const char *t)
{
	for (int p = PSRC_NONE; p <= PSRC_CPR; p++)
		if (strcmp(t, personal_source_name((enum personal_source)p)) == 0)
			return p;
	return -1;
}

static int read_decision(struct store *s, sqlite3_stmt *st, struct decision *d)
{
	int psrc, mode, action, applied;

	d->time = sqlite3_column_int64(st, 1);
	d->queue_id = column_dup(st, 2);
	d->message_id = column_dup(st, 3);
	d->sender = column_dup(st, 4);
	d->client_addr = column_dup(st, 5);
	d->trusted = sqlite3_column_int(st, 6) != 0;
	d->personal = sqlite3_column_int(st, 7) != 0;
	d->personal_why = column_dup(st, 9);
	d->cpr_hits = sqlite3_column_int(st, 10);
	d->rule = arena_keep(s, st, 14);
	if ((psrc = name_lookup(s, st, 8, psrc_parse, "personal source")) < 0 ||
	    (mode = name_lookup(s, st, 11, mode_parse, "mode")) < 0 ||
	    (action = name_lookup(s, st, 12, action_parse, "action")) < 0 ||
	    (applied = name_lookup(s, st, 13, action_parse, "action")) < 0)
		return -1;
	d->psrc = (enum personal_source)psrc;
	d->mode = (enum mode)mode;
	d->action = (enum action)action;
	d->applied = (enum action)applied;
	return read_rcpts(s, sqlite3_column_int64(st, 0), d);
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
		r->evidence = column_dup(st, 4);
	}
	if (ret == 0 && rc != SQLITE_DONE) {
		set_db_err(s, "cannot read the recipients of a decision");
		ret = -1;
	}
	stmt_done(st);
	return ret;
}

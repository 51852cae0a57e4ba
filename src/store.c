/*
 * store.c - the SQLite store: the handle, the schema, the cache of
 * prepared statements, and the tunnel, partner and freemail lists with
 * their provenance. The recorded message decisions are in
 * store_decision.c, the mailbox notices waiting for their digest in
 * store_notice.c, what became of held messages in store_held.c, the
 * purge of old decisions (retention) in store_purge.c.
 *
 * Exports store_open, store_close, store_errmsg, the certificate cache,
 * the secret and the markers (see store.h); and, to the other
 * store*.c files only, the store_* helpers of store_int.h. Only the
 * store*.c files include <sqlite3.h>.
 *
 * Threads: one struct store is one SQLite connection with its own cached
 * prepared statements; it must only be used by one thread at a time (the
 * milter opens one per SMTP connection). The connection is opened in the
 * library's default threading mode; nothing here relies on SQLite's own
 * mutexes. Processes share the file through WAL mode and a busy timeout.
 * Within one process, every write goes through store_write_begin and
 * store_write_end, which hold one process-wide mutex: the threads of the
 * milter queue on it and are woken the moment the writer before them
 * commits, instead of polling SQLite's write lock in the busy handler's
 * millisecond sleeps. Only another process (sikkermail-ctl importing a
 * list) still meets the busy timeout.
 *
 * Schema: PRAGMA application_id marks the file as ours and PRAGMA
 * user_version holds the schema version. store_migrations[v] takes a
 * database from version v to v + 1; a read-write open applies the missing
 * steps in one transaction, so a later version adds a table by appending
 * one step. A new database also gets the built-in freemail list. A table
 * that holds something about one decision refers to it with REFERENCES
 * decision (id): that is how the purge (store_purge.c) finds it.
 *
 * Space: a new database is made with auto_vacuum INCREMENTAL, set before
 * its first table (and before WAL mode, which writes the header), so
 * that what the retention purge frees can go back to the file system.
 *
 * Lookups never answer "not found" when the database could not answer:
 * every SQLite error is LOOKUP_RETRY (or -1), with the reason in
 * store_errmsg().
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "store_int.h"

#define STORE_APPLICATION_ID 0x536b6d6c	/* "Skml" */
#define STORE_BUSY_TIMEOUT_MS 5000
#define STORE_FILE_MODE 0640

/* One writer at a time in this process: see the header comment. */
static pthread_mutex_t store_writer = PTHREAD_MUTEX_INITIALIZER;

/* Schema steps: store_migrations[v] upgrades version v to v + 1. */
static const char *const store_migrations[] = {
	/* 0 -> 1: lists with provenance, decisions, certificate cache, secrets, markers */
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
	"  PRIMARY KEY (decision_id, idx)) WITHOUT ROWID;"
	"CREATE TABLE cert_cache (address TEXT PRIMARY KEY NOT NULL, found INTEGER NOT NULL,"
	"  der BLOB, subject TEXT, issuer TEXT, fingerprint TEXT, source TEXT,"
	"  not_before INTEGER, not_after INTEGER, fetched_at INTEGER NOT NULL,"
	"  fresh_until INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE secret (name TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE reinject_marker (marker TEXT PRIMARY KEY NOT NULL,"
	"  expires INTEGER NOT NULL) WITHOUT ROWID;",
	/*
	 * 1 -> 2: mailbox notices waiting for their digest (NoticeDelay); a
	 * row is claimed by the process sending it until claimed_until.
	 */
	"CREATE TABLE notice (id INTEGER PRIMARY KEY, mailbox TEXT NOT NULL,"
	"  created INTEGER NOT NULL, ref TEXT, entry TEXT NOT NULL,"
	"  claimed_until INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX notice_mailbox ON notice (mailbox, id);",
	/*
	 * 2 -> 3: what became of a held message (sikkermail-ctl release or
	 * delete): one row per held decision, with who did it and when. Keyed
	 * by the decision, not the queue id, which Postfix may reuse.
	 */
	"CREATE TABLE held_outcome (decision_id INTEGER PRIMARY KEY NOT NULL"
	"  REFERENCES decision (id) ON DELETE CASCADE, state TEXT NOT NULL,"
	"  by_user TEXT NOT NULL, at INTEGER NOT NULL);"
	"CREATE INDEX decision_queue_id ON decision (queue_id);",
	/*
	 * 3 -> 4: the facts of a decision a replay (sikkermail-ctl replay)
	 * decides again from, and what a refusal named: the flag headers'
	 * verdict, whether the body was scanned for CPR numbers, whether it
	 * came encrypted, the function mailbox named and the failure. A table
	 * of its own: decisions recorded before it have no row.
	 */
	"CREATE TABLE decision_facts ("
	"  decision_id INTEGER PRIMARY KEY REFERENCES decision (id) ON DELETE CASCADE,"
	"  flag TEXT NOT NULL, cpr_scan TEXT NOT NULL, already_encrypted INTEGER NOT NULL,"
	"  mailbox TEXT, failure TEXT);",
	/*
	 * 4 -> 5: the InstanceName of the filter that decided, so that the
	 * decisions of several gateways sharing a database can be told apart.
	 */
	"ALTER TABLE decision ADD COLUMN instance TEXT;",
	/*
	 * 5 -> 6: domain certificates (DomainCertificates). The cache says
	 * which kind of answer a row is: "personal" for an address, "domain"
	 * for a domain's own directory entry (kept under "@domain"). The
	 * certificates imported with sikkermail-ctl import domain-certs, with
	 * the file and line each came from; an import replaces them all.
	 */
	"ALTER TABLE cert_cache ADD COLUMN kind TEXT NOT NULL DEFAULT 'personal';"
	"CREATE TABLE domain_cert (domain TEXT NOT NULL, fingerprint TEXT NOT NULL,"
	"  der BLOB NOT NULL, subject TEXT, not_after INTEGER NOT NULL, source TEXT,"
	"  line INTEGER NOT NULL, imported_at INTEGER NOT NULL,"
	"  PRIMARY KEY (domain, fingerprint)) WITHOUT ROWID;",
};

#define STORE_SCHEMA_VERSION ((int)(sizeof(store_migrations) / sizeof(store_migrations[0])))

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
			       " cpr_hits, mode, action, applied, rule, instance) VALUES"
			       " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
	[ST_RCPT_INSERT] = "INSERT INTO decision_rcpt (decision_id, idx, rcpt, class, action,"
			   " rule, evidence) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_DECISIONS] = "SELECT id, time, queue_id, message_id, sender, client_addr, trusted,"
			 " personal, personal_source, personal_why, cpr_hits, mode, action,"
			 " applied, rule, instance FROM decision WHERE time >= ?1 AND time < ?2"
			 " ORDER BY time, id",
	[ST_RCPTS] = "SELECT rcpt, class, action, rule, evidence FROM decision_rcpt"
		     " WHERE decision_id = ?1 ORDER BY idx",
	[ST_CERT_GET] = "SELECT found, der, subject, issuer, fingerprint, source, not_before,"
			" not_after, fetched_at, fresh_until FROM cert_cache WHERE address = ?1",
	[ST_CERT_PUT] = "INSERT OR REPLACE INTO cert_cache (address, found, der, subject, issuer,"
			" fingerprint, source, not_before, not_after, fetched_at, fresh_until,"
			" kind) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[ST_BEGIN_WRITE] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_LIST_GENERATION] = "SELECT id, imported_at, count FROM list_import ORDER BY id DESC LIMIT 1",
	[ST_MARKER_EXPIRE] = "DELETE FROM reinject_marker WHERE ?1 IS NULL AND expires < ?2",
	[ST_MARKER_PUT] = "INSERT OR REPLACE INTO reinject_marker (marker, expires) VALUES (?1, ?2)",
	[ST_MARKER_TAKE] = "DELETE FROM reinject_marker WHERE marker = ?1 AND expires >= ?2",
	[ST_NOTICE_PUT] = "INSERT INTO notice (mailbox, created, ref, entry) VALUES (?1, ?2, ?3, ?4)",
	[ST_NOTICE_PENDING] = "SELECT mailbox, min(created), count(*) FROM notice"
			      " WHERE claimed_until <= ?1 GROUP BY mailbox ORDER BY 2",
	[ST_NOTICE_TAKE] = "SELECT id, created, ref, entry FROM notice WHERE mailbox = ?1"
			   " AND claimed_until <= ?2 ORDER BY id LIMIT ?3",
	[ST_NOTICE_CLAIM] = "UPDATE notice SET claimed_until = ?2 WHERE id = ?1",
	[ST_NOTICE_DELETE] = "DELETE FROM notice WHERE id = ?1",
	[ST_FACTS_INSERT] = "INSERT INTO decision_facts (decision_id, flag, cpr_scan,"
			    " already_encrypted, mailbox, failure) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_FACTS] = "SELECT flag, cpr_scan, already_encrypted, mailbox, failure"
		     " FROM decision_facts WHERE decision_id = ?1",
	/* the imported certificates of one domain: asked per recipient (DomainCertificates) */
	[ST_DOMCERT_GET] = "SELECT domain, der, subject, fingerprint, not_after, source, line,"
			   " imported_at FROM domain_cert WHERE domain = ?1"
			   " ORDER BY not_after DESC, fingerprint",
};

static int create_file(struct store *s);
static int schema_state(struct store *s, int *app_id, int *version, int *objects);
static int schema_check(struct store *s, bool *need_migrate, bool *empty);
static int migrate(struct store *s);
static int configure_connection(struct store *s, bool empty);
static int load_builtin_freemail(struct store *s);

/* ------------------------------------------------------------ open/close */

struct store *store_open(const char *path, enum store_mode mode, char **err)
{
	struct store *s = xcalloc(1, sizeof(*s));
	/* never through a symbolic link: see create_file */
	int flags = (mode == STORE_RO ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
		    SQLITE_OPEN_NOFOLLOW;
	bool need_migrate = false, empty = false;
	struct stat st;

	s->path = xstrdup(path);
	s->mode = mode;
	strlist_init(&s->arena);
	if (sqlite3_threadsafe() == 0) {
		store_set_err(s, "the SQLite library was built without thread support");
		goto fail;
	}
	if (create_file(s) < 0)
		goto fail;
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		store_set_err(s, "cannot open database %s: %s", path,
			      s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
	/*
	 * The file belongs to the filter's user, and sikkermail-ctl reads it
	 * as root's helper too (release, delete): nothing in it may run code
	 * of its own choosing - no trigger or view calling functions with side
	 * effects, no writable schema, no deliberately corrupt records.
	 */
	if (sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL) != SQLITE_OK ||
	    sqlite3_db_config(s->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL) != SQLITE_OK) {
		store_set_db_err(s, "cannot make the connection defensive");
		goto fail;
	}
	if (schema_check(s, &need_migrate, &empty) < 0 || configure_connection(s, empty) < 0)
		goto fail;
	if (need_migrate && migrate(s) < 0)
		goto fail;
	if (stat(path, &st) == 0) {
		s->dev = st.st_dev;
		s->ino = st.st_ino;
	}
	return s;
fail:
	*err = xstrdup(s->errmsg);
	store_close(s);
	return NULL;
}

bool store_still_usable(struct store *s)
{
	struct stat st;

	if (stat(s->path, &st) != 0 || st.st_dev != s->dev || st.st_ino != s->ino)
		return false;
	return access(s->path, s->mode == STORE_RO ? R_OK : R_OK | W_OK) == 0;
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
 * umask (STORE_RW), or say clearly that it is missing or unusable.
 * SQLite would create it with 0644 less the umask, and would report a
 * missing or unreadable file only as "unable to open database file".
 *
 * An existing file is checked with access(), never opened here: closing
 * any descriptor of a file drops every POSIX lock the process holds on it,
 * and SQLite's connections to the file in this process hold theirs the
 * whole time (the shared lock that tells another process closing its own
 * connection not to checkpoint and delete the WAL and shared-memory files
 * under them).
 */
static int create_file(struct store *s)
{
	struct stat st;
	int fd = -1;

	if (s->mode == STORE_RW) {
		fd = open(s->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			  STORE_FILE_MODE);
		if (fd >= 0) {
			if (fchmod(fd, STORE_FILE_MODE) < 0) {
				store_set_err(s, "cannot set the mode of database %s: %s", s->path,
					      strerror(errno));
				close(fd);
				return -1;
			}
			close(fd);	/* new: nobody holds a lock on it yet */
			return 0;
		}
		if (errno != EEXIST) {
			store_set_err(s, "cannot open database %s: %s", s->path, strerror(errno));
			return -1;
		}
	}
	/*
	 * Never through a symbolic link (whoever can replace the file by one
	 * would have root's writes go where it points), and only a regular
	 * file; SQLite opens it with SQLITE_OPEN_NOFOLLOW as well.
	 */
	if (lstat(s->path, &st) == 0 && S_ISLNK(st.st_mode)) {
		store_set_err(s, "database %s is a symbolic link; it is not followed: name the file "
			      "itself in Database", s->path);
		return -1;
	}
	if (lstat(s->path, &st) == 0 && !S_ISREG(st.st_mode)) {
		store_set_err(s, "database %s is not a regular file", s->path);
		return -1;
	}
	if (access(s->path, s->mode == STORE_RO ? R_OK : R_OK | W_OK) == 0)
		return 0;
	if (errno == ENOENT)
		store_set_err(s, "database %s does not exist", s->path);
	else
		store_set_err(s, "cannot open database %s: %s", s->path, strerror(errno));
	return -1;
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
		store_set_err(s, "%s is not an SQLite database (nor a sikkermail one)", s->path);
	else
		store_set_db_err(s, "cannot read the schema");
	return -1;
}

/*
 * schema_check - is this a sikkermail database we can use? Sets
 * *need_migrate, and *empty when the file holds no table yet.
 */
static int schema_check(struct store *s, bool *need_migrate, bool *empty)
{
	int app_id, version, objects;

	if (schema_state(s, &app_id, &version, &objects) < 0)
		return -1;
	*need_migrate = false;
	*empty = objects == 0;
	if (app_id == 0 && objects == 0 && version == 0) {
		if (s->mode != STORE_RW) {
			store_set_err(s, "%s is an empty database, not (yet) a sikkermail database",
				      s->path);
			return -1;
		}
		*need_migrate = true;
		return 0;
	}
	if (app_id != STORE_APPLICATION_ID) {
		store_set_err(s, "%s is an SQLite database but not a sikkermail database", s->path);
		return -1;
	}
	if (version > STORE_SCHEMA_VERSION) {
		store_set_err(s, "database %s has schema version %d; this program knows up to %d"
			      " (a newer sikkermail made it)", s->path, version,
			      STORE_SCHEMA_VERSION);
		return -1;
	}
	if (version < STORE_SCHEMA_VERSION) {
		if (s->mode == STORE_RO) {
			store_set_err(s, "database %s has schema version %d, older than %d; open it"
				      " read-write once to upgrade it", s->path, version,
				      STORE_SCHEMA_VERSION);
			return -1;
		}
		*need_migrate = true;
	}
	return 0;
}

/*
 * configure_connection - WAL, synchronous NORMAL (safe with WAL), foreign
 * keys, secure delete; and for a database without tables yet, incremental
 * auto-vacuum, which can only be chosen before the first table (and
 * before WAL mode writes the header).
 */
static int configure_connection(struct store *s, bool empty)
{
	if (store_exec(s, "PRAGMA foreign_keys = ON") < 0)
		return -1;
	if (s->mode == STORE_RO)
		return 0;
	if (empty && store_exec(s, "PRAGMA auto_vacuum = INCREMENTAL") < 0)
		return -1;
	/*
	 * secure_delete fast: what is deleted (a mailbox notice naming a
	 * subject, once it is sent) is overwritten in the pages written
	 * anyway, not left readable in free space.
	 */
	if (store_exec(s, "PRAGMA journal_mode = WAL") < 0 ||
	    store_exec(s, "PRAGMA synchronous = NORMAL") < 0 ||
	    store_exec(s, "PRAGMA secure_delete = FAST") < 0)
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

	if (store_write_begin(s) < 0)
		return -1;
	if (schema_state(s, &app_id, &version, &objects) < 0)
		goto fail;
	if (app_id != 0 && app_id != STORE_APPLICATION_ID) {
		store_set_err(s, "%s is an SQLite database but not a sikkermail database", s->path);
		goto fail;
	}
	for (int v = version; v < STORE_SCHEMA_VERSION; v++)
		if (store_exec(s, store_migrations[v]) < 0)
			goto fail;
	if (version == 0 && load_builtin_freemail(s) < 0)
		goto fail;
	sql = xasprintf("PRAGMA application_id = %d; PRAGMA user_version = %d",
			STORE_APPLICATION_ID, STORE_SCHEMA_VERSION);
	if (store_exec(s, sql) < 0) {
		free(sql);
		goto fail;
	}
	free(sql);
	return store_write_end(s, 0);
fail:
	return store_write_end(s, -1);
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
	rc = store_list_replace_locked(s, LIST_FREEMAIL, &l);
	list_entries_free(&l);
	return rc;
}

/* ------------------------------------------------------------ helpers */

void store_set_err(struct store *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->errmsg, sizeof(s->errmsg), fmt, ap);
	va_end(ap);
}

void store_set_db_err(struct store *s, const char *what)
{
	store_set_err(s, "database %s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

int store_exec(struct store *s, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	store_set_err(s, "database %s: %s", s->path, msg ? msg : sqlite3_errmsg(s->db));
	sqlite3_free(msg);
	return -1;
}

/* step_once - run a cached statement without results; 0, or -1 with the error set. */
static int step_once(struct store *s, enum stmt_id id)
{
	sqlite3_stmt *st = store_stmt_get(s, id);
	int rc;

	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		store_set_db_err(s, stmt_sql[id]);
	store_stmt_done(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * store_write_begin and store_write_end: the transaction statements are
 * cached like the others (sqlite3_exec would parse them for every write).
 */
int store_write_begin(struct store *s)
{
	pthread_mutex_lock(&store_writer);
	if (step_once(s, ST_BEGIN_WRITE) == 0)
		return 0;
	pthread_mutex_unlock(&store_writer);
	return -1;
}

int store_exec_alone(struct store *s, const char *sql)
{
	int rc;

	pthread_mutex_lock(&store_writer);
	rc = store_exec(s, sql);
	pthread_mutex_unlock(&store_writer);
	return rc;
}

int store_write_end(struct store *s, int rc)
{
	if (rc == 0 && step_once(s, ST_COMMIT) < 0)
		rc = -1;
	/* a failed COMMIT leaves the transaction open; ROLLBACK ends it either way */
	if (rc != 0 && sqlite3_get_autocommit(s->db) == 0)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_unlock(&store_writer);
	return rc;
}

sqlite3_stmt *store_stmt_get(struct store *s, enum stmt_id id)
{
	if (s->stmt[id] != NULL)
		return s->stmt[id];
	if (sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[id],
			       NULL) != SQLITE_OK) {
		store_set_db_err(s, "cannot prepare a statement");
		s->stmt[id] = NULL;
	}
	return s->stmt[id];
}

void store_stmt_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

char *store_column_dup(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	if (sqlite3_column_type(st, col) == SQLITE_NULL || t == NULL)
		return NULL;
	return xstrdup((const char *)t);
}

unsigned char *store_column_blob(sqlite3_stmt *st, int col, size_t *len)
{
	const void *b = sqlite3_column_blob(st, col);
	int n = sqlite3_column_bytes(st, col);
	unsigned char *out;

	*len = 0;
	if (b == NULL || n <= 0)
		return NULL;
	out = xmalloc((size_t)n);
	memcpy(out, b, (size_t)n);
	*len = (size_t)n;
	return out;
}

void store_bind_text(sqlite3_stmt *st, int idx, const char *s)
{
	if (s == NULL)
		sqlite3_bind_null(st, idx);
	else
		sqlite3_bind_text(st, idx, s, -1, SQLITE_STATIC);
}

/* ------------------------------------------------------ certificate cache */

enum lookup store_cert_get(struct store *s, const char *address, struct cert_cache_entry *out)
{
	sqlite3_stmt *st = store_stmt_get(s, ST_CERT_GET);
	enum lookup r = LOOKUP_RETRY;
	int rc;

	memset(out, 0, sizeof(*out));
	if (st == NULL)
		return LOOKUP_RETRY;
	store_bind_text(st, 1, address);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->found = sqlite3_column_int(st, 0) != 0;
		out->der = store_column_blob(st, 1, &out->der_len);
		out->subject = store_column_dup(st, 2);
		out->issuer = store_column_dup(st, 3);
		out->fingerprint = store_column_dup(st, 4);
		out->source = store_column_dup(st, 5);
		out->not_before = sqlite3_column_int64(st, 6);
		out->not_after = sqlite3_column_int64(st, 7);
		out->fetched_at = sqlite3_column_int64(st, 8);
		out->fresh_until = sqlite3_column_int64(st, 9);
		/* a "found" row without its certificate is damage, not an answer */
		r = out->found && out->der == NULL ? LOOKUP_NOTFOUND : LOOKUP_FOUND;
		if (r == LOOKUP_NOTFOUND)
			cert_cache_entry_free(out);
	} else if (rc == SQLITE_DONE) {
		r = LOOKUP_NOTFOUND;
	} else {
		store_set_db_err(s, "certificate cache lookup failed");
	}
	store_stmt_done(st);
	return r;
}

int store_cert_put(struct store *s, const char *address, const struct cert_cache_entry *e)
{
	sqlite3_stmt *st = store_stmt_get(s, ST_CERT_PUT);
	int rc;

	if (st == NULL || store_write_begin(s) < 0)
		return -1;
	store_bind_text(st, 1, address);
	sqlite3_bind_int(st, 2, e->found ? 1 : 0);
	if (e->der != NULL)
		sqlite3_bind_blob(st, 3, e->der, (int)e->der_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 3);
	store_bind_text(st, 4, e->subject);
	store_bind_text(st, 5, e->issuer);
	store_bind_text(st, 6, e->fingerprint);
	store_bind_text(st, 7, e->source);
	sqlite3_bind_int64(st, 8, e->not_before);
	sqlite3_bind_int64(st, 9, e->not_after);
	sqlite3_bind_int64(st, 10, e->fetched_at);
	sqlite3_bind_int64(st, 11, e->fresh_until);
	store_bind_text(st, 12, address[0] == '@' ? "domain" : "personal");
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		store_set_db_err(s, "cannot write the certificate cache");
	store_stmt_done(st);
	return store_write_end(s, rc == SQLITE_DONE ? 0 : -1);
}

int store_cert_purge(struct store *s, const char *address, long *removed)
{
	sqlite3_stmt *st;
	int rc;

	*removed = 0;
	if (sqlite3_prepare_v2(s->db, address ? "DELETE FROM cert_cache WHERE address = ?1"
					      : "DELETE FROM cert_cache",
			       -1, &st, NULL) != SQLITE_OK) {
		store_set_db_err(s, "cannot purge the certificate cache");
		return -1;
	}
	if (address != NULL)
		sqlite3_bind_text(st, 1, address, -1, SQLITE_STATIC);
	if (store_write_begin(s) < 0) {
		sqlite3_finalize(st);
		return -1;
	}
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		store_set_db_err(s, "cannot purge the certificate cache");
	else
		*removed = (long)sqlite3_changes(s->db);
	return store_write_end(s, rc == SQLITE_DONE ? 0 : -1);
}

int store_cert_stats(struct store *s, long long now, struct cert_cache_stats *out)
{
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof(*out));
	if (sqlite3_prepare_v2(s->db,
			       "SELECT count(*), total(found), total(fresh_until > ?1),"
			       " min(fetched_at), max(fetched_at), total(kind = 'domain'),"
			       " total(kind = 'domain' AND found) FROM cert_cache",
			       -1, &st, NULL) != SQLITE_OK) {
		store_set_db_err(s, "cannot read the certificate cache");
		return -1;
	}
	sqlite3_bind_int64(st, 1, now);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->entries = (long)sqlite3_column_int64(st, 0);
		out->found = (long)sqlite3_column_double(st, 1);
		out->not_found = out->entries - out->found;
		out->fresh = (long)sqlite3_column_double(st, 2);
		out->oldest_fetch = sqlite3_column_int64(st, 3);
		out->newest_fetch = sqlite3_column_int64(st, 4);
		out->domain = (long)sqlite3_column_double(st, 5);
		out->domain_found = (long)sqlite3_column_double(st, 6);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW) {
		store_set_db_err(s, "cannot read the certificate cache");
		return -1;
	}
	return 0;
}

void cert_cache_entry_free(struct cert_cache_entry *e)
{
	free(e->der);
	free(e->subject);
	free(e->issuer);
	free(e->fingerprint);
	free(e->source);
	memset(e, 0, sizeof(*e));
}

/* ------------------------------------------------------------ the secret */

int store_secret(struct store *s, const char *name, unsigned char *buf, size_t len,
		 int (*make)(unsigned char *buf, size_t len))
{
	sqlite3_stmt *st = NULL;
	int rc = -1, step;

	if (store_write_begin(s) < 0)
		return -1;
	if (sqlite3_prepare_v2(s->db, "SELECT value FROM secret WHERE name = ?1", -1, &st,
			       NULL) != SQLITE_OK)
		goto db_error;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW && (size_t)sqlite3_column_bytes(st, 0) == len) {
		memcpy(buf, sqlite3_column_blob(st, 0), len);
		rc = 0;
		goto out;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		goto db_error;
	sqlite3_finalize(st);
	st = NULL;
	if (make(buf, len) != 0) {
		store_set_err(s, "cannot make a random secret");
		goto out;
	}
	if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO secret (name, value) VALUES (?1, ?2)",
			       -1, &st, NULL) != SQLITE_OK)
		goto db_error;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, buf, (int)len, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto db_error;
	rc = 0;
	goto out;
db_error:
	store_set_db_err(s, "cannot read or write the secret");
out:
	sqlite3_finalize(st);
	return store_write_end(s, rc);
}

/* --------------------------------------------------- re-injection markers */

/* marker_exec - run one cached marker statement, inside the caller's write; changed rows, or -1. */
static int marker_exec(struct store *s, enum stmt_id id, const char *marker, long long t)
{
	sqlite3_stmt *st = store_stmt_get(s, id);
	int rc;

	if (st == NULL)
		return -1;
	if (marker != NULL)
		sqlite3_bind_text(st, 1, marker, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, t);
	rc = sqlite3_step(st);
	store_stmt_done(st);
	if (rc != SQLITE_DONE) {
		store_set_db_err(s, "re-injection marker");
		return -1;
	}
	return sqlite3_changes(s->db);
}

int store_marker_issue(struct store *s, const char *marker, long long expires, long long now)
{
	int rc;

	if (store_write_begin(s) < 0)
		return -1;
	rc = marker_exec(s, ST_MARKER_EXPIRE, NULL, now) < 0 ||
	     marker_exec(s, ST_MARKER_PUT, marker, expires) < 0 ? -1 : 0;
	return store_write_end(s, rc);
}

int store_marker_consume(struct store *s, const char *marker, long long now)
{
	int n;

	if (store_write_begin(s) < 0)
		return -1;
	n = marker_exec(s, ST_MARKER_TAKE, marker, now);
	return store_write_end(s, n < 0 ? -1 : 0) < 0 ? -1 : n;
}

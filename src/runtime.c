/*
 * runtime.c - the refcounted runtime: configuration, certificates,
 * function mailboxes and database handles, built whole or not at all, and
 * swapped whole by a reload. See runtime.h.
 *
 * The published runtime is a pointer behind a mutex; taking a reference
 * and swapping it are both done under it, so a message never sees a
 * runtime that is being freed. Everything inside a runtime is read-only
 * once built, except the handle pool, which has its own lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "runtime.h"
#include "smime.h"

#define POOL_MAX 16		/* idle handles kept; more concurrent messages open more */

struct storepool {
	pthread_mutex_t lock;
	struct store *idle[POOL_MAX];
	size_t n_idle;
};

static pthread_mutex_t published_lock = PTHREAD_MUTEX_INITIALIZER;
static struct runtime *published;
static unsigned long generations;
static atomic_bool database_down;	/* process-wide: logged once per outage */

static void add_located(struct strlist *errors, const struct config *cfg, const char *err);
static void runtime_free(struct runtime *rt);
static bool usable_by(const struct stat *st, const struct passwd *pw);
static bool allowed(const struct stat *st, const struct passwd *pw, mode_t w);
static void check_readable(const char *where, const char *path, bool secret,
			   const struct passwd *pw, struct strlist *problems);
static char *closed_dir(const char *path, const struct passwd *pw);
static bool is_sqlite(const char *path);
static void check_database_path(const struct config *cfg, const struct passwd *pw,
				struct strlist *errors);

/*
 * add_located - an error from a module that names the key first ("CRLFile
 * /x: No such file"), put where the key was configured ("f:7: CRLFile:
 * /x: No such file"); any other message gets the file name.
 */
static void add_located(struct strlist *errors, const struct config *cfg, const char *err)
{
	size_t klen = strcspn(err, " :");
	char *key = xstrndup(err, klen), *where;

	if (config_is_key(key)) {
		where = config_where(cfg, key);
		strlist_addf(errors, "%s%s", where, err + klen + (err[klen] == ' '));
		free(where);
	} else {
		strlist_addf(errors, "%s: %s", cfg->path, err);
	}
	free(key);
}

struct runtime *runtime_load(struct config *cfg, struct strlist *errors)
{
	struct runtime *rt = xcalloc(1, sizeof(*rt));
	struct strlist errs;
	char *err = NULL;

	strlist_init(&errs);
	rt->refcount = 1;
	rt->cfg = config_ref(cfg);
	rt->stores = xcalloc(1, sizeof(*rt->stores));
	pthread_mutex_init(&rt->stores->lock, NULL);
	rt->lists = list_cache_new();
	if ((rt->certs = certs_new(cfg, &err)) == NULL) {
		add_located(&errs, cfg, err ? err : "certificates cannot be set up");
		free(err);
	}
	rt->mailboxes = mailboxes_load(cfg, &errs);
	if (errs.n > 0) {
		for (size_t i = 0; i < errs.n; i++)
			strlist_add(errors, errs.v[i]);
		strlist_free(&errs);
		runtime_free(rt);
		return NULL;
	}
	strlist_free(&errs);
	pthread_mutex_lock(&published_lock);
	rt->generation = ++generations;
	pthread_mutex_unlock(&published_lock);
	return rt;
}

int runtime_open_store(struct runtime *rt, struct strlist *errors)
{
	char *err = NULL;
	struct store *s = store_open(rt->cfg->database, STORE_RW, &err);
	unsigned char secret[ENCRYPT_SECRET_LEN];
	char *where = config_where(rt->cfg, "Database");
	int rc = -1;

	if (s == NULL) {
		strlist_addf(errors, "%s%s: %s", where, rt->cfg->database, err ? err : "cannot open");
		goto out;
	}
	if (store_secret(s, "reinject-marker", secret, sizeof(secret), smime_random) != 0) {
		strlist_addf(errors, "%s%s: %s", where, rt->cfg->database, store_errmsg(s));
		goto out;
	}
	mailboxes_set_secret(rt->mailboxes, secret, sizeof(secret));
	memset(secret, 0, sizeof(secret));
	runtime_store_put(rt, s, false);
	s = NULL;
	rc = 0;
out:
	if (s != NULL)
		store_close(s);
	free(err);
	free(where);
	return rc;
}

/*
 * usable_by - may the user pw write to what st describes (and, for a
 * directory, enter it)? Permission bits only, not ACLs.
 */
static bool usable_by(const struct stat *st, const struct passwd *pw)
{
	return allowed(st, pw, S_ISDIR(st->st_mode) ? 3 : 2);	/* -wx or -w- */
}

/* allowed - do st's permission bits give the user pw all of w (rwx as 4, 2, 1)? */
static bool allowed(const struct stat *st, const struct passwd *pw, mode_t w)
{
	gid_t *groups = NULL;
	int n = 0;
	bool member = false;

	if (pw->pw_uid == 0)
		return true;
	if (st->st_uid == pw->pw_uid)
		return ((st->st_mode >> 6) & w) == w;
	if (getgrouplist(pw->pw_name, pw->pw_gid, NULL, &n) < 0 && n > 0) {
		groups = xcalloc((size_t)n, sizeof(*groups));
		if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
			n = 0;
	}
	for (int i = 0; i < n; i++)
		member |= groups[i] == st->st_gid;
	free(groups);
	if (member || st->st_gid == pw->pw_gid)
		return ((st->st_mode >> 3) & w) == w;
	return (st->st_mode & w) == w;
}

/* is_sqlite - does the file start as an SQLite 3 database does? (Read only: -n changes nothing.) */
static bool is_sqlite(const char *path)
{
	static const char magic[16] = "SQLite format 3";
	char head[16];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool ok = fd >= 0 && read(fd, head, sizeof(head)) == (ssize_t)sizeof(head) &&
		  memcmp(head, magic, sizeof(magic)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

/*
 * check_database_path - the database (and its directory, where SQLite
 * puts its -wal and -shm files) must be writable by the filter's user.
 */
static void check_database_path(const struct config *cfg, const struct passwd *pw,
				struct strlist *errors)
{
	char *where = config_where(cfg, "Database"), *dir = xstrdup(cfg->database);
	char *slash = strrchr(dir, '/');
	struct stat st;
	const char *user = pw ? pw->pw_name : "the current user";

	if (slash == dir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	else
		strcpy(dir, ".");
	if (stat(dir, &st) != 0) {
		strlist_addf(errors, "%sdirectory %s: %s", where, dir, strerror(errno));
	} else if (pw != NULL && !usable_by(&st, pw)) {
		strlist_addf(errors, "%sdirectory %s is not writable by %s (chown %s %s)", where, dir,
			     user, user, dir);
	}
	if (stat(cfg->database, &st) != 0) {
		if (errno != ENOENT)
			strlist_addf(errors, "%s%s: %s", where, cfg->database, strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		strlist_addf(errors, "%s%s is not a regular file", where, cfg->database);
	} else if (st.st_size > 0 && !is_sqlite(cfg->database)) {
		strlist_addf(errors, "%s%s is not an SQLite database", where, cfg->database);
	} else if (pw != NULL && !usable_by(&st, pw)) {
		strlist_addf(errors, "%s%s is not writable by %s (chown %s %s)", where, cfg->database,
			     user, user, cfg->database);
	}
	free(dir);
	free(where);
}

int runtime_check_deployment(const struct config *cfg, const char *socket, struct strlist *errors)
{
	size_t before = errors->n;
	struct passwd *pw = NULL;
	const char *path = config_socket_path(socket);

	if (geteuid() == 0) {
		char *where = config_where(cfg, "UserID");

		if (cfg->userid == NULL || (pw = getpwnam(cfg->userid)) == NULL)
			strlist_addf(errors, "%sno such user %s", where,
				     cfg->userid ? cfg->userid : "(none)");
		else if (pw->pw_uid == 0)
			strlist_addf(errors, "%s%s is root: the filter refuses to run as root",
				     where, cfg->userid);
		free(where);
	}
	check_database_path(cfg, pw, errors);
	if (path != NULL) {
		char *dir = xstrdup(path), *slash = strrchr(dir, '/'), *where;
		struct stat st;

		if (slash != NULL && slash != dir) {
			*slash = '\0';
			if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
				where = config_where(cfg, "Socket");
				strlist_addf(errors, "%ssocket directory %s does not exist", where,
					     dir);
				free(where);
			}
		}
		free(dir);
	}
	return (int)(errors->n - before);
}

void runtime_check_reload_files(const struct config *cfg, const char *config_path,
				const struct passwd *pw, struct strlist *problems)
{
	static const struct {
		const char *key;
		size_t offset;
		bool secret;
	} files[] = {
		{ "TrustedCAFile", offsetof(struct config, trusted_ca_file), false },
		{ "CRLFile", offsetof(struct config, crl_file), false },
		{ "LDAPBindPasswordFile", offsetof(struct config, ldap_bind_password_file), true },
		{ "LDAPCACertFile", offsetof(struct config, ldap_ca_cert_file), false },
	};
	char *where;

	if (config_path != NULL)
		check_readable("", config_path, false, pw, problems);
	for (size_t i = 0; i < cfg->n_mailboxes; i++) {
		where = config_where_mailbox(cfg, &cfg->mailboxes[i]);
		check_readable(where, cfg->mailboxes[i].keyfile, true, pw, problems);
		check_readable(where, cfg->mailboxes[i].certfile, false, pw, problems);
		free(where);
	}
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		const char *path = *(char *const *)((const char *)cfg + files[i].offset);

		if (path == NULL)
			continue;
		where = config_where(cfg, files[i].key);
		check_readable(where, path, files[i].secret, pw, problems);
		free(where);
	}
}

/*
 * closed_dir - the first directory above path (from the top) that the
 * filter's user may not pass through (x permission): judged by the bits
 * for pw, or with pw NULL by access(2) as the process's real user. A key
 * in a directory only root may enter (a private /etc/ssl/private) cannot
 * be read however its own bits are set. NULL when all are open; else a
 * new string.
 */
static char *closed_dir(const char *path, const struct passwd *pw)
{
	char *dir = xstrdup(path), *slash, *closed = NULL;
	struct stat st;

	for (slash = strchr(dir + 1, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
		bool open;

		*slash = '\0';
		if (pw != NULL)
			open = stat(dir, &st) != 0 || allowed(&st, pw, 1);
		else
			open = access(dir, X_OK) == 0 || errno != EACCES;
		if (!open) {
			closed = xstrdup(dir);
			break;
		}
		*slash = '/';
	}
	free(dir);
	return closed;
}

/*
 * check_readable - a problem for path when the filter's user cannot read
 * it: judged by permission bits for pw, or, with pw NULL, by access(2) as
 * the process's real user (the filter's user once start-up has switched
 * to it). A file that cannot be found is start-up's to report. The advice
 * fits the cause: a directory on the way is opened to the user's group; a
 * secret (a key must be mode 0600) is given to the user; anything else is
 * opened to the user's group.
 */
static void check_readable(const char *where, const char *path, bool secret,
			   const struct passwd *pw, struct strlist *problems)
{
	struct stat st;
	struct passwd *me = NULL;
	struct group *gr;
	char user[64], group[64], *dir;

	if (pw == NULL) {
		if (access(path, R_OK) == 0 || errno == ENOENT)
			return;
	} else if (stat(path, &st) != 0) {
		return;
	}
	dir = closed_dir(path, pw);
	if (pw != NULL && dir == NULL && allowed(&st, pw, 4))
		return;
	if (pw == NULL)
		me = getpwuid(getuid());
	snprintf(user, sizeof(user), "%s", pw ? pw->pw_name : me ? me->pw_name : "?");
	gr = getgrgid(pw ? pw->pw_gid : getgid());
	if (gr != NULL)
		snprintf(group, sizeof(group), "%s", gr->gr_name);
	else
		snprintf(group, sizeof(group), "%lu", (unsigned long)(pw ? pw->pw_gid : getgid()));
	if (dir != NULL)
		strlist_addf(problems,
			     "%s%s is not readable by %s, as whom a reload (SIGHUP, SIGUSR1) "
			     "reads it: the directory %s keeps that user out, and every reload "
			     "would be refused (let the user's group through: chgrp %s %s; "
			     "chmod g+x %s)",
			     where, path, user, dir, group, dir, dir);
	else if (secret)
		strlist_addf(problems,
			     "%s%s is not readable by %s, as whom a reload (SIGHUP, SIGUSR1) "
			     "reads it: every reload would be refused (give it to that user and "
			     "keep it private: chown %s %s; chmod 600 %s)",
			     where, path, user, user, path, path);
	else
		strlist_addf(problems,
			     "%s%s is not readable by %s, as whom a reload (SIGHUP, SIGUSR1) "
			     "reads it: every reload would be refused (open it to that user's "
			     "group: chgrp %s %s; chmod g+r %s)",
			     where, path, user, group, path, path);
	free(dir);
}

struct runtime *runtime_ref(struct runtime *rt)
{
	if (rt != NULL)
		__atomic_add_fetch(&rt->refcount, 1, __ATOMIC_RELAXED);
	return rt;
}

void runtime_unref(struct runtime *rt)
{
	if (rt != NULL && __atomic_sub_fetch(&rt->refcount, 1, __ATOMIC_ACQ_REL) == 0)
		runtime_free(rt);
}

static void runtime_free(struct runtime *rt)
{
	list_cache_free(rt->lists);
	if (rt->stores != NULL) {
		for (size_t i = 0; i < rt->stores->n_idle; i++)
			store_close(rt->stores->idle[i]);
		pthread_mutex_destroy(&rt->stores->lock);
		free(rt->stores);
	}
	mailboxes_free(rt->mailboxes);
	certs_free(rt->certs);
	config_unref(rt->cfg);
	free(rt);
}

void runtime_publish(struct runtime *rt)
{
	struct runtime *old;

	runtime_ref(rt);
	pthread_mutex_lock(&published_lock);
	old = published;
	published = rt;
	pthread_mutex_unlock(&published_lock);
	runtime_unref(old);
}

struct runtime *runtime_current(void)
{
	struct runtime *rt;

	pthread_mutex_lock(&published_lock);
	rt = runtime_ref(published);
	pthread_mutex_unlock(&published_lock);
	return rt;
}

struct store *runtime_store_get(struct runtime *rt)
{
	struct store *s = NULL;
	char *err = NULL;

	pthread_mutex_lock(&rt->stores->lock);
	if (rt->stores->n_idle > 0)
		s = rt->stores->idle[--rt->stores->n_idle];
	pthread_mutex_unlock(&rt->stores->lock);
	if (s != NULL && store_still_usable(s))
		return s;
	store_close(s);
	s = NULL;
	/*
	 * Made at start-up: a database that is gone now is an outage until
	 * it is restored, not a new, empty one without the lists.
	 */
	if ((s = store_open(rt->cfg->database, STORE_RW_EXISTING, &err)) == NULL) {
		if (!atomic_exchange(&database_down, true))
			msg_error("database %s unavailable: %s; personal mail waits (OnLookupFailure) "
				  "until it is back",
				  rt->cfg->database, err ? err : "cannot open");
		free(err);
		return NULL;
	}
	if (atomic_exchange(&database_down, false))
		msg_notice("database %s available again", rt->cfg->database);
	return s;
}

void runtime_store_put(struct runtime *rt, struct store *s, bool broken)
{
	if (s == NULL)
		return;
	if (!broken) {
		pthread_mutex_lock(&rt->stores->lock);
		if (rt->stores->n_idle < POOL_MAX) {
			rt->stores->idle[rt->stores->n_idle++] = s;
			s = NULL;
		}
		pthread_mutex_unlock(&rt->stores->lock);
	}
	if (s != NULL)
		store_close(s);
}

/*
 * runtime.h - everything a message is decided and carried out with, as one
 * refcounted object that a reload replaces whole.
 *
 * A runtime holds the configuration snapshot, the trust store, CRLs and
 * directory pool (certs.h), the function mailboxes' keys and certificates
 * and this host's marker secret (encrypt.h), and a small pool of database
 * handles. A message takes a reference when it starts (MAIL FROM) and
 * keeps it to its end, so a message in flight is finished with what it
 * started with; the last reference frees it.
 *
 * Building a runtime loads every file start-up loads and reports each
 * problem as "file:line: Key: message", all of them in one run; it either
 * succeeds whole or leaves nothing behind. The same function serves
 * start-up, SIGUSR1/SIGHUP reload and sikkermail-milter -n.
 *
 * Exports: runtime_load, runtime_open_store, runtime_check_deployment,
 * runtime_check_reload_files, runtime_ref, runtime_unref, runtime_publish, runtime_current,
 * runtime_store_get, runtime_store_put.
 */
#ifndef SIKKERMAIL_RUNTIME_H
#define SIKKERMAIL_RUNTIME_H

#include <stdbool.h>

#include "certs.h"
#include "config.h"
#include "encrypt.h"
#include "listcache.h"
#include "store.h"
#include "util.h"

struct passwd;

struct storepool;

struct runtime {
	int refcount;			/* runtime_ref / runtime_unref */
	unsigned long generation;	/* 1 for the first, +1 per reload */
	struct config *cfg;
	struct certs *certs;
	struct mailboxes *mailboxes;
	struct storepool *stores;	/* handles on cfg->database, reused across messages */
	struct list_cache *lists;	/* the database's lists in memory */
};

/*
 * runtime_load - a runtime for cfg (referenced): the trust store, CRLs and
 * directory pool, and every function mailbox's key, matched against its
 * certificate. NULL with every problem appended to errors.
 */
struct runtime *runtime_load(struct config *cfg, struct strlist *errors);

/*
 * runtime_open_store - open the database (creating it if needed) and read
 * the marker secret from it: done as the filter's own user, so that what
 * it creates belongs to that user. 0, or -1 with the problem in errors.
 */
int runtime_open_store(struct runtime *rt, struct strlist *errors);

/*
 * runtime_check_deployment - for -n: what the daemon would meet when it
 * starts with this configuration, without changing anything: UserID
 * exists (when run as root), the database exists and is writable by it
 * (or its directory is, to create it), and a local socket's directory
 * exists. Appends problems to errors; returns how many it found.
 */
int runtime_check_deployment(const struct config *cfg, const char *socket, struct strlist *errors);

/*
 * runtime_check_reload_files - the files a reload reads again (the
 * configuration file config_path unless NULL, each SecureMailbox's key and
 * certificate, TrustedCAFile, CRLFile, LDAPBindPasswordFile,
 * LDAPCACertFile) that the filter's user cannot read: start-up reads them
 * as root, a reload as that user, so each such file makes every reload
 * fail. pw: that user, judged by permission bits (for -n as root); NULL:
 * the process's own real user, by access(2). Appends to problems.
 */
void runtime_check_reload_files(const struct config *cfg, const char *config_path,
				const struct passwd *pw, struct strlist *problems);

struct runtime *runtime_ref(struct runtime *rt);
void runtime_unref(struct runtime *rt);

/*
 * runtime_publish - make rt the one new messages start with (taking a
 * reference, and dropping the published one's). runtime_current - a new
 * reference to it (NULL before the first publish).
 */
void runtime_publish(struct runtime *rt);
struct runtime *runtime_current(void);

/*
 * runtime_store_get - a database handle for one message, from the pool or
 * newly opened; NULL while the database cannot be opened. A failure is
 * logged once when the database goes down and once when it is back, not
 * per message. runtime_store_put - give it back (NULL is fine); a handle
 * that failed (broken) is closed instead of kept.
 */
struct store *runtime_store_get(struct runtime *rt);
void runtime_store_put(struct runtime *rt, struct store *s, bool broken);

#endif

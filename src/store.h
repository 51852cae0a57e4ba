/*
 * store.h - the SQLite store: the tunnel/partner/freemail lists with where
 * and when each entry came from, and the recorded decisions.
 *
 * The only module that includes <sqlite3.h>. One struct store is one
 * connection; use one per thread (the milter opens one per SMTP
 * connection). The database is in WAL mode with a busy timeout so that
 * the daemon's threads and sikkermail-ctl can share it.
 */
#ifndef SIKKERMAIL_STORE_H
#define SIKKERMAIL_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "decision.h"
#include "lists.h"
#include "sikkermail.h"
#include "util.h"

struct store;

enum store_mode {
	STORE_RW,	/* read-write; create the database (and the built-in freemail list) if missing */
	STORE_RO	/* read-only; the database must exist */
};

/* store_open - open or create. NULL on failure, with *err set (free it). */
struct store *store_open(const char *path, enum store_mode mode, char **err);
void store_close(struct store *s);

/*
 * store_list_match - the entry of list kind that covers domain: the exact
 * entry, else the nearest ".parent" entry. LOOKUP_RETRY on a database
 * error. On LOOKUP_FOUND *out is filled (free with list_entry_free).
 */
enum lookup store_list_match(struct store *s, enum list_kind kind, const char *domain,
			     struct list_entry *out);

/*
 * store_list_replace - replace the whole list with entries, in one
 * transaction: all or nothing. Returns 0, or -1 with *err set.
 */
int store_list_replace(struct store *s, enum list_kind kind, const struct list_entries *entries,
		       char **err);

/* store_list_each - call fn for every entry of the list, ordered by domain. 0 or -1. */
int store_list_each(struct store *s, enum list_kind kind,
		    int (*fn)(const struct list_entry *e, void *arg), void *arg);

/* store_record_decision - record one message decision (and its recipients). 0 or -1. */
int store_record_decision(struct store *s, const struct decision *d);

/*
 * store_decisions_each - call fn for every recorded decision with time in
 * [since, until), oldest first. The decision passed is only valid during
 * the call. 0 or -1.
 */
int store_decisions_each(struct store *s, long long since, long long until,
			 int (*fn)(const struct decision *d, void *arg), void *arg);

/* store_errmsg - the last error on this handle, for logs. */
const char *store_errmsg(struct store *s);

#endif

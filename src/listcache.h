/*
 * listcache.h - the tunnel, partner and freemail lists in memory, for
 * classifying recipients without a database query each.
 *
 * A snapshot is an immutable copy of all three lists as one database
 * transaction saw them, tagged with the lists' generation (the newest
 * import). The cache (one per runtime) hands out the newest snapshot,
 * first asking the database once whether the lists changed since it was
 * made, and makes a new one when they did; messages that hold the old one
 * finish with it. So a list imported by sikkermail-ctl takes effect for
 * the next message, as it does when every lookup asks the database.
 */
#ifndef SIKKERMAIL_LISTCACHE_H
#define SIKKERMAIL_LISTCACHE_H

#include "lists.h"
#include "store.h"

struct list_cache;
struct list_snapshot;

struct list_cache *list_cache_new(void);
void list_cache_free(struct list_cache *c);

/*
 * list_cache_get - a reference to the snapshot of the lists in s as they
 * are now (one query when nothing changed). NULL when the database cannot
 * answer, with the reason in store_errmsg(s). Thread-safe; s is the
 * caller's own handle.
 */
struct list_snapshot *list_cache_get(struct list_cache *c, struct store *s);

/* list_snapshot_unref - let go of a reference; NULL is ignored. */
void list_snapshot_unref(struct list_snapshot *snap);

/*
 * list_snapshot_match - what store_list_match answers, from the snapshot:
 * the exact entry, else the nearest ".parent" entry; LOOKUP_FOUND with
 * *out filled (free with list_entry_free), else LOOKUP_NOTFOUND.
 */
enum lookup list_snapshot_match(const struct list_snapshot *snap, enum list_kind kind,
				const char *domain, struct list_entry *out);

/* list_snapshot_count - entries of one list in the snapshot. */
size_t list_snapshot_count(const struct list_snapshot *snap, enum list_kind kind);

#endif

/*
 * listcache.c - the lists in memory: immutable, refcounted snapshots in
 * open-addressing hash tables, and the per-runtime cache that replaces its
 * snapshot when the database's list generation moves. See listcache.h.
 *
 * Exports what listcache.h declares.
 *
 * A table maps the stored key (a domain, or ".domain" for an entry that
 * covers subdomains) to its entry; a lookup tries the same keys, in the
 * same order, as store_list_match does with its queries, without building
 * the ".domain" strings: the hash and the comparison take a leading dot
 * separately. Tables are at most half full.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "listcache.h"
#include "util.h"

struct table {
	struct list_entry *entries;	/* in the order read */
	size_t n, cap;
	uint32_t *slots;		/* index + 1 into entries; 0 = empty */
	size_t mask;			/* slots - 1, a power of two less one */
};

struct list_snapshot {
	atomic_int refs;
	long long generation;
	struct table t[LIST_COUNT];
};

struct list_cache {
	pthread_mutex_t lock;		/* current */
	pthread_mutex_t loading;	/* one thread loads; the others wait for its snapshot */
	struct list_snapshot *current;	/* NULL until the first get */
};

static uint32_t key_hash(bool dot, const char *s, size_t len);
static bool key_eq(const char *stored, bool dot, const char *s, size_t len);
static int add_entry(enum list_kind kind, const struct list_entry *e, void *arg);
static void table_index(struct table *t);
static const struct list_entry *table_find(const struct table *t, bool dot, const char *s,
					   size_t len);
static void entry_copy(const struct list_entry *from, struct list_entry *to);
static struct list_snapshot *snapshot_load(struct store *s);
static void snapshot_free(struct list_snapshot *snap);

/* ------------------------------------------------------------ the cache */

struct list_cache *list_cache_new(void)
{
	struct list_cache *c = xcalloc(1, sizeof(*c));

	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->loading, NULL);
	return c;
}

void list_cache_free(struct list_cache *c)
{
	if (c == NULL)
		return;
	list_snapshot_unref(c->current);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->loading);
	free(c);
}

/* current_if - a reference to the current snapshot if it is of generation gen. */
static struct list_snapshot *current_if(struct list_cache *c, long long gen)
{
	struct list_snapshot *snap = NULL;

	pthread_mutex_lock(&c->lock);
	if (c->current != NULL && c->current->generation == gen) {
		snap = c->current;
		atomic_fetch_add(&snap->refs, 1);
	}
	pthread_mutex_unlock(&c->lock);
	return snap;
}

struct list_snapshot *list_cache_get(struct list_cache *c, struct store *s)
{
	struct list_snapshot *snap, *old;
	long long gen;

	if (store_list_generation(s, &gen) != 0)
		return NULL;
	if ((snap = current_if(c, gen)) != NULL)
		return snap;
	/*
	 * One load at a time: the threads that find the lists changed at
	 * once would otherwise each build a copy of them. Those that waited
	 * take the snapshot the first one made.
	 */
	pthread_mutex_lock(&c->loading);
	if ((snap = current_if(c, gen)) == NULL && (snap = snapshot_load(s)) != NULL) {
		/* the newest load wins (a restored database may go back) */
		pthread_mutex_lock(&c->lock);
		old = c->current;
		c->current = snap;
		atomic_fetch_add(&snap->refs, 1);	/* the cache's own reference */
		pthread_mutex_unlock(&c->lock);
		list_snapshot_unref(old);
	}
	pthread_mutex_unlock(&c->loading);
	return snap;
}

void list_snapshot_unref(struct list_snapshot *snap)
{
	if (snap != NULL && atomic_fetch_sub(&snap->refs, 1) == 1)
		snapshot_free(snap);
}

/* ------------------------------------------------------------ lookups */

enum lookup list_snapshot_match(const struct list_snapshot *snap, enum list_kind kind,
				const char *domain, struct list_entry *out)
{
	const struct table *t = &snap->t[kind];
	const struct list_entry *e;
	size_t len;

	memset(out, 0, sizeof(*out));
	if (domain == NULL || *domain == '\0' || t->n == 0)
		return LOOKUP_NOTFOUND;
	len = strlen(domain);
	/* the exact entry; then ".domain", which covers domain itself; then each parent */
	if ((e = table_find(t, false, domain, len)) == NULL &&
	    (e = table_find(t, true, domain, len)) == NULL) {
		for (const char *p = strchr(domain, '.'); e == NULL && p != NULL;
		     p = strchr(p + 1, '.'))
			e = table_find(t, false, p, len - (size_t)(p - domain));
	}
	if (e == NULL)
		return LOOKUP_NOTFOUND;
	entry_copy(e, out);
	return LOOKUP_FOUND;
}

size_t list_snapshot_count(const struct list_snapshot *snap, enum list_kind kind)
{
	return snap->t[kind].n;
}

/* key_hash - FNV-1a of ("." if dot) followed by s[0..len). */
static uint32_t key_hash(bool dot, const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	if (dot)
		h = (h ^ (unsigned char)'.') * 16777619u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static bool key_eq(const char *stored, bool dot, const char *s, size_t len)
{
	if (dot) {
		if (*stored != '.')
			return false;
		stored++;
	}
	return strncmp(stored, s, len) == 0 && stored[len] == '\0';
}

static const struct list_entry *table_find(const struct table *t, bool dot, const char *s,
					   size_t len)
{
	for (size_t i = key_hash(dot, s, len) & t->mask;; i = (i + 1) & t->mask) {
		uint32_t slot = t->slots[i];

		if (slot == 0)
			return NULL;
		if (key_eq(t->entries[slot - 1].domain, dot, s, len))
			return &t->entries[slot - 1];
	}
}

static void entry_copy(const struct list_entry *from, struct list_entry *to)
{
	to->domain = xstrdup(from->domain);
	to->organisation = from->organisation ? xstrdup(from->organisation) : NULL;
	to->dpa_expires = from->dpa_expires ? xstrdup(from->dpa_expires) : NULL;
	to->source = from->source ? xstrdup(from->source) : NULL;
	to->imported_at = from->imported_at;
	to->line = from->line;
}

/* ------------------------------------------------------------ building */

static struct list_snapshot *snapshot_load(struct store *s)
{
	struct list_snapshot *snap = xcalloc(1, sizeof(*snap));

	atomic_init(&snap->refs, 1);
	if (store_lists_load(s, &snap->generation, add_entry, snap) != 0) {
		snapshot_free(snap);
		return NULL;
	}
	for (int k = 0; k < LIST_COUNT; k++)
		table_index(&snap->t[k]);
	return snap;
}

static int add_entry(enum list_kind kind, const struct list_entry *e, void *arg)
{
	struct list_snapshot *snap = arg;
	struct table *t = &snap->t[kind];

	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->entries = xrealloc(t->entries, t->cap * sizeof(*t->entries));
	}
	entry_copy(e, &t->entries[t->n++]);
	return 0;
}

/* table_index - the slots, for a table whose entries are all in. */
static void table_index(struct table *t)
{
	size_t size = 16;

	while (size < t->n * 2)
		size *= 2;
	t->slots = xcalloc(size, sizeof(*t->slots));
	t->mask = size - 1;
	for (size_t n = 0; n < t->n; n++) {
		const char *d = t->entries[n].domain;
		size_t i = key_hash(false, d, strlen(d)) & t->mask;

		while (t->slots[i] != 0)
			i = (i + 1) & t->mask;
		t->slots[i] = (uint32_t)n + 1;
	}
}

static void snapshot_free(struct list_snapshot *snap)
{
	for (int k = 0; k < LIST_COUNT; k++) {
		for (size_t i = 0; i < snap->t[k].n; i++)
			list_entry_free(&snap->t[k].entries[i]);
		free(snap->t[k].entries);
		free(snap->t[k].slots);
	}
	free(snap);
}

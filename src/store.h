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
	STORE_RO,	/* read-only; the database must exist */
	STORE_RW_EXISTING	/* read-write; the database must exist and be ours */
};

/* store_open - open or create. NULL on failure, with *err set (free it). */
struct store *store_open(const char *path, enum store_mode mode, char **err);
void store_close(struct store *s);

/*
 * store_still_usable - is the file at the handle's path still the one it
 * opened, and still readable (and writable) by this process? A handle kept
 * across messages must not go on writing to a database that was replaced
 * or taken away from under it.
 */
bool store_still_usable(struct store *s);

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

/*
 * store_list_generation - a number that changes whenever a list is
 * imported (or the database is replaced); 0 or -1.
 * store_lists_load - every entry of every list, and the generation they
 * belong to, in one read transaction; fn's entry lives only during the
 * call, and a non-zero return stops the walk. 0 or -1.
 */
int store_list_generation(struct store *s, long long *gen);
int store_lists_load(struct store *s, long long *gen,
		     int (*fn)(enum list_kind kind, const struct list_entry *e, void *arg), void *arg);

/* store_record_decision - record one message decision (and its recipients). 0 or -1. */
int store_record_decision(struct store *s, const struct decision *d);

/*
 * store_decisions_each - call fn for every recorded decision with time in
 * [since, until), oldest first. The decision passed is only valid during
 * the call. 0 or -1.
 */
int store_decisions_each(struct store *s, long long since, long long until,
			 int (*fn)(const struct decision *d, void *arg), void *arg);

/*
 * Retention (store_purge.c). A decision is purged with every row that
 * refers to it (its recipients with their evidence, and any table whose
 * foreign key names decision).
 *
 * store_purge_count - how many decisions were recorded before `before`
 * (unix time), and how many rows hang off them; 0 or -1.
 * store_purge_batch - delete the oldest decisions recorded before
 * `before`, at most max of them, with their rows, in one write
 * transaction; adds what it deleted to *done. 1 when it deleted some, 0
 * when none was left, -1 on error.
 * store_reclaim - with auto_vacuum INCREMENTAL, give up to max_pages free
 * pages back to the file system in one write (*freed says how many); with
 * auto_vacuum NONE the free pages stay for the next rows (0, *freed 0).
 * 0 or -1.
 * store_vacuum - rebuild the file (VACUUM) with incremental auto-vacuum
 * turned on, then checkpoint the WAL; *checkpointed false when another
 * process's readers held the checkpoint up (their next checkpoint
 * finishes it). Holds SQLite's write lock while it runs. 0 or -1.
 * store_space - the file's pages: size, count, free, auto_vacuum mode
 * (0 none, 1 full, 2 incremental). 0 or -1.
 */
struct purge_counts {
	long long decisions;
	long long rcpts;		/* rows of decision_rcpt */
	long long other;		/* rows of other tables that refer to a decision */
	long long certs;		/* certificate cache answers fetched before, no longer fresh */
};

struct store_space {
	long long page_size;
	long long page_count;
	long long free_pages;
	long long auto_vacuum;
};

int store_purge_count(struct store *s, long long before, struct purge_counts *out);
int store_purge_batch(struct store *s, long long before, long max, struct purge_counts *done);
int store_reclaim(struct store *s, long max_pages, long long *freed);
int store_vacuum(struct store *s, bool *checkpointed);
int store_space(struct store *s, struct store_space *out);

/* A cached certificate answer for one address (certs.c decides what it means). */
struct cert_cache_entry {
	bool found;			/* a valid certificate, or "none found" */
	unsigned char *der;		/* the certificate (found only) */
	size_t der_len;
	char *subject;
	char *issuer;
	char *fingerprint;
	char *source;			/* directory URI that answered */
	long long not_before;
	long long not_after;
	long long fetched_at;		/* when the directory answered */
	long long fresh_until;		/* usable without asking again until then */
};

struct cert_cache_stats {
	long entries;
	long found;
	long not_found;
	long fresh;			/* fresh_until > now */
	long long oldest_fetch;		/* 0 if empty */
	long long newest_fetch;
	long domain;			/* entries for a domain ("@domain": kind "domain") */
	long domain_found;		/* of which with a certificate */
};

/*
 * store_cert_get - the cached answer for address (normalised). NOTFOUND
 * when nothing is cached, RETRY on a database error. Free with
 * cert_cache_entry_free.
 */
enum lookup store_cert_get(struct store *s, const char *address, struct cert_cache_entry *out);
/*
 * store_cert_put - insert or replace the cached answer for address. 0 or
 * -1. A key "@domain" holds a domain's own answer (DomainCertificates)
 * and is recorded as of kind "domain", any other as "personal".
 */
int store_cert_put(struct store *s, const char *address, const struct cert_cache_entry *e);
/* store_cert_purge - forget address's entry, or every entry when address is NULL. 0 or -1. */
int store_cert_purge(struct store *s, const char *address, long *removed);
int store_cert_stats(struct store *s, long long now, struct cert_cache_stats *out);
void cert_cache_entry_free(struct cert_cache_entry *e);

/* A certificate imported for a domain (sikkermail-ctl import domain-certs). */
struct domain_cert {
	char *domain;			/* normalised, A-labels */
	unsigned char *der;
	size_t der_len;
	char *subject;
	char *fingerprint;		/* SHA-256, upper-case hex with colons */
	long long not_after;
	char *source;			/* the file it came from */
	long line;			/* where its PEM block began */
	long long imported_at;
};

struct domain_certs {
	struct domain_cert *v;
	size_t n;
};

/*
 * store_domain_certs_replace - the imported domain certificates become
 * exactly l, stamped with now, in one transaction: all or nothing. 0 or
 * -1 with *err (xmalloc'd).
 */
int store_domain_certs_replace(struct store *s, const struct domain_certs *l, long long now,
			       char **err);
/*
 * store_domain_certs_get - the certificates imported for domain (every
 * one when domain is NULL), by domain and expiry. FOUND (out->n > 0),
 * NOTFOUND, or RETRY on a database error. Free with domain_certs_free.
 */
enum lookup store_domain_certs_get(struct store *s, const char *domain,
				   struct domain_certs *out);
void domain_certs_free(struct domain_certs *l);

/*
 * store_secret - the secret called name, len bytes, made with make() and
 * stored the first time it is asked for. 0, or -1 with the error set.
 */
int store_secret(struct store *s, const char *name, unsigned char *buf, size_t len,
		 int (*make)(unsigned char *buf, size_t len));

/*
 * store_marker_issue - remember a re-injection marker until expires (and
 * forget the expired ones); 0 or -1. store_marker_consume - forget it if it
 * was issued and has not expired: 1 if so (it admits one message, once), 0
 * if not, -1 on error.
 */
int store_marker_issue(struct store *s, const char *marker, long long expires, long long now);
int store_marker_consume(struct store *s, const char *marker, long long now);

/*
 * Mailbox notices waiting for their digest (NoticeDelay): one row per
 * encrypted message, its text already made, kept until the digest that
 * lists it has been handed to the MTA.
 *
 * store_notice_add - keep a notice (text) for mailbox about the message
 * with queue id ref (may be NULL), made at created. 0 or -1.
 * store_notice_pending - for each mailbox with notices nobody has claimed
 * (at now): fn(mailbox, the oldest one's time, how many, arg), the mailbox
 * with the oldest first; a non-zero return stops the walk. 0 or -1.
 * store_notice_claim - the oldest max unclaimed notices of mailbox, now
 * claimed until `until` (another process on the same database leaves them
 * alone meanwhile, and takes them over after that if this one died):
 * *out gets them (free with notice_entries_free); how many, or -1.
 * store_notice_done - the claimed notices, after the hand-off: deleted
 * when sent, else released for the next try; one transaction. 0 or -1.
 */
struct notice_entry {
	long long id;
	long long created;
	char *ref;			/* the message's queue id, or NULL */
	char *text;
};

int store_notice_add(struct store *s, const char *mailbox, long long created, const char *ref,
		     const char *text);
int store_notice_pending(struct store *s, long long now,
			 int (*fn)(const char *mailbox, long long oldest, long count, void *arg),
			 void *arg);
long store_notice_claim(struct store *s, const char *mailbox, long long now, long long until,
			size_t max, struct notice_entry **out);
int store_notice_done(struct store *s, const struct notice_entry *v, size_t n, bool sent);
void notice_entries_free(struct notice_entry *v, size_t n);

/* store_errmsg - the last error on this handle, for logs. */
const char *store_errmsg(struct store *s);

#endif

/*
 * retention.h - recorded decisions are kept for Retention and no longer:
 * the daemon's thread that purges the older ones every hour (and at
 * start and after a reload), and the purge itself, which sikkermail-ctl
 * purge runs the same way.
 *
 * A purge deletes the oldest decisions RETENTION_BATCH at a time, each
 * batch one short write transaction, with a pause after each so that the
 * milter's writers, queued on the store's writer mutex, go first; then
 * it gives the freed pages back to the file system (auto_vacuum
 * INCREMENTAL) RETENTION_RECLAIM_PAGES at a time, the same way. What it
 * did is logged in one line.
 *
 * Exports retention_start, retention_wake, retention_stop, retention_run
 * and retention_purge.
 */
#ifndef SIKKERMAIL_RETENTION_H
#define SIKKERMAIL_RETENTION_H

#include <stdbool.h>

#include "store.h"

#define RETENTION_BATCH 500		/* decisions purged in one write transaction */
#define RETENTION_RECLAIM_PAGES 1024	/* free pages given back in one write transaction */
#define RETENTION_PAUSE_MS 5		/* between two transactions: waiting writers go first */
#define RETENTION_INTERVAL 3600		/* seconds between two purges in the daemon */
#define RETENTION_RETRY 300		/* seconds before a purge that failed is tried again */

struct retention_result {
	struct purge_counts purged;
	long long freed_pages;		/* given back to the file system */
	long long free_pages;		/* left free in the file (auto_vacuum NONE: reused) */
	long long auto_vacuum;		/* the file's mode: 0 none, 2 incremental */
	bool stopped;			/* stop() said so before the end */
};

/*
 * retention_purge - purge every decision recorded before `before` (unix
 * time) with everything that refers to it, in batches, then reclaim the
 * space. stop (may be NULL) is asked before each transaction: true ends
 * the purge there (what is purged stays purged). Logs nothing. 0, or -1
 * with the error in store_errmsg(s).
 */
int retention_purge(struct store *s, long long before, bool (*stop)(void),
		    struct retention_result *r);

/*
 * retention_run - what one pass of the daemon does at now (unix time):
 * purge what was recorded more than retention seconds before now, and
 * log how many decisions were purged, when there were any (or the error).
 * 0 or -1.
 */
int retention_run(struct store *s, long retention, long long now, bool (*stop)(void),
		  struct retention_result *r);

/*
 * retention_start - the daemon's purge thread, with the published runtime
 * (runtime.h) of each pass: one pass at once, then every
 * RETENTION_INTERVAL. 0, or -1 when it cannot be started.
 * retention_wake - a pass now (after a reload: Retention may have changed).
 * retention_stop - end the thread: a purge under way stops after its
 * current batch. Returns when the thread has ended.
 */
int retention_start(void);
void retention_wake(void);
void retention_stop(void);

#endif

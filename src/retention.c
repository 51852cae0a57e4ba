/*
 * retention.c - the purge of decisions older than Retention, and the
 * daemon's thread that runs it. See retention.h.
 *
 * The thread is started by main.c once the runtime is published and
 * stopped when the milter has stopped. Each pass takes the runtime and a
 * database handle of that moment (runtime_current, runtime_store_get), so
 * a reload's Retention is the one used; main.c wakes it after a reload.
 * It sleeps RETENTION_INTERVAL between passes (RETENTION_RETRY after a
 * failure), or until woken or stopped.
 *
 * The SQL is in store_purge.c; this file decides how much goes in one
 * transaction and what is logged.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "retention.h"
#include "runtime.h"
#include "store.h"
#include "util.h"

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;		/* on CLOCK_MONOTONIC */
	pthread_t thread;
	bool running;
	bool poked;			/* a pass now */
	bool stopping;
} rn = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void *retention_main(void *arg);
static time_t retention_pass(void);
static bool stopping(void);
static void pause_briefly(void);
static void day_string(long long t, char *buf, size_t size);

/* ------------------------------------------------------------ the purge */

int retention_purge(struct store *s, long long before, bool (*stop)(void),
		    struct retention_result *r)
{
	struct store_space sp;
	long long freed, had;

	memset(r, 0, sizeof(*r));
	/* a batch short of full was the last: no pause, no empty transaction after it */
	for (;;) {
		if (stop != NULL && stop()) {
			r->stopped = true;
			return 0;
		}
		had = r->purged.decisions;
		if (store_purge_batch(s, before, RETENTION_BATCH, &r->purged) < 0)
			return -1;
		if (r->purged.decisions - had < RETENTION_BATCH)
			break;
		pause_briefly();
	}
	for (;;) {
		if (stop != NULL && stop()) {
			r->stopped = true;
			break;
		}
		if (store_reclaim(s, RETENTION_RECLAIM_PAGES, &freed) < 0)
			return -1;
		r->freed_pages += freed;
		if (freed < RETENTION_RECLAIM_PAGES)
			break;
		pause_briefly();
	}
	if (store_space(s, &sp) < 0)
		return -1;
	r->free_pages = sp.free_pages;
	r->auto_vacuum = sp.auto_vacuum;
	return 0;
}

int retention_run(struct store *s, long retention, long long now, bool (*stop)(void),
		  struct retention_result *r)
{
	long long before = now - retention;
	char day[32], period[32];

	day_string(before, day, sizeof(day));
	if (retention % 86400 == 0)
		snprintf(period, sizeof(period), "%ldd", retention / 86400);
	else
		snprintf(period, sizeof(period), "%lds", retention);
	if (retention_purge(s, before, stop, r) < 0) {
		msg_error("retention: purge of the decisions recorded before %s failed after %lld "
			  "purged: %s", day, r->purged.decisions, store_errmsg(s));
		return -1;
	}
	if (r->purged.decisions == 0 && r->purged.certs == 0 && r->freed_pages == 0) {
		msg_debug("retention: no decision recorded before %s", day);
		return 0;
	}
	msg_info("retention: purged %lld decision(s) recorded before %s (Retention %s),"
		 " with %lld recipient row(s) and %lld other row(s), %lld cached certificate"
		 " answer(s); %lld page(s) given back, %lld free%s%s",
		 r->purged.decisions, day, period, r->purged.rcpts, r->purged.other,
		 r->purged.certs,
		 r->freed_pages, r->free_pages,
		 r->auto_vacuum != 2 && r->free_pages > 0
			 ? " (reused for new records; sikkermail-ctl purge --vacuum gives them"
			   " back)"
			 : "",
		 r->stopped ? "; stopped, the rest is purged at the next start" : "");
	return 0;
}

/* pause_briefly - let the writers queued behind the last transaction in. */
static void pause_briefly(void)
{
	struct timespec t = { 0, RETENTION_PAUSE_MS * 1000000L };

	while (nanosleep(&t, &t) != 0 && errno == EINTR)
		;
}

/* day_string - t as local "YYYY-MM-DD HH:MM". */
static void day_string(long long t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL || strftime(buf, size, "%Y-%m-%d %H:%M", &tm) == 0)
		snprintf(buf, size, "@%lld", t);
}

/* ------------------------------------------------------------ the thread */

int retention_start(void)
{
	pthread_condattr_t ca;
	int rc;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&rn.wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_lock(&rn.lock);
	rn.stopping = rn.poked = false;
	if ((rc = pthread_create(&rn.thread, NULL, retention_main, NULL)) == 0)
		rn.running = true;
	pthread_mutex_unlock(&rn.lock);
	if (rc != 0)
		msg_error("cannot start the retention thread: %s", strerror(rc));
	return rc == 0 ? 0 : -1;
}

void retention_wake(void)
{
	pthread_mutex_lock(&rn.lock);
	rn.poked = true;
	pthread_cond_signal(&rn.wake);
	pthread_mutex_unlock(&rn.lock);
}

void retention_stop(void)
{
	pthread_mutex_lock(&rn.lock);
	if (!rn.running) {
		pthread_mutex_unlock(&rn.lock);
		return;
	}
	rn.stopping = true;
	pthread_cond_signal(&rn.wake);
	pthread_mutex_unlock(&rn.lock);
	pthread_join(rn.thread, NULL);
	pthread_mutex_lock(&rn.lock);
	rn.running = false;
	pthread_mutex_unlock(&rn.lock);
	pthread_cond_destroy(&rn.wake);
}

static void *retention_main(void *arg)
{
	struct timespec t;
	time_t next, left;

	(void)arg;
	pthread_mutex_lock(&rn.lock);
	while (!rn.stopping) {
		rn.poked = false;
		pthread_mutex_unlock(&rn.lock);
		next = retention_pass();
		pthread_mutex_lock(&rn.lock);
		if ((left = next - time(NULL)) <= 0)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &t);
		t.tv_sec += left;
		while (!rn.poked && !rn.stopping &&
		       pthread_cond_timedwait(&rn.wake, &rn.lock, &t) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&rn.lock);
	return NULL;
}

/* retention_pass - one purge with the runtime of this moment; when the next one is due. */
static time_t retention_pass(void)
{
	struct runtime *rt = runtime_current();
	struct retention_result r;
	struct store *s;
	int rc;

	if (rt == NULL)
		return time(NULL) + 1;
	if ((s = runtime_store_get(rt)) == NULL) {	/* the outage is logged there */
		runtime_unref(rt);
		return time(NULL) + RETENTION_RETRY;
	}
	rc = retention_run(s, rt->cfg->retention, (long long)time(NULL), stopping, &r);
	runtime_store_put(rt, s, rc != 0);
	runtime_unref(rt);
	return time(NULL) + (rc == 0 ? RETENTION_INTERVAL : RETENTION_RETRY);
}

static bool stopping(void)
{
	bool stop;

	pthread_mutex_lock(&rn.lock);
	stop = rn.stopping;
	pthread_mutex_unlock(&rn.lock);
	return stop;
}

/*
 * t_retention.c - unit tests for the retention purge (retention.c,
 * store_purge.c) on temporary databases: a new database is made with
 * incremental auto-vacuum; a batch deletes exactly the oldest decisions
 * it may, with their recipients, and never a newer one; a purge asked to
 * stop ends after its current batch; the milter's writers go on recording
 * while a purge runs; and under steady traffic with a short Retention,
 * purged hourly as the daemon does on a simulated clock, the database
 * keeps the window's decisions exactly and its page count levels off.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "decision.h"
#include "log.h"
#include "retention.h"
#include "store.h"
#include "tap.h"
#include "util.h"

#define DAY 86400LL
#define HOUR 3600LL

static char dir[] = "/tmp/t_retention.XXXXXX";

static struct store *open_new(const char *name)
{
	char *path = xasprintf("%s/%s", dir, name), *err = NULL;
	struct store *s = store_open(path, STORE_RW, &err);

	if (s == NULL) {
		printf("Bail out! cannot create %s: %s\n", path, err ? err : "?");
		exit(1);
	}
	free(path);
	return s;
}

static void add_rcpt(struct decision *d, const char *addr, enum rclass cls, enum action a,
		     const char *evidence)
{
	struct address ad = { 0 };
	const char *at = strrchr(addr, '@');
	struct rcpt *r;

	ad.full = xstrdup(addr);
	ad.local = xstrndup(addr, (size_t)(at - addr));
	ad.domain = xstrdup(at + 1);
	r = decision_add_rcpt(d, addr, &ad);
	r->cls = cls;
	r->action = a;
	r->rule = "PersonalToTLS";
	r->evidence = xstrdup(evidence);
}

/* record - one personal decision at time t, with three recipients; 0 or -1. */
static int record(struct store *s, long long t, long n)
{
	struct decision d;
	char buf[128];
	int rc;

	decision_init(&d);
	d.time = t;
	snprintf(buf, sizeof(buf), "Q%08lX", n);
	d.queue_id = xstrdup(buf);
	snprintf(buf, sizeof(buf), "<%ld.%lld@kp.dk>", n, t);
	d.message_id = xstrdup(buf);
	snprintf(buf, sizeof(buf), "sender%ld@kp.dk", n % 97);
	d.sender = xstrdup(buf);
	d.client_addr = xstrdup("10.1.2.3");
	d.trusted = true;
	d.personal = true;
	d.psrc = PSRC_CPR;
	d.personal_why = xstrdup("CPR number 010190-XXXX in the body");
	d.cpr_hits = 1;
	d.mode = MODE_ENFORCE;
	snprintf(buf, sizeof(buf), "partner%ld@example.org", n % 13);
	add_rcpt(&d, buf, CLASS_TLS, ACTION_REJECT,
		 "no partner agreement for example.org; TLS only (no certificate found)");
	snprintf(buf, sizeof(buf), "someone%ld@gmail.com", n % 31);
	add_rcpt(&d, buf, CLASS_FREEMAIL, ACTION_REJECT,
		 "freemail list entry gmail.com (built-in)");
	add_rcpt(&d, "colleague@kp.dk", CLASS_INTERNAL, ACTION_DELIVER, "internal domain kp.dk");
	d.action = ACTION_REJECT;
	d.applied = ACTION_REJECT;
	d.rule = "PersonalToTLS";
	rc = store_record_decision(s, &d);
	decision_free(&d);
	return rc;
}

struct walk {
	long long n, rcpts, oldest, newest;
};

static int walk_one(const struct decision *d, void *arg)
{
	struct walk *w = arg;

	if (w->n == 0 || d->time < w->oldest)
		w->oldest = d->time;
	if (w->n == 0 || d->time > w->newest)
		w->newest = d->time;
	w->n++;
	w->rcpts += (long long)d->n_rcpts;
	return 0;
}

/* all - what the database holds: decisions, recipients, oldest and newest time. */
static struct walk all(struct store *s)
{
	struct walk w = { 0 };

	if (store_decisions_each(s, LLONG_MIN, LLONG_MAX, walk_one, &w) != 0)
		w.n = -1;
	return w;
}

static long long total_rcpts(struct store *s)
{
	struct purge_counts n;

	return store_purge_count(s, LLONG_MAX, &n) == 0 ? n.rcpts : -1;
}

static void cleanup(void)
{
	static const char *const names[] = { "new.db", "batch.db", "stop.db", "writers.db",
					     "steady.db" };
	static const char *const suffixes[] = { "", "-wal", "-shm" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		for (size_t j = 0; j < sizeof(suffixes) / sizeof(suffixes[0]); j++) {
			char *p = xasprintf("%s/%s%s", dir, names[i], suffixes[j]);
			unlink(p);
			free(p);
		}
	if (rmdir(dir) != 0)
		diag("cannot remove %s: %s", dir, strerror(errno));
}

/* ------------------------------------------------------------ the tests */

static void test_new_database(void)
{
	struct store *s = open_new("new.db");
	struct store_space sp;

	ok(store_space(s, &sp) == 0, "space of a new database");
	is_int(sp.auto_vacuum, 2, "a new database has auto_vacuum INCREMENTAL");
	store_close(s);
}

static void test_batches(void)
{
	struct store *s = open_new("batch.db");
	struct purge_counts done = { 0 }, n;
	struct walk w;
	int bad = 0;

	for (long i = 0; i < 1200; i++)
		bad += record(s, 1000 + i, i) != 0;
	is_int(bad, 0, "batches: 1200 decisions recorded");
	ok(store_purge_count(s, 2000, &n) == 0, "batches: dry count");
	is_int(n.decisions, 1000, "batches: 1000 decisions are older than t=2000");
	is_int(n.rcpts, 3000, "batches: with 3000 recipient rows");
	w = all(s);
	is_int(w.n, 1200, "batches: a count changes nothing");

	is_int(store_purge_batch(s, 2000, 400, &done), 1, "batch 1 deletes some");
	is_int(done.decisions, 400, "batch 1: exactly 400 decisions");
	is_int(done.rcpts, 1200, "batch 1: and their 1200 recipients");
	w = all(s);
	is_int(w.oldest, 1400, "batch 1: the oldest went first");
	is_int(store_purge_batch(s, 2000, 400, &done), 1, "batch 2 deletes some");
	is_int(store_purge_batch(s, 2000, 400, &done), 1, "batch 3 deletes the last 200");
	is_int(done.decisions, 1000, "batches: 1000 decisions purged in all");
	is_int(store_purge_batch(s, 2000, 400, &done), 0, "batch 4: nothing older is left");
	is_int(done.decisions, 1000, "batch 4 deletes nothing");
	w = all(s);
	is_int(w.n, 200, "batches: the 200 newer decisions stay");
	is_int(w.oldest, 2000, "batches: none at or after the moment is touched");
	is_int(w.rcpts, 600, "batches: the newer decisions keep all their recipients");
	is_int(total_rcpts(s), 600, "batches: no recipient row of a purged decision is left");
	ok(store_purge_batch(s, 2000, 0, &done) < 0, "a batch of 0 is refused");
	store_close(s);
}

static int stop_calls;

static bool stop_after_one(void)
{
	return ++stop_calls > 1;
}

static void test_stop(void)
{
	struct store *s = open_new("stop.db");
	struct retention_result r;
	struct walk w;
	int bad = 0;

	for (long i = 0; i < 2 * RETENTION_BATCH + 50; i++)
		bad += record(s, 100 + i, i) != 0;
	is_int(bad, 0, "stop: decisions recorded");
	stop_calls = 0;
	is_int(retention_purge(s, LLONG_MAX, stop_after_one, &r), 0, "stop: the purge returns");
	ok(r.stopped, "stop: it says it stopped");
	is_int(r.purged.decisions, RETENTION_BATCH, "stop: after the batch under way");
	w = all(s);
	is_int(w.n, RETENTION_BATCH + 50, "stop: the rest is left for the next purge");
	is_int(retention_purge(s, LLONG_MAX, NULL, &r), 0, "stop: the next purge");
	ok(!r.stopped, "stop: runs to its end");
	is_int(r.purged.decisions, RETENTION_BATCH + 50, "stop: and purges the rest");
	store_close(s);
}

struct writer {
	char *path;
	long long t0;
	int failed;
};

static void *writer_main(void *arg)
{
	struct writer *wr = arg;
	char *err = NULL;
	struct store *s = store_open(wr->path, STORE_RW_EXISTING, &err);

	if (s == NULL) {
		wr->failed = -1;
		free(err);
		return NULL;
	}
	for (long i = 0; i < 300; i++)
		wr->failed += record(s, wr->t0 + i, 900000 + i) != 0;
	store_close(s);
	return NULL;
}

static void test_writers_go_on(void)
{
	struct store *s = open_new("writers.db");
	struct writer wr = { .path = xasprintf("%s/writers.db", dir), .t0 = 100000 };
	struct retention_result r;
	pthread_t th;
	struct walk w;
	int bad = 0;

	for (long i = 0; i < 5000; i++)
		bad += record(s, 1000 + i, i) != 0;
	is_int(bad, 0, "writers: 5000 old decisions recorded");
	if (pthread_create(&th, NULL, writer_main, &wr) != 0) {
		ok(0, "writers: cannot start a thread");
		store_close(s);
		return;
	}
	is_int(retention_purge(s, 50000, NULL, &r), 0,
	       "writers: purge while another thread records");
	pthread_join(th, NULL);
	is_int(wr.failed, 0, "writers: every decision recorded during the purge");
	is_int(r.purged.decisions, 5000, "writers: every old decision purged");
	w = all(s);
	is_int(w.n, 300, "writers: the new decisions are all there");
	is_int(w.oldest, 100000, "writers: and only they");
	free(wr.path);
	store_close(s);
}

/*
 * Steady traffic: 12 decisions an hour for 35 simulated days, Retention
 * 7 days, a purge every simulated hour as the daemon's thread does. From
 * day 8 on the database holds one week of decisions, so its page count
 * must level off: the bound is the count at day 14 plus 10 % (the same
 * number of rows, in b-trees whose fill varies with the order pages were
 * freed and reused). Without the purge the file would hold five weeks,
 * about five times as much.
 */
static void test_steady_state(void)
{
	const long long t0 = 1700000000, retention = 7 * DAY, per_hour = 12;
	struct store *s = open_new("steady.db");
	struct retention_result r;
	struct store_space sp;
	long long now = t0, at_day14 = 0, most_after = 0, purged = 0, freed = 0;
	long n = 0;
	int bad = 0, failed_runs = 0;
	struct walk w;

	for (long hour = 0; hour < 35 * 24; hour++) {
		for (long i = 0; i < per_hour; i++, n++)
			bad += record(s, now + i * (HOUR / per_hour), n) != 0;
		now += HOUR;
		failed_runs += retention_run(s, retention, now, NULL, &r) != 0;
		purged += r.purged.decisions;
		freed += r.freed_pages;
		if (store_space(s, &sp) != 0)
			bad++;
		if (hour == 14 * 24 - 1)
			at_day14 = sp.page_count;
		else if (hour >= 14 * 24 && sp.page_count > most_after)
			most_after = sp.page_count;
	}
	is_int(bad, 0, "steady: 10080 decisions recorded over 35 simulated days");
	is_int(failed_runs, 0, "steady: every hourly purge ran");
	w = all(s);
	is_int(w.n, retention / HOUR * per_hour, "steady: exactly one week of decisions is kept");
	is_int(purged, n - w.n, "steady: everything older was purged");
	ok(w.oldest >= now - retention, "steady: nothing older than Retention is left");
	is_int(w.newest, now - HOUR / per_hour, "steady: the newest decision is there");
	is_int(w.rcpts, 3 * w.n, "steady: the kept decisions have all their recipients");
	is_int(total_rcpts(s), 3 * w.n, "steady: no recipient of a purged decision is left");
	ok(freed > 0, "steady: freed pages went back to the file system (%lld)", freed);
	ok(at_day14 > 0 && most_after <= at_day14 + at_day14 / 10,
	   "steady: the page count levels off (%lld at day 14, at most %lld after)", at_day14,
	   most_after);
	store_close(s);
}

int main(void)
{
	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	log_init("t_retention", false, true, 0);
	log_set_level(LOG_NOTICE);	/* the purges' own lines would drown the TAP output */
	test_new_database();
	test_batches();
	test_stop();
	test_writers_go_on();
	test_steady_state();
	cleanup();
	return done_testing();
}

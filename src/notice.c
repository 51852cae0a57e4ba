/*
 * notice.c - the digests of mailbox notices (NoticeDelay): the thread
 * that sends them, the hand-over from a message (notice_keep), and the
 * digest's text. See notice.h.
 *
 * One thread, started by main.c once the runtime is published and
 * stopped after the milter has drained. Each pass takes the runtime and a
 * database handle of that moment (runtime_current, runtime_store_get), so
 * a reload is honoured, and gives them back before it sleeps. It sleeps
 * until the next digest is due, until a message's notice changes that
 * (notice_keep wakes it), or NOTICE_IDLE seconds at most, so that notices
 * another process on the same database keeps, or a database that was
 * down, are seen too. reinject_message blocks; only this thread waits for
 * a digest's hand-off, never a message.
 *
 * What a pass owns (the retry plan per mailbox) is the thread's alone;
 * what notice_keep and notice_stop share with it is behind nt.lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "encrypt.h"
#include "log.h"
#include "notice.h"
#include "runtime.h"
#include "util.h"

#define NOTICE_IDLE 60		/* seconds between looks at the database at most */
#define NOTICE_CLAIM (NOTICE_SEND_TIMEOUT + 60)	/* a claim outlives any hand-off */

struct pending {
	char *mailbox;
	long long oldest;
	long count;
};

struct pending_list {
	struct pending *v;
	size_t n;
};

/* A mailbox whose digest could not be handed over, and when to try again. */
struct retry {
	char *mailbox;
	time_t next;
	long wait;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;		/* on CLOCK_MONOTONIC */
	pthread_cond_t ended;
	pthread_t thread;
	bool running;			/* notice_keep may hand notices over */
	bool poked;			/* a notice arrived that may change the plan */
	bool stopping;			/* flush and end */
	bool finished;
	bool passing;			/* a pass runs: a notice kept now may be missed by it */
	time_t started;			/* older notices were left by an earlier run: due at once */
	time_t next_pass;		/* when the thread will look again */
	long kept;			/* notices kept since the last pass */
	time_t flush_until;		/* the final flush ends by then */
} nt = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* The thread's own. */
static struct retry *retries;
static size_t n_retries;

static void *notice_main(void *arg);
static void sleep_until(time_t when);
static time_t notice_pass(bool flush);
static void pending_clear(struct pending_list *p);
static int collect(const char *mailbox, long long oldest, long count, void *arg);
static time_t due_at(const struct pending *p, long delay, bool flush);
static int send_mailbox(struct runtime *rt, struct store *s, const char *mailbox, bool flush);
static int send_digest(struct runtime *rt, struct store *s, const char *mailbox, bool flush,
		       bool *more);
static char *refs_of(const struct notice_entry *v, size_t n);
static struct retry *retry_find(const char *mailbox);
static long retry_later(const char *mailbox, time_t now);
static void retry_clear(const char *mailbox);
static time_t earlier(time_t a, time_t b);

/* ------------------------------------------------------------ the thread */

int notice_start(void)
{
	pthread_condattr_t ca;
	int rc;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&nt.wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&nt.ended, NULL);
	pthread_mutex_lock(&nt.lock);
	nt.started = time(NULL);
	nt.next_pass = 0;
	nt.stopping = nt.finished = nt.poked = false;
	if ((rc = pthread_create(&nt.thread, NULL, notice_main, NULL)) == 0)
		nt.running = true;
	pthread_mutex_unlock(&nt.lock);
	if (rc != 0)
		msg_error("cannot start the mailbox notice thread: %s", strerror(rc));
	return rc == 0 ? 0 : -1;
}

int notice_stop(int seconds)
{
	struct timespec until;
	bool ended;

	pthread_mutex_lock(&nt.lock);
	if (!nt.running) {
		pthread_mutex_unlock(&nt.lock);
		return 0;
	}
	nt.stopping = true;
	nt.flush_until = time(NULL) + seconds;
	pthread_cond_signal(&nt.wake);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += seconds + 1;
	while (!nt.finished &&
	       pthread_cond_timedwait(&nt.ended, &nt.lock, &until) != ETIMEDOUT)
		;
	ended = nt.finished;
	pthread_mutex_unlock(&nt.lock);
	if (!ended)
		return -1;
	pthread_join(nt.thread, NULL);
	pthread_mutex_lock(&nt.lock);
	nt.running = false;
	pthread_mutex_unlock(&nt.lock);
	for (size_t i = 0; i < n_retries; i++)
		free(retries[i].mailbox);
	free(retries);
	retries = NULL;
	n_retries = 0;
	return 0;
}

int notice_keep(struct store *s, long delay, const char *mailbox, const char *ref,
		const char *entry, char **err)
{
	time_t now = time(NULL);
	bool running;

	*err = NULL;
	pthread_mutex_lock(&nt.lock);
	running = nt.running && !nt.stopping;
	pthread_mutex_unlock(&nt.lock);
	if (!running)
		return -1;
	if (store_notice_add(s, mailbox, (long long)now, ref, entry) != 0) {
		*err = xstrdup(store_errmsg(s));
		return -1;
	}
	/* wake the thread only when it would otherwise look too late */
	pthread_mutex_lock(&nt.lock);
	if (nt.passing || nt.next_pass > now + delay || ++nt.kept >= NOTICE_BATCH) {
		nt.poked = true;
		pthread_cond_signal(&nt.wake);
	}
	pthread_mutex_unlock(&nt.lock);
	return 0;
}

static void *notice_main(void *arg)
{
	time_t next;

	(void)arg;
	pthread_mutex_lock(&nt.lock);
	while (!nt.stopping) {
		nt.poked = false;
		nt.kept = 0;
		nt.passing = true;
		pthread_mutex_unlock(&nt.lock);
		next = notice_pass(false);
		pthread_mutex_lock(&nt.lock);
		nt.passing = false;
		nt.next_pass = next;
		if (!nt.poked && !nt.stopping)
			sleep_until(next);
	}
	pthread_mutex_unlock(&nt.lock);
	notice_pass(true);
	pthread_mutex_lock(&nt.lock);
	nt.finished = true;
	pthread_cond_signal(&nt.ended);
	pthread_mutex_unlock(&nt.lock);
	return NULL;
}

/* sleep_until - with nt.lock held: until when (wall clock), a poke or the stop. */
static void sleep_until(time_t when)
{
	struct timespec t;
	time_t left = when - time(NULL);

	if (left <= 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += left;
	while (!nt.poked && !nt.stopping &&
	       pthread_cond_timedwait(&nt.wake, &nt.lock, &t) != ETIMEDOUT)
		;
}

/*
 * notice_pass - send every digest that is due (with flush: every one,
 * until nt.flush_until); the time the next one will be due.
 */
static time_t notice_pass(bool flush)
{
	struct runtime *rt = runtime_current();
	struct pending_list p = { 0 };
	struct store *s;
	time_t now = time(NULL), next = now + NOTICE_IDLE, due;
	struct retry *r;
	long wait;
	bool broken = false;

	if (rt == NULL)
		return now + 1;
	if ((s = runtime_store_get(rt)) == NULL) {	/* the outage is logged there */
		runtime_unref(rt);
		return now + NOTICE_RETRY_FIRST;
	}
	if (store_notice_pending(s, (long long)now, collect, &p) != 0) {
		msg_error("mailbox notices cannot be read: %s", store_errmsg(s));
		broken = true;
		next = now + NOTICE_RETRY_FIRST;
	}
	for (size_t i = 0; i < p.n && !broken; i++) {
		if ((due = due_at(&p.v[i], rt->cfg->notice_delay, flush)) > now) {
			next = earlier(next, due);
			continue;
		}
		r = retry_find(p.v[i].mailbox);
		if (!flush && r != NULL && r->next > now) {
			next = earlier(next, r->next);
			continue;
		}
		if (flush && time(NULL) >= nt.flush_until)
			break;
		if (send_mailbox(rt, s, p.v[i].mailbox, flush) == 0) {
			retry_clear(p.v[i].mailbox);
			continue;
		}
		wait = retry_later(p.v[i].mailbox, now);
		msg_error("notice digest to %s with %ld notice(s) not sent; kept, tried again in %ld s",
			  p.v[i].mailbox, p.v[i].count, wait);
		next = earlier(next, now + wait);
	}
	if (flush && !broken) {
		pending_clear(&p);
		if (store_notice_pending(s, (long long)time(NULL) + NOTICE_CLAIM, collect, &p) == 0)
			for (size_t i = 0; i < p.n; i++)
				msg_warn("stop: %ld notice(s) to %s not sent; they are sent after the "
					 "next start", p.v[i].count, p.v[i].mailbox);
	}
	pending_clear(&p);
	runtime_store_put(rt, s, broken);
	runtime_unref(rt);
	return next;
}

static void pending_clear(struct pending_list *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].mailbox);
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

static int collect(const char *mailbox, long long oldest, long count, void *arg)
{
	struct pending_list *p = arg;

	p->v = xrealloc(p->v, (p->n + 1) * sizeof(*p->v));
	p->v[p->n].mailbox = xstrdup(mailbox ? mailbox : "");
	p->v[p->n].oldest = oldest;
	p->v[p->n].count = count;
	p->n++;
	return 0;
}

/* due_at - when a mailbox's digest is due: its oldest notice's time plus the delay, or now. */
static time_t due_at(const struct pending *p, long delay, bool flush)
{
	if (flush || p->count >= NOTICE_BATCH || p->oldest < (long long)nt.started)
		return 0;
	return (time_t)(p->oldest + delay);
}

/* send_mailbox - every waiting notice of mailbox, NOTICE_BATCH to a digest; 0 or -1. */
static int send_mailbox(struct runtime *rt, struct store *s, const char *mailbox, bool flush)
{
	bool more = true;

	/* a few rounds at most: notices that keep coming wait for the next pass */
	for (int round = 0; more && round < 4; round++)
		if (send_digest(rt, s, mailbox, flush, &more) != 0)
			return -1;
	return 0;
}

/*
 * send_digest - claim up to NOTICE_BATCH of mailbox's notices, hand their
 * digest to the MTA, and delete them only then (else release them). *more
 * says whether a full batch was sent. 0 or -1 (logged).
 */
static int send_digest(struct runtime *rt, struct store *s, const char *mailbox, bool flush,
		       bool *more)
{
	struct notice_entry *v = NULL;
	time_t now = time(NULL);
	long n = store_notice_claim(s, mailbox, (long long)now, (long long)now + NOTICE_CLAIM,
				    NOTICE_BATCH, &v);
	int timeout = NOTICE_SEND_TIMEOUT, rc = -1;
	char *subject = NULL, *body = NULL, *id = NULL, *err = NULL, *refs = NULL;

	*more = false;
	if (n < 0) {
		msg_error("notices to %s cannot be claimed: %s", mailbox, store_errmsg(s));
		return -1;
	}
	if (n == 0) {
		notice_entries_free(v, 0);
		return 0;
	}
	if (flush && nt.flush_until - now < timeout)
		timeout = nt.flush_until - now > 1 ? (int)(nt.flush_until - now) : 1;
	subject = notice_digest_subject((size_t)n);
	body = notice_digest_body(v, (size_t)n);
	refs = refs_of(v, (size_t)n);
	if (encrypt_tell_mailbox(rt->cfg, rt->mailboxes, s, mailbox, subject, body, timeout, &id,
				 &err) == 0) {
		rc = 0;
		*more = n == NOTICE_BATCH;
		msg_info("notice digest to %s sent: notices=%ld refs=%s id=%s", mailbox, n, refs, id);
		if (store_notice_done(s, v, (size_t)n, true) != 0)
			msg_error("notice digest to %s sent, but its %ld notice(s) not deleted (%s): "
				  "they may be sent again", mailbox, n, store_errmsg(s));
	} else {
		msg_error("notice digest to %s (refs=%s) not handed to the MTA: %s", mailbox, refs,
			  err ? err : "?");
		if (store_notice_done(s, v, (size_t)n, false) != 0)
			msg_warn("notices to %s not released (%s): tried again after %d s", mailbox,
				 store_errmsg(s), NOTICE_CLAIM);
	}
	notice_entries_free(v, (size_t)n);
	free(subject);
	free(body);
	free(refs);
	free(id);
	free(err);
	return rc;
}

/* refs_of - the notices' references, comma-separated, for the log. */
static char *refs_of(const struct notice_entry *v, size_t n)
{
	struct strbuf sb;

	sb_init(&sb);
	for (size_t i = 0; i < n; i++)
		sb_printf(&sb, "%s%s", i ? "," : "", v[i].ref ? v[i].ref : "-");
	return sb.s;
}

/* ------------------------------------------------------------ retries */

static struct retry *retry_find(const char *mailbox)
{
	for (size_t i = 0; i < n_retries; i++)
		if (strcmp(retries[i].mailbox, mailbox) == 0)
			return &retries[i];
	return NULL;
}

/* retry_later - the next pause for mailbox (doubled each failure, bounded); its length. */
static long retry_later(const char *mailbox, time_t now)
{
	struct retry *r = retry_find(mailbox);

	if (r == NULL) {
		retries = xrealloc(retries, (n_retries + 1) * sizeof(*retries));
		r = &retries[n_retries++];
		r->mailbox = xstrdup(mailbox);
		r->wait = 0;
	}
	r->wait = r->wait == 0 ? NOTICE_RETRY_FIRST
		  : r->wait * 2 > NOTICE_RETRY_MAX ? NOTICE_RETRY_MAX : r->wait * 2;
	r->next = now + r->wait;
	return r->wait;
}

static void retry_clear(const char *mailbox)
{
	struct retry *r = retry_find(mailbox);

	if (r == NULL)
		return;
	free(r->mailbox);
	*r = retries[--n_retries];
}

static time_t earlier(time_t a, time_t b)
{
	return a < b ? a : b;
}

/* ------------------------------------------------------------ the text */

char *notice_digest_subject(size_t n)
{
	return xasprintf("Sikre beskeder sendt / Secure messages sent (%zu)", n);
}

char *notice_digest_body(const struct notice_entry *v, size_t n)
{
	struct strbuf sb;
	char when[64];
	struct tm tm;
	time_t t;

	sb_init(&sb);
	sb_printf(&sb, "%zu sikre (krypterede) beskeder er sendt fra denne postkasse.\n"
		       "%zu secure (encrypted) messages were sent from this mailbox.\n",
		  n, n);
	for (size_t i = 0; i < n; i++) {
		t = (time_t)v[i].created;
		strftime(when, sizeof(when), "%a, %d %b %Y %H:%M:%S %z", localtime_r(&t, &tm));
		sb_printf(&sb, "\n--- %zu / %zu ---\nTidspunkt / Time:       %s\n%s", i + 1, n, when,
			  v[i].text ? v[i].text : "");
	}
	sb_adds(&sb, "\nSvar vil komme til denne postkasse.\n"
		     "Replies will arrive in this mailbox.\n");
	return sb.s;
}

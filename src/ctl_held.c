/*
 * ctl_held.c - sikkermail-ctl held, release and delete: what became of
 * the messages the filter held.
 *
 *   held [--since DATE] [--all] [--config-dir DIR]
 *   release [--config-dir DIR] QUEUEID...
 *   delete [--config-dir DIR] QUEUEID...
 *
 * Exports ctl_held and ctl_release_or_delete (ctl.h).
 *
 * The filter holds a message with the milter's quarantine: Postfix puts
 * it in its hold queue. Which messages those are comes from the recorded
 * decisions (enforce mode, applied hold; store_held.h); what became of
 * them from what this command recorded, and from Postfix itself:
 * "postqueue -j" says which queue ids are still in the hold queue, so a
 * message released or deleted with postsuper by hand shows as no longer
 * held rather than held for ever.
 *
 * release and delete act through Postfix's postsuper(1) (-H QUEUEID, and
 * -d QUEUEID hold: only from the hold queue), which must run as root; only
 * a queue id the filter held, and nothing recorded for yet, is acted on.
 * The database is only ever used as the filter's user, and by a child
 * process that has given root up for good (ctl_become_user): the file
 * belongs to that user, and a process that can still become root must
 * not read what that user can write. The root process itself only runs
 * postsuper, with a queue id a child found in the records. Each outcome
 * is recorded (state, who: the invoking user, and the sudo user behind
 * root; when) and logged to syslog.
 *
 * Postfix only: Sendmail keeps a quarantined message as an hf file in its
 * queue; what an administrator runs there is in sikkermail-ctl(8).
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "log.h"
#include "report.h"
#include "store.h"
#include "store_held.h"
#include "util.h"

#define QUEUE_ID_MAX 64
#define SENDMAIL_HINT "with Sendmail, list held messages with mailq -qQ, release one with " \
		      "sendmail -qQ -Q -qIQUEUEID, and delete one by removing its files in " \
		      "the queue directory (see sikkermail-ctl(8))"

/* What Postfix's queue says, when it could be asked. */
struct mta_queue {
	bool known;		/* postqueue -j answered */
	struct strlist hold;	/* queue ids in the hold queue */
	struct strlist other;	/* "ID QUEUE" of every other queued message */
};

struct held_walk {
	struct ctl *c;
	struct mta_queue *q;
	bool all;
	long long now;
	long shown;
	long still;
};

static void mta_queue_read(const char *config_dir, struct mta_queue *q);
static char *json_field(const char *line, const char *name);
static const char *other_queue(const struct mta_queue *q, const char *qid);
static bool in_hold(const struct mta_queue *q, const char *qid);

static int print_held(const struct held_message *h, void *arg);
static void put_clean(FILE *out, const char *label, const char *v);
static char *outcome_text(const struct held_message *h, const struct mta_queue *q, bool *still);
static void format_time(long long t, char *buf, size_t size);
static void format_age(long long secs, char *buf, size_t size);
static bool valid_queue_id(const char *qid);
static char *invoking_user(void);
/* One release or deletion, for the steps run as the filter's user. */
struct held_step {
	struct ctl *c;
	enum held_state what;
	const char *qid;
	const char *who;
};

static int act_on(struct ctl *c, const char *config_dir, enum held_state what, const char *qid,
		  const char *who);
static int as_filter_user(int (*fn)(const struct held_step *), const struct held_step *st);
static int check_held(const struct held_step *st);
static int record_outcome(const struct held_step *st);
static const char *verb_of(enum held_state what);
static int postsuper(const char *config_dir, enum held_state what, const char *qid, char **said);

/* ------------------------------------------------------------ held */

int ctl_held(struct ctl *c, int argc, char **argv)
{
	struct mta_queue q = { 0 };
	struct held_walk w = { .c = c, .q = &q, .now = (long long)time(NULL) };
	const char *config_dir = NULL;
	long long since = 0;
	struct store *s;
	int rc = CTL_EX_OK;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--all") == 0) {
			w.all = true;
		} else if (strcmp(argv[i], "--since") == 0 && i + 1 < argc) {
			if (report_day_start(argv[++i], (long long)time(NULL), &since) != 0) {
				msg_error("held: --since %.40s: not a date (YYYY-MM-DD, today, "
					  "yesterday or Nd)", argv[i]);
				return CTL_EX_USAGE;
			}
		} else if (strcmp(argv[i], "--config-dir") == 0 && i + 1 < argc) {
			config_dir = argv[++i];
		} else {
			return ctl_usage_error("held: unexpected argument \"%s\"", argv[i]);
		}
	}
	strlist_init(&q.hold);
	strlist_init(&q.other);
	/* Postfix first, as the invoking user: the database is read as the filter's */
	mta_queue_read(config_dir, &q);
	if ((s = ctl_open_store(c, STORE_RO)) == NULL) {
		rc = CTL_EX_TEMPFAIL;
		goto out;
	}
	if (store_held_each(s, since, w.now + 1, print_held, &w) != 0) {
		msg_error("%s", store_errmsg(s));
		rc = CTL_EX_TEMPFAIL;
	}
	store_close(s);
	if (rc == CTL_EX_OK)
		fprintf(c->out, "%ld held message%s shown, %ld still held%s\n", w.shown,
			w.shown == 1 ? "" : "s", w.still,
			q.known ? "" : " as far as sikkermail-ctl knows (the MTA was not asked)");
out:
	strlist_free(&q.hold);
	strlist_free(&q.other);
	return rc;
}

/*
 * mta_queue_read - the queue ids Postfix holds, from "postqueue -j" (one
 * JSON object per message and line). Not fatal when it cannot be run
 * (Sendmail, or no permission): the listing then says so.
 */
static void mta_queue_read(const char *config_dir, struct mta_queue *q)
{
	const char *argv[5];
	char *out, *line, *save = NULL;
	size_t n = 0;
	int st;

	argv[n++] = "postqueue";
	if (config_dir != NULL) {
		argv[n++] = "-c";
		argv[n++] = config_dir;
	}
	argv[n++] = "-j";
	argv[n] = NULL;
	out = ctl_run(argv, CTL_RUN_QUIET, &st);
	if (out == NULL || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		msg_warn("held: postqueue -j failed%s%s: whether each message is still in the "
			 "MTA's hold queue is not known; %s", out == NULL ? ": " : "",
			 out == NULL ? strerror(errno) : "", SENDMAIL_HINT);
		free(out);
		return;
	}
	q->known = true;
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *id = json_field(line, "queue_id"), *queue = json_field(line, "queue_name");

		if (id != NULL && queue != NULL) {
			if (strcmp(queue, "hold") == 0)
				strlist_add(&q->hold, id);
			else
				strlist_addf(&q->other, "%s %s", id, queue);
		}
		free(id);
		free(queue);
	}
	free(out);
}

/*
 * json_field - the string value of "name": "..." in one of postqueue's
 * lines; queue ids and queue names hold no escapes. NULL if absent.
 */
static char *json_field(const char *line, const char *name)
{
	char *key = xasprintf("\"%s\":", name);
	const char *p = strstr(line, key), *end;

	if (p != NULL) {
		p += strlen(key);
		p += strspn(p, " ");
	}
	free(key);
	if (p == NULL || *p != '"' || (end = strchr(p + 1, '"')) == NULL)
		return NULL;
	return xstrndup(p + 1, (size_t)(end - p - 1));
}

/* other_queue - the queue other than hold that holds qid, or NULL. */
static const char *other_queue(const struct mta_queue *q, const char *qid)
{
	size_t len = strlen(qid);

	for (size_t i = 0; i < q->other.n; i++)
		if (strncmp(q->other.v[i], qid, len) == 0 && q->other.v[i][len] == ' ')
			return q->other.v[i] + len + 1;
	return NULL;
}

static bool in_hold(const struct mta_queue *q, const char *qid)
{
	for (size_t i = 0; i < q->hold.n; i++)
		if (strcmp(q->hold.v[i], qid) == 0)
			return true;
	return false;
}

/* print_held - one held message as a block: reference, time, age, sender, recipients, outcome. */
static int print_held(const struct held_message *h, void *arg)
{
	struct held_walk *w = arg;
	FILE *out = w->c->out;
	char when[32], age[32];
	bool still = false;
	char *outcome = outcome_text(h, w->q, &still);

	w->still += still;
	if (!still && !w->all) {
		free(outcome);
		return 0;
	}
	format_time(h->time, when, sizeof(when));
	format_age(w->now - h->time, age, sizeof(age));
	fprintf(out, "%sref %s  held %s (%s ago)\n", w->shown > 0 ? "\n" : "",
		h->queue_id ? h->queue_id : "(none)", when, age);
	put_clean(out, "sender",
		  h->sender == NULL ? "-" : h->sender[0] ? h->sender : "<>");
	if (h->message_id != NULL)
		put_clean(out, "message-id", h->message_id);
	for (size_t i = 0; i < h->n_rcpts; i++) {
		const struct held_rcpt *r = &h->rcpts[i];
		char *addr = report_clean(r->address), *ev = report_clean(r->evidence);

		fprintf(out, "  recipient: %s (%s), rule %s: %s\n", addr, r->cls,
			r->rule ? r->rule : "-", ev ? ev : "no evidence recorded");
		free(addr);
		free(ev);
	}
	put_clean(out, "outcome", outcome);
	w->shown++;
	free(outcome);
	return 0;
}

/*
 * put_clean - "  label: value", the recorded value as the report
 * prints it: control characters written \xHH, CPR-shaped numbers
 * masked (a sender or Message-ID may carry one).
 */
static void put_clean(FILE *out, const char *label, const char *v)
{
	char *clean = report_clean(v);

	fprintf(out, "  %s: %s\n", label, clean);
	free(clean);
}

/*
 * outcome_text - what became of it: the recorded release or deletion, else
 * what Postfix's queue says; *still: it is still waiting for a decision.
 */
static char *outcome_text(const struct held_message *h, const struct mta_queue *q, bool *still)
{
	const char *queue;
	char at[32];

	*still = false;
	if (h->state != HELD_WAITING) {
		format_time(h->at, at, sizeof(at));
		return xasprintf("%s by %s at %s", held_state_name(h->state), h->by ? h->by : "?",
				 at);
	}
	if (!q->known) {
		*still = true;
		return xstrdup("held (no release or deletion recorded; the MTA was not asked)");
	}
	if (h->queue_id != NULL && in_hold(q, h->queue_id)) {
		*still = true;
		return xstrdup("held (in the hold queue)");
	}
	if (h->queue_id != NULL && (queue = other_queue(q, h->queue_id)) != NULL)
		return xasprintf("no longer held (released, not by sikkermail-ctl; now in the %s "
				 "queue)", queue);
	return xstrdup("no longer held (not by sikkermail-ctl)");
}

static void format_time(long long t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL || strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, size, "%lld", t);
}

/* format_age - "45s", "12m", "3h 20m", "2d 4h". */
static void format_age(long long secs, char *buf, size_t size)
{
	if (secs < 0)
		secs = 0;
	if (secs < 60)
		snprintf(buf, size, "%llds", secs);
	else if (secs < 3600)
		snprintf(buf, size, "%lldm", secs / 60);
	else if (secs < 86400)
		snprintf(buf, size, "%lldh %lldm", secs / 3600, secs % 3600 / 60);
	else
		snprintf(buf, size, "%lldd %lldh", secs / 86400, secs % 86400 / 3600);
}

/* ------------------------------------------------------------ release, delete */

int ctl_release_or_delete(struct ctl *c, int argc, char **argv)
{
	enum held_state what = strcmp(argv[0], "release") == 0 ? HELD_RELEASED : HELD_DELETED;
	const char *config_dir = NULL;
	char *who;
	bool failed = false, tempfail = false;
	int i = 1;

	if (i + 1 < argc && strcmp(argv[i], "--config-dir") == 0) {
		config_dir = argv[i + 1];
		i += 2;
	}
	if (i >= argc)
		return ctl_usage_error("%s: expected %s [--config-dir DIR] QUEUEID...", argv[0],
				       argv[0]);
	for (int j = i; j < argc; j++)
		if (!valid_queue_id(argv[j]))
			return ctl_usage_error("%s: \"%s\" is not a queue id", argv[0], argv[j]);
	if (geteuid() != 0) {
		msg_error("%s: must be run as root (Postfix's postsuper(1) %s the message only for "
			  "root): run it as root or through sudo",
			  argv[0], what == HELD_RELEASED ? "releases" : "deletes");
		return CTL_EX_ERROR;
	}
	who = invoking_user();
	for (; i < argc; i++) {
		int rc = act_on(c, config_dir, what, argv[i], who);

		failed |= rc == CTL_EX_ERROR;
		tempfail |= rc == CTL_EX_TEMPFAIL;
	}
	free(who);
	return tempfail ? CTL_EX_TEMPFAIL : failed ? CTL_EX_ERROR : CTL_EX_OK;
}

/* valid_queue_id - letters and digits only: never an option or "ALL" for postsuper. */
static bool valid_queue_id(const char *qid)
{
	size_t n = strlen(qid);

	if (n == 0 || n > QUEUE_ID_MAX || strcmp(qid, "ALL") == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)qid[i]))
			return false;
	return true;
}

/* invoking_user - "alice", or "alice (sudo)" when root was reached through sudo. */
static char *invoking_user(void)
{
	const char *sudo = getenv("SUDO_USER");
	struct passwd *pw = getpwuid(getuid());

	if (getuid() == 0 && sudo != NULL && sudo[0] != '\0')
		return xasprintf("%s (sudo)", sudo);
	if (pw != NULL)
		return xstrdup(pw->pw_name);
	return xasprintf("uid %ld", (long)getuid());
}

/*
 * act_on - one queue id: a child, as the filter's user, refuses one the
 * filter did not hold, or already released or deleted; then postsuper,
 * as root; then a child records and logs the outcome.
 */
static int act_on(struct ctl *c, const char *config_dir, enum held_state what, const char *qid,
		  const char *who)
{
	struct held_step st = { c, what, qid, who };
	char *said = NULL;
	int rc;

	if ((rc = as_filter_user(check_held, &st)) != CTL_EX_OK)
		return rc;
	if (postsuper(config_dir, what, qid, &said) != 0) {
		msg_error("%s: not %s: %s", qid, verb_of(what), said);
		free(said);
		return CTL_EX_ERROR;
	}
	if ((rc = as_filter_user(record_outcome, &st)) != CTL_EX_OK)
		return rc;
	fprintf(c->out, "%s: %s%s\n", qid, verb_of(what),
		what == HELD_RELEASED ? " from the hold queue; Postfix delivers it now"
				      : " from the hold queue");
	return CTL_EX_OK;
}

static const char *verb_of(enum held_state what)
{
	return what == HELD_RELEASED ? "released" : "deleted";
}

/*
 * as_filter_user - fn in a child process that has become UserID for good;
 * its exit code (a CTL_EX_ value), CTL_EX_TEMPFAIL if it could not run.
 */
static int as_filter_user(int (*fn)(const struct held_step *), const struct held_step *st)
{
	pid_t pid;
	int status;

	fflush(NULL);	/* nothing buffered is written twice */
	if ((pid = fork()) < 0) {
		msg_error("cannot fork: %s", strerror(errno));
		return CTL_EX_TEMPFAIL;
	}
	if (pid == 0) {
		int rc = ctl_become_user(st->c->cfg) == 0 ? fn(st) : CTL_EX_ERROR;

		fflush(NULL);
		exit(rc);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			msg_error("cannot wait for a child: %s", strerror(errno));
			return CTL_EX_TEMPFAIL;
		}
	return WIFEXITED(status) ? WEXITSTATUS(status) : CTL_EX_TEMPFAIL;
}

/* check_held - (as the filter's user) is qid a held message with nothing recorded yet? */
static int check_held(const struct held_step *st)
{
	struct held_message h;
	struct store *s;
	enum lookup r;
	char at[32];
	int rc = CTL_EX_OK;

	if ((s = ctl_open_store(st->c, STORE_RO)) == NULL)
		return CTL_EX_TEMPFAIL;
	r = store_held_find(s, st->qid, &h);
	if (r == LOOKUP_RETRY) {
		msg_error("%s: %s; not %s", st->qid, store_errmsg(s), verb_of(st->what));
		store_close(s);
		return CTL_EX_TEMPFAIL;
	}
	if (r == LOOKUP_NOTFOUND) {
		msg_error("%s: not a message sikkermail held (no such held message in %s); not %s",
			  st->qid, st->c->database, verb_of(st->what));
		store_close(s);
		return CTL_EX_ERROR;
	}
	if (h.state != HELD_WAITING) {
		format_time(h.at, at, sizeof(at));
		msg_error("%s: already %s by %s at %s; nothing done", st->qid,
			  held_state_name(h.state), h.by ? h.by : "?", at);
		rc = CTL_EX_ERROR;
	}
	held_message_free(&h);
	store_close(s);
	return rc;
}

/* record_outcome - (as the filter's user) record and log what postsuper did. */
static int record_outcome(const struct held_step *st)
{
	struct held_message h;
	struct store *s;
	enum lookup r = LOOKUP_RETRY;

	if ((s = ctl_open_store(st->c, STORE_RW_EXISTING)) == NULL ||
	    (r = store_held_find(s, st->qid, &h)) != LOOKUP_FOUND ||
	    store_held_record(s, h.id, st->what, st->who, (long long)time(NULL)) != 0) {
		msg_error("%s: %s, but not recorded: %s", st->qid, verb_of(st->what),
			  s ? store_errmsg(s) : "the database could not be opened");
		msg_warn("held queue_id=%s state=%s by=%s unrecorded=yes", st->qid,
			 held_state_name(st->what), st->who);
		if (s != NULL && r == LOOKUP_FOUND)
			held_message_free(&h);
		store_close(s);
		return CTL_EX_TEMPFAIL;
	}
	msg_notice("held queue_id=%s state=%s by=%s sender=%s held_at=%lld", st->qid,
		   held_state_name(st->what), st->who,
		   h.sender && h.sender[0] ? h.sender : "<>", h.time);
	held_message_free(&h);
	store_close(s);
	return CTL_EX_OK;
}

/*
 * postsuper - release (-H) or delete (-d ... hold) one queue id, as root.
 * postsuper exits 0 even when the id is not in the hold queue: its own
 * count says whether it acted. 0, or -1 with *said explaining.
 */
static int postsuper(const char *config_dir, enum held_state what, const char *qid, char **said)
{
	const char *argv[8];
	const char *want = what == HELD_RELEASED ? "Released from hold: 1 message"
						 : "Deleted: 1 message";
	char *out;
	size_t n = 0;
	int st;

	argv[n++] = "postsuper";
	if (config_dir != NULL) {
		argv[n++] = "-c";
		argv[n++] = config_dir;
	}
	argv[n++] = what == HELD_RELEASED ? "-H" : "-d";
	argv[n++] = qid;
	if (what == HELD_DELETED)
		argv[n++] = "hold";
	argv[n] = NULL;
	out = ctl_run(argv, CTL_RUN_MERGE, &st);
	if (out == NULL) {
		*said = xasprintf("cannot run postsuper: %s; %s", strerror(errno), SENDMAIL_HINT);
		return -1;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && strstr(out, want) != NULL) {
		free(out);
		return 0;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		*said = xasprintf("it is not in Postfix's hold queue (released or deleted outside "
				  "sikkermail-ctl?)");
	else
		*said = xasprintf("postsuper failed: %s", out[0] ? out : "no message");
	for (char *p = *said; *p; p++)
		if (*p == '\n')
			*p = ' ';
	free(out);
	return -1;
}

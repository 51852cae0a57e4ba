/*
 * t_held.c - unit tests for the held messages in the store
 * (store_held.c) on a temporary file: only decisions held in enforce
 * mode are held messages, with only their held recipients; a recorded
 * release or deletion is read back with who and when, replaces an earlier
 * one, and belongs to the decision, not to a queue id that Postfix gives
 * again later; a queue id the filter never held is not found; deleting
 * the decision takes its outcome with it. The report shows a held
 * message's release or deletion in every format. HoldNotice tells only a
 * trusted internal sender of an enforced hold, in both languages, with
 * the reference.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "decision.h"
#include "held_notice.h"
#include "report.h"
#include "store.h"
#include "store_held.h"
#include "tap.h"
#include "util.h"

static char dir[] = "/tmp/t_held.XXXXXX";

static void add_rcpt(struct decision *d, const char *addr, enum rclass cls, enum action a,
		     const char *rule, const char *evidence)
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
	r->rule = rule;
	r->evidence = evidence ? xstrdup(evidence) : NULL;
}

/* record - a personal message to a TLS domain and an internal one, handled as applied. */
static void record(struct store *s, long long t, const char *qid, enum mode mode,
		   enum action applied)
{
	struct decision d;

	decision_init(&d);
	d.time = t;
	d.queue_id = xstrdup(qid);
	d.message_id = xasprintf("<%s@kp.dk>", qid);
	d.sender = xstrdup("alice@kp.dk");
	d.trusted = true;
	d.personal = true;
	d.psrc = PSRC_HEADER;
	d.mode = mode;
	add_rcpt(&d, "carol@kp.dk", CLASS_INTERNAL, ACTION_DELIVER, "internal", NULL);
	add_rcpt(&d, "bob@example.org", CLASS_TLS, ACTION_HOLD, "PersonalToTLS",
		 "no tunnel, partner or certificate");
	d.action = ACTION_HOLD;
	d.applied = applied;
	d.rule = "PersonalToTLS";
	ok(store_record_decision(s, &d) == 0, "decision %s recorded", qid);
	decision_free(&d);
}

struct walk {
	int n;
	char log[1000];
};

static int collect(const struct held_message *h, void *arg)
{
	struct walk *w = arg;
	size_t len = strlen(w->log);

	snprintf(w->log + len, sizeof(w->log) - len, "%lld %s %s %s %s %zu:", h->time, h->queue_id,
		 h->sender, h->rule, held_state_name(h->state), h->n_rcpts);
	for (size_t i = 0; i < h->n_rcpts; i++) {
		len = strlen(w->log);
		snprintf(w->log + len, sizeof(w->log) - len, "%s/%s/%s/%s;", h->rcpts[i].address,
			 h->rcpts[i].cls, h->rcpts[i].rule,
			 h->rcpts[i].evidence ? h->rcpts[i].evidence : "-");
	}
	len = strlen(w->log);
	snprintf(w->log + len, sizeof(w->log) - len, "%s@%lld|", h->by ? h->by : "-", h->at);
	w->n++;
	return 0;
}

static void test_listing(struct store *s)
{
	struct walk w = { 0 };

	record(s, 1000, "AAA111", MODE_ENFORCE, ACTION_HOLD);
	record(s, 1001, "BBB222", MODE_MONITOR, ACTION_DELIVER);	/* only logged */
	record(s, 1002, "CCC333", MODE_ENFORCE, ACTION_HOLD);
	record(s, 1003, "DDD444", MODE_ENFORCE, ACTION_TEMPFAIL);	/* hold failed */
	ok(store_held_each(s, 0, 5000, collect, &w) == 0, "walk the held messages");
	is_int(w.n, 2, "only the enforced holds are held messages");
	is_str(w.log,
	       "1000 AAA111 alice@kp.dk PersonalToTLS held 1:bob@example.org/tls/PersonalToTLS/"
	       "no tunnel, partner or certificate;-@0|"
	       "1002 CCC333 alice@kp.dk PersonalToTLS held 1:bob@example.org/tls/PersonalToTLS/"
	       "no tunnel, partner or certificate;-@0|",
	       "each with its held recipients only, and no outcome yet");
	memset(&w, 0, sizeof(w));
	ok(store_held_each(s, 1001, 5000, collect, &w) == 0 && w.n == 1 &&
		   strncmp(w.log, "1002 CCC333", 11) == 0,
	   "since limits the walk");
}

static void test_outcomes(struct store *s)
{
	struct held_message h;
	struct walk w = { 0 };

	is_int(store_held_find(s, "BBB222", &h), LOOKUP_NOTFOUND,
	       "a message only logged in monitor mode was not held");
	is_int(store_held_find(s, "ZZZ999", &h), LOOKUP_NOTFOUND, "an unknown queue id is not found");
	is_int(store_held_find(s, "AAA111", &h), LOOKUP_FOUND, "a held queue id is found");
	is_int(h.state, HELD_WAITING, "still held");
	ok(store_held_record(s, h.id, HELD_RELEASED, "root (sudo: alice)", 2000) == 0,
	   "release recorded");
	held_message_free(&h);
	is_int(store_held_find(s, "AAA111", &h), LOOKUP_FOUND, "found again");
	ok(h.state == HELD_RELEASED && h.by && strcmp(h.by, "root (sudo: alice)") == 0 &&
		   h.at == 2000,
	   "the release is read back with who and when");
	ok(store_held_record(s, h.id, HELD_DELETED, "bob", 2100) == 0, "a later outcome recorded");
	held_message_free(&h);
	store_held_find(s, "AAA111", &h);
	ok(h.state == HELD_DELETED && strcmp(h.by, "bob") == 0 && h.at == 2100,
	   "the later outcome replaces the earlier");
	held_message_free(&h);

	/* Postfix gives the short queue id AAA111 to a later message, held too */
	record(s, 3000, "AAA111", MODE_ENFORCE, ACTION_HOLD);
	is_int(store_held_find(s, "AAA111", &h), LOOKUP_FOUND, "the reused queue id is found");
	ok(h.time == 3000 && h.state == HELD_WAITING,
	   "it is the newer message, and the older one's deletion is not its outcome");
	held_message_free(&h);
	ok(store_held_each(s, 0, 5000, collect, &w) == 0 && w.n == 3, "three held messages");
	ok(strstr(w.log, "1000 AAA111 alice@kp.dk PersonalToTLS deleted") != NULL &&
		   strstr(w.log, "bob@2100|") != NULL,
	   "the walk shows the recorded outcome: %s", w.log);
	ok(store_held_record(s, 1, (enum held_state)7, "x", 1) != 0, "a bad state is refused");
}

/* held_decision - an enforced hold of a personal message from sender, trusted or not. */
static void held_decision(struct decision *d, const char *sender, bool trusted)
{
	decision_init(d);
	d->time = 1774692000;
	d->queue_id = xstrdup("4dQ7Xb1zKz");
	d->message_id = xstrdup("<m@kp.dk>");
	d->sender = xstrdup(sender);
	d->trusted = trusted;
	d->personal = true;
	d->mode = MODE_ENFORCE;
	add_rcpt(d, "carol@kp.dk", CLASS_INTERNAL, ACTION_DELIVER, "internal", NULL);
	add_rcpt(d, "bob@example.org", CLASS_TLS, ACTION_HOLD, "PersonalToTLS",
		 "no tunnel, partner or certificate");
	d->action = d->applied = ACTION_HOLD;
	d->rule = "PersonalToTLS";
}

static void test_notice(void)
{
	static const struct {
		const char *conf, *sender;
		bool trusted, want;
		const char *name;
	} cases[] = {
		{ "HoldNotice yes", "alice@kp.dk", true, true, "a trusted internal sender is told" },
		{ "HoldNotice no", "alice@kp.dk", true, false, "not without HoldNotice" },
		{ "HoldNotice yes", "alice@kp.dk", false, false, "not an untrusted client" },
		{ "HoldNotice yes", "alice@gmail.com", true, false, "not an outside address" },
		{ "HoldNotice yes", "<>", true, false, "never the null sender" },
		{ "HoldNotice yes", "", true, false, "never an empty sender" },
		{ "HoldNotice yes", "Postmaster@kp.dk", true, false, "never postmaster" },
		{ "HoldNotice yes", "mailer-daemon@kp.dk", true, false, "never MAILER-DAEMON" },
		{ "HoldNotice yes", "x@sub.kp.dk", true, true, "a subdomain in InternalDomains" },
	};
	struct strlist errors;
	struct decision d;
	char *subject, *body;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = xasprintf("InternalDomains kp.dk, .kp.dk\n%s\n", cases[i].conf);
		struct config *cfg;

		strlist_init(&errors);
		cfg = config_parse("t", text, strlen(text), &errors);
		held_decision(&d, cases[i].sender, cases[i].trusted);
		ok(cfg != NULL && held_notice_wanted(cfg, &d) == cases[i].want, "%s", cases[i].name);
		if (cfg != NULL && i == 0) {
			d.mode = MODE_MONITOR;
			d.applied = ACTION_DELIVER;
			ok(!held_notice_wanted(cfg, &d), "not for a hold only logged in monitor mode");
			d.mode = MODE_ENFORCE;
			d.applied = ACTION_HOLD;
			/* refused before anything is handed to the MTA: no mailboxes, no store */
			d.unrecorded = true;
			is_int(held_notice_send(cfg, NULL, NULL, &d, 100), -1,
			       "not sent for a hold that could not be recorded");
			d.unrecorded = false;
			is_int(held_notice_send(cfg, NULL, NULL, &d, HELD_NOTICE_TIMEOUT_MIN - 1), -1,
			       "not sent with DecisionTimeout all but spent");
		}
		decision_free(&d);
		config_unref(cfg);
		strlist_free(&errors);
		free(text);
	}
	{
		struct config *cfg;
		const char *text = "InternalDomains kp.dk\nHelpURL https://kp.dk/hjaelp\n";

		strlist_init(&errors);
		cfg = config_parse("t", text, strlen(text), &errors);
		held_decision(&d, "alice@kp.dk", true);
		subject = held_notice_subject(&d);
		body = held_notice_body(cfg, &d);
		is_str(subject, "Besked tilbageholdt / Message held for review (ref 4dQ7Xb1zKz)",
		       "the subject, in both languages, with the reference");
		ok(strstr(body, "tilbageholdt og venter p\xc3\xa5 gennemsyn") != NULL &&
			   strstr(body, "It is held for review") != NULL,
		   "the body says it in Danish and in English");
		ok(strstr(body, "Reference:          4dQ7Xb1zKz\n") != NULL, "the body has the reference");
		ok(strstr(body, "bob@example.org (tls): no tunnel, partner or certificate") != NULL &&
			   strstr(body, "carol@kp.dk") == NULL,
		   "it names the held recipient with its evidence, and only that one");
		ok(strstr(body, "https://kp.dk/hjaelp") != NULL, "and the HelpURL");
		free(subject);
		free(body);
		decision_free(&d);
		config_unref(cfg);
		strlist_free(&errors);
	}
}

/* test_report - the outcome field of a held message, released, in every format. */
static void test_report(void)
{
	static void (*const writers[])(const struct report *, FILE *) = {
		report_write_text, report_write_csv, report_write_json, report_write_html,
	};
	static const char *const names[] = { "text", "csv", "json", "html" };
	struct report r;
	struct decision d;
	const char *err;

	ok(report_init(&r, "2026-03-28", "2026-03-28", 0, 1774692000, &err) == 0, "report made");
	held_decision(&d, "alice@kp.dk", true);
	report_add(&r, &d, NULL);
	decision_free(&d);
	held_decision(&d, "alice@kp.dk", true);
	free(d.queue_id);
	d.queue_id = xstrdup("OTHER1");
	d.time += 60;
	report_add(&r, &d, NULL);
	decision_free(&d);
	report_set_outcome(&r, "4dQ7Xb1zKz", 1774692000, "released", "alice (sudo)", 1774695600);
	report_finish(&r);
	for (size_t i = 0; i < 4; i++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		writers[i](&r, f);
		fclose(f);
		/* the page's own words and its local time format; the others the ISO time */
		ok(strstr(buf, i == 3 ? "released by alice (sudo) at 2026-03-28 "
				      : "released by alice (sudo) at 2026-03-28T") != NULL,
		   "%s: the release, by whom and when", names[i]);
		ok(i == 3 || strstr(buf, "held by") == NULL, "%s: no outcome made up", names[i]);
		if (i == 0)
			ok(strstr(buf, "  outcome:    held\n") != NULL,
			   "text: the other one is still held");
		if (i == 1)
			ok(strstr(buf, ",reason,outcome\n") != NULL, "csv: an outcome column, the last");
		if (i == 2)
			ok(strstr(buf, "\"outcome\":\"held\"") != NULL, "json: the other one is held");
		free(buf);
	}
	{
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		r.lang = REPORT_DA;
		report_write_html(&r, f);
		fclose(f);
		ok(strstr(buf, "frigivet af alice (sudo) kl. 2026-03-28 ") != NULL,
		   "html in Danish: the release in Danish");
		free(buf);
	}
	report_free(&r);
}

static void cleanup(void)
{
	static const char *const names[] = { "held.db", "held.db-wal", "held.db-shm" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *p = xasprintf("%s/%s", dir, names[i]);
		unlink(p);
		free(p);
	}
	if (rmdir(dir) != 0)
		diag("cannot remove %s: %s", dir, strerror(errno));
}

int main(void)
{
	char *path, *err = NULL;
	struct store *s;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	path = xasprintf("%s/held.db", dir);
	s = store_open(path, STORE_RW, &err);
	ok(s != NULL, "database created%s%s", err ? ": " : "", err ? err : "");
	if (s != NULL) {
		test_listing(s);
		test_outcomes(s);
		store_close(s);
	}
	test_notice();
	test_report();
	free(err);
	free(path);
	cleanup();
	return done_testing();
}

/*
 * t_report.c - the compliance report's aggregation: CPR masking and
 * cleaning of every string, dates and local days (a 23-hour day when
 * daylight saving starts), relative dates, the counts, the listing of
 * stopped messages (a whole message refused with all its recipients and
 * why), the listing of CPR findings, the top lists, and what the writers
 * make of hostile strings, separators, empty days and the two languages.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report.h"
#include "tap.h"

/* Central European time with its daylight saving rule, so no tzdata is needed. */
#define TEST_TZ "CET-1CEST,M3.5.0,M10.5.0/3"
#define MAR28 1774652400LL	/* 2026-03-28 00:00 CET */
#define MAR29 1774738800LL	/* 2026-03-29 00:00 CET; 23 hours long */
#define MAR30 1774821600LL	/* 2026-03-30 00:00 CEST */
#define MAR31 1774908000LL

static const struct {
	const char *in;
	const char *want;
} clean_cases[] = {
	{ "0101901234", "010190-****" },
	{ "010190-1234", "010190-****" },
	{ "cpr0101901234@kp.dk", "cpr010190-****@kp.dk" },
	{ "<010190-1234.x@kp.dk>", "<010190-****.x@kp.dk>" },
	{ "a 2902001234 b", "a 290200-**** b" },		/* 29 February: any year */
	{ "cpr 2 (0101901234, 311299-9999)", "cpr 2 (010190-****, 311299-****)" },
	{ "00101901234", "00101901234" },			/* 11 digits: not a CPR */
	{ "+45 0101901234 5", "+45 010190-**** 5" },
	{ "1764400000.123@host", "1764400000.123@host" },	/* month 64: a timestamp */
	{ "3102901234", "3102901234" },			/* 31 February */
	{ "010190-12345", "010190-12345" },
	{ "0101901-1234", "0101901-1234" },
	{ "010190--1234", "010190--1234" },
	{ "010190 1234", "010190 1234" },
	{ "a 010190\342\200\2231234 b", "a 010190-**** b" },		/* en dash */
	{ "010190\342\210\2221234", "010190-****" },			/* minus sign */
	{ "010190\342\200\2241234", "010190\342\200\2241234" },	/* em dash: not a CPR dash */
	{ "0101901234-1234", "010190-****-1234" },
	{ "a\001b", "a\\x01b" },
	{ "\377x", "\\xffx" },
	{ "K\303\270benhavn", "K\303\270benhavn" },		/* UTF-8 kept */
	{ "\302\205", "\\xc2\\x85" },				/* C1 control NEL */
	{ "\001" "01901234", "\\x010190-****" },		/* digits the escape makes count too */
	{ "", "" },
};

static const struct {
	const char *s;
	int ok;
} date_cases[] = {
	{ "2026-03-28", 1 }, { "2024-02-29", 1 }, { "2000-02-29", 1 }, { "1970-01-01", 1 },
	{ "2026-02-29", 0 }, { "1900-02-29", 0 }, { "2026-13-01", 0 }, { "2026-00-10", 0 },
	{ "2026-04-31", 0 }, { "2026-1-01", 0 }, { "26-03-28", 0 }, { "2026-03-28x", 0 },
	{ "1969-12-31", 0 }, { "2026/03/28", 0 }, { "", 0 }, { "2026-03-2a", 0 },
};

static void add_rcpt(struct decision *d, const char *full, enum rclass cls, enum action act,
		     const char *rule)
{
	struct rcpt *r = decision_add_rcpt(d, full, NULL);
	const char *at = strrchr(full, '@');

	r->addr.full = strdup(full);
	r->addr.local = strndup(full, at ? (size_t)(at - full) : 0);
	r->addr.domain = strdup(at ? at + 1 : "");
	r->cls = cls;
	r->action = act;
	r->rule = rule;
}

static void make(struct decision *d, long long t, const char *qid, const char *sender,
		 bool personal, enum mode mode, enum action action, const char *rule)
{
	decision_init(d);
	d->time = t;
	d->queue_id = strdup(qid);
	d->message_id = strdup("<m@kp.dk>");
	d->sender = strdup(sender);
	d->personal = personal;
	d->psrc = personal ? PSRC_HEADER : PSRC_NONE;
	d->personal_why = personal ? strdup("header yes") : NULL;
	d->mode = mode;
	d->action = action;
	d->applied = mode == MODE_MONITOR ? ACTION_DELIVER : action;
	d->rule = rule;
}

/* feed - the test set; added out of time order on purpose. */
static void feed(struct report *r)
{
	struct decision d;

	make(&d, MAR29 + 9 * 3600, "Q5", "a@kp.dk", true, MODE_MONITOR, ACTION_REJECT,
	     "PersonalToFreemail");
	add_rcpt(&d, "q@hotmail.com", CLASS_FREEMAIL, ACTION_REJECT, "PersonalToFreemail");
	report_add(r, &d, "mx2");
	decision_free(&d);

	make(&d, MAR28 + 10 * 3600, "Q1", "a@kp.dk", true, MODE_ENFORCE, ACTION_REJECT,
	     "PersonalToFreemail");
	add_rcpt(&d, "x@gmail.com", CLASS_FREEMAIL, ACTION_REJECT, "PersonalToFreemail");
	add_rcpt(&d, "u@kp.dk", CLASS_INTERNAL, ACTION_DELIVER, "internal");
	report_add(r, &d, "mx1");
	decision_free(&d);

	make(&d, MAR28 + 11 * 3600, "Q2", "b@kp.dk", true, MODE_ENFORCE, ACTION_HOLD,
	     "PersonalToTLS");
	add_rcpt(&d, "y@firma.example", CLASS_TLS, ACTION_HOLD, "PersonalToTLS");
	report_add(r, &d, "mx1");
	decision_free(&d);

	make(&d, MAR28 + 12 * 3600, "Q3", "c@kp.dk", false, MODE_ENFORCE, ACTION_DELIVER,
	     "not-personal");
	add_rcpt(&d, "z@gmail.com", CLASS_FREEMAIL, ACTION_DELIVER, "not-personal");
	add_rcpt(&d, "w@kommune.dk", CLASS_TUNNEL, ACTION_DELIVER, "not-personal");
	report_add(r, &d, "mx1");
	decision_free(&d);

	/* the last second of the 23-hour day, and the first of the next */
	make(&d, MAR30 - 1, "Q7", "d@kp.dk", true, MODE_ENFORCE, ACTION_TEMPFAIL,
	     "OnLookupFailure");
	add_rcpt(&d, "r@slow.example", CLASS_UNKNOWN, ACTION_TEMPFAIL, "OnLookupFailure");
	report_add(r, &d, NULL);
	decision_free(&d);

	make(&d, MAR30, "Q8", "cpr0101901234@kp.dk", true, MODE_ENFORCE, ACTION_REJECT,
	     "PersonalToFreemail");
	d.cpr_hits = 2;
	add_rcpt(&d, "2311850123@gmail.com", CLASS_FREEMAIL, ACTION_REJECT, "PersonalToFreemail");
	add_rcpt(&d, "p@lon.example.dk", CLASS_PARTNER, ACTION_DELIVER, "PersonalToPartner");
	report_add(r, &d, "");
	decision_free(&d);

	/* outside the period on both sides */
	make(&d, MAR28 - 1, "QB", "a@kp.dk", true, MODE_ENFORCE, ACTION_REJECT, "");
	report_add(r, &d, NULL);
	decision_free(&d);
	make(&d, MAR31, "QA", "a@kp.dk", true, MODE_ENFORCE, ACTION_REJECT, "");
	report_add(r, &d, NULL);
	decision_free(&d);
}

static void test_clean(void)
{
	for (size_t i = 0; i < sizeof(clean_cases) / sizeof(clean_cases[0]); i++) {
		char *got = report_clean(clean_cases[i].in);

		is_str(got, clean_cases[i].want, "report_clean case %zu", i);
		free(got);
	}
	ok(report_clean(NULL) == NULL, "report_clean(NULL) is NULL");
}

static void test_dates(void)
{
	struct report r;
	const char *err;
	int y, m, d;

	for (size_t i = 0; i < sizeof(date_cases) / sizeof(date_cases[0]); i++)
		is_int(report_parse_date(date_cases[i].s, &y, &m, &d) == 0, date_cases[i].ok,
		       "date \"%s\"", date_cases[i].s);
	ok(report_init(&r, "2026-03-28", "2026-03-30", 10, MAR31, &err) == 0, "init 3 days");
	is_int((long long)r.n_days, 3, "three days");
	is_int(r.days[1].start, MAR29, "second day starts at local midnight");
	is_int(r.days[2].start - r.days[1].start, 23 * 3600, "29 March 2026 has 23 hours");
	is_int(r.t_until, MAR31, "the period ends at the end of its last day");
	is_str(r.days[2].date, "2026-03-30", "last day named");
	report_free(&r);

	ok(report_init(&r, NULL, NULL, 10, MAR30 + 3600, &err) == 0, "defaults");
	is_int((long long)r.n_days, 30, "default: 30 days");
	is_str(r.until, "2026-03-30", "default: until today");
	is_str(r.since, "2026-03-01", "default: since 29 days before");
	report_free(&r);
	ok(report_init(&r, NULL, "2026-03-10", 10, MAR30, &err) == 0 &&
		   strcmp(r.since, "2026-02-09") == 0, "only --until: the 30 days to it");
	report_free(&r);

	ok(report_init(&r, "2026-03-30", "2026-03-28", 10, MAR31, &err) != 0 && err != NULL,
	   "since after until refused");
	report_free(&r);
	ok(report_init(&r, "2000-01-01", "2026-03-28", 10, MAR31, &err) != 0, "26 years refused");
	report_free(&r);
	ok(report_init(&r, "2026-02-30", NULL, 10, MAR31, &err) != 0, "a bad date refused");
	report_free(&r);
}

static void test_counts(void)
{
	struct report r;
	const char *err;

	report_init(&r, "2026-03-28", "2026-03-30", 2, MAR31, &err);
	feed(&r);
	report_finish(&r);
	is_int(r.total.messages, 6, "six messages in the period");
	is_int(r.outside, 2, "two outside");
	is_int(r.days[0].messages, 3, "28 March: three");
	is_int(r.days[1].messages, 2, "29 March: two (the last second counts)");
	is_int(r.days[2].messages, 1, "30 March: one (its first second)");
	is_int(r.total.personal, 5, "five personal");
	is_int(r.total.cpr, 1, "one with CPR numbers");
	is_int(r.total.applied[ACTION_DELIVER], 2, "delivered: monitor and not personal");
	is_int(r.total.applied[ACTION_REJECT], 2, "rejected");
	is_int(r.total.applied[ACTION_HOLD], 1, "held");
	is_int(r.total.applied[ACTION_TEMPFAIL], 1, "tempfailed");
	is_int(r.total.monitor, 1, "one in monitor mode");
	is_int(r.total.would[ACTION_REJECT], 1, "which would have been rejected");
	is_int(r.days[1].would[ACTION_REJECT], 1, "on 29 March");
	is_int(r.total.rcpts[CLASS_FREEMAIL], 4, "four freemail recipients");
	is_int(r.total.personal_rcpts[CLASS_FREEMAIL], 3, "three of personal messages");
	is_int(r.routes[CLASS_FREEMAIL].action[ACTION_REJECT], 3, "route freemail: 3 rejects");
	is_int(r.routes[CLASS_PARTNER].action[ACTION_DELIVER], 1, "route partner: 1 deliver");
	is_int(r.routes[CLASS_TUNNEL].rcpts, 0, "tunnel recipient of a non-personal message: no route");

	is_int((long long)r.n_events, 4, "four stopped messages");
	is_str(r.events[0].queue_id, "Q1", "listing in time order (1)");
	is_str(r.events[2].queue_id, "Q5", "listing in time order (3)");
	is_int((long long)r.events[0].n_rcpts, 1, "only the offending recipient listed");
	is_str(r.events[0].rcpts[0].address, "x@gmail.com", "the offending recipient");
	is_str(r.events[3].sender, "cpr010190-****@kp.dk", "sender masked in the listing");
	is_str(r.events[3].rcpts[0].address, "231185-****@gmail.com", "recipient masked");
	ok(r.events[3].host == NULL, "empty host is no host");

	is_int((long long)r.senders.n, 2, "--top 2 cuts the senders");
	is_str(r.senders.v[0].key, "a@kp.dk", "top sender");
	is_int(r.senders.v[0].rejected, 2, "top sender: rejects, monitor included");
	is_int((long long)r.domains.n, 2, "--top 2 cuts the domains");
	is_str(r.domains.v[0].key, "gmail.com", "top domain");
	is_int(r.domains.v[0].stopped, 2, "gmail.com: two stopped");
	is_int((long long)r.hosts.n, 2, "two gateways");
	is_str(r.hosts.v[0].key, "mx1", "gateways by name");
	is_int(r.hosts.v[0].n, 3, "mx1: three messages");
	report_free(&r);
}

/* dom_rcpt - a recipient encrypted to partner.dk's domain certificate (classify.c's evidence). */
static void dom_rcpt(struct decision *d, const char *full, enum action act)
{
	add_rcpt(d, full, CLASS_ENCRYPTED, act, "encrypted");
	d->rcpts[d->n_rcpts - 1].evidence =
		strdup("domain certificate for partner.dk: certificate CN=partner.dk "
		       "(SHA-256 AA; expires 2027-03-28; from /etc/sikkermail/d.txt:4)");
}

/* test_domain_cert - recipients encrypted to a domain certificate: only copies that were sent */
static void test_domain_cert(void)
{
	struct report r;
	struct decision d;
	const char *err;

	report_init(&r, "2026-03-28", "2026-03-30", 2, MAR31, &err);
	make(&d, MAR28 + 3600, "D1", "a@kp.dk", true, MODE_ENFORCE, ACTION_ENCRYPT, "encrypted");
	dom_rcpt(&d, "bob@partner.dk", ACTION_ENCRYPT);
	dom_rcpt(&d, "carl@partner.dk", ACTION_ENCRYPT);
	add_rcpt(&d, "anna@partner.dk", CLASS_ENCRYPTED, ACTION_ENCRYPT, "encrypted");
	d.rcpts[2].evidence = strdup("certificate CN=anna (SHA-256 BB; expires 2027-01-01; "
				     "from ldap://x)");
	report_add(&r, &d, NULL);
	decision_free(&d);
	/* monitor mode: delivered as it was, nothing encrypted */
	make(&d, MAR28 + 7200, "D2", "a@kp.dk", true, MODE_MONITOR, ACTION_ENCRYPT, "encrypted");
	dom_rcpt(&d, "bob@partner.dk", ACTION_ENCRYPT);
	report_add(&r, &d, NULL);
	decision_free(&d);
	/* another recipient stopped the message: no copy went out */
	make(&d, MAR28 + 10800, "D3", "a@kp.dk", true, MODE_ENFORCE, ACTION_REJECT,
	     "PersonalToFreemail");
	dom_rcpt(&d, "bob@partner.dk", ACTION_ENCRYPT);
	add_rcpt(&d, "x@gmail.com", CLASS_FREEMAIL, ACTION_REJECT, "PersonalToFreemail");
	report_add(&r, &d, NULL);
	decision_free(&d);
	/* already encrypted by the sender: delivered as it was */
	make(&d, MAR28 + 14400, "D4", "a@kp.dk", true, MODE_ENFORCE, ACTION_DELIVER,
	     "already-encrypted");
	dom_rcpt(&d, "bob@partner.dk", ACTION_DELIVER);
	report_add(&r, &d, NULL);
	decision_free(&d);
	report_finish(&r);
	is_int(r.total.domain_cert, 2, "domain certificate: the two copies sent, not monitor, "
	       "stopped or passed-through ones");
	is_int(r.days[0].domain_cert, 2, "domain certificate: on 28 March");
	is_int(r.total.rcpts[CLASS_ENCRYPTED], 6, "... while all six were classified encrypted");
	report_free(&r);
}

/* write - one writer's output as a string. */
static char *write_out(const struct report *r, void (*fn)(const struct report *, FILE *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fn(r, f);
	fclose(f);
	return buf;
}

static void test_writers(void)
{
	void (*const writers[])(const struct report *, FILE *) = {
		report_write_text, report_write_csv, report_write_json, report_write_html,
	};
	static const char *const names[] = { "text", "csv", "json", "html" };
	struct report r;
	struct decision d;
	const char *err;
	char *out;

	report_init(&r, "2026-03-28", "2026-03-30", 10, MAR31, &err);
	feed(&r);
	make(&d, MAR28 + 3600, "Q9", "=HYPERLINK(\"x\")<script>\"@e.com", true, MODE_ENFORCE,
	     ACTION_REJECT, "PersonalToTLS");
	add_rcpt(&d, "a,b@e.com", CLASS_TLS, ACTION_REJECT, "PersonalToTLS");
	report_add(&r, &d, "mx1");
	decision_free(&d);
	report_finish(&r);
	for (size_t i = 0; i < 4; i++) {
		out = write_out(&r, writers[i]);
		ok(strstr(out, "0101901234") == NULL && strstr(out, "2311850123") == NULL,
		   "%s: no CPR number", names[i]);
		ok(strstr(out, "<script>") == NULL || i < 3, "%s: no live markup", names[i]);
		if (i == 1) {
			ok(strstr(out, ",\"'=HYPERLINK(\"\"x\"\")<script>\"\"@e.com\",") != NULL,
			   "csv: quoted, and the formula defused");
			ok(strstr(out, ",\"a,b@e.com\",") != NULL, "csv: a comma quoted");
		}
		if (i == 2)
			ok(strstr(out, "\"=HYPERLINK(\\\"x\\\")<script>\\\"@e.com\"") != NULL,
			   "json: quotes escaped");
		if (i == 3)
			ok(strstr(out, "=HYPERLINK(&quot;x&quot;)&lt;script&gt;&quot;@e.com") != NULL,
			   "html: escaped");
		free(out);
	}
	report_free(&r);
}

static void test_relative_dates(void)
{
	static const struct {
		const char *s;
		const char *want;	/* NULL: refused */
	} cases[] = {
		{ "today", "2026-03-30" }, { "yesterday", "2026-03-29" }, { "0d", "2026-03-30" },
		{ "1d", "2026-03-29" },	/* across the 23-hour day */
		{ "7d", "2026-03-23" }, { "31d", "2026-02-27" }, { "2026-01-02", "2026-01-02" },
		{ "7", NULL }, { "d", NULL }, { "-1d", NULL }, { "7D", NULL }, { "7d ", NULL },
		{ "123456d", NULL }, { "tomorrow", NULL }, { "Today", NULL }, { "", NULL },
		{ "99999d", NULL },	/* before 1970 */
	};
	long long now = MAR30 + 3600;	/* 2026-03-30 01:00 CEST */
	struct report r;
	const char *err;
	char got[16];
	int y, m, d;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (report_date_arg(cases[i].s, now, &y, &m, &d) != 0) {
			ok(cases[i].want == NULL, "relative date \"%s\" refused", cases[i].s);
			continue;
		}
		snprintf(got, sizeof(got), "%04d-%02d-%02d", y, m, d);
		is_str(got, cases[i].want ? cases[i].want : "(refused)", "relative date \"%s\"",
		       cases[i].s);
	}
	ok(report_init(&r, "7d", NULL, 10, now, &err) == 0, "--since 7d");
	is_str(r.since, "2026-03-23", "--since 7d: seven days ago");
	is_str(r.until, "2026-03-30", "--since 7d: to today");
	is_int((long long)r.n_days, 8, "--since 7d: eight days, today included");
	report_free(&r);
	ok(report_init(&r, "yesterday", "yesterday", 10, now, &err) == 0 && r.n_days == 1 &&
		   r.t_since == MAR29 && r.t_until == MAR30, "yesterday: the whole 23-hour day");
	report_free(&r);
	ok(report_init(&r, "soon", NULL, 10, now, &err) != 0 && strstr(err, "--since") != NULL &&
		   strstr(err, "Nd") != NULL, "a bad --since names the option and the forms");
	report_free(&r);
	ok(report_init(&r, NULL, "7x", 10, now, &err) != 0 && strstr(err, "--until") != NULL,
	   "a bad --until names the option");
	report_free(&r);
}

/* whole - a refusal of the whole message: every recipient's own action is encrypt. */
static void add_whole(struct report *r, const char *failure)
{
	struct decision d;

	make(&d, MAR28 + 5 * 3600, "QW", "hr-sender@kp.dk", true, MODE_ENFORCE, ACTION_REJECT,
	     "SecureMailbox");
	d.failure = failure ? strdup(failure) : NULL;
	add_rcpt(&d, "e@certs.example", CLASS_ENCRYPTED, ACTION_ENCRYPT, "encrypted");
	add_rcpt(&d, "v@kommune.dk", CLASS_TUNNEL, ACTION_ENCRYPT, "encrypted");
	report_add(r, &d, NULL);
	decision_free(&d);
}

static void test_listings(void)
{
	struct report r;
	struct decision d;
	const struct report_event *e;
	const char *err;
	char *why;

	report_init(&r, "2026-03-28", "2026-03-30", 10, MAR31, &err);
	add_whole(&r, "mailbox: function mailbox <hr@kp.dk> is not configured for encrypted mail");
	/* CPR numbers in a message that is not personal, delivered */
	make(&d, MAR29 + 8 * 3600, "QC", "c@kp.dk", false, MODE_ENFORCE, ACTION_DELIVER,
	     "not-personal");
	d.cpr_hits = 1;
	add_rcpt(&d, "z@gmail.com", CLASS_FREEMAIL, ACTION_DELIVER, "not-personal");
	add_rcpt(&d, "u@kp.dk", CLASS_INTERNAL, ACTION_DELIVER, "internal");
	report_add(&r, &d, NULL);
	decision_free(&d);
	feed(&r);
	report_finish(&r);

	e = &r.events[0];
	is_str(e->queue_id, "QW", "the whole-message refusal is listed");
	ok(e->whole, "... as refused as a whole");
	is_int((long long)e->n_rcpts, 2, "... with all its recipients");
	is_str(e->rcpts[1].address, "v@kommune.dk", "... named");
	why = report_event_reason(e, REPORT_EN);
	is_str(why, "the function mailbox for the encrypted message is not configured, or the"
		    " sender may not use it (mailbox: function mailbox <hr@kp.dk> is not"
		    " configured for encrypted mail)",
	       "... and why: the rule in words with the recorded failure");
	free(why);
	ok(!r.events[1].whole && r.events[1].n_rcpts == 1, "a recipient's refusal is not whole");
	why = report_rcpt_reason(&r.events[1].rcpts[0], REPORT_DA);
	is_str(why, "personoplysninger til en freemail-adresse", "a recipient's why in Danish");
	free(why);
	why = report_reason("NoSuchRule", "detail", REPORT_EN);
	is_str(why, "NoSuchRule (detail)", "a rule without words: its name");
	free(why);

	is_int((long long)r.n_cpr, 2, "two messages with CPR numbers listed");
	is_str(r.cpr[0].queue_id, "QC", "the one that was not personal, in time order");
	ok(!r.cpr[0].personal && r.cpr[0].n_rcpts == 2, "... with all its recipients");
	is_str(r.cpr[1].sender, "cpr010190-****@kp.dk", "... masked as the rest");
	report_free(&r);

	/* without a recorded failure (the database keeps none): the rule alone */
	report_init(&r, "2026-03-28", "2026-03-30", 10, MAR31, &err);
	add_whole(&r, NULL);
	report_finish(&r);
	why = report_event_reason(&r.events[0], REPORT_EN);
	is_str(why, "the function mailbox for the encrypted message is not configured, or the"
		    " sender may not use it", "no recorded failure: the rule in words");
	free(why);
	ok(!report_day_shown(&r, 1) && report_day_shown(&r, 0), "a day without messages: no row");
	r.all_days = true;
	ok(report_day_shown(&r, 1), "... unless all_days");
	report_free(&r);
}

static char *write_report(struct report *r, void (*fn)(const struct report *, FILE *))
{
	return write_out(r, fn);
}

static void test_formats(void)
{
	struct report r;
	struct decision d;
	const char *err;
	char *out, *p;
	size_t longest = 0;

	report_init(&r, "2026-03-28", "2026-03-30", 10, MAR31, &err);
	feed(&r);
	add_whole(&r, NULL);
	make(&d, MAR28 + 3600, "QS", "s@kp.dk", true, MODE_ENFORCE, ACTION_HOLD, "PersonalToTLS");
	add_rcpt(&d, "a;b@e.com", CLASS_TLS, ACTION_HOLD, "PersonalToTLS");
	d.rcpts[0].evidence = strdup("no agreement, no certificate; \"tls\" only and a long reason"
				     " that must be wrapped to stay within eighty columns wide");
	report_add(&r, &d, NULL);
	decision_free(&d);
	report_finish(&r);

	out = write_report(&r, report_write_text);
	ok(strstr(out, "why: personal data to a freemail address") != NULL,
	   "text: a recipient's why");
	ok(strstr(out, "  why:        the function mailbox") != NULL,
	   "text: a whole message's why");
	for (p = out; *p; ) {
		size_t n = strcspn(p, "\n");

		longest = n > longest ? n : longest;
		p += n + (p[n] != '\0');
	}
	ok(longest <= 80, "text: reasons wrapped within 80 columns (%zu)", longest);
	ok(strstr(out, "Messages in which CPR numbers were found: 1") != NULL, "text: CPR listing");
	free(out);

	r.csv_sep = ';';
	r.bom = true;
	out = write_report(&r, report_write_csv);
	ok(memcmp(out, "\xef\xbb\xbf", 3) == 0, "csv: the byte-order mark");
	ok(strncmp(out + 3, "section;key;value\n", 18) == 0, "csv: ; between fields");
	ok(strstr(out, ";\"a;b@e.com\";") != NULL, "csv: a field with ; quoted");
	ok(strstr(out, ";\"no agreement, no certificate; \"\"tls\"\" only") != NULL,
	   "csv: commas and quotes inside a quoted field kept");
	ok(strstr(out, "stopped;") != NULL && strstr(out, "stopped,") == NULL,
	   "csv: no comma separates");
	free(out);
	r.csv_sep = ',';
	r.bom = false;
	out = write_report(&r, report_write_csv);
	ok(out[0] == 's' && strstr(out, ",\"a;b@e.com\",") != NULL,
	   "csv: commas, ; quoted, no BOM");
	free(out);

	r.lang = REPORT_DA;
	out = write_report(&r, report_write_html);
	ok(strstr(out, "<html lang=\"da\">") != NULL, "html: Danish page");
	ok(strstr(out, "title=") == NULL, "html: nothing in a tooltip attribute");
	ok(strstr(out, "hvorfor: personoplysninger til en freemail-adresse") != NULL,
	   "html: a recipient's why as text, in Danish");
	ok(strstr(out, "hele beskeden: funktionspostkassen") != NULL,
	   "html: a whole message's why as text");
	ok(strstr(out, "@media print") != NULL, "html: a print style sheet");
	free(out);
	r.lang = REPORT_EN;
	out = write_report(&r, report_write_html);
	ok(strstr(out, "<html lang=\"en\">") != NULL, "html: English page");
	ok(strstr(out, "why: personal data to a recipient with neither certificate") != NULL,
	   "html: a recipient's why as text, in English");
	ok(strstr(out, "Enforce mode: what was done. Monitor mode") != NULL,
	   "html: both modes, both in the caption");
	free(out);

	out = write_report(&r, report_write_json);
	ok(strstr(out, "\"whole_message\":true") != NULL && strstr(out, "\"cpr_found\": [") != NULL,
	   "json: whole_message and cpr_found");
	free(out);
	report_free(&r);
}

int main(void)
{
	setenv("TZ", TEST_TZ, 1);
	tzset();
	test_clean();
	test_dates();
	test_counts();
	test_writers();
	test_relative_dates();
	test_listings();
	test_formats();
	test_domain_cert();
	return done_testing();
}

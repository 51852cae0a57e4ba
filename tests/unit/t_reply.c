/*
 * t_reply.c - the SMTP reply text of a reject or tempfail, line by line,
 * in every language setting; the cap on lines; the quarantine reason; and
 * the escaping that keeps a line fit for libmilter and the MTA.
 */
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "tap.h"

static void lang_config(struct config *cfg, int langs, bool en_first, const char *help)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->languages = langs;
	cfg->language_en_first = en_first;
	cfg->help_url = (char *)help;
}

static void add(struct decision *d, const char *full, enum rclass cls, enum action act,
		const char *evidence)
{
	struct rcpt *r = decision_add_rcpt(d, full, NULL);

	if (full != NULL)
		r->addr.full = strdup(full);
	r->cls = cls;
	r->action = act;
	r->evidence = evidence ? strdup(evidence) : NULL;
}

/* expect - compare the whole reply; want is NULL-terminated. */
static void expect(const struct reply *r, const char *rcode, const char *xcode,
		   const char *const *want, const char *name)
{
	size_t n = 0;

	while (want[n] != NULL)
		n++;
	is_str(r->rcode, rcode, "%s: rcode", name);
	is_str(r->xcode, xcode, "%s: xcode", name);
	is_int((long long)r->n_lines, (long long)n, "%s: %zu lines", name, n);
	for (size_t i = 0; i < n && i < r->n_lines; i++)
		is_str(r->lines[i], want[i], "%s: line %zu", name, i + 1);
}

#define DA_GMAIL "Personoplysninger maa ikke sendes til <x@gmail.com> (freemail)"
#define EN_GMAIL "Personal data may not be sent to <x@gmail.com> (freemail: not even with TLS)"
#define REF_HELP "Ref 4F2A1C3B2D; see https://intra.kp.dk/sikkermail"

static void freemail_decision(struct decision *d)
{
	decision_init(d);
	d->queue_id = strdup("4F2A1C3B2D");
	add(d, "u@kp.dk", CLASS_INTERNAL, ACTION_DELIVER, NULL);
	add(d, "x@gmail.com", CLASS_FREEMAIL, ACTION_REJECT, "freemail list: gmail.com");
	d->action = d->applied = ACTION_REJECT;
}

static void test_languages(void)
{
	static const char *const da_en[] = { DA_GMAIL, EN_GMAIL, REF_HELP, NULL };
	static const char *const en_da[] = { EN_GMAIL, DA_GMAIL, REF_HELP, NULL };
	static const char *const en[] = { EN_GMAIL, REF_HELP, NULL };
	static const char *const da[] = { DA_GMAIL, REF_HELP, NULL };
	static const char *const no_help[] = { DA_GMAIL, EN_GMAIL, "Ref 4F2A1C3B2D", NULL };
	static const char *const no_qid[] = { DA_GMAIL, EN_GMAIL, "Ref unknown", NULL };
	const char *help = "https://intra.kp.dk/sikkermail";
	struct config cfg;
	struct decision d;
	struct reply r;

	freemail_decision(&d);
	lang_config(&cfg, LANG_DA | LANG_EN, false, help);
	reply_build(&cfg, &d, &r);
	expect(&r, "550", "5.7.1", da_en, "Language da,en");
	reply_free(&r);
	ok(r.n_lines == 0, "reply_free empties the reply");

	lang_config(&cfg, LANG_DA | LANG_EN, true, help);
	reply_build(&cfg, &d, &r);
	expect(&r, "550", "5.7.1", en_da, "Language en,da");
	reply_free(&r);

	lang_config(&cfg, LANG_EN, false, help);
	reply_build(&cfg, &d, &r);
	expect(&r, "550", "5.7.1", en, "Language en");
	reply_free(&r);

	lang_config(&cfg, LANG_DA, true, help);	/* en_first means nothing with one language */
	reply_build(&cfg, &d, &r);
	expect(&r, "550", "5.7.1", da, "Language da");
	reply_free(&r);

	lang_config(&cfg, 0, false, help);
	reply_build(&cfg, &d, &r);
	expect(&r, "550", "5.7.1", da_en, "no language set: da,en");
	reply_free(&r);

	lang_config(&cfg, LANG_DA | LANG_EN, false, NULL);
	reply_build(&cfg, &d, &r);
	expect(&r, "550", "5.7.1", no_help, "without HelpURL");
	reply_free(&r);

	lang_config(&cfg, LANG_DA | LANG_EN, false, "");
	reply_build(&cfg, &d, &r);
	expect(&r, "550", "5.7.1", no_help, "empty HelpURL");
	reply_free(&r);

	free(d.queue_id);
	d.queue_id = NULL;
	reply_build(&cfg, &d, &r);
	expect(&r, "550", "5.7.1", no_qid, "without queue id");
	reply_free(&r);
	decision_free(&d);
}

static void test_classes(void)
{
	static const char *const want[] = {
		"Personal data may not be sent to <a@firma.dk> (tls: no secure route)",
		"Personal data may not be sent to <b@dpa.com> (partner: partner not approved for personal data)",
		"Personal data may not be sent to <c@hotmail.com> (freemail: not even with TLS)",
		"Ref Q1",
		NULL,
	};
	static const char *const want_da[] = {
		"Personoplysninger maa ikke sendes til <a@firma.dk> (tls)",
		"Personoplysninger maa ikke sendes til <b@dpa.com> (partner)",
		"Personoplysninger maa ikke sendes til <c@hotmail.com> (freemail)",
		"Ref Q1",
		NULL,
	};
	struct config cfg;
	struct decision d;
	struct reply r;

	decision_init(&d);
	d.queue_id = strdup("Q1");
	add(&d, "a@firma.dk", CLASS_TLS, ACTION_REJECT, NULL);
	add(&d, "held@x.dk", CLASS_TLS, ACTION_HOLD, NULL);
	add(&d, "b@dpa.com", CLASS_PARTNER, ACTION_REJECT, NULL);
	add(&d, "enc@y.dk", CLASS_ENCRYPTED, ACTION_ENCRYPT, NULL);
	add(&d, "c@hotmail.com", CLASS_FREEMAIL, ACTION_REJECT, NULL);
	d.action = d.applied = ACTION_REJECT;
	lang_config(&cfg, LANG_EN, false, NULL);
	reply_build(&cfg, &d, &r);
	expect(&r, "550", "5.7.1", want, "every rejected recipient with its class, no other");
	reply_free(&r);
	lang_config(&cfg, LANG_DA, false, NULL);
	reply_build(&cfg, &d, &r);
	expect(&r, "550", "5.7.1", want_da, "Danish lines per class");
	reply_free(&r);
	decision_free(&d);
}

static void test_tempfail(void)
{
	static const char *const want[] = {
		"Modtagerens sikre rute kunne ikke afgoeres for <y@example.org>; proev igen senere",
		"The secure route for <y@example.org> could not be determined "
		"(certificate directory unavailable); try again later",
		"Modtagerens sikre rute kunne ikke afgoeres for <z@example.net>; proev igen senere",
		"The secure route for <z@example.net> could not be determined "
		"(tunnel list unavailable); try again later",
		"Modtagerens sikre rute kunne ikke afgoeres for <w@example.com>; proev igen senere",
		"The secure route for <w@example.com> could not be determined "
		"(certificate directory unavailable); try again later",
		"Ref 4F2A; see https://h/",
		NULL,
	};
	static const char *const generic[] = {
		"Beskeden kunne ikke kontrolleres; proev igen senere",
		"The message could not be checked; try again later",
		"Ref 4F2A; see https://h/",
		NULL,
	};
	static const char *const generic_reject[] = {
		"Message rejected by the secure mail policy",
		"Beskeden er afvist af reglerne for sikker post",
		"Ref 4F2A; see https://h/",
		NULL,
	};
	struct config cfg;
	struct decision d;
	struct reply r;

	decision_init(&d);
	d.queue_id = strdup("4F2A");
	add(&d, "u@kp.dk", CLASS_INTERNAL, ACTION_DELIVER, NULL);
	add(&d, "y@example.org", CLASS_UNKNOWN, ACTION_TEMPFAIL, "certificate directory unavailable");
	add(&d, "z@example.net", CLASS_UNKNOWN, ACTION_TEMPFAIL, "tunnel list unavailable");
	add(&d, "w@example.com", CLASS_UNKNOWN, ACTION_TEMPFAIL, NULL);
	add(&d, "h@firma.dk", CLASS_TLS, ACTION_HOLD, NULL);
	d.action = d.applied = ACTION_TEMPFAIL;
	lang_config(&cfg, LANG_DA | LANG_EN, false, "https://h/");
	reply_build(&cfg, &d, &r);
	expect(&r, "451", "4.7.1", want, "tempfail");
	reply_free(&r);
	decision_free(&d);

	/* a verdict that names no recipient still gets a reason and a reference */
	decision_init(&d);
	d.queue_id = strdup("4F2A");
	add(&d, "u@kp.dk", CLASS_INTERNAL, ACTION_DELIVER, NULL);
	d.action = d.applied = ACTION_TEMPFAIL;
	reply_build(&cfg, &d, &r);
	expect(&r, "451", "4.7.1", generic, "tempfail without a tempfailed recipient");
	reply_free(&r);
	d.action = d.applied = ACTION_REJECT;
	cfg.language_en_first = true;
	reply_build(&cfg, &d, &r);
	expect(&r, "550", "5.7.1", generic_reject, "reject without a rejected recipient");
	reply_free(&r);
	decision_free(&d);

	/* an encrypt verdict the milter could not carry out becomes a tempfail */
	decision_init(&d);
	d.queue_id = strdup("4F2A");
	add(&d, "e@y.dk", CLASS_ENCRYPTED, ACTION_ENCRYPT, NULL);
	d.action = ACTION_ENCRYPT;
	d.applied = ACTION_TEMPFAIL;
	cfg.language_en_first = false;
	reply_build(&cfg, &d, &r);
	expect(&r, "451", "4.7.1", generic, "the applied action decides the reply");
	reply_free(&r);
	decision_free(&d);
}

static void test_no_reply(void)
{
	static const enum action acts[] = { ACTION_DELIVER, ACTION_ENCRYPT, ACTION_HOLD };
	struct config cfg;
	struct decision d;
	struct reply r;

	lang_config(&cfg, LANG_DA | LANG_EN, false, NULL);
	freemail_decision(&d);
	for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++) {
		d.action = d.applied = acts[i];
		reply_build(&cfg, &d, &r);
		is_int((long long)r.n_lines, 0, "%s: no reply lines", action_name(acts[i]));
		is_str(r.rcode, "", "%s: no rcode", action_name(acts[i]));
		reply_free(&r);
	}
	/* monitor mode: the verdict is reject, nothing is refused */
	d.action = ACTION_REJECT;
	d.applied = ACTION_DELIVER;
	reply_build(&cfg, &d, &r);
	is_int((long long)r.n_lines, 0, "monitor mode: no reply");
	reply_free(&r);
	decision_free(&d);
}

/* many - n rejected freemail recipients r1@gmail.com ... */
static void many(struct decision *d, size_t n)
{
	char a[32];

	decision_init(d);
	d->queue_id = strdup("QQ");
	for (size_t i = 1; i <= n; i++) {
		snprintf(a, sizeof(a), "r%zu@gmail.com", i);
		add(d, a, CLASS_FREEMAIL, ACTION_REJECT, NULL);
	}
	d->action = d->applied = ACTION_REJECT;
}

static const struct {
	int langs;
	size_t n_rcpts;
	size_t n_lines;
	const char *last_detail;	/* the line before the ref line */
	const char *before;		/* and the one before that */
} caps[] = {
	{ LANG_DA | LANG_EN, 14, 29,
	  "Personal data may not be sent to <r14@gmail.com> (freemail: not even with TLS)",
	  "Personoplysninger maa ikke sendes til <r14@gmail.com> (freemail)" },
	{ LANG_DA | LANG_EN, 15, 29, "... and 2 more recipients", "... og 2 flere modtagere" },
	{ LANG_DA | LANG_EN, 100, 29, "... and 87 more recipients", "... og 87 flere modtagere" },
	{ LANG_EN, 29, 30, "Personal data may not be sent to <r29@gmail.com> (freemail: not even with TLS)",
	  "Personal data may not be sent to <r28@gmail.com> (freemail: not even with TLS)" },
	{ LANG_EN, 30, 30, "... and 2 more recipients",
	  "Personal data may not be sent to <r28@gmail.com> (freemail: not even with TLS)" },
	{ LANG_DA, 1000, 30, "... og 972 flere modtagere",
	  "Personoplysninger maa ikke sendes til <r28@gmail.com> (freemail)" },
};

static void test_cap(void)
{
	struct config cfg;
	struct decision d;
	struct reply r;

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		lang_config(&cfg, caps[i].langs, false, NULL);
		many(&d, caps[i].n_rcpts);
		reply_build(&cfg, &d, &r);
		ok(r.n_lines <= REPLY_MAX_LINES, "%zu recipients: within REPLY_MAX_LINES",
		   caps[i].n_rcpts);
		is_int((long long)r.n_lines, (long long)caps[i].n_lines, "%zu recipients: lines",
		       caps[i].n_rcpts);
		if (r.n_lines >= 3) {
			is_str(r.lines[r.n_lines - 1], "Ref QQ", "%zu recipients: ref line last",
			       caps[i].n_rcpts);
			is_str(r.lines[r.n_lines - 2], caps[i].last_detail, "%zu recipients: last detail",
			       caps[i].n_rcpts);
			is_str(r.lines[r.n_lines - 3], caps[i].before, "%zu recipients: the line before",
			       caps[i].n_rcpts);
		}
		reply_free(&r);
		decision_free(&d);
	}
}

static const struct {
	const char *in;
	const char *out;
} sanitise_rows[] = {
	{ "plain", "plain" },
	{ "a\r\nb", "a b" },
	{ "a\nb\rc", "a b c" },
	{ "tab\there", "tab here" },
	{ "end\r\n", "end " },
	{ "50%", "50%" },
	{ "%s%n%%", "%s%n%%" },
	{ "bell\x07", "bell?" },
	{ "nul-free \x01\x1f\x7f", "nul-free ???" },
	{ "må ø Å", "må ø Å" },
	{ "bad \xff\xfe utf8", "bad ?? utf8" },
	{ "cut \xc3", "cut ?" },
	{ "overlong \xc0\xaf", "overlong ??" },
	{ "surrogate \xed\xa0\x80", "surrogate ???" },
	{ "c1 \xc2\x85", "c1 ?" },
	{ "nbsp \xc2\xa0", "nbsp \xc2\xa0" },
	{ "", "" },
};

static void test_sanitise(void)
{
	char *s, *big;

	for (size_t i = 0; i < sizeof(sanitise_rows) / sizeof(sanitise_rows[0]); i++) {
		char *again;

		s = reply_sanitise(sanitise_rows[i].in);
		is_str(s, sanitise_rows[i].out, "sanitise row %zu", i);
		again = reply_sanitise(s);
		is_str(again, s, "sanitise row %zu: idempotent", i);
		free(again);
		free(s);
	}
	s = reply_sanitise(NULL);
	is_str(s, "", "sanitise NULL");
	free(s);

	big = malloc(2001);
	memset(big, 'x', 2000);
	big[2000] = '\0';
	s = reply_sanitise(big);
	ok(strlen(s) <= 900, "long line cut to at most 900 bytes (%zu)", strlen(s));
	ok(strlen(s) >= 890 && strcmp(s + strlen(s) - 3, "...") == 0, "... and marked");
	free(s);
	memset(big, 'a', 900);
	big[900] = '\0';
	s = reply_sanitise(big);
	is_int((long long)strlen(s), 900, "900 bytes fit as they are");
	free(s);
	free(big);
}

/* test_percent_lines - '%' doubled in reply lines, within the length limit. */
static void test_percent_lines(void)
{
	struct config cfg;
	struct decision d;
	struct reply r;
	char *url = malloc(2001);
	const char *l;

	memset(url, '%', 2000);
	url[2000] = '\0';
	freemail_decision(&d);
	d.action = d.applied = ACTION_REJECT;
	lang_config(&cfg, LANG_EN, false, url);
	reply_build(&cfg, &d, &r);
	l = r.n_lines == 2 ? r.lines[1] : "";
	ok(strlen(l) <= 900, "reply line with escapes at most 900 bytes (%zu)", strlen(l));
	ok(strncmp(l, "Ref 4F2A1C3B2D; see %%%%", 24) == 0 && strcmp(l + strlen(l) - 3, "...") == 0,
	   "long HelpURL cut and marked");
	ok(strspn(l + 20, "%") % 2 == 0, "never half a %%%% pair");
	reply_free(&r);
	decision_free(&d);
	free(url);
}

static void test_nasty_inputs(void)
{
	static const char *const want[] = {
		"Personal data may not be sent to <evil?@x.com 550 5.7.1 ok> (tls: no secure route)",
		"Ref 1%%2; see https://x/a%%20b?q=1",
		NULL,
	};
	char longaddr[260];
	struct config cfg;
	struct decision d;
	struct reply r;
	const char *l;

	decision_init(&d);
	d.queue_id = strdup("1%2");
	add(&d, NULL, CLASS_TLS, ACTION_REJECT, NULL);
	free(d.rcpts[0].raw);
	d.rcpts[0].raw = strdup("evil\x01@x.com\r\n550 5.7.1 ok");
	d.action = d.applied = ACTION_REJECT;
	lang_config(&cfg, LANG_EN, false, "https://x/a%20b?q=1");
	reply_build(&cfg, &d, &r);
	expect(&r, "550", "5.7.1", want, "raw address and ids sanitised");
	for (size_t i = 0; i < r.n_lines; i++)
		ok(strpbrk(r.lines[i], "\r\n") == NULL, "line %zu has no CR/LF", i + 1);
	reply_free(&r);
	decision_free(&d);

	memset(longaddr, 'a', 240);
	strcpy(longaddr + 240, "@example.com");
	decision_init(&d);
	add(&d, longaddr, CLASS_TLS, ACTION_REJECT, NULL);
	d.action = d.applied = ACTION_REJECT;
	reply_build(&cfg, &d, &r);
	l = r.lines[0];
	ok(strstr(l, "<aaaa") != NULL && strstr(l, "...> (tls") != NULL,
	   "a long address is cut and marked");
	ok(strlen(l) < 200 + 70, "... to about 200 characters (%zu)", strlen(l));
	reply_free(&r);
	decision_free(&d);
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

static void test_hold_reason(void)
{
	struct config cfg;
	struct decision d;
	char *s, a[32];

	lang_config(&cfg, LANG_DA | LANG_EN, false, NULL);
	decision_init(&d);
	d.queue_id = strdup("4F2A1C3B2D");
	add(&d, "u@kp.dk", CLASS_INTERNAL, ACTION_DELIVER, NULL);
	add(&d, "x@gmail.com", CLASS_FREEMAIL, ACTION_HOLD, NULL);
	d.action = d.applied = ACTION_HOLD;
	d.rule = "PersonalToFreemail";
	s = reply_hold_reason(&cfg, &d);
	is_str(s, "sikkermail: personal data to x@gmail.com (freemail) held; ref 4F2A1C3B2D",
	       "hold reason");
	free(s);
	add(&d, "y@firma.dk", CLASS_TLS, ACTION_HOLD, NULL);
	s = reply_hold_reason(&cfg, &d);
	is_str(s, "sikkermail: personal data to x@gmail.com (freemail), y@firma.dk (tls) held; "
		  "ref 4F2A1C3B2D",
	       "hold reason, two recipients");
	free(s);
	decision_free(&d);

	decision_init(&d);
	for (int i = 0; i < 40; i++) {
		snprintf(a, sizeof(a), "person%d@gmail.com", i);
		add(&d, a, CLASS_FREEMAIL, ACTION_HOLD, NULL);
	}
	add(&d, "\x01\xc3\xa6@x\r\n.dk", CLASS_TLS, ACTION_HOLD, NULL);
	s = reply_hold_reason(&cfg, &d);
	ok(strlen(s) <= REPLY_HOLD_MAX, "many held: at most %d characters (%zu)", REPLY_HOLD_MAX,
	   strlen(s));
	ok(strstr(s, " more held; ref unknown") != NULL, "many held: summarised, ref kept: %s", s);
	ok(printable(s), "many held: printable ASCII");
	free(s);
	decision_free(&d);

	decision_init(&d);
	d.queue_id = strdup("Q\r\nX");
	add(&d, "\x01\xc3\xa6@x\r\n.dk", CLASS_TLS, ACTION_HOLD, NULL);
	s = reply_hold_reason(&cfg, &d);
	is_str(s, "sikkermail: personal data to ?\?\?@x??.dk (tls) held; ref Q??X",
	       "hold reason: printable ASCII only");
	free(s);
	d.rcpts[0].action = ACTION_DELIVER;
	d.rule = "OnLookupFailure";
	s = reply_hold_reason(&cfg, &d);
	is_str(s, "sikkermail: message (OnLookupFailure) held; ref Q??X",
	       "hold reason without a held recipient");
	free(s);
	decision_free(&d);
}

int main(void)
{
	test_languages();
	test_classes();
	test_tempfail();
	test_no_reply();
	test_cap();
	test_sanitise();
	test_percent_lines();
	test_nasty_inputs();
	test_hold_reason();
	return done_testing();
}

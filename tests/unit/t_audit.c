/*
 * t_audit.c - the audit line: the exact text for known decisions, the
 * round trip through audit_parse with hostile values, and the lines
 * audit_parse must refuse.
 */
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "tap.h"

static struct rcpt *add(struct decision *d, const char *full, enum rclass cls, enum action act,
			const char *rule, const char *evidence)
{
	struct rcpt *r = decision_add_rcpt(d, full ? full : "", NULL);

	if (full != NULL) {
		const char *at = strrchr(full, '@');

		r->addr.full = strdup(full);
		if (at != NULL) {
			r->addr.local = strndup(full, (size_t)(at - full));
			r->addr.domain = strdup(at + 1);
		}
	}
	r->cls = cls;
	r->action = act;
	r->rule = rule;
	r->evidence = evidence ? strdup(evidence) : NULL;
	return r;
}

static void known_decision(struct decision *d)
{
	decision_init(d);
	d->time = 1764400000;
	d->queue_id = strdup("4F2A1C3B2D");
	d->message_id = strdup("<a1@kp.dk>");
	d->sender = strdup("a@kp.dk");
	d->client_addr = strdup("10.0.0.5");
	d->trusted = true;
	d->personal = true;
	d->psrc = PSRC_HEADER;
	d->personal_why = strdup("header yes");
	d->mode = MODE_ENFORCE;
	d->action = ACTION_REJECT;
	d->applied = ACTION_REJECT;
	d->rule = "PersonalToFreemail";
	add(d, "x@gmail.com", CLASS_FREEMAIL, ACTION_REJECT, "PersonalToFreemail",
	    "freemail list: gmail.com (built-in, imported 2025-01-02)");
	add(d, "u@kp.dk", CLASS_INTERNAL, ACTION_DELIVER, "internal", "InternalDomains entry kp.dk");
}

static const char known_line[] =
	"decision time=1764400000 queue_id=4F2A1C3B2D message_id=<a1@kp.dk> sender=a@kp.dk"
	" client=10.0.0.5 trusted=yes mode=enforce personal=yes personal_source=header"
	" personal_reason=\"header yes\" cpr=0 action=reject applied=reject"
	" rule=PersonalToFreemail rcpts=2"
	" rcpt1=x@gmail.com class1=freemail action1=reject rule1=PersonalToFreemail"
	" evidence1=\"freemail list: gmail.com (built-in, imported 2025-01-02)\""
	" rcpt2=u@kp.dk class2=internal action2=deliver rule2=internal"
	" evidence2=\"InternalDomains entry kp.dk\"";

static bool no_controls(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return false;
	return true;
}

static void test_format_exact(void)
{
	struct decision d;
	struct strbuf sb;

	known_decision(&d);
	sb_init(&sb);
	audit_format(&d, &sb);
	is_str(sb.s, known_line, "audit line of a freemail reject");
	decision_free(&d);

	/* monitor mode, null sender, missing ids, no recipients */
	decision_init(&d);
	d.time = 0;
	d.sender = strdup("");
	d.message_id = strdup("-");
	d.mode = MODE_MONITOR;
	d.psrc = PSRC_CPR;
	d.personal = true;
	d.cpr_hits = 3;
	d.action = ACTION_DELIVER;
	d.applied = ACTION_DELIVER;
	d.rule = "no-recipients";
	sb_reset(&sb);
	audit_format(&d, &sb);
	is_str(sb.s,
	       "decision time=0 queue_id=- message_id=\"-\" sender=\"\" client=- trusted=no"
	       " mode=monitor personal=yes personal_source=cpr personal_reason=- cpr=3"
	       " action=deliver applied=deliver rule=no-recipients rcpts=0",
	       "NULL as -, \"\" and \"-\" quoted, monitor, cpr");
	decision_free(&d);

	/* quoting: spaces, quotes, backslashes, '=', controls, UTF-8 */
	decision_init(&d);
	d.queue_id = strdup("a=b");
	d.message_id = strdup("<\"q\" \\x>");
	d.sender = strdup("tab\there\r\n\x7f");
	d.personal_why = strdup("K\xc3\xb8" "benhavn \xff\xc2\x85");
	d.action = ACTION_TEMPFAIL;
	d.applied = ACTION_TEMPFAIL;
	add(&d, NULL, CLASS_UNKNOWN, ACTION_TEMPFAIL, "OnLookupFailure", "");
	d.rcpts[0].raw[0] = '\0';
	sb_reset(&sb);
	audit_format(&d, &sb);
	is_str(sb.s,
	       "decision time=0 queue_id=\"a=b\" message_id=\"<\\\"q\\\" \\\\x>\""
	       " sender=\"tab\\x09here\\x0d\\x0a\\x7f\" client=- trusted=no mode=enforce personal=no"
	       " personal_source=none personal_reason=\"K\xc3\xb8" "benhavn \\xff\\xc2\\x85\" cpr=0"
	       " action=tempfail applied=tempfail rule=- rcpts=1 rcpt1=\"\" class1=unknown"
	       " action1=tempfail rule1=OnLookupFailure evidence1=\"\"",
	       "quoting and escapes");
	ok(no_controls(sb.s), "no raw control characters in the line");
	decision_free(&d);
	sb_free(&sb);
}

/* same_str - NULL-aware string equality. */
static bool same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void compare(const struct decision *a, const struct decision *b, const char *name)
{
	bool rcpts_same = a->n_rcpts == b->n_rcpts;

	is_int(b->time, a->time, "%s: time", name);
	ok(same_str(a->queue_id, b->queue_id), "%s: queue_id", name);
	ok(same_str(a->message_id, b->message_id), "%s: message_id", name);
	ok(same_str(a->sender, b->sender), "%s: sender", name);
	ok(same_str(a->client_addr, b->client_addr), "%s: client", name);
	ok(same_str(a->personal_why, b->personal_why), "%s: personal_reason", name);
	ok(same_str(a->mailbox, b->mailbox) && same_str(a->failure, b->failure),
	   "%s: mailbox and failure", name);
	ok(a->trusted == b->trusted && a->personal == b->personal && a->psrc == b->psrc &&
		   a->mode == b->mode && a->cpr_hits == b->cpr_hits,
	   "%s: flags", name);
	ok(a->action == b->action && a->applied == b->applied && same_str(a->rule, b->rule),
	   "%s: verdict", name);
	for (size_t i = 0; rcpts_same && i < a->n_rcpts; i++) {
		const struct rcpt *x = &a->rcpts[i], *y = &b->rcpts[i];

		rcpts_same = same_str(x->addr.full, y->addr.full) && x->cls == y->cls &&
			     x->action == y->action && same_str(x->rule, y->rule) &&
			     same_str(x->evidence, y->evidence);
	}
	ok(rcpts_same, "%s: recipients", name);
}

static void round_trip(const struct decision *d, const char *prefix, const char *name)
{
	struct strbuf a, b;
	struct decision back;
	char *line;

	sb_init(&a);
	sb_init(&b);
	audit_format(d, &a);
	ok(no_controls(a.s), "%s: no raw control characters", name);
	line = malloc(strlen(prefix) + a.len + 1);
	strcpy(line, prefix);
	strcat(line, a.s);
	if (!ok(audit_parse(line, &back) == 0, "%s: parses", name)) {
		diag("line: %s", line);
		goto out;
	}
	compare(d, &back, name);
	audit_format(&back, &b);
	is_str(b.s, a.s, "%s: formats back to the same line", name);
	decision_free(&back);
out:
	free(line);
	sb_free(&a);
	sb_free(&b);
}

static void test_round_trip(void)
{
	static const char *const nasty[] = {
		"with space", "\"quoted\"", "back\\slash", "a=b", "=", "\\x41", "\\", "\"",
		"ctl\x01\x1f\x7f", "cr\rlf\n", "tab\t", ("K\xc3\xb8" "benhavn"), "bad\xff\xfe",
		"c1\xc2\x85", "-", "", "--", " ", "trailing ", "x\\\"y", "rcpt1=evil",
	};
	struct decision d;

	known_decision(&d);
	round_trip(&d, "", "known decision");
	round_trip(&d, "Nov 29 06:05:01 decision sikkermail[123]: ", "with a syslog prefix");
	decision_free(&d);

	for (size_t i = 0; i < sizeof(nasty) / sizeof(nasty[0]); i++) {
		char name[32];

		known_decision(&d);
		free(d.queue_id);
		free(d.message_id);
		free(d.sender);
		free(d.personal_why);
		free(d.rcpts[0].evidence);
		free(d.rcpts[1].addr.full);
		d.queue_id = strdup(nasty[i]);
		d.message_id = strdup(nasty[i]);
		d.sender = strdup(nasty[i]);
		d.personal_why = strdup(nasty[i]);
		d.rcpts[0].evidence = strdup(nasty[i]);
		d.rcpts[1].addr.full = strdup(nasty[i]);
		snprintf(name, sizeof(name), "nasty value %zu", i);
		round_trip(&d, "", name);
		decision_free(&d);
	}

	/* NULLs everywhere they are allowed */
	known_decision(&d);
	free(d.queue_id);
	free(d.message_id);
	free(d.client_addr);
	free(d.personal_why);
	free(d.rcpts[1].evidence);
	d.queue_id = d.message_id = d.client_addr = d.personal_why = d.rcpts[1].evidence = NULL;
	round_trip(&d, "", "NULL fields");
	decision_free(&d);

	/* a refusal for a function mailbox: the mailbox named and the failure */
	known_decision(&d);
	d.mailbox = strdup("hr@kp.dk");
	d.failure = strdup("mailbox: function mailbox <hr@kp.dk> is not configured");
	round_trip(&d, "", "mailbox refusal");
	decision_free(&d);
}

static void test_parse_details(void)
{
	struct decision d;
	struct strbuf sb;
	char *line;

	known_decision(&d);
	sb_init(&sb);
	audit_format(&d, &sb);
	decision_free(&d);

	ok(audit_parse(sb.s, &d) == 0, "parse the known line");
	is_str(d.rcpts[0].addr.local, "x", "recipient local part");
	is_str(d.rcpts[0].addr.domain, "gmail.com", "recipient domain");
	is_str(d.rcpts[0].raw, "x@gmail.com", "recipient raw");
	decision_free(&d);

	/* unknown keys from a later version are skipped; unknown rules read as "other" */
	line = malloc(sb.len + 64);
	strcpy(line, sb.s);
	strcat(line, " future=1 later=\"a b\"\r\n");
	ok(audit_parse(line, &d) == 0, "unknown keys and a CRLF end are fine");
	decision_free(&d);
	free(line);

	ok(audit_parse("decision time=1 action=hold applied=deliver rule=SomethingNew rcpts=0", &d) ==
		   0,
	   "minimal line");
	is_str(d.rule, "other", "unknown rule name reads as other");
	is_int(d.action, ACTION_HOLD, "action read");
	is_int(d.applied, ACTION_DELIVER, "applied read");
	decision_free(&d);
	sb_free(&sb);
}

static const struct {
	const char *line;
	const char *why;
} bad_lines[] = {
	{ "", "empty" },
	{ "no decision here", "no decision token" },
	{ "decisions time=1 action=deliver rcpts=0", "decisions is not decision" },
	{ "decision time=1 rcpts=0", "no action" },
	{ "decision time=1 action=deliver", "no rcpts" },
	{ "decision action=deliver rcpts=1", "rcpts=1 without the recipient" },
	{ "decision action=deliver rcpts=1 rcpt1=a@b class1=tls action1=deliver rule1=-",
	  "recipient without evidence (line cut short)" },
	{ "decision action=deliver rcpts=0 rcpt1=a@b class1=tls action1=deliver rule1=- evidence1=-",
	  "more recipients than rcpts" },
	{ "decision action=deliver rcpts=1 rcpt1=a@b class1=bogus action1=deliver rule1=- evidence1=-",
	  "unknown class" },
	{ "decision action=deliver rcpts=1 rcpt1=a@b class1=tls action1=send rule1=- evidence1=-",
	  "unknown recipient action" },
	{ "decision action=maybe rcpts=0", "unknown action" },
	{ "decision action=deliver trusted=perhaps rcpts=0", "bad boolean" },
	{ "decision action=deliver mode=strict rcpts=0", "bad mode" },
	{ "decision action=deliver personal_source=guess rcpts=0", "bad personal source" },
	{ "decision action=deliver cpr=-1 rcpts=0", "negative cpr" },
	{ "decision action=deliver time=12x rcpts=0", "bad time" },
	{ "decision action=deliver rcpts=99999999", "absurd rcpts" },
	{ "decision action=deliver rcpts=0 sender=\"unterminated", "unterminated quote" },
	{ "decision action=deliver rcpts=0 sender=\"a\"b", "junk after a quoted value" },
	{ "decision action=deliver rcpts=0 sender=\"\\q\"", "unknown escape" },
	{ "decision action=deliver rcpts=0 sender=\"\\x0\"", "short \\x escape" },
	{ "decision action=deliver rcpts=0 sender=\"a\\x00b\"", "NUL escape" },
	{ "decision action=deliver rcpts=0 sender=a\"b", "quote inside a bare value" },
	{ "decision action=deliver rcpts=0 sender=", "empty bare value" },
	{ "decision action=deliver rcpts=0 =x", "empty key" },
	{ "decision action=deliver rcpts=0 novalue", "key without =" },
	{ "decision action=deliver rcpts=0 rcpt0=a@b", "index 0" },
};

static void test_parse_bad(void)
{
	struct decision d;

	for (size_t i = 0; i < sizeof(bad_lines) / sizeof(bad_lines[0]); i++) {
		is_int(audit_parse(bad_lines[i].line, &d), -1, "refused: %s", bad_lines[i].why);
		ok(d.n_rcpts == 0 && d.sender == NULL, "refused: %s: nothing left behind",
		   bad_lines[i].why);
	}
}

static void test_truncated(void)
{
	struct decision d;
	struct strbuf sb;
	size_t refused = 0, n;

	/* every prefix of a real line that ends inside the recipients is refused */
	known_decision(&d);
	sb_init(&sb);
	audit_format(&d, &sb);
	decision_free(&d);
	n = (size_t)(strstr(sb.s, " rcpt1=") - sb.s);
	for (size_t len = n; len < sb.len; len++) {
		char *cut = strndup(sb.s, len);

		if (audit_parse(cut, &d) < 0)
			refused++;
		else
			decision_free(&d);
		free(cut);
	}
	is_int((long long)refused, (long long)(sb.len - n), "every cut-short line is refused");
	sb_free(&sb);
}

int main(void)
{
	test_format_exact();
	test_round_trip();
	test_parse_details();
	test_parse_bad();
	test_truncated();
	return done_testing();
}

/*
 * t_audit.c - the audit lines: the exact text of the single line of
 * earlier versions and of the summary and recipient lines (kv and JSON)
 * for known decisions; the round trip through the parsers with hostile
 * values; every line under the bound with 500 recipients and huge
 * values, cut visibly; the JSON lines valid JSON (tests/unit/jsoncheck);
 * and the lines the parsers must refuse.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "tap.h"

static char *huge(const char *pattern, size_t n);

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

	/* a subject tag as the personal source: the word "subject", read back */
	known_decision(&d);
	d.psrc = PSRC_SUBJECT;
	free(d.personal_why);
	d.personal_why = strdup("header no; subject tag");
	{
		struct strbuf sb;

		sb_init(&sb);
		audit_format(&d, &sb);
		ok(strstr(sb.s, " personal=yes personal_source=subject"
				" personal_reason=\"header no; subject tag\" ") != NULL,
		   "personal source subject: written as \"subject\"");
		sb_free(&sb);
	}
	round_trip(&d, "", "personal source subject");
	decision_free(&d);

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

/* ------------------------------------------------------------ summary and recipient lines */

static const char *const known_kv[] = {
	"decision time=1764400000 instance=mx1 id=ID1 queue_id=4F2A1C3B2D message_id=<a1@kp.dk>"
	" sender=a@kp.dk client=10.0.0.5 trusted=yes mode=enforce personal=yes"
	" personal_source=header personal_reason=\"header yes\" cpr=0 action=reject"
	" applied=reject rule=PersonalToFreemail rcpts=2",
	"decision-rcpt time=1764400000 instance=mx1 id=ID1 queue_id=4F2A1C3B2D"
	" rcpt=x@gmail.com class=freemail action=reject rule=PersonalToFreemail"
	" evidence=\"freemail list: gmail.com (built-in, imported 2025-01-02)\" n=1 of=2",
	"decision-rcpt time=1764400000 instance=mx1 id=ID1 queue_id=4F2A1C3B2D"
	" rcpt=u@kp.dk class=internal action=deliver rule=internal"
	" evidence=\"InternalDomains entry kp.dk\" n=2 of=2",
};

static const char *const known_json[] = {
	"{\"type\":\"decision\",\"time\":1764400000,\"instance\":\"mx1\",\"id\":\"ID1\","
	"\"queue_id\":\"4F2A1C3B2D\",\"message_id\":\"<a1@kp.dk>\",\"sender\":\"a@kp.dk\","
	"\"client\":\"10.0.0.5\",\"trusted\":true,\"mode\":\"enforce\",\"personal\":true,"
	"\"personal_source\":\"header\",\"personal_reason\":\"header yes\",\"cpr\":0,"
	"\"action\":\"reject\",\"applied\":\"reject\",\"rule\":\"PersonalToFreemail\",\"rcpts\":2}",
	"{\"type\":\"decision-rcpt\",\"time\":1764400000,\"instance\":\"mx1\",\"id\":\"ID1\","
	"\"queue_id\":\"4F2A1C3B2D\",\"rcpt\":\"x@gmail.com\","
	"\"class\":\"freemail\",\"action\":\"reject\",\"rule\":\"PersonalToFreemail\","
	"\"evidence\":\"freemail list: gmail.com (built-in, imported 2025-01-02)\","
	"\"n\":1,\"of\":2}",
	"{\"type\":\"decision-rcpt\",\"time\":1764400000,\"instance\":\"mx1\",\"id\":\"ID1\","
	"\"queue_id\":\"4F2A1C3B2D\",\"rcpt\":\"u@kp.dk\","
	"\"class\":\"internal\",\"action\":\"deliver\",\"rule\":\"internal\","
	"\"evidence\":\"InternalDomains entry kp.dk\",\"n\":2,\"of\":2}",
};

static void test_lines_exact(void)
{
	struct decision d;
	struct strlist l;

	known_decision(&d);
	d.instance = strdup("mx1");
	strlist_init(&l);
	audit_lines(&d, AUDIT_KV, "ID1", &l);
	is_int((long long)l.n, 3, "kv: a summary and a line per recipient");
	for (size_t i = 0; i < l.n && i < 3; i++)
		is_str(l.v[i], known_kv[i], "kv: line %zu", i + 1);
	strlist_free(&l);
	strlist_init(&l);
	audit_lines(&d, AUDIT_JSON, "ID1", &l);
	is_int((long long)l.n, 3, "json: a summary and a line per recipient");
	for (size_t i = 0; i < l.n && i < 3; i++)
		is_str(l.v[i], known_json[i], "json: line %zu", i + 1);
	strlist_free(&l);
	decision_free(&d);

	/* escapes: JSON keeps UTF-8, escapes controls, writes other bytes as the text \xHH */
	decision_init(&d);
	d.sender = strdup("tab\there \"q\" \\ K\xc3\xb8" "benhavn \xff\x7f");
	d.action = d.applied = ACTION_DELIVER;
	strlist_init(&l);
	audit_lines(&d, AUDIT_JSON, "I", &l);
	is_str(l.v[0],
	       "{\"type\":\"decision\",\"time\":0,\"instance\":null,\"id\":\"I\",\"queue_id\":null,"
	       "\"message_id\":null,\"sender\":\"tab\\u0009here \\\"q\\\" \\\\ K\xc3\xb8" "benhavn "
	       "\\\\xff\\u007f\",\"client\":null,\"trusted\":false,\"mode\":\"enforce\","
	       "\"personal\":false,\"personal_source\":\"none\",\"personal_reason\":null,\"cpr\":0,"
	       "\"action\":\"deliver\",\"applied\":\"deliver\",\"rule\":null,\"rcpts\":0}",
	       "json: escapes");
	strlist_free(&l);
	strlist_init(&l);
	audit_lines(&d, AUDIT_KV, "I", &l);
	is_str(strstr(l.v[0], " sender="),
	       " sender=\"tab\\x09here \\\"q\\\" \\\\ K\xc3\xb8" "benhavn \\xff\\x7f\" client=-"
	       " trusted=no mode=enforce personal=no personal_source=none personal_reason=- cpr=0"
	       " action=deliver applied=deliver rule=- rcpts=0",
	       "kv: escapes");
	strlist_free(&l);
	decision_free(&d);
}

/* jsoncheck - is s valid JSON, by tests/unit/jsoncheck (a program of its own)? */
static bool jsoncheck(const char *s)
{
	const char *top = getenv("top_builddir");
	char *cmd = xasprintf("%s/tests/unit/jsoncheck 2>/dev/null", top ? top : ".");
	FILE *f = popen(cmd, "w");
	bool good;

	free(cmd);
	if (f == NULL)
		return false;
	fputs(s, f);
	good = pclose(f) == 0;
	return good;
}

/* reassemble - the decision from its lines, as a reader puts it together; 0 or -1. */
static int reassemble(const struct strlist *l, struct decision *out, char **id)
{
	struct audit_record rec;

	decision_init(out);
	*id = NULL;
	if (l->n == 0 || audit_parse_record(l->v[0], &rec) != 0 || rec.kind != AUDIT_SUMMARY ||
	    rec.of != l->n - 1) {
		if (l->n > 0 && rec.kind != AUDIT_SUMMARY)
			audit_record_free(&rec);
		return -1;
	}
	*out = rec.d;
	*id = rec.id;
	for (size_t i = 1; i < l->n; i++) {
		struct rcpt *r;

		if (audit_parse_record(l->v[i], &rec) != 0)
			return -1;
		if (rec.kind != AUDIT_RCPT || rec.n != i || rec.of != l->n - 1 ||
		    strcmp(rec.id, *id) != 0 || rec.d.time != out->time) {
			audit_record_free(&rec);
			return -1;
		}
		r = decision_add_rcpt(out, NULL, NULL);
		free(r->raw);
		*r = rec.d.rcpts[0];
		rec.d.n_rcpts = 0;
		free(rec.id);
		decision_free(&rec.d);
	}
	return 0;
}

static void lines_round_trip(const struct decision *d, enum audit_format fmt, bool exact,
			     const char *name)
{
	struct strlist a, b;
	struct decision back;
	char *id;
	bool same = true;

	strlist_init(&a);
	strlist_init(&b);
	audit_lines(d, fmt, "6929a7c0-1f3a-1", &a);
	if (!ok(reassemble(&a, &back, &id) == 0, "%s: the lines parse and join", name)) {
		for (size_t i = 0; i < a.n; i++)
			diag("line: %s", a.v[i]);
		decision_free(&back);
		free(id);
		goto out;
	}
	is_str(id, "6929a7c0-1f3a-1", "%s: the id", name);
	ok(same_str(back.instance, d->instance), "%s: the instance", name);
	if (exact)
		compare(d, &back, name);
	audit_lines(&back, fmt, id, &b);
	for (size_t i = 0; i < a.n && same; i++)
		same = i < b.n && strcmp(a.v[i], b.v[i]) == 0;
	ok(same && a.n == b.n, "%s: they format back to the same lines", name);
	decision_free(&back);
	free(id);
out:
	strlist_free(&a);
	strlist_free(&b);
}

static void test_lines_round_trip(void)
{
	static const char *const nasty[] = {
		"with space", "\"quoted\"", "back\\slash", "a=b", "=", "\\x41", "\\", "\"",
		"ctl\x01\x1f\x7f", "cr\rlf\n", "tab\t", ("K\xc3\xb8" "benhavn"), "bad\xff\xfe",
		"c1\xc2\x85", "-", "", "--", " ", "trailing ", "x\\\"y", "rcpt=evil", "{\"a\":1}",
		"\xf0\x9f\x93\xa7 mail", "\\u0041",
	};
	struct decision d;
	char name[48];

	known_decision(&d);
	d.instance = strdup("mx1");
	d.generation = 7;
	d.copy_id = strdup("<copy@kp.dk>");
	d.failure = strdup("reinject: refused");
	d.mailbox = strdup("hr@kp.dk");
	d.unrecorded = true;
	lines_round_trip(&d, AUDIT_KV, true, "kv: known decision");
	lines_round_trip(&d, AUDIT_JSON, true, "json: known decision");
	/* what report --log reads of a message a subject tag made personal */
	d.psrc = PSRC_SUBJECT;
	lines_round_trip(&d, AUDIT_KV, true, "kv: personal source subject");
	lines_round_trip(&d, AUDIT_JSON, true, "json: personal source subject");
	decision_free(&d);

	for (size_t i = 0; i < sizeof(nasty) / sizeof(nasty[0]); i++) {
		/* JSON writes a byte that is not UTF-8 as text: equal fields only without one */
		bool text_only = strstr(nasty[i], "\xff") == NULL && strstr(nasty[i], "\xc2\x85") == NULL;

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
		d.instance = strdup("gw-2.kp.dk");
		snprintf(name, sizeof(name), "kv: nasty value %zu", i);
		lines_round_trip(&d, AUDIT_KV, true, name);
		snprintf(name, sizeof(name), "json: nasty value %zu", i);
		lines_round_trip(&d, AUDIT_JSON, text_only, name);
		decision_free(&d);
	}

	/* cut values read back and write the same lines again, however they were quoted */
	known_decision(&d);
	free(d.message_id);
	free(d.sender);
	free(d.rcpts[0].evidence);
	d.message_id = huge("a", 400);
	d.message_id[399] = '=';	/* quoted only for what is cut off */
	d.sender = huge("b\x01", 400);
	d.rcpts[0].evidence = huge("K\xc3\xb8 \xff", 2000);
	lines_round_trip(&d, AUDIT_KV, false, "kv: cut values");
	lines_round_trip(&d, AUDIT_JSON, false, "json: cut values");
	decision_free(&d);

	/* NULLs, no recipients */
	known_decision(&d);
	free(d.queue_id);
	free(d.message_id);
	free(d.client_addr);
	free(d.personal_why);
	free(d.rcpts[1].evidence);
	d.queue_id = d.message_id = d.client_addr = d.personal_why = d.rcpts[1].evidence = NULL;
	lines_round_trip(&d, AUDIT_KV, true, "kv: NULL fields");
	lines_round_trip(&d, AUDIT_JSON, true, "json: NULL fields");
	decision_free(&d);
	decision_init(&d);
	d.action = d.applied = ACTION_DELIVER;
	d.rule = "no-recipients";
	lines_round_trip(&d, AUDIT_KV, true, "kv: no recipients");
	lines_round_trip(&d, AUDIT_JSON, true, "json: no recipients");
	decision_free(&d);
}

/* huge - n bytes of the pattern, repeated. */
static char *huge(const char *pattern, size_t n)
{
	char *s = malloc(n + 1);
	size_t k = strlen(pattern);

	for (size_t i = 0; i < n; i++)
		s[i] = pattern[i % k];
	s[n] = '\0';
	return s;
}

static void test_lines_bound(void)
{
	/* each pattern at its worst for one format: controls and bad bytes grow the most */
	static const char *const patterns[] = { "\x01", "\xff", "\"", "a", "\xc3\xb8", "\xe2\x80\xa8" };
	struct decision d;
	struct strlist l;
	char name[64];

	for (size_t k = 0; k < sizeof(patterns) / sizeof(patterns[0]); k++) {
		for (int fmt = AUDIT_KV; fmt <= AUDIT_JSON; fmt++) {
			size_t longest = 0, cut = 0, bad_json = 0, refused = 0;
			struct decision back;
			char *id;

			decision_init(&d);
			d.time = LLONG_MAX;
			d.generation = ULONG_MAX;
			d.cpr_hits = INT_MAX;
			d.unrecorded = true;	/* trusted, personal false: longer in JSON */
			d.mode = MODE_MONITOR;
			d.psrc = PSRC_HEADER;
			d.action = d.applied = ACTION_TEMPFAIL;
			d.rule = "PersonalToFreemail";
			d.instance = huge(patterns[k], 10000);
			d.queue_id = huge(patterns[k], 10000);
			d.message_id = huge(patterns[k], 10000);
			d.sender = huge(patterns[k], 10000);
			d.client_addr = huge(patterns[k], 10000);
			d.personal_why = huge(patterns[k], 10000);
			d.copy_id = huge(patterns[k], 10000);
			d.failure = huge(patterns[k], 10000);
			d.mailbox = huge(patterns[k], 10000);
			for (size_t i = 0; i < 500; i++) {
				char *a = huge(patterns[k], 5000);

				add(&d, a, CLASS_ENCRYPTED, ACTION_TEMPFAIL, "PersonalToFreemail",
				    NULL);
				d.rcpts[i].evidence = huge(patterns[k], 50000);
				free(a);
			}
			strlist_init(&l);
			audit_lines(&d, (enum audit_format)fmt, "ffffffffffffffff-ffffffff-ffffffffffffffff",
				    &l);
			for (size_t i = 0; i < l.n; i++) {
				size_t n = strlen(l.v[i]);

				longest = n > longest ? n : longest;
				cut += strstr(l.v[i], AUDIT_CUT_MARK) != NULL;
				if (fmt == AUDIT_JSON && (i < 3 || i == l.n - 1) && !jsoncheck(l.v[i]))
					bad_json++;
			}
			snprintf(name, sizeof(name), "%s, pattern %zu", fmt == AUDIT_KV ? "kv" : "json",
				 k);
			is_int((long long)l.n, 501, "%s: 500 recipients, 501 lines", name);
			ok(longest <= AUDIT_LINE_MAX, "%s: the longest line has %zu bytes (at most %d)",
			   name, longest, AUDIT_LINE_MAX);
			is_int((long long)cut, 501, "%s: every line says it was cut", name);
			ok(no_controls(l.v[0]) && no_controls(l.v[1]), "%s: no raw control characters",
			   name);
			if (fmt == AUDIT_JSON)
				is_int((long long)bad_json, 0, "%s: the lines are valid JSON", name);
			if (ok(reassemble(&l, &back, &id) == 0, "%s: the cut lines parse and join", name))
				is_int((long long)back.n_rcpts, 500, "%s: ... to 500 recipients", name);
			decision_free(&back);
			free(id);
			/* a line cut short by a collector is refused, never read as a whole one */
			for (size_t len = 1; len < strlen(l.v[1]); len += 7) {
				struct audit_record rec;
				char *short_line = strndup(l.v[1], len);

				if (audit_parse_record(short_line, &rec) != 0)
					refused++;
				else if (rec.of != 500)
					refused++;	/* "of=50": at odds with the summary */
				else
					diag("read as whole: %s", short_line);
				if (rec.id != NULL || rec.d.n_rcpts > 0)
					audit_record_free(&rec);
				free(short_line);
			}
			ok(refused == (strlen(l.v[1]) - 2) / 7 + 1,
			   "%s: every cut-short recipient line refused or at odds", name);
			strlist_free(&l);
			decision_free(&d);
		}
	}
}

static void test_known_json_valid(void)
{
	for (size_t i = 0; i < 3; i++)
		ok(jsoncheck(known_json[i]), "json line %zu is valid JSON", i + 1);
	ok(!jsoncheck("{\"a\":"), "jsoncheck refuses a cut line (it can fail)");
}

static const struct {
	const char *line;
	const char *why;
} bad_records[] = {
	{ "decision time=1 instance=a id=X action=deliver", "summary without rcpts" },
	{ "decision time=1 instance=a id=X rcpts=1", "summary without action" },
	{ "decision time=1 id=X action=deliver rcpts=1 rcpt1=a@b class1=tls action1=deliver"
	  " rule1=- evidence1=-", "summary with a recipient in it" },
	{ "decision time=1 id=- action=deliver rcpts=0", "summary with a NULL id" },
	{ "decision-rcpt time=1 id=X n=1 of=1 rcpt=a@b class=tls action=deliver rule=-",
	  "recipient line without evidence (cut short)" },
	{ "decision-rcpt time=1 id=X n=2 of=1 rcpt=a@b class=tls action=deliver rule=- evidence=-",
	  "recipient n beyond of" },
	{ "decision-rcpt time=1 id=X n=0 of=1 rcpt=a@b class=tls action=deliver rule=- evidence=-",
	  "recipient 0" },
	{ "decision-rcpt time=1 n=1 of=1 rcpt=a@b class=tls action=deliver rule=- evidence=-",
	  "recipient line without id" },
	{ "decision-rcpt time=1 id=X of=1 rcpt=a@b class=tls action=deliver rule=- evidence=-",
	  "recipient line without n" },
	{ "decision-rcpt time=1 id=X n=1 of=1 rcpt=a@b class=bogus action=deliver rule=- evidence=-",
	  "recipient line with a bad class" },
	{ "{\"time\":1,\"type\":\"decision\",\"id\":\"X\",\"action\":\"deliver\",\"rcpts\":0}",
	  "json: type not first" },
	{ "{\"type\":\"other\",\"id\":\"X\",\"action\":\"deliver\",\"rcpts\":0}", "json: unknown type" },
	{ "{\"type\":\"decision\",\"id\":\"X\",\"action\":\"deliver\",\"rcpts\":0", "json: no }" },
	{ "{\"type\":\"decision\",\"id\":\"X\",\"action\":\"deliver\",\"rcpts\":0}x",
	  "json: junk after the object" },
	{ "{\"type\":\"decision\",\"id\":\"X\",\"action\":\"deliver\",\"rcpts\":0,\"a\":[1]}",
	  "json: an array" },
	{ "{\"type\":\"decision\",\"id\":\"X\",\"action\":\"deliver\",\"rcpts\":-1}",
	  "json: a negative count" },
	{ "{\"type\":\"decision\",\"id\":\"X\",\"sender\":\"a\\u0000b\",\"action\":\"deliver\","
	  "\"rcpts\":0}", "json: \\u0000" },
	{ "{\"type\":\"decision\",\"id\":\"X\",\"sender\":\"\\ud800\",\"action\":\"deliver\","
	  "\"rcpts\":0}", "json: a lone surrogate" },
	{ "{\"type\":\"decision\",\"id\":\"X\",\"sender\":\"\xff\",\"action\":\"deliver\","
	  "\"rcpts\":0}", "json: a raw byte that is not UTF-8" },
	{ "{\"type\":\"decision\",\"id\":\"X\",\"sender\":\"a\tb\",\"action\":\"deliver\","
	  "\"rcpts\":0}", "json: a raw control character" },
	{ "{\"type\":\"decision\",\"id\":\"X\",\"trusted\":maybe,\"action\":\"deliver\",\"rcpts\":0}",
	  "json: a bad literal" },
	{ "decisionx time=1 action=deliver rcpts=0", "no record" },
	{ " decision time=1 action=deliver rcpts=0", "a record not at its start" },
};

static void test_records(void)
{
	struct audit_record rec;

	for (size_t i = 0; i < sizeof(bad_records) / sizeof(bad_records[0]); i++)
		is_int(audit_parse_record(bad_records[i].line, &rec), -1, "refused: %s",
		       bad_records[i].why);

	ok(audit_parse_record(known_line, &rec) == 0 && rec.kind == AUDIT_WHOLE &&
		   rec.d.n_rcpts == 2 && rec.id == NULL,
	   "a single line of earlier versions reads as a whole decision");
	audit_record_free(&rec);
	ok(audit_parse_record("{\"type\":\"decision\", \"time\":5, \"id\":\"X\", \"sender\":"
			      "\"\\u00f8\\ud83d\\udce7\\/\", \"future\":{}, \"action\":\"hold\","
			      " \"rcpts\":0}", &rec) == -1,
	   "json: a nested object is refused");
	ok(audit_parse_record("{\"type\":\"decision\", \"time\":5, \"id\":\"X\", \"sender\":"
			      "\"\\u00f8\\ud83d\\udce7\\/\", \"future\":\"x\", \"action\":\"hold\","
			      " \"rcpts\":0}", &rec) == 0,
	   "json: spaces, \\u escapes, surrogate pairs and unknown keys");
	is_str(rec.d.sender, "\xc3\xb8\xf0\x9f\x93\xa7/", "json: \\u escapes decoded to UTF-8");
	is_int(rec.d.action, ACTION_HOLD, "json: the action read");
	audit_record_free(&rec);
}

int main(void)
{
	test_format_exact();
	test_round_trip();
	test_parse_details();
	test_parse_bad();
	test_truncated();
	test_lines_exact();
	test_known_json_valid();
	test_lines_round_trip();
	test_lines_bound();
	test_records();
	return done_testing();
}

/*
 * ctl_replay.c - sikkermail-ctl replay, "what if": the recorded decisions
 * of a period decided again under another configuration and the lists of
 * the database, and the recipients whose outcome would change:
 *
 *   replay --config FILE [--since DATE] [--until DATE] [--database DB]
 *          [--format text|csv|json|html]
 *
 * Exports ctl_replay (ctl.h).
 *
 * The decision is made again by the filter's own classify_address and
 * policy_decide, from what the record holds: the recipients, whether the
 * submitter was trusted, what the flag headers said, whether the body was
 * scanned for CPR numbers and what was found, and whether it came
 * encrypted. Classification uses the lists in the database as they are
 * now and the date of the message (a partner agreement valid that day
 * still counts). Certificates come from the database's certificate cache
 * only: the directory is never asked about past mail, and a recipient the
 * cache knows nothing about is decided as having no certificate (the
 * output counts and marks them). What the record cannot tell - a decision
 * recorded before its facts were kept, a message that was not scanned for
 * CPR numbers while FILE would have it scanned - is replayed with what is
 * known and counted as not fully replayed, with the reason. A list or
 * cached certificate the database cannot answer for stops the replay
 * (EX_TEMPFAIL): a recipient of class unknown would be a wrong answer.
 *
 * A recipient's outcome is its action in enforce mode, and deliver with
 * the would-be action in monitor mode; a change is an outcome that
 * differs. Changes are grouped by outcome and rule, before and after;
 * the groups with the most recipients come first.
 * Every text from the database goes through report_clean (CPR-shaped
 * numbers masked). Everything is read before anything is written.
 *
 * The HTML page says what the text says, in one self-contained file: its
 * style sheet inline (with one for print), no script, nothing loaded from
 * anywhere (a Content-Security-Policy in the page forbids it, as in the
 * compliance report), and every reason as text in its table cell.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "certs.h"
#include "classify.h"
#include "config.h"
#include "ctl.h"
#include "decision.h"
#include "log.h"
#include "policy.h"
#include "report.h"
#include "store.h"
#include "util.h"

enum { FMT_TEXT, FMT_CSV, FMT_JSON, FMT_HTML };

/* Why a decision could not be fully replayed. */
enum partial {
	PARTIAL_BEFORE_FACTS,	/* recorded before the facts were kept */
	PARTIAL_NOT_SCANNED,	/* not scanned for CPR numbers; FILE has DetectCPR enforce */
	PARTIAL_COUNT
};

/* For the text output: each reason in lines that fit 80 columns. */
static const char *const partial_why[PARTIAL_COUNT] = {
	[PARTIAL_BEFORE_FACTS] = "recorded before the facts a replay needs were kept (flag\n"
				 "      headers, CPR scan, encryption): decided from the recorded\n"
				 "      personal source",
	[PARTIAL_NOT_SCANNED] = "not scanned for CPR numbers when recorded, but DetectCPR\n"
				"      is enforce in the configuration replayed: taken as without\n"
				"      a CPR number",
};

static const char *const partial_key[PARTIAL_COUNT] = {
	[PARTIAL_BEFORE_FACTS] = "before_facts",
	[PARTIAL_NOT_SCANNED] = "not_scanned",
};

/* One side of a change: what was, or would be, done to one recipient. */
struct outcome {
	enum rclass cls;
	enum action action;	/* the verdict */
	bool monitor;		/* decided in monitor mode: delivered whatever the verdict */
	char *rule;
};

/* One recipient whose outcome would change. */
struct change {
	long long time;
	char *queue_id;
	char *sender;
	char *rcpt;
	struct outcome before;
	struct outcome after;
	char *evidence;		/* why the new class */
	bool no_cert;		/* the certificate cache had no answer for it */
	int partial;		/* enum partial, or -1 */
};

/* The changes of one kind: the same outcome and rule before, and after. */
struct group {
	char *before;		/* outcome label */
	char *before_rule;
	char *after;
	char *after_rule;
	long messages;
	long rcpts;
	long last_decision;	/* the decision last counted, to count a message once */
};

struct replay_args {
	const char *config;
	const char *database;
	const char *since;
	const char *until;
	int format;
};

struct replay {
	struct config *cfg;	/* the configuration replayed */
	struct certs *certs;	/* its trust store; the cache only */
	struct store *store;
	char *config_path;	/* cleaned, for the output */
	char *database;
	char since[11];
	char until[11];
	long long generated;
	bool failed;		/* a database error during the walk */
	long decisions;
	long rcpts;
	long changed_messages;
	long changed_rcpts;
	long partial[PARTIAL_COUNT];
	long partial_changed[PARTIAL_COUNT];
	long no_cert;		/* recipients whose certificate question the cache could not answer */
	long unknown;		/* recipients the replay could not classify */
	struct change *changes;
	size_t n_changes;
	size_t cap_changes;
	struct group *groups;
	size_t n_groups;
	size_t cap_groups;
};

static int parse_args(int argc, char **argv, struct replay_args *a);
static const char *option_value(int argc, char **argv, int *i, const char *name);
static int parse_format(const char *s);
static int replay_one(const struct decision *d, void *arg);
static bool replayed_personal(const struct config *cfg, const struct decision *d, int *partial);
static void copy_rcpts(const struct decision *d, struct decision *n);
static int cert_uncached(struct replay *r, bool personal, const struct rcpt *rc);
static enum lookup cache_has(struct replay *r, const char *key);
static bool same_outcome(const struct outcome *a, const struct outcome *b);
static char *outcome_label(const struct outcome *o);
static void add_change(struct replay *r, const struct decision *d, const struct rcpt *old,
		       const struct rcpt *now, bool no_cert, int partial);
static size_t group_of(struct replay *r, const struct change *c);
static int cmp_groups(const void *a, const void *b);
static void date_of(long long t, char buf[11]);
static void replay_free(struct replay *r);
static void write_text(const struct replay *r, FILE *out);
static void write_csv(const struct replay *r, FILE *out);
static void write_json(const struct replay *r, FILE *out);
static void csv_str(FILE *out, const char *s);
static void json_str(FILE *out, const char *s);
static void json_outcome(FILE *out, const char *key, const struct outcome *o);
static void write_html(const struct replay *r, FILE *out);
static void html_str(FILE *out, const char *s);
static void html_outcome(FILE *out, const struct outcome *o);
static void html_row(FILE *out, const char *label, long n);

int ctl_replay(struct ctl *c, int argc, char **argv)
{
	struct replay_args a = { .format = FMT_TEXT };
	struct replay r = { 0 };
	struct report period;
	const char *perr;
	char *err = NULL;
	int rc;

	if ((rc = parse_args(argc, argv, &a)) != CTL_EX_OK)
		return rc;
	if (report_init(&period, a.since, a.until, 0, (long long)time(NULL), &perr) != 0)
		return ctl_usage_error("replay: %s", perr);
	snprintf(r.since, sizeof(r.since), "%s", period.since);
	snprintf(r.until, sizeof(r.until), "%s", period.until);
	r.generated = period.generated;
	/* the files are read as the invoking user, before the database is opened */
	r.config_path = report_clean(a.config);
	if ((r.cfg = config_load_default(a.config)) == NULL) {
		report_free(&period);
		return CTL_EX_ERROR;
	}
	if ((r.certs = certs_new_cached(r.cfg, &err)) == NULL) {
		msg_error("replay: %s: %s", a.config, err ? err : "cannot load the trust store");
		free(err);
		replay_free(&r);
		report_free(&period);
		return CTL_EX_ERROR;
	}
	if (a.database != NULL)
		c->database = a.database;
	if ((r.store = ctl_open_store(c, STORE_RO)) == NULL) {
		replay_free(&r);
		report_free(&period);
		return CTL_EX_TEMPFAIL;
	}
	r.database = report_clean(c->database);
	rc = store_decisions_each(r.store, period.t_since, period.t_until, replay_one, &r);
	report_free(&period);
	if (rc != 0 || r.failed) {
		if (!r.failed)
			msg_error("replay: %s", store_errmsg(r.store));
		replay_free(&r);
		return CTL_EX_TEMPFAIL;
	}
	if (r.n_groups > 1)
		qsort(r.groups, r.n_groups, sizeof(*r.groups), cmp_groups);
	if (a.format == FMT_CSV)
		write_csv(&r, c->out);
	else if (a.format == FMT_JSON)
		write_json(&r, c->out);
	else if (a.format == FMT_HTML)
		write_html(&r, c->out);
	else
		write_text(&r, c->out);
	replay_free(&r);
	return CTL_EX_OK;
}

/* option_value - --name VALUE or --name=VALUE at argv[*i]; NULL if not it, "" if no value. */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0')
		return NULL;
	return *i + 1 < argc ? argv[++*i] : "";
}

static int parse_args(int argc, char **argv, struct replay_args *a)
{
	static const char *const valued[] = { "--config", "--since", "--until", "--database",
					      "--format" };
	const char *v = NULL;
	size_t k;

	for (int i = 1; i < argc; i++) {
		for (k = 0; k < sizeof(valued) / sizeof(valued[0]); k++)
			if ((v = option_value(argc, argv, &i, valued[k])) != NULL)
				break;
		if (v == NULL)
			return ctl_usage_error("replay: unknown argument %s", argv[i]);
		if (v[0] == '\0')
			return ctl_usage_error("replay: %s needs a value", valued[k]);
		if (k == 0)
			a->config = v;
		else if (k == 1)
			a->since = v;
		else if (k == 2)
			a->until = v;
		else if (k == 3)
			a->database = v;
		else if ((a->format = parse_format(v)) < 0)
			return ctl_usage_error("replay: unknown format \"%s\" (text, csv, json "
					       "or html)", v);
	}
	if (a->config == NULL)
		return ctl_usage_error("replay: --config FILE is required (the configuration to "
				       "replay under)");
	return CTL_EX_OK;
}

static int parse_format(const char *s)
{
	static const char *const names[] = { "text", "csv", "json", "html" };

	for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

/* ------------------------------------------------------------ replaying */

/*
 * replayed_personal - personal_flag_of (pipeline.c) again, from the
 * record: only a trusted submitter's flag counts; under DetectCPR enforce
 * a CPR number found, or a body that could not be scanned, makes the
 * message personal. A PersonalSubjectTag is not in the record, only its
 * effect: personal_source=subject (the tag made the message personal
 * when the header had not) still counts, whatever the tags are today.
 * *partial says what the record could not tell.
 */
static bool replayed_personal(const struct config *cfg, const struct decision *d, int *partial)
{
	bool header, cpr, subject = d->psrc == PSRC_SUBJECT;

	*partial = -1;
	if (d->flag == FLAG_SAID_NA) {
		*partial = PARTIAL_BEFORE_FACTS;
		header = d->psrc == PSRC_HEADER;
		cpr = d->cpr_hits > 0 || d->psrc == PSRC_CPR;
	} else {
		header = d->flag == FLAG_SAID_YES || d->flag == FLAG_SAID_UNCLEAR;
		cpr = d->cpr_scan == CPR_SCAN_FAILED || (d->cpr_scan == CPR_SCAN_DONE && d->cpr_hits > 0);
		if (d->trusted && !header && !subject && cfg->detect_cpr == CPR_ENFORCE &&
		    d->cpr_scan == CPR_SCAN_SKIPPED)
			*partial = PARTIAL_NOT_SCANNED;
	}
	if (!d->trusted)
		return false;
	return header || subject || (cfg->detect_cpr == CPR_ENFORCE && cpr);
}

/* copy_rcpts - the recorded recipients, unclassified, into n. */
static void copy_rcpts(const struct decision *d, struct decision *n)
{
	for (size_t i = 0; i < d->n_rcpts; i++) {
		const struct address *o = &d->rcpts[i].addr;
		struct address a = { 0 };

		a.full = xstrdup(o->full ? o->full : "");
		a.local = o->local ? xstrdup(o->local) : NULL;
		a.domain = o->domain ? xstrdup(o->domain) : NULL;
		decision_add_rcpt(n, d->rcpts[i].raw, &a);
	}
}

/*
 * cert_uncached - did classification ask for rc's certificate (a personal
 * message, a class that does not come before encrypted, a directory
 * configured) and find nothing cached: for the address, or with
 * DomainCertificates, for its domain's directory entry? 1 yes, 0 no, -1
 * database error.
 */
static int cert_uncached(struct replay *r, bool personal, const struct rcpt *rc)
{
	enum lookup l;
	char *key;

	if (!personal || r->cfg->n_ldap_uri == 0 || rc->cls == CLASS_INTERNAL ||
	    rc->cls == CLASS_ENCRYPTED || rc->cls == CLASS_UNKNOWN ||
	    (rc->cls == CLASS_TUNNEL && !r->cfg->prefer_encryption) || rc->addr.full == NULL)
		return 0;
	if ((l = cache_has(r, rc->addr.full)) != LOOKUP_FOUND || !r->cfg->domain_certificates)
		return l == LOOKUP_RETRY ? -1 : l == LOOKUP_NOTFOUND;
	key = xasprintf("@%s", rc->addr.domain);
	l = cache_has(r, key);
	free(key);
	return l == LOOKUP_RETRY ? -1 : l == LOOKUP_NOTFOUND;
}

/* cache_has - FOUND when the certificate cache holds an answer (either way) for key. */
static enum lookup cache_has(struct replay *r, const char *key)
{
	struct cert_cache_entry e = { 0 };
	enum lookup l = store_cert_get(r->store, key, &e);

	cert_cache_entry_free(&e);
	return l;
}

static int replay_one(const struct decision *d, void *arg)
{
	struct replay *r = arg;
	struct decision n;
	char today[11];
	int partial, uncached = 0;
	bool changed = false;

	r->decisions++;
	decision_init(&n);
	n.time = d->time;
	n.trusted = d->trusted;
	n.personal = replayed_personal(r->cfg, d, &partial);
	n.already_encrypted = d->already_encrypted;
	copy_rcpts(d, &n);
	date_of(d->time, today);
	for (size_t i = 0; i < n.n_rcpts; i++) {
		struct classification cl;
		struct rcpt *rc = &n.rcpts[i];

		classify_address(r->cfg, r->certs, r->store, NULL, &rc->addr, n.personal, today,
				 &cl);
		rc->cls = cl.cls;
		rc->evidence = cl.evidence;
		cl.evidence = NULL;
		classification_free(&cl);
		if (rc->cls == CLASS_UNKNOWN && rc->addr.domain != NULL && rc->addr.domain[0]) {
			/* a list or the cache did not answer: no replay is better than a wrong one */
			char *addr = report_clean(rc->addr.full);

			msg_error("replay: %s could not be classified (%s): %s", addr,
				  rc->evidence ? rc->evidence : "?", store_errmsg(r->store));
			free(addr);
			r->failed = true;
			decision_free(&n);
			return -1;
		}
	}
	policy_decide(r->cfg, &n);
	if (partial >= 0)
		r->partial[partial]++;
	for (size_t i = 0; i < n.n_rcpts; i++) {
		const struct rcpt *old = &d->rcpts[i], *now = &n.rcpts[i];
		struct outcome before = { old->cls, old->action, d->mode == MODE_MONITOR, NULL };
		struct outcome after = { now->cls, now->action, n.mode == MODE_MONITOR, NULL };

		r->rcpts++;
		r->unknown += now->cls == CLASS_UNKNOWN;
		if ((uncached = cert_uncached(r, n.personal, now)) < 0)
			break;
		r->no_cert += uncached;
		if (same_outcome(&before, &after))
			continue;
		add_change(r, d, old, now, uncached > 0, partial);
		changed = true;
	}
	if (changed) {
		r->changed_messages++;
		if (partial >= 0)
			r->partial_changed[partial]++;
	}
	decision_free(&n);
	return uncached < 0 ? -1 : 0;
}

/*
 * same_outcome - the same thing done to the recipient, and the same
 * verdict: deliver is deliver in either mode; any other verdict differs
 * between monitor mode (delivered) and enforce mode.
 */
static bool same_outcome(const struct outcome *a, const struct outcome *b)
{
	return a->action == b->action && (a->monitor == b->monitor || a->action == ACTION_DELIVER);
}

/* outcome_label - "reject"; in monitor mode "deliver" or "would reject (monitor)". */
static char *outcome_label(const struct outcome *o)
{
	if (o->monitor && o->action != ACTION_DELIVER)
		return xasprintf("would %s (monitor)", action_name(o->action));
	return xstrdup(action_name(o->action));
}

static void add_change(struct replay *r, const struct decision *d, const struct rcpt *old,
		       const struct rcpt *now, bool no_cert, int partial)
{
	struct change *c;
	struct group *g;
	size_t i;

	if (r->n_changes == r->cap_changes) {
		r->cap_changes = r->cap_changes ? r->cap_changes * 2 : 16;
		r->changes = xrealloc(r->changes, r->cap_changes * sizeof(*r->changes));
	}
	c = &r->changes[r->n_changes++];
	memset(c, 0, sizeof(*c));
	c->time = d->time;
	c->queue_id = report_clean(d->queue_id);
	c->sender = report_clean(d->sender);
	c->rcpt = report_clean(old->addr.full ? old->addr.full : old->raw);
	c->before = (struct outcome){ old->cls, old->action, d->mode == MODE_MONITOR,
				      report_clean(old->rule ? old->rule : "") };
	c->after = (struct outcome){ now->cls, now->action, r->cfg->mode == MODE_MONITOR,
				     xstrdup(now->rule ? now->rule : "") };
	c->evidence = report_clean(now->evidence);
	c->no_cert = no_cert;
	c->partial = partial;
	i = group_of(r, c);	/* may move r->groups */
	g = &r->groups[i];
	if (g->last_decision != r->decisions) {
		g->last_decision = r->decisions;
		g->messages++;
	}
	g->rcpts++;
	r->changed_rcpts++;
}

/* group_of - the index of c's group, made if new (groups are few: a linear search). */
static size_t group_of(struct replay *r, const struct change *c)
{
	char *before = outcome_label(&c->before), *after = outcome_label(&c->after);
	struct group *g;
	size_t i;

	for (i = 0; i < r->n_groups; i++) {
		g = &r->groups[i];
		if (strcmp(g->before, before) == 0 && strcmp(g->after, after) == 0 &&
		    strcmp(g->before_rule, c->before.rule) == 0 &&
		    strcmp(g->after_rule, c->after.rule) == 0) {
			free(before);
			free(after);
			return i;
		}
	}
	if (r->n_groups == r->cap_groups) {
		r->cap_groups = r->cap_groups ? r->cap_groups * 2 : 8;
		r->groups = xrealloc(r->groups, r->cap_groups * sizeof(*r->groups));
	}
	g = &r->groups[r->n_groups++];
	memset(g, 0, sizeof(*g));
	g->before = before;
	g->after = after;
	g->before_rule = xstrdup(c->before.rule);
	g->after_rule = xstrdup(c->after.rule);
	return i;
}

/* cmp_groups - the most recipients first; then by the labels, for a stable order. */
static int cmp_groups(const void *a, const void *b)
{
	const struct group *x = a, *y = b;
	int c;

	if (x->rcpts != y->rcpts)
		return x->rcpts > y->rcpts ? -1 : 1;
	if ((c = strcmp(x->before, y->before)) != 0 || (c = strcmp(x->after, y->after)) != 0 ||
	    (c = strcmp(x->before_rule, y->before_rule)) != 0)
		return c;
	return strcmp(x->after_rule, y->after_rule);
}

/* date_of - the local date of t as YYYY-MM-DD (the day the message was decided). */
static void date_of(long long t, char buf[11])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL || strftime(buf, 11, "%Y-%m-%d", &tm) != 10)
		strcpy(buf, "0000-00-00");
}

static void replay_free(struct replay *r)
{
	for (size_t i = 0; i < r->n_changes; i++) {
		struct change *c = &r->changes[i];

		free(c->queue_id);
		free(c->sender);
		free(c->rcpt);
		free(c->before.rule);
		free(c->after.rule);
		free(c->evidence);
	}
	for (size_t i = 0; i < r->n_groups; i++) {
		free(r->groups[i].before);
		free(r->groups[i].after);
		free(r->groups[i].before_rule);
		free(r->groups[i].after_rule);
	}
	free(r->changes);
	free(r->groups);
	free(r->database);
	free(r->config_path);
	store_close(r->store);
	certs_free(r->certs);
	if (r->cfg != NULL)
		config_unref(r->cfg);
	memset(r, 0, sizeof(*r));
}

/* ------------------------------------------------------------ text */

static void write_text(const struct replay *r, FILE *out)
{
	char when[40];

	report_time_string(r->generated, false, when, sizeof(when));
	fprintf(out, "sikkermail replay: the recorded decisions decided again\n");
	fprintf(out, "Configuration: %s (Mode %s)\n", r->config_path, mode_name(r->cfg->mode));
	fprintf(out, "Database:      %s (lists as they are now)\n", r->database);
	fprintf(out, "Period:        %s to %s (local time)\n", r->since, r->until);
	fprintf(out, "Generated:     %s\n", when);
	fprintf(out, "Certificates:  from the database's certificate cache only; the certificate\n"
		     "               directory was not asked.");
	if (r->cfg->n_ldap_uri == 0 && r->cfg->domain_certificates)
		fprintf(out, " Without LDAPURI only the imported domain\n"
			     "               certificates serve (DomainCertificates).\n");
	else if (r->cfg->n_ldap_uri == 0)
		fprintf(out, " Without LDAPURI nobody has a certificate.\n");
	else
		fprintf(out, " %ld recipient%s of personal messages had\n"
			     "               no cached answer and %s decided as having no "
			     "certificate.\n",
			r->no_cert, r->no_cert == 1 ? "" : "s", r->no_cert == 1 ? "was" : "were");

	fprintf(out, "\nSummary\n");
	fprintf(out, "  %-40s %8ld\n", "decisions replayed", r->decisions);
	fprintf(out, "  %-40s %8ld\n", "recipients replayed", r->rcpts);
	fprintf(out, "  %-40s %8ld\n", "messages that would change", r->changed_messages);
	fprintf(out, "  %-40s %8ld\n", "recipients that would change", r->changed_rcpts);
	fprintf(out, "  %-40s %8ld\n", "recipients not classified (unknown)", r->unknown);
	fprintf(out, "  %-40s %8ld\n", "decisions not fully replayed",
		r->partial[PARTIAL_BEFORE_FACTS] + r->partial[PARTIAL_NOT_SCANNED]);
	for (int p = 0; p < PARTIAL_COUNT; p++)
		if (r->partial[p] > 0)
			fprintf(out, "    %ld (%ld of them changed):\n      %s\n", r->partial[p],
				r->partial_changed[p], partial_why[p]);

	fprintf(out, "\nChanges by rule\n");
	if (r->n_groups == 0)
		fprintf(out, "  none: every recipient would be handled as it was\n");
	else
		fprintf(out, "  %8s %10s  %s\n", "messages", "recipients", "before -> after");
	for (size_t i = 0; i < r->n_groups; i++) {
		const struct group *g = &r->groups[i];

		fprintf(out, "  %8ld %10ld  %s (%s) -> %s (%s)\n", g->messages, g->rcpts, g->before,
			g->before_rule, g->after, g->after_rule);
	}

	if (r->n_changes > 0)
		fprintf(out, "\nRecipients that would change\n");
	for (size_t i = 0; i < r->n_changes; i++) {
		const struct change *c = &r->changes[i];
		char *before = outcome_label(&c->before), *after = outcome_label(&c->after);

		report_time_string(c->time, false, when, sizeof(when));
		fprintf(out, "  %s  ref %s  from %s\n", when, c->queue_id ? c->queue_id : "-",
			c->sender ? c->sender : "-");
		fprintf(out, "    %s  %s: %s (%s) -> %s: %s (%s)\n", c->rcpt ? c->rcpt : "-",
			rclass_name(c->before.cls), before, c->before.rule,
			rclass_name(c->after.cls), after, c->after.rule);
		fprintf(out, "      now: %s%s%s\n", c->evidence ? c->evidence : "-",
			c->no_cert ? "; no cached certificate" : "",
			c->partial >= 0 ? "; not fully replayed" : "");
		free(before);
		free(after);
	}
}

/* ------------------------------------------------------------ CSV */

/* csv_str - a field after a comma; quoted when needed, a formula's first character defused. */
static void csv_str(FILE *out, const char *s)
{
	bool defuse, quote;

	fputc(',', out);
	if (s == NULL)
		return;
	defuse = s[0] != '\0' && strchr("=+-@", s[0]) != NULL;
	quote = strpbrk(s, ",\"") != NULL || s[0] == ' ' || (s[0] && s[strlen(s) - 1] == ' ');
	if (quote)
		fputc('"', out);
	if (defuse)
		fputc('\'', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	if (quote)
		fputc('"', out);
}

static void write_csv(const struct replay *r, FILE *out)
{
	char when[40];

	fputs("section,key,value\n", out);
	fputs("summary,configuration", out);
	csv_str(out, r->config_path);
	fprintf(out, "\nsummary,mode,%s\nsummary,database", mode_name(r->cfg->mode));
	csv_str(out, r->database);
	fprintf(out, "\nsummary,since,%s\nsummary,until,%s\n", r->since, r->until);
	fputs("summary,certificates,cache only\n", out);
	fprintf(out, "summary,decisions,%ld\nsummary,recipients,%ld\n", r->decisions, r->rcpts);
	fprintf(out, "summary,changed_messages,%ld\nsummary,changed_recipients,%ld\n",
		r->changed_messages, r->changed_rcpts);
	fprintf(out, "summary,unknown,%ld\nsummary,no_cached_certificate,%ld\n", r->unknown,
		r->no_cert);
	for (int p = 0; p < PARTIAL_COUNT; p++)
		fprintf(out, "summary,partial_%s,%ld\n", partial_key[p], r->partial[p]);

	fputs("\nsection,messages,recipients,before,before_rule,after,after_rule\n", out);
	for (size_t i = 0; i < r->n_groups; i++) {
		const struct group *g = &r->groups[i];

		fprintf(out, "rule,%ld,%ld", g->messages, g->rcpts);
		csv_str(out, g->before);
		csv_str(out, g->before_rule);
		csv_str(out, g->after);
		csv_str(out, g->after_rule);
		fputc('\n', out);
	}

	fputs("\nsection,time,queue_id,sender,recipient,before_class,before_action,before_mode,"
	      "before_rule,after_class,after_action,after_mode,after_rule,evidence,"
	      "no_cached_certificate,complete\n", out);
	for (size_t i = 0; i < r->n_changes; i++) {
		const struct change *c = &r->changes[i];

		report_time_string(c->time, true, when, sizeof(when));
		fprintf(out, "change,%s", when);
		csv_str(out, c->queue_id);
		csv_str(out, c->sender);
		csv_str(out, c->rcpt);
		fprintf(out, ",%s,%s,%s", rclass_name(c->before.cls), action_name(c->before.action),
			c->before.monitor ? "monitor" : "enforce");
		csv_str(out, c->before.rule);
		fprintf(out, ",%s,%s,%s", rclass_name(c->after.cls), action_name(c->after.action),
			c->after.monitor ? "monitor" : "enforce");
		csv_str(out, c->after.rule);
		csv_str(out, c->evidence);
		fprintf(out, ",%s,%s\n", c->no_cert ? "yes" : "no", c->partial >= 0 ? "no" : "yes");
	}
}

/* ------------------------------------------------------------ JSON */

static void json_str(FILE *out, const char *s)
{
	if (s == NULL) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		if ((unsigned char)*s < 0x20)
			fprintf(out, "\\u%04x", (unsigned char)*s);	/* never: report_clean */
		else
			fputc(*s, out);
	}
	fputc('"', out);
}

static void json_outcome(FILE *out, const char *key, const struct outcome *o)
{
	fprintf(out, ",\"%s\":{\"class\":\"%s\",\"action\":\"%s\",\"mode\":\"%s\",\"rule\":", key,
		rclass_name(o->cls), action_name(o->action), o->monitor ? "monitor" : "enforce");
	json_str(out, o->rule);
	fputc('}', out);
}

static void write_json(const struct replay *r, FILE *out)
{
	char when[40];

	report_time_string(r->generated, true, when, sizeof(when));
	fputs("{\n  \"replay\": {\"configuration\":", out);
	json_str(out, r->config_path);
	fprintf(out, ",\"mode\":\"%s\",\"database\":", mode_name(r->cfg->mode));
	json_str(out, r->database);
	fprintf(out, ",\"since\":\"%s\",\"until\":\"%s\",\"generated\":\"%s\","
		     "\"certificates\":\"cache only\"},\n", r->since, r->until, when);
	fprintf(out, "  \"totals\": {\"decisions\":%ld,\"recipients\":%ld,\"changed_messages\":%ld,"
		     "\"changed_recipients\":%ld,\"unknown\":%ld,\"no_cached_certificate\":%ld,"
		     "\"not_fully_replayed\":{",
		r->decisions, r->rcpts, r->changed_messages, r->changed_rcpts, r->unknown,
		r->no_cert);
	for (int p = 0; p < PARTIAL_COUNT; p++)
		fprintf(out, "%s\"%s\":%ld", p ? "," : "", partial_key[p], r->partial[p]);
	fputs("}},\n  \"rules\": [", out);
	for (size_t i = 0; i < r->n_groups; i++) {
		const struct group *g = &r->groups[i];

		fprintf(out, "%s{\"messages\":%ld,\"recipients\":%ld,\"before\":", i ? ",\n    " : "\n    ",
			g->messages, g->rcpts);
		json_str(out, g->before);
		fputs(",\"before_rule\":", out);
		json_str(out, g->before_rule);
		fputs(",\"after\":", out);
		json_str(out, g->after);
		fputs(",\"after_rule\":", out);
		json_str(out, g->after_rule);
		fputc('}', out);
	}
	fputs(r->n_groups ? "\n  ],\n  \"changes\": [" : "],\n  \"changes\": [", out);
	for (size_t i = 0; i < r->n_changes; i++) {
		const struct change *c = &r->changes[i];

		report_time_string(c->time, true, when, sizeof(when));
		fprintf(out, "%s{\"time\":\"%s\",\"queue_id\":", i ? ",\n    " : "\n    ", when);
		json_str(out, c->queue_id);
		fputs(",\"sender\":", out);
		json_str(out, c->sender);
		fputs(",\"recipient\":", out);
		json_str(out, c->rcpt);
		json_outcome(out, "before", &c->before);
		json_outcome(out, "after", &c->after);
		fputs(",\"evidence\":", out);
		json_str(out, c->evidence);
		fprintf(out, ",\"no_cached_certificate\":%s,\"complete\":%s}",
			c->no_cert ? "true" : "false", c->partial >= 0 ? "false" : "true");
	}
	fputs(r->n_changes ? "\n  ]\n}\n" : "]\n}\n", out);
}

/* ------------------------------------------------------------ HTML */

static const char html_style[] =
	"body{font:14px/1.4 sans-serif;color:#222;margin:24px auto;max-width:1000px;"
	"padding:0 12px}"
	"h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;"
	"border-bottom:1px solid #ccc}"
	".meta{color:#555;margin:0}"
	"table{border-collapse:collapse;margin:6px 0}"
	"th,td{border:1px solid #ddd;padding:3px 8px;text-align:right;vertical-align:top}"
	"th{background:#f3f3f3}td.l,th.l{text-align:left}"
	".reject{color:#cc2222;font-weight:bold}.hold{color:#b06d00;font-weight:bold}"
	".would{font-style:italic}.small{color:#666;font-size:12px}"
	"td.t{white-space:nowrap}td.r{min-width:16em}"
	"@media print{@page{margin:15mm}"
	"body{margin:0;max-width:none;padding:0;font-size:10pt;color:#000}"
	"h2{break-after:avoid}tr{break-inside:avoid}thead{display:table-header-group}"
	".meta,.small{color:#000}th{background:none}th,td{border-color:#999}}";

/*
 * html_str - text or attribute value, escaped; NULL prints "-". A line
 * break and the indentation after it (the text output's wrapping) become
 * one space.
 */
static void html_str(FILE *out, const char *s)
{
	if (s == NULL)
		s = "-";
	for (; *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&#39;", out);
			break;
		case '\n':
			fputc(' ', out);
			while (s[1] == ' ')
				s++;
			break;
		default:
			fputc(*s, out);
		}
	}
}

/* html_outcome - "class: outcome (rule)", the outcome marked when it stops the mail. */
static void html_outcome(FILE *out, const struct outcome *o)
{
	char *label = outcome_label(o);
	const char *cls = o->action == ACTION_REJECT ? "reject"
			  : o->action == ACTION_HOLD ? "hold" : NULL;

	fprintf(out, "%s: ", rclass_name(o->cls));
	if (cls != NULL)
		fprintf(out, "<span class=\"%s%s\">", cls, o->monitor ? " would" : "");
	html_str(out, label);
	if (cls != NULL)
		fputs("</span>", out);
	fputs(" (", out);
	html_str(out, o->rule);
	fputc(')', out);
	free(label);
}

static void html_row(FILE *out, const char *label, long n)
{
	fprintf(out, "<tr><td class=\"l\">%s</td><td>%ld</td></tr>\n", label, n);
}

static void write_html(const struct replay *r, FILE *out)
{
	char when[40];

	report_time_string(r->generated, false, when, sizeof(when));
	fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		     "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';"
		     " style-src 'unsafe-inline'\">\n"
		     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		     "<title>sikkermail replay %s to %s</title>\n<style>%s</style>\n"
		     "</head>\n<body>\n"
		     "<h1>sikkermail replay: the recorded decisions decided again</h1>\n",
		r->since, r->until, html_style);
	fputs("<p class=\"meta\">Configuration: ", out);
	html_str(out, r->config_path);
	fprintf(out, " (Mode %s)</p>\n<p class=\"meta\">Database: ", mode_name(r->cfg->mode));
	html_str(out, r->database);
	fprintf(out, " (lists as they are now)</p>\n"
		     "<p class=\"meta\">Period: %s to %s (local time)</p>\n"
		     "<p class=\"meta\">Generated: %s</p>\n"
		     "<p class=\"meta\">Certificates: from the database's certificate cache only; "
		     "the certificate directory was not asked.",
		r->since, r->until, when);
	if (r->cfg->n_ldap_uri == 0 && r->cfg->domain_certificates)
		fputs(" Without LDAPURI only the imported domain certificates serve "
		      "(DomainCertificates).</p>\n", out);
	else if (r->cfg->n_ldap_uri == 0)
		fputs(" Without LDAPURI nobody has a certificate.</p>\n", out);
	else
		fprintf(out, " %ld recipient%s of personal messages had no cached answer and %s "
			     "decided as having no certificate.</p>\n",
			r->no_cert, r->no_cert == 1 ? "" : "s", r->no_cert == 1 ? "was" : "were");

	fputs("<h2>Summary</h2>\n<table>\n", out);
	html_row(out, "decisions replayed", r->decisions);
	html_row(out, "recipients replayed", r->rcpts);
	html_row(out, "messages that would change", r->changed_messages);
	html_row(out, "recipients that would change", r->changed_rcpts);
	html_row(out, "recipients not classified (unknown)", r->unknown);
	html_row(out, "decisions not fully replayed",
		 r->partial[PARTIAL_BEFORE_FACTS] + r->partial[PARTIAL_NOT_SCANNED]);
	fputs("</table>\n", out);
	for (int p = 0; p < PARTIAL_COUNT; p++) {
		if (r->partial[p] == 0)
			continue;
		fprintf(out, "<p>%ld not fully replayed (%ld of them changed): ", r->partial[p],
			r->partial_changed[p]);
		html_str(out, partial_why[p]);
		fputs("</p>\n", out);
	}

	fputs("<h2>Changes by rule</h2>\n", out);
	if (r->n_groups == 0)
		fputs("<p>None: every recipient would be handled as it was.</p>\n", out);
	else
		fputs("<table>\n<thead><tr><th>Messages</th><th>Recipients</th>"
		      "<th class=\"l\">Before</th><th class=\"l\">After</th></tr></thead>\n"
		      "<tbody>\n", out);
	for (size_t i = 0; i < r->n_groups; i++) {
		const struct group *g = &r->groups[i];

		fprintf(out, "<tr><td>%ld</td><td>%ld</td><td class=\"l\">", g->messages, g->rcpts);
		html_str(out, g->before);
		fputs(" (", out);
		html_str(out, g->before_rule);
		fputs(") &rarr;</td><td class=\"l\">", out);
		html_str(out, g->after);
		fputs(" (", out);
		html_str(out, g->after_rule);
		fputs(")</td></tr>\n", out);
	}
	if (r->n_groups > 0)
		fputs("</tbody>\n</table>\n", out);

	if (r->n_changes > 0)
		fputs("<h2>Recipients that would change</h2>\n<table>\n<thead><tr>"
		      "<th class=\"l\">Time</th><th class=\"l\">Reference</th>"
		      "<th class=\"l\">Sender</th><th class=\"l\">Recipient</th>"
		      "<th class=\"l\">Before</th><th class=\"l\">After</th>"
		      "<th class=\"l\">Why now</th></tr></thead>\n<tbody>\n", out);
	for (size_t i = 0; i < r->n_changes; i++) {
		const struct change *c = &r->changes[i];

		report_time_string(c->time, false, when, sizeof(when));
		fprintf(out, "<tr><td class=\"l t\">%s</td><td class=\"l\">", when);
		html_str(out, c->queue_id);
		fputs("</td><td class=\"l\">", out);
		html_str(out, c->sender);
		fputs("</td><td class=\"l\">", out);
		html_str(out, c->rcpt);
		fputs("</td><td class=\"l\">", out);
		html_outcome(out, &c->before);
		fputs("</td><td class=\"l\">", out);
		html_outcome(out, &c->after);
		fputs("</td><td class=\"l r\">", out);
		html_str(out, c->evidence);
		if (c->no_cert)
			fputs("; no cached certificate", out);
		if (c->partial >= 0)
			fputs("; not fully replayed", out);
		fputs("</td></tr>\n", out);
	}
	if (r->n_changes > 0)
		fputs("</tbody>\n</table>\n", out);
	fputs("</body>\n</html>\n", out);
}

/*
 * ctl_replay.c - sikkermail-ctl replay, "what if": the recorded decisions
 * of a period decided again under another configuration and the lists of
 * the database, and the recipients whose outcome would change:
 *
 *   replay --config FILE [--since DATE] [--until DATE] [--database DB]
 *          [--format text|csv|json|html]
 *
 * Exports ctl_replay (ctl.h) and replay_outcome_label (replay.h).
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
 * numbers masked). Everything is read before anything is written: the
 * writers are replay_write.c's (text, CSV, JSON) and replay_html.c's.
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
#include "replay.h"
#include "report.h"
#include "store.h"
#include "util.h"

enum { FMT_TEXT, FMT_CSV, FMT_JSON, FMT_HTML };

struct replay_args {
	const char *config;
	const char *database;
	const char *since;
	const char *until;
	int format;
};

static int parse_args(int argc, char **argv, struct replay_args *a);
static const char *option_value(int argc, char **argv, int *i, const char *name);
static int parse_format(const char *s);
static int replay_one(const struct decision *d, void *arg);
static bool replayed_personal(const struct config *cfg, const struct decision *d, int *partial);
static void copy_rcpts(const struct decision *d, struct decision *n);
static int cert_uncached(struct replay *r, bool personal, const struct rcpt *rc);
static enum lookup cache_has(struct replay *r, const char *key);
static bool same_outcome(const struct replay_outcome *a, const struct replay_outcome *b);
static void add_change(struct replay *r, const struct decision *d, const struct rcpt *old,
		       const struct rcpt *now, bool no_cert, int partial);
static size_t group_of(struct replay *r, const struct replay_change *c);
static int cmp_groups(const void *a, const void *b);
static void date_of(long long t, char buf[11]);
static void replay_free(struct replay *r);

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
		replay_write_csv(&r, c->out);
	else if (a.format == FMT_JSON)
		replay_write_json(&r, c->out);
	else if (a.format == FMT_HTML)
		replay_write_html(&r, c->out);
	else
		replay_write_text(&r, c->out);
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
		struct replay_outcome before = { old->cls, old->action, d->mode == MODE_MONITOR,
						 NULL };
		struct replay_outcome after = { now->cls, now->action, n.mode == MODE_MONITOR,
						NULL };

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
static bool same_outcome(const struct replay_outcome *a, const struct replay_outcome *b)
{
	return a->action == b->action && (a->monitor == b->monitor || a->action == ACTION_DELIVER);
}

/* replay_outcome_label - "reject"; in monitor mode "deliver" or "would reject (monitor)". */
char *replay_outcome_label(const struct replay_outcome *o)
{
	if (o->monitor && o->action != ACTION_DELIVER)
		return xasprintf("would %s (monitor)", action_name(o->action));
	return xstrdup(action_name(o->action));
}

static void add_change(struct replay *r, const struct decision *d, const struct rcpt *old,
		       const struct rcpt *now, bool no_cert, int partial)
{
	struct replay_change *c;
	struct replay_group *g;
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
	c->before = (struct replay_outcome){ old->cls, old->action, d->mode == MODE_MONITOR,
				      report_clean(old->rule ? old->rule : "") };
	c->after = (struct replay_outcome){ now->cls, now->action, r->cfg->mode == MODE_MONITOR,
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
static size_t group_of(struct replay *r, const struct replay_change *c)
{
	char *before = replay_outcome_label(&c->before), *after = replay_outcome_label(&c->after);
	struct replay_group *g;
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
	const struct replay_group *x = a, *y = b;
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
		struct replay_change *c = &r->changes[i];

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

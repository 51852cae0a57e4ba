/*
 * ctl_report.c - sikkermail-ctl's compliance report:
 *
 *   report [--since DATE] [--until DATE] [--format text|csv|json|html]
 *          [--top N] [--all-days] [--lang da|en] [--csv-separator C] [--bom]
 *          [--log FILE...]
 *
 * Exports ctl_report (ctl.h).
 *
 * The decisions come from the database (recorded by the filter on this
 * host) or, with --log, from syslog files of one or many gateways
 * (report_log.c: only the filter's own lines, joined per decision, each
 * counted once, the instance or the syslog host naming the gateway).
 * From the database, a held message's outcome (released or deleted, by
 * whom, when: store_held.h) is shown with it; a log has only the decision.
 * Everything is read before anything is written, so an error never
 * leaves half a report behind.
 *
 * SIKKERMAIL_NOW (unix time) in the environment stands in for the clock,
 * so that tests can make a report, "Generated" time and relative dates
 * included, that is the same byte for byte on every run.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "ctl.h"
#include "log.h"
#include "report.h"
#include "store.h"
#include "store_held.h"
#include "util.h"

#define TOP_MAX 1000000

enum { FMT_TEXT, FMT_CSV, FMT_JSON, FMT_HTML };

struct report_args {
	const char *since;
	const char *until;
	int format;
	size_t top;
	bool from_log;
	struct strlist files;
	bool all_days;
	bool bom;
	bool lang_given;
	enum report_lang lang;
	char csv_sep;		/* 0: not given */
};

static int parse_args(int argc, char **argv, struct report_args *a);
static int parse_extra(const char *name, const char *v, struct report_args *a);
static int check_args(const struct report_args *a);
static int report_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int report_now(long long *now);
static enum report_lang config_lang(const struct config *cfg);
static const char *option_value(int argc, char **argv, int *i, const char *name);
static int parse_format(const char *s);
static int parse_top(const char *s, size_t *top);
static int read_store(struct ctl *c, struct report *r);
static int add_decision(const struct decision *d, void *arg);
static int add_outcome(const struct held_message *h, void *arg);

int ctl_report(struct ctl *c, int argc, char **argv)
{
	struct report_args a = { .format = FMT_TEXT, .top = REPORT_TOP_DEFAULT };
	struct report r;
	const char *err;
	long long now;
	int rc;

	strlist_init(&a.files);
	a.lang = config_lang(c->cfg);
	if ((rc = parse_args(argc, argv, &a)) != CTL_EX_OK ||
	    (rc = report_now(&now)) != CTL_EX_OK) {
		strlist_free(&a.files);
		return rc;
	}
	if (report_init(&r, a.since, a.until, a.top, now, &err) != 0) {
		strlist_free(&a.files);
		return report_error("report: %s", err);
	}
	r.lang = a.lang;
	r.all_days = a.all_days;
	r.bom = a.bom;
	if (a.csv_sep != '\0')
		r.csv_sep = a.csv_sep;
	if (a.from_log)
		rc = report_read_logs(&r, &a.files) == 0 ? CTL_EX_OK : CTL_EX_ERROR;
	else
		rc = read_store(c, &r);
	if (rc == CTL_EX_OK) {
		report_finish(&r);
		if (a.format == FMT_CSV)
			report_write_csv(&r, c->out);
		else if (a.format == FMT_JSON)
			report_write_json(&r, c->out);
		else if (a.format == FMT_HTML)
			report_write_html(&r, c->out);
		else
			report_write_text(&r, c->out);
	}
	report_free(&r);
	strlist_free(&a.files);
	return rc;
}

/* ------------------------------------------------------------ arguments */

/* report_error - a one-line usage error (no usage text: it would bury the line); CTL_EX_USAGE. */
static int report_error(const char *fmt, ...)
{
	struct strbuf sb;
	va_list ap;

	sb_init(&sb);
	va_start(ap, fmt);
	sb_vprintf(&sb, fmt, ap);
	va_end(ap);
	msg_error("%s", sb.s);
	sb_free(&sb);
	return CTL_EX_USAGE;
}

/* report_now - the clock, or SIKKERMAIL_NOW (unix time) when set: for tests. */
static int report_now(long long *now)
{
	const char *env = getenv("SIKKERMAIL_NOW");
	char *end;

	*now = (long long)time(NULL);
	if (env == NULL || env[0] == '\0')
		return CTL_EX_OK;
	errno = 0;
	*now = strtoll(env, &end, 10);
	if (errno != 0 || *end != '\0' || *now < 0 || env[0] < '0' || env[0] > '9') {
		msg_error("report: SIKKERMAIL_NOW=%s is not a unix time", env);
		return CTL_EX_ERROR;
	}
	return CTL_EX_OK;
}

/* config_lang - the first language of Language: Danish unless English comes first. */
static enum report_lang config_lang(const struct config *cfg)
{
	int langs = cfg != NULL ? cfg->languages & (LANG_DA | LANG_EN) : 0;

	if (langs == LANG_EN || (langs == (LANG_DA | LANG_EN) && cfg->language_en_first))
		return REPORT_EN;
	return REPORT_DA;
}

/*
 * option_value - the value of --name VALUE or --name=VALUE at argv[*i]
 * (advancing *i past it); NULL if argv[*i] is not that option, "" if the
 * value is missing.
 */
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

static int parse_args(int argc, char **argv, struct report_args *a)
{
	static const char *const valued[] = { "--since", "--until", "--format", "--top", "--lang",
					      "--csv-separator" };
	const char *v = NULL;
	size_t k;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--all-days") == 0) {
			a->all_days = true;
			continue;
		}
		if (strcmp(argv[i], "--bom") == 0) {
			a->bom = true;
			continue;
		}
		if (strncmp(argv[i], "--log=", 6) == 0 || strcmp(argv[i], "--log") == 0) {
			a->from_log = true;
			if (argv[i][5] == '=')
				strlist_add(&a->files, argv[i] + 6);
			/* the files: every following argument up to the next option */
			while (i + 1 < argc && (argv[i + 1][0] != '-' || strcmp(argv[i + 1], "-") == 0))
				strlist_add(&a->files, argv[++i]);
			continue;
		}
		for (k = 0; k < sizeof(valued) / sizeof(valued[0]); k++)
			if ((v = option_value(argc, argv, &i, valued[k])) != NULL)
				break;
		if (v == NULL)
			return ctl_usage_error("report: unknown argument %s", argv[i]);
		if (v[0] == '\0')
			return ctl_usage_error("report: %s needs a value", valued[k]);
		if (k >= 4 && parse_extra(valued[k], v, a) != CTL_EX_OK)
			return CTL_EX_USAGE;
		if (k == 0)
			a->since = v;
		else if (k == 1)
			a->until = v;
		else if (k == 2 && (a->format = parse_format(v)) < 0)
			return ctl_usage_error("report: unknown format \"%s\" (text, csv, json or html)",
					       v);
		else if (k == 3 && parse_top(v, &a->top) != 0)
			return ctl_usage_error("report: --top wants a number (0: all)");
	}
	if (a->from_log && a->files.n == 0)
		return ctl_usage_error("report: --log needs at least one file (- for stdin)");
	for (size_t i = 0; i < a->files.n; i++)
		if (a->files.v[i][0] == '\0')
			return ctl_usage_error("report: --log: empty file name");
	return check_args(a);
}

/* parse_extra - --lang and --csv-separator. */
static int parse_extra(const char *name, const char *v, struct report_args *a)
{
	if (strcmp(name, "--lang") == 0) {
		if (strcmp(v, "da") != 0 && strcmp(v, "en") != 0)
			return report_error("report: --lang \"%s\": da or en", v);
		a->lang = v[0] == 'd' ? REPORT_DA : REPORT_EN;
		a->lang_given = true;
		return CTL_EX_OK;
	}
	/* one character that cannot be part of a field's text unquoted: , ; | or a tab */
	if (strcmp(v, "tab") == 0 || strcmp(v, "\\t") == 0)
		v = "\t";
	if (strlen(v) != 1 || strchr(",;|\t", v[0]) == NULL)
		return report_error("report: --csv-separator \"%s\": one of , ; | or tab", v);
	a->csv_sep = v[0];
	return CTL_EX_OK;
}

/* check_args - options that belong to one format given with another. */
static int check_args(const struct report_args *a)
{
	if (a->csv_sep != '\0' && a->format != FMT_CSV)
		return report_error("report: --csv-separator is for --format csv");
	if (a->bom && a->format != FMT_CSV)
		return report_error("report: --bom is for --format csv (the other formats are"
				    " UTF-8 without one)");
	if (a->lang_given && a->format != FMT_HTML)
		return report_error("report: --lang is for --format html (the other formats are"
				    " in English)");
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

static int parse_top(const char *s, size_t *top)
{
	char *end;
	long n;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	n = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || n > TOP_MAX)
		return -1;
	*top = (size_t)n;
	return 0;
}

/* ------------------------------------------------------------ the database */

/* add_decision - one recorded decision, attributed to the instance that made it (if recorded). */
static int add_decision(const struct decision *d, void *arg)
{
	report_add(arg, d, d->instance);
	return 0;
}

/* add_outcome - a held message released or deleted since (sikkermail-ctl release, delete). */
static int add_outcome(const struct held_message *h, void *arg)
{
	if (h->state != HELD_WAITING)
		report_set_outcome(arg, h->queue_id, h->time, held_state_name(h->state),
				   h->by ? h->by : "?", h->at);
	return 0;
}

static int read_store(struct ctl *c, struct report *r)
{
	struct store *s;
	int rc = CTL_EX_OK;

	if ((s = ctl_open_store(c, STORE_RO)) == NULL)
		return CTL_EX_TEMPFAIL;
	r->database = report_clean(c->database);
	if (store_decisions_each(s, r->t_since, r->t_until, add_decision, r) != 0 ||
	    store_held_each(s, r->t_since, r->t_until, add_outcome, r) != 0) {
		msg_error("%s", store_errmsg(s));
		rc = CTL_EX_TEMPFAIL;
	}
	store_close(s);
	return rc;
}

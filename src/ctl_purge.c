/*
 * ctl_purge.c - sikkermail-ctl purge: forget the recorded decisions
 * older than a date by hand, the way the running filter does it every
 * hour for Retention (retention.c), and shrink the database file once.
 *
 *   purge [--before DATE] [--dry-run] [--vacuum]
 *
 * Without --before, the date is Retention before now, as the filter
 * computes it. --dry-run only counts. --vacuum rebuilds the file
 * afterwards (VACUUM), with incremental auto-vacuum turned on, so that an
 * older database gives its free space back once and from then on keeps
 * giving it back by itself.
 *
 * Exports ctl_purge (ctl.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "log.h"
#include "retention.h"
#include "report.h"
#include "store.h"
#include "util.h"

static void day_name(long long t, char *buf, size_t size);
static int vacuum(struct ctl *c, struct store *s);

int ctl_purge(struct ctl *c, int argc, char **argv)
{
	const char *before_arg = NULL;
	bool dry_run = false, do_vacuum = false;
	struct retention_result r;
	struct purge_counts n;
	struct store *s;
	long long before;
	char day[32];
	int rc = CTL_EX_OK;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--before") == 0 && i + 1 < argc)
			before_arg = argv[++i];
		else if (strcmp(argv[i], "--dry-run") == 0)
			dry_run = true;
		else if (strcmp(argv[i], "--vacuum") == 0)
			do_vacuum = true;
		else if (strcmp(argv[i], "--before") == 0)
			return ctl_usage_error("purge: --before needs a date (YYYY-MM-DD)");
		else
			return ctl_usage_error("purge: unknown argument \"%s\"", argv[i]);
	}
	if (dry_run && do_vacuum)
		return ctl_usage_error("purge: --dry-run changes nothing; it cannot --vacuum");
	if (before_arg == NULL) {
		before = (long long)time(NULL) - c->cfg->retention;
	} else if (report_day_start(before_arg, (long long)time(NULL), &before) != 0) {
		/* one line: the date was the mistake, not the rest of the command */
		msg_error("purge: bad date \"%.40s\" for --before: expected YYYY-MM-DD, today, "
			  "yesterday or Nd (N days ago)", before_arg);
		return CTL_EX_USAGE;
	} else if (before > (long long)time(NULL)) {
		msg_error("purge: --before %s is in the future: that would purge today's decisions "
			  "too", before_arg);
		return CTL_EX_USAGE;
	}
	day_name(before, day, sizeof(day));
	if ((s = ctl_open_store(c, dry_run ? STORE_RO : STORE_RW_EXISTING)) == NULL)
		return CTL_EX_TEMPFAIL;
	if (dry_run) {
		if (store_purge_count(s, before, &n) != 0) {
			msg_error("purge: %s", store_errmsg(s));
			rc = CTL_EX_TEMPFAIL;
		} else {
			fprintf(c->out, "would purge %lld decision(s) recorded before %s, with "
					"%lld recipient row(s) and %lld other row(s)\n",
				n.decisions, day, n.rcpts, n.other);
		}
		store_close(s);
		return rc;
	}
	if (before_arg != NULL || !do_vacuum) {
		if (retention_purge(s, before, NULL, &r) != 0) {
			msg_error("purge: stopped after %lld decision(s): %s", r.purged.decisions,
				  store_errmsg(s));
			store_close(s);
			return CTL_EX_TEMPFAIL;
		}
		fprintf(c->out, "purged %lld decision(s) recorded before %s, with %lld recipient "
				"row(s) and %lld other row(s); %lld cached certificate answer(s);"
				" %lld page(s) given back, %lld free\n",
			r.purged.decisions, day, r.purged.rcpts, r.purged.other, r.purged.certs,
			r.freed_pages, r.free_pages);
		msg_notice("purge before=\"%s\" decisions=%lld recipients=%lld other=%lld "
			   "certificates=%lld pages_freed=%lld database=%s",
			   day, r.purged.decisions, r.purged.rcpts, r.purged.other, r.purged.certs,
			   r.freed_pages, c->database);
	}
	if (do_vacuum)
		rc = vacuum(c, s);
	store_close(s);
	return rc;
}

/* vacuum - rebuild the file once, with incremental auto-vacuum from then on. */
static int vacuum(struct ctl *c, struct store *s)
{
	struct store_space a, b;
	bool checkpointed;

	if (store_space(s, &a) != 0 || store_vacuum(s, &checkpointed) != 0 ||
	    store_space(s, &b) != 0) {
		msg_error("purge --vacuum: %s", store_errmsg(s));
		return CTL_EX_TEMPFAIL;
	}
	fprintf(c->out, "vacuum: %lld page(s) of %lld bytes before, %lld after; incremental "
			"auto-vacuum %s\n",
		a.page_count, a.page_size, b.page_count, b.auto_vacuum == 2 ? "on" : "off");
	if (!checkpointed)
		fprintf(c->out, "vacuum: the running filter is still reading the old pages; the "
				"file shrinks at its next checkpoint\n");
	msg_notice("vacuum pages_before=%lld pages_after=%lld page_size=%lld database=%s",
		   a.page_count, b.page_count, b.page_size, c->database);
	return CTL_EX_OK;
}

/* day_name - t as local "YYYY-MM-DD HH:MM". */
static void day_name(long long t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL || strftime(buf, size, "%Y-%m-%d %H:%M", &tm) == 0)
		snprintf(buf, size, "@%lld", t);
}

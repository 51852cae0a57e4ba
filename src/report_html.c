/*
 * report_html.c - the compliance report as one self-contained HTML page.
 *
 * Exports report_write_html (report.h).
 *
 * The page is meant to be opened by a compliance officer, printed, or
 * mailed on: one file with its CSS inline and its charts as inline SVG
 * (stacked bars per day), no script, no font, image or style sheet
 * from anywhere else. A Content-Security-Policy in the page itself
 * forbids loading anything, so even a string that slipped through the
 * escaping could not fetch or run a thing. Every text from a decision is
 * HTML-escaped here; report_clean has already made it valid UTF-8 and
 * masked CPR numbers.
 */
#include <stdio.h>
#include <string.h>

#include "report.h"

#define CHART_WIDTH 960
#define CHART_HEIGHT 290
#define PLOT_X 56
#define PLOT_Y 14
#define PLOT_W 888
#define PLOT_H 214
#define MAX_BARS 120	/* more days than this: several days a bar */
#define MAX_LABELS 12	/* date labels on the x axis */
#define MAX_BAR_WIDTH 48

/* One chart: the day counts it stacks, with a name and a colour each. */
struct chart {
	const char *title;
	const char *what;			/* "messages", "recipients" */
	int kind;				/* CHART_APPLIED, _WOULD, _ROUTE, _CLASS */
	size_t n_series;
	const char *const *names;
	const char *const *colours;
};

enum { CHART_APPLIED, CHART_WOULD, CHART_ROUTE, CHART_CLASS };

static const char *const action_colours[ACTION_COUNT] = {
	"#4e9a3a", "#3465a4", "#f0a020", "#8f6bb0", "#cc2222",
};
static const char *const class_colours[CLASS_COUNT] = {
	"#7fb5b0", "#3465a4", "#4e9a3a", "#b07aa1", "#cc2222", "#f0a020", "#8c6d4f",
};
static const char *const done_names[ACTION_COUNT] = {
	"delivered", "encrypted", "held", "tempfailed", "rejected",
};
static const char *const would_names[ACTION_COUNT] = {
	"would deliver", "would encrypt", "would hold", "would tempfail", "would reject",
};
static const char *const class_names[CLASS_COUNT] = {
	"internal", "tunnel", "encrypted", "partner", "freemail", "tls", "unknown",
};

static const char style[] =
	"body{font:14px/1.4 sans-serif;color:#222;margin:24px auto;max-width:1000px;"
	"padding:0 12px}"
	"h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;"
	"border-bottom:1px solid #ccc}"
	".meta{color:#555;margin:0}"
	"table{border-collapse:collapse;margin:6px 0}"
	"th,td{border:1px solid #ddd;padding:3px 8px;text-align:right;vertical-align:top}"
	"th{background:#f3f3f3}td.l,th.l{text-align:left}"
	"tr.total td{font-weight:bold;background:#fafafa}"
	"svg{display:block;margin:6px 0}svg text{font:11px sans-serif;fill:#333}"
	"summary{cursor:pointer;color:#555;margin:4px 0}"
	".grid{stroke:#e3e3e3}.axis{stroke:#888}"
	".reject{color:#cc2222;font-weight:bold}.hold{color:#b06d00;font-weight:bold}"
	".would{font-style:italic}.small{color:#666;font-size:12px}"
	"@media print{section{break-inside:avoid}body{margin:0}}";

static void html_str(FILE *out, const char *s);
static void html_head(const struct report *r, FILE *out);
static void html_summary(const struct report *r, FILE *out);
static long chart_value(const struct chart *ch, const struct report_day *d, size_t k);
static long chart_step(long max);
static void chart_svg(const struct report *r, const struct chart *ch, FILE *out);
static void chart_axes(const struct chart *ch, long ymax, long step, FILE *out);
static void chart_bars(const struct report *r, const struct chart *ch, size_t per_bar,
		       long ymax, FILE *out);
static void chart_legend(const struct chart *ch, FILE *out);
static void html_day_table(const struct report *r, const struct chart *ch, FILE *out);
static void html_routes(const struct report *r, FILE *out);
static void html_events(const struct report *r, FILE *out);
static void html_event_rcpts(const struct report_event *e, FILE *out);
static void html_event(const struct report *r, const struct report_event *e, FILE *out);
static void html_tables(const struct report *r, FILE *out);

/* html_str - text or attribute value, escaped. NULL prints "-". */
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
		default:
			fputc(*s, out);
		}
	}
}

static void html_head(const struct report *r, FILE *out)
{
	char when[40];

	report_time_string(r->generated, false, when, sizeof(when));
	fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		     "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';"
		     " style-src 'unsafe-inline'\">\n"
		     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		     "<title>sikkermail compliance report %s to %s</title>\n<style>%s</style>\n"
		     "</head>\n<body>\n<h1>sikkermail compliance report</h1>\n",
		r->since, r->until, style);
	fprintf(out, "<p class=\"meta\">Period: %s to %s, %zu day%s (local time, ", r->since,
		r->until, r->n_days, r->n_days == 1 ? "" : "s");
	html_str(out, r->tz);
	fputs(")</p>\n<p class=\"meta\">Source: ", out);
	if (r->files.n == 0) {
		fputs("database ", out);
		html_str(out, r->database);
	} else {
		fputs(r->files.n == 1 ? "log file" : "log files", out);
		for (size_t i = 0; i < r->files.n; i++) {
			fputs(i ? ", " : " ", out);
			html_str(out, r->files.v[i]);
		}
		fprintf(out, " (%ld decision lines, %ld not readable, %ld outside the period)",
			r->lines, r->bad_lines, r->outside);
	}
	fprintf(out, "</p>\n<p class=\"meta\">Generated: %s</p>\n", when);
}

static void html_summary(const struct report *r, FILE *out)
{
	const struct report_day *t = &r->total;
	long rcpts = 0;

	for (int c = 0; c < CLASS_COUNT; c++)
		rcpts += t->rcpts[c];
	fputs("<section>\n<h2>Summary</h2>\n<table>\n", out);
	fprintf(out, "<tr><th class=\"l\">messages</th><td>%ld</td></tr>\n", t->messages);
	fprintf(out, "<tr><th class=\"l\">recipients</th><td>%ld</td></tr>\n", rcpts);
	fprintf(out, "<tr><th class=\"l\">messages with personal data</th><td>%ld</td></tr>\n",
		t->personal);
	fprintf(out, "<tr><th class=\"l\">messages with CPR numbers found</th><td>%ld</td></tr>\n",
		t->cpr);
	for (int a = 0; a < ACTION_COUNT; a++)
		fprintf(out, "<tr><th class=\"l\">%s</th><td>%ld</td></tr>\n", done_names[a],
			t->applied[a]);
	if (t->monitor > 0) {
		fprintf(out, "<tr><th class=\"l\">decided in monitor mode</th><td>%ld</td></tr>\n",
			t->monitor);
		for (int a = ACTION_ENCRYPT; a < ACTION_COUNT; a++)
			fprintf(out, "<tr><th class=\"l would\">&nbsp;&nbsp;of which %s</th>"
				     "<td>%ld</td></tr>\n", would_names[a], t->would[a]);
	}
	fputs("</table>\n</section>\n", out);
}

/* ------------------------------------------------------------ charts */

static long chart_value(const struct chart *ch, const struct report_day *d, size_t k)
{
	switch (ch->kind) {
	case CHART_APPLIED:
		return d->applied[k];
	case CHART_WOULD:
		return d->would[k];
	case CHART_ROUTE:
		return d->personal_rcpts[k];
	default:
		return d->rcpts[k];
	}
}

/* chart_step - the grid step: 1, 2 or 5 times a power of ten, about four lines to the top. */
static long chart_step(long max)
{
	long p = 1;

	for (;;) {
		if (p * 4 >= max)
			return p;
		if (2 * p * 4 >= max)
			return 2 * p;
		if (5 * p * 4 >= max)
			return 5 * p;
		p *= 10;
	}
}

static void chart_axes(const struct chart *ch, long ymax, long step, FILE *out)
{
	for (long v = 0; v <= ymax; v += step) {
		double y = PLOT_Y + PLOT_H - (double)v * PLOT_H / (double)ymax;

		fprintf(out, "<line class=\"grid\" x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\"/>"
			     "<text x=\"%d\" y=\"%.2f\" text-anchor=\"end\">%ld</text>\n",
			PLOT_X, y, PLOT_X + PLOT_W, y, PLOT_X - 6, y + 4, v);
	}
	fprintf(out, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n", PLOT_X,
		PLOT_Y + PLOT_H, PLOT_X + PLOT_W, PLOT_Y + PLOT_H);
	fprintf(out, "<text x=\"12\" y=\"%d\" transform=\"rotate(-90 12 %d)\" "
		     "text-anchor=\"middle\">%s</text>\n",
		PLOT_Y + PLOT_H / 2, PLOT_Y + PLOT_H / 2, ch->what);
}

/* chart_bars - one stacked bar per per_bar days, a tooltip on each part. */
static void chart_bars(const struct report *r, const struct chart *ch, size_t per_bar,
		       long ymax, FILE *out)
{
	size_t n_bars = (r->n_days + per_bar - 1) / per_bar;
	size_t label_every = (n_bars + MAX_LABELS - 1) / MAX_LABELS;
	double slot = (double)PLOT_W / (double)n_bars;
	double bw = slot >= 4 ? slot * 0.8 : slot;

	if (bw > MAX_BAR_WIDTH)
		bw = MAX_BAR_WIDTH;

	for (size_t b = 0; b < n_bars; b++) {
		const struct report_day *first = &r->days[b * per_bar];
		const struct report_day *last = &r->days[(b + 1) * per_bar < r->n_days
							 ? (b + 1) * per_bar - 1 : r->n_days - 1];
		double x = PLOT_X + (double)b * slot + (slot - bw) / 2, y = PLOT_Y + PLOT_H;

		for (size_t k = 0; k < ch->n_series; k++) {
			long v = 0;
			double h;

			for (size_t i = b * per_bar; i < (b + 1) * per_bar && i < r->n_days; i++)
				v += chart_value(ch, &r->days[i], k);
			if (v == 0)
				continue;
			h = (double)v * PLOT_H / (double)ymax;
			y -= h;
			fprintf(out, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
				     "fill=\"%s\"><title>%s%s%s: %s %ld</title></rect>\n",
				x, y, bw, h, ch->colours[k], first->date, last != first ? " to " : "",
				last != first ? last->date : "", ch->names[k], v);
		}
		if (b % label_every == 0)	/* MM-DD, unless the period spans a new year */
			fprintf(out, "<text x=\"%.2f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
				x + bw / 2, PLOT_Y + PLOT_H + 16,
				first->date + (strncmp(r->since, r->until, 4) == 0 ? 5 : 0));
	}
}

static void chart_legend(const struct chart *ch, FILE *out)
{
	int x = PLOT_X;

	for (size_t k = 0; k < ch->n_series; k++) {
		fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>"
			     "<text x=\"%d\" y=\"%d\">%s</text>\n",
			x, CHART_HEIGHT - 22, ch->colours[k], x + 17, CHART_HEIGHT - 12,
			ch->names[k]);
		x += 40 + 7 * (int)strlen(ch->names[k]);
	}
}

static void chart_svg(const struct report *r, const struct chart *ch, FILE *out)
{
	size_t per_bar = (r->n_days + MAX_BARS - 1) / MAX_BARS;
	long max = 0, step, ymax;

	per_bar = per_bar ? per_bar : 1;
	for (size_t b = 0; b < r->n_days; b += per_bar) {
		long sum = 0;

		for (size_t i = b; i < b + per_bar && i < r->n_days; i++)
			for (size_t k = 0; k < ch->n_series; k++)
				sum += chart_value(ch, &r->days[i], k);
		max = sum > max ? sum : max;
	}
	step = chart_step(max);
	ymax = max > step ? (max + step - 1) / step * step : step;
	fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		     "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"",
		CHART_WIDTH, CHART_HEIGHT, CHART_WIDTH, CHART_HEIGHT);
	html_str(out, ch->title);
	fputs("\">\n", out);
	chart_axes(ch, ymax, step, out);
	if (max == 0)
		fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">nothing in this"
			     " period</text>\n", PLOT_X + PLOT_W / 2, PLOT_Y + PLOT_H / 2);
	else
		chart_bars(r, ch, per_bar, ymax, out);
	chart_legend(ch, out);
	fputs("</svg>\n", out);
}

/* html_day_table - the numbers behind a chart, one row a day and a total. */
static void html_day_table(const struct report *r, const struct chart *ch, FILE *out)
{
	fputs("<details open>\n<summary>The numbers per day</summary>\n"
	      "<table>\n<tr><th class=\"l\">date</th>", out);
	if (ch->kind == CHART_APPLIED)
		fputs("<th>messages</th><th>personal</th><th>CPR found</th>", out);
	if (ch->kind == CHART_WOULD)
		fputs("<th>monitor</th>", out);
	for (size_t k = 0; k < ch->n_series; k++)
		fprintf(out, "<th>%s</th>", ch->names[k]);
	fputs("</tr>\n", out);
	for (size_t i = 0; i <= r->n_days; i++) {
		const struct report_day *d = i < r->n_days ? &r->days[i] : &r->total;

		fprintf(out, "<tr%s><td class=\"l\">%s</td>", i < r->n_days ? "" : " class=\"total\"",
			i < r->n_days ? d->date : "total");
		if (ch->kind == CHART_APPLIED)
			fprintf(out, "<td>%ld</td><td>%ld</td><td>%ld</td>", d->messages, d->personal,
				d->cpr);
		if (ch->kind == CHART_WOULD)
			fprintf(out, "<td>%ld</td>", d->monitor);
		for (size_t k = 0; k < ch->n_series; k++)
			fprintf(out, "<td>%ld</td>", chart_value(ch, d, k));
		fputs("</tr>\n", out);
	}
	fputs("</table>\n</details>\n", out);
}

/* ------------------------------------------------------------ tables */

static void html_routes(const struct report *r, FILE *out)
{
	fputs("<p class=\"small\">Recipients of personal messages, by class and the action"
	      " decided for each (in monitor mode: what would have been done).</p>\n"
	      "<table>\n<tr><th class=\"l\">class</th><th>recipients</th>", out);
	for (int a = 0; a < ACTION_COUNT; a++)
		fprintf(out, "<th>%s</th>", action_name((enum action)a));
	fputs("</tr>\n", out);
	for (int c = 0; c < CLASS_COUNT; c++) {
		fprintf(out, "<tr><td class=\"l\">%s</td><td>%ld</td>", class_names[c],
			r->routes[c].rcpts);
		for (int a = 0; a < ACTION_COUNT; a++)
			fprintf(out, "<td>%ld</td>", r->routes[c].action[a]);
		fputs("</tr>\n", out);
	}
	fputs("</table>\n", out);
}

/* html_event_rcpts - the offending recipients, each with its evidence as a tooltip. */
static void html_event_rcpts(const struct report_event *e, FILE *out)
{
	for (size_t j = 0; j < e->n_rcpts; j++) {
		fputs(j ? "<br><span title=\"" : "<span title=\"", out);
		html_str(out, e->rcpts[j].evidence);
		fputs("\">", out);
		html_str(out, e->rcpts[j].address);
		fprintf(out, "</span> (%s: %s)", rclass_name(e->rcpts[j].cls),
			action_name(e->rcpts[j].action));
	}
}

static void html_event(const struct report *r, const struct report_event *e, FILE *out)
{
	const char *cls = e->action == ACTION_REJECT ? "reject" : "hold";
	char when[40];

	report_time_string(e->time, false, when, sizeof(when));
	fprintf(out, "<tr><td class=\"l\">%s</td>", when);
	if (e->applied == e->action)
		fprintf(out, "<td class=\"l %s\">%s", cls, done_names[e->action]);
	else
		fprintf(out, "<td class=\"l %s would\">would %s (%s)", cls,
			action_name(e->action), mode_name(e->mode));
	/* what became of a held message: released or deleted, by whom, when */
	if (e->applied == ACTION_HOLD && strcmp(e->outcome, "held") != 0) {
		fputs("<br><span class=\"small\">", out);
		html_str(out, e->outcome);
		fputs("</span>", out);
	}
	fputs("</td>", out);
	fputs("<td class=\"l\">", out);
	html_str(out, e->queue_id);
	fputs("</td><td class=\"l\">", out);
	html_str(out, e->sender);
	fputs("<br><span class=\"small\">", out);
	html_str(out, e->message_id);
	fputs("</span></td><td class=\"l\">", out);
	html_event_rcpts(e, out);
	fputs("</td><td class=\"l\">", out);
	html_str(out, e->rule[0] ? e->rule : NULL);
	fprintf(out, "</td><td class=\"l\">%s", e->personal ? personal_source_name(e->psrc) : "no");
	if (e->personal_reason != NULL) {
		fputs("<br><span class=\"small\">", out);
		html_str(out, e->personal_reason);
		fputs("</span>", out);
	}
	if (e->cpr_hits > 0)
		fprintf(out, "<br><span class=\"small\">%d CPR number%s found</span>", e->cpr_hits,
			e->cpr_hits == 1 ? "" : "s");
	fputs("</td>", out);
	if (r->hosts.n > 0) {
		fputs("<td class=\"l\">", out);
		html_str(out, e->host);
		fputs("</td>", out);
	}
	fputs("</tr>\n", out);
}

static void html_events(const struct report *r, FILE *out)
{
	fprintf(out, "<section>\n<h2>Rejected and held messages: %zu</h2>\n", r->n_events);
	fputs("<p class=\"small\">In monitor mode: the messages that would have been rejected or"
	      " held. Only the offending recipients are shown; point at one for the evidence"
	      " of its class.</p>\n", out);
	if (r->n_events == 0) {
		fputs("<p>None.</p>\n</section>\n", out);
		return;
	}
	fputs("<table>\n<tr><th class=\"l\">time</th><th class=\"l\">outcome</th>"
	      "<th class=\"l\">reference</th><th class=\"l\">sender</th>"
	      "<th class=\"l\">recipients (class: action)</th><th class=\"l\">rule</th>"
	      "<th class=\"l\">personal</th>", out);
	fputs(r->hosts.n > 0 ? "<th class=\"l\">gateway</th></tr>\n" : "</tr>\n", out);
	for (size_t i = 0; i < r->n_events; i++)
		html_event(r, &r->events[i], out);
	fputs("</table>\n</section>\n", out);
}

static void html_tables(const struct report *r, FILE *out)
{
	fputs("<section>\n<h2>Top senders of rejected or held personal mail</h2>\n<table>\n"
	      "<tr><th class=\"l\">sender</th><th>messages</th><th>rejected</th><th>held</th>"
	      "</tr>\n", out);
	for (size_t i = 0; i < r->senders.n; i++) {
		fputs("<tr><td class=\"l\">", out);
		html_str(out, r->senders.v[i].key);
		fprintf(out, "</td><td>%ld</td><td>%ld</td><td>%ld</td></tr>\n", r->senders.v[i].n,
			r->senders.v[i].rejected, r->senders.v[i].held);
	}
	fputs("</table>\n</section>\n<section>\n<h2>Top external domains receiving personal"
	      " mail</h2>\n<table>\n<tr><th class=\"l\">domain</th><th>recipients</th>"
	      "<th>allowed</th><th>stopped</th><th class=\"l\">classes</th></tr>\n", out);
	for (size_t i = 0; i < r->domains.n; i++) {
		const struct report_count *c = &r->domains.v[i];

		fputs("<tr><td class=\"l\">", out);
		html_str(out, c->key);
		fprintf(out, "</td><td>%ld</td><td>%ld</td><td>%ld</td><td class=\"l\">", c->n,
			c->allowed, c->stopped);
		for (int k = 0, n = 0; k < CLASS_COUNT; k++)
			if (c->classes & (1u << k))
				fprintf(out, "%s%s", n++ > 0 ? ", " : "", class_names[k]);
		fputs("</td></tr>\n", out);
	}
	fputs("</table>\n</section>\n", out);
	if (r->hosts.n == 0)
		return;
	fputs("<section>\n<h2>Gateways</h2>\n<table>\n<tr><th class=\"l\">host</th>"
	      "<th>messages</th><th>personal</th><th>rejected</th><th>held</th>"
	      "<th>tempfailed</th></tr>\n", out);
	for (size_t i = 0; i < r->hosts.n; i++) {
		const struct report_count *c = &r->hosts.v[i];

		fputs("<tr><td class=\"l\">", out);
		html_str(out, c->key);
		fprintf(out, "</td><td>%ld</td><td>%ld</td><td>%ld</td><td>%ld</td><td>%ld</td></tr>\n",
			c->n, c->personal, c->rejected, c->held, c->tempfailed);
	}
	fputs("</table>\n</section>\n", out);
}

void report_write_html(const struct report *r, FILE *out)
{
	static const struct chart charts[] = {
		{ "Messages per day, by what was done", "messages", CHART_APPLIED, ACTION_COUNT,
		  done_names, action_colours },
		{ "Monitor mode: messages per day, by what enforce mode would have done",
		  "messages", CHART_WOULD, ACTION_COUNT, would_names, action_colours },
		{ "Personal mail per day, by route (recipients of personal messages by class)",
		  "recipients", CHART_ROUTE, CLASS_COUNT, class_names, class_colours },
		{ "Recipients per day, by class (all messages)", "recipients", CHART_CLASS,
		  CLASS_COUNT, class_names, class_colours },
	};

	html_head(r, out);
	html_summary(r, out);
	for (size_t i = 0; i < sizeof(charts) / sizeof(charts[0]); i++) {
		if (charts[i].kind == CHART_WOULD && r->total.monitor == 0)
			continue;
		fputs("<section>\n<h2>", out);
		html_str(out, charts[i].title);
		fputs("</h2>\n", out);
		chart_svg(r, &charts[i], out);
		if (charts[i].kind == CHART_ROUTE)
			html_routes(r, out);
		html_day_table(r, &charts[i], out);
		fputs("</section>\n", out);
	}
	html_events(r, out);
	html_tables(r, out);
	fputs("<p class=\"small\">Generated by sikkermail-ctl report. CPR numbers are never shown:"
	      " anything shaped like one is masked.</p>\n</body>\n</html>\n", out);
}

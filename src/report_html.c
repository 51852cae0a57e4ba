/*
 * report_html.c - the compliance report as one self-contained HTML page.
 *
 * Exports report_write_html and report_html_str, the escaper the
 * replay's page shares (report.h).
 *
 * The page is meant to be opened by a compliance officer, printed, or
 * mailed on: one file with its CSS inline and its charts as inline SVG
 * (stacked bars per day), no script, no font, image or style sheet
 * from anywhere else. A Content-Security-Policy in the page itself
 * forbids loading anything, so even a string that slipped through the
 * escaping could not fetch or run a thing. Every text from a decision is
 * HTML-escaped here; report_clean has already made it valid UTF-8 and
 * masked CPR numbers.
 *
 * The page is in English or Danish (report.lang): every fixed text is in
 * struct words, written as HTML (entities for the Danish letters). Nothing
 * is said only in a tooltip: the why of every stopped recipient is text in
 * its table cell, the numbers of the charts are in the tables under them,
 * and a print style sheet keeps it all on paper.
 */
#include <stdio.h>
#include <stdlib.h>
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

struct words;

/* One chart: the day counts it stacks, with a name and a colour each. */
struct chart {
	const char *title;
	const char *what;			/* "messages", "recipients" */
	int kind;				/* CHART_APPLIED, _WOULD, _ROUTE, _CLASS */
	size_t n_series;
	const char *const *names;
	const char *const *colours;
	const struct words *w;
};

enum { CHART_APPLIED, CHART_WOULD, CHART_ROUTE, CHART_CLASS, CHART_COUNT };

/* The fixed texts of the page in one language, as HTML. */
struct words {
	const char *lang;
	const char *title, *period, *to, *day, *days, *local_time, *source, *database;
	const char *log_file, *log_files, *lines, *unreadable, *outside, *generated;
	const char *incomplete;
	const char *summary, *messages, *recipients, *with_personal, *with_cpr, *in_monitor;
	const char *domain_cert;
	const char *of_which;
	const char *done[ACTION_COUNT], *would[ACTION_COUNT], *act[ACTION_COUNT];
	const char *cls[CLASS_COUNT], *psrc[PSRC_SUBJECT + 1], *no, *monitor_word;
	const char *chart_title[CHART_COUNT], *nothing;
	const char *per_day, *date, *personal, *cpr_found, *monitor, *total;
	const char *routes_note, *class_word;
	const char *events, *none, *cap_enforce, *cap_monitor, *cap_mixed, *cap_rcpts;
	const char *time, *outcome, *reference, *sender, *rcpts_why, *rule, *gateway;
	const char *why, *whole, *cpr_one, *cpr_many;
	const char *cpr_title, *cpr_note, *rcpts_head, *cpr_numbers;
	const char *top_senders, *rejected, *held, *top_domains, *domain, *allowed, *stopped;
	const char *classes, *gateways, *host, *tempfailed, *footer;
	const char *held_released, *held_deleted, *held_at;
};

static const struct words english = {
	.lang = "en",
	.title = "sikkermail compliance report",
	.period = "Period", .to = "to", .day = "day", .days = "days", .local_time = "local time",
	.source = "Source", .database = "database", .log_file = "log file",
	.log_files = "log files",
	.lines = "decision lines", .unreadable = "not readable", .outside = "outside the period",
	.incomplete = "decisions with lines missing, not counted",
	.generated = "Generated",
	.summary = "Summary", .messages = "messages", .recipients = "recipients",
	.with_personal = "messages with personal data",
	.with_cpr = "messages with CPR numbers found",
	.domain_cert = "recipients encrypted to a domain certificate",
	.in_monitor = "decided in monitor mode", .of_which = "of which",
	.done = { "delivered", "encrypted", "held", "tempfailed", "rejected" },
	.would = { "would deliver", "would encrypt", "would hold", "would tempfail",
		   "would reject" },
	.act = { "deliver", "encrypt", "hold", "tempfail", "reject" },
	.cls = { "internal", "tunnel", "encrypted", "partner", "freemail", "tls", "unknown" },
	.psrc = { "none", "header", "CPR", "subject tag" }, .no = "no",
	.monitor_word = "monitor mode",
	.held_released = "released by", .held_deleted = "deleted by", .held_at = "at",
	.chart_title = {
		"Messages per day, by what was done",
		"Monitor mode: messages per day, by what enforce mode would have done",
		"Personal mail per day, by route (recipients of personal messages by class)",
		"Recipients per day, by class (all messages)",
	},
	.nothing = "nothing in this period",
	.per_day = "The numbers per day", .date = "date", .personal = "personal",
	.cpr_found = "CPR found", .monitor = "monitor", .total = "total",
	.routes_note = "Recipients of personal messages, by class and the action decided for each"
		       " (in monitor mode: what would have been done).",
	.class_word = "class",
	.events = "Rejected and held messages", .none = "None.",
	.cap_enforce = "What was done: these messages were rejected or held.",
	.cap_monitor = "Monitor mode: these messages would have been rejected or held in enforce"
		       " mode. Nothing was stopped: they were delivered.",
	.cap_mixed = "Enforce mode: what was done. Monitor mode (marked &ldquo;would&rdquo;):"
		     " what would have been done; those messages were delivered.",
	.cap_rcpts = "Each recipient that was the cause is shown with why. Where none was, the"
		     " whole message was refused: all its recipients are shown, with the"
		     " message&rsquo;s reason.",
	.time = "time", .outcome = "outcome", .reference = "reference", .sender = "sender",
	.rcpts_why = "recipients (class: action) and why", .rule = "rule",
	.gateway = "gateway", .why = "why", .whole = "whole message",
	.cpr_one = "CPR number found", .cpr_many = "CPR numbers found",
	.cpr_title = "Messages in which CPR numbers were found",
	.cpr_note = "With or without personal data, whatever was done with them. CPR numbers are"
		    " never shown: they are masked.",
	.rcpts_head = "recipients (class: action)", .cpr_numbers = "CPR numbers",
	.top_senders = "Top senders of rejected or held personal mail", .rejected = "rejected",
	.held = "held", .top_domains = "Top external domains receiving personal mail",
	.domain = "domain", .allowed = "allowed", .stopped = "stopped", .classes = "classes",
	.gateways = "Gateways", .host = "host", .tempfailed = "tempfailed",
	.footer = "Generated by sikkermail-ctl report. CPR numbers are never shown: anything"
		  " shaped like one is masked.",
};

static const struct words danish = {
	.lang = "da",
	.title = "sikkermail compliancerapport",
	.period = "Periode", .to = "til", .day = "dag", .days = "dage", .local_time = "lokal tid",
	.source = "Kilde", .database = "database", .log_file = "logfil",
	.log_files = "logfiler",
	.lines = "afg&oslash;relseslinjer", .unreadable = "ul&aelig;selige",
	.incomplete = "afg&oslash;relser med manglende linjer, ikke talt med",
	.outside = "uden for perioden",
	.generated = "Dannet",
	.summary = "Overblik", .messages = "beskeder", .recipients = "modtagere",
	.with_personal = "beskeder med personoplysninger",
	.with_cpr = "beskeder med fundne CPR-numre",
	.domain_cert = "modtagere krypteret til et dom&aelig;necertifikat",
	.in_monitor = "afgjort i overv&aring;gningstilstand", .of_which = "heraf",
	.done = { "leveret", "krypteret", "tilbageholdt", "midlertidigt afvist", "afvist" },
	.would = { "ville levere", "ville kryptere", "ville tilbageholde",
		   "ville afvise midlertidigt", "ville afvise" },
	.act = { "lever", "krypter", "tilbagehold", "afvis midlertidigt", "afvis" },
	.cls = { "intern", "tunnel", "krypteret", "partner", "freemail", "tls", "ukendt" },
	.psrc = { "ingen", "brevhoved", "CPR", "emnem&aelig;rke" }, .no = "nej",
	.monitor_word = "overv&aring;gningstilstand",
	.held_released = "frigivet af", .held_deleted = "slettet af", .held_at = "kl.",
	.chart_title = {
		"Beskeder pr. dag efter, hvad der blev gjort",
		"Overv&aring;gningstilstand: beskeder pr. dag efter, hvad h&aring;ndh&aelig;velse"
		" ville have gjort",
		"Post med personoplysninger pr. dag efter vej (modtagere af beskeder med"
		" personoplysninger efter klasse)",
		"Modtagere pr. dag efter klasse (alle beskeder)",
	},
	.nothing = "intet i perioden",
	.per_day = "Tallene pr. dag", .date = "dato", .personal = "personoplysninger",
	.cpr_found = "CPR fundet", .monitor = "overv&aring;gning", .total = "i alt",
	.routes_note = "Modtagere af beskeder med personoplysninger efter klasse og den handling,"
		       " der blev besluttet for hver (i overv&aring;gningstilstand: hvad der ville"
		       " v&aelig;re sket).",
	.class_word = "klasse",
	.events = "Afviste og tilbageholdte beskeder", .none = "Ingen.",
	.cap_enforce = "Det, der skete: disse beskeder blev afvist eller tilbageholdt.",
	.cap_monitor = "Overv&aring;gningstilstand: disse beskeder ville v&aelig;re blevet afvist"
		       " eller tilbageholdt ved h&aring;ndh&aelig;velse. Intet blev stoppet: de"
		       " blev leveret.",
	.cap_mixed = "H&aring;ndh&aelig;velse: det, der skete. Overv&aring;gningstilstand"
		     " (markeret &bdquo;ville&ldquo;): det, der ville v&aelig;re sket; de beskeder"
		     " blev leveret.",
	.cap_rcpts = "Hver modtager, der var &aring;rsagen, vises med begrundelsen. Hvor ingen"
		     " var, blev hele beskeden afvist: alle dens modtagere vises med beskedens"
		     " begrundelse.",
	.time = "tidspunkt", .outcome = "udfald", .reference = "reference", .sender = "afsender",
	.rcpts_why = "modtagere (klasse: handling) og hvorfor", .rule = "regel",
	.gateway = "gateway", .why = "hvorfor", .whole = "hele beskeden",
	.cpr_one = "CPR-nummer fundet", .cpr_many = "CPR-numre fundet",
	.cpr_title = "Beskeder, hvori der blev fundet CPR-numre",
	.cpr_note = "Med eller uden personoplysninger, uanset hvad der skete med dem. CPR-numre"
		    " vises aldrig: de er maskeret.",
	.rcpts_head = "modtagere (klasse: handling)", .cpr_numbers = "CPR-numre",
	.top_senders = "Afsendere med flest afviste eller tilbageholdte beskeder med"
		       " personoplysninger",
	.rejected = "afvist", .held = "tilbageholdt",
	.top_domains = "Eksterne dom&aelig;ner, der modtog flest beskeder med personoplysninger",
	.domain = "dom&aelig;ne", .allowed = "tilladt", .stopped = "stoppet", .classes = "klasser",
	.gateways = "Gateways", .host = "v&aelig;rt", .tempfailed = "midlertidigt afvist",
	.footer = "Dannet af sikkermail-ctl report. CPR-numre vises aldrig: alt, der ligner et,"
		  " er maskeret.",
};

static const char *const action_colours[ACTION_COUNT] = {
	"#4e9a3a", "#3465a4", "#f0a020", "#8f6bb0", "#cc2222",
};
static const char *const class_colours[CLASS_COUNT] = {
	"#7fb5b0", "#3465a4", "#4e9a3a", "#b07aa1", "#cc2222", "#f0a020", "#8c6d4f",
};

static const char style[] =
	REPORT_HTML_STYLE_BASE
	"tr.total td{font-weight:bold;background:#fafafa}"
	"svg{display:block;margin:6px 0}svg text{font:11px sans-serif;fill:#333}"
	"summary{cursor:pointer;color:#555;margin:4px 0}"
	".grid{stroke:#e3e3e3}.axis{stroke:#888}"
	".reject{color:#cc2222;font-weight:bold}.hold{color:#b06d00;font-weight:bold}"
	".would{font-style:italic}.small{color:#666;font-size:12px}"
	".why{display:block;color:#444;font-size:12px;margin:0 0 4px 12px}"
	"td.t{white-space:nowrap}td.r{min-width:18em}"
	"@media print{@page{margin:15mm}"
	"body{margin:0;max-width:none;padding:0;font-size:10pt;color:#000}"
	"h2{break-after:avoid}tr,svg{break-inside:avoid}thead{display:table-header-group}"
	"svg{width:100%;height:auto}summary{display:none}"
	".meta,.small,.why{color:#000}th{background:none}"
	"th,td{border-color:#999}}";

static const struct words *words_of(const struct report *r);
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
static void html_outcome(const struct words *w, const struct report_event *e, FILE *out);
static const char *personal_word(const struct words *w, const struct report_event *e);
static void html_rcpt(const struct words *w, const struct report_rcpt *rc, FILE *out);
static void html_events(const struct report *r, FILE *out);
static void html_event_rcpts(const struct report *r, const struct report_event *e, FILE *out);
static void html_event(const struct report *r, const struct report_event *e, FILE *out);
static void html_cpr(const struct report *r, FILE *out);
static void html_tables(const struct report *r, FILE *out);

/*
 * report_html_str - text or attribute value, escaped; NULL prints "-". A
 * line break and the indentation after it (a text output's wrapping, as
 * in the replay's reasons) become one space.
 */
void report_html_str(FILE *out, const char *s)
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

static const struct words *words_of(const struct report *r)
{
	return r->lang == REPORT_DA ? &danish : &english;
}

static void html_head(const struct report *r, FILE *out)
{
	const struct words *w = words_of(r);
	char when[40];

	report_time_string(r->generated, false, when, sizeof(when));
	fprintf(out, "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n"
		     "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';"
		     " style-src 'unsafe-inline'\">\n"
		     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		     "<title>%s %s %s %s</title>\n<style>%s</style>\n"
		     "</head>\n<body>\n<h1>%s</h1>\n",
		w->lang, w->title, r->since, w->to, r->until, style, w->title);
	fprintf(out, "<p class=\"meta\">%s: %s %s %s, %zu %s (%s, ", w->period, r->since, w->to,
		r->until, r->n_days, r->n_days == 1 ? w->day : w->days, w->local_time);
	report_html_str(out, r->tz);
	fprintf(out, ")</p>\n<p class=\"meta\">%s: ", w->source);
	if (r->files.n == 0) {
		fprintf(out, "%s ", w->database);
		report_html_str(out, r->database);
	} else {
		fputs(r->files.n == 1 ? w->log_file : w->log_files, out);
		for (size_t i = 0; i < r->files.n; i++) {
			fputs(i ? ", " : " ", out);
			report_html_str(out, r->files.v[i]);
		}
		fprintf(out, " (%ld %s, %ld %s, %ld %s", r->lines, w->lines, r->bad_lines,
			w->unreadable, r->outside, w->outside);
		if (r->incomplete > 0)
			fprintf(out, ", %ld %s", r->incomplete, w->incomplete);
		fputc(')', out);
	}
	fprintf(out, "</p>\n<p class=\"meta\">%s: %s</p>\n", w->generated, when);
}

static void html_summary(const struct report *r, FILE *out)
{
	const struct words *w = words_of(r);
	const struct report_day *t = &r->total;
	long rcpts = 0;

	for (int c = 0; c < CLASS_COUNT; c++)
		rcpts += t->rcpts[c];
	fprintf(out, "<section>\n<h2>%s</h2>\n<table>\n", w->summary);
	fprintf(out, "<tr><th class=\"l\">%s</th><td>%ld</td></tr>\n", w->messages, t->messages);
	fprintf(out, "<tr><th class=\"l\">%s</th><td>%ld</td></tr>\n", w->recipients, rcpts);
	fprintf(out, "<tr><th class=\"l\">%s</th><td>%ld</td></tr>\n", w->with_personal,
		t->personal);
	fprintf(out, "<tr><th class=\"l\">%s</th><td>%ld</td></tr>\n", w->with_cpr, t->cpr);
	fprintf(out, "<tr><th class=\"l\">%s</th><td>%ld</td></tr>\n", w->domain_cert,
		t->domain_cert);
	for (int a = 0; a < ACTION_COUNT; a++)
		fprintf(out, "<tr><th class=\"l\">%s</th><td>%ld</td></tr>\n", w->done[a],
			t->applied[a]);
	if (t->monitor > 0) {
		fprintf(out, "<tr><th class=\"l\">%s</th><td>%ld</td></tr>\n", w->in_monitor,
			t->monitor);
		for (int a = ACTION_ENCRYPT; a < ACTION_COUNT; a++)
			fprintf(out, "<tr><th class=\"l would\">&nbsp;&nbsp;%s %s</th>"
				     "<td>%ld</td></tr>\n", w->of_which, w->would[a], t->would[a]);
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
	fputs(ch->title, out);	/* fixed text, already HTML */
	fputs("\">\n", out);
	chart_axes(ch, ymax, step, out);
	if (max == 0)
		fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
			PLOT_X + PLOT_W / 2, PLOT_Y + PLOT_H / 2, ch->w->nothing);
	else
		chart_bars(r, ch, per_bar, ymax, out);
	chart_legend(ch, out);
	fputs("</svg>\n", out);
}

/* html_day_table - the numbers behind a chart: a row a day (report_day_shown) and a total. */
static void html_day_table(const struct report *r, const struct chart *ch, FILE *out)
{
	const struct words *w = ch->w;

	fprintf(out, "<details open>\n<summary>%s</summary>\n<table>\n<tr><th class=\"l\">%s</th>",
		w->per_day, w->date);
	if (ch->kind == CHART_APPLIED)
		fprintf(out, "<th>%s</th><th>%s</th><th>%s</th>", w->messages, w->personal,
			w->cpr_found);
	if (ch->kind == CHART_WOULD)
		fprintf(out, "<th>%s</th>", w->monitor);
	for (size_t k = 0; k < ch->n_series; k++)
		fprintf(out, "<th>%s</th>", ch->names[k]);
	fputs("</tr>\n", out);
	for (size_t i = 0; i <= r->n_days; i++) {
		const struct report_day *d = i < r->n_days ? &r->days[i] : &r->total;

		if (i < r->n_days && !report_day_shown(r, i))
			continue;
		fprintf(out, "<tr%s><td class=\"l\">%s</td>", i < r->n_days ? "" : " class=\"total\"",
			i < r->n_days ? d->date : w->total);
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
	const struct words *w = words_of(r);

	fprintf(out, "<p class=\"small\">%s</p>\n<table>\n<tr><th class=\"l\">%s</th><th>%s</th>",
		w->routes_note, w->class_word, w->recipients);
	for (int a = 0; a < ACTION_COUNT; a++)
		fprintf(out, "<th>%s</th>", w->act[a]);
	fputs("</tr>\n", out);
	for (int c = 0; c < CLASS_COUNT; c++) {
		fprintf(out, "<tr><td class=\"l\">%s</td><td>%ld</td>", w->cls[c],
			r->routes[c].rcpts);
		for (int a = 0; a < ACTION_COUNT; a++)
			fprintf(out, "<td>%ld</td>", r->routes[c].action[a]);
		fputs("</tr>\n", out);
	}
	fputs("</table>\n", out);
}

/* html_outcome - the cell saying what was done, or what monitor mode would have done. */
static void html_outcome(const struct words *w, const struct report_event *e, FILE *out)
{
	const char *cls = e->action == ACTION_REJECT ? "reject"
			  : e->action == ACTION_HOLD ? "hold" : "";
	bool valid = (unsigned)e->action < ACTION_COUNT && (unsigned)e->applied < ACTION_COUNT;

	char at[40];

	if (!valid) {
		fputs("<td class=\"l\">?</td>", out);
		return;
	}
	if (e->applied == e->action)
		fprintf(out, "<td class=\"l %s\">%s", cls, w->done[e->action]);
	else
		fprintf(out, "<td class=\"l %s would\">%s (%s)", cls, w->would[e->action],
			e->mode == MODE_MONITOR ? w->monitor_word : mode_name(e->mode));
	/* what became of a held message: released or deleted, by whom, when */
	if (e->applied == ACTION_HOLD && e->held_state != REPORT_HELD_WAITING) {
		report_time_string(e->held_at, false, at, sizeof(at));
		fprintf(out, "<br><span class=\"small\">%s ",
			e->held_state == REPORT_HELD_DELETED ? w->held_deleted : w->held_released);
		report_html_str(out, e->held_by);
		fprintf(out, " %s ", w->held_at);
		report_html_str(out, at);
		fputs("</span>", out);
	}
	fputs("</td>", out);
}

/* personal_word - "no", or where the personal flag came from, in the report's language. */
static const char *personal_word(const struct words *w, const struct report_event *e)
{
	if (!e->personal)
		return w->no;
	return (unsigned)e->psrc <= PSRC_SUBJECT ? w->psrc[e->psrc] : "?";
}

/* html_rcpt - an address with its class and action. */
static void html_rcpt(const struct words *w, const struct report_rcpt *rc, FILE *out)
{
	report_html_str(out, rc->address);
	fprintf(out, " (%s: %s)", (unsigned)rc->cls < CLASS_COUNT ? w->cls[rc->cls] : "?",
		(unsigned)rc->action < ACTION_COUNT ? w->act[rc->action] : "?");
}

/*
 * html_event_rcpts - the offending recipients, each with why as text under
 * it; or, for a message refused as a whole, the message's why and then all
 * its recipients.
 */
static void html_event_rcpts(const struct report *r, const struct report_event *e, FILE *out)
{
	const struct words *w = words_of(r);
	char *why;

	if (e->whole) {
		why = report_event_reason(e, r->lang);
		fprintf(out, "<span class=\"why\">%s: ", w->whole);
		report_html_str(out, why);
		fputs("</span>", out);
		free(why);
	}
	for (size_t j = 0; j < e->n_rcpts; j++) {
		if (e->whole && j > 0)	/* otherwise the why above ends the line */
			fputs("<br>", out);
		html_rcpt(w, &e->rcpts[j], out);
		if (e->whole)
			continue;
		why = report_rcpt_reason(&e->rcpts[j], r->lang);
		fprintf(out, "<span class=\"why\">%s: ", w->why);
		report_html_str(out, why);
		fputs("</span>", out);
		free(why);
	}
}

static void html_event(const struct report *r, const struct report_event *e, FILE *out)
{
	const struct words *w = words_of(r);
	char when[40];

	report_time_string(e->time, false, when, sizeof(when));
	fprintf(out, "<tr><td class=\"l t\">%s</td>", when);
	html_outcome(w, e, out);
	fputs("<td class=\"l\">", out);
	report_html_str(out, e->queue_id);
	fputs("</td><td class=\"l\">", out);
	report_html_str(out, e->sender);
	fputs("<br><span class=\"small\">", out);
	report_html_str(out, e->message_id);
	fputs("</span></td><td class=\"l r\">", out);
	html_event_rcpts(r, e, out);
	fputs("</td><td class=\"l\">", out);
	report_html_str(out, e->rule[0] ? e->rule : NULL);
	fprintf(out, "</td><td class=\"l\">%s", personal_word(w, e));
	if (e->personal_reason != NULL) {
		fputs("<br><span class=\"small\">", out);
		report_html_str(out, e->personal_reason);
		fputs("</span>", out);
	}
	if (e->cpr_hits > 0)
		fprintf(out, "<br><span class=\"small\">%d %s</span>", e->cpr_hits,
			e->cpr_hits == 1 ? w->cpr_one : w->cpr_many);
	fputs("</td>", out);
	if (r->hosts.n > 0) {
		fputs("<td class=\"l\">", out);
		report_html_str(out, e->host);
		fputs("</td>", out);
	}
	fputs("</tr>\n", out);
}

/* html_events - the stopped messages, with a caption true to the modes they were decided in. */
static void html_events(const struct report *r, FILE *out)
{
	const struct words *w = words_of(r);
	size_t monitor = 0;

	for (size_t i = 0; i < r->n_events; i++)
		monitor += r->events[i].mode == MODE_MONITOR;
	fprintf(out, "<section>\n<h2>%s: %zu</h2>\n", w->events, r->n_events);
	if (r->n_events == 0) {
		fprintf(out, "<p>%s</p>\n</section>\n", w->none);
		return;
	}
	fprintf(out, "<p class=\"small\">%s %s</p>\n", monitor == 0 ? w->cap_enforce
		: monitor == r->n_events ? w->cap_monitor : w->cap_mixed, w->cap_rcpts);
	fprintf(out, "<table>\n<thead><tr><th class=\"l\">%s</th><th class=\"l\">%s</th>"
		     "<th class=\"l\">%s</th><th class=\"l\">%s</th><th class=\"l\">%s</th>"
		     "<th class=\"l\">%s</th><th class=\"l\">%s</th>", w->time, w->outcome,
		w->reference, w->sender, w->rcpts_why, w->rule, w->personal);
	if (r->hosts.n > 0)
		fprintf(out, "<th class=\"l\">%s</th>", w->gateway);
	fputs("</tr></thead>\n", out);
	for (size_t i = 0; i < r->n_events; i++)
		html_event(r, &r->events[i], out);
	fputs("</table>\n</section>\n", out);
}

/* html_cpr - the messages in which CPR numbers were found. */
static void html_cpr(const struct report *r, FILE *out)
{
	const struct words *w = words_of(r);
	char when[40];

	fprintf(out, "<section>\n<h2>%s: %zu</h2>\n", w->cpr_title, r->n_cpr);
	if (r->n_cpr == 0) {
		fprintf(out, "<p>%s</p>\n</section>\n", w->none);
		return;
	}
	fprintf(out, "<p class=\"small\">%s</p>\n<table>\n<thead><tr><th class=\"l\">%s</th>"
		     "<th class=\"l\">%s</th><th class=\"l\">%s</th><th class=\"l\">%s</th>"
		     "<th class=\"l\">%s</th><th>%s</th><th class=\"l\">%s</th>", w->cpr_note,
		w->time, w->outcome, w->reference, w->sender, w->rcpts_head, w->cpr_numbers,
		w->personal);
	if (r->hosts.n > 0)
		fprintf(out, "<th class=\"l\">%s</th>", w->gateway);
	fputs("</tr></thead>\n", out);
	for (size_t i = 0; i < r->n_cpr; i++) {
		const struct report_event *e = &r->cpr[i];

		report_time_string(e->time, false, when, sizeof(when));
		fprintf(out, "<tr><td class=\"l t\">%s</td>", when);
		html_outcome(w, e, out);
		fputs("<td class=\"l\">", out);
		report_html_str(out, e->queue_id);
		fputs("</td><td class=\"l\">", out);
		report_html_str(out, e->sender);
		fputs("</td><td class=\"l\">", out);
		for (size_t j = 0; j < e->n_rcpts; j++) {
			if (j > 0)
				fputs("<br>", out);
			html_rcpt(w, &e->rcpts[j], out);
		}
		fprintf(out, "</td><td>%d</td><td class=\"l\">%s</td>", e->cpr_hits,
			personal_word(w, e));
		if (r->hosts.n > 0) {
			fputs("<td class=\"l\">", out);
			report_html_str(out, e->host);
			fputs("</td>", out);
		}
		fputs("</tr>\n", out);
	}
	fputs("</table>\n</section>\n", out);
}

static void html_tables(const struct report *r, FILE *out)
{
	const struct words *w = words_of(r);

	fprintf(out, "<section>\n<h2>%s</h2>\n<table>\n<tr><th class=\"l\">%s</th><th>%s</th>"
		     "<th>%s</th><th>%s</th></tr>\n", w->top_senders, w->sender, w->messages,
		w->rejected, w->held);
	for (size_t i = 0; i < r->senders.n; i++) {
		fputs("<tr><td class=\"l\">", out);
		report_html_str(out, r->senders.v[i].key);
		fprintf(out, "</td><td>%ld</td><td>%ld</td><td>%ld</td></tr>\n", r->senders.v[i].n,
			r->senders.v[i].rejected, r->senders.v[i].held);
	}
	fprintf(out, "</table>\n</section>\n<section>\n<h2>%s</h2>\n<table>\n"
		     "<tr><th class=\"l\">%s</th><th>%s</th><th>%s</th><th>%s</th>"
		     "<th class=\"l\">%s</th></tr>\n", w->top_domains, w->domain, w->recipients,
		w->allowed, w->stopped, w->classes);
	for (size_t i = 0; i < r->domains.n; i++) {
		const struct report_count *c = &r->domains.v[i];

		fputs("<tr><td class=\"l\">", out);
		report_html_str(out, c->key);
		fprintf(out, "</td><td>%ld</td><td>%ld</td><td>%ld</td><td class=\"l\">", c->n,
			c->allowed, c->stopped);
		for (int k = 0, n = 0; k < CLASS_COUNT; k++)
			if (c->classes & (1u << k))
				fprintf(out, "%s%s", n++ > 0 ? ", " : "", w->cls[k]);
		fputs("</td></tr>\n", out);
	}
	fputs("</table>\n</section>\n", out);
	if (r->hosts.n == 0)
		return;
	fprintf(out, "<section>\n<h2>%s</h2>\n<table>\n<tr><th class=\"l\">%s</th>"
		     "<th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>%s</th></tr>\n", w->gateways,
		w->host, w->messages, w->personal, w->rejected, w->held, w->tempfailed);
	for (size_t i = 0; i < r->hosts.n; i++) {
		const struct report_count *c = &r->hosts.v[i];

		fputs("<tr><td class=\"l\">", out);
		report_html_str(out, c->key);
		fprintf(out, "</td><td>%ld</td><td>%ld</td><td>%ld</td><td>%ld</td><td>%ld</td></tr>\n",
			c->n, c->personal, c->rejected, c->held, c->tempfailed);
	}
	fputs("</table>\n</section>\n", out);
}

void report_write_html(const struct report *r, FILE *out)
{
	const struct words *w = words_of(r);
	const struct chart charts[] = {
		{ w->chart_title[CHART_APPLIED], w->messages, CHART_APPLIED, ACTION_COUNT, w->done,
		  action_colours, w },
		{ w->chart_title[CHART_WOULD], w->messages, CHART_WOULD, ACTION_COUNT, w->would,
		  action_colours, w },
		{ w->chart_title[CHART_ROUTE], w->recipients, CHART_ROUTE, CLASS_COUNT, w->cls,
		  class_colours, w },
		{ w->chart_title[CHART_CLASS], w->recipients, CHART_CLASS, CLASS_COUNT, w->cls,
		  class_colours, w },
	};

	html_head(r, out);
	html_summary(r, out);
	for (size_t i = 0; i < sizeof(charts) / sizeof(charts[0]); i++) {
		if (charts[i].kind == CHART_WOULD && r->total.monitor == 0)
			continue;
		fprintf(out, "<section>\n<h2>%s</h2>\n", charts[i].title);
		chart_svg(r, &charts[i], out);
		if (charts[i].kind == CHART_ROUTE)
			html_routes(r, out);
		html_day_table(r, &charts[i], out);
		fputs("</section>\n", out);
	}
	html_events(r, out);
	html_cpr(r, out);
	html_tables(r, out);
	fprintf(out, "<p class=\"small\">%s</p>\n</body>\n</html>\n", w->footer);
}

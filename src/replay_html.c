/*
 * replay_html.c - the replay of sikkermail-ctl as one HTML page.
 *
 * Exports replay_write_html (replay.h).
 *
 * The HTML page says what the text says, in one self-contained file: its
 * style sheet inline (with one for print), no script, nothing loaded from
 * anywhere (a Content-Security-Policy in the page forbids it, as in the
 * compliance report), and every reason as text in its table cell. Every
 * field is escaped by report_html_str.
 */
#include <stdio.h>
#include <stdlib.h>

#include "decision.h"
#include "replay.h"
#include "report.h"

static void html_outcome(FILE *out, const struct replay_outcome *o);
static void html_row(FILE *out, const char *label, long n);

static const char html_style[] =
	REPORT_HTML_STYLE_BASE
	".reject{color:#cc2222;font-weight:bold}.hold{color:#b06d00;font-weight:bold}"
	".would{font-style:italic}.small{color:#666;font-size:12px}"
	"td.t{white-space:nowrap}td.r{min-width:16em}"
	"@media print{@page{margin:15mm}"
	"body{margin:0;max-width:none;padding:0;font-size:10pt;color:#000}"
	"h2{break-after:avoid}tr{break-inside:avoid}thead{display:table-header-group}"
	".meta,.small{color:#000}th{background:none}th,td{border-color:#999}}";

/* html_outcome - "class: outcome (rule)", the outcome marked when it stops the mail. */
static void html_outcome(FILE *out, const struct replay_outcome *o)
{
	char *label = replay_outcome_label(o);
	const char *cls = o->action == ACTION_REJECT ? "reject"
			  : o->action == ACTION_HOLD ? "hold" : NULL;

	fprintf(out, "%s: ", rclass_name(o->cls));
	if (cls != NULL)
		fprintf(out, "<span class=\"%s%s\">", cls, o->monitor ? " would" : "");
	report_html_str(out, label);
	if (cls != NULL)
		fputs("</span>", out);
	fputs(" (", out);
	report_html_str(out, o->rule);
	fputc(')', out);
	free(label);
}

static void html_row(FILE *out, const char *label, long n)
{
	fprintf(out, "<tr><td class=\"l\">%s</td><td>%ld</td></tr>\n", label, n);
}

void replay_write_html(const struct replay *r, FILE *out)
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
	report_html_str(out, r->config_path);
	fprintf(out, " (Mode %s)</p>\n<p class=\"meta\">Database: ", mode_name(r->cfg->mode));
	report_html_str(out, r->database);
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
		report_html_str(out, replay_partial_why[p]);
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
		const struct replay_group *g = &r->groups[i];

		fprintf(out, "<tr><td>%ld</td><td>%ld</td><td class=\"l\">", g->messages, g->rcpts);
		report_html_str(out, g->before);
		fputs(" (", out);
		report_html_str(out, g->before_rule);
		fputs(") &rarr;</td><td class=\"l\">", out);
		report_html_str(out, g->after);
		fputs(" (", out);
		report_html_str(out, g->after_rule);
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
		const struct replay_change *c = &r->changes[i];

		report_time_string(c->time, false, when, sizeof(when));
		fprintf(out, "<tr><td class=\"l t\">%s</td><td class=\"l\">", when);
		report_html_str(out, c->queue_id);
		fputs("</td><td class=\"l\">", out);
		report_html_str(out, c->sender);
		fputs("</td><td class=\"l\">", out);
		report_html_str(out, c->rcpt);
		fputs("</td><td class=\"l\">", out);
		html_outcome(out, &c->before);
		fputs("</td><td class=\"l\">", out);
		html_outcome(out, &c->after);
		fputs("</td><td class=\"l r\">", out);
		report_html_str(out, c->evidence);
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

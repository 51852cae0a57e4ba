/*
 * replay_write.c - the replay of sikkermail-ctl as text, CSV and JSON.
 *
 * Exports replay_write_text, replay_write_csv, replay_write_json and
 * replay_partial_why (replay.h); the HTML page is in replay_html.c.
 *
 * text: for a terminal, within 80 columns. csv: sections, each a header
 * row and its rows, the first field naming the section (as the
 * compliance report's). json: one object. Every field is escaped by
 * report.h's escapers: the replay's strings went through report_clean.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "decision.h"
#include "replay.h"
#include "report.h"
#include "util.h"

static void csv_str(FILE *out, const char *s);
static void json_outcome(FILE *out, const char *key, const struct replay_outcome *o);

const char *const replay_partial_why[PARTIAL_COUNT] = {
	[PARTIAL_BEFORE_FACTS] = "recorded before the facts a replay needs were kept (flag\n"
				 "      headers, CPR scan, encryption): decided from the recorded\n"
				 "      personal source",
	[PARTIAL_NOT_SCANNED] = "not scanned for CPR numbers when recorded, but DetectCPR\n"
				"      is enforce in the configuration replayed: taken as without\n"
				"      a CPR number",
};

/* For CSV and JSON: each reason as a key. */
static const char *const partial_key[PARTIAL_COUNT] = {
	[PARTIAL_BEFORE_FACTS] = "before_facts",
	[PARTIAL_NOT_SCANNED] = "not_scanned",
};

/* ------------------------------------------------------------ text */

void replay_write_text(const struct replay *r, FILE *out)
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
				r->partial_changed[p], replay_partial_why[p]);

	fprintf(out, "\nChanges by rule\n");
	if (r->n_groups == 0)
		fprintf(out, "  none: every recipient would be handled as it was\n");
	else
		fprintf(out, "  %8s %10s  %s\n", "messages", "recipients", "before -> after");
	for (size_t i = 0; i < r->n_groups; i++) {
		const struct replay_group *g = &r->groups[i];

		fprintf(out, "  %8ld %10ld  %s (%s) -> %s (%s)\n", g->messages, g->rcpts, g->before,
			g->before_rule, g->after, g->after_rule);
	}

	if (r->n_changes > 0)
		fprintf(out, "\nRecipients that would change\n");
	for (size_t i = 0; i < r->n_changes; i++) {
		const struct replay_change *c = &r->changes[i];
		char *before = replay_outcome_label(&c->before);
		char *after = replay_outcome_label(&c->after);

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

/* csv_str - a field after a comma (report_csv_str); the replay's CSV is always comma-separated. */
static void csv_str(FILE *out, const char *s)
{
	report_csv_str(out, s, ",");
}

void replay_write_csv(const struct replay *r, FILE *out)
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
		const struct replay_group *g = &r->groups[i];

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
		const struct replay_change *c = &r->changes[i];

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

static void json_outcome(FILE *out, const char *key, const struct replay_outcome *o)
{
	fprintf(out, ",\"%s\":{\"class\":\"%s\",\"action\":\"%s\",\"mode\":\"%s\",\"rule\":", key,
		rclass_name(o->cls), action_name(o->action), o->monitor ? "monitor" : "enforce");
	report_json_str(out, o->rule);
	fputc('}', out);
}

void replay_write_json(const struct replay *r, FILE *out)
{
	char when[40];

	report_time_string(r->generated, true, when, sizeof(when));
	fputs("{\n  \"replay\": {\"configuration\":", out);
	report_json_str(out, r->config_path);
	fprintf(out, ",\"mode\":\"%s\",\"database\":", mode_name(r->cfg->mode));
	report_json_str(out, r->database);
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
		const struct replay_group *g = &r->groups[i];

		fprintf(out, "%s{\"messages\":%ld,\"recipients\":%ld,\"before\":", i ? ",\n    " : "\n    ",
			g->messages, g->rcpts);
		report_json_str(out, g->before);
		fputs(",\"before_rule\":", out);
		report_json_str(out, g->before_rule);
		fputs(",\"after\":", out);
		report_json_str(out, g->after);
		fputs(",\"after_rule\":", out);
		report_json_str(out, g->after_rule);
		fputc('}', out);
	}
	fputs(r->n_groups ? "\n  ],\n  \"changes\": [" : "],\n  \"changes\": [", out);
	for (size_t i = 0; i < r->n_changes; i++) {
		const struct replay_change *c = &r->changes[i];

		report_time_string(c->time, true, when, sizeof(when));
		fprintf(out, "%s{\"time\":\"%s\",\"queue_id\":", i ? ",\n    " : "\n    ", when);
		report_json_str(out, c->queue_id);
		fputs(",\"sender\":", out);
		report_json_str(out, c->sender);
		fputs(",\"recipient\":", out);
		report_json_str(out, c->rcpt);
		json_outcome(out, "before", &c->before);
		json_outcome(out, "after", &c->after);
		fputs(",\"evidence\":", out);
		report_json_str(out, c->evidence);
		fprintf(out, ",\"no_cached_certificate\":%s,\"complete\":%s}",
			c->no_cert ? "true" : "false", c->partial >= 0 ? "false" : "true");
	}
	fputs(r->n_changes ? "\n  ]\n}\n" : "]\n}\n", out);
}


/*
 * report_write.c - the compliance report as text, CSV and JSON.
 *
 * Exports report_write_text, report_write_csv and report_write_json, and
 * the field escapers report_csv_str and report_json_str that the replay's
 * writers share (report.h); the HTML writer is in report_html.c.
 *
 * text: for a terminal, every line within 80 columns except where an
 * address or a name is longer (reasons are wrapped). csv: one file of
 * sections, each a header row and its rows, a blank line between
 * sections; the first field of every row names its section ("section" in
 * the header rows), so a spreadsheet can filter on column A and a script
 * can grep. Text fields starting with = + - @ get a leading ' so that a
 * spreadsheet never runs them as formulas. The separator is a comma unless
 * the report says otherwise (csv_sep): the rows are written with commas,
 * every field holding a comma, a quote or another possible separator
 * quoted, and then the commas outside quotes become the separator. json:
 * one object, see report_write_json.
 *
 * The per-day tables leave out days without messages unless all_days.
 *
 * The report's strings are clean UTF-8 without control characters and
 * with CPR numbers masked (report_clean); here they are only escaped for
 * the format.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "report.h"

#define TEXT_LABEL_WIDTH 10
#define TEXT_WIDTH 80
#define TEXT_INDENT "              "	/* under the value of "  recipient:  " */

static const char *done_name(enum action a);
static const char *event_label(const struct report_event *e, char *buf, size_t size);
static void classes_string(unsigned classes, char *buf, size_t size);
static void text_head(FILE *out, const char *label, const char *const *names, size_t n);
static void text_row(FILE *out, const char *label, const long *v, const char *const *names,
		     size_t n);
static void text_header(const struct report *r, FILE *out);
static void text_summary(const struct report *r, FILE *out);
static void text_days(const struct report *r, FILE *out, int which);
static void text_routes(const struct report *r, FILE *out);
static void text_wrap(FILE *out, const char *first, const char *text);
static void text_events(const struct report *r, FILE *out);
static void text_cpr(const struct report *r, FILE *out);
static void text_tables(const struct report *r, FILE *out);
static void csv_str(FILE *out, const char *s);
static void csv_summary(const struct report *r, FILE *out);
static void csv_days(const struct report *r, FILE *out);
static void csv_day(FILE *out, const struct report_day *d);
static void csv_routes(const struct report *r, FILE *out);
static void csv_events(const struct report *r, FILE *out);
static void csv_cpr(const struct report *r, FILE *out);
static void csv_separate(const char *csv, size_t len, char sep, FILE *out);
static void csv_tables(const struct report *r, FILE *out);
static void json_counts(FILE *out, const char *key, const long *v, size_t n, bool classes);
static void json_report(const struct report *r, FILE *out);
static void json_day(FILE *out, const struct report_day *d);
static void json_event(FILE *out, const struct report_event *e);
static void json_cpr(FILE *out, const struct report_event *e);
static void json_tables(const struct report *r, FILE *out);

static const char *const action_cols[ACTION_COUNT] = {
	"deliver", "encrypt", "hold", "tempfail", "reject",
};
static const char *const class_cols[CLASS_COUNT] = {
	"internal", "tunnel", "encrypted", "partner", "freemail", "tls", "unknown",
};

/* done_name - what was done to a message, in words. */
static const char *done_name(enum action a)
{
	static const char *const names[ACTION_COUNT] = {
		"delivered", "encrypted", "held", "tempfailed", "rejected",
	};

	return (unsigned)a < ACTION_COUNT ? names[a] : "?";
}

static const char *event_label(const struct report_event *e, char *buf, size_t size)
{
	if (e->applied == e->action)
		return done_name(e->action);
	snprintf(buf, size, "would %s (%s)", action_name(e->action), mode_name(e->mode));
	return buf;
}

static void classes_string(unsigned classes, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (int c = 0; c < CLASS_COUNT; c++)
		if ((classes & (1u << c)) && len + 12 < size)
			len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? " " : "",
						rclass_name((enum rclass)c));
}

/* ------------------------------------------------------------ text */

/* A column is as wide as its name, at least 6, plus one space. */
static void text_head(FILE *out, const char *label, const char *const *names, size_t n)
{
	fprintf(out, "%-*s", TEXT_LABEL_WIDTH, label);
	for (size_t i = 0; i < n; i++) {
		int w = (int)strlen(names[i]);

		fprintf(out, " %*s", w < 6 ? 6 : w, names[i]);
	}
	fputc('\n', out);
}

static void text_row(FILE *out, const char *label, const long *v, const char *const *names,
		     size_t n)
{
	fprintf(out, "%-*s", TEXT_LABEL_WIDTH, label);
	for (size_t i = 0; i < n; i++) {
		int w = (int)strlen(names[i]);

		fprintf(out, " %*ld", w < 6 ? 6 : w, v[i]);
	}
	fputc('\n', out);
}

static void text_header(const struct report *r, FILE *out)
{
	char when[40];

	fprintf(out, "sikkermail compliance report\n");
	fprintf(out, "Period:     %s to %s, %zu day%s (local time, %s)\n", r->since, r->until,
		r->n_days, r->n_days == 1 ? "" : "s", r->tz);
	if (r->files.n == 0) {
		fprintf(out, "Source:     database %s\n", r->database ? r->database : "-");
	} else {
		fprintf(out, "Source:     %s", r->files.n == 1 ? "log file" : "log files");
		for (size_t i = 0; i < r->files.n; i++)
			fprintf(out, "%s%s", i ? ", " : " ", r->files.v[i]);
		fprintf(out, "\n            %ld decision line%s, %ld not readable, %ld outside"
			     " the period\n", r->lines, r->lines == 1 ? "" : "s", r->bad_lines,
			r->outside);
		if (r->incomplete > 0)
			fprintf(out, "            %ld decision%s with lines missing, not counted\n",
				r->incomplete, r->incomplete == 1 ? "" : "s");
	}
	report_time_string(r->generated, false, when, sizeof(when));
	fprintf(out, "Generated:  %s\n", when);
}

static void text_summary(const struct report *r, FILE *out)
{
	const struct report_day *t = &r->total;
	long rcpts = 0;

	for (int c = 0; c < CLASS_COUNT; c++)
		rcpts += t->rcpts[c];
	fprintf(out, "\nSummary\n");
	fprintf(out, "  %-36s %9ld\n", "messages", t->messages);
	fprintf(out, "  %-36s %9ld\n", "recipients", rcpts);
	fprintf(out, "  %-36s %9ld\n", "messages with personal data", t->personal);
	fprintf(out, "  %-36s %9ld\n", "messages with CPR numbers found", t->cpr);
	fprintf(out, "  %-36s %9ld\n", "encrypted to a domain certificate", t->domain_cert);
	for (int a = 0; a < ACTION_COUNT; a++)
		fprintf(out, "  %-36s %9ld\n", done_name((enum action)a), t->applied[a]);
	if (t->monitor == 0)
		return;
	fprintf(out, "  %-36s %9ld\n", "decided in monitor mode", t->monitor);
	for (int a = ACTION_ENCRYPT; a < ACTION_COUNT; a++) {
		char label[40];

		snprintf(label, sizeof(label), "  of which would be %s", done_name((enum action)a));
		fprintf(out, "  %-36s %9ld\n", label, t->would[a]);
	}
}

/* text_days - which: 0 by action, 1 monitor, 2 recipients by class, 3 personal by class. */
static void text_days(const struct report *r, FILE *out, int which)
{
	static const char *const titles[] = {
		"Messages per day, by what was done",
		"Monitor mode: messages per day, by what enforce mode would have done",
		"Recipients per day, by class",
		"Personal mail per day, by route (recipients of personal messages by class)",
	};
	static const char *const action_head[] = {
		"messages", "personal", "cpr", "deliver", "encrypt", "hold", "tempfail", "reject",
	};
	static const char *const monitor_head[] = {
		"monitor", "deliver", "encrypt", "hold", "tempfail", "reject",
	};
	const char *const *names = which == 0 ? action_head : which == 1 ? monitor_head : class_cols;
	size_t n = which == 0 ? 8 : which == 1 ? 6 : CLASS_COUNT;
	long v[CLASS_COUNT + 3];

	fprintf(out, "\n%s\n", titles[which]);
	text_head(out, "date", names, n);
	for (size_t i = 0; i <= r->n_days; i++) {
		const struct report_day *d = i < r->n_days ? &r->days[i] : &r->total;

		if (i < r->n_days && !report_day_shown(r, i))
			continue;
		if (which == 0) {
			v[0] = d->messages, v[1] = d->personal, v[2] = d->cpr;
			memcpy(v + 3, d->applied, sizeof(d->applied));
		} else if (which == 1) {
			v[0] = d->monitor;
			memcpy(v + 1, d->would, sizeof(d->would));
		} else {
			memcpy(v, which == 2 ? d->rcpts : d->personal_rcpts, sizeof(d->rcpts));
		}
		text_row(out, i < r->n_days ? d->date : "total", v, names, n);
	}
}

static void text_routes(const struct report *r, FILE *out)
{
	static const char *const head[] = {
		"recipients", "deliver", "encrypt", "hold", "tempfail", "reject",
	};
	long v[ACTION_COUNT + 1];

	fprintf(out, "\nPersonal mail by route (recipients of personal messages, by class and the"
		     "\naction decided for each; in monitor mode what would have been done)\n");
	text_head(out, "class", head, 6);
	for (int c = 0; c < CLASS_COUNT; c++) {
		v[0] = r->routes[c].rcpts;
		memcpy(v + 1, r->routes[c].action, sizeof(r->routes[c].action));
		text_row(out, rclass_name((enum rclass)c), v, head, 6);
	}
}

/* text_wrap - first (the label and its indent), then text wrapped at spaces within 80 columns. */
static void text_wrap(FILE *out, const char *first, const char *text)
{
	size_t col = strlen(first);
	bool fresh = true;	/* no word on this line yet */

	fputs(first, out);
	for (text += strspn(text, " "); *text != '\0'; text += strspn(text, " ")) {
		size_t word = strcspn(text, " "), width = 0;

		/* columns: UTF-8 continuation bytes take none */
		for (size_t i = 0; i < word; i++)
			width += ((unsigned char)text[i] & 0xc0) != 0x80;
		if (!fresh && col + 1 + width > TEXT_WIDTH) {
			fprintf(out, "\n%s", TEXT_INDENT);
			col = strlen(TEXT_INDENT);
		} else if (!fresh) {
			fputc(' ', out);
			col++;
		}
		fwrite(text, 1, word, out);
		col += width;
		fresh = false;
		text += word;
	}
	fputc('\n', out);
}

static void text_events(const struct report *r, FILE *out)
{
	char when[40], label[48];
	size_t monitor = 0;

	for (size_t i = 0; i < r->n_events; i++)
		monitor += r->events[i].mode == MODE_MONITOR;
	fprintf(out, "\nRejected and held messages: %zu\n", r->n_events);
	if (monitor > 0 && monitor == r->n_events)
		fputs("Monitor mode: what would have been done; the messages were delivered.\n",
		      out);
	else if (monitor > 0)
		fputs("Enforce mode: what was done. Monitor mode (\"would\"): what would have"
		      " been\ndone; those messages were delivered.\n", out);
	for (size_t i = 0; i < r->n_events; i++) {
		const struct report_event *e = &r->events[i];
		char *why;

		report_time_string(e->time, false, when, sizeof(when));
		fprintf(out, "%s  %s  ref %s\n", when, event_label(e, label, sizeof(label)),
			e->queue_id ? e->queue_id : "-");
		fprintf(out, "  rule:       %s\n", e->rule[0] ? e->rule : "-");
		fprintf(out, "  sender:     %s\n", e->sender);
		if (e->whole) {
			why = report_event_reason(e, REPORT_EN);
			text_wrap(out, "  why:        ", why);
			free(why);
			fprintf(out, "  recipients: %zu, none of them the cause:\n", e->n_rcpts);
		}
		for (size_t j = 0; j < e->n_rcpts; j++) {
			fprintf(out, "  recipient:  %s (%s: %s)\n", e->rcpts[j].address,
				rclass_name(e->rcpts[j].cls), action_name(e->rcpts[j].action));
			if (e->whole)
				continue;
			why = report_rcpt_reason(&e->rcpts[j], REPORT_EN);
			text_wrap(out, TEXT_INDENT "why: ", why);
			free(why);
		}
		fprintf(out, "  personal:   %s", e->personal ? personal_source_name(e->psrc) : "no");
		if (e->personal_reason != NULL)
			fprintf(out, " (%s)", e->personal_reason);
		if (e->cpr_hits > 0)
			fprintf(out, "; %d CPR number%s found", e->cpr_hits, e->cpr_hits == 1 ? "" : "s");
		fprintf(out, "\n  message-id: %s\n", e->message_id ? e->message_id : "-");
		fprintf(out, "  outcome:    %s\n", e->outcome);
		if (e->host != NULL)
			fprintf(out, "  gateway:    %s\n", e->host);
	}
}

/* text_cpr - the messages in which CPR numbers were found, personal or not. */
static void text_cpr(const struct report *r, FILE *out)
{
	char when[40], label[48];

	fprintf(out, "\nMessages in which CPR numbers were found: %zu\n", r->n_cpr);
	for (size_t i = 0; i < r->n_cpr; i++) {
		const struct report_event *e = &r->cpr[i];

		report_time_string(e->time, false, when, sizeof(when));
		fprintf(out, "%s  %s  ref %s\n", when, event_label(e, label, sizeof(label)),
			e->queue_id ? e->queue_id : "-");
		fprintf(out, "  CPR numbers: %d; personal: %s\n", e->cpr_hits,
			e->personal ? personal_source_name(e->psrc) : "no");
		fprintf(out, "  sender:     %s\n", e->sender);
		for (size_t j = 0; j < e->n_rcpts; j++)
			fprintf(out, "  recipient:  %s (%s: %s)\n", e->rcpts[j].address,
				rclass_name(e->rcpts[j].cls), action_name(e->rcpts[j].action));
		if (e->host != NULL)
			fprintf(out, "  gateway:    %s\n", e->host);
	}
}

static void text_tables(const struct report *r, FILE *out)
{
	char classes[100];

	fprintf(out, "\nTop senders of rejected or held personal mail\n");
	fprintf(out, "  messages rejected    held  sender\n");
	for (size_t i = 0; i < r->senders.n; i++) {
		const struct report_count *c = &r->senders.v[i];

		fprintf(out, "  %8ld %8ld %7ld  %s\n", c->n, c->rejected, c->held, c->key);
	}
	fprintf(out, "\nTop external domains receiving personal mail (recipients)\n");
	fprintf(out, "  recipients allowed stopped  domain (classes)\n");
	for (size_t i = 0; i < r->domains.n; i++) {
		const struct report_count *c = &r->domains.v[i];

		classes_string(c->classes, classes, sizeof(classes));
		fprintf(out, "  %10ld %7ld %7ld  %s (%s)\n", c->n, c->allowed, c->stopped, c->key,
			classes);
	}
	if (r->hosts.n == 0)
		return;
	fprintf(out, "\nGateways\n");
	fprintf(out, "  messages personal rejected    held tempfailed  host\n");
	for (size_t i = 0; i < r->hosts.n; i++) {
		const struct report_count *c = &r->hosts.v[i];

		fprintf(out, "  %8ld %8ld %8ld %7ld %10ld  %s\n", c->n, c->personal, c->rejected,
			c->held, c->tempfailed, c->key);
	}
}

void report_write_text(const struct report *r, FILE *out)
{
	text_header(r, out);
	text_summary(r, out);
	text_days(r, out, 0);
	if (r->total.monitor > 0)
		text_days(r, out, 1);
	text_days(r, out, 2);
	text_days(r, out, 3);
	text_routes(r, out);
	text_events(r, out);
	text_cpr(r, out);
	text_tables(r, out);
}

/* ------------------------------------------------------------ CSV */

/*
 * csv_str - one text field (report_csv_str). A field with any character
 * that may be the separator is quoted, so that csv_separate can tell the
 * separating commas apart.
 */
static void csv_str(FILE *out, const char *s)
{
	report_csv_str(out, s, ",;|\t");
}

/*
 * report_csv_str - a comma and s as one CSV field (RFC 4180 quoting; a
 * formula's first character defused). NULL is empty.
 */
void report_csv_str(FILE *out, const char *s, const char *quoted)
{
	bool defuse, quote;

	fputc(',', out);
	if (s == NULL)
		return;
	defuse = s[0] != '\0' && strchr("=+-@", s[0]) != NULL;
	quote = strpbrk(s, quoted) != NULL || strchr(s, '"') != NULL || s[0] == ' ' ||
		(s[0] && s[strlen(s) - 1] == ' ');
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

static void csv_summary(const struct report *r, FILE *out)
{
	const struct report_day *t = &r->total;
	char when[40];

	report_time_string(r->generated, true, when, sizeof(when));
	fprintf(out, "section,key,value\n");
	fprintf(out, "summary,since,%s\nsummary,until,%s\nsummary,days,%zu\n", r->since, r->until,
		r->n_days);
	fputs("summary,timezone", out);
	csv_str(out, r->tz);
	fprintf(out, "\nsummary,generated,%s\n", when);
	fputs("summary,database", out);
	csv_str(out, r->files.n == 0 ? r->database : NULL);
	fputc('\n', out);
	for (size_t i = 0; i < r->files.n; i++) {
		fputs("summary,log_file", out);
		csv_str(out, r->files.v[i]);
		fputc('\n', out);
	}
	fprintf(out, "summary,lines,%ld\nsummary,bad_lines,%ld\nsummary,incomplete,%ld\n"
		     "summary,outside,%ld\n", r->lines, r->bad_lines, r->incomplete, r->outside);
	fprintf(out, "summary,messages,%ld\nsummary,personal,%ld\nsummary,cpr,%ld\n", t->messages,
		t->personal, t->cpr);
	fprintf(out, "summary,domain_certificate,%ld\n", t->domain_cert);
	for (int a = 0; a < ACTION_COUNT; a++)
		fprintf(out, "summary,%s,%ld\n", action_cols[a], t->applied[a]);
	fprintf(out, "summary,monitor,%ld\n", t->monitor);
	for (int a = 0; a < ACTION_COUNT; a++)
		fprintf(out, "summary,would_%s,%ld\n", action_cols[a], t->would[a]);
}

static void csv_day(FILE *out, const struct report_day *d)
{
	fprintf(out, ",%ld,%ld,%ld", d->messages, d->personal, d->cpr);
	for (int a = 0; a < ACTION_COUNT; a++)
		fprintf(out, ",%ld", d->applied[a]);
	fprintf(out, ",%ld", d->monitor);
	for (int a = 0; a < ACTION_COUNT; a++)
		fprintf(out, ",%ld", d->would[a]);
	for (int c = 0; c < CLASS_COUNT; c++)
		fprintf(out, ",%ld", d->rcpts[c]);
	for (int c = 0; c < CLASS_COUNT; c++)
		fprintf(out, ",%ld", d->personal_rcpts[c]);
	fputc('\n', out);
}

static void csv_days(const struct report *r, FILE *out)
{
	fputs("\nsection,date,messages,personal,cpr", out);
	for (int a = 0; a < ACTION_COUNT; a++)
		fprintf(out, ",%s", action_cols[a]);
	fputs(",monitor", out);
	for (int a = 0; a < ACTION_COUNT; a++)
		fprintf(out, ",would_%s", action_cols[a]);
	for (int c = 0; c < CLASS_COUNT; c++)
		fprintf(out, ",rcpt_%s", class_cols[c]);
	for (int c = 0; c < CLASS_COUNT; c++)
		fprintf(out, ",personal_%s", class_cols[c]);
	fputc('\n', out);
	for (size_t i = 0; i < r->n_days; i++) {
		if (!report_day_shown(r, i))
			continue;
		fprintf(out, "day,%s", r->days[i].date);
		csv_day(out, &r->days[i]);
	}
	fputs("day,total", out);
	csv_day(out, &r->total);
}

static void csv_routes(const struct report *r, FILE *out)
{
	fputs("\nsection,class,recipients,deliver,encrypt,hold,tempfail,reject\n", out);
	for (int c = 0; c < CLASS_COUNT; c++) {
		fprintf(out, "route,%s,%ld", class_cols[c], r->routes[c].rcpts);
		for (int a = 0; a < ACTION_COUNT; a++)
			fprintf(out, ",%ld", r->routes[c].action[a]);
		fputc('\n', out);
	}
}

/*
 * csv_events - one row per offending recipient (per recipient of a message
 * refused as a whole), the message's fields repeated; reason is the row's
 * why in plain words.
 */
static void csv_events(const struct report *r, FILE *out)
{
	char when[40];

	fputs("\nsection,time,host,queue_id,message_id,sender,mode,action,applied,rule,personal,"
	      "personal_source,personal_reason,cpr,recipient,class,recipient_action,"
	      "recipient_rule,evidence,whole_message,failure,reason,outcome\n", out);
	for (size_t i = 0; i < r->n_events; i++) {
		const struct report_event *e = &r->events[i];

		report_time_string(e->time, true, when, sizeof(when));
		for (size_t j = 0; j < e->n_rcpts || (j == 0 && e->n_rcpts == 0); j++) {
			const struct report_rcpt *rc = j < e->n_rcpts ? &e->rcpts[j] : NULL;
			char *why = rc != NULL && !e->whole ? report_rcpt_reason(rc, REPORT_EN)
							    : report_event_reason(e, REPORT_EN);

			fprintf(out, "stopped,%s", when);
			csv_str(out, e->host);
			csv_str(out, e->queue_id);
			csv_str(out, e->message_id);
			csv_str(out, e->sender);
			fprintf(out, ",%s,%s,%s", mode_name(e->mode), action_name(e->action),
				action_name(e->applied));
			csv_str(out, e->rule);
			fprintf(out, ",%s,%s", e->personal ? "yes" : "no", personal_source_name(e->psrc));
			csv_str(out, e->personal_reason);
			fprintf(out, ",%d", e->cpr_hits);
			csv_str(out, rc ? rc->address : NULL);
			fprintf(out, ",%s,%s", rc ? rclass_name(rc->cls) : "",
				rc ? action_name(rc->action) : "");
			csv_str(out, rc ? rc->rule : NULL);
			csv_str(out, rc ? rc->evidence : NULL);
			fprintf(out, ",%s", e->whole ? "yes" : "no");
			csv_str(out, e->why);
			csv_str(out, why);
			csv_str(out, e->outcome);
			fputc('\n', out);
			free(why);
		}
	}
}

/* csv_cpr - the messages with CPR numbers found: one row per recipient. */
static void csv_cpr(const struct report *r, FILE *out)
{
	char when[40];

	fputs("\nsection,time,host,queue_id,message_id,sender,mode,action,applied,personal,cpr,"
	      "recipient,class,recipient_action\n", out);
	for (size_t i = 0; i < r->n_cpr; i++) {
		const struct report_event *e = &r->cpr[i];

		report_time_string(e->time, true, when, sizeof(when));
		for (size_t j = 0; j < e->n_rcpts || (j == 0 && e->n_rcpts == 0); j++) {
			const struct report_rcpt *rc = j < e->n_rcpts ? &e->rcpts[j] : NULL;

			fprintf(out, "cpr_found,%s", when);
			csv_str(out, e->host);
			csv_str(out, e->queue_id);
			csv_str(out, e->message_id);
			csv_str(out, e->sender);
			fprintf(out, ",%s,%s,%s,%s,%d", mode_name(e->mode), action_name(e->action),
				action_name(e->applied), e->personal ? "yes" : "no", e->cpr_hits);
			csv_str(out, rc ? rc->address : NULL);
			fprintf(out, ",%s,%s\n", rc ? rclass_name(rc->cls) : "",
				rc ? action_name(rc->action) : "");
		}
	}
}

static void csv_tables(const struct report *r, FILE *out)
{
	char classes[100];

	fputs("\nsection,sender,messages,rejected,held\n", out);
	for (size_t i = 0; i < r->senders.n; i++) {
		fputs("top_sender", out);
		csv_str(out, r->senders.v[i].key);
		fprintf(out, ",%ld,%ld,%ld\n", r->senders.v[i].n, r->senders.v[i].rejected,
			r->senders.v[i].held);
	}
	fputs("\nsection,domain,recipients,allowed,stopped,classes\n", out);
	for (size_t i = 0; i < r->domains.n; i++) {
		classes_string(r->domains.v[i].classes, classes, sizeof(classes));
		fputs("top_domain", out);
		csv_str(out, r->domains.v[i].key);
		fprintf(out, ",%ld,%ld,%ld,%s\n", r->domains.v[i].n, r->domains.v[i].allowed,
			r->domains.v[i].stopped, classes);
	}
	fputs("\nsection,host,messages,personal,rejected,held,tempfailed\n", out);
	for (size_t i = 0; i < r->hosts.n; i++) {
		const struct report_count *c = &r->hosts.v[i];

		fputs("gateway", out);
		csv_str(out, c->key);
		fprintf(out, ",%ld,%ld,%ld,%ld,%ld\n", c->n, c->personal, c->rejected, c->held,
			c->tempfailed);
	}
}

/* csv_separate - copy csv to out, the commas outside quoted fields becoming sep. */
static void csv_separate(const char *csv, size_t len, char sep, FILE *out)
{
	bool quoted = false;

	for (size_t i = 0; i < len; i++) {
		if (csv[i] == '"')
			quoted = !quoted;	/* a doubled quote toggles twice */
		fputc(csv[i] == ',' && !quoted ? sep : csv[i], out);
	}
}

void report_write_csv(const struct report *r, FILE *out)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *mem;

	if (r->bom)
		fputs("\xef\xbb\xbf", out);
	if (r->csv_sep == ',' || r->csv_sep == '\0')
		mem = out;
	else if ((mem = open_memstream(&buf, &len)) == NULL)
		msg_fatal("out of memory writing the CSV report");
	csv_summary(r, mem);
	csv_days(r, mem);
	csv_routes(r, mem);
	csv_events(r, mem);
	csv_cpr(r, mem);
	csv_tables(r, mem);
	if (mem == out)
		return;
	fclose(mem);
	csv_separate(buf, len, r->csv_sep, out);
	free(buf);
}

/* ------------------------------------------------------------ JSON */

/*
 * report_json_str - a JSON string; NULL is null. The text is already valid
 * UTF-8 without controls.
 */
void report_json_str(FILE *out, const char *s)
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
			fprintf(out, "\\u%04x", (unsigned char)*s);	/* never, but stay valid */
		else
			fputc(*s, out);
	}
	fputc('"', out);
}

static void json_counts(FILE *out, const char *key, const long *v, size_t n, bool classes)
{
	fprintf(out, ",\"%s\":{", key);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s\"%s\":%ld", i ? "," : "", classes ? class_cols[i] : action_cols[i],
			v[i]);
	fputc('}', out);
}

static void json_report(const struct report *r, FILE *out)
{
	char when[40];

	report_time_string(r->generated, true, when, sizeof(when));
	fprintf(out, "{\n  \"report\": {\"since\":\"%s\",\"until\":\"%s\",\"days\":%zu,"
		     "\"timezone\":", r->since, r->until, r->n_days);
	report_json_str(out, r->tz);
	fprintf(out, ",\"generated\":\"%s\",\"source\":\"%s\",\"database\":", when,
		r->files.n ? "log" : "database");
	report_json_str(out, r->files.n ? NULL : r->database);
	fputs(",\"log_files\":[", out);
	for (size_t i = 0; i < r->files.n; i++) {
		if (i)
			fputc(',', out);
		report_json_str(out, r->files.v[i]);
	}
	fprintf(out, "],\"lines\":%ld,\"bad_lines\":%ld,\"incomplete\":%ld,\"outside\":%ld},\n",
		r->lines, r->bad_lines, r->incomplete, r->outside);
	fputs("  \"totals\": ", out);
	json_day(out, &r->total);
	fputs(",\n  \"days\": [", out);
	for (size_t i = 0, n = 0; i < r->n_days; i++) {
		if (!report_day_shown(r, i))
			continue;
		fputs(n++ ? ",\n    " : "\n    ", out);
		json_day(out, &r->days[i]);
	}
	fputs("\n  ],\n  \"personal_routes\": [", out);
	for (int c = 0; c < CLASS_COUNT; c++) {
		fprintf(out, "%s{\"class\":\"%s\",\"recipients\":%ld", c ? ",\n    " : "\n    ",
			class_cols[c], r->routes[c].rcpts);
		json_counts(out, "actions", r->routes[c].action, ACTION_COUNT, false);
		fputc('}', out);
	}
	fputs("\n  ],\n", out);
}

static void json_day(FILE *out, const struct report_day *d)
{
	fputs("{\"date\":", out);
	report_json_str(out, d->date[0] ? d->date : NULL);
	fprintf(out, ",\"messages\":%ld,\"personal\":%ld,\"cpr\":%ld", d->messages, d->personal,
		d->cpr);
	json_counts(out, "applied", d->applied, ACTION_COUNT, false);
	fprintf(out, ",\"monitor\":%ld", d->monitor);
	json_counts(out, "would", d->would, ACTION_COUNT, false);
	json_counts(out, "recipients", d->rcpts, CLASS_COUNT, true);
	json_counts(out, "personal_recipients", d->personal_rcpts, CLASS_COUNT, true);
	fprintf(out, ",\"domain_certificate\":%ld", d->domain_cert);
	fputc('}', out);
}

static void json_event(FILE *out, const struct report_event *e)
{
	char when[40], *why;

	report_time_string(e->time, true, when, sizeof(when));
	fprintf(out, "{\"time\":\"%s\",\"unix_time\":%lld,\"host\":", when, e->time);
	report_json_str(out, e->host);
	fputs(",\"queue_id\":", out);
	report_json_str(out, e->queue_id);
	fputs(",\"message_id\":", out);
	report_json_str(out, e->message_id);
	fputs(",\"sender\":", out);
	report_json_str(out, e->sender);
	fprintf(out, ",\"mode\":\"%s\",\"action\":\"%s\",\"applied\":\"%s\",\"rule\":",
		mode_name(e->mode), action_name(e->action), action_name(e->applied));
	report_json_str(out, e->rule);
	fprintf(out, ",\"personal\":%s,\"personal_source\":\"%s\",\"personal_reason\":",
		e->personal ? "true" : "false", personal_source_name(e->psrc));
	report_json_str(out, e->personal_reason);
	fprintf(out, ",\"cpr\":%d,\"whole_message\":%s,\"failure\":", e->cpr_hits,
		e->whole ? "true" : "false");
	report_json_str(out, e->why);
	fputs(",\"reason\":", out);
	why = report_event_reason(e, REPORT_EN);
	report_json_str(out, why);
	free(why);
	fputs(",\"recipients\":[", out);
	for (size_t j = 0; j < e->n_rcpts; j++) {
		const struct report_rcpt *rc = &e->rcpts[j];

		fputs(j ? ",{\"address\":" : "{\"address\":", out);
		report_json_str(out, rc->address);
		fprintf(out, ",\"class\":\"%s\",\"action\":\"%s\",\"rule\":", rclass_name(rc->cls),
			action_name(rc->action));
		report_json_str(out, rc->rule);
		fputs(",\"evidence\":", out);
		report_json_str(out, rc->evidence);
		fputs(",\"reason\":", out);
		why = e->whole ? NULL : report_rcpt_reason(rc, REPORT_EN);
		report_json_str(out, why);
		free(why);
		fputc('}', out);
	}
	fputs("],\"outcome\":", out);
	report_json_str(out, e->outcome);
	fputc('}', out);
}

static void json_cpr(FILE *out, const struct report_event *e)
{
	char when[40];

	report_time_string(e->time, true, when, sizeof(when));
	fprintf(out, "{\"time\":\"%s\",\"unix_time\":%lld,\"host\":", when, e->time);
	report_json_str(out, e->host);
	fputs(",\"queue_id\":", out);
	report_json_str(out, e->queue_id);
	fputs(",\"message_id\":", out);
	report_json_str(out, e->message_id);
	fputs(",\"sender\":", out);
	report_json_str(out, e->sender);
	fprintf(out, ",\"mode\":\"%s\",\"action\":\"%s\",\"applied\":\"%s\",\"personal\":%s,"
		     "\"cpr\":%d,\"recipients\":[", mode_name(e->mode), action_name(e->action),
		action_name(e->applied), e->personal ? "true" : "false", e->cpr_hits);
	for (size_t j = 0; j < e->n_rcpts; j++) {
		fputs(j ? ",{\"address\":" : "{\"address\":", out);
		report_json_str(out, e->rcpts[j].address);
		fprintf(out, ",\"class\":\"%s\",\"action\":\"%s\"}", rclass_name(e->rcpts[j].cls),
			action_name(e->rcpts[j].action));
	}
	fputs("]}", out);
}

static void json_tables(const struct report *r, FILE *out)
{
	fputs("  \"top_senders\": [", out);
	for (size_t i = 0; i < r->senders.n; i++) {
		fputs(i ? ",\n    {\"sender\":" : "\n    {\"sender\":", out);
		report_json_str(out, r->senders.v[i].key);
		fprintf(out, ",\"messages\":%ld,\"rejected\":%ld,\"held\":%ld}", r->senders.v[i].n,
			r->senders.v[i].rejected, r->senders.v[i].held);
	}
	fputs("\n  ],\n  \"top_domains\": [", out);
	for (size_t i = 0; i < r->domains.n; i++) {
		const struct report_count *c = &r->domains.v[i];
		bool first = true;

		fputs(i ? ",\n    {\"domain\":" : "\n    {\"domain\":", out);
		report_json_str(out, c->key);
		fprintf(out, ",\"recipients\":%ld,\"allowed\":%ld,\"stopped\":%ld,\"classes\":[",
			c->n, c->allowed, c->stopped);
		for (int k = 0; k < CLASS_COUNT; k++) {
			if (!(c->classes & (1u << k)))
				continue;
			fprintf(out, "%s\"%s\"", first ? "" : ",", class_cols[k]);
			first = false;
		}
		fputs("]}", out);
	}
	fputs("\n  ],\n  \"gateways\": [", out);
	for (size_t i = 0; i < r->hosts.n; i++) {
		const struct report_count *c = &r->hosts.v[i];

		fputs(i ? ",\n    {\"host\":" : "\n    {\"host\":", out);
		report_json_str(out, c->key);
		fprintf(out, ",\"messages\":%ld,\"personal\":%ld,\"rejected\":%ld,\"held\":%ld,"
			     "\"tempfailed\":%ld}", c->n, c->personal, c->rejected, c->held,
			c->tempfailed);
	}
	fputs("\n  ]\n}\n", out);
}

/*
 * report_write_json - one object: "report" (period and source), "totals"
 * and "days" (counts: applied, would, recipients and personal_recipients
 * by name, domain_certificate; days without messages only with all_days), "personal_routes",
 * "stopped" (the rejected and held messages with their offending
 * recipients, or all of them when whole_message, and the reason in plain
 * words), "cpr_found" (the messages with CPR numbers found, with all their
 * recipients), "top_senders", "top_domains" and "gateways".
 */
void report_write_json(const struct report *r, FILE *out)
{
	json_report(r, out);
	fputs("  \"stopped\": [", out);
	for (size_t i = 0; i < r->n_events; i++) {
		fputs(i ? ",\n    " : "\n    ", out);
		json_event(out, &r->events[i]);
	}
	fputs("\n  ],\n  \"cpr_found\": [", out);
	for (size_t i = 0; i < r->n_cpr; i++) {
		fputs(i ? ",\n    " : "\n    ", out);
		json_cpr(out, &r->cpr[i]);
	}
	fputs("\n  ],\n", out);
	json_tables(r, out);
}

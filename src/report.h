/*
 * report.h - the compliance report of sikkermail-ctl: recorded decisions
 * gathered into tables, and the writers that print them.
 *
 * A report covers whole local days. It counts, per day, messages by what
 * was done and (Mode monitor) by what enforce mode would have done,
 * recipients by class, and recipients of personal messages by class; it
 * lists the messages that were, or in monitor mode would have been,
 * rejected or held, with their offending recipients and why (all the
 * message's recipients when none of them was the cause, as when the
 * function mailbox the sender named is not configured), and the messages
 * in which CPR numbers were found; and it keeps the senders of stopped
 * personal mail, the external domains that personal mail went to, and
 * (from syslog files) the gateways that decided.
 *
 * Use: report_init, report_add for every decision (from the store or
 * from audit lines), report_finish, one report_write_* and report_free.
 *
 * Every string a report holds went through report_clean when it was
 * added: control characters and bytes that are not UTF-8 are written
 * \xHH, and anything shaped like a CPR number is masked, so the writers
 * may print any field as it is (escaping only for their format).
 *
 * Exports (report.c): report_init, report_add, report_finish,
 * report_free, report_clean, report_parse_date, report_date_arg, report_day_start,
 * report_time_string, report_rule_words, report_reason, report_event_reason,
 * report_rcpt_reason, report_day_shown;
 * report_write_text, report_write_csv, report_write_json, report_csv_str,
 * report_json_str (report_write.c); report_write_html, report_html_str
 * (report_html.c); report_read_logs (report_log.c).
 */
#ifndef SIKKERMAIL_REPORT_H
#define SIKKERMAIL_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "decision.h"
#include "sikkermail.h"
#include "util.h"

#define REPORT_TOP_DEFAULT 10	/* rows of the top lists */
#define REPORT_MAX_DAYS 3660	/* a longer period is a typing error */

/* The language of the HTML report. */
enum report_lang { REPORT_EN, REPORT_DA };

/* Counts of one day (and of the whole period: report.total). */
struct report_day {
	char date[11];				/* YYYY-MM-DD, local time */
	long long start;			/* its first second (unix time) */
	long messages;
	long personal;				/* messages with personal data */
	long cpr;				/* messages in which CPR numbers were found */
	long domain_cert;			/* recipients encrypted to a domain certificate */
	long applied[ACTION_COUNT];		/* messages by what was done */
	long monitor;				/* messages decided in Mode monitor */
	long would[ACTION_COUNT];		/* of those, by what enforce would have done */
	long rcpts[CLASS_COUNT];		/* recipients by class */
	long personal_rcpts[CLASS_COUNT];	/* recipients of personal messages by class */
};

/* Recipients of personal messages of one class, by the action decided for each. */
struct report_route {
	long rcpts;
	long action[ACTION_COUNT];
};

struct report_rcpt {
	char *address;
	enum rclass cls;
	enum action action;
	char *rule;
	char *evidence;		/* may be NULL */
};

/* What became of a held message afterwards (sikkermail-ctl release, delete). */
enum report_held { REPORT_HELD_WAITING, REPORT_HELD_RELEASED, REPORT_HELD_DELETED };

/*
 * A message that was rejected or held, or would have been (monitor); or,
 * in the CPR listing, a message in which CPR numbers were found.
 */
struct report_event {
	long long time;
	size_t seq;		/* order of arrival, to keep the sort stable */
	char *host;		/* gateway (syslog input), or NULL */
	char *queue_id;		/* the reference; NULL if none */
	char *message_id;
	char *sender;		/* "<>" for the null sender */
	char *personal_reason;
	char *rule;
	char *why;		/* what failed for the whole message (as recorded), or NULL */
	enum mode mode;
	enum action action;	/* what the policy decided */
	enum action applied;	/* what was done (deliver in monitor mode) */
	bool personal;
	enum personal_source psrc;
	int cpr_hits;
	struct report_rcpt *rcpts;	/* the offending recipients (hold or worse), or all */
	size_t n_rcpts;
	bool whole;		/* no recipient was the cause: rcpts are all the message's */
	char *outcome;		/* what became of it: "rejected", "held", "released by ..." */
	enum report_held held_state;	/* a held message released or deleted since */
	char *held_by;		/* who did it (cleaned), or NULL */
	long long held_at;	/* and when */
};

/*
 * A row of a keyed table. Senders: rejected, held. Domains: n (personal
 * recipients), allowed (deliver/encrypt), stopped (the rest), classes (bit
 * 1 << class). Gateways: n (messages), personal, rejected, held, tempfailed.
 */
struct report_count {
	char *key;
	long n;
	long personal;
	long allowed;
	long stopped;
	long rejected;
	long held;
	long tempfailed;
	unsigned classes;
};

struct report_table {
	struct report_count *v;
	size_t n;
	size_t cap;
	size_t *slots;		/* hash index while adding: entry + 1, 0 = empty */
	size_t n_slots;
};

struct report {
	/* the period: whole local days since..until, both inclusive */
	char since[11];
	char until[11];
	long long t_since;	/* first second */
	long long t_until;	/* first second after the period */
	long long generated;	/* when the report was made */
	char tz[16];		/* local time zone abbreviation */

	/* where the decisions came from (set by the caller, printed by the writers) */
	char *database;		/* the store (cleaned, owned), or NULL */
	struct strlist files;	/* syslog files, when read from logs */
	long lines;		/* decision lines read from the files */
	long bad_lines;		/* of those, lines that did not parse */
	long incomplete;	/* decisions with lines missing: not counted */
	long outside;		/* decisions outside the period (skipped) */

	struct report_day *days;
	size_t n_days;
	struct report_day total;
	struct report_route routes[CLASS_COUNT];

	struct report_event *events;
	size_t n_events;
	size_t cap_events;

	struct report_event *cpr;	/* messages with CPR numbers found, all recipients */
	size_t n_cpr;
	size_t cap_cpr;

	size_t top;			/* rows kept in the top lists; 0 = all */
	struct report_table senders;	/* of rejected or held personal mail */
	struct report_table domains;	/* external domains receiving personal mail */
	struct report_table hosts;	/* gateways */

	/* how to write it (set by the caller after report_init) */
	enum report_lang lang;		/* HTML: the page's language */
	bool all_days;			/* per-day tables: days without messages too */
	char csv_sep;			/* CSV field separator; ',' by default */
	bool bom;			/* CSV: start with a UTF-8 byte-order mark */
};

/*
 * report_init - a report on the local days since..until (both inclusive,
 * each as report_date_arg takes it). NULL until means the day of now; NULL
 * since means 29 days before until (30 days in all). top: rows of the top
 * lists (0 = all). Returns 0, or -1 with *err set (a static English
 * message naming the option).
 */
int report_init(struct report *r, const char *since, const char *until, size_t top,
		long long now, const char **err);
void report_free(struct report *r);

/* report_add - count one decision; host is the gateway that logged it, or NULL. */
void report_add(struct report *r, const struct decision *d, const char *host);

/*
 * report_set_outcome - what became of the held message queue_id decided
 * at time (sikkermail-ctl release or delete, from the store): "released"
 * or "deleted", by whom, at when.
 */
void report_set_outcome(struct report *r, const char *queue_id, long long time,
			const char *state, const char *by, long long when);

/* report_finish - sort the listing, rank and cut the top lists. Call once, before writing. */
void report_finish(struct report *r);

/*
 * report_clean - a copy of s fit for any report output: valid UTF-8
 * without control characters (others written \xHH) and every
 * CPR-shaped number (DDMMYYSSSS or DDMMYY-SSSS with a possible date,
 * not part of a longer digit run) masked as DDMMYY-****. NULL gives NULL.
 */
char *report_clean(const char *s);

/* report_parse_date - "YYYY-MM-DD" (a real date, 1970..9999) into its parts; 0 or -1. */
int report_parse_date(const char *s, int *year, int *month, int *day);

/*
 * report_date_arg - a day as --since and --until take it: "YYYY-MM-DD",
 * "today", "yesterday" or "Nd" (N days before the local day of now,
 * N up to 99999); 0 or -1.
 */
int report_date_arg(const char *s, long long now, int *year, int *month, int *day);

/*
 * report_day_start - the first second of the local day s names, as
 * report_date_arg takes it (for the other commands' date options); 0 or -1.
 */
int report_day_start(const char *s, long long now, long long *t);

/* report_day_shown - does the i-th day get a row in the per-day tables? */
bool report_day_shown(const struct report *r, size_t i);

/*
 * report_rule_words - what a rule means, in plain words (lang); a rule it
 * does not know gives NULL.
 */
const char *report_rule_words(const char *rule, enum report_lang lang);

/*
 * report_reason - why, in plain words: the rule's meaning with the detail
 * (a recipient's evidence, a message's recorded failure) in brackets; the
 * rule's name where it has no words. Allocated.
 */
char *report_reason(const char *rule, const char *detail, enum report_lang lang);

/* report_event_reason - why a listed message was stopped (report_reason of its rule and why). */
char *report_event_reason(const struct report_event *e, enum report_lang lang);

/* report_rcpt_reason - why a recipient was stopped (report_reason of its rule and evidence). */
char *report_rcpt_reason(const struct report_rcpt *rc, enum report_lang lang);

/* report_time_string - t as local "YYYY-MM-DD HH:MM:SS" (iso: "YYYY-MM-DDTHH:MM:SS+hh:mm"). */
void report_time_string(long long t, bool iso, char *buf, size_t size);

/*
 * report_read_logs - add the decisions the filter logged in files (- is
 * standard input; plain or gzip-compressed), naming them in r->files and
 * counting r->lines and r->bad_lines. 0, or -1 (reported) if a file
 * cannot be read.
 */
int report_read_logs(struct report *r, const struct strlist *files);

/* The writers; they only read the report. */
void report_write_text(const struct report *r, FILE *out);
void report_write_csv(const struct report *r, FILE *out);
void report_write_json(const struct report *r, FILE *out);
void report_write_html(const struct report *r, FILE *out);

/*
 * The writers' field escapers, for any output of report_clean'ed text
 * (sikkermail-ctl replay's too): one function per format, so that every
 * output escapes alike.
 *
 * report_csv_str - a comma, then s as one CSV field: quoted (RFC 4180)
 * when it holds a double quote or any character of quoted (the
 * separators it may meet), or starts or ends with a space; a formula's
 * first character (= + - @) defused with a leading '. NULL is empty.
 */
void report_csv_str(FILE *out, const char *s, const char *quoted);

/* report_json_str - s as a JSON string; NULL is null. */
void report_json_str(FILE *out, const char *s);

/*
 * REPORT_HTML_STYLE_BASE - the start of the style sheet that the report's
 * page and the replay's page share: fonts, headings and tables.
 */
#define REPORT_HTML_STYLE_BASE \
	"body{font:14px/1.4 sans-serif;color:#222;margin:24px auto;max-width:1000px;" \
	"padding:0 12px}" \
	"h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;" \
	"border-bottom:1px solid #ccc}" \
	".meta{color:#555;margin:0}" \
	"table{border-collapse:collapse;margin:6px 0}" \
	"th,td{border:1px solid #ddd;padding:3px 8px;text-align:right;vertical-align:top}" \
	"th{background:#f3f3f3}td.l,th.l{text-align:left}"

/*
 * report_html_str - s escaped for HTML text or an attribute value; NULL
 * is "-". A line break and the spaces after it become one space.
 */
void report_html_str(FILE *out, const char *s);

#endif

/*
 * audit.h - one decision, the lines that log it, and back.
 *
 * audit_lines writes what the filter logs for a decision (documented in
 * sikkermail-milter(8)): one summary line and one line per recipient,
 * key=value (LogFormat kv) or one JSON object each (LogFormat json):
 *
 *   decision time=1764400000 instance=mx1 id=6929a7c0-1f3a-1
 *     queue_id=4F2A1C3B2D message_id=<a1@kp.dk> sender=a@kp.dk client=10.0.0.5
 *     trusted=yes mode=enforce personal=yes personal_source=header
 *     personal_reason="header yes" cpr=0 action=reject applied=reject
 *     rule=PersonalToFreemail rcpts=2
 *   decision-rcpt time=1764400000 instance=mx1 id=6929a7c0-1f3a-1
 *     queue_id=4F2A1C3B2D n=1 of=2 rcpt=x@gmail.com class=freemail action=reject
 *     rule=PersonalToFreemail evidence="freemail list: gmail.com (built-in)"
 *   decision-rcpt ... n=2 of=2 rcpt=u@kp.dk class=internal ...
 *
 * The lines of one decision share instance and id; the summary says how
 * many recipient lines belong to it (rcpts), each recipient line which
 * one it is (n of of), so a reader tells a whole decision from a partial
 * one. Every line is at most AUDIT_LINE_MAX bytes whatever the number of
 * recipients: a value longer than its share is cut and ends in
 * AUDIT_CUT_MARK.
 *
 * audit_format writes the single line of earlier versions (every
 * recipient as rcptN=, classN=, actionN=, ruleN=, evidenceN= in the one
 * line, unbounded); audit_parse and audit_parse_record read it back.
 *
 * Values (kv): written bare when they consist of printable ASCII other
 * than '"', '\' and '='; otherwise double-quoted, with \" and \\
 * escapes, and \xHH for control characters, DEL and bytes that are not
 * well-formed UTF-8. A NULL string is a bare "-" (so "" and "-" are
 * written quoted). JSON: strings with the escapes of RFC 8259, control
 * characters and DEL as \u00XX, well-formed UTF-8 kept, any other byte
 * as the text \xHH; NULL is null.
 */
#ifndef SIKKERMAIL_AUDIT_H
#define SIKKERMAIL_AUDIT_H

#include "decision.h"
#include "util.h"

enum audit_format { AUDIT_KV, AUDIT_JSON };

#define AUDIT_LINE_MAX 940		/* bytes of one logged line, before syslog's prefix */
#define AUDIT_INSTANCE_MAX 40		/* InstanceName */
#define AUDIT_CUT_MARK "...[cut]"	/* ends a value that was cut to fit the line */

/*
 * audit_lines - the lines (without newline) that log decision d, whose
 * d->instance names the filter; id joins them (audit_new_id).
 */
void audit_lines(const struct decision *d, enum audit_format fmt, const char *id,
		 struct strlist *out);

/* audit_new_id - a decision id no other decision of this instance has (allocated). */
char *audit_new_id(long long time);

/* audit_default_instance - the host name, the InstanceName when none is configured. */
const char *audit_default_instance(void);

/* audit_format - the single line of earlier versions (tests and tools). */
void audit_format(const struct decision *d, struct strbuf *out);

/*
 * audit_parse - parse a single line written by audit_format (any prefix
 * before "decision " is skipped) into d (decision_free it). 0 or -1.
 */
int audit_parse(const char *line, struct decision *d);

enum audit_kind {
	AUDIT_WHOLE,		/* a single line of earlier versions: the whole decision */
	AUDIT_SUMMARY,		/* a summary line: the message, no recipients */
	AUDIT_RCPT,		/* a recipient line */
};

struct audit_record {
	enum audit_kind kind;
	char *id;		/* SUMMARY, RCPT: the decision id; NULL for WHOLE */
	size_t n;		/* RCPT: which recipient, 1..of */
	size_t of;		/* SUMMARY, RCPT: the decision's recipient lines */
	struct decision d;	/* WHOLE: all; SUMMARY: no recipients; RCPT: time, instance,
				   queue_id and the recipient as rcpts[0] */
};

/*
 * audit_parse_record - one logged record, starting at its first byte
 * ("decision ", "decision-rcpt " or "{"), in either format or the old
 * single line; a record cut short or malformed is refused. 0 (free r
 * with audit_record_free) or -1 (nothing to free).
 */
int audit_parse_record(const char *rec, struct audit_record *r);
void audit_record_free(struct audit_record *r);

#endif

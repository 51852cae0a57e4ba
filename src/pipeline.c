/*
 * pipeline.c - decide, carry out through struct mta_ops, record. See
 * pipeline.h for the order of the steps and what a failure at each does.
 *
 * Exports pipeline_end_of_message, pipeline_decide and mta_result_name.
 * No libmilter here: the MTA is reached only through the ops table.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "classify.h"
#include "directory.h"
#include "encrypt.h"
#include "held_notice.h"
#include "log.h"
#include "mime.h"
#include "pipeline.h"
#include "policy.h"
#include "reply.h"
#include "smime.h"
#include "store.h"

/* One carrying-out of one verdict. */
struct run {
	struct facts *f;
	struct decision *d;
	const struct config *cfg;
	const struct mta_ops *ops;
	void *mta;
	enum mta_result result;
	bool copied;		/* the encrypted copy is with the MTA: cannot be taken back */
};

static const char *qid_of(const struct decision *d);
static void personal_flag_of(struct facts *f);
static enum flag_said flag_said_of(const struct personal_flag *fl);
static char *mailbox_of(const char *choice);
static void scan_cpr(struct facts *f);
static void progress(const struct mta_ops *ops, void *mta, time_t *last);
static bool body_is_encrypted(struct facts *f);
static int payload_sink(void *ctx, const void *p, size_t n);
static void note_failure(struct decision *d, enum effect_failure fl, const char *why, bool log);
static void fail(struct run *x, enum effect_failure fl, const char *why);
static bool wants_copy(const struct decision *d);
static void step_encrypt(struct run *x);
static void remove_encrypted(struct run *x);
static void step_hold(struct run *x);
static void step_reply(struct run *x);
static int remove_headers(struct run *x, const char *name, int count);
static int rewrite_subjects(struct run *x);
static char *tag_value(const struct decision *d);
static void step_headers(struct run *x);
static void step_record(struct run *x);
static void step_hold_notice(struct run *x);

const char *mta_result_name(enum mta_result r)
{
	static const char *const names[] = { "accept", "discard", "reject", "tempfail" };

	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}

static const char *qid_of(const struct decision *d)
{
	return d->queue_id != NULL ? d->queue_id : "-";
}

/* ------------------------------------------------------------- deciding */

/*
 * personal_flag_of - the flag headers of a trusted submitter, then its
 * subject tags, then the CPR scan: in enforce mode a CPR number, or a
 * message that could not be scanned, makes the message personal (fail
 * safe); in monitor mode the finding is only logged and tagged. Only a
 * trusted submitter's flag and tags count (SPEC section 2). A tag makes
 * the message personal whatever the header says (an explicit "no" with
 * a tag is personal: fail safe); the source stays "header" when the
 * header had already made it personal, and is "subject" otherwise.
 */
static void personal_flag_of(struct facts *f)
{
	struct decision *d = &f->d;

	if (d->trusted && f->n_flag_headers > 0) {
		d->personal = personal_flag_result(&f->flag, f->rt->cfg->personal_header,
						   &d->personal_why);
		d->psrc = d->personal ? PSRC_HEADER : PSRC_NONE;
	} else {
		d->personal = false;
		d->psrc = PSRC_NONE;
		d->personal_why = xstrdup(f->n_flag_headers > 0 ? "header from untrusted client ignored"
								: "no header");
	}
	if (d->trusted && f->n_subject_tags > 0) {
		char *why = xasprintf("%s; subject tag", d->personal_why);

		free(d->personal_why);
		d->personal_why = why;
		if (!d->personal) {
			d->personal = true;
			d->psrc = PSRC_SUBJECT;
		}
	}
	d->flag = flag_said_of(&f->flag);
	d->cpr_scan = CPR_SCAN_SKIPPED;
	if (d->trusted && f->rt->cfg->detect_cpr != CPR_OFF && f->body != NULL)
		scan_cpr(f);
}

/* flag_said_of - the flag headers' verdict as recorded for a replay (personal.h's rules). */
static enum flag_said flag_said_of(const struct personal_flag *fl)
{
	int kinds = (fl->n_yes > 0) + (fl->n_no > 0) + (fl->n_other > 0);

	if (kinds == 0)
		return FLAG_SAID_NONE;
	if (kinds == 1 && fl->n_yes > 0)
		return FLAG_SAID_YES;
	if (kinds == 1 && fl->n_no > 0)
		return FLAG_SAID_NO;
	return FLAG_SAID_UNCLEAR;
}

/*
 * mailbox_of - the function mailbox a trusted submitter named, for the
 * record: normalised, or, when it is not an address, the value made safe
 * to store and show.
 */
static char *mailbox_of(const char *choice)
{
	char *mb = encrypt_mailbox_named(choice);

	return mb != NULL ? mb : reply_sanitise(choice);
}

/* scan_cpr - decoded text and Subject; the finding (masked) joins personal_why. */
static void scan_cpr(struct facts *f)
{
	struct decision *d = &f->d;
	struct cpr_result r;
	char *err = NULL, summary[256], *found = NULL, *why;
	FILE *in = f->body_error == NULL ? msgbuf_read(f->body, &err) : NULL;
	bool enforce = f->rt->cfg->detect_cpr == CPR_ENFORCE;

	if (in == NULL || mime_scan_cpr(in, &r, &err) != 0) {
		d->cpr_scan = CPR_SCAN_FAILED;
		found = xasprintf("not scanned for CPR numbers: %s",
				  f->body_error ? f->body_error : err ? err : "?");
		msg_warn("%s: message %s", qid_of(d), found);
	} else {
		d->cpr_scan = CPR_SCAN_DONE;
		if (r.hits > 0) {
			d->cpr_hits = (int)r.hits;
			cpr_result_format(&r, summary, sizeof(summary));
			found = xasprintf("CPR %s: %s", enforce ? "found" : "found (monitor)",
					  summary);
		}
	}
	free(err);
	if (found == NULL)
		return;
	if (enforce && !d->personal) {
		d->personal = true;
		d->psrc = PSRC_CPR;
	}
	why = xasprintf("%s; %s", d->personal_why, found);
	free(d->personal_why);
	d->personal_why = why;
	free(found);
}

static int payload_sink(void *ctx, const void *p, size_t n)
{
	char *err = NULL;
	int rc = msgbuf_write(ctx, p, n, &err);

	free(err);
	return rc;
}

/*
 * body_is_encrypted - labelled S/MIME or PGP encrypted, and the body shows
 * it: a clear text under such a label is clear text (it would otherwise go
 * to certificate recipients unencrypted). A body that was not kept cannot
 * show it.
 */
static bool body_is_encrypted(struct facts *f)
{
	struct msgbuf *payload;
	const char *kind = NULL, *why = NULL;
	char *err = NULL;
	FILE *in, *p;
	bool yes = false;

	if (f->content_type == NULL || !smime_is_encrypted(f->content_type))
		return false;
	if (f->n_content_types > 1) {
		/* a reader may take another of them: the label proves nothing */
		msg_info("%s: labelled encrypted, but with %d Content-Type fields: taken as clear",
			 qid_of(&f->d), f->n_content_types);
		return false;
	}
	if (f->body == NULL || f->body_error != NULL) {
		msg_info("%s: labelled encrypted; the body was not kept to show it: taken as clear",
			 qid_of(&f->d));
		return false;
	}
	payload = msgbuf_new(MSGBUF_MEMORY_LIMIT, NULL);
	if ((in = msgbuf_read(f->body, &err)) == NULL ||
	    mime_encrypted_payload(in, payload_sink, payload, &kind, &err) != 0 ||
	    (p = msgbuf_read(payload, &err)) == NULL)
		why = err ? err : "?";
	else
		yes = smime_payload_encrypted(p, kind, &why);
	if (!yes)
		msg_info("%s: labelled encrypted but taken as clear: %s", qid_of(&f->d), why);
	free(err);
	msgbuf_free(payload);
	return yes;
}

/* progress - at most once a second, so a long recipient list keeps the MTA waiting. */
static void progress(const struct mta_ops *ops, void *mta, time_t *last)
{
	time_t now = time(NULL);

	if (ops != NULL && ops->progress != NULL && now != *last) {
		*last = now;
		ops->progress(mta);
	}
}

void pipeline_decide(struct facts *f, const struct mta_ops *ops, void *mta)
{
	struct decision *d = &f->d;
	const struct config *cfg = f->rt->cfg;
	struct store *store;
	struct list_snapshot *lists = NULL;
	char today[11];
	time_t last = time(NULL), start = last;

	d->time = (long long)last;
	/* the directory gives up when the budget does (DecisionTimeout) */
	directory_budget_set(cfg->decision_timeout * 1000LL);
	personal_flag_of(f);
	if (d->trusted && f->mailbox_choice != NULL)
		d->mailbox = mailbox_of(f->mailbox_choice);
	today_string(today);
	store = facts_store(f);
	d->store_failed = store == NULL;
	/* the lists in memory, asked once whether they changed; else each lookup asks the database */
	if (store != NULL && d->n_rcpts > 0)
		lists = list_cache_get(f->rt->lists, store);
	d->already_encrypted = body_is_encrypted(f);
	for (size_t i = 0; i < d->n_rcpts; i++) {
		struct classification cl;
		struct rcpt *r = &d->rcpts[i];

		progress(ops, mta, &last);
		if (time(NULL) - start >= cfg->decision_timeout) {
			/* left unclassified: the whole message is tempfailed */
			f->over_budget = true;
			r->cls = CLASS_UNKNOWN;
			r->evidence = xstrdup("not classified: the time budget was spent");
			continue;
		}
		classify_address(cfg, f->rt->certs, store, lists, &r->addr, d->personal, today, &cl);
		r->cls = cl.cls;
		r->evidence = cl.evidence;
		r->cert_der = cl.cert_der;
		r->cert_der_len = cl.cert_der_len;
		cl.evidence = NULL;
		cl.cert_der = NULL;
		classification_free(&cl);
	}
	list_snapshot_unref(lists);
	directory_budget_clear();
	policy_decide(cfg, d);
}

/* ----------------------------------------------------------- carrying out */

/* note_failure - what failed, for the audit line (several may add up), and the log. */
static void note_failure(struct decision *d, enum effect_failure fl, const char *why, bool log)
{
	char *s = xasprintf("%s%s%s: %s", d->failure ? d->failure : "", d->failure ? "; " : "",
			    policy_failure_name(fl), why);

	free(d->failure);
	d->failure = s;
	if (log)
		msg_error("%s: %s failed: %s", qid_of(d), policy_failure_name(fl), why);
}

/*
 * fail - an effect failed: the message becomes what policy_failure says,
 * with its reply, and nothing more is carried out.
 */
static void fail(struct run *x, enum effect_failure fl, const char *why)
{
	struct reply r;
	const char *dflt = x->cfg->default_secure_mailbox;
	char *mailbox = x->f->mailbox_choice ? encrypt_mailbox_named(x->f->mailbox_choice)
					     : dflt ? xstrdup(dflt) : NULL;

	note_failure(x->d, fl, why, true);
	policy_failure(fl, x->d);
	reply_failure(x->cfg, x->d, fl, mailbox, &r);
	free(mailbox);
	if (x->ops->reply(x->mta, &r) != 0)
		msg_warn("%s: could not set the reply text", qid_of(x->d));
	reply_free(&r);
	x->result = x->d->applied == ACTION_REJECT ? MTA_REJECT : MTA_TEMPFAIL;
}

/* wants_copy - an enforced encrypt or hold verdict with recipients due an encrypted copy. */
static bool wants_copy(const struct decision *d)
{
	if (d->mode != MODE_ENFORCE || (d->applied != ACTION_ENCRYPT && d->applied != ACTION_HOLD))
		return false;
	for (size_t i = 0; i < d->n_rcpts; i++)
		if (d->rcpts[i].action == ACTION_ENCRYPT)
			return true;
	return false;
}

/*
 * step_encrypt - the encrypted copy handed to the MTA before anything else
 * happens to the original; then its recipients taken off the original.
 */
static void step_encrypt(struct run *x)
{
	struct facts *f = x->f;
	struct encrypt_job job = { 0 };
	char *reason = NULL, *copy_id = NULL, *err = NULL;
	enum encrypt_status st;
	time_t last = 0;

	if (!wants_copy(x->d))
		return;
	if (f->body == NULL || !mailboxes_available(f->rt->mailboxes)) {
		fail(x, FAIL_ENCRYPT_UNAVAILABLE,
		     mailboxes_available(f->rt->mailboxes)
			     ? "the message was not kept for encryption"
			     : "no function mailbox is configured to encrypt from");
		return;
	}
	if (f->body_error != NULL) {
		reason = xasprintf("the message could not be kept for encryption: %s", f->body_error);
		fail(x, FAIL_ENCRYPT_UNAVAILABLE, reason);
		free(reason);
		return;
	}
	job.cfg = x->cfg;
	job.mailboxes = f->rt->mailboxes;
	job.store = facts_store(f);
	job.d = x->d;
	job.mailbox_choice = f->mailbox_choice;
	job.subject = f->subject;
	if ((job.original = msgbuf_read(f->body, &err)) == NULL) {
		reason = xasprintf("the message could not be read back for encryption: %s",
				   err ? err : "?");
		fail(x, FAIL_ENCRYPT_UNAVAILABLE, reason);
		goto out;
	}
	progress(x->ops, x->mta, &last);
	st = encrypt_and_queue(&job, &reason, &copy_id);
	progress(x->ops, x->mta, &last);
	if (st != ENCRYPT_QUEUED) {
		fail(x, st == ENCRYPT_REJECT	   ? FAIL_MAILBOX_UNKNOWN
			: st == ENCRYPT_FORBIDDEN ? FAIL_MAILBOX_FORBIDDEN
						  : FAIL_ENCRYPT,
		     reason ? reason : "encryption failed");
		goto out;
	}
	x->copied = true;
	x->d->copy_id = copy_id;
	copy_id = NULL;
	msg_info("%s: encrypted copy %s queued", qid_of(x->d), x->d->copy_id);
	remove_encrypted(x);
out:
	free(reason);
	free(copy_id);
	free(err);
}

/*
 * remove_encrypted - the encrypted recipients have their copy: take them
 * off the original. When nobody is left, the original is discarded. If
 * the MTA will not take one off, the original must not go on: tempfail.
 */
static void remove_encrypted(struct run *x)
{
	const struct decision *d = x->d;
	size_t left = 0;
	char *why;

	for (size_t i = 0; i < d->n_rcpts; i++) {
		if (d->rcpts[i].action != ACTION_ENCRYPT) {
			left++;
			continue;
		}
		if (x->ops->delrcpt(x->mta, d->rcpts[i].raw) != 0) {
			why = xasprintf("the MTA did not take %s off the original after its "
					"encrypted copy %s was queued",
					d->rcpts[i].addr.full, d->copy_id);
			fail(x, FAIL_DELRCPT, why);
			free(why);
			return;
		}
	}
	if (left == 0)
		x->result = MTA_DISCARD;
}

static void step_hold(struct run *x)
{
	char *reason;

	if (x->result != MTA_ACCEPT || x->d->applied != ACTION_HOLD)
		return;
	reason = reply_hold_reason(x->cfg, x->d);
	if (x->ops->quarantine(x->mta, reason) != 0)
		fail(x, FAIL_QUARANTINE, "the MTA refused to hold the message");
	free(reason);
}

/* step_reply - the policy's own reject or tempfail. */
static void step_reply(struct run *x)
{
	struct reply r;

	if (x->result != MTA_ACCEPT ||
	    (x->d->applied != ACTION_REJECT && x->d->applied != ACTION_TEMPFAIL))
		return;
	reply_build(x->cfg, x->d, &r);
	if (x->ops->reply(x->mta, &r) != 0)
		msg_warn("%s: could not set the reply text", qid_of(x->d));
	reply_free(&r);
	x->result = x->d->applied == ACTION_REJECT ? MTA_REJECT : MTA_TEMPFAIL;
}

/*
 * remove_headers - delete every copy of a header, whatever its case.
 * Deleting from the last index down keeps the indices of the rest stable.
 */
static int remove_headers(struct run *x, const char *name, int count)
{
	for (int i = count; i >= 1; i--)
		if (x->ops->chgheader(x->mta, name, i, NULL) != 0)
			return -1;
	return 0;
}

/*
 * rewrite_subjects - every Subject that carried a subject tag is changed
 * to its value without the tags, or deleted when nothing is left; from
 * the last down, so that a deletion leaves the indices of the rest as
 * they were.
 */
static int rewrite_subjects(struct run *x)
{
	const struct facts *f = x->f;

	for (int i = f->n_subjects; i >= 1; i--) {
		const char *v = f->subject_values[i - 1];

		if (v != NULL && x->ops->chgheader(x->mta, "Subject", i, v[0] ? v : NULL) != 0)
			return -1;
	}
	return 0;
}

/* tag_value - X-Sikkermail: what was decided, never the subject or a CPR number. */
static char *tag_value(const struct decision *d)
{
	struct strbuf sb;

	sb_init(&sb);
	if (d->personal)
		sb_printf(&sb, "personal=yes (%s)", personal_source_name(d->psrc));
	else
		sb_adds(&sb, "personal=no");
	if (d->cpr_hits > 0)
		sb_printf(&sb, "; cpr=%d", d->cpr_hits);
	sb_printf(&sb, "; action=%s", action_name(d->applied));
	if (d->mode == MODE_MONITOR && d->action != d->applied)
		sb_printf(&sb, "; monitor=%s", action_name(d->action));
	sb_printf(&sb, "; ref=%s", d->queue_id ? d->queue_id : "unknown");
	return sb.s;
}

/*
 * step_headers - on what goes on: the function-mailbox choice is an
 * instruction to the filter, never sent on, and so are subject tags (in
 * monitor mode too: they are meant for the filter, not the recipient);
 * an untrusted client's flag headers go; nobody's X-Sikkermail or marker
 * survives; the tag is added.
 */
static void step_headers(struct run *x)
{
	const struct facts *f = x->f;
	char *tag = NULL;
	int rc = 0;

	if (x->result != MTA_ACCEPT)
		return;
	rc |= remove_headers(x, x->cfg->mailbox_header, f->n_mailbox_headers);
	rc |= rewrite_subjects(x);
	if (!x->d->trusted)
		rc |= remove_headers(x, x->cfg->personal_header, f->n_flag_headers);
	rc |= remove_headers(x, FACTS_TAG_HEADER, f->n_tag_headers);
	rc |= remove_headers(x, ENCRYPT_MARKER_HEADER, f->n_marker_headers);
	if (rc == 0 && x->cfg->tag_header) {
		tag = tag_value(x->d);
		rc = x->ops->insheader(x->mta, 0, FACTS_TAG_HEADER, tag);
		free(tag);
	}
	if (rc == 0)
		return;
	if (x->copied)	/* the copy is out: a retry would only send it again */
		note_failure(x->d, FAIL_HEADER, "the MTA refused a header change; message passed on",
			     true);
	else
		fail(x, FAIL_HEADER, "the MTA refused a header change");
}

/*
 * step_record - the record, from what was done, then the audit lines. A
 * personal message that would now be delivered, with nothing copied yet,
 * is tempfailed when its decision cannot be recorded (SPEC section 8);
 * anything else goes on, and the audit line says it was not recorded.
 */
static void step_record(struct run *x)
{
	struct decision *d = x->d;
	struct store *s = facts_store(x->f);
	struct strlist lines;
	char *why, *id;

	free(d->instance);
	d->instance = xstrdup(x->cfg->instance_name != NULL ? x->cfg->instance_name
							     : audit_default_instance());
	if (s == NULL || store_record_decision(s, d) != 0) {
		why = xasprintf("decision not recorded in the database: %s",
				s ? store_errmsg(s) : "unavailable");
		x->f->store_broken = s != NULL;
		d->unrecorded = true;
		if (x->result == MTA_ACCEPT && !x->copied && d->personal &&
		    d->mode == MODE_ENFORCE && d->applied != ACTION_HOLD)
			fail(x, FAIL_RECORD, why);
		else	/* an outage (s == NULL) was logged when it began */
			note_failure(d, FAIL_RECORD, why, s != NULL);
		free(why);
	}
	strlist_init(&lines);
	id = audit_new_id(d->time);
	audit_lines(d, (enum audit_format)x->cfg->log_format, id, &lines);
	for (size_t i = 0; i < lines.n; i++)
		msg_audit(lines.v[i]);
	strlist_free(&lines);
	free(id);
}

/*
 * step_hold_notice - HoldNotice: the sender learns the message awaits
 * review, once it is held and recorded; a failure is only logged.
 */
static void step_hold_notice(struct run *x)
{
	if (x->result != MTA_ACCEPT || x->d->applied != ACTION_HOLD || !x->cfg->hold_notice)
		return;
	held_notice_send(x->cfg, x->f->rt->mailboxes, facts_store(x->f), x->d,
			 x->cfg->decision_timeout - (long)(time(NULL) - (time_t)x->d->time));
}

enum mta_result pipeline_end_of_message(struct facts *f, const struct mta_ops *ops, void *mta)
{
	struct run x = { f, &f->d, f->rt->cfg, ops, mta, MTA_ACCEPT, false };

	if (f->reinjected) {
		/* our own encrypted copy or notice, already decided: passed on unchanged */
		msg_info("%s: re-injected copy %s passed", qid_of(&f->d),
			 f->d.message_id ? f->d.message_id : "-");
		if (remove_headers(&x, ENCRYPT_MARKER_HEADER, f->n_marker_headers) != 0)
			msg_warn("%s: could not remove the %s header", qid_of(&f->d),
				 ENCRYPT_MARKER_HEADER);
		return MTA_ACCEPT;
	}
	pipeline_decide(f, ops, mta);
	/* only an encrypted copy needs the whole header */
	if (f->headers_too_big && wants_copy(&f->d))
		fail(&x, FAIL_HEADER_LIMIT, "the header is larger than the filter keeps");
	/* enforced verdicts only: monitor mode, or a message that is not personal, goes on */
	else if (f->d.mode == MODE_ENFORCE && f->d.personal &&
		 (f->over_budget || time(NULL) - (time_t)f->d.time >= x.cfg->decision_timeout))
		/* the MTA may give up soon: nothing is handed over after that */
		fail(&x, FAIL_TIME_BUDGET, "DecisionTimeout was spent before the verdict was "
					   "carried out");
	step_encrypt(&x);
	step_hold(&x);
	step_reply(&x);
	step_headers(&x);
	step_record(&x);
	step_hold_notice(&x);
	return x.result;
}

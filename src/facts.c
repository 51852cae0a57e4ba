/*
 * facts.c - gather the facts of one message as the MTA hands them over.
 * See facts.h.
 */
#include <stdlib.h>
#include <string.h>

#include "encrypt.h"
#include "facts.h"
#include "log.h"
#include "mime_subject.h"
#include "reply.h"
#include "smime.h"

static bool is_bare_postmaster(const char *raw);
static const char *subject_header(struct facts *f, const char *value);
static void add_subject(struct facts *f, char *now);
static void keep_header(struct facts *f, const char *name, const char *value);
static bool marker_accepted(struct facts *f);
static bool body_needed(const struct facts *f);

struct facts *facts_new(struct runtime *rt, const char *client_addr, const struct sockaddr *sa,
			const char *auth_authen, const char *sender_raw)
{
	struct facts *f = xcalloc(1, sizeof(*f));
	struct address a;

	f->rt = runtime_ref(rt);
	decision_init(&f->d);
	sb_init(&f->headers);
	personal_flag_init(&f->flag);
	f->d.mode = rt->cfg->mode;
	f->d.generation = rt->generation;
	f->d.client_addr = xstrdup(client_addr ? client_addr : "unknown");
	f->d.trusted = (auth_authen != NULL && auth_authen[0] != '\0') ||
		       (sa != NULL && config_is_internal_network(rt->cfg, sa));
	sender_raw = sender_raw ? sender_raw : "";
	if (address_normalise(sender_raw, strlen(sender_raw), &a, NULL) == ADDR_OK) {
		f->d.sender = xstrdup(a.full);
		address_free(&a);
	} else {
		/* <> or something the MTA accepted that we cannot parse: keep it as given */
		f->d.sender = reply_sanitise(sender_raw);
	}
	return f;
}

/* is_bare_postmaster - "<postmaster>", any case, ESMTP parameters ignored. */
static bool is_bare_postmaster(const char *raw)
{
	return ascii_strncasecmp(raw, "<postmaster>", 12) == 0 && (raw[12] == '\0' || raw[12] == ' ');
}

enum addr_status facts_add_rcpt(struct facts *f, const char *raw, const char **why)
{
	struct address a;
	enum addr_status st;

	*why = "invalid address";
	st = address_normalise(raw, strlen(raw), &a, why);
	if (st == ADDR_INVALID && is_bare_postmaster(raw)) {
		/* RFC 5321 4.5.1: must be accepted; classify.c knows it is local */
		a.local = xstrdup("postmaster");
		a.domain = xstrdup("");
		a.full = xstrdup("postmaster");
		st = ADDR_OK;
	}
	if (st != ADDR_OK) {
		char *shown = reply_sanitise(raw);

		msg_info("refused recipient %s: %s", shown, *why);
		free(shown);
		return st;
	}
	decision_add_rcpt(&f->d, raw, &a);
	return ADDR_OK;
}

void facts_header(struct facts *f, const char *name, const char *value)
{
	const struct config *cfg = f->rt->cfg;

	if (strlen(value) > FACTS_HEADER_FIELD_LIMIT || strlen(name) > FACTS_HEADER_FIELD_LIMIT) {
		/* kept nowhere; a control header is still counted, to be removed */
		f->headers_too_big = true;
		f->n_flag_headers += header_name_eq(name, cfg->personal_header);
		f->n_mailbox_headers += header_name_eq(name, cfg->mailbox_header);
		f->n_tag_headers += header_name_eq(name, FACTS_TAG_HEADER);
		f->n_marker_headers += header_name_eq(name, ENCRYPT_MARKER_HEADER);
		if (header_name_eq(name, "Subject"))
			(void)subject_header(f, value);	/* a tag still counts; indexes hold */
		return;
	}

	if (header_name_eq(name, cfg->personal_header)) {
		f->n_flag_headers++;
		personal_flag_add(&f->flag, value);
	} else if (header_name_eq(name, cfg->mailbox_header)) {
		if (f->n_mailbox_headers++ == 0)
			f->mailbox_choice = xstrdup(value);
	} else if (header_name_eq(name, FACTS_TAG_HEADER)) {
		f->n_tag_headers++;
	} else if (header_name_eq(name, ENCRYPT_MARKER_HEADER)) {
		if (f->n_marker_headers++ == 0)
			f->marker = xstrdup(value);
	} else if (header_name_eq(name, "Message-ID") && f->d.message_id == NULL) {
		f->d.message_id = reply_sanitise(value);
	} else if (header_name_eq(name, "Subject")) {
		if ((value = subject_header(f, value)) == NULL)
			return;		/* only a tag: the field goes */
	} else if (header_name_eq(name, "Content-Type")) {
		if (f->n_content_types++ == 0)
			f->content_type = xstrdup(value);
	}
	keep_header(f, name, value);
}

/*
 * subject_header - one Subject field: a trusted submitter's is searched
 * for PersonalSubjectTag tags, and what it is to become is kept for the
 * end of the message. Returns the value to keep in the header block, or
 * NULL when nothing is left of it. Anybody else's tag means nothing.
 */
static const char *subject_header(struct facts *f, const char *value)
{
	const struct config *cfg = f->rt->cfg;
	char *text = NULL, *now = NULL;
	int found = 0;

	if (f->d.trusted && cfg->n_subject_tags > 0)
		found = mime_subject_strip(value, cfg->subject_tags, cfg->n_subject_tags, &text,
					   &now);
	add_subject(f, now);
	if (found > 0) {
		f->n_subject_tags += found;
		/* NULL: the field is read two ways (mime_subject.h) and stays as it is */
		if (now != NULL)
			value = now;
	}
	/* the notice names it as a reader sees it once the tags are out (if anything is left) */
	if (f->n_subjects == 1 && (found > 0 ? text : value)[0] != '\0')
		f->subject = xstrdup(found > 0 ? text : value);
	free(text);
	return found > 0 && now != NULL && value[0] == '\0' ? NULL : value;
}

/* add_subject - one more Subject field, with its new value (NULL: as it is). */
static void add_subject(struct facts *f, char *now)
{
	f->subject_values = xrealloc(f->subject_values,
				     (size_t)(f->n_subjects + 1) * sizeof(*f->subject_values));
	f->subject_values[f->n_subjects++] = now;
}

/*
 * keep_header - the header block for an encrypted copy: everything the
 * sender wrote except the filter's own control headers.
 */
static void keep_header(struct facts *f, const char *name, const char *value)
{
	const struct config *cfg = f->rt->cfg;

	size_t len;

	if (!f->d.trusted || f->headers_too_big)
		return;		/* an untrusted message is never scanned nor encrypted */
	if (header_name_eq(name, cfg->mailbox_header) || header_name_eq(name, FACTS_TAG_HEADER) ||
	    header_name_eq(name, ENCRYPT_MARKER_HEADER))
		return;
	len = strlen(name) + strlen(value) + 3;
	if (f->headers.len + len > FACTS_HEADER_BLOCK_LIMIT) {
		f->headers_too_big = true;
		sb_free(&f->headers);
		sb_init(&f->headers);
		return;
	}
	sb_printf(&f->headers, "%s: %s\n", name, value);
}

/*
 * body_needed - a trusted submitter's message is kept when it is to be
 * scanned for CPR numbers or may have to be encrypted (a flag header that
 * is not a clear "no", or a subject tag). Nobody else's is ever read.
 */
static bool body_needed(const struct facts *f)
{
	if (f->reinjected || !f->d.trusted)
		return false;
	/* a label that says encrypted is only believed once the body shows it */
	return f->rt->cfg->detect_cpr != CPR_OFF ||
	       (f->content_type != NULL && smime_is_encrypted(f->content_type)) ||
	       (mailboxes_available(f->rt->mailboxes) &&
		(f->flag.n_yes > 0 || f->flag.n_other > 0 || f->n_subject_tags > 0));
}

void facts_end_of_headers(struct facts *f)
{
	char *err = NULL;

	if (f->n_marker_headers == 1 && f->marker != NULL)
		f->reinjected = marker_accepted(f);
	if (!body_needed(f))
		return;
	f->body = msgbuf_new(MSGBUF_MEMORY_LIMIT, NULL);
	if (msgbuf_write(f->body, f->headers.s, f->headers.len, &err) != 0 ||
	    msgbuf_write(f->body, "\n", 1, &err) != 0)
		f->body_error = err;
}

/* marker_accepted - is this our own re-injected copy, its marker unused till now? */
static bool marker_accepted(struct facts *f)
{
	const char **rcpts = xcalloc(f->d.n_rcpts + 1, sizeof(*rcpts));
	bool ok;

	for (size_t i = 0; i < f->d.n_rcpts; i++)
		rcpts[i] = f->d.rcpts[i].addr.full;
	ok = encrypt_marker_accept(f->rt->mailboxes, facts_store(f), f->d.message_id, f->d.sender,
				   rcpts, f->d.n_rcpts, f->marker);
	free(rcpts);
	if (!ok)
		msg_warn("%s header not accepted (forged, used before, or for another message)",
			 ENCRYPT_MARKER_HEADER);
	return ok;
}

void facts_body(struct facts *f, const void *chunk, size_t len)
{
	if (f->body != NULL && f->body_error == NULL)
		msgbuf_write(f->body, chunk, len, &f->body_error);
}

bool facts_wants_body(const struct facts *f)
{
	return f->body != NULL;
}

void facts_set_queue_id(struct facts *f, const char *qid)
{
	if (qid != NULL && qid[0] != '\0' && f->d.queue_id == NULL)
		f->d.queue_id = reply_sanitise(qid);
}

struct store *facts_store(struct facts *f)
{
	if (!f->store_taken) {
		f->store_taken = true;
		f->store = runtime_store_get(f->rt);
	}
	return f->store;
}

void facts_free(struct facts *f)
{
	if (f == NULL)
		return;
	runtime_store_put(f->rt, f->store, f->store_broken);
	decision_free(&f->d);
	sb_free(&f->headers);
	msgbuf_free(f->body);
	free(f->body_error);
	free(f->subject);
	for (int i = 0; i < f->n_subjects; i++)
		free(f->subject_values[i]);
	free(f->subject_values);
	free(f->content_type);
	free(f->mailbox_choice);
	free(f->marker);
	runtime_unref(f->rt);
	free(f);
}

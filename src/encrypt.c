/*
 * encrypt.c - carry out the "encrypt" verdict: pick the function mailbox,
 * build the signed and encrypted copy (smime.c), hand it to the MTA
 * (reinject.c), and tell the mailbox. No milter code here: milter.c
 * removes the recipients from the original once this reports QUEUED.
 *
 * The mailbox keys belong to a runtime (runtime.h): loaded when it is
 * built, only read afterwards, freed with it; each message builds its copy
 * in its own temporary file.
 *
 * Exports mailboxes_load, mailboxes_set_secret, mailboxes_free,
 * mailboxes_available, encrypt_marker_accept, encrypt_and_queue,
 * encrypt_notice_entry, encrypt_tell_mailbox and encrypt_tell (encrypt.h). The notices
 * that wait for a digest are kept and sent by notice.c, which builds its
 * digests with encrypt_tell_mailbox, so that they carry the same marker.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "encrypt.h"
#include "log.h"
#include "msgbuf.h"
#include "notice.h"
#include "reinject.h"
#include "reply.h"
#include "smime.h"
#include "util.h"

struct loaded_mailbox {
	const struct secure_mailbox *mb;	/* in the configuration, which outlives us */
	struct smime_key *key;
};

/* The function mailboxes of one configuration and this host's marker secret. */
struct mailboxes {
	struct config *cfg;		/* referenced: the addresses and file names live there */
	struct loaded_mailbox *v;
	size_t n;
	unsigned char *secret;
	size_t secret_len;
};

static const struct loaded_mailbox *choose_mailbox(const struct mailboxes *mbs, const char *choice,
						   char **reason);
static FILE *build_copy(const struct encrypt_job *job, const struct loaded_mailbox *lm,
			const char *message_id, const char *marker, char **reason);
static void tell_mailbox(const struct encrypt_job *job, const struct loaded_mailbox *lm);
static bool cert_listed(const struct smime_der *certs, size_t n, const unsigned char *der,
			size_t len);
static int send_notice(const struct encrypt_job *job, const char *mailbox, const char *entry,
		       char **reason);
static char *marker_binding(const char *message_id, const char *sender, const char *const *rcpts,
			    size_t n);
static char *issue_marker(const struct config *cfg, const struct mailboxes *mbs,
			  struct store *store, const char *message_id, const char *sender,
			  const char *const *rcpts, size_t n, char **digest);
static void forget_marker(struct store *store, char *digest);
static int cmp_str(const void *a, const void *b);

struct mailboxes *mailboxes_load(struct config *cfg, struct strlist *errors)
{
	struct mailboxes *mbs = xcalloc(1, sizeof(*mbs));
	size_t failed = 0;

	mbs->cfg = config_ref(cfg);
	mbs->v = xcalloc(cfg->n_mailboxes ? cfg->n_mailboxes : 1, sizeof(*mbs->v));
	for (size_t i = 0; i < cfg->n_mailboxes; i++) {
		const struct secure_mailbox *mb = &cfg->mailboxes[i];
		char *why = NULL, *where;

		mbs->v[mbs->n].mb = mb;
		if ((mbs->v[mbs->n].key = smime_key_load(mb->keyfile, mb->certfile, &why)) == NULL) {
			where = config_where_mailbox(cfg, mb);
			strlist_addf(errors, "%s%s", where, why ? why : "cannot be loaded");
			free(where);
			free(why);
			failed++;
			continue;
		}
		mbs->n++;
	}
	if (failed > 0) {
		mailboxes_free(mbs);
		return NULL;
	}
	return mbs;
}

void mailboxes_set_secret(struct mailboxes *mbs, const unsigned char *secret, size_t len)
{
	if (mbs->secret != NULL)
		memset(mbs->secret, 0, mbs->secret_len);
	free(mbs->secret);
	mbs->secret = xmalloc(len);
	memcpy(mbs->secret, secret, len);
	mbs->secret_len = len;
}

void mailboxes_free(struct mailboxes *mbs)
{
	if (mbs == NULL)
		return;
	for (size_t i = 0; i < mbs->n; i++)
		smime_key_free(mbs->v[i].key);
	free(mbs->v);
	if (mbs->secret != NULL)
		memset(mbs->secret, 0, mbs->secret_len);
	free(mbs->secret);
	config_unref(mbs->cfg);
	free(mbs);
}

bool mailboxes_available(const struct mailboxes *mbs)
{
	return mbs != NULL && mbs->n > 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * marker_binding - what a marker is made over: the Message-ID, the
 * envelope sender and the sorted recipients, one a line.
 */
static char *marker_binding(const char *message_id, const char *sender, const char *const *rcpts,
			    size_t n)
{
	const char **sorted = xcalloc(n + 1, sizeof(*sorted));
	struct strbuf sb;

	memcpy(sorted, rcpts, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_str);
	sb_init(&sb);
	sb_printf(&sb, "%s\n%s", message_id ? message_id : "", sender ? sender : "");
	for (size_t i = 0; i < n; i++)
		sb_printf(&sb, "\n%s", sorted[i]);
	free(sorted);
	return sb.s;
}

bool encrypt_marker_accept(const struct mailboxes *mbs, struct store *store,
			   const char *message_id, const char *sender, const char *const *rcpts,
			   size_t n, const char *value)
{
	char *bind, *mark = NULL, *digest;
	bool mailbox = false, ok;
	const char *p = value;

	if (mbs == NULL || mbs->secret == NULL || store == NULL || value == NULL || n == 0)
		return false;
	for (size_t i = 0; sender != NULL && i < mbs->n; i++)
		mailbox |= ascii_strcasecmp(mbs->v[i].mb->address, sender) == 0;
	/* the filter's own notices to senders (HoldNotice) come from the null sender */
	mailbox |= sender != NULL && strcmp(sender, "<>") == 0;
	if (!mailbox)
		return false;
	bind = marker_binding(message_id, sender, rcpts, n);
	ok = smime_marker_valid(mbs->secret, mbs->secret_len, bind, value, time(NULL),
				ENCRYPT_MARKER_MAX_AGE);
	free(bind);
	if (!ok)
		return false;
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	mark = xstrndup(p, strcspn(p, " \t\r\n"));
	digest = smime_marker_digest(mark);
	ok = digest != NULL && store_marker_consume(store, digest, (long long)time(NULL)) == 1;
	free(mark);
	free(digest);
	return ok;
}

/*
 * issue_marker - the marker header line for a copy, recorded in the store
 * (its digest) so that it admits that copy once; NULL when no marker is to
 * be added (Reinject smtp, no store, or it could not be recorded: the copy
 * is then filtered again, as an ordinary message). *digest gets what was
 * recorded, for forget_marker when the copy does not reach the MTA.
 */
static char *issue_marker(const struct config *cfg, const struct mailboxes *mbs,
			  struct store *store, const char *message_id, const char *sender,
			  const char *const *rcpts, size_t n, char **digest)
{
	char *bind, *m, *line = NULL;
	long long now = (long long)time(NULL);

	*digest = NULL;
	if (store == NULL || mbs == NULL || mbs->secret == NULL ||
	    strcmp(cfg->reinject, "sendmail") != 0)
		return NULL;
	bind = marker_binding(message_id, sender, rcpts, n);
	m = smime_marker(mbs->secret, mbs->secret_len, bind, (time_t)now);
	*digest = m != NULL ? smime_marker_digest(m) : NULL;
	if (*digest != NULL &&
	    store_marker_issue(store, *digest, now + ENCRYPT_MARKER_MAX_AGE, now) == 0) {
		line = xasprintf("%s: %s", ENCRYPT_MARKER_HEADER, m);
	} else {
		msg_warn("re-injection marker not recorded (%s): the copy will be filtered again",
			 store_errmsg(store));
		free(*digest);
		*digest = NULL;
	}
	free(m);
	free(bind);
	return line;
}

/*
 * forget_marker - the copy a marker was issued for never reached the MTA:
 * the marker must not stay valid for anything else.
 */
static void forget_marker(struct store *store, char *digest)
{
	/* expired or not: consuming "as of time 0" removes it */
	if (digest != NULL && store_marker_consume(store, digest, 0) < 0)
		msg_warn("unused re-injection marker not removed (%s); it expires within a day",
			 store_errmsg(store));
	free(digest);
}

/* encrypt_mailbox_named - see encrypt.h. */
char *encrypt_mailbox_named(const char *choice)
{
	const char *lt = strchr(choice, '<'), *p = lt ? lt : choice;
	size_t len = lt && strchr(lt, '>') ? (size_t)(strchr(lt, '>') - lt + 1) : strlen(p);
	struct address a;
	char *res;

	while (len > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		len--;
	}
	while (len > 0 && strchr(" \t\r\n", p[len - 1]) != NULL)
		len--;
	if (address_normalise(p, len, &a, NULL) != ADDR_OK)
		return NULL;
	res = a.full;
	a.full = NULL;
	address_free(&a);
	return res;
}

/*
 * choose_mailbox - the mailbox the sender named in MailboxHeader, else
 * DefaultSecureMailbox. A named mailbox that is not configured is refused:
 * the sender meant a particular one, and another would get the replies.
 */
static const struct loaded_mailbox *choose_mailbox(const struct mailboxes *mbs, const char *choice,
						   char **reason)
{
	char *named = choice ? encrypt_mailbox_named(choice) : NULL;
	const char *want = choice ? named : mbs->cfg->default_secure_mailbox;
	const struct loaded_mailbox *found = NULL;

	if (choice != NULL && named == NULL) {
		*reason = xstrdup("the function mailbox named in the message is not a valid address");
		return NULL;
	}
	for (size_t i = 0; want != NULL && i < mbs->n; i++)
		if (ascii_strcasecmp(mbs->v[i].mb->address, want) == 0)
			found = &mbs->v[i];
	if (found == NULL)
		*reason = choice ? xasprintf("function mailbox <%s> is not configured for encrypted mail",
					     named)
				 : xstrdup("no function mailbox is configured for encrypted mail"
					   " (DefaultSecureMailbox)");
	free(named);
	return found;
}

enum encrypt_status encrypt_and_queue(const struct encrypt_job *job, char **reason,
				      char **copy_id)
{
	const struct decision *d = job->d;
	const struct loaded_mailbox *lm;
	const char **rcpts = xcalloc(d->n_rcpts + 1, sizeof(*rcpts));
	size_t n = 0;
	char *id = NULL, *err = NULL, *marker = NULL, *digest = NULL;
	FILE *copy = NULL;
	enum encrypt_status st = ENCRYPT_TEMPFAIL;

	*reason = *copy_id = NULL;
	if (!mailboxes_available(job->mailboxes)) {
		*reason = xstrdup("no function mailbox is configured for encrypted mail");
		goto out;
	}
	if ((lm = choose_mailbox(job->mailboxes, job->mailbox_choice, reason)) == NULL) {
		st = ENCRYPT_REJECT;
		goto out;
	}
	if (!config_mailbox_allows(job->cfg, lm->mb->address, d->sender)) {
		*reason = xasprintf("%s may not send from function mailbox <%s> "
				    "(SecureMailboxUsers)",
				    d->sender && d->sender[0] ? d->sender : "<>", lm->mb->address);
		st = ENCRYPT_FORBIDDEN;
		goto out;
	}
	for (size_t i = 0; i < d->n_rcpts; i++)
		if (d->rcpts[i].action == ACTION_ENCRYPT)
			rcpts[n++] = d->rcpts[i].addr.full;
	id = smime_new_message_id(lm->mb->address);
	marker = issue_marker(job->cfg, job->mailboxes, job->store, id, lm->mb->address, rcpts, n,
			      &digest);
	if ((copy = build_copy(job, lm, id, marker, reason)) == NULL) {
		forget_marker(job->store, digest);
		goto out;
	}
	if (reinject_message(job->cfg, lm->mb->address, rcpts, n, copy, &err) != 0) {
		*reason = xasprintf("the encrypted copy could not be queued: %s", err ? err : "?");
		forget_marker(job->store, digest);
		goto out;
	}
	free(digest);
	/* The copy is durable: from here on the message must not be tempfailed for the notice. */
	st = ENCRYPT_QUEUED;
	*copy_id = id;
	id = NULL;
	tell_mailbox(job, lm);
out:
	if (copy != NULL)
		fclose(copy);
	free(marker);
	free(err);
	free(id);
	free(rcpts);
	return st;
}

/*
 * cert_listed - is this certificate among the first n already? A domain
 * certificate serves every recipient of its domain: the copy is encrypted
 * to it once.
 */
static bool cert_listed(const struct smime_der *certs, size_t n, const unsigned char *der,
			size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (certs[i].len == len && der != NULL && memcmp(certs[i].der, der, len) == 0)
			return true;
	return false;
}

/* build_copy - the signed and encrypted message in an unlinked temporary file, rewound. */
static FILE *build_copy(const struct encrypt_job *job, const struct loaded_mailbox *lm,
			const char *message_id, const char *marker, char **reason)
{
	const struct decision *d = job->d;
	struct smime_der *certs = xcalloc(d->n_rcpts + 1, sizeof(*certs));
	const char **to = xcalloc(d->n_rcpts + 1, sizeof(*to));
	char *err = NULL;
	const char *extra[1] = { marker };
	struct smime_request req = { 0 };
	FILE *out = private_tmpfile(NULL, &err);

	for (size_t i = 0; i < d->n_rcpts; i++) {
		if (d->rcpts[i].action != ACTION_ENCRYPT)
			continue;
		to[req.n_to++] = d->rcpts[i].addr.full;
		if (!cert_listed(certs, req.n_certs, d->rcpts[i].cert_der,
				 d->rcpts[i].cert_der_len)) {
			certs[req.n_certs].der = d->rcpts[i].cert_der;
			certs[req.n_certs++].len = d->rcpts[i].cert_der_len;
		}
	}
	req.key = lm->key;
	req.mailbox = lm->mb->address;
	req.to = to;
	req.certs = certs;
	req.subject = job->cfg->secure_subject;
	req.cipher = job->cfg->cipher;
	req.reply_to = true;
	req.message_id = message_id;
	req.extra_headers = extra;
	req.n_extra_headers = marker != NULL ? 1 : 0;
	if (out == NULL) {
		*reason = xasprintf("cannot create a temporary file: %s", err ? err : "?");
	} else if (smime_build_encrypted(&req, job->original, out, &err) != 0 ||
		   fflush(out) != 0 || fseek(out, 0, SEEK_SET) != 0) {
		*reason = xasprintf("the encrypted copy could not be made: %s",
				    err ? err : strerror(errno));
		fclose(out);
		out = NULL;
	}
	free(err);
	free(certs);
	free(to);
	return out;
}

/*
 * tell_mailbox - the guide's step 8, done for the sender: the function
 * mailbox learns who sent what to whom, and that replies will arrive
 * there. With NoticeDelay the notice waits in the store for the mailbox's
 * next digest (notice.c); without, or when it cannot be kept, it is sent
 * on its own now. Either way the copy is already queued: a notice that
 * cannot be sent is logged, never a reason to tempfail.
 */
static void tell_mailbox(const struct encrypt_job *job, const struct loaded_mailbox *lm)
{
	const char *qid = job->d->queue_id ? job->d->queue_id : "-";
	const char *mb = lm->mb->address;
	char *entry = encrypt_notice_entry(job->d, job->subject), *err = NULL;

	if (job->cfg->notice_delay > 0 && job->store != NULL &&
	    notice_keep(job->store, job->cfg->notice_delay, mb, job->d->queue_id, entry,
			&err) == 0) {
		msg_info("%s: notice to %s kept for its digest", qid, mb);
	} else {
		if (err != NULL)
			msg_warn("%s: notice to %s not kept for a digest (%s): sent on its own", qid,
				 mb, err);
		free(err);
		err = NULL;
		if (send_notice(job, mb, entry, &err) == 0)
			msg_info("%s: notice to %s sent", qid, mb);
		else
			msg_error("%s: notice to %s not sent: %s", qid, mb, err ? err : "?");
	}
	free(err);
	free(entry);
}

/* encrypt_notice_entry - see encrypt.h. */
char *encrypt_notice_entry(const struct decision *d, const char *subject)
{
	char *subj = subject ? reply_sanitise(subject) : xstrdup("(no subject)");
	struct strbuf sb;

	sb_init(&sb);
	sb_printf(&sb, "Afsender / Sender:      %s\nEmne / Subject:         %s\n"
		       "Reference:              %s\nModtagere / Recipients:\n",
		  d->sender && d->sender[0] ? d->sender : "<>", subj,
		  d->queue_id ? d->queue_id : "unknown");
	for (size_t i = 0; i < d->n_rcpts; i++)
		if (d->rcpts[i].action == ACTION_ENCRYPT)
			sb_printf(&sb, "  %s\n", d->rcpts[i].addr.full);
	free(subj);
	return sb.s;
}

/* send_notice - the notice about this one message, on its own (NoticeDelay 0). */
static int send_notice(const struct encrypt_job *job, const char *mailbox, const char *entry,
		       char **reason)
{
	const char *qid = job->d->queue_id ? job->d->queue_id : "unknown";
	char *subject = xasprintf("Sikker besked sendt / Secure message sent (ref %s)", qid);
	char *body = xasprintf("En sikker (krypteret) besked er sendt fra denne postkasse.\n"
			       "A secure (encrypted) message was sent from this mailbox.\n\n%s\n"
			       "Svar vil komme til denne postkasse.\n"
			       "Replies will arrive in this mailbox.\n",
			       entry);
	int rc = encrypt_tell_mailbox(job->cfg, job->mailboxes, job->store, mailbox, subject, body,
				      REINJECT_TIMEOUT, NULL, reason);

	free(subject);
	free(body);
	return rc;
}

/* encrypt_tell_mailbox - see encrypt.h. */
int encrypt_tell_mailbox(const struct config *cfg, const struct mailboxes *mbs,
			 struct store *store, const char *mailbox, const char *subject,
			 const char *body, int timeout, char **message_id, char **reason)
{
	return encrypt_tell(cfg, mbs, store, mailbox, mailbox, mailbox, subject, body, timeout,
			    message_id, reason);
}

/*
 * encrypt_tell - see encrypt.h. The marker is bound to the envelope sender
 * as the filter will see it again: "<>" for the null sender.
 */
int encrypt_tell(const struct config *cfg, const struct mailboxes *mbs, struct store *store,
		 const char *from, const char *env_sender, const char *rcpt1, const char *subject,
		 const char *body, int timeout, char **message_id, char **reason)
{
	const char *rcpt[1] = { rcpt1 };
	char *id = smime_new_message_id(from), *digest;
	char *marker = issue_marker(cfg, mbs, store, id, env_sender[0] ? env_sender : "<>", rcpt,
				    1, &digest);
	struct strbuf sb;
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	FILE *f = private_tmpfile(NULL, reason);
	int rc = -1;

	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", localtime_r(&now, &tm));
	sb_init(&sb);
	sb_printf(&sb, "From: <%s>\nTo: <%s>\nDate: %s\nMessage-ID: %s\n", from, rcpt1, date, id);
	if (marker != NULL)
		sb_printf(&sb, "%s\n", marker);
	sb_printf(&sb, "Subject: %s\n", subject);
	sb_adds(&sb, "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n"
		     "Content-Transfer-Encoding: 8bit\nAuto-Submitted: auto-generated\n\n");
	sb_adds(&sb, body);
	if (f == NULL)
		;	/* *reason says why */
	else if (fwrite(sb.s, 1, sb.len, f) != sb.len || fflush(f) != 0 ||
		 fseek(f, 0, SEEK_SET) != 0)
		*reason = xasprintf("cannot write the notice: %s", strerror(errno));
	else
		rc = reinject_message_timeout(cfg, env_sender, rcpt, 1, f, timeout, reason);
	if (rc != 0)
		forget_marker(store, digest);
	else
		free(digest);
	if (rc == 0 && message_id != NULL) {
		*message_id = id;
		id = NULL;
	}
	if (f != NULL)
		fclose(f);
	sb_free(&sb);
	free(marker);
	free(id);
	return rc;
}

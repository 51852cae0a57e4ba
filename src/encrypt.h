/*
 * encrypt.h - the "encrypt" verdict carried out: a signed and encrypted
 * copy of the whole original message, from a function mailbox, queued
 * through the MTA before the original is accepted, and a short notice to
 * the mailbox (on its own, or in a digest: notice.h).
 *
 * The mechanism (documented in sikkermail-milter(8)): the copy for the
 * encrypted recipients is always a new message handed to the MTA with
 * Reinject (sendmail(1) or SMTP); only when the MTA has it durably does the
 * milter remove those recipients from the original, which goes on to the
 * others unchanged (or is discarded when nobody is left). Any failure
 * before that point tempfails the whole message: at least once, never in
 * clear.
 *
 * With Reinject sendmail every message sikkermail re-injects carries a
 * marker header: an HMAC, with a secret known only to this host's filter,
 * over its Message-ID, envelope sender (a function mailbox) and
 * recipients. The marker is recorded when it is made and admits exactly
 * that message, once, within a day: the filter sees the copy come back
 * through non_smtpd_milters, consumes the marker, removes the header and
 * passes the copy on unfiltered. Nobody outside can make a marker, and one
 * that leaked cannot be replayed. With Reinject smtp the copy goes to a
 * listener that runs no milters, so no marker is added: it would only
 * leave the organisation.
 */
#ifndef SIKKERMAIL_ENCRYPT_H
#define SIKKERMAIL_ENCRYPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "decision.h"
#include "store.h"

#define ENCRYPT_MARKER_HEADER "X-Sikkermail-Reinjected"
#define ENCRYPT_MARKER_MAX_AGE (24L * 3600)	/* the copy comes back within seconds */

struct mailboxes;

/*
 * mailboxes_load - every SecureMailbox's key and certificate (read as
 * root, before privileges are dropped: key files must be readable by their
 * owner only), checked to match each other. cfg is referenced. NULL when
 * any fails, with one "file:line: SecureMailbox ADDRESS: why" per failure
 * appended to errors.
 */
struct mailboxes *mailboxes_load(struct config *cfg, struct strlist *errors);
/* mailboxes_set_secret - this host's marker secret (from the store). */
void mailboxes_set_secret(struct mailboxes *mbs, const unsigned char *secret, size_t len);
#define ENCRYPT_SECRET_LEN 32
void mailboxes_free(struct mailboxes *mbs);

/* mailboxes_available - is there at least one function mailbox to encrypt from? */
bool mailboxes_available(const struct mailboxes *mbs);

/*
 * encrypt_marker_accept - is value the marker of a copy this filter
 * re-injected, with exactly this Message-ID, envelope sender and
 * recipients (normalised), issued and not used before? A marker that is
 * accepted is used up. The sender must be a function mailbox, or the
 * null sender of the filter's own notices (HoldNotice).
 */
bool encrypt_marker_accept(const struct mailboxes *mbs, struct store *store,
			   const char *message_id, const char *sender, const char *const *rcpts,
			   size_t n, const char *value);

/*
 * encrypt_mailbox_named - the address in MailboxHeader's value ("HR
 * <hr@kp.dk>" or "hr@kp.dk"), normalised; NULL if it is not an address.
 */
char *encrypt_mailbox_named(const char *choice);

enum encrypt_status {
	ENCRYPT_QUEUED,		/* the copy is durable in the MTA */
	ENCRYPT_REJECT,		/* the sender asked for a mailbox that is not configured */
	ENCRYPT_FORBIDDEN,	/* the mailbox is not the sender's to use (SecureMailboxUsers) */
	ENCRYPT_TEMPFAIL	/* anything else: try again later */
};

struct encrypt_job {
	const struct config *cfg;
	const struct mailboxes *mailboxes;	/* the runtime's function mailboxes */
	struct store *store;		/* records the markers issued; may be NULL (no marker) */
	const struct decision *d;	/* recipients with ACTION_ENCRYPT get the copy */
	const char *mailbox_choice;	/* MailboxHeader's value (trusted submitter), or NULL */
	FILE *original;			/* the whole message as received: headers, blank line, body */
	const char *subject;		/* the original Subject, for the notice; may be NULL */
};

/*
 * encrypt_and_queue - build the copy and hand it to the MTA, then the
 * notice: kept for the mailbox's next digest (NoticeDelay, notice.h), or
 * sent on its own. *reason explains a REJECT or TEMPFAIL (English, for the
 * reply and the log); *copy_id is the copy's Message-ID on QUEUED. Free
 * both.
 */
enum encrypt_status encrypt_and_queue(const struct encrypt_job *job, char **reason,
				      char **copy_id);

/*
 * encrypt_notice_entry - what the mailbox is told about one encrypted
 * message (bilingual lines: sender, subject, reference, the encrypted
 * recipients), the same in a notice of its own and in a digest. Free it.
 */
char *encrypt_notice_entry(const struct decision *d, const char *subject);

/*
 * encrypt_tell_mailbox - a clear-text message (UTF-8 body, LF line ends)
 * from mailbox to itself, marked like a copy (Reinject sendmail) so that
 * the filter passes it unchanged, handed to the MTA within timeout
 * seconds. 0 with *message_id set (when not NULL; free it), or -1 with
 * *reason set.
 */
int encrypt_tell_mailbox(const struct config *cfg, const struct mailboxes *mbs,
			 struct store *store, const char *mailbox, const char *subject,
			 const char *body, int timeout, char **message_id, char **reason);

/*
 * encrypt_tell - the same from the address from (the From: header) to
 * rcpt, with the envelope sender env_sender ("" for the null sender): a
 * notice of the filter's own (HoldNotice) that it passes unchanged.
 */
int encrypt_tell(const struct config *cfg, const struct mailboxes *mbs, struct store *store,
		 const char *from, const char *env_sender, const char *rcpt, const char *subject,
		 const char *body, int timeout, char **message_id, char **reason);

#endif

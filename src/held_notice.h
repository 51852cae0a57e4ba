/*
 * held_notice.h - HoldNotice: the sender of a message the filter held is
 * told, in Danish and English, that it awaits review, with its reference.
 *
 * Without it the sender got 250 and never learnt that nothing went out.
 * Backscatter: only a sender the filter trusts is told: a trusted
 * submitter (InternalNetworks or SMTP AUTH) with an address in
 * InternalDomains, never the null sender or a postmaster/MAILER-DAEMON
 * address. The notice comes from the null sender (From: postmaster@ the
 * sender's domain), is marked Auto-Submitted, and with Reinject sendmail
 * carries the re-injection marker, so that the filter passes its own
 * notice unchanged. It is sent after the hold is carried out; a notice
 * that cannot be sent is logged and changes nothing about the message.
 *
 * Exports held_notice_wanted, held_notice_subject, held_notice_body and
 * held_notice_send.
 */
#ifndef SIKKERMAIL_HELD_NOTICE_H
#define SIKKERMAIL_HELD_NOTICE_H

#include <stdbool.h>

#include "config.h"
#include "decision.h"
#include "encrypt.h"
#include "store.h"

#define HELD_NOTICE_TIMEOUT 30	/* seconds for the notice's hand-off, within the message's time */
#define HELD_NOTICE_TIMEOUT_MIN 5	/* fewer left of DecisionTimeout: not sent */

/* held_notice_wanted - is the sender of this held message told (HoldNotice, see above)? */
bool held_notice_wanted(const struct config *cfg, const struct decision *d);

/* held_notice_subject, held_notice_body - the notice's text (UTF-8, LF line ends). Free them. */
char *held_notice_subject(const struct decision *d);
char *held_notice_body(const struct config *cfg, const struct decision *d);

/*
 * held_notice_send - tell the sender, when held_notice_wanted: 1 sent, 0
 * not wanted, -1 not sent (logged). left: seconds left of the message's
 * DecisionTimeout, the most the hand-off may take (the MTA is waiting);
 * with fewer than HELD_NOTICE_TIMEOUT_MIN, or a hold that could not be
 * recorded, no notice is sent.
 */
int held_notice_send(const struct config *cfg, const struct mailboxes *mbs, struct store *store,
		     const struct decision *d, long left);

#endif

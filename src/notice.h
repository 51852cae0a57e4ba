/*
 * notice.h - the function mailboxes' notices gathered into digests
 * (NoticeDelay): one message per mailbox, every so often, listing what
 * was sent from it, instead of a second MTA transaction per encrypted
 * message. The guide's step 8 (the mailbox's keepers learn what was sent
 * on their behalf, and that replies will come) stays whole: every notice
 * reaches its mailbox, only later and together.
 *
 * The notices wait in the database (store.h), written after the encrypted
 * copy is queued; one thread of the daemon sends a mailbox's digest when
 * its oldest notice has waited NoticeDelay, or when NOTICE_BATCH are
 * waiting, and deletes the notices only once the MTA has the digest (at
 * least once: a crash in between may send a digest twice, never lose
 * one). A digest that cannot be handed over is tried again with growing
 * pauses. Notices found at start-up are due at once; at SIGTERM the
 * waiting ones are sent before the daemon exits, within a bounded time,
 * and what is left waits for the next start.
 *
 * Exports notice_start, notice_stop, notice_keep, notice_digest_subject
 * and notice_digest_body.
 */
#ifndef SIKKERMAIL_NOTICE_H
#define SIKKERMAIL_NOTICE_H

#include <stdbool.h>
#include <stddef.h>

#include "store.h"

#define NOTICE_BATCH 50		/* notices in one digest at most; so many waiting send it at once */
#define NOTICE_SEND_TIMEOUT 20	/* seconds for one digest's hand-off */
#define NOTICE_RETRY_FIRST 5	/* seconds before a failed digest is tried again, doubled each time */
#define NOTICE_RETRY_MAX 900

/*
 * notice_start - the thread that sends the digests, with the published
 * runtime (runtime.h) of each moment. 0, or -1 when it cannot be started.
 */
int notice_start(void);

/*
 * notice_stop - send every waiting notice now (a digest per mailbox) and
 * end the thread, waiting up to seconds for it. 0 when it ended; -1 when it
 * is still handing something over (what it has not sent stays in the
 * database for the next start).
 */
int notice_stop(int seconds);

/*
 * notice_keep - keep the notice entry about the message ref (its queue
 * id) for mailbox's next digest, due delay seconds from now, and wake the
 * thread when that changes its plans. 0 when kept; -1 when the notice must
 * be sent on its own now: no digest thread runs in this process (*err
 * NULL), or the store failed (*err says why; free it).
 */
int notice_keep(struct store *s, long delay, const char *mailbox, const char *ref,
		const char *entry, char **err);

/* notice_digest_subject - the Subject of a digest of n notices. Free it. */
char *notice_digest_subject(size_t n);

/*
 * notice_digest_body - the text of a digest: every entry in the order
 * given, each with the time it was made (local time), between the same
 * bilingual opening and closing lines as a notice of its own. Free it.
 */
char *notice_digest_body(const struct notice_entry *v, size_t n);

#endif

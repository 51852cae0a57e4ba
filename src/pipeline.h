/*
 * pipeline.h - facts to verdict to outcome, with no libmilter in it.
 *
 * At the end of a message the pipeline decides (classification and the
 * pure policy, once: it is never re-run after an effect), carries the
 * verdict out through a small MTA interface, and then writes the record
 * and the audit line from what was actually done. milter.c implements the
 * interface over smfi_*; the unit tests implement it with a recording fake
 * that can be told to fail any call.
 *
 * Carrying out, in order (sikkermail-milter(8), "Carrying out a
 * decision", has the failure table):
 *   1. encrypt: when the verdict is encrypt or hold and some recipient's
 *      action is encrypt, the signed and encrypted copy is handed to the
 *      MTA (the one effect that cannot be taken back), then those
 *      recipients are taken off the original. So a recipient due an
 *      encrypted copy is never held on, and never receives, the clear
 *      original; a held message holds only its other recipients.
 *   2. hold: the original is quarantined with a reason naming every held
 *      recipient.
 *   3. reject or tempfail: the reply, from reply.c.
 *   4. headers (accepted messages): the filter's control headers removed,
 *      an untrusted client's flag headers removed, the tag added.
 *   5. record and audit line, from the outcome.
 * A failing step before the copy is queued tempfails the message (nothing
 * has happened that the MTA will keep). After the copy is queued, a
 * failure to take a recipient off the original tempfails the original (at
 * least once: a retry makes another copy, the clear text never reaches
 * that recipient); a header or record failure no longer stops the
 * message: the copy is out, and a retry would only send it again, so the
 * message goes on and the audit line says what failed. A personal message
 * whose decision cannot be recorded, and that has not been copied, is
 * tempfailed; every other message is accepted with an audit line that
 * says it was not recorded.
 */
#ifndef SIKKERMAIL_PIPELINE_H
#define SIKKERMAIL_PIPELINE_H

#include <stdbool.h>

#include "facts.h"
#include "reply.h"

/*
 * The MTA, as far as the pipeline needs it. Each call returns 0 on
 * success and -1 when the MTA refused or the connection failed.
 */
struct mta_ops {
	int (*reply)(void *mta, const struct reply *r);
	int (*quarantine)(void *mta, const char *reason);
	int (*delrcpt)(void *mta, const char *raw);
	/* change the index'th (from 1) header called name; value NULL deletes it */
	int (*chgheader)(void *mta, const char *name, int index, const char *value);
	/* insert a header at position index (0: first) */
	int (*insheader)(void *mta, int index, const char *name, const char *value);
	/* tell the MTA that work is going on (keeps its timeout from running out) */
	int (*progress)(void *mta);
};

/* What the MTA is told at the end of the message. */
enum mta_result {
	MTA_ACCEPT,	/* with the changes requested */
	MTA_DISCARD,	/* every recipient got an encrypted copy: the original goes nowhere */
	MTA_REJECT,	/* the reply has been set */
	MTA_TEMPFAIL	/* the reply has been set */
};

const char *mta_result_name(enum mta_result r);

/*
 * pipeline_end_of_message - decide, carry out through ops, record. f->d
 * holds the verdict and outcome afterwards (for tests); the return value
 * is what the MTA is to be told.
 */
enum mta_result pipeline_end_of_message(struct facts *f, const struct mta_ops *ops, void *mta);

/* pipeline_decide - the decision alone (classification and policy); part of the above. */
void pipeline_decide(struct facts *f, const struct mta_ops *ops, void *mta);

#endif

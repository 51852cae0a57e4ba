/*
 * policy.h - facts to verdict (pure: no I/O, no logging, no globals).
 *
 * The decision table of SPEC section 5, per recipient:
 *
 *   class      personal message             not personal
 *   internal   deliver                      deliver
 *   tunnel     deliver                      deliver
 *   encrypted  encrypt                      deliver
 *   partner    PersonalToPartner            deliver
 *   freemail   PersonalToFreemail           deliver
 *   tls        PersonalToTLS                deliver
 *   unknown    OnLookupFailure              deliver
 *
 * The message's outcome is the most severe over its recipients
 * (reject > tempfail > hold > encrypt > deliver). In Mode monitor the
 * outcome is computed the same way but the applied action is deliver.
 * An encrypted recipient of a message that is already S/MIME or PGP
 * encrypted (d->already_encrypted) gets deliver, rule "already-encrypted".
 * A personal message decided while the database was unavailable
 * (d->store_failed) gets at least OnLookupFailure, rule
 * "database-unavailable".
 */
#ifndef SIKKERMAIL_POLICY_H
#define SIKKERMAIL_POLICY_H

#include <stdbool.h>

#include "config.h"
#include "decision.h"

/*
 * Every rule name a decision can carry, in one place: the decision table's
 * own, and those of a verdict that could not be carried out
 * (policy_failure). Readers of stored decisions map names back with
 * policy_rule_intern.
 */
#define RULE_NOT_PERSONAL "not-personal"
#define RULE_NO_RECIPIENTS "no-recipients"
#define RULE_INTERNAL "internal"
#define RULE_TUNNEL "tunnel"
#define RULE_ENCRYPTED "encrypted"
#define RULE_PARTNER "PersonalToPartner"
#define RULE_FREEMAIL "PersonalToFreemail"
#define RULE_TLS "PersonalToTLS"
#define RULE_LOOKUP "OnLookupFailure"
#define RULE_DATABASE "database-unavailable"
#define RULE_ALREADY_ENCRYPTED "already-encrypted"
#define RULE_ENCRYPTION_UNAVAILABLE "encryption-unavailable"
#define RULE_SECURE_MAILBOX "SecureMailbox"
#define RULE_ENCRYPTION_FAILED "encryption-failed"
#define RULE_MTA_REFUSED "mta-refused"
#define RULE_NOT_RECORDED "not-recorded"
#define RULE_HEADER_LIMIT "header-limit"
#define RULE_TIME_BUDGET "time-budget"

/*
 * What can go wrong while a verdict is carried out. policy_failure maps
 * each to the message's new action and rule: a function mailbox the sender
 * named that does not exist, and a header too large to keep, are refused
 * (the sender must correct them); every other failure is temporary.
 */
enum effect_failure {
	FAIL_ENCRYPT_UNAVAILABLE,	/* the message was not kept, or no mailbox to sign with */
	FAIL_MAILBOX_UNKNOWN,		/* MailboxHeader names a mailbox that is not configured */
	FAIL_MAILBOX_FORBIDDEN,		/* the mailbox is not the sender's (SecureMailboxUsers) */
	FAIL_ENCRYPT,			/* the copy could not be made or handed to the MTA */
	FAIL_DELRCPT,			/* the MTA refused to take a recipient off the original */
	FAIL_QUARANTINE,		/* the MTA refused to hold the message */
	FAIL_HEADER,			/* the MTA refused a header change */
	FAIL_RECORD,			/* the decision could not be recorded */
	FAIL_HEADER_LIMIT,		/* the header block is larger than the filter keeps */
	FAIL_TIME_BUDGET,		/* DecisionTimeout spent before the verdict was carried out */
	FAIL_COUNT
};

/* policy_failure - d->action and d->applied become the failure's action, d->rule its rule. */
void policy_failure(enum effect_failure f, struct decision *d);

/* policy_failure_name - "encrypt", "delrcpt", ... for logs. */
const char *policy_failure_name(enum effect_failure f);

/* policy_rcpt_action - one recipient's action; *rule gets a static rule name. */
enum action policy_rcpt_action(const struct config *cfg, bool personal, enum rclass cls,
			       const char **rule);

/* policy_decide - fill every rcpt's action/rule and d->action, d->applied, d->rule. */
void policy_decide(const struct config *cfg, struct decision *d);

/*
 * policy_rule_intern - the static rule name equal to name, or NULL if it
 * is not one of ours (for readers of stored decisions: audit_parse).
 */
const char *policy_rule_intern(const char *name);

#endif

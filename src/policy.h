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

/*
 * policy.c - facts to verdict: the decision table of SPEC section 5.
 *
 * Exports policy_rcpt_action, policy_decide and policy_rule_intern (see
 * policy.h). Pure: no I/O, no logging, no globals but constant tables.
 *
 * The settings come from a validated configuration, but this is the last
 * line between personal data and the Internet, so a setting outside its
 * documented values (a bug elsewhere, a struct filled by hand) is read as
 * the safe choice for that setting, never as deliver.
 */
#include <stddef.h>
#include <string.h>

#include "policy.h"

#define RULE_NOT_PERSONAL "not-personal"
#define RULE_NO_RECIPIENTS "no-recipients"
#define RULE_PARTNER "PersonalToPartner"
#define RULE_FREEMAIL "PersonalToFreemail"
#define RULE_TLS "PersonalToTLS"
#define RULE_LOOKUP "OnLookupFailure"
#define RULE_DATABASE "database-unavailable"
#define RULE_ALREADY_ENCRYPTED "already-encrypted"

static enum action setting(enum action value, unsigned allowed, enum action fallback);

/*
 * Every rule name a decision can carry; policy_rule_intern maps stored
 * names back to these. The last ones are set outside this module, by the
 * milter when it cannot carry out a verdict: list them here too, or
 * audit_parse reads them back as "other".
 */
static const char *const rule_names[] = {
	RULE_NOT_PERSONAL, "internal", "tunnel", "encrypted", RULE_PARTNER,
	RULE_FREEMAIL, RULE_TLS, RULE_LOOKUP, RULE_NO_RECIPIENTS, RULE_ALREADY_ENCRYPTED,
	"encryption-unavailable", RULE_DATABASE, "SecureMailbox", "encryption-failed",
};

#define BIT(a) (1u << (a))

/* setting - value if it is one of the allowed actions, else fallback. */
static enum action setting(enum action value, unsigned allowed, enum action fallback)
{
	if ((unsigned)value < ACTION_COUNT && (allowed & BIT(value)))
		return value;
	return fallback;
}

enum action policy_rcpt_action(const struct config *cfg, bool personal, enum rclass cls,
			       const char **rule)
{
	if (!personal) {
		*rule = RULE_NOT_PERSONAL;
		return ACTION_DELIVER;
	}
	switch (cls) {
	case CLASS_INTERNAL:
		*rule = "internal";
		return ACTION_DELIVER;
	case CLASS_TUNNEL:
		*rule = "tunnel";
		return ACTION_DELIVER;
	case CLASS_ENCRYPTED:
		*rule = "encrypted";
		return ACTION_ENCRYPT;
	case CLASS_PARTNER:
		*rule = RULE_PARTNER;
		return setting(cfg->personal_to_partner, BIT(ACTION_DELIVER) | BIT(ACTION_REJECT),
			       ACTION_REJECT);
	case CLASS_FREEMAIL:
		/* never deliver, whatever the configuration says (SPEC: "never accept") */
		*rule = RULE_FREEMAIL;
		return setting(cfg->personal_to_freemail, BIT(ACTION_REJECT) | BIT(ACTION_HOLD),
			       ACTION_REJECT);
	case CLASS_TLS:
		*rule = RULE_TLS;
		return setting(cfg->personal_to_tls,
			       BIT(ACTION_REJECT) | BIT(ACTION_HOLD) | BIT(ACTION_DELIVER),
			       ACTION_REJECT);
	case CLASS_UNKNOWN:
	default:
		/* an unclassified recipient is a lookup that did not complete */
		*rule = RULE_LOOKUP;
		return setting(cfg->on_lookup_failure, BIT(ACTION_TEMPFAIL) | BIT(ACTION_HOLD),
			       ACTION_TEMPFAIL);
	}
}

/*
 * policy_decide - the message's outcome is its most severe recipient's
 * action (enum action is ordered by severity); the first recipient with
 * that action names the rule. Monitor mode computes the same verdict but
 * applies deliver, so the log shows what enforce mode would have done.
 */
void policy_decide(const struct config *cfg, struct decision *d)
{
	d->mode = cfg->mode;
	d->action = ACTION_DELIVER;
	d->rule = RULE_NO_RECIPIENTS;
	for (size_t i = 0; i < d->n_rcpts; i++) {
		struct rcpt *r = &d->rcpts[i];

		r->action = policy_rcpt_action(cfg, d->personal, r->cls, &r->rule);
		if (r->action == ACTION_ENCRYPT && d->already_encrypted) {
			/* encrypted by the sender already: delivered as it is, never wrapped twice */
			r->action = ACTION_DELIVER;
			r->rule = RULE_ALREADY_ENCRYPTED;
		}
		if (i == 0 || r->action > d->action) {
			d->action = r->action;
			d->rule = r->rule;
		}
	}
	/*
	 * A personal message decided without the database could not be
	 * recorded and its lists were not read: an internal failure, which
	 * never ends in delivery (SPEC section 8).
	 */
	if (d->personal && d->store_failed) {
		enum action fail = setting(cfg->on_lookup_failure,
					   BIT(ACTION_TEMPFAIL) | BIT(ACTION_HOLD), ACTION_TEMPFAIL);
		if (fail > d->action) {
			d->action = fail;
			d->rule = RULE_DATABASE;
		}
	}
	d->applied = cfg->mode == MODE_MONITOR ? ACTION_DELIVER : d->action;
}

const char *policy_rule_intern(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(rule_names) / sizeof(rule_names[0]); i++)
		if (strcmp(name, rule_names[i]) == 0)
			return rule_names[i];
	return NULL;
}

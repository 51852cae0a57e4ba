/*
 * policy.c - facts to verdict: the decision table of SPEC section 5.
 *
 * Exports policy_rcpt_action, policy_decide, policy_failure,
 * policy_failure_name and policy_rule_intern (see policy.h). Pure: no
 * I/O, no logging, no globals but constant tables.
 *
 * The settings come from a validated configuration, but this is the last
 * line between personal data and the Internet, so a setting outside its
 * documented values (a bug elsewhere, a struct filled by hand) is read as
 * the safe choice for that setting, never as deliver.
 */
#include <stddef.h>
#include <string.h>

#include "policy.h"

static enum action setting(enum action value, unsigned allowed, enum action fallback);

/* Every rule name a decision can carry; policy_rule_intern maps stored names back to these. */
static const char *const rule_names[] = {
	RULE_NOT_PERSONAL, RULE_INTERNAL, RULE_TUNNEL, RULE_ENCRYPTED, RULE_PARTNER,
	RULE_FREEMAIL, RULE_TLS, RULE_LOOKUP, RULE_NO_RECIPIENTS, RULE_ALREADY_ENCRYPTED,
	RULE_ENCRYPTION_UNAVAILABLE, RULE_DATABASE, RULE_SECURE_MAILBOX, RULE_ENCRYPTION_FAILED,
	RULE_MTA_REFUSED, RULE_NOT_RECORDED, RULE_HEADER_LIMIT, RULE_TIME_BUDGET,
};

/* The failures of carrying out a verdict: name, rule, action. */
static const struct {
	const char *name;
	const char *rule;
	enum action action;
} failures[FAIL_COUNT] = {
	[FAIL_ENCRYPT_UNAVAILABLE] = { "encrypt", RULE_ENCRYPTION_UNAVAILABLE, ACTION_TEMPFAIL },
	[FAIL_MAILBOX_UNKNOWN] = { "mailbox", RULE_SECURE_MAILBOX, ACTION_REJECT },
	[FAIL_MAILBOX_FORBIDDEN] = { "mailbox", RULE_SECURE_MAILBOX, ACTION_REJECT },
	[FAIL_ENCRYPT] = { "encrypt", RULE_ENCRYPTION_FAILED, ACTION_TEMPFAIL },
	[FAIL_DELRCPT] = { "delrcpt", RULE_MTA_REFUSED, ACTION_TEMPFAIL },
	[FAIL_QUARANTINE] = { "quarantine", RULE_MTA_REFUSED, ACTION_TEMPFAIL },
	[FAIL_HEADER] = { "header", RULE_MTA_REFUSED, ACTION_TEMPFAIL },
	[FAIL_RECORD] = { "record", RULE_NOT_RECORDED, ACTION_TEMPFAIL },
	[FAIL_HEADER_LIMIT] = { "header-limit", RULE_HEADER_LIMIT, ACTION_REJECT },
	[FAIL_TIME_BUDGET] = { "time-budget", RULE_TIME_BUDGET, ACTION_TEMPFAIL },
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
		*rule = RULE_INTERNAL;
		return ACTION_DELIVER;
	case CLASS_TUNNEL:
		*rule = RULE_TUNNEL;
		return ACTION_DELIVER;
	case CLASS_ENCRYPTED:
		*rule = RULE_ENCRYPTED;
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

void policy_failure(enum effect_failure f, struct decision *d)
{
	if ((unsigned)f >= FAIL_COUNT)
		f = FAIL_ENCRYPT;	/* unknown: a temporary failure, never a delivery */
	d->action = d->applied = failures[f].action;
	d->rule = failures[f].rule;
}

const char *policy_failure_name(enum effect_failure f)
{
	return (unsigned)f < FAIL_COUNT ? failures[f].name : "unknown";
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

/*
 * sikkermail.h - the small vocabulary every module shares: recipient
 * classes, actions, and the tri-state lookup result.
 */
#ifndef SIKKERMAIL_H
#define SIKKERMAIL_H

/* Every lookup answers found / not found / try again later; never a bare NULL. */
enum lookup {
	LOOKUP_NOTFOUND = 0,
	LOOKUP_FOUND = 1,
	LOOKUP_RETRY = -1	/* temporary failure: flows into the verdict as "unknown" */
};

/* Recipient classes, SPEC section 3. */
enum rclass {
	CLASS_INTERNAL,
	CLASS_TUNNEL,
	CLASS_ENCRYPTED,
	CLASS_PARTNER,
	CLASS_FREEMAIL,
	CLASS_TLS,
	CLASS_UNKNOWN,
	CLASS_COUNT
};

/*
 * Actions, in increasing severity: the message's outcome is the maximum
 * over its recipients (reject > tempfail > hold > encrypt/deliver).
 */
enum action {
	ACTION_DELIVER,
	ACTION_ENCRYPT,
	ACTION_HOLD,
	ACTION_TEMPFAIL,
	ACTION_REJECT,
	ACTION_COUNT
};

enum mode {
	MODE_ENFORCE,
	MODE_MONITOR
};

/* Where the personal flag came from. */
enum personal_source {
	PSRC_NONE,	/* no flag: not personal */
	PSRC_HEADER,	/* PersonalHeader from a trusted submitter */
	PSRC_CPR,	/* DetectCPR enforce found a CPR number */
	PSRC_SUBJECT	/* a PersonalSubjectTag in a trusted submitter's Subject; the last */
};

const char *rclass_name(enum rclass c);		/* "internal", ... */
int rclass_parse(const char *s);		/* -1 if unknown */
const char *action_name(enum action a);		/* "deliver", ... */
int action_parse(const char *s);		/* -1 if unknown */
const char *mode_name(enum mode m);
/* personal_source_name - "none", "header", "cpr", "subject" */
const char *personal_source_name(enum personal_source s);

#endif

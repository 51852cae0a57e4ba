/*
 * decision.h - the facts about one message and the verdict on them.
 *
 * The milter gathers facts into a struct decision; classify fills in each
 * recipient's class and evidence; policy_decide (policy.h) fills in the
 * actions; reply.c turns it into the SMTP reply and audit.c into the log
 * line and the stored record. Plain data: no library handles in here.
 */
#ifndef SIKKERMAIL_DECISION_H
#define SIKKERMAIL_DECISION_H

#include <stdbool.h>
#include <stddef.h>

#include "address.h"
#include "sikkermail.h"

struct rcpt {
	char *raw;		/* as the MTA gave it (for logs) */
	struct address addr;	/* normalised */
	enum rclass cls;
	char *evidence;		/* why this class, for explain and the audit line */
	enum action action;	/* set by policy_decide */
	const char *rule;	/* static: the rule that chose the action */
	unsigned char *cert_der;	/* CLASS_ENCRYPTED: the certificate to encrypt to */
	size_t cert_der_len;
};

/*
 * What the flag headers (PersonalHeader) of the message said, whoever sent
 * them: recorded so that a replay can decide personal again. FLAG_SAID_NA
 * is a record made before this was kept.
 */
enum flag_said {
	FLAG_SAID_NA,
	FLAG_SAID_NONE,		/* no copy */
	FLAG_SAID_YES,		/* every copy yes */
	FLAG_SAID_NO,		/* every copy no */
	FLAG_SAID_UNCLEAR	/* unrecognised or disagreeing copies: personal (fail safe) */
};

/* Whether the message was scanned for CPR numbers; CPR_SCAN_NA as FLAG_SAID_NA. */
enum cpr_scan {
	CPR_SCAN_NA,
	CPR_SCAN_SKIPPED,	/* DetectCPR off, an untrusted submitter, or the body not kept */
	CPR_SCAN_DONE,		/* scanned: cpr_hits is the finding */
	CPR_SCAN_FAILED		/* could not be scanned: personal under DetectCPR enforce */
};

struct decision {
	long long time;			/* unix time of the decision */
	char *queue_id;			/* MTA queue id, or NULL */
	char *message_id;		/* Message-ID header, or NULL */
	char *sender;			/* normalised envelope sender; "" for <> */
	char *client_addr;		/* SMTP client address, or NULL */
	char *instance;			/* InstanceName of the filter that decided, or NULL */
	bool trusted;			/* trusted submitter */
	bool personal;
	enum personal_source psrc;
	char *personal_why;		/* e.g. "header X-KP-Personal: yes", "conflicting headers" */
	int cpr_hits;			/* CPR numbers found (masked elsewhere) */
	bool already_encrypted;		/* S/MIME or PGP encrypted as submitted: never wrapped again */
	enum mode mode;
	unsigned long generation;	/* the runtime (configuration) that decided: 1, +1 per reload */
	bool store_failed;		/* the database could not be used while deciding */
	enum flag_said flag;		/* what the flag headers said (before trust was applied) */
	enum cpr_scan cpr_scan;
	char *mailbox;			/* the function mailbox named in MailboxHeader, or NULL */

	struct rcpt *rcpts;
	size_t n_rcpts;
	size_t cap_rcpts;

	enum action action;	/* outcome over all recipients (what enforce mode does) */
	enum action applied;	/* what was actually done: deliver in monitor mode */
	const char *rule;	/* the rule of the most severe recipient */

	/* The outcome: what carrying out the verdict did (pipeline.c). */
	char *copy_id;		/* Message-ID of the encrypted copy handed to the MTA, or NULL */
	char *failure;		/* which effect failed and why (for the log), or NULL */
	bool unrecorded;	/* the record could not be written: this line is the only trace */
};

void decision_init(struct decision *d);
void decision_free(struct decision *d);
/* flag_said_name, cpr_scan_name - stored names; the _parse functions map back, -1 if unknown. */
const char *flag_said_name(enum flag_said f);
int flag_said_parse(const char *s);
const char *cpr_scan_name(enum cpr_scan c);
int cpr_scan_parse(const char *s);
/* decision_add_rcpt - append a recipient (takes ownership of addr's strings); returns it */
struct rcpt *decision_add_rcpt(struct decision *d, const char *raw, struct address *addr);

#endif

/*
 * facts.h - what the MTA tells the filter about one message, gathered as
 * it arrives and never changed afterwards.
 *
 * The milter callbacks hand each piece over as they get it: the client
 * and its authentication at MAIL FROM (trust is decided here, from the
 * message's runtime), each recipient (normalised; one that cannot be
 * classified safely is refused), each header, the body. This module keeps
 * what the decision and an encrypted copy need: the flag headers, the
 * function-mailbox choice, the filter's own control headers (counted, to
 * be removed), the PersonalSubjectTag tags found in a trusted submitter's
 * Subject fields and what each is to become without them, the header
 * block (with those Subjects already rewritten) and body (only when they
 * may be scanned or encrypted), and whether the message is the filter's
 * own re-injected copy. No libmilter code and no decisions beyond "is
 * this fact usable".
 *
 * Exports: facts_new, facts_add_rcpt, facts_header, facts_end_of_headers,
 * facts_body, facts_set_queue_id, facts_store, facts_free.
 */
#ifndef SIKKERMAIL_FACTS_H
#define SIKKERMAIL_FACTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "address.h"
#include "decision.h"
#include "msgbuf.h"
#include "personal.h"
#include "runtime.h"
#include "util.h"

#define FACTS_TAG_HEADER "X-Sikkermail"

/*
 * What is kept of the header block of a trusted submitter's message (the
 * only one that may be scanned or encrypted), and of any one field the
 * filter reads. Past either, the message is refused (FAIL_HEADER_LIMIT):
 * an encrypted copy must carry the whole header. Postfix's own
 * header_size_limit is 100 KB a field; Sendmail's MaxHeadersLength 32 KB.
 */
#define FACTS_HEADER_BLOCK_LIMIT (1024 * 1024)
#define FACTS_HEADER_FIELD_LIMIT (64 * 1024)

struct facts {
	struct runtime *rt;	/* referenced from MAIL FROM to the end of the message */
	struct decision d;	/* the envelope; classification and verdict come later */
	struct personal_flag flag;
	int n_flag_headers;	/* copies of PersonalHeader, any case */
	int n_mailbox_headers;	/* copies of MailboxHeader, any case */
	int n_tag_headers;	/* copies of X-Sikkermail: never trusted from outside */
	int n_marker_headers;	/* copies of the re-injection marker */
	bool reinjected;	/* carries a valid marker: our own copy, not filtered again */
	struct strbuf headers;	/* the header block as received, for an encrypted copy */
	bool headers_too_big;	/* past a FACTS_HEADER_*_LIMIT: the block is incomplete */
	bool over_budget;	/* DecisionTimeout spent while deciding */
	struct msgbuf *body;	/* headers and body, kept only when they will be read */
	char *body_error;	/* why keeping the body failed */
	char *subject;		/* the first Subject as received, or decoded without its tags */
	int n_subjects;		/* Subject fields seen, any case */
	int n_subject_tags;	/* subject tags found in a trusted submitter's Subjects */
	char **subject_values;	/* [n_subjects]: a Subject's new value, "" to delete, NULL: as is */
	char *content_type;	/* the first Content-Type */
	int n_content_types;
	char *mailbox_choice;	/* MailboxHeader's value */
	char *marker;		/* the marker header's value */
	struct store *store;	/* from the runtime's pool, taken once per message */
	bool store_taken;
	bool store_broken;
};

/*
 * facts_new - a message starts: rt is referenced; the client is trusted
 * when it authenticated (auth_authen non-empty) or sa is in
 * InternalNetworks. sender_raw is MAIL FROM's argument.
 */
struct facts *facts_new(struct runtime *rt, const char *client_addr, const struct sockaddr *sa,
			const char *auth_authen, const char *sender_raw);

/*
 * facts_add_rcpt - RCPT TO's argument. ADDR_OK when it is kept; anything
 * else is refused for this recipient (reply 550 5.1.3 with *why).
 */
enum addr_status facts_add_rcpt(struct facts *f, const char *raw, const char **why);

void facts_header(struct facts *f, const char *name, const char *value);

/* facts_end_of_headers - the marker is checked; the body is kept if it will be read. */
void facts_end_of_headers(struct facts *f);

void facts_body(struct facts *f, const void *chunk, size_t len);
/* facts_wants_body - will the body be read (decided at end of headers)? */
bool facts_wants_body(const struct facts *f);
void facts_set_queue_id(struct facts *f, const char *qid);

/*
 * facts_store - this message's database handle, taken from the runtime's
 * pool on first use; NULL if the database is unavailable (asked once per
 * message, so an outage costs one attempt, not one per recipient).
 */
struct store *facts_store(struct facts *f);

void facts_free(struct facts *f);

#endif

/*
 * store_held.h - what became of the messages the filter held: the held
 * decisions read back from the store with their recorded outcome, and the
 * outcome that sikkermail-ctl release or delete records.
 *
 * A held message is a decision recorded in enforce mode whose applied
 * action is hold (the MTA put it in its hold queue). Its outcome is kept
 * per decision, not per queue id: Postfix may give a later message the
 * same short queue id.
 *
 * Exports store_held_each, store_held_find, store_held_record,
 * held_message_free, held_state_name and held_state_parse. SQLite stays in
 * store_held.c.
 */
#ifndef SIKKERMAIL_STORE_HELD_H
#define SIKKERMAIL_STORE_HELD_H

#include <stddef.h>

#include "sikkermail.h"
#include "store.h"

enum held_state {
	HELD_WAITING,		/* no release or deletion recorded */
	HELD_RELEASED,		/* sikkermail-ctl release */
	HELD_DELETED,		/* sikkermail-ctl delete */
	HELD_STATE_COUNT
};

/* One held recipient and why. */
struct held_rcpt {
	char *address;
	char *cls;		/* class name */
	char *rule;
	char *evidence;		/* may be NULL */
};

struct held_message {
	long long id;		/* the decision's row */
	long long time;		/* when it was held */
	char *queue_id;		/* the reference; may be NULL when the MTA gave none */
	char *message_id;
	char *sender;		/* "" for the null sender */
	char *rule;		/* the message's rule */
	struct held_rcpt *rcpts;	/* the held recipients, in RCPT TO order */
	size_t n_rcpts;
	enum held_state state;
	char *by;		/* who released or deleted it; NULL while waiting */
	long long at;		/* when; 0 while waiting */
};

/*
 * store_held_each - fn for every message held in [since, until), oldest
 * first; h lives only during the call; a non-zero return from fn stops
 * the walk and is returned. -1 on a database error.
 */
int store_held_each(struct store *s, long long since, long long until,
		    int (*fn)(const struct held_message *h, void *arg), void *arg);

/*
 * store_held_find - the newest held message with this queue id: FOUND
 * (fill *out; free it with held_message_free), NOTFOUND when the filter
 * never held such a message, RETRY on a database error.
 */
enum lookup store_held_find(struct store *s, const char *queue_id, struct held_message *out);

/* store_held_record - the outcome of held decision id (replacing one before). 0 or -1. */
int store_held_record(struct store *s, long long id, enum held_state state, const char *by,
		      long long at);

void held_message_free(struct held_message *h);

/* held_state_name - "held", "released", "deleted"; held_state_parse - its inverse, or -1. */
const char *held_state_name(enum held_state st);
int held_state_parse(const char *name);

#endif

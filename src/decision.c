/*
 * decision.c - life cycle of struct decision, and the stored names of the
 * facts it records for a replay (flag_said_name, cpr_scan_name and their
 * parsers).
 */
#include <stdlib.h>
#include <string.h>

#include "decision.h"
#include "util.h"

void decision_init(struct decision *d)
{
	memset(d, 0, sizeof(*d));
}

void decision_free(struct decision *d)
{
	for (size_t i = 0; i < d->n_rcpts; i++) {
		free(d->rcpts[i].raw);
		address_free(&d->rcpts[i].addr);
		free(d->rcpts[i].evidence);
		free(d->rcpts[i].cert_der);
	}
	free(d->rcpts);
	free(d->queue_id);
	free(d->message_id);
	free(d->sender);
	free(d->client_addr);
	free(d->instance);
	free(d->personal_why);
	free(d->copy_id);
	free(d->failure);
	free(d->mailbox);
	decision_init(d);
}

struct rcpt *decision_add_rcpt(struct decision *d, const char *raw, struct address *addr)
{
	struct rcpt *r;

	if (d->n_rcpts == d->cap_rcpts) {
		d->cap_rcpts = d->cap_rcpts ? d->cap_rcpts * 2 : 4;
		d->rcpts = xrealloc(d->rcpts, d->cap_rcpts * sizeof(*d->rcpts));
	}
	r = &d->rcpts[d->n_rcpts++];
	memset(r, 0, sizeof(*r));
	r->raw = xstrdup(raw ? raw : "");
	if (addr != NULL) {
		r->addr = *addr;
		memset(addr, 0, sizeof(*addr));
	}
	r->cls = CLASS_UNKNOWN;
	r->action = ACTION_DELIVER;
	r->rule = "";
	return r;
}

static const char *const flag_said_names[] = { "n/a", "none", "yes", "no", "unclear" };
static const char *const cpr_scan_names[] = { "n/a", "skipped", "scanned", "failed" };

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *flag_said_name(enum flag_said f)
{
	return (unsigned)f < NELEM(flag_said_names) ? flag_said_names[f] : "?";
}

int flag_said_parse(const char *s)
{
	for (size_t i = 0; s != NULL && i < NELEM(flag_said_names); i++)
		if (strcmp(s, flag_said_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *cpr_scan_name(enum cpr_scan c)
{
	return (unsigned)c < NELEM(cpr_scan_names) ? cpr_scan_names[c] : "?";
}

int cpr_scan_parse(const char *s)
{
	for (size_t i = 0; s != NULL && i < NELEM(cpr_scan_names); i++)
		if (strcmp(s, cpr_scan_names[i]) == 0)
			return (int)i;
	return -1;
}

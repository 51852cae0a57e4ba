/*
 * route.h - how one recipient address is classified and what would happen
 * to a message sent to it, as one answer that explain and the
 * "serve" web service render each in their own way.
 *
 * route_explain fills a struct route from the same modules the filter
 * uses (address, classify, certs, policy); route_write_text writes what
 * "sikkermail-ctl explain" prints, route_write_json one JSON object for
 * the service (sikkermail-ctl(8) lists its fields). The renderers do no
 * lookups of their own, so the two can never disagree.
 */
#ifndef SIKKERMAIL_ROUTE_H
#define SIKKERMAIL_ROUTE_H

#include <stdbool.h>
#include <stdio.h>

#include "certs.h"
#include "config.h"
#include "sikkermail.h"
#include "store.h"
#include "util.h"

/* Is the address one a message can be sent to? */
enum route_status {
	ROUTE_OK,	/* normalised and classified */
	ROUTE_INVALID,	/* syntax, encoding, length: refused at RCPT TO (5.1.3) */
	ROUTE_REFUSED	/* a source route or %-hack: refused at RCPT TO (5.1.3) */
};

/* What the certificate directory said (or why it was not asked). */
enum route_cert {
	ROUTE_CERT_NOT_NEEDED,	/* the class wins before encrypted (internal, tunnel) */
	ROUTE_CERT_NOT_ASKED,	/* not a personal message: the directory was not consulted */
	ROUTE_CERT_RETRY,	/* the lookup failed for now */
	ROUTE_CERT_NONE,	/* no valid certificate known for the address */
	ROUTE_CERT_FOUND	/* cert holds it */
};

struct route {
	char *given;			/* the address as given */
	char *normalised;		/* ROUTE_OK: local@domain */
	enum route_status status;
	const char *why;		/* not ROUTE_OK: why (static) */
	enum rclass cls;		/* ROUTE_OK */
	char *evidence;			/* ROUTE_OK: why this class, in words */
	enum route_cert cert_status;
	struct cert_summary cert;	/* ROUTE_CERT_FOUND */
	const char *cert_kind;		/* ROUTE_CERT_FOUND: "personal" or "domain" (cert.domain) */
	enum action personal_action;	/* ROUTE_OK: a message with personal data */
	const char *personal_rule;
	enum action other_action;	/* ROUTE_OK: any other message */
	const char *other_rule;
	enum mode mode;			/* monitor: the action is logged and tagged, not applied */
	char *error;			/* the store's error when the class is unknown, or NULL */
	bool tempfail;			/* class unknown or lookup failed: the answer may change */
};

/*
 * route_explain - one address (raw[0..len), as given) into *out (free with
 * route_free). With personal set the certificate is looked up (certs, then
 * cached in store, as the filter does); certs may be NULL otherwise.
 * today is "YYYY-MM-DD".
 */
void route_explain(const struct config *cfg, const struct certs *certs, struct store *store,
		   const char *raw, size_t len, bool personal, const char *today,
		   struct route *out);
void route_free(struct route *r);

/* route_write_text - the block "sikkermail-ctl explain" prints for r. */
void route_write_text(FILE *out, const struct route *r);

/* route_write_json - r as one JSON object (RFC 8259, UTF-8) appended to sb. */
void route_write_json(struct strbuf *sb, const struct route *r);

/* route_cert_json - a certificate summary as a JSON object, kind as given, appended to sb. */
void route_cert_json(struct strbuf *sb, const struct cert_summary *cs, const char *kind);

/* json_string - s as a JSON string ("null" for NULL) appended to sb. */
void json_string(struct strbuf *sb, const char *s);

/* iso_time - unix time t as "YYYY-MM-DDTHH:MM:SSZ" into buf (at least 21 bytes). */
void iso_time(long long t, char *buf, size_t size);

#endif

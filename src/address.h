/*
 * address.h - normalise an envelope address (pure: no I/O, no logging).
 *
 * Turns what the MTA hands over ("<User@KP.DK.> NOTIFY=NEVER") into the
 * address that will actually be delivered to: angle brackets and ESMTP
 * parameters off, a source route (<@a,@b:u@c>) dropped as Postfix drops
 * it, the domain lower-cased, a trailing dot removed, an IDN domain turned
 * into its A-label (libidn2). A quoted local part is kept as written.
 * Forms that Postfix or Sendmail may re-route after us ('%' or '!' in the
 * local part; a quoted local part that, un-quoted, holds '@' or another
 * address special) are refused with ADDR_ROUTED rather than guessed at.
 */
#ifndef SIKKERMAIL_ADDRESS_H
#define SIKKERMAIL_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

enum addr_status {
	ADDR_OK,	/* local@domain, normalised */
	ADDR_NULL,	/* the null address <> (valid as a sender only) */
	ADDR_INVALID,	/* syntax, encoding, length: reply 5.1.3 */
	ADDR_ROUTED	/* %-hack, bang path, route in quotes: 5.1.3, never guessed */
};

#define ADDRESS_MAX 254		/* RFC 5321 path limit less the brackets */
#define ADDRESS_LOCAL_MAX 64	/* RFC 5321 local part limit */

struct address {
	char *local;	/* local part as written (quotes kept), NUL-free */
	char *domain;	/* lower-case A-label, no trailing dot */
	char *full;	/* "local@domain" */
};

/*
 * address_normalise - normalise raw[0..len). On ADDR_OK out is filled (free
 * with address_free); otherwise out is zeroed and *why (if non-NULL) points
 * to a static English explanation suitable for an SMTP reply.
 */
enum addr_status address_normalise(const char *raw, size_t len, struct address *out,
				   const char **why);
void address_free(struct address *a);

/*
 * domain_match - does domain (normalised) match a list entry? "kp.dk"
 * matches only kp.dk; ".kp.dk" matches kp.dk's subdomains (a.kp.dk,
 * b.a.kp.dk) and kp.dk itself. Comparison is on labels, so "evilkp.dk" and
 * "kp.dk.evil.com" never match.
 */
bool domain_match(const char *entry, const char *domain);

/*
 * domain_normalise - lower-case, drop one trailing dot, turn U-labels into
 * A-labels, check the syntax (LDH labels, 1..63 octets each, at most 253).
 * A leading dot is kept when allow_leading_dot is set (list entries).
 * Returns a new string or NULL (with *why set) if the domain is not valid.
 */
char *domain_normalise(const char *domain, bool allow_leading_dot, const char **why);

/*
 * domain_entry_normalise - a domain as a list or configuration entry
 * names it (InternalDomains, the tunnel, partner and freemail lists):
 * domain_normalise with a leading dot allowed, and a whole top-level
 * domain ("dk", ".dk", "com") refused, since it would cover every
 * organisation below it. NULL with *why (static, starting "is a whole"
 * for the top-level case) on refusal.
 */
char *domain_entry_normalise(const char *entry, const char **why);

#endif

/*
 * classify.c - address + lists + certificate -> recipient class.
 *
 * Exports classify_address, classification_free and today_string (see
 * classify.h). The rules of SPEC section 3 run in order, first match
 * wins: internal, tunnel, encrypted, partner, freemail, tls
 * (PreferEncryption swaps tunnel and encrypted). Each rule answers
 * match / no match / could not tell; "could not tell" (no store, a
 * database error, the certificate directory down) ends classification
 * with CLASS_UNKNOWN at once: a later rule must never decide for a
 * recipient an earlier, unanswered rule might have claimed.
 *
 * The evidence says why, in words a compliance officer can check: the
 * list entry with its organisation, source file and import date, or the
 * certificate. An expired partner agreement is not a match, but it is
 * mentioned in front of the evidence of the class that did match.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "certs.h"
#include "classify.h"
#include "lists.h"
#include "util.h"

enum step {
	STEP_NEXT,	/* no match: try the next rule */
	STEP_MATCH,	/* out is filled */
	STEP_RETRY	/* could not tell: out is CLASS_UNKNOWN */
};

struct classify_ctx {
	const struct config *cfg;
	const struct certs *certs;
	struct store *store;
	const struct list_snapshot *lists;
	const struct address *addr;
	bool need_cert;
	const char *today;
	char *note;		/* an expired partner agreement, for the final evidence */
	struct classification *out;
};

typedef enum step (*classify_step)(struct classify_ctx *c);

static enum step set_class(struct classify_ctx *c, enum rclass cls, char *evidence);
static void date_string(long long t, char buf[11]);
static char *entry_evidence(const char *list, const struct list_entry *e, const char *agreement);
static enum lookup lookup_list(struct classify_ctx *c, enum list_kind kind, struct list_entry *e);
static enum step step_internal(struct classify_ctx *c);
static enum step step_tunnel(struct classify_ctx *c);
static enum step step_encrypted(struct classify_ctx *c);
static enum step step_partner(struct classify_ctx *c);
static enum step step_freemail(struct classify_ctx *c);
static enum step step_tls(struct classify_ctx *c);

/* Labels for evidence text; "partners" reads oddly in a sentence. */
static const char *const list_label[LIST_COUNT] = {
	[LIST_TUNNEL] = "tunnel list",
	[LIST_PARTNERS] = "partner list",
	[LIST_FREEMAIL] = "freemail list",
};

static enum step set_class(struct classify_ctx *c, enum rclass cls, char *evidence)
{
	c->out->cls = cls;
	free(c->out->evidence);
	c->out->evidence = evidence;
	return cls == CLASS_UNKNOWN ? STEP_RETRY : STEP_MATCH;
}

void today_string(char buf[11])
{
	date_string((long long)time(NULL), buf);
}

/* date_string - t as the local date YYYY-MM-DD. */
static void date_string(long long t, char buf[11])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL || strftime(buf, 11, "%Y-%m-%d", &tm) != 10)
		strcpy(buf, "0000-00-00");
}

/*
 * entry_evidence - "tunnel list: .kommune.dk (Kommune; tunnel.txt,
 * imported 2025-01-02)"; agreement, when set, goes after the organisation.
 */
static char *entry_evidence(const char *list, const struct list_entry *e, const char *agreement)
{
	struct strbuf sb;
	char date[11];

	sb_init(&sb);
	sb_printf(&sb, "%s: %s (", list, e->domain);
	if (e->organisation != NULL && e->organisation[0] != '\0')
		sb_printf(&sb, "%s; ", e->organisation);
	if (agreement != NULL)
		sb_printf(&sb, "%s; ", agreement);
	sb_adds(&sb, e->source != NULL && e->source[0] != '\0' ? e->source : "unknown source");
	if (e->imported_at > 0) {
		date_string(e->imported_at, date);
		sb_printf(&sb, ", imported %s", date);
	}
	sb_addc(&sb, ')');
	return sb.s;
}

/* lookup_list - one list lookup; on LOOKUP_RETRY the class is already set to unknown. */
static enum lookup lookup_list(struct classify_ctx *c, enum list_kind kind, struct list_entry *e)
{
	enum lookup r = LOOKUP_RETRY;

	memset(e, 0, sizeof(*e));
	if (c->lists != NULL)
		r = list_snapshot_match(c->lists, kind, c->addr->domain, e);
	else if (c->store != NULL)
		r = store_list_match(c->store, kind, c->addr->domain, e);
	if (r == LOOKUP_RETRY)
		set_class(c, CLASS_UNKNOWN, xasprintf("%s unavailable", list_label[kind]));
	return r;
}

static enum step step_internal(struct classify_ctx *c)
{
	for (size_t i = 0; i < c->cfg->n_internal_domains; i++) {
		const char *entry = c->cfg->internal_domains[i];

		if (domain_match(entry, c->addr->domain))
			return set_class(c, CLASS_INTERNAL,
					 xasprintf("InternalDomains entry %s", entry));
	}
	return STEP_NEXT;
}

static enum step step_tunnel(struct classify_ctx *c)
{
	struct list_entry e;
	enum step s = STEP_NEXT;

	switch (lookup_list(c, LIST_TUNNEL, &e)) {
	case LOOKUP_FOUND:
		s = set_class(c, CLASS_TUNNEL, entry_evidence(list_label[LIST_TUNNEL], &e, NULL));
		list_entry_free(&e);
		break;
	case LOOKUP_RETRY:
		s = STEP_RETRY;
		break;
	default:
		break;
	}
	return s;
}

/* step_encrypted - only for a personal message: the answer costs an LDAP round trip. */
static enum step step_encrypted(struct classify_ctx *c)
{
	struct cert_summary cs;
	enum step s = STEP_NEXT;
	char date[11];

	if (!c->need_cert || c->certs == NULL)
		return STEP_NEXT;
	switch (certs_lookup(c->certs, c->store, c->addr, &cs)) {
	case LOOKUP_FOUND:
		c->out->cert_der = cs.der;
		c->out->cert_der_len = cs.der_len;
		cs.der = NULL;
		date_string(cs.not_after, date);
		s = set_class(c, CLASS_ENCRYPTED,
			      xasprintf("%s%s%scertificate %s (SHA-256 %s; expires %s; from %s)",
					cs.domain ? "domain certificate for " : "",
					cs.domain ? cs.domain : "", cs.domain ? ": " : "",
					cs.subject ? cs.subject : "(no subject)",
					cs.fingerprint ? cs.fingerprint : "?", date,
					cs.source ? cs.source : "?"));
		break;
	case LOOKUP_RETRY:
		s = set_class(c, CLASS_UNKNOWN, xstrdup("certificate directory unavailable"));
		break;
	default:
		break;
	}
	cert_summary_free(&cs);
	return s;
}

static enum step step_partner(struct classify_ctx *c)
{
	struct list_entry e;
	enum lookup r = lookup_list(c, LIST_PARTNERS, &e);
	enum step s = STEP_NEXT;
	char *agreement;

	if (r == LOOKUP_RETRY)
		return STEP_RETRY;
	if (r != LOOKUP_FOUND)
		return STEP_NEXT;
	if (e.dpa_expires != NULL && e.dpa_expires[0] != '\0')
		agreement = xasprintf("agreement expires %s", e.dpa_expires);
	else
		agreement = xstrdup("agreement without expiry");
	if (partner_agreement_valid(e.dpa_expires, c->today) > 0) {
		s = set_class(c, CLASS_PARTNER,
			      entry_evidence(list_label[LIST_PARTNERS], &e, agreement));
	} else {
		free(c->note);
		c->note = xasprintf("partner agreement expired %s (%s)", e.dpa_expires, e.domain);
	}
	free(agreement);
	list_entry_free(&e);
	return s;
}

static enum step step_freemail(struct classify_ctx *c)
{
	struct list_entry e;
	enum step s = STEP_NEXT;

	switch (lookup_list(c, LIST_FREEMAIL, &e)) {
	case LOOKUP_FOUND:
		s = set_class(c, CLASS_FREEMAIL,
			      entry_evidence(list_label[LIST_FREEMAIL], &e, NULL));
		list_entry_free(&e);
		break;
	case LOOKUP_RETRY:
		s = STEP_RETRY;
		break;
	default:
		break;
	}
	return s;
}

static enum step step_tls(struct classify_ctx *c)
{
	const char *what = c->note != NULL ? "no other list entry" : "no list entry";

	if (c->need_cert)
		return set_class(c, CLASS_TLS, xasprintf("%s, no valid certificate", what));
	return set_class(c, CLASS_TLS, xstrdup(what));
}

void classify_address(const struct config *cfg, const struct certs *certs, struct store *store,
		      const struct list_snapshot *lists, const struct address *addr,
		      bool need_cert, const char *today, struct classification *out)
{
	static const classify_step tunnel_first[] = {
		step_internal, step_tunnel, step_encrypted, step_partner, step_freemail, step_tls,
	};
	static const classify_step encryption_first[] = {
		step_internal, step_encrypted, step_tunnel, step_partner, step_freemail, step_tls,
	};
	const classify_step *steps = cfg->prefer_encryption ? encryption_first : tunnel_first;
	struct classify_ctx c = { cfg, certs, store, lists, addr, need_cert, today, NULL, out };
	char today_buf[11];
	enum step s = STEP_NEXT;

	out->cls = CLASS_UNKNOWN;
	out->evidence = NULL;
	out->cert_der = NULL;
	out->cert_der_len = 0;
	if (addr != NULL && addr->domain != NULL && addr->domain[0] == '\0' &&
	    addr->local != NULL && ascii_strcasecmp(addr->local, "postmaster") == 0) {
		/* RFC 5321 4.5.1: <postmaster> without a domain is this system's own */
		out->cls = CLASS_INTERNAL;
		out->evidence = xstrdup("postmaster without a domain (RFC 5321): local");
		return;
	}
	if (addr == NULL || addr->domain == NULL || addr->domain[0] == '\0') {
		out->evidence = xstrdup("address without a domain");
		return;
	}
	if (today == NULL) {
		today_string(today_buf);
		c.today = today_buf;
	}
	for (size_t i = 0; i < sizeof(tunnel_first) / sizeof(tunnel_first[0]); i++)
		if ((s = steps[i](&c)) != STEP_NEXT)
			break;
	if (c.note != NULL) {
		char *ev = xasprintf("%s; %s", c.note, out->evidence ? out->evidence : "");

		free(out->evidence);
		out->evidence = ev;
		free(c.note);
	}
}

void classification_free(struct classification *c)
{
	free(c->evidence);
	free(c->cert_der);
	c->evidence = NULL;
	c->cert_der = NULL;
	c->cert_der_len = 0;
}

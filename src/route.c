/*
 * route.c - one recipient's route: the answer "sikkermail-ctl explain"
 * prints and the web service (ctl_serve.c) sends as JSON.
 *
 * Exports route_explain, route_free, route_write_text, route_write_json,
 * route_cert_json, json_string and iso_time (route.h).
 *
 * route_explain does every lookup; the writers only render what it found.
 * The text is explain's, unchanged since before the web service: scripts
 * and tests read it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "address.h"
#include "classify.h"
#include "policy.h"
#include "route.h"

static bool settled_before_cert(const struct config *cfg, enum rclass cls);
static void route_cert(const struct config *cfg, const struct certs *certs, struct store *store,
		       const struct address *a, bool personal, struct route *r);
static void local_time(long long t, char *buf, size_t size);
static void json_action(struct strbuf *sb, const char *key, enum action act, const char *rule);
static void cert_fields(struct strbuf *sb, const struct cert_summary *cs, const char *kind);

void route_explain(const struct config *cfg, const struct certs *certs, struct store *store,
		   const char *raw, size_t len, bool personal, const char *today,
		   struct route *r)
{
	struct classification cl = { 0 };
	struct address a;
	enum addr_status st;

	memset(r, 0, sizeof(*r));
	r->given = xstrndup(raw, len);
	r->cls = CLASS_UNKNOWN;
	r->mode = (enum mode)cfg->mode;
	st = address_normalise(raw, len, &a, &r->why);
	if (st != ADDR_OK) {
		r->status = st == ADDR_ROUTED ? ROUTE_REFUSED : ROUTE_INVALID;
		if (r->why == NULL)
			r->why = "not a recipient address";
		address_free(&a);
		return;
	}
	r->status = ROUTE_OK;
	r->normalised = xstrdup(a.full);
	classify_address(cfg, certs, store, NULL, &a, personal, today, &cl);
	r->cls = cl.cls;
	r->evidence = cl.evidence ? xstrdup(cl.evidence) : NULL;
	route_cert(cfg, certs, store, &a, personal, r);
	r->personal_action = policy_rcpt_action(cfg, true, r->cls, &r->personal_rule);
	r->other_action = policy_rcpt_action(cfg, false, r->cls, &r->other_rule);
	if (r->cls == CLASS_UNKNOWN) {
		if (strcmp(store_errmsg(store), "no error") != 0)
			r->error = xstrdup(store_errmsg(store));
		r->tempfail = true;
	}
	classification_free(&cl);
	address_free(&a);
}

/* settled_before_cert - does this class win before a certificate is looked up? (SPEC 3) */
static bool settled_before_cert(const struct config *cfg, enum rclass cls)
{
	return cls == CLASS_INTERNAL || (cls == CLASS_TUNNEL && !cfg->prefer_encryption);
}

/* route_cert - the certificate the filter would look at for a personal message to a. */
static void route_cert(const struct config *cfg, const struct certs *certs, struct store *store,
		       const struct address *a, bool personal, struct route *r)
{
	enum lookup l;

	if (settled_before_cert(cfg, r->cls)) {
		r->cert_status = ROUTE_CERT_NOT_NEEDED;
		return;
	}
	if (!personal || certs == NULL) {
		r->cert_status = ROUTE_CERT_NOT_ASKED;
		return;
	}
	l = certs_lookup(certs, store, a, &r->cert);
	if (l == LOOKUP_RETRY) {
		r->cert_status = ROUTE_CERT_RETRY;
		r->tempfail = true;
	} else if (l == LOOKUP_NOTFOUND) {
		r->cert_status = ROUTE_CERT_NONE;
	} else {
		r->cert_status = ROUTE_CERT_FOUND;
		r->cert_kind = r->cert.domain != NULL ? "domain" : "personal";
	}
}

void route_free(struct route *r)
{
	free(r->given);
	free(r->normalised);
	free(r->evidence);
	free(r->error);
	cert_summary_free(&r->cert);
	memset(r, 0, sizeof(*r));
}

/* ------------------------------------------------------------ text */

void route_write_text(FILE *out, const struct route *r)
{
	char when[32];

	fprintf(out, "address: %s\n", r->given);
	if (r->status != ROUTE_OK) {
		fprintf(out, "  %s: %s\n", r->status == ROUTE_REFUSED ? "refused" : "invalid",
			r->why);
		fprintf(out, "  action: a recipient like this is refused at RCPT TO (5.1.3)\n");
		return;
	}
	if (strcmp(r->normalised, r->given) != 0)
		fprintf(out, "  normalised: %s\n", r->normalised);
	fprintf(out, "  class: %s\n", rclass_name(r->cls));
	fprintf(out, "  evidence: %s\n", r->evidence ? r->evidence : "-");
	switch (r->cert_status) {
	case ROUTE_CERT_NOT_NEEDED:
		fprintf(out, "  certificate: not needed (class %s comes before encrypted)\n",
			rclass_name(r->cls));
		break;
	case ROUTE_CERT_NOT_ASKED:
		fprintf(out, "  certificate: the certificate directory was not consulted"
			     " (with --personal it is; a valid certificate makes the class"
			     " encrypted)\n");
		break;
	case ROUTE_CERT_RETRY:
		fprintf(out, "  certificate: lookup failed (temporary)\n");
		break;
	case ROUTE_CERT_NONE:
		fprintf(out, "  certificate: no valid certificate known for this address\n");
		break;
	case ROUTE_CERT_FOUND:
		local_time(r->cert.not_after, when, sizeof(when));
		fprintf(out, "  certificate: %s%s; subject %s; SHA-256 %s; expires %s; from %s\n",
			r->cert.domain ? "domain " : "personal",
			r->cert.domain ? r->cert.domain : "",
			r->cert.subject ? r->cert.subject : "-",
			r->cert.fingerprint ? r->cert.fingerprint : "-", when,
			r->cert.source ? r->cert.source : "-");
		break;
	}
	fprintf(out, "  personal message: %s (rule %s)\n", action_name(r->personal_action),
		r->personal_rule);
	fprintf(out, "  other message: %s (rule %s)\n", action_name(r->other_action),
		r->other_rule);
	if (r->mode == MODE_MONITOR)
		fprintf(out, "  mode: monitor (the action is logged and tagged, not applied)\n");
	if (r->error != NULL)
		fprintf(out, "  error: %s\n", r->error);
}

static void local_time(long long t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL || strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, size, "%lld", t);
}

/* ------------------------------------------------------------ JSON */

static const char *const cert_status_names[] = {
	[ROUTE_CERT_NOT_NEEDED] = "not-needed",
	[ROUTE_CERT_NOT_ASKED] = "not-consulted",
	[ROUTE_CERT_RETRY] = "lookup-failed",
	[ROUTE_CERT_NONE] = "none",
	[ROUTE_CERT_FOUND] = "found",
};

void route_write_json(struct strbuf *sb, const struct route *r)
{
	static const char *const status_names[] = {
		[ROUTE_OK] = "ok", [ROUTE_INVALID] = "invalid", [ROUTE_REFUSED] = "refused",
	};
	bool ok = r->status == ROUTE_OK;

	sb_adds(sb, "{\"address\":");
	json_string(sb, r->given);
	sb_adds(sb, ",\"normalised\":");
	json_string(sb, r->normalised);
	sb_printf(sb, ",\"valid\":%s,\"status\":\"%s\",\"why\":", ok ? "true" : "false",
		  status_names[r->status]);
	json_string(sb, ok ? NULL : r->why);
	sb_adds(sb, ",\"rcpt_reply\":");
	json_string(sb, ok ? NULL : "5.1.3");
	sb_adds(sb, ",\"class\":");
	json_string(sb, ok ? rclass_name(r->cls) : NULL);
	sb_adds(sb, ",\"evidence\":");
	json_string(sb, ok ? r->evidence : NULL);
	sb_adds(sb, ",\"certificate\":");
	if (!ok) {
		sb_adds(sb, "null");
	} else {
		sb_printf(sb, "{\"status\":\"%s\"", cert_status_names[r->cert_status]);
		if (r->cert_status == ROUTE_CERT_FOUND)
			cert_fields(sb, &r->cert, r->cert_kind);
		sb_addc(sb, '}');
	}
	if (ok) {
		json_action(sb, "personal_message", r->personal_action, r->personal_rule);
		json_action(sb, "other_message", r->other_action, r->other_rule);
	} else {
		sb_adds(sb, ",\"personal_message\":null,\"other_message\":null");
	}
	sb_printf(sb, ",\"mode\":\"%s\",\"error\":", mode_name(r->mode));
	json_string(sb, r->error);
	sb_printf(sb, ",\"tempfail\":%s}", r->tempfail ? "true" : "false");
}

static void json_action(struct strbuf *sb, const char *key, enum action act, const char *rule)
{
	sb_printf(sb, ",\"%s\":{\"action\":\"%s\",\"rule\":", key, action_name(act));
	json_string(sb, rule);
	sb_addc(sb, '}');
}

void route_cert_json(struct strbuf *sb, const struct cert_summary *cs, const char *kind)
{
	sb_adds(sb, "{\"status\":\"found\"");
	cert_fields(sb, cs, kind);
	sb_addc(sb, '}');
}

/* cert_fields - the members of a certificate object, each after a comma. */
static void cert_fields(struct strbuf *sb, const struct cert_summary *cs, const char *kind)
{
	char nb[32], na[32], fetched[32];

	iso_time(cs->not_before, nb, sizeof(nb));
	iso_time(cs->not_after, na, sizeof(na));
	iso_time(cs->fetched_at, fetched, sizeof(fetched));
	sb_adds(sb, ",\"kind\":");
	json_string(sb, kind);
	sb_adds(sb, ",\"domain\":");
	json_string(sb, cs->domain);
	sb_adds(sb, ",\"subject\":");
	json_string(sb, cs->subject);
	sb_adds(sb, ",\"issuer\":");
	json_string(sb, cs->issuer);
	sb_adds(sb, ",\"fingerprint_sha256\":");
	json_string(sb, cs->fingerprint);
	sb_printf(sb, ",\"not_before\":\"%s\",\"not_after\":\"%s\",\"source\":", nb, na);
	json_string(sb, cs->source);
	sb_adds(sb, ",\"fetched_at\":");
	json_string(sb, cs->fetched_at > 0 ? fetched : NULL);
	sb_printf(sb, ",\"from_cache\":%s", cs->from_cache ? "true" : "false");
}

/*
 * json_string - RFC 8259 escapes; a byte that is not part of well-formed
 * UTF-8 becomes U+FFFD, so that the answer is always valid JSON.
 */
void json_string(struct strbuf *sb, const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *end;
	size_t n;

	if (s == NULL) {
		sb_adds(sb, "null");
		return;
	}
	end = p + strlen(s);
	sb_addc(sb, '"');
	while (*p != '\0') {
		if (*p == '"' || *p == '\\') {
			sb_addc(sb, '\\');
			sb_addc(sb, *p++);
		} else if (*p < 0x20 || *p == 0x7f) {
			sb_printf(sb, "\\u%04x", *p++);
		} else if (*p < 0x80) {
			sb_addc(sb, *p++);
		} else if ((n = utf8_decode(p, (size_t)(end - p), NULL)) == 0) {
			sb_adds(sb, "\\ufffd");
			p++;
		} else {
			sb_addmem(sb, p, n);
			p += n;
		}
	}
	sb_addc(sb, '"');
}

void iso_time(long long t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "%lld", t);
}

/*
 * ctl_cert.c - sikkermail-ctl's certificate commands:
 *
 *   cert ADDRESS...          ask the directory now, show what it holds for
 *                            each address (usable or why not), cache it
 *   cache stats              what the certificate cache holds
 *   cache purge [ADDRESS...] forget every cached answer, or these
 *
 * Exports ctl_cert, ctl_cache and ctl_certs_start (ctl.h).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "address.h"
#include "certs.h"
#include "ctl.h"
#include "log.h"
#include "store.h"
#include "util.h"

static int cert_one(struct ctl *c, struct store *s, const char *raw);
static void print_time(FILE *out, const char *label, long long t);
static struct store *open_rw(struct ctl *c);

int ctl_certs_start(struct ctl *c)
{
	char *err = NULL;

	if (c->certs != NULL)
		return 0;
	if ((c->certs = certs_new(c->cfg, &err)) == NULL) {
		msg_error("certificates: %s", err ? err : "cannot initialise");
		free(err);
		return -1;
	}
	return 0;
}

static struct store *open_rw(struct ctl *c)
{
	return ctl_open_store(c, STORE_RW);
}

int ctl_cert(struct ctl *c, int argc, char **argv)
{
	struct store *s;
	int rc = CTL_EX_OK, r;

	if (argc < 2)
		return ctl_usage_error("cert: which address?");
	if (c->cfg->n_ldap_uri == 0) {
		msg_error("cert: no certificate directory configured (LDAPURI)");
		return CTL_EX_ERROR;
	}
	if (ctl_certs_start(c) != 0)
		return CTL_EX_ERROR;
	if ((s = open_rw(c)) == NULL)
		return CTL_EX_TEMPFAIL;
	for (int i = 1; i < argc; i++)
		if ((r = cert_one(c, s, argv[i])) != CTL_EX_OK && rc != CTL_EX_TEMPFAIL)
			rc = r;
	store_close(s);
	return rc;
}

/* cert_one - look one address up now and show the answer. */
static int cert_one(struct ctl *c, struct store *s, const char *raw)
{
	struct address a;
	struct cert_summary cs;
	const char *why = NULL;
	enum lookup r;

	if (address_normalise(raw, strlen(raw), &a, &why) != ADDR_OK) {
		msg_error("%s: %s", raw, why ? why : "not a valid address");
		return CTL_EX_ERROR;
	}
	fprintf(c->out, "%s\n", a.full);
	r = certs_lookup_now(c->certs, s, &a, &cs);
	for (size_t i = 0; i < cs.rejected.n; i++)
		fprintf(c->out, "  not usable: %s\n", cs.rejected.v[i]);
	if (r == LOOKUP_RETRY || cs.stale) {
		fprintf(c->out, "  directory unavailable: %s\n", cs.error ? cs.error : "?");
		if (cs.stale) {
			print_time(c->out, "  cached answer (stale), fetched ", cs.fetched_at);
			r = LOOKUP_RETRY;
		}
	} else if (r == LOOKUP_NOTFOUND) {
		fprintf(c->out, "  no usable certificate (from %s); cached for %lds\n",
			cs.source ? cs.source : "-", c->cfg->negative_ttl);
	} else {
		fprintf(c->out, "  usable certificate (from %s)\n", cs.source ? cs.source : "-");
		fprintf(c->out, "  subject:     %s\n", cs.subject ? cs.subject : "-");
		fprintf(c->out, "  issuer:      %s\n", cs.issuer ? cs.issuer : "-");
		fprintf(c->out, "  sha256:      %s\n", cs.fingerprint ? cs.fingerprint : "-");
		print_time(c->out, "  not before:  ", cs.not_before);
		print_time(c->out, "  not after:   ", cs.not_after);
	}
	cert_summary_free(&cs);
	address_free(&a);
	return r == LOOKUP_RETRY ? CTL_EX_TEMPFAIL : CTL_EX_OK;
}

static void print_time(FILE *out, const char *label, long long t)
{
	char buf[32] = "-";
	time_t tt = (time_t)t;
	struct tm tm;

	if (t > 0 && gmtime_r(&tt, &tm) != NULL)
		strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
	fprintf(out, "%s%s\n", label, buf);
}

int ctl_cache(struct ctl *c, int argc, char **argv)
{
	struct cert_cache_stats st;
	struct store *s;
	long removed, total = 0;
	int rc = CTL_EX_OK;

	if (argc < 2 || (strcmp(argv[1], "stats") != 0 && strcmp(argv[1], "purge") != 0))
		return ctl_usage_error("cache: stats or purge?");
	if (strcmp(argv[1], "stats") == 0 && argc != 2)
		return ctl_usage_error("cache stats takes no arguments");
	if ((s = open_rw(c)) == NULL)
		return CTL_EX_TEMPFAIL;
	if (strcmp(argv[1], "stats") == 0) {
		if (store_cert_stats(s, (long long)time(NULL), &st) != 0) {
			msg_error("%s", store_errmsg(s));
			rc = CTL_EX_TEMPFAIL;
		} else {
			fprintf(c->out, "entries:      %ld\n", st.entries);
			fprintf(c->out, "certificates: %ld\n", st.found);
			fprintf(c->out, "none found:   %ld\n", st.not_found);
			fprintf(c->out, "fresh:        %ld\n", st.fresh);
			fprintf(c->out, "stale:        %ld\n", st.entries - st.fresh);
			print_time(c->out, "oldest fetch: ", st.oldest_fetch);
			print_time(c->out, "newest fetch: ", st.newest_fetch);
		}
	} else {
		for (int i = 2; i < argc || (argc == 2 && i == 2); i++) {
			struct address a;
			const char *addr = NULL;

			if (argc > 2) {
				if (address_normalise(argv[i], strlen(argv[i]), &a, NULL) != ADDR_OK) {
					msg_error("%s: not a valid address", argv[i]);
					rc = CTL_EX_ERROR;
					continue;
				}
				addr = a.full;
			}
			if (store_cert_purge(s, addr, &removed) != 0) {
				msg_error("%s", store_errmsg(s));
				rc = CTL_EX_TEMPFAIL;
			}
			total += removed;
			if (addr != NULL)
				address_free(&a);
		}
		fprintf(c->out, "removed %ld cached answer%s\n", total, total == 1 ? "" : "s");
	}
	store_close(s);
	return rc;
}

/*
 * ctl_cert.c - sikkermail-ctl's certificate commands:
 *
 *   cert ADDRESS...          ask the directory now, show what it holds for
 *                            each address (usable or why not), cache it
 *   cache stats              what the certificate cache holds
 *   cache purge [ADDRESS...] forget every cached answer, or these
 *   import domain-certs FILE replace the imported domain certificates
 *   list domain-certs        show them, with where each came from
 *
 * Exports ctl_cert, ctl_cache, ctl_certs_start, ctl_import_domain_certs
 * and ctl_list_domain_certs (ctl.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "address.h"
#include "certcheck.h"
#include "certs.h"
#include "ctl.h"
#include "domcerts.h"
#include "log.h"
#include "store.h"
#include "util.h"

static int cert_one(struct ctl *c, struct store *s, const char *raw);
static void print_time(FILE *out, const char *label, long long t);
static struct store *open_rw(struct ctl *c);
static int read_file(const char *file, struct strbuf *text);

/* An import file larger than this is a mistake. */
#define DOMCERTS_MAX (16L * 1024 * 1024)

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
	if (c->cfg->n_ldap_uri == 0 && !c->cfg->domain_certificates) {
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
		if (cs.domain != NULL)
			fprintf(c->out, "  kind:        domain certificate for %s\n", cs.domain);
		else
			fprintf(c->out, "  kind:        personal\n");
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
			fprintf(c->out, "personal:     %ld (%ld with a certificate)\n",
				st.entries - st.domain, st.found - st.domain_found);
			fprintf(c->out, "domain:       %ld (%ld with a certificate)\n", st.domain,
				st.domain_found);
			print_time(c->out, "oldest fetch: ", st.oldest_fetch);
			print_time(c->out, "newest fetch: ", st.newest_fetch);
		}
	} else {
		for (int i = 2; i < argc || (argc == 2 && i == 2); i++) {
			struct address a;
			const char *addr = NULL;
			char *domain = NULL;

			if (argc > 2 && argv[i][0] == '@') {
				/* a domain's own answer (DomainCertificates), kept as "@domain" */
				char *d = domain_normalise(argv[i] + 1, false, NULL);

				if (d == NULL) {
					msg_error("%s: not a valid domain", argv[i]);
					rc = CTL_EX_ERROR;
					continue;
				}
				addr = domain = xasprintf("@%s", d);
				free(d);
			} else if (argc > 2) {
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
			if (domain != NULL)
				free(domain);
			else if (addr != NULL)
				address_free(&a);
		}
		fprintf(c->out, "removed %ld cached answer%s\n", total, total == 1 ? "" : "s");
	}
	store_close(s);
	return rc;
}

/* ------------------------------------------------ domain certificates */

/*
 * ctl_import_domain_certs - import domain-certs FILE: judge every
 * certificate of FILE now and replace the imported set with it, all or
 * nothing.
 */
int ctl_import_domain_certs(struct ctl *c, int argc, char **argv)
{
	struct domain_certs l = { 0 };
	struct certcheck *cc = NULL;
	struct strlist errors;
	struct strbuf text;
	struct store *s = NULL;
	char path[PATH_MAX], *err = NULL;
	const char *file, *name, *src;
	int rc = CTL_EX_ERROR;

	if (argc != 3)
		return ctl_usage_error("import: expected import domain-certs FILE");
	file = argv[2];
	name = strcmp(file, "-") == 0 ? "(stdin)" : file;
	src = strcmp(file, "-") == 0 ? "(stdin)" : realpath(file, path) != NULL ? path : file;
	strlist_init(&errors);
	sb_init(&text);
	if ((cc = certcheck_new(c->cfg, &err)) == NULL) {
		msg_error("import domain-certs: %s; nothing imported", err ? err : "?");
		goto out;
	}
	if (read_file(file, &text) < 0)
		goto out;
	if (domcerts_parse(name, text.s, text.len, cc, time(NULL), &l, &errors) != 0) {
		for (size_t i = 0; i < errors.n; i++)
			msg_error("%s", errors.v[i]);
		msg_error("%s: %zu error%s; nothing imported, the domain certificates are "
			  "unchanged", name, errors.n, errors.n == 1 ? "" : "s");
		goto out;
	}
	for (size_t i = 0; i < l.n; i++)
		l.v[i].source = xstrdup(src);
	rc = CTL_EX_TEMPFAIL;
	if ((s = open_rw(c)) == NULL) {
		msg_error("nothing imported");
		goto out;
	}
	if (store_domain_certs_replace(s, &l, (long long)time(NULL), &err) != 0) {
		msg_error("%s; nothing imported", err);
		goto out;
	}
	rc = CTL_EX_OK;
	fprintf(c->out, "imported %zu domain certificate%s from %s\n", l.n, l.n == 1 ? "" : "s",
		name);
	if (!c->cfg->domain_certificates)
		msg_warn("DomainCertificates is off: the imported certificates are not used");
	msg_notice("import list=domain-certs entries=%zu source=%s database=%s", l.n, name,
		   c->database);
out:
	free(err);
	store_close(s);
	certcheck_free(cc);
	domain_certs_free(&l);
	strlist_free(&errors);
	sb_free(&text);
	return rc;
}

/* ctl_list_domain_certs - one tab-separated line per imported certificate. */
int ctl_list_domain_certs(struct ctl *c, int argc, char **argv)
{
	struct domain_certs l;
	struct store *s;
	enum lookup r;

	(void)argv;
	if (argc != 2)
		return ctl_usage_error("list: expected list domain-certs");
	if ((s = ctl_open_store(c, STORE_RO)) == NULL)
		return CTL_EX_TEMPFAIL;
	r = store_domain_certs_get(s, NULL, &l);
	if (r == LOOKUP_RETRY) {
		msg_error("%s", store_errmsg(s));
		store_close(s);
		return CTL_EX_TEMPFAIL;
	}
	for (size_t i = 0; i < l.n; i++) {
		const struct domain_cert *d = &l.v[i];
		char expires[32] = "-", when[32] = "-";
		time_t t;
		struct tm tm;

		t = (time_t)d->not_after;
		if (gmtime_r(&t, &tm) != NULL)
			strftime(expires, sizeof(expires), "%Y-%m-%d", &tm);
		t = (time_t)d->imported_at;
		if (gmtime_r(&t, &tm) != NULL)
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
		fprintf(c->out, "%s\t%s\t%s\t%s\t%s:%ld\t%s\n", d->domain,
			d->subject ? d->subject : "-", d->fingerprint ? d->fingerprint : "-",
			expires, d->source ? d->source : "-", d->line, when);
	}
	domain_certs_free(&l);
	store_close(s);
	return CTL_EX_OK;
}

/* read_file - the whole file (or stdin for "-") into text; -1 after saying why. */
static int read_file(const char *file, struct strbuf *text)
{
	FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
	char buf[65536];
	size_t n;
	int rc = 0;

	if (f == NULL) {
		msg_error("cannot open %s: %s", file, strerror(errno));
		return -1;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if ((long)(text->len + n) > DOMCERTS_MAX) {
			msg_error("cannot read %s: larger than 16 MB", file);
			rc = -1;
			break;
		}
		sb_addmem(text, buf, n);
	}
	if (rc == 0 && ferror(f)) {
		msg_error("cannot read %s: %s", file, strerror(errno));
		rc = -1;
	}
	if (f != stdin)
		fclose(f);
	return rc;
}

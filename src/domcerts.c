/*
 * domcerts.c - read a file of domain certificates (the format is in
 * domcerts.h) and judge each certificate for its domain.
 *
 * Exports domcerts_parse.
 *
 * The file is read line by line; a PEM block is gathered from its BEGIN
 * line to its END line and decoded by OpenSSL. Every problem is reported
 * with the line it is on (for a certificate, its BEGIN line), and the
 * whole file is refused if there is any.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "address.h"
#include "domcerts.h"
#include "util.h"

#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define PEM_END "-----END CERTIFICATE-----"

/* The state of one parse. */
struct parse {
	const char *name;
	struct certcheck *cc;
	time_t now;
	struct domain_certs *out;
	struct strlist *errors;
	char *domain;		/* the current domain line's, normalised; NULL: none (yet) */
	long domain_line;
	size_t domain_certs;	/* certificates seen for it, valid or not */
};

static void add_cert(struct parse *p, const char *pem, size_t len, long line);
static void end_domain(struct parse *p);
static char *trim(char *s);
static const struct domain_cert *find(const struct domain_certs *l, const char *domain,
				      const char *fingerprint);

int domcerts_parse(const char *name, const char *text, size_t len, struct certcheck *cc,
		   time_t now, struct domain_certs *out, struct strlist *errors)
{
	struct parse p = { name, cc, now, out, errors, NULL, 0, 0 };
	struct strbuf pem;
	long lineno = 0, pem_line = 0;
	size_t errors_before = errors->n;
	const char *s = text, *end = text + len;

	memset(out, 0, sizeof(*out));
	sb_init(&pem);
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
		char *line = xstrndup(s, n), *t;

		s += n + (nl != NULL);
		lineno++;
		if (strlen(line) != n) {
			strlist_addf(errors, "%s:%ld: a NUL byte in the line", name, lineno);
			free(line);
			continue;
		}
		t = trim(line);
		if (pem_line != 0) {
			sb_adds(&pem, t);
			sb_addc(&pem, '\n');
			if (strcmp(t, PEM_END) == 0) {
				add_cert(&p, pem.s, pem.len, pem_line);
				sb_reset(&pem);
				pem_line = 0;
			}
		} else if (*t == '\0' || *t == '#') {
			/* blank or comment */
		} else if (strcmp(t, PEM_BEGIN) == 0) {
			if (p.domain == NULL && p.domain_line == 0)
				strlist_addf(errors, "%s:%ld: a certificate before any \"domain\" "
					     "line", name, lineno);
			pem_line = lineno;
			sb_adds(&pem, t);
			sb_addc(&pem, '\n');
		} else if (strncmp(t, "domain", 6) == 0 && (t[6] == ' ' || t[6] == '\t')) {
			const char *why = NULL;
			char *d = trim(t + 7);

			end_domain(&p);
			p.domain_line = lineno;
			if (*d == '\0' || strpbrk(d, " \t") != NULL) {
				strlist_addf(errors, "%s:%ld: expected \"domain NAME\"", name,
					     lineno);
			} else if ((p.domain = domain_normalise(d, false, &why)) == NULL) {
				strlist_addf(errors, "%s:%ld: %s: %s", name, lineno, d,
					     why ? why : "not a valid domain");
			} else if (strchr(p.domain, '.') == NULL) {
				strlist_addf(errors, "%s:%ld: %s is a whole top-level domain", name,
					     lineno, d);
			}
		} else {
			strlist_addf(errors, "%s:%ld: expected \"domain NAME\" or a PEM "
				     "certificate", name, lineno);
		}
		free(line);
	}
	if (pem_line != 0)
		strlist_addf(errors, "%s:%ld: the certificate has no \"" PEM_END "\" line", name,
			     pem_line);
	end_domain(&p);
	sb_free(&pem);
	if (errors->n > errors_before) {
		domain_certs_free(out);
		return -1;
	}
	return 0;
}

/* end_domain - the domain line in force ends: it must have had a certificate. */
static void end_domain(struct parse *p)
{
	if (p->domain_line != 0 && p->domain_certs == 0)
		strlist_addf(p->errors, "%s:%ld: no certificate for %s", p->name, p->domain_line,
			     p->domain ? p->domain : "the domain");
	free(p->domain);
	p->domain = NULL;
	p->domain_line = 0;
	p->domain_certs = 0;
}

/* add_cert - decode one PEM block and judge it for the current domain. */
static void add_cert(struct parse *p, const char *pem, size_t len, long line)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	unsigned char *der = NULL;
	struct cert_choice desc;
	char *reason = NULL;
	int der_len, rc;

	BIO_free(b);
	ERR_clear_error();
	p->domain_certs++;
	if (p->domain == NULL) {
		X509_free(x);
		return;	/* the domain line (or its absence) is reported already */
	}
	if (x == NULL || (der_len = i2d_X509(x, &der)) <= 0) {
		strlist_addf(p->errors, "%s:%ld: not a PEM certificate (it cannot be decoded)",
			     p->name, line);
		X509_free(x);
		ERR_clear_error();
		return;
	}
	X509_free(x);
	rc = certcheck_check_der(p->cc, p->domain, der, (size_t)der_len, p->now, &reason);
	if (rc != 1) {
		strlist_addf(p->errors, "%s:%ld: the certificate for %s is %s: %s", p->name, line,
			     p->domain, rc == 0 ? "not valid" : "cannot be judged now",
			     reason ? reason : "?");
	} else if (certcheck_parse_one(der, (size_t)der_len, &desc, &reason) == 1) {
		struct domain_cert *d;
		const struct domain_cert *twin = find(p->out, p->domain, desc.fingerprint);

		if (twin != NULL) {
			/* the database keeps one per domain: a repeat would be counted, not kept */
			strlist_addf(p->errors, "%s:%ld: the same certificate for %s as on line %ld",
				     p->name, line, p->domain, twin->line);
			cert_choice_free(&desc);
			free(reason);
			OPENSSL_free(der);
			return;
		}
		p->out->v = xrealloc(p->out->v, (p->out->n + 1) * sizeof(*p->out->v));
		d = &p->out->v[p->out->n++];
		memset(d, 0, sizeof(*d));
		d->domain = xstrdup(p->domain);
		d->der = desc.der;
		d->der_len = desc.der_len;
		desc.der = NULL;
		d->subject = desc.subject ? xstrdup(desc.subject) : NULL;
		d->fingerprint = xstrdup(desc.fingerprint ? desc.fingerprint : "?");
		d->not_after = (long long)desc.not_after;
		d->line = line;
		cert_choice_free(&desc);
	} else {
		strlist_addf(p->errors, "%s:%ld: %s", p->name, line, reason ? reason : "?");
	}
	free(reason);
	OPENSSL_free(der);
}

/* find - the certificate of l with this domain and fingerprint, or NULL. */
static const struct domain_cert *find(const struct domain_certs *l, const char *domain,
				      const char *fingerprint)
{
	for (size_t i = 0; fingerprint != NULL && i < l->n; i++)
		if (strcmp(l->v[i].domain, domain) == 0 && l->v[i].fingerprint != NULL &&
		    strcmp(l->v[i].fingerprint, fingerprint) == 0)
			return &l->v[i];
	return NULL;
}

/* trim - s without leading and trailing blanks (and a CR), in place. */
static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

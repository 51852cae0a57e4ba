/*
 * domcerts.h - the file of domain certificates an administrator imports
 * with sikkermail-ctl import domain-certs (DomainCertificates).
 *
 * The format, for writing by hand:
 *
 *	# comments and blank lines are ignored
 *	domain partner.dk
 *	-----BEGIN CERTIFICATE-----
 *	...
 *	-----END CERTIFICATE-----
 *
 * A "domain NAME" line names the domain (UTF-8 or IDNA, normalised as the
 * lists normalise it) of the PEM certificates that follow it, up to the
 * next domain line; each domain has at least one, and none twice. Every
 * certificate must be valid for its domain now, by the rules of
 * certcheck.h: it names the domain, is in its validity period, allows
 * encryption and chains to TrustedCAFile (intermediates belong there, not
 * in this file).
 */
#ifndef SIKKERMAIL_DOMCERTS_H
#define SIKKERMAIL_DOMCERTS_H

#include <stddef.h>
#include <time.h>

#include "certcheck.h"
#include "store.h"
#include "util.h"

/*
 * domcerts_parse - parse text (len bytes) read from the file called name
 * and judge every certificate with cc at now. 0 with out filled (source
 * left NULL); else -1 with one "NAME:LINE: reason" per bad line or
 * certificate in errors and out empty: an import is all or nothing.
 */
int domcerts_parse(const char *name, const char *text, size_t len, struct certcheck *cc,
		   time_t now, struct domain_certs *out, struct strlist *errors);

#endif

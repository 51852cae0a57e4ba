/*
 * classify.h - address + lists + certificate -> recipient class.
 *
 * Order (SPEC section 3), first match wins: internal (InternalDomains),
 * tunnel (list), encrypted (valid certificate), partner (list, agreement
 * not expired), freemail (list), tls. PreferEncryption puts encrypted
 * before tunnel. The certificate is only looked up when need_cert is set
 * (a personal message) and the cheaper rules did not settle the class.
 * A lookup that fails temporarily yields CLASS_UNKNOWN, never "not found".
 */
#ifndef SIKKERMAIL_CLASSIFY_H
#define SIKKERMAIL_CLASSIFY_H

#include <stdbool.h>

#include "address.h"
#include "certs.h"
#include "config.h"
#include "sikkermail.h"
#include "listcache.h"
#include "store.h"

struct classification {
	enum rclass cls;
	char *evidence;		/* owned; human-readable why */
	unsigned char *cert_der;	/* owned; CLASS_ENCRYPTED: the certificate to encrypt to */
	size_t cert_der_len;
};

/*
 * classify_address - classify one normalised address. The lists are read
 * from the snapshot lists when there is one (listcache.h), else from
 * store; with neither, list lookups count as temporary failures. store is
 * also the certificate cache. certs NULL means nobody has a certificate.
 * today is "YYYY-MM-DD" (partner agreement expiry).
 */
void classify_address(const struct config *cfg, const struct certs *certs, struct store *store,
		      const struct list_snapshot *lists, const struct address *addr,
		      bool need_cert, const char *today, struct classification *out);

void classification_free(struct classification *c);

/* today_string - the local date as YYYY-MM-DD into buf[11]. */
void today_string(char buf[11]);

#endif

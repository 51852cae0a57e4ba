/*
 * directory.h - look up S/MIME certificates for an address in LDAP
 * directories (SPEC section 6). The only module that speaks LDAP.
 *
 * A struct directory holds a copy of the LDAP settings of one
 * configuration snapshot and a small pool of connections per server. It
 * is created without network I/O and is safe to share between threads:
 * each lookup borrows one connection, which no other thread touches until
 * it is returned (or discarded after an error).
 *
 * directory_lookup answers, for one address:
 *   LOOKUP_FOUND     one or more certificate values (out->values), raw as
 *                    the directory holds them; certcheck judges them;
 *   LOOKUP_NOTFOUND  no entry, or entries without certificates;
 *   LOOKUP_RETRY     every server failed, timed out or answered nonsense;
 *                    out->error says why. Never read as "not found".
 *
 * Servers (LDAPURI) are tried in order. A server that fails is skipped
 * for a back-off period (5 s, doubling to 60 s) while another server is
 * healthy; a lookup tries the servers in back-off only after the healthy
 * ones have failed. One lookup never takes longer than LDAPTimeout in
 * total (connect, StartTLS, TLS, bind and search, over all servers).
 *
 * TLS: ldaps:// servers, and with LDAPStartTLS ldap:// servers, must show
 * a certificate that chains to LDAPCACertFile and names the host; with
 * LDAPStartTLS a server that refuses StartTLS or fails the handshake has
 * failed (RETRY or the next server), and nothing goes to it in the clear.
 */
#ifndef SIKKERMAIL_DIRECTORY_H
#define SIKKERMAIL_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "config.h"
#include "sikkermail.h"

/* Entries one search may return; more are ignored (with a warning). */
#define DIR_SIZE_LIMIT 20
/* Certificate values kept from one search. */
#define DIR_MAX_VALUES 100
/* Back-off after a server failure: first, and the cap it doubles to. */
#define DIR_BACKOFF_MIN 5
#define DIR_BACKOFF_MAX 60

enum dir_value_kind {
	DIR_X509_DER,	/* userCertificate(;binary): one DER certificate */
	DIR_PKCS7_DER	/* userSMIMECertificate: a DER PKCS#7 bundle */
};

struct dir_value {
	unsigned char *data;
	size_t len;
	enum dir_value_kind kind;
};

struct dir_result {
	struct dir_value *values;
	size_t n_values;
	size_t n_entries;	/* entries the directory returned */
	bool truncated;		/* the size limit cut the answer short */
	char *server;		/* the URI that answered (FOUND and NOTFOUND) */
	char *error;		/* why, on LOOKUP_RETRY */
};

struct directory;

/*
 * directory_new - take the LDAP settings of cfg (LDAPURI, LDAPBase,
 * LDAPFilter, LDAPDomainFilter, LDAPBindDN, LDAPBindPasswordFile, LDAPCACertFile,
 * LDAPStartTLS, LDAPTimeout). Reads the bind password file now, so call
 * it before dropping privileges. No network I/O. The directory keeps its
 * own copies: cfg may be released afterwards. NULL with *err (xmalloc'd) on
 * a bad setting; a configuration without LDAPURI is an error too.
 */
struct directory *directory_new(const struct config *cfg, char **err);
void directory_free(struct directory *dir);

/*
 * directory_lookup - the certificates for address (local@domain, as
 * normalised by address.c). *out is initialised here; release it with
 * dir_result_free whatever the answer.
 */
enum lookup directory_lookup(struct directory *dir, const char *address, struct dir_result *out);
/*
 * directory_lookup_domain - the same for a domain's own entry (IDNA
 * A-label form, lower case), found with LDAPDomainFilter: a certificate
 * that serves every address of the domain (DomainCertificates).
 */
enum lookup directory_lookup_domain(struct directory *dir, const char *domain,
				    struct dir_result *out);
void dir_result_free(struct dir_result *r);

/*
 * directory_budget_set - the calling thread's lookups from now on end
 * within ms milliseconds in all (a message's end-of-message budget: see
 * DecisionTimeout), whatever LDAPTimeout allows; directory_budget_clear
 * lifts the limit. Per thread: each message is decided on one.
 */
void directory_budget_set(long long ms);
void directory_budget_clear(void);
/* directory_budget_left - ms left of the calling thread's budget (0 when spent), -1 for none. */
long long directory_budget_left(void);

/*
 * directory_filter_expand - the search filter for a value: every "%s" in
 * template replaced by value (len bytes, may contain NUL) escaped per
 * RFC 4515, "%%" by "%". xmalloc'd.
 */
char *directory_filter_expand(const char *template, const char *value, size_t len);

/*
 * directory_filter_check - NULL if template is usable as LDAPFilter (it
 * holds "%s", its parentheses balance, no other '%' sequences), else a
 * static reason.
 */
const char *directory_filter_check(const char *template);

/*
 * The server list's state, exported for the tests and for
 * sikkermail-ctl. Times are seconds on the monotonic clock
 * (directory_clock).
 *
 * directory_plan - the order of the servers at time now: healthy ones in
 * LDAPURI order (a lookup tries these), then those in back-off, the one
 * whose back-off ends first first (a lookup skips these). Writes up to max indexes; returns how
 * many servers there are.
 */
size_t directory_plan(struct directory *dir, time_t now, size_t *order, size_t max);
/* directory_server_failed / _ok - record an outcome (lookups do this themselves). */
void directory_server_failed(struct directory *dir, size_t server, time_t now);
void directory_server_ok(struct directory *dir, size_t server);
/* directory_server_uri - the URI of server i; NULL past the end. */
const char *directory_server_uri(const struct directory *dir, size_t server);
/* directory_server_backoff - seconds of back-off left at now (0: healthy). */
long directory_server_backoff(struct directory *dir, size_t server, time_t now);
time_t directory_clock(void);

#endif

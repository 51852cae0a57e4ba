/*
 * config.h - the configuration: a table of keys with types, defaults and
 * bounds, parsed into an immutable snapshot.
 *
 * A snapshot is built once (config_load / config_parse), then only read;
 * threads share it through config_ref / config_unref so that a reload can
 * swap it without disturbing messages in flight.
 *
 * File format: "Key value" lines as in opendkim.conf; '#' starts a comment;
 * key names are case-insensitive; blank lines ignored. Every error in a
 * file is reported, as "file:line: message", in one run.
 */
#ifndef SIKKERMAIL_CONFIG_H
#define SIKKERMAIL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>

#include "sikkermail.h"
#include "util.h"

#define CONFIG_DEFAULT_PATH "/etc/sikkermail/sikkermail.conf"

/* One CIDR network of InternalNetworks. */
struct netmask {
	int family;		/* AF_INET or AF_INET6 */
	unsigned char addr[16];	/* network address, masked */
	int prefix;		/* prefix length in bits */
};

struct secure_mailbox {
	char *address;		/* normalised local@domain */
	char *keyfile;
	char *certfile;
	unsigned line;		/* where it was configured (0: built in), for messages */
};

/* SecureMailboxUsers MAILBOX ENTRY, ...: who may send from a function mailbox. */
struct mailbox_users {
	char *mailbox;		/* normalised local@domain */
	char **entries;		/* "local@domain" (one sender) or "@domain" (its senders) */
	size_t n_entries;
	unsigned line;
};

enum language_set {
	LANG_DA = 1,
	LANG_EN = 2
};

enum detect_cpr {
	CPR_OFF,
	CPR_MONITOR,
	CPR_ENFORCE
};

struct config {
	int refcount;		/* managed by config_ref/config_unref */
	char *path;		/* file it came from, or "(built-in)" */

	/* daemon */
	char *socket;			/* Socket; default local:/run/sikkermail/sikkermail.sock */
	char *userid;			/* UserID; default "sikkermail" (used only when started as root) */
	char *pidfile;			/* PidFile; NULL = none */
	int umask;			/* UMask; default 007 */
	char *database;			/* Database; default /var/lib/sikkermail/sikkermail.db */
	long retention;			/* Retention: seconds a decision is kept; default 396d */
	enum mode mode;			/* Mode enforce|monitor; default enforce */

	/* classification */
	char **internal_domains;	/* InternalDomains: list, lower-case A-labels; ".kp.dk" covers subdomains */
	size_t n_internal_domains;
	struct netmask *internal_networks;	/* InternalNetworks; default 127.0.0.0/8 ::1/128 */
	size_t n_internal_networks;
	char *personal_header;		/* PersonalHeader; default X-KP-Personal */
	char *mailbox_header;		/* MailboxHeader; default X-KP-Secure-Mailbox */
	char **subject_tags;		/* PersonalSubjectTag (repeatable); none by default */
	size_t n_subject_tags;
	bool prefer_encryption;		/* PreferEncryption; default no */

	/* decisions (SPEC section 5) */
	enum action personal_to_partner;	/* deliver (accept) | reject; default deliver */
	enum action personal_to_freemail;	/* reject | hold; default reject */
	enum action personal_to_tls;		/* reject | hold | deliver (accept); default reject */
	enum action on_lookup_failure;		/* tempfail | hold; default tempfail */
	enum detect_cpr detect_cpr;		/* DetectCPR; default monitor */
	int languages;				/* Language: LANG_DA|LANG_EN bits */
	bool language_en_first;			/* "en,da" */
	char *help_url;				/* HelpURL; NULL = none */
	bool tag_header;			/* TagHeader; default yes */

	/* certificates (issue 3) */
	char **ldap_uri;		/* LDAPURI: list tried in order */
	size_t n_ldap_uri;
	char *ldap_base;		/* LDAPBase */
	char *ldap_filter;		/* LDAPFilter; default (mail=%s) */
	char *ldap_domain_filter;	/* LDAPDomainFilter: a domain's entry */
	char *ldap_bind_dn;
	char *ldap_bind_password_file;
	char *ldap_ca_cert_file;
	bool ldap_start_tls;		/* LDAPStartTLS: StartTLS on every ldap:// URI; default no */
	int ldap_timeout;		/* seconds; default 5, 1..120 */
	long cert_ttl;			/* seconds; default 1d */
	long negative_ttl;		/* seconds; default 1h */
	long max_stale;			/* seconds; default 7d */
	long decision_timeout;		/* seconds for end of message; default 150 */
	char *trusted_ca_file;
	char *crl_file;
	bool accept_subject_email;
	bool domain_certificates;	/* DomainCertificates: a domain's certificate serves */

	/* encryption (issue 4) */
	struct secure_mailbox *mailboxes;	/* SecureMailbox ADDRESS KEYFILE CERTFILE (repeatable) */
	size_t n_mailboxes;
	char *default_secure_mailbox;
	struct mailbox_users *mailbox_users;	/* SecureMailboxUsers (repeatable) */
	size_t n_mailbox_users;
	char *secure_subject;		/* default "Sikker besked / Secure message" */
	char *cipher;			/* aes-256-cbc | aes-256-gcm */
	char *reinject;			/* "sendmail" or "smtp:HOST:PORT" */
	char *sendmail_path;		/* default /usr/sbin/sendmail */
	long notice_delay;		/* NoticeDelay: seconds a notice waits to join a digest; 0 = none */
	bool hold_notice;		/* HoldNotice: tell the sender of a held message; default no */
	char *tls_policy_map;		/* TLSPolicyMap TYPE:FILE, kept current by sikkermail-ctl; NULL = none */

	/* logging */
	bool syslog;			/* Syslog; default yes */
	int syslog_facility;		/* SyslogFacility; default mail */
	int log_level;			/* LogLevel; default info */
	int log_format;			/* LogFormat kv|json (enum audit_format); default kv */
	char *instance_name;		/* InstanceName; NULL = the host name */

	unsigned *key_lines;		/* per key: the line it was first given on, 0 if not */
};

/*
 * config_parse - parse configuration text. name is used in error messages
 * ("name:line: message"). Returns a new snapshot (refcount 1) or NULL, in
 * which case every error found has been appended to errors.
 */
struct config *config_parse(const char *name, const char *text, size_t len,
			    struct strlist *errors);

/* config_load - read and parse a file; NULL path means the built-in defaults. */
struct config *config_load(const char *path, struct strlist *errors);

/*
 * config_load_default - path, else CONFIG_DEFAULT_PATH if it exists, else
 * the built-in defaults; every error logged with msg_error. NULL on error.
 */
struct config *config_load_default(const char *path);

/* config_defaults - the embedded default configuration. */
struct config *config_defaults(void);

struct config *config_ref(struct config *c);
void config_unref(struct config *c);

/* config_dump - write the effective configuration as "Key value" lines. */
void config_dump(const struct config *c, struct strbuf *out);

/* config_is_internal_network - does sa (sockaddr_in/in6) fall in InternalNetworks? */
bool config_is_internal_network(const struct config *c, const struct sockaddr *sa);

/*
 * config_where - "file:line: Key: " for messages about a key's value found
 * after parsing (a key file that does not load, a CA file that is not a
 * certificate), so that they read like the parser's own; "file: Key: "
 * when the key was not in the file. Free it.
 */
char *config_where(const struct config *c, const char *key);

/* config_is_key - is name (any case) a configuration key? */
bool config_is_key(const char *name);

/* config_socket_path - the file of a local:/unix: socket spec, or NULL for inet. */
const char *config_socket_path(const char *spec);

/* config_where_mailbox - the same for one SecureMailbox line. Free it. */
char *config_where_mailbox(const struct config *c, const struct secure_mailbox *m);

/*
 * config_mailbox_allows - may sender (normalised) have a message encrypted
 * from mailbox? Yes when no SecureMailboxUsers line names the mailbox;
 * otherwise only a sender listed, or of a domain listed.
 */
bool config_mailbox_allows(const struct config *c, const char *mailbox, const char *sender);

/* config_find_mailbox - the SecureMailbox with this address, or NULL. */
const struct secure_mailbox *config_find_mailbox(const struct config *c, const char *address);

/* config_parse_duration - "30", "30s", "15m", "12h", "7d", "2w" -> seconds; -1 if bad */
long config_parse_duration(const char *s);

#endif

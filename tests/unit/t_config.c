/*
 * t_config.c - unit tests of the configuration parser (src/config.c):
 * defaults, good values of every key, every kind of error with its exact
 * "file:line: message", several errors in one run, InternalNetworks
 * matching, durations, dump round trips, loading files, the reference
 * count under threads, and that the example file and the manual page keep
 * up with the table of keys.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "audit.h"
#include "config.h"
#include "log.h"
#include "tap.h"
#include "util.h"

static struct config *parse_text(const char *text, struct strlist *errors);
static char *printable(const char *s, size_t n);
static char *dump_value(const struct config *c, const char *key);
static void check_bad(const char *label, const char *text, size_t len, const char *want,
		      int prefix);
static bool is_internal(const struct config *c, const char *addr);
static void round_trip(const char *label, struct config *c);
static char *read_whole(const char *path);
static const char *srcdir(void);
static void *ref_unref(void *arg);
static char *uncomment(const char *text);
static char *man_example(const char *man);
static void test_defaults(void);
static void test_good_values(void);
static void test_fields(void);
static void test_errors(void);
static void test_raw_lines(void);
static void test_many_errors(void);
static void test_networks(void);
static void test_durations(void);
static void test_mailboxes(void);
static void test_subject_tags(void);
static void test_dump_round_trip(void);
static void test_load(void);
static void test_refcount(void);
static void test_example_and_manual(void);

#define NAME "t.conf"
#define MAILBOX "SecureMailbox a@kp.dk /k /c"

/* parse_text - parse text as file NAME; errors (if non-NULL) collects the messages. */
static struct config *parse_text(const char *text, struct strlist *errors)
{
	return config_parse(NAME, text, strlen(text), errors);
}

/* printable - s[0..n) for a one-line TAP label: escapes, cut at 70 bytes. */
static char *printable(const char *s, size_t n)
{
	struct strbuf sb;

	sb_init(&sb);
	for (size_t i = 0; i < n && sb.len < 70; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '\n')
			sb_adds(&sb, "\\n");
		else if (ch < 0x20 || ch == 0x7f || ch >= 0x80)
			sb_printf(&sb, "\\x%02x", ch);
		else
			sb_addc(&sb, ch);
	}
	if (sb.len >= 70)
		sb_adds(&sb, "...");
	return sb.s;
}

/* dump_value - the value config_dump writes for key, or NULL when it is not set. */
static char *dump_value(const struct config *c, const char *key)
{
	struct strbuf sb;
	char *line, *save = NULL, *found = NULL;
	size_t klen = strlen(key);

	sb_init(&sb);
	config_dump(c, &sb);
	for (line = strtok_r(sb.s, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
			found = xstrdup(line + klen + strspn(line + klen, " "));
			break;
		}
	sb_free(&sb);
	return found;
}

static void test_defaults(void)
{
	struct config *c = config_defaults();
	struct strlist errors;
	struct config *empty;

	is_str(c->path, "(built-in)", "defaults: path");
	is_str(c->socket, "local:/run/sikkermail/sikkermail.sock", "defaults: Socket");
	is_str(c->userid, "sikkermail", "defaults: UserID");
	ok(c->pidfile == NULL, "defaults: no PidFile");
	is_int(c->umask, 07, "defaults: UMask 007");
	is_str(c->database, "/var/lib/sikkermail/sikkermail.db", "defaults: Database");
	is_int(c->mode, MODE_ENFORCE, "defaults: Mode enforce");
	is_int((long long)c->n_internal_domains, 0, "defaults: no InternalDomains");
	is_int((long long)c->n_internal_networks, 2, "defaults: two InternalNetworks");
	is_str(c->personal_header, "X-KP-Personal", "defaults: PersonalHeader");
	is_str(c->mailbox_header, "X-KP-Secure-Mailbox", "defaults: MailboxHeader");
	ok(!c->prefer_encryption, "defaults: PreferEncryption no");
	is_int(c->personal_to_partner, ACTION_DELIVER, "defaults: PersonalToPartner accept");
	is_int(c->personal_to_freemail, ACTION_REJECT, "defaults: PersonalToFreemail reject");
	is_int(c->personal_to_tls, ACTION_REJECT, "defaults: PersonalToTLS reject");
	is_int(c->on_lookup_failure, ACTION_TEMPFAIL, "defaults: OnLookupFailure tempfail");
	is_int(c->detect_cpr, CPR_MONITOR, "defaults: DetectCPR monitor");
	is_int(c->languages, LANG_DA | LANG_EN, "defaults: Language da,en");
	ok(!c->language_en_first, "defaults: Danish first");
	ok(c->help_url == NULL, "defaults: no HelpURL");
	ok(c->tag_header, "defaults: TagHeader yes");
	is_int((long long)c->n_ldap_uri, 0, "defaults: no LDAPURI");
	ok(c->ldap_base == NULL && c->ldap_bind_dn == NULL && c->ldap_bind_password_file == NULL &&
	   c->ldap_ca_cert_file == NULL, "defaults: no LDAP base, bind DN, password, CA");
	is_str(c->ldap_filter, "(mail=%s)", "defaults: LDAPFilter");
	is_int(c->ldap_timeout, 5, "defaults: LDAPTimeout 5");
	ok(!c->ldap_start_tls, "defaults: LDAPStartTLS no");
	is_int(c->cert_ttl, 86400, "defaults: CertTTL 1d");
	is_int(c->negative_ttl, 3600, "defaults: NegativeTTL 1h");
	is_int(c->max_stale, 7 * 86400, "defaults: MaxStale 7d");
	ok(c->trusted_ca_file == NULL && c->crl_file == NULL, "defaults: no TrustedCAFile, CRLFile");
	ok(!c->accept_subject_email, "defaults: AcceptSubjectEmail no");
	ok(!c->domain_certificates, "defaults: DomainCertificates no");
	is_str(c->ldap_domain_filter, "(associatedDomain=%s)", "defaults: LDAPDomainFilter");
	is_int((long long)c->n_mailboxes, 0, "defaults: no SecureMailbox");
	ok(c->default_secure_mailbox == NULL, "defaults: no DefaultSecureMailbox");
	is_str(c->secure_subject, "Sikker besked / Secure message", "defaults: SecureSubject");
	is_str(c->cipher, "aes-256-cbc", "defaults: Cipher");
	is_str(c->reinject, "sendmail", "defaults: Reinject");
	is_str(c->sendmail_path, "/usr/sbin/sendmail", "defaults: SendmailPath");
	is_int(c->notice_delay, 60, "defaults: NoticeDelay 60");
	ok(!c->hold_notice, "defaults: HoldNotice no");
	is_int(c->retention, 396 * 86400, "defaults: Retention 396d (13 months)");
	ok(c->syslog, "defaults: Syslog yes");
	is_int(c->syslog_facility, log_facility_parse("mail"), "defaults: SyslogFacility mail");
	is_int(c->log_level, log_level_parse("info"), "defaults: LogLevel info");
	is_int(c->log_format, AUDIT_KV, "defaults: LogFormat kv");
	ok(c->instance_name == NULL, "defaults: no InstanceName (the host name is used)");
	is_int(c->refcount, 1, "defaults: refcount 1");
	config_unref(c);

	strlist_init(&errors);
	empty = parse_text("# nothing but a comment\n\n   \n", &errors);
	ok(empty != NULL && errors.n == 0, "an empty file gives the defaults");
	if (empty != NULL)
		is_str(empty->path, NAME, "a parsed file remembers its name");
	config_unref(empty);
	strlist_free(&errors);
}

/* One key set in a file, and the value config_dump then writes for it. */
static const struct {
	const char *text;
	const char *key;
	const char *want;	/* NULL: the key is not set */
} good[] = {
	{ "Socket inet:8891@127.0.0.1", "Socket", "inet:8891@127.0.0.1" },
	{ "Socket inet6:8891@[::1]", "Socket", "inet6:8891@[::1]" },
	{ "Socket inet:8891", "Socket", "inet:8891" },
	{ "Socket unix:/var/spool/postfix/sm.sock", "Socket", "unix:/var/spool/postfix/sm.sock" },
	{ "Socket /run/sm.sock", "Socket", "/run/sm.sock" },
	{ "Socket inet:8891@[127.0.0.1]", "Socket", "inet:8891@[127.0.0.1]" },
	{ "Socket inet:8891@milter.kp.dk", "Socket", "inet:8891@milter.kp.dk" },
	{ "UserID milter-1", "UserID", "milter-1" },
	{ "PidFile /run/sikkermail/sikkermail.pid", "PidFile", "/run/sikkermail/sikkermail.pid" },
	{ "UMask 027", "UMask", "027" },
	{ "UMask 0", "UMask", "000" },
	{ "Database /tmp/x.db", "Database", "/tmp/x.db" },
	{ "Mode monitor", "Mode", "monitor" },
	{ "mode MONITOR", "Mode", "monitor" },
	{ "InternalDomains KP.DK., .kp.dk  ucl.dk", "InternalDomains", "kp.dk, .kp.dk, ucl.dk" },
	{ "InternalDomains räksmörgås.dk", "InternalDomains", "xn--rksmrgs-5wao1o.dk" },
	{ "InternalNetworks 10.0.0.0/8,192.0.2.1 2001:DB8::/32, [::1]/128", "InternalNetworks",
	  "10.0.0.0/8, 192.0.2.1/32, 2001:db8::/32, ::1/128" },
	{ "PersonalHeader X-Personal-Data", "PersonalHeader", "X-Personal-Data" },
	{ "MailboxHeader X-Function-Mailbox", "MailboxHeader", "X-Function-Mailbox" },
	{ "PreferEncryption yes", "PreferEncryption", "yes" },
	{ "PreferEncryption TRUE", "PreferEncryption", "yes" },
	{ "PreferEncryption 1", "PreferEncryption", "yes" },
	{ "TagHeader 0", "TagHeader", "no" },
	{ "TagHeader false", "TagHeader", "no" },
	{ "PersonalToPartner reject", "PersonalToPartner", "reject" },
	{ "PersonalToFreemail hold", "PersonalToFreemail", "hold" },
	{ "PersonalToTLS accept", "PersonalToTLS", "accept" },
	{ "PersonalToTLS hold", "PersonalToTLS", "hold" },
	{ "OnLookupFailure hold", "OnLookupFailure", "hold" },
	{ "DetectCPR off", "DetectCPR", "off" },
	{ "DetectCPR enforce", "DetectCPR", "enforce" },
	{ "Language en", "Language", "en" },
	{ "Language da", "Language", "da" },
	{ "Language en, da", "Language", "en,da" },
	{ "HelpURL https://kp.dk/sikkermail#help", "HelpURL", "https://kp.dk/sikkermail#help" },
	{ "LDAPURI ldap://crtdir.certifikat.dk ldaps://b.example:636\nLDAPBase c=DK\n" MAILBOX, "LDAPURI",
	  "ldap://crtdir.certifikat.dk, ldaps://b.example:636" },
	{ "LDAPURI ldapi://%2Frun%2Fslapd.sock\nLDAPBase c=DK\n" MAILBOX, "LDAPBase", "c=DK" },
	/* one SecureMailbox is the default by itself */
	{ MAILBOX, "DefaultSecureMailbox", "a@kp.dk" },
	{ "LDAPFilter (&(mail=%s)(objectClass=person))", "LDAPFilter",
	  "(&(mail=%s)(objectClass=person))" },
	{ "LDAPBindDN cn=reader, o=KP\nLDAPBindPasswordFile /etc/sikkermail/ldap.pw",
	  "LDAPBindDN", "cn=reader, o=KP" },
	{ "LDAPCACertFile /etc/ssl/certs/ca.pem", "LDAPCACertFile", "/etc/ssl/certs/ca.pem" },
	{ "LDAPStartTLS yes\nLDAPCACertFile /etc/ssl/certs/ca.pem", "LDAPStartTLS", "yes" },
	{ "LDAPCACertFile /ca.pem\nldapstarttls TRUE", "LDAPStartTLS", "yes" },
	{ "LDAPStartTLS no", "LDAPStartTLS", "no" },
	{ "LDAPStartTLS 0", "LDAPStartTLS", "no" },
	{ "LDAPCACertFile /ca.pem", "LDAPStartTLS", "no" },
	{ "LDAPTimeout 1", "LDAPTimeout", "1" },
	{ "LDAPTimeout 120", "LDAPTimeout", "120" },
	{ "CertTTL 12h", "CertTTL", "12h" },
	{ "CertTTL 60", "CertTTL", "1m" },
	{ "NegativeTTL 0", "NegativeTTL", "0" },
	{ "NegativeTTL 90s", "NegativeTTL", "90s" },
	{ "MaxStale 2w", "MaxStale", "14d" },
	{ "MaxStale 90d", "MaxStale", "90d" },
	{ "TrustedCAFile /etc/sikkermail/oces.pem", "TrustedCAFile", "/etc/sikkermail/oces.pem" },
	{ "CRLFile /etc/sikkermail/oces.crl", "CRLFile", "/etc/sikkermail/oces.crl" },
	{ "AcceptSubjectEmail yes", "AcceptSubjectEmail", "yes" },
	{ "DomainCertificates yes\nTrustedCAFile /ca.pem\n" MAILBOX, "DomainCertificates", "yes" },
	{ "LDAPDomainFilter (&(objectClass=domain)(associatedDomain=%s))", "LDAPDomainFilter",
	  "(&(objectClass=domain)(associatedDomain=%s))" },
	{ "SecureMailbox Sikker@KP.DK /k.pem /c.pem", "SecureMailbox", "Sikker@kp.dk /k.pem /c.pem" },
	{ MAILBOX "\nSecureMailboxUsers a@KP.dk hr@kp.dk, @Personale.KP.dk  Jens@kp.dk",
	  "SecureMailboxUsers", "a@kp.dk hr@kp.dk, @personale.kp.dk, Jens@kp.dk" },
	{ MAILBOX "\nSecureMailboxUsers a@kp.dk kp.dk", "SecureMailboxUsers", "a@kp.dk @kp.dk" },
	{ "SecureMailbox a@kp.dk /k /c\nDefaultSecureMailbox <a@KP.dk>", "DefaultSecureMailbox",
	  "a@kp.dk" },
	{ "SecureSubject Sikker besked # 1", "SecureSubject", "Sikker besked # 1" },
	{ "SecureSubject   Besked fra Københavns Professionshøjskole  ", "SecureSubject",
	  "Besked fra Københavns Professionshøjskole" },
	{ "Cipher AES-256-GCM", "Cipher", "aes-256-gcm" },
	{ "Reinject smtp:127.0.0.1:10026", "Reinject", "smtp:127.0.0.1:10026" },
	{ "Reinject smtp:[::1]:10026", "Reinject", "smtp:[::1]:10026" },
	{ "Reinject SMTP:Relay.KP.dk:25", "Reinject", "smtp:relay.kp.dk:25" },
	{ "SendmailPath /usr/local/sbin/sendmail", "SendmailPath", "/usr/local/sbin/sendmail" },
	{ "NoticeDelay 0", "NoticeDelay", "0" },
	{ "NoticeDelay 2", "NoticeDelay", "2s" },
	{ "NoticeDelay 600", "NoticeDelay", "10m" },
	{ "NoticeDelay 1h", "NoticeDelay", "1h" },
	{ "HoldNotice yes", "HoldNotice", "yes" },
	{ "HoldNotice false", "HoldNotice", "no" },
	{ "Retention 1d", "Retention", "1d" },
	{ "Retention 2w", "Retention", "14d" },
	{ "Retention 48h", "Retention", "2d" },
	{ "Retention 3660d", "Retention", "3660d" },
	{ "Syslog no", "Syslog", "no" },
	{ "SyslogFacility local3", "SyslogFacility", "local3" },
	{ "SyslogFacility DAEMON", "SyslogFacility", "daemon" },
	{ "LogLevel debug", "LogLevel", "debug" },
	{ "LogLevel 4", "LogLevel", "warning" },
	{ "LogLevel 2", "LogLevel", "2" },
	{ "LogFormat json", "LogFormat", "json" },
	{ "LogFormat kv", "LogFormat", "kv" },
	{ "InstanceName mx1.kp.dk", "InstanceName", "mx1.kp.dk" },
	{ "InstanceName gw_2:25-A", "InstanceName", "gw_2:25-A" },
	/* comments, case, white space */
	{ "Mode monitor # during roll-out", "Mode", "monitor" },
	{ "Mode monitor\t#tab", "Mode", "monitor" },
	{ "  \tMode\t\tmonitor  \r\n", "Mode", "monitor" },
	{ "# Mode monitor", "Mode", "enforce" },
	{ "   # Mode monitor", "Mode", "enforce" },
	{ "PidFile /run/a#b.pid", "PidFile", "/run/a#b.pid" },
	{ "INTERNALDOMAINS kp.dk", "InternalDomains", "kp.dk" },
	{ "\xef\xbb\xbfMode monitor", "Mode", "monitor" },
	{ "Mode monitor", "PidFile", NULL },
};

static void test_good_values(void)
{
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct strlist errors;
		struct config *c;
		char *v = NULL, *label = printable(good[i].text, strlen(good[i].text));

		strlist_init(&errors);
		c = parse_text(good[i].text, &errors);
		if (!ok(c != NULL && errors.n == 0, "good: \"%s\" parses", label))
			for (size_t j = 0; j < errors.n; j++)
				diag("%s", errors.v[j]);
		if (c != NULL)
			v = dump_value(c, good[i].key);
		is_str(v, good[i].want, "good: \"%s\" gives %s %s", label, good[i].key,
		       good[i].want ? good[i].want : "(not set)");
		free(v);
		free(label);
		config_unref(c);
		strlist_free(&errors);
	}
}

/* Fields whose values the dump does not show directly. */
static void test_fields(void)
{
	struct config *c;

	c = parse_text("PersonalToFreemail hold\nPersonalToTLS accept\nPersonalToPartner reject\n"
		       "OnLookupFailure hold\nMode monitor\nDetectCPR enforce\nLanguage en,da\n"
		       "InternalDomains kp.dk .kp.dk\nUMask 077\nLDAPTimeout 30\nCertTTL 2h\n"
		       "PreferEncryption yes\nTagHeader no\nSyslog no\nAcceptSubjectEmail yes\n"
		       "LDAPStartTLS yes\nLDAPCACertFile /etc/sikkermail/ldap-ca.pem",
		       NULL);
	if (!ok(c != NULL, "fields: the file parses"))
		return;
	is_int(c->personal_to_freemail, ACTION_HOLD, "fields: PersonalToFreemail hold");
	is_int(c->personal_to_tls, ACTION_DELIVER, "fields: PersonalToTLS accept = deliver");
	is_int(c->personal_to_partner, ACTION_REJECT, "fields: PersonalToPartner reject");
	is_int(c->on_lookup_failure, ACTION_HOLD, "fields: OnLookupFailure hold");
	is_int(c->mode, MODE_MONITOR, "fields: Mode monitor");
	is_int(c->detect_cpr, CPR_ENFORCE, "fields: DetectCPR enforce");
	is_int(c->languages, LANG_DA | LANG_EN, "fields: both languages");
	ok(c->language_en_first, "fields: English first");
	is_int((long long)c->n_internal_domains, 2, "fields: two internal domains");
	is_str(c->internal_domains[1], ".kp.dk", "fields: the leading dot is kept");
	is_int(c->umask, 077, "fields: UMask is octal");
	is_int(c->ldap_timeout, 30, "fields: LDAPTimeout");
	is_int(c->cert_ttl, 7200, "fields: CertTTL in seconds");
	ok(c->prefer_encryption && !c->tag_header && !c->syslog && c->accept_subject_email &&
	   c->ldap_start_tls, "fields: booleans");
	config_unref(c);
}

/* A file and the exact (or, with prefix set, the start of the) only error. */
static const struct {
	const char *text;
	const char *want;
	int prefix;
} bad[] = {
	{ "Foo bar", NAME ":1: unknown key \"Foo\"", 0 },
	{ "Foo", NAME ":1: unknown key \"Foo\"", 0 },
	{ "Mode monitor\n\xef\xbb\xbfMode monitor", NAME ":2: unknown key \"\xef\xbb\xbfMode\"", 0 },
	{ "\n\nSockt /run/x.sock", NAME ":3: unknown key \"Sockt\"; did you mean Socket?", 0 },
	{ "InternalDomain kp.dk", NAME ":1: unknown key \"InternalDomain\"; did you mean InternalDomains?", 0 },
	{ "Mode=monitor", NAME ":1: unknown key \"Mode=monitor\" (write \"Key value\", without '=')", 0 },
	{ "Mode fast", NAME ":1: Mode: bad value \"fast\": expected enforce or monitor", 0 },
	{ "Mode monitor enforce", NAME ":1: Mode: bad value \"monitor enforce\": expected enforce or monitor", 0 },
	{ "Mode", NAME ":1: Mode: missing value", 0 },
	{ "Mode  \t ", NAME ":1: Mode: missing value", 0 },
	{ "Mode    # later", NAME ":1: Mode: missing value", 0 },
	{ "Mode enforce\n# x\nmode monitor", NAME ":3: Mode: duplicate key, first at line 1", 0 },
	{ "LDAPTimeout 0", NAME ":1: LDAPTimeout: 0 is out of range (1..120)", 0 },
	{ "LDAPTimeout 1000", NAME ":1: LDAPTimeout: 1000 is out of range (1..120)", 0 },
	{ "LDAPTimeout -1", NAME ":1: LDAPTimeout: bad value \"-1\": expected a whole number, 1..120", 0 },
	{ "LDAPTimeout 5s", NAME ":1: LDAPTimeout: bad value \"5s\": expected a whole number, 1..120", 0 },
	{ "LDAPTimeout 99999999999999999999", NAME ":1: LDAPTimeout: bad value", 1 },
	{ "NoticeDelay 3601", NAME ":1: NoticeDelay: 3601 is out of range (0..1h)", 0 },
	{ "NoticeDelay -1",
	  NAME ":1: NoticeDelay: bad value \"-1\": expected a duration such as 30s, 15m, 12h, 7d or 2w", 0 },
	{ "HoldNotice sometimes",
	  NAME ":1: HoldNotice: bad value \"sometimes\": expected yes, no, true, false, 1 or 0", 0 },
	{ "NoticeDelay soon",
	  NAME ":1: NoticeDelay: bad value \"soon\": expected a duration such as 30s, 15m, 12h, 7d or 2w", 0 },
	{ "NoticeDelay", NAME ":1: NoticeDelay: missing value", 0 },
	{ "Retention 0", NAME ":1: Retention: 0 is out of range (1d..3660d)", 0 },
	{ "Retention 12h", NAME ":1: Retention: 12h is out of range (1d..3660d)", 0 },
	{ "Retention 3661d", NAME ":1: Retention: 3661d is out of range (1d..3660d)", 0 },
	{ "Retention forever",
	  NAME ":1: Retention: bad value \"forever\": expected a duration such as 30s, 15m, 12h, 7d or 2w", 0 },
	{ "Retention 13m0", NAME ":1: Retention: bad value \"13m0\"", 1 },
	{ "Retention", NAME ":1: Retention: missing value", 0 },
	{ "PersonalToFreemail accept",
	  NAME ":1: PersonalToFreemail: accept is never allowed: personal data may never go to a "
	       "freemail provider, not even with TLS; use reject or hold", 0 },
	{ "PersonalToFreemail ACCEPT", NAME ":1: PersonalToFreemail: accept is never allowed", 1 },
	{ "PersonalToFreemail deliver",
	  NAME ":1: PersonalToFreemail: bad value \"deliver\": expected reject or hold", 0 },
	{ "PersonalToTLS encrypt",
	  NAME ":1: PersonalToTLS: bad value \"encrypt\": expected reject, hold or accept", 0 },
	{ "PersonalToPartner hold",
	  NAME ":1: PersonalToPartner: bad value \"hold\": expected accept or reject", 0 },
	{ "OnLookupFailure reject",
	  NAME ":1: OnLookupFailure: bad value \"reject\": expected tempfail or hold", 0 },
	{ "DetectCPR yes", NAME ":1: DetectCPR: bad value \"yes\": expected off, monitor or enforce", 0 },
	{ "PreferEncryption maybe",
	  NAME ":1: PreferEncryption: bad value \"maybe\": expected yes, no, true, false, 1 or 0", 0 },
	{ "InternalNetworks 10.0.0.0/33",
	  NAME ":1: InternalNetworks: bad network \"10.0.0.0/33\": the prefix length must be 0..32", 0 },
	{ "InternalNetworks ::1/129",
	  NAME ":1: InternalNetworks: bad network \"::1/129\": the prefix length must be 0..128", 0 },
	{ "InternalNetworks 10.0.0.0/", NAME ":1: InternalNetworks: bad network \"10.0.0.0/\": the prefix length must be 0..32", 0 },
	{ "InternalNetworks 10.0.0.0/-8", NAME ":1: InternalNetworks: bad network \"10.0.0.0/-8\": the prefix length must be 0..32", 0 },
	{ "InternalNetworks 10.1.2.3/8",
	  NAME ":1: InternalNetworks: bad network \"10.1.2.3/8\": host bits are set; did you mean 10.0.0.0/8?", 0 },
	{ "InternalNetworks 2001:db8::1/32",
	  NAME ":1: InternalNetworks: bad network \"2001:db8::1/32\": host bits are set; did you mean 2001:db8::/32?", 0 },
	{ "InternalNetworks 10.0.0.256",
	  NAME ":1: InternalNetworks: bad network \"10.0.0.256\": expected an IPv4 or IPv6 address with an optional /PREFIX", 0 },
	{ "InternalNetworks localhost",
	  NAME ":1: InternalNetworks: bad network \"localhost\": expected an IPv4 or IPv6 address with an optional /PREFIX", 0 },
	{ "InternalNetworks [::1/128", NAME ":1: InternalNetworks: bad network \"[::1/128\"", 1 },
	{ "InternalNetworks ,", NAME ":1: InternalNetworks: empty list", 0 },
	{ "InternalDomains kp..dk", NAME ":1: InternalDomains: bad entry \"kp..dk\": ", 1 },
	{ "InternalDomains kp.dk, -x.dk", NAME ":1: InternalDomains: bad entry \"-x.dk\": ", 1 },
	{ "InternalDomains kp.dk,under_score.dk", NAME ":1: InternalDomains: bad entry \"under_score.dk\": ", 1 },
	{ "InternalDomains ,,", NAME ":1: InternalDomains: empty list", 0 },
	{ "LDAPFilter (mail=x)", NAME ":1: LDAPFilter: must contain exactly one %s (the address), not 0", 0 },
	{ "LDAPFilter (|(mail=%s)(x=%s))", NAME ":1: LDAPFilter: must contain exactly one %s (the address), not 2", 0 },
	{ "LDAPFilter mail=%s", NAME ":1: LDAPFilter: bad value \"mail=%s\": expected one parenthesised filter such as (mail=%s)", 0 },
	{ "LDAPFilter (mail=%d)", NAME ":1: LDAPFilter: bad value \"(mail=%d)\": expected one parenthesised filter such as (mail=%s)", 0 },
	{ "LDAPFilter (mail=%s", NAME ":1: LDAPFilter: bad value", 1 },
	{ "LDAPFilter (mail=%s))", NAME ":1: LDAPFilter: bad value", 1 },
	{ "LDAPFilter (mail=%s)(cn=x)", NAME ":1: LDAPFilter: bad value", 1 },
	{ "LDAPDomainFilter (associatedDomain=x)", NAME ":1: LDAPDomainFilter: must contain exactly one %s", 1 },
	{ "LDAPDomainFilter associatedDomain=%s", NAME ":1: LDAPDomainFilter: bad value", 1 },
	{ "DomainCertificates perhaps", NAME ":1: DomainCertificates: ", 1 },
	{ "LDAPURI http://crtdir.certifikat.dk\nLDAPBase c=DK",
	  NAME ":1: LDAPURI: bad entry \"http://crtdir.certifikat.dk\": expected an ldap://, ldaps:// or ldapi:// URI", 0 },
	{ "LDAPURI ldap://crtdir.certifikat.dk\n" MAILBOX, NAME ":1: LDAPURI: LDAPBase must be set too", 0 },
	{ "DomainCertificates yes\n" MAILBOX, NAME ":1: DomainCertificates: TrustedCAFile must be set too", 0 },
	{ "DomainCertificates yes\nTrustedCAFile /ca.pem",
	  NAME ":1: DomainCertificates: domain certificates are used but no SecureMailbox is "
	       "configured to encrypt from: add a SecureMailbox (and its key)", 0 },
	/* an encrypted class that nothing can serve */
	{ "LDAPURI ldap://x\nLDAPBase c=DK",
	  NAME ":1: LDAPURI: certificates are looked up but no SecureMailbox is configured to "
	       "encrypt from: add a SecureMailbox (and its key), or remove LDAPURI", 0 },
	/* several mailboxes: which one for a message that names none? */
	{ "SecureMailbox a@kp.dk /k /c\nSecureMailbox b@kp.dk /k2 /c2",
	  NAME ":1: SecureMailbox: 2 SecureMailbox entries and no DefaultSecureMailbox: name the "
	       "one that encrypts a message whose sender names none", 0 },
	/* a whole top-level domain is nobody's own domain (the list importer agrees) */
	{ "InternalDomains kp.dk, dk", NAME ":1: InternalDomains: bad entry \"dk\": is a whole top-level domain", 1 },
	{ "InternalDomains .dk", NAME ":1: InternalDomains: bad entry \".dk\": is a whole top-level domain", 1 },
	{ "InternalDomains COM.", NAME ":1: InternalDomains: bad entry \"COM.\": is a whole top-level domain", 1 },
	{ "Mode monitor\nLDAPBindDN cn=x", NAME ":2: LDAPBindDN: LDAPBindPasswordFile must be set too", 0 },
	{ "LDAPBindPasswordFile /etc/pw", NAME ":1: LDAPBindPasswordFile: LDAPBindDN must be set too", 0 },
	{ "LDAPBindPasswordFile pw\nLDAPBindDN cn=x", NAME ":1: LDAPBindPasswordFile: \"pw\" is not an absolute path", 0 },
	{ "LDAPStartTLS maybe",
	  NAME ":1: LDAPStartTLS: bad value \"maybe\": expected yes, no, true, false, 1 or 0", 0 },
	{ "LDAPStartTLS", NAME ":1: LDAPStartTLS: missing value", 0 },
	{ "LDAPStartTLS yes", NAME ":1: LDAPStartTLS: LDAPCACertFile must be set too", 0 },
	{ "LDAPURI ldap://x\nLDAPBase c=DK\nLDAPStartTLS true\n" MAILBOX,
	  NAME ":3: LDAPStartTLS: LDAPCACertFile must be set too", 0 },
	{ "LDAPStartTLS yes\nLDAPStartTLS yes", NAME ":2: LDAPStartTLS: duplicate key, first at line 1", 0 },
	{ "CertTTL 10s", NAME ":1: CertTTL: 10s is out of range (1m..90d)", 0 },
	{ "MaxStale 91d", NAME ":1: MaxStale: 91d is out of range (0..90d)", 0 },
	{ "NegativeTTL 1y", NAME ":1: NegativeTTL: bad value \"1y\": expected a duration such as 30s, 15m, 12h, 7d or 2w", 0 },
	{ "UMask 8", NAME ":1: UMask: bad value \"8\": expected an octal number such as 007 or 027", 0 },
	{ "UMask 1000", NAME ":1: UMask: 1000 is out of range (000..777)", 0 },
	{ "Language fr", NAME ":1: Language: bad value \"fr\": expected da, en, da,en or en,da", 0 },
	{ "Language da,da", NAME ":1: Language: bad value \"da\": expected da, en, da,en or en,da", 0 },
	{ "Language ,", NAME ":1: Language: expected da, en, da,en or en,da", 0 },
	{ "Database sikkermail.db", NAME ":1: Database: \"sikkermail.db\" is not an absolute path", 0 },
	{ "SendmailPath sendmail", NAME ":1: SendmailPath: \"sendmail\" is not an absolute path", 0 },
	{ "PersonalHeader X-KP:Personal", NAME ":1: PersonalHeader: bad value \"X-KP:Personal\": expected a header field name (printable ASCII, no ':' or white space, at most 64 characters)", 0 },
	{ "MailboxHeader X KP", NAME ":1: MailboxHeader: bad value \"X KP\"", 1 },
	{ "MailboxHeader X-Ø", NAME ":1: MailboxHeader: bad value \"X-Ø\"", 1 },
	{ "MailboxHeader x-kp-personal", NAME ":1: MailboxHeader: PersonalHeader and MailboxHeader must differ", 0 },
	{ "PersonalHeader x-kp-secure-mailbox", NAME ":1: PersonalHeader: PersonalHeader and MailboxHeader must differ", 0 },
	{ "Socket inet:99999@localhost", NAME ":1: Socket: bad value \"inet:99999@localhost\": expected local:/PATH, inet:PORT@HOST or inet6:PORT@HOST", 0 },
	{ "Socket inet:8891@", NAME ":1: Socket: bad value \"inet:8891@\"", 1 },
	{ "Socket local:/run/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock",
	  NAME ":1: Socket: socket path longer than 107 bytes", 0 },
	{ "Socket inet:8891@[300.0.0.1]", NAME ":1: Socket: bad value \"inet:8891@[300.0.0.1]\"", 1 },
	{ "Socket local:run/x.sock", NAME ":1: Socket: \"run/x.sock\" is not an absolute path", 0 },
	{ "Socket tcp:8891", NAME ":1: Socket: bad value \"tcp:8891\"", 1 },
	{ "UserID sikker mail", NAME ":1: UserID: bad value \"sikker mail\": expected a user name", 0 },
	{ "UserID -x", NAME ":1: UserID: bad value \"-x\": expected a user name", 0 },
	{ "HelpURL ftp://kp.dk/help", NAME ":1: HelpURL: bad value \"ftp://kp.dk/help\": expected an http:// or https:// URL without spaces, at most 200 characters", 0 },
	{ "HelpURL https://kp.dk/a b", NAME ":1: HelpURL: bad value \"https://kp.dk/a b\"", 1 },
	{ "HelpURL https://", NAME ":1: HelpURL: bad value \"https://\"", 1 },
	{ "Cipher des-cbc", NAME ":1: Cipher: bad value \"des-cbc\": expected aes-256-cbc or aes-256-gcm", 0 },
	{ "Reinject smtp:127.0.0.1:0", NAME ":1: Reinject: bad value \"smtp:127.0.0.1:0\": expected sendmail or smtp:HOST:PORT (port 1..65535, an IPv6 address in brackets)", 0 },
	{ "Reinject smtp:127.0.0.1:65536", NAME ":1: Reinject: bad value \"smtp:127.0.0.1:65536\"", 1 },
	{ "Reinject smtp:relay", NAME ":1: Reinject: bad value \"smtp:relay\"", 1 },
	{ "Reinject smtp::25", NAME ":1: Reinject: bad value \"smtp::25\"", 1 },
	{ "Reinject smtp:::1:25", NAME ":1: Reinject: bad value \"smtp:::1:25\"", 1 },
	{ "Reinject lmtp:x:24", NAME ":1: Reinject: bad value \"lmtp:x:24\"", 1 },
	{ "SyslogFacility kern", NAME ":1: SyslogFacility: bad value \"kern\": expected mail, daemon, user or local0..local7", 0 },
	{ "LogLevel loud", NAME ":1: LogLevel: bad value \"loud\": expected error, warning, notice, info, debug or 0..7", 0 },
	{ "LogFormat xml", NAME ":1: LogFormat: bad value \"xml\": expected kv or json", 0 },
	{ "LogFormat", NAME ":1: LogFormat: missing value", 0 },
	{ "InstanceName mx 1", NAME ":1: InstanceName: bad value \"mx 1\": expected a name of letters, digits, '.', ':', '_' and '-', at most 40 characters", 0 },
	{ "InstanceName mx\"1", NAME ":1: InstanceName: bad value \"mx\"1\": expected a name", 1 },
	{ "InstanceName m=x", NAME ":1: InstanceName: bad value \"m=x\": expected a name", 1 },
	{ "InstanceName K\xc3\xb8" "benhavn", NAME ":1: InstanceName: bad value", 1 },
	{ "InstanceName 12345678901234567890123456789012345678901", NAME ":1: InstanceName: bad value \"12345678901234567890123456789012345678901\": expected a name", 1 },
	{ "SecureMailbox sikker@kp.dk /k.pem", NAME ":1: SecureMailbox: expected ADDRESS KEYFILE CERTFILE", 0 },
	{ "SecureMailbox sikker@kp.dk /k.pem /c.pem /x", NAME ":1: SecureMailbox: expected ADDRESS KEYFILE CERTFILE", 0 },
	{ "SecureMailbox sikker /k.pem /c.pem", NAME ":1: SecureMailbox: bad address \"sikker\": ", 1 },
	{ "SecureMailbox <> /k.pem /c.pem", NAME ":1: SecureMailbox: bad address \"<>\": the null address cannot be a mailbox", 0 },
	{ "SecureMailbox sikker@kp.dk k.pem /c.pem", NAME ":1: SecureMailbox: \"k.pem\" is not an absolute path", 0 },
	{ "SecureMailbox sikker@KP.dk /k /c\nSecureMailbox sikker@kp.dk /k2 /c2",
	  NAME ":2: SecureMailbox: sikker@kp.dk is already a SecureMailbox", 0 },
	{ MAILBOX "\nSecureMailboxUsers b@kp.dk hr@kp.dk",
	  NAME ":2: SecureMailboxUsers: b@kp.dk is not a configured SecureMailbox", 0 },
	{ MAILBOX "\nSecureMailboxUsers a@kp.dk",
	  NAME ":2: SecureMailboxUsers: expected MAILBOX SENDER-OR-DOMAIN[, ...]", 0 },
	{ MAILBOX "\nSecureMailboxUsers a@kp.dk dk",
	  NAME ":2: SecureMailboxUsers: bad entry \"dk\": is a whole", 1 },
	{ MAILBOX "\nSecureMailboxUsers a@kp.dk x@@kp.dk",
	  NAME ":2: SecureMailboxUsers: bad address \"x@@kp.dk\"", 1 },
	{ "SecureMailbox a@kp.dk /k /c\nDefaultSecureMailbox b@kp.dk\nMode monitor",
	  NAME ":2: DefaultSecureMailbox: b@kp.dk is not a configured SecureMailbox", 0 },
	{ "DefaultSecureMailbox b@kp.dk", NAME ":1: DefaultSecureMailbox: b@kp.dk is not a configured SecureMailbox", 0 },
	{ "DefaultSecureMailbox a@kp.dk b@kp.dk", NAME ":1: DefaultSecureMailbox: expected one address", 0 },
	/* one mistake, one message: a rule joining keys is quiet when one of them is wrong */
	{ "SecureMailbox a@kp.dk k /c\nDefaultSecureMailbox a@kp.dk", NAME ":1: SecureMailbox: \"k\" is not an absolute path", 0 },
	{ "LDAPURI ldap://x\nLDAPBase\n" MAILBOX, NAME ":2: LDAPBase: missing value", 0 },
	{ "LDAPStartTLS yes\nLDAPCACertFile ca.pem", NAME ":2: LDAPCACertFile: \"ca.pem\" is not an absolute path", 0 },
};

static void check_bad(const char *label, const char *text, size_t len, const char *want,
		      int prefix)
{
	struct strlist errors;
	struct config *c;
	const char *got;

	strlist_init(&errors);
	c = config_parse(NAME, text, len, &errors);
	ok(c == NULL, "bad: %s is refused", label);
	got = errors.n > 0 ? errors.v[0] : "(no error)";
	if (prefix && !ok(strncmp(got, want, strlen(want)) == 0, "bad: %s: message start", label))
		diag("got \"%s\", want it to start \"%s\"", got, want);
	if (!prefix)
		is_str(got, want, "bad: %s: message", label);
	if (!is_int((long long)errors.n, 1, "bad: %s: exactly one error", label))
		for (size_t i = 0; i < errors.n; i++)
			diag("%s", errors.v[i]);
	config_unref(c);
	strlist_free(&errors);
}

static void test_errors(void)
{
	struct strbuf sb;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *label = printable(bad[i].text, strlen(bad[i].text));

		check_bad(label, bad[i].text, strlen(bad[i].text), bad[i].want, bad[i].prefix);
		free(label);
	}

	sb_init(&sb);
	sb_adds(&sb, "SecureSubject ");
	for (int i = 0; i < 201; i++)
		sb_addc(&sb, 'x');
	check_bad("a 201-byte SecureSubject", sb.s, sb.len,
		  NAME ":1: SecureSubject: too long (at most 200 bytes)", 0);
	sb_free(&sb);
}

/* Lines that cannot be read at all, and lines that are very long. */
static void test_raw_lines(void)
{
	static const char nul[] = "Mode monitor\nMode\0monitor\n";
	struct strbuf sb;
	struct strlist errors;
	struct config *c;

	check_bad("a NUL byte", nul, sizeof(nul) - 1, NAME ":2: line contains a NUL byte", 0);
	check_bad("a bare 0xff", "SecureSubject Hej \xff", 19, NAME ":1: line is not valid UTF-8", 0);
	check_bad("an overlong '/'", "PidFile \xc0\xaf", 10, NAME ":1: line is not valid UTF-8", 0);
	check_bad("a surrogate", "SecureSubject \xed\xa0\x80", 17, NAME ":1: line is not valid UTF-8", 0);
	check_bad("a cut sequence", "SecureSubject \xe2\x82", 16, NAME ":1: line is not valid UTF-8", 0);
	check_bad("past U+10FFFF", "SecureSubject \xf4\x90\x80\x80", 18, NAME ":1: line is not valid UTF-8", 0);
	check_bad("a control character", "Mode\x01 monitor", 13,
		  NAME ":1: line contains a control character", 0);
	check_bad("a bare CR inside", "Mode\rmonitor", 12, NAME ":1: line contains a control character", 0);

	sb_init(&sb);
	sb_adds(&sb, "Mode ");
	for (int i = 0; i < 100000; i++)
		sb_addc(&sb, 'm');
	check_bad("a 100 kB line", sb.s, sb.len, NAME ":1: line too long (more than 65536 bytes)", 0);

	/* A long value is quoted back cut short, on a character boundary. */
	sb_reset(&sb);
	sb_adds(&sb, "Mode ");
	for (int i = 0; i < 1000; i++)
		sb_adds(&sb, "æ");
	strlist_init(&errors);
	c = config_parse(NAME, sb.s, sb.len, &errors);
	ok(c == NULL && errors.n == 1, "long value: refused with one error");
	ok(errors.n == 1 && strlen(errors.v[0]) < 200, "long value: the message is short");
	ok(errors.n == 1 && strstr(errors.v[0], "ææ...\": expected enforce or monitor") != NULL,
	   "long value: cut on a character boundary, marked with ...");
	strlist_free(&errors);
	sb_free(&sb);

	c = config_parse(NAME, "Mode monitor", 12, NULL);
	ok(c != NULL, "a NULL error list is allowed for a good file");
	config_unref(c);
	ok(config_parse(NAME, "Mode x", 6, NULL) == NULL, "and a bad file still gives NULL");
	c = config_parse(NAME, "Mode monitorX", 12, NULL);	/* len stops before 'X' */
	ok(c != NULL && c->mode == MODE_MONITOR, "only len bytes are read");
	config_unref(c);
	c = config_parse(NULL, NULL, 0, NULL);
	ok(c != NULL && c->mode == MODE_ENFORCE, "no text at all gives the defaults");
	config_unref(c);
}

static void test_many_errors(void)
{
	static const char text[] =
		"# a file with seven mistakes\n"	/* 1 */
		"DefaultSecureMailbox hr@kp.dk\n"	/* 2: found wrong at the end */
		"Mode monitor\n"			/* 3 */
		"Mood enforce\n"			/* 4 */
		"LDAPTimeout 0\n"			/* 5 */
		"InternalDomains kp.dk\n"		/* 6 */
		"PersonalToFreemail accept\n"		/* 7 */
		"\n"					/* 8 */
		"Mode enforce\n"			/* 9 */
		"InternalNetworks 10.0.0.0/40, 192.0.2.0/24, ::1/200\n"	/* 10 */
		"SecureMailbox sikker@kp.dk /k /c\n"	/* 11 */
		"TagHeader perhaps";			/* 12, no newline */
	static const char *const want[] = {
		NAME ":2: DefaultSecureMailbox: hr@kp.dk is not a configured SecureMailbox",
		NAME ":4: unknown key \"Mood\"; did you mean Mode?",
		NAME ":5: LDAPTimeout: 0 is out of range (1..120)",
		NAME ":7: PersonalToFreemail: accept is never allowed: personal data may never go "
		     "to a freemail provider, not even with TLS; use reject or hold",
		NAME ":9: Mode: duplicate key, first at line 3",
		NAME ":10: InternalNetworks: bad network \"10.0.0.0/40\": the prefix length must be 0..32",
		NAME ":10: InternalNetworks: bad network \"::1/200\": the prefix length must be 0..128",
		NAME ":12: TagHeader: bad value \"perhaps\": expected yes, no, true, false, 1 or 0",
	};
	struct strlist errors;
	struct strbuf sb;
	struct config *c;
	size_t n = sizeof(want) / sizeof(want[0]);

	strlist_init(&errors);
	strlist_add(&errors, "an earlier error from someone else");
	c = parse_text(text, &errors);
	ok(c == NULL, "many: the file is refused");
	is_int((long long)errors.n, (long long)n + 1, "many: every error is reported");
	is_str(errors.v[0], "an earlier error from someone else", "many: earlier errors are kept");
	for (size_t i = 0; i < n && i + 1 < errors.n; i++)
		is_str(errors.v[i + 1], want[i], "many: error %zu, in line order", i + 1);
	strlist_free(&errors);

	/* A big file of mistakes: every one reported, in order, quickly. */
	sb_init(&sb);
	for (int i = 0; i < 50000; i++)
		sb_adds(&sb, "Mode x\n");
	c = config_parse(NAME, sb.s, sb.len, &errors);
	ok(c == NULL && errors.n == 50000, "many: 50000 bad lines, 50000 errors");
	is_str(errors.n == 50000 ? errors.v[49999] : NULL,
	       NAME ":50000: Mode: duplicate key, first at line 1", "many: the last one");
	strlist_free(&errors);
	sb_free(&sb);
}

static const struct {
	const char *addr;
	int want;
} nets_custom[] = {
	{ "10.0.0.1", 1 },	    { "10.255.255.255", 1 },	{ "11.0.0.1", 0 },
	{ "192.168.1.128", 1 },	    { "192.168.1.255", 1 },	{ "192.168.1.127", 0 },
	{ "172.16.0.1", 1 },	    { "172.16.0.2", 0 },	{ "127.0.0.1", 0 },
	{ "2001:db8::1", 1 },	    { "2001:db8:ffff::1", 1 },	{ "2001:db9::1", 0 },
	{ "::1", 0 },		    { "::ffff:10.1.2.3", 1 },	{ "::ffff:11.1.2.3", 0 },
	{ "::ffff:192.168.1.200", 1 }, { "::ffff:192.168.1.100", 0 }, { "fe80::1", 1 },
	{ "fe80::ffff:1", 1 },	    { "fec0::1", 0 },
};

static const struct {
	const char *addr;
	int want;
} nets_default[] = {
	{ "127.0.0.1", 1 }, { "127.255.0.9", 1 }, { "::1", 1 },	      { "::ffff:127.0.0.1", 1 },
	{ "10.0.0.1", 0 },  { "::2", 0 },	  { "128.0.0.1", 0 }, { "::ffff:128.0.0.1", 0 },
	{ "::", 0 },
};

static bool is_internal(const struct config *c, const char *addr)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (strchr(addr, ':') != NULL) {
		sin6.sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, addr, &sin6.sin6_addr) != 1)
			return false;
		return config_is_internal_network(c, (struct sockaddr *)&sin6);
	}
	sin.sin_family = AF_INET;
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
		return false;
	return config_is_internal_network(c, (struct sockaddr *)&sin);
}

static void test_networks(void)
{
	struct config *c = config_defaults();
	struct sockaddr_un sun;

	for (size_t i = 0; i < sizeof(nets_default) / sizeof(nets_default[0]); i++)
		is_int(is_internal(c, nets_default[i].addr), nets_default[i].want,
		       "networks: default: %s", nets_default[i].addr);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	ok(!config_is_internal_network(c, (struct sockaddr *)&sun), "networks: AF_UNIX is not");
	ok(!config_is_internal_network(c, NULL), "networks: no address is not");
	config_unref(c);

	c = parse_text("InternalNetworks 10.0.0.0/8 192.168.1.128/25, 172.16.0.1 "
		       "2001:db8::/32 fe80::/10",
		       NULL);
	if (!ok(c != NULL, "networks: the custom list parses"))
		return;
	is_int((long long)c->n_internal_networks, 5, "networks: five networks, defaults replaced");
	for (size_t i = 0; i < sizeof(nets_custom) / sizeof(nets_custom[0]); i++)
		is_int(is_internal(c, nets_custom[i].addr), nets_custom[i].want,
		       "networks: custom: %s", nets_custom[i].addr);
	config_unref(c);

	c = parse_text("InternalNetworks 0.0.0.0/0", NULL);
	ok(c != NULL && is_internal(c, "203.0.113.9") && is_internal(c, "::ffff:203.0.113.9") &&
	   !is_internal(c, "2001:db8::1"), "networks: 0.0.0.0/0 is every IPv4 address, no IPv6");
	config_unref(c);
}

static const struct {
	const char *s;
	long want;
} durations[] = {
	{ "0", 0 },	     { "30", 30 },	  { "30s", 30 },	{ "15m", 900 },
	{ "12h", 43200 },    { "7d", 604800 },	  { "2w", 1209600 },	{ "", -1 },
	{ "s", -1 },	     { "-5", -1 },	  { "+5", -1 },		{ " 5", -1 },
	{ "5 s", -1 },	     { "5S", -1 },	  { "5ss", -1 },	{ "1.5h", -1 },
	{ "5y", -1 },	     { "1h30m", -1 },	  { "99999999999999999999", -1 },
	{ "999999999999999999w", -1 },
};

static void test_durations(void)
{
	for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++)
		is_int(config_parse_duration(durations[i].s), durations[i].want, "duration \"%s\"",
		       durations[i].s);
	is_int(config_parse_duration(NULL), -1, "duration NULL");
}

static void test_mailboxes(void)
{
	const struct secure_mailbox *m;
	struct config *c;

	c = parse_text("DefaultSecureMailbox hr@kp.dk\n"
		       "SecureMailbox sikker@KP.dk /etc/sikkermail/sikker.key /etc/sikkermail/sikker.pem\n"
		       "SecureMailbox hr@kp.dk\t/etc/sikkermail/hr.key   /etc/sikkermail/hr.pem\n",
		       NULL);
	if (!ok(c != NULL, "mailboxes: DefaultSecureMailbox may come before its SecureMailbox"))
		return;
	is_int((long long)c->n_mailboxes, 2, "mailboxes: two");
	is_str(c->default_secure_mailbox, "hr@kp.dk", "mailboxes: the default");
	m = config_find_mailbox(c, "sikker@kp.dk");
	ok(m != NULL && strcmp(m->keyfile, "/etc/sikkermail/sikker.key") == 0 &&
	   strcmp(m->certfile, "/etc/sikkermail/sikker.pem") == 0, "mailboxes: found with its files");
	ok(config_find_mailbox(c, "sikker@KP.DK") == m, "mailboxes: the domain ignores case");
	ok(config_find_mailbox(c, "Sikker@kp.dk") == NULL, "mailboxes: the local part does not");
	ok(config_find_mailbox(c, "sikker@kp.dk.evil.com") == NULL, "mailboxes: no suffix match");
	ok(config_find_mailbox(c, "nobody@kp.dk") == NULL, "mailboxes: unknown is NULL");
	ok(config_find_mailbox(c, NULL) == NULL, "mailboxes: NULL is NULL");
	ok(config_mailbox_allows(c, "hr@kp.dk", "anyone@example.org"),
	   "mailbox users: without SecureMailboxUsers anyone may use a mailbox");
	config_unref(c);

	c = parse_text(MAILBOX "\nSecureMailbox hr@kp.dk /k2 /c2\nDefaultSecureMailbox a@kp.dk\n"
		       "SecureMailboxUsers hr@kp.dk jens@kp.dk, @hr.kp.dk\n"
		       "SecureMailboxUsers hr@kp.dk mette@kp.dk\n", NULL);
	if (!ok(c != NULL, "mailbox users: parsed"))
		return;
	ok(config_mailbox_allows(c, "hr@kp.dk", "jens@kp.dk"), "mailbox users: a listed sender");
	ok(config_mailbox_allows(c, "hr@kp.dk", "mette@kp.dk"), "mailbox users: lines add up");
	ok(config_mailbox_allows(c, "hr@kp.dk", "anna@hr.kp.dk"), "mailbox users: a listed domain");
	ok(!config_mailbox_allows(c, "hr@kp.dk", "anna@kp.dk"), "mailbox users: anyone else may not");
	ok(config_mailbox_allows(c, "hr@kp.dk", "Jens@kp.dk"),
	   "mailbox users: a sender's local part in another case is the same sender");
	ok(!config_mailbox_allows(c, "hr@kp.dk", "x@evil.hr.kp.dk"), "mailbox users: no subdomains");
	ok(!config_mailbox_allows(c, "hr@kp.dk", "jens@kp.dk.evil.com"), "mailbox users: no suffix match");
	ok(!config_mailbox_allows(c, "hr@kp.dk", ""), "mailbox users: not the null sender");
	ok(!config_mailbox_allows(c, "hr@kp.dk", NULL), "mailbox users: not an unknown sender");
	ok(config_mailbox_allows(c, "a@kp.dk", "anna@kp.dk"), "mailbox users: other mailboxes stay open");
	round_trip("SecureMailboxUsers", c);
	config_unref(c);
}

/* The dump of a snapshot parses back to a snapshot with the same dump. */
/* PersonalSubjectTag: none by default, repeatable, the rest of the line; bad values refused. */
static void test_subject_tags(void)
{
	struct config *c = config_defaults();
	struct strbuf sb;

	is_int((long long)c->n_subject_tags, 0, "subject tags: none by default");
	config_unref(c);
	c = parse_text("PersonalSubjectTag [sikker]\n"
		       "PersonalSubjectTag   [personf\xc3\xb8lsom]  \n"
		       "personalsubjecttag #pf # a tag, not a comment\n", NULL);
	ok(c != NULL && c->n_subject_tags == 3, "subject tags: three lines, three tags");
	if (c != NULL && c->n_subject_tags == 3) {
		is_str(c->subject_tags[0], "[sikker]", "subject tags: the first");
		is_str(c->subject_tags[1], "[personf\xc3\xb8lsom]",
		       "subject tags: the second, white space around it trimmed");
		is_str(c->subject_tags[2], "#pf # a tag, not a comment",
		       "subject tags: the rest of the line, '#' included");
		round_trip("subject tags", c);
	}
	config_unref(c);

	check_bad("an empty PersonalSubjectTag", "PersonalSubjectTag   ", 21,
		  NAME ":1: PersonalSubjectTag: missing value", 0);
	check_bad("a tab in a PersonalSubjectTag", "PersonalSubjectTag [a\tb]", 24,
		  NAME ":1: PersonalSubjectTag: bad value \"[a\tb]\": a tag may not contain "
		  "control characters", 0);
	check_bad("a C1 control in a PersonalSubjectTag", "PersonalSubjectTag [a\xc2\x85]", 24,
		  NAME ":1: PersonalSubjectTag: bad value \"[a\xc2\x85]\": a tag may not contain "
		  "control characters", 0);
	check_bad("a C0 control in a PersonalSubjectTag", "PersonalSubjectTag [a\x1b]", 23,
		  NAME ":1: line contains a control character", 0);
	check_bad("a bad tag on line 2", "PersonalSubjectTag [sikker]\nPersonalSubjectTag \t", 48,
		  NAME ":2: PersonalSubjectTag: missing value", 0);
	sb_init(&sb);
	sb_adds(&sb, "PersonalSubjectTag ");
	for (int i = 0; i < 65; i++)
		sb_addc(&sb, 'x');
	check_bad("a 65-byte PersonalSubjectTag", sb.s, sb.len,
		  NAME ":1: PersonalSubjectTag: too long (at most 64 bytes)", 0);
	sb_free(&sb);
	sb_init(&sb);
	sb_adds(&sb, "PersonalSubjectTag ");
	for (int i = 0; i < 32; i++)
		sb_adds(&sb, "\xc3\xb8");	/* 32 characters, 64 bytes */
	c = parse_text(sb.s, NULL);
	ok(c != NULL && c->n_subject_tags == 1, "subject tags: a 64-byte tag is accepted");
	config_unref(c);
	sb_free(&sb);
}

static void round_trip(const char *label, struct config *c)
{
	struct strbuf one, two;
	struct strlist errors;
	struct config *again;

	sb_init(&one);
	sb_init(&two);
	strlist_init(&errors);
	config_dump(c, &one);
	again = config_parse("dump", one.s, one.len, &errors);
	ok(again != NULL && errors.n == 0, "round trip: %s: the dump parses", label);
	for (size_t i = 0; i < errors.n; i++)
		diag("%s", errors.v[i]);
	if (again != NULL) {
		config_dump(again, &two);
		/* only the first line, naming the source, may differ */
		is_str(strchr(two.s, '\n'), strchr(one.s, '\n'), "round trip: %s: same dump", label);
	}
	config_unref(again);
	strlist_free(&errors);
	sb_free(&one);
	sb_free(&two);
}

static void test_dump_round_trip(void)
{
	struct config *c = config_defaults();
	struct strbuf sb;

	round_trip("defaults", c);
	sb_init(&sb);
	config_dump(c, &sb);
	ok(strstr(sb.s, "\nMode                 enforce\n") != NULL, "dump: aligned Key value lines");
	ok(strstr(sb.s, "\n# PidFile (not set)\n") != NULL, "dump: unset keys are comments");
	sb_free(&sb);
	config_unref(c);

	c = parse_text("Socket inet:8891@127.0.0.1\nPidFile /run/s.pid\nUMask 027\nMode monitor\n"
		       "InternalDomains kp.dk .kp.dk\nInternalNetworks 10.0.0.0/8 2001:db8::/32\n"
		       "Language en\nHelpURL https://kp.dk/h\nLDAPURI ldap://a ldaps://b\n"
		       "LDAPBase c=DK\nLDAPBindDN cn=r,c=DK\nLDAPBindPasswordFile /p\n"
		       "LDAPCACertFile /ca.pem\nLDAPStartTLS yes\nCertTTL 90s\nNegativeTTL 0\nSecureMailbox a@kp.dk /k /c\n"
		       "SecureMailbox b@kp.dk /k2 /c2\nDefaultSecureMailbox b@kp.dk\n"
		       "SecureSubject Sikker # besked\nCipher aes-256-gcm\nReinject smtp:[::1]:25\n"
		       "SyslogFacility local7\nLogLevel 1\n",
		       NULL);
	if (ok(c != NULL, "round trip: a full file parses"))
		round_trip("full", c);
	config_unref(c);
}

static char *read_whole(const char *path)
{
	struct strbuf sb;
	char buf[4096];
	size_t n;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return NULL;
	sb_init(&sb);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		sb_addmem(&sb, buf, n);
	fclose(f);
	return sb.s;
}

static const char *srcdir(void)
{
	const char *d = getenv("top_srcdir");

	return d != NULL && *d != '\0' ? d : ".";
}

static void test_load(void)
{
	char dir[] = "/tmp/t_config.XXXXXX", *path, *want;
	struct strlist errors;
	struct config *c;
	FILE *f;

	c = config_load(NULL, NULL);
	ok(c != NULL && strcmp(c->path, "(built-in)") == 0, "load: no path gives the defaults");
	config_unref(c);

	if (!ok(mkdtemp(dir) != NULL, "load: a temporary directory"))
		return;
	path = xasprintf("%s/sikkermail.conf", dir);
	strlist_init(&errors);
	ok(config_load(path, &errors) == NULL, "load: a missing file is refused");
	want = xasprintf("%s: cannot open: No such file or directory", path);
	is_str(errors.n ? errors.v[0] : NULL, want, "load: and says why");
	free(want);
	strlist_free(&errors);

	f = fopen(path, "w");
	fputs("# test\nMode monitor\nInternalDomains kp.dk\n", f);
	fclose(f);
	c = config_load(path, &errors);
	ok(c != NULL && c->mode == MODE_MONITOR && c->n_internal_domains == 1,
	   "load: a good file is read");
	ok(c != NULL && strcmp(c->path, path) == 0, "load: the snapshot knows its file");
	config_unref(c);

	f = fopen(path, "w");
	fputs("Mode monitor\nMode x\n", f);
	fclose(f);
	ok(config_load(path, &errors) == NULL, "load: a bad file is refused");
	want = xasprintf("%s:2: Mode: duplicate key, first at line 1", path);
	is_str(errors.n ? errors.v[0] : NULL, want, "load: errors name the file");
	free(want);
	strlist_free(&errors);

	ok(config_load(dir, &errors) == NULL, "load: a directory is refused");
	want = xasprintf("%s: cannot read: Is a directory", dir);
	is_str(errors.n ? errors.v[0] : NULL, want, "load: a directory cannot be read");
	free(want);
	strlist_free(&errors);

	ok(config_load("/dev/zero", &errors) == NULL, "load: an endless file is refused");
	is_str(errors.n ? errors.v[0] : NULL, "/dev/zero: cannot read: larger than 1 MB",
	       "load: after 1 MB");
	strlist_free(&errors);
	c = config_load("/dev/null", &errors);
	ok(c != NULL && errors.n == 0 && c->mode == MODE_ENFORCE, "load: an empty file is the defaults");
	config_unref(c);

	unlink(path);
	rmdir(dir);
	free(path);
}

#define THREADS 4
#define ROUNDS 500000

static pthread_barrier_t start_line;

/* ref_unref - take and drop many references, all threads at once. */
static void *ref_unref(void *arg)
{
	struct config *c = arg;

	pthread_barrier_wait(&start_line);
	for (int i = 0; i < ROUNDS; i++)
		config_ref(c);
	for (int i = 0; i < ROUNDS; i++)
		config_unref(c);
	return NULL;
}

static void test_refcount(void)
{
	struct config *c = config_defaults();
	pthread_t t[THREADS];

	ok(config_ref(c) == c, "refcount: config_ref returns its argument");
	is_int(c->refcount, 2, "refcount: 2 after a ref");
	config_unref(c);
	is_int(c->refcount, 1, "refcount: 1 after an unref");
	pthread_barrier_init(&start_line, NULL, THREADS);
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, ref_unref, c);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start_line);
	is_int(c->refcount, 1, "refcount: atomic under %d threads", THREADS);
	ok(config_ref(NULL) == NULL, "refcount: config_ref(NULL)");
	config_unref(NULL);
	config_unref(c);	/* freed: AddressSanitizer/valgrind would see a leak otherwise */
}

/*
 * uncomment - the example file with every "#Key value" line made active,
 * but each key that may be given only once kept at its first line: the
 * values the example offers must be good ones too.
 */
static char *uncomment(const char *text)
{
	struct strbuf out;
	struct strlist seen;
	char *copy = xstrdup(text), *line, *name, *save = NULL;

	sb_init(&out);
	strlist_init(&seen);
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *key = line + (line[0] == '#');
		size_t n = strcspn(key, " \t");
		bool dup = false;

		if (!(key[0] >= 'A' && key[0] <= 'Z') || key[n] == '\0')
			continue;	/* prose, or not a setting */
		for (size_t i = 0; i < seen.n; i++)
			dup |= strlen(seen.v[i]) == n && strncmp(seen.v[i], key, n) == 0;
		if (dup && strncmp(key, "SecureMailbox", n) != 0)
			continue;
		name = xstrndup(key, n);
		strlist_add(&seen, name);
		free(name);
		sb_printf(&out, "%s\n", key);
	}
	strlist_free(&seen);
	free(copy);
	return out.s;
}

/* man_example - the text of the EXAMPLE section of the manual, or NULL. */
static char *man_example(const char *man)
{
	const char *start = strstr(man, "\n.SH EXAMPLE\n.nf\n.RS\n"), *end;

	if (start == NULL)
		return NULL;
	start += strlen("\n.SH EXAMPLE\n.nf\n.RS\n");
	if ((end = strstr(start, "\n.RE\n")) == NULL)
		return NULL;
	return xstrndup(start, (size_t)(end - start + 1));
}

/* contrib/sikkermail.conf parses; the manual documents every key of the table. */
static void test_example_and_manual(void)
{
	char *path = xasprintf("%s/contrib/sikkermail.conf", srcdir());
	char *man = NULL, *save = NULL, *line, *text, *all;
	struct strlist errors;
	struct config *c;
	struct strbuf sb;

	strlist_init(&errors);
	c = config_load(path, &errors);
	ok(c != NULL && errors.n == 0, "example: %s parses", path);
	for (size_t i = 0; i < errors.n; i++)
		diag("%s", errors.v[i]);
	ok(c != NULL && c->n_internal_domains == 2 && strcmp(c->internal_domains[0], "kp.dk") == 0 &&
	   strcmp(c->internal_domains[1], ".kp.dk") == 0, "example: InternalDomains kp.dk, .kp.dk");
	config_unref(c);
	strlist_free(&errors);

	text = read_whole(path);
	all = text ? uncomment(text) : NULL;
	c = all ? config_parse("example, uncommented", all, strlen(all), &errors) : NULL;
	ok(c != NULL && errors.n == 0, "example: the values in its comments are good too");
	for (size_t i = 0; i < errors.n; i++)
		diag("%s", errors.v[i]);
	ok(c != NULL && c->n_mailboxes == 2 && c->n_ldap_uri == 1 && c->mode == MODE_MONITOR,
	   "example: and they were all read");
	config_unref(c);
	strlist_free(&errors);
	free(all);
	free(text);
	free(path);

	path = xasprintf("%s/doc/sikkermail.conf.5", srcdir());
	man = read_whole(path);
	ok(man != NULL, "manual: %s is readable", path);
	text = man ? man_example(man) : NULL;
	c = text ? config_parse("manual EXAMPLE", text, strlen(text), &errors) : NULL;
	ok(c != NULL && errors.n == 0, "manual: its EXAMPLE parses");
	for (size_t i = 0; i < errors.n; i++)
		diag("%s", errors.v[i]);
	config_unref(c);
	strlist_free(&errors);
	free(text);

	c = config_defaults();
	sb_init(&sb);
	config_dump(c, &sb);
	for (line = strtok_r(sb.s, "\n", &save); man && line; line = strtok_r(NULL, "\n", &save)) {
		char *key = line[0] == '#' ? line + 2 : line, *pat, *pat2;

		if (line[0] == '#' && strstr(line, "(not set)") == NULL)
			continue;	/* the "effective configuration" line */
		key[strcspn(key, " ")] = '\0';
		pat = xasprintf("\n.B %s ", key);
		pat2 = xasprintf("\n.B %s\n", key);
		ok(strstr(man, pat) != NULL || strstr(man, pat2) != NULL, "manual: documents %s", key);
		free(pat);
		free(pat2);
	}
	sb_free(&sb);
	config_unref(c);
	free(man);
	free(path);
}

int main(void)
{
	log_init("t_config", false, true, 0);
	test_defaults();
	test_good_values();
	test_fields();
	test_errors();
	test_raw_lines();
	test_many_errors();
	test_networks();
	test_durations();
	test_mailboxes();
	test_subject_tags();
	test_dump_round_trip();
	test_load();
	test_refcount();
	test_example_and_manual();
	return done_testing();
}

/*
 * t_directory.c - unit tests for directory.c that need no LDAP server:
 * RFC 4515 escaping and LDAPFilter expansion, filter checks, refused
 * configurations, the server list's order and back-off, and lookups
 * against loopback ports where nothing answers (refused, or a listener
 * that never speaks: retry within LDAPTimeout, ldap:// and ldaps://).
 * StartTLS against a fake server in a child process that refuses it,
 * answers the handshake with nonsense or not at all: retry, in time, and
 * never a bind or search in the clear (the fake records what it gets).
 * The real-server cases are in tests/directory.sh.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "directory.h"
#include "log.h"
#include "tap.h"
#include "util.h"

static char dir[] = "/tmp/t_directory.XXXXXX";

/* A CA certificate to load as LDAPCACertFile; no fake server shows a certificate. */
static const char fake_ca[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBkjCCATmgAwIBAgIUaxmpWJvV6m8XNDpbIYhwOEzh1zkwCgYIKoZIzj0EAwIw\n"
	"HjEcMBoGA1UEAwwTdF9kaXJlY3RvcnkgdGVzdCBDQTAgFw0yNjExMjkwNzMxMTBa\n"
	"GA8yMTI2MTEwNTA3MzExMFowHjEcMBoGA1UEAwwTdF9kaXJlY3RvcnkgdGVzdCBD\n"
	"QTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABKEFtUY8+YSA4xUJJla7RH1wR2+9\n"
	"2N5pDHxNEseSpyush4aLl+s11QUS44eJyxGrCwPnlH1CpvkYdoGNmNh3d+WjUzBR\n"
	"MB0GA1UdDgQWBBQPwZYcDiX5JeDjGTILQRwgKVc4GDAfBgNVHSMEGDAWgBQPwZYc\n"
	"DiX5JeDjGTILQRwgKVc4GDAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cA\n"
	"MEQCIEhT/FplJlKIa63PNi2Z8WLzAEpzdSF+W3e/OltgfHILAiBculIabMHO0RWj\n"
	"1EijWglFAic6nzxmYiWri9p6dy/9xw==\n"
	"-----END CERTIFICATE-----\n";

/* ------------------------------------------------------------ escaping */

static const struct {
	const char *template;
	const char *value;
	size_t len;		/* 0: strlen(value) */
	const char *want;
} expand_rows[] = {
	{ "(mail=%s)", "valid@example.dk", 0, "(mail=valid@example.dk)" },
	{ "(mail=%s)", "*", 0, "(mail=\\2A)" },
	{ "(mail=%s)", "*@example.dk", 0, "(mail=\\2A@example.dk)" },
	{ "(mail=%s)", "a(b)c@example.dk", 0, "(mail=a\\28b\\29c@example.dk)" },
	{ "(mail=%s)", "a\\b@example.dk", 0, "(mail=a\\5Cb@example.dk)" },
	{ "(mail=%s)", "a\0b@example.dk", 14, "(mail=a\\00b@example.dk)" },
	{ "(mail=%s)", "*)(mail=*", 0, "(mail=\\2A\\29\\28mail=\\2A)" },
	{ "(mail=%s)", "*)(|(objectClass=*)", 0, "(mail=\\2A\\29\\28|\\28objectClass=\\2A\\29)" },
	{ "(mail=%s)", "\\2a@example.dk", 0, "(mail=\\5C2a@example.dk)" },
	{ "(mail=%s)", "s\xc3\xb8ren@example.dk", 0, "(mail=s\\C3\\B8ren@example.dk)" },
	{ "(mail=%s)", "\"a b\"@example.dk", 0, "(mail=\"a b\"@example.dk)" },
	{ "(mail=%s)", "", 0, "(mail=)" },
	{ "(&(objectClass=inetOrgPerson)(mail=%s))", "u*@kp.dk", 0,
	  "(&(objectClass=inetOrgPerson)(mail=u\\2A@kp.dk))" },
	{ "(|(mail=%s)(mailAlternateAddress=%s))", "x(y@kp.dk", 0,
	  "(|(mail=x\\28y@kp.dk)(mailAlternateAddress=x\\28y@kp.dk))" },
	{ "(&(mail=%s)(description=100%%))", "u@kp.dk", 0, "(&(mail=u@kp.dk)(description=100%))" },
	{ "mail=%s", "u@kp.dk", 0, "mail=u@kp.dk" },
};

static void test_expand(void)
{
	for (size_t i = 0; i < sizeof(expand_rows) / sizeof(expand_rows[0]); i++) {
		size_t len = expand_rows[i].len ? expand_rows[i].len : strlen(expand_rows[i].value);
		char *got = directory_filter_expand(expand_rows[i].template, expand_rows[i].value, len);
		is_str(got, expand_rows[i].want, "expand %s with row %zu", expand_rows[i].template, i);
		ok(directory_filter_check(expand_rows[i].template) == NULL, "template %s is accepted",
		   expand_rows[i].template);
		free(got);
	}
}

static const struct {
	const char *template;
	const char *why;	/* substring; NULL = accepted */
} check_rows[] = {
	{ "(mail=%s)", NULL },
	{ "(|(mail=%s)(cn=x))", NULL },
	{ "", "empty" },
	{ "(mail=valid@example.dk)", "no %s" },
	{ "(mail=%s", "unbalanced" },
	{ "((mail=%s)", "unbalanced" },
	{ "mail=%s)", "a ')' without its '('" },
	{ "(mail=%s))(", "a ')' without its '('" },
	{ "(mail=%d)", "'%' must be followed" },
	{ "(mail=%s)%", "'%' must be followed" },
	{ "(mail=%S)", "'%' must be followed" },
	{ "(mail=%%)", "no %s" },
};

static void test_check(void)
{
	for (size_t i = 0; i < sizeof(check_rows) / sizeof(check_rows[0]); i++) {
		const char *got = directory_filter_check(check_rows[i].template);
		if (check_rows[i].why == NULL)
			ok(got == NULL, "filter \"%s\" accepted", check_rows[i].template);
		else
			ok(got != NULL && strstr(got, check_rows[i].why) != NULL,
			   "filter \"%s\" refused: %s", check_rows[i].template, got ? got : "(accepted)");
	}
	ok(directory_filter_check(NULL) != NULL, "no filter at all is refused");
}

/* --------------------------------------------------------- set-up */

static char *write_file(const char *name, const char *text, mode_t mode)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *fp = fopen(path, "w");

	if (fp == NULL || fputs(text, fp) < 0 || fclose(fp) != 0) {
		printf("Bail out! cannot write %s\n", path);
		exit(1);
	}
	chmod(path, mode);
	return path;
}

static void cfg_init(struct config *cfg, char **uris, size_t n)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->ldap_uri = uris;
	cfg->n_ldap_uri = n;
	cfg->ldap_base = "c=DK";
	cfg->ldap_filter = "(mail=%s)";
	cfg->ldap_timeout = 1;
}

static void test_new_errors(void)
{
	char *one[] = { "ldap://127.0.0.1:389/" };
	char *bad[] = { "ldap://127.0.0.1:389/", "http://example.dk/" };
	char *tls[] = { "ldaps://127.0.0.1:636/" };
	char *pw = write_file("pw", "s3cret\r\nsecond line\n", 0600);
	char *empty = write_file("empty", "\n", 0600);
	char *missing = xasprintf("%s/missing", dir);
	char *nocafile = xasprintf("%s/no-ca.pem", dir);
	char *cafile = write_file("ca.pem", fake_ca, 0644);
	struct {
		const char *what;
		char **uris;
		size_t n;
		const char *filter, *dn, *pwfile, *cafile, *why;
	} rows[] = {
		{ "no LDAPURI", one, 0, NULL, NULL, NULL, NULL, "LDAPURI is not set" },
		{ "a bad filter", one, 1, "(mail=%s", NULL, NULL, NULL, "LDAPFilter \"(mail=%s\": unbalanced" },
		{ "a filter without %s", one, 1, "(mail=x)", NULL, NULL, NULL, "no %s" },
		{ "a bind DN without a password file", one, 1, NULL, "cn=x,c=DK", NULL, NULL,
		  "LDAPBindDN needs LDAPBindPasswordFile" },
		{ "a password file without a bind DN", one, 1, NULL, NULL, pw, NULL,
		  "LDAPBindPasswordFile needs LDAPBindDN" },
		{ "a missing password file", one, 1, NULL, "cn=x,c=DK", missing, NULL,
		  "No such file or directory" },
		{ "an empty password file", one, 1, NULL, "cn=x,c=DK", empty, NULL, "no password" },
		{ "a URI that is not LDAP", bad, 2, NULL, NULL, NULL, NULL, "LDAPURI http://example.dk/: " },
		{ "a missing LDAPCACertFile", one, 1, NULL, NULL, NULL, nocafile,
		  "no-ca.pem: No such file or directory" },
		{ "an LDAPCACertFile that is a directory", tls, 1, NULL, NULL, NULL, dir,
		  "cannot set up TLS with LDAPCACertFile" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct config cfg;
		struct directory *d;
		char *err = NULL;

		cfg_init(&cfg, rows[i].uris, rows[i].n);
		if (rows[i].filter)
			cfg.ldap_filter = (char *)rows[i].filter;
		cfg.ldap_bind_dn = (char *)rows[i].dn;
		cfg.ldap_bind_password_file = (char *)rows[i].pwfile;
		cfg.ldap_ca_cert_file = (char *)rows[i].cafile;
		d = directory_new(&cfg, &err);
		ok(d == NULL && err != NULL && strstr(err, rows[i].why) != NULL,
		   "refused: %s (%s)", rows[i].what, err ? err : "accepted");
		directory_free(d);
		free(err);
	}

	/* Accepted: a bind with a password file (first line, CRLF cut), defaults. */
	struct config cfg;
	struct directory *d;
	char *err = NULL;

	cfg_init(&cfg, one, 1);
	cfg.ldap_start_tls = true;
	d = directory_new(&cfg, &err);
	ok(d == NULL && err != NULL && strcmp(err, "LDAPStartTLS needs LDAPCACertFile") == 0,
	   "refused: LDAPStartTLS without LDAPCACertFile (%s)", err ? err : "accepted");
	free(err);
	err = NULL;
	cfg.ldap_ca_cert_file = cafile;
	d = directory_new(&cfg, &err);
	ok(d != NULL && err == NULL, "accepted: LDAPStartTLS with LDAPCACertFile (%s)",
	   err ? err : "no error");
	directory_free(d);
	free(err);
	err = NULL;
	cfg_init(&cfg, one, 1);
	cfg.ldap_filter = NULL;
	cfg.ldap_base = NULL;
	cfg.ldap_timeout = 0;
	cfg.ldap_bind_dn = "cn=reader,c=DK";
	cfg.ldap_bind_password_file = pw;
	d = directory_new(&cfg, &err);
	ok(d != NULL && err == NULL, "accepted: bind DN with a password file, default filter");
	directory_free(d);
	free(err);
	cfg_init(&cfg, one, 1);
	cfg.ldap_domain_filter = "(associatedDomain=x)";
	d = directory_new(&cfg, &err);
	ok(d == NULL && err != NULL && strstr(err, "LDAPDomainFilter \"(associatedDomain=x)\"") != NULL,
	   "refused: an LDAPDomainFilter without %%s (%s)", err ? err : "accepted");
	free(err);
	err = NULL;
	directory_free(NULL);
	ok(1, "directory_free(NULL) is harmless");
	free(pw);
	free(empty);
	free(missing);
	free(nocafile);
	free(cafile);
}

/* ---------------------------------------------------- server list */

static void is_plan(struct directory *d, time_t now, const char *want, const char *name)
{
	size_t order[8], n = directory_plan(d, now, order, 8);
	char got[32] = "";

	for (size_t i = 0; i < n && i < 8; i++)
		got[i] = (char)('0' + order[i]);
	is_str(got, want, "%s", name);
}

static void test_backoff(void)
{
	char *uris[] = { "ldap://127.0.0.1:1001/", "ldap://127.0.0.1:1002/", "ldap://127.0.0.1:1003/" };
	struct config cfg;
	struct directory *d;
	char *err = NULL;
	time_t t = 1000;
	static const long ladder[] = { 5, 10, 20, 40, 60, 60 };

	cfg_init(&cfg, uris, 3);
	d = directory_new(&cfg, &err);
	if (d == NULL) {
		printf("Bail out! directory_new: %s\n", err);
		exit(1);
	}
	is_str(directory_server_uri(d, 1), uris[1], "server 1 is the second LDAPURI");
	ok(directory_server_uri(d, 3) == NULL, "no server 3");
	is_plan(d, t, "012", "all healthy: LDAPURI order");
	directory_server_failed(d, 0, t);
	is_int(directory_server_backoff(d, 0, t), DIR_BACKOFF_MIN, "first failure: 5 s back-off");
	is_plan(d, t, "120", "server 0 in back-off: tried last");
	directory_server_failed(d, 1, t + 1);
	is_plan(d, t + 1, "201", "0 and 1 in back-off: 2 first, then by end of back-off");
	is_plan(d, t + 5, "021", "0's back-off over: back in its place");
	is_plan(d, t + 6, "012", "both over: LDAPURI order again");
	directory_server_failed(d, 2, t + 6);
	directory_server_failed(d, 0, t + 6);
	directory_server_failed(d, 1, t + 6);
	is_plan(d, t + 6, "201", "all in back-off: all still tried, soonest back first");
	directory_server_ok(d, 0);
	directory_server_ok(d, 1);
	directory_server_ok(d, 2);
	is_int(directory_server_backoff(d, 0, t), 0, "a success ends the back-off");
	for (size_t i = 0; i < sizeof(ladder) / sizeof(ladder[0]); i++) {
		directory_server_failed(d, 1, t);
		is_int(directory_server_backoff(d, 1, t), ladder[i], "failure %zu in a row: %ld s", i + 1,
		       ladder[i]);
	}
	is_int(directory_server_backoff(d, 1, t + 59), 1, "back-off counts down");
	directory_server_ok(d, 1);
	directory_server_failed(d, 1, t);
	is_int(directory_server_backoff(d, 1, t), DIR_BACKOFF_MIN, "after a success it starts over");
	directory_server_failed(d, 9, t);
	ok(1, "a server index out of range is ignored");
	directory_free(d);
}

/* ----------------------------------------- lookups where nothing answers */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* loopback_socket - bound on 127.0.0.1 (listening or not); its port in *port. */
static int loopback_socket(bool listening, int *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    (listening && listen(fd, 16) < 0) || getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		printf("Bail out! loopback socket\n");
		exit(1);
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

static void test_refused(void)
{
	int p1, p2;
	int f1 = loopback_socket(false, &p1), f2 = loopback_socket(false, &p2);
	char *uris[] = { xasprintf("ldap://127.0.0.1:%d/", p1), xasprintf("ldap://127.0.0.1:%d/", p2) };
	struct config cfg;
	struct directory *d;
	struct dir_result r;
	char *err = NULL;
	long long start;

	cfg_init(&cfg, uris, 2);
	cfg.ldap_timeout = 3;
	d = directory_new(&cfg, &err);
	start = now_ms();
	is_int(directory_lookup(d, "valid@example.dk", &r), LOOKUP_RETRY, "nothing listening: retry");
	ok(now_ms() - start < 1000, "... at once (%lld ms)", now_ms() - start);
	ok(r.error && strstr(r.error, uris[0]) && strstr(r.error, uris[1]) &&
	   strstr(r.error, "Can't contact LDAP server"), "... naming each server and why: %s",
	   r.error ? r.error : "NULL");
	ok(r.server == NULL && r.n_values == 0, "... with no server and no values");
	ok(directory_server_backoff(d, 0, directory_clock()) > 0 &&
	   directory_server_backoff(d, 1, directory_clock()) > 0, "... and both servers in back-off");
	dir_result_free(&r);
	start = now_ms();
	is_int(directory_lookup(d, "valid@example.dk", &r), LOOKUP_RETRY,
	       "all in back-off: retry, neither server tried");
	ok(r.error && strstr(r.error, "not tried, in back-off for") && !strstr(r.error, "Can't contact"),
	   "... saying so: %s", r.error ? r.error : "NULL");
	ok(now_ms() - start < 100, "... at once (%lld ms)", now_ms() - start);
	dir_result_free(&r);
	dir_result_free(&r);
	ok(1, "dir_result_free twice is harmless");
	directory_free(d);
	close(f1);
	close(f2);
	free(uris[0]);
	free(uris[1]);
}

static void test_silent(const char *scheme)
{
	int port, fd = loopback_socket(true, &port);
	char *uri = xasprintf("%s://127.0.0.1:%d/", scheme, port);
	char *uris[] = { uri };
	struct config cfg;
	struct directory *d;
	struct dir_result r;
	char *err = NULL;
	long long start, ms;

	cfg_init(&cfg, uris, 1);
	cfg.ldap_timeout = 1;
	d = directory_new(&cfg, &err);
	start = now_ms();
	is_int(directory_lookup(d, "valid@example.dk", &r), LOOKUP_RETRY,
	       "%s:// listener that never answers: retry", scheme);
	ms = now_ms() - start;
	ok(ms >= 900 && ms <= 2000, "... after LDAPTimeout 1 s, not more (%lld ms)", ms);
	ok(r.error && strstr(r.error, "no answer in time"), "... saying so: %s", r.error ? r.error : "NULL");
	dir_result_free(&r);
	directory_free(d);
	close(fd);
	free(uri);
}

/* ------------------------------------------ StartTLS, against a fake */

enum fake_mode {
	FAKE_REFUSE,	/* StartTLS: protocolError */
	FAKE_GARBAGE,	/* StartTLS: success; the handshake gets bytes that are not TLS */
	FAKE_SILENT	/* StartTLS: success; the handshake gets nothing */
};

/*
 * starttls_reply - the ExtendedResponse with result code to the request
 * in req, into out (32 bytes); its length, 0 if req is no LDAP message.
 */
static size_t starttls_reply(const unsigned char *req, size_t n, int code, unsigned char *out)
{
	static const unsigned char tail[] = { 0x78, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00 };
	size_t i = 2, idlen;

	if (n < 2 || req[0] != 0x30)
		return 0;
	if (req[1] & 0x80)
		i += req[1] & 0x7f;
	if (i + 2 > n || req[i] != 0x02 || (idlen = req[i + 1]) > 4 || i + 2 + idlen > n)
		return 0;
	out[0] = 0x30;
	out[1] = (unsigned char)(2 + idlen + sizeof(tail));
	memcpy(out + 2, req + i, 2 + idlen);	/* the message ID */
	memcpy(out + 4 + idlen, tail, sizeof(tail));
	out[4 + idlen + 4] = (unsigned char)code;
	return 4 + idlen + sizeof(tail);
}

/*
 * fake_serve - the child: one connection on the listening lfd, answered
 * as mode says; every byte received goes to the file log, until the
 * client hangs up.
 */
static void fake_serve(int lfd, enum fake_mode mode, const char *log)
{
	unsigned char buf[4096], reply[32];
	FILE *fp = fopen(log, "w");
	int fd, round = 0;
	ssize_t n;

	alarm(20);	/* whatever happens, not for ever */
	fd = accept(lfd, NULL, NULL);
	while (fd >= 0 && fp != NULL && (n = read(fd, buf, sizeof(buf))) > 0) {
		size_t len = 0;

		fwrite(buf, 1, (size_t)n, fp);
		fflush(fp);
		if (round++ == 0)
			len = starttls_reply(buf, (size_t)n, mode == FAKE_REFUSE ? 2 : 0, reply);
		else if (round == 2 && mode == FAKE_GARBAGE)
			len = (size_t)snprintf((char *)reply, sizeof(reply), "this is not TLS\r\n");
		if (len > 0 && write(fd, reply, len) != (ssize_t)len)
			break;
	}
	_exit(0);
}

/* fake_start - a fake server for one connection, in a child; its port in *port. */
static pid_t fake_start(enum fake_mode mode, const char *log, int *port)
{
	int lfd = loopback_socket(true, port);
	pid_t pid = fork();

	if (pid == 0)
		fake_serve(lfd, mode, log);
	close(lfd);
	return pid;
}

static const char *op_name(unsigned char op)
{
	switch (op) {
	case 0x77: return "StartTLS";
	case 0x60: return "bind";
	case 0x63: return "search";
	case 0x42: return "unbind";
	case 0x50: return "abandon";
	default: return "other";
	}
}

/*
 * sent_ops - what the fake received, in order: the LDAP operations in the
 * clear by name, and "TLS" for each TLS record (the handshake).
 */
static char *sent_ops(const char *log)
{
	unsigned char b[8192];
	FILE *fp = fopen(log, "r");
	size_t n = fp ? fread(b, 1, sizeof(b), fp) : 0, i = 0;
	struct strbuf sb;

	if (fp != NULL)
		fclose(fp);
	sb_init(&sb);
	while (i + 5 <= n) {
		size_t hdr = 2, len = b[i + 1], op;

		if (b[i] >= 0x14 && b[i] <= 0x17) {	/* a TLS record */
			sb_adds(&sb, " TLS");
			i += 5 + ((size_t)b[i + 3] << 8 | b[i + 4]);
			continue;
		}
		if (b[i] != 0x30) {
			sb_adds(&sb, " ?");
			break;
		}
		if (len & 0x80) {	/* the long form of the length */
			hdr += len & 0x7f;
			len = 0;
			for (size_t k = 2; k < hdr && i + k < n; k++)
				len = len << 8 | b[i + k];
		}
		op = i + hdr + 2;	/* past the message ID's tag and length */
		if (op >= n || (op += b[op - 1]) >= n)
			break;
		sb_printf(&sb, " %s", op_name(b[op]));
		i += hdr + len;
	}
	return sb.s;
}

static void test_starttls_fake(enum fake_mode mode, const char *what, const char *why)
{
	char *log = xasprintf("%s/fake.log", dir), *ops, *err = NULL;
	char *ca = write_file("ca.pem", fake_ca, 0644), *pw = write_file("pw", "s3cret\n", 0600);
	int port, status;
	pid_t pid = fake_start(mode, log, &port);
	char *uri = xasprintf("ldap://127.0.0.1:%d/", port), *uris[] = { uri };
	struct config cfg;
	struct directory *d;
	struct dir_result r;
	long long start, ms;

	cfg_init(&cfg, uris, 1);
	cfg.ldap_ca_cert_file = ca;
	cfg.ldap_start_tls = true;
	/* With a bind, a fall-back to the clear would send the password. */
	cfg.ldap_bind_dn = "cn=reader,c=DK";
	cfg.ldap_bind_password_file = pw;
	if ((d = directory_new(&cfg, &err)) == NULL) {
		printf("Bail out! directory_new: %s\n", err);
		exit(1);
	}
	start = now_ms();
	is_int(directory_lookup(d, "valid@example.dk", &r), LOOKUP_RETRY, "StartTLS %s: retry", what);
	ms = now_ms() - start;
	ok(r.error && strstr(r.error, why), "... saying so: %s", r.error ? r.error : "NULL");
	ok(ms <= 2000, "... within LDAPTimeout 1 s (%lld ms)", ms);
	if (mode == FAKE_SILENT)
		ok(ms >= 900, "... having waited for the handshake (%lld ms)", ms);
	dir_result_free(&r);
	directory_free(d);
	ok(pid > 0 && waitpid(pid, &status, 0) == pid, "... the fake server saw the client hang up");
	ops = sent_ops(log);
	ok(strncmp(ops, " StartTLS", 9) == 0 && strstr(ops, " bind") == NULL &&
	   strstr(ops, " search") == NULL, "... StartTLS first, no bind or search in the clear:%s",
	   ops);
	free(ops);
	free(uri);
	free(log);
	free(ca);
	free(pw);
}

int main(void)
{
	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	log_set_level(LOG_ERR);	/* the back-off warnings are expected here */
	test_expand();
	test_check();
	test_new_errors();
	test_backoff();
	test_refused();
	test_silent("ldap");
	test_silent("ldaps");
	test_starttls_fake(FAKE_REFUSE, "refused", "StartTLS: Protocol error");
	test_starttls_fake(FAKE_GARBAGE, "answered with nonsense", "StartTLS handshake: ");
	test_starttls_fake(FAKE_SILENT, "with a silent handshake", "StartTLS handshake: no answer in time");

	char *cmd = xasprintf("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	free(cmd);
	return done_testing();
}

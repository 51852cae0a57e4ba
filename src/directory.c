/*
 * directory.c - certificate lookups in LDAP directories; the only file
 * that includes <ldap.h> and <lber.h>.
 *
 * Exports directory_new/free, directory_lookup, dir_result_free,
 * directory_filter_expand/check and the server-state functions of
 * directory.h.
 *
 * Time: a lookup has LDAPTimeout in all, measured on the monotonic clock.
 * Every wait has an explicit limit: connect (the network timeout), the
 * TLS handshake of ldaps:// (the deadline I/O layer below), bind and
 * search (ldap_result with what is left); the server is told the same
 * limit. When several servers are still to be tried, a healthy one gets
 * an equal share of what is left, so that a server that accepts
 * connections and never answers cannot use up the time of the next one.
 *
 * The bind password is read once and kept in memory (wiped on free); it
 * is never part of a message.
 *
 * Connections: each server keeps a few idle LDAP handles. A lookup takes
 * one, so no two threads ever use a handle at once, and gives it back
 * after success. A handle that failed is closed, and so are the idle
 * handles of its server. An idle connection the server has closed in the
 * meantime shows up as "server down" on reuse: that is retried once on a
 * fresh connection before the server is counted as failed.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lber.h>
#include <ldap.h>

#include "directory.h"
#include "log.h"
#include "util.h"

#define DIR_POOL_IDLE 8		/* idle connections kept per server */
#define DIR_PASSWORD_MAX 1024

struct dir_conn {
	LDAP *ld;
	const char *uri;	/* the server's, for messages */
	long long deadline;	/* of the operation in progress (mono_ms) */
	struct ldap_conncb conncb;	/* installs the deadline layer on connect */
	bool bound;		/* the bind (if any) is done on this connection */
	bool used;		/* has carried a request: may have gone stale while idle */
};

struct dir_server {
	char *uri;
	time_t down_until;	/* in back-off until then (directory_clock) */
	long backoff;		/* the last back-off, seconds; 0 = healthy */
	struct dir_conn *idle[DIR_POOL_IDLE];
	size_t n_idle;
};

struct directory {
	pthread_mutex_t lock;	/* guards the servers' state and idle lists */
	struct dir_server *servers;
	size_t n_servers;
	char *base;
	char *filter;
	char *bind_dn;		/* NULL: anonymous */
	char *password;
	char *ca_file;
	int timeout;		/* seconds, per lookup */
};

/* One attempt's answer: the lookup result, and why when it is RETRY. */
struct attempt {
	enum lookup rc;
	int ldap_rc;		/* the LDAP error behind a RETRY */
	char *why;
};

static long long mono_ms(void);
static struct timeval ms_tv(long long ms);
static char *ldap_reason(LDAP *ld, const char *uri, int rc);
static char *read_password(const char *file, char **err);
static int deadline_setup(Sockbuf_IO_Desc *sbiod, void *arg);
static int deadline_remove(Sockbuf_IO_Desc *sbiod);
static int deadline_ctrl(Sockbuf_IO_Desc *sbiod, int opt, void *arg);
static int deadline_wait(Sockbuf_IO_Desc *sbiod, short events);
static ber_slen_t deadline_read(Sockbuf_IO_Desc *sbiod, void *buf, ber_len_t len);
static ber_slen_t deadline_write(Sockbuf_IO_Desc *sbiod, void *buf, ber_len_t len);
static int deadline_add(LDAP *ld, Sockbuf *sb, LDAPURLDesc *srv, struct sockaddr *addr,
			struct ldap_conncb *ctx);
static void deadline_del(LDAP *ld, Sockbuf *sb, struct ldap_conncb *ctx);
static struct dir_conn *conn_new(struct directory *dir, const char *uri, char **err);
static void conn_free(struct dir_conn *c);
static struct dir_conn *pool_get(struct directory *dir, size_t i, char **err);
static void pool_put(struct directory *dir, size_t i, struct dir_conn *c);
static void set_timeouts(LDAP *ld, long long ms);
static int wait_result(LDAP *ld, int msgid, long long deadline, LDAPMessage **res);
static int do_bind(struct directory *dir, struct dir_conn *c, long long deadline, char **why);
static void add_values(LDAP *ld, LDAPMessage *entry, struct dir_result *out);
static void collect(LDAP *ld, LDAPMessage *res, struct dir_result *out);
static struct attempt search(struct directory *dir, struct dir_conn *c, const char *filter,
			     long long deadline, struct dir_result *out);
static struct attempt try_server(struct directory *dir, size_t i, const char *filter,
				 long long deadline, struct dir_result *out);
static size_t plan(struct directory *dir, time_t now, size_t *order, size_t *n_healthy);
static void result_reset(struct dir_result *r);

static const char *const dir_attrs[] = {
	"userCertificate;binary", "userCertificate", "userSMIMECertificate", NULL
};

/* ------------------------------------------------------------ helpers */

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

time_t directory_clock(void)
{
	return (time_t)(mono_ms() / 1000);
}

static struct timeval ms_tv(long long ms)
{
	struct timeval tv;

	if (ms < 1)
		ms = 1;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	return tv;
}

/*
 * ldap_reason - the error text of rc, with the server's or library's
 * detail, and a hint where a failed TLS handshake looks like any other
 * failure to connect.
 */
static char *ldap_reason(LDAP *ld, const char *uri, int rc)
{
	char *diag = NULL, *s;
	bool tls = ascii_strncasecmp(uri, "ldaps://", 8) == 0;

	if (ld != NULL)
		ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
	/* libldap's placeholder when the TLS layer gave no text */
	if (diag != NULL && (diag[0] == '\0' || strcmp(diag, "(unknown error code)") == 0)) {
		ldap_memfree(diag);
		diag = NULL;
	}
	s = xasprintf("%s%s%s%s%s", ldap_err2string(rc), diag ? " (" : "", diag ? diag : "",
		      diag ? ")" : "",
		      tls && rc == LDAP_SERVER_DOWN ? "; or the server's certificate did not verify "
						    "against LDAPCACertFile for this host name" : "");
	ldap_memfree(diag);
	return s;
}

/* ------------------------------------------------ filter construction */

const char *directory_filter_check(const char *template)
{
	int depth = 0, values = 0;

	if (template == NULL || template[0] == '\0')
		return "the filter is empty";
	for (const char *p = template; *p; p++) {
		if (*p == '%') {
			if (p[1] == 's')
				values++;
			else if (p[1] != '%')
				return "'%' must be followed by 's' (the address) or '%'";
			p++;
		} else if (*p == '(') {
			depth++;
		} else if (*p == ')' && --depth < 0) {
			return "a ')' without its '('";
		}
	}
	if (depth != 0)
		return "unbalanced parentheses";
	if (values == 0)
		return "no %s where the address goes";
	return NULL;
}

char *directory_filter_expand(const char *template, const char *value, size_t len)
{
	struct berval in = { (ber_len_t)len, (char *)value }, esc = { 0, NULL };
	struct strbuf sb;

	if (len > 0 && ldap_bv2escaped_filter_value(&in, &esc) != 0)
		msg_fatal("out of memory escaping an LDAP filter value");
	sb_init(&sb);
	for (const char *p = template; *p; p++) {
		if (p[0] == '%' && p[1] == 's') {
			sb_addmem(&sb, esc.bv_val ? esc.bv_val : "", esc.bv_len);
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			sb_addc(&sb, '%');
			p++;
		} else {
			sb_addc(&sb, *p);
		}
	}
	ber_memfree(esc.bv_val);
	return sb.s;
}

/* --------------------------------------------- the deadline I/O layer */

/*
 * libldap bounds the TLS handshake of ldaps:// by the network timeout
 * only in theory: with GnuTLS it makes the socket non-blocking and then
 * spins inside gnutls_handshake for as long as the server stays silent.
 * So every connection gets this I/O layer between TLS and the socket,
 * installed by a connect callback. Where the layer below would say "try
 * again" it waits for the socket instead, until the operation's
 * deadline, and then fails with ETIMEDOUT, which ends the handshake.
 * On the blocking socket libldap uses otherwise it only passes data on.
 */
static Sockbuf_IO deadline_io = {
	deadline_setup, deadline_remove, deadline_ctrl, deadline_read, deadline_write, NULL
};

static int deadline_setup(Sockbuf_IO_Desc *sbiod, void *arg)
{
	sbiod->sbiod_pvt = arg;
	return 0;
}

static int deadline_remove(Sockbuf_IO_Desc *sbiod)
{
	sbiod->sbiod_pvt = NULL;
	return 0;
}

static int deadline_ctrl(Sockbuf_IO_Desc *sbiod, int opt, void *arg)
{
	return LBER_SBIOD_CTRL_NEXT(sbiod, opt, arg);
}

/* deadline_wait - until the socket is ready for events; -1 (ETIMEDOUT) past the deadline. */
static int deadline_wait(Sockbuf_IO_Desc *sbiod, short events)
{
	struct dir_conn *c = sbiod->sbiod_pvt;
	struct pollfd p = { -1, events, 0 };
	long long left = c ? c->deadline - mono_ms() : 0;
	int rc;

	if (left <= 0 || ber_sockbuf_ctrl(sbiod->sbiod_sb, LBER_SB_OPT_GET_FD, &p.fd) == -1) {
		errno = ETIMEDOUT;
		return -1;
	}
	rc = poll(&p, 1, left > 60000 ? 60000 : (int)left);
	if (rc == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	return rc < 0 && errno != EINTR ? -1 : 0;
}

static ber_slen_t deadline_read(Sockbuf_IO_Desc *sbiod, void *buf, ber_len_t len)
{
	for (;;) {
		ber_slen_t n = LBER_SBIOD_READ_NEXT(sbiod, buf, len);
		if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return n;
		if (deadline_wait(sbiod, POLLIN) < 0)
			return -1;
	}
}

static ber_slen_t deadline_write(Sockbuf_IO_Desc *sbiod, void *buf, ber_len_t len)
{
	for (;;) {
		ber_slen_t n = LBER_SBIOD_WRITE_NEXT(sbiod, buf, len);
		if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return n;
		if (deadline_wait(sbiod, POLLOUT) < 0)
			return -1;
	}
}

/* deadline_add - the connect callback: the layer goes above the socket, below TLS. */
static int deadline_add(LDAP *ld, Sockbuf *sb, LDAPURLDesc *srv, struct sockaddr *addr,
			struct ldap_conncb *ctx)
{
	return ber_sockbuf_add_io(sb, &deadline_io, LBER_SBIOD_LEVEL_PROVIDER + 5, ctx->lc_arg) == 0
		       ? 0 : -1;
}

static void deadline_del(LDAP *ld, Sockbuf *sb, struct ldap_conncb *ctx)
{
}

/* ------------------------------------------------------ set-up, pool */

/* read_password - the first line of file, without its line end. */
static char *read_password(const char *file, char **err)
{
	char buf[DIR_PASSWORD_MAX + 2];
	struct stat st;
	FILE *fp = fopen(file, "r");

	if (fp == NULL) {
		*err = xasprintf("LDAPBindPasswordFile %s: %s", file, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(fp), &st) == 0 && (st.st_mode & S_IROTH))
		msg_warn("LDAPBindPasswordFile %s is readable by everyone; make it mode 0600 or 0640",
			 file);
	if (fgets(buf, sizeof(buf), fp) == NULL)
		buf[0] = '\0';
	fclose(fp);
	buf[strcspn(buf, "\r\n")] = '\0';
	if (buf[0] == '\0' || strlen(buf) > DIR_PASSWORD_MAX) {
		*err = xasprintf("LDAPBindPasswordFile %s: %s", file,
				 buf[0] ? "the password is too long" : "no password on its first line");
		explicit_bzero(buf, sizeof(buf));
		return NULL;
	}
	char *pw = xstrdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return pw;
}

/*
 * conn_new - a handle for uri with every option set; no network I/O
 * (libldap connects on the first operation).
 */
static struct dir_conn *conn_new(struct directory *dir, const char *uri, char **err)
{
	int version = LDAP_VERSION3, deref = LDAP_DEREF_NEVER, size = DIR_SIZE_LIMIT;
	int demand = LDAP_OPT_X_TLS_DEMAND, zero = 0;
	struct dir_conn *c = xcalloc(1, sizeof(*c));
	int rc = ldap_initialize(&c->ld, uri);

	c->uri = uri;
	c->deadline = mono_ms() + (long long)dir->timeout * 1000;
	c->conncb = (struct ldap_conncb){ deadline_add, deadline_del, c };
	if (rc != LDAP_SUCCESS || c->ld == NULL) {
		*err = xasprintf("LDAPURI %s: %s", uri, ldap_err2string(rc));
		free(c);
		return NULL;
	}
	if (ldap_set_option(c->ld, LDAP_OPT_PROTOCOL_VERSION, &version) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(c->ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(c->ld, LDAP_OPT_DEREF, &deref) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(c->ld, LDAP_OPT_SIZELIMIT, &size) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(c->ld, LDAP_OPT_TIMELIMIT, &dir->timeout) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(c->ld, LDAP_OPT_CONNECT_CB, &c->conncb) != LDAP_OPT_SUCCESS)
		goto fail;
	set_timeouts(c->ld, (long long)dir->timeout * 1000);
	if (ascii_strncasecmp(uri, "ldaps://", 8) != 0)
		return c;
	/* Certificate checks for ldaps://, in a TLS context of this handle's own. */
	if (ldap_set_option(c->ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) != LDAP_OPT_SUCCESS ||
	    (dir->ca_file != NULL &&
	     ldap_set_option(c->ld, LDAP_OPT_X_TLS_CACERTFILE, dir->ca_file) != LDAP_OPT_SUCCESS))
		goto fail;
	if (ldap_set_option(c->ld, LDAP_OPT_X_TLS_NEWCTX, &zero) != LDAP_OPT_SUCCESS) {
		*err = xasprintf("LDAPURI %s: cannot set up TLS%s%s", uri,
				 dir->ca_file ? " with LDAPCACertFile " : "",
				 dir->ca_file ? dir->ca_file : "");
		conn_free(c);
		return NULL;
	}
	return c;
fail:
	*err = xasprintf("LDAPURI %s: cannot set the LDAP options", uri);
	conn_free(c);
	return NULL;
}

static void conn_free(struct dir_conn *c)
{
	if (c == NULL)
		return;
	if (c->ld != NULL)
		ldap_unbind_ext(c->ld, NULL, NULL);
	free(c);
}

static struct dir_conn *pool_get(struct directory *dir, size_t i, char **err)
{
	struct dir_server *s = &dir->servers[i];
	struct dir_conn *c = NULL;

	pthread_mutex_lock(&dir->lock);
	if (s->n_idle > 0)
		c = s->idle[--s->n_idle];
	pthread_mutex_unlock(&dir->lock);
	return c != NULL ? c : conn_new(dir, s->uri, err);
}

static void pool_put(struct directory *dir, size_t i, struct dir_conn *c)
{
	struct dir_server *s = &dir->servers[i];

	pthread_mutex_lock(&dir->lock);
	if (s->n_idle < DIR_POOL_IDLE) {
		s->idle[s->n_idle++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&dir->lock);
	conn_free(c);
}

struct directory *directory_new(const struct config *cfg, char **err)
{
	struct directory *dir;
	const char *why;
	const char *filter = cfg->ldap_filter ? cfg->ldap_filter : "(mail=%s)";

	*err = NULL;
	if (cfg->n_ldap_uri == 0) {
		*err = xstrdup("LDAPURI is not set: no directory to look certificates up in");
		return NULL;
	}
	if ((why = directory_filter_check(filter)) != NULL) {
		*err = xasprintf("LDAPFilter \"%s\": %s", filter, why);
		return NULL;
	}
	if ((cfg->ldap_bind_dn != NULL) != (cfg->ldap_bind_password_file != NULL)) {
		*err = xstrdup(cfg->ldap_bind_dn ? "LDAPBindDN needs LDAPBindPasswordFile"
						 : "LDAPBindPasswordFile needs LDAPBindDN");
		return NULL;
	}
	if (cfg->ldap_ca_cert_file != NULL && access(cfg->ldap_ca_cert_file, R_OK) != 0) {
		*err = xasprintf("LDAPCACertFile %s: %s", cfg->ldap_ca_cert_file, strerror(errno));
		return NULL;
	}
	dir = xcalloc(1, sizeof(*dir));
	pthread_mutex_init(&dir->lock, NULL);
	dir->timeout = cfg->ldap_timeout > 0 ? cfg->ldap_timeout : 5;
	dir->base = xstrdup(cfg->ldap_base ? cfg->ldap_base : "");
	dir->filter = xstrdup(filter);
	dir->ca_file = cfg->ldap_ca_cert_file ? xstrdup(cfg->ldap_ca_cert_file) : NULL;
	if (cfg->ldap_bind_dn != NULL) {
		dir->bind_dn = xstrdup(cfg->ldap_bind_dn);
		if ((dir->password = read_password(cfg->ldap_bind_password_file, err)) == NULL)
			goto fail;
	}
	dir->servers = xcalloc(cfg->n_ldap_uri, sizeof(*dir->servers));
	for (size_t i = 0; i < cfg->n_ldap_uri; i++) {
		struct dir_server *s = &dir->servers[dir->n_servers++];
		s->uri = xstrdup(cfg->ldap_uri[i]);
		/*
		 * One handle per server now: checks the URI (and for ldaps://
		 * the CA file) at start-up, and initialises libldap's TLS
		 * before threads exist.
		 */
		if ((s->idle[0] = conn_new(dir, s->uri, err)) == NULL)
			goto fail;
		s->n_idle = 1;
	}
	return dir;
fail:
	directory_free(dir);
	return NULL;
}

void directory_free(struct directory *dir)
{
	if (dir == NULL)
		return;
	for (size_t i = 0; i < dir->n_servers; i++) {
		for (size_t k = 0; k < dir->servers[i].n_idle; k++)
			conn_free(dir->servers[i].idle[k]);
		free(dir->servers[i].uri);
	}
	free(dir->servers);
	free(dir->base);
	free(dir->filter);
	free(dir->bind_dn);
	if (dir->password != NULL) {
		explicit_bzero(dir->password, strlen(dir->password));
		free(dir->password);
	}
	free(dir->ca_file);
	pthread_mutex_destroy(&dir->lock);
	free(dir);
}

/* ------------------------------------------------------ server state */

/*
 * plan - healthy servers in LDAPURI order, then those in back-off by the
 * end of their back-off. *n_healthy gets the number of healthy ones.
 */
static size_t plan(struct directory *dir, time_t now, size_t *order, size_t *n_healthy)
{
	size_t n = 0;

	pthread_mutex_lock(&dir->lock);
	for (size_t i = 0; i < dir->n_servers; i++)
		if (dir->servers[i].down_until <= now)
			order[n++] = i;
	*n_healthy = n;
	for (size_t i = 0; i < dir->n_servers; i++) {
		if (dir->servers[i].down_until <= now)
			continue;
		size_t k = n++;
		/* insertion by down_until; stable for equal times */
		while (k > *n_healthy && dir->servers[order[k - 1]].down_until > dir->servers[i].down_until) {
			order[k] = order[k - 1];
			k--;
		}
		order[k] = i;
	}
	pthread_mutex_unlock(&dir->lock);
	return n;
}

size_t directory_plan(struct directory *dir, time_t now, size_t *order, size_t max)
{
	size_t all[dir->n_servers + 1], healthy;
	size_t n = plan(dir, now, all, &healthy);

	for (size_t i = 0; i < n && i < max; i++)
		order[i] = all[i];
	return n;
}

void directory_server_failed(struct directory *dir, size_t server, time_t now)
{
	struct dir_conn *stale[DIR_POOL_IDLE];
	size_t n_stale;
	struct dir_server *s;

	if (server >= dir->n_servers)
		return;
	s = &dir->servers[server];
	pthread_mutex_lock(&dir->lock);
	s->backoff = s->backoff ? s->backoff * 2 : DIR_BACKOFF_MIN;
	if (s->backoff > DIR_BACKOFF_MAX)
		s->backoff = DIR_BACKOFF_MAX;
	s->down_until = now + s->backoff;
	/* Its idle connections are most likely dead too. */
	n_stale = s->n_idle;
	memcpy(stale, s->idle, n_stale * sizeof(stale[0]));
	s->n_idle = 0;
	pthread_mutex_unlock(&dir->lock);
	for (size_t i = 0; i < n_stale; i++)
		conn_free(stale[i]);
}

void directory_server_ok(struct directory *dir, size_t server)
{
	if (server >= dir->n_servers)
		return;
	pthread_mutex_lock(&dir->lock);
	dir->servers[server].backoff = 0;
	dir->servers[server].down_until = 0;
	pthread_mutex_unlock(&dir->lock);
}

const char *directory_server_uri(const struct directory *dir, size_t server)
{
	return server < dir->n_servers ? dir->servers[server].uri : NULL;
}

long directory_server_backoff(struct directory *dir, size_t server, time_t now)
{
	long left = 0;

	if (server >= dir->n_servers)
		return 0;
	pthread_mutex_lock(&dir->lock);
	if (dir->servers[server].down_until > now)
		left = (long)(dir->servers[server].down_until - now);
	pthread_mutex_unlock(&dir->lock);
	return left;
}

/* ---------------------------------------------------------- the query */

/* set_timeouts - connect and synchronous-call limits of a handle. */
static void set_timeouts(LDAP *ld, long long ms)
{
	struct timeval tv = ms_tv(ms);

	ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
	ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv);
}

/*
 * wait_result - the complete answer to msgid by the deadline. The LDAP
 * result code; LDAP_TIMEOUT (the request abandoned) when time ran out.
 */
static int wait_result(LDAP *ld, int msgid, long long deadline, LDAPMessage **res)
{
	long long left = deadline - mono_ms();
	struct timeval tv = ms_tv(left);
	int rc, err = LDAP_OTHER;

	*res = NULL;
	rc = left > 0 ? ldap_result(ld, msgid, LDAP_MSG_ALL, &tv, res) : 0;
	if (rc > 0)
		return LDAP_SUCCESS;
	if (rc == 0) {
		ldap_msgfree(*res);
		*res = NULL;
		ldap_abandon_ext(ld, msgid, NULL, NULL);
		return LDAP_TIMEOUT;
	}
	ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &err);
	return err != LDAP_SUCCESS ? err : LDAP_OTHER;
}

/* do_bind - the simple bind of LDAPBindDN, once per connection. */
static int do_bind(struct directory *dir, struct dir_conn *c, long long deadline, char **why)
{
	struct berval cred = { (ber_len_t)strlen(dir->password), dir->password };
	LDAPMessage *res = NULL;
	int msgid, rc, code = LDAP_OTHER;
	char *diag = NULL;

	rc = ldap_sasl_bind(c->ld, dir->bind_dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, &msgid);
	c->used = true;
	if (rc == LDAP_SUCCESS)
		rc = wait_result(c->ld, msgid, deadline, &res);
	if (rc == LDAP_SUCCESS)
		rc = ldap_parse_result(c->ld, res, &code, NULL, &diag, NULL, NULL, 1);
	else
		ldap_msgfree(res);
	if (rc == LDAP_SUCCESS && code == LDAP_SUCCESS) {
		c->bound = true;
		ldap_memfree(diag);
		return LDAP_SUCCESS;
	}
	if (rc == LDAP_SUCCESS) {
		*why = xasprintf("bind as %s: %s%s%s%s", dir->bind_dn, ldap_err2string(code),
				 diag && *diag ? " (" : "", diag ? diag : "", diag && *diag ? ")" : "");
		rc = code;
	} else {
		char *r = rc == LDAP_TIMEOUT || mono_ms() >= deadline
				  ? xstrdup("no answer in time")
				  : ldap_reason(c->ld, c->uri, rc);
		*why = xasprintf("bind as %s: %s", dir->bind_dn, r);
		free(r);
	}
	ldap_memfree(diag);
	return rc;
}

/* add_values - the certificate values of one entry. */
static void add_values(LDAP *ld, LDAPMessage *entry, struct dir_result *out)
{
	BerElement *ber = NULL;
	char *attr;

	for (attr = ldap_first_attribute(ld, entry, &ber); attr != NULL;
	     attr = ldap_next_attribute(ld, entry, ber)) {
		size_t base = strcspn(attr, ";");
		enum dir_value_kind kind;
		if (base == 15 && ascii_strncasecmp(attr, "userCertificate", 15) == 0)
			kind = DIR_X509_DER;
		else if (base == 20 && ascii_strncasecmp(attr, "userSMIMECertificate", 20) == 0)
			kind = DIR_PKCS7_DER;
		else {
			ldap_memfree(attr);
			continue;
		}
		struct berval **vals = ldap_get_values_len(ld, entry, attr);
		for (size_t i = 0; vals != NULL && vals[i] != NULL; i++) {
			if (out->n_values >= DIR_MAX_VALUES)
				break;
			struct dir_value *v;
			out->values = xrealloc(out->values, (out->n_values + 1) * sizeof(*v));
			v = &out->values[out->n_values++];
			v->len = vals[i]->bv_len;
			v->data = xmalloc(v->len);
			memcpy(v->data, vals[i]->bv_val, v->len);
			v->kind = kind;
		}
		ldap_value_free_len(vals);
		ldap_memfree(attr);
	}
	ber_free(ber, 0);
}

static void collect(LDAP *ld, LDAPMessage *res, struct dir_result *out)
{
	for (LDAPMessage *e = ldap_first_entry(ld, res); e != NULL; e = ldap_next_entry(ld, e)) {
		out->n_entries++;
		add_values(ld, e, out);
	}
}

/* search - bind if needed, then one search on c, by the deadline. */
static struct attempt search(struct directory *dir, struct dir_conn *c, const char *filter,
			     long long deadline, struct dir_result *out)
{
	struct attempt a = { LOOKUP_RETRY, LDAP_SUCCESS, NULL };
	struct timeval limit = { 0, 0 };
	LDAPMessage *res = NULL;
	int msgid, code = LDAP_OTHER;
	char *diag = NULL;

	c->deadline = deadline;
	set_timeouts(c->ld, deadline - mono_ms());
	/* The server's own time limit: what is left, in whole seconds. */
	limit.tv_sec = (time_t)((deadline - mono_ms() + 999) / 1000);
	if (limit.tv_sec < 1)
		limit.tv_sec = 1;
	if (dir->bind_dn != NULL && !c->bound &&
	    (a.ldap_rc = do_bind(dir, c, deadline, &a.why)) != LDAP_SUCCESS)
		return a;
	a.ldap_rc = ldap_search_ext(c->ld, dir->base, LDAP_SCOPE_SUBTREE, filter,
				    (char **)dir_attrs, 0, NULL, NULL, &limit, DIR_SIZE_LIMIT, &msgid);
	c->used = true;
	if (a.ldap_rc == LDAP_SUCCESS)
		a.ldap_rc = wait_result(c->ld, msgid, deadline, &res);
	if (a.ldap_rc != LDAP_SUCCESS) {
		/* Past the deadline, whatever broke, the cause is the silence. */
		a.why = a.ldap_rc == LDAP_TIMEOUT || mono_ms() >= deadline
				? xstrdup("no answer in time")
				: ldap_reason(c->ld, c->uri, a.ldap_rc);
		return a;
	}
	collect(c->ld, res, out);
	a.ldap_rc = ldap_parse_result(c->ld, res, &code, NULL, &diag, NULL, NULL, 1);
	if (a.ldap_rc == LDAP_SUCCESS && code == LDAP_SIZELIMIT_EXCEEDED)
		out->truncated = true;
	else if (a.ldap_rc == LDAP_SUCCESS)
		a.ldap_rc = code;
	if (a.ldap_rc != LDAP_SUCCESS) {
		a.why = xasprintf("search: %s%s%s%s", ldap_err2string(a.ldap_rc),
				  diag && *diag ? " (" : "", diag ? diag : "", diag && *diag ? ")" : "");
		result_reset(out);
	} else {
		a.rc = out->n_values > 0 ? LOOKUP_FOUND : LOOKUP_NOTFOUND;
	}
	ldap_memfree(diag);
	return a;
}

/*
 * try_server - one server: a pooled connection, or a fresh one when the
 * pooled one turns out to have been closed while idle.
 */
static struct attempt try_server(struct directory *dir, size_t i, const char *filter,
				 long long deadline, struct dir_result *out)
{
	struct attempt a = { LOOKUP_RETRY, LDAP_OTHER, NULL };
	struct dir_conn *c = pool_get(dir, i, &a.why);
	bool reused;

	if (c == NULL)
		return a;
	reused = c->used;
	a = search(dir, c, filter, deadline, out);
	if (a.rc == LOOKUP_RETRY && reused && a.ldap_rc == LDAP_SERVER_DOWN &&
	    deadline - mono_ms() > 0) {
		msg_debug("LDAP %s: idle connection was closed; reconnecting", dir->servers[i].uri);
		conn_free(c);
		free(a.why);
		a.why = NULL;
		if ((c = conn_new(dir, dir->servers[i].uri, &a.why)) == NULL)
			return a;
		a = search(dir, c, filter, deadline, out);
	}
	if (a.rc == LOOKUP_RETRY)
		conn_free(c);
	else
		pool_put(dir, i, c);
	return a;
}

enum lookup directory_lookup(struct directory *dir, const char *address, struct dir_result *out)
{
	size_t order[dir->n_servers + 1], healthy, n;
	long long start = mono_ms(), deadline = start + (long long)dir->timeout * 1000;
	char *filter = directory_filter_expand(dir->filter, address, strlen(address));
	struct strbuf errors;
	enum lookup rc = LOOKUP_RETRY;

	memset(out, 0, sizeof(*out));
	sb_init(&errors);
	n = plan(dir, directory_clock(), order, &healthy);
	for (size_t k = 0; k < n; k++) {
		const char *uri = dir->servers[order[k]].uri;
		long long left = deadline - mono_ms();
		/* A fair share of the time left for each healthy server still to come. */
		size_t share = k < healthy ? healthy - k : n - k;
		if (left <= 0) {
			sb_printf(&errors, "%s%s: not tried, no time left", errors.len ? "; " : "", uri);
			continue;
		}
		struct attempt a = try_server(dir, order[k], filter, mono_ms() + left / (long long)share, out);
		if (a.rc != LOOKUP_RETRY) {
			directory_server_ok(dir, order[k]);
			out->server = xstrdup(uri);
			rc = a.rc;
			free(a.why);
			break;
		}
		directory_server_failed(dir, order[k], directory_clock());
		msg_warn("LDAP %s: %s; skipped for %ld s while another server answers", uri,
			 a.why ? a.why : "failed", directory_server_backoff(dir, order[k], directory_clock()));
		sb_printf(&errors, "%s%s: %s", errors.len ? "; " : "", uri, a.why ? a.why : "failed");
		free(a.why);
	}
	if (rc == LOOKUP_RETRY)
		out->error = errors.len ? xstrdup(errors.s) : xstrdup("no LDAP server configured");
	else if (out->truncated)
		msg_warn("LDAP %s: more than %d entries match %s; the rest were not read",
			 out->server, DIR_SIZE_LIMIT, filter);
	msg_debug("LDAP lookup %s: %s, %zu entries, %zu values, %lld ms", filter,
		  rc == LOOKUP_FOUND ? "found" : rc == LOOKUP_NOTFOUND ? "not found" : "failed",
		  out->n_entries, out->n_values, mono_ms() - start);
	sb_free(&errors);
	free(filter);
	return rc;
}

static void result_reset(struct dir_result *r)
{
	for (size_t i = 0; i < r->n_values; i++)
		free(r->values[i].data);
	free(r->values);
	r->values = NULL;
	r->n_values = 0;
	r->n_entries = 0;
	r->truncated = false;
}

void dir_result_free(struct dir_result *r)
{
	if (r == NULL)
		return;
	result_reset(r);
	free(r->server);
	free(r->error);
	r->server = NULL;
	r->error = NULL;
}

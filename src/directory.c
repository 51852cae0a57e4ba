/*
 * directory.c - certificate lookups in LDAP directories; the only file
 * that includes <ldap.h> and <lber.h>.
 *
 * Exports directory_new/free, directory_lookup, directory_lookup_domain,
 * dir_result_free and directory_filter_expand/check (directory.h), and
 * directory_conn_free (directory_int.h); the servers' state is in directory_state.c.
 *
 * TLS: ldaps:// servers, and with LDAPStartTLS the ldap:// ones, must show
 * a certificate that chains to LDAPCACertFile and names the host. StartTLS
 * is the first request on a new ldap:// connection; when the server refuses
 * it or the handshake fails, the connection is dropped and the server has
 * failed: nothing is ever sent in the clear instead.
 *
 * Time: a lookup has LDAPTimeout in all, measured on the monotonic clock.
 * Every wait has an explicit limit: connect (the network timeout), the
 * TLS handshake of ldaps:// and StartTLS (the deadline I/O layer below),
 * the StartTLS request, bind and search (ldap_result with what is left);
 * the server is told the same limit. When several servers are still to be
 * tried, a healthy one gets an equal share of what is left, so that a
 * server that accepts connections and never answers cannot use up the
 * time of the next one.
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
#include "directory_int.h"
#include "log.h"
#include "util.h"


struct dir_conn {
	LDAP *ld;
	const char *uri;	/* the server's, for messages */
	long long deadline;	/* of the operation in progress (mono_ms) */
	struct ldap_conncb conncb;	/* installs the deadline layer on connect */
	bool starttls;		/* ldap:// with LDAPStartTLS: StartTLS before anything else */
	bool tls;		/* StartTLS is done on this connection */
	bool bound;		/* the bind (if any) is done on this connection */
	bool used;		/* has carried a request: may have gone stale while idle */
};

/* One attempt's answer: the lookup result, and why when it is RETRY. */
struct attempt {
	enum lookup rc;
	int ldap_rc;		/* the LDAP error behind a RETRY */
	char *why;
};

static long long mono_ms(void);
static struct timeval ms_tv(long long ms);
static char *ldap_reason(struct dir_conn *c, int rc, bool handshake);
static char *why_failed(struct dir_conn *c, int rc, long long deadline, bool handshake);
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
static struct dir_conn *pool_get(struct directory *dir, size_t i, char **err);
static void pool_put(struct directory *dir, size_t i, struct dir_conn *c);
static void set_timeouts(LDAP *ld, long long ms);
static int wait_result(LDAP *ld, int msgid, long long deadline, LDAPMessage **res);
static int exchange_end(struct dir_conn *c, int rc, int msgid, long long deadline,
			const char *what, char **why);
static int do_starttls(struct dir_conn *c, long long deadline, char **why);
static int do_bind(struct directory *dir, struct dir_conn *c, long long deadline, char **why);
static void add_values(LDAP *ld, LDAPMessage *entry, struct dir_result *out);
static void collect(LDAP *ld, LDAPMessage *res, struct dir_result *out);
static struct attempt search(struct directory *dir, struct dir_conn *c, const char *filter,
			     long long deadline, struct dir_result *out);
static struct attempt try_server(struct directory *dir, size_t i, const char *filter,
				 long long deadline, struct dir_result *out);
static void result_reset(struct dir_result *r);
static enum lookup lookup_with(struct directory *dir, const char *template, const char *value,
			       struct dir_result *out);

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
 * ldap_reason - the error text of rc on c, with the server's or library's
 * detail, and a hint where a failed certificate check may be behind it:
 * with ldaps:// it looks like any other failure to connect; a failed
 * StartTLS handshake (handshake) without a word from the TLS library is
 * most likely one too.
 */
static char *ldap_reason(struct dir_conn *c, int rc, bool handshake)
{
	char *diag = NULL, *s;
	bool tls;

	ldap_get_option(c->ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
	/* libldap's placeholder when the TLS layer gave no text */
	if (diag != NULL && (diag[0] == '\0' || strcmp(diag, "(unknown error code)") == 0)) {
		ldap_memfree(diag);
		diag = NULL;
	}
	tls = (handshake && diag == NULL) ||
	      (ascii_strncasecmp(c->uri, "ldaps://", 8) == 0 && rc == LDAP_SERVER_DOWN);
	s = xasprintf("%s%s%s%s%s", ldap_err2string(rc), diag ? " (" : "", diag ? diag : "",
		      diag ? ")" : "",
		      tls ? "; or the server's certificate did not verify "
			    "against LDAPCACertFile for this host name" : "");
	ldap_memfree(diag);
	return s;
}

/* why_failed - the reason for rc on c; past the deadline, whatever broke, it is the silence. */
static char *why_failed(struct dir_conn *c, int rc, long long deadline, bool handshake)
{
	if (rc == LDAP_TIMEOUT || mono_ms() >= deadline)
		return xstrdup("no answer in time");
	return ldap_reason(c, rc, handshake);
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
 * libldap bounds the TLS handshake (of ldaps://, and of StartTLS in
 * ldap_install_tls) by the network timeout only in theory: with GnuTLS
 * it makes the socket non-blocking and then spins inside
 * gnutls_handshake for as long as the server stays silent.
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
	c->starttls = dir->starttls && ascii_strncasecmp(uri, "ldap://", 7) == 0;
	if (!c->starttls && ascii_strncasecmp(uri, "ldaps://", 8) != 0)
		return c;
	/* Certificate checks for TLS, in a TLS context of this handle's own. */
	if (ldap_set_option(c->ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) != LDAP_OPT_SUCCESS ||
	    (dir->ca_file != NULL &&
	     ldap_set_option(c->ld, LDAP_OPT_X_TLS_CACERTFILE, dir->ca_file) != LDAP_OPT_SUCCESS))
		goto fail;
	if (ldap_set_option(c->ld, LDAP_OPT_X_TLS_NEWCTX, &zero) != LDAP_OPT_SUCCESS) {
		*err = xasprintf("LDAPURI %s: cannot set up TLS%s%s", uri,
				 dir->ca_file ? " with LDAPCACertFile " : "",
				 dir->ca_file ? dir->ca_file : "");
		directory_conn_free(c);
		return NULL;
	}
	return c;
fail:
	*err = xasprintf("LDAPURI %s: cannot set the LDAP options", uri);
	directory_conn_free(c);
	return NULL;
}

void directory_conn_free(struct dir_conn *c)
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
	directory_conn_free(c);
}

struct directory *directory_new(const struct config *cfg, char **err)
{
	struct directory *dir;
	const char *why;
	const char *filter = cfg->ldap_filter ? cfg->ldap_filter : "(mail=%s)";
	const char *dfilter = cfg->ldap_domain_filter ? cfg->ldap_domain_filter
						      : "(associatedDomain=%s)";

	*err = NULL;
	if (cfg->n_ldap_uri == 0) {
		*err = xstrdup("LDAPURI is not set: no directory to look certificates up in");
		return NULL;
	}
	if ((why = directory_filter_check(filter)) != NULL) {
		*err = xasprintf("LDAPFilter \"%s\": %s", filter, why);
		return NULL;
	}
	if ((why = directory_filter_check(dfilter)) != NULL) {
		*err = xasprintf("LDAPDomainFilter \"%s\": %s", dfilter, why);
		return NULL;
	}
	if ((cfg->ldap_bind_dn != NULL) != (cfg->ldap_bind_password_file != NULL)) {
		*err = xstrdup(cfg->ldap_bind_dn ? "LDAPBindDN needs LDAPBindPasswordFile"
						 : "LDAPBindPasswordFile needs LDAPBindDN");
		return NULL;
	}
	if (cfg->ldap_start_tls && cfg->ldap_ca_cert_file == NULL) {
		*err = xstrdup("LDAPStartTLS needs LDAPCACertFile");
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
	dir->domain_filter = xstrdup(dfilter);
	dir->ca_file = cfg->ldap_ca_cert_file ? xstrdup(cfg->ldap_ca_cert_file) : NULL;
	dir->starttls = cfg->ldap_start_tls;
	if (cfg->ldap_bind_dn != NULL) {
		dir->bind_dn = xstrdup(cfg->ldap_bind_dn);
		if ((dir->password = directory_read_password(cfg->ldap_bind_password_file, err)) == NULL)
			goto fail;
	}
	dir->servers = xcalloc(cfg->n_ldap_uri, sizeof(*dir->servers));
	for (size_t i = 0; i < cfg->n_ldap_uri; i++) {
		struct dir_server *s = &dir->servers[dir->n_servers++];
		s->uri = xstrdup(cfg->ldap_uri[i]);
		/*
		 * One handle per server now: checks the URI (and for TLS the
		 * CA file) at start-up, and initialises libldap's TLS
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
			directory_conn_free(dir->servers[i].idle[k]);
		free(dir->servers[i].uri);
	}
	free(dir->servers);
	free(dir->base);
	free(dir->filter);
	free(dir->domain_filter);
	free(dir->bind_dn);
	if (dir->password != NULL) {
		explicit_bzero(dir->password, strlen(dir->password));
		free(dir->password);
	}
	free(dir->ca_file);
	pthread_mutex_destroy(&dir->lock);
	free(dir);
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

/*
 * exchange_end - the rest of a request that was sent with result rc (as
 * msgid): wait for the answer by the deadline and read its result code.
 * LDAP_SUCCESS, or the error with *why = "what: reason".
 */
static int exchange_end(struct dir_conn *c, int rc, int msgid, long long deadline,
			const char *what, char **why)
{
	LDAPMessage *res = NULL;
	int code = LDAP_OTHER;
	char *diag = NULL, *r;

	c->used = true;
	if (rc == LDAP_SUCCESS)
		rc = wait_result(c->ld, msgid, deadline, &res);
	if (rc == LDAP_SUCCESS)
		rc = ldap_parse_result(c->ld, res, &code, NULL, &diag, NULL, NULL, 1);
	else
		ldap_msgfree(res);
	if (rc == LDAP_SUCCESS && code != LDAP_SUCCESS) {
		*why = xasprintf("%s: %s%s%s%s", what, ldap_err2string(code), diag && *diag ? " (" : "",
				 diag ? diag : "", diag && *diag ? ")" : "");
		rc = code;
	} else if (rc != LDAP_SUCCESS) {
		r = why_failed(c, rc, deadline, false);
		*why = xasprintf("%s: %s", what, r);
		free(r);
	}
	ldap_memfree(diag);
	return rc;
}

/*
 * do_starttls - StartTLS, the first request on an ldap:// connection: the
 * request, then the handshake, which goes through the deadline layer as
 * that of ldaps:// does. After a failed handshake libldap takes the TLS
 * layer off the connection again and it would carry on in the clear: the
 * caller must discard the connection on any error.
 */
static int do_starttls(struct dir_conn *c, long long deadline, char **why)
{
	int msgid = -1, rc = ldap_start_tls(c->ld, NULL, NULL, &msgid);
	char *r;

	if ((rc = exchange_end(c, rc, msgid, deadline, "StartTLS", why)) != LDAP_SUCCESS)
		return rc;
	if ((rc = ldap_install_tls(c->ld)) != LDAP_SUCCESS) {
		r = why_failed(c, rc, deadline, true);
		*why = xasprintf("StartTLS handshake: %s", r);
		free(r);
		return rc;
	}
	c->tls = true;
	return LDAP_SUCCESS;
}

/* do_bind - the simple bind of LDAPBindDN, once per connection. */
static int do_bind(struct directory *dir, struct dir_conn *c, long long deadline, char **why)
{
	struct berval cred = { (ber_len_t)strlen(dir->password), dir->password };
	char *what = xasprintf("bind as %s", dir->bind_dn);
	int msgid = -1, rc;

	rc = ldap_sasl_bind(c->ld, dir->bind_dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, &msgid);
	rc = exchange_end(c, rc, msgid, deadline, what, why);
	c->bound = rc == LDAP_SUCCESS;
	free(what);
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
	if (c->starttls && !c->tls && (a.ldap_rc = do_starttls(c, deadline, &a.why)) != LDAP_SUCCESS)
		return a;
	if (dir->bind_dn != NULL && !c->bound &&
	    (a.ldap_rc = do_bind(dir, c, deadline, &a.why)) != LDAP_SUCCESS)
		return a;
	a.ldap_rc = ldap_search_ext(c->ld, dir->base, LDAP_SCOPE_SUBTREE, filter,
				    (char **)dir_attrs, 0, NULL, NULL, &limit, DIR_SIZE_LIMIT, &msgid);
	c->used = true;
	if (a.ldap_rc == LDAP_SUCCESS)
		a.ldap_rc = wait_result(c->ld, msgid, deadline, &res);
	if (a.ldap_rc != LDAP_SUCCESS) {
		a.why = why_failed(c, a.ldap_rc, deadline, false);
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
		directory_conn_free(c);
		free(a.why);
		a.why = NULL;
		if ((c = conn_new(dir, dir->servers[i].uri, &a.why)) == NULL)
			return a;
		a = search(dir, c, filter, deadline, out);
	}
	if (a.rc == LOOKUP_RETRY)
		directory_conn_free(c);
	else
		pool_put(dir, i, c);
	return a;
}

/* The end of the calling thread's time budget (mono_ms), 0 for none: see directory.h. */
static __thread long long budget_end;

void directory_budget_set(long long ms)
{
	budget_end = ms > 0 ? mono_ms() + ms : 0;
}

void directory_budget_clear(void)
{
	budget_end = 0;
}

long long directory_budget_left(void)
{
	long long left;

	if (budget_end == 0)
		return -1;
	left = budget_end - mono_ms();
	return left > 0 ? left : 0;
}

enum lookup directory_lookup(struct directory *dir, const char *address, struct dir_result *out)
{
	return lookup_with(dir, dir->filter, address, out);
}

enum lookup directory_lookup_domain(struct directory *dir, const char *domain,
				    struct dir_result *out)
{
	return lookup_with(dir, dir->domain_filter, domain, out);
}

/* lookup_with - search every server in turn with template expanded for value. */
static enum lookup lookup_with(struct directory *dir, const char *template, const char *value,
			       struct dir_result *out)
{
	size_t order[dir->n_servers + 1], healthy, n;
	long long start = mono_ms(), deadline = start + (long long)dir->timeout * 1000;
	char *filter = directory_filter_expand(template, value, strlen(value));
	struct strbuf errors;
	enum lookup rc = LOOKUP_RETRY;
	time_t now = directory_clock();

	memset(out, 0, sizeof(*out));
	sb_init(&errors);
	if (budget_end != 0 && budget_end < deadline)
		deadline = budget_end;
	n = directory_order(dir, now, order, &healthy);
	/* a server in back-off is not tried: waiting for it would only spend the time */
	for (size_t k = healthy; k < n; k++)
		sb_printf(&errors, "%s%s: not tried, in back-off for %ld s more", errors.len ? "; " : "",
			  dir->servers[order[k]].uri, directory_server_backoff(dir, order[k], now));
	for (size_t k = 0; k < healthy; k++) {
		const char *uri = dir->servers[order[k]].uri;
		long long left = deadline - mono_ms();
		/* A fair share of the time left for each healthy server still to come. */
		size_t share = healthy - k;
		if (left <= 0) {
			sb_printf(&errors, "%s%s: not tried, no time left%s", errors.len ? "; " : "", uri,
				  deadline == budget_end ? " (the message's time budget is spent)" : "");
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
		if (deadline == budget_end && mono_ms() >= deadline) {
			/* this message's time ran out, not the server's: no back-off for others */
			sb_printf(&errors, "%s%s: %s (the message's time budget is spent)",
				  errors.len ? "; " : "", uri, a.why ? a.why : "failed");
			free(a.why);
			continue;
		}
		directory_server_failed(dir, order[k], directory_clock());
		msg_warn("LDAP %s: %s; not tried again for %ld s", uri, a.why ? a.why : "failed",
			 directory_server_backoff(dir, order[k], directory_clock()));
		sb_printf(&errors, "%s%s: %s", errors.len ? "; " : "", uri, a.why ? a.why : "failed");
		free(a.why);
	}
	if (rc == LOOKUP_RETRY)
		out->error = errors.len ? xstrdup(errors.s) : xstrdup("no LDAP server configured");
	else if (out->truncated)
		msg_warn("LDAP %s: more than %d entries match %s; the rest were not read",
			 out->server, DIR_SIZE_LIMIT, log_addr(filter));
	msg_debug("LDAP lookup %s: %s, %zu entries, %zu values, %lld ms", log_addr(filter),
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

/*
 * ctl_serve.c - sikkermail-ctl serve: a small read-only web service that
 * answers, for the people who send the mail, what the filter would do
 * with a message to an address, and which certificate it would encrypt to.
 *
 *   serve [--listen ADDR:PORT] [--rate N] [--behind-proxy]
 *
 *   GET /                  one self-contained page (Danish and English)
 *   GET /v1/route?rcpt=A&rcpt=B...
 *                          each recipient's route as JSON, the answer
 *                          "explain --personal" gives (route.h)
 *   GET /v1/cert?addr=A[&format=json|pem|der]
 *                          the certificate the filter would encrypt to
 *
 * Exports ctl_serve (ctl.h). This file is the HTTP daemon; the answers
 * are serve_answer.c's (serve_answer.h), the parts that know nothing of
 * HTTP serve.c's (serve.h).
 *
 * HTTP is GNU libmicrohttpd's: it parses requests, enforces the limits on
 * connections, memory (and so on the request line and header sizes) and
 * time; this file only limits the request rate per client (an IPv4
 * address or an IPv6 /64) with a token bucket charged one per recipient
 * asked about, refuses what the service does not do, and hands the rest
 * to the answers, which decode the query values strictly (MHD hands them
 * over undecoded). The daemon runs one internal thread, so the
 * requests are answered one after another on one database connection
 * and one certificate pool; no lock is needed. Nothing here writes the
 * lists or records decisions: the only writes are the certificate cache's,
 * exactly those explain --personal and the filter make.
 *
 * The listening socket is opened before the process becomes UserID, so a
 * port below 1024 works from a root start; SIGTERM and SIGINT stop it.
 */
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "directory.h"
#include "log.h"
#include "serve.h"
#include "serve_answer.h"
#include "store.h"
#include "util.h"

#define SERVE_DEFAULT_LISTEN "127.0.0.1:8471"
#define SERVE_BUDGET 25			/* seconds of directory lookups for one request */
#define SERVE_DEFAULT_RATE 120		/* requests per client address per minute */
#define SERVE_CONN_LIMIT 64		/* connections at once */
#define SERVE_CONN_PER_IP 8		/* connections at once from one address */
#define SERVE_CONN_MEMORY (16 * 1024)	/* per connection: request line and headers fit in it */
#define SERVE_CONN_TIMEOUT 15		/* seconds a connection may stay idle */

static int parse_options(int argc, char **argv, const char **listen_at, unsigned *rate,
			 bool *behind_proxy);
static int open_listener(const char *spec);
static int run(struct serve *sv, int fd);
static size_t keep_escapes(void *cls, struct MHD_Connection *conn, char *s);
static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls);
static bool has_body(struct MHD_Connection *conn);
static unsigned request_cost(struct MHD_Connection *conn, const char *url);
static const char *log_path(const char *url);
static const char *log_method(const char *method);
static void client_address(struct MHD_Connection *conn, bool behind_proxy, char *buf,
			   size_t size);
static bool v6_loopback(const struct in6_addr *a);
static bool forwarded_for(struct MHD_Connection *conn, char *buf, size_t size);
static enum MHD_Result last_forwarded_for(void *cls, enum MHD_ValueKind kind, const char *key,
					  const char *value);
static double now_seconds(void);

int ctl_serve(struct ctl *c, int argc, char **argv)
{
	struct serve *sv;
	const char *listen_at = SERVE_DEFAULT_LISTEN;
	unsigned rate = SERVE_DEFAULT_RATE;
	bool behind_proxy = false;
	int fd, rc;

	if ((rc = parse_options(argc, argv, &listen_at, &rate, &behind_proxy)) != CTL_EX_OK)
		return rc;
	log_set_level(c->cfg->log_level);
	/* which addresses someone asked about is theirs: no log line names one */
	log_redact_addresses(true);
	/* as root: the socket first (any port), then UserID for everything else */
	if ((fd = open_listener(listen_at)) < 0)
		return CTL_EX_ERROR;
	sv = xcalloc(1, sizeof(*sv));
	sv->c = c;
	sv->limiter.rate = rate;
	sv->behind_proxy = behind_proxy;
	rc = CTL_EX_TEMPFAIL;
	/* read-write: certificate answers are cached, as by the filter and explain --personal */
	if ((sv->store = ctl_open_store(c, STORE_RW)) == NULL)
		goto out;
	rc = CTL_EX_ERROR;
	if (ctl_certs_start(c) != 0)
		goto out;
	rc = run(sv, fd);
	fd = -1;	/* run closed it */
out:
	if (fd >= 0)
		close(fd);
	store_close(sv->store);
	free(sv);
	return rc;
}

static int parse_options(int argc, char **argv, const char **listen_at, unsigned *rate,
			 bool *behind_proxy)
{
	for (int i = 1; i < argc; i++) {
		char *end;
		unsigned long n;

		if (strcmp(argv[i], "--behind-proxy") == 0) {
			*behind_proxy = true;
		} else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
			*listen_at = argv[++i];
		} else if (strcmp(argv[i], "--rate") == 0 && i + 1 < argc) {
			errno = 0;
			n = strtoul(argv[++i], &end, 10);
			if (errno != 0 || *end != '\0' || argv[i][0] == '-' || n < 1 || n > 100000)
				return ctl_usage_error("serve: --rate %s: requests per minute, 1 to "
						       "100000", argv[i]);
			*rate = (unsigned)n;
		} else if (strcmp(argv[i], "--listen") == 0 || strcmp(argv[i], "--rate") == 0) {
			return ctl_usage_error("serve: %s needs a value", argv[i]);
		} else {
			return ctl_usage_error("serve: unknown argument %s", argv[i]);
		}
	}
	return CTL_EX_OK;
}

/*
 * open_listener - a listening TCP socket on HOST:PORT or [V6ADDR]:PORT;
 * -1 after saying why.
 */
static int open_listener(const char *spec)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *res = NULL;
	char *host = NULL;
	const char *port, *colon = strrchr(spec, ':');
	int fd = -1, one = 1, e;

	if (spec[0] == '[') {
		const char *close_br = strchr(spec, ']');

		if (close_br == NULL || close_br[1] != ':') {
			msg_error("serve: --listen %s: expected [IPV6]:PORT", spec);
			return -1;
		}
		host = xstrndup(spec + 1, (size_t)(close_br - spec - 1));
		port = close_br + 2;
		hints.ai_family = AF_INET6;
	} else {
		if (colon == NULL || colon == spec) {
			msg_error("serve: --listen %s: expected ADDRESS:PORT", spec);
			return -1;
		}
		host = xstrndup(spec, (size_t)(colon - spec));
		port = colon + 1;
	}
	if (port[0] == '\0' || strspn(port, "0123456789") != strlen(port) || atol(port) < 1 ||
	    atol(port) > 65535) {
		msg_error("serve: --listen %s: the port must be a number from 1 to 65535", spec);
		goto out;
	}
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0) {
		msg_error("serve: --listen %s: %s", spec, gai_strerror(e));
		goto out;
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    res->ai_protocol);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    (res->ai_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) ||
	    bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 64) != 0) {
		msg_error("serve: cannot listen on %s: %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
out:
	if (res != NULL)
		freeaddrinfo(res);
	free(host);
	return fd;
}

/* run - serve on fd until SIGTERM or SIGINT; an exit code. */
static int run(struct serve *sv, int fd)
{
	struct MHD_Daemon *d;
	sigset_t stop, old;
	int sig = 0;

	/* the daemon's thread inherits the mask: only sigwait below sees these */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, &old);
	signal(SIGPIPE, SIG_IGN);
	d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
			     answer, sv,
			     MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
			     MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned)SERVE_CONN_LIMIT,
			     /* behind a proxy every connection comes from the proxy */
			     MHD_OPTION_PER_IP_CONNECTION_LIMIT,
			     (unsigned)(sv->behind_proxy ? SERVE_CONN_LIMIT : SERVE_CONN_PER_IP),
			     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SERVE_CONN_MEMORY,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SERVE_CONN_TIMEOUT,
			     MHD_OPTION_UNESCAPE_CALLBACK, keep_escapes, NULL,
			     MHD_OPTION_END);
	if (d == NULL) {
		msg_error("serve: cannot start the HTTP service");
		close(fd);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return CTL_EX_ERROR;
	}
	msg_notice("serve: listening (database %s, %u requests per minute per client)",
		   sv->c->database, sv->limiter.rate);
	while (sigwait(&stop, &sig) != 0)
		;
	msg_notice("serve: stopping (%s)", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	MHD_stop_daemon(d);	/* closes fd */
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return CTL_EX_OK;
}

/*
 * keep_escapes - MHD's unescaper, replaced: the values reach the handler
 * as they were sent (MHD has only made each "+" a space), and
 * serve_decode decodes them strictly (a bad escape is an error there,
 * where MHD would pass it on as it is).
 */
static size_t keep_escapes(void *cls, struct MHD_Connection *conn, char *s)
{
	(void)cls;
	(void)conn;
	return strlen(s);
}

/*
 * mhd_log - libmicrohttpd's own complaints, as warnings. They may quote
 * what a client sent (a path, a header) between ` and ': that part is
 * withheld, since it may hold an address, and any other byte that is not
 * printable ASCII becomes "?".
 */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512], out[512];
	size_t n, o = 0;
	bool quoted = false;

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	for (size_t i = 0; i < n && o + 12 < sizeof(out); i++) {
		if (!quoted && buf[i] == '`') {
			memcpy(out + o, "(withheld)", 10);
			o += 10;
			quoted = true;
		} else if (quoted) {
			quoted = buf[i] != '\'';
		} else {
			out[o++] = buf[i] >= 0x20 && buf[i] < 0x7f ? buf[i] : '?';
		}
	}
	out[o] = '\0';
	msg_warn("serve: %s", out);
}

/* ------------------------------------------------------------ requests */

/*
 * answer - MHD's handler, called first when the request's headers are in,
 * then for each piece of a body, then once more when the request is whole.
 * Refusals (rate, method, a body) are queued at once: MHD then closes the
 * connection, which is what a refused client deserves. A request that is
 * answered is answered on the last call: an answer queued before the
 * request is whole makes MHD close the connection, and a mail client's
 * add-in asking for every recipient it is shown should keep its connection.
 */
static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	static int waiting, answered;
	struct serve *sv = cls;
	char client[INET6_ADDRSTRLEN], key[INET6_ADDRSTRLEN + 4], wait_s[16];
	unsigned status = 0;
	double wait;
	enum MHD_Result ret;

	(void)version;
	(void)upload;
	if (*con_cls == &answered || (*con_cls == &waiting && *upload_size != 0)) {
		/* a body after the answer was queued, or (by MHD's choice) some of one: dropped */
		*upload_size = 0;
		return MHD_YES;
	}
	client_address(conn, sv->behind_proxy, client, sizeof(client));
	if (*con_cls == NULL) {
		serve_rate_key(client, key, sizeof(key));
		if ((wait = serve_rate_charge(&sv->limiter, key, request_cost(conn, url),
					      now_seconds())) > 0) {
			*con_cls = &answered;
			snprintf(wait_s, sizeof(wait_s), "%.0f", wait < 1 ? 1 : wait + 0.5);
			ret = serve_send_retry(conn, MHD_HTTP_TOO_MANY_REQUESTS,
					       "too many requests from this address; "
					       "try again later", wait_s, &status);
			msg_info("serve: %s %s %s %u (rate limit; retry after %s s)", client,
				 log_method(method), log_path(url), status, wait_s);
			return ret;
		}
		if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
		    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
			*con_cls = &answered;
			ret = serve_send_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
					       "only GET and HEAD: this service changes nothing",
					       &status);
		} else if (has_body(conn)) {
			*con_cls = &answered;
			ret = serve_send_error(conn, MHD_HTTP_BAD_REQUEST,
					       "a GET or HEAD request has no body", &status);
		} else {
			/* answered on the last call, when MHD can keep the connection */
			*con_cls = &waiting;
			return MHD_YES;
		}
	} else {
		*con_cls = &answered;
		/*
		 * The whole request's directory lookups end within a budget (the
		 * filter's DecisionTimeout, at most SERVE_BUDGET): one question of
		 * many recipients to a slow directory cannot hold the service,
		 * which answers one request at a time, for longer, and is answered
		 * before the proxy in front gives up (30 s in the examples). What
		 * is not looked up in time is answered as the filter would: the
		 * lookup failed.
		 */
		directory_budget_set(1000LL * (sv->c->cfg->decision_timeout < SERVE_BUDGET
						       ? sv->c->cfg->decision_timeout
						       : SERVE_BUDGET));
		if (strcmp(url, "/") == 0)
			ret = serve_answer_page(sv, conn, &status);
		else if (strcmp(url, "/v1/route") == 0)
			ret = serve_answer_route(sv, conn, &status);
		else if (strcmp(url, "/v1/cert") == 0)
			ret = serve_answer_cert(sv, conn, &status);
		else
			ret = serve_send_error(conn, MHD_HTTP_NOT_FOUND,
					       "no such resource: GET /, /v1/route or /v1/cert",
					       &status);
		directory_budget_clear();
	}
	/* the path only: the query holds the addresses asked about */
	msg_info("serve: %s %s %s %u", client, log_method(method), log_path(url), status);
	return ret;
}

/*
 * request_cost - what a request costs in the rate limit: a /v1/route
 * question one per parameter (its recipients, up to the most one request
 * may ask), anything else one. The query is in when MHD first calls the
 * handler, so the charge is known before the answer is made.
 */
static unsigned request_cost(struct MHD_Connection *conn, const char *url)
{
	int n;

	if (strcmp(url, "/v1/route") != 0)
		return 1;
	n = MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, NULL, NULL);
	return n < 1 ? 1 : n > SERVE_MAX_RCPT ? SERVE_MAX_RCPT : (unsigned)n;
}

/*
 * log_path - url for the log if it is one of the service's paths, else
 * "(other)": a path is the client's to choose, and may hold an address
 * (GET /v1/route/someone@kp.dk) or bytes meant for a terminal.
 */
static const char *log_path(const char *url)
{
	return strcmp(url, "/") == 0 || strcmp(url, "/v1/route") == 0 ||
		       strcmp(url, "/v1/cert") == 0 ? url : "(other)";
}

/* log_method - the method for the log if it is a plain token of capitals, else "(other)". */
static const char *log_method(const char *method)
{
	size_t n = strlen(method);

	return n > 0 && n <= 16 && strspn(method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ-") == n
		       ? method : "(other)";
}

/* has_body - whether the request announces a body (a length above 0, or chunks). */
static bool has_body(struct MHD_Connection *conn)
{
	const char *len = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						      MHD_HTTP_HEADER_CONTENT_LENGTH);

	if (MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL)
		return true;
	return len != NULL && len[strspn(len, "0 \t")] != '\0';
}

/*
 * client_address - the peer's address; behind a proxy (a peer on
 * loopback, --behind-proxy) the one the proxy names in X-Forwarded-For,
 * so that the rate limit counts each user's address, not the proxy's.
 */
static void client_address(struct MHD_Connection *conn, bool behind_proxy, char *buf,
			   size_t size)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	socklen_t len = sa && sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							: sizeof(struct sockaddr_in);
	bool loopback = false;

	if (sa == NULL || getnameinfo(sa, len, buf, (socklen_t)size, NULL, 0, NI_NUMERICHOST) != 0) {
		snprintf(buf, size, "?");
		return;
	}
	if (sa->sa_family == AF_INET)
		loopback = (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	else if (sa->sa_family == AF_INET6)
		loopback = v6_loopback(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	if (behind_proxy && loopback)
		forwarded_for(conn, buf, size);
}

/* v6_loopback - ::1, or 127.0.0.0/8 as a dual-stack listener sees it (::ffff:127.x.y.z). */
static bool v6_loopback(const struct in6_addr *a)
{
	return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
}

/*
 * forwarded_for - the last address of X-Forwarded-For (the one the nearest
 * proxy added) into buf, if it is an IP address; false if there is none.
 * The header may come more than once (a client's own, then the line a
 * proxy adds, as HAProxy does): the last address of the last one counts,
 * as if they were one list, so a client cannot put its own first.
 */
static bool forwarded_for(struct MHD_Connection *conn, char *buf, size_t size)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST }, *res = NULL;
	const char *xff = NULL, *last;
	char addr[INET6_ADDRSTRLEN];
	size_t n;

	MHD_get_connection_values(conn, MHD_HEADER_KIND, last_forwarded_for, &xff);
	if (xff == NULL)
		return false;
	last = strrchr(xff, ',');
	last = last ? last + 1 : xff;
	last += strspn(last, " \t");
	n = strcspn(last, " \t");
	if (n == 0 || n >= sizeof(addr))
		return false;
	memcpy(addr, last, n);
	addr[n] = '\0';
	if (getaddrinfo(addr, NULL, &hints, &res) != 0)
		return false;
	freeaddrinfo(res);
	snprintf(buf, size, "%s", addr);
	return true;
}

/* last_forwarded_for - *cls, the value of the last X-Forwarded-For seen so far. */
static enum MHD_Result last_forwarded_for(void *cls, enum MHD_ValueKind kind, const char *key,
					  const char *value)
{
	(void)kind;
	if (strcasecmp(key, "X-Forwarded-For") == 0)
		*(const char **)cls = value;
	return MHD_YES;
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

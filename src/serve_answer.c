/*
 * serve_answer.c - the answers of sikkermail-ctl serve: the page,
 * /v1/route and /v1/cert, made from the query values, decoded strictly
 * (MHD hands them over undecoded), and the JSON error answers. Every
 * answer says it is not to be cached, sniffed, framed or referred.
 *
 * Exports serve_answer_page, serve_answer_route, serve_answer_cert,
 * serve_send_error and serve_send_retry (serve_answer.h); ctl_serve.c is
 * the daemon that calls them.
 *
 * The answers come one after another, on the daemon's one thread, so the
 * database connection and the certificate pool need no lock. Nothing here
 * writes the lists or records decisions: the only writes are the
 * certificate cache's, exactly those explain --personal and the filter
 * make.
 */
#include <microhttpd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>

#include "classify.h"
#include "ctl.h"
#include "log.h"
#include "route.h"
#include "serve.h"
#include "serve_answer.h"
#include "serve_page.h"
#include "store.h"
#include "util.h"

/* A query value, decoded. */
struct arg {
	char *name;
	char *value;
};

/* The query of one request, in order. */
struct query {
	struct arg *v;
	size_t kept;			/* in v */
	size_t n;			/* sent: more than kept when there are too many */
	char *error;			/* the first bad argument, in words */
};

static enum MHD_Result send_cert_file(struct MHD_Connection *conn, const struct route *r,
				      bool pem, unsigned *status);
static void cert_answer_start(struct strbuf *sb, const char *addr, const struct route *r);
static bool store_ready(struct serve *sv);
static void query_read(struct MHD_Connection *conn, struct query *q);
static enum MHD_Result query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				 size_t key_size, const char *value, size_t value_size);
static void query_free(struct query *q);
static enum MHD_Result send_body(struct MHD_Connection *conn, unsigned status, char *body,
				 size_t len, const char *type, const char *retry_after,
				 unsigned *sent);
static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned status,
				 struct strbuf *sb, unsigned *sent);
static void add_common_headers(struct MHD_Response *r);

/* ------------------------------------------------------------ answers */

/* store_ready - the database handle, reopened if the file was replaced; false if unusable. */
static bool store_ready(struct serve *sv)
{
	char *err = NULL;
	struct store *s;

	if (store_still_usable(sv->store))
		return true;
	if ((s = store_open(sv->c->database, STORE_RW_EXISTING, &err)) == NULL) {
		msg_error("serve: %s", err ? err : "cannot open the database");
		free(err);
		return false;
	}
	store_close(sv->store);
	sv->store = s;
	return true;
}

enum MHD_Result serve_answer_route(struct serve *sv, struct MHD_Connection *conn,
				   unsigned *status)
{
	struct query q = { 0 };
	struct strbuf sb;
	char today[11];
	enum MHD_Result ret;

	query_read(conn, &q);
	for (size_t i = 0; i < q.kept && q.error == NULL; i++) {
		if (strcmp(q.v[i].name, "rcpt") != 0)
			q.error = xasprintf("unknown parameter \"%s\" (only rcpt)", q.v[i].name);
		else if (q.v[i].value[0] == '\0')
			q.error = xasprintf("rcpt %zu is empty", i + 1);
	}
	if (q.error == NULL && q.n == 0)
		q.error = xstrdup("no recipient: ask /v1/route?rcpt=ADDRESS");
	if (q.error == NULL && q.n > SERVE_MAX_RCPT)
		q.error = xasprintf("%zu recipients; at most %d in one request", q.n,
				    SERVE_MAX_RCPT);
	if (q.error != NULL) {
		ret = serve_send_error(conn, MHD_HTTP_BAD_REQUEST, q.error, status);
		query_free(&q);
		return ret;
	}
	if (!store_ready(sv)) {
		query_free(&q);
		return serve_send_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
					"the database cannot be read; try again later", status);
	}
	today_string(today);
	sb_init(&sb);
	sb_adds(&sb, "{\"recipients\":[");
	for (size_t i = 0; i < q.kept; i++) {
		struct route r;

		route_explain(sv->c->cfg, sv->c->certs, sv->store, q.v[i].value,
			      strlen(q.v[i].value), true, today, &r);
		if (i > 0)
			sb_addc(&sb, ',');
		route_write_json(&sb, &r);
		route_free(&r);
	}
	sb_adds(&sb, "]}\n");
	query_free(&q);
	return send_json(conn, MHD_HTTP_OK, &sb, status);
}

/* cert_answer_start - a new sb with the opening members of a /v1/cert answer. */
static void cert_answer_start(struct strbuf *sb, const char *addr, const struct route *r)
{
	sb_init(sb);
	sb_adds(sb, "{\"address\":");
	json_string(sb, addr);
	sb_adds(sb, ",\"normalised\":");
	json_string(sb, r->normalised);
	sb_adds(sb, ",\"class\":");
	json_string(sb, rclass_name(r->cls));
}

/*
 * answer_cert - the certificate route_explain finds for the address, as
 * explain --personal shows it: none when the class comes before encrypted
 * (internal, tunnel), as the filter then encrypts to none.
 */
enum MHD_Result serve_answer_cert(struct serve *sv, struct MHD_Connection *conn,
				  unsigned *status)
{
	struct query q = { 0 };
	struct route r = { 0 };
	struct strbuf sb;
	const char *addr = NULL, *format = "json";
	char today[11];
	enum MHD_Result ret;

	query_read(conn, &q);
	for (size_t i = 0; i < q.kept && q.error == NULL; i++) {
		if (strcmp(q.v[i].name, "addr") == 0 && addr == NULL)
			addr = q.v[i].value;
		else if (strcmp(q.v[i].name, "format") == 0)
			format = q.v[i].value;
		else
			q.error = xasprintf("unexpected parameter \"%s\" (addr once, format)",
					    q.v[i].name);
	}
	if (q.error == NULL && (addr == NULL || addr[0] == '\0'))
		q.error = xstrdup("which address? ask /v1/cert?addr=ADDRESS");
	if (q.error == NULL && strcmp(format, "json") != 0 && strcmp(format, "pem") != 0 &&
	    strcmp(format, "der") != 0)
		q.error = xasprintf("format \"%s\": json, pem or der", format);
	if (q.error != NULL) {
		ret = serve_send_error(conn, MHD_HTTP_BAD_REQUEST, q.error, status);
		goto out;
	}
	if (!store_ready(sv)) {
		ret = serve_send_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				       "the database cannot be read; try again later", status);
		goto out;
	}
	today_string(today);
	route_explain(sv->c->cfg, sv->c->certs, sv->store, addr, strlen(addr), true, today, &r);
	if (r.status != ROUTE_OK) {
		ret = serve_send_error(conn, MHD_HTTP_BAD_REQUEST, r.why, status);
	} else if (r.cert_status == ROUTE_CERT_RETRY) {
		ret = serve_send_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				       "the certificate directory cannot be asked now; "
				       "try again later", status);
	} else if (r.cert_status != ROUTE_CERT_FOUND || r.cert.der == NULL) {
		cert_answer_start(&sb, addr, &r);
		sb_adds(&sb, ",\"certificate\":null,\"certificate_status\":");
		if (r.cert_status == ROUTE_CERT_NOT_NEEDED)
			sb_printf(&sb, "\"not-needed\",\"error\":\"none is used: class %s comes "
				  "before encrypted\"}\n", rclass_name(r.cls));
		else
			sb_adds(&sb, "\"none\",\"error\":\"no valid certificate known for this "
				     "address\"}\n");
		ret = send_json(conn, MHD_HTTP_NOT_FOUND, &sb, status);
	} else if (strcmp(format, "json") == 0) {
		cert_answer_start(&sb, addr, &r);
		sb_adds(&sb, ",\"certificate\":");
		route_cert_json(&sb, &r.cert, r.cert_kind);
		sb_adds(&sb, "}\n");
		ret = send_json(conn, MHD_HTTP_OK, &sb, status);
	} else {
		ret = send_cert_file(conn, &r, strcmp(format, "pem") == 0, status);
	}
out:
	route_free(&r);
	query_free(&q);
	return ret;
}

/* send_cert_file - r's certificate as a PEM or DER download named after the address. */
static enum MHD_Result send_cert_file(struct MHD_Connection *conn, const struct route *r,
				      bool pem, unsigned *status)
{
	char name[128], *body = pem ? serve_pem(r->cert.der, r->cert.der_len) : NULL;
	size_t len = pem ? strlen(body) : r->cert.der_len;
	struct MHD_Response *resp;
	struct strbuf sb;
	enum MHD_Result ret;

	if (!pem) {
		body = xmalloc(len);
		memcpy(body, r->cert.der, len);
	}
	serve_filename(r->normalised, name, sizeof(name));
	resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	add_common_headers(resp);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				pem ? "application/pem-certificate-chain" : "application/pkix-cert");
	sb_init(&sb);
	sb_printf(&sb, "attachment; filename=\"%s.%s\"", name, pem ? "pem" : "cer");
	MHD_add_response_header(resp, "Content-Disposition", sb.s);
	sb_free(&sb);
	*status = MHD_HTTP_OK;
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result serve_answer_page(struct serve *sv, struct MHD_Connection *conn,
				  unsigned *status)
{
	const struct config *cfg = sv->c->cfg;
	unsigned char raw[16];
	char nonce[33], *csp;
	struct strbuf sb;
	struct MHD_Response *r;
	const char *p, *lang;
	size_t len;
	enum MHD_Result ret;

	/* a fresh nonce per page: the CSP allows the page's own script and style, nothing else */
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return serve_send_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "no random numbers",
					status);
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(nonce + 2 * i, 3, "%02x", raw[i]);
	lang = cfg->languages == LANG_EN || (cfg->language_en_first && cfg->languages != LANG_DA)
		       ? "en" : "da";
	sb_init(&sb);
	for (p = serve_page_html; *p != '\0';) {
		if (strncmp(p, "@NONCE@", 7) == 0) {
			sb_adds(&sb, nonce);
			p += 7;
		} else if (strncmp(p, "@LANG@", 6) == 0) {
			sb_adds(&sb, lang);
			p += 6;
		} else {
			sb_addc(&sb, *p++);
		}
	}
	csp = xasprintf("default-src 'none'; script-src 'nonce-%s'; style-src 'nonce-%s'; "
			"connect-src 'self'; base-uri 'none'; "
			"form-action 'none'; frame-ancestors 'none'", nonce, nonce);
	len = sb.len;
	/* the buffer itself goes to MHD, which frees it */
	r = MHD_create_response_from_buffer(len, sb.s, MHD_RESPMEM_MUST_FREE);
	add_common_headers(r);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
	MHD_add_response_header(r, "Content-Security-Policy", csp);
	*status = MHD_HTTP_OK;
	ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	free(csp);
	return ret;
}

/* ------------------------------------------------------------ the query */

static void query_read(struct MHD_Connection *conn, struct query *q)
{
	MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, query_arg, q);
}

static enum MHD_Result query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				 size_t key_size, const char *value, size_t value_size)
{
	struct query *q = cls;
	const char *why = NULL;
	char *name, *val;

	(void)kind;
	if (q->error != NULL)
		return MHD_NO;
	if ((name = serve_decode(key, key_size, &why)) == NULL) {
		q->error = xasprintf("a parameter name: %s", why);
		return MHD_NO;
	}
	if ((val = serve_decode(value ? value : "", value ? value_size : 0, &why)) == NULL) {
		q->error = xasprintf("parameter %s: %s", name, why);
		free(name);
		return MHD_NO;
	}
	q->n++;
	/* more than the limit is refused anyway: do not keep thousands */
	if (q->kept > SERVE_MAX_RCPT) {
		free(name);
		free(val);
		return MHD_YES;
	}
	q->v = xrealloc(q->v, (q->kept + 1) * sizeof(*q->v));
	q->v[q->kept].name = name;
	q->v[q->kept].value = val;
	q->kept++;
	return MHD_YES;
}

static void query_free(struct query *q)
{
	for (size_t i = 0; i < q->kept; i++) {
		free(q->v[i].name);
		free(q->v[i].value);
	}
	free(q->v);
	free(q->error);
}

/* ------------------------------------------------------------ responses */

/* add_common_headers - every answer: never cached, never sniffed, framed or referred. */
static void add_common_headers(struct MHD_Response *r)
{
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
}

/*
 * send_body - queue body (malloc'ed; MHD frees it) with status and type,
 * and Retry-After when given; *sent = status.
 */
static enum MHD_Result send_body(struct MHD_Connection *conn, unsigned status, char *body,
				 size_t len, const char *type, const char *retry_after,
				 unsigned *sent)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	add_common_headers(r);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, "Content-Security-Policy",
				"default-src 'none'; frame-ancestors 'none'");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	if (retry_after != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, retry_after);
	*sent = status;
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned status,
				 struct strbuf *sb, unsigned *sent)
{
	size_t len = sb->len;
	char *body = sb->s;	/* the buffer itself, handed to MHD */

	sb->s = NULL;
	sb->len = sb->cap = 0;
	return send_body(conn, status, body, len, "application/json; charset=utf-8", NULL,
			 sent);
}

enum MHD_Result serve_send_error(struct MHD_Connection *conn, unsigned status,
				 const char *msg, unsigned *sent)
{
	return serve_send_retry(conn, status, msg,
				status == MHD_HTTP_SERVICE_UNAVAILABLE ? "30" : NULL, sent);
}

/* send_retry - {"status":N,"error":msg}, with Retry-After when given. */
enum MHD_Result serve_send_retry(struct MHD_Connection *conn, unsigned status,
				 const char *msg, const char *retry_after, unsigned *sent)
{
	struct strbuf sb;
	char *body;
	size_t len;

	sb_init(&sb);
	sb_printf(&sb, "{\"status\":%u,\"error\":", status);
	json_string(&sb, msg);
	sb_adds(&sb, "}\n");
	len = sb.len;
	body = sb.s;	/* the buffer itself, handed to MHD */
	return send_body(conn, status, body, len, "application/json; charset=utf-8",
			 retry_after, sent);
}

/*
 * serve_answer.h - what the two files of sikkermail-ctl serve share, and
 * nothing else may see: the service's state (struct serve) and the
 * answers. Included only by ctl_serve.c and serve_answer.c.
 *
 * ctl_serve.c is the HTTP daemon: options, the listening socket, the
 * signal loop, MHD's handler with the refusals (rate limit, method, a
 * body) and the client's address. serve_answer.c makes the answers: the
 * page, /v1/route, /v1/cert, and the error answers the handler's
 * refusals use too; it exports the serve_answer_* and serve_send_*
 * functions below. The parts that know nothing of HTTP are serve.h's.
 */
#ifndef SIKKERMAIL_SERVE_ANSWER_H
#define SIKKERMAIL_SERVE_ANSWER_H

#include <microhttpd.h>
#include <stdbool.h>

#include "ctl.h"
#include "serve.h"
#include "store.h"

#define SERVE_MAX_RCPT 50		/* recipients in one /v1/route request */

struct serve {
	struct ctl *c;
	struct store *store;
	bool behind_proxy;		/* the client is X-Forwarded-For's, from loopback */
	struct serve_limiter limiter;	/* --rate per client address */
};

/*
 * The answers to a whole GET or HEAD request: each queues one response
 * on conn, sets *status to its HTTP status and returns MHD's result.
 */

/* serve_answer_page - GET /: the page, with a fresh nonce for its script and style. */
enum MHD_Result serve_answer_page(struct serve *sv, struct MHD_Connection *conn,
				  unsigned *status);

/* serve_answer_route - GET /v1/route?rcpt=A&rcpt=B...: each recipient's route as JSON. */
enum MHD_Result serve_answer_route(struct serve *sv, struct MHD_Connection *conn,
				   unsigned *status);

/* serve_answer_cert - GET /v1/cert?addr=A[&format=json|pem|der]: its certificate. */
enum MHD_Result serve_answer_cert(struct serve *sv, struct MHD_Connection *conn,
				  unsigned *status);

/*
 * serve_send_error - {"status":N,"error":msg}; a 503 says Retry-After: 30.
 * *sent = status.
 */
enum MHD_Result serve_send_error(struct MHD_Connection *conn, unsigned status,
				 const char *msg, unsigned *sent);

/* serve_send_retry - {"status":N,"error":msg}, with Retry-After when given; *sent = status. */
enum MHD_Result serve_send_retry(struct MHD_Connection *conn, unsigned status,
				 const char *msg, const char *retry_after, unsigned *sent);

#endif

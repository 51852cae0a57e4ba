/*
 * serve.h - the parts of "sikkermail-ctl serve" (ctl_serve.c) that know
 * nothing of HTTP, so that unit tests reach them: strict decoding of a
 * query value, the per-client rate limit, and the certificate download.
 */
#ifndef SIKKERMAIL_SERVE_H
#define SIKKERMAIL_SERVE_H

#include <netinet/in.h>
#include <stddef.h>

#define SERVE_BUCKETS 512	/* client addresses the rate limit remembers */

/*
 * serve_decode - s[0..len) with its %XX escapes decoded (a "+" is left as
 * it is): malloc'ed and NUL-terminated, or NULL with *why (static) for a
 * bad escape, a NUL, or text that is not well-formed UTF-8.
 */
char *serve_decode(const char *s, size_t len, const char **why);

/* One client address's token bucket. */
struct serve_bucket {
	char addr[INET6_ADDRSTRLEN];
	double tokens;
	double last;		/* when it was last refilled, in seconds */
};

/* A token bucket per client address: rate requests a minute, at most rate saved up. */
struct serve_limiter {
	unsigned rate;
	struct serve_bucket bucket[SERVE_BUCKETS];
};

/*
 * serve_rate_take - one token from addr's bucket at time now (seconds, of
 * a monotonic clock that starts above 0): 0 when there was one, else the
 * seconds until there is. A new address takes the slot of the one seen
 * longest ago, with a full bucket.
 */
double serve_rate_take(struct serve_limiter *l, const char *addr, double now);

/* serve_pem - der as one PEM "CERTIFICATE" block (base64, 64 columns); malloc'ed. */
char *serve_pem(const unsigned char *der, size_t len);

/*
 * serve_filename - addr as a file name for Content-Disposition: anything
 * but ASCII letters, digits, "@", "." and "-" becomes "_" (so no quote,
 * slash or control character); cut to fit size.
 */
void serve_filename(const char *addr, char *buf, size_t size);

#endif

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

/* One client's token bucket. */
struct serve_bucket {
	char addr[INET6_ADDRSTRLEN + 4];	/* the key: an address, or an IPv6 /64 */
	double tokens;
	double last;		/* when it was last refilled, in seconds */
};

/* A token bucket per client: rate requests a minute, at most rate saved up. */
struct serve_limiter {
	unsigned rate;
	struct serve_bucket bucket[SERVE_BUCKETS];
};

/*
 * serve_rate_charge - charge n requests (a /v1/route question counts one
 * per recipient) to key's bucket at time now (seconds, of a monotonic
 * clock that starts above 0): 0 when the bucket held at least one token,
 * else the seconds until it does. A request that finds a token is answered
 * whole even if it costs more: the bucket goes into debt, which is paid
 * back (at rate a minute) before the next answer; so a client gets no
 * more than rate a minute however it packs its questions. A new key takes
 * the slot of the one seen longest ago, with a full bucket.
 */
double serve_rate_charge(struct serve_limiter *l, const char *key, unsigned n, double now);

/*
 * serve_rate_key - the key an address is counted under: an IPv4 address
 * (an IPv4-mapped IPv6 one as IPv4) as it is; an IPv6 address as its /64
 * ("2001:db8:1:2::/64"), since one host is given a whole /64 and could
 * otherwise take a fresh address, and a fresh bucket, for every request;
 * anything else as it is, cut to fit size.
 */
void serve_rate_key(const char *addr, char *buf, size_t size);

/* serve_pem - der as one PEM "CERTIFICATE" block (base64, 64 columns); malloc'ed. */
char *serve_pem(const unsigned char *der, size_t len);

/*
 * serve_filename - addr as a file name for Content-Disposition: anything
 * but ASCII letters, digits, "@", "." and "-" becomes "_" (so no quote,
 * slash or control character); cut to fit size.
 */
void serve_filename(const char *addr, char *buf, size_t size);

#endif

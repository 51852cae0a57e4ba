/*
 * t_serve.c - the parts of sikkermail-ctl serve below HTTP: a query value
 * decoded strictly (bad escapes, NUL, non-UTF-8 refused), the token
 * bucket per client (charged per recipient, into debt if it must) and
 * its key (an IPv6 address by its /64), the PEM of a certificate, the download's
 * file name.
 */
#include <stdlib.h>
#include <string.h>

#include "serve.h"
#include "tap.h"

static void decode(const char *in, const char *want, const char *want_why);

static void decode(const char *in, const char *want, const char *want_why)
{
	const char *why = NULL;
	char *got = serve_decode(in, strlen(in), &why);

	is_str(got, want, "decode \"%s\"", in);
	if (want == NULL)
		is_str(why, want_why, "decode \"%s\": why", in);
	free(got);
}

int main(void)
{
	static struct serve_limiter l;
	char name[32], key[64], key2[64], *pem;
	const char *why = NULL;
	double wait;
	int n;

	decode("alice@kp.dk", "alice@kp.dk", NULL);
	decode("%3CCarol%40KP.DK.%3e", "<Carol@KP.DK.>", NULL);
	decode("a+b@kp.dk", "a+b@kp.dk", NULL);
	decode("s%C3%B8ren@%C3%A6r%C3%B8.dk", "s\xc3\xb8ren@\xc3\xa6r\xc3\xb8.dk", NULL);
	decode("", "", NULL);
	decode("%zz@kp.dk", NULL, "a % not followed by two hex digits");
	decode("a@kp.dk%4", NULL, "a % not followed by two hex digits");
	decode("a@kp.dk%", NULL, "a % not followed by two hex digits");
	decode("a%00b@kp.dk", NULL, "contains a NUL");
	decode("%ff@kp.dk", NULL, "not UTF-8");
	decode("%c0%af@kp.dk", NULL, "not UTF-8");		/* overlong "/" */
	decode("%ed%a0%80@kp.dk", NULL, "not UTF-8");		/* a UTF-16 surrogate */
	decode("s%C3@kp.dk", NULL, "not UTF-8");		/* cut short */
	ok(serve_decode("a\0b", 3, &why) == NULL && strcmp(why, "contains a NUL") == 0,
	   "a raw NUL inside the value is refused");

	/* 3 a minute: three at once, then one every 20 s */
	l.rate = 3;
	n = 0;
	for (int i = 0; i < 3; i++)
		n += serve_rate_charge(&l, "192.0.2.1", 1, 100.0) == 0;
	is_int(n, 3, "a full bucket: 3 requests at once");
	ok(serve_rate_charge(&l, "192.0.2.1", 1, 100.0) > 19.9 &&
	   serve_rate_charge(&l, "192.0.2.1", 1, 100.0) < 20.1, "the 4th: wait 20 s");
	ok(serve_rate_charge(&l, "192.0.2.2", 1, 100.0) == 0, "another address has its own bucket");
	ok(serve_rate_charge(&l, "192.0.2.1", 1, 110.0) > 9.9, "after 10 s: 10 s more to wait");
	ok(serve_rate_charge(&l, "192.0.2.1", 1, 120.5) == 0, "after 20 s: one more request");
	ok(serve_rate_charge(&l, "192.0.2.1", 1, 120.5) > 0, "... and only one");
	ok(serve_rate_charge(&l, "192.0.2.1", 1, 1000.0) == 0 &&
	   serve_rate_charge(&l, "192.0.2.1", 1, 1000.0) == 0 &&
	   serve_rate_charge(&l, "192.0.2.1", 1, 1000.0) == 0 &&
	   serve_rate_charge(&l, "192.0.2.1", 1, 1000.0) > 0, "a long pause saves up no more than 3");
	/* more addresses than buckets: the one seen longest ago gives way */
	for (int i = 0; i < SERVE_BUCKETS; i++) {
		snprintf(name, sizeof(name), "198.51.100.%d", i);
		serve_rate_charge(&l, name, 1, 2000.0 + i);
	}
	ok(serve_rate_charge(&l, "198.51.100.1", 1, 2000.0 + SERVE_BUCKETS) == 0,
	   "a recent address keeps its bucket");
	for (int i = 0; i < 3; i++)
		serve_rate_charge(&l, "2001:db8::1", 1, 3000.0);
	ok(serve_rate_charge(&l, "2001:db8::1", 1, 3000.0) > 0, "an IPv6 address is limited as well");

	/* a /v1/route question costs one per recipient; a token lets it through, into debt */
	l.rate = 6;
	ok(serve_rate_charge(&l, "192.0.2.50", 4, 4000.0) == 0, "4 recipients from a full bucket of 6");
	ok(serve_rate_charge(&l, "192.0.2.50", 4, 4000.0) == 0,
	   "4 more with 2 left: answered, the bucket 2 in debt");
	wait = serve_rate_charge(&l, "192.0.2.50", 1, 4000.0);
	ok(wait > 29.9 && wait < 30.1, "then wait until the debt is paid and one token is back: 30 s");
	ok(serve_rate_charge(&l, "192.0.2.50", 1, 4030.5) == 0, "... after which one more");
	ok(serve_rate_charge(&l, "192.0.2.51", 50, 4000.0) == 0, "50 at once from a full bucket");
	wait = serve_rate_charge(&l, "192.0.2.51", 1, 4000.0);
	ok(wait > 449.9 && wait < 450.1,
	   "all 50 are paid for: 44 in debt + 1 token at 6 a minute, 450 s");
	/* rate 5, a question of 50 every second for 10 minutes: about 5 a minute answered */
	l.rate = 5;
	n = 0;
	for (int i = 0; i < 600; i++)
		if (serve_rate_charge(&l, "192.0.2.52", 50, 5000.0 + i) == 0)
			n += 50;
	ok(n <= 5 + 5 * 10 + 50, "rate 5, 50 recipients a question, 10 minutes: %d answered, "
				 "no more than the rate allows and one question", n);

	/* the key: IPv4 as it is, IPv6 by its /64 */
	serve_rate_key("192.0.2.1", key, sizeof(key));
	is_str(key, "192.0.2.1", "key: an IPv4 address");
	serve_rate_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd", key, sizeof(key));
	is_str(key, "2001:db8:1:2::/64", "key: an IPv6 address by its /64");
	serve_rate_key("2001:db8:1:2::1", key2, sizeof(key2));
	is_str(key2, key, "key: another address of the same /64, the same key");
	serve_rate_key("2001:db8:1:3::1", key2, sizeof(key2));
	is_str(key2, "2001:db8:1:3::/64", "key: the next /64, its own");
	serve_rate_key("::1", key, sizeof(key));
	is_str(key, "::/64", "key: ::1");
	serve_rate_key("::ffff:192.0.2.9", key, sizeof(key));
	is_str(key, "192.0.2.9", "key: an IPv4-mapped address as IPv4");
	serve_rate_key("?", key, sizeof(key));
	is_str(key, "?", "key: no address, as it is");
	serve_rate_key("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", key, sizeof(key));
	is_str(key, "ffff:ffff:ffff:ffff::/64", "key: the longest /64 fits");
	l.rate = 2;
	ok(serve_rate_charge(&l, "2001:db8:9::/64", 2, 5000.0) == 0 &&
	   serve_rate_charge(&l, "2001:db8:9::/64", 1, 5000.0) > 0,
	   "a /64's addresses share one bucket");

	pem = serve_pem((const unsigned char *)"Man", 3);
	is_str(pem, "-----BEGIN CERTIFICATE-----\nTWFu\n-----END CERTIFICATE-----\n", "PEM of 3 bytes");
	free(pem);
	pem = serve_pem((const unsigned char *)"Ma", 2);
	ok(strstr(pem, "\nTWE=\n") != NULL, "PEM of 2 bytes: one = of padding");
	free(pem);
	pem = serve_pem((const unsigned char *)"M", 1);
	ok(strstr(pem, "\nTQ==\n") != NULL, "PEM of 1 byte: two = of padding");
	free(pem);
	{
		unsigned char der[96];

		memset(der, 0xff, sizeof(der));
		pem = serve_pem(der, sizeof(der));
		is_str(pem, "-----BEGIN CERTIFICATE-----\n"
			    "////////////////////////////////////////////////////////////////\n"
			    "////////////////////////////////////////////////////////////////\n"
			    "-----END CERTIFICATE-----\n", "PEM: lines of 64 characters");
		free(pem);
	}

	serve_filename("Valid.Name-1@example.dk", name, sizeof(name));
	is_str(name, "Valid.Name-1@example.dk", "file name: an ordinary address unchanged");
	serve_filename("\"a/b\\\"c\r\n\"@x.dk", name, sizeof(name));
	is_str(name, "_a_b__c___@x.dk", "file name: quotes, slashes, controls become _");
	serve_filename("s\xc3\xb8ren@x.dk", name, sizeof(name));
	is_str(name, "s__ren@x.dk", "file name: non-ASCII becomes _");
	serve_filename("averyveryverylongaddress@example.dk", name, 8);
	is_str(name, "averyve", "file name: cut to fit");
	return done_testing();
}

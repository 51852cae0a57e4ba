/*
 * t_address.c - unit tests for address.c: envelope address normalisation,
 * domain normalisation and domain matching, as tables of cases.
 *
 * Every address row checks the status, the local part, the domain, the
 * full address, whether the result matches the list entries "kp.dk" and
 * ".kp.dk", and (for refusals) that a reason is given, fits in an SMTP
 * reply (no '%') and that nothing is left in the output.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "tap.h"
#include "util.h"

enum { NO, YES };

struct addr_row {
	const char *raw;
	size_t len;		/* 0: strlen(raw); set for rows with a NUL in them */
	enum addr_status status;
	const char *local, *domain, *full;
	int exact, sub;		/* does the domain match "kp.dk" / ".kp.dk"? */
	const char *why;	/* a substring of the reason, or NULL */
};

#define OK_ROW(raw, l, d, f, e, s) { raw, 0, ADDR_OK, l, d, f, e, s, NULL }
#define BAD(raw, why) { raw, 0, ADDR_INVALID, NULL, NULL, NULL, NO, NO, why }
#define ROUTED(raw) { raw, 0, ADDR_ROUTED, NULL, NULL, NULL, NO, NO, "bang path" }
#define QROUTED(raw) { raw, 0, ADDR_ROUTED, NULL, NULL, NULL, NO, NO, "quoted local part" }

static const struct addr_row addr_rows[] = {
	/* Brackets, case, trailing dot, ESMTP parameters. */
	OK_ROW("<User@KP.DK>", "User", "kp.dk", "User@kp.dk", YES, YES),
	OK_ROW("<u@kp.dk.>", "u", "kp.dk", "u@kp.dk", YES, YES),
	OK_ROW("u@kp.dk", "u", "kp.dk", "u@kp.dk", YES, YES),
	OK_ROW("<u@kp.dk.> NOTIFY=NEVER ORCPT=rfc822;u@kp.dk", "u", "kp.dk", "u@kp.dk", YES, YES),
	OK_ROW("<u@kp.dk> NOTIFY=SUCCESS ORCPT=rfc822;u@kp.dk", "u", "kp.dk", "u@kp.dk", YES, YES),
	OK_ROW("<u@kp.dk> ORCPT=rfc822;u@evil.com", "u", "kp.dk", "u@kp.dk", YES, YES),
	OK_ROW("u@kp.dk NOTIFY=NEVER", "u", "kp.dk", "u@kp.dk", YES, YES),
	OK_ROW("  <u@kp.dk>", "u", "kp.dk", "u@kp.dk", YES, YES),
	/* Subdomains and look-alikes. */
	OK_ROW("u@sub.kp.dk", "u", "sub.kp.dk", "u@sub.kp.dk", NO, YES),
	OK_ROW("<u@B.A.KP.DK.>", "u", "b.a.kp.dk", "u@b.a.kp.dk", NO, YES),
	OK_ROW("u@kp.dk.evil.com", "u", "kp.dk.evil.com", "u@kp.dk.evil.com", NO, NO),
	OK_ROW("u@evilkp.dk", "u", "evilkp.dk", "u@evilkp.dk", NO, NO),
	OK_ROW("u@kp-dk.com", "u", "kp-dk.com", "u@kp-dk.com", NO, NO),
	/* "kр.dk" with a Cyrillic er (U+0440) is another domain. */
	OK_ROW("<u@k\xd1\x80.dk>", "u", "xn--k-5tb.dk", "u@xn--k-5tb.dk", NO, NO),
	OK_ROW("u@K\xd1\x80.DK", "u", "xn--k-5tb.dk", "u@xn--k-5tb.dk", NO, NO),
	/* IDN: U-label and A-label give the same result. */
	OK_ROW("u@b\xc3\xb8ger.dk", "u", "xn--bger-gra.dk", "u@xn--bger-gra.dk", NO, NO),
	OK_ROW("u@B\xc3\x98GER.DK.", "u", "xn--bger-gra.dk", "u@xn--bger-gra.dk", NO, NO),
	OK_ROW("u@xn--bger-gra.dk", "u", "xn--bger-gra.dk", "u@xn--bger-gra.dk", NO, NO),
	OK_ROW("u@XN--BGER-GRA.DK", "u", "xn--bger-gra.dk", "u@xn--bger-gra.dk", NO, NO),
	OK_ROW("u@fa\xc3\x9f.de", "u", "xn--fa-hia.de", "u@xn--fa-hia.de", NO, NO),
	/* UTS #46 maps U+3002 to '.', as the MTA's SMTPUTF8 code does. */
	OK_ROW("u@kp\xe3\x80\x82" "dk", "u", "kp.dk", "u@kp.dk", YES, YES),
	BAD("u@xn--zz.dk", "internationalised"),
	BAD("u@xn--abc-.dk", "internationalised"),
	BAD("u@xn--ab.dk", "internationalised"),
	/* A-labels are checked: not NFC (x + U+0301), a character that maps away. */
	BAD("u@xn--xe-9tb.dk", "internationalised"),
	BAD("u@xn--x-vca.dk", "internationalised"),
	/* A soft hyphen maps to nothing: the MTA delivers this to kp.dk. */
	OK_ROW("u@k\xc2\xadp.dk", "u", "kp.dk", "u@kp.dk", YES, YES),
	/* Quoted local parts are kept as written and never move the domain. */
	OK_ROW("\"a b\"@kp.dk", "\"a b\"", "kp.dk", "\"a b\"@kp.dk", YES, YES),
	OK_ROW("<\"a b\"@kp.dk> NOTIFY=NEVER", "\"a b\"", "kp.dk", "\"a b\"@kp.dk", YES, YES),
	OK_ROW("\"john.smith\"@kp.dk", "\"john.smith\"", "kp.dk", "\"john.smith\"@kp.dk", YES, YES),
	OK_ROW("\"a\\b\"@kp.dk", "\"a\\b\"", "kp.dk", "\"a\\b\"@kp.dk", YES, YES),
	OK_ROW("\".a..b.\"@kp.dk", "\".a..b.\"", "kp.dk", "\".a..b.\"@kp.dk", YES, YES),
	OK_ROW("\"j\xc3\xb8rgen hansen\"@kp.dk", "\"j\xc3\xb8rgen hansen\"", "kp.dk",
	       "\"j\xc3\xb8rgen hansen\"@kp.dk", YES, YES),
	/*
	 * ...but the MTA un-quotes them (Postfix: resolve_dequoted_address =
	 * yes) and routes "v@gmail.com"@mx.kp.dk to v@gmail.com when mx.kp.dk
	 * is its own. Whatever could be read as a route once the quotes are
	 * off is refused, whichever domain it is written under.
	 */
	QROUTED("\"victim@gmail.com\"@mx.kp.dk"),
	QROUTED("<\"victim@gmail.com\"@kp.dk>"),
	QROUTED("<\"victim@gmail.com\"@kp.dk> NOTIFY=NEVER"),
	QROUTED("\"u@kp.dk\"@evil.com"),
	QROUTED("<\"u@kp.dk>\"@evil.com>"),
	QROUTED("\"v\\@gmail.com\"@kp.dk"),
	QROUTED("\"v\\@gmail\\.com\"@kp.dk"),
	QROUTED("\"@gmail.com:v\"@kp.dk"),
	QROUTED("\"@gmail.com:v@gmail.com\"@kp.dk"),
	QROUTED("\"v,w@gmail.com\"@kp.dk"),
	QROUTED("\"v;\"@kp.dk"),
	QROUTED("\"<v@gmail.com>\"@kp.dk"),
	QROUTED("\"v>\"@kp.dk"),
	QROUTED("\"v(comment)\"@kp.dk"),
	QROUTED("\"*)(mail=*\"@kp.dk"),
	QROUTED("\"v[1.2.3.4]\"@kp.dk"),
	QROUTED("\"a\\\"b\"@kp.dk"),
	QROUTED("\"a\\\\\"@kp.dk"),
	QROUTED("\"v\\\\@gmail.com\"@kp.dk"),
	QROUTED("<@a.example:\"v@gmail.com\"@kp.dk>"),
	QROUTED("<\"u%evil.com\"@kp.dk>"),
	QROUTED("\"evil.com!u\"@kp.dk"),
	QROUTED("\"u\\%evil.com\"@kp.dk"),
	BAD("\"\"@kp.dk", "empty local"),
	BAD("\" \"@kp.dk", "empty local"),
	BAD("\"\\ \\ \"@kp.dk", "empty local"),
	BAD("\"a\"b@kp.dk", "local part"),
	BAD("a.\"b\"@kp.dk", "local part"),
	BAD("\"u@kp.dk", "quoted"),
	BAD("<\"u@kp.dk>", "quoted"),
	BAD("\"u\\", "quoted"),
	BAD("\"a\\\xc3\xb8\"@kp.dk", "local part"),
	/* Source routes are dropped, as the MTA drops them. */
	OK_ROW("<@kp.dk:u@evil.com>", "u", "evil.com", "u@evil.com", NO, NO),
	OK_ROW("<@evil.com,@b.example:u@KP.dk>", "u", "kp.dk", "u@kp.dk", YES, YES),
	OK_ROW("<@[IPv6:::1]:u@kp.dk>", "u", "kp.dk", "u@kp.dk", YES, YES),
	BAD("<@kp.dk:>", "source route"),
	BAD("<@kp.dk,u@evil.com>", "local part"),
	BAD("<@:u@evil.com>", "source route"),
	BAD("<@kp..dk:u@evil.com>", "source route"),
	BAD("<@kp.dk:@evil.com:u@evil.com>", "local part"),
	/* Forms the MTA would route again after us: refused, never guessed. */
	ROUTED("u%evil.com@kp.dk"),
	ROUTED("evil.com!u@kp.dk"),
	ROUTED("<@a.example:u%evil.com@kp.dk>"),
	/* The null address. */
	{ "<>", 0, ADDR_NULL, NULL, NULL, NULL, NO, NO, "null" },
	{ "", 0, ADDR_NULL, NULL, NULL, NULL, NO, NO, "null" },
	{ "<> SIZE=1000", 0, ADDR_NULL, NULL, NULL, NULL, NO, NO, "null" },
	/* Encoding: NUL, control characters, malformed UTF-8. */
	{ "u@kp.dk\0.evil.com", 17, ADDR_INVALID, NULL, NULL, NULL, NO, NO, "NUL" },
	{ "u\0@kp.dk", 8, ADDR_INVALID, NULL, NULL, NULL, NO, NO, "NUL" },
	{ "<u@kp.dk>\0", 10, ADDR_INVALID, NULL, NULL, NULL, NO, NO, "NUL" },
	BAD("u\t@kp.dk", "control"),
	BAD("u@kp.dk\r\n", "control"),
	BAD("u\x7f@kp.dk", "control"),
	BAD("u@b\xc3ger.dk", "UTF-8"),
	BAD("\xff@kp.dk", "UTF-8"),
	BAD("\xc0\xaf@kp.dk", "UTF-8"),
	BAD("\xed\xa0\x80@kp.dk", "UTF-8"),
	BAD("\xf4\x90\x80\x80@kp.dk", "UTF-8"),
	BAD("u@kp.dk\xe2\x82", "UTF-8"),
	OK_ROW("<j\xc3\xb8rgen@kp.dk>", "j\xc3\xb8rgen", "kp.dk", "j\xc3\xb8rgen@kp.dk", YES, YES),
	/* Structure. */
	BAD("<u@kp.dk", "angle"),
	BAD("u@kp.dk>", "angle"),
	BAD("<<u@kp.dk>>", "angle"),
	BAD("<u<@kp.dk>", "angle"),
	BAD("u", "no domain"),
	BAD("<postmaster>", "no domain"),
	BAD("@kp.dk", "empty local"),
	BAD("<@kp.dk>", "empty local"),
	BAD("u@", "no domain"),
	BAD("u@v@kp.dk", "local part"),
	BAD("u@kp.dk@evil.com", "local part"),
	BAD("u@kp.dk..", "domain"),
	BAD("u@kp..dk", "domain"),
	BAD("u@.kp.dk", "domain"),
	BAD("u@-kp.dk", "domain"),
	BAD("u@kp-.dk", "domain"),
	BAD("u@kp_dk.dk", "domain"),
	BAD("u@\"kp.dk\"", "domain"),
	BAD("u..v@kp.dk", "local part"),
	BAD(".u@kp.dk", "local part"),
	BAD("u.@kp.dk", "local part"),
	BAD("<u v@kp.dk>", "local part"),
	BAD("< u@kp.dk>", "local part"),
	BAD("u(x)@kp.dk", "local part"),
	/* Address literals: kept, lower-cased; never a domain name. */
	OK_ROW("u@[1.2.3.4]", "u", "[1.2.3.4]", "u@[1.2.3.4]", NO, NO),
	OK_ROW("<u@[IPv6:2001:DB8::1]>", "u", "[ipv6:2001:db8::1]", "u@[ipv6:2001:db8::1]", NO, NO),
	BAD("u@[1.2.3]", "literal"),
	BAD("u@[kp.dk]", "literal"),
	BAD("u@[1.2.3.4].", "literal"),
	BAD("u@[IPv6:1.2.3.4]", "literal"),
	BAD("u@[tag:kp.dk]", "literal"),
};

static char *repeat(int c, size_t n)
{
	char *s = xmalloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void check_row(const struct addr_row *r, const char *name)
{
	struct address a;
	const char *why = "unset";
	size_t len = r->len ? r->len : strlen(r->raw);
	enum addr_status st = address_normalise(r->raw, len, &a, &why);

	is_int(st, r->status, "%s: status", name);
	is_str(a.local, r->local, "%s: local", name);
	is_str(a.domain, r->domain, "%s: domain", name);
	is_str(a.full, r->full, "%s: full", name);
	if (st == ADDR_OK) {
		ok(why == NULL, "%s: no reason on success", name);
		ok(domain_match("kp.dk", a.domain) == r->exact, "%s: matches kp.dk is %d", name,
		   r->exact);
		ok(domain_match(".kp.dk", a.domain) == r->sub, "%s: matches .kp.dk is %d", name,
		   r->sub);
	} else {
		ok(why != NULL && *why != '\0' && strchr(why, '%') == NULL,
		   "%s: reason fits an SMTP reply (%s)", name, why ? why : "NULL");
		if (r->why != NULL)
			ok(why != NULL && strstr(why, r->why) != NULL, "%s: reason mentions '%s'",
			   name, r->why);
	}
	address_free(&a);
	ok(a.local == NULL && a.domain == NULL && a.full == NULL, "%s: freed and zeroed", name);
}

static void test_table(void)
{
	char name[64];

	for (size_t i = 0; i < sizeof(addr_rows) / sizeof(addr_rows[0]); i++) {
		snprintf(name, sizeof(name), "row %zu", i);
		diag("row %zu: %.40s", i, addr_rows[i].raw);
		check_row(&addr_rows[i], name);
	}
}

/* test_lengths - the RFC 5321 local part limit, at and past the edge. */
static void test_lengths(void)
{
	char *l64 = repeat('a', 64), *l65 = repeat('a', 65), *l1000 = repeat('a', 1000);
	char *q1000 = repeat('x', 1000), *raw, *full;
	struct addr_row r;

	raw = xasprintf("<%s@kp.dk>", l64);
	full = xasprintf("%s@kp.dk", l64);
	r = (struct addr_row){ raw, 0, ADDR_OK, l64, "kp.dk", full, YES, YES, NULL };
	check_row(&r, "64-byte local part");
	free(raw);
	free(full);

	raw = xasprintf("<%s@kp.dk>", l65);
	r = (struct addr_row){ raw, 0, ADDR_INVALID, NULL, NULL, NULL, NO, NO, "too long" };
	check_row(&r, "65-byte local part");
	free(raw);

	raw = xasprintf("<%s@kp.dk>", l1000);
	r.raw = raw;
	check_row(&r, "1000-byte local part");
	free(raw);

	/* A long quoted local part with an '@' that must not become the split. */
	q1000[0] = '"';
	q1000[500] = '@';
	q1000[999] = '"';
	raw = xasprintf("%s@kp.dk", q1000);
	r.raw = raw;
	check_row(&r, "1000-byte quoted local part");
	free(raw);

	free(l64);
	free(l65);
	free(l1000);
	free(q1000);
}

/* test_domain_lengths - labels of 63 octets, domains of 253, addresses of 254. */
static void test_domain_lengths(void)
{
	char *l64 = repeat('a', 64), *lab63 = repeat('b', 63), *lab64 = repeat('b', 64);
	char *d252, *raw, *full;
	struct addr_row r;

	raw = xasprintf("u@%s.kp.dk", lab63);
	full = xstrdup(raw);
	r = (struct addr_row){ raw, 0, ADDR_OK, "u", raw + 2, full, NO, YES, NULL };
	check_row(&r, "63-byte label");
	free(raw);
	free(full);

	raw = xasprintf("u@%s.kp.dk", lab64);
	r = (struct addr_row){ raw, 0, ADDR_INVALID, NULL, NULL, NULL, NO, NO, "label" };
	check_row(&r, "64-byte label");
	free(raw);

	/* 2 + 252 = 254 octets is the limit for the whole address. */
	d252 = xasprintf("%s.%s.%s.%s", lab63, lab63, lab63, lab63 + 3);
	is_int((long long)strlen(d252), 252, "a 252-byte domain");
	raw = xasprintf("u@%s", d252);
	r = (struct addr_row){ raw, 0, ADDR_OK, "u", d252, raw, NO, NO, NULL };
	check_row(&r, "254-byte address");
	free(raw);
	raw = xasprintf("uu@%s", d252);
	r = (struct addr_row){ raw, 0, ADDR_INVALID, NULL, NULL, NULL, NO, NO, "too long" };
	check_row(&r, "255-byte address");
	free(raw);

	raw = xasprintf("<%s@%s.%s.%s.%s.dk>", l64, lab63, lab63, lab63, lab63);
	r = (struct addr_row){ raw, 0, ADDR_INVALID, NULL, NULL, NULL, NO, NO, "domain too long" };
	check_row(&r, "domain over 253 bytes");
	free(raw);

	free(d252);
	free(l64);
	free(lab63);
	free(lab64);
}

/* test_null_input - a NULL buffer is the empty address, or refused. */
static void test_null_input(void)
{
	struct address a;
	const char *why = NULL;

	is_int(address_normalise(NULL, 0, &a, &why), ADDR_NULL, "NULL, 0 is the null address");
	is_int(address_normalise(NULL, 5, &a, &why), ADDR_INVALID, "NULL, 5 is invalid");
	ok(a.full == NULL, "NULL, 5 leaves nothing");
	is_int(address_normalise("u@kp.dk", 7, &a, NULL), ADDR_OK, "why may be NULL");
	address_free(&a);
	/* Only len bytes are read: the rest of the buffer is not the address. */
	is_int(address_normalise("u@kp.dk.evil.com", 7, &a, NULL), ADDR_OK, "length is honoured");
	is_str(a.domain, "kp.dk", "length is honoured: domain");
	address_free(&a);
	address_free(NULL);
}

struct dn_row {
	const char *in;
	bool lead;
	const char *want;	/* NULL: refused */
};

static const struct dn_row dn_rows[] = {
	{ "KP.DK", false, "kp.dk" },
	{ "kp.dk.", false, "kp.dk" },
	{ "kp.dk..", false, NULL },
	{ ".KP.DK", true, ".kp.dk" },
	{ ".kp.dk.", true, ".kp.dk" },
	{ ".kp.dk", false, NULL },
	{ "..kp.dk", true, NULL },
	{ ".", true, NULL },
	{ ".", false, NULL },
	{ "", false, NULL },
	{ "dk", false, "dk" },
	{ "a-b.dk", false, "a-b.dk" },
	{ "ab--c.dk", false, "ab--c.dk" },
	{ "-ab.dk", false, NULL },
	{ "ab-.dk", false, NULL },
	{ "a_b.dk", false, NULL },
	{ "a b.dk", false, NULL },
	{ "kp.dk\x01", false, NULL },
	{ "kp.dk\xc3", false, NULL },
	{ "b\xc3\xb8ger.dk", false, "xn--bger-gra.dk" },
	{ ".b\xc3\xb8ger.dk", true, ".xn--bger-gra.dk" },
	{ "xn--bger-gra.dk", false, "xn--bger-gra.dk" },
	{ "k\xd1\x80.dk", false, "xn--k-5tb.dk" },
	{ "a_b.b\xc3\xb8ger.dk", false, NULL },
	{ "xn--zz.dk", false, NULL },
	{ "xn--abc-.dk", false, NULL },
	{ "xn--xe-9tb.dk", false, NULL },
	{ "xn--x-bga.dk", false, "xn--x-bga.dk" },
	{ "x\xc3\xa9.dk", false, "xn--x-bga.dk" },
	{ "xe\xcc\x81.dk", false, "xn--x-bga.dk" },
	{ "[1.2.3.4]", false, "[1.2.3.4]" },
	{ "[IPv6:::1]", false, "[ipv6:::1]" },
	{ ".[1.2.3.4]", true, NULL },
	{ "[]", false, NULL },
	{ "[", false, NULL },
	{ "[999.2.3.4]", false, NULL },
};

static void test_domain_normalise(void)
{
	for (size_t i = 0; i < sizeof(dn_rows) / sizeof(dn_rows[0]); i++) {
		const struct dn_row *r = &dn_rows[i];
		const char *why = "unset";
		char *got = domain_normalise(r->in, r->lead, &why);

		is_str(got, r->want, "domain_normalise(\"%s\", %d)", r->in, r->lead);
		if (r->want == NULL)
			ok(why != NULL && strchr(why, '%') == NULL, "  refused with a reason (%s)",
			   why ? why : "NULL");
		else
			ok(why == NULL, "  no reason on success");
		free(got);
	}
	ok(domain_normalise(NULL, false, NULL) == NULL, "domain_normalise(NULL)");
}

struct dm_row {
	const char *entry, *domain;
	bool want;
};

static const struct dm_row dm_rows[] = {
	{ "kp.dk", "kp.dk", true },
	{ "kp.dk", "sub.kp.dk", false },
	{ ".kp.dk", "kp.dk", true },
	{ ".kp.dk", "sub.kp.dk", true },
	{ ".kp.dk", "b.a.kp.dk", true },
	{ "kp.dk", "kp.dk.evil.com", false },
	{ ".kp.dk", "kp.dk.evil.com", false },
	{ "kp.dk", "evilkp.dk", false },
	{ ".kp.dk", "evilkp.dk", false },
	{ ".kp.dk", "sub.evilkp.dk", false },
	{ "kp.dk", "kp-dk.com", false },
	{ ".kp.dk", "kp-dk.com", false },
	{ "kp.dk", "xn--k-5tb.dk", false },
	{ ".kp.dk", "xn--k-5tb.dk", false },
	{ "kp.dk", "dk", false },
	{ ".kp.dk", "dk", false },
	{ ".kp.dk", "p.dk", false },
	{ ".dk", "kp.dk", true },
	{ "sub.kp.dk", "kp.dk", false },
	{ ".sub.kp.dk", "kp.dk", false },
	{ "", "kp.dk", false },
	{ ".", "kp.dk", false },
	{ "kp.dk", "", false },
	{ ".kp.dk", "", false },
	{ "[1.2.3.4]", "[1.2.3.4]", true },
	{ ".2.3.4]", "[1.2.3.4]", false },
	{ "kp.dk", NULL, false },
	{ NULL, "kp.dk", false },
};

static void test_domain_match(void)
{
	for (size_t i = 0; i < sizeof(dm_rows) / sizeof(dm_rows[0]); i++) {
		const struct dm_row *r = &dm_rows[i];

		ok(domain_match(r->entry, r->domain) == r->want, "domain_match(%s, %s) is %s",
		   r->entry ? r->entry : "NULL", r->domain ? r->domain : "NULL",
		   r->want ? "true" : "false");
	}
}

int main(void)
{
	test_table();
	test_lengths();
	test_domain_lengths();
	test_null_input();
	test_domain_normalise();
	test_domain_match();
	return done_testing();
}

/*
 * t_cpr.c - the CPR-number scanner (SPEC section 4): dates and the century
 * rule, modulus 11, keywords, what must not hit, chunking, masking, and
 * that no unmasked number is ever kept.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1	/* memmem */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpr.h"
#include "tap.h"

/* the century rule and real dates, on the bare ten digits */
static const struct {
	const char *digits;
	int year;		/* -1: not a date */
} years[] = {
	{ "0101901238", 1990 },
	{ "0101051238", 1905 },	/* 0-3: always 1900s */
	{ "3112993238", 1999 },
	{ "0101054128", 2005 },	/* 4: 2000s up to 36 */
	{ "0101364128", 2036 },
	{ "0101374128", 1937 },	/* 4: 1900s from 37 */
	{ "0101059128", 2005 },	/* 9 as 4 */
	{ "0101999128", 1999 },
	{ "0101575124", 2057 },	/* 5-8: 2000s up to 57 */
	{ "0101585124", 1858 },	/* 5-8: 1800s from 58 */
	{ "0101998124", 1899 },
	{ "2902004125", 2000 },	/* 2000 is a leap year */
	{ "2902001126", -1 },	/* 1900 is not */
	{ "2901001122", 1900 },	/* 29 January is always fine */
	{ "2902961235", 1996 },
	{ "2902565127", 2056 },
	{ "2902585128", -1 },	/* 1858 */
	{ "2902605129", 1860 },
	{ "2902379129", -1 },	/* 1937 */
	{ "2902369123", 2036 },
	{ "2902409125", 1940 },
	{ "2902014125", -1 },	/* 2001 */
	{ "3002901234", -1 },
	{ "3104901238", -1 },	/* April has 30 days */
	{ "3004901238", 1990 },
	{ "3201901234", -1 },
	{ "0113901234", -1 },
	{ "0001901234", -1 },
	{ "0100901234", -1 },
	{ "010190123x", -1 },
};

/* the whole scanner on short texts */
static const struct {
	const char *text;
	unsigned hits, mod11, keyword;
	const char *first;	/* first masked sample, NULL if none */
	enum cpr_level level;
} cases[] = {
	/* the two forms, the three centuries */
	{ "0101901238", 1, 1, 0, "010190-****", CPR_MEDIUM },
	{ "010190-1238", 1, 1, 0, "010190-****", CPR_MEDIUM },
	{ "Født 0101054128 i Aarhus", 1, 1, 0, "010105-****", CPR_MEDIUM },
	{ "gammel: 010160-5124.", 1, 1, 0, "010160-****", CPR_MEDIUM },
	{ "3112991238", 1, 1, 0, "311299-****", CPR_MEDIUM },
	{ "010190\u20111238", 1, 1, 0, "010190-****", CPR_MEDIUM },	/* non-breaking hyphen */
	{ "010190\u20131238", 1, 1, 0, "010190-****", CPR_MEDIUM },	/* en dash */
	/* 29 February */
	{ "290200-4125", 1, 1, 0, "290200-****", CPR_MEDIUM },
	{ "290200-1126", 0, 0, 0, NULL, CPR_NONE },
	{ "290100-1122", 1, 1, 0, "290100-****", CPR_MEDIUM },
	{ "2902001122 2902014125", 0, 0, 0, NULL, CPR_NONE },
	{ "290296-1235", 1, 1, 0, "290296-****", CPR_MEDIUM },
	{ "290258-5128", 0, 0, 0, NULL, CPR_NONE },
	{ "290260-5129", 1, 1, 0, "290260-****", CPR_MEDIUM },
	/* failing modulus 11: still a hit, weaker */
	{ "0101901234", 1, 0, 0, "010190-****", CPR_WEAK },
	{ "010190-1239", 1, 0, 0, "010190-****", CPR_WEAK },
	/* not a date */
	{ "320190-1234", 0, 0, 0, NULL, CPR_NONE },
	{ "011390-1234", 0, 0, 0, NULL, CPR_NONE },
	{ "000190-1234", 0, 0, 0, NULL, CPR_NONE },
	{ "010090-1234", 0, 0, 0, NULL, CPR_NONE },
	{ "310490-1238", 0, 0, 0, NULL, CPR_NONE },
	{ "300290-1234", 0, 0, 0, NULL, CPR_NONE },
	/* keywords */
	{ "CPR: 010190-1238", 1, 1, 1, "010190-****", CPR_STRONG },
	{ "cpr-nr. 0101901234", 1, 0, 1, "010190-****", CPR_MEDIUM },
	{ "Cpr.nr.: 0101901238", 1, 1, 1, "010190-****", CPR_STRONG },
	{ "CPR-0101901238", 1, 1, 1, "010190-****", CPR_STRONG },
	{ "Personnummer 010190-1238", 1, 1, 1, "010190-****", CPR_STRONG },
	{ "PERSONNR:0101901234", 1, 0, 1, "010190-****", CPR_MEDIUM },
	{ "CPR-numre: 0101901238, 0202801234; 010190-1234", 3, 2, 3, "010190-****", CPR_STRONG },
	{ "Hej Søren, dit cpr er 010190-1238 – mvh", 1, 1, 1, "010190-****", CPR_STRONG },
	/* longer runs of digits */
	{ "01019012380", 0, 0, 0, NULL, CPR_NONE },
	{ "90101901238", 0, 0, 0, NULL, CPR_NONE },
	{ "010190-12380", 0, 0, 0, NULL, CPR_NONE },
	{ "0101901-238", 0, 0, 0, NULL, CPR_NONE },
	{ "01019-01238", 0, 0, 0, NULL, CPR_NONE },
	{ "010190--1238", 0, 0, 0, NULL, CPR_NONE },
	{ "010190-12-38", 0, 0, 0, NULL, CPR_NONE },
	{ "0101901238-5", 0, 0, 0, NULL, CPR_NONE },
	{ "2024-0101901238", 0, 0, 0, NULL, CPR_NONE },
	{ "1.0101901238 og 0101901238.5", 0, 0, 0, NULL, CPR_NONE },
	{ "kl. 12:0101901238", 0, 0, 0, NULL, CPR_NONE },
	{ "1/0101901238 0101901238/2", 0, 0, 0, NULL, CPR_NONE },
	{ "20240115123456 og 1704067200123", 0, 0, 0, NULL, CPR_NONE },
	/* account numbers, IBAN, order, invoice, customer and phone numbers */
	{ "Reg.nr. 1234 konto 0101901238", 0, 0, 0, NULL, CPR_NONE },
	{ "Kontonr.: 1234-0101901238", 0, 0, 0, NULL, CPR_NONE },
	{ "IBAN DK5000400101901238, DK50 0040 0101 9012 38", 0, 0, 0, NULL, CPR_NONE },
	{ "Ordre nr. 0101901238", 0, 0, 0, NULL, CPR_NONE },
	{ "Order #0101901238", 0, 0, 0, NULL, CPR_NONE },
	{ "Faktura 0101901238", 0, 0, 0, NULL, CPR_NONE },
	{ "Kundenummer: 0101901238", 0, 0, 0, NULL, CPR_NONE },
	{ "Tlf. +45 12 34 56 78, mobil 0101901238", 0, 0, 0, NULL, CPR_NONE },
	{ "+0101901238 og +45 0101901238", 0, 0, 0, NULL, CPR_NONE },
	{ "ISBN 0101901238", 0, 0, 0, NULL, CPR_NONE },
	{ "tlf 12345678, CPR 0101901238", 1, 1, 1, "010190-****", CPR_STRONG },	/* the CPR keyword is nearer */
	{ "Faktura sendt. Patienten har personnummer 0101901238", 1, 1, 1, "010190-****",
	  CPR_STRONG },
	/* URLs, addresses, identifiers */
	{ "https://journal.example.dk/patient?id=0101901238", 0, 0, 0, NULL, CPR_NONE },
	{ "?id=0101901238", 0, 0, 0, NULL, CPR_NONE },
	{ "a=1&b=0101901238", 0, 0, 0, NULL, CPR_NONE },
	{ "se www.example.dk/p/0101901238 nu", 0, 0, 0, NULL, CPR_NONE },
	{ "<https://x.dk/a-0101901238-b>", 0, 0, 0, NULL, CPR_NONE },
	{ "0101901238@example.dk", 0, 0, 0, NULL, CPR_NONE },
	{ "C:\\data\\0101901238", 0, 0, 0, NULL, CPR_NONE },
	{ "%200101901238", 0, 0, 0, NULL, CPR_NONE },
	/* letters directly next to it */
	{ "ab0101901238", 0, 0, 0, NULL, CPR_NONE },
	{ "0101901238ab", 0, 0, 0, NULL, CPR_NONE },
	{ "ø0101901238 0101901238æ", 0, 0, 0, NULL, CPR_NONE },
	{ "x_0101901238", 0, 0, 0, NULL, CPR_NONE },
	{ "INV-0101901238", 0, 0, 0, NULL, CPR_NONE },
	{ "0101901238-DK", 0, 0, 0, NULL, CPR_NONE },
	{ "010190 1238", 0, 0, 0, NULL, CPR_NONE },	/* the space form is not accepted */
	/* but punctuation, quotes and a list are fine */
	{ "(0101901238) \"0202801234\" «010190-1234»", 3, 2, 0, "010190-****", CPR_MEDIUM },
	{ "0101901238,0202801234;0101901234", 3, 2, 0, "010190-****", CPR_MEDIUM },
	{ "Slut: 0101901238.", 1, 1, 0, "010190-****", CPR_MEDIUM },
	{ "nr. 0101901238-", 1, 1, 0, "010190-****", CPR_MEDIUM },
	{ "cpr=0101901238", 1, 1, 1, "010190-****", CPR_STRONG },
	{ "https://x.dk/ CPR 0101901238", 1, 1, 1, "010190-****", CPR_STRONG },	/* the URL word ended */
	/* broken UTF-8 around it is neutral */
	{ "\xff" "0101901238" "\xc3", 1, 1, 0, "010190-****", CPR_MEDIUM },
	{ "", 0, 0, 0, NULL, CPR_NONE },
};

/*
 * what the fast paths (scan_plain, scan_digits, skip_tag) read must give
 * what one code point at a time gives, wherever a chunk ends: URL words
 * and their heads, marks, keywords inside words and next to negatives,
 * two-byte and longer UTF-8 (Latin-1 letters, hyphens, spaces, broken
 * and overlong sequences), joiners, and HTML tags with non-ASCII inside
 */
static const struct {
	const char *text;
	bool html;
	unsigned hits, mod11, keyword;
} paths[] = {
	{ "www.kp.dk 0101901238", false, 1, 1, 0 },
	{ "www.0101901238", false, 0, 0, 0 },
	{ "wWw.x 0101901238 www.x0101901238", false, 1, 1, 0 },
	{ "a=1&b=0101901238 a=0101901238", false, 1, 1, 0 },
	{ "https://x.dk/0101901238 https:/ 0101901238", false, 1, 1, 0 },
	{ "se x.dk?0101901238 x? 0101901238", false, 1, 1, 0 },
	{ "CPR-0101901238 INV-0101901238 xcpr-0101901238", false, 2, 2, 2 },
	{ "cprnummer 0101901238", false, 1, 1, 1 },
	{ "Kontonr. 0101901238, CPR 0202801234", false, 1, 1, 1 },
	{ "konto cpr 0101901238 cpr konto 0202801234", false, 1, 1, 1 },
	{ "personnummerkonto 0101901238", false, 0, 0, 0 },
	{ "telefon: 0101901238; tlf 0202801234", false, 0, 0, 0 },
	{ "\xc3\x86" "0101901238 \xc3\x97" "0101901238 \xc3\xb8 0202801234", false, 2, 2, 0 },
	{ "K\xc3\xb8" "benhavn, CPR: 010190-1238 og \xc3\xa6\xc3\xb8\xc3\xa5 020280-1234.", false, 2, 2, 2 },
	{ "+45 0101901238 +4 0101901238 +45  0101901238", false, 1, 1, 0 },
	{ "12.0101901238 0101901238.5 0101901238-5 0101901238-x 0101901238-", false, 1, 1, 0 },
	{ "0101901238/ 0101901238\xe2\x80\x91" "abc 0101901238\xe2\x80\x91" "1", false, 0, 0, 0 },
	{ "CPR \xe2\x80\x8b" "0101901238 \xc2\xa0" "0202801234", false, 2, 2, 2 },
	{ "C\xc3" "PR 0101901238 \xc3\xc3\xa6 0202801234 \xff" "0101901238", false, 3, 3, 0 },
	{ "cpr \xe0\x80\xb0" "101901238 \xe0\x80\xbc" "0101901238", false, 2, 2, 2 },
	{ "Personnummer:\n\t010190-1238\r\nKUNDENUMMER 0202801234", false, 1, 1, 1 },
	{ "faktura/order 0101901238 ordre-0202801234", false, 0, 0, 0 },
	{ "isbn 0101901238 fax0202801234 fax 0101054128", false, 0, 0, 0 },
	{ "cp\xc3\xa6r 0101901238 c\xc3\xa6pr 0202801234", false, 2, 2, 0 },
	{ "kont\xc3\xb8o 0101901238, kon\xc3\xa5to 0202801234", false, 2, 2, 0 },
	{ "mobil www.a0101901238 \"0202801234\" (0101054128) [0101605124]", false, 3, 3, 0 },
	{ "<p title=\"0101901238\">cpr</p><b>0202801234</b>", true, 1, 1, 1 },
	{ "<a x=\xe0\x80\xbe 0101901238 >", true, 1, 1, 0 },
	{ "<a x=\"\xc3\xa6\">0101901238<br/>cpr<i \xe2\x80\x91>0202801234", true, 2, 2, 1 },
	{ "<td>010190</td><td>1238</td>0101901238<", true, 1, 1, 0 },
	{ "cpr<span>&nbsp;</span>0101901238 <x \xc3>0202801234", true, 2, 2, 2 },
	{ "<a href=\"https://x.dk\">www</a>.0101901238", true, 1, 1, 0 },
};

/* filler between the texts of paths[]: no digits, further than any keyword window */
#define FILLER "\n\u00c6bler og p\u00e6rer fra \u00d8resund, s\u00e5dan er det bare med den sag her.\n"

static void scan_chunks(const char *t, size_t len, bool html, size_t chunk, struct cpr_result *out)
{
	struct cpr_scanner s;

	cpr_scanner_init(&s);
	cpr_scanner_set_html(&s, html);
	for (size_t off = 0; off < len; off += chunk)
		cpr_scan(&s, t + off, len - off < chunk ? len - off : chunk);
	cpr_scanner_finish(&s);
	*out = s.result;
}

/* scan_split - t in two chunks at at, or three (at, at + 1) to put a boundary on each side of a byte */
static void scan_split(const char *t, size_t len, bool html, size_t at, bool three,
		       struct cpr_result *out)
{
	struct cpr_scanner s;
	size_t mid = three && at < len ? at + 1 : at;

	cpr_scanner_init(&s);
	cpr_scanner_set_html(&s, html);
	cpr_scan(&s, t, at);
	cpr_scan(&s, t + at, mid - at);
	cpr_scan(&s, t + mid, len - mid);
	cpr_scanner_finish(&s);
	*out = s.result;
}

static void test_paths(void)
{
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		const char *t = paths[i].text;
		size_t len = strlen(t);
		struct cpr_result whole, r;
		unsigned bad = 0;

		scan_chunks(t, len, paths[i].html, len ? len : 1, &whole);
		ok(whole.hits == paths[i].hits && whole.hits_mod11 == paths[i].mod11 &&
		   whole.hits_keyword == paths[i].keyword,
		   "paths %zu: %u hits (%u mod11, %u keyword), want %u (%u, %u)", i, whole.hits,
		   whole.hits_mod11, whole.hits_keyword, paths[i].hits, paths[i].mod11,
		   paths[i].keyword);
		for (size_t at = 0; at <= len; at++)
			for (int three = 0; three < 2; three++) {
				scan_split(t, len, paths[i].html, at, three, &r);
				bad += memcmp(&r, &whole, sizeof(r)) != 0;
			}
		for (size_t chunk = 1; chunk <= 5; chunk++) {
			scan_chunks(t, len, paths[i].html, chunk, &r);
			bad += memcmp(&r, &whole, sizeof(r)) != 0;
		}
		ok(bad == 0, "paths %zu: the same result in any chunks", i);
	}
}

/*
 * test_paths_long - all of paths[] in one text (plain, then HTML), with
 * filler between so that the fast paths run long: the hits add up, in any
 * chunks
 */
static void test_paths_long(void)
{
	for (int html = 0; html < 2; html++) {
		static char text[8192];
		size_t len = 0;
		unsigned want = 0, bad = 0;
		struct cpr_result whole, r;

		for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
			if (paths[i].html != (html == 1))
				continue;
			len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%s%s", FILLER,
						paths[i].text, FILLER);
			want += paths[i].hits;
		}
		scan_chunks(text, len, html, len, &whole);
		is_int(whole.hits, want, "paths, long %s text: the hits add up", html ? "HTML" : "plain");
		for (size_t at = 0; at <= len; at++) {
			scan_split(text, len, html, at, false, &r);
			bad += memcmp(&r, &whole, sizeof(r)) != 0;
		}
		for (size_t chunk = 1; chunk <= 64; chunk++) {
			scan_chunks(text, len, html, chunk, &r);
			bad += memcmp(&r, &whole, sizeof(r)) != 0;
		}
		ok(bad == 0, "paths, long %s text (%zu bytes): the same result in any chunks",
		   html ? "HTML" : "plain", len);
	}
}

/* the keyword window across the fast path's chunk ends: ASCII and two-byte letters in the gap */
static void test_keyword_window_chunks(void)
{
	static const char *const fill[] = { "x", " ", "\u00e6" };
	char buf[400];
	struct cpr_result r;

	for (size_t f = 0; f < sizeof(fill) / sizeof(fill[0]); f++)
		for (int gap = CPR_KEYWORD_WINDOW - 2; gap <= CPR_KEYWORD_WINDOW + 1; gap++) {
			size_t len;
			unsigned bad = 0;

			strcpy(buf, "CPR ");
			for (int i = 0; i < gap - 1; i++)
				strcat(buf, fill[f]);
			strcat(buf, " 0101901238");
			len = strlen(buf);
			for (size_t at = 0; at <= len; at++) {
				scan_split(buf, len, false, at, at % 2 == 1, &r);
				/* the keyword's end, a space, the gap, a space: gap + 1 code points */
				bad += r.hits != 1 || r.hits_keyword != (gap + 1 <= CPR_KEYWORD_WINDOW);
			}
			ok(bad == 0, "keyword %d code points before, filled with \"%s\", in two or three chunks",
			   gap, fill[f]);
		}
}

static void check_result(const struct cpr_result *r, size_t i, const char *how)
{
	is_int(r->hits, cases[i].hits, "case %zu %s: hits", i, how);
	is_int(r->hits_mod11, cases[i].mod11, "case %zu %s: mod11", i, how);
	is_int(r->hits_keyword, cases[i].keyword, "case %zu %s: keyword", i, how);
	is_int(r->level, cases[i].level, "case %zu %s: level", i, how);
	is_str(r->n_samples ? r->samples[0].masked : NULL, cases[i].first, "case %zu %s: masked",
	       i, how);
}

static void test_years(void)
{
	size_t i;

	for (i = 0; i < sizeof(years) / sizeof(years[0]); i++)
		is_int(cpr_birth_year(years[i].digits), years[i].year, "year of %.6s-%s", years[i].digits,
		       years[i].year < 0 ? "x (not a date)" : "x");
}

static void test_mod11(void)
{
	ok(cpr_mod11_ok("0101901238"), "mod11: 0101901238 passes");
	ok(cpr_mod11_ok("0202801234"), "mod11: 0202801234 passes");
	ok(!cpr_mod11_ok("0101901234"), "mod11: 0101901234 fails");
	ok(!cpr_mod11_ok("0101901239"), "mod11: 0101901239 fails");
	ok(!cpr_mod11_ok("01019012x8"), "mod11: a non-digit fails");
}

static void test_cases(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cpr_result r;

		cpr_scan_string(cases[i].text, strlen(cases[i].text), &r);
		diag("case %zu: %s", i, cases[i].text);
		check_result(&r, i, "whole");
	}
}

/* every case, split in two at every byte, and fed one byte at a time */
static void test_chunking(void)
{
	size_t i, at, j;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *t = cases[i].text;
		size_t len = strlen(t);
		unsigned bad = 0;
		struct cpr_scanner s;
		struct cpr_result whole;

		cpr_scan_string(t, len, &whole);
		for (at = 0; at <= len; at++) {
			cpr_scanner_init(&s);
			cpr_scan(&s, t, at);
			cpr_scan(&s, t + at, len - at);
			cpr_scanner_finish(&s);
			bad += memcmp(&s.result, &whole, sizeof(whole)) != 0;
		}
		ok(bad == 0, "case %zu: the same result split at each of %zu places", i, len + 1);
		cpr_scanner_init(&s);
		for (j = 0; j < len; j++)
			cpr_scan(&s, t + j, 1);
		cpr_scanner_finish(&s);
		ok(memcmp(&s.result, &whole, sizeof(whole)) == 0, "case %zu: fed byte by byte", i);
	}
}

/* one scanner over several texts: counts add up, a number never spans two */
static void test_texts(void)
{
	struct cpr_scanner s;

	cpr_scanner_init(&s);
	cpr_scan(&s, "CPR ", 4);
	cpr_scanner_finish(&s);
	cpr_scan(&s, "0101901238", 10);
	cpr_scanner_finish(&s);
	is_int(s.result.hits, 1, "texts: a number at the start of a text is found");
	is_int(s.result.hits_keyword, 0, "texts: the keyword of the previous text does not count");
	cpr_scan(&s, "01019", 5);
	cpr_scanner_finish(&s);
	cpr_scan(&s, "01238", 5);
	cpr_scanner_finish(&s);
	is_int(s.result.hits, 1, "texts: a number never spans two texts");
	cpr_scan(&s, "cpr: 0202801234", 15);
	cpr_scanner_finish(&s);
	is_int(s.result.hits, 2, "texts: counts accumulate");
	is_int(s.result.level, CPR_STRONG, "texts: the level is the highest");
	is_str(s.result.samples[1].masked, "020280-****", "texts: second sample");
	is_int(s.result.samples[1].level, CPR_STRONG, "texts: second sample's level");
}

/* the keyword counts up to CPR_KEYWORD_WINDOW code points before the number */
static void test_keyword_window(void)
{
	char buf[200];
	struct cpr_result r;
	int gap;

	for (gap = CPR_KEYWORD_WINDOW - 1; gap <= CPR_KEYWORD_WINDOW + 1; gap++) {
		snprintf(buf, sizeof(buf), "CPR%*s0101901238", gap, "");
		cpr_scan_string(buf, strlen(buf), &r);
		is_int(r.hits_keyword, gap <= CPR_KEYWORD_WINDOW, "keyword %d code points before", gap);
	}
	/* code points, not bytes: forty Danish letters are eighty bytes */
	strcpy(buf, "cpr");
	for (gap = 0; gap < CPR_KEYWORD_WINDOW - 1; gap++)
		strcat(buf, "\u00e6");
	strcat(buf, " 0101901238");
	cpr_scan_string(buf, strlen(buf), &r);
	is_int(r.hits_keyword, 1, "keyword window counts code points");
}

static void test_html(void)
{
	struct cpr_scanner s;
	const char *html = "<p class=\"x\" data-id=\"0101901238\">CPR:</p><td>0202801234</td>"
			   "<a href=\"https://x.dk/?id=0101901238\">link</a>0101901234<br>";

	cpr_scanner_init(&s);
	cpr_scanner_set_html(&s, true);
	cpr_scan(&s, html, strlen(html));
	cpr_scanner_finish(&s);
	is_int(s.result.hits, 2, "html: text between tags hits, attributes do not");
	is_int(s.result.hits_keyword, 2, "html: a keyword before a tag counts");
	cpr_scan(&s, html, strlen(html));
	cpr_scanner_finish(&s);
	is_int(s.result.hits, 5, "html: finish ends HTML mode (plain text: attributes count too)");
}

static void test_samples(void)
{
	struct cpr_result r;
	char buf[200];
	const char *many = "0101901238 0202801234 0101054128 0101605124 3112991238 2902961235";

	cpr_scan_string(many, strlen(many), &r);
	is_int(r.hits, 6, "samples: six hits");
	is_int(r.n_samples, CPR_SAMPLES, "samples: only the first few kept");
	is_str(r.samples[3].masked, "010160-****", "samples: in order");
	cpr_result_format(&r, buf, sizeof(buf));
	is_str(buf, "6 (medium; 6 mod11, 0 keyword, 0 strong: 010190-**** 020280-**** "
		    "010105-**** 010160-**** ...)", "format: a log line");
	cpr_result_format(&r, buf, 12);
	is_str(buf, "6 (medium; ", "format: truncated");
	cpr_result_init(&r);
	cpr_result_format(&r, buf, sizeof(buf));
	is_str(buf, "0", "format: no hits");
}

static void test_mask(void)
{
	char out[CPR_MASKED_LEN + 1];

	memset(out, 'x', sizeof(out));
	cpr_mask("0101901238", out);
	is_str(out, "010190-****", "mask: date, dash, four stars");
	is_str(cpr_level_name(CPR_STRONG), "strong", "level name");
	is_str(cpr_level_name(CPR_NONE), "none", "level name none");
}

/* nothing of the serial digits survives anywhere once a number is decided */
static void test_never_kept(void)
{
	const char *t = "CPR: 010190-5678 og 0101906789, 0101907890. Personnummer 3112997123";
	struct cpr_scanner s;
	size_t i;
	static const char *const secrets[] = { "5678", "6789", "7890", "7123", "0101906789" };

	cpr_scanner_init(&s);
	cpr_scan(&s, t, strlen(t) - 3);	/* the last number is still being read */
	is_int(s.result.hits, 3, "privacy: three decided");
	for (i = 0; i < 4; i++)
		ok(memmem(&s, sizeof(s), secrets[i], 4) == NULL,
		   "privacy: scanner state holds no serial %zu while scanning", i);
	cpr_scan(&s, t + strlen(t) - 3, 3);
	cpr_scanner_finish(&s);
	is_int(s.result.hits, 4, "privacy: four hits");
	for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		ok(memmem(&s.result, sizeof(s.result), secrets[i], strlen(secrets[i])) == NULL,
		   "privacy: the result holds no %s", i == 4 ? "full number" : "serial digits");
		ok(memmem(&s, sizeof(s), secrets[i], strlen(secrets[i])) == NULL,
		   "privacy: the finished scanner holds no %s", i == 4 ? "full number" : "serial digits");
	}
}

int main(void)
{
	test_years();
	test_mod11();
	test_cases();
	test_chunking();
	test_paths();
	test_paths_long();
	test_keyword_window_chunks();
	test_texts();
	test_keyword_window();
	test_html();
	test_samples();
	test_mask();
	test_never_kept();
	return done_testing();
}

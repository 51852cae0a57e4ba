/*
 * t_lists.c - unit tests for the list file parser (lists.c): good files of
 * each kind, every kind of bad line, duplicates, dates, and the built-in
 * freemail list.
 */
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "lists.h"
#include "tap.h"
#include "util.h"

static int parse(enum list_kind kind, const char *text, struct list_entries *out,
		 struct strlist *errors)
{
	memset(out, 0, sizeof(*out));
	strlist_init(errors);
	return lists_parse(kind, "f.txt", text, strlen(text), out, errors);
}

static void test_tunnel_good(void)
{
	static const char text[] =
		"\xEF\xBB\xBF# tunnel list\r\n"
		"\r\n"
		"kp.dk, Københavns Professionshøjskole\r\n"
		"  .dk-tunnel.example ,  Tunnel Org  # trailing comment\n"
		"   # indented comment\n"
		"REGION.DK.\n"
		"københavn.dk,Kommune#1 # comment\n"
		"noorg.dk,\n"
		"kp.dk.evil.com";	/* no final newline */
	struct list_entries l;
	struct strlist err;

	is_int(parse(LIST_TUNNEL, text, &l, &err), 0, "tunnel: good file parses");
	is_int((long long)err.n, 0, "tunnel: no errors");
	is_int((long long)l.n, 6, "tunnel: 6 entries");
	if (l.n == 6) {
		is_str(l.v[0].domain, "kp.dk", "tunnel: domain 1");
		is_str(l.v[0].organisation, "Københavns Professionshøjskole", "tunnel: UTF-8 organisation, CR stripped");
		is_int(l.v[0].line, 3, "tunnel: line number counts blank and comment lines");
		is_str(l.v[0].source, "f.txt", "tunnel: source recorded");
		is_str(l.v[1].domain, ".dk-tunnel.example", "tunnel: leading dot kept, spaces trimmed");
		is_str(l.v[1].organisation, "Tunnel Org", "tunnel: comment after white space cut");
		is_str(l.v[2].domain, "region.dk", "tunnel: lower-cased, trailing dot dropped");
		ok(l.v[2].organisation == NULL, "tunnel: organisation optional");
		is_str(l.v[3].domain, "xn--kbenhavn-54a.dk", "tunnel: IDN stored as A-label");
		is_str(l.v[3].organisation, "Kommune#1", "tunnel: '#' inside a word is not a comment");
		ok(l.v[4].organisation == NULL, "tunnel: empty organisation is none");
		is_str(l.v[5].domain, "kp.dk.evil.com", "tunnel: last line without newline");
		ok(l.v[0].dpa_expires == NULL, "tunnel: no expiry");
	}
	list_entries_free(&l);
	strlist_free(&err);
}

static void test_partners_good(void)
{
	static const char text[] =
		"partner.example,Partner A/S,2099-12-31\n"
		"leap.example, Leap ApS , 2024-02-29\n"
		"noexpiry.example,Forever Inc,\n"
		".sub.example,Sub,2000-02-29\n";
	struct list_entries l;
	struct strlist err;

	is_int(parse(LIST_PARTNERS, text, &l, &err), 0, "partners: good file parses");
	is_int((long long)l.n, 4, "partners: 4 entries");
	if (l.n == 4) {
		is_str(l.v[0].dpa_expires, "2099-12-31", "partners: expiry kept");
		is_str(l.v[1].organisation, "Leap ApS", "partners: organisation trimmed");
		is_str(l.v[1].dpa_expires, "2024-02-29", "partners: leap day in a leap year");
		ok(l.v[2].dpa_expires == NULL, "partners: empty expiry means none");
		is_str(l.v[3].dpa_expires, "2000-02-29", "partners: 2000 is a leap year");
	}
	list_entries_free(&l);
	strlist_free(&err);
}

/* One bad line per case: the exact error expected for it. */
static const struct {
	enum list_kind kind;
	const char *line;
	const char *error;
} bad_lines[] = {
	{ LIST_TUNNEL, "a.dk,Org,extra", "f.txt:1: too many fields (a tunnel line is domain[,organisation])" },
	{ LIST_TUNNEL, ",Org", "f.txt:1: missing domain" },
	{ LIST_TUNNEL, "dk", "f.txt:1: \"dk\" is a whole top-level domain; name a domain below it" },
	{ LIST_TUNNEL, ".dk", "f.txt:1: \".dk\" is a whole top-level domain; name a domain below it" },
	{ LIST_TUNNEL, "a\x01.dk", "f.txt:1: control character in line" },
	{ LIST_TUNNEL, "a.dk,\xC3\x28", "f.txt:1: not valid UTF-8" },
	{ LIST_TUNNEL, "a.dk,\xC0\xAF", "f.txt:1: not valid UTF-8" },
	{ LIST_TUNNEL, "a.dk,\xED\xA0\x80", "f.txt:1: not valid UTF-8" },
	{ LIST_TUNNEL, "a.dk,Org\tName", "f.txt:1: tab inside field 2" },
	{ LIST_PARTNERS, "p.dk,Org", "f.txt:1: too few fields (a partners line is domain,organisation,dpa_expires; dpa_expires may be empty)" },
	{ LIST_PARTNERS, "p.dk", "f.txt:1: too few fields (a partners line is domain,organisation,dpa_expires; dpa_expires may be empty)" },
	{ LIST_PARTNERS, "p.dk,Org,2030-01-01,x", "f.txt:1: too many fields (a partners line is domain,organisation,dpa_expires; dpa_expires may be empty)" },
	{ LIST_PARTNERS, "p.dk,,2030-01-01", "f.txt:1: p.dk: missing organisation" },
	{ LIST_PARTNERS, "p.dk,Org,2023-02-29", "f.txt:1: p.dk: invalid agreement expiry date \"2023-02-29\" (want YYYY-MM-DD)" },
	{ LIST_PARTNERS, "p.dk,Org,2100-02-29", "f.txt:1: p.dk: invalid agreement expiry date \"2100-02-29\" (want YYYY-MM-DD)" },
	{ LIST_PARTNERS, "p.dk,Org,2024-04-31", "f.txt:1: p.dk: invalid agreement expiry date \"2024-04-31\" (want YYYY-MM-DD)" },
	{ LIST_PARTNERS, "p.dk,Org,2024-13-01", "f.txt:1: p.dk: invalid agreement expiry date \"2024-13-01\" (want YYYY-MM-DD)" },
	{ LIST_PARTNERS, "p.dk,Org,2024-00-10", "f.txt:1: p.dk: invalid agreement expiry date \"2024-00-10\" (want YYYY-MM-DD)" },
	{ LIST_PARTNERS, "p.dk,Org,2024-1-01", "f.txt:1: p.dk: invalid agreement expiry date \"2024-1-01\" (want YYYY-MM-DD)" },
	{ LIST_PARTNERS, "p.dk,Org,31-12-2030", "f.txt:1: p.dk: invalid agreement expiry date \"31-12-2030\" (want YYYY-MM-DD)" },
	{ LIST_PARTNERS, "p.dk,Org,2030/12/31", "f.txt:1: p.dk: invalid agreement expiry date \"2030/12/31\" (want YYYY-MM-DD)" },
	{ LIST_PARTNERS, "p.dk,Org,0000-01-01", "f.txt:1: p.dk: invalid agreement expiry date \"0000-01-01\" (want YYYY-MM-DD)" },
	{ LIST_FREEMAIL, "gmail.com,Google", "f.txt:1: too many fields (a freemail line is domain)" },
};

static void test_bad_lines(void)
{
	for (size_t i = 0; i < sizeof(bad_lines) / sizeof(bad_lines[0]); i++) {
		struct list_entries l;
		struct strlist err;
		int rc = parse(bad_lines[i].kind, bad_lines[i].line, &l, &err);

		ok(rc != 0 && err.n == 1 && l.n == 0, "bad line %zu refused (%s)", i,
		   list_kind_name(bad_lines[i].kind));
		is_str(err.n ? err.v[0] : NULL, bad_lines[i].error, "bad line %zu: message", i);
		list_entries_free(&l);
		strlist_free(&err);
	}
}

static void test_invalid_domains(void)
{
	static const char *const domains[] = {
		"a..dk", "-a.dk", "a_b.dk", "a b.dk", "x@y.dk", "..dk", ".", "a.dk/x",
	};

	for (size_t i = 0; i < sizeof(domains) / sizeof(domains[0]); i++) {
		struct list_entries l;
		struct strlist err;
		char want[200];

		snprintf(want, sizeof(want), "f.txt:1: invalid domain \"%s\"", domains[i]);
		ok(parse(LIST_FREEMAIL, domains[i], &l, &err) != 0 && err.n == 1 &&
			   strncmp(err.v[0], want, strlen(want)) == 0,
		   "invalid domain \"%s\" refused", domains[i]);
		if (err.n)
			diag("%s", err.v[0]);
		list_entries_free(&l);
		strlist_free(&err);
	}
}

/* Every bad line of a file is reported, in line order, and good ones still parse. */
static void test_every_error(void)
{
	static const char text[] =
		"good1.dk,One\n"
		"bad..dk,Two\n"
		"good2.dk\n"
		"Good1.DK,Again\n"
		"x.dk,a,b\n"
		"\n"
		"good2.dk.\n"
		".good1.dk\n";
	struct list_entries l;
	struct strlist err;
	char nul_text[] = "ok.dk\nn\0l.dk\nok2.dk\n";

	is_int(parse(LIST_TUNNEL, text, &l, &err), -1, "file with bad lines: -1");
	is_int((long long)err.n, 4, "four bad lines, four errors");
	if (err.n == 4) {
		ok(strncmp(err.v[0], "f.txt:2: invalid domain \"bad..dk\"", 32) == 0, "error 1 at line 2");
		is_str(err.v[1], "f.txt:4: good1.dk: duplicate of line 1", "error 2: duplicate after normalisation");
		ok(strncmp(err.v[2], "f.txt:5: too many fields", 24) == 0, "error 3 at line 5");
		is_str(err.v[3], "f.txt:7: good2.dk: duplicate of line 3", "error 4: trailing-dot duplicate");
	}
	is_int((long long)l.n, 3, "the good lines are still parsed (not imported by callers)");
	if (l.n == 3)
		is_str(l.v[2].domain, ".good1.dk", "'.good1.dk' is not a duplicate of 'good1.dk'");
	list_entries_free(&l);
	strlist_free(&err);

	memset(&l, 0, sizeof(l));
	strlist_init(&err);
	is_int(lists_parse(LIST_TUNNEL, "n.txt", nul_text, sizeof(nul_text) - 1, &l, &err), -1,
	       "NUL byte refused");
	is_str(err.n ? err.v[0] : NULL, "n.txt:2: NUL character in line", "NUL byte reported at its line");
	is_int((long long)l.n, 2, "lines around the NUL still parsed");
	list_entries_free(&l);
	strlist_free(&err);
}

static void test_long_line(void)
{
	struct strbuf sb;
	struct list_entries l;
	struct strlist err;

	sb_init(&sb);
	sb_adds(&sb, "long.dk,");
	for (int i = 0; i < 1000; i++)
		sb_addc(&sb, 'x');
	is_int(parse(LIST_TUNNEL, sb.s, &l, &err), -1, "line over 1000 bytes refused");
	is_str(err.n ? err.v[0] : NULL, "f.txt:1: line too long (more than 1000 bytes)", "long line message");
	list_entries_free(&l);
	strlist_free(&err);
	sb_free(&sb);
}

static void test_empty(void)
{
	struct list_entries l;
	struct strlist err;

	is_int(parse(LIST_TUNNEL, "# only comments\n\n   \n", &l, &err), 0, "comments only: ok");
	is_int((long long)l.n, 0, "comments only: no entries");
	list_entries_free(&l);
	strlist_free(&err);
	is_int(parse(LIST_TUNNEL, "", &l, &err), 0, "empty text: ok");
	list_entries_free(&l);
	strlist_free(&err);
}

static const struct {
	const char *expires, *today;
	int valid;
} agreements[] = {
	{ NULL, "2024-05-01", 1 },
	{ "", "2024-05-01", 1 },
	{ "2024-05-01", "2024-05-01", 1 },	/* valid through its last day */
	{ "2024-05-01", "2024-04-30", 1 },
	{ "2024-05-01", "2024-05-02", 0 },
	{ "2023-12-31", "2024-01-01", 0 },
	{ "2099-12-31", "2024-01-01", 1 },
	{ "garbage", "2024-01-01", 0 },		/* fail safe */
	{ "2099-12-31", NULL, 0 },
};

static void test_agreements(void)
{
	for (size_t i = 0; i < sizeof(agreements) / sizeof(agreements[0]); i++)
		is_int(partner_agreement_valid(agreements[i].expires, agreements[i].today),
		       agreements[i].valid, "agreement %s on %s", agreements[i].expires ? agreements[i].expires : "NULL",
		       agreements[i].today ? agreements[i].today : "NULL");
}

static void test_kinds(void)
{
	is_int(list_kind_parse("tunnel"), LIST_TUNNEL, "kind tunnel");
	is_int(list_kind_parse("partners"), LIST_PARTNERS, "kind partners");
	is_int(list_kind_parse("partner"), LIST_PARTNERS, "kind partner");
	is_int(list_kind_parse("freemail"), LIST_FREEMAIL, "kind freemail");
	is_int(list_kind_parse("Tunnel"), -1, "kind names are exact");
	is_int(list_kind_parse("tls"), -1, "unknown kind");
	is_str(list_kind_name(LIST_PARTNERS), "partners", "kind name");
}

/* The built-in list: the SPEC's domains, all already normalised, no duplicates. */
static void test_builtin(void)
{
	static const char *const spec[] = {
		"gmail.com", "googlemail.com", "hotmail.com", "hotmail.dk", "outlook.com",
		"outlook.dk", "live.com", "live.dk", "msn.com", "yahoo.com", "yahoo.dk",
		"icloud.com", "me.com", "aol.com", "gmx.com", "gmx.net", "proton.me",
		"protonmail.com", "mail.dk",
	};
	struct strbuf sb;
	struct list_entries l;
	struct strlist err;
	size_t n = 0, found = 0;

	sb_init(&sb);
	for (; lists_builtin_freemail[n] != NULL; n++) {
		sb_adds(&sb, lists_builtin_freemail[n]);
		sb_addc(&sb, '\n');
	}
	ok(n >= 19 && n < 60, "built-in freemail list has %zu entries", n);
	is_int(parse(LIST_FREEMAIL, sb.s, &l, &err), 0, "built-in list parses as a freemail file");
	is_int((long long)l.n, (long long)n, "built-in list: no duplicates");
	for (size_t i = 0; i < l.n; i++)
		if (strcmp(l.v[i].domain, lists_builtin_freemail[i]) != 0)
			diag("not normalised: %s", lists_builtin_freemail[i]);
	for (size_t i = 0; i < sizeof(spec) / sizeof(spec[0]); i++)
		for (size_t j = 0; j < n; j++)
			if (strcmp(spec[i], lists_builtin_freemail[j]) == 0) {
				found++;
				break;
			}
	is_int((long long)found, 19, "built-in list has every SPEC domain");
	list_entries_free(&l);
	strlist_free(&err);
	sb_free(&sb);
}

int main(void)
{
	test_tunnel_good();
	test_partners_good();
	test_bad_lines();
	test_invalid_domains();
	test_every_error();
	test_long_line();
	test_empty();
	test_agreements();
	test_kinds();
	test_builtin();
	return done_testing();
}

/*
 * t_personal.c - the personal flag: one header value, several copies, and
 * header name comparison (SPEC section 4).
 */
#include <stdlib.h>
#include <string.h>

#include "personal.h"
#include "tap.h"

static const struct {
	const char *value;
	enum flag_value want;
} values[] = {
	{ "yes", FLAG_YES },
	{ "YES", FLAG_YES },
	{ "Yes", FLAG_YES },
	{ "true", FLAG_YES },
	{ "TRUE", FLAG_YES },
	{ "1", FLAG_YES },
	{ "ja", FLAG_YES },
	{ "JA", FLAG_YES },
	{ "Ja", FLAG_YES },
	{ " yes", FLAG_YES },
	{ "yes ", FLAG_YES },
	{ "\tyes\t", FLAG_YES },
	{ "yes\r\n ", FLAG_YES },
	{ "\r\n\tja", FLAG_YES },
	{ " \r\n yes \r\n\t", FLAG_YES },
	{ "no", FLAG_NO },
	{ "NO", FLAG_NO },
	{ "false", FLAG_NO },
	{ "False", FLAG_NO },
	{ "0", FLAG_NO },
	{ "nej", FLAG_NO },
	{ "Nej", FLAG_NO },
	{ "NEJ", FLAG_NO },
	{ " nej\r\n", FLAG_NO },
	{ "maybe", FLAG_OTHER },
	{ "", FLAG_OTHER },
	{ "   ", FLAG_OTHER },
	{ "\r\n ", FLAG_OTHER },
	{ "y", FLAG_OTHER },
	{ "yess", FLAG_OTHER },
	{ "ye s", FLAG_OTHER },
	{ "yes no", FLAG_OTHER },
	{ "yes;", FLAG_OTHER },
	{ "2", FLAG_OTHER },
	{ "01", FLAG_OTHER },
	{ "on", FLAG_OTHER },
	{ "off", FLAG_OTHER },
	{ "\"yes\"", FLAG_OTHER },
	{ "yes\x0b", FLAG_OTHER },	/* vertical tab is not folding white space */
	{ "n\xc3\xa6j", FLAG_OTHER },
	{ "j\xc3\xa5", FLAG_OTHER },
};

/* shown - s with control and 8-bit bytes as \xHH, for test names (TAP is line-based). */
static const char *shown(const char *s)
{
	static char buf[256];
	size_t o = 0;

	for (; *s && o + 5 < sizeof(buf); s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c > 0x7e)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return buf;
}

static void test_values(void)
{
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		is_int(flag_value_parse(values[i].value), values[i].want, "value \"%s\"",
		       shown(values[i].value));
	is_int(flag_value_parse(NULL), FLAG_OTHER, "NULL value");
}

/* result - the flag after adding the n values. */
static bool result(const char *const *v, size_t n, char **why, struct personal_flag *f)
{
	personal_flag_init(f);
	for (size_t i = 0; i < n; i++)
		personal_flag_add(f, v[i]);
	return personal_flag_result(f, "X-KP-Personal", why);
}

static const struct {
	const char *name;
	const char *v[4];
	size_t n;
	bool personal;
	const char *why;
} copies[] = {
	{ "no header", { NULL }, 0, false, "no header" },
	{ "one yes", { "yes" }, 1, true, "header yes" },
	{ "one ja", { "JA" }, 1, true, "header yes" },
	{ "two yes", { "yes", "1" }, 2, true, "header yes" },
	{ "one no", { "no" }, 1, false, "header no" },
	{ "three no", { "no", "Nej", " false " }, 3, false, "header no" },
	{ "unrecognised", { "maybe" }, 1, true, "header unrecognised value \"maybe\"" },
	{ "empty", { "" }, 1, true, "header unrecognised value \"\"" },
	{ "two unrecognised", { "maybe", "perhaps" }, 2, true,
	  "header unrecognised value \"maybe\" (2 copies)" },
	{ "yes and no", { "yes", "no" }, 2, true, "headers disagree (1 yes, 1 no)" },
	{ "no and yes", { "no", "yes" }, 2, true, "headers disagree (1 yes, 1 no)" },
	{ "two yes one no", { "yes", "no", "ja" }, 3, true, "headers disagree (2 yes, 1 no)" },
	{ "no and other", { "no", "nope" }, 2, true, "headers disagree (1 no, 1 unrecognised \"nope\")" },
	{ "yes and other", { "maybe", "yes" }, 2, true,
	  "headers disagree (1 yes, 1 unrecognised \"maybe\")" },
	{ "all three", { "yes", "no", "x", "y" }, 4, true,
	  "headers disagree (1 yes, 1 no, 2 unrecognised \"x\")" },
};

static void test_copies(void)
{
	struct personal_flag f;
	char *why;

	for (size_t i = 0; i < sizeof(copies) / sizeof(copies[0]); i++) {
		why = NULL;
		is_int(result(copies[i].v, copies[i].n, &why, &f), copies[i].personal, "%s: %s",
		       copies[i].name, copies[i].personal ? "personal" : "not personal");
		is_str(why, copies[i].why, "%s: reason", copies[i].name);
		free(why);
	}
}

/* test_sanitise - the kept value is printable ASCII, folded, cut. */
static void test_sanitise(void)
{
	static const struct {
		const char *value;
		const char *kept;
	} rows[] = {
		{ "  maybe  ", "maybe" },
		{ "may\r\n be", "may be" },
		{ "a\x01" "b\x7f" "c", "a?b?c" },
		{ "k\xc3\xb8" "benhavn", "k??benhavn" },
		{ "say \"yes\"", "say ?yes?" },
		{ "back\\slash", "back?slash" },
		{ "0123456789012345678901234567890123456789", "01234567890123456789012345678..." },
		{ "01234567890123456789012345678901", "01234567890123456789012345678901" },
		{ "012345678901234567890123456789012", "01234567890123456789012345678..." },
	};
	struct personal_flag f;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		personal_flag_init(&f);
		personal_flag_add(&f, rows[i].value);
		is_str(f.first_other, rows[i].kept, "kept value %zu", i);
		ok(strlen(f.first_other) < sizeof(f.first_other), "kept value %zu fits", i);
	}
	personal_flag_init(&f);
	personal_flag_add(&f, "first");
	personal_flag_add(&f, "second");
	is_str(f.first_other, "first", "the first unrecognised value is kept");
	is_int(f.n_other, 2, "both counted");
}

static void test_header_names(void)
{
	ok(header_name_eq("X-KP-Personal", "X-KP-Personal"), "same name");
	ok(header_name_eq("x-kp-personal", "X-KP-PERSONAL"), "case-insensitive");
	ok(!header_name_eq("X-KP-Personal", "X-KP-Personal2"), "longer name differs");
	ok(!header_name_eq("X-KP-Persona", "X-KP-Personal"), "shorter name differs");
	ok(!header_name_eq("X-KP_Personal", "X-KP-Personal"), "'_' is not '-'");
	ok(!header_name_eq("X-KP-Personal ", "X-KP-Personal"), "trailing space differs");
	/* no locale folding: the Turkish dotless i is not an ASCII i */
	ok(!header_name_eq("X-KP-Personal", "X-KP-Personal\xc4\xb1"), "8-bit differs");
	ok(!header_name_eq(NULL, "X"), "NULL never matches");
}

int main(void)
{
	test_values();
	test_copies();
	test_sanitise();
	test_header_names();
	return done_testing();
}

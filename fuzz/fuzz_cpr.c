/*
 * fuzz_cpr.c - the CPR number scanner (cpr.c) on text in any encoding, as
 * plain text and as HTML.
 *
 * The first byte of the input picks the chunk size the text is fed in and
 * whether it is HTML; the rest is the text. Invariants (cpr.h): any
 * chunking gives the same result as one call; the counts are consistent;
 * a sample never shows more than the date part of a number; a scanner
 * holds no digits once the text is finished. And the result is the one
 * the scanner gave before its fast path (cpr_reference.c), whole and in
 * the same chunks.
 */
#include <stdbool.h>

#include "cpr.h"
#include "cpr_reference.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

static void scan(const char *text, size_t len, size_t chunk, bool html, struct cpr_result *out)
{
	struct cpr_scanner s;

	cpr_scanner_init(&s);
	cpr_scanner_set_html(&s, html);
	for (size_t off = 0; off < len; off += chunk)
		cpr_scan(&s, text + off, len - off < chunk ? len - off : chunk);
	cpr_scanner_finish(&s);
	for (size_t i = 0; i < sizeof(s.digits); i++)
		FUZZ_ASSERT(s.digits[i] == 0);
	*out = s.result;
}

/* reference - the same through the scanner before its fast path. */
static void reference(const char *text, size_t len, size_t chunk, bool html, struct cpr_result *out)
{
	struct cpr_reference s;

	cpr_reference_init(&s);
	cpr_reference_set_html(&s, html);
	for (size_t off = 0; off < len; off += chunk)
		cpr_reference_scan(&s, text + off, len - off < chunk ? len - off : chunk);
	cpr_reference_finish(&s);
	*out = s.result;
}

static void check_result(const struct cpr_result *r)
{
	char buf[256];

	FUZZ_ASSERT(r->hits_mod11 <= r->hits && r->hits_keyword <= r->hits);
	FUZZ_ASSERT(r->hits_strong <= r->hits_mod11 && r->hits_strong <= r->hits_keyword);
	FUZZ_ASSERT((r->hits == 0) == (r->level == CPR_NONE));
	FUZZ_ASSERT(r->n_samples <= CPR_SAMPLES && r->n_samples <= r->hits);
	for (unsigned i = 0; i < r->n_samples; i++) {
		const char *m = r->samples[i].masked;

		FUZZ_ASSERT(strlen(m) == CPR_MASKED_LEN && strcmp(m + 6, "-****") == 0);
		FUZZ_ASSERT(r->samples[i].level != CPR_NONE && r->samples[i].level <= r->level);
	}
	cpr_result_format(r, buf, sizeof(buf));
	FUZZ_ASSERT(strlen(buf) < sizeof(buf));
	cpr_result_format(r, buf, 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cpr_result whole, chunked, sum, ref;
	const char *text = (const char *)data + 1;
	size_t len, chunk;
	bool html;

	if (size < 1)
		return 0;
	len = size - 1;
	html = data[0] & 0x80;
	chunk = (data[0] & 0x7f) + 1;

	scan(text, len, len > 0 ? len : 1, html, &whole);
	scan(text, len, chunk, html, &chunked);
	check_result(&whole);
	FUZZ_ASSERT(memcmp(&whole, &chunked, sizeof(whole)) == 0);
	reference(text, len, chunk, html, &ref);
	FUZZ_ASSERT(memcmp(&whole, &ref, sizeof(whole)) == 0);
	if (!html) {
		struct cpr_result str;

		cpr_scan_string(text, len, &str);
		FUZZ_ASSERT(memcmp(&whole, &str, sizeof(whole)) == 0);
	}
	cpr_result_init(&sum);
	cpr_result_add(&sum, &whole);
	cpr_result_add(&sum, &chunked);
	FUZZ_ASSERT(sum.hits == 2 * whole.hits);
	return 0;
}

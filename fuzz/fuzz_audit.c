/*
 * fuzz_audit.c - the audit-line parser (audit.c, audit_parse) that
 * sikkermail-ctl report --log runs on syslog lines, and the report it
 * feeds (report.c, report_write*.c).
 *
 * Invariants: a line that parses writes back (audit_format) as a line
 * that parses to the same decision, so a report from the log counts what
 * the filter decided; the report over it can be written in every format.
 */
#include "audit.h"
#include "fuzz.h"
#include "report.h"

#define NOW 1796200000LL

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	if ((devnull = fopen("/dev/null", "we")) == NULL)
		abort();
	return 0;
}

static void report_on(const struct decision *d)
{
	struct report r;
	const char *err;

	FUZZ_ASSERT(report_init(&r, "2026-03-01", "2026-04-30", 3, NOW, &err) == 0);
	report_add(&r, d, "gw.fuzz");
	report_add(&r, d, NULL);
	report_finish(&r);
	report_write_text(&r, devnull);
	report_write_csv(&r, devnull);
	report_write_json(&r, devnull);
	report_write_html(&r, devnull);
	report_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = fuzz_string(data, size);
	struct decision d, d2;
	struct strbuf once, twice;

	if (audit_parse(line, &d) != 0) {
		free(line);
		return 0;
	}
	sb_init(&once);
	audit_format(&d, &once);
	if (audit_parse(once.s, &d2) != 0) {
		fprintf(stderr, "written back: %s\n", once.s);
		abort();
	}
	sb_init(&twice);
	audit_format(&d2, &twice);
	if (strcmp(once.s, twice.s) != 0)
		fprintf(stderr, "once:  %s\ntwice: %s\n", once.s, twice.s);
	FUZZ_ASSERT(strcmp(once.s, twice.s) == 0);
	report_on(&d);
	sb_free(&twice);
	sb_free(&once);
	decision_free(&d2);
	decision_free(&d);
	free(line);
	return 0;
}

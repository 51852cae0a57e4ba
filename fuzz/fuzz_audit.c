/*
 * fuzz_audit.c - the audit-line parsers (audit.c, audit_parse and
 * audit_parse_record) that sikkermail-ctl report --log runs on syslog
 * lines, and the report they feed (report.c, report_write*.c).
 *
 * Invariants: a line that parses writes back (audit_format) as a line
 * that parses to the same decision, so a report from the log counts what
 * the filter decided; the report over it can be written in every format.
 * A summary record without recipients writes back (audit_lines, in both
 * formats) as lines that read back as the same record and write the same
 * lines again.
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

/* record_round_trip - audit_parse_record, and back through audit_lines. */
static void record_round_trip(const char *line)
{
	struct audit_record rec, back;

	if (audit_parse_record(line, &rec) != 0)
		return;
	if (rec.kind == AUDIT_SUMMARY && rec.of == 0) {
		for (int fmt = AUDIT_KV; fmt <= AUDIT_JSON; fmt++) {
			struct strlist once, twice;

			strlist_init(&once);
			strlist_init(&twice);
			audit_lines(&rec.d, (enum audit_format)fmt, rec.id, &once);
			FUZZ_ASSERT(once.n == 1 && strlen(once.v[0]) <= AUDIT_LINE_MAX);
			if (audit_parse_record(once.v[0], &back) != 0) {
				fprintf(stderr, "written back: %s\n", once.v[0]);
				abort();
			}
			FUZZ_ASSERT(back.kind == AUDIT_SUMMARY && back.of == 0);
			audit_lines(&back.d, (enum audit_format)fmt, back.id, &twice);
			if (strcmp(once.v[0], twice.v[0]) != 0)
				fprintf(stderr, "once:  %s\ntwice: %s\n", once.v[0], twice.v[0]);
			FUZZ_ASSERT(strcmp(once.v[0], twice.v[0]) == 0);
			audit_record_free(&back);
			strlist_free(&once);
			strlist_free(&twice);
		}
	}
	if (rec.kind != AUDIT_RCPT)
		report_on(&rec.d);
	audit_record_free(&rec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = fuzz_string(data, size);
	struct decision d, d2;
	struct strbuf once, twice;

	record_round_trip(line);
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

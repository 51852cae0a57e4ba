/*
 * fuzz_config.c - the configuration parser (config.c, config_values.c) on
 * a whole sikkermail.conf held in memory: config_parse is what config_load
 * calls once it has read the file.
 *
 * Invariants: a file is either accepted or refused with at least one
 * error; what an accepted file dumps (sikkermail-milter -n prints the
 * same) parses again, to the same configuration.
 */
#include "config.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strlist errors = { 0 };
	struct strbuf dump, again;
	struct config *c, *c2;

	c = config_parse("fuzz.conf", (const char *)data, size, &errors);
	if (c == NULL) {
		FUZZ_ASSERT(errors.n > 0);
		strlist_free(&errors);
		return 0;
	}
	sb_init(&dump);
	config_dump(c, &dump);
	c2 = config_parse("dump.conf", dump.s, dump.len, &errors);
	if (c2 == NULL) {
		for (size_t i = 0; i < errors.n; i++)
			fprintf(stderr, "%s\n", errors.v[i]);
		fprintf(stderr, "%s", dump.s);
	}
	FUZZ_ASSERT(c2 != NULL);
	sb_init(&again);
	config_dump(c2, &again);
	/* the first line names the file it came from */
	FUZZ_ASSERT(strcmp(strchr(dump.s, '\n'), strchr(again.s, '\n')) == 0);
	sb_free(&again);
	sb_free(&dump);
	config_unref(c2);
	config_unref(c);
	strlist_free(&errors);
	return 0;
}

/*
 * fuzz.h - what the fuzz targets share: the libFuzzer entry points and a
 * few helpers. Each fuzz_<name>.c defines LLVMFuzzerTestOneInput (and
 * LLVMFuzzerInitialize when it needs set-up); it is linked either with
 * libFuzzer (-fsanitize=fuzzer) or with replay.c, which runs saved inputs
 * through the same function.
 *
 * A target calls the library code the daemon runs, must not leak, and
 * writes nothing outside a private temporary directory. A broken
 * invariant is reported with FUZZ_ASSERT, which aborts: libFuzzer then
 * saves the input as a crash.
 */
#ifndef SIKKERMAIL_FUZZ_H
#define SIKKERMAIL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "log.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_ASSERT(cond)                                                              \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__,     \
				__LINE__, #cond);                                      \
			abort();                                                       \
		}                                                                      \
	} while (0)

/* fuzz_quiet - no diagnostics: the library's messages would drown the fuzzer's. */
static inline void fuzz_quiet(void)
{
	log_init("sikkermail-fuzz", false, getenv("FUZZ_VERBOSE") != NULL, LOG_MAIL);
	log_set_level(getenv("FUZZ_VERBOSE") != NULL ? LOG_DEBUG : LOG_ERR);
}

/* fuzz_string - the input as a NUL-terminated string (it may hold NULs); free it. */
static inline char *fuzz_string(const uint8_t *data, size_t size)
{
	char *s = xmalloc(size + 1);

	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif

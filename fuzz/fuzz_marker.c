/*
 * fuzz_marker.c - the re-injection marker parser (smime_text.c,
 * smime_marker_parse) and its check (smime.c, smime_marker_valid): the
 * value of the marker header that anybody outside can put in a message.
 *
 * Invariants: only "T.HEX" with exactly 64 lower-case hex digits parses;
 * a value that is not a marker this filter made is never valid; what
 * smime_marker makes is valid and parses to its own time.
 */
#include <stdbool.h>
#include <time.h>

#include "fuzz.h"
#include "smime.h"
#include "smime_int.h"

static const unsigned char secret[32] = "sikkermail fuzz marker secret..";
#define NOW ((time_t)1796200000)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char mac[SMIME_MARKER_MAC_LEN];
	char *s = fuzz_string(data, size), *made;
	long long t = -1;
	bool parsed;

	parsed = smime_marker_parse(s, &t, mac);
	if (parsed)
		FUZZ_ASSERT(t >= 0 && strchr(s, '.') != NULL);
	/* a value typed by anyone is no marker of ours (a 2^-256 chance aside) */
	FUZZ_ASSERT(!smime_marker_valid(secret, sizeof(secret), "<m@fuzz>", s, NOW, 86400));
	FUZZ_ASSERT(!smime_marker_valid(secret, 0, "<m@fuzz>", s, NOW, 86400));

	/* the input as a message id: a real marker for it passes, for another it does not */
	made = smime_marker(secret, sizeof(secret), s, NOW);
	FUZZ_ASSERT(made != NULL);
	FUZZ_ASSERT(smime_marker_parse(made, &t, mac) && t == (long long)NOW);
	FUZZ_ASSERT(smime_marker_valid(secret, sizeof(secret), s, made, NOW, 86400));
	FUZZ_ASSERT(!smime_marker_valid(secret, sizeof(secret), s, made, NOW + 86401, 86400));
	if (strcmp(s, "<m@fuzz>") != 0)
		FUZZ_ASSERT(!smime_marker_valid(secret, sizeof(secret), "<m@fuzz>", made, NOW,
						86400));
	free(made);
	free(s);
	return 0;
}

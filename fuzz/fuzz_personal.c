/*
 * fuzz_personal.c - the personal-data flag header parser (personal.c): every
 * copy of X-KP-Personal a submitter sent, folding and all.
 *
 * Input: the copies' values, separated by NUL bytes. Invariants: a value
 * classifies the same alone and as a copy of the header; the verdict is
 * "not personal" only when every copy said no; the recorded unrecognised
 * value is printable ASCII.
 */
#include <stdbool.h>

#include "fuzz.h"
#include "personal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct personal_flag f, one;
	char *s = fuzz_string(data, size);
	char *why = NULL;
	const char *p = s, *end = s + size;
	bool personal;
	int copies = 0;

	personal_flag_init(&f);
	for (;;) {
		enum flag_value v = flag_value_parse(p);

		personal_flag_init(&one);
		personal_flag_add(&one, p);
		FUZZ_ASSERT(one.n_yes + one.n_no + one.n_other == 1);
		FUZZ_ASSERT((v == FLAG_YES) == (one.n_yes == 1));
		FUZZ_ASSERT((v == FLAG_NO) == (one.n_no == 1));
		personal_flag_add(&f, p);
		copies++;
		p += strlen(p) + 1;
		if (p > end)
			break;
	}
	for (const char *q = f.first_other; *q != '\0'; q++)
		FUZZ_ASSERT(*q >= 0x20 && *q < 0x7f);
	FUZZ_ASSERT(f.n_yes + f.n_no + f.n_other == copies);
	personal = personal_flag_result(&f, "X-KP-Personal", &why);
	FUZZ_ASSERT(why != NULL);
	FUZZ_ASSERT(personal == !(f.n_no == copies));
	free(why);

	/* the header's name as a filter configuration might spell it */
	(void)header_name_eq(s, "X-KP-Personal");
	free(s);
	return 0;
}

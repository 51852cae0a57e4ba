/*
 * fuzz_mime.c - the MIME walk (mime.c, GMime) that feeds the CPR scanner:
 * a whole message, headers and body, as the milter has spooled it.
 *
 * The message is read from a memory stream rather than the spool file;
 * mime_scan_cpr only needs a seekable FILE. Invariants: it either scans
 * the message or says why not, and leaves the FILE where it found it.
 */
#include "fuzz.h"
#include "mime.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	mime_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cpr_result r;
	char *err = NULL;
	FILE *f;
	int rc;

	if (size == 0)
		return 0;	/* fmemopen refuses an empty buffer */
	if ((f = fmemopen((void *)data, size, "r")) == NULL)
		abort();
	rc = mime_scan_cpr(f, &r, &err);
	FUZZ_ASSERT(rc == 0 || (rc == -1 && err != NULL));
	FUZZ_ASSERT(ftello(f) == 0);
	if (rc == 0)
		FUZZ_ASSERT(r.hits_strong <= r.hits && r.n_samples <= CPR_SAMPLES);
	free(err);
	fclose(f);
	return 0;
}

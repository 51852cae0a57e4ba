/*
 * replay.c - a main() for the fuzz targets where libFuzzer is not there
 * (a gcc build): every file named, and every file in a directory named,
 * goes once through LLVMFuzzerTestOneInput. The corpus and the
 * regression inputs so run in every build, under valgrind or the
 * sanitizers if wanted. Arguments starting with '-' (libFuzzer options)
 * are ignored, so both kinds of binary take the same command line.
 *
 * Exit status: 0 when every input ran (a crash aborts, as it does under
 * libFuzzer); 1 when an input could not be read.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path);
static int run_dir(const char *path);
static int run_path(const char *path);

static unsigned long runs;

/* run_file - one input, read whole into a buffer of exactly its size (so ASan sees overreads). */
static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t size = 0, cap = 0, n;

	if (f == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (size == cap) {
			cap = cap ? 2 * cap : 4096;
			if ((buf = realloc(buf, cap)) == NULL)
				abort();
		}
		if ((n = fread(buf + size, 1, cap - size, f)) == 0)
			break;
		size += n;
	}
	if (ferror(f)) {
		fprintf(stderr, "replay: %s: read error\n", path);
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	{
		uint8_t *exact = malloc(size ? size : 1);

		if (exact == NULL)
			abort();
		memcpy(exact, buf, size);
		free(buf);
		if (getenv("REPLAY_VERBOSE") != NULL)
			fprintf(stderr, "replay: %s (%zu bytes)\n", path, size);
		LLVMFuzzerTestOneInput(exact, size);
		free(exact);
	}
	runs++;
	return 0;
}

static int run_dir(const char *path)
{
	struct dirent **names;
	int n, rc = 0;

	if ((n = scandir(path, &names, NULL, alphasort)) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.') {
			size_t len = strlen(path) + strlen(names[i]->d_name) + 2;
			char *sub = malloc(len);

			if (sub == NULL)
				abort();
			snprintf(sub, len, "%s/%s", path, names[i]->d_name);
			if (run_path(sub) < 0)
				rc = -1;
			free(sub);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

static int run_path(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return S_ISDIR(st.st_mode) ? run_dir(path) : run_file(path);
}

int main(int argc, char **argv)
{
	int rc = 0;

	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++)
		if (argv[i][0] != '-' && run_path(argv[i]) < 0)
			rc = 1;
	fprintf(stderr, "replay: %lu input%s run\n", runs, runs == 1 ? "" : "s");
	return rc;
}

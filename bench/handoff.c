/*
 * handoff.c - what one hand-off to the MTA costs the daemon when the
 * daemon is big and multi-threaded: fork+execv against posix_spawn, and
 * reinject_message itself (whichever way reinject.c starts the command).
 *
 * Not built by make; from a configured build directory:
 *   cc -O2 -I../src -o handoff ../bench/handoff.c src/reinject.o \
 *      src/reinject_smtp.o src/util.o -lpthread
 *   ./handoff fork|spawn|reinject [MB [THREADS [PER_THREAD]]]
 *
 * MB of heap are touched first (page tables to copy, as in a daemon with
 * a warm cache and message buffers); THREADS threads then each run
 * PER_THREAD hand-offs of /bin/true (fork, spawn) or of a one-line
 * message to $HANDOFF_SENDMAIL (reinject; a program that reads its
 * standard input to the end and exits 0, e.g. a two-line shell script). Prints hand-offs per
 * second (wall) and the daemon's own CPU time per hand-off, which is
 * where a fork's page-table copy is paid; the children's exec and exit
 * are counted apart.
 */
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "reinject.h"

extern char **environ;

static const char *mode;
static int per_thread;

static void handoff(void)
{
	char *argv[] = { (char *)"/bin/true", NULL };
	pid_t pid;

	if (strcmp(mode, "fork") == 0) {
		if ((pid = fork()) == 0) {
			execv(argv[0], argv);
			_exit(127);
		}
	} else if (strcmp(mode, "spawn") == 0) {
		if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0)
			pid = -1;
	} else {
		struct config cfg;
		const char *rcpt[1] = { "alice@example.test" };
		FILE *f = tmpfile();
		char *err = NULL;

		memset(&cfg, 0, sizeof(cfg));
		cfg.reinject = (char *)"sendmail";
		cfg.sendmail_path = getenv("HANDOFF_SENDMAIL");
		fputs("Subject: x\n\nx\n", f);
		rewind(f);
		if (reinject_message(&cfg, "s@kp.test", rcpt, 1, f, &err) != 0)
			fprintf(stderr, "%s\n", err), exit(1);
		fclose(f);
		return;
	}
	if (pid < 0 || waitpid(pid, NULL, 0) != pid)
		perror("hand-off"), exit(1);
}

static void *worker(void *arg)
{
	for (int i = 0; i < per_thread; i++)
		handoff();
	return arg;
}

static double secs(struct timeval tv)
{
	return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	size_t mb = argc > 2 ? strtoul(argv[2], NULL, 10) : 200;
	int threads = argc > 3 ? atoi(argv[3]) : 4, n;
	pthread_t *t;
	struct timespec t0, t1;
	struct rusage self0, self, kids;
	char *heap;
	double wall;

	if (argc < 2)
		return fprintf(stderr, "usage: handoff fork|spawn|reinject [MB [THREADS [N]]]\n"), 2;
	mode = argv[1];
	per_thread = argc > 4 ? atoi(argv[4]) : 200;
	heap = malloc(mb << 20);
	for (size_t i = 0; i < mb << 20; i += 4096)	/* every page, read back below */
		heap[i] = (char)i;
	t = calloc((size_t)threads, sizeof(*t));
	getrusage(RUSAGE_SELF, &self0);	/* the heap is touched: not part of the cost */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	n = threads * per_thread;
	wall = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	{
		FILE *st = fopen("/proc/self/status", "r");
		char line[256];

		while (st && fgets(line, sizeof(line), st))
			if (strncmp(line, "VmRSS:", 6) == 0)
				printf("%s", line);
		if (st)
			fclose(st);
	}
	printf("%-8s %4zu MB %2d threads %5d hand-offs: %7.0f /s; daemon CPU %6.1f us, "
	       "children CPU %6.1f us per hand-off\n",
	       mode, mb, threads, n, n / wall,
	       (secs(self.ru_utime) + secs(self.ru_stime) - secs(self0.ru_utime) -
		secs(self0.ru_stime)) * 1e6 / n,
	       (secs(kids.ru_utime) + secs(kids.ru_stime)) * 1e6 / n);
	return heap[mb << 19] == 42;
}

/*
 * t_reinject.c - unit tests for reinject.c and reinject_smtp.c.
 *
 * Sendmail mode runs fake sendmail scripts written into a private
 * temporary directory: they record their arguments, standard input and
 * environment, or fail in the ways a real one does (exit 75 with a
 * complaint, hang, stop reading, die of a signal, cannot be executed).
 * Where a shell would hide what the command was started with (signal
 * mask, ignored signals, open fds, process group), this program itself
 * is the command. SMTP mode talks to a
 * small SMTP listener forked from this process on 127.0.0.1 that records
 * the transaction and answers as each case needs.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "reinject.h"
#include "tap.h"
#include "tfiles.h"
#include "util.h"


static const char message[] =
	"From: sikker@kp.test\n"
	"To: alice@example.test\n"
	"Subject: test\n"
	"\n"
	".hidden starts with a dot\n"
	".\n"
	"..two dots\n"
	"a line with a CR\r\n"
	"not at the start: . and ..\n"
	"last line without a line end";

static const char message_data[] =	/* what DATA must carry for message */
	"From: sikker@kp.test\r\n"
	"To: alice@example.test\r\n"
	"Subject: test\r\n"
	"\r\n"
	"..hidden starts with a dot\r\n"
	"..\r\n"
	"...two dots\r\n"
	"a line with a CR\r\n"
	"not at the start: . and ..\r\n"
	"last line without a line end\r\n"
	".\r\n";

/* ---------------------------------------------------------------- helpers */

/* script - write an executable /bin/sh script; its path. */
static char *script(const char *name, const char *body)
{
	char *p = path(name);
	FILE *f = fopen(p, "w");

	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	chmod(p, 0755);
	return p;
}

static FILE *message_file(const char *text, size_t len)
{
	FILE *f = tmpfile();

	fwrite(text, 1, len, f);
	rewind(f);
	return f;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* inject - reinject_message_timeout with a message text; its result. */
static int inject(const char *target, const char *sendmail, const char *sender,
		  const char *const *rcpts, size_t n, const char *text, size_t len, int timeout,
		  char **err)
{
	struct config cfg;
	FILE *f = message_file(text, len);
	int rc;

	memset(&cfg, 0, sizeof(cfg));
	cfg.reinject = (char *)target;
	cfg.sendmail_path = (char *)sendmail;
	free(*err);
	*err = NULL;
	rc = reinject_message_timeout(&cfg, sender, rcpts, n, f, timeout, err);
	fclose(f);
	return rc;
}

/* ---------------------------------------------------------------- sendmail */

/* has_fd - does a listing of /proc/PID/fd name fd? */
static bool has_fd(const char *listing, int fd)
{
	char *line = xasprintf("%d\n", fd);
	const char *p;
	bool found = false;

	for (p = listing; p && *p && !found; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		found = strncmp(p, line, strlen(line)) == 0;
	free(line);
	return found;
}

/*
 * fake_sendmail - this program, run as the sendmail command with
 * T_REINJECT_FAKE=PREFIX: records in PREFIX-SENDER its signal mask and
 * ignored signals (a shell would reset them before a script could look),
 * its open fds and whether it leads its own process group; eats stdin.
 * A recipient "fail@..." makes it say its sender on stderr and exit 3.
 */
static int fake_sendmail(const char *prefix, int argc, char **argv)
{
	const char *sender = argc > 3 ? argv[3] : "none";
	char *record = xasprintf("%s-%s", prefix, sender);
	FILE *st = fopen("/proc/self/status", "r"), *rec = fopen(record, "w");
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char line[256];
	bool fds[1024] = { false }, beyond = false;

	while (st && rec && fgets(line, sizeof(line), st))
		if (strncmp(line, "SigBlk:", 7) == 0 || strncmp(line, "SigIgn:", 7) == 0)
			fputs(line, rec);
	if (st)
		fclose(st);
	while (d && (e = readdir(d)) != NULL) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] == '.' || fd == dirfd(d) || (rec && fd == fileno(rec)))
			continue;
		if (fd >= 0 && fd < 1024)
			fds[fd] = true;
		else
			beyond = true;
	}
	if (d)
		closedir(d);
	if (rec) {
		fputs("Fds:", rec);
		for (int fd = 0; fd < 1024; fd++)
			if (fds[fd])
				fprintf(rec, " %d", fd);
		fprintf(rec, "%s\nPgrp: %s\n", beyond ? " 1024+" : "",
			getpgrp() == getpid() ? "own" : "inherited");
	}
	free(record);
	while (fgets(line, sizeof(line), stdin))
		;
	if (argc > 5 && strncmp(argv[5], "fail@", 5) == 0) {
		fprintf(stderr, "refused for %s\n", sender);
		return 3;
	}
	return rec && fclose(rec) == 0 ? 0 : 1;
}

/* sigmask_of - the SigBlk or SigIgn mask in a fake_sendmail record. */
static unsigned long long sigmask_of(const char *record, const char *which)
{
	const char *p = record ? strstr(record, which) : NULL;

	return p ? strtoull(p + strlen(which), NULL, 16) : ~0ULL;
}

/* self - this program's path, to run as the fake sendmail. */
static const char *self(void)
{
	static char exe[4096];
	ssize_t n;

	if (exe[0] == '\0' && (n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0)
		exe[n] = '\0';
	return exe;
}

static void test_signals(void)
{
	const char *rcpts[] = { "alice@example.test" };
	char *prefix = path("signals"), *err = NULL, *got;
	int high = dup2(0, 1000);	/* not close-on-exec, far above any fd of ours */
	unsigned long long libc_own = 0;

	signal(SIGHUP, SIG_IGN);	/* as under nohup */
	signal(SIGUSR2, SIG_IGN);
	setenv("T_REINJECT_FAKE", prefix, 1);
	is_int(inject("sendmail", self(), "s@kp.test", rcpts, 1, "x\n", 2, 10, &err), 0,
	       "signals: the fake sendmail runs");
	unsetenv("T_REINJECT_FAKE");
	signal(SIGHUP, SIG_DFL);
	signal(SIGUSR2, SIG_DFL);
	got = slurp("signals-s@kp.test", NULL);
	is_int((long long)sigmask_of(got, "SigBlk:"), 0,
	       "signals: the command starts with no signal blocked (SIGTERM is blocked here)");
	is_int((long long)(sigmask_of(got, "SigIgn:") & (1ULL << (SIGPIPE - 1))), 0,
	       "signals: SIGPIPE is not ignored in the command (it is here)");
	/*
	 * Except the C library's own (32 up to SIGRTMIN), which glibc's
	 * posix_spawn leaves ignored and which a program's C library sets up
	 * for itself when it uses them.
	 */
	for (int sig = 32; sig < SIGRTMIN; sig++)
		libc_own |= 1ULL << (sig - 1);
	is_int((long long)(sigmask_of(got, "SigIgn:") & ~libc_own), 0,
	       "signals: no signal is ignored in the command (SIGHUP, SIGUSR2 are here)");
	ok(got && strstr(got, "\nFds: 0 1 2\n"), "fds: the command has exactly fds 0-2 open "
	   "(not %d) [%s]", high, got ? got : "no record");
	ok(got && strstr(got, "\nPgrp: own\n"), "the command leads its own process group");
	close(high);
	free(got), free(prefix), free(err);
}

static void test_sendmail_ok(void)
{
	const char *rcpts[] = { "alice@example.test", "-oi@example.org", "\"a b\"@example.net" };
	char *body = xasprintf("printf '%%s\\n' \"$@\" >%s/argv\n"
			       "cat >%s/stdin\n"
			       "printf '%%s\\n' \"${MAIL_CONFIG-unset}\" >%s/env\n"
			       "ls /proc/$$/fd >%s/fds\n"
			       "exit 0", dir, dir, dir, dir);
	char *sm = script("sendmail-ok", body), *err = NULL, *got;
	int spare = open("/dev/null", O_RDONLY);	/* not close-on-exec: must not leak */
	int high = dup2(spare, 50);			/* above any fd of reinject's */
	size_t len;

	setenv("MAIL_CONFIG", "/etc/postfix-test", 1);
	is_int(inject("sendmail", sm, "sikker@kp.test", rcpts, 3, message, strlen(message), 10,
		      &err), 0, "sendmail: exit 0 is durable");
	if (err)
		diag("%s", err);
	is_str(got = slurp("argv", NULL),
	       "-i\n-f\nsikker@kp.test\n--\nalice@example.test\n-oi@example.org\n\"a b\"@example.net\n",
	       "sendmail: argv is -i -f SENDER -- RCPT..., no shell quoting games");
	free(got);
	got = slurp("stdin", &len);
	ok(got && len == strlen(message) && memcmp(got, message, len) == 0,
	   "sendmail: the message arrives on stdin unchanged");
	free(got);
	is_str(got = slurp("env", NULL), "/etc/postfix-test\n",
	       "sendmail: the environment is passed on (MAIL_CONFIG)");
	free(got);
	got = slurp("fds", NULL);
	ok(got && has_fd(got, 0) && has_fd(got, 1) && has_fd(got, 2) && spare > 2 &&
	   !has_fd(got, spare) && high == 50 && !has_fd(got, 50),
	   "sendmail: the command has fds 0-2 and none of ours (%d and 50)", spare);
	close(spare);
	close(high);
	unsetenv("MAIL_CONFIG");
	free(got), free(body);

	is_int(inject("sendmail", sm, "", rcpts, 1, "x\n", 2, 10, &err), 0,
	       "sendmail: the null sender");
	is_str(got = slurp("argv", NULL), "-i\n-f\n\n--\nalice@example.test\n",
	       "sendmail: the null sender is an empty argument after -f");
	free(got);
	free(sm);
	free(err);
}

static void test_sendmail_big(void)
{
	const char *rcpts[] = { "alice@example.test" };
	size_t n = 3 << 20, len;
	char *big = xmalloc(n), *err = NULL, *got, *sm, *body;
	size_t i;

	for (i = 0; i < n; i++)
		big[i] = i % 64 == 63 ? '\n' : (char)('a' + i % 26);
	/* It fills its stderr pipe before it reads a byte of the message. */
	body = xasprintf("head -c 300000 /dev/zero | tr '\\0' x >&2\ncat >%s/big\nexit 0", dir);
	sm = script("sendmail-chatty", body);
	free(body);
	is_int(inject("sendmail", sm, "s@kp.test", rcpts, 1, big, n, 20, &err), 0,
	       "sendmail: 3 MB in, 300 KB of chatter out: no deadlock");
	got = slurp("big", &len);
	ok(got && len == n && memcmp(got, big, n) == 0, "sendmail: all 3 MB arrive");
	free(got);
	free(sm);

	/* SIGPIPE at its default here: a command that stops reading must not kill us. */
	signal(SIGPIPE, SIG_DFL);
	sm = script("sendmail-deaf", "exit 0");
	is_int(inject("sendmail", sm, "s@kp.test", rcpts, 1, big, n, 20, &err), -1,
	       "sendmail: exit 0 without reading the message is a failure");
	ok(err && strstr(err, "before reading the whole message"), "sendmail: ... and says so (%s)",
	   err ? err : "none");
	free(sm), free(big), free(err);
}

static void test_sendmail_failures(void)
{
	const char *rcpts[] = { "alice@example.test" };
	char *sm, *err = NULL;
	FILE *f;
	double t0;
	int rc;

	sm = script("sendmail-75", "cat >/dev/null\n"
			      "echo 'postdrop: warning: unable to look up public/pickup: "
			      "No such file or directory' >&2\n"
			      "echo 'sendmail: fatal: queue file write error' >&2\n"
			      "exit 75");
	rc = inject("sendmail", sm, "s@kp.test", rcpts, 1, message, strlen(message), 10, &err);
	is_int(rc, -1, "sendmail: exit 75 is a failure");
	ok(err && strstr(err, "status 75") && strstr(err, "unable to look up public/pickup") &&
	   strstr(err, "; sendmail: fatal: queue file write error") && !strchr(err, '\n'),
	   "sendmail: its stderr is the explanation, on one line (%s)", err ? err : "none");
	free(sm);

	sm = script("sendmail-hang", "exec sleep 30");
	t0 = now();
	rc = inject("sendmail", sm, "s@kp.test", rcpts, 1, message, strlen(message), 1, &err);
	is_int(rc, -1, "sendmail: a command that hangs is a failure");
	ok(err && strstr(err, "did not finish within 1 seconds") && now() - t0 < 5,
	   "sendmail: ... after the timeout, not later (%.1f s: %s)", now() - t0, err ? err : "none");
	free(sm);

	/* The command exits, but something it started holds the pipe. */
	sm = script("sendmail-bg", "sleep 4 &\ncat >/dev/null\nexit 0");
	t0 = now();
	rc = inject("sendmail", sm, "s@kp.test", rcpts, 1, message, strlen(message), 10, &err);
	ok(rc == 0 && now() - t0 < 3,
	   "sendmail: its exit counts, not a leftover child's pipe (%.1f s)", now() - t0);
	free(sm);

	sm = script("sendmail-sig", "cat >/dev/null\nkill -TERM $$");
	rc = inject("sendmail", sm, "s@kp.test", rcpts, 1, message, strlen(message), 10, &err);
	ok(rc == -1 && err && strstr(err, "signal 15"), "sendmail: death by signal (%s)",
	   err ? err : "none");
	free(sm);

	rc = inject("sendmail", "/nonexistent/sendmail", "s@kp.test", rcpts, 1, "x\n", 2, 10, &err);
	ok(rc == -1 && err && strstr(err, "cannot execute /nonexistent/sendmail: No such file"),
	   "sendmail: a missing program is named (%s)", err ? err : "none");

	sm = path("not-executable");
	fclose(fopen(sm, "w"));
	rc = inject("sendmail", sm, "s@kp.test", rcpts, 1, "x\n", 2, 10, &err);
	ok(rc == -1 && err && strstr(err, "cannot execute") && strstr(err, "Permission denied"),
	   "sendmail: a program that cannot run (%s)", err ? err : "none");
	free(sm);

	/* 127 is also what a shell says for "command not found": ours must not guess. */
	sm = script("sendmail-127", "cat >/dev/null\necho 'sendmail: says 127' >&2\nexit 127");
	rc = inject("sendmail", sm, "s@kp.test", rcpts, 1, "x\n", 2, 10, &err);
	ok(rc == -1 && err && strstr(err, "exited with status 127: sendmail: says 127") &&
	   !strstr(err, "cannot execute"), "sendmail: a command that exits 127 ran (%s)",
	   err ? err : "none");
	free(sm);

	sm = script("sendmail-badinterp", "exit 0");
	f = fopen(sm, "w");
	fputs("#!/nonexistent/interpreter\nexit 0\n", f);
	fclose(f);
	rc = inject("sendmail", sm, "s@kp.test", rcpts, 1, "x\n", 2, 10, &err);
	ok(rc == -1 && err && strstr(err, "cannot execute") && strstr(err, "No such file"),
	   "sendmail: a script whose interpreter is missing cannot execute (%s)",
	   err ? err : "none");
	free(sm);

	rc = inject("sendmail", dir, "s@kp.test", rcpts, 1, "x\n", 2, 10, &err);
	ok(rc == -1 && err && strstr(err, "cannot execute") && strstr(err, "Permission denied"),
	   "sendmail: a directory cannot execute (%s)", err ? err : "none");

	rc = inject("sendmail", "/bin/true", "s@kp.test", rcpts, 0, "x\n", 2, 10, &err);
	ok(rc == -1 && err && strstr(err, "no recipients"), "no recipients is an error");
	rc = inject("sendmail", "/bin/true", "s@kp.test\nRCPT TO:<x@y>", rcpts, 1, "x\n", 2, 10,
		    &err);
	ok(rc == -1 && err, "a line break in the sender is refused");
	free(err);
}

/* process_gone - has pid exited (gone, or a zombie nobody reaped yet)? */
static bool process_gone(pid_t pid)
{
	char *p = xasprintf("/proc/%ld/stat", (long)pid), buf[512], *paren;
	FILE *f = fopen(p, "r");
	bool gone = f == NULL;

	if (f != NULL && fgets(buf, sizeof(buf), f) && (paren = strrchr(buf, ')')) != NULL)
		gone = paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
	if (f != NULL)
		fclose(f);
	free(p);
	return gone;
}

/* A timeout kills what the command started too: its whole process group. */
static void test_timeout_kills_group(void)
{
	const char *rcpts[] = { "alice@example.test" };
	char *body = xasprintf("sleep 30 &\necho $! >%s/bgpid\nexec sleep 30", dir);
	char *sm = script("sendmail-group", body), *err = NULL, *got;
	long bg;
	int i, rc;

	rc = inject("sendmail", sm, "s@kp.test", rcpts, 1, "x\n", 2, 1, &err);
	got = slurp("bgpid", NULL);
	bg = got ? atol(got) : 0;
	for (i = 0; i < 40 && bg > 0 && !process_gone((pid_t)bg); i++)
		usleep(50000);
	ok(rc == -1 && err && strstr(err, "did not finish") && bg > 0 && process_gone((pid_t)bg),
	   "sendmail: the timeout kills the command's background child %ld too (%s)", bg,
	   err ? err : "none");
	if (bg > 0 && !process_gone((pid_t)bg))
		kill((pid_t)bg, SIGKILL);
	free(got), free(sm), free(body), free(err);
}

/*
 * With fds 0-2 closed in the daemon, our socket pair and pipe take them:
 * the command must still get the message on 0 and its words heard from 2.
 * In a child of ours, where closing them does not silence the test.
 */
static void test_stdio_closed(void)
{
	const char *rcpts[] = { "alice@example.test" };
	char *body = xasprintf("cat >%s/stdio-in\necho 'heard on stderr' >&2\nexit 3", dir);
	char *sm = script("sendmail-stdio", body), *got;
	struct config cfg;
	FILE *f = message_file(message, strlen(message));
	int st = -1;
	pid_t pid;

	memset(&cfg, 0, sizeof(cfg));
	cfg.reinject = (char *)"sendmail";
	cfg.sendmail_path = sm;
	fflush(stdout);
	if ((pid = fork()) == 0) {
		char *err = NULL;
		int rc;

		close(0), close(1), close(2);
		rc = reinject_message_timeout(&cfg, "s@kp.test", rcpts, 1, f, 10, &err);
		_exit(rc == -1 && err && strstr(err, "status 3: heard on stderr") ? 0 : 1);
	}
	waitpid(pid, &st, 0);
	fclose(f);
	is_int(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0,
	       "stdio closed: the command's stderr still comes back as the explanation");
	got = slurp("stdio-in", NULL);
	is_str(got, message, "stdio closed: the message still arrives on the command's stdin");
	free(got), free(sm), free(body);
}

/* One thread's hand-offs: even ones succeed, odd ones fail with their sender in stderr. */
struct handoffs {
	int thread;
	int bad;	/* wrong results */
	char why[512];
};

#define THREADS 4
#define PER_THREAD 4

static void *handoff_thread(void *arg)
{
	struct handoffs *h = arg;
	struct config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.reinject = (char *)"sendmail";
	cfg.sendmail_path = (char *)self();
	for (int i = 0; i < PER_THREAD; i++) {
		char *sender = xasprintf("t%d-%d@kp.test", h->thread, i), *err = NULL;
		const char *rcpts[] = { i % 2 ? "fail@example.test" : "alice@example.test" };
		char *want = xasprintf("status 3: refused for %s", sender);
		FILE *f = message_file(message, strlen(message));
		int rc = reinject_message_timeout(&cfg, sender, rcpts, 1, f, 20, &err);

		if (i % 2 ? rc != -1 || !err || !strstr(err, want) : rc != 0) {
			h->bad++;
			snprintf(h->why, sizeof(h->why), "%s: rc %d, %s", sender, rc,
				 err ? err : "no error");
		}
		fclose(f);
		free(want), free(err), free(sender);
	}
	return NULL;
}

/*
 * Hand-offs from several threads at once, as the daemon's do: each gets
 * its own command's verdict and words, and no command gets another's fds.
 */
static void test_threads(void)
{
	struct handoffs h[THREADS];
	pthread_t t[THREADS];
	char *prefix = path("thread"), *got, *name;
	int bad = 0, leaks = 0, i, j;

	setenv("T_REINJECT_FAKE", prefix, 1);
	for (i = 0; i < THREADS; i++) {
		memset(&h[i], 0, sizeof(h[i]));
		h[i].thread = i;
		pthread_create(&t[i], NULL, handoff_thread, &h[i]);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		if (h[i].bad) {
			bad += h[i].bad;
			diag("%s", h[i].why);
		}
	}
	unsetenv("T_REINJECT_FAKE");
	for (i = 0; i < THREADS; i++)
		for (j = 0; j < PER_THREAD; j++) {
			name = xasprintf("thread-t%d-%d@kp.test", i, j);
			got = slurp(name, NULL);
			if (!got || !strstr(got, "\nFds: 0 1 2\n") || !strstr(got, "\nPgrp: own\n")) {
				leaks++;
				diag("%s: %s", name, got ? got : "no record");
			}
			free(got), free(name);
		}
	is_int(bad, 0, "threads: %d concurrent hand-offs each get their own verdict and words",
	       THREADS * PER_THREAD);
	is_int(leaks, 0, "threads: each command has exactly fds 0-2, in its own process group");
	free(prefix);
}

/* ---------------------------------------------------------------- SMTP */

enum srv_mode {
	SRV_OK,
	SRV_451_DATA,		/* 451 after the data */
	SRV_550_RCPT,		/* 550 for bad@... */
	SRV_SILENT,		/* accepts, never speaks */
	SRV_NO_EHLO,		/* 502 to EHLO */
	SRV_554_GREETING,	/* multi-line 554 greeting */
	SRV_HANG_QUIT,		/* takes the message, never answers QUIT */
	SRV_DROP_IDLE		/* closes the connection after the first message, then serves a new one */
};

static void say(FILE *out, const char *text)
{
	fputs(text, out);
	fputs("\r\n", out);
	fflush(out);
}

/* serve_data - record the data up to and including the "." line. */
static void serve_data(FILE *in, FILE *rec)
{
	char line[8192];

	while (fgets(line, sizeof(line), in)) {
		fputs(line, rec);
		if (strcmp(line, ".\r\n") == 0)
			break;
	}
}

static void serve(int ls, enum srv_mode mode, const char *record)
{
	int c = accept(ls, NULL, NULL);
	FILE *in = fdopen(c, "r"), *out = fdopen(dup(c), "w"), *rec = fopen(record, "a");
	char line[8192];

	alarm(30);
	if (mode == SRV_SILENT) {
		sleep(20);
		return;
	}
	if (mode == SRV_554_GREETING) {
		say(out, "554-fake.test no service\r\n554 5.3.2 go away");
		while (fgets(line, sizeof(line), in)) {
			fputs(line, rec);
			if (strcmp(line, "QUIT\r\n") == 0) {
				say(out, "221 2.0.0 Bye");
				break;
			}
		}
		fclose(rec);
		return;
	}
	say(out, "220 fake.test ESMTP");
	while (fgets(line, sizeof(line), in)) {
		fputs(line, rec);
		fflush(rec);
		if (strncmp(line, "EHLO ", 5) == 0)
			say(out, mode == SRV_NO_EHLO ? "502 5.5.2 Error: command not recognized"
						     : "250-fake.test\r\n250-PIPELINING\r\n250 8BITMIME");
		else if (strncmp(line, "HELO ", 5) == 0 || strncmp(line, "MAIL FROM:", 10) == 0)
			say(out, "250 2.1.0 Ok");
		else if (strncmp(line, "RCPT TO:", 8) == 0)
			say(out, mode == SRV_550_RCPT && strstr(line, "bad@")
					 ? "550 5.1.1 <bad@example.test>: Recipient address rejected"
					 : "250 2.1.5 Ok");
		else if (strcmp(line, "DATA\r\n") == 0) {
			say(out, "354 End data with <CR><LF>.<CR><LF>");
			serve_data(in, rec);
			say(out, mode == SRV_451_DATA ? "451 4.3.0 Error: queue file write error"
						      : "250 2.0.0 Ok: queued as 4F2A1C3B2D");
			if (mode == SRV_DROP_IDLE) {	/* as an idle timeout would */
				fclose(in);
				fclose(out);
				fputs("(closed)\r\n", rec);
				fclose(rec);
				serve(ls, SRV_OK, record);
				return;
			}
		} else if (strcmp(line, "RSET\r\n") == 0) {
			say(out, "250 2.0.0 Ok");
		} else if (strcmp(line, "QUIT\r\n") == 0) {
			if (mode == SRV_HANG_QUIT)
				sleep(20);
			say(out, "221 2.0.0 Bye");
			break;
		} else
			say(out, "502 5.5.2 Error: command not recognized");
	}
	fclose(rec);
}

/* fake_smtp - a listener on 127.0.0.1 (port 0: the kernel picks) in a child. */
static pid_t fake_smtp(enum srv_mode mode, const char *record, int *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	char *rec = path(record);
	pid_t pid;

	if (ls < 0 || bind(ls, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(ls, 1) < 0 ||
	    getsockname(ls, (struct sockaddr *)&sin, &len) < 0) {
		printf("Bail out! cannot listen on 127.0.0.1: %s\n", strerror(errno));
		exit(1);
	}
	*port = ntohs(sin.sin_port);
	fflush(stdout);
	if ((pid = fork()) == 0) {
		serve(ls, mode, rec);
		_exit(0);
	}
	close(ls);
	free(rec);
	return pid;
}

static void stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* smtp_case - run one hand-off against a fake listener; its result. */
static int smtp_case(enum srv_mode mode, const char *record, const char *sender,
		     const char *const *rcpts, size_t n, const char *text, int timeout,
		     char **err)
{
	char *target;
	int port, rc;
	pid_t pid = fake_smtp(mode, record, &port);

	target = xasprintf("smtp:127.0.0.1:%d", port);
	rc = inject(target, NULL, sender, rcpts, n, text, strlen(text), timeout, err);
	reinject_close_idle();	/* the kept connection says QUIT now */
	if (mode == SRV_SILENT || mode == SRV_HANG_QUIT)
		stop(pid);
	else
		waitpid(pid, NULL, 0);	/* it ends after QUIT (or its alarm) */
	free(target);
	return rc;
}

static void test_smtp_ok(void)
{
	const char *rcpts[] = { "alice@example.test", "\"b b\"@example.org" };
	char *err = NULL, *got, *want, *data;
	char host[256];

	is_int(smtp_case(SRV_OK, "smtp-ok", "sikker@kp.test", rcpts, 2, message, 10, &err), 0,
	       "smtp: 250 after the data is durable");
	if (err)
		diag("%s", err);
	got = slurp("smtp-ok", NULL);
	gethostname(host, sizeof(host));
	want = xasprintf("EHLO %s\r\nMAIL FROM:<sikker@kp.test> BODY=8BITMIME\r\n"
			 "RCPT TO:<alice@example.test>\r\nRCPT TO:<\"b b\"@example.org>\r\n"
			 "DATA\r\n%sQUIT\r\n", host, message_data);
	is_str(got, want, "smtp: EHLO, MAIL FROM, RCPT TO per recipient, DATA, QUIT");
	data = got ? strstr(got, "DATA\r\n") : NULL;
	ok(data && strncmp(data + 6, message_data, strlen(message_data)) == 0,
	   "smtp: dot-stuffing, CRLF line ends, the last line ended, then \".\"");
	free(got), free(want);

	is_int(smtp_case(SRV_NO_EHLO, "smtp-helo", "", rcpts, 1, "a\r\nb\r\n", 10, &err), 0,
	       "smtp: EHLO refused: HELO will do");
	got = slurp("smtp-helo", NULL);
	want = xasprintf("EHLO %s\r\nHELO %s\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.test>\r\n"
			 "DATA\r\na\r\nb\r\n.\r\nQUIT\r\n", host, host);
	is_str(got, want, "smtp: null sender, no BODY=8BITMIME without EHLO, CRLF kept as it is");
	free(got), free(want), free(err);
}

/*
 * Kept connections: a second message to the same target goes over the
 * first one's connection after RSET (the fake server accepts only one);
 * one the server has closed meanwhile is replaced without a failure.
 */
static void test_smtp_kept(void)
{
	const char *rcpts[] = { "alice@example.test" };
	char *err = NULL, *got, *want, *target, host[256];
	int port;
	pid_t pid;

	gethostname(host, sizeof(host));
	pid = fake_smtp(SRV_OK, "smtp-kept", &port);
	target = xasprintf("smtp:127.0.0.1:%d", port);
	is_int(inject(target, NULL, "s@kp.test", rcpts, 1, "a\r\n", 3, 10, &err), 0,
	       "smtp kept: first message queued");
	is_int(inject(target, NULL, "t@kp.test", rcpts, 1, "b\r\n", 3, 10, &err), 0,
	       "smtp kept: second message queued over the same connection");
	reinject_close_idle();
	waitpid(pid, NULL, 0);
	got = slurp("smtp-kept", NULL);
	want = xasprintf("EHLO %s\r\nMAIL FROM:<s@kp.test> BODY=8BITMIME\r\n"
			 "RCPT TO:<alice@example.test>\r\nDATA\r\na\r\n.\r\n"
			 "RSET\r\nMAIL FROM:<t@kp.test> BODY=8BITMIME\r\n"
			 "RCPT TO:<alice@example.test>\r\nDATA\r\nb\r\n.\r\nQUIT\r\n", host);
	is_str(got, want, "smtp kept: one connection, RSET between the messages, QUIT at the end");
	free(got), free(want), free(target);

	pid = fake_smtp(SRV_DROP_IDLE, "smtp-stale", &port);
	target = xasprintf("smtp:127.0.0.1:%d", port);
	is_int(inject(target, NULL, "s@kp.test", rcpts, 1, "a\r\n", 3, 10, &err), 0,
	       "smtp stale: first message queued");
	is_int(inject(target, NULL, "t@kp.test", rcpts, 1, "b\r\n", 3, 10, &err), 0,
	       "smtp stale: the server closed the kept connection: a new one, no failure");
	if (err)
		diag("%s", err);
	reinject_close_idle();
	waitpid(pid, NULL, 0);
	got = slurp("smtp-stale", NULL);
	want = xasprintf("EHLO %s\r\nMAIL FROM:<s@kp.test> BODY=8BITMIME\r\n"
			 "RCPT TO:<alice@example.test>\r\nDATA\r\na\r\n.\r\n(closed)\r\n"
			 "EHLO %s\r\nMAIL FROM:<t@kp.test> BODY=8BITMIME\r\n"
			 "RCPT TO:<alice@example.test>\r\nDATA\r\nb\r\n.\r\nQUIT\r\n", host, host);
	is_str(got, want, "smtp stale: the second message on a new session");
	free(got), free(want), free(target), free(err);
}

static void test_smtp_failures(void)
{
	const char *rcpts[] = { "alice@example.test", "bad@example.test" };
	char *err = NULL, *got, *target;
	double t0;
	int rc, ls, port;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);

	rc = smtp_case(SRV_451_DATA, "smtp-451", "s@kp.test", rcpts, 1, message, 10, &err);
	is_int(rc, -1, "smtp: 451 after the data is a failure");
	ok(err && strstr(err, "451 4.3.0 Error: queue file write error") &&
	   strstr(err, "smtp:127.0.0.1:"), "smtp: ... with the server's reply (%s)",
	   err ? err : "none");

	rc = smtp_case(SRV_550_RCPT, "smtp-550", "s@kp.test", rcpts, 2, message, 10, &err);
	ok(rc == -1 && err && strstr(err, "RCPT TO:<bad@example.test>") && strstr(err, "550 5.1.1"),
	   "smtp: one recipient refused fails the hand-off (%s)", err ? err : "none");
	got = slurp("smtp-550", NULL);
	ok(got && !strstr(got, "DATA"), "smtp: ... and no data is sent");
	free(got);

	t0 = now();
	rc = smtp_case(SRV_SILENT, "smtp-silent", "s@kp.test", rcpts, 1, message, 1, &err);
	ok(rc == -1 && err && strstr(err, "timed out") && now() - t0 < 5,
	   "smtp: a silent server times out (%.1f s: %s)", now() - t0, err ? err : "none");

	rc = smtp_case(SRV_554_GREETING, "smtp-554", "s@kp.test", rcpts, 1, message, 10, &err);
	ok(rc == -1 && err && strstr(err, "554-fake.test no service / 554 5.3.2 go away"),
	   "smtp: a multi-line 554 greeting, all its lines (%s)", err ? err : "none");
	got = slurp("smtp-554", NULL);
	ok(got && strcmp(got, "QUIT\r\n") == 0, "smtp: ... then only QUIT");
	free(got);

	t0 = now();
	rc = smtp_case(SRV_HANG_QUIT, "smtp-hangquit", "s@kp.test", rcpts, 1, message, 60, &err);
	ok(rc == 0 && now() - t0 < 8, "smtp: durable at the 250; a QUIT without answer does not "
	   "hold us (%.1f s)", now() - t0);

	/* A port with nothing listening: bound, never listened on. */
	ls = socket(AF_INET, SOCK_STREAM, 0);
	bind(ls, (struct sockaddr *)&sin, sizeof(sin));
	getsockname(ls, (struct sockaddr *)&sin, &len);
	port = ntohs(sin.sin_port);
	target = xasprintf("smtp:127.0.0.1:%d", port);
	rc = inject(target, NULL, "s@kp.test", rcpts, 1, "x\n", 2, 5, &err);
	ok(rc == -1 && err && strstr(err, "cannot connect") && strstr(err, "refused"),
	   "smtp: connection refused (%s)", err ? err : "none");
	close(ls);
	free(target);

	/* Resolved from /etc/services alone: tests never leave the machine. */
	rc = inject("smtp:127.0.0.1:no-such-service", NULL, "s@kp.test", rcpts, 1, "x\n", 2, 5,
		    &err);
	ok(rc == -1 && err && strstr(err, "cannot resolve"), "smtp: unknown service (%s)",
	   err ? err : "none");
	free(err);
}

static void test_check(void)
{
	static const struct {
		const char *spec;
		int want;
	} cases[] = {
		{ "sendmail", 0 },
		{ "SENDMAIL", 0 },
		{ "smtp:127.0.0.1:10026", 0 },
		{ "smtp:localhost:smtp", 0 },
		{ "smtp:[::1]:10026", 0 },
		{ "smtp:127.0.0.1", -1 },
		{ "smtp::25", -1 },
		{ "smtp:127.0.0.1:", -1 },
		{ "smtp:::1:25", -1 },
		{ "smtp:[::1]10026", -1 },
		{ "smtp:host name:25", -1 },
		{ "lmtp:127.0.0.1:24", -1 },
		{ "", -1 },
	};
	char *err = NULL;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = reinject_check(cases[i].spec, &err);
		is_int(rc, cases[i].want, "check: \"%s\"%s%s", cases[i].spec, err ? ": " : "",
		       err ? err : "");
		free(err);
		err = NULL;
	}
}

int main(int argc, char **argv)
{
	const char *tmp = getenv("TMPDIR");
	sigset_t term;
	char *cmd;

	if (getenv("T_REINJECT_FAKE") != NULL)
		return fake_sendmail(getenv("T_REINJECT_FAKE"), argc, argv);
	signal(SIGPIPE, SIG_IGN);	/* as libmilter does; the command must get it back */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, NULL);	/* as libmilter's threads do */
	snprintf(dir, sizeof(dir), "%s/t_reinject.XXXXXX", tmp && strlen(tmp) < 40 ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	test_sendmail_ok();
	test_signals();
	test_sendmail_big();
	test_sendmail_failures();
	test_timeout_kills_group();
	test_stdio_closed();
	test_threads();
	test_smtp_ok();
	test_smtp_kept();
	test_smtp_failures();
	test_check();
	cmd = xasprintf("rm -rf '%s'", dir);
	if (!getenv("KEEP_TMP") && system(cmd) != 0)
		diag("cannot remove %s", dir);
	free(cmd);
	return done_testing();
}

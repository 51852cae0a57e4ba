/*
 * reinject.c - hand a finished message to the MTA: the Reinject setting,
 * and the sendmail command. The SMTP client is in reinject_smtp.c.
 *
 * Exports reinject_message, reinject_message_timeout, reinject_check
 * (reinject.h).
 *
 * The sendmail command is started with posix_spawn, not fork: glibc
 * starts it with clone(CLONE_VM|CLONE_VFORK), so a hand-off does not copy
 * the page tables of a big multi-threaded daemon (nor undo the copy at
 * exec), and an exec failure comes back as posix_spawn's return value, so
 * "cannot execute" is told apart from a sendmail that exits 127. The
 * command runs in its own process group (a timeout kills all of it) with
 * a clean signal mask and every signal at its default (SIGPIPE is
 * ignored here; glibc's own internal signals are left as its posix_spawn
 * leaves them), and only fds 0-2 open: the message on stdin (a socket
 * pair, so that MSG_NOSIGNAL spares us a SIGPIPE when it stops reading),
 * stdout and stderr on one pipe that we read while we write (so that
 * neither side can block the other).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "reinject.h"
#include "reinject_int.h"
#include "util.h"

#define ERRTEXT_MAX 1000	/* of the command's stderr, in the error message */

/* The parent's side of a running sendmail command. */
struct child {
	pid_t pid;
	int pid_fd;		/* readable when it exits (pidfd_open); -1 if the kernel has none */
	int in_fd;		/* its stdin; -1 once closed */
	int out_fd;		/* its stdout+stderr; -1 at EOF */
	FILE *msg;
	char buf[65536];	/* message data not yet written */
	size_t len, off;
	bool msg_done;		/* msg read to its end */
	bool msg_failed;	/* reading msg failed */
	bool short_write;	/* it stopped reading before the end */
	bool exited;
	int status;
	struct strbuf text;	/* what it said */
};

static int parse_target(const char *spec, struct reinject_target *t, char **err);
static int check_addresses(const char *sender, const char *const *rcpts, size_t n, char **err);
static int sendmail_message(const char *path, const char *sender, const char *const *rcpts,
			    size_t n, FILE *message, long long deadline, char **err);
static char **sendmail_argv(const char *path, const char *sender, const char *const *rcpts,
			    size_t n);
static int spawn(const char *path, char **argv, int in_fd, int out_fd, pid_t *pid);
static int above_stdio(int *fd);
static int run_child(struct child *c, long long deadline);
static void pump_once(struct child *c, int wait_ms);
static void feed(struct child *c);
static void drain(struct child *c);
static void close_fd(int *fd);
static void close_pair(int fd[2]);
static void report_child(const struct child *c, const char *path, bool timed_out, int timeout,
			 char **err);

int reinject_message(const struct config *cfg, const char *sender, const char *const *rcpts,
		     size_t n, FILE *message, char **err)
{
	return reinject_message_timeout(cfg, sender, rcpts, n, message, REINJECT_TIMEOUT, err);
}

int reinject_message_timeout(const struct config *cfg, const char *sender,
			     const char *const *rcpts, size_t n, FILE *message, int timeout,
			     char **err)
{
	struct reinject_target t;
	long long deadline;

	if (timeout <= 0)
		timeout = REINJECT_TIMEOUT;
	deadline = reinject_now_ms() + timeout * 1000LL;
	if (sender == NULL)
		sender = "";
	if (parse_target(cfg->reinject, &t, err) < 0 || check_addresses(sender, rcpts, n, err) < 0)
		return -1;
	if (t.smtp)
		return reinject_smtp(&t, sender, rcpts, n, message, deadline, err);
	return sendmail_message(cfg->sendmail_path ? cfg->sendmail_path : "/usr/sbin/sendmail",
				sender, rcpts, n, message, deadline, err);
}

int reinject_check(const char *spec, char **err)
{
	struct reinject_target t;

	if (spec == NULL) {
		*err = xstrdup("Reinject: no value");
		return -1;
	}
	return parse_target(spec, &t, err);
}

/* parse_target - "sendmail" (or unset), "smtp:HOST:PORT", "smtp:[IPV6]:PORT". */
static int parse_target(const char *spec, struct reinject_target *t, char **err)
{
	const char *p, *host, *colon;
	size_t hlen;

	memset(t, 0, sizeof(*t));
	if (spec == NULL || ascii_strcasecmp(spec, "sendmail") == 0)
		return 0;
	if (ascii_strncasecmp(spec, "smtp:", 5) != 0)
		goto bad;
	p = spec + 5;
	if (*p == '[') {
		host = p + 1;
		if ((colon = strchr(host, ']')) == NULL || colon[1] != ':')
			goto bad;
		hlen = (size_t)(colon++ - host);
	} else {
		host = p;
		if ((colon = strchr(host, ':')) == NULL || strchr(colon + 1, ':') != NULL)
			goto bad;
		hlen = (size_t)(colon - host);
	}
	if (hlen == 0 || hlen >= sizeof(t->host) || colon[1] == '\0' ||
	    strlen(colon + 1) >= sizeof(t->port) || strpbrk(spec, " \t\r\n") != NULL)
		goto bad;
	t->smtp = true;
	memcpy(t->host, host, hlen);
	strcpy(t->port, colon + 1);
	return 0;
bad:
	*err = xasprintf("Reinject \"%s\": expected \"sendmail\" or \"smtp:HOST:PORT\"", spec);
	return -1;
}

/* check_addresses - a line break or NUL would forge an SMTP command. */
static int check_addresses(const char *sender, const char *const *rcpts, size_t n, char **err)
{
	size_t i;

	if (n == 0) {
		*err = xstrdup("no recipients to re-inject to");
		return -1;
	}
	if (strpbrk(sender, "\r\n") != NULL) {
		*err = xstrdup("line break in the sender address");
		return -1;
	}
	for (i = 0; i < n; i++)
		if (rcpts[i] == NULL || rcpts[i][0] == '\0' || strpbrk(rcpts[i], "\r\n") != NULL) {
			*err = xasprintf("bad recipient address #%zu", i + 1);
			return -1;
		}
	return 0;
}

long long reinject_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int reinject_left_ms(long long deadline)
{
	long long left = deadline - reinject_now_ms();

	return left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

/* ---------------------------------------------------------------- sendmail */

static int sendmail_message(const char *path, const char *sender, const char *const *rcpts,
			    size_t n, FILE *message, long long deadline, char **err)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 };
	char **argv = sendmail_argv(path, sender, rcpts, n);
	struct child *c = xcalloc(1, sizeof(*c));	/* 64 KB: not on a thread's stack */
	int e, timeout = (reinject_left_ms(deadline) + 999) / 1000, ret = -1;
	bool timed_out;

	c->in_fd = c->out_fd = c->pid_fd = -1;
	c->msg = message;
	sb_init(&c->text);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) < 0 ||
	    pipe2(out, O_CLOEXEC) < 0 || above_stdio(&in[0]) < 0 || above_stdio(&out[1]) < 0) {
		*err = xasprintf("cannot run %s: %s", path, strerror(errno));
		goto out;
	}
	if ((e = spawn(path, argv, in[0], out[1], &c->pid)) != 0) {
		*err = xasprintf("cannot execute %s: %s", path, strerror(e));
		goto out;
	}
	close_fd(&in[0]);
	close_fd(&out[1]);
	c->pid_fd = (int)pidfd_open(c->pid, 0);	/* else its exit is polled for */
	c->in_fd = in[1];
	c->out_fd = out[0];
	in[1] = out[0] = -1;
	timed_out = run_child(c, deadline) < 0;
	ret = !timed_out && !c->short_write && !c->msg_failed && WIFEXITED(c->status) &&
	      WEXITSTATUS(c->status) == 0 ? 0 : -1;
	if (ret < 0)
		report_child(c, path, timed_out, timeout, err);
out:
	close_pair(in);
	close_pair(out);
	close_fd(&c->in_fd);
	close_fd(&c->out_fd);
	close_fd(&c->pid_fd);
	sb_free(&c->text);
	free(c);
	free(argv);
	return ret;
}

/* sendmail_argv - PATH -i -f SENDER -- RCPT... (the strings are borrowed). */
static char **sendmail_argv(const char *path, const char *sender, const char *const *rcpts,
			    size_t n)
{
	char **argv = xcalloc(n + 6, sizeof(*argv));
	size_t i;

	argv[0] = (char *)path;
	argv[1] = (char *)"-i";
	argv[2] = (char *)"-f";
	argv[3] = (char *)sender;
	argv[4] = (char *)"--";
	for (i = 0; i < n; i++)
		argv[5 + i] = (char *)rcpts[i];
	return argv;
}

/*
 * spawn - start path with in_fd as its stdin and out_fd as its stdout and
 * stderr, nothing else open, in its own process group, no signal blocked
 * or ignored. 0 with *pid set, or an errno value: that of the exec when
 * the program cannot be run, or of the step before it that failed (glibc
 * waits for the exec, and reaps a child that did not get that far). Both
 * fds are above 2, so that no dup2 onto 0-2 overwrites the other.
 */
static int spawn(const char *path, char **argv, int in_fd, int out_fd, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int e;

	sigemptyset(&none);
	sigfillset(&all);	/* glibc leaves out its internal signals */
	if ((e = posix_spawnattr_init(&attr)) != 0)
		return e;
	if ((e = posix_spawn_file_actions_init(&fa)) != 0) {
		posix_spawnattr_destroy(&attr);
		return e;
	}
	if ((e = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
						    POSIX_SPAWN_SETSIGDEF)) == 0 &&
	    (e = posix_spawnattr_setpgroup(&attr, 0)) == 0 &&
	    (e = posix_spawnattr_setsigmask(&attr, &none)) == 0 &&
	    (e = posix_spawnattr_setsigdefault(&attr, &all)) == 0 &&
	    (e = posix_spawn_file_actions_adddup2(&fa, in_fd, 0)) == 0 &&
	    (e = posix_spawn_file_actions_adddup2(&fa, out_fd, 1)) == 0 &&
	    (e = posix_spawn_file_actions_adddup2(&fa, out_fd, 2)) == 0 &&
	    /* Nothing of the daemon's (database, sockets) may leak into the MTA. */
	    (e = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) == 0)
		e = posix_spawn(pid, path, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return e;
}

/* above_stdio - move *fd above 2 (the daemon may run with 0-2 closed). */
static int above_stdio(int *fd)
{
	int moved;

	if (*fd > 2)
		return 0;
	if ((moved = fcntl(*fd, F_DUPFD_CLOEXEC, 3)) < 0)
		return -1;
	close(*fd);
	*fd = moved;
	return 0;
}

/*
 * run_child - feed the message, collect what it says, reap it; all before
 * the deadline, else kill its process group. 0, or -1 on timeout.
 */
static int run_child(struct child *c, long long deadline)
{
	int left;

	fcntl(c->in_fd, F_SETFL, O_NONBLOCK);
	fcntl(c->out_fd, F_SETFL, O_NONBLOCK);
	while (!c->exited) {
		if ((left = reinject_left_ms(deadline)) == 0) {
			kill(-c->pid, SIGKILL);
			kill(c->pid, SIGKILL);
			while (waitpid(c->pid, &c->status, 0) < 0 && errno == EINTR)
				;
			return -1;
		}
		/*
		 * The command may exit while a child of it keeps the pipe open:
		 * its pidfd says when it exits; without one, poll briefly.
		 */
		pump_once(c, c->pid_fd >= 0 ? left : left < 50 ? left : 50);
		if (waitpid(c->pid, &c->status, WNOHANG) == c->pid)
			c->exited = true;
	}
	if (c->in_fd >= 0)
		c->short_write = true;	/* exited before it had the whole message */
	drain(c);
	return 0;
}

static void pump_once(struct child *c, int wait_ms)
{
	struct pollfd pfd[3];
	nfds_t n = 0;
	int i_in = -1, i_out = -1;

	if (c->in_fd >= 0) {
		pfd[n] = (struct pollfd){ .fd = c->in_fd, .events = POLLOUT };
		i_in = (int)n++;
	}
	if (c->out_fd >= 0) {
		pfd[n] = (struct pollfd){ .fd = c->out_fd, .events = POLLIN };
		i_out = (int)n++;
	}
	if (c->pid_fd >= 0)	/* wakes the poll when it exits; waitpid follows */
		pfd[n++] = (struct pollfd){ .fd = c->pid_fd, .events = POLLIN };
	if (poll(pfd, n, wait_ms) <= 0)
		return;
	if (i_in >= 0 && pfd[i_in].revents != 0)
		feed(c);
	if (i_out >= 0 && pfd[i_out].revents != 0)
		drain(c);
}

/* feed - write what the pipe takes; close it after the last octet. */
static void feed(struct child *c)
{
	ssize_t w;

	for (;;) {
		if (c->off == c->len && !c->msg_done) {
			c->off = 0;
			c->len = fread(c->buf, 1, sizeof(c->buf), c->msg);
			if (c->len == 0) {
				c->msg_done = true;
				c->msg_failed = ferror(c->msg) != 0;
			}
		}
		if (c->off == c->len) {
			close_fd(&c->in_fd);	/* EOF for the command */
			return;
		}
		w = send(c->in_fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (w < 0) {
			c->short_write = true;	/* EPIPE: it stopped reading */
			close_fd(&c->in_fd);
			return;
		}
		c->off += (size_t)w;
	}
}

/* drain - read what it said, keeping the first ERRTEXT_MAX octets. */
static void drain(struct child *c)
{
	char buf[4096];
	ssize_t r;

	while (c->out_fd >= 0) {
		r = read(c->out_fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		if (r <= 0) {
			close_fd(&c->out_fd);
			return;
		}
		if (c->text.len < ERRTEXT_MAX)
			sb_addmem(&c->text, buf,
				  (size_t)r < ERRTEXT_MAX - c->text.len ? (size_t)r
									: ERRTEXT_MAX - c->text.len);
	}
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void close_pair(int fd[2])
{
	close_fd(&fd[0]);
	close_fd(&fd[1]);
}

/* report_child - why the hand-off failed, with what the command said. */
static void report_child(const struct child *c, const char *path, bool timed_out, int timeout,
			 char **err)
{
	struct strbuf sb;
	char *said = reinject_one_line(c->text.s);

	sb_init(&sb);
	if (timed_out)
		sb_printf(&sb, "%s did not finish within %d seconds; killed", path, timeout);
	else if (c->msg_failed)
		sb_printf(&sb, "cannot read the message for %s", path);
	else if (WIFSIGNALED(c->status))
		sb_printf(&sb, "%s killed by signal %d", path, WTERMSIG(c->status));
	else if (WEXITSTATUS(c->status) != 0)
		sb_printf(&sb, "%s exited with status %d", path, WEXITSTATUS(c->status));
	else
		sb_printf(&sb, "%s exited before reading the whole message", path);
	if (said[0] != '\0')
		sb_printf(&sb, ": %s", said);
	free(said);
	*err = sb.s;	/* sb is done with */
}

/* reinject_one_line - text on one line: line ends as "; ", controls dropped, trimmed. */
char *reinject_one_line(const char *text)
{
	struct strbuf sb;
	const char *p;

	sb_init(&sb);
	for (p = text ? text : ""; *p; p++) {
		if (*p == '\n' || *p == '\r') {
			if (sb.len > 0 && sb.s[sb.len - 1] != ' ' && p[1] != '\0' &&
			    p[1] != '\n' && p[1] != '\r')
				sb_adds(&sb, "; ");
		} else if ((unsigned char)*p >= 0x20 && *p != 0x7f) {
			sb_addc(&sb, *p);
		} else if (*p == '\t') {
			sb_addc(&sb, ' ');
		}
	}
	while (sb.len > 0 && (sb.s[sb.len - 1] == ' ' || sb.s[sb.len - 1] == ';'))
		sb.s[--sb.len] = '\0';
	return sb.s;
}

/*
 * reinject_smtp.c - the SMTP side of Reinject smtp:HOST:PORT: one message
 * per transaction, no pipelining, every step under one deadline.
 *
 * Exports reinject_smtp (reinject_int.h) and reinject_close_idle
 * (reinject.h).
 *
 * Connections are kept open between messages: after a message is queued
 * the connection goes back to a small pool instead of QUIT, and the next
 * hand-off to the same target takes it, says RSET, and goes on with MAIL
 * FROM, sparing the connection, the greeting and EHLO (and the server its
 * per-connection work). A kept connection is used only while it is young
 * (IDLE_MAX_MS, well inside Postfix's smtpd_timeout); one the server has
 * closed or that does not answer RSET with 2xx is dropped, and the
 * hand-off starts again on a new connection, so a stale connection never
 * fails a message.
 *
 * The listener is meant to be an MTA port that runs no milters (Postfix:
 * a second smtpd in master.cf with -o smtpd_milters=). Any reply outside
 * the expected class, a timeout or a broken connection fails the whole
 * hand-off with the server's words; the message counts as queued only at
 * the 2xx reply to the end of the data.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "reinject.h"
#include "reinject_int.h"
#include "util.h"

#define LINES_MAX 100		/* lines in one reply */
#define QUIT_WAIT_MS 2000	/* after the message is safe, QUIT may not hold us long */
#define IDLE_MAX 8		/* connections kept open, over all targets */
#define IDLE_MAX_MS 20000	/* and for this long at most */

/* A connection kept open after its last message. */
struct idle {
	char *name;		/* the target, "smtp:HOST:PORT" */
	int fd;
	bool eightbit;
	long long since;	/* reinject_now_ms() when it was kept */
};

static pthread_mutex_t idle_lock = PTHREAD_MUTEX_INITIALIZER;
static struct idle idle[IDLE_MAX];
static size_t n_idle;

struct smtp {
	const char *name;	/* "smtp:HOST:PORT", for messages */
	int fd;
	long long deadline;
	bool broken;		/* the connection is unusable: no QUIT */
	char *err;		/* the first failure */
	struct strbuf reply;	/* the last reply, its lines joined by " / " */
	bool eightbit;		/* EHLO offered 8BITMIME */
	char rbuf[4096];
	size_t rlen, roff;
	char wbuf[65536];
	size_t wlen;
};

static void fail(struct smtp *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int smtp_connect(struct smtp *s, const struct reinject_target *t);
static int connect_one(const struct addrinfo *ai, long long deadline, int *errnum);
static int wait_fd(struct smtp *s, short events, const char *doing);
static int read_line(struct smtp *s, struct strbuf *line);
static int read_reply(struct smtp *s);
static int command(struct smtp *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int expect(struct smtp *s, const char *what, int class, int code);
static int put(struct smtp *s, const char *p, size_t n);
static int flush_out(struct smtp *s);
static int send_data(struct smtp *s, FILE *msg);
static void helo_name(char *buf, size_t size);
static void quit(struct smtp *s);
static int idle_take(const char *name, bool *eightbit);
static bool idle_keep(const char *name, int fd, bool eightbit);
static int session_start(struct smtp *s, const struct reinject_target *t);

static void fail(struct smtp *s, const char *fmt, ...)
{
	struct strbuf sb;
	va_list ap;

	if (s->err != NULL)
		return;		/* the first failure is the cause */
	sb_init(&sb);
	sb_printf(&sb, "%s: ", s->name);
	va_start(ap, fmt);
	sb_vprintf(&sb, fmt, ap);
	va_end(ap);
	s->err = sb.s;
}

int reinject_smtp(const struct reinject_target *t, const char *sender,
		  const char *const *rcpts, size_t n, FILE *message, long long deadline,
		  char **err)
{
	struct smtp *s = xcalloc(1, sizeof(*s));	/* 70 KB: not on a thread's stack */
	char *what;
	size_t i;
	int code, ret = -1;

	s->fd = -1;
	s->deadline = deadline;
	s->name = xasprintf(strchr(t->host, ':') ? "smtp:[%s]:%s" : "smtp:%s:%s", t->host, t->port);
	sb_init(&s->reply);
	if (session_start(s, t) < 0 ||
	    expect(s, "MAIL FROM", 2, command(s, "MAIL FROM:<%s>%s", sender,
					      s->eightbit ? " BODY=8BITMIME" : "")) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		what = xasprintf("RCPT TO:<%s>", rcpts[i]);
		code = expect(s, what, 2, command(s, "%s", what));
		free(what);
		if (code < 0)
			goto out;
	}
	if (expect(s, "DATA", 3, command(s, "DATA")) < 0 || send_data(s, message) < 0 ||
	    expect(s, "the message", 2, read_reply(s)) < 0)
		goto out;
	ret = 0;	/* queued: nothing below may change that */
out:
	/* a sane session, with nothing unread, is kept for the next message */
	if (ret == 0 && !s->broken && s->fd >= 0 && s->roff == s->rlen &&
	    idle_keep(s->name, s->fd, s->eightbit))
		s->fd = -1;
	else
		quit(s);
	if (ret < 0)
		*err = s->err ? s->err : xasprintf("%s: failed", s->name);
	else
		free(s->err);
	if (s->fd >= 0)
		close(s->fd);
	sb_free(&s->reply);
	free((char *)s->name);
	free(s);
	return ret;
}

/*
 * session_start - a session ready for MAIL FROM: a kept connection that
 * answers RSET, else a new one with its greeting and EHLO (or HELO).
 */
static int session_start(struct smtp *s, const struct reinject_target *t)
{
	char helo[256];
	bool eightbit;
	int code;

	while ((s->fd = idle_take(s->name, &eightbit)) >= 0) {
		s->eightbit = eightbit;
		if (expect(s, "RSET", 2, command(s, "RSET")) == 0)
			return 0;
		/* gone stale: forget it and what it said, and try the next */
		close(s->fd);
		s->fd = -1;
		free(s->err);
		s->err = NULL;
		s->broken = false;
		s->rlen = s->roff = s->wlen = 0;
		s->eightbit = false;
	}
	if (smtp_connect(s, t) < 0 || expect(s, "the connection", 2, read_reply(s)) < 0)
		return -1;
	helo_name(helo, sizeof(helo));
	if ((code = command(s, "EHLO %s", helo)) >= 500)
		code = command(s, "HELO %s", helo);
	return expect(s, "EHLO", 2, code);
}

/* idle_take - a kept connection to name, the youngest; -1 if none. Too old ones are closed. */
static int idle_take(const char *name, bool *eightbit)
{
	long long now = reinject_now_ms();
	int fd = -1;

	pthread_mutex_lock(&idle_lock);
	for (size_t i = n_idle; i-- > 0;) {
		bool old = now - idle[i].since > IDLE_MAX_MS;

		if (!old && (fd >= 0 || strcmp(idle[i].name, name) != 0))
			continue;
		if (old)
			close(idle[i].fd);
		else {
			fd = idle[i].fd;
			*eightbit = idle[i].eightbit;
		}
		free(idle[i].name);
		idle[i] = idle[--n_idle];
	}
	pthread_mutex_unlock(&idle_lock);
	return fd;
}

/* idle_keep - keep fd for the next message to name; false when the pool is full. */
static bool idle_keep(const char *name, int fd, bool eightbit)
{
	bool kept = false;

	pthread_mutex_lock(&idle_lock);
	if (n_idle < IDLE_MAX) {
		idle[n_idle++] = (struct idle){ xstrdup(name), fd, eightbit, reinject_now_ms() };
		kept = true;
	}
	pthread_mutex_unlock(&idle_lock);
	return kept;
}

void reinject_close_idle(void)
{
	pthread_mutex_lock(&idle_lock);
	while (n_idle > 0) {
		struct smtp *s = xcalloc(1, sizeof(*s));

		n_idle--;
		s->name = idle[n_idle].name;
		s->fd = idle[n_idle].fd;
		s->deadline = reinject_now_ms() + QUIT_WAIT_MS;
		sb_init(&s->reply);
		quit(s);
		close(s->fd);
		free(s->err);
		sb_free(&s->reply);
		free((char *)s->name);
		free(s);
	}
	pthread_mutex_unlock(&idle_lock);
}

/* quit - say goodbye when the session is still sane, without waiting long. */
static void quit(struct smtp *s)
{
	long long soon = reinject_now_ms() + QUIT_WAIT_MS;
	char *saved = s->err;

	if (s->fd < 0 || s->broken)
		return;
	if (s->deadline > soon)
		s->deadline = soon;
	s->err = xstrdup("");	/* a failure here is not reported */
	command(s, "QUIT");
	free(s->err);
	s->err = saved;
}

static int smtp_connect(struct smtp *s, const struct reinject_target *t)
{
	struct addrinfo hints, *res = NULL, *ai;
	int rc, errnum = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(t->host, t->port, &hints, &res)) != 0) {
		fail(s, "cannot resolve: %s", gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL && s->fd < 0; ai = ai->ai_next)
		s->fd = connect_one(ai, s->deadline, &errnum);
	freeaddrinfo(res);
	if (s->fd < 0) {
		s->broken = true;
		fail(s, "cannot connect: %s",
		     errnum == ETIMEDOUT ? "timed out" : strerror(errnum ? errnum : ECONNREFUSED));
		return -1;
	}
	return 0;
}

/* connect_one - a non-blocking connect that gives up at the deadline. */
static int connect_one(const struct addrinfo *ai, long long deadline, int *errnum)
{
	struct pollfd pfd;
	socklen_t len = sizeof(*errnum);
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			ai->ai_protocol);

	if (fd < 0) {
		*errnum = errno;
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		*errnum = errno;
		close(fd);
		return -1;
	}
	pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (poll(&pfd, 1, reinject_left_ms(deadline)) <= 0) {
		*errnum = ETIMEDOUT;
	} else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, errnum, &len) == 0 && *errnum == 0) {
		return fd;
	}
	close(fd);
	return -1;
}

/* wait_fd - wait until fd is ready for events, or fail at the deadline. */
static int wait_fd(struct smtp *s, short events, const char *doing)
{
	struct pollfd pfd = { .fd = s->fd, .events = events };
	int left, rc;

	do {
		if ((left = reinject_left_ms(s->deadline)) == 0) {
			s->broken = true;
			fail(s, "timed out %s", doing);
			return -1;
		}
		rc = poll(&pfd, 1, left);
	} while (rc == 0 || (rc < 0 && errno == EINTR));
	if (rc < 0) {
		s->broken = true;
		fail(s, "poll: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* read_line - one reply line, without its line end. */
static int read_line(struct smtp *s, struct strbuf *line)
{
	char *nl;
	ssize_t r;

	for (;;) {
		nl = memchr(s->rbuf + s->roff, '\n', s->rlen - s->roff);
		if (nl != NULL) {
			sb_reset(line);
			sb_addmem(line, s->rbuf + s->roff, (size_t)(nl - s->rbuf) - s->roff);
			if (line->len > 0 && line->s[line->len - 1] == '\r')
				line->s[--line->len] = '\0';
			s->roff = (size_t)(nl - s->rbuf) + 1;
			return 0;
		}
		memmove(s->rbuf, s->rbuf + s->roff, s->rlen - s->roff);
		s->rlen -= s->roff;
		s->roff = 0;
		if (s->rlen == sizeof(s->rbuf)) {
			s->broken = true;
			fail(s, "reply line too long");
			return -1;
		}
		if (wait_fd(s, POLLIN, "waiting for a reply") < 0)
			return -1;
		r = recv(s->fd, s->rbuf + s->rlen, sizeof(s->rbuf) - s->rlen, 0);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0) {
			s->broken = true;
			fail(s, "%s", r == 0 ? "connection closed by the server" : strerror(errno));
			return -1;
		}
		s->rlen += (size_t)r;
	}
}

/* read_reply - a whole (multi-line) reply into s->reply; its code, or -1. */
static int read_reply(struct smtp *s)
{
	struct strbuf line;
	int code = -1, lines = 0;
	const char *p;

	sb_reset(&s->reply);
	sb_init(&line);
	for (;;) {
		if (read_line(s, &line) < 0)
			break;
		p = line.s;
		if (line.len < 3 || p[0] < '2' || p[0] > '5' || p[1] < '0' || p[1] > '9' ||
		    p[2] < '0' || p[2] > '9' || (p[3] != '\0' && p[3] != ' ' && p[3] != '-') ||
		    ++lines > LINES_MAX) {
			s->broken = true;
			fail(s, "bad reply: %.200s", line.s);
			break;
		}
		if (line.len > 4 && ascii_strcasecmp(p + 4, "8BITMIME") == 0)
			s->eightbit = true;	/* an EHLO keyword line */
		sb_printf(&s->reply, "%s%s", s->reply.len ? " / " : "", line.s);
		if (p[3] != '-') {
			code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
			break;
		}
	}
	sb_free(&line);
	return code;
}

/* command - send one command line and read the reply; its code, or -1. */
static int command(struct smtp *s, const char *fmt, ...)
{
	struct strbuf sb;
	va_list ap;
	int rc;

	sb_init(&sb);
	va_start(ap, fmt);
	sb_vprintf(&sb, fmt, ap);
	va_end(ap);
	sb_adds(&sb, "\r\n");
	rc = put(s, sb.s, sb.len) < 0 || flush_out(s) < 0 ? -1 : read_reply(s);
	sb_free(&sb);
	return rc;
}

/* expect - was code in the class (2 or 3)? Otherwise fail with the reply. */
static int expect(struct smtp *s, const char *what, int class, int code)
{
	char *said;

	if (code < 0)
		return -1;
	if (code / 100 == class)
		return 0;
	said = reinject_one_line(s->reply.s);
	fail(s, "rejected %s: %s", what, said);
	free(said);
	return -1;
}

static int put(struct smtp *s, const char *p, size_t n)
{
	size_t take;

	while (n > 0) {
		if (s->wlen == sizeof(s->wbuf) && flush_out(s) < 0)
			return -1;
		take = sizeof(s->wbuf) - s->wlen < n ? sizeof(s->wbuf) - s->wlen : n;
		memcpy(s->wbuf + s->wlen, p, take);
		s->wlen += take;
		p += take;
		n -= take;
	}
	return 0;
}

static int flush_out(struct smtp *s)
{
	size_t off = 0;
	ssize_t w;

	while (off < s->wlen) {
		w = send(s->fd, s->wbuf + off, s->wlen - off, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(s, POLLOUT, "sending") < 0)
				return -1;
			continue;
		}
		if (w < 0) {
			s->broken = true;
			fail(s, "send: %s", strerror(errno));
			return -1;
		}
		off += (size_t)w;
	}
	s->wlen = 0;
	return 0;
}

/*
 * send_data - the message with CRLF line ends and dot-stuffing (a line
 * that starts with "." gets another), then the "." line. A bare CR is
 * left alone: it is the listener's business, and it is not a line end.
 */
static int send_data(struct smtp *s, FILE *msg)
{
	unsigned char in[16384];
	bool bol = true, cr = false;
	size_t n, i;

	while ((n = fread(in, 1, sizeof(in), msg)) > 0) {
		for (i = 0; i < n; i++) {
			if (s->wlen + 3 > sizeof(s->wbuf) && flush_out(s) < 0)
				return -1;
			if (in[i] == '\n') {
				if (!cr)
					s->wbuf[s->wlen++] = '\r';
				s->wbuf[s->wlen++] = '\n';
				bol = true;
				cr = false;
				continue;
			}
			if (bol && in[i] == '.')
				s->wbuf[s->wlen++] = '.';
			s->wbuf[s->wlen++] = (char)in[i];
			bol = false;
			cr = in[i] == '\r';
		}
	}
	if (ferror(msg)) {
		s->broken = true;	/* mid-DATA: only closing the connection aborts it */
		fail(s, "cannot read the message: %s", strerror(errno));
		return -1;
	}
	if (!bol && put(s, cr ? "\n" : "\r\n", cr ? 1 : 2) < 0)
		return -1;
	return put(s, ".\r\n", 3) < 0 ? -1 : flush_out(s);
}

/* helo_name - this host's name, or "localhost" when it has none usable. */
static void helo_name(char *buf, size_t size)
{
	if (gethostname(buf, size) != 0 || buf[0] == '\0' ||
	    strspn(buf, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
		    strnlen(buf, size))
		snprintf(buf, size, "localhost");
	buf[size - 1] = '\0';
}

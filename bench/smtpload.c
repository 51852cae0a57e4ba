/*
 * smtpload.c - the SMTP client of make bench: COUNT messages over
 * SESSIONS parallel connections to 127.0.0.1, one message per connection,
 * with any number of recipients, and how long it took.
 *
 * Usage: smtpload -p PORT -m COUNT [-s SESSIONS] -f FROM -t RCPT[,RCPT...]
 *                 [-F FILE | -l BYTES] [-D SECONDS] [-E FILE] [-H SECONDS]
 *                 [-T FILE]
 *   -F FILE     the message (headers and body; LF or CRLF line ends),
 *               sent as it is, dot-stuffed
 *   -l BYTES    instead, a plain message of about BYTES bytes of text
 *   -D SECONDS  stop starting messages after SECONDS (COUNT is the most)
 *   -E FILE     stop starting messages once FILE exists
 *   -H SECONDS  hold every session open in the middle of its message data
 *               until all SESSIONS are there, then SECONDS more, then
 *               finish them (prints "held N" on stderr when they are)
 *   -T FILE     one line per message: its end (seconds since the epoch)
 *               and its outcome (ok, tempfail, reject, error)
 *
 * smtp-source(1) sends one recipient, or numbered copies of one; the
 * workloads of bench/run.sh need recipients of different classes in one
 * transaction and sessions held open, hence this client. It speaks plain
 * SMTP (EHLO, MAIL, RCPT..., DATA, QUIT) without pipelining, one thread
 * per session, and prints on stdout one line:
 *   sent=N ok=N tempfail=N reject=N error=N seconds=S rate=R
 * where seconds runs from the first connection to the last reply and
 * rate = ok / seconds. Exit status 0 when every message got a 2xx reply.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum outcome { OUT_OK, OUT_TEMPFAIL, OUT_REJECT, OUT_ERROR, OUT_COUNT };
static const char *const outcome_name[OUT_COUNT] = {"ok", "tempfail", "reject", "error"};

struct conn {
	int fd;
	char buf[4096];
	size_t len, pos;
};

static int port;
static long count;
static const char *from;
static char **rcpts;
static int n_rcpts;
static char *msg;		/* CRLF, dot-stuffed, without the final "." */
static size_t msg_len;
static double deadline;		/* -D: no new message after this time */
static const char *stop_file;	/* -E: no new message once it exists */
static int hold_secs = -1;	/* -H */
static int sessions = 1;

static atomic_long next_msg;
static atomic_long outcomes[OUT_COUNT];
static double *ends;		/* -T: per message */
static signed char *ends_out;

/* -H: sessions arrive in the middle of DATA; main releases them */
static pthread_mutex_t hold_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cond = PTHREAD_COND_INITIALIZER;
static int hold_arrived, hold_gone;
static bool hold_released;

static double now(void);
static void *xmalloc(size_t n);
static int conn_open(struct conn *c);
static int conn_write(struct conn *c, const char *p, size_t n);
static int conn_line(struct conn *c, char *line, size_t size);
static int reply(struct conn *c);
static int command(struct conn *c, int want, const char *fmt, ...);
static void hold_here(void);
static void hold_leave(void);
static enum outcome one_message(void);
static void *worker(void *arg);
static int load_file(const char *path);
static void make_plain(long bytes);
static void split_rcpts(char *list);

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n != 0 ? n : 1);

	if (p == NULL) {
		fprintf(stderr, "smtpload: out of memory\n");
		exit(1);
	}
	return p;
}

static int conn_open(struct conn *c)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
	struct timeval tv = {.tv_sec = 600};

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->len = c->pos = 0;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

static int conn_write(struct conn *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(c->fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* conn_line - one reply line without its CRLF; -1 on EOF or error. */
static int conn_line(struct conn *c, char *line, size_t size)
{
	size_t n = 0;

	for (;;) {
		if (c->pos == c->len) {
			ssize_t r = read(c->fd, c->buf, sizeof(c->buf));

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return -1;
			c->len = (size_t)r;
			c->pos = 0;
		}
		char ch = c->buf[c->pos++];

		if (ch == '\n')
			break;
		if (ch != '\r' && n + 1 < size)
			line[n++] = ch;
	}
	line[n] = '\0';
	return 0;
}

/* reply - the code of a (multi-line) reply; -1 when the server went away. */
static int reply(struct conn *c)
{
	char line[1024];

	do {
		if (conn_line(c, line, sizeof(line)) != 0 || strlen(line) < 3)
			return -1;
	} while (line[3] == '-');
	return atoi(line);
}

/* command - send a command line; 0 when the reply code's class is WANT's. */
static int command(struct conn *c, int want, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n, code;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2)
		return -1;
	memcpy(line + n, "\r\n", 3);
	if (conn_write(c, line, (size_t)n + 2) != 0)
		return -1;
	code = reply(c);
	if (code < 0)
		return -1;
	return code / 100 == want / 100 ? 0 : code;
}

static void hold_here(void)
{
	pthread_mutex_lock(&hold_lock);
	hold_arrived++;
	pthread_cond_broadcast(&hold_cond);
	while (!hold_released)
		pthread_cond_wait(&hold_cond, &hold_lock);
	pthread_mutex_unlock(&hold_lock);
}

/* hold_leave - a session that ends before it could be held. */
static void hold_leave(void)
{
	pthread_mutex_lock(&hold_lock);
	hold_gone++;
	pthread_cond_broadcast(&hold_cond);
	pthread_mutex_unlock(&hold_lock);
}

static enum outcome classify_code(int code)
{
	if (code / 100 == 4)
		return OUT_TEMPFAIL;
	if (code / 100 == 5)
		return OUT_REJECT;
	return OUT_ERROR;
}

static enum outcome one_message(void)
{
	struct conn c;
	enum outcome out = OUT_ERROR;
	bool held = false;
	int code;

	if (conn_open(&c) != 0)
		goto out;
	code = reply(&c);
	if (code / 100 != 2) {
		out = code < 0 ? OUT_ERROR : classify_code(code);
		goto out;
	}
	if ((code = command(&c, 250, "EHLO bench.sikkermail.test")) != 0 ||
	    (code = command(&c, 250, "MAIL FROM:<%s>", from)) != 0)
		goto refused;
	for (int i = 0; i < n_rcpts; i++)
		if ((code = command(&c, 250, "RCPT TO:<%s>", rcpts[i])) != 0)
			goto refused;
	if ((code = command(&c, 354, "DATA")) != 0)
		goto refused;
	if (hold_secs >= 0) {
		size_t half = msg_len / 2;

		/* a line end, so that the rest starts a line ("." stays stuffed) */
		while (half > 0 && msg[half - 1] != '\n')
			half--;
		if (conn_write(&c, msg, half) != 0)
			goto out;
		held = true;
		hold_here();
		if (conn_write(&c, msg + half, msg_len - half) != 0 ||
		    conn_write(&c, ".\r\n", 3) != 0)
			goto out;
	} else if (conn_write(&c, msg, msg_len) != 0 || conn_write(&c, ".\r\n", 3) != 0) {
		goto out;
	}
	code = reply(&c);
	if (code / 100 == 2)
		out = OUT_OK;
	else
		out = code < 0 ? OUT_ERROR : classify_code(code);
	(void)command(&c, 221, "QUIT");
	goto out;
refused:
	out = code < 0 ? OUT_ERROR : classify_code(code);
	(void)command(&c, 221, "QUIT");
out:
	if (hold_secs >= 0 && !held)
		hold_leave();
	if (c.fd >= 0)
		close(c.fd);
	return out;
}

static void *worker(void *arg)
{
	(void)arg;
	for (;;) {
		long i = atomic_fetch_add(&next_msg, 1);
		enum outcome out;

		if (i >= count || (deadline > 0 && now() >= deadline) ||
		    (stop_file != NULL && access(stop_file, F_OK) == 0))
			break;
		out = one_message();
		atomic_fetch_add(&outcomes[out], 1);
		if (ends != NULL) {
			ends[i] = now();
			ends_out[i] = (signed char)out;
		}
	}
	return NULL;
}

/* load_file - the message of FILE as msg: CRLF line ends, dot-stuffed. */
static int load_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 1 << 16;
	bool bol = true;
	int ch;

	if (f == NULL) {
		fprintf(stderr, "smtpload: %s: %s\n", path, strerror(errno));
		return -1;
	}
	msg = xmalloc(cap);
	msg_len = 0;
	while ((ch = getc(f)) != EOF) {
		if (msg_len + 4 > cap) {
			cap *= 2;
			msg = realloc(msg, cap);
			if (msg == NULL) {
				fprintf(stderr, "smtpload: out of memory\n");
				exit(1);
			}
		}
		if (ch == '\r')
			continue;
		if (bol && ch == '.')
			msg[msg_len++] = '.';
		if (ch == '\n')
			msg[msg_len++] = '\r';
		msg[msg_len++] = (char)ch;
		bol = ch == '\n';
	}
	fclose(f);
	if (!bol) {
		msg[msg_len++] = '\r';
		msg[msg_len++] = '\n';
	}
	return 0;
}

/* make_plain - like smtp-source -l: headers, then lines of text. */
static void make_plain(long bytes)
{
	static const char text[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 the quick brown fox";
	size_t cap = (size_t)bytes + 1024;
	int n;

	msg = xmalloc(cap);
	n = snprintf(msg, cap, "From: <%s>\r\nTo: <%s>\r\nSubject: make bench\r\n\r\n", from,
		     rcpts[0]);
	msg_len = n > 0 && (size_t)n < cap ? (size_t)n : 0;
	while ((long)msg_len < bytes + 40) {
		size_t take = sizeof(text) - 1;

		if (msg_len + take + 2 > cap)
			break;
		memcpy(msg + msg_len, text, take);
		msg_len += take;
		memcpy(msg + msg_len, "\r\n", 2);
		msg_len += 2;
	}
}

static void split_rcpts(char *list)
{
	char *save = NULL;

	rcpts = xmalloc(sizeof(*rcpts) * (strlen(list) / 2 + 2));
	for (char *r = strtok_r(list, ",", &save); r != NULL; r = strtok_r(NULL, ",", &save))
		rcpts[n_rcpts++] = r;
}

static void wait_held(void)
{
	int want = sessions < count ? sessions : (int)count;
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 300;
	pthread_mutex_lock(&hold_lock);
	while (hold_arrived + hold_gone < want &&
	       pthread_cond_timedwait(&hold_cond, &hold_lock, &until) == 0)
		;
	fprintf(stderr, "held %d\n", hold_arrived);
	fflush(stderr);
	pthread_mutex_unlock(&hold_lock);
	sleep((unsigned)hold_secs);
	pthread_mutex_lock(&hold_lock);
	hold_released = true;
	pthread_cond_broadcast(&hold_cond);
	pthread_mutex_unlock(&hold_lock);
}

int main(int argc, char **argv)
{
	const char *file = NULL, *times = NULL;
	char *rcpt_list = NULL;
	long bytes = 4096, dur = 0;
	pthread_t *tids;
	double t0, t1;
	int c;

	while ((c = getopt(argc, argv, "p:m:s:f:t:F:l:D:E:H:T:")) != -1) {
		switch (c) {
		case 'p': port = atoi(optarg); break;
		case 'm': count = atol(optarg); break;
		case 's': sessions = atoi(optarg); break;
		case 'f': from = optarg; break;
		case 't': rcpt_list = optarg; break;
		case 'F': file = optarg; break;
		case 'l': bytes = atol(optarg); break;
		case 'D': dur = atol(optarg); break;
		case 'E': stop_file = optarg; break;
		case 'H': hold_secs = atoi(optarg); break;
		case 'T': times = optarg; break;
		default: goto usage;
		}
	}
	if (optind != argc || port <= 0 || count <= 0 || sessions <= 0 || from == NULL ||
	    rcpt_list == NULL || bytes < 0 || dur < 0)
		goto usage;
	split_rcpts(rcpt_list);
	if (n_rcpts == 0)
		goto usage;
	if (file != NULL) {
		if (load_file(file) != 0)
			return 2;
	} else {
		make_plain(bytes);
	}
	if (times != NULL) {
		ends = calloc((size_t)count, sizeof(*ends));
		ends_out = calloc((size_t)count, 1);
		if (ends == NULL || ends_out == NULL) {
			fprintf(stderr, "smtpload: out of memory\n");
			return 1;
		}
	}
	if (sessions > count)
		sessions = (int)count;
	tids = xmalloc(sizeof(*tids) * (size_t)sessions);
	t0 = now();
	if (dur > 0)
		deadline = t0 + (double)dur;
	for (int i = 0; i < sessions; i++) {
		pthread_attr_t attr;

		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 256 * 1024);
		if (pthread_create(&tids[i], &attr, worker, NULL) != 0) {
			fprintf(stderr, "smtpload: cannot start session thread %d\n", i);
			return 1;
		}
		pthread_attr_destroy(&attr);
	}
	if (hold_secs >= 0)
		wait_held();
	for (int i = 0; i < sessions; i++)
		pthread_join(tids[i], NULL);
	t1 = now();

	long sent = 0;
	for (int o = 0; o < OUT_COUNT; o++)
		sent += outcomes[o];
	if (times != NULL) {
		FILE *f = fopen(times, "w");

		if (f == NULL) {
			fprintf(stderr, "smtpload: %s: %s\n", times, strerror(errno));
			return 1;
		}
		for (long i = 0; i < count; i++)
			if (ends[i] > 0)
				fprintf(f, "%.6f %s\n", ends[i], outcome_name[ends_out[i]]);
		fclose(f);
	}
	printf("sent=%ld ok=%ld tempfail=%ld reject=%ld error=%ld seconds=%.3f rate=%.1f\n", sent,
	       (long)outcomes[OUT_OK], (long)outcomes[OUT_TEMPFAIL], (long)outcomes[OUT_REJECT],
	       (long)outcomes[OUT_ERROR], t1 - t0, (double)outcomes[OUT_OK] / (t1 - t0));
	return outcomes[OUT_OK] == sent && sent > 0 ? 0 : 1;
usage:
	fprintf(stderr, "usage: smtpload -p PORT -m COUNT [-s SESSIONS] -f FROM -t RCPT[,RCPT...]\n"
			"                [-F FILE | -l BYTES] [-D SECONDS] [-E FILE] [-H SECONDS]\n"
			"                [-T FILE]\n");
	return 2;
}

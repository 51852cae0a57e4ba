/*
 * t_mime.c - CPR numbers in whole messages (SPEC section 4): the Subject
 * as encoded words, quoted-printable and base64 parts, nested multiparts,
 * attached messages, charsets, HTML, parts that are not text, messages
 * that are not messages, nesting beyond the limit, a FILE that cannot
 * seek, four threads at once, and memory that does not grow with the
 * message (a 20 MB message against a 100 KB one, each scanned in a child
 * process).
 *
 * The messages are in tests/data/mime/ (top_srcdir from the environment,
 * default "."); the big ones are made at run time in $TMPDIR.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mime.h"
#include "tap.h"
#include "util.h"

static const struct {
	const char *file;
	int rc;
	unsigned hits, keyword;
	const char *first;	/* first masked sample */
	const char *why;
} messages[] = {
	{ "qp-softbreak.eml", 0, 1, 1, "010190-****", "split by a quoted-printable soft line break" },
	{ "qp-softbreak-crlf.eml", 0, 1, 1, "010190-****", "soft line break, CRLF line ends" },
	{ "nested-base64.eml", 0, 2, 2, "020280-****",
	  "base64 text and HTML alternatives in a nested multipart" },
	{ "subject-utf8-b.eml", 0, 1, 1, "010190-****", "Subject as a UTF-8 B encoded word" },
	{ "subject-latin1-q.eml", 0, 1, 1, "010190-****", "Subject as an ISO-8859-1 Q encoded word" },
	{ "subject-split.eml", 0, 1, 1, "010190-****", "Subject split over two encoded words" },
	{ "latin1.eml", 0, 1, 1, "010190-****",
	  "ISO-8859-1 text: converted, so a number after a Danish letter is part of a word" },
	{ "cp1252.eml", 0, 1, 0, "010190-****",
	  "Windows-1252 text: curly quotes separate, a Danish letter does not" },
	{ "attachment-b64.eml", 0, 2, 2, "010190-****", "a base64 text/plain attachment" },
	{ "image.eml", 0, 0, 0, NULL, "an image/png part is not scanned" },
	{ "clean.eml", 0, 0, 0, NULL, "phone numbers, order ids, accounts, URLs: no CPR number" },
	{ "rfc822.eml", 0, 2, 2, "010190-****", "an attached message: its Subject and its body" },
	{ "html.eml", 0, 1, 1, "010190-****", "HTML: text hits, attributes and links do not" },
	{ "utf16.eml", 0, 1, 1, "010190-****", "UTF-16 text converted" },
	{ "unknown-charset.eml", 0, 1, 1, "010190-****", "an unknown charset scanned as it is" },
	{ "truncated.eml", 0, 1, 1, "010190-****", "a multipart cut off before its end" },
	{ "two-subjects.eml", 0, 1, 1, "010190-****", "every Subject field is scanned" },
	{ "empty.eml", -1, 0, 0, NULL, "an empty file is not a message" },
	{ "no-header.eml", -1, 0, 0, NULL, "text without a header is not a message" },
};

static const char *srcdir(void)
{
	const char *d = getenv("top_srcdir");

	return d != NULL && *d != '\0' ? d : ".";
}

static const char *tmpdir(void)
{
	const char *d = getenv("TMPDIR");

	return d != NULL && *d == '/' ? d : "/tmp";
}

static FILE *open_data(const char *name)
{
	char *path = xasprintf("%s/tests/data/mime/%s", srcdir(), name);
	FILE *f = fopen(path, "r");

	if (f == NULL)
		diag("cannot open %s: %s", path, strerror(errno));
	free(path);
	return f;
}

static void test_messages(void)
{
	size_t i;

	for (i = 0; i < sizeof(messages) / sizeof(messages[0]); i++) {
		struct cpr_result r;
		char *err = NULL;
		FILE *f = open_data(messages[i].file);
		int rc;

		if (!ok(f != NULL, "%s: opened", messages[i].file))
			continue;
		rc = mime_scan_cpr(f, &r, &err);
		is_int(rc, messages[i].rc, "%s: %s", messages[i].file, messages[i].why);
		if (rc != 0) {
			ok(err != NULL && *err != '\0', "%s: error says why: %s", messages[i].file,
			   err ? err : "(none)");
		} else {
			ok(err == NULL, "%s: no error", messages[i].file);
			is_int(r.hits, messages[i].hits, "%s: hits", messages[i].file);
			is_int(r.hits_keyword, messages[i].keyword, "%s: with keyword", messages[i].file);
			is_str(r.n_samples ? r.samples[0].masked : NULL, messages[i].first, "%s: masked",
			       messages[i].file);
		}
		is_int(ftello(f), 0, "%s: the FILE is left where it was", messages[i].file);
		free(err);
		fclose(f);
	}
}

/* the message starts where the FILE stands, not at the file's start */
static void test_offset(void)
{
	FILE *f = tmpfile(), *src = open_data("attachment-b64.eml");
	struct cpr_result r;
	char *err = NULL, buf[4096];
	size_t n;

	if (!ok(f != NULL && src != NULL, "offset: files"))
		return;
	fputs("0101901238 junk before the message\n", f);
	n = fread(buf, 1, sizeof(buf), src);
	fwrite(buf, 1, n, f);
	fseek(f, 36, SEEK_SET);
	is_int(mime_scan_cpr(f, &r, &err), 0, "offset: scanned");
	is_int(r.hits, 2, "offset: only the message's own numbers");
	is_int(ftello(f), 36, "offset: position kept");
	free(err);
	fclose(f);
	fclose(src);
}

/* scanning the same FILE twice gives the same result */
static void test_repeat(void)
{
	FILE *f = open_data("rfc822.eml");
	struct cpr_result a, b;
	char *err = NULL;

	if (!ok(f != NULL, "repeat: opened"))
		return;
	mime_scan_cpr(f, &a, &err);
	mime_scan_cpr(f, &b, &err);
	ok(memcmp(&a, &b, sizeof(a)) == 0 && a.hits == 2, "repeat: the same result twice");
	free(err);
	fclose(f);
}

/* nest - a message with `levels` multiparts one inside the other, CPR at the bottom */
static FILE *nest(int levels)
{
	FILE *f = tmpfile();
	int i;

	if (f == NULL)
		return NULL;
	fputs("Subject: deep\nContent-Type: multipart/mixed; boundary=b0\n\n", f);
	for (i = 0; i < levels - 1; i++)
		fprintf(f, "--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n", i, i + 1);
	fprintf(f, "--b%d\nContent-Type: text/plain\n\nCPR 010190-1238\n", levels - 1);
	for (i = levels - 1; i >= 0; i--)
		fprintf(f, "--b%d--\n", i);
	rewind(f);
	return f;
}

static void test_nesting(void)
{
	struct cpr_result r;
	char *err = NULL;
	FILE *f = nest(MIME_MAX_DEPTH - 2);

	if (ok(f != NULL, "nesting: %d levels made", MIME_MAX_DEPTH - 2)) {
		is_int(mime_scan_cpr(f, &r, &err), 0, "nesting: %d levels scanned", MIME_MAX_DEPTH - 2);
		is_int(r.hits, 1, "nesting: the number at the bottom found");
		fclose(f);
	}
	free(err);
	err = NULL;
	f = nest(MIME_MAX_DEPTH + 5);
	if (ok(f != NULL, "nesting: %d levels made", MIME_MAX_DEPTH + 5)) {
		is_int(mime_scan_cpr(f, &r, &err), -1, "nesting: deeper than %d is an error", MIME_MAX_DEPTH);
		ok(err != NULL && strstr(err, "nests deeper") != NULL, "nesting: error says so: %s",
		   err ? err : "(none)");
		fclose(f);
	}
	free(err);
}

/* a pipe cannot be scanned without holding the message in memory: an error */
static void test_pipe(void)
{
	int fds[2];
	FILE *f;
	struct cpr_result r;
	char *err = NULL;

	if (!ok(pipe(fds) == 0, "pipe: made"))
		return;
	if (write(fds[1], "Subject: CPR 0101901238\n\n", 26) != 26)
		diag("short write");
	close(fds[1]);
	f = fdopen(fds[0], "r");
	is_int(mime_scan_cpr(f, &r, &err), -1, "pipe: not seekable is an error");
	ok(err != NULL && strstr(err, "seekable") != NULL, "pipe: error says so: %s", err ? err : "(none)");
	free(err);
	fclose(f);
}

/* several threads scanning their own messages at once get what one thread gets */
struct thread_job {
	unsigned bad;
};

static void *scan_all(void *arg)
{
	struct thread_job *job = arg;
	int round;
	size_t i;

	for (round = 0; round < 20; round++) {
		for (i = 0; i < sizeof(messages) / sizeof(messages[0]); i++) {
			struct cpr_result r;
			char *err = NULL;
			FILE *f = open_data(messages[i].file);

			if (f == NULL || mime_scan_cpr(f, &r, &err) != messages[i].rc ||
			    (messages[i].rc == 0 && r.hits != messages[i].hits))
				job->bad++;
			free(err);
			if (f != NULL)
				fclose(f);
		}
	}
	return NULL;
}

static void test_threads(void)
{
	pthread_t t[4];
	struct thread_job jobs[4];
	int i, started = 0;
	unsigned bad = 0;

	memset(jobs, 0, sizeof(jobs));
	for (i = 0; i < 4; i++)
		started += pthread_create(&t[i], NULL, scan_all, &jobs[i]) == 0;
	is_int(started, 4, "threads: four started");
	for (i = 0; i < started; i++) {
		pthread_join(t[i], NULL);
		bad += jobs[i].bad;
	}
	is_int(bad, 0, "threads: every scan in four threads gave the single-thread result");
}

/*
 * write_big - a multipart message of about `size` bytes: an 8-bit text
 * part of filler and a base64 text attachment of filler that ends with one
 * CPR number.
 */
static int write_big(const char *path, size_t size)
{
	static const char line[] = "Lorem ipsum dolor sit amet, ordre 1234 tlf 5678 kl. 12:30.\n";
	static const char b64line[] =	/* base64 of 57 filler bytes */
		"VGhlIHF1aWNrIGJyb3duIGZveCBqdW1wcyBvdmVyIHRoZSBsYXp5IGRvZyAxMjM0IDU2Nzgg\n";
	FILE *f = fopen(path, "w");
	size_t half = size / 2, done;

	if (f == NULL)
		return -1;
	fputs("From: a@example.dk\nTo: b@example.net\nSubject: big\nMIME-Version: 1.0\n"
	      "Content-Type: multipart/mixed; boundary=\"big\"\n\n--big\n"
	      "Content-Type: text/plain; charset=utf-8\n\n", f);
	for (done = 0; done < half; done += sizeof(line) - 1)
		fputs(line, f);
	fputs("\n--big\nContent-Type: text/plain; name=\"big.txt\"\n"
	      "Content-Disposition: attachment\nContent-Transfer-Encoding: base64\n\n", f);
	for (done = 0; done < half; done += sizeof(b64line) - 1)
		fputs(b64line, f);
	/* base64 of "\nCPR 010190-1238\n" */
	fputs("CkNQUiAwMTAxOTAtMTIzOAo=\n\n--big--\n", f);
	return fclose(f);
}

/* scan_in_child - hits (or -1) of the message at path, and the child's peak RSS in KiB */
static int scan_in_child(const char *path, long *maxrss_kb)
{
	struct rusage ru;
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		FILE *f = fopen(path, "r");
		struct cpr_result r;
		char *err = NULL;

		if (f == NULL || mime_scan_cpr(f, &r, &err) != 0)
			_exit(255);
		_exit(r.hits > 100 ? 100 : (int)r.hits);
	}
	if (pid < 0 || wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status))
		return -1;
	*maxrss_kb = ru.ru_maxrss;
	return WEXITSTATUS(status) == 255 ? -1 : WEXITSTATUS(status);
}

static void test_memory(void)
{
	char *small = xasprintf("%s/t_mime.%ld.small.eml", tmpdir(), (long)getpid());
	char *big = xasprintf("%s/t_mime.%ld.big.eml", tmpdir(), (long)getpid());
	long rss_small = 0, rss_big = 0;

	if (ok(write_big(small, 100 * 1024) == 0 && write_big(big, 20 * 1024 * 1024) == 0,
	       "memory: a 100 KB and a 20 MB message written")) {
		is_int(scan_in_child(small, &rss_small), 1, "memory: 100 KB message, the number at the end found");
		is_int(scan_in_child(big, &rss_big), 1, "memory: 20 MB message, the number at the end found");
		diag("peak RSS: 100 KB message %ld KiB, 20 MB message %ld KiB, ratio %.2f", rss_small,
		     rss_big, rss_small > 0 ? (double)rss_big / (double)rss_small : 0.0);
		ok(rss_small > 0 && rss_big - rss_small < 10 * 1024,
		   "memory: peak memory grows by less than 10 MB (%ld KiB)", rss_big - rss_small);
	}
	unlink(small);
	unlink(big);
	free(small);
	free(big);
}

int main(void)
{
	mime_init();
	test_messages();
	test_offset();
	test_repeat();
	test_nesting();
	test_pipe();
	test_threads();
	test_memory();
	return done_testing();
}

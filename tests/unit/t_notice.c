/*
 * t_notice.c - unit tests for the mailbox notices (notice.c and the
 * notice text of encrypt.c): the entry about one message, the digest's
 * Subject and text (golden), and the digest thread on a temporary
 * database with a stand-in sendmail: notices left from an earlier run
 * sent at once, one digest per mailbox, a notice that waits for
 * NoticeDelay, the flush at stop, and no digest thread no keeping.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "config.h"
#include "decision.h"
#include "encrypt.h"
#include "notice.h"
#include "runtime.h"
#include "store.h"
#include "tap.h"
#include "util.h"

static char dir[] = "/tmp/t_notice.XXXXXX";

static void add_rcpt(struct decision *d, const char *addr, enum action a)
{
	struct address ad = { 0 };
	const char *at = strrchr(addr, '@');
	struct rcpt *r;

	ad.full = xstrdup(addr);
	ad.local = xstrndup(addr, (size_t)(at - addr));
	ad.domain = xstrdup(at + 1);
	r = decision_add_rcpt(d, addr, &ad);
	r->action = a;
}

static const char entry_golden[] =
	"Afsender / Sender:      alice@kp.dk\n"
	"Emne / Subject:         Sag 7: Jensen\n"
	"Reference:              4F2A1C3B2D\n"
	"Modtagere / Recipients:\n"
	"  valid@example.dk\n"
	"  other@example.dk\n";

static const char digest_golden[] =
	"2 sikre (krypterede) beskeder er sendt fra denne postkasse.\n"
	"2 secure (encrypted) messages were sent from this mailbox.\n"
	"\n"
	"--- 1 / 2 ---\n"
	"Tidspunkt / Time:       Tue, 01 Dec 2026 09:00:00 +0000\n"
	"Afsender / Sender:      alice@kp.dk\n"
	"Emne / Subject:         Sag 7: Jensen\n"
	"Reference:              4F2A1C3B2D\n"
	"Modtagere / Recipients:\n"
	"  valid@example.dk\n"
	"  other@example.dk\n"
	"\n"
	"--- 2 / 2 ---\n"
	"Tidspunkt / Time:       Tue, 01 Dec 2026 09:00:05 +0000\n"
	"Afsender / Sender:      <>\n"
	"Emne / Subject:         (no subject)\n"
	"Reference:              unknown\n"
	"Modtagere / Recipients:\n"
	"  valid@example.dk\n"
	"\n"
	"Svar vil komme til denne postkasse.\n"
	"Replies will arrive in this mailbox.\n";

/* The entry (as in a notice of its own) and the digest that lists entries. */
static void test_text(void)
{
	struct decision d, e;
	struct notice_entry v[2];
	char *entry, *other, *dirty, *subject, *body;

	decision_init(&d);
	d.queue_id = xstrdup("4F2A1C3B2D");
	d.sender = xstrdup("alice@kp.dk");
	add_rcpt(&d, "valid@example.dk", ACTION_ENCRYPT);
	add_rcpt(&d, "bob@kp.dk", ACTION_DELIVER);
	add_rcpt(&d, "other@example.dk", ACTION_ENCRYPT);
	entry = encrypt_notice_entry(&d, "Sag 7: Jensen");
	is_str(entry, entry_golden,
	       "entry: sender, subject, reference and only the encrypted recipients");
	dirty = encrypt_notice_entry(&d, "Sag 7\r\nBcc: x@example.net\x01");
	ok(strstr(dirty, "\nBcc:") == NULL && strchr(dirty, '\r') == NULL &&
	   strchr(dirty, '\x01') == NULL, "entry: a subject stays on its one line, without controls");
	free(dirty);

	decision_init(&e);
	e.sender = xstrdup("");
	add_rcpt(&e, "valid@example.dk", ACTION_ENCRYPT);
	other = encrypt_notice_entry(&e, NULL);

	subject = notice_digest_subject(3);
	is_str(subject, "Sikre beskeder sendt / Secure messages sent (3)",
	       "digest: Subject with the count");
	free(subject);
	v[0] = (struct notice_entry){ 1, 1796115600LL, "4F2A1C3B2D", entry };
	v[1] = (struct notice_entry){ 2, 1796115605LL, NULL, other };
	body = notice_digest_body(v, 2);
	is_str(body, digest_golden, "digest: every entry with its time, in the bilingual frame");
	free(body);
	free(entry);
	free(other);
	decision_free(&d);
	decision_free(&e);
}

/* file_text - the whole file, "" when it cannot be read. Free it. */
static char *file_text(const char *path)
{
	struct strbuf sb;
	char buf[4096];
	size_t n;
	FILE *f = fopen(path, "r");

	sb_init(&sb);
	sb_adds(&sb, "");
	while (f != NULL && (n = fread(buf, 1, sizeof(buf), f)) > 0)
		sb_addmem(&sb, buf, n);
	if (f != NULL)
		fclose(f);
	return sb.s;
}

static int count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

static int add_count(const char *mailbox, long long oldest, long count, void *arg)
{
	(void)mailbox;
	(void)oldest;
	*(long *)arg += count;
	return 0;
}

static long waiting(struct store *s)
{
	long n = 0;

	return store_notice_pending(s, (long long)time(NULL) + 3600, add_count, &n) == 0 ? n : -1;
}

/* wait_sent - up to 10 s for the stand-in sendmail to have run n times. */
static int wait_sent(const char *log, int n)
{
	for (int i = 0; i < 100; i++) {
		char *t = file_text(log);
		int got = count_of(t, "ARGS ");

		free(t);
		if (got >= n)
			return got;
		usleep(100000);
	}
	return -1;
}

/*
 * The thread with a stand-in sendmail: what an earlier run left is sent
 * at once, one digest per mailbox; a new notice waits for NoticeDelay,
 * and is sent at the stop; afterwards nothing is kept.
 */
static void test_thread(void)
{
	char *sm = xasprintf("%s/sendmail", dir), *out = xasprintf("%s/sent.txt", dir);
	char *text = xasprintf("Database %s/t.db\nReinject sendmail\nSendmailPath %s\n"
			       "NoticeDelay 1h\n", dir, sm);
	char *err = NULL, *got;
	struct strlist errors;
	struct config *cfg;
	struct runtime *rt = NULL;
	struct store *s = NULL;
	FILE *f;
	long long old = (long long)time(NULL) - 30;

	f = fopen(sm, "w");
	fprintf(f, "#!/bin/sh\necho \"ARGS $*\" >>'%s'\ncat >>'%s'\n", out, out);
	fclose(f);
	chmod(sm, 0755);
	strlist_init(&errors);
	cfg = config_parse("t_notice.conf", text, strlen(text), &errors);
	if (cfg != NULL && (rt = runtime_load(cfg, &errors)) != NULL)
		runtime_open_store(rt, &errors);
	if (!ok(cfg != NULL && rt != NULL && errors.n == 0, "thread: a runtime"))
		for (size_t i = 0; i < errors.n; i++)
			diag("%s", errors.v[i]);
	if (rt == NULL)
		goto out;
	runtime_publish(rt);
	s = runtime_store_get(rt);
	ok(s != NULL && store_notice_add(s, "sikker@kp.dk", old, "Q1", "entry Q1\n") == 0 &&
	   store_notice_add(s, "hr@kp.dk", old + 1, "Q2", "entry Q2\n") == 0 &&
	   store_notice_add(s, "sikker@kp.dk", old + 2, "Q3", "entry Q3\n") == 0,
	   "thread: three notices left by an earlier run");

	ok(notice_keep(s, 3600, "sikker@kp.dk", "Q0", "x\n", &err) == -1 && err == NULL,
	   "keep: without the thread, a notice is not kept (it is sent on its own)");
	is_int(notice_start(), 0, "thread: starts");
	is_int(wait_sent(out, 2), 2, "thread: what was left is sent at once, one digest per mailbox");
	usleep(300000);
	got = file_text(out);
	is_int(count_of(got, "ARGS -i -f sikker@kp.dk -- sikker@kp.dk\n"), 1,
	       "thread: one digest from sikker@ to sikker@");
	is_int(count_of(got, "ARGS -i -f hr@kp.dk -- hr@kp.dk\n"), 1, "thread: one to hr@");
	is_int(count_of(got, "Subject: Sikre beskeder sendt / Secure messages sent (2)\n"), 1,
	       "thread: sikker@'s lists its two");
	ok(strstr(got, "entry Q1\n") && strstr(got, "entry Q2\n") && strstr(got, "entry Q3\n"),
	   "thread: every entry is in a digest");
	is_int(count_of(got, "\nX-Sikkermail-Reinjected: "), 2,
	   "thread: each digest carries a re-injection marker (Reinject sendmail)");
	free(got);
	is_int(waiting(s), 0, "thread: sent notices are deleted");

	ok(notice_keep(s, 3600, "sikker@kp.dk", "Q4", "entry Q4\n", &err) == 0,
	   "keep: with the thread, a notice is kept");
	sleep(1);
	got = file_text(out);
	ok(count_of(got, "ARGS ") == 2 && waiting(s) == 1, "thread: a new notice waits for NoticeDelay");
	free(got);
	is_int(notice_stop(5), 0, "stop: the thread ends");
	is_int(wait_sent(out, 3), 3, "stop: the waiting notice is sent first");
	got = file_text(out);
	ok(strstr(got, "entry Q4\n") != NULL, "stop: ... in a digest of its own");
	free(got);
	is_int(waiting(s), 0, "stop: nothing waits any more");
	ok(notice_keep(s, 3600, "sikker@kp.dk", "Q5", "x\n", &err) == -1 && err == NULL,
	   "keep: after the stop, nothing is kept");
out:
	runtime_store_put(rt, s, false);
	runtime_publish(NULL);
	runtime_unref(rt);
	config_unref(cfg);
	strlist_free(&errors);
	for (const char *const *n = (const char *const[]){ "t.db", "t.db-wal", "t.db-shm",
							     "sendmail", "sent.txt", NULL };
	     *n != NULL; n++) {
		char *p = xasprintf("%s/%s", dir, *n);
		unlink(p);
		free(p);
	}
	free(sm);
	free(out);
	free(text);
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_text();
	test_thread();
	if (rmdir(dir) != 0)
		diag("cannot remove %s: %s", dir, strerror(errno));
	return done_testing();
}

/*
 * t_msgbuf.c - unit tests for the message buffer (msgbuf.c): a message
 * that fits in memory is read from memory, with no temporary file (so it
 * reads back even where no file can be made), rewinds for each reader,
 * and takes more bytes after a read; a bigger one spills to a private
 * file and reads back whole.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msgbuf.h"
#include "tap.h"
#include "util.h"

/* slurp - all of f from where it stands, as a string (caller frees). */
static char *slurp(FILE *f, size_t *len)
{
	struct strbuf sb;
	char buf[4096];
	size_t n;

	sb_init(&sb);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		sb_addmem(&sb, buf, n);
	*len = sb.len;
	if (sb.s == NULL)
		return xstrdup("");
	return sb.s;
}

int main(void)
{
	/* nowhere to make a temporary file: only the in-memory path can work */
	struct msgbuf *b = msgbuf_new(1024, "/nonexistent-sikkermail-test-dir");
	struct msgbuf *big = msgbuf_new(1024, NULL);
	char *err = NULL, *got, chunk[700];
	size_t len;
	FILE *f;
	int rc;

	ok(msgbuf_write(b, "Subject: x\n\nHej\n", 16, &err) == 0, "write a small message");
	f = msgbuf_read(b, &err);
	ok(f != NULL, "a small message reads back without a temporary file (%s)",
	   err ? err : "no error");
	if (f == NULL)
		return done_testing();
	is_int(msgbuf_in_file(b), 0, "it stays in memory");
	got = slurp(f, &len);
	is_str(got, "Subject: x\n\nHej\n", "the bytes read back");
	free(got);
	f = msgbuf_read(b, &err);
	got = slurp(f, &len);
	is_str(got, "Subject: x\n\nHej\n", "a second reader starts at the beginning");
	free(got);
	ok(fwrite("X", 1, 1, f) != 1 || fflush(f) != 0, "the reading stream is read-only");
	ok(msgbuf_write(b, "Mere\n", 5, &err) == 0, "more bytes after a read");
	f = msgbuf_read(b, &err);
	got = f ? slurp(f, &len) : xstrdup("(null)");
	is_str(got, "Subject: x\n\nHej\nMere\n", "... and all of them read back");
	free(got);
	memset(chunk, 'a', sizeof(chunk));
	ok(msgbuf_write(b, chunk, sizeof(chunk), &err) == 0, "up to the limit: still in memory");
	rc = msgbuf_write(b, chunk, sizeof(chunk), &err);
	ok(rc == -1 && err != NULL, "past the limit where no file can be made: an error, not a loss");
	diag("%s", err ? err : "no error");
	free(err);
	err = NULL;
	msgbuf_free(b);

	for (int i = 0; i < 3; i++)
		ok(msgbuf_write(big, chunk, sizeof(chunk), &err) == 0, "big: chunk %d", i + 1);
	is_int(msgbuf_in_file(big), 1, "big: past the limit it is in a file");
	f = msgbuf_read(big, &err);
	got = f ? slurp(f, &len) : NULL;
	ok(got != NULL && len == 3 * sizeof(chunk) && strspn(got, "a") == len,
	   "big: all %zu bytes read back", 3 * sizeof(chunk));
	free(got);
	msgbuf_free(big);
	return done_testing();
}

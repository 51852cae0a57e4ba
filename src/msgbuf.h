/*
 * msgbuf.h - the bytes of one message (headers and body), kept in memory
 * up to a limit and past it in a private temporary file, so that memory
 * stays bounded whatever the message size.
 *
 * The temporary file is created with mode 0600 and unlinked at once: it
 * has no name while it is in use, so it is gone on every path, a crash
 * included.
 */
#ifndef SIKKERMAIL_MSGBUF_H
#define SIKKERMAIL_MSGBUF_H

#include <stddef.h>
#include <stdio.h>

#define MSGBUF_MEMORY_LIMIT (1024 * 1024)

struct msgbuf;

/* msgbuf_new - empty; spills to a file in tmpdir (NULL: $TMPDIR or /tmp) past limit bytes. */
struct msgbuf *msgbuf_new(size_t limit, const char *tmpdir);
/* msgbuf_write - append; 0, or -1 with *err set (disk full, ...): the buffer is then unusable. */
int msgbuf_write(struct msgbuf *b, const void *p, size_t n, char **err);
/*
 * msgbuf_read - a stream positioned at the start of the bytes, owned by b
 * and valid until the next msgbuf_write or msgbuf_free: read-only on the
 * memory while the bytes fit there, else the temporary file. NULL with
 * *err.
 */
FILE *msgbuf_read(struct msgbuf *b, char **err);
size_t msgbuf_size(const struct msgbuf *b);
int msgbuf_in_file(const struct msgbuf *b);	/* 1 if it spilled to a file */
void msgbuf_free(struct msgbuf *b);

/*
 * private_tmpfile - a new, empty, unlinked file of mode 0600 in tmpdir
 * (NULL: $TMPDIR, else /tmp) open for reading and writing; NULL with *err.
 */
FILE *private_tmpfile(const char *tmpdir, char **err);

#endif

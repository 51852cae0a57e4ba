/*
 * msgbuf.c - message bytes in memory, then in an unlinked temporary file.
 *
 * Exports msgbuf_new, msgbuf_write, msgbuf_read, msgbuf_size,
 * msgbuf_in_file, msgbuf_free (msgbuf.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "msgbuf.h"
#include "util.h"

struct msgbuf {
	size_t limit;
	char *tmpdir;
	struct strbuf mem;	/* while size <= limit */
	FILE *file;		/* after the spill; also the reading stream */
	FILE *mem_reader;	/* a read-only stream on mem, from msgbuf_read */
	size_t size;
	int failed;
};

static int spill(struct msgbuf *b, char **err);

struct msgbuf *msgbuf_new(size_t limit, const char *tmpdir)
{
	struct msgbuf *b = xcalloc(1, sizeof(*b));
	const char *env = getenv("TMPDIR");

	b->limit = limit;
	b->tmpdir = xstrdup(tmpdir ? tmpdir : env != NULL && env[0] == '/' ? env : "/tmp");
	sb_init(&b->mem);
	return b;
}

FILE *private_tmpfile(const char *tmpdir, char **err)
{
	const char *env = getenv("TMPDIR");
	char *path;
	FILE *f;
	int fd;

	if (tmpdir == NULL)
		tmpdir = env != NULL && env[0] == '/' ? env : "/tmp";
	path = xasprintf("%s/sikkermail.XXXXXX", tmpdir);
	/*
	 * mkstemp creates the file 0600 whatever the umask: no umask() here,
	 * which is process-wide and would race with the other threads.
	 */
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0) {
		*err = xasprintf("cannot create a temporary file in %s: %s", tmpdir,
				 strerror(errno));
		free(path);
		return NULL;
	}
	unlink(path);
	free(path);
	if ((f = fdopen(fd, "w+")) == NULL) {
		*err = xasprintf("fdopen: %s", strerror(errno));
		close(fd);
	}
	return f;
}

/* spill - move what is in memory into a fresh private file. */
static int spill(struct msgbuf *b, char **err)
{
	if ((b->file = private_tmpfile(b->tmpdir, err)) == NULL)
		return -1;
	if (b->mem.len > 0 && fwrite(b->mem.s, 1, b->mem.len, b->file) != b->mem.len) {
		*err = xasprintf("cannot write a temporary file in %s: %s", b->tmpdir,
				 strerror(errno));
		return -1;
	}
	sb_free(&b->mem);
	sb_init(&b->mem);
	return 0;
}

int msgbuf_write(struct msgbuf *b, const void *p, size_t n, char **err)
{
	if (b->failed) {
		*err = xstrdup("message buffer failed earlier");
		return -1;
	}
	if (b->mem_reader != NULL) {	/* mem may move: the reader ends here */
		fclose(b->mem_reader);
		b->mem_reader = NULL;
	}
	if (b->file == NULL && b->size + n > b->limit && spill(b, err) != 0)
		goto fail;
	if (b->file == NULL) {
		sb_addmem(&b->mem, p, n);
	} else if (fwrite(p, 1, n, b->file) != n) {
		*err = xasprintf("cannot write a temporary file in %s: %s", b->tmpdir,
				 strerror(errno));
		goto fail;
	}
	b->size += n;
	return 0;
fail:
	b->failed = 1;
	return -1;
}

FILE *msgbuf_read(struct msgbuf *b, char **err)
{
	if (b->failed) {
		*err = xstrdup("message buffer failed earlier");
		return NULL;
	}
	if (b->file == NULL && b->mem_reader == NULL && b->mem.len > 0)
		/* in memory it stays: a stream on the bytes, no file (NULL: spill below) */
		b->mem_reader = fmemopen(b->mem.s, b->mem.len, "r");
	if (b->mem_reader != NULL) {
		clearerr(b->mem_reader);
		if (fseek(b->mem_reader, 0, SEEK_SET) != 0) {
			*err = xasprintf("cannot rewind the message in memory: %s", strerror(errno));
			return NULL;
		}
		return b->mem_reader;
	}
	if (b->file == NULL && spill(b, err) != 0) {
		b->failed = 1;
		return NULL;
	}
	if (fflush(b->file) != 0 || fseek(b->file, 0, SEEK_SET) != 0) {
		*err = xasprintf("cannot read back the temporary file: %s", strerror(errno));
		return NULL;
	}
	return b->file;
}

size_t msgbuf_size(const struct msgbuf *b)
{
	return b->size;
}

int msgbuf_in_file(const struct msgbuf *b)
{
	return b->file != NULL;
}

void msgbuf_free(struct msgbuf *b)
{
	if (b == NULL)
		return;
	if (b->file != NULL)
		fclose(b->file);
	if (b->mem_reader != NULL)
		fclose(b->mem_reader);
	sb_free(&b->mem);
	free(b->tmpdir);
	free(b);
}

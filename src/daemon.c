/*
 * daemon.c - detaching with a start report, runtime directories, a locked
 * pid file and a socket that is only ever removed by its owner. See
 * daemon.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "util.h"

/*
 * How long a start waits for a stopping daemon to let go of the pid file:
 * it holds it until libmilter has closed (and removed) its socket, which
 * takes up to libmilter's 5 s listener timeout.
 */
#define PIDFILE_WAIT_MS 15000

static int status_fd = -1;	/* the write end the waiting parent reads */
static int pid_fd = -1;
static char *pid_path;
static char *sock_path;
static dev_t sock_dev;
static ino_t sock_ino;

static pid_t lock_holder(int fd);
static bool holder_stopping(int fd);

int daemon_detach(void)
{
	int fds[2], status;
	pid_t pid;
	char c = 0;

	if (pipe(fds) != 0) {
		msg_error("pipe: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) < 0) {
		msg_error("fork: %s", strerror(errno));
		return -1;
	}
	if (pid > 0) {
		/* the starting process: wait for the word, or for the daemon's death */
		close(fds[1]);
		while (read(fds[0], &c, 1) < 0 && errno == EINTR)
			;
		if (c == 'S')
			_exit(0);
		if (waitpid(pid, &status, 0) == pid && WIFSIGNALED(status))
			fprintf(stderr, "sikkermail-milter: error: the daemon died during start-up "
					"(signal %d)\n",
				WTERMSIG(status));
		_exit(1);
	}
	close(fds[0]);
	status_fd = fds[1];
	fcntl(status_fd, F_SETFD, FD_CLOEXEC);
	if (setsid() < 0)
		msg_warn("setsid: %s", strerror(errno));
	if (chdir("/") != 0)
		msg_warn("chdir /: %s", strerror(errno));
	return 0;
}

void daemon_started(void)
{
	int fd;

	if (status_fd < 0)
		return;
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	if (write(status_fd, "S", 1) != 1)
		msg_warn("cannot report the start: %s", strerror(errno));
	close(status_fd);
	status_fd = -1;
}

int daemon_make_dir(const char *key, const char *path, uid_t uid, gid_t gid)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	struct stat st;
	int rc = 0;

	if (slash == NULL || slash == dir)
		goto out;
	*slash = '\0';
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			msg_error("%s %s: %s is not a directory", key, path, dir);
			rc = -1;
		}
		goto out;
	}
	if (errno != ENOENT || mkdir(dir, 0750) != 0) {
		msg_error("%s %s: cannot create %s: %s", key, path, dir, strerror(errno));
		rc = -1;
		goto out;
	}
	if (geteuid() == 0 && chown(dir, uid, gid) != 0) {
		msg_error("%s %s: cannot give %s to its user: %s", key, path, dir, strerror(errno));
		rc = -1;
		goto out;
	}
	msg_info("created %s", dir);
out:
	free(dir);
	return rc;
}

/* lock_holder - the pid that holds the write lock on fd, 0 if none, -1 on error. */
static pid_t lock_holder(int fd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	if (fcntl(fd, F_GETLK, &fl) != 0)
		return -1;
	return fl.l_type == F_UNLCK ? 0 : fl.l_pid;
}

/* holder_stopping - does the locked pid file say its daemon is stopping? */
static bool holder_stopping(int fd)
{
	char buf[64];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, "stopping") != NULL;
}

int daemon_pidfile_lock(const char *path)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct timespec pause = { 0, 50 * 1000 * 1000 };
	pid_t holder = 0;
	bool stopping;
	int fd;

	for (int waited = 0;; waited += 50) {
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0) {
			msg_error("cannot open pid file %s: %s", path, strerror(errno));
			return -1;
		}
		if (fcntl(fd, F_SETLK, &fl) == 0)
			break;
		if (errno != EAGAIN && errno != EACCES) {
			msg_error("cannot lock pid file %s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		holder = lock_holder(fd);
		stopping = holder_stopping(fd);
		close(fd);
		/* a daemon that is stopping lets go once it no longer listens */
		if (!stopping || waited >= PIDFILE_WAIT_MS) {
			msg_error("already running (pid %ld%s, pid file %s)", (long)holder,
				  stopping ? ", still stopping" : "", path);
			return -1;
		}
		nanosleep(&pause, NULL);
	}
	pid_fd = fd;
	free(pid_path);
	pid_path = xstrdup(path);
	return 0;
}

void daemon_pidfile_stopping(void)
{
	char buf[48];
	int n = snprintf(buf, sizeof(buf), "%ld stopping\n", (long)getpid());

	if (pid_fd >= 0 && (ftruncate(pid_fd, 0) != 0 || pwrite(pid_fd, buf, (size_t)n, 0) != n))
		msg_warn("cannot mark %s as stopping: %s", pid_path, strerror(errno));
}

int daemon_pidfile_write(void)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	if (pid_fd < 0)
		return 0;
	if (ftruncate(pid_fd, 0) != 0 || pwrite(pid_fd, buf, (size_t)n, 0) != n) {
		msg_error("cannot write pid file %s: %s", pid_path, strerror(errno));
		return -1;
	}
	return 0;
}

void daemon_pidfile_release(void)
{
	struct stat mine, there;

	if (pid_fd < 0)
		return;
	/* still the file we locked (nobody replaced it): remove it while we hold the lock */
	if (fstat(pid_fd, &mine) == 0 && lstat(pid_path, &there) == 0 &&
	    mine.st_dev == there.st_dev && mine.st_ino == there.st_ino && unlink(pid_path) != 0)
		msg_warn("cannot remove %s: %s", pid_path, strerror(errno));
	close(pid_fd);
	pid_fd = -1;
}

int daemon_socket_check(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, rc;

	if (path == NULL)
		return 0;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		msg_error("socket path %s is too long", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (rc == 0) {
		msg_error("already running: a filter answers on %s", path);
		return -1;
	}
	return 0;	/* ENOENT: free; ECONNREFUSED: stale, libmilter replaces it */
}

void daemon_socket_remember(const char *path)
{
	struct stat st;

	if (path == NULL || lstat(path, &st) != 0)
		return;
	free(sock_path);
	sock_path = xstrdup(path);
	sock_dev = st.st_dev;
	sock_ino = st.st_ino;
}

void daemon_socket_remove(void)
{
	struct stat st;

	if (sock_path == NULL)
		return;
	if (lstat(sock_path, &st) == 0 && st.st_dev == sock_dev && st.st_ino == sock_ino)
		unlink(sock_path);
	free(sock_path);
	sock_path = NULL;
}

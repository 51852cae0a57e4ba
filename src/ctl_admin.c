/*
 * ctl_admin.c - sikkermail-ctl as an administrator runs it: as root it
 * becomes the filter's own user before it touches the database (so that
 * what it creates stays usable by the filter; the files it was given are
 * read before that, as the invoking user), a database it cannot use
 * is reported with the command that fixes it, and "reload" asks the
 * running filter to read its configuration again.
 *
 * Exports ctl_become_user, ctl_open_store and ctl_reload (ctl.h).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "ctl.h"
#include "log.h"
#include "store.h"
#include "util.h"

static void explain_open_failure(const char *path, enum store_mode mode);

int ctl_become_user(const struct config *cfg)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	if (cfg->userid == NULL || (pw = getpwnam(cfg->userid)) == NULL) {
		msg_error("UserID %s: no such user; sikkermail-ctl run as root works as the "
			  "filter's user, so that the database stays the filter's (create the user, "
			  "or set UserID in %s)",
			  cfg->userid ? cfg->userid : "(none)", cfg->path);
		return -1;
	}
	if (pw->pw_uid == 0)
		return 0;
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0 || setuid(0) == 0) {
		msg_error("cannot become %s: %s", pw->pw_name, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * explain_open_failure - the database could not be opened: if it, or the
 * directory it would be made in, is not ours to use, say what fixes it.
 */
static void explain_open_failure(const char *path, enum store_mode mode)
{
	struct passwd *pw = getpwuid(geteuid());
	const char *user = pw ? pw->pw_name : "the filter's user";
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	int want = mode == STORE_RW ? R_OK | W_OK : R_OK;

	if (slash != NULL && slash != dir)
		*slash = '\0';
	else
		strcpy(dir, slash ? "/" : ".");
	if (access(path, F_OK) == 0 && access(path, want) != 0)
		msg_error("%s cannot %s %s: as root, run: chown %s %s %s-wal %s-shm", user,
			  mode == STORE_RW ? "write" : "read", path, user, path, path, path);
	else if (access(path, F_OK) != 0 && mode == STORE_RW && access(dir, W_OK | X_OK) != 0)
		msg_error("%s cannot create files in %s: as root, run: chown %s %s", user, dir, user,
			  dir);
	free(dir);
}

/*
 * ctl_open_store - input files were read as the invoking user; from the
 * database on, a root invocation works as the filter's user.
 */
struct store *ctl_open_store(struct ctl *c, enum store_mode mode)
{
	char *err = NULL;
	struct store *s;

	if (ctl_become_user(c->cfg) != 0)
		return NULL;
	if ((s = store_open(c->database, mode, &err)) == NULL) {
		msg_error("%s", err ? err : "cannot open the database");
		explain_open_failure(c->database, mode);
		free(err);
	}
	return s;
}

int ctl_reload(struct ctl *c, int argc, char **argv)
{
	FILE *f;
	long pid = 0;

	(void)argv;
	if (argc != 1)
		return ctl_usage_error("reload: takes no arguments");
	if (c->cfg->pidfile == NULL) {
		msg_error("reload: PidFile is not set in %s, so the running filter cannot be found "
			  "(send it SIGUSR1 yourself)",
			  c->cfg->path);
		return CTL_EX_ERROR;
	}
	if ((f = fopen(c->cfg->pidfile, "r")) == NULL || fscanf(f, "%ld", &pid) != 1 || pid <= 1) {
		msg_error("reload: no filter pid in %s%s%s", c->cfg->pidfile, f ? "" : ": ",
			  f ? "" : strerror(errno));
		if (f != NULL)
			fclose(f);
		return CTL_EX_ERROR;
	}
	fclose(f);
	if (kill((pid_t)pid, SIGUSR1) != 0) {
		msg_error("reload: cannot signal pid %ld (from %s): %s", pid, c->cfg->pidfile,
			  strerror(errno));
		return CTL_EX_ERROR;
	}
	fprintf(c->out, "reload requested (pid %ld); the filter logs whether it took the new "
			"configuration\n",
		pid);
	return CTL_EX_OK;
}

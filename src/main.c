/*
 * main.c - sikkermail-milter: options, start-up in a fixed order, shutdown.
 *
 * Start-up order (as milter-regex and Postfix do it): read and check the
 * configuration; open the listening socket as root and give it to the
 * run-time user; drop privileges (refusing to go on as root); check that
 * the database opens; detach; write the pid file; serve. On SIGTERM
 * libmilter stops accepting and stops serving sessions between commands
 * (the MTA tempfails those, milter_default_action); a decision under way
 * (end of data: re-injection, record, reply) is given time to finish
 * before the process exits, so no message is left half-handled.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sysexits.h>
#include <unistd.h>

#include "certs.h"
#include "config.h"
#include "encrypt.h"
#include "log.h"
#include "milter.h"
#include "mime.h"
#include "smime.h"
#include "store.h"
#include "util.h"

#define DRAIN_SECONDS 30

struct options {
	const char *config_path;	/* -c */
	const char *socket;		/* -p */
	bool foreground;		/* -f */
	bool check_only;		/* -n */
};

static void usage(void) __attribute__((noreturn));
static void parse_options(int argc, char **argv, struct options *o);
static int become_user(const struct config *cfg, const char *socket_spec);
static int check_database(const struct config *cfg);
static int detach(void);
static int start_certificates(const struct config *cfg);
static int write_pidfile(const char *path);

static void usage(void)
{
	fputs("usage: sikkermail-milter [-c FILE] [-f] [-n] [-p SOCKET] [-V]\n"
	      "  -c FILE    configuration file (default " CONFIG_DEFAULT_PATH
	      " if it exists, else built-in defaults)\n"
	      "  -f         stay in the foreground and log to stderr too\n"
	      "  -n         check the configuration and exit 0 (good) or 1 (errors)\n"
	      "  -p SOCKET  listen here instead of Socket\n"
	      "  -V         print the version and exit\n",
	      stderr);
	exit(EX_USAGE);
}

static void parse_options(int argc, char **argv, struct options *o)
{
	int ch;
	unsigned int maj, min, pl;

	memset(o, 0, sizeof(*o));
	while ((ch = getopt(argc, argv, "c:fnp:V")) != -1) {
		switch (ch) {
		case 'c':
			o->config_path = optarg;
			break;
		case 'f':
			o->foreground = true;
			break;
		case 'n':
			o->check_only = true;
			break;
		case 'p':
			o->socket = optarg;
			break;
		case 'V':
			milter_version(&maj, &min, &pl);
			printf("sikkermail-milter %s (libmilter %u.%u.%u)\n", PACKAGE_VERSION, maj,
			       min, pl);
			exit(0);
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
}

int main(int argc, char **argv)
{
	struct options o;
	struct config *cfg;
	const char *socket;
	int left;

	log_init("sikkermail-milter", false, true, 0);
	parse_options(argc, argv, &o);
	if ((cfg = config_load_default(o.config_path)) == NULL)
		return 1;
	if (o.check_only) {
		printf("%s: configuration OK\n", cfg->path);
		config_unref(cfg);
		return 0;
	}
	log_init("sikkermail-milter", cfg->syslog, true, cfg->syslog_facility);
	log_set_level(cfg->log_level);
	socket = o.socket ? o.socket : cfg->socket;

	umask((mode_t)cfg->umask);
	mime_init();
	if (start_certificates(cfg) != 0)
		return 1;
	if (milter_setup(cfg, socket) != 0 || become_user(cfg, socket) != 0 ||
	    check_database(cfg) != 0 || (!o.foreground && detach() != 0))
		goto fail;
	if (!o.foreground)
		log_init("sikkermail-milter", cfg->syslog, false, cfg->syslog_facility);
	if (cfg->pidfile != NULL && write_pidfile(cfg->pidfile) != 0)
		goto fail;

	msg_info("starting (%s mode, socket %s, configuration %s)", mode_name(cfg->mode), socket,
		 cfg->path);
	if (milter_run() != 0)
		msg_error("libmilter ended with an error");
	if ((left = milter_drain(DRAIN_SECONDS)) > 0)
		msg_warn("stopping with %d decision(s) still under way after %d s", left,
			 DRAIN_SECONDS);
	if (milter_socket_path(socket) != NULL)
		unlink(milter_socket_path(socket));
	if (cfg->pidfile != NULL && unlink(cfg->pidfile) != 0 && errno != ENOENT)
		msg_warn("cannot remove %s: %s", cfg->pidfile, strerror(errno));
	certs_shutdown();
	encrypt_shutdown();
	msg_info("stopped");
	config_unref(cfg);
	return 0;

fail:
	/* leave nothing behind that looks like a running filter */
	if (milter_socket_path(socket) != NULL)
		unlink(milter_socket_path(socket));
	return 1;
}

/*
 * become_user - as root: give a local socket to UserID, then become that
 * user with its groups, and refuse to go on as root. Not root: nothing to
 * do (UserID is ignored).
 */
static int become_user(const struct config *cfg, const char *socket_spec)
{
	const char *path = milter_socket_path(socket_spec);
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	if (cfg->userid == NULL || (pw = getpwnam(cfg->userid)) == NULL) {
		msg_error("UserID %s: no such user (create it, or set UserID)",
			  cfg->userid ? cfg->userid : "(none)");
		return -1;
	}
	if (pw->pw_uid == 0) {
		msg_error("UserID %s is root: refusing to run as root", cfg->userid);
		return -1;
	}
	if (path != NULL && chown(path, pw->pw_uid, pw->pw_gid) != 0) {
		msg_error("chown %s: %s", path, strerror(errno));
		return -1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0) {
		msg_error("cannot switch to user %s: %s", pw->pw_name, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0 || geteuid() == 0) {
		msg_error("still root after switching to %s: refusing to run", pw->pw_name);
		return -1;
	}
	return 0;
}

/*
 * start_certificates - the trust store, the directory pool and the
 * function mailboxes' keys, read while still root.
 */
static int start_certificates(const struct config *cfg)
{
	char *err = NULL;

	if (certs_init(cfg, &err) != 0) {
		msg_error("certificates: %s", err ? err : "cannot initialise");
		free(err);
		return -1;
	}
	if (encrypt_init(cfg, &err) != 0) {
		msg_error("%s", err ? err : "cannot load the function mailboxes");
		free(err);
		return -1;
	}
	return 0;
}

/*
 * check_database - open (creating if needed) the database once, so a bad
 * path fails now, and read this host's marker secret from it.
 */
static int check_database(const struct config *cfg)
{
	char *err = NULL;
	struct store *s = store_open(cfg->database, STORE_RW, &err);
	unsigned char secret[ENCRYPT_SECRET_LEN];

	if (s == NULL) {
		msg_error("database %s: %s", cfg->database, err ? err : "cannot open");
		free(err);
		return -1;
	}
	if (store_secret(s, "reinject-marker", secret, sizeof(secret), smime_random) != 0) {
		msg_error("%s", store_errmsg(s));
		store_close(s);
		return -1;
	}
	encrypt_set_secret(secret, sizeof(secret));
	memset(secret, 0, sizeof(secret));
	store_close(s);
	return 0;
}

static int detach(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0) {
		msg_error("fork: %s", strerror(errno));
		return -1;
	}
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		msg_warn("setsid: %s", strerror(errno));
	if (chdir("/") != 0)
		msg_warn("chdir /: %s", strerror(errno));
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	return 0;
}

static int write_pidfile(const char *path)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL) {
		msg_error("cannot write pid file %s: %s", path, strerror(errno));
		return -1;
	}
	fprintf(fp, "%ld\n", (long)getpid());
	if (fclose(fp) != 0) {
		msg_error("cannot write pid file %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

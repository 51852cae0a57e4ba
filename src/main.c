/*
 * main.c - sikkermail-milter: options, start-up in a fixed order, signals,
 * reload, shutdown.
 *
 * Start-up order (as milter-regex and Postfix do it): read and check the
 * configuration; detach, with the starting process waiting to hear that
 * the start succeeded (daemon.c), so that its exit status tells the truth;
 * create missing runtime directories; lock the pid file and make sure no
 * filter answers on the socket; load the runtime (trust store, directory
 * pool, function mailbox keys) while still root; open the listening socket
 * as root and give it to the run-time user; drop privileges (refusing to
 * go on as root); open the database as that user; write the pid file;
 * publish the runtime; start the mailbox notice thread (notice.c), the
 * retention purge thread (retention.c), the reloader and libmilter;
 * serve; report success to the starting process.
 *
 * Signals: every signal the filter acts on is blocked in every thread and
 * taken by the main thread with sigwait(), while libmilter serves in a
 * thread of its own (milter_start). SIGUSR1 and SIGHUP reload: a reloader
 * thread builds a new runtime from the files and publishes it (and wakes
 * the retention thread, for a changed Retention), or logs why not and
 * keeps the old one; the main thread goes straight back to
 * sigwait, so that a signal sent to the process finds it waiting (the
 * kernel gives a process-directed signal to the main thread first when it
 * can take it). libmilter's own signal thread would take SIGHUP as "stop":
 * milter.c keeps SIGHUP out of what it waits for. SIGUSR2 is logged and
 * ignored.
 * SIGTERM and SIGINT stop: libmilter stops accepting and stops serving
 * sessions between commands (the MTA tempfails those,
 * milter_default_action); callbacks under way, a decision with its
 * re-injected copy and record above all, are waited for; the retention
 * thread ends after the batch it is purging, if any; then the
 * mailbox notices waiting for their digest are sent (notice.c, up to
 * NOTICE_FLUSH_SECONDS), and only then is the runtime released and the
 * process exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sysexits.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "milter.h"
#include "mime.h"
#include "notice.h"
#include "retention.h"
#include "reinject.h"
#include "runtime.h"
#include "util.h"

#define DRAIN_SECONDS 30
#define NOTICE_FLUSH_SECONDS 10	/* for the waiting mailbox notices at stop */

struct options {
	const char *config_path;	/* -c */
	const char *socket;		/* -p */
	bool foreground;		/* -f */
	bool check_only;		/* -n */
};

/* What a reload reads: the file given or found at start-up, or NULL (built-in). */
static const char *config_file;
static char *config_abs;		/* a relative -c made absolute (never freed: lives as long) */
static pthread_mutex_t reload_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reload_cond = PTHREAD_COND_INITIALIZER;
static int reload_requests;	/* signals not yet acted on (under reload_lock) */
static bool reloader_stop;

static void usage(FILE *out, int status) __attribute__((noreturn));
static void parse_options(int argc, char **argv, struct options *o);
static int check_only(const char *socket);
static void log_errors(const char *what, const struct strlist *errors);
static void warn_reload_files(const struct config *cfg, const struct passwd *pw);
static struct passwd *run_user(const struct config *cfg);
static int prepare_places(const struct config *cfg, const char *socket);
static int become_user(const struct config *cfg, const char *socket_spec);
static gid_t socket_dir_group(const char *path, gid_t fallback);
static void block_signals(sigset_t *set);
static void *reloader(void *arg);
static void reload(void);
static void serve_signals(const sigset_t *set);

static void usage(FILE *out, int status)
{
	fputs("usage: sikkermail-milter [-c FILE] [-f] [-h] [-n] [-p SOCKET] [-V]\n"
	      "  -c FILE    configuration file (default " CONFIG_DEFAULT_PATH
	      " if it exists, else built-in defaults)\n"
	      "  -f         stay in the foreground and log to stderr too\n"
	      "  -n         check the configuration and what it names (keys, certificates,\n"
	      "             database, socket directory) and exit 0 (good) or 1 (errors)\n"
	      "  -p SOCKET  listen here instead of Socket\n"
	      "  -h         print this help and exit (also --help)\n"
	      "  -V         print the version and exit\n"
	      "SIGUSR1 or SIGHUP: reload the configuration; SIGTERM: stop. See sikkermail-milter(8).\n",
	      out);
	exit(status);
}

static void parse_options(int argc, char **argv, struct options *o)
{
	int ch;
	unsigned int maj, min, pl;

	memset(o, 0, sizeof(*o));
	for (int i = 1; i < argc && argv[i][0] == '-'; i++)
		if (strcmp(argv[i], "--help") == 0)
			usage(stdout, 0);
	while ((ch = getopt(argc, argv, "c:fhnp:V")) != -1) {
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
		case 'h':
			usage(stdout, 0);
		case 'V':
			milter_version(&maj, &min, &pl);
			printf("sikkermail-milter %s (libmilter %u.%u.%u)\n", PACKAGE_VERSION, maj,
			       min, pl);
			exit(0);
		default:
			usage(stderr, EX_USAGE);
		}
	}
	if (optind != argc)
		usage(stderr, EX_USAGE);
}

/* log_errors - each as its own line: the "file:line: message" form stays greppable. */
static void log_errors(const char *what, const struct strlist *errors)
{
	for (size_t i = 0; i < errors->n; i++)
		msg_error("%s%s", what, errors->v[i]);
}

/*
 * check_only - -n: everything start-up would load and meet, every problem
 * as "file:line: message", in one run. Nothing is created or changed.
 */
static int check_only(const char *socket)
{
	struct strlist errors;
	struct config *cfg;
	struct runtime *rt = NULL;
	struct passwd *pw;
	int rc = 1;

	strlist_init(&errors);
	if ((cfg = config_load(config_file, &errors)) != NULL) {
		rt = runtime_load(cfg, &errors);
		runtime_check_deployment(cfg, socket ? socket : cfg->socket, &errors);
		if (geteuid() == 0 && cfg->userid != NULL && (pw = getpwnam(cfg->userid)) != NULL)
			warn_reload_files(cfg, pw);
	}
	log_errors("", &errors);
	if (cfg != NULL && errors.n == 0) {
		printf("%s: configuration OK\n", cfg->path);
		rc = 0;
	} else if (errors.n == 0) {
		msg_error("%s: cannot load the configuration", config_file);
	}
	runtime_unref(rt);
	config_unref(cfg);
	strlist_free(&errors);
	return rc;
}

int main(int argc, char **argv)
{
	struct options o;
	struct strlist errors;
	struct config *cfg;
	struct runtime *rt = NULL;
	const char *socket;
	sigset_t signals;
	pthread_t reload_thread;
	struct passwd *pw;
	bool was_root;
	int left, rc = 1;

	log_init(LOG_IDENT_MILTER, false, true, 0);
	parse_options(argc, argv, &o);
	config_file = o.config_path;
	if (config_file == NULL && access(CONFIG_DEFAULT_PATH, F_OK) == 0)
		config_file = CONFIG_DEFAULT_PATH;
	/* the daemon works from "/": a reload must find a relative -c all the same */
	if (config_file != NULL && config_file[0] != '/' &&
	    (config_abs = realpath(config_file, NULL)) != NULL)
		config_file = config_abs;
	if (o.check_only)
		return check_only(o.socket);
	if ((cfg = config_load_default(config_file)) == NULL)
		return 1;
	block_signals(&signals);
	log_init(LOG_IDENT_MILTER, cfg->syslog, true, cfg->syslog_facility);
	log_set_level(cfg->log_level);
	socket = o.socket ? o.socket : cfg->socket;
	strlist_init(&errors);

	umask((mode_t)cfg->umask);
	mime_init();
	/* in the background from here, but the starting process waits for the verdict */
	if (!o.foreground && daemon_detach() != 0)
		goto fail;
	/* with a pid file its lock says who runs; without one, whoever answers on the socket */
	if (prepare_places(cfg, socket) != 0 ||
	    (cfg->pidfile != NULL && daemon_pidfile_lock(cfg->pidfile) != 0) ||
	    (cfg->pidfile == NULL && daemon_socket_check(config_socket_path(socket)) != 0))
		goto fail;
	if ((rt = runtime_load(cfg, &errors)) == NULL) {
		log_errors("", &errors);
		goto fail;
	}
	if (milter_setup(socket) != 0)
		goto fail;
	daemon_socket_remember(config_socket_path(socket));
	was_root = geteuid() == 0;
	if (become_user(cfg, socket) != 0)
		goto fail;
	if (was_root)
		warn_reload_files(cfg, NULL);
	if (runtime_open_store(rt, &errors) != 0) {
		log_errors("", &errors);
		goto fail;
	}
	if (daemon_pidfile_write() != 0)
		goto fail;
	runtime_publish(rt);
	if (notice_start() != 0 || retention_start() != 0)
		goto fail;
	if (pthread_create(&reload_thread, NULL, reloader, NULL) != 0 || milter_start() != 0) {
		msg_error("cannot start threads");
		goto fail;
	}
	pw = getpwuid(geteuid());
	msg_info("start version=%s mode=%s socket=%s config=%s user=%s", PACKAGE_VERSION,
		 mode_name(cfg->mode), socket, cfg->path, pw ? pw->pw_name : "?");
	if (!o.foreground) {
		log_init(LOG_IDENT_MILTER, cfg->syslog, false, cfg->syslog_facility);
		daemon_started();
	}
	serve_signals(&signals);

	/*
	 * No new connections. libmilter removes whatever socket is at the path
	 * when it closes its own, so the pid file is held (marked stopping)
	 * until then: a new start waits for it and only then makes its socket.
	 */
	daemon_pidfile_stopping();
	milter_stop();
	daemon_socket_remove();
	daemon_pidfile_release();
	if (milter_wait() != 0)
		msg_error("libmilter ended with an error");
	pthread_mutex_lock(&reload_lock);
	reloader_stop = true;
	pthread_cond_signal(&reload_cond);
	pthread_mutex_unlock(&reload_lock);
	pthread_join(reload_thread, NULL);
	retention_stop();
	if ((left = milter_drain(DRAIN_SECONDS)) > 0) {
		/* something still runs: release nothing it may use, leave at once */
		msg_warn("stop: %d decision(s) still under way after %d s", left, DRAIN_SECONDS);
		_exit(0);
	}
	/* no message can add a notice now: send the waiting ones */
	if (notice_stop(NOTICE_FLUSH_SECONDS) != 0) {
		msg_warn("stop: mailbox notices still being handed over after %d s; what is not "
			 "sent is sent after the next start", NOTICE_FLUSH_SECONDS);
		_exit(0);
	}
	reinject_close_idle();	/* kept SMTP connections say QUIT */
	msg_info("stop version=%s", PACKAGE_VERSION);
	rc = 0;
	runtime_publish(NULL);
fail:
	if (rc != 0) {
		/* leave nothing behind that looks like a running filter */
		daemon_socket_remove();
		daemon_pidfile_release();
	}
	runtime_unref(rt);
	strlist_free(&errors);
	config_unref(cfg);
	/*
	 * libmilter's threads (its signal thread, idle workers) are never
	 * joined and may still run: the libraries' exit-time clean-ups
	 * (OpenSSL, LDAP) must not run under them. What the daemon owns has
	 * been released above; leave without the atexit handlers.
	 */
	fflush(NULL);
	_exit(rc);
}

/* run_user - UserID's passwd entry, or NULL after saying it does not exist. */
static struct passwd *run_user(const struct config *cfg)
{
	struct passwd *pw = cfg->userid ? getpwnam(cfg->userid) : NULL;

	if (pw == NULL)
		msg_error("UserID %s: no such user (create it, or set UserID)",
			  cfg->userid ? cfg->userid : "(none)");
	return pw;
}

/*
 * prepare_places - as root, the directories of the socket, the pid file
 * and the database are created for UserID when they are missing: /run is
 * emptied at every boot.
 */
static int prepare_places(const struct config *cfg, const char *socket)
{
	const char *paths[3] = { config_socket_path(socket), cfg->pidfile, cfg->database };
	static const char *const keys[3] = { "Socket", "PidFile", "Database" };
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	if ((pw = run_user(cfg)) == NULL)
		return -1;
	for (size_t i = 0; i < 3; i++)
		if (paths[i] != NULL && daemon_make_dir(keys[i], paths[i], pw->pw_uid, pw->pw_gid) != 0)
			return -1;
	return 0;
}

/*
 * block_signals - before any thread exists, so that every thread inherits
 * the mask and only sigwait() in the main thread takes these signals.
 * SIGPIPE is ignored: a client or a re-injection pipe going away is an
 * error return, not a reason to die.
 */
static void block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGUSR2);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* serve_signals - until SIGTERM or SIGINT (or serving ends by itself). */
static void serve_signals(const sigset_t *set)
{
	int sig;

	for (;;) {
		if ((sig = sigwaitinfo(set, NULL)) < 0)
			continue;
		switch (sig) {
		case SIGHUP:
		case SIGUSR1:
			pthread_mutex_lock(&reload_lock);
			reload_requests++;
			pthread_cond_signal(&reload_cond);
			pthread_mutex_unlock(&reload_lock);
			break;
		case SIGUSR2:
			msg_info("SIGUSR2 ignored (SIGUSR1 or SIGHUP reloads)");
			break;
		default:
			msg_info("%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
			return;
		}
	}
}

static void *reloader(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&reload_lock);
	for (;;) {
		while (reload_requests == 0 && !reloader_stop)
			pthread_cond_wait(&reload_cond, &reload_lock);
		if (reloader_stop)
			break;
		reload_requests = 0;	/* several signals in a row: one reload reads them all */
		pthread_mutex_unlock(&reload_lock);
		reload();
		pthread_mutex_lock(&reload_lock);
	}
	pthread_mutex_unlock(&reload_lock);
	return NULL;
}

/*
 * reload - a new runtime from the files, published whole, or the old one
 * kept and one log line saying why. Socket, UserID and PidFile were used
 * at start-up and keep their values until a restart.
 */
static void reload(void)
{
	struct strlist errors;
	struct strbuf why;
	struct config *cfg;
	struct runtime *rt = NULL, *old = runtime_current();

	strlist_init(&errors);
	if ((cfg = config_load(config_file, &errors)) != NULL &&
	    (rt = runtime_load(cfg, &errors)) != NULL)
		runtime_open_store(rt, &errors);
	if (errors.n > 0) {
		sb_init(&why);
		for (size_t i = 0; i < errors.n && i < 5; i++)
			sb_printf(&why, "%s%s", i ? "; " : "", errors.v[i]);
		if (errors.n > 5)
			sb_printf(&why, "; and %zu more", errors.n - 5);
		msg_error("reload refused, the running configuration stays: %s", why.s);
		sb_free(&why);
	} else {
		if (old != NULL && (strcmp(cfg->socket, old->cfg->socket) != 0 ||
				    strcmp(cfg->userid, old->cfg->userid) != 0))
			msg_warn("reload: Socket and UserID keep their start-up values until a restart");
		log_set_level(cfg->log_level);
		runtime_publish(rt);
		retention_wake();
		msg_notice("reload accepted: configuration %s (generation %lu, %s mode)", cfg->path,
			   rt->generation, mode_name(cfg->mode));
	}
	runtime_unref(rt);
	runtime_unref(old);
	config_unref(cfg);
	strlist_free(&errors);
}

/*
 * warn_reload_files - a warning for each file a reload reads that the
 * filter's user cannot: start-up, as root, got by without it, but every
 * reload would be refused. pw as runtime_check_reload_files takes it.
 */
static void warn_reload_files(const struct config *cfg, const struct passwd *pw)
{
	struct strlist problems;

	strlist_init(&problems);
	runtime_check_reload_files(cfg, config_file, pw, &problems);
	for (size_t i = 0; i < problems.n; i++)
		msg_warn("%s", problems.v[i]);
	strlist_free(&problems);
}

/* socket_dir_group - the group of the directory holding path, or fallback. */
static gid_t socket_dir_group(const char *path, gid_t fallback)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	struct stat st;
	gid_t gid = fallback;

	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (stat(dir, &st) == 0)
			gid = st.st_gid;
	}
	free(dir);
	return gid;
}

/*
 * become_user - as root: give a local socket to UserID, then become that
 * user with its groups, and refuse to go on as root. Not root: nothing to
 * do (UserID is ignored).
 */
static int become_user(const struct config *cfg, const char *socket_spec)
{
	const char *path = config_socket_path(socket_spec);
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	if ((pw = run_user(cfg)) == NULL)
		return -1;
	if (pw->pw_uid == 0) {
		msg_error("UserID %s is root: refusing to run as root", cfg->userid);
		return -1;
	}
	/*
	 * The socket belongs to UserID and to the group of its directory:
	 * Postfix's daemons keep only their primary group (postfix), so a
	 * directory of group postfix is how smtpd gets in. lchown: never
	 * follow a link that someone put in the socket's place.
	 */
	if (path != NULL && lchown(path, pw->pw_uid, socket_dir_group(path, pw->pw_gid)) != 0) {
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

/*
 * daemon.h - what a daemon does around its work, so that a start tells the
 * truth and a stop never takes anything from the next start.
 *
 *   daemon_detach / daemon_started   fork into the background, but let the
 *                     starting process wait for the outcome: it exits 0
 *                     only when the daemon says the start succeeded, and 1
 *                     (the reason is already on standard error) when the
 *                     daemon failed or died on the way.
 *   daemon_make_dir   the directory a runtime file goes in, created with
 *                     the daemon user as owner when it is missing
 *                     (/run is emptied at every boot).
 *   daemon_pidfile_*  the pid file, locked for the daemon's life: a second
 *                     instance is refused at once with "already running
 *                     (pid N)". A stopping daemon says so in the file and
 *                     lets go as soon as it no longer listens; a start
 *                     waits for that, so that TERM-then-start in any
 *                     timing ends with the new daemon running. Never
 *                     removed unless it is ours.
 *   daemon_socket_*   a socket path another daemon is answering on is
 *                     refused; a stale one is taken over; at the end only
 *                     our own socket file is removed.
 */
#ifndef SIKKERMAIL_DAEMON_H
#define SIKKERMAIL_DAEMON_H

#include <stdbool.h>
#include <sys/types.h>

/* daemon_detach - fork; the parent waits for daemon_started and exits. 0 in the child, -1 on error. */
int daemon_detach(void);
/* daemon_started - tell the waiting parent the start succeeded; standard I/O goes to /dev/null. */
void daemon_started(void);

/*
 * daemon_make_dir - create the directory holding path (the value of the
 * configuration key named key) if it is missing (one level: its parent
 * must exist), mode 0750, owned by uid/gid when running as root. 0, or -1
 * after logging why.
 */
int daemon_make_dir(const char *key, const char *path, uid_t uid, gid_t gid);

/*
 * daemon_pidfile_lock - open and lock path, waiting up to a few seconds
 * for a daemon that is stopping to let go. -1 after logging "already
 * running (pid N)" or why not.
 */
int daemon_pidfile_lock(const char *path);
/* daemon_pidfile_write - our pid into the locked file; 0 or -1. */
int daemon_pidfile_write(void);
/* daemon_pidfile_stopping - "PID stopping" into it: a new start waits for us. */
void daemon_pidfile_stopping(void);
/* daemon_pidfile_release - remove the file if it is still ours, and unlock. */
void daemon_pidfile_release(void);

/*
 * daemon_socket_check - is something answering on the local socket path?
 * -1 after logging "already running" if so; 0 when it is free or stale.
 * Not a local socket: 0.
 */
int daemon_socket_check(const char *path);
/* daemon_socket_remember - note the socket file created, to remove only that one. */
void daemon_socket_remember(const char *path);
/* daemon_socket_remove - remove the socket file if it is still the one we created. */
void daemon_socket_remove(void);

#endif

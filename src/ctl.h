/*
 * ctl.h - the commands of sikkermail-ctl, the administration tool, kept
 * apart from main() so that they can be driven from tests.
 *
 *   sikkermail-ctl [-c FILE] [-d DATABASE] COMMAND ...
 *     import tunnel|partners|freemail FILE
 *     list tunnel|partners|freemail
 *     import domain-certs FILE | list domain-certs
 *     explain [--personal] ADDRESS...
 *     cert ADDRESS...
 *     cache stats | cache purge [ADDRESS...]
 *     report [--since DATE] [--until DATE] [--format F] [--top N] [--log FILE...]
 *     export tls-policy [--level LEVEL] [--protocols PROTOCOLS]
 *     held [--since DATE] [--all] [--config-dir DIR]
 *     release|delete [--config-dir DIR] QUEUEID...
 *     replay --config FILE [--since DATE] [--until DATE] [--database DB] [--format F]
 *     purge [--before DATE] [--dry-run] [--vacuum]
 *     serve [--listen ADDR:PORT] [--rate N] [--behind-proxy]
 *
 * Normal output goes to the FILE * in struct ctl (stdout); diagnostics go
 * through msg_* (stderr). Exit codes: CTL_EX_OK, CTL_EX_ERROR (bad input:
 * a bad list line, an invalid address, a configuration error),
 * CTL_EX_USAGE (sysexits EX_USAGE, as sikkermail-milter) and
 * CTL_EX_TEMPFAIL (sysexits EX_TEMPFAIL: the database or the certificate
 * directory could not answer; try again).
 */
#ifndef SIKKERMAIL_CTL_H
#define SIKKERMAIL_CTL_H

#include <stdio.h>

#include "config.h"
#include "store.h"

#define CTL_EX_OK 0
#define CTL_EX_ERROR 1
#define CTL_EX_USAGE 64
#define CTL_EX_TEMPFAIL 75

struct certs;

struct ctl {
	struct config *cfg;	/* the configuration in effect */
	struct certs *certs;	/* ctl_certs_start: directory pool and trust store */
	const char *database;	/* -d, else cfg->database */
	FILE *out;		/* normal output */
};

/* ctl_main - parse the options, load the configuration, run the command; returns the exit code. */
int ctl_main(int argc, char **argv, FILE *out);

/* The commands; argv[0] is the command name. Each returns an exit code. */
int ctl_import(struct ctl *c, int argc, char **argv);
int ctl_list(struct ctl *c, int argc, char **argv);
int ctl_explain(struct ctl *c, int argc, char **argv);
int ctl_cert(struct ctl *c, int argc, char **argv);	/* ctl_cert.c */
int ctl_cache(struct ctl *c, int argc, char **argv);	/* ctl_cert.c */
int ctl_import_domain_certs(struct ctl *c, int argc, char **argv);	/* ctl_cert.c */
int ctl_list_domain_certs(struct ctl *c, int argc, char **argv);	/* ctl_cert.c */
int ctl_report(struct ctl *c, int argc, char **argv);	/* ctl_report.c */
int ctl_export(struct ctl *c, int argc, char **argv);	/* ctl_export.c */
int ctl_replay(struct ctl *c, int argc, char **argv);	/* ctl_replay.c */
int ctl_purge(struct ctl *c, int argc, char **argv);	/* ctl_purge.c */

/* ctl_usage_error - report a usage error (and the usage text); returns CTL_EX_USAGE. */
int ctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * ctl_refresh_tls_policy - after an import: rewrite TLSPolicyMap (when set)
 * and run postmap; CTL_EX_OK, or CTL_EX_ERROR after saying the table is
 * stale. ctl_export.c
 */
int ctl_refresh_tls_policy(struct ctl *c);
/* ctl_check_mta - the ways Postfix can send mail past the filter. ctl_mta.c */
int ctl_check_mta(struct ctl *c, int argc, char **argv);
/* How ctl_run treats the tool's standard error. */
enum ctl_run_stderr {
	CTL_RUN_STDERR,		/* passed on to ours */
	CTL_RUN_QUIET,		/* thrown away */
	CTL_RUN_MERGE		/* returned with its output */
};
/*
 * ctl_run - run argv[0] (from /usr/sbin, else PATH) without a shell, with
 * this process's environment (MAIL_CONFIG selects a Postfix instance);
 * its output, or NULL if it could not be started (errno set). *status is
 * waitpid's. Output past CTL_RUN_OUTPUT_MAX is read and dropped: a result
 * that long was cut. ctl_mta.c
 */
#define CTL_RUN_OUTPUT_MAX (64L * 1024 * 1024)
char *ctl_run(const char *const argv[], enum ctl_run_stderr err, int *status);
/* ctl_held, ctl_release_or_delete - the messages the filter held, and their fate. ctl_held.c */
int ctl_held(struct ctl *c, int argc, char **argv);
int ctl_release_or_delete(struct ctl *c, int argc, char **argv);
/* ctl_reload - signal the running filter (PidFile) to reload. ctl_admin.c */
int ctl_reload(struct ctl *c, int argc, char **argv);
/* ctl_serve - the read-only web service and page until SIGTERM or SIGINT. ctl_serve.c */
int ctl_serve(struct ctl *c, int argc, char **argv);
/* ctl_become_user - as root, become UserID (0), or say why not (-1). ctl_admin.c */
int ctl_become_user(const struct config *cfg);
/* ctl_open_store - the database, or NULL after saying why and what fixes it. ctl_admin.c */
struct store *ctl_open_store(struct ctl *c, enum store_mode mode);
/* ctl_certs_start - c->certs once, for the commands that look certificates up; 0 or -1. */
int ctl_certs_start(struct ctl *c);

#endif

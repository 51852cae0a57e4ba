/*
 * milter.h - the libmilter glue, seen from main.c.
 *
 * milter.c is the only file that includes <libmilter/mfapi.h>. Its
 * callbacks gather facts into a struct decision; at end of message the
 * recipients are classified, policy_decide chooses, and one function turns
 * the verdict into the SMTP reply, the header changes and the audit record.
 */
#ifndef SIKKERMAIL_MILTER_H
#define SIKKERMAIL_MILTER_H

#include "config.h"

/*
 * milter_setup - register the filter and open the listening socket (as
 * root, before privileges are dropped). cfg is referenced for the life of
 * the process. Returns 0, or -1 after logging why.
 */
int milter_setup(struct config *cfg, const char *socket_spec);

/* milter_run - serve connections until SIGTERM/SIGINT/SIGHUP; 0 or -1. */
int milter_run(void);

/*
 * milter_drain - wait up to seconds for the decisions under way (end of
 * data being handled) to finish; returns how many remain.
 */
int milter_drain(int seconds);

/* milter_socket_path - the filesystem path of a local:/unix: socket spec, or NULL for inet. */
const char *milter_socket_path(const char *socket_spec);

/* milter_version - libmilter's version, for -V. */
void milter_version(unsigned int *major, unsigned int *minor, unsigned int *patch);

#endif

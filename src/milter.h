/*
 * milter.h - the libmilter glue, seen from main.c.
 *
 * milter.c is the only file that includes <libmilter/mfapi.h>. Its
 * callbacks gather facts (facts.h) and hand the end of each message to the
 * pipeline (pipeline.h), which reaches the MTA through the struct mta_ops
 * that milter.c implements over smfi_*.
 */
#ifndef SIKKERMAIL_MILTER_H
#define SIKKERMAIL_MILTER_H

/*
 * milter_setup - register the filter and open the listening socket (as
 * root, before privileges are dropped). Returns 0, or -1 after logging why.
 */
int milter_setup(const char *socket_spec);

/*
 * milter_start - serve connections (smfi_main) in a thread of its own, so
 * that the calling (main) thread can take the signals. The calling thread
 * is sent SIGTERM when serving ends by itself. 0 or -1.
 */
int milter_start(void);

/* milter_stop - stop accepting connections and stop sessions between commands. */
void milter_stop(void);

/* milter_wait - wait for the serving thread; 0, or -1 if libmilter ended with an error. */
int milter_wait(void);

/*
 * milter_drain - after milter_stop and milter_wait: wait up to seconds
 * until no callback is running; returns how many still run.
 */
int milter_drain(int seconds);

/* milter_version - libmilter's version, for -V. */
void milter_version(unsigned int *major, unsigned int *minor, unsigned int *patch);

#endif

/*
 * reinject_int.h - what reinject.c and reinject_smtp.c share; not for the
 * rest of the program (use reinject.h).
 */
#ifndef SIKKERMAIL_REINJECT_INT_H
#define SIKKERMAIL_REINJECT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* A parsed Reinject value. */
struct reinject_target {
	bool smtp;		/* false: the sendmail command */
	char host[256];		/* without the brackets of [IPv6] */
	char port[32];		/* number or service name */
};

/* reinject_smtp - the SMTP hand-off; arguments already checked. */
int reinject_smtp(const struct reinject_target *t, const char *sender,
		  const char *const *rcpts, size_t n, FILE *message, long long deadline,
		  char **err);

long long reinject_now_ms(void);		/* CLOCK_MONOTONIC, milliseconds */
int reinject_left_ms(long long deadline);	/* 0 when past */
char *reinject_one_line(const char *text);	/* an MTA's words, on one line */

#endif

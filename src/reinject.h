/*
 * reinject.h - hand a finished message (an encrypted copy, a notice to a
 * function mailbox) to the MTA, and know when it is durable.
 *
 * Two ways, chosen by the Reinject setting:
 *
 *   sendmail        run SendmailPath -i -f SENDER -- RCPT... (posix_spawn,
 *                   no shell, the daemon's environment passed on, so that
 *                   MAIL_CONFIG selects a Postfix instance), the message on
 *                   its standard input. Durable when it exits 0; otherwise
 *                   its standard error is the explanation.
 *   smtp:HOST:PORT  SMTP (EHLO, MAIL FROM, RCPT TO per recipient, DATA
 *                   with dot-stuffing and CRLF line ends, QUIT) to a
 *                   listener that runs no milters; HOST may be [IPv6].
 *                   Durable at the 2xx reply after the data.
 *
 * Either way the whole hand-off has a deadline, so that a stuck MTA cannot
 * hold a message (and a milter thread) forever. Thread-safe; no global
 * state. The caller must not set SIGCHLD to SIG_IGN: the exit status of
 * the sendmail command would be lost.
 */
#ifndef SIKKERMAIL_REINJECT_H
#define SIKKERMAIL_REINJECT_H

#include <stddef.h>
#include <stdio.h>

#include "config.h"

#define REINJECT_TIMEOUT 120	/* seconds for one whole hand-off */

/*
 * reinject_message - queue message (read from its current position to the
 * end; LF or CRLF line ends) for rcpts[0..n) with the envelope sender
 * sender ("" or NULL: the null sender <>). Returns 0 when the MTA has
 * taken responsibility for it, else -1 with *err set to a malloc'ed
 * English explanation that includes the MTA's own words.
 */
int reinject_message(const struct config *cfg, const char *sender, const char *const *rcpts,
		     size_t n, FILE *message, char **err);

/* reinject_message_timeout - the same with a deadline of timeout seconds (> 0). */
int reinject_message_timeout(const struct config *cfg, const char *sender,
			     const char *const *rcpts, size_t n, FILE *message, int timeout,
			     char **err);

/*
 * reinject_check - is spec a valid Reinject value ("sendmail" or
 * "smtp:HOST:PORT")? 0, or -1 with *err set (for the configuration parser).
 */
int reinject_check(const char *spec, char **err);

/*
 * reinject_close_idle - QUIT and close the SMTP connections kept open
 * between messages (Reinject smtp:), e.g. at shutdown.
 */
void reinject_close_idle(void);

#endif

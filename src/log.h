/*
 * log.h - the only way sikkermail writes diagnostics.
 *
 * Messages go to syslog (facility mail by default) and/or stderr. Nothing
 * else in the tree calls syslog() or writes diagnostics to stderr directly.
 * Levels follow syslog: LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO,
 * LOG_DEBUG; messages above the configured level are dropped.
 */
#ifndef SIKKERMAIL_LOG_H
#define SIKKERMAIL_LOG_H

#include <stdbool.h>
#include <stddef.h>

#define LOG_IDENT_MILTER "sikkermail-milter"	/* the daemon's syslog tag */

/* log_init - set the identity and the destinations. Safe to call again. */
void log_init(const char *ident, bool to_syslog, bool to_stderr, int facility);
void log_set_level(int level);	/* a LOG_* priority */
int log_get_level(void);
/* log_level_parse - "error", "warning", "notice", "info", "debug" or 0-7; -1 if bad */
int log_level_parse(const char *s);
/* log_facility_parse - "mail", "daemon", "local0".."local7"; -1 if bad */
int log_facility_parse(const char *s);

/*
 * log_redact_addresses - from now on, log_addr withholds what it is given:
 * for a process whose log must not say which addresses it was asked
 * about (sikkermail-ctl serve). The filter logs its recipients.
 */
void log_redact_addresses(bool on);
/* log_addr - s (an address, or a search filter made from one), or a stand-in when redacting. */
const char *log_addr(const char *s);
/* log_addresses_redacted - whether log_addr withholds. */
bool log_addresses_redacted(void);

void msg_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * log_defang - in, with every control character written \xHH, into out
 * (size bytes, always terminated; cut short if it does not fit); its
 * length. What goes to syslog goes through it: a newline in text the
 * filter quotes (a server's error message, an address) must not start a
 * line of its own in the mail log, where it could pass for one of the
 * filter's decision lines. (Standard error, for a terminal, is left as it
 * is: the usage text is several lines.)
 */
size_t log_defang(const char *in, char *out, size_t size);

/* msg_audit - one decision line; always logged at LOG_NOTICE regardless of level. */
void msg_audit(const char *line);

#endif

/*
 * log.c - the only module that talks to syslog and stderr.
 *
 * msg_* format a message once and send it to each configured destination.
 * Thread-safe: syslog(3) is, and each stderr line is one fputs of a fully
 * formatted buffer.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "log.h"

static const char *log_ident = "sikkermail";
static bool log_to_syslog = false;
static bool log_to_stderr = true;
static int log_level = LOG_INFO;
static bool log_redact;		/* log_addr withholds: set once, before any thread starts */

static void msg_vlog(int pri, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

void log_init(const char *ident, bool to_syslog, bool to_stderr, int facility)
{
	if (log_to_syslog)
		closelog();
	log_ident = ident;
	log_to_syslog = to_syslog;
	log_to_stderr = to_stderr;
	if (to_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, facility);
}

void log_redact_addresses(bool on)
{
	log_redact = on;
}

bool log_addresses_redacted(void)
{
	return log_redact;
}

const char *log_addr(const char *s)
{
	return log_redact ? "(an address, not logged)" : s;
}

void log_set_level(int level)
{
	log_level = level;
}

int log_get_level(void)
{
	return log_level;
}

static const struct {
	const char *name;
	int value;
} log_levels[] = {
	{ "error", LOG_ERR }, { "warning", LOG_WARNING }, { "notice", LOG_NOTICE },
	{ "info", LOG_INFO }, { "debug", LOG_DEBUG },
};

int log_level_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
		if (strcasecmp(s, log_levels[i].name) == 0)
			return log_levels[i].value;
	if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
		return s[0] - '0';
	return -1;
}

static const struct {
	const char *name;
	int value;
} log_facilities[] = {
	{ "mail", LOG_MAIL },	  { "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

int log_facility_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(log_facilities) / sizeof(log_facilities[0]); i++)
		if (strcasecmp(s, log_facilities[i].name) == 0)
			return log_facilities[i].value;
	return -1;
}

static const char *level_tag(int pri)
{
	switch (pri) {
	case LOG_CRIT:
		return "fatal: ";
	case LOG_ERR:
		return "error: ";
	case LOG_WARNING:
		return "warning: ";
	case LOG_DEBUG:
		return "debug: ";
	default:
		return "";
	}
}

size_t log_defang(const char *in, char *out, size_t size)
{
	size_t o = 0;

	if (size == 0)
		return 0;
	for (const unsigned char *p = (const unsigned char *)in; *p && o + 5 < size; p++) {
		if (*p < 0x20 || *p == 0x7f)
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", *p);
		else
			out[o++] = (char)*p;
	}
	out[o] = '\0';
	return o;
}

static void msg_vlog(int pri, const char *fmt, va_list ap)
{
	char buf[4096];

	if (pri > log_level && pri != LOG_CRIT)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (log_to_syslog) {
		/* one message, one log line: see log_defang */
		char safe[4096];

		log_defang(buf, safe, sizeof(safe));
		syslog(pri, "%s%s", level_tag(pri), safe);
	}
	if (log_to_stderr) {
		char line[4200];
		snprintf(line, sizeof(line), "%s: %s%s\n", log_ident, level_tag(pri), buf);
		fputs(line, stderr);
		fflush(stderr);
	}
}

#define MSG_FN(name, pri)                         \
	void name(const char *fmt, ...)           \
	{                                         \
		va_list ap;                       \
		va_start(ap, fmt);                \
		msg_vlog(pri, fmt, ap);           \
		va_end(ap);                       \
	}

MSG_FN(msg_debug, LOG_DEBUG)
MSG_FN(msg_info, LOG_INFO)
MSG_FN(msg_notice, LOG_NOTICE)
MSG_FN(msg_warn, LOG_WARNING)
MSG_FN(msg_error, LOG_ERR)

void msg_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	msg_vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}

void msg_audit(const char *line)
{
	if (log_to_syslog)
		syslog(LOG_NOTICE, "%s", line);
	if (log_to_stderr) {
		fprintf(stderr, "%s: %s\n", log_ident, line);
		fflush(stderr);
	}
}

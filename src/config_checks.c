/*
 * config_checks.c - the checks of the configuration file's string values
 * (a path, a milter socket, a user name, a header field name, a URL, an
 * LDAP filter, ...) and the rules for one entry of a list: what
 * config_set_str and config_set_list (config_values.c) run before they
 * store a value.
 *
 * Exports, to config.c only (config_int.h): config_check_* and
 * config_entry_*. The key table in config.c says which key uses which.
 *
 * A check says exactly what is wrong with config_perr and returns false;
 * it never changes the configuration.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "address.h"
#include "audit.h"
#include "config_int.h"
#include "util.h"

#define HEADER_NAME_MAX 64
#define TEXT_MAX 200			/* SecureSubject, HelpURL: they end up in headers and replies */
#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1)

static const char *skip_prefix(const char *s, const char *prefix);
static bool port_ok(const char *s, size_t n);
static bool host_ok(const char *s, size_t n);

/* ------------------------------------------------------------ value checks */

bool config_check_path(struct parser *p, const char *v)
{
	if (v[0] == '/' && strlen(v) < PATH_MAX)
		return true;
	config_perr(p, "\"%.*s%s\" is not an absolute path", QV(v));
	return false;
}

/*
 * config_check_map - TYPE:FILE of a Postfix indexed table that postmap
 * builds (hash, btree, cdb, lmdb), FILE absolute.
 */
bool config_check_map(struct parser *p, const char *v)
{
	static const char *const types[] = { "hash:", "btree:", "cdb:", "lmdb:" };

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strncmp(v, types[i], strlen(types[i])) == 0)
			return config_check_path(p, v + strlen(types[i]));
	config_perr(p, "\"%.*s%s\": expected hash:, btree:, cdb: or lmdb: and an absolute path",
		    QV(v));
	return false;
}

/* config_check_socket - the forms libmilter's smfi_setconn accepts, with a numeric port. */
bool config_check_socket(struct parser *p, const char *v)
{
	const char *rest = v[0] == '/' ? v : skip_prefix(v, "local:");

	if (rest == NULL)
		rest = skip_prefix(v, "unix:");
	if (rest != NULL) {
		if (!config_check_path(p, rest))
			return false;
		if (strlen(rest) <= SUN_PATH_MAX)
			return true;
		config_perr(p, "socket path longer than %zu bytes", SUN_PATH_MAX);
		return false;
	}
	if ((rest = skip_prefix(v, "inet:")) != NULL || (rest = skip_prefix(v, "inet6:")) != NULL) {
		size_t n = strcspn(rest, "@");

		if (port_ok(rest, n) && (rest[n] == '\0' || host_ok(rest + n + 1, strlen(rest + n + 1))))
			return true;
	}
	config_perr(p, "bad value \"%.*s%s\": expected local:/PATH, inet:PORT@HOST or "
		    "inet6:PORT@HOST", QV(v));
	return false;
}

bool config_check_userid(struct parser *p, const char *v)
{
	size_t n = strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");

	if (v[n] == '\0' && n <= 32 && v[0] != '-')
		return true;
	config_perr(p, "bad value \"%.*s%s\": expected a user name", QV(v));
	return false;
}

/* config_check_field_name - RFC 5322 ftext: printable ASCII except ':'. */
bool config_check_field_name(struct parser *p, const char *v)
{
	const unsigned char *s = (const unsigned char *)v;

	for (; *s > 32 && *s < 127 && *s != ':'; s++)
		;
	if (*s == '\0' && strlen(v) <= HEADER_NAME_MAX)
		return true;
	config_perr(p, "bad value \"%.*s%s\": expected a header field name (printable ASCII, "
		    "no ':' or white space, at most %d characters)", QV(v), HEADER_NAME_MAX);
	return false;
}

/*
 * config_check_instance - InstanceName names the filter in every decision
 * line and record: a short word that needs no quoting in either log format.
 */
bool config_check_instance(struct parser *p, const char *v)
{
	size_t n = strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.:_-");

	if (v[n] == '\0' && n > 0 && n <= AUDIT_INSTANCE_MAX)
		return true;
	config_perr(p, "bad value \"%.*s%s\": expected a name of letters, digits, '.', ':', "
		    "'_' and '-', at most %d characters", QV(v), AUDIT_INSTANCE_MAX);
	return false;
}

/* config_check_url - HelpURL goes into SMTP replies: printable ASCII, no space. */
bool config_check_url(struct parser *p, const char *v)
{
	const char *rest = skip_prefix(v, "https://");
	const unsigned char *s;

	if (rest == NULL)
		rest = skip_prefix(v, "http://");
	for (s = (const unsigned char *)v; *s > 32 && *s < 127; s++)
		;
	if (rest != NULL && *rest != '\0' && *s == '\0' && strlen(v) <= TEXT_MAX)
		return true;
	config_perr(p, "bad value \"%.*s%s\": expected an http:// or https:// URL without spaces, "
		    "at most %d characters", QV(v), TEXT_MAX);
	return false;
}

/* config_check_ldap_filter - one %s for the (escaped) address, nothing else with '%'. */
bool config_check_ldap_filter(struct parser *p, const char *v)
{
	int depth = 0, n_s = 0;
	bool good = v[0] == '(';

	for (const char *s = v; *s != '\0' && good; s++) {
		if (*s == '(')
			depth++;
		else if (*s == ')')
			good = --depth >= 0 && (depth > 0 || s[1] == '\0');
		else if (*s == '%' && s[1] == 's')
			n_s++, s++;
		else if (*s == '%')
			good = false;
	}
	if (!good || depth != 0) {
		config_perr(p, "bad value \"%.*s%s\": expected one parenthesised filter such as "
			    "(mail=%%s)", QV(v));
		return false;
	}
	if (n_s != 1) {
		config_perr(p, "must contain exactly one %%s (the address), not %d", n_s);
		return false;
	}
	return true;
}

bool config_check_cipher(struct parser *p, const char *v)
{
	if (ascii_strcasecmp(v, "aes-256-cbc") == 0 || ascii_strcasecmp(v, "aes-256-gcm") == 0)
		return true;
	config_perr(p, "bad value \"%.*s%s\": expected aes-256-cbc or aes-256-gcm", QV(v));
	return false;
}

bool config_check_reinject(struct parser *p, const char *v)
{
	const char *rest = skip_prefix(v, "smtp:"), *colon;

	if (ascii_strcasecmp(v, "sendmail") == 0)
		return true;
	if (rest != NULL && (colon = strrchr(rest, ':')) != NULL &&
	    host_ok(rest, (size_t)(colon - rest)) && port_ok(colon + 1, strlen(colon + 1)))
		return true;
	config_perr(p, "bad value \"%.*s%s\": expected sendmail or smtp:HOST:PORT (port 1..65535, "
		    "an IPv6 address in brackets)", QV(v));
	return false;
}

bool config_check_text(struct parser *p, const char *v)
{
	if (strlen(v) <= TEXT_MAX)
		return true;
	config_perr(p, "too long (at most %d bytes)", TEXT_MAX);
	return false;
}

char *config_entry_domain(const char *entry, const char **why)
{
	return domain_entry_normalise(entry, why);
}

char *config_entry_ldap_uri(const char *entry, const char **why)
{
	if (skip_prefix(entry, "ldap://") != NULL || skip_prefix(entry, "ldaps://") != NULL ||
	    skip_prefix(entry, "ldapi://") != NULL)
		return xstrdup(entry);
	*why = "expected an ldap://, ldaps:// or ldapi:// URI";
	return NULL;
}

/* ------------------------------------------------------------ helpers */

/* skip_prefix - s after a case-insensitive prefix, or NULL. */
static const char *skip_prefix(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	return ascii_strncasecmp(s, prefix, n) == 0 ? s + n : NULL;
}

static bool port_ok(const char *s, size_t n)
{
	long port = 0;

	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		port = port * 10 + (s[i] - '0');
	}
	return port >= 1 && port <= 65535;
}

/* host_ok - a host name, an IPv4 address, or an address in brackets. */
static bool host_ok(const char *s, size_t n)
{
	char buf[INET6_ADDRSTRLEN];
	struct in6_addr a6;
	const char *ldh = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-";

	if (n == 0)
		return false;
	if (s[0] == '[') {
		if (n < 3 || s[n - 1] != ']' || n - 2 >= sizeof(buf))
			return false;
		memcpy(buf, s + 1, n - 2);
		buf[n - 2] = '\0';
		return inet_pton(AF_INET6, buf, &a6) == 1 || inet_pton(AF_INET, buf, &a6) == 1;
	}
	for (size_t i = 0; i < n; i++)
		if (strchr(ldh, s[i]) == NULL || s[i] == '\0')
			return false;
	return n <= 253;
}

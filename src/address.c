/*
 * address.c - normalise an envelope address (pure: no I/O, no logging).
 *
 * Exports address_normalise(), address_free(), domain_match(),
 * domain_normalise() and domain_entry_normalise(); see address.h.
 *
 * The input is what the MTA hands the milter for MAIL FROM or RCPT TO: a
 * byte buffer with a length, possibly with angle brackets, a source route
 * and ESMTP parameters. The output is the address the MTA will deliver to,
 * or a refusal with a short reason. Everything that could be read two ways
 * (a '%' hack, a bang path, a quote that hides an '@', a homograph, an
 * A-label that does not round-trip) is either made unambiguous or refused:
 * a wrong answer here decides whether personal data leaves the house.
 *
 * Grammar (RFC 5321 4.1.2, with RFC 6531 UTF-8 in local parts):
 *	path       = "<" [ route ":" ] mailbox ">" [ params ] | mailbox [ " " params ]
 *	route      = "@" domain *( "," "@" domain )
 *	mailbox    = local-part "@" ( domain | address-literal )
 *	local-part = dot-string | quoted-string
 * Mixed forms from RFC 822 (a."b".c) are refused.
 */
#include <arpa/inet.h>
#include <idn2.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "util.h"

#define DOMAIN_MAX 253		/* RFC 1035, without the trailing dot */
#define LABEL_MAX 63

/* The span of raw input that holds one address, before it is taken apart. */
struct span {
	const char *s;
	size_t len;
};

static const char *check_bytes(const char *s, size_t len);
static const char *skip_quoted(const char *s, size_t len, size_t *i);
static const char *extract_path(const char *raw, size_t len, struct span *path);
static const char *route_domain_ok(const char *s, size_t len);
static const char *strip_route(struct span *path);
static const char *split_mailbox(struct span path, struct span *local, struct span *domain);
static bool is_atext(unsigned char c);
static const char *check_dot_string(struct span local);
static const char *check_quoted_string(struct span local);
static const char *check_dequoted(struct span local);
static const char *check_local(struct span local);
static char *literal_normalise(const char *s, size_t len, const char **why);
static const char *check_ldh(const char *s);
static char *idn_to_alabel(char *name, const char **why);
static bool has_alabel(const char *s);
static bool is_ascii(const char *s);

static const char why_nul[] = "address contains a NUL byte";
static const char why_ctrl[] = "address contains a control character";
static const char why_utf8[] = "address is not valid UTF-8";
static const char why_quote[] = "address has an unterminated quoted string";
static const char why_angle[] = "address has unbalanced angle brackets";
static const char why_route[] = "address has a malformed source route";
static const char why_nodomain[] = "address has no domain";
static const char why_nolocal[] = "address has an empty local part";
static const char why_local_long[] = "local part too long";
static const char why_local[] = "local part has invalid syntax";
static const char why_routed[] = "address with a percent-sign route or bang path is not accepted";
static const char why_qrouted[] =
	"quoted local part with a character the mail server could read as a route "
	"(such as '@', ':' or ',') is not accepted";
static const char why_long[] = "address too long";
static const char why_null[] = "null address";
static const char why_dom_empty[] = "domain is empty";
static const char why_dom_syntax[] = "domain has invalid syntax";
static const char why_dom_label[] = "domain label too long";
static const char why_dom_long[] = "domain too long";
static const char why_dom_idn[] = "domain is not a valid internationalised domain name";
static const char why_dom_tld[] = "is a whole top-level domain; name a domain below it";
static const char why_literal[] = "address literal is not a valid IPv4 or IPv6 address";

/*
 * check_bytes - refuse NUL, control characters and malformed UTF-8. Done on
 * the whole input first, so no later step ever sees such a byte (and the
 * C strings made from the input cannot be cut short by a NUL).
 */
static const char *check_bytes(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n;

	while (i < len) {
		if (u[i] == '\0')
			return why_nul;
		if (u[i] < 0x20 || u[i] == 0x7f)
			return why_ctrl;
		n = utf8_decode(u + i, len - i, NULL);
		if (n == 0)
			return why_utf8;
		i += n;
	}
	return NULL;
}

/*
 * skip_quoted - *i is at an opening '"'; move it just past the closing one.
 * A backslash inside quotes takes the next byte with it.
 */
static const char *skip_quoted(const char *s, size_t len, size_t *i)
{
	size_t j;

	for (j = *i + 1; j < len; j++) {
		if (s[j] == '\\') {
			j++;
			continue;
		}
		if (s[j] == '"') {
			*i = j + 1;
			return NULL;
		}
	}
	return why_quote;
}

/*
 * extract_path - find the address in raw: the text between '<' and the
 * matching '>' (quotes may hide a '>'), or, without brackets, the text up
 * to the first space outside quotes. What follows is ESMTP parameters.
 */
static const char *extract_path(const char *raw, size_t len, struct span *path)
{
	size_t i = 0, start;
	bool angle;
	const char *why;

	while (i < len && raw[i] == ' ')
		i++;
	angle = i < len && raw[i] == '<';
	start = angle ? i + 1 : i;
	for (i = start; i < len; ) {
		if (raw[i] == '"') {
			if ((why = skip_quoted(raw, len, &i)) != NULL)
				return why;
			continue;
		}
		if (raw[i] == '<' || (raw[i] == '>' && !angle))
			return why_angle;
		if ((angle && raw[i] == '>') || (!angle && raw[i] == ' '))
			break;
		i++;
	}
	if (angle && i >= len)
		return why_angle;
	path->s = raw + start;
	path->len = i - start;
	return NULL;
}

/* route_domain_ok - a source route hop must at least be a valid domain. */
static const char *route_domain_ok(const char *s, size_t len)
{
	const char *why = NULL;
	char *copy = xstrndup(s, len);
	char *norm = domain_normalise(copy, false, &why);
	bool ok = norm != NULL;

	free(copy);
	free(norm);
	return ok ? NULL : why_route;
}

/*
 * strip_route - drop "@a,@b:" in front of the mailbox. Postfix ignores
 * source routes and delivers to the mailbox, so that is what we classify.
 * A hop may be an address literal with ':' in it ([IPv6:...]).
 */
static const char *strip_route(struct span *path)
{
	const char *s = path->s;
	size_t len = path->len, i = 0, start;

	/* Without a ':' it is no route but a missing local part ("@kp.dk"). */
	if (len == 0 || s[0] != '@' || memchr(s, ':', len) == NULL)
		return NULL;
	for (;;) {
		if (i >= len || s[i] != '@')
			return why_route;
		start = ++i;
		while (i < len && s[i] != ',' && s[i] != ':') {
			if (s[i] == '[')
				while (i < len && s[i] != ']')
					i++;
			if (i < len)
				i++;
		}
		if (i >= len || route_domain_ok(s + start, i - start) != NULL)
			return why_route;
		if (s[i++] == ':')
			break;
	}
	if (i >= len)
		return why_route;
	path->s = s + i;
	path->len = len - i;
	return NULL;
}

/*
 * split_mailbox - split at the last '@' outside quotes, so that a quoted
 * local part ("u@kp.dk"@evil.com) can never lend its '@' to the domain.
 */
static const char *split_mailbox(struct span path, struct span *local, struct span *domain)
{
	size_t i = 0, at = path.len;
	const char *why;

	while (i < path.len) {
		if (path.s[i] == '"') {
			if ((why = skip_quoted(path.s, path.len, &i)) != NULL)
				return why;
			continue;
		}
		if (path.s[i] == '@')
			at = i;
		i++;
	}
	if (at == path.len)
		return why_nodomain;
	local->s = path.s;
	local->len = at;
	domain->s = path.s + at + 1;
	domain->len = path.len - at - 1;
	if (local->len == 0)
		return why_nolocal;
	if (domain->len == 0)
		return why_nodomain;
	return NULL;
}

/* is_atext - RFC 5322 atext, plus any UTF-8 byte (RFC 6531). */
static bool is_atext(unsigned char c)
{
	if (c >= 0x80)
		return true;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* check_dot_string - atoms separated by single dots, no dot at either end. */
static const char *check_dot_string(struct span local)
{
	size_t i;

	for (i = 0; i < local.len; i++) {
		unsigned char c = (unsigned char)local.s[i];

		if (c == '.') {
			if (i == 0 || i + 1 == local.len || local.s[i + 1] == '.')
				return why_local;
		} else if (!is_atext(c)) {
			return why_local;
		}
	}
	return NULL;
}

/*
 * check_quoted_string - the whole local part is one quoted string: qtext is
 * any printable byte but '"' and '\', a quoted pair is '\' and a printable
 * ASCII byte. Control bytes are gone already (check_bytes).
 */
static const char *check_quoted_string(struct span local)
{
	size_t i;

	for (i = 1; i < local.len; i++) {
		if (local.s[i] == '\\') {
			if (++i >= local.len || (unsigned char)local.s[i] >= 0x80)
				return why_local;
		} else if (local.s[i] == '"') {
			return i + 1 == local.len ? NULL : why_local;
		}
	}
	return why_quote;
}

/*
 * check_dequoted - a quoted local part as the MTA will see it once it has
 * taken the quotes off. Postfix resolves the dequoted form by default
 * (resolve_dequoted_address = yes): "v@gmail.com"@mx.kp.dk is delivered to
 * v@gmail.com when mx.kp.dk is one of its own domains, and Sendmail's
 * rulesets re-parse a dequoted local part the same way. So once the quotes
 * and quoted pairs are gone, no RFC 5322 special may be left that the
 * address parsers of either MTA give a meaning to: '@' (a second domain),
 * '%' and '!' (percent hack, bang path), ':' ',' ';' (source routes,
 * lists, groups), '<' '>' (a new route-addr), '(' ')' (comments, which the
 * parser drops), '[' ']' (a literal), and '"' and backslash (quoting again). What
 * is left (letters, digits, atext, dots and spaces) names a mailbox of the
 * visible domain whatever the MTA does with it. An empty or all-blank local
 * part is refused too: the MTA would see no local part at all.
 */
static const char *check_dequoted(struct span local)
{
	size_t i;
	bool visible = false;
	unsigned char c;

	/*
	 * local.s[0] and local.s[len - 1] are the quotes, and a '"' or a backslash
	 * inside can only be in a quoted pair (check_quoted_string).
	 */
	for (i = 1; i + 1 < local.len; i++) {
		if (local.s[i] == '\\')
			i++;
		c = (unsigned char)local.s[i];
		if (strchr("@%!:,;<>()[]\\\"", c) != NULL)
			return why_qrouted;
		if (c != ' ')
			visible = true;
	}
	return visible ? NULL : why_nolocal;
}

/*
 * check_local - length, syntax, then the forms the MTA would re-route after
 * us. '%' and '!' count in a dot-string too; a quoted local part is judged
 * by what is left once the MTA has un-quoted it (check_dequoted).
 */
static const char *check_local(struct span local)
{
	const char *why;

	if (local.len > ADDRESS_LOCAL_MAX)
		return why_local_long;
	if (local.s[0] == '"') {
		if ((why = check_quoted_string(local)) != NULL)
			return why;
		return check_dequoted(local);
	}
	if ((why = check_dot_string(local)) != NULL)
		return why;
	if (memchr(local.s, '%', local.len) || memchr(local.s, '!', local.len))
		return why_routed;
	return NULL;
}

enum addr_status address_normalise(const char *raw, size_t len, struct address *out,
				   const char **why)
{
	struct span path, local, dom;
	enum addr_status st = ADDR_INVALID;
	const char *err;
	char *dcopy = NULL, *domain = NULL;

	memset(out, 0, sizeof(*out));
	if (raw == NULL || len == 0) {
		st = len == 0 ? ADDR_NULL : ADDR_INVALID;
		err = len == 0 ? why_null : why_nul;
		goto out;
	}
	if ((err = check_bytes(raw, len)) != NULL || (err = extract_path(raw, len, &path)) != NULL)
		goto out;
	if (path.len == 0) {
		st = ADDR_NULL;
		err = why_null;
		goto out;
	}
	if ((err = strip_route(&path)) != NULL ||
	    (err = split_mailbox(path, &local, &dom)) != NULL)
		goto out;
	if ((err = check_local(local)) != NULL) {
		if (err == why_routed || err == why_qrouted)
			st = ADDR_ROUTED;
		goto out;
	}
	dcopy = xstrndup(dom.s, dom.len);
	if ((domain = domain_normalise(dcopy, false, &err)) == NULL)
		goto out;
	if (local.len + 1 + strlen(domain) > ADDRESS_MAX) {
		err = why_long;
		goto out;
	}
	out->local = xstrndup(local.s, local.len);
	out->domain = domain;
	out->full = xasprintf("%s@%s", out->local, domain);
	domain = NULL;
	st = ADDR_OK;
	err = NULL;
out:
	free(dcopy);
	free(domain);
	if (why != NULL)
		*why = err;
	return st;
}

void address_free(struct address *a)
{
	if (a == NULL)
		return;
	free(a->local);
	free(a->domain);
	free(a->full);
	memset(a, 0, sizeof(*a));
}

bool domain_match(const char *entry, const char *domain)
{
	size_t elen, dlen;

	if (entry == NULL || domain == NULL || *domain == '\0')
		return false;
	if (entry[0] != '.')
		return *entry != '\0' && ascii_strcasecmp(entry, domain) == 0;
	entry++;
	elen = strlen(entry);
	dlen = strlen(domain);
	if (elen == 0 || domain[0] == '[')
		return false;
	if (dlen == elen)
		return ascii_strcasecmp(entry, domain) == 0;
	/* A subdomain: the entry must start right after a dot (a label boundary). */
	return dlen > elen && domain[dlen - elen - 1] == '.' &&
	       ascii_strcasecmp(entry, domain + dlen - elen) == 0;
}

/*
 * literal_normalise - "[1.2.3.4]" or "[IPv6:...]", checked with inet_pton
 * and kept as written but lower-cased. General literals ("[tag:...]") are
 * refused: no MTA delivers to them.
 */
static char *literal_normalise(const char *s, size_t len, const char **why)
{
	char buf[INET6_ADDRSTRLEN + 1];
	unsigned char bin[sizeof(struct in6_addr)];
	const char *body = s + 1;
	size_t blen = len - 2;
	int ok;
	char *res;

	*why = why_literal;
	if (len < 3 || s[len - 1] != ']')
		return NULL;
	if (blen > 5 && ascii_strncasecmp(body, "ipv6:", 5) == 0) {
		body += 5;
		blen -= 5;
	}
	if (blen >= sizeof(buf))
		return NULL;
	memcpy(buf, body, blen);
	buf[blen] = '\0';
	ok = inet_pton(body == s + 1 ? AF_INET : AF_INET6, buf, bin);
	if (ok != 1)
		return NULL;
	*why = NULL;
	res = xstrndup(s, len);
	ascii_lower(res);
	return res;
}

/* check_ldh - letters, digits, hyphens; labels 1..63, no hyphen at an end. */
static const char *check_ldh(const char *s)
{
	size_t label = 0, total = strlen(s), i;

	if (total > DOMAIN_MAX)
		return why_dom_long;
	for (i = 0; i <= total; i++) {
		char c = s[i];

		if (c == '.' || c == '\0') {
			if (label == 0 || s[i - 1] == '-')
				return why_dom_syntax;
			label = 0;
			continue;
		}
		if (c == '-' && label == 0)
			return why_dom_syntax;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return why_dom_syntax;
		if (++label > LABEL_MAX)
			return why_dom_label;
	}
	return NULL;
}

static bool is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

/* has_alabel - does any label start with "xn--" (s is lower-case)? */
static bool has_alabel(const char *s)
{
	const char *p;

	for (p = s; (p = strstr(p, "xn--")) != NULL; p++)
		if (p == s || p[-1] == '.')
			return true;
	return false;
}

/*
 * idn_to_alabel - turn U-labels into A-labels (IDNA2008 with UTS #46
 * non-transitional mapping, as Postfix's SMTPUTF8 code does), and check
 * A-labels by letting libidn2 take them round (decode, check, encode).
 * An all-ASCII name must come back unchanged; anything else is refused,
 * because then we cannot be sure which domain the MTA will route to.
 * Takes over name; returns a new string or NULL.
 */
static char *idn_to_alabel(char *name, const char **why)
{
	char *idn = NULL, *res = NULL;
	bool ascii = is_ascii(name);

	if (ascii && !has_alabel(name))
		return name;
	if (idn2_to_ascii_8z(name, &idn, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) != IDN2_OK ||
	    (ascii && strcmp(idn, name) != 0)) {
		*why = why_dom_idn;
		goto out;
	}
	res = xstrdup(idn);
	ascii_lower(res);
out:
	idn2_free(idn);
	free(name);
	return res;
}

char *domain_normalise(const char *domain, bool allow_leading_dot, const char **why)
{
	const char *err = why_dom_empty, *s;
	bool lead;
	size_t len;
	char *name = NULL, *res = NULL;

	if (domain == NULL)
		goto out;
	lead = allow_leading_dot && domain[0] == '.';
	s = domain + lead;
	len = strlen(s);
	if (len == 0)
		goto out;
	if ((err = check_bytes(s, len)) != NULL)
		goto out;
	if (s[0] == '[') {
		if (lead)
			err = why_dom_syntax;
		else
			res = literal_normalise(s, len, &err);
		goto out;
	}
	name = xstrndup(s, len);
	if (name[len - 1] == '.')
		name[len - 1] = '\0';
	ascii_lower(name);
	if ((name = idn_to_alabel(name, &err)) == NULL || (err = check_ldh(name)) != NULL)
		goto out;
	res = lead ? xasprintf(".%s", name) : name;
	if (res == name)
		name = NULL;
out:
	free(name);
	if (why != NULL)
		*why = res ? NULL : err;
	return res;
}

char *domain_entry_normalise(const char *entry, const char **why)
{
	char *d = domain_normalise(entry, true, why);

	if (d != NULL && d[0] != '[' && strchr(d + (d[0] == '.'), '.') == NULL) {
		free(d);
		if (why != NULL)
			*why = why_dom_tld;
		return NULL;
	}
	return d;
}

/*
 * ctl_export.c - sikkermail-ctl's exports for the MTA:
 *
 *   export tls-policy [--level LEVEL] [--protocols PROTOCOLS]
 *
 * Exports ctl_export (ctl.h).
 *
 * tls-policy prints a Postfix smtp_tls_policy_maps table that gives every
 * tunnel and partner domain mandatory TLS (default "secure" with
 * protocols >=TLSv1.2), so that the classes the filter trusts with
 * personal data are enforced at delivery too. A ".domain" list entry
 * covers the domain and its subdomains; Postfix's policy lookup tries
 * the domain, then ".parent" keys (unless parent_domain_matches_subdomains
 * names smtp_tls_policy_maps), so such an entry becomes two lines,
 * "domain" and ".domain". Partners whose agreement has expired stay in
 * the table (forcing TLS never lets personal data out; dropping them
 * would silently weaken delivery to a partner whose renewal is late),
 * marked by a comment. The whole table is built before a line is
 * written: a database error never leaves half a table behind.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "classify.h"
#include "ctl.h"
#include "lists.h"
#include "log.h"
#include "store.h"
#include "util.h"

#define DEFAULT_LEVEL "secure"
#define DEFAULT_PROTOCOLS ">=TLSv1.2"
#define KEY_WIDTH 31

/* One key of the table. */
struct policy_key {
	char *key;		/* "example.dk" or ".example.dk" */
	unsigned lists;		/* 1 << LIST_TUNNEL | 1 << LIST_PARTNERS */
	char *expired;		/* partner only, agreement expired on this day; else NULL */
};

/* Where a list came from: one row per import (source, time). */
struct import_group {
	char *source;
	long long imported_at;
	long count;
};

struct export_state {
	struct policy_key *keys;
	size_t n_keys, cap_keys;
	struct import_group *groups[LIST_COUNT];
	size_t n_groups[LIST_COUNT];
	enum list_kind kind;	/* the list being read */
	char today[11];
};

static int export_tls_policy(struct ctl *c, int argc, char **argv);
static bool valid_level(const char *level);
static bool valid_protocols(const char *p);
static int collect(const struct list_entry *e, void *arg);
static void add_key(struct export_state *st, const char *key, const char *expired);
static void add_group(struct export_state *st, const struct list_entry *e);
static int cmp_keys(const void *a, const void *b);
static void merge_keys(struct export_state *st);
static void write_header(struct ctl *c, const struct export_state *st, const char *level,
			 const char *protocols);
static void write_keys(struct ctl *c, const struct export_state *st, const char *level,
		       const char *protocols);
static void format_time(long long t, bool zone, char *buf, size_t size);
static void put_comment_text(FILE *out, const char *s);
static void state_free(struct export_state *st);

int ctl_export(struct ctl *c, int argc, char **argv)
{
	if (argc < 2)
		return ctl_usage_error("export: what? (tls-policy)");
	if (strcmp(argv[1], "tls-policy") == 0)
		return export_tls_policy(c, argc - 1, argv + 1);
	return ctl_usage_error("export: unknown table \"%s\" (tls-policy)", argv[1]);
}

/* ------------------------------------------------------------ arguments */

/* valid_level - the Postfix levels that refuse to deliver without TLS (and dane). */
static bool valid_level(const char *level)
{
	static const char *const levels[] = { "encrypt", "dane", "dane-only", "verify", "secure" };

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcmp(level, levels[i]) == 0)
			return true;
	return false;
}

/*
 * valid_protocols - Postfix protocol syntax as a policy table takes it:
 * colon-separated, each "[!|>=|<=]NAME" (no white space or commas).
 */
static bool valid_protocols(const char *p)
{
	static const char *const names[] = { "SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2",
					     "TLSv1.3" };

	while (*p) {
		size_t n;
		bool known = false;

		if (*p == '!')
			p++;
		else if ((p[0] == '>' || p[0] == '<') && p[1] == '=')
			p += 2;
		n = strcspn(p, ":");
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i]) == n && strncmp(p, names[i], n) == 0)
				known = true;
		if (!known)
			return false;
		p += n;
		if (*p == ':' && *++p == '\0')
			return false;
	}
	return true;
}

static int parse_export_args(int argc, char **argv, const char **level, const char **protocols)
{
	for (int i = 1; i < argc; i++) {
		const char **dst = NULL, *name = argv[i], *eq = strchr(argv[i], '=');
		size_t n = eq ? (size_t)(eq - argv[i]) : strlen(argv[i]);

		if (n == 7 && strncmp(name, "--level", n) == 0)
			dst = level;
		else if (n == 11 && strncmp(name, "--protocols", n) == 0)
			dst = protocols;
		else
			return ctl_usage_error("export tls-policy: unknown argument %s", argv[i]);
		if (eq != NULL)
			*dst = eq + 1;
		else if (i + 1 < argc)
			*dst = argv[++i];
		else
			return ctl_usage_error("export tls-policy: %s needs a value", name);
	}
	if (!valid_level(*level))
		return ctl_usage_error("export tls-policy: --level %s: want secure, verify, dane-only,"
				       " dane or encrypt", *level);
	if (!valid_protocols(*protocols))
		return ctl_usage_error("export tls-policy: --protocols %s: want Postfix syntax such"
				       " as '>=TLSv1.2' or '!SSLv3:!TLSv1:!TLSv1.1' ('' for none)",
				       *protocols);
	return CTL_EX_OK;
}

/* ------------------------------------------------------------ the table */

static int export_tls_policy(struct ctl *c, int argc, char **argv)
{
	static const enum list_kind kinds[] = { LIST_TUNNEL, LIST_PARTNERS };
	const char *level = DEFAULT_LEVEL, *protocols = DEFAULT_PROTOCOLS;
	struct export_state st = { 0 };
	struct store *s;
	int rc;

	if ((rc = parse_export_args(argc, argv, &level, &protocols)) != CTL_EX_OK)
		return rc;
	if (strcmp(level, "dane") == 0)
		msg_warn("level dane: a domain without DANE TLSA records gets opportunistic TLS,"
			 " which does not enforce TLS (dane-only does)");
	if (strcmp(level, "encrypt") == 0)
		msg_warn("level encrypt: TLS is enforced but the server certificate is not verified");
	if ((s = ctl_open_store(c, STORE_RO)) == NULL)
		return CTL_EX_TEMPFAIL;
	today_string(st.today);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]) && rc == CTL_EX_OK; i++) {
		st.kind = kinds[i];
		if (store_list_each(s, kinds[i], collect, &st) != 0) {
			msg_error("%s", store_errmsg(s));
			rc = CTL_EX_TEMPFAIL;
		}
	}
	store_close(s);
	if (rc == CTL_EX_OK) {
		merge_keys(&st);
		write_header(c, &st, level, protocols);
		write_keys(c, &st, level, protocols);
		if (st.n_keys == 0)
			msg_warn("the tunnel and partner lists are empty: the table has no entries");
	}
	state_free(&st);
	return rc;
}

static int collect(const struct list_entry *e, void *arg)
{
	struct export_state *st = arg;
	const char *expired = NULL;

	if (st->kind == LIST_PARTNERS && !partner_agreement_valid(e->dpa_expires, st->today))
		expired = e->dpa_expires;
	if (e->domain[0] == '.')
		add_key(st, e->domain + 1, expired);
	add_key(st, e->domain, expired);
	add_group(st, e);
	return 0;
}

static void add_key(struct export_state *st, const char *key, const char *expired)
{
	struct policy_key *k;

	if (st->n_keys == st->cap_keys) {
		st->cap_keys = st->cap_keys ? st->cap_keys * 2 : 64;
		st->keys = xrealloc(st->keys, st->cap_keys * sizeof(*st->keys));
	}
	k = &st->keys[st->n_keys++];
	k->key = xstrdup(key);
	k->lists = 1u << st->kind;
	k->expired = expired ? xstrdup(expired) : NULL;
}

static void add_group(struct export_state *st, const struct list_entry *e)
{
	struct import_group *g = st->groups[st->kind];
	size_t n = st->n_groups[st->kind];
	const char *src = e->source ? e->source : "-";

	for (size_t i = 0; i < n; i++) {
		if (g[i].imported_at == e->imported_at && strcmp(g[i].source, src) == 0) {
			g[i].count++;
			return;
		}
	}
	g = xrealloc(g, (n + 1) * sizeof(*g));
	g[n].source = xstrdup(src);
	g[n].imported_at = e->imported_at;
	g[n].count = 1;
	st->groups[st->kind] = g;
	st->n_groups[st->kind] = n + 1;
}

/* cmp_keys - by domain, the domain itself before its ".domain" line. */
static int cmp_keys(const void *a, const void *b)
{
	const char *x = ((const struct policy_key *)a)->key, *y = ((const struct policy_key *)b)->key;
	int r = strcmp(x + (x[0] == '.'), y + (y[0] == '.'));

	return r != 0 ? r : (x[0] == '.') - (y[0] == '.');
}

/* merge_keys - sort, and make a key on both lists one line (not expired if either list says so). */
static void merge_keys(struct export_state *st)
{
	size_t out = 0;

	if (st->n_keys > 1)
		qsort(st->keys, st->n_keys, sizeof(*st->keys), cmp_keys);
	for (size_t i = 0; i < st->n_keys; i++) {
		struct policy_key *k = &st->keys[i];

		if (out > 0 && strcmp(st->keys[out - 1].key, k->key) == 0) {
			struct policy_key *prev = &st->keys[out - 1];

			prev->lists |= k->lists;
			if (k->expired == NULL || prev->expired == NULL) {
				free(prev->expired);
				prev->expired = NULL;
			}
			free(k->key);
			free(k->expired);
			continue;
		}
		st->keys[out++] = *k;
	}
	st->n_keys = out;
}

static void format_time(long long t, bool zone, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL ||
	    strftime(buf, size, zone ? "%Y-%m-%d %H:%M:%S %z" : "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, size, "%lld", t);
}

/* put_comment_text - a path in a comment line: a control character would end the comment. */
static void put_comment_text(FILE *out, const char *s)
{
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, out);
}

static void write_header(struct ctl *c, const struct export_state *st, const char *level,
			 const char *protocols)
{
	static const enum list_kind kinds[] = { LIST_TUNNEL, LIST_PARTNERS };
	char when[40];

	format_time((long long)time(NULL), true, when, sizeof(when));
	fprintf(c->out, "# Postfix smtp_tls_policy_maps table: mandatory TLS to the tunnel and"
			" partner\n# domains of sikkermail, so that these classes are enforced at"
			" delivery too.\n");
	fprintf(c->out, "# Generated by sikkermail-ctl export tls-policy on %s\n", when);
	fputs("# from the database ", c->out);
	put_comment_text(c->out, c->database);
	fputs(":\n", c->out);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		const char *name = kinds[i] == LIST_TUNNEL ? "tunnel list" : "partner list";

		if (st->n_groups[kinds[i]] == 0)
			fprintf(c->out, "#   %s: empty\n", name);
		for (size_t j = 0; j < st->n_groups[kinds[i]]; j++) {
			const struct import_group *g = &st->groups[kinds[i]][j];

			format_time(g->imported_at, false, when, sizeof(when));
			fprintf(c->out, "#   %s: %ld entr%s from ", name, g->count,
				g->count == 1 ? "y" : "ies");
			put_comment_text(c->out, g->source);
			fprintf(c->out, ", imported %s\n", when);
		}
	}
	fprintf(c->out, "# Level %s%s%s. A \".domain\" entry covers the subdomains.\n", level,
		protocols[0] ? ", protocols " : "", protocols);
	fprintf(c->out, "# Do not edit: export again after each import, then run postmap.\n");
}

static void write_keys(struct ctl *c, const struct export_state *st, const char *level,
		       const char *protocols)
{
	for (size_t i = 0; i < st->n_keys; i++) {
		const struct policy_key *k = &st->keys[i];

		if (k->expired != NULL)
			fprintf(c->out, "# %s: partner agreement expired %s (TLS still enforced)\n",
				k->key, k->expired);
		fprintf(c->out, "%-*s %s%s%s\n", KEY_WIDTH, k->key, level,
			protocols[0] ? " protocols=" : "", protocols);
	}
}

static void state_free(struct export_state *st)
{
	for (size_t i = 0; i < st->n_keys; i++) {
		free(st->keys[i].key);
		free(st->keys[i].expired);
	}
	free(st->keys);
	for (int k = 0; k < LIST_COUNT; k++) {
		for (size_t i = 0; i < st->n_groups[k]; i++)
			free(st->groups[k][i].source);
		free(st->groups[k]);
	}
}

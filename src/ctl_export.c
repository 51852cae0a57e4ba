/*
 * ctl_export.c - sikkermail-ctl's exports for the MTA:
 *
 *   export tls-policy [--level LEVEL] [--protocols PROTOCOLS] [--postmap [TYPE:FILE]]
 *
 * Exports ctl_export and ctl_refresh_tls_policy (ctl.h).
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
#include <errno.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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
static int build_table(struct ctl *c, FILE *out, const char *level, const char *protocols);
static const char *map_suffix(const char *type);
static int run_postmap(const char *type, const char *file);
static int write_map(struct ctl *c, const char *map, const char *level, const char *protocols);
static bool valid_level(const char *level);
static bool valid_protocols(const char *p);
static int collect(const struct list_entry *e, void *arg);
static void add_key(struct export_state *st, const char *key, const char *expired);
static void add_group(struct export_state *st, const struct list_entry *e);
static int cmp_keys(const void *a, const void *b);
static void merge_keys(struct export_state *st);
static void write_header(struct ctl *c, FILE *out, const struct export_state *st, const char *level,
			 const char *protocols);
static void write_keys(FILE *out, const struct export_state *st, const char *level,
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

static int parse_export_args(int argc, char **argv, const char **level, const char **protocols,
			     bool *postmap, const char **map)
{
	for (int i = 1; i < argc; i++) {
		const char **dst = NULL, *name = argv[i], *eq = strchr(argv[i], '=');
		size_t n = eq ? (size_t)(eq - argv[i]) : strlen(argv[i]);

		if (n == 9 && strncmp(name, "--postmap", n) == 0) {
			/* --postmap [TYPE:FILE]: the value is optional (TLSPolicyMap) */
			*postmap = true;
			if (eq != NULL)
				*map = eq + 1;
			else if (i + 1 < argc && argv[i + 1][0] != '-')
				*map = argv[++i];
			continue;
		}
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
	const char *level = DEFAULT_LEVEL, *protocols = DEFAULT_PROTOCOLS, *map = NULL;
	bool postmap = false;
	int rc;

	if ((rc = parse_export_args(argc, argv, &level, &protocols, &postmap, &map)) != CTL_EX_OK)
		return rc;
	if (!postmap)
		return build_table(c, c->out, level, protocols);
	if (map == NULL && (map = c->cfg->tls_policy_map) == NULL)
		return ctl_usage_error("export tls-policy --postmap: name the table (TYPE:FILE), or "
				       "set TLSPolicyMap");
	return write_map(c, map, level, protocols);
}

/* build_table - the whole table from the database, then written to out. */
static int build_table(struct ctl *c, FILE *out, const char *level, const char *protocols)
{
	static const enum list_kind kinds[] = { LIST_TUNNEL, LIST_PARTNERS };
	struct export_state st = { 0 };
	struct store *s;
	int rc = CTL_EX_OK;

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
		write_header(c, out, &st, level, protocols);
		write_keys(out, &st, level, protocols);
		if (st.n_keys == 0)
			msg_warn("the tunnel and partner lists are empty: the table has no entries");
	}
	state_free(&st);
	return rc;
}

/* map_suffix - the file postmap makes next to the table, by type. */
static const char *map_suffix(const char *type)
{
	if (strcmp(type, "lmdb") == 0)
		return ".lmdb";
	if (strcmp(type, "cdb") == 0)
		return ".cdb";
	return ".db";
}

/* run_postmap - postmap TYPE:FILE; 0 if it exited 0. */
static int run_postmap(const char *type, const char *file)
{
	char *arg = xasprintf("%s:%s", type, file);
	const char *prog = access("/usr/sbin/postmap", X_OK) == 0 ? "/usr/sbin/postmap" : "postmap";
	char *argv[] = { "postmap", arg, NULL };
	pid_t pid;
	int st = -1, rc;

	rc = posix_spawnp(&pid, prog, NULL, NULL, argv, environ);
	if (rc != 0)
		msg_error("cannot run postmap: %s", strerror(rc));
	else if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		msg_error("postmap %s failed", arg);
	free(arg);
	return rc == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/*
 * write_map - the table as TYPE:FILE for Postfix: written to FILE.new,
 * indexed by postmap, then both renamed into place, so that Postfix never
 * reads half a table and a failure leaves the old one.
 */
static int write_map(struct ctl *c, const char *map, const char *level, const char *protocols)
{
	const char *colon = strchr(map, ':');
	char *type = colon ? xstrndup(map, (size_t)(colon - map)) : xstrdup("hash");
	const char *file = colon ? colon + 1 : map;
	char *tmp = xasprintf("%s.new", file);
	char *tmp_idx = xasprintf("%s%s", tmp, map_suffix(type));
	char *idx = xasprintf("%s%s", file, map_suffix(type));
	FILE *out = fopen(tmp, "w");
	int rc = CTL_EX_ERROR;

	if (out == NULL) {
		msg_error("cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	rc = build_table(c, out, level, protocols);
	if (fflush(out) != 0 || fsync(fileno(out)) != 0) {
		msg_error("cannot write %s: %s", tmp, strerror(errno));
		rc = CTL_EX_ERROR;
	}
	fclose(out);
	if (rc == CTL_EX_OK && run_postmap(type, tmp) != 0)
		rc = CTL_EX_ERROR;
	if (rc == CTL_EX_OK && (rename(tmp_idx, idx) != 0 || rename(tmp, file) != 0)) {
		msg_error("cannot put %s in place: %s", file, strerror(errno));
		rc = CTL_EX_ERROR;
	}
	if (rc != CTL_EX_OK) {
		unlink(tmp);
		unlink(tmp_idx);
	} else {
		fprintf(c->out, "wrote %s:%s\n", type, file);
	}
out:
	free(type);
	free(tmp);
	free(tmp_idx);
	free(idx);
	return rc;
}

int ctl_refresh_tls_policy(struct ctl *c)
{
	if (c->cfg->tls_policy_map == NULL)
		return CTL_EX_OK;
	if (write_map(c, c->cfg->tls_policy_map, DEFAULT_LEVEL, DEFAULT_PROTOCOLS) == CTL_EX_OK)
		return CTL_EX_OK;
	msg_error("the TLS policy table %s is now stale: run sikkermail-ctl export tls-policy "
		  "--postmap when the problem is fixed",
		  c->cfg->tls_policy_map);
	return CTL_EX_ERROR;
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

static void write_header(struct ctl *c, FILE *out, const struct export_state *st, const char *level,
			 const char *protocols)
{
	static const enum list_kind kinds[] = { LIST_TUNNEL, LIST_PARTNERS };
	char when[40];

	format_time((long long)time(NULL), true, when, sizeof(when));
	fprintf(out, "# Postfix smtp_tls_policy_maps table: mandatory TLS to the tunnel and"
			" partner\n# domains of sikkermail, so that these classes are enforced at"
			" delivery too.\n");
	fprintf(out, "# Generated by sikkermail-ctl export tls-policy on %s\n", when);
	fputs("# from the database ", out);
	put_comment_text(out, c->database);
	fputs(":\n", out);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		const char *name = kinds[i] == LIST_TUNNEL ? "tunnel list" : "partner list";

		if (st->n_groups[kinds[i]] == 0)
			fprintf(out, "#   %s: empty\n", name);
		for (size_t j = 0; j < st->n_groups[kinds[i]]; j++) {
			const struct import_group *g = &st->groups[kinds[i]][j];

			format_time(g->imported_at, false, when, sizeof(when));
			fprintf(out, "#   %s: %ld entr%s from ", name, g->count,
				g->count == 1 ? "y" : "ies");
			put_comment_text(out, g->source);
			fprintf(out, ", imported %s\n", when);
		}
	}
	fprintf(out, "# Level %s%s%s. A \".domain\" entry covers the subdomains.\n", level,
		protocols[0] ? ", protocols " : "", protocols);
	fprintf(out, "# Do not edit: export again after each import, then run postmap.\n");
}

static void write_keys(FILE *out, const struct export_state *st, const char *level,
		       const char *protocols)
{
	for (size_t i = 0; i < st->n_keys; i++) {
		const struct policy_key *k = &st->keys[i];

		if (k->expired != NULL)
			fprintf(out, "# %s: partner agreement expired %s (TLS still enforced)\n",
				k->key, k->expired);
		fprintf(out, "%-*s %s%s%s\n", KEY_WIDTH, k->key, level,
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

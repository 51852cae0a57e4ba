/*
 * ctl_mta.c - sikkermail-ctl check-mta: the ways Postfix can send a
 * message to a recipient the filter never judged.
 *
 * Exports ctl_check_mta and ctl_run, which runs a Postfix tool for the
 * other commands too (ctl.h).
 *
 * The filter judges the recipients of RCPT TO. Postfix rewrites them
 * afterwards: cleanup(8) expands virtual_alias_maps, applies canonical
 * maps and adds always_bcc / recipient_bcc_maps / sender_bcc_maps
 * recipients after the smtpd milters ran (unless the service that handed
 * the message over has no_address_mappings in receive_override_options);
 * local(8) expands alias_maps and ~/.forward at delivery; a milter after
 * this one may add recipients; smtpd_milter_maps can give some clients
 * other milters, or none (DISABLE). This command reads the configuration
 * with postconf(1), lists the tables it can (postmap -s; texthash: and
 * cidr: sources; inline:, static:) and reports every rewrite of a
 * recipient to an address outside InternalDomains in another domain, and
 * every client whose milters leave the filter out, once per table entry.
 *
 * Exit: 0 nothing found; 1 at least one way found; 3 nothing found, but a
 * table could not be read (ldap:, pcre:, ...: check those by hand); 2 the
 * configuration could not be read. Output: one line per finding or note,
 * "FOUND ...", "UNCHECKED ...", "OK ...", then a summary line.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "address.h"
#include "ctl.h"
#include "ctl_mta.h"
#include "log.h"
#include "util.h"

extern char **environ;

/* One service of master.cf that hands messages to cleanup through the filter. */
struct filter_point {
	char *service;		/* "smtp/inet", "pickup/unix" (non_smtpd_milters) */
	bool maps_after;	/* address mappings happen after the filter here */
	bool last;		/* the filter is the last milter */
};

/* smtpd_milter_maps tables, each with the smtpd services that consult it. */
struct milter_maps {
	struct strlist tables;
	struct strlist services;	/* services.v[i]: "smtp/inet, submission/inet" */
};

static int check(struct check *k);
static void check_smtpd_services(struct check *k, bool *seen, bool *maps_after);
static char *run(const char *const argv[], bool quiet, int *status);
static char *postconf_value(struct check *k, const char *name, const char *service);
static bool is_ours(const struct check *k, const char *milter);
static bool scan_milter_list(const struct check *k, const char *list, bool *after);
static bool check_milter_list(struct check *k, const char *where, const char *list, bool maps_after,
			      bool *seen, bool *any_maps_after);
static void report_later_milter(struct check *k, const char *where);
static void note_milter_maps(struct milter_maps *mm, const char *list, const char *svc);
static void check_milter_maps(struct check *k, const struct milter_maps *mm);
static void milter_map_entry(struct check *k, const struct table_use *u, const char *where,
			     const char *key, const char *value);
static void check_unfiltered(struct check *k, const char *svc, const char *listen);
static bool has_word(const char *list, const char *word);
static void check_maps(struct check *k, const char *param, bool local_keys);
static void rewrite_entry(struct check *k, const struct table_use *u, const char *where,
			  const char *key, const char *value);
static void check_entry(struct check *k, const char *where, const char *key, const char *values,
			bool local_keys);
static bool leaves(const struct config *cfg, const char *key, const char *value);
static bool internal_domain(const struct config *cfg, const char *domain);
static void check_forward_files(struct check *k);

int ctl_check_mta(struct ctl *c, int argc, char **argv)
{
	struct check k = { .c = c };
	int rc;

	strlist_init(&k.milters);

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config-dir") == 0 && i + 1 < argc) {
			k.config_dir = argv[++i];
		} else if (strcmp(argv[i], "--milter") == 0 && i + 1 < argc) {
			strlist_add(&k.milters, argv[++i]);
		} else {
			strlist_free(&k.milters);
			return ctl_usage_error("check-mta: unexpected argument \"%s\"", argv[i]);
		}
	}
	rc = check(&k);
	strlist_free(&k.milters);
	return rc;
}

/* check - every check, in order; the exit code. */
static int check(struct check *k)
{
	struct ctl *c = k->c;
	bool seen = false, maps_after = false;
	char *v;

	/* where the filter runs, and whether address mapping comes after it */
	check_smtpd_services(k, &seen, &maps_after);
	if (k->failed)
		return 2;
	v = postconf_value(k, "non_smtpd_milters", NULL);
	{
		char *ro = postconf_value(k, "receive_override_options", "pickup/unix");

		if (ro == NULL)
			ro = postconf_value(k, "receive_override_options", NULL);

		if (!check_milter_list(k, "pickup/unix and sendmail(1) (non_smtpd_milters)", v,
				       ro == NULL || !has_word(ro, "no_address_mappings"), &seen,
				       &maps_after))
			check_unfiltered(k, "pickup/unix", "pickup");
		free(ro);
	}
	free(v);
	if ((v = postconf_value(k, "milter_default_action", NULL)) != NULL &&
	    strcmp(v, "accept") == 0) {
		k->found++;
		fprintf(c->out, "FOUND milter_default_action = accept: while the filter is down or "
				"slow, mail goes out unchecked (set tempfail)\n");
	}
	free(v);
	if (k->failed)
		return 2;
	if (!seen)
		fprintf(c->out, "NOTE the filter is not in smtpd_milters or non_smtpd_milters of any "
				"service: nothing is filtered\n");

	/* cleanup's rewriting: only where it comes after the filter */
	if (maps_after) {
		check_maps(k, "virtual_alias_maps", true);
		check_maps(k, "canonical_maps", false);
		check_maps(k, "recipient_canonical_maps", false);
		check_maps(k, "recipient_bcc_maps", false);
		check_maps(k, "sender_bcc_maps", false);
		if ((v = postconf_value(k, "always_bcc", NULL)) != NULL && v[0] != '\0' &&
		    leaves(c->cfg, "", v)) {
			k->found++;
			fprintf(c->out, "FOUND always_bcc = %s: every message is copied there after "
					"the filter\n", v);
		}
		free(v);
	} else if (seen) {
		fprintf(c->out, "OK address mappings (virtual aliases, canonical maps, BCC) happen "
				"before the filter: every service that runs it has no_address_mappings\n");
	}
	/* local(8): at delivery, whatever receive_override_options says */
	if ((v = postconf_value(k, "mydestination", NULL)) != NULL && v[strspn(v, " \t,")] != '\0') {
		check_maps(k, "alias_maps", true);
		check_forward_files(k);
	}
	free(v);
	if (k->failed)
		return 2;
	fprintf(c->out, "%d way%s found, %d table%s not checked\n", k->found, k->found == 1 ? "" : "s",
		k->unchecked, k->unchecked == 1 ? "" : "s");
	return k->found > 0 ? 1 : k->unchecked > 0 ? 3 : 0;
}

/*
 * check_smtpd_services - every smtpd of master.cf, with its own -o
 * overrides: does it run the filter, and does smtpd_milter_maps switch
 * the filter off for some of its clients?
 */
static void check_smtpd_services(struct check *k, bool *seen, bool *maps_after)
{
	char *master, *main_milters, *main_maps, *save = NULL, *line;
	struct milter_maps mm;

	if ((master = postconf_value(k, "-M", NULL)) == NULL)
		return;
	main_milters = postconf_value(k, "smtpd_milters", NULL);
	main_maps = postconf_value(k, "smtpd_milter_maps", NULL);
	strlist_init(&mm.tables);
	strlist_init(&mm.services);
	for (line = strtok_r(master, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[256], type[16], cmd[64];
		char *svc, *milters, *maps, *ro;

		/* "NAME TYPE PRIVATE UNPRIV CHROOT WAKEUP MAXPROC COMMAND ..." */
		if (sscanf(line, "%255s %15s %*s %*s %*s %*s %*s %63s", name, type, cmd) != 3 ||
		    strcmp(cmd, "smtpd") != 0)
			continue;
		svc = xasprintf("%s/%s", name, type);
		milters = postconf_value(k, "smtpd_milters", svc);
		maps = postconf_value(k, "smtpd_milter_maps", svc);
		ro = postconf_value(k, "receive_override_options", svc);
		if (ro == NULL)	/* not overridden: main.cf's */
			ro = postconf_value(k, "receive_override_options", NULL);
		if (ro != NULL && has_word(ro, "no_milters"))
			check_unfiltered(k, svc, name);	/* its milters are switched off */
		else if (!check_milter_list(k, svc, milters ? milters : main_milters,
					    ro == NULL || !has_word(ro, "no_address_mappings"), seen,
					    maps_after))
			check_unfiltered(k, svc, name);
		else	/* it runs the filter: unless the client's map entry says otherwise */
			note_milter_maps(&mm, maps ? maps : main_maps, svc);
		free(milters);
		free(maps);
		free(ro);
		free(svc);
	}
	check_milter_maps(k, &mm);
	strlist_free(&mm.tables);
	strlist_free(&mm.services);
	free(master);
	free(main_milters);
	free(main_maps);
}

/*
 * run - argv[0] from /usr/sbin or PATH, without a shell; its stdout, NULL
 * if it could not run. quiet: its stderr goes to /dev/null.
 */
static char *run(const char *const argv[], bool quiet, int *status)
{
	return ctl_run(argv, quiet ? CTL_RUN_QUIET : CTL_RUN_STDERR, status);
}

/* ctl_run - see ctl.h. */
char *ctl_run(const char *const argv[], enum ctl_run_stderr err, int *status)
{
	posix_spawn_file_actions_t fa;
	struct strbuf sb;
	char buf[8192], *path = NULL;
	int fds[2], rc;
	ssize_t n;
	pid_t pid;

	*status = -1;
	if (pipe(fds) != 0)
		return NULL;
	if (strchr(argv[0], '/') == NULL) {
		path = xasprintf("/usr/sbin/%s", argv[0]);
		if (access(path, X_OK) != 0) {
			free(path);
			path = NULL;
		}
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	if (err == CTL_RUN_QUIET)
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	else if (err == CTL_RUN_MERGE)
		posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
	rc = posix_spawnp(&pid, path ? path : argv[0], &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	free(path);
	close(fds[1]);
	if (rc != 0) {
		close(fds[0]);
		errno = rc;
		return NULL;
	}
	sb_init(&sb);
	sb_adds(&sb, "");
	while ((n = read(fds[0], buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0 && sb.len < (size_t)CTL_RUN_OUTPUT_MAX)
			sb_addmem(&sb, buf, (size_t)n);
	close(fds[0]);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	return sb.s;
}

/*
 * postconf_value - a main.cf parameter, expanded (postconf -xh), or for a
 * service "NAME/TYPE" its -o override only (NULL when it has none); name
 * "-P" or "-M" returns that whole listing. NULL when postconf fails, after
 * saying so once (k->failed).
 */
static char *postconf_value(struct check *k, const char *name, const char *service)
{
	const char *argv[8];
	char *out, *param = NULL, *prefix;
	size_t n = 0;
	int st;

	argv[n++] = "postconf";
	if (k->config_dir != NULL) {
		argv[n++] = "-c";
		argv[n++] = k->config_dir;
	}
	if (service != NULL) {
		argv[n++] = "-Px";	/* $name in an -o value expanded */
		argv[n++] = param = xasprintf("%s/%s", service, name);
	} else if (name[0] == '-') {
		argv[n++] = name;
	} else {
		argv[n++] = "-xh";
		argv[n++] = name;
	}
	argv[n] = NULL;
	/* an -o that is not there is a warning on stderr, and no answer */
	out = run(argv, service != NULL, &st);
	if (out == NULL || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		if (!k->failed)
			msg_error("check-mta: postconf%s%s %s failed%s%s: is Postfix installed%s?",
				  k->config_dir ? " -c " : "", k->config_dir ? k->config_dir : "",
				  param ? param : name, out == NULL ? ": " : "",
				  out == NULL ? strerror(errno) : "",
				  k->config_dir ? " and is that its configuration directory" : "");
		k->failed = true;
		free(out);
		free(param);
		return NULL;
	}
	if (service != NULL) {
		/* "service/type/name = value" ("... =" when empty), or nothing */
		prefix = xasprintf("%s =", param);
		if (strncmp(out, prefix, strlen(prefix)) == 0) {
			char *v = xstrdup(out + strlen(prefix) + strspn(out + strlen(prefix), " \t"));

			v[strcspn(v, "\n")] = '\0';
			free(out);
			out = v;
		} else {
			free(out);
			out = NULL;
		}
		free(prefix);
	} else if (name[0] != '-') {
		out[strcspn(out, "\n")] = '\0';
	}
	free(param);
	return out;
}

/*
 * is_ours - does a milter entry name this filter? With --milter, when it
 * holds one of those; else when it holds "sikkermail" or the file name of
 * Socket.
 */
static bool is_ours(const struct check *k, const char *milter)
{
	const char *sock = config_socket_path(k->c->cfg->socket), *base;

	for (size_t i = 0; i < k->milters.n; i++)
		if (strstr(milter, k->milters.v[i]) != NULL)
			return true;
	if (k->milters.n > 0)
		return false;
	if (strstr(milter, "sikkermail") != NULL)
		return true;
	if (sock == NULL || (base = strrchr(sock, '/')) == NULL)
		return false;
	return strstr(milter, base + 1) != NULL;
}

/*
 * scan_milter_list - does a list of milters (smtpd_milters syntax) run
 * this filter, and is another milter after it?
 */
static bool scan_milter_list(const struct check *k, const char *list, bool *after)
{
	char *copy = xstrdup(list ? list : ""), *cursor = copy, *m, *group;
	bool ours = false;

	*after = false;
	while ((m = mta_list_next(&cursor)) != NULL) {
		/* "{ inet:host:port, option = value ... }": its first word is the milter */
		if (m[0] == '{') {
			group = m;
			if (mta_group_strip(&group) != NULL || (m = mta_list_next(&group)) == NULL)
				continue;	/* malformed or empty: Postfix refuses it */
		}
		if (is_ours(k, m))
			ours = true;
		else if (ours)
			*after = true;
	}
	free(copy);
	return ours;
}

/*
 * check_milter_list - one service's milters: is the filter among them,
 * and the last one (a milter after it may add recipients it never sees)?
 */
static bool check_milter_list(struct check *k, const char *where, const char *list, bool maps_after,
			      bool *seen, bool *any_maps_after)
{
	bool after;

	if (!scan_milter_list(k, list, &after))
		return false;
	*seen = true;
	if (maps_after)
		*any_maps_after = true;
	fprintf(k->c->out, "%s %s: runs the filter%s\n", maps_after ? "NOTE" : "OK", where,
		maps_after ? "; Postfix rewrites recipients after it (no no_address_mappings)"
			   : ", after address mapping");
	if (after)
		report_later_milter(k, where);
	return true;
}

static void report_later_milter(struct check *k, const char *where)
{
	k->found++;
	fprintf(k->c->out, "FOUND %s: a milter after sikkermail may add recipients it never "
			   "sees: put sikkermail last\n", where);
}

/*
 * note_milter_maps - the tables of an smtpd's smtpd_milter_maps, for
 * check_milter_maps; a table that several services name is read once.
 */
static void note_milter_maps(struct milter_maps *mm, const char *list, const char *svc)
{
	struct strlist tables;
	size_t i, j;

	strlist_init(&tables);
	mta_table_split(list ? list : "", &tables);
	for (i = 0; i < tables.n; i++) {
		for (j = 0; j < mm->tables.n && strcmp(mm->tables.v[j], tables.v[i]) != 0; j++)
			;
		if (j == mm->tables.n) {
			strlist_add(&mm->tables, tables.v[i]);
			strlist_add(&mm->services, svc);
		} else {
			char *both = xasprintf("%s, %s", mm->services.v[j], svc);

			free(mm->services.v[j]);
			mm->services.v[j] = both;
		}
	}
	strlist_free(&tables);
}

/*
 * check_milter_maps - smtpd_milter_maps (Postfix 3.2 and later): for a
 * client whose address a table matches, the result replaces smtpd_milters
 * (DISABLE: no milters at all). Only services that run the filter get
 * here: for the others a map can take away nothing.
 */
static void check_milter_maps(struct check *k, const struct milter_maps *mm)
{
	for (size_t i = 0; i < mm->tables.n; i++) {
		char *scope = xasprintf(" for %s", mm->services.v[i]);
		const struct table_use u = {
			.param = "smtpd_milter_maps",
			.scope = scope,
			.key_end = " \t",	/* IPv6 networks hold colons */
			.every = "(every client)",
			.by_hand = "that no client gets DISABLE or milters without sikkermail",
			.entry = milter_map_entry,
		};

		mta_table_check(k, mm->tables.v[i], &u);
		free(scope);
	}
}

/* milter_map_entry - a client's milters, from one smtpd_milter_maps entry. */
static void milter_map_entry(struct check *k, const struct table_use *u, const char *where,
			     const char *key, const char *value)
{
	char *client = xasprintf("%s: client %s", where, key);
	bool after;

	(void)u;
	if (strcasecmp(value, "DISABLE") == 0 || !scan_milter_list(k, value, &after)) {
		k->found++;
		fprintf(k->c->out, "FOUND %s gets milters \"%s\": its mail is never filtered\n",
			client, value);
	} else if (after) {
		report_later_milter(k, client);
	}
	free(client);
}

/*
 * check_unfiltered - an smtpd that does not run the filter: fine when its
 * mail goes on to one that does (content_filter), or when it is the
 * filter's own re-injection listener (Reinject smtp:HOST:PORT).
 */
static void check_unfiltered(struct check *k, const char *svc, const char *listen)
{
	const char *re = k->c->cfg->reinject;
	char *cf = postconf_value(k, "content_filter", svc);

	if (cf == NULL)
		cf = postconf_value(k, "content_filter", NULL);
	if (strncmp(re, "smtp:", 5) == 0 && strcmp(re + 5, listen) == 0) {
		fprintf(k->c->out, "OK %s: the re-injection listener (Reinject %s): not filtered, by "
				   "design; let only the filter's host reach it\n", svc, re);
	} else if (cf != NULL && cf[0] != '\0') {
		fprintf(k->c->out, "NOTE %s: does not run the filter; its mail goes on through "
				   "content_filter = %s, which must reach a service that does\n", svc, cf);
	} else {
		k->found++;
		fprintf(k->c->out, "FOUND %s: accepts mail the filter never sees (sikkermail is not "
				   "among its milters, and it has no content_filter)\n", svc);
	}
	free(cf);
}

static bool has_word(const char *list, const char *word)
{
	size_t len = strlen(word);

	for (const char *p = list; (p = strstr(p, word)) != NULL; p += len)
		if ((p == list || strchr(", \t", p[-1])) && strchr(", \t", p[len]) != NULL)
			return true;
	return false;
}

/* check_maps - every table of a parameter that rewrites recipients. */
static void check_maps(struct check *k, const char *param, bool local_keys)
{
	char *v = postconf_value(k, param, NULL);
	struct strlist tables;
	const struct table_use u = {
		.param = param,
		.scope = "",
		.key_end = " \t:",	/* "name: value" in an aliases file */
		.every = "(every recipient)",
		.by_hand = "that it rewrites no internal recipient to an outside address",
		.local_keys = local_keys,
		.entry = rewrite_entry,
	};

	if (v == NULL)
		return;
	strlist_init(&tables);
	mta_table_split(v, &tables);
	for (size_t i = 0; i < tables.n; i++)
		mta_table_check(k, tables.v[i], &u);
	strlist_free(&tables);
	free(v);
}

/* rewrite_entry - an entry of a table that rewrites recipients. */
static void rewrite_entry(struct check *k, const struct table_use *u, const char *where,
			  const char *key, const char *value)
{
	check_entry(k, where, key, value, u->local_keys);
}

/* check_entry - one key and its values (comma or space separated). */
static void check_entry(struct check *k, const char *where, const char *key, const char *values,
			bool local_keys)
{
	char *copy = xstrdup(values), *save = NULL, *v;

	(void)local_keys;
	for (v = strtok_r(copy, ", \t", &save); v; v = strtok_r(NULL, ", \t", &save)) {
		v += v[0] == '"';	/* "|command args" in quotes */
		if (v[0] == '|' || v[0] == '/' || strncmp(v, ":include:", 9) == 0) {
			k->unchecked++;
			fprintf(k->c->out, "UNCHECKED %s: %s -> %s: delivered to a command or file; "
					   "check by hand\n", where, key, v);
			continue;
		}
		if (leaves(k->c->cfg, key, v)) {
			k->found++;
			fprintf(k->c->out, "FOUND %s: %s -> %s: the filter judges %s, Postfix delivers "
					   "to %s\n", where, key, v, key, v);
		}
	}
	free(copy);
}

/*
 * leaves - does rewriting key to value send mail outside InternalDomains,
 * to another domain than the one the filter judged? A value without a
 * domain stays local.
 */
static bool leaves(const struct config *cfg, const char *key, const char *value)
{
	const char *vat = strrchr(value, '@'), *kat = strrchr(key, '@');
	char *vdom, *kdom;
	bool out;

	if (vat == NULL || vat[1] == '\0')
		return false;
	vdom = xstrdup(vat + 1);
	ascii_lower(vdom);
	kdom = kat ? xstrdup(kat + 1) : xstrdup("");
	ascii_lower(kdom);
	out = !internal_domain(cfg, vdom) && strcmp(vdom, kdom) != 0;
	free(vdom);
	free(kdom);
	return out;
}

static bool internal_domain(const struct config *cfg, const char *domain)
{
	for (size_t i = 0; i < cfg->n_internal_domains; i++)
		if (domain_match(cfg->internal_domains[i], domain))
			return true;
	return false;
}

/* check_forward_files - every readable ~/.forward, as local(8) would read it. */
static void check_forward_files(struct check *k)
{
	struct passwd *pw;

	setpwent();
	while ((pw = getpwent()) != NULL) {
		char *path = xasprintf("%s/.forward", pw->pw_dir), line[4096];
		FILE *f = NULL;
		struct stat st;
		int fd, lines = 0;

		/* as local(8): a regular file of its owner, never a link or a FIFO */
		if (pw->pw_dir[0] == '/' && lstat(path, &st) == 0) {
			fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
			if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
			    st.st_uid == pw->pw_uid && (f = fdopen(fd, "r")) != NULL)
				fd = -1;
			if (fd >= 0)
				close(fd);
			if (f == NULL) {
				k->unchecked++;
				fprintf(k->c->out, "UNCHECKED %s: cannot be read here, or not a file of "
						   "its owner; check it by hand\n", path);
			}
		}
		while (f != NULL && lines++ < 1000 && fgets(line, sizeof(line), f) != NULL) {
			line[strcspn(line, "\n")] = '\0';
			if (line[strspn(line, " \t")] == '#')
				continue;
			check_entry(k, path, pw->pw_name, line, true);
		}
		if (f != NULL)
			fclose(f);
		free(path);
	}
	endpwent();
}

/*
 * ctl.c - the commands of sikkermail-ctl: import and list the tunnel,
 * partner and freemail lists, and explain how an address is classified
 * and what would happen to a personal message sent to it.
 *
 * Exports ctl_main, ctl_import, ctl_list and ctl_explain (see ctl.h); what
 * explain finds and prints for an address is route.h's.
 *
 * The tool runs on the same modules as the daemon (lists, store,
 * address, classify, policy, certs), so what explain says is what the
 * milter does. An import is all or nothing: a file with any bad line
 * changes nothing, and the database swaps the whole list in one
 * transaction. Commands that only read open the database read-only.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "certs.h"
#include "classify.h"
#include "config.h"
#include "ctl.h"
#include "lists.h"
#include "log.h"
#include "route.h"
#include "store.h"
#include "util.h"

#define CTL_INPUT_MAX (64L * 1024 * 1024)	/* a list file larger than this is a mistake */

static const char usage_text[] =
	"usage: sikkermail-ctl [-c FILE] [-d DATABASE] COMMAND ...\n"
	"  import tunnel|partners|freemail FILE  replace a list with FILE (- reads stdin)\n"
	"  list tunnel|partners|freemail         show a list, with where each entry came from\n"
	"  import domain-certs FILE              replace the imported domain certificates\n"
	"  list domain-certs                     show the imported domain certificates\n"
	"  explain [--personal] ADDRESS...       how each address is classified and handled\n"
	"  cert ADDRESS...                       look certificates up now, show and cache them\n"
	"  cache stats | cache purge [ADDRESS...] the certificate cache\n"
	"  report [--since DATE] [--until DATE] [--format text|csv|json|html] [--top N]\n"
	"         [--all-days] [--lang da|en] [--csv-separator C] [--bom]\n"
	"         [--log FILE...]                 the compliance report\n"
	"  replay --config FILE [--since DATE] [--until DATE] [--database DB]\n"
	"         [--format text|csv|json|html]  which recipients of past mail FILE would\n"
	"                                        handle differently\n"
	"  export tls-policy [--level LEVEL] [--protocols PROTOCOLS] [--postmap [TYPE:FILE]]\n"
	"                                        a Postfix smtp_tls_policy_maps table\n"
	"  purge [--before DATE] [--dry-run] [--vacuum]\n"
	"                                        forget decisions older than Retention or DATE\n"
	"  reload                                the running filter reads its configuration again\n"
	"  check-mta [--config-dir DIR]          ways Postfix sends mail to recipients the filter\n"
	"                                        never judged (aliases, BCC, milters after it)\n"
	"  held [--since DATE] [--all] [--config-dir DIR]\n"
	"                                        the messages the filter held, and their outcome\n"
	"  release|delete [--config-dir DIR] QUEUEID...\n"
	"                                        release or delete a held message (root, Postfix)\n"
	"  serve [--listen ADDR:PORT] [--rate N] [--behind-proxy]\n"
	"                                        a read-only web page and JSON service: how\n"
	"                                        mail to an address would go (default\n"
	"                                        127.0.0.1:8471)\n"
	"Run as root, it reads the files it is given, then works as the filter's UserID.\n"
	"see sikkermail-ctl(8)";

/* Context of one "list" walk. */
struct list_walk {
	struct ctl *c;
	enum list_kind kind;
	char today[11];
};

static int dispatch(struct ctl *c, int argc, char **argv);
static int parse_kind(const char *cmd, const char *s);
static void report_bad_lines(const char *name, enum list_kind kind, const struct strlist *errors);
static int read_input(const char *file, struct strbuf *text);
static void set_source(struct list_entries *l, const char *file);
static int print_entry(const struct list_entry *e, void *arg);
static void format_time(long long t, char *buf, size_t size);
static int explain_one(struct ctl *c, struct store *s, const char *raw, bool personal,
		       const char *today);

int ctl_usage_error(const char *fmt, ...)
{
	struct strbuf sb;
	va_list ap;

	sb_init(&sb);
	va_start(ap, fmt);
	sb_vprintf(&sb, fmt, ap);
	va_end(ap);
	msg_error("%s", sb.s);
	msg_notice("%s", usage_text);
	sb_free(&sb);
	return CTL_EX_USAGE;
}

int ctl_main(int argc, char **argv, FILE *out)
{
	struct ctl c = { .out = out };
	const char *cfg_path = NULL, *db = NULL;
	int ch, rc;

	/* --help among the options, before the command */
	for (int i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			fprintf(out, "%s\n", usage_text);
			return CTL_EX_OK;
		}
		if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "-d") == 0)
			i++;
	}
	opterr = 0;
	while ((ch = getopt(argc, argv, "+c:d:h")) != -1) {
		switch (ch) {
		case 'c':
			cfg_path = optarg;
			break;
		case 'd':
			db = optarg;
			break;
		case 'h':
			fprintf(out, "%s\n", usage_text);
			return CTL_EX_OK;
		default:
			if (optopt == 'c' || optopt == 'd')
				return ctl_usage_error("option -%c needs an argument", optopt);
			return ctl_usage_error("unknown option -%c", optopt);
		}
	}
	if (optind >= argc)
		return ctl_usage_error("no command given");
	if ((c.cfg = config_load_default(cfg_path)) == NULL)
		return CTL_EX_ERROR;
	c.database = db ? db : c.cfg->database;
	/* what it changes goes to the mail log too, as the filter's own lines do */
	log_init("sikkermail-ctl", c.cfg->syslog, true, c.cfg->syslog_facility);
	rc = dispatch(&c, argc - optind, argv + optind);
	if (fflush(out) != 0 || ferror(out)) {
		msg_error("cannot write the output: %s", strerror(errno));
		if (rc == CTL_EX_OK)
			rc = CTL_EX_ERROR;
	}
	certs_free(c.certs);
	config_unref(c.cfg);
	return rc;
}

static int dispatch(struct ctl *c, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(struct ctl *c, int argc, char **argv);
	} commands[] = {
		{ "import", ctl_import },
		{ "list", ctl_list },
		{ "explain", ctl_explain },
		{ "cert", ctl_cert },
		{ "cache", ctl_cache },
		{ "report", ctl_report },
		{ "export", ctl_export },
		{ "replay", ctl_replay },
		{ "purge", ctl_purge },
		{ "reload", ctl_reload },
		{ "check-mta", ctl_check_mta },
		{ "held", ctl_held },
		{ "release", ctl_release_or_delete },
		{ "delete", ctl_release_or_delete },
		{ "serve", ctl_serve },
	};

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			return commands[i].run(c, argc, argv);
	return ctl_usage_error("unknown command \"%s\"", argv[0]);
}

static int parse_kind(const char *cmd, const char *s)
{
	int kind = list_kind_parse(s);

	if (kind < 0)
		ctl_usage_error("%s: unknown list \"%s\" (tunnel, partners or freemail)", cmd, s);
	return kind;
}

/* ------------------------------------------------------------ import */

int ctl_import(struct ctl *c, int argc, char **argv)
{
	struct list_entries l = { 0 };
	struct strlist errors;
	struct strbuf text;
	struct store *s = NULL;
	const char *file, *name;
	char *err = NULL;
	int kind, rc = CTL_EX_ERROR;

	if (argc >= 2 && strcmp(argv[1], "domain-certs") == 0)
		return ctl_import_domain_certs(c, argc, argv);
	if (argc != 3)
		return ctl_usage_error("import: expected import tunnel|partners|freemail FILE");
	if ((kind = parse_kind("import", argv[1])) < 0)
		return CTL_EX_USAGE;
	file = argv[2];
	name = strcmp(file, "-") == 0 ? "(stdin)" : file;
	strlist_init(&errors);
	sb_init(&text);
	if (read_input(file, &text) < 0)
		goto out;
	if (lists_parse(kind, name, text.s, text.len, &l, &errors) != 0) {
		report_bad_lines(name, kind, &errors);
		goto out;
	}
	set_source(&l, file);
	rc = CTL_EX_TEMPFAIL;
	if ((s = ctl_open_store(c, STORE_RW)) == NULL) {
		msg_error("nothing imported");
		goto out;
	}
	if (store_list_replace(s, kind, &l, &err) != 0) {
		msg_error("%s; nothing imported", err);
		goto out;
	}
	store_close(s);
	s = NULL;
	fprintf(c->out, "imported %zu %s %s from %s\n", l.n,
		kind == LIST_PARTNERS ? "partner" : list_kind_name(kind),
		l.n == 1 ? "entry" : "entries", name);
	if (l.n == 0)
		msg_warn("%s has no entries: the %s list is now empty", name, list_kind_name(kind));
	msg_notice("import list=%s entries=%zu source=%s database=%s", list_kind_name(kind), l.n,
		   name, c->database);
	/* the TLS policy table is made from the tunnel and partner lists */
	rc = kind == LIST_FREEMAIL ? CTL_EX_OK : ctl_refresh_tls_policy(c);
out:
	free(err);
	store_close(s);
	list_entries_free(&l);
	strlist_free(&errors);
	sb_free(&text);
	return rc;
}

static void report_bad_lines(const char *name, enum list_kind kind, const struct strlist *errors)
{
	for (size_t i = 0; i < errors->n; i++)
		msg_error("%s", errors->v[i]);
	msg_error("%s: %zu bad line%s; nothing imported, the %s list is unchanged", name,
		  errors->n, errors->n == 1 ? "" : "s", list_kind_name(kind));
}

/* read_input - the whole file (or stdin for "-") into text; -1 after logging why. */
static int read_input(const char *file, struct strbuf *text)
{
	bool is_stdin = strcmp(file, "-") == 0;
	int fd = is_stdin ? STDIN_FILENO : open(file, O_RDONLY | O_CLOEXEC);
	char buf[65536];
	ssize_t n;

	if (fd < 0) {
		msg_error("cannot open %s: %s", file, strerror(errno));
		return -1;
	}
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (long)(text->len + (size_t)n) > CTL_INPUT_MAX) {
			msg_error("cannot read %s: %s", is_stdin ? "(stdin)" : file,
				  n < 0 ? strerror(errno) : "larger than 64 MB");
			break;
		}
		sb_addmem(text, buf, (size_t)n);
	}
	if (!is_stdin)
		close(fd);
	return n == 0 ? 0 : -1;
}

/* set_source - record the file's absolute path as each entry's source (provenance). */
static void set_source(struct list_entries *l, const char *file)
{
	char path[PATH_MAX];
	const char *src = file;

	if (strcmp(file, "-") == 0)
		src = "(stdin)";
	else if (realpath(file, path) != NULL)
		src = path;
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].source);
		l->v[i].source = xstrdup(src);
	}
}

/* ------------------------------------------------------------ list */

int ctl_list(struct ctl *c, int argc, char **argv)
{
	struct list_walk w = { .c = c };
	struct store *s;
	int kind, rc = CTL_EX_OK;

	if (argc >= 2 && strcmp(argv[1], "domain-certs") == 0)
		return ctl_list_domain_certs(c, argc, argv);
	if (argc != 2)
		return ctl_usage_error("list: expected list tunnel|partners|freemail");
	if ((kind = parse_kind("list", argv[1])) < 0)
		return CTL_EX_USAGE;
	w.kind = kind;
	today_string(w.today);
	if ((s = ctl_open_store(c, STORE_RO)) == NULL)
		return CTL_EX_TEMPFAIL;
	if (store_list_each(s, kind, print_entry, &w) != 0) {
		msg_error("%s", store_errmsg(s));
		rc = CTL_EX_TEMPFAIL;
	}
	store_close(s);
	return rc;
}

/* print_entry - one tab-separated line; "-" for an empty field. */
static int print_entry(const struct list_entry *e, void *arg)
{
	struct list_walk *w = arg;
	char when[32];

	format_time(e->imported_at, when, sizeof(when));
	fputs(e->domain, w->c->out);
	if (w->kind != LIST_FREEMAIL)
		fprintf(w->c->out, "\t%s", e->organisation ? e->organisation : "-");
	if (w->kind == LIST_PARTNERS)
		fprintf(w->c->out, "\t%s%s", e->dpa_expires ? e->dpa_expires : "-",
			partner_agreement_valid(e->dpa_expires, w->today) ? "" : " (expired)");
	fprintf(w->c->out, "\t%s\t%s\n", e->source ? e->source : "-", when);
	return 0;
}

static void format_time(long long t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL || strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, size, "%lld", t);
}

/* ------------------------------------------------------------ explain */

int ctl_explain(struct ctl *c, int argc, char **argv)
{
	bool personal = false, invalid = false, tempfail = false;
	struct store *s;
	char today[11];
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strcmp(argv[i], "--personal") != 0)
			return ctl_usage_error("explain: unknown option %s", argv[i]);
		personal = true;
	}
	if (i >= argc)
		return ctl_usage_error("explain: expected explain [--personal] ADDRESS...");
	/* with --personal the certificate answer is cached, as the filter would */
	if ((s = ctl_open_store(c, personal ? STORE_RW : STORE_RO)) == NULL)
		return CTL_EX_TEMPFAIL;
	/* the certificate module answers "none" until started: start it before classifying */
	if (personal && ctl_certs_start(c) != 0) {
		store_close(s);
		return CTL_EX_ERROR;
	}
	today_string(today);
	for (int first = i; i < argc; i++) {
		int rc;

		if (i > first)
			fputc('\n', c->out);
		rc = explain_one(c, s, argv[i], personal, today);
		invalid |= rc == CTL_EX_ERROR;
		tempfail |= rc == CTL_EX_TEMPFAIL;
	}
	store_close(s);
	/* A bad address stays bad when retried; a failed lookup may not. */
	return invalid ? CTL_EX_ERROR : tempfail ? CTL_EX_TEMPFAIL : CTL_EX_OK;
}

/* explain_one - one address: normalised form, class and evidence, certificate, actions. */
static int explain_one(struct ctl *c, struct store *s, const char *raw, bool personal,
		       const char *today)
{
	struct route r;
	int rc;

	route_explain(c->cfg, c->certs, s, raw, strlen(raw), personal, today, &r);
	route_write_text(c->out, &r);
	rc = r.status != ROUTE_OK ? CTL_EX_ERROR : r.tempfail ? CTL_EX_TEMPFAIL : CTL_EX_OK;
	route_free(&r);
	return rc;
}

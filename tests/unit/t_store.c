/*
 * t_store.c - unit tests for the SQLite store (store.c) on a temporary
 * file: creation and the built-in freemail list, list matching (exact,
 * subdomain, lookalikes), atomic replacement, decisions written and read
 * back, read-only opens of missing and foreign files, two handles on one
 * file, data surviving a reopen, threads writing at once without
 * sleeping on SQLite's write lock, the mailbox notices waiting for their
 * digest (kept, claimed, released, deleted), and a version-1 database
 * upgraded when it is opened read-write.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "listcache.h"
#include "lists.h"
#include "store.h"
#include "tap.h"
#include "util.h"

static char dir[] = "/tmp/t_store.XXXXXX";
static char *db_path;

static const char tunnel_text[] =
	"# tunnel test list\n"
	"kp-tunnel.dk,Tunnel Org A\n"
	".dk-tunnel.example,Tunnel Org B\n"
	"region.dk\n"
	"kp.dk,Exact\n"
	".kp.dk,Subdomains\n"
	".example.org,Parent\n"
	".b.example.org,Nearest\n";

/* What a domain should match in the tunnel list above: NULL = not found. */
static const struct {
	const char *domain;
	const char *entry;
} tunnel_cases[] = {
	{ "kp-tunnel.dk", "kp-tunnel.dk" },
	{ "region.dk", "region.dk" },
	{ "sub.region.dk", NULL },		/* exact entry: no subdomains */
	{ "dk-tunnel.example", ".dk-tunnel.example" },	/* a dotted entry covers itself */
	{ "a.dk-tunnel.example", ".dk-tunnel.example" },
	{ "a.b.c.dk-tunnel.example", ".dk-tunnel.example" },
	{ "evil-dk-tunnel.example", NULL },
	{ "dk-tunnel.example.evil.com", NULL },
	{ "xdk-tunnel.example", NULL },
	{ "kp.dk", "kp.dk" },			/* exact wins over ".kp.dk" */
	{ "a.kp.dk", ".kp.dk" },
	{ "evil-kp.dk", NULL },
	{ "evilkp.dk", NULL },
	{ "kp.dk.evil.com", NULL },
	{ "kp-dk.com", NULL },
	{ "a.b.example.org", ".b.example.org" },	/* nearest parent */
	{ "b.example.org", ".b.example.org" },
	{ "c.example.org", ".example.org" },
	{ "example.org", ".example.org" },
	{ "gmail.com", NULL },			/* lists are separate */
	{ "dk", NULL },
	{ "", NULL },
};

static struct list_entries parse_list(enum list_kind kind, const char *name, const char *text)
{
	struct list_entries l = { 0 };
	struct strlist err;

	strlist_init(&err);
	if (lists_parse(kind, name, text, strlen(text), &l, &err) != 0)
		diag("test list %s does not parse: %s", name, err.v[0]);
	strlist_free(&err);
	return l;
}

static const char *match(struct store *s, enum list_kind kind, const char *domain,
			 struct list_entry *e)
{
	static char buf[300];
	enum lookup r = store_list_match(s, kind, domain, e);

	if (r == LOOKUP_RETRY)
		return "RETRY";
	if (r == LOOKUP_NOTFOUND)
		return NULL;
	snprintf(buf, sizeof(buf), "%s", e->domain);
	return buf;
}

static int count_entry(const struct list_entry *e, void *arg)
{
	struct strbuf *sb = arg;

	if (sb->len)
		sb_addc(sb, ',');
	sb_adds(sb, e->domain);
	return 0;
}

static char *list_domains(struct store *s, enum list_kind kind)
{
	struct strbuf sb;

	sb_init(&sb);
	if (store_list_each(s, kind, count_entry, &sb) != 0)
		sb_adds(&sb, "ERROR");
	return sb.s;
}

static void test_create(struct store **sp)
{
	struct list_entry e;
	struct stat st;
	char *err = NULL;
	mode_t old = umask(077);	/* the file must be 0640 whatever the umask */

	*sp = store_open(db_path, STORE_RW, &err);
	umask(old);
	ok(*sp != NULL, "create a new database");
	if (*sp == NULL) {
		diag("%s", err);
		exit(1);
	}
	if (stat(db_path, &st) != 0)
		st.st_mode = 0;
	is_int(st.st_mode & 07777, 0640, "database file has mode 0640 under umask 077");
	is_str(match(*sp, LIST_FREEMAIL, "gmail.com", &e), "gmail.com", "built-in freemail: gmail.com");
	is_str(e.source, "built-in", "built-in freemail: source built-in");
	ok(e.imported_at > 0 && e.imported_at <= (long long)time(NULL), "built-in freemail: import time");
	list_entry_free(&e);
	is_str(match(*sp, LIST_FREEMAIL, "mail.dk", &e), "mail.dk", "built-in freemail: mail.dk");
	list_entry_free(&e);
	is_str(match(*sp, LIST_FREEMAIL, "gmail.com.evil.com", &e), NULL, "freemail: lookalike not found");
	is_str(match(*sp, LIST_FREEMAIL, "x.gmail.com", &e), NULL, "freemail: exact entries only");
	is_str(match(*sp, LIST_TUNNEL, "kp.dk", &e), NULL, "new database: empty tunnel list");
}

static void test_match(struct store *s)
{
	struct list_entries l = parse_list(LIST_TUNNEL, "tunnel.txt", tunnel_text);
	struct list_entry e;
	char *err = NULL, *got;

	ok(store_list_replace(s, LIST_TUNNEL, &l, &err) == 0, "import the tunnel list");
	list_entries_free(&l);
	for (size_t i = 0; i < sizeof(tunnel_cases) / sizeof(tunnel_cases[0]); i++) {
		is_str(match(s, LIST_TUNNEL, tunnel_cases[i].domain, &e), tunnel_cases[i].entry,
		       "tunnel match \"%s\"", tunnel_cases[i].domain);
		list_entry_free(&e);
	}
	is_str(match(s, LIST_TUNNEL, "x.dk-tunnel.example", &e), ".dk-tunnel.example", "evidence entry");
	is_str(e.organisation, "Tunnel Org B", "evidence: organisation");
	is_str(e.source, "tunnel.txt", "evidence: source file");
	is_int(e.line, 3, "evidence: source line");
	ok(e.dpa_expires == NULL, "evidence: no expiry on a tunnel entry");
	list_entry_free(&e);
	got = list_domains(s, LIST_TUNNEL);
	is_str(got, ".b.example.org,.dk-tunnel.example,.example.org,kp-tunnel.dk,kp.dk,.kp.dk,region.dk",
	       "store_list_each ordered by domain (a leading dot sorts with its name)");
	free(got);
}

/* same_entry - do two lookups agree, entry and evidence alike? */
static bool same_entry(enum lookup ra, const struct list_entry *a, enum lookup rb,
		       const struct list_entry *b)
{
#define SAME_STR(x, y) ((x) == NULL ? (y) == NULL : (y) != NULL && strcmp((x), (y)) == 0)
	if (ra != rb)
		return false;
	if (ra != LOOKUP_FOUND)
		return true;
	return SAME_STR(a->domain, b->domain) && SAME_STR(a->organisation, b->organisation) &&
	       SAME_STR(a->dpa_expires, b->dpa_expires) && SAME_STR(a->source, b->source) &&
	       a->imported_at == b->imported_at && a->line == b->line;
#undef SAME_STR
}

#define GETTERS 8

struct getter {
	struct list_cache *cache;
	pthread_barrier_t *start;
	struct list_snapshot *got;
};

static void *get_snapshot(void *arg)
{
	struct getter *g = arg;
	char *err = NULL;
	struct store *s = store_open(db_path, STORE_RO, &err);

	free(err);
	pthread_barrier_wait(g->start);
	g->got = s != NULL ? list_cache_get(g->cache, s) : NULL;
	store_close(s);
	return NULL;
}

/* Threads that find the lists changed at the same moment share one new snapshot. */
static void test_list_cache_herd(void)
{
	struct list_cache *cache = list_cache_new();
	pthread_barrier_t start;
	pthread_t t[GETTERS];
	struct getter g[GETTERS];
	int same = 0;

	pthread_barrier_init(&start, NULL, GETTERS);
	for (int i = 0; i < GETTERS; i++) {
		g[i] = (struct getter){ cache, &start, NULL };
		if (pthread_create(&t[i], NULL, get_snapshot, &g[i]) != 0) {
			perror("pthread_create");
			exit(1);
		}
	}
	for (int i = 0; i < GETTERS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < GETTERS; i++)
		same += g[i].got != NULL && g[i].got == g[0].got;
	is_int(same, GETTERS, "%d threads asking a cold cache at once get one snapshot, built once",
	       GETTERS);
	for (int i = 0; i < GETTERS; i++)
		list_snapshot_unref(g[i].got);
	pthread_barrier_destroy(&start);
	list_cache_free(cache);
}

/* The lists in memory answer as the database does, and follow its imports. */
static void test_list_cache(struct store *s)
{
	static const char *const more[] = {
		"gmail.com", "GMAIL.COM", "mail.gmail.com", "hotmail.com", "p.example", "a.p.example",
		"sub.partner.example", "partner.example", "new.dk", "x.new.dk", ".", "a..b", "dk.",
	};
	struct list_entries p = parse_list(LIST_PARTNERS, "partners.txt",
					   "p.example,P A/S,2099-12-31\n.partner.example,Q ApS,\n");
	struct list_entries t2 = parse_list(LIST_TUNNEL, "tunnel2.txt", "new.dk,New\n");
	struct list_cache *cache = list_cache_new();
	struct list_snapshot *snap, *again, *newer;
	struct store *other;
	struct list_entry a, b;
	char *err = NULL;
	int differ = 0, n = 0;

	ok(store_list_replace(s, LIST_PARTNERS, &p, &err) == 0, "import a partner list");
	snap = list_cache_get(cache, s);
	ok(snap != NULL, "a snapshot of the lists");
	if (snap == NULL) {
		diag("%s", store_errmsg(s));
		return;
	}
	is_int((int)list_snapshot_count(snap, LIST_TUNNEL), 7, "snapshot: the 7 tunnel entries");
	is_int((int)list_snapshot_count(snap, LIST_PARTNERS), 2, "snapshot: the 2 partners");
	for (int k = 0; k < LIST_COUNT; k++) {
		for (size_t i = 0; i < sizeof(tunnel_cases) / sizeof(tunnel_cases[0]) +
					   sizeof(more) / sizeof(more[0]);
		     i++) {
			const char *d = i < sizeof(tunnel_cases) / sizeof(tunnel_cases[0])
						? tunnel_cases[i].domain
						: more[i - sizeof(tunnel_cases) / sizeof(tunnel_cases[0])];
			enum lookup ra = store_list_match(s, (enum list_kind)k, d, &a);
			enum lookup rb = list_snapshot_match(snap, (enum list_kind)k, d, &b);

			n++;
			if (!same_entry(ra, &a, rb, &b) && differ++ < 5)
				diag("%s \"%s\": database %s, snapshot %s", list_kind_name(k), d,
				     ra == LOOKUP_FOUND ? a.domain : "-", rb == LOOKUP_FOUND ? b.domain : "-");
			list_entry_free(&a);
			list_entry_free(&b);
		}
	}
	is_int(differ, 0, "the snapshot answers %d lookups in 3 lists as the database does", n);
	again = list_cache_get(cache, s);
	ok(again == snap, "nothing imported: the same snapshot again");
	list_snapshot_unref(again);

	other = store_open(db_path, STORE_RW, &err);
	ok(other != NULL && store_list_replace(other, LIST_TUNNEL, &t2, &err) == 0,
	   "another handle imports a new tunnel list");
	store_close(other);
	newer = list_cache_get(cache, s);
	ok(newer != NULL && newer != snap, "after the import: a new snapshot");
	ok(newer != NULL && list_snapshot_match(newer, LIST_TUNNEL, "new.dk", &b) == LOOKUP_FOUND &&
		   strcmp(b.organisation, "New") == 0,
	   "the new snapshot has the new list");
	list_entry_free(&b);
	ok(newer != NULL && list_snapshot_match(newer, LIST_TUNNEL, "region.dk", &b) == LOOKUP_NOTFOUND,
	   "... and not the old one");
	ok(list_snapshot_match(snap, LIST_TUNNEL, "region.dk", &b) == LOOKUP_FOUND,
	   "a message holding the old snapshot finishes with it");
	list_entry_free(&b);
	list_snapshot_unref(snap);
	list_snapshot_unref(newer);
	list_cache_free(cache);
	/* put the tunnel list back for the tests after this one */
	list_entries_free(&t2);
	t2 = parse_list(LIST_TUNNEL, "tunnel.txt", tunnel_text);
	ok(store_list_replace(s, LIST_TUNNEL, &t2, &err) == 0, "the tunnel list restored");
	list_entries_free(&t2);
	list_entries_free(&p);
	free(err);
}

/* A failed import (a duplicate key half way) leaves the old list as it was. */
static void test_atomic(struct store *s)
{
	struct list_entries l = parse_list(LIST_TUNNEL, "new.txt", "new1.dk\nnew2.dk\nnew3.dk\n");
	struct list_entry e;
	char *err = NULL, *before = list_domains(s, LIST_TUNNEL), *after;

	free(l.v[1].domain);
	l.v[1].domain = xstrdup("new1.dk");
	is_int(store_list_replace(s, LIST_TUNNEL, &l, &err), -1, "replace with a duplicate fails");
	ok(err != NULL && strstr(err, "new1.dk") != NULL && strstr(err, "UNIQUE") != NULL,
	   "the error names the entry: %s", err ? err : "NULL");
	free(err);
	after = list_domains(s, LIST_TUNNEL);
	is_str(after, before, "the old list is unchanged");
	is_str(match(s, LIST_TUNNEL, "new1.dk", &e), NULL, "no entry of the failed import is visible");
	is_str(match(s, LIST_TUNNEL, "region.dk", &e), "region.dk", "old entries still match");
	list_entry_free(&e);
	list_entries_free(&l);
	free(before);
	free(after);
}

static void add_rcpt(struct decision *d, const char *addr, enum rclass cls, enum action a,
		     const char *rule, const char *evidence)
{
	struct address ad = { 0 };
	const char *at = strrchr(addr, '@');
	struct rcpt *r;

	ad.full = xstrdup(addr);
	ad.local = xstrndup(addr, (size_t)(at - addr));
	ad.domain = xstrdup(at + 1);
	r = decision_add_rcpt(d, addr, &ad);
	r->cls = cls;
	r->action = a;
	r->rule = rule;
	r->evidence = evidence ? xstrdup(evidence) : NULL;
}

static void make_decision(struct decision *d, long long t, const char *qid, bool personal)
{
	decision_init(d);
	d->time = t;
	d->queue_id = xstrdup(qid);
	d->message_id = xstrdup("<m1@kp.dk>");
	d->sender = xstrdup("alice@kp.dk");
	d->client_addr = xstrdup("127.0.0.1");
	d->trusted = true;
	d->personal = personal;
	d->psrc = personal ? PSRC_HEADER : PSRC_NONE;
	d->personal_why = personal ? xstrdup("header X-KP-Personal: yes") : NULL;
	d->cpr_hits = 2;
	d->mode = MODE_MONITOR;
	add_rcpt(d, "bob@gmail.com", CLASS_FREEMAIL, personal ? ACTION_REJECT : ACTION_DELIVER,
		 "personal-to-freemail", "freemail list entry gmail.com (built-in)");
	add_rcpt(d, "carol@kp.dk", CLASS_INTERNAL, ACTION_DELIVER, "internal", NULL);
	d->action = personal ? ACTION_REJECT : ACTION_DELIVER;
	d->applied = ACTION_DELIVER;
	d->rule = "personal-to-freemail";
}

struct seen {
	int n;
	char log[2000];
};

static int collect(const struct decision *d, void *arg)
{
	struct seen *sn = arg;
	size_t len = strlen(sn->log);

	snprintf(sn->log + len, sizeof(sn->log) - len, "%lld %s %s %s %d %s %s %s %s %s %d %s|",
		 d->time, d->queue_id, d->message_id, d->sender, d->personal,
		 personal_source_name(d->psrc), d->personal_why ? d->personal_why : "-",
		 mode_name(d->mode), action_name(d->action), action_name(d->applied), d->cpr_hits,
		 d->rule);
	for (size_t i = 0; i < d->n_rcpts; i++) {
		const struct rcpt *r = &d->rcpts[i];
		len = strlen(sn->log);
		snprintf(sn->log + len, sizeof(sn->log) - len, "%s=%s/%s/%s/%s/%s/%s/%s|", r->raw,
			 r->addr.full, r->addr.local, r->addr.domain, rclass_name(r->cls),
			 action_name(r->action), r->rule, r->evidence ? r->evidence : "-");
	}
	return ++sn->n == 99 ? 7 : 0;
}

static void test_decisions(struct store *s)
{
	struct decision d;
	struct seen sn = { 0 };

	make_decision(&d, 1000, "Q1", true);
	is_int(store_record_decision(s, &d), 0, "record decision 1");
	decision_free(&d);
	make_decision(&d, 2000, "Q2", false);
	is_int(store_record_decision(s, &d), 0, "record decision 2");
	decision_free(&d);
	make_decision(&d, 3000, "Q3", false);
	is_int(store_record_decision(s, &d), 0, "record decision 3");
	decision_free(&d);

	is_int(store_decisions_each(s, 1000, 3000, collect, &sn), 0, "read decisions in [1000, 3000)");
	is_int(sn.n, 2, "two decisions in the window");
	is_str(sn.log,
	       "1000 Q1 <m1@kp.dk> alice@kp.dk 1 header header X-KP-Personal: yes monitor reject deliver 2 personal-to-freemail|"
	       "bob@gmail.com=bob@gmail.com/bob/gmail.com/freemail/reject/personal-to-freemail/freemail list entry gmail.com (built-in)|"
	       "carol@kp.dk=carol@kp.dk/carol/kp.dk/internal/deliver/internal/-|"
	       "2000 Q2 <m1@kp.dk> alice@kp.dk 0 none - monitor deliver deliver 2 personal-to-freemail|"
	       "bob@gmail.com=bob@gmail.com/bob/gmail.com/freemail/deliver/personal-to-freemail/freemail list entry gmail.com (built-in)|"
	       "carol@kp.dk=carol@kp.dk/carol/kp.dk/internal/deliver/internal/-|",
	       "decisions read back field by field, oldest first");
	memset(&sn, 0, sizeof(sn));
	is_int(store_decisions_each(s, 3001, 4000, collect, &sn), 0, "empty window");
	is_int(sn.n, 0, "no decisions after 3000");
	memset(&sn, 0, sizeof(sn));
	sn.n = 97;
	is_int(store_decisions_each(s, 0, 5000, collect, &sn), 7, "a callback's non-zero return stops the walk");
	is_int(sn.n, 99, "stopped after the second decision");
}

static int collect_instance(const struct decision *d, void *arg)
{
	struct seen *sn = arg;
	size_t len = strlen(sn->log);

	snprintf(sn->log + len, sizeof(sn->log) - len, "%s %s|", d->queue_id,
		 d->instance ? d->instance : "NULL");
	return 0;
}

/* The InstanceName is recorded with the decision (NULL: recorded before there was one). */
static void test_decision_instance(struct store *s)
{
	struct decision d;
	struct seen sn = { 0 };

	make_decision(&d, 60000, "I1", true);
	d.instance = strdup("mx1.kp.dk");
	is_int(store_record_decision(s, &d), 0, "record a decision with its instance");
	decision_free(&d);
	make_decision(&d, 60001, "I2", true);
	is_int(store_record_decision(s, &d), 0, "record a decision without an instance");
	decision_free(&d);
	is_int(store_decisions_each(s, 60000, 60002, collect_instance, &sn), 0, "read them back");
	is_str(sn.log, "I1 mx1.kp.dk|I2 NULL|", "the instance read back as recorded");
}

static void test_ro_errors(void)
{
	char *err = NULL, *p;
	struct store *s;
	FILE *f;

	p = xasprintf("%s/missing.db", dir);
	ok(store_open(p, STORE_RO, &err) == NULL, "read-only open of a missing file fails");
	ok(err && strstr(err, "does not exist") != NULL, "... saying it does not exist: %s", err ? err : "NULL");
	ok(access(p, F_OK) != 0, "... and does not create it");
	free(err);
	err = NULL;
	free(p);

	p = xasprintf("%s/text.db", dir);
	f = fopen(p, "w");
	for (int i = 0; i < 200; i++)
		fputs("this is a text file, not a database at all\n", f);
	fclose(f);
	ok((s = store_open(p, STORE_RO, &err)) == NULL, "read-only open of a text file fails");
	ok(err && strstr(err, "is not an SQLite database") != NULL, "... clearly: %s", err ? err : "NULL");
	free(err);
	err = NULL;
	ok((s = store_open(p, STORE_RW, &err)) == NULL, "read-write open of a text file fails too");
	free(err);
	err = NULL;
	free(p);

	p = xasprintf("%s/empty.db", dir);
	close(open(p, O_WRONLY | O_CREAT, 0600));
	ok(store_open(p, STORE_RO, &err) == NULL, "read-only open of an empty file fails");
	ok(err && strstr(err, "not (yet) a sikkermail database") != NULL, "... clearly: %s", err ? err : "NULL");
	free(err);
	err = NULL;
	/* the running daemon's reopen: a file gone or emptied is an outage */
	ok(store_open(p, STORE_RW_EXISTING, &err) == NULL, "STORE_RW_EXISTING: an empty file is refused");
	free(err);
	err = NULL;
	free(p);
	p = xasprintf("%s/missing.db", dir);
	ok(store_open(p, STORE_RW_EXISTING, &err) == NULL, "STORE_RW_EXISTING: a missing file is refused");
	ok(err && strstr(err, "does not exist") != NULL, "... saying it does not exist: %s", err ? err : "NULL");
	ok(access(p, F_OK) != 0, "... and is not created");
	free(err);
	free(p);
}

/* A copy of the database with a 4-byte big-endian header field patched (offset < 0: none). */
static char *patched_copy(const char *name, long offset, unsigned value)
{
	char *p = xasprintf("%s/%s", dir, name), buf[65536];
	unsigned char be[4] = { (unsigned char)(value >> 24), (unsigned char)(value >> 16),
				(unsigned char)(value >> 8), (unsigned char)value };
	int in = open(db_path, O_RDONLY), out = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ssize_t n;

	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			break;
	if (offset >= 0 && pwrite(out, be, 4, offset) != 4)
		diag("cannot patch %s", p);
	close(in);
	close(out);
	return p;
}

static void test_foreign(void)
{
	char *err = NULL, *p;

	p = patched_copy("foreign.db", 68, 0x12345678);	/* application_id */
	ok(store_open(p, STORE_RW, &err) == NULL, "another application's SQLite database is refused");
	ok(err && strstr(err, "not a sikkermail database") != NULL, "... clearly: %s", err ? err : "NULL");
	free(err);
	err = NULL;
	free(p);
	p = patched_copy("future.db", 60, 99);	/* user_version */
	ok(store_open(p, STORE_RO, &err) == NULL, "a newer schema version is refused");
	ok(err && strstr(err, "schema version 99") != NULL, "... clearly: %s", err ? err : "NULL");
	free(err);
	free(p);
}

/* One handle writes, another reads the same file; both see each other's data. */
static void test_two_handles(void)
{
	struct store *w, *r;
	struct list_entries l = parse_list(LIST_PARTNERS, "partners.txt", "p.example,P A/S,2099-12-31\n");
	struct list_entry e;
	char *err = NULL;
	struct seen sn = { 0 };
	struct decision d;

	w = store_open(db_path, STORE_RW, &err);
	r = store_open(db_path, STORE_RO, &err);
	ok(w != NULL && r != NULL, "a writer and a reader on one file");
	if (w == NULL || r == NULL) {
		diag("%s", err);
		exit(1);
	}
	is_int(store_list_replace(w, LIST_PARTNERS, &l, &err), 0, "writer imports partners");
	is_str(match(r, LIST_PARTNERS, "p.example", &e), "p.example", "reader sees the import");
	is_str(e.dpa_expires, "2099-12-31", "reader sees the expiry");
	list_entry_free(&e);
	make_decision(&d, 2500, "Q4", true);
	is_int(store_record_decision(w, &d), 0, "writer records a decision");
	decision_free(&d);
	is_int(store_decisions_each(r, 0, 10000, collect, &sn), 0, "reader reads decisions");
	is_int(sn.n, 4, "reader sees all four decisions");
	is_int(store_list_replace(r, LIST_PARTNERS, &l, &err), -1, "a read-only handle cannot import");
	ok(err != NULL && *err != '\0', "... with an error: %s", err ? err : "NULL");
	free(err);
	list_entries_free(&l);
	store_close(w);
	store_close(r);
}

/* Data survives closing; the built-in list is only loaded into a new database. */
static void test_reopen(void)
{
	struct list_entries l = parse_list(LIST_FREEMAIL, "free.txt", "only.example\n");
	struct store *s;
	struct list_entry e;
	char *err = NULL;
	struct seen sn = { 0 };

	s = store_open(db_path, STORE_RW, &err);
	is_int(store_list_replace(s, LIST_FREEMAIL, &l, &err), 0, "replace the freemail list");
	store_close(s);
	list_entries_free(&l);
	s = store_open(db_path, STORE_RW, &err);
	ok(s != NULL, "reopen read-write");
	if (s == NULL)
		exit(1);
	is_str(match(s, LIST_FREEMAIL, "only.example", &e), "only.example", "replaced freemail list kept");
	list_entry_free(&e);
	is_str(match(s, LIST_FREEMAIL, "gmail.com", &e), NULL, "built-in list not loaded again");
	is_str(match(s, LIST_TUNNEL, "a.kp.dk", &e), ".kp.dk", "tunnel list survived");
	list_entry_free(&e);
	store_decisions_each(s, 0, 10000, collect, &sn);
	is_int(sn.n, 4, "decisions survived");
	store_close(s);
}

/* A database that breaks under an open handle gives RETRY, never NOTFOUND. */
static void test_retry(void)
{
	struct store *s;
	struct list_entry e;
	char *err = NULL, *p = patched_copy("broken.db", -1, 0), junk[4096];
	int fd;

	s = store_open(p, STORE_RW, &err);
	ok(s != NULL, "open a copy that is about to break");
	if (s == NULL) {
		ok(0, "%s", err);
		return;
	}
	memset(junk, 'x', sizeof(junk));
	fd = open(p, O_WRONLY);
	for (int i = 0; i < 64; i++)
		if (write(fd, junk, sizeof(junk)) < 0)
			break;
	close(fd);
	is_int(store_list_match(s, LIST_FREEMAIL, "only.example", &e), LOOKUP_RETRY,
	       "lookup on a corrupted database: RETRY");
	ok(strcmp(store_errmsg(s), "no error") != 0, "store_errmsg says why: %s", store_errmsg(s));
	store_close(s);
	free(p);
}

/*
 * The busy handler waits for SQLite's write lock in the VFS's xSleep: a
 * VFS that counts those calls tells whether a writer slept. It wraps the
 * default one and becomes the default for the handles opened after it.
 */
static sqlite3_vfs counting_vfs;
static sqlite3_vfs *real_vfs;
static atomic_int sleeps;

static int counting_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	atomic_fetch_add(&sleeps, 1);
	return real_vfs->xSleep(real_vfs, us);
}

#define WRITERS 8
#define WRITES_EACH 100

static pthread_barrier_t all_open, counting;

struct writer {
	int n;
	int failed;
	char err[300];
};

/* one connection per thread, as the milter's pool hands them out */
static void *write_many(void *arg)
{
	struct writer *w = arg;
	char *err = NULL;
	struct store *s = store_open(db_path, STORE_RW, &err);

	/* opening may wait (WAL recovery); what is counted is the writing */
	pthread_barrier_wait(&all_open);
	pthread_barrier_wait(&counting);	/* then all write at once */
	if (s == NULL) {
		snprintf(w->err, sizeof(w->err), "%s", err ? err : "cannot open");
		w->failed = WRITES_EACH;
		free(err);
		return NULL;
	}
	for (int i = 0; i < WRITES_EACH; i++) {
		struct decision d;
		char qid[32], marker[64];

		snprintf(qid, sizeof(qid), "W%dN%d", w->n, i);
		snprintf(marker, sizeof(marker), "marker-%d-%d", w->n, i);
		make_decision(&d, 5000 + i, qid, i % 2 == 0);
		if (store_record_decision(s, &d) != 0 ||
		    store_marker_issue(s, marker, 9000, 5000) != 0 ||
		    store_marker_consume(s, marker, 5000) != 1) {
			if (w->failed++ == 0)
				snprintf(w->err, sizeof(w->err), "%s", store_errmsg(s));
		}
		decision_free(&d);
	}
	store_close(s);
	return NULL;
}

static int count_decision(const struct decision *d, void *arg)
{
	(void)d;
	(*(int *)arg)++;
	return 0;
}

static void test_concurrent_writers(void)
{
	pthread_t t[WRITERS];
	struct writer w[WRITERS];
	struct store *s;
	char *err = NULL;
	int failed = 0, n = 0;

	real_vfs = sqlite3_vfs_find(NULL);
	counting_vfs = *real_vfs;
	counting_vfs.zName = "t_store-counting";
	counting_vfs.xSleep = counting_sleep;
	if (sqlite3_vfs_register(&counting_vfs, 1) != SQLITE_OK) {
		ok(0, "register the counting VFS");
		return;
	}
	pthread_barrier_init(&all_open, NULL, WRITERS + 1);
	pthread_barrier_init(&counting, NULL, WRITERS + 1);
	for (int i = 0; i < WRITERS; i++) {
		w[i] = (struct writer){ .n = i };
		if (pthread_create(&t[i], NULL, write_many, &w[i]) != 0) {
			perror("pthread_create");
			exit(1);
		}
	}
	pthread_barrier_wait(&all_open);
	atomic_store(&sleeps, 0);
	pthread_barrier_wait(&counting);
	for (int i = 0; i < WRITERS; i++) {
		pthread_join(t[i], NULL);
		failed += w[i].failed;
		if (w[i].failed)
			diag("writer %d: %d failed: %s", i, w[i].failed, w[i].err);
	}
	is_int(failed, 0, "%d threads, %d decisions and markers each: every write succeeds",
	       WRITERS, WRITES_EACH);
	pthread_barrier_destroy(&all_open);
	pthread_barrier_destroy(&counting);
	is_int(atomic_load(&sleeps), 0,
	       "writers of one process wait for each other, not in SQLite's busy sleeps");
	s = store_open(db_path, STORE_RO, &err);
	ok(s != NULL && store_decisions_each(s, 5000, 5000 + WRITES_EACH, count_decision, &n) == 0,
	   "the decisions read back");
	is_int(n, WRITERS * WRITES_EACH, "every decision of every thread is recorded");
	store_close(s);
	free(err);
	sqlite3_vfs_unregister(&counting_vfs);
}

static void cleanup(void)
{
	static const char *const names[] = {
		"test.db", "test.db-wal", "test.db-shm", "text.db", "empty.db", "foreign.db",
		"future.db", "broken.db", "broken.db-wal", "broken.db-shm", "future.db-wal",
		"future.db-shm", "foreign.db-wal", "foreign.db-shm", "empty.db-wal", "empty.db-shm",
		"v1.db", "v1.db-wal", "v1.db-shm", "facts.db", "facts.db-wal", "facts.db-shm",
		"domcert.db", "domcert.db-wal", "domcert.db-shm",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *p = xasprintf("%s/%s", dir, names[i]);
		unlink(p);
		free(p);
	}
	if (rmdir(dir) != 0)
		diag("cannot remove %s: %s", dir, strerror(errno));
}

/* ------------------------------------------------------------ notices */

struct pend {
	char log[500];
	int n;
};

static int note_pending(const char *mailbox, long long oldest, long count, void *arg)
{
	struct pend *p = arg;
	size_t len = strlen(p->log);

	snprintf(p->log + len, sizeof(p->log) - len, "%s %lld %ld|", mailbox, oldest, count);
	p->n++;
	return 0;
}

static char *pending_of(struct store *s, long long now)
{
	static struct pend p;

	memset(&p, 0, sizeof(p));
	if (store_notice_pending(s, now, note_pending, &p) != 0)
		return "ERROR";
	return p.log;
}

/* Kept, listed per mailbox, claimed (not twice), released, deleted only when sent. */
static void test_notices(void)
{
	struct store *s, *other;
	struct notice_entry *v = NULL, *w = NULL;
	char *err = NULL;
	long n;

	s = store_open(db_path, STORE_RW, &err);
	other = store_open(db_path, STORE_RW, &err);
	if (!ok(s != NULL && other != NULL, "notices: two handles"))
		exit(1);
	is_str(pending_of(s, 1000), "", "notices: none waiting in a new database");
	ok(store_notice_add(s, "sikker@kp.dk", 100, "Q1", "entry one\n") == 0 &&
	   store_notice_add(s, "sikker@kp.dk", 101, "Q2", "entry two\n") == 0 &&
	   store_notice_add(s, "hr@kp.dk", 50, NULL, "entry hr\n") == 0 &&
	   store_notice_add(s, "sikker@kp.dk", 102, "Q3", "entry three\n") == 0,
	   "notices: four kept");
	is_str(pending_of(s, 1000), "hr@kp.dk 50 1|sikker@kp.dk 100 3|",
	       "notices: per mailbox, oldest first, with the oldest's time and the count");

	n = store_notice_claim(s, "sikker@kp.dk", 1000, 2000, 2, &v);
	is_int(n, 2, "notices: a claim of at most 2 takes 2");
	if (n == 2) {
		is_str(v[0].ref, "Q1", "notices: the oldest first (ref)");
		is_str(v[0].text, "entry one\n", "notices: ... with its text");
		is_int(v[0].created, 100, "notices: ... and its time");
		is_str(v[1].ref, "Q2", "notices: then the next");
	}
	is_str(pending_of(other, 1500), "hr@kp.dk 50 1|sikker@kp.dk 102 1|",
	       "notices: claimed ones are not waiting for anyone else");
	is_int(store_notice_claim(other, "sikker@kp.dk", 1500, 2500, 50, &w), 1,
	       "notices: another handle claims only the unclaimed one");
	if (w != NULL)
		is_str(w[0].ref, "Q3", "notices: ... Q3");
	is_int(store_notice_done(other, w, 1, false), 0, "notices: Q3 released (not sent)");
	notice_entries_free(w, 1);
	w = NULL;
	is_str(pending_of(s, 1500), "hr@kp.dk 50 1|sikker@kp.dk 102 1|",
	       "notices: a released notice waits again");
	is_str(pending_of(s, 2000), "hr@kp.dk 50 1|sikker@kp.dk 100 3|",
	       "notices: a claim that ran out (its process died) is anyone's again");
	is_int(store_notice_done(s, v, 2, true), 0, "notices: Q1 and Q2 sent: deleted");
	notice_entries_free(v, 2);
	is_str(pending_of(s, 1000), "hr@kp.dk 50 1|sikker@kp.dk 102 1|",
	       "notices: only Q3 and hr's are left");
	is_int(store_notice_claim(s, "nobody@kp.dk", 1000, 2000, 50, &v), 0,
	       "notices: a mailbox without notices: nothing claimed");
	notice_entries_free(v, 0);
	n = store_notice_claim(s, "hr@kp.dk", 1000, 2000, 50, &v);
	if (is_int(n, 1, "notices: hr's claimed"))
		ok(v[0].ref == NULL, "notices: a notice without a reference keeps none");
	store_notice_done(s, v, (size_t)(n > 0 ? n : 0), true);
	notice_entries_free(v, (size_t)(n > 0 ? n : 0));
	n = store_notice_claim(s, "sikker@kp.dk", 1000, 2000, 50, &v);
	store_notice_done(s, v, (size_t)(n > 0 ? n : 0), true);
	notice_entries_free(v, (size_t)(n > 0 ? n : 0));
	is_str(pending_of(s, 1000), "", "notices: all sent, none left");
	store_close(other);
	store_close(s);
}

/* db_int - one integer from an SQL query on path, or -1. */
static long long db_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long long v = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static int keep_facts(const struct decision *d, void *arg)
{
	struct strbuf *sb = arg;

	sb_printf(sb, "%s %s %s %d %s %s|", d->queue_id, flag_said_name(d->flag),
		  cpr_scan_name(d->cpr_scan), d->already_encrypted, d->mailbox ? d->mailbox : "-",
		  d->failure ? d->failure : "-");
	return 0;
}

/*
 * The facts a replay decides from, the function mailbox named and the
 * failure are recorded with the decision and read back; a decision
 * recorded before they were kept (no row of its own) reads back "n/a".
 */
static void test_decision_facts(void)
{
	char *p = xasprintf("%s/facts.db", dir), *err = NULL, *msg = NULL;
	struct strbuf sb;
	struct decision d;
	struct store *s;
	sqlite3 *db = NULL;

	sb_init(&sb);
	if (!ok((s = store_open(p, STORE_RW, &err)) != NULL, "facts: a database"))
		exit(1);
	make_decision(&d, 100, "F1", true);
	d.flag = FLAG_SAID_UNCLEAR;
	d.cpr_scan = CPR_SCAN_FAILED;
	d.already_encrypted = true;
	d.mailbox = xstrdup("hr@kp.dk");
	d.failure = xstrdup("mailbox: function mailbox <hr@kp.dk> is not configured");
	is_int(store_record_decision(s, &d), 0, "facts: a refused decision recorded");
	decision_free(&d);
	make_decision(&d, 200, "F2", false);
	d.flag = FLAG_SAID_NO;
	d.cpr_scan = CPR_SCAN_DONE;
	is_int(store_record_decision(s, &d), 0, "facts: another recorded");
	decision_free(&d);
	make_decision(&d, 300, "F3", false);
	d.flag = FLAG_SAID_NONE;
	d.cpr_scan = CPR_SCAN_SKIPPED;
	is_int(store_record_decision(s, &d), 0, "facts: a third recorded");
	decision_free(&d);
	store_close(s);
	/* as if F3 had been recorded before the facts were kept */
	ok(sqlite3_open(p, &db) == SQLITE_OK &&
	   sqlite3_exec(db, "DELETE FROM decision_facts WHERE decision_id ="
			    " (SELECT id FROM decision WHERE queue_id = 'F3')",
			NULL, NULL, &msg) == SQLITE_OK,
	   "facts: F3's facts taken away");
	sqlite3_free(msg);
	sqlite3_close(db);
	s = store_open(p, STORE_RO, &err);
	is_int(s ? store_decisions_each(s, 0, 1000, keep_facts, &sb) : -1, 0, "facts: read back");
	is_str(sb.s,
	       "F1 unclear failed 1 hr@kp.dk mailbox: function mailbox <hr@kp.dk> is not configured|"
	       "F2 no scanned 0 - -|F3 n/a n/a 0 - -|",
	       "facts: flag, CPR scan, encryption, mailbox and failure as recorded; none: n/a");
	store_close(s);
	sb_free(&sb);
	free(err);
	free(p);
}

/*
 * Domain certificates: an import replaces the whole set; lookups by
 * domain, latest expiry first; the cache tells a domain's answer
 * ("@domain") from an address's.
 */
static void test_domain_certs(void)
{
	char *path = xasprintf("%s/domcert.db", dir);
	unsigned char der1[] = { 1, 2, 3 }, der2[] = { 4, 5 }, der3[] = { 6 };
	struct domain_cert v[] = {
		{ "partner.dk", der1, 3, "CN=a", "AA", 100, "/f", 4, 0 },
		{ "partner.dk", der2, 2, "CN=b", "BB", 200, "/f", 40, 0 },
		{ "other.dk", der3, 1, "CN=c", "CC", 300, "/f", 80, 0 },
	};
	struct domain_certs l = { v, 3 }, got;
	struct cert_cache_entry e = { .found = true, .der = der1, .der_len = 3, .fetched_at = 5,
				      .fresh_until = 9 };
	struct cert_cache_stats st, before;
	char *err = NULL;
	struct store *s = store_open(path, STORE_RW, &err);

	free(path);
	if (!ok(s != NULL, "domain certs: a database (%s)", err ? err : "opened"))
		exit(1);
	is_int(store_domain_certs_replace(s, &l, 1000, &err), 0, "domain certs: import three");
	is_int(store_domain_certs_get(s, "partner.dk", &got), LOOKUP_FOUND,
	       "domain certs: partner.dk found");
	is_int((long)got.n, 2, "domain certs: two for partner.dk");
	if (got.n == 2) {
		is_str(got.v[0].fingerprint, "BB", "domain certs: the later expiry first");
		is_int(got.v[0].line, 40, "domain certs: with its line");
		is_str(got.v[0].source, "/f", "domain certs: and its file");
		is_int(got.v[0].imported_at, 1000, "domain certs: and the time of the import");
		ok(got.v[1].der_len == 3 && memcmp(got.v[1].der, der1, 3) == 0,
		   "domain certs: the certificate bytes kept");
	}
	domain_certs_free(&got);
	is_int(store_domain_certs_get(s, "nobody.dk", &got), LOOKUP_NOTFOUND,
	       "domain certs: none for another domain");
	l.n = 1;
	l.v = &v[2];
	is_int(store_domain_certs_replace(s, &l, 2000, &err), 0, "domain certs: re-import one");
	is_int(store_domain_certs_get(s, "partner.dk", &got), LOOKUP_NOTFOUND,
	       "domain certs: a re-import replaces the old set");
	is_int(store_domain_certs_get(s, NULL, &got), LOOKUP_FOUND, "domain certs: all of them");
	is_int((long)got.n, 1, "domain certs: just the one re-imported");
	domain_certs_free(&got);
	free(err);

	ok(store_cert_stats(s, 0, &before) == 0, "cache kind: stats before");
	is_int(store_cert_put(s, "@partner.dk", &e), 0, "cache kind: a domain's answer");
	is_int(store_cert_put(s, "bob@partner.dk", &e), 0, "cache kind: an address's answer");
	ok(store_cert_stats(s, 0, &st) == 0, "cache kind: stats after");
	is_int(st.domain - before.domain, 1, "cache kind: one more domain answer");
	is_int(st.domain_found - before.domain_found, 1, "cache kind: with a certificate");
	is_int(st.entries - before.entries, 2, "cache kind: two answers in all");
	store_close(s);
}

/*
 * A database of schema version 1 (before the notices) is upgraded by a
 * read-write open, keeping what it holds; a read-only open refuses it.
 */
static void test_upgrade(void)
{
	char *p = xasprintf("%s/v1.db", dir), *err = NULL, *msg = NULL;
	struct list_entries l = parse_list(LIST_TUNNEL, "t.txt", "kept.example,Kept\n");
	struct list_entry e;
	struct store *s;
	sqlite3 *db = NULL;
	long long latest;
	char *older;

	s = store_open(p, STORE_RW, &err);
	if (!ok(s != NULL, "upgrade: a database to take back to version 1"))
		exit(1);
	is_int(store_list_replace(s, LIST_TUNNEL, &l, &err), 0, "upgrade: with a tunnel list");
	store_close(s);
	list_entries_free(&l);
	/* the newest version is whatever the last migration step makes it */
	latest = db_int(p, "PRAGMA user_version");
	ok(latest >= 3, "upgrade: a new database has the newest schema version (%lld)", latest);
	/* back to version 1: what every later step made goes */
	ok(sqlite3_open(p, &db) == SQLITE_OK &&
	   sqlite3_exec(db, "DROP TABLE notice; DROP TABLE held_outcome; DROP TABLE decision_facts;"
			    " DROP INDEX decision_queue_id; ALTER TABLE decision DROP COLUMN instance;"
			    " DROP TABLE domain_cert; ALTER TABLE cert_cache DROP COLUMN kind;"
			    " PRAGMA user_version = 1",
			NULL, NULL, &msg) == SQLITE_OK,
	   "upgrade: made a version-1 database (no notice, held_outcome or decision_facts table)");
	sqlite3_free(msg);
	sqlite3_close(db);

	ok(store_open(p, STORE_RO, &err) == NULL, "upgrade: read-only, a version-1 database is refused");
	older = xasprintf("schema version 1, older than %lld", latest);
	ok(err && strstr(err, older) != NULL, "... clearly: %s", err ? err : "NULL");
	free(older);
	free(err);
	err = NULL;
	s = store_open(p, STORE_RW, &err);
	if (!ok(s != NULL, "upgrade: read-write, it opens"))
		diag("%s", err ? err : "?");
	is_int(db_int(p, "PRAGMA user_version"), latest, "upgrade: now the newest schema version");
	is_int(db_int(p, "SELECT count(*) FROM pragma_table_info('decision')"
			 " WHERE name = 'instance'"), 1, "upgrade: with the decision's instance");
	is_int(db_int(p, "SELECT count(*) FROM sqlite_master WHERE name = 'notice'"), 1,
	       "upgrade: with the notice table");
	is_int(db_int(p, "SELECT count(*) FROM sqlite_master WHERE name = 'held_outcome'"), 1,
	       "upgrade: with the held_outcome table");
	is_int(db_int(p, "SELECT count(*) FROM sqlite_master WHERE name = 'decision_facts'"), 1,
	       "upgrade: with the decision_facts table");
	is_int(db_int(p, "SELECT count(*) FROM sqlite_master WHERE name = 'domain_cert'"), 1,
	       "upgrade: with the domain_cert table");
	is_int(db_int(p, "SELECT count(*) FROM pragma_table_info('cert_cache') WHERE name = 'kind'"),
	       1, "upgrade: with the certificate cache's kind");
	if (s != NULL) {
		is_str(match(s, LIST_TUNNEL, "kept.example", &e), "kept.example",
		       "upgrade: the tunnel list is kept");
		list_entry_free(&e);
		is_int(store_notice_add(s, "sikker@kp.dk", 1, "Q9", "x\n"), 0,
		       "upgrade: notices can be kept");
		is_int(db_int(p, "SELECT count(*) FROM pragma_table_info('decision')"
				 " WHERE name = 'instance'"), 1,
		       "upgrade: decisions get their instance column");
		is_str(match(s, LIST_FREEMAIL, "gmail.com", &e), "gmail.com",
		       "upgrade: the freemail list is not loaded twice");
		list_entry_free(&e);
		is_int(db_int(p, "SELECT count(*) FROM list_entry WHERE domain = 'gmail.com'"), 1,
		       "upgrade: ... one gmail.com");
	}
	store_close(s);
	free(p);
}

int main(void)
{
	struct store *s;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	db_path = xasprintf("%s/test.db", dir);
	test_create(&s);
	test_match(s);
	test_list_cache(s);
	test_list_cache_herd();
	test_atomic(s);
	test_decisions(s);
	test_decision_instance(s);
	store_close(s);
	test_ro_errors();
	test_foreign();
	test_two_handles();
	test_reopen();
	test_retry();
	test_concurrent_writers();
	test_notices();
	test_upgrade();
	test_domain_certs();
	test_decision_facts();
	cleanup();
	free(db_path);
	return done_testing();
}

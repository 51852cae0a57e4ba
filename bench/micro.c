/*
 * micro.c - in-process microbenchmarks of the two per-message costs that
 * do not depend on the MTA: classifying a recipient against warm lists and
 * a cached certificate, and scanning text for CPR numbers.
 *
 *   bench/micro [-t SECONDS] [-r ROUNDS] [-o cpr|classify]
 *     -t   time per measurement slice (default 0.2)
 *     -r   rounds; each round measures the baseline and the subject in
 *          turn, and the median round is printed (default 5)
 *     -o   only the scanner, or only classification (for a profiler)
 *
 * Time is the thread's CPU time, so the figures are per core. The
 * machine is shared and noisy, so each figure is also printed with a
 * baseline measured in the same process, slice against slice: memchr and
 * memcpy over the same buffer for the scanner, and a hash over the same
 * addresses for classification. The target of issue 11 stands beside each
 * figure (classification >= 1,000,000 per second per core, CPR scanning
 * >= 300 MB/s per core) with whether it is met. Exit status 0 either way:
 * this measures, it does not judge.
 *
 * Classification runs as the daemon runs it: a runtime from a
 * configuration (InternalDomains, a function mailbox, a directory that is
 * never reached), a database handle from its pool holding 10,000 tunnel
 * domains, 1,000 partners and the built-in freemail list, and
 * classify_address on already normalised addresses. Non-personal messages
 * classify by the lists alone; personal ones also ask the certificate
 * cache, which holds one valid certificate and "no certificate" answers
 * for the other addresses (made with openssl(1) in a scratch directory;
 * without it that part is skipped).
 *
 * Scanning feeds cpr_scan 16 KB chunks of a 256 KB text (the size of a
 * large message, warm in the cache as the daemon's decoded text is):
 * Danish prose without digits, the same full of dates, phone, account and
 * journal numbers, the same with a CPR number every few hundred bytes,
 * and the digit text as HTML.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "classify.h"
#include "config.h"
#include "cpr.h"
#include "lists.h"
#include "log.h"
#include "runtime.h"
#include "store.h"
#include "util.h"

#include "tfiles.h"

#define TEXT_SIZE (256 * 1024)
#define CHUNK 16384
#define N_TUNNEL 10000
#define N_PARTNERS 1000
#define MAX_ROUNDS 15
#define CERT_ADDR "anna@cert.example"
#define MAILBOX "sikker@kp.dk"

#define TARGET_CLASSIFY 1e6	/* recipients per second per core */
#define TARGET_CPR 300.0	/* MB/s per core */

/* One measured thing: run(arg, n) does n units of work; a unit is an address or a byte. */
struct job {
	void (*run)(void *arg, size_t n);
	void *arg;
	size_t n;
};

struct classify_arg {
	const struct config *cfg;
	const struct certs *certs;
	struct store *store;
	const struct list_snapshot *lists;
	struct list_cache *cache;
	struct address *addr;
	size_t n_addr;
	bool personal;
	unsigned long sink;
};

struct text_arg {
	const char *text;
	size_t len;
	bool html;
	char *copy;
	unsigned hits;
	unsigned long sink;
};

static double slice_seconds = 0.2;
static int rounds = 5;

static double now(void);
static double per_second(const struct job *j);
static int compare_double(const void *a, const void *b);
static void measure(const struct job *base, const struct job *subject, double *base_rate,
		    double *rate);
static void verdict(const char *what, double rate, double target, const char *unit);
static uint32_t rnd(void);
static void add_word(struct strbuf *sb);
static void add_number(struct strbuf *sb);
static char *make_text(int kind, size_t len);
static void run_cpr(void *arg, size_t n);
static void run_memchr(void *arg, size_t n);
static void run_memcpy(void *arg, size_t n);
static void bench_cpr(const char *name, int kind, bool html);
static void run_classify(void *arg, size_t n);
static void run_hash(void *arg, size_t n);
static bool make_pki(void);
static void import_lists(struct store *s);
static void cache_certificates(struct store *s, struct address *addr, size_t n);
static struct runtime *make_runtime(bool with_certs);
static void bench_classify(void);

/*
 * now - this thread's CPU time: a figure per core that other processes
 * on a shared machine do not dilute (their cache traffic still shows,
 * which is what the baseline from the same slices is for).
 */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* per_second - units per second over one slice of at least slice_seconds. */
static double per_second(const struct job *j)
{
	double start = now(), t;
	size_t reps = 0;

	do {
		j->run(j->arg, j->n);
		reps++;
	} while ((t = now() - start) < slice_seconds);
	return (double)reps * (double)j->n / t;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * measure - the baseline and the subject in alternating slices, so that
 * the machine's noise hits both alike; the median of each over the rounds.
 */
static void measure(const struct job *base, const struct job *subject, double *base_rate,
		    double *rate)
{
	double b[MAX_ROUNDS], s[MAX_ROUNDS];

	base->run(base->arg, base->n);	/* warm up caches and branch predictors */
	subject->run(subject->arg, subject->n);
	for (int i = 0; i < rounds; i++) {
		b[i] = per_second(base);
		s[i] = per_second(subject);
	}
	qsort(b, (size_t)rounds, sizeof(b[0]), compare_double);
	qsort(s, (size_t)rounds, sizeof(s[0]), compare_double);
	*base_rate = b[rounds / 2];
	*rate = s[rounds / 2];
}

static void verdict(const char *what, double rate, double target, const char *unit)
{
	printf("  %-36s %12.1f %s   target >= %.0f %s: %s\n", what, rate, unit, target, unit,
	       rate >= target ? "met" : "NOT met");
}

/* ------------------------------------------------------------ CPR scanning */

/* rnd - a fixed pseudo-random sequence (xorshift), the same text every run. */
static uint32_t rnd(void)
{
	static uint32_t x = 2463534242u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return x;
}

static void add_word(struct strbuf *sb)
{
	static const char *const words[] = {
		"og", "i", "at", "det", "en", "til", "er", "som", "på", "de", "med", "han", "af",
		"for", "ikke", "der", "var", "mig", "sig", "men", "et", "har", "om", "vi", "min",
		"havde", "ham", "hun", "nu", "over", "da", "fra", "du", "ud", "sin", "dem", "os",
		"op", "man", "hans", "hvor", "eller", "hvad", "skal", "selv", "her", "alle", "vil",
		"blev", "kunne", "ind", "når", "være", "dog", "noget", "ville", "jo", "deres",
		"efter", "ned", "skulle", "denne", "end", "dette", "mit", "også", "under", "have",
		"dig", "anden", "hende", "mine", "alt", "meget", "sit", "sine", "vor", "mod",
		"disse", "hvis", "din", "nogle", "hos", "blive", "mange", "ad", "bliver", "hendes",
		"været", "thi", "jer", "sådan", "borger", "sagsbehandler", "kommune", "ansøgning",
		"afgørelse", "bevilling", "støtte", "hjemmehjælp", "journal", "venlig", "hilsen",
		"Aarhus", "København", "Ærø", "Øresund", "Ålborg", "vedrørende", "børn", "fødsel",
	};
	static const char *const punct[] = { " ", " ", " ", " ", " ", ", ", ". ", ".\n", "\n\n" };

	sb_adds(sb, words[rnd() % (sizeof(words) / sizeof(words[0]))]);
	sb_adds(sb, punct[rnd() % (sizeof(punct) / sizeof(punct[0]))]);
}

/* add_number - a date, time, phone, account, amount or journal number, as they are written. */
static void add_number(struct strbuf *sb)
{
	unsigned d = rnd() % 28 + 1, m = rnd() % 12 + 1, y = 2000 + rnd() % 25;

	switch (rnd() % 8) {
	case 0:
		sb_printf(sb, "den %u.%u.%u ", d, m, y);
		break;
	case 1:
		sb_printf(sb, "kl. %02u:%02u ", rnd() % 24, rnd() % 60);
		break;
	case 2:
		sb_printf(sb, "tlf. %02u %02u %02u %02u ", rnd() % 90 + 10, rnd() % 100, rnd() % 100,
			  rnd() % 100);
		break;
	case 3:
		sb_printf(sb, "+45 %08u ", rnd() % 90000000 + 10000000);
		break;
	case 4:
		sb_printf(sb, "kontonr. %04u-%010u ", rnd() % 10000, rnd() % 1000000000);
		break;
	case 5:
		sb_printf(sb, "%u.%03u,%02u kr. ", rnd() % 100, rnd() % 1000, rnd() % 100);
		break;
	case 6:
		sb_printf(sb, "j.nr. %u-%06u ", y, rnd() % 1000000);
		break;
	default:
		sb_printf(sb, "%u %u ", rnd() % 1000, rnd() % 100);
		break;
	}
}

/*
 * make_text - len bytes of text: kind 0 words only, 1 words and numbers,
 * 2 words and a CPR number (valid date and modulus 11) every ~300 bytes;
 * HTML markup around the paragraphs when kind is 3 (numbers too).
 */
static char *make_text(int kind, size_t len)
{
	struct strbuf sb;
	char *out;

	sb_init(&sb);
	while (sb.len < len) {
		if (kind == 3 && rnd() % 16 == 0)
			sb_adds(&sb, rnd() % 2 ? "</p>\n<p class=\"brød\">" : "<td style=\"width:12px\">");
		if ((kind == 1 || kind == 3) && rnd() % 4 == 0)
			add_number(&sb);
		else if (kind == 2 && rnd() % 50 == 0)
			sb_adds(&sb, rnd() % 2 ? "CPR-nr. 010190-1238 " : "personnummer 0202801234, ");
		else
			add_word(&sb);
	}
	out = xmalloc(len);
	memcpy(out, sb.s, len);	/* may cut a word or a UTF-8 sequence: the scanner copes */
	sb_free(&sb);
	return out;
}

static void run_cpr(void *arg, size_t n)
{
	struct text_arg *t = arg;
	struct cpr_scanner s;

	cpr_scanner_init(&s);
	cpr_scanner_set_html(&s, t->html);
	for (size_t off = 0; off < n; off += CHUNK)
		cpr_scan(&s, t->text + off, n - off < CHUNK ? n - off : CHUNK);
	cpr_scanner_finish(&s);
	t->hits = s.result.hits;
}

static void run_memchr(void *arg, size_t n)
{
	struct text_arg *t = arg;

	/* a byte UTF-8 text never holds: the whole buffer is read */
	t->sink += memchr(t->text, 0xFF, n) != NULL;
}

static void run_memcpy(void *arg, size_t n)
{
	struct text_arg *t = arg;

	memcpy(t->copy, t->text, n);
	t->sink += (unsigned char)t->copy[n / 2];
}

static void bench_cpr(const char *name, int kind, bool html)
{
	struct text_arg t = { .len = TEXT_SIZE, .html = html };
	struct job scan = { run_cpr, &t, TEXT_SIZE }, chr = { run_memchr, &t, TEXT_SIZE },
		   cpy = { run_memcpy, &t, TEXT_SIZE };
	double chr_rate, cpy_rate, rate, rate2;

	t.text = make_text(kind, TEXT_SIZE);
	t.copy = xmalloc(TEXT_SIZE);
	measure(&chr, &scan, &chr_rate, &rate);
	measure(&cpy, &scan, &cpy_rate, &rate2);
	rate = (rate + rate2) / 2;	/* measured beside each baseline */
	printf("cpr_scan, %s (%u hits in %d KB)\n", name, t.hits, TEXT_SIZE / 1024);
	printf("  baseline memchr %9.1f MB/s, memcpy %9.1f MB/s; scanner = %.4f of memchr, "
	       "%.4f of memcpy\n", chr_rate / 1e6, cpy_rate / 1e6, rate / chr_rate, rate / cpy_rate);
	verdict("scanning", rate / 1e6, TARGET_CPR, "MB/s");
	free((char *)t.text);
	free(t.copy);
}

/* ----------------------------------------------------------- classification */

static void run_classify(void *arg, size_t n)
{
	struct classify_arg *c = arg;

	for (size_t i = 0; i < n; i++) {
		struct classification cl;

		classify_address(c->cfg, c->certs, c->store, c->lists, &c->addr[i % c->n_addr],
				 c->personal, "2025-06-01", &cl);
		c->sink += cl.cls;
		classification_free(&cl);
	}
}

/* run_snapshot - what a message pays once for the lists: the generation query, the snapshot. */
static void run_snapshot(void *arg, size_t n)
{
	struct classify_arg *c = arg;

	for (size_t i = 0; i < n; i++)
		list_snapshot_unref(list_cache_get(c->cache, c->store));
}

/* run_hash - the cheapest look at each address: FNV-1a over its domain and local part. */
static void run_hash(void *arg, size_t n)
{
	struct classify_arg *c = arg;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++) {
		const char *p = c->addr[i % c->n_addr].full;

		while (*p)
			h = (h ^ (unsigned char)*p++) * 16777619u;
	}
	c->sink += h;
}

/* make_pki - a CA, the function mailbox and one recipient certificate, in dir. */
static bool make_pki(void)
{
	int rc;

	rc = sh("printf '[req]\\ndistinguished_name=dn\\n[dn]\\n[ca]\\nbasicConstraints=critical,"
		"CA:TRUE\\nkeyUsage=critical,keyCertSign,cRLSign\\n' >req.cnf && "
		"openssl req -x509 -config req.cnf -extensions ca -newkey rsa:2048 -nodes "
		"-keyout ca.key -out ca.pem -days 30 -subj '/CN=Bench CA'");
	for (int i = 0; rc == 0 && i < 2; i++) {
		const char *name = i == 0 ? "mailbox" : "enc", *addr = i == 0 ? MAILBOX : CERT_ADDR;

		rc = sh("printf 'basicConstraints=CA:FALSE\\nkeyUsage=critical,digitalSignature,"
			"keyEncipherment\\nextendedKeyUsage=emailProtection\\nsubjectAltName=email:%s\\n'"
			" >%s.ext && openssl req -new -config req.cnf -newkey rsa:2048 -nodes "
			"-keyout %s.key -out %s.csr -subj '/CN=%s' && openssl x509 -req -in %s.csr "
			"-CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -extfile %s.ext -out %s.pem "
			"&& openssl x509 -in %s.pem -outform DER -out %s.der && chmod 600 %s.key",
			addr, name, name, name, addr, name, name, name, name, name, name);
	}
	return rc == 0;
}

/* import_lists - N_TUNNEL tunnel domains (some ".parent" entries) and N_PARTNERS partners. */
static void import_lists(struct store *s)
{
	for (int kind = LIST_TUNNEL; kind <= LIST_PARTNERS; kind++) {
		struct list_entries l = { 0 };
		struct strlist errors;
		struct strbuf text;
		char *err = NULL;
		int n = kind == LIST_TUNNEL ? N_TUNNEL : N_PARTNERS;

		sb_init(&text);
		strlist_init(&errors);
		for (int i = 0; i < n; i++) {
			if (kind == LIST_TUNNEL)
				sb_printf(&text, "%skommune%d.dk,Kommune %d\n", i % 10 ? "" : ".", i, i);
			else
				sb_printf(&text, "partner%d.dk,Partner %d A/S,2099-12-31\n", i, i);
		}
		if (lists_parse((enum list_kind)kind, "bench", text.s, text.len, &l, &errors) != 0 ||
		    store_list_replace(s, (enum list_kind)kind, &l, &err) != 0) {
			fprintf(stderr, "micro: cannot import the %s list: %s\n",
				list_kind_name((enum list_kind)kind), errors.n ? errors.v[0] : err);
			exit(1);
		}
		list_entries_free(&l);
		strlist_free(&errors);
		sb_free(&text);
	}
}

/* cache_certificates - the directory's answers, as if it had been asked: one found, the rest none. */
static void cache_certificates(struct store *s, struct address *addr, size_t n)
{
	long long t = (long long)time(NULL);

	for (size_t i = 0; i < n; i++) {
		struct cert_cache_entry e = { 0 };
		size_t len = 0;

		e.fetched_at = t;
		e.fresh_until = t + 86400;
		if (strcmp(addr[i].full, CERT_ADDR) == 0) {
			e.found = true;
			e.der = (unsigned char *)slurp("enc.der", &len);
			e.der_len = len;
			e.subject = xstrdup("CN=" CERT_ADDR);
			e.fingerprint = xstrdup("00:11");
			e.source = xstrdup("ldap://127.0.0.1:1");
			e.not_before = t - 60;
			e.not_after = t + 30 * 86400;
		}
		if (store_cert_put(s, addr[i].full, &e) != 0) {
			fprintf(stderr, "micro: cannot cache %s: %s\n", addr[i].full, store_errmsg(s));
			exit(1);
		}
		cert_cache_entry_free(&e);
	}
}

static struct runtime *make_runtime(bool with_certs)
{
	struct strlist errors;
	struct config *cfg;
	struct runtime *rt = NULL;
	char *text;

	if (with_certs)
		text = xasprintf("Syslog no\nInternalDomains kp.dk .region.dk\nDatabase %s/db\n"
				 "SecureMailbox " MAILBOX " %s/mailbox.key %s/mailbox.pem\n"
				 "TrustedCAFile %s/ca.pem\nLDAPURI ldap://127.0.0.1:1\n"
				 "LDAPBase c=DK\nLDAPTimeout 1\n", dir, dir, dir, dir);
	else
		text = xasprintf("Syslog no\nInternalDomains kp.dk .region.dk\nDatabase %s/db\n", dir);
	strlist_init(&errors);
	cfg = config_parse("micro.conf", text, strlen(text), &errors);
	if (cfg != NULL && (rt = runtime_load(cfg, &errors)) != NULL &&
	    runtime_open_store(rt, &errors) != 0) {
		runtime_unref(rt);
		rt = NULL;
	}
	for (size_t i = 0; i < errors.n; i++)
		fprintf(stderr, "micro: %s\n", errors.v[i]);
	if (rt == NULL)
		exit(1);
	config_unref(cfg);
	strlist_free(&errors);
	free(text);
	return rt;
}

/*
 * bench_classify - a recipient mix like a municipality's outgoing mail:
 * internal, tunnel (exact and ".parent" entries), partner, freemail and
 * everything else.
 */
static void bench_classify(void)
{
	static const char *const raw[] = {
		"<jens@kp.dk>", "<sagsbehandler@afd.region.dk>", "<borger@kommune17.dk>",
		"<post@x.kommune40.dk>", "<kontakt@partner7.dk>", "<a@partner999.dk>",
		"<someone@gmail.com>", "<else@hotmail.dk>", "<info@firma.example.com>",
		"<b@mail.sub.other.example>", "<" CERT_ADDR ">", "<c@kommune9999.dk>",
	};
	size_t n = sizeof(raw) / sizeof(raw[0]);
	struct address *addr = xcalloc(n, sizeof(*addr));
	bool with_certs = make_pki();
	struct runtime *rt;
	struct store *store;
	struct classify_arg c = { 0 };
	struct job hash = { run_hash, &c, 1000 }, cls = { run_classify, &c, 1000 };
	struct job snap = { run_snapshot, &c, 1000 };
	double hash_rate, rate;

	for (size_t i = 0; i < n; i++)
		if (address_normalise(raw[i], strlen(raw[i]), &addr[i], NULL) != ADDR_OK) {
			fprintf(stderr, "micro: bad address %s\n", raw[i]);
			exit(1);
		}
	rt = make_runtime(with_certs);
	if ((store = runtime_store_get(rt)) == NULL) {
		fprintf(stderr, "micro: no database\n");
		exit(1);
	}
	import_lists(store);
	if (with_certs)
		cache_certificates(store, addr, n);
	c = (struct classify_arg){ rt->cfg, rt->certs, store, NULL, rt->lists, addr, n, false, 0 };
	/* as the daemon does: the lists in memory, got once per message */
	if ((c.lists = list_cache_get(rt->lists, store)) == NULL) {
		fprintf(stderr, "micro: no list snapshot: %s\n", store_errmsg(store));
		exit(1);
	}
	measure(&hash, &snap, &hash_rate, &rate);
	printf("lists for one message (generation query, snapshot reference)\n");
	printf("  baseline FNV-1a hash of the address %12.0f /s; per message = %.5f of it "
	       "(%.0f /s)\n", hash_rate, rate / hash_rate, rate);
	measure(&hash, &cls, &hash_rate, &rate);
	printf("classify_address, %zu-address mix, %d tunnel domains, %d partners: not personal "
	       "(lists only)\n", n, N_TUNNEL, N_PARTNERS);
	printf("  baseline FNV-1a hash of the address %12.0f /s; classification = %.5f of it\n",
	       hash_rate, rate / hash_rate);
	verdict("recipients classified", rate, TARGET_CLASSIFY, "/s");
	if (with_certs) {
		c.personal = true;
		measure(&hash, &cls, &hash_rate, &rate);
		printf("classify_address, the same: personal (lists and certificate cache hits)\n");
		printf("  baseline FNV-1a hash of the address %12.0f /s; classification = %.5f of it\n",
		       hash_rate, rate / hash_rate);
		verdict("recipients classified", rate, TARGET_CLASSIFY, "/s");
	} else {
		printf("classify_address, personal: skipped (openssl could not make the "
		       "certificates; see %s/log)\n", dir);
	}
	list_snapshot_unref((struct list_snapshot *)c.lists);
	runtime_store_put(rt, store, false);
	runtime_unref(rt);
	for (size_t i = 0; i < n; i++)
		address_free(&addr[i]);
	free(addr);
}

int main(int argc, char **argv)
{
	int opt;
	const char *tmp = getenv("TMPDIR"), *only = "";

	while ((opt = getopt(argc, argv, "t:r:o:")) != -1) {
		switch (opt) {
		case 't':
			slice_seconds = atof(optarg);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		case 'o':
			only = optarg;
			break;
		default:
			fprintf(stderr, "usage: micro [-t SECONDS] [-r ROUNDS] [-o cpr|classify]\n");
			return 2;
		}
	}
	if (slice_seconds <= 0 || rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "micro: -t must be > 0, -r 1..%d\n", MAX_ROUNDS);
		return 2;
	}
	log_init("sikkermail-micro", false, false, LOG_MAIL);
	log_set_level(LOG_ERR);
	snprintf(dir, sizeof(dir), "%s/micro.XXXXXX", tmp != NULL && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("micro: mkdtemp");
		return 1;
	}
	printf("sikkermail microbenchmarks: median of %d rounds of %.2f s (CPU time) slices, one core\n",
	       rounds, slice_seconds);
	if (strcmp(only, "classify") != 0) {
		bench_cpr("Danish text, no digits", 0, false);
		bench_cpr("Danish text full of numbers", 1, false);
		bench_cpr("Danish text with CPR numbers", 2, false);
		bench_cpr("HTML, Danish text full of numbers", 3, true);
	}
	if (strcmp(only, "cpr") != 0)
		bench_classify();
	sh("cd / && rm -rf '%s'", dir);
	return 0;
}

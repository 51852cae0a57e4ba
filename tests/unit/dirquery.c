/*
 * dirquery.c - a test driver for directory.c (and certcheck.c): look
 * addresses up and print one line per lookup on stdout.
 *
 *   dirquery [-v] [-t SECONDS] [-b BASE] [-f FILTER] [-D BINDDN -y PWFILE]
 *            [-C LDAPCACERTFILE [-S]] [-T TRUSTEDCAFILE [-R CRLFILE]]
 *            [-P THREADS] -H URI [-H URI...] [ADDRESS...]
 *
 * Without ADDRESS arguments it reads addresses from stdin, one a line,
 * and answers each at once (a script can drive it as a coprocess and
 * change the servers between lookups, on one struct directory).
 *
 * Output, one line per address:
 *   found server=URI entries=N values=N ms=N [truncated] [chosen=FINGERPRINT | valid=none]
 *   notfound server=URI entries=N ms=N
 *   retry ms=N error=TEXT
 * With -T the values are judged by certcheck and the chosen certificate's
 * SHA-256 fingerprint is printed (valid=none when none is valid).
 * With -P, each ADDRESS is looked up 20 times by each of THREADS threads
 * at once, on one struct directory, and one line sums up the answers:
 *   parallel found=N notfound=N retry=N
 * -S sets LDAPStartTLS yes. -v logs at debug level (to stderr). Exit
 * status: 0, or 2 for a usage or set-up error.
 */
#include <pthread.h>
#include <signal.h>
#include <syslog.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "certcheck.h"
#include "config.h"
#include "directory.h"
#include "log.h"
#include "util.h"

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define PARALLEL_ROUNDS 20

struct worker {
	struct directory *dir;
	const char *address;
	int counts[3];		/* by LOOKUP_RETRY + 1 */
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct dir_result r;

	for (int i = 0; i < PARALLEL_ROUNDS; i++) {
		w->counts[directory_lookup(w->dir, w->address, &r) + 1]++;
		dir_result_free(&r);
	}
	return NULL;
}

static void parallel(struct directory *dir, const char *address, int threads)
{
	struct worker *w = xcalloc((size_t)threads, sizeof(*w));
	pthread_t *t = xcalloc((size_t)threads, sizeof(*t));
	int sum[3] = { 0, 0, 0 };

	for (int i = 0; i < threads; i++) {
		w[i].dir = dir;
		w[i].address = address;
		pthread_create(&t[i], NULL, worker_run, &w[i]);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		for (int k = 0; k < 3; k++)
			sum[k] += w[i].counts[k];
	}
	printf("parallel found=%d notfound=%d retry=%d\n", sum[LOOKUP_FOUND + 1],
	       sum[LOOKUP_NOTFOUND + 1], sum[LOOKUP_RETRY + 1]);
	fflush(stdout);
	free(w);
	free(t);
}

static void usage(void)
{
	fputs("usage: dirquery [-v] [-t SECONDS] [-b BASE] [-f FILTER] [-D BINDDN -y PWFILE] "
	      "[-C CAFILE [-S]] [-T TRUSTFILE [-R CRLFILE]] [-P THREADS] -H URI... [ADDRESS...]\n",
	      stdout);
	exit(2);
}

static void query(struct directory *dir, struct certcheck *cc, const char *address)
{
	struct dir_result r;
	struct cert_choice c;
	long long start = now_ms();
	enum lookup rc = directory_lookup(dir, address, &r);
	long long ms = now_ms() - start;

	if (rc == LOOKUP_RETRY) {
		printf("retry ms=%lld error=%s\n", ms, r.error ? r.error : "(none)");
	} else if (rc == LOOKUP_NOTFOUND) {
		printf("notfound server=%s entries=%zu ms=%lld\n", r.server, r.n_entries, ms);
	} else {
		printf("found server=%s entries=%zu values=%zu ms=%lld%s", r.server, r.n_entries,
		       r.n_values, ms, r.truncated ? " truncated" : "");
		if (cc != NULL) {
			if (certcheck_choose(cc, address, &r, time(NULL), &c) == 1)
				printf(" chosen=%s", c.fingerprint);
			else
				printf(" valid=none");
			cert_choice_free(&c);
		}
		putchar('\n');
	}
	fflush(stdout);
	dir_result_free(&r);
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct directory *dir;
	struct certcheck *cc = NULL;
	char *err = NULL, line[4096];
	int ch, threads = 0;

	/* As in the daemon: a write to a closed connection must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	log_init("dirquery", false, true, 0);
	memset(&cfg, 0, sizeof(cfg));
	cfg.ldap_timeout = 5;
	cfg.ldap_base = "c=DK";
	while ((ch = getopt(argc, argv, "vt:b:f:D:y:C:ST:R:P:H:")) != -1) {
		switch (ch) {
		case 'v': log_set_level(LOG_DEBUG); break;
		case 't': cfg.ldap_timeout = atoi(optarg); break;
		case 'b': cfg.ldap_base = optarg; break;
		case 'f': cfg.ldap_filter = optarg; break;
		case 'D': cfg.ldap_bind_dn = optarg; break;
		case 'y': cfg.ldap_bind_password_file = optarg; break;
		case 'C': cfg.ldap_ca_cert_file = optarg; break;
		case 'S': cfg.ldap_start_tls = true; break;
		case 'T': cfg.trusted_ca_file = optarg; break;
		case 'R': cfg.crl_file = optarg; break;
		case 'P': threads = atoi(optarg); break;
		case 'H':
			cfg.ldap_uri = xrealloc(cfg.ldap_uri, (cfg.n_ldap_uri + 1) * sizeof(char *));
			cfg.ldap_uri[cfg.n_ldap_uri++] = optarg;
			break;
		default: usage();
		}
	}
	if ((dir = directory_new(&cfg, &err)) == NULL ||
	    (cfg.trusted_ca_file != NULL && (cc = certcheck_new(&cfg, &err)) == NULL)) {
		printf("error %s\n", err);
		free(err);
		directory_free(dir);
		free(cfg.ldap_uri);
		return 2;
	}
	for (int i = optind; i < argc; i++) {
		if (threads > 0)
			parallel(dir, argv[i], threads);
		else
			query(dir, cc, argv[i]);
	}
	if (optind == argc) {
		while (fgets(line, sizeof(line), stdin) != NULL) {
			line[strcspn(line, "\n")] = '\0';
			query(dir, cc, line);
		}
	}
	certcheck_free(cc);
	directory_free(dir);
	free(cfg.ldap_uri);
	return 0;
}

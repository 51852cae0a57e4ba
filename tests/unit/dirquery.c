/*
 * dirquery.c - a test driver for directory.c (and certcheck.c): look
 * addresses up and print one line per lookup on stdout.
 *
 *   dirquery [-v] [-t SECONDS] [-b BASE] [-f FILTER] [-D BINDDN -y PWFILE]
 *            [-C LDAPCACERTFILE] [-T TRUSTEDCAFILE [-R CRLFILE]]
 *            -H URI [-H URI...] [ADDRESS...]
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
 * -v logs at debug level (to stderr). Exit status: 0, or 2 for a usage or
 * set-up error.
 */
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

static void usage(void)
{
	fputs("usage: dirquery [-v] [-t SECONDS] [-b BASE] [-f FILTER] [-D BINDDN -y PWFILE] "
	      "[-C CAFILE] [-T TRUSTFILE [-R CRLFILE]] -H URI... [ADDRESS...]\n", stdout);
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
	int ch;

	/* As in the daemon: a write to a closed connection must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	log_init("dirquery", false, true, 0);
	memset(&cfg, 0, sizeof(cfg));
	cfg.ldap_timeout = 5;
	cfg.ldap_base = "c=DK";
	while ((ch = getopt(argc, argv, "vt:b:f:D:y:C:T:R:H:")) != -1) {
		switch (ch) {
		case 'v': log_set_level(LOG_DEBUG); break;
		case 't': cfg.ldap_timeout = atoi(optarg); break;
		case 'b': cfg.ldap_base = optarg; break;
		case 'f': cfg.ldap_filter = optarg; break;
		case 'D': cfg.ldap_bind_dn = optarg; break;
		case 'y': cfg.ldap_bind_password_file = optarg; break;
		case 'C': cfg.ldap_ca_cert_file = optarg; break;
		case 'T': cfg.trusted_ca_file = optarg; break;
		case 'R': cfg.crl_file = optarg; break;
		case 'H':
			cfg.ldap_uri = xrealloc(cfg.ldap_uri, (cfg.n_ldap_uri + 1) * sizeof(char *));
			cfg.ldap_uri[cfg.n_ldap_uri++] = optarg;
			break;
		default: usage();
		}
	}
	if ((dir = directory_new(&cfg, &err)) == NULL) {
		printf("error %s\n", err);
		return 2;
	}
	if (cfg.trusted_ca_file != NULL && (cc = certcheck_new(&cfg, &err)) == NULL) {
		printf("error %s\n", err);
		return 2;
	}
	for (int i = optind; i < argc; i++)
		query(dir, cc, argv[i]);
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

/*
 * nullmilter.c - the yardstick of make bench: a libmilter filter that
 * does nothing but accept.
 *
 * Usage: nullmilter -p SOCKET [-u USER]
 *   SOCKET   libmilter's form: unix:/path or inet:PORT@127.0.0.1
 *   USER     drop to this user after the socket exists (when run as root)
 *
 * What a milter cannot avoid is the protocol itself: the MTA connects,
 * hands over the connection, HELO, envelope, every header and the whole
 * body, and waits for the verdict at the end of the message. This filter
 * registers the same callbacks a content filter such as sikkermail-milter
 * needs, so that the MTA sends it all of that, and answers each with
 * SMFIS_CONTINUE, then SMFIS_ACCEPT at the end of the message. It asks
 * for no modifications and keeps no per-message state: every cost it has
 * is libmilter's and the MTA's. Anything sikkermail-milter does beyond
 * that (classification, decision records, CPR scanning, encryption, a
 * header added) is what the ratio of make bench measures.
 *
 * It stops on SIGTERM (smfi_stop through libmilter's signal thread).
 */

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

static sfsistat null_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr);
static sfsistat null_helo(SMFICTX *ctx, char *helo);
static sfsistat null_envfrom(SMFICTX *ctx, char **argv);
static sfsistat null_envrcpt(SMFICTX *ctx, char **argv);
static sfsistat null_header(SMFICTX *ctx, char *name, char *value);
static sfsistat null_eoh(SMFICTX *ctx);
static sfsistat null_body(SMFICTX *ctx, unsigned char *chunk, size_t len);
static sfsistat null_eom(SMFICTX *ctx);
static sfsistat null_abort(SMFICTX *ctx);
static sfsistat null_close(SMFICTX *ctx);
static int drop_to(const char *user);

static sfsistat null_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
	(void)ctx, (void)host, (void)addr;
	return SMFIS_CONTINUE;
}

static sfsistat null_helo(SMFICTX *ctx, char *helo)
{
	(void)ctx, (void)helo;
	return SMFIS_CONTINUE;
}

static sfsistat null_envfrom(SMFICTX *ctx, char **argv)
{
	(void)ctx, (void)argv;
	return SMFIS_CONTINUE;
}

static sfsistat null_envrcpt(SMFICTX *ctx, char **argv)
{
	(void)ctx, (void)argv;
	return SMFIS_CONTINUE;
}

static sfsistat null_header(SMFICTX *ctx, char *name, char *value)
{
	(void)ctx, (void)name, (void)value;
	return SMFIS_CONTINUE;
}

static sfsistat null_eoh(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static sfsistat null_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	(void)ctx, (void)chunk, (void)len;
	return SMFIS_CONTINUE;
}

static sfsistat null_eom(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_ACCEPT;
}

static sfsistat null_abort(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static sfsistat null_close(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static struct smfiDesc null_desc = {
	.xxfi_name = "nullmilter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = 0,
	.xxfi_connect = null_connect,
	.xxfi_helo = null_helo,
	.xxfi_envfrom = null_envfrom,
	.xxfi_envrcpt = null_envrcpt,
	.xxfi_header = null_header,
	.xxfi_eoh = null_eoh,
	.xxfi_body = null_body,
	.xxfi_eom = null_eom,
	.xxfi_abort = null_abort,
	.xxfi_close = null_close,
};

/* drop_to - setgroups/setgid/setuid to USER; -1 with a message on failure. */
static int drop_to(const char *user)
{
	struct passwd *pw = getpwnam(user);

	if (pw == NULL) {
		fprintf(stderr, "nullmilter: unknown user %s\n", user);
		return -1;
	}
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		fprintf(stderr, "nullmilter: cannot become %s: %s\n", user, strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *user = NULL;
	int c;

	while ((c = getopt(argc, argv, "p:u:")) != -1) {
		switch (c) {
		case 'p':
			sock = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (sock == NULL || optind != argc)
		goto usage;
	if (smfi_setconn((char *)sock) != MI_SUCCESS || smfi_register(null_desc) != MI_SUCCESS) {
		fprintf(stderr, "nullmilter: cannot set up %s\n", sock);
		return 1;
	}
	/* the MTA's processes must reach the socket, whoever they run as */
	umask(0);
	if (smfi_opensocket(true) != MI_SUCCESS) {
		fprintf(stderr, "nullmilter: cannot open %s\n", sock);
		return 1;
	}
	if (user != NULL && getuid() == 0 && drop_to(user) != 0)
		return 1;
	return smfi_main() == MI_SUCCESS ? 0 : 1;
usage:
	fprintf(stderr, "usage: nullmilter -p SOCKET [-u USER]\n");
	return 2;
}

/*
 * milter.c - the libmilter glue: each callback hands its facts to facts.c,
 * and at end of message pipeline.c decides and carries the verdict out
 * through the struct mta_ops implemented here over smfi_*. No decision is
 * made in this file.
 *
 * The only file that includes <libmilter/mfapi.h>. Per-connection state
 * hangs off smfi_setpriv; a message holds a reference to the runtime
 * published when it started (MAIL FROM) until it ends.
 *
 * Every callback is counted while it runs, so that shutdown can wait for
 * them (milter_drain). After a stop libmilter serves no session further,
 * not even its close, so a session left between commands keeps its
 * message's runtime reference: nothing it uses is ever freed under it.
 *
 * Exports: milter_setup, milter_start, milter_stop, milter_wait,
 * milter_drain, milter_version (milter.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "facts.h"
#include "log.h"
#include "milter.h"
#include "pipeline.h"
#include "reply.h"
#include "runtime.h"
#include "util.h"

/* Per-connection state. */
struct conn_ctx {
	char *client_addr;
	struct sockaddr_storage sa;
	bool have_sa;
	struct facts *msg;	/* the message under way, from MAIL FROM */
	bool macros_warned;	/* the MTA sends no MAIL FROM macros: said once */
	bool body_noreply;	/* body chunks are not answered (SMFIP_NR_BODY) */
	bool body_skip;		/* the rest of an unread body may be skipped (SMFIP_SKIP) */
};

/*
 * The protocol steps the filter leaves out or does not answer. It has no
 * HELO, DATA or unknown-command callback; connect, header and end of
 * header always continue (a message that lost its facts is tempfailed at
 * end of message), so the MTA need not wait for their replies. libmilter
 * answers for an MTA that cannot do without a reply.
 */
#define STEPS_LEFT_OUT (SMFIP_NOHELO | SMFIP_NODATA | SMFIP_NOUNKNOWN)
#define STEPS_UNANSWERED (SMFIP_NR_CONN | SMFIP_NR_HDR | SMFIP_NR_EOH)

/*
 * The macros the filter asks for (smfi_setsymlist), so that an MTA whose
 * own list was customised still sends what trust and the record need:
 * {auth_authen} decides trust; {mail_addr} is sent by Postfix and Sendmail
 * for every MAIL FROM, so its absence shows that the MTA sends none.
 */
#define ENVFROM_MACROS "{auth_authen} {auth_type} {mail_addr}"
#define EOM_MACROS "i"


static atomic_int active_callbacks;	/* callbacks running now */
static pthread_t milter_thread;
static pthread_t main_thread;
static int milter_status;
static atomic_bool stop_asked;	/* milter_stop was called: the main thread knows */

static sfsistat cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
			     unsigned long f3, unsigned long *pf0, unsigned long *pf1,
			     unsigned long *pf2, unsigned long *pf3);
static sfsistat cb_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa);
static sfsistat cb_envfrom(SMFICTX *ctx, char **argv);
static sfsistat cb_envrcpt(SMFICTX *ctx, char **argv);
static sfsistat cb_header(SMFICTX *ctx, char *name, char *value);
static sfsistat cb_eoh(SMFICTX *ctx);
static sfsistat cb_body(SMFICTX *ctx, unsigned char *chunk, size_t len);
static sfsistat cb_eom(SMFICTX *ctx);
static sfsistat cb_abort(SMFICTX *ctx);
static sfsistat cb_close(SMFICTX *ctx);
static struct facts *current(SMFICTX *ctx);
static sfsistat leave(sfsistat rc);
static int set_reply(SMFICTX *ctx, const struct reply *r);
static int op_reply(void *mta, const struct reply *r);
static int op_quarantine(void *mta, const char *reason);
static int op_delrcpt(void *mta, const char *raw);
static int op_chgheader(void *mta, const char *name, int index, const char *value);
static int op_insheader(void *mta, int index, const char *name, const char *value);
static int op_progress(void *mta);
static void *run_milter(void *arg);

static struct smfiDesc filter = {
	.xxfi_name = "sikkermail",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_DELRCPT,
	.xxfi_connect = cb_connect,
	.xxfi_envfrom = cb_envfrom,
	.xxfi_envrcpt = cb_envrcpt,
	.xxfi_header = cb_header,
	.xxfi_eoh = cb_eoh,
	.xxfi_body = cb_body,
	.xxfi_eom = cb_eom,
	.xxfi_abort = cb_abort,
	.xxfi_close = cb_close,
	.xxfi_negotiate = cb_negotiate,
};

static const struct mta_ops smfi_ops = {
	.reply = op_reply,
	.quarantine = op_quarantine,
	.delrcpt = op_delrcpt,
	.chgheader = op_chgheader,
	.insheader = op_insheader,
	.progress = op_progress,
};

/* ---------------------------------------------------------------- signals */

/*
 * sigwait - libmilter's own signal thread sigwait()s for SIGHUP, SIGTERM
 * and SIGINT and turns SIGHUP into "stop serving" (libmilter's signal.c).
 * Administrators and log rotators send SIGHUP to reload, and the main
 * thread takes it for that (main.c, with sigwaitinfo). Two threads waiting
 * for the same signal get it in turn, whichever the kernel picks, so this
 * definition takes the C library's place for libmilter (its call is bound
 * by the dynamic linker to the program's own definition first) and leaves
 * SIGHUP out of what it waits for: SIGHUP stays blocked in that thread and
 * only the main thread can take it. SIGTERM and SIGINT mean stop to both.
 * Nothing else in the program calls sigwait().
 */
int sigwait(const sigset_t *set, int *sig)
{
	sigset_t without_hup = *set;
	int r;

	sigdelset(&without_hup, SIGHUP);
	do
		r = sigwaitinfo(&without_hup, NULL);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno;
	*sig = r;
	return 0;
}

/* ---------------------------------------------------------------- set-up */

int milter_setup(const char *socket_spec)
{
	if (smfi_register(filter) == MI_FAILURE) {
		msg_error("smfi_register failed");
		return -1;
	}
	if (smfi_setconn((char *)socket_spec) == MI_FAILURE) {
		msg_error("cannot use socket %s", socket_spec);
		return -1;
	}
	if (smfi_opensocket(true) == MI_FAILURE) {
		msg_error("cannot open socket %s: %s", socket_spec, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * run_milter - smfi_main in its own thread; when it returns (stopped, or
 * libmilter's own signal thread saw SIGTERM) the main thread is told.
 */
static void *run_milter(void *arg)
{
	(void)arg;
	milter_status = smfi_main() == MI_SUCCESS ? 0 : -1;
	if (!atomic_load(&stop_asked))	/* serving ended by itself: wake the main thread */
		pthread_kill(main_thread, SIGTERM);
	return NULL;
}

int milter_start(void)
{
	int rc;

	main_thread = pthread_self();
	if ((rc = pthread_create(&milter_thread, NULL, run_milter, NULL)) != 0) {
		msg_error("cannot start the milter thread: %s", strerror(rc));
		return -1;
	}
	return 0;
}

void milter_stop(void)
{
	atomic_store(&stop_asked, true);
	smfi_stop();
}

int milter_wait(void)
{
	pthread_join(milter_thread, NULL);
	return milter_status;
}

int milter_drain(int seconds)
{
	int quiet = 0;

	/* twice idle in a row: a command read just before the stop gets its callback run */
	for (int i = 0; i < seconds * 10 && quiet < 2; i++) {
		quiet = atomic_load(&active_callbacks) == 0 ? quiet + 1 : 0;
		if (quiet < 2)
			usleep(100000);
	}
	return atomic_load(&active_callbacks);
}

void milter_version(unsigned int *major, unsigned int *minor, unsigned int *patch)
{
	smfi_version(major, minor, patch);
}

/* ------------------------------------------------------------- callbacks */

/* Every callback starts with ENTER and returns through leave(). */
#define ENTER() atomic_fetch_add(&active_callbacks, 1)

static sfsistat leave(sfsistat rc)
{
	atomic_fetch_sub(&active_callbacks, 1);
	return rc;
}

/* current - the message under way on this connection, or NULL. */
static struct facts *current(SMFICTX *ctx)
{
	struct conn_ctx *c = smfi_getpriv(ctx);

	return c != NULL ? c->msg : NULL;
}

/*
 * cb_negotiate - the actions the filter needs, the protocol steps it uses,
 * and the macros it needs where the MTA lets it name them. An MTA that
 * cannot do one of the actions is refused: the filter could not carry out
 * a verdict.
 *
 * The body: when the configuration scans for CPR numbers (the default)
 * every trusted submitter's body is read, so its chunks go unanswered
 * (SMFIP_NR_BODY) and the MTA streams them; otherwise most bodies are not
 * read at all, and the first chunk of one is answered SMFIS_SKIP where the
 * MTA understands it. The connection's state is made here, since this
 * choice is per connection; libmilter calls cb_close for it in any case.
 */
static sfsistat cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
			     unsigned long f3, unsigned long *pf0, unsigned long *pf1,
			     unsigned long *pf2, unsigned long *pf3)
{
	const unsigned long need = filter.xxfi_flags;
	struct conn_ctx *c;
	struct runtime *rt;
	bool scans;

	(void)f2;
	(void)f3;
	ENTER();
	if ((f0 & need) != need) {
		msg_error("the MTA does not offer the actions the filter needs (offered 0x%lx, "
			  "needed 0x%lx): refusing the connection",
			  f0, need);
		return leave(SMFIS_REJECT);
	}
	rt = runtime_current();
	scans = rt == NULL || rt->cfg->detect_cpr != CPR_OFF;
	runtime_unref(rt);
	c = xcalloc(1, sizeof(*c));
	c->body_noreply = scans && (f1 & SMFIP_NR_BODY) != 0;
	c->body_skip = !c->body_noreply && (f1 & SMFIP_SKIP) != 0;
	smfi_setpriv(ctx, c);
	*pf0 = need;
	*pf1 = (f1 & (STEPS_LEFT_OUT | STEPS_UNANSWERED)) | (c->body_noreply ? SMFIP_NR_BODY : 0) |
	       (c->body_skip ? SMFIP_SKIP : 0);
	*pf2 = 0;
	*pf3 = 0;
	if (f0 & SMFIF_SETSYMLIST) {
		*pf0 |= SMFIF_SETSYMLIST;
		if (smfi_setsymlist(ctx, SMFIM_ENVFROM, ENVFROM_MACROS) != MI_SUCCESS ||
		    smfi_setsymlist(ctx, SMFIM_EOM, EOM_MACROS) != MI_SUCCESS)
			msg_warn("could not ask the MTA for the macros the filter needs");
	}
	return leave(SMFIS_CONTINUE);
}

static sfsistat cb_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	struct conn_ctx *c = smfi_getpriv(ctx);
	char buf[INET6_ADDRSTRLEN] = "unknown";

	ENTER();
	if (c == NULL) {	/* made in cb_negotiate; this is for safety only */
		c = xcalloc(1, sizeof(*c));
		smfi_setpriv(ctx, c);
	}
	if (sa != NULL && sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, buf, sizeof(buf));
		memcpy(&c->sa, sa, sizeof(struct sockaddr_in));
		c->have_sa = true;
	} else if (sa != NULL && sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, buf, sizeof(buf));
		memcpy(&c->sa, sa, sizeof(struct sockaddr_in6));
		c->have_sa = true;
	}
	free(c->client_addr);
	c->client_addr = xstrdup(buf);
	msg_debug("connect from %s [%s]", host ? host : "unknown", buf);
	return leave(SMFIS_NOREPLY);
}

static sfsistat cb_envfrom(SMFICTX *ctx, char **argv)
{
	struct conn_ctx *c = smfi_getpriv(ctx);
	struct runtime *rt;

	ENTER();
	if (c == NULL || (rt = runtime_current()) == NULL)
		return leave(SMFIS_TEMPFAIL);
	facts_free(c->msg);
	c->msg = facts_new(rt, c->client_addr, c->have_sa ? (struct sockaddr *)&c->sa : NULL,
			   smfi_getsymval(ctx, "{auth_authen}"), argv[0]);
	if (!c->macros_warned && smfi_getsymval(ctx, "{mail_addr}") == NULL) {
		c->macros_warned = true;
		msg_warn("client %s: the MTA sends no MAIL FROM macros ({auth_authen}, {mail_addr}): "
			 "an authenticated submitter cannot be recognised%s",
			 c->client_addr,
			 rt->cfg->n_internal_networks == 0
				 ? ", and InternalNetworks is empty: nobody is trusted, every "
				   "X-KP-Personal flag is ignored"
				 : "; only InternalNetworks are trusted");
	}
	runtime_unref(rt);
	return leave(SMFIS_CONTINUE);
}

static sfsistat cb_envrcpt(SMFICTX *ctx, char **argv)
{
	struct facts *f = current(ctx);
	struct reply r;
	const char *why;

	ENTER();
	if (f == NULL)
		return leave(SMFIS_TEMPFAIL);
	if (facts_add_rcpt(f, argv[0], &why) == ADDR_OK)
		return leave(SMFIS_CONTINUE);
	reply_rcpt_refused(why, &r);
	set_reply(ctx, &r);
	reply_free(&r);
	return leave(SMFIS_REJECT);	/* this recipient only */
}

static sfsistat cb_header(SMFICTX *ctx, char *name, char *value)
{
	struct facts *f = current(ctx);

	ENTER();
	if (f != NULL)	/* else end of message tempfails */
		facts_header(f, name, value);
	return leave(SMFIS_NOREPLY);
}

static sfsistat cb_eoh(SMFICTX *ctx)
{
	struct facts *f = current(ctx);

	ENTER();
	if (f != NULL)	/* else end of message tempfails */
		facts_end_of_headers(f);
	return leave(SMFIS_NOREPLY);
}

/* cb_body - kept if it will be read; else, where the MTA can, the rest is skipped. */
static sfsistat cb_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct conn_ctx *c = smfi_getpriv(ctx);
	struct facts *f = c != NULL ? c->msg : NULL;

	ENTER();
	if (f != NULL)	/* else end of message tempfails */
		facts_body(f, chunk, len);
	if (c != NULL && c->body_noreply)
		return leave(SMFIS_NOREPLY);
	if (c != NULL && c->body_skip && (f == NULL || !facts_wants_body(f)))
		return leave(SMFIS_SKIP);
	return leave(SMFIS_CONTINUE);
}

static sfsistat cb_eom(SMFICTX *ctx)
{
	struct conn_ctx *c = smfi_getpriv(ctx);
	static const sfsistat result[] = {
		[MTA_ACCEPT] = SMFIS_ACCEPT,
		[MTA_DISCARD] = SMFIS_DISCARD,
		[MTA_REJECT] = SMFIS_REJECT,
		[MTA_TEMPFAIL] = SMFIS_TEMPFAIL,
	};
	enum mta_result r;

	ENTER();
	if (c == NULL || c->msg == NULL)
		return leave(SMFIS_TEMPFAIL);
	facts_set_queue_id(c->msg, smfi_getsymval(ctx, "i"));
	r = pipeline_end_of_message(c->msg, &smfi_ops, ctx);
	facts_free(c->msg);
	c->msg = NULL;
	return leave(result[r]);
}

static sfsistat cb_abort(SMFICTX *ctx)
{
	struct conn_ctx *c = smfi_getpriv(ctx);

	ENTER();
	if (c != NULL) {
		facts_free(c->msg);
		c->msg = NULL;
	}
	return leave(SMFIS_CONTINUE);
}

static sfsistat cb_close(SMFICTX *ctx)
{
	struct conn_ctx *c = smfi_getpriv(ctx);

	ENTER();
	if (c == NULL)
		return leave(SMFIS_CONTINUE);
	facts_free(c->msg);
	free(c->client_addr);
	free(c);
	smfi_setpriv(ctx, NULL);
	return leave(SMFIS_CONTINUE);
}

/* ------------------------------------------------------- the MTA interface */

/* set_reply - a reply from reply.c: one line with smfi_setreply, several with smfi_setmlreply. */
static int set_reply(SMFICTX *ctx, const struct reply *r)
{
	char *l[REPLY_MAX_LINES + 1] = { 0 };

	if (r->n_lines == 0)
		return -1;
	if (r->n_lines == 1)
		return smfi_setreply(ctx, (char *)r->rcode, (char *)r->xcode, r->lines[0]) ==
				       MI_SUCCESS
			       ? 0
			       : -1;
	for (size_t i = 0; i < r->n_lines && i < REPLY_MAX_LINES; i++)
		l[i] = r->lines[i];
	return smfi_setmlreply(ctx, r->rcode, r->xcode, l[0], l[1], l[2], l[3], l[4], l[5], l[6],
			       l[7], l[8], l[9], l[10], l[11], l[12], l[13], l[14], l[15], l[16],
			       l[17], l[18], l[19], l[20], l[21], l[22], l[23], l[24], l[25], l[26],
			       l[27], l[28], l[29], (char *)NULL) == MI_SUCCESS
		       ? 0
		       : -1;
}

static int op_reply(void *mta, const struct reply *r)
{
	return set_reply(mta, r);
}

static int op_quarantine(void *mta, const char *reason)
{
	return smfi_quarantine(mta, (char *)reason) == MI_SUCCESS ? 0 : -1;
}

static int op_delrcpt(void *mta, const char *raw)
{
	return smfi_delrcpt(mta, (char *)raw) == MI_SUCCESS ? 0 : -1;
}

static int op_chgheader(void *mta, const char *name, int index, const char *value)
{
	return smfi_chgheader(mta, (char *)name, index, (char *)value) == MI_SUCCESS ? 0 : -1;
}

static int op_insheader(void *mta, int index, const char *name, const char *value)
{
	return smfi_insheader(mta, index, (char *)name, (char *)value) == MI_SUCCESS ? 0 : -1;
}

static int op_progress(void *mta)
{
	return smfi_progress(mta) == MI_SUCCESS ? 0 : -1;
}

/*
 * milter.c - libmilter callbacks: gather the facts of a message, then hand
 * them to classification and policy at end of message, and carry out the
 * verdict.
 *
 * The callbacks only collect: the client (trusted or not), the sender, the
 * recipients (normalised; malformed or routed ones are refused here with
 * 5.1.3), the flag headers and the Message-ID. Everything that decides is
 * in classify.c and policy.c; reply.c words the refusal and audit.c the
 * record. apply_verdict() is the one place that turns a verdict into an
 * SMTP answer, header changes and the audit line.
 *
 * Per-connection state hangs off smfi_setpriv; the configuration snapshot
 * is referenced per connection; each connection opens its own store
 * handle, lazily, so that SQLite is never shared between threads.
 *
 * Exports: milter_setup, milter_run, milter_drain, milter_socket_path,
 * milter_version (milter.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "audit.h"
#include "classify.h"
#include "decision.h"
#include "encrypt.h"
#include "log.h"
#include "milter.h"
#include "mime.h"
#include "msgbuf.h"
#include "personal.h"
#include "policy.h"
#include "reply.h"
#include "smime.h"
#include "store.h"
#include "util.h"

#define TAG_HEADER "X-Sikkermail"

/* Per-message facts. */
struct msg_ctx {
	struct decision d;
	struct personal_flag flag;
	int n_flag_headers;	/* copies of PersonalHeader, any case */
	int n_mailbox_headers;	/* copies of MailboxHeader, any case */
	int n_tag_headers;	/* copies of X-Sikkermail: never trusted from outside */
	int n_marker_headers;	/* copies of the re-injection marker */
	bool authenticated;
	bool reinjected;	/* carries a valid marker: our own copy, not filtered again */
	struct strbuf headers;	/* the header block as received, for an encrypted copy */
	struct msgbuf *body;	/* headers and body, kept only when the message may be encrypted */
	char *body_error;	/* why keeping the body failed: such a message is not encrypted */
	char *subject;
	char *content_type;
	char *mailbox_choice;	/* MailboxHeader's value */
	char *marker;		/* the marker header's value */
	char *failure;		/* a reply text of our own for reject/tempfail (encryption) */
	char *cpr_found;	/* what the CPR scan found (masked), or why it could not scan */
};

/* Per-connection state. */
struct conn_ctx {
	struct config *cfg;
	struct store *store;	/* opened on first use, closed with the connection */
	char *client_addr;
	bool internal_network;
	struct msg_ctx *msg;
};

static struct config *milter_config;	/* set once in milter_setup, never changed */
/*
 * Messages whose end of data is being decided right now. On SIGTERM
 * libmilter stops serving sessions between commands (Postfix tempfails
 * those: milter_default_action), but a decision under way, with its
 * re-injected copy and its record, is finished before the process exits.
 */
static atomic_int deciding;

static sfsistat cb_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa);
static sfsistat cb_envfrom(SMFICTX *ctx, char **argv);
static sfsistat cb_envrcpt(SMFICTX *ctx, char **argv);
static bool is_bare_postmaster(const char *raw);
static sfsistat cb_header(SMFICTX *ctx, char *name, char *value);
static sfsistat cb_eoh(SMFICTX *ctx);
static sfsistat cb_body(SMFICTX *ctx, unsigned char *chunk, size_t len);
static sfsistat cb_eom(SMFICTX *ctx);
static sfsistat cb_abort(SMFICTX *ctx);
static sfsistat cb_close(SMFICTX *ctx);
static void msg_ctx_free(struct msg_ctx *m);
static struct store *conn_store(struct conn_ctx *c);
static void evaluate(struct conn_ctx *c, struct msg_ctx *m);
static sfsistat apply_verdict(SMFICTX *ctx, struct conn_ctx *c, struct msg_ctx *m);
static sfsistat set_reply(SMFICTX *ctx, const struct config *cfg, const struct decision *d);
static void remove_headers(SMFICTX *ctx, const char *name, int count);
static void add_tag(SMFICTX *ctx, const struct decision *d);
static void record(struct conn_ctx *c, struct decision *d);
static void keep_header(struct msg_ctx *m, const struct config *cfg, const char *name,
			const char *value);
static void carry_out_encrypt(SMFICTX *ctx, struct conn_ctx *c, struct msg_ctx *m);
static void personal_flag_of(struct conn_ctx *c, struct msg_ctx *m);
static bool marker_accepted(struct conn_ctx *c, struct msg_ctx *m);
static void scan_cpr(const struct config *cfg, struct msg_ctx *m);
static sfsistat remove_encrypted(SMFICTX *ctx, const struct decision *d);
static int quarantine(SMFICTX *ctx, const struct config *cfg, const struct decision *d);

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
};

/* ---------------------------------------------------------------- set-up */

const char *milter_socket_path(const char *spec)
{
	if (strncmp(spec, "local:", 6) == 0)
		return spec + 6;
	if (strncmp(spec, "unix:", 5) == 0)
		return spec + 5;
	if (spec[0] == '/')
		return spec;
	return NULL;
}

int milter_setup(struct config *cfg, const char *socket_spec)
{
	milter_config = config_ref(cfg);
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

int milter_run(void)
{
	return smfi_main() == MI_SUCCESS ? 0 : -1;
}

int milter_drain(int seconds)
{
	for (int i = 0; i < seconds * 10 && atomic_load(&deciding) > 0; i++)
		usleep(100000);
	return atomic_load(&deciding);
}

void milter_version(unsigned int *major, unsigned int *minor, unsigned int *patch)
{
	smfi_version(major, minor, patch);
}

/* ------------------------------------------------------------- callbacks */

static sfsistat cb_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	struct conn_ctx *c = xcalloc(1, sizeof(*c));
	char buf[INET6_ADDRSTRLEN] = "unknown";

	c->cfg = config_ref(milter_config);
	if (sa != NULL && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, buf, sizeof(buf));
	else if (sa != NULL && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, buf, sizeof(buf));
	c->client_addr = xstrdup(buf);
	c->internal_network = sa != NULL && config_is_internal_network(c->cfg, sa);
	smfi_setpriv(ctx, c);
	msg_debug("connect from %s [%s]%s", host ? host : "unknown", buf,
		  c->internal_network ? " (internal network)" : "");
	return SMFIS_CONTINUE;
}

static sfsistat cb_envfrom(SMFICTX *ctx, char **argv)
{
	struct conn_ctx *c = smfi_getpriv(ctx);
	struct msg_ctx *m;
	struct address a;
	const char *auth;

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	msg_ctx_free(c->msg);
	m = c->msg = xcalloc(1, sizeof(*m));
	decision_init(&m->d);
	sb_init(&m->headers);
	personal_flag_init(&m->flag);
	m->d.mode = c->cfg->mode;
	m->d.client_addr = xstrdup(c->client_addr);
	auth = smfi_getsymval(ctx, "{auth_authen}");
	m->authenticated = auth != NULL && auth[0] != '\0';
	m->d.trusted = m->authenticated || c->internal_network;
	if (address_normalise(argv[0], strlen(argv[0]), &a, NULL) == ADDR_OK) {
		m->d.sender = xstrdup(a.full);
		address_free(&a);
	} else {
		/* <> or something Postfix accepted that we cannot parse: keep it as given. */
		m->d.sender = reply_sanitise(argv[0]);
	}
	return SMFIS_CONTINUE;
}

/* is_bare_postmaster - "<postmaster>", any case, ESMTP parameters ignored. */
static bool is_bare_postmaster(const char *raw)
{
	return ascii_strncasecmp(raw, "<postmaster>", 12) == 0 && (raw[12] == '\0' || raw[12] == ' ');
}

static sfsistat cb_envrcpt(SMFICTX *ctx, char **argv)
{
	struct conn_ctx *c = smfi_getpriv(ctx);
	struct address a;
	const char *why = "invalid address";
	enum addr_status st;

	if (c == NULL || c->msg == NULL)
		return SMFIS_TEMPFAIL;
	st = address_normalise(argv[0], strlen(argv[0]), &a, &why);
	if (st == ADDR_INVALID && is_bare_postmaster(argv[0])) {
		/* RFC 5321 4.5.1: must be accepted; classify.c knows it is local */
		a.local = xstrdup("postmaster");
		a.domain = xstrdup("");
		a.full = xstrdup("postmaster");
		st = ADDR_OK;
	}
	if (st != ADDR_OK) {
		char *shown = reply_sanitise(argv[0]);
		msg_info("refused recipient %s: %s", shown, why);
		free(shown);
		smfi_setreply(ctx, "550", "5.1.3", (char *)why);
		return SMFIS_REJECT;	/* this recipient only */
	}
	decision_add_rcpt(&c->msg->d, argv[0], &a);
	return SMFIS_CONTINUE;
}

static sfsistat cb_header(SMFICTX *ctx, char *name, char *value)
{
	struct conn_ctx *c = smfi_getpriv(ctx);
	struct msg_ctx *m;

	if (c == NULL || c->msg == NULL)
		return SMFIS_TEMPFAIL;
	m = c->msg;
	if (header_name_eq(name, c->cfg->personal_header)) {
		m->n_flag_headers++;
		personal_flag_add(&m->flag, value);
	} else if (header_name_eq(name, c->cfg->mailbox_header)) {
		if (m->n_mailbox_headers++ == 0)
			m->mailbox_choice = xstrdup(value);
	} else if (header_name_eq(name, TAG_HEADER)) {
		m->n_tag_headers++;
	} else if (header_name_eq(name, ENCRYPT_MARKER_HEADER)) {
		if (m->n_marker_headers++ == 0)
			m->marker = xstrdup(value);
	} else if (header_name_eq(name, "Message-ID") && m->d.message_id == NULL) {
		m->d.message_id = reply_sanitise(value);
	} else if (header_name_eq(name, "Subject") && m->subject == NULL) {
		m->subject = xstrdup(value);
	} else if (header_name_eq(name, "Content-Type") && m->content_type == NULL) {
		m->content_type = xstrdup(value);
	}
	keep_header(m, c->cfg, name, value);
	return SMFIS_CONTINUE;
}

/*
 * keep_header - the header block for an encrypted copy: everything the
 * sender wrote except the filter's own control headers.
 */
static void keep_header(struct msg_ctx *m, const struct config *cfg, const char *name,
			const char *value)
{
	if (header_name_eq(name, cfg->mailbox_header) || header_name_eq(name, TAG_HEADER) ||
	    header_name_eq(name, ENCRYPT_MARKER_HEADER))
		return;
	sb_printf(&m->headers, "%s: %s\n", name, value);
}

/*
 * cb_eoh - the headers are complete: is this our own re-injected copy, and
 * may the message need encrypting? Only then is its body kept.
 */
static sfsistat cb_eoh(SMFICTX *ctx)
{
	struct conn_ctx *c = smfi_getpriv(ctx);
	struct msg_ctx *m;
	char *err = NULL;

	if (c == NULL || c->msg == NULL)
		return SMFIS_TEMPFAIL;
	m = c->msg;
	if (m->n_marker_headers == 1)
		m->reinjected = marker_accepted(c, m);
	/*
	 * Keep the body of a trusted submitter's message when it is to be
	 * scanned for CPR numbers or may have to be encrypted.
	 */
	if (!m->reinjected && m->d.trusted &&
	    (c->cfg->detect_cpr != CPR_OFF ||
	     (encrypt_available() && (m->flag.n_yes > 0 || m->flag.n_other > 0)))) {
		m->body = msgbuf_new(MSGBUF_MEMORY_LIMIT, NULL);
		if (msgbuf_write(m->body, m->headers.s, m->headers.len, &err) != 0 ||
		    msgbuf_write(m->body, "\n", 1, &err) != 0)
			m->body_error = err;
	}
	return SMFIS_CONTINUE;
}

/* marker_accepted - is this our own re-injected copy, its marker unused till now? */
static bool marker_accepted(struct conn_ctx *c, struct msg_ctx *m)
{
	const char **rcpts = xcalloc(m->d.n_rcpts + 1, sizeof(*rcpts));
	bool ok;

	for (size_t i = 0; i < m->d.n_rcpts; i++)
		rcpts[i] = m->d.rcpts[i].addr.full;
	ok = encrypt_marker_accept(conn_store(c), m->d.message_id, m->d.sender, rcpts,
				   m->d.n_rcpts, m->marker);
	free(rcpts);
	if (!ok)
		msg_warn("%s header not accepted (forged, used before, or for another message)",
			 ENCRYPT_MARKER_HEADER);
	return ok;
}

static sfsistat cb_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct conn_ctx *c = smfi_getpriv(ctx);
	struct msg_ctx *m;

	if (c == NULL || c->msg == NULL)
		return SMFIS_TEMPFAIL;
	m = c->msg;
	if (m->body != NULL && m->body_error == NULL)
		msgbuf_write(m->body, chunk, len, &m->body_error);
	return SMFIS_CONTINUE;
}

static sfsistat cb_eom(SMFICTX *ctx)
{
	struct conn_ctx *c = smfi_getpriv(ctx);
	const char *qid;
	sfsistat rc;

	if (c == NULL || c->msg == NULL)
		return SMFIS_TEMPFAIL;
	qid = smfi_getsymval(ctx, "i");
	if (qid != NULL && qid[0] != '\0')
		c->msg->d.queue_id = reply_sanitise(qid);
	if (c->msg->reinjected) {
		/* our own encrypted copy or notice, already decided: pass it on unchanged */
		msg_info("%s: re-injected copy %s passed", c->msg->d.queue_id ? c->msg->d.queue_id : "-",
			 c->msg->d.message_id);
		remove_headers(ctx, ENCRYPT_MARKER_HEADER, c->msg->n_marker_headers);
		msg_ctx_free(c->msg);
		c->msg = NULL;
		return SMFIS_ACCEPT;
	}
	atomic_fetch_add(&deciding, 1);
	evaluate(c, c->msg);
	rc = apply_verdict(ctx, c, c->msg);
	msg_ctx_free(c->msg);
	c->msg = NULL;
	atomic_fetch_sub(&deciding, 1);
	return rc;
}

static sfsistat cb_abort(SMFICTX *ctx)
{
	struct conn_ctx *c = smfi_getpriv(ctx);

	if (c != NULL) {
		msg_ctx_free(c->msg);
		c->msg = NULL;
	}
	return SMFIS_CONTINUE;
}

static sfsistat cb_close(SMFICTX *ctx)
{
	struct conn_ctx *c = smfi_getpriv(ctx);

	if (c == NULL)
		return SMFIS_CONTINUE;
	msg_ctx_free(c->msg);
	if (c->store != NULL)
		store_close(c->store);
	config_unref(c->cfg);
	free(c->client_addr);
	free(c);
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

/* -------------------------------------------------------------- deciding */

static void msg_ctx_free(struct msg_ctx *m)
{
	if (m == NULL)
		return;
	decision_free(&m->d);
	sb_free(&m->headers);
	msgbuf_free(m->body);
	free(m->body_error);
	free(m->subject);
	free(m->content_type);
	free(m->mailbox_choice);
	free(m->marker);
	free(m->failure);
	free(m->cpr_found);
	free(m);
}

/* conn_store - this connection's store handle, opened on first use; NULL if unavailable. */
static struct store *conn_store(struct conn_ctx *c)
{
	char *err = NULL;

	if (c->store == NULL) {
		c->store = store_open(c->cfg->database, STORE_RW, &err);
		if (c->store == NULL) {
			msg_error("cannot open database %s: %s", c->cfg->database,
				  err ? err : "unknown error");
			free(err);
		}
	}
	return c->store;
}

/*
 * evaluate - the personal flag, every recipient's class, and the verdict.
 * Only a trusted submitter's flag headers count (SPEC section 2).
 */
static void evaluate(struct conn_ctx *c, struct msg_ctx *m)
{
	struct decision *d = &m->d;
	char today[11];

	d->time = (long long)time(NULL);
	personal_flag_of(c, m);
	today_string(today);
	d->store_failed = conn_store(c) == NULL;
	d->already_encrypted = m->content_type != NULL && smime_is_encrypted(m->content_type);
	for (size_t i = 0; i < d->n_rcpts; i++) {
		struct classification cl;
		struct rcpt *r = &d->rcpts[i];

		classify_address(c->cfg, conn_store(c), &r->addr, d->personal, today, &cl);
		r->cls = cl.cls;
		r->evidence = cl.evidence;
		r->cert_der = cl.cert_der;
		r->cert_der_len = cl.cert_der_len;
		cl.evidence = NULL;
		cl.cert_der = NULL;
		classification_free(&cl);
	}
	policy_decide(c->cfg, d);
}

/*
 * personal_flag_of - the flag headers of a trusted submitter, then the CPR
 * scan: in enforce mode a CPR number, or a message that could not be
 * scanned, makes the message personal (fail safe); in monitor mode the
 * finding is only logged and tagged.
 */
static void personal_flag_of(struct conn_ctx *c, struct msg_ctx *m)
{
	struct decision *d = &m->d;
	char *why;

	if (d->trusted && m->n_flag_headers > 0) {
		d->personal = personal_flag_result(&m->flag, c->cfg->personal_header,
						   &d->personal_why);
		d->psrc = d->personal ? PSRC_HEADER : PSRC_NONE;
	} else {
		d->personal = false;
		d->psrc = PSRC_NONE;
		d->personal_why = xstrdup(m->n_flag_headers > 0 ? "header from untrusted client ignored"
								: "no header");
	}
	if (!d->trusted || c->cfg->detect_cpr == CPR_OFF || m->body == NULL)
		return;
	scan_cpr(c->cfg, m);
	if (m->cpr_found == NULL)
		return;
	if (c->cfg->detect_cpr == CPR_ENFORCE && !d->personal) {
		d->personal = true;
		d->psrc = PSRC_CPR;
	}
	why = xasprintf("%s; %s", d->personal_why, m->cpr_found);
	free(d->personal_why);
	d->personal_why = why;
}

/* scan_cpr - decoded text and Subject; m->cpr_found says what (masked), or why it failed. */
static void scan_cpr(const struct config *cfg, struct msg_ctx *m)
{
	struct cpr_result r;
	char *err = NULL, summary[256];
	FILE *f = m->body_error == NULL ? msgbuf_read(m->body, &err) : NULL;

	if (f == NULL || mime_scan_cpr(f, &r, &err) != 0) {
		m->cpr_found = xasprintf("not scanned for CPR numbers: %s",
					 m->body_error ? m->body_error : err ? err : "?");
		msg_warn("%s: message %s", m->d.queue_id ? m->d.queue_id : "-", m->cpr_found);
	} else if (r.hits > 0) {
		m->d.cpr_hits = (int)r.hits;
		cpr_result_format(&r, summary, sizeof(summary));
		m->cpr_found = xasprintf("CPR %s: %s", cfg->detect_cpr == CPR_ENFORCE ? "found"
							: "found (monitor)", summary);
	}
	free(err);
}

/*
 * apply_verdict - the one place a verdict becomes an SMTP answer, message
 * changes and the audit record.
 */
static sfsistat apply_verdict(SMFICTX *ctx, struct conn_ctx *c, struct msg_ctx *m)
{
	const struct config *cfg = c->cfg;
	struct decision *d = &m->d;
	sfsistat rc = SMFIS_ACCEPT;

	if (d->applied == ACTION_ENCRYPT)
		carry_out_encrypt(ctx, c, m);
	record(c, d);
	switch (d->applied) {
	case ACTION_REJECT:
	case ACTION_TEMPFAIL:
		if (m->failure != NULL) {
			bool reject = d->applied == ACTION_REJECT;

			smfi_setreply(ctx, reject ? "550" : "451", reject ? "5.7.1" : "4.3.0",
				      m->failure);
			return reject ? SMFIS_REJECT : SMFIS_TEMPFAIL;
		}
		return set_reply(ctx, cfg, d);
	case ACTION_HOLD:
		if (quarantine(ctx, cfg, d) != 0)
			return SMFIS_TEMPFAIL;
		break;
	case ACTION_ENCRYPT:
		if ((rc = remove_encrypted(ctx, d)) != SMFIS_ACCEPT)
			return rc;
		break;
	default:
		break;
	}
	/* the function-mailbox choice is an instruction to the filter, never sent on */
	remove_headers(ctx, cfg->mailbox_header, m->n_mailbox_headers);
	if (!d->trusted)
		remove_headers(ctx, cfg->personal_header, m->n_flag_headers);
	remove_headers(ctx, TAG_HEADER, m->n_tag_headers);
	remove_headers(ctx, ENCRYPT_MARKER_HEADER, m->n_marker_headers);
	if (cfg->tag_header)
		add_tag(ctx, d);
	return rc;
}

/*
 * carry_out_encrypt - the encrypted copy queued through the MTA before the
 * original is accepted; on failure the verdict becomes tempfail (or reject
 * for a function mailbox that does not exist) with a reason of its own.
 */
static void carry_out_encrypt(SMFICTX *ctx, struct conn_ctx *c, struct msg_ctx *m)
{
	struct decision *d = &m->d;
	struct encrypt_job job = { c->cfg, conn_store(c), d, NULL, NULL, m->subject };
	char *reason = NULL, *copy_id = NULL, *err = NULL;
	enum encrypt_status st = ENCRYPT_TEMPFAIL;

	job.mailbox_choice = m->mailbox_choice;
	if (m->body == NULL || !encrypt_available())
		reason = xstrdup("encryption is not available: no function mailbox is configured");
	else if (m->body_error != NULL)
		reason = xasprintf("the message could not be kept for encryption: %s", m->body_error);
	else if ((job.original = msgbuf_read(m->body, &err)) == NULL)
		reason = xasprintf("the message could not be read back for encryption: %s", err);
	else {
		smfi_progress(ctx);
		st = encrypt_and_queue(&job, &reason, &copy_id);
		smfi_progress(ctx);
	}
	if (st == ENCRYPT_QUEUED) {
		msg_info("%s: encrypted copy %s queued", d->queue_id ? d->queue_id : "-", copy_id);
	} else {
		msg_error("%s: %s", d->queue_id ? d->queue_id : "-", reason ? reason : "?");
		d->applied = d->action = st == ENCRYPT_REJECT ? ACTION_REJECT : ACTION_TEMPFAIL;
		d->rule = st == ENCRYPT_REJECT ? "SecureMailbox" : "encryption-failed";
		m->failure = reply_sanitise(reason ? reason : "encryption failed");
	}
	free(reason);
	free(copy_id);
	free(err);
}

/*
 * remove_encrypted - the encrypted recipients have their copy: take them
 * off the original. When nobody is left, the original is discarded.
 */
static sfsistat remove_encrypted(SMFICTX *ctx, const struct decision *d)
{
	size_t left = 0;

	for (size_t i = 0; i < d->n_rcpts; i++) {
		if (d->rcpts[i].action != ACTION_ENCRYPT) {
			left++;
			continue;
		}
		if (smfi_delrcpt(ctx, d->rcpts[i].raw) == MI_FAILURE) {
			/* the copy is queued; a clear original must not also reach this recipient */
			msg_error("%s: cannot remove recipient %s from the original; tempfailing",
				  d->queue_id ? d->queue_id : "-", d->rcpts[i].addr.full);
			smfi_setreply(ctx, "451", "4.3.0", "Try again later");
			return SMFIS_TEMPFAIL;
		}
	}
	return left == 0 ? SMFIS_DISCARD : SMFIS_ACCEPT;
}

/* quarantine - put the message on hold with its reason; 0, or -1 (reply set: tempfail). */
static int quarantine(SMFICTX *ctx, const struct config *cfg, const struct decision *d)
{
	char *reason = reply_hold_reason(cfg, d);
	int rc = 0;

	if (smfi_quarantine(ctx, reason) == MI_FAILURE) {
		msg_error("%s: the MTA refused to hold the message; tempfailing it",
			  d->queue_id ? d->queue_id : "-");
		smfi_setreply(ctx, "451", "4.3.0", "Message could not be held; try again later");
		rc = -1;
	}
	free(reason);
	return rc;
}

/* set_reply - the multi-line reply for a reject or tempfail. */
static sfsistat set_reply(SMFICTX *ctx, const struct config *cfg, const struct decision *d)
{
	struct reply r;
	char *l[REPLY_MAX_LINES + 1] = { 0 };
	bool reject = d->applied == ACTION_REJECT;
	int ok = MI_FAILURE;

	reply_build(cfg, d, &r);
	for (size_t i = 0; i < r.n_lines && i < REPLY_MAX_LINES; i++)
		l[i] = r.lines[i];
	if (r.n_lines > 0)
		ok = smfi_setmlreply(ctx, r.rcode, r.xcode, l[0], l[1], l[2], l[3], l[4], l[5],
				     l[6], l[7], l[8], l[9], l[10], l[11], l[12], l[13], l[14],
				     l[15], l[16], l[17], l[18], l[19], l[20], l[21], l[22], l[23],
				     l[24], l[25], l[26], l[27], l[28], l[29], (char *)NULL);
	else
		ok = smfi_setreply(ctx, reject ? "550" : "451", reject ? "5.7.1" : "4.7.1",
				   reject ? "Message refused by policy" : "Try again later");
	if (ok == MI_FAILURE)
		msg_warn("%s: could not set the reply text", d->queue_id ? d->queue_id : "-");
	reply_free(&r);
	return reject ? SMFIS_REJECT : SMFIS_TEMPFAIL;
}

/*
 * remove_headers - delete every copy of a header, whatever its case.
 * Deleting from the last index down keeps the indices of the rest stable.
 */
static void remove_headers(SMFICTX *ctx, const char *name, int count)
{
	for (int i = count; i >= 1; i--)
		if (smfi_chgheader(ctx, (char *)name, i, NULL) == MI_FAILURE)
			msg_warn("could not remove header %s[%d]", name, i);
}

/* add_tag - X-Sikkermail: what was decided, never the subject or a CPR number. */
static void add_tag(SMFICTX *ctx, const struct decision *d)
{
	struct strbuf sb;

	sb_init(&sb);
	if (d->personal)
		sb_printf(&sb, "personal=yes (%s)", personal_source_name(d->psrc));
	else
		sb_adds(&sb, "personal=no");
	if (d->cpr_hits > 0)
		sb_printf(&sb, "; cpr=%d", d->cpr_hits);
	sb_printf(&sb, "; action=%s", action_name(d->applied));
	if (d->mode == MODE_MONITOR && d->action != d->applied)
		sb_printf(&sb, "; monitor=%s", action_name(d->action));
	sb_printf(&sb, "; ref=%s", d->queue_id ? d->queue_id : "unknown");
	if (smfi_insheader(ctx, 0, TAG_HEADER, sb.s) == MI_FAILURE)
		msg_warn("could not add the %s header", TAG_HEADER);
	sb_free(&sb);
}

/*
 * record - the decision to the store, then the same decision as the audit
 * line. A personal message whose decision cannot be recorded is not
 * delivered: it waits (OnLookupFailure) until the database is back.
 */
static void record(struct conn_ctx *c, struct decision *d)
{
	struct strbuf sb;
	struct store *s = conn_store(c);

	if (s == NULL || store_record_decision(s, d) != 0) {
		msg_error("%s: decision not recorded in the database: %s",
			  d->queue_id ? d->queue_id : "-", s ? store_errmsg(s) : "unavailable");
		if (d->personal && d->applied < ACTION_HOLD && d->mode == MODE_ENFORCE) {
			d->store_failed = true;
			policy_decide(c->cfg, d);
		}
	}
	sb_init(&sb);
	audit_format(d, &sb);
	msg_audit(sb.s);
	sb_free(&sb);
}

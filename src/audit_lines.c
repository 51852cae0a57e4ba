/*
 * audit_lines.c - a decision as the lines the filter logs: one summary
 * line and one line per recipient, key=value or JSON, each bounded.
 *
 * Exports audit_lines, audit_new_id and audit_default_instance (see
 * audit.h for the format). A log collector cuts or drops a long line
 * (rsyslog's default limit is 8 KB), and a cut line is a decision lost
 * to the report, so no line may grow with the message: every variable
 * value has a share of the line (the caps below, in bytes as written,
 * escapes and quotes included) and a longer value is cut at a character
 * boundary and marked with AUDIT_CUT_MARK. The caps add up to less than
 * AUDIT_LINE_MAX with every fixed part at its longest (t_audit checks).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "policy.h"

/* The share of a line each value may take, quotes and escapes included. */
#define CAP_INSTANCE (AUDIT_INSTANCE_MAX + 2)
#define CAP_ID 32		/* audit_new_id's are 20 or so */
#define CAP_QUEUE_ID 30		/* Postfix's long ids are 17 at most */
#define CAP_MESSAGE_ID 64
#define CAP_SENDER 64
#define CAP_CLIENT 48		/* an IPv6 address, quoted */
#define CAP_REASON 120		/* with the masked CPR samples */
#define CAP_RULE 28
#define CAP_COPY 40
#define CAP_FAILURE 64		/* whole in the error line that goes with it */
#define CAP_MAILBOX 48
#define CAP_RCPT 120
#define CAP_EVIDENCE 360

#define UNIT_MAX 24	/* one input character as written: 4 UTF-8 bytes, or "\\xHH" */

struct out {
	struct strbuf *sb;
	enum audit_format fmt;
};

static bool is_bare(const char *v);
static size_t encode_unit(const unsigned char *p, enum audit_format fmt, char *buf,
			  size_t *used);
static void put_key(struct out *o, const char *key);
static void put_str(struct out *o, const char *key, const char *v, size_t cap);
static void put_word(struct out *o, const char *key, const char *word);
static void put_num(struct out *o, const char *key, unsigned long long n);
static void put_bool(struct out *o, const char *key, bool b);
static void begin(struct out *o, const char *type, const struct decision *d, const char *id);
static void end(struct out *o);
static void summary(struct out *o, const struct decision *d, const char *id);
static void rcpt_line(struct out *o, const struct decision *d, const char *id, size_t i);
static void find_host_name(void);

static atomic_ulong id_seq;
static pthread_once_t host_once = PTHREAD_ONCE_INIT;
static char host_name[256];

static bool is_bare(const char *v)
{
	if (v[0] == '\0' || strcmp(v, "-") == 0)
		return false;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == '"' || *p == '\\' || *p == '=')
			return false;
	return true;
}

/*
 * encode_unit - the character at p as written inside a quoted value:
 * into buf, its length in *used; returns the bytes of p it takes.
 */
static size_t encode_unit(const unsigned char *p, enum audit_format fmt, char *buf,
			  size_t *used)
{
	size_t n;

	if (*p == '"' || *p == '\\') {
		buf[0] = '\\';
		buf[1] = (char)*p;
		*used = 2;
		return 1;
	}
	if (*p >= 0x20 && *p < 0x7f) {
		buf[0] = (char)*p;
		*used = 1;
		return 1;
	}
	if (*p >= 0x80 && (n = utf8_text_len(p)) > 0) {
		memcpy(buf, p, n);
		*used = n;
		return n;
	}
	if (fmt == AUDIT_JSON && *p < 0x80)	/* controls and DEL */
		*used = (size_t)snprintf(buf, UNIT_MAX, "\\u%04x", *p);
	else if (fmt == AUDIT_JSON)		/* not UTF-8: the text \xHH */
		*used = (size_t)snprintf(buf, UNIT_MAX, "\\\\x%02x", *p);
	else
		*used = (size_t)snprintf(buf, UNIT_MAX, "\\x%02x", *p);
	return 1;
}

static void put_key(struct out *o, const char *key)
{
	if (o->fmt == AUDIT_JSON)
		sb_printf(o->sb, ",\"%s\":", key);
	else
		sb_printf(o->sb, " %s=", key);
}

/*
 * put_str - key and value, the value cut to cap bytes as written (cap >
 * the marker + 2). A cut value is written as its own text would be: bare
 * when what is left of it is, so that reading it back and writing it
 * again gives the same line.
 */
static void put_str(struct out *o, const char *key, const char *v, size_t cap)
{
	const unsigned char *p, *end;
	bool bare;
	size_t total, room, used, n;
	char buf[UNIT_MAX];
	char *cut;

	put_key(o, key);
	if (v == NULL) {
		sb_adds(o->sb, o->fmt == AUDIT_JSON ? "null" : "-");
		return;
	}
	/* bare values need no escapes: their characters are written as they are */
	bare = o->fmt == AUDIT_KV && is_bare(v);
	total = bare ? 0 : 2;
	for (p = (const unsigned char *)v; *p; p += n) {
		n = encode_unit(p, o->fmt, buf, &used);
		total += used;
	}
	end = p;
	if (total > cap) {
		room = cap - (sizeof(AUDIT_CUT_MARK) - 1) - (bare ? 0 : 2);
		for (p = (const unsigned char *)v; *p; p += n) {
			n = encode_unit(p, o->fmt, buf, &used);
			if (used > room)
				break;
			room -= used;
		}
		end = p;
		cut = xstrndup(v, (size_t)(end - (const unsigned char *)v));
		bare = o->fmt == AUDIT_KV && (cut[0] == '\0' || is_bare(cut));
		free(cut);
	}
	if (!bare)
		sb_addc(o->sb, '"');
	for (p = (const unsigned char *)v; p < end; p += n) {
		n = encode_unit(p, o->fmt, buf, &used);
		sb_addmem(o->sb, buf, used);
	}
	if (*end != '\0')
		sb_adds(o->sb, AUDIT_CUT_MARK);
	if (!bare)
		sb_addc(o->sb, '"');
}

/* put_word - a value from a fixed set of names, never in need of escapes. */
static void put_word(struct out *o, const char *key, const char *word)
{
	put_key(o, key);
	if (o->fmt == AUDIT_JSON)
		sb_printf(o->sb, "\"%s\"", word);
	else
		sb_adds(o->sb, word);
}

static void put_num(struct out *o, const char *key, unsigned long long n)
{
	put_key(o, key);
	sb_printf(o->sb, "%llu", n);
}

static void put_bool(struct out *o, const char *key, bool b)
{
	put_key(o, key);
	if (o->fmt == AUDIT_JSON)
		sb_adds(o->sb, b ? "true" : "false");
	else
		sb_adds(o->sb, b ? "yes" : "no");
}

/* begin - the type of line, then what every line of a decision carries. */
static void begin(struct out *o, const char *type, const struct decision *d, const char *id)
{
	if (o->fmt == AUDIT_JSON)
		sb_printf(o->sb, "{\"type\":\"%s\",\"time\":%lld", type, d->time);
	else
		sb_printf(o->sb, "%s time=%lld", type, d->time);
	put_str(o, "instance", d->instance, CAP_INSTANCE);
	put_str(o, "id", id, CAP_ID);
	put_str(o, "queue_id", d->queue_id, CAP_QUEUE_ID);
}

static void end(struct out *o)
{
	if (o->fmt == AUDIT_JSON)
		sb_addc(o->sb, '}');
}

static void summary(struct out *o, const struct decision *d, const char *id)
{
	begin(o, "decision", d, id);
	put_str(o, "message_id", d->message_id, CAP_MESSAGE_ID);
	put_str(o, "sender", d->sender, CAP_SENDER);
	put_str(o, "client", d->client_addr, CAP_CLIENT);
	put_bool(o, "trusted", d->trusted);
	put_word(o, "mode", mode_name(d->mode));
	if (d->generation > 0)
		put_num(o, "generation", d->generation);
	put_bool(o, "personal", d->personal);
	put_word(o, "personal_source", personal_source_name(d->psrc));
	put_str(o, "personal_reason", d->personal_why, CAP_REASON);
	put_num(o, "cpr", (unsigned long long)(d->cpr_hits > 0 ? d->cpr_hits : 0));
	put_word(o, "action", action_name(d->action));
	put_word(o, "applied", action_name(d->applied));
	put_str(o, "rule", d->rule != NULL && d->rule[0] != '\0' ? d->rule : NULL, CAP_RULE);
	if (d->copy_id != NULL)
		put_str(o, "copy", d->copy_id, CAP_COPY);
	if (d->mailbox != NULL)
		put_str(o, "mailbox", d->mailbox, CAP_MAILBOX);
	if (d->failure != NULL)
		put_str(o, "failure", d->failure, CAP_FAILURE);
	if (d->unrecorded)
		put_bool(o, "recorded", false);
	put_num(o, "rcpts", d->n_rcpts);
	end(o);
}

static void rcpt_line(struct out *o, const struct decision *d, const char *id, size_t i)
{
	const struct rcpt *r = &d->rcpts[i];

	begin(o, "decision-rcpt", d, id);
	put_str(o, "rcpt", r->addr.full != NULL ? r->addr.full : r->raw, CAP_RCPT);
	put_word(o, "class", rclass_name(r->cls));
	put_word(o, "action", action_name(r->action));
	put_str(o, "rule", r->rule != NULL && r->rule[0] != '\0' ? r->rule : NULL, CAP_RULE);
	put_str(o, "evidence", r->evidence, CAP_EVIDENCE);
	/* last, as rcpts ends the summary: a kv line cut short lacks them or says another count */
	put_num(o, "n", i + 1);
	put_num(o, "of", d->n_rcpts);
	end(o);
}

void audit_lines(const struct decision *d, enum audit_format fmt, const char *id,
		 struct strlist *out)
{
	struct strbuf sb;
	struct out o = { &sb, fmt };

	sb_init(&sb);
	summary(&o, d, id);
	strlist_add(out, sb.s);
	for (size_t i = 0; i < d->n_rcpts; i++) {
		sb_reset(&sb);
		rcpt_line(&o, d, id, i);
		strlist_add(out, sb.s);
	}
	sb_free(&sb);
}

char *audit_new_id(long long time)
{
	unsigned long seq = atomic_fetch_add(&id_seq, 1) + 1;

	/* time and pid tell this process's run from every other, seq the decisions in it */
	return xasprintf("%llx-%lx-%lx", (unsigned long long)time, (unsigned long)getpid(), seq);
}

static void find_host_name(void)
{
	if (gethostname(host_name, sizeof(host_name) - 1) != 0 || host_name[0] == '\0')
		strcpy(host_name, "localhost");
	host_name[sizeof(host_name) - 1] = '\0';
}

const char *audit_default_instance(void)
{
	pthread_once(&host_once, find_host_name);
	return host_name;
}

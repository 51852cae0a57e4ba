/*
 * report_log.c - decisions read back from syslog files for the report
 * (sikkermail-ctl report --log).
 *
 * Exports report_read_logs (report.h).
 *
 * A line counts only when the filter wrote it: its record must follow
 * the program tag "sikkermail-milter[PID]: " (or "sikkermail-milter: ")
 * where syslog puts the tag - after the timestamp and the host field,
 * after the timestamp of a local log without host, after RFC 5424's
 * APP-NAME PROCID MSGID and SD, or at the start of a line of the
 * daemon's own standard error. The record is then one of audit.h's:
 * a summary or recipient line (kv or JSON) or the single line of
 * earlier versions. Text quoted inside another program's line, or
 * inside one of the filter's own warnings, is never at that place.
 *
 * The lines of a decision are joined by instance and decision id, over
 * all files (a rotation may split a decision); a decision is counted
 * when its summary and all the recipient lines it announces are read,
 * and one still missing lines at the end is reported as incomplete and
 * not counted. A line read twice (the same file given twice, a log
 * shipped twice, a file and its rotated copy) counts once: the key is
 * the instance and the decision id, or for a single line the gateway,
 * time, queue id and Message-ID.
 *
 * Files may be plain or gzip-compressed (mail.log.2.gz): zlib reads both.
 * A line that does not parse (cut short by a syslog line limit, say) is
 * counted and reported, not fatal; a file that cannot be read is,
 * because a report that silently leaves a file out would tell the
 * officer less than the truth.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "audit.h"
#include "log.h"
#include "report.h"
#include "util.h"

#define SHOWN 10		/* bad lines and incomplete decisions named one by one */
#define HOST_MAX 256
#define CHUNK 8192

/* A decision seen in the logs: being put together from its lines, or done. */
struct entry {
	char *key;			/* parts ended by NULs (make_key) */
	size_t klen;
	bool done;
	bool have_summary;
	size_t of;			/* recipient lines announced */
	size_t got;			/* recipient lines read */
	struct decision d;		/* the summary's message */
	struct rcpt *rcpts;		/* [of], each as read */
	bool *have;			/* [of] */
	char *where;			/* "file:line" of its first line, for messages */
};

struct reader {
	struct report *r;
	struct entry **slots;		/* hash table, open addressing */
	size_t n_slots;
	size_t n_entries;
	long duplicates;
	long incomplete;
};

static int read_file(struct reader *rd, const char *file);
static int next_line(gzFile f, struct strbuf *sb);
static void read_line(struct reader *rd, const char *name, long lineno, const char *line);
static const char *find_record(const char *line, char *host, size_t size);
static const char *after_tag(const char *p);
static const char *skip_timestamp(const char *p);
static const char *rfc5424_msg(const char *p);
static struct entry *lookup(struct reader *rd, const char *key, size_t klen);
static uint64_t hash(const char *s, size_t n);
static char *make_key(size_t *len, const char *a, const char *b, const char *c, const char *d);
static void take_summary(struct reader *rd, struct entry *e, struct audit_record *rec,
			 const char *host);
static int take_rcpt(struct entry *e, struct audit_record *rec);
static void finish(struct reader *rd, struct entry *e);
static void release(struct entry *e);
static void bad_line(struct reader *rd, const char *name, long lineno, const char *why);

int report_read_logs(struct report *r, const struct strlist *files)
{
	struct reader rd = { .r = r };
	int rc = 0;

	for (size_t i = 0; i < files->n && rc == 0; i++) {
		const char *name = strcmp(files->v[i], "-") == 0 ? "(stdin)" : files->v[i];
		char *clean = report_clean(name);

		strlist_add(&r->files, clean);
		free(clean);
		rc = read_file(&rd, files->v[i]);
	}
	for (size_t i = 0; i < rd.n_slots; i++) {
		struct entry *e = rd.slots[i];

		if (e == NULL)
			continue;
		if (rc == 0 && !e->done) {
			if (++rd.incomplete <= SHOWN)
				msg_warn("%s: decision %s is incomplete (%s%zu of %zu recipient "
					 "lines); not counted", e->where,
					 e->d.queue_id ? e->d.queue_id : "without queue id",
					 e->have_summary ? "" : "no summary line, ", e->got, e->of);
		}
		release(e);
		free(e->key);
		free(e);
	}
	free(rd.slots);
	if (rc != 0)
		return -1;
	r->incomplete = rd.incomplete;
	if (rd.incomplete > 0)
		msg_warn("%ld decisions with lines missing; they are not in the report",
			 rd.incomplete);
	if (r->bad_lines > SHOWN)
		msg_warn("%ld more decision lines could not be read", r->bad_lines - SHOWN);
	if (r->bad_lines > 0)
		msg_warn("%ld of %ld decision lines could not be read; they are not in the report",
			 r->bad_lines, r->lines);
	if (rd.duplicates > 0)
		msg_info("%ld decision lines were read more than once and counted once",
			 rd.duplicates);
	return 0;
}

/* read_file - every decision line of one file (- is stdin); -1 if it cannot be read. */
static int read_file(struct reader *rd, const char *file)
{
	bool is_stdin = strcmp(file, "-") == 0;
	const char *name = is_stdin ? "(stdin)" : file;
	struct strbuf sb;
	long lineno = 0;
	gzFile f;
	int rc, fd = is_stdin ? dup(STDIN_FILENO) : -1;

	errno = 0;
	f = is_stdin ? (fd >= 0 ? gzdopen(fd, "rb") : NULL) : gzopen(file, "rb");
	if (f == NULL) {
		msg_error("cannot open %s: %s", name, errno ? strerror(errno) : "out of memory");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	gzbuffer(f, 64 * 1024);
	sb_init(&sb);
	while ((rc = next_line(f, &sb)) > 0)
		read_line(rd, name, ++lineno, sb.s);
	if (rc < 0) {
		int zerr;
		const char *why = gzerror(f, &zerr);

		msg_error("cannot read %s: %s", name, zerr == Z_ERRNO ? strerror(errno) : why);
	}
	sb_free(&sb);
	gzclose(f);
	return rc < 0 ? -1 : 0;
}

/* next_line - the next line of f into sb, its newline removed: 1, 0 at the end, -1. */
static int next_line(gzFile f, struct strbuf *sb)
{
	char buf[CHUNK];
	int zerr;
	size_t n;

	sb_reset(sb);
	for (;;) {
		if (gzgets(f, buf, sizeof(buf)) == NULL) {
			gzerror(f, &zerr);
			if (zerr != Z_OK)	/* Z_BUF_ERROR: a compressed file cut short */
				return -1;
			return sb->len > 0 ? 1 : 0;
		}
		n = strlen(buf);
		if (n > 0 && buf[n - 1] == '\n') {
			sb_addmem(sb, buf, n - 1);
			if (sb->len > 0 && sb->s[sb->len - 1] == '\r')
				sb->s[--sb->len] = '\0';
			return 1;
		}
		sb_addmem(sb, buf, n);
	}
}

static void bad_line(struct reader *rd, const char *name, long lineno, const char *why)
{
	if (++rd->r->bad_lines <= SHOWN)
		msg_warn("%s:%ld: %s; not counted", name, lineno, why);
}

static void read_line(struct reader *rd, const char *name, long lineno, const char *line)
{
	char host[HOST_MAX];
	const char *rec = find_record(line, host, sizeof(host));
	struct audit_record ar;
	struct entry *e;
	size_t klen;
	char *key;

	if (rec == NULL)
		return;
	rd->r->lines++;
	if (audit_parse_record(rec, &ar) != 0) {
		bad_line(rd, name, lineno, "not a complete decision line");
		return;
	}
	if (ar.kind == AUDIT_WHOLE) {
		char t[32];

		snprintf(t, sizeof(t), "%lld", ar.d.time);
		key = make_key(&klen, host, t, ar.d.queue_id, ar.d.message_id);
		key[0] = 'W';
	} else {
		key = make_key(&klen, ar.d.instance, ar.id, NULL, NULL);
		key[0] = 'N';
	}
	e = lookup(rd, key, klen);
	free(key);
	if (e->where == NULL && !e->done && ar.kind != AUDIT_WHOLE)
		e->where = xasprintf("%s:%ld", name, lineno);	/* to name it if incomplete */
	if (e->done) {
		rd->duplicates++;
	} else if (ar.kind == AUDIT_WHOLE) {
		report_add(rd->r, &ar.d, host);
		e->done = true;
	} else if (ar.kind == AUDIT_SUMMARY) {
		if (e->have_summary)
			rd->duplicates++;
		else if (e->rcpts != NULL && e->of != ar.of)
			bad_line(rd, name, lineno, "a summary at odds with its recipient lines");
		else
			take_summary(rd, e, &ar, host);
	} else if (e->rcpts != NULL && e->of != ar.of) {
		bad_line(rd, name, lineno, "a recipient line at odds with its decision");
	} else {
		if (take_rcpt(e, &ar) != 0)
			rd->duplicates++;
		else if (e->have_summary && e->got == e->of)
			finish(rd, e);
	}
	audit_record_free(&ar);
}

/* take_summary - the message facts; the recipients come from their own lines. */
static void take_summary(struct reader *rd, struct entry *e, struct audit_record *rec,
			 const char *host)
{
	decision_free(&e->d);	/* a queue id kept from a recipient line */
	e->d = rec->d;
	decision_init(&rec->d);
	if (e->d.instance == NULL && host[0] != '\0')
		e->d.instance = xstrdup(host);
	e->have_summary = true;
	if (e->rcpts == NULL) {
		e->of = rec->of;
		e->rcpts = xcalloc(e->of + 1, sizeof(*e->rcpts));
		e->have = xcalloc(e->of + 1, sizeof(*e->have));
	}
	if (e->got == e->of)
		finish(rd, e);
}

/* take_rcpt - one recipient into its place; 1 if that place was filled already. */
static int take_rcpt(struct entry *e, struct audit_record *rec)
{
	size_t i = rec->n - 1;

	if (e->rcpts == NULL) {
		e->of = rec->of;
		e->rcpts = xcalloc(e->of + 1, sizeof(*e->rcpts));
		e->have = xcalloc(e->of + 1, sizeof(*e->have));
	}
	if (e->have[i])
		return 1;
	/* to name the decision if its summary is lost */
	if (!e->have_summary && e->d.queue_id == NULL) {
		e->d.queue_id = rec->d.queue_id;
		rec->d.queue_id = NULL;
	}
	e->rcpts[i] = rec->d.rcpts[0];
	rec->d.n_rcpts = 0;	/* taken: the record frees no recipient */
	e->have[i] = true;
	e->got++;
	return 0;
}

/* finish - a whole decision: counted, and only its key kept, to know it again. */
static void finish(struct reader *rd, struct entry *e)
{
	for (size_t i = 0; i < e->of; i++) {
		struct rcpt *r = decision_add_rcpt(&e->d, NULL, NULL);

		free(r->raw);
		*r = e->rcpts[i];
		e->have[i] = false;
	}
	report_add(rd->r, &e->d, e->d.instance);
	release(e);
	e->done = true;
}

/* release - everything but the key. */
static void release(struct entry *e)
{
	for (size_t i = 0; i < e->of && e->have != NULL; i++) {
		if (!e->have[i])
			continue;
		free(e->rcpts[i].raw);
		address_free(&e->rcpts[i].addr);
		free(e->rcpts[i].evidence);
	}
	free(e->rcpts);
	free(e->have);
	free(e->where);
	decision_free(&e->d);
	e->rcpts = NULL;
	e->have = NULL;
	e->where = NULL;
	e->of = e->got = 0;
	e->have_summary = false;
}

/* ------------------------------------------------------------ the table */

static uint64_t hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

/* make_key - "?" then the parts, each ended by a NUL ("-" for NULL); *len its length. */
static char *make_key(size_t *len, const char *a, const char *b, const char *c, const char *d)
{
	const char *part[] = { a, b, c, d };
	struct strbuf sb;
	char *key;

	sb_init(&sb);
	sb_addc(&sb, '?');
	for (size_t i = 0; i < 4; i++) {
		sb_adds(&sb, part[i] ? part[i] : "-");
		sb_addmem(&sb, "", 1);
	}
	*len = sb.len;
	key = sb_steal(&sb);
	sb_free(&sb);
	return key;
}

/* lookup - the entry of key, made if there is none. */
static struct entry *lookup(struct reader *rd, const char *key, size_t klen)
{
	struct entry *e;
	size_t i;

	if (2 * (rd->n_entries + 1) > rd->n_slots) {
		size_t n = rd->n_slots ? rd->n_slots * 2 : 1024;
		struct entry **slots = xcalloc(n, sizeof(*slots));

		for (size_t k = 0; k < rd->n_slots; k++) {
			if ((e = rd->slots[k]) == NULL)
				continue;
			for (i = hash(e->key, e->klen) % n; slots[i]; i = (i + 1) % n)
				;
			slots[i] = e;
		}
		free(rd->slots);
		rd->slots = slots;
		rd->n_slots = n;
	}
	for (i = hash(key, klen) % rd->n_slots; (e = rd->slots[i]) != NULL;
	     i = (i + 1) % rd->n_slots)
		if (e->klen == klen && memcmp(e->key, key, klen) == 0)
			return e;
	e = xcalloc(1, sizeof(*e));
	e->key = xmalloc(klen);
	memcpy(e->key, key, klen);
	e->klen = klen;
	decision_init(&e->d);
	rd->slots[i] = e;
	rd->n_entries++;
	return e;
}

/* ------------------------------------------------------------ syslog lines */

/*
 * find_record - the record of a line the filter wrote, or NULL; host
 * gets the syslog host field ("" when there is none).
 */
static const char *find_record(const char *line, char *host, size_t size)
{
	const char *p = skip_timestamp(line), *rec = NULL;
	size_t n;

	host[0] = '\0';
	if (p == NULL)		/* the daemon's standard error: the tag starts the line */
		rec = after_tag(line);
	else if ((rec = after_tag(p)) == NULL && (n = strcspn(p, " ")) > 0 && p[n] == ' ') {
		/* the host field, then the tag */
		if (n < size) {
			memcpy(host, p, n);
			host[n] = '\0';
		}
		rec = after_tag(p + n + 1);
		if (rec == NULL && line[0] == '<')
			rec = rfc5424_msg(p + n + 1);
	}
	if (rec == NULL)
		return NULL;
	if (strncmp(rec, "decision ", 9) == 0 || strncmp(rec, "decision-rcpt ", 14) == 0 ||
	    rec[0] == '{')
		return rec;
	return NULL;
}

/* after_tag - past "sikkermail-milter[PID]: " or "sikkermail-milter: " at p, or NULL. */
static const char *after_tag(const char *p)
{
	static const char ident[] = LOG_IDENT_MILTER;
	size_t n;

	if (strncmp(p, ident, sizeof(ident) - 1) != 0)
		return NULL;
	p += sizeof(ident) - 1;
	if (*p == '[') {
		if ((n = strspn(p + 1, "0123456789")) == 0 || p[n + 1] != ']')
			return NULL;
		p += n + 2;
	}
	return p[0] == ':' && p[1] == ' ' ? p + 2 : NULL;
}

/* rfc5424_msg - past "APP-NAME PROCID MSGID - " of an RFC 5424 line (and a BOM), or NULL. */
static const char *rfc5424_msg(const char *p)
{
	static const char ident[] = LOG_IDENT_MILTER " ";
	size_t n;

	if (strncmp(p, ident, sizeof(ident) - 1) != 0)
		return NULL;
	p += sizeof(ident) - 1;
	for (int field = 0; field < 2; field++) {	/* PROCID, MSGID */
		if ((n = strcspn(p, " ")) == 0 || p[n] != ' ')
			return NULL;
		p += n + 1;
	}
	if (p[0] != '-' || p[1] != ' ')		/* the filter sends no structured data */
		return NULL;
	p += 2;
	if (strncmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	return p;
}

/*
 * skip_timestamp - past the timestamp of a syslog line and its space:
 * "Nov 29 12:00:01 " (RFC 3164, journalctl) or "2026-11-29T12:00:01.5+01:00 "
 * (RFC 3339, rsyslog's high precision format), after an optional "<PRI>"
 * and RFC 5424 version; NULL if the line does not start with one.
 */
static const char *skip_timestamp(const char *p)
{
	if (*p == '<') {
		p += 1 + strspn(p + 1, "0123456789");
		if (*p++ != '>')
			return NULL;
		if (p[0] == '1' && p[1] == ' ')
			p += 2;
	}
	if (isalpha((unsigned char)p[0]) && isalpha((unsigned char)p[1]) &&
	    isalpha((unsigned char)p[2]) && p[3] == ' ') {
		p += 4;
		p += strspn(p, " ");
		if (!isdigit((unsigned char)*p))
			return NULL;
		p += strspn(p, "0123456789");
		if (*p++ != ' ' || !isdigit((unsigned char)*p))
			return NULL;
		p += strspn(p, "0123456789:");
	} else if (strspn(p, "0123456789") == 4 && p[4] == '-' && strnlen(p, 11) == 11 &&
		   p[10] == 'T') {
		p += strcspn(p, " ");
	} else {
		return NULL;
	}
	return *p == ' ' ? p + 1 : NULL;
}

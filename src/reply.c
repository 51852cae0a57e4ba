/*
 * reply.c - a verdict into SMTP reply text and a quarantine reason (pure).
 *
 * Exports reply_build, reply_failure, reply_rcpt_refused, reply_free,
 * reply_sanitise and reply_hold_reason (see reply.h). Every text that
 * reaches the SMTP client is made here. The staff member who sent the message reads these lines
 * in a bounce, so they name every offending recipient with its class, in
 * the configured languages, and end with a reference the help desk can
 * find in the log.
 *
 * Escaping: every line goes through the same cleaning as reply_sanitise:
 * CR, LF and TAB become a space (libmilter refuses CR/LF), other control
 * characters and invalid UTF-8 become '?'. Then, in the reply lines only,
 * '%' is doubled: Sendmail treats the reply as a format string and Postfix
 * turns "%%" back into '%' while dropping a lone '%', so "%%" is the one
 * spelling that arrives as '%' through both. reply_sanitise itself leaves
 * '%' alone, so that it is idempotent and its result can be stored (the
 * milter cleans the Message-ID and queue id with it) and later put into a
 * reply without being escaped twice. A line is cut to REPLY_TEXT_MAX
 * bytes, escapes included, below libmilter's 980.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "util.h"

#define REPLY_TEXT_MAX 900	/* bytes per line after escaping; libmilter allows 980 */
#define REPLY_ADDR_MAX 200	/* longer addresses are cut and end in "..." */
#define REPLY_WHY_MAX 100	/* evidence quoted in a tempfail line */
#define HOLD_ADDR_MAX 80
#define HOLD_QID_MAX 40

static size_t lang_order(const struct config *cfg, enum language_set out[2]);
static char *clean(const char *s, bool double_percent);
static char *cut(const char *s, size_t max);
static const char *rcpt_address(const struct rcpt *r);
static char *detail_line(enum language_set lang, enum action act, const struct rcpt *r);
static char *generic_line(enum language_set lang, enum action act);
static char *more_line(enum language_set lang, size_t n);
static char *ref_line(const struct config *cfg, const struct decision *d);
static void add_line(struct reply *r, char *line);
static char *ascii_only(const char *s, size_t max);
static char *failure_line(enum language_set lang, enum effect_failure f, const char *mailbox);

/* lang_order - the languages to write, in order; none configured means both. */
static size_t lang_order(const struct config *cfg, enum language_set out[2])
{
	int langs = cfg->languages & (LANG_DA | LANG_EN);
	size_t n = 0;

	if (langs == 0)
		langs = LANG_DA | LANG_EN;
	if (langs == (LANG_DA | LANG_EN) && cfg->language_en_first) {
		out[n++] = LANG_EN;
		out[n++] = LANG_DA;
		return n;
	}
	if (langs & LANG_DA)
		out[n++] = LANG_DA;
	if (langs & LANG_EN)
		out[n++] = LANG_EN;
	return n;
}

/* cut - a copy of s of at most max (> 3) bytes, ending in "..." if it was longer. */
static char *cut(const char *s, size_t max)
{
	size_t len = strlen(s), keep = 0, n;

	if (len <= max)
		return xstrdup(s);
	/* keep whole UTF-8 sequences: no half letter before the "..." */
	for (;;) {
		n = utf8_decode((const unsigned char *)s + keep, SIZE_MAX, NULL);
		if (n == 0)
			n = 1;
		if (keep + n > max - 3)
			break;
		keep += n;
	}
	return xasprintf("%.*s...", (int)keep, s);
}

/*
 * clean - s as one line of printable UTF-8, '%' doubled if asked, cut at a
 * character boundary to at most REPLY_TEXT_MAX bytes (ending in "...").
 */
static char *clean(const char *s, bool double_percent)
{
	struct strbuf sb;
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n, fit = 0;

	sb_init(&sb);
	while (*p != '\0') {
		if (sb.len <= REPLY_TEXT_MAX - 3)
			fit = sb.len;	/* where to cut should the line turn out too long */
		n = utf8_decode(p, SIZE_MAX, NULL);
		if (*p == '\r' || *p == '\n' || *p == '\t') {
			while (*p == '\r' || *p == '\n' || *p == '\t')
				p++;
			sb_addc(&sb, ' ');
		} else if (*p == '%' && double_percent) {
			sb_adds(&sb, "%%");
			p++;
		} else if (n == 0) {
			sb_addc(&sb, '?');	/* one '?' per byte that is not UTF-8 */
			p++;
		} else if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] < 0xa0)) {
			sb_addc(&sb, '?');	/* C0 and C1 controls, DEL */
			p += n;
		} else {
			sb_addmem(&sb, p, n);
			p += n;
		}
	}
	if (sb.len > REPLY_TEXT_MAX) {
		sb.len = fit;
		sb.s[fit] = '\0';
		sb_adds(&sb, "...");
	}
	return sb.s;
}

char *reply_sanitise(const char *s)
{
	return clean(s, false);
}

static const char *rcpt_address(const struct rcpt *r)
{
	if (r->addr.full != NULL && r->addr.full[0] != '\0')
		return r->addr.full;
	return r->raw != NULL ? r->raw : "";
}

/* The English reject line explains the class; Danish keeps it short, as in SPEC section 5. */
static const char *const reject_why_en[CLASS_COUNT] = {
	[CLASS_FREEMAIL] = ": not even with TLS",
	[CLASS_TLS] = ": no secure route",
	[CLASS_PARTNER] = ": partner not approved for personal data",
};

/*
 * detail_line - one recipient in one language. The English tempfail line
 * quotes the recipient's evidence when there is some: classify.c writes a
 * short "... unavailable" for a lookup that did not complete.
 * The Danish text is written in ASCII (aa, oe for å, ø): SMTP replies are
 * US-ASCII, and Postfix replaces every other byte with a space.
 */
static char *detail_line(enum language_set lang, enum action act, const struct rcpt *r)
{
	char *addr = cut(rcpt_address(r), REPLY_ADDR_MAX), *line, *why;
	const char *cls = rclass_name(r->cls);
	const char *extra = (unsigned)r->cls < CLASS_COUNT ? reject_why_en[r->cls] : NULL;

	if (act == ACTION_REJECT && lang == LANG_DA) {
		line = xasprintf("Personoplysninger maa ikke sendes til <%s> (%s)", addr, cls);
	} else if (act == ACTION_REJECT) {
		line = xasprintf("Personal data may not be sent to <%s> (%s%s)", addr, cls,
				 extra ? extra : "");
	} else if (lang == LANG_DA) {
		line = xasprintf("Modtagerens sikre rute kunne ikke afgoeres for <%s>; proev igen senere",
				 addr);
	} else {
		why = cut(r->evidence != NULL && r->evidence[0] != '\0'
				  ? r->evidence
				  : "certificate directory unavailable",
			  REPLY_WHY_MAX);
		line = xasprintf("The secure route for <%s> could not be determined (%s); "
				 "try again later",
				 addr, why);
		free(why);
	}
	free(addr);
	return line;
}

/*
 * generic_line - for a verdict that names no recipient: the milter may
 * reject or tempfail a message for a reason outside classification and
 * still use this module for the reply.
 */
static char *generic_line(enum language_set lang, enum action act)
{
	if (act == ACTION_REJECT)
		return xstrdup(lang == LANG_DA ? "Beskeden er afvist af reglerne for sikker post"
					       : "Message rejected by the secure mail policy");
	return xstrdup(lang == LANG_DA ? "Beskeden kunne ikke kontrolleres; proev igen senere"
				       : "The message could not be checked; try again later");
}

static char *more_line(enum language_set lang, size_t n)
{
	/* n >= 2: a summary line only replaces detail lines when it saves some */
	if (lang == LANG_DA)
		return xasprintf("... og %zu flere modtagere", n);
	return xasprintf("... and %zu more recipients", n);
}

static char *ref_line(const struct config *cfg, const struct decision *d)
{
	const char *qid = d->queue_id != NULL && d->queue_id[0] != '\0' ? d->queue_id : "unknown";

	if (cfg->help_url != NULL && cfg->help_url[0] != '\0')
		return xasprintf("Ref %s; see %s", qid, cfg->help_url);
	return xasprintf("Ref %s", qid);
}

/* add_line - clean, escape and append line (taking it); callers stay within REPLY_MAX_LINES. */
static void add_line(struct reply *r, char *line)
{
	r->lines[r->n_lines++] = clean(line, true);
	free(line);
}

/*
 * reply_build - for the applied action (what is actually done: the milter
 * may turn an action it cannot carry out into a tempfail), one line per
 * recipient with that action, per language; when they do not all fit, as
 * many as fit and one "... and N more" line per language; then the
 * reference line.
 */
void reply_build(const struct config *cfg, const struct decision *d, struct reply *r)
{
	enum language_set langs[2];
	size_t n_langs = lang_order(cfg, langs), n_hit = 0, shown, done = 0;
	const size_t room = REPLY_MAX_LINES - 1;	/* the ref line is always there */
	const enum action act = d->applied;

	memset(r, 0, sizeof(*r));
	if (act != ACTION_REJECT && act != ACTION_TEMPFAIL)
		return;
	strcpy(r->rcode, act == ACTION_REJECT ? "550" : "451");
	strcpy(r->xcode, act == ACTION_REJECT ? "5.7.1" : "4.7.1");
	for (size_t i = 0; i < d->n_rcpts; i++)
		n_hit += d->rcpts[i].action == act;
	shown = n_hit * n_langs <= room ? n_hit : (room - n_langs) / n_langs;
	for (size_t i = 0; i < d->n_rcpts && done < shown; i++) {
		if (d->rcpts[i].action != act)
			continue;
		for (size_t l = 0; l < n_langs; l++)
			add_line(r, detail_line(langs[l], act, &d->rcpts[i]));
		done++;
	}
	for (size_t l = 0; l < n_langs; l++) {
		if (n_hit == 0)
			add_line(r, generic_line(langs[l], act));
		else if (shown < n_hit)
			add_line(r, more_line(langs[l], n_hit - shown));
	}
	add_line(r, ref_line(cfg, d));
}

/*
 * The failures' lines (ASCII: Postfix blanks every other byte), Danish and
 * English. A failure not listed is a temporary one of the message as a
 * whole.
 */
static char *failure_line(enum language_set lang, enum effect_failure f, const char *mailbox)
{
	char *mb, *line;

	switch (f) {
	case FAIL_MAILBOX_UNKNOWN:
		mb = cut(mailbox ? mailbox : "?", REPLY_ADDR_MAX);
		line = lang == LANG_DA
			       ? xasprintf("Funktionspostkassen <%s> er ikke sat op til krypteret post",
					   mb)
			       : xasprintf("The function mailbox <%s> is not configured for encrypted "
					   "mail",
					   mb);
		free(mb);
		return line;
	case FAIL_MAILBOX_FORBIDDEN:
		mb = cut(mailbox ? mailbox : "?", REPLY_ADDR_MAX);
		line = lang == LANG_DA
			       ? xasprintf("Du maa ikke sende fra funktionspostkassen <%s>", mb)
			       : xasprintf("You may not send from the function mailbox <%s>", mb);
		free(mb);
		return line;
	case FAIL_ENCRYPT_UNAVAILABLE:
	case FAIL_ENCRYPT:
		return xstrdup(lang == LANG_DA
				       ? "Den krypterede kopi kunne ikke laves; proev igen senere"
				       : "The encrypted copy could not be made; try again later");
	case FAIL_HEADER_LIMIT:
		return xstrdup(lang == LANG_DA
				       ? "Beskedens brevhoved er for stort (over 1 MB eller en linje over "
					 "64 KB)"
				       : "The message header is too large (over 1 MB, or a field over "
					 "64 KB)");
	case FAIL_TIME_BUDGET:
		return xstrdup(lang == LANG_DA
				       ? "Beskeden kunne ikke afgoeres i tide; proev igen senere"
				       : "The message could not be decided in time; try again later");
	case FAIL_RECORD:
		return xstrdup(lang == LANG_DA
				       ? "Beslutningen kunne ikke registreres; proev igen senere"
				       : "The decision could not be recorded; try again later");
	default:
		return xstrdup(lang == LANG_DA ? "Beskeden kunne ikke behandles; proev igen senere"
					       : "The message could not be handled; try again later");
	}
}

void reply_failure(const struct config *cfg, const struct decision *d, enum effect_failure f,
		   const char *mailbox, struct reply *r)
{
	enum language_set langs[2];
	size_t n_langs = lang_order(cfg, langs);
	bool reject = f == FAIL_MAILBOX_UNKNOWN || f == FAIL_MAILBOX_FORBIDDEN;

	memset(r, 0, sizeof(*r));
	strcpy(r->rcode, reject ? "550" : "451");
	strcpy(r->xcode, reject ? "5.7.1" : "4.3.0");
	if (f == FAIL_HEADER_LIMIT) {
		strcpy(r->rcode, "552");
		strcpy(r->xcode, "5.3.4");
	}
	for (size_t l = 0; l < n_langs; l++)
		add_line(r, failure_line(langs[l], f, mailbox));
	add_line(r, ref_line(cfg, d));
}

void reply_rcpt_refused(const char *why, struct reply *r)
{
	memset(r, 0, sizeof(*r));
	strcpy(r->rcode, "550");
	strcpy(r->xcode, "5.1.3");
	add_line(r, xstrdup(why ? why : "invalid address"));
}

void reply_free(struct reply *r)
{
	for (size_t i = 0; i < r->n_lines; i++)
		free(r->lines[i]);
	memset(r, 0, sizeof(*r));
}

/* ascii_only - printable ASCII copy of s, cut to max bytes (quarantine reasons). */
static char *ascii_only(const char *s, size_t max)
{
	char *t = cut(s ? s : "", max);

	for (char *p = t; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	return t;
}

/*
 * reply_hold_reason - the held recipients with their classes, as many as
 * fit in REPLY_HOLD_MAX, then ", and N more"; the queue id last so that
 * the reason is never cut before the reference.
 */
char *reply_hold_reason(const struct config *cfg, const struct decision *d)
{
	struct strbuf sb;
	char *qid = ascii_only(d->queue_id && d->queue_id[0] ? d->queue_id : "unknown", HOLD_QID_MAX);
	char *tail, *item, *addr, *out, enc[64] = "";
	size_t n_items = 0, skipped = 0, n_enc = 0;
	const size_t more_max = sizeof(", and 99999 more") - 1;

	/* encrypted recipients got their copy and were taken off what is held */
	for (size_t i = 0; i < d->n_rcpts; i++)
		n_enc += d->rcpts[i].action == ACTION_ENCRYPT;
	if (n_enc > 0)
		snprintf(enc, sizeof(enc), "; %zu encrypted copy recipient%s not on it", n_enc,
			 n_enc == 1 ? "" : "s");
	tail = xasprintf(" held%s; ref %s", enc, qid);

	sb_init(&sb);
	sb_adds(&sb, "sikkermail: personal data to ");
	for (size_t i = 0; i < d->n_rcpts; i++) {
		const struct rcpt *rc = &d->rcpts[i];

		if (rc->action != ACTION_HOLD)
			continue;
		addr = ascii_only(rcpt_address(rc), HOLD_ADDR_MAX);
		item = xasprintf("%s%s (%s)", n_items ? ", " : "", addr, rclass_name(rc->cls));
		free(addr);
		if (skipped == 0 && sb.len + strlen(item) + more_max + strlen(tail) <= REPLY_HOLD_MAX) {
			sb_adds(&sb, item);
			n_items++;
		} else {
			skipped++;
		}
		free(item);
	}
	if (n_items == 0) {
		sb_reset(&sb);
		sb_printf(&sb, "sikkermail: message (%s)",
			  d->rule != NULL && d->rule[0] != '\0' ? d->rule : "policy");
	} else if (skipped > 0) {
		sb_printf(&sb, ", and %zu more", skipped);
	}
	sb_adds(&sb, tail);
	out = ascii_only(sb.s, REPLY_HOLD_MAX);
	sb_free(&sb);
	free(tail);
	free(qid);
	return out;
}

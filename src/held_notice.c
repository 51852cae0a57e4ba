/*
 * held_notice.c - HoldNotice: the bilingual notice to the sender of a
 * held message (see held_notice.h), and who may be sent one.
 *
 * The text names the reference (the queue id the administrator releases
 * or deletes by), when the message was held, its Message-ID and the
 * recipients that caused the hold with their class and the evidence, never
 * the message's content. It goes through Reinject like the function
 * mailboxes' notices (encrypt_tell).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "address.h"
#include "held_notice.h"
#include "log.h"
#include "util.h"

static bool sender_internal(const struct config *cfg, const char *sender);

bool held_notice_wanted(const struct config *cfg, const struct decision *d)
{
	const char *s = d->sender;
	const char *at = s != NULL ? strrchr(s, '@') : NULL;
	size_t local;

	if (!cfg->hold_notice || d->mode != MODE_ENFORCE || d->applied != ACTION_HOLD ||
	    !d->trusted || at == NULL || at == s || at[1] == '\0')
		return false;
	local = (size_t)(at - s);
	/* never a mail system's own address: a notice to it could loop */
	if ((local == 10 && ascii_strncasecmp(s, "postmaster", 10) == 0) ||
	    (local == 13 && ascii_strncasecmp(s, "mailer-daemon", 13) == 0))
		return false;
	return sender_internal(cfg, s);
}

static bool sender_internal(const struct config *cfg, const char *sender)
{
	char *domain = xstrdup(strrchr(sender, '@') + 1);
	bool internal = false;

	ascii_lower(domain);
	for (size_t i = 0; i < cfg->n_internal_domains && !internal; i++)
		internal = domain_match(cfg->internal_domains[i], domain);
	free(domain);
	return internal;
}

char *held_notice_subject(const struct decision *d)
{
	return xasprintf("Besked tilbageholdt / Message held for review (ref %s)",
			 d->queue_id ? d->queue_id : "unknown");
}

char *held_notice_body(const struct config *cfg, const struct decision *d)
{
	const char *qid = d->queue_id ? d->queue_id : "unknown";
	time_t t = (time_t)d->time;
	char when[32] = "-";
	struct strbuf sb;
	struct tm tm;

	if (localtime_r(&t, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	sb_init(&sb);
	/* the Danish text in UTF-8, written out as bytes */
	sb_adds(&sb, "Din besked indeholder personoplysninger, og mindst en modtager kan ikke\n"
		     "modtage den sikkert. Den er tilbageholdt og venter p\xc3\xa5"
		     " gennemsyn; den er\nikke sendt videre.\n"
		     "Your message contains personal data, and at least one recipient cannot\n"
		     "receive it securely. It is held for review and has not been sent on.\n\n");
	sb_printf(&sb, "Reference:          %s\n", qid);
	sb_printf(&sb, "Tilbageholdt / Held: %s\n", when);
	sb_printf(&sb, "Message-ID:         %s\n\n", d->message_id ? d->message_id : "-");
	sb_adds(&sb, "Modtagere, der gav anledning til det / Recipients that caused it:\n");
	for (size_t i = 0; i < d->n_rcpts; i++) {
		const struct rcpt *r = &d->rcpts[i];

		if (r->action != ACTION_HOLD)
			continue;
		sb_printf(&sb, "  %s (%s)%s%s\n", r->addr.full ? r->addr.full : r->raw,
			  rclass_name(r->cls), r->evidence ? ": " : "",
			  r->evidence ? r->evidence : "");
	}
	sb_adds(&sb, "\nEn administrator frigiver eller sletter beskeden. Oplys referencen, hvis\n"
		     "du kontakter it-supporten.\n"
		     "An administrator will release or delete the message. Quote the reference\n"
		     "if you contact the help desk.\n");
	if (cfg->help_url != NULL && cfg->help_url[0] != '\0')
		sb_printf(&sb, "%s\n", cfg->help_url);
	return sb.s;
}

int held_notice_send(const struct config *cfg, const struct mailboxes *mbs, struct store *store,
		     const struct decision *d, long left)
{
	const char *qid = d->queue_id ? d->queue_id : "-";
	char *from, *subject, *body, *id = NULL, *why = NULL;
	int rc;

	if (!held_notice_wanted(cfg, d))
		return 0;
	/* the sender would quote a reference that sikkermail-ctl cannot find */
	if (d->unrecorded) {
		msg_warn("%s: hold notice to %s not sent: the hold is not recorded (release or "
			 "delete it with postsuper)", qid, d->sender);
		return -1;
	}
	/* the MTA waits for the reply meanwhile: only within what is left of DecisionTimeout */
	if (left < HELD_NOTICE_TIMEOUT_MIN) {
		msg_warn("%s: hold notice to %s not sent: DecisionTimeout is spent", qid,
			 d->sender);
		return -1;
	}
	from = xasprintf("postmaster@%s", strrchr(d->sender, '@') + 1);
	subject = held_notice_subject(d);
	body = held_notice_body(cfg, d);
	rc = encrypt_tell(cfg, mbs, store, from, "", d->sender, subject, body,
			  left < HELD_NOTICE_TIMEOUT ? (int)left : HELD_NOTICE_TIMEOUT, &id, &why);
	if (rc == 0)
		msg_info("%s: hold notice %s sent to %s", qid, id, d->sender);
	else	/* the message stays held whatever happens here */
		msg_warn("%s: hold notice to %s not sent: %s", qid, d->sender,
			 why ? why : "unknown error");
	free(from);
	free(subject);
	free(body);
	free(id);
	free(why);
	return rc == 0 ? 1 : -1;
}

/*
 * reply.h - a verdict into SMTP reply text (pure).
 *
 * For a reject: one line per offending recipient per language, then a
 * reference line with the queue id and HelpURL:
 *   550-5.7.1 Personoplysninger må ikke sendes til <x@gmail.com> (freemail)
 *   550-5.7.1 Personal data may not be sent to <x@gmail.com> (freemail: not even with TLS)
 *   550 5.7.1 Ref 4F2A1C3B2D; see https://...
 * For a tempfail: the same shape with 451 4.7.1 and the reason (the
 * recipient's class could not be determined). Lines never contain CR, LF
 * or control characters, and there are never more than REPLY_MAX_LINES
 * (libmilter's limit is 32); extra recipients are summarised. In the
 * lines a '%' is written as "%%": Sendmail uses the reply as a format
 * string and Postfix turns "%%" back into '%' (and drops a lone '%'), so
 * the doubled form is the only one that reaches the client intact. Text
 * is UTF-8 (the Danish lines need it); invalid UTF-8 becomes '?'.
 */
#ifndef SIKKERMAIL_REPLY_H
#define SIKKERMAIL_REPLY_H

#include <stddef.h>

#include "config.h"
#include "decision.h"
#include "policy.h"

#define REPLY_MAX_LINES 30

struct reply {
	char rcode[4];		/* "550", "451" */
	char xcode[8];		/* "5.7.1", "4.7.1" */
	char *lines[REPLY_MAX_LINES];
	size_t n_lines;
};

/*
 * reply_build - build the reply for d->applied (reject or tempfail): the
 * recipients whose action is d->applied are named, or, if none is, a
 * general reason. Other actions give n_lines == 0. Uses cfg->languages,
 * cfg->language_en_first, cfg->help_url. Lines are ready for
 * smfi_setmlreply ('%' doubled).
 */
void reply_build(const struct config *cfg, const struct decision *d, struct reply *r);
void reply_free(struct reply *r);

/*
 * reply_failure - the reply for a verdict that could not be carried out
 * (policy_failure): one line per language saying what the sender can do,
 * then the reference line. Nothing of the MTA's or a library's own error
 * text reaches the client (that goes to the log). mailbox is the function
 * mailbox the sender named, for FAIL_MAILBOX_UNKNOWN (may be NULL).
 */
void reply_failure(const struct config *cfg, const struct decision *d, enum effect_failure f,
		   const char *mailbox, struct reply *r);

/* reply_rcpt_refused - 550 5.1.3 and why, for a recipient refused at RCPT TO. */
void reply_rcpt_refused(const char *why, struct reply *r);

/*
 * reply_sanitise - s as one line of printable UTF-8 (CR, LF, TAB become a
 * space; other controls and invalid UTF-8 '?'), cut to fit a reply line.
 * '%' is left as it is (reply_build doubles it), so the result may be
 * stored and cleaned again without change. Never NULL; free it.
 */
char *reply_sanitise(const char *s);

/*
 * reply_hold_reason - the one-line quarantine reason for a held message
 * (smfi_quarantine), e.g. "sikkermail: personal data to x@gmail.com
 * (freemail) held; ref 4F2A1C3B2D". Printable ASCII, at most
 * REPLY_HOLD_MAX characters; never NULL. Free it.
 */
#define REPLY_HOLD_MAX 200
char *reply_hold_reason(const struct config *cfg, const struct decision *d);

#endif

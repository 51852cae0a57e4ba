/*
 * audit.h - one decision, one record.
 *
 * audit_format writes the key=value line that goes to syslog (documented
 * in sikkermail-milter(8)):
 *
 *   decision time=1764400000 queue_id=4F2A1C3B2D message_id=<a1@kp.dk>
 *     sender=a@kp.dk client=10.0.0.5 trusted=yes mode=enforce personal=yes
 *     personal_source=header personal_reason="header yes" cpr=0
 *     action=reject applied=reject rule=PersonalToFreemail rcpts=2
 *     rcpt1=x@gmail.com class1=freemail action1=reject rule1=PersonalToFreemail
 *     evidence1="freemail list: gmail.com (built-in, imported 2025-01-02)"
 *     rcpt2=u@kp.dk class2=internal action2=deliver rule2=internal
 *     evidence2="InternalDomains entry kp.dk"
 *
 * Values with spaces, quotes or '=' are double-quoted, with \" and \\
 * escapes; control characters become \xHH. A NULL string is a bare "-"
 * (so "" and "-" are written quoted). audit_parse reads the line back
 * (sikkermail-ctl report --log); a line cut short is refused.
 */
#ifndef SIKKERMAIL_AUDIT_H
#define SIKKERMAIL_AUDIT_H

#include "decision.h"
#include "util.h"

void audit_format(const struct decision *d, struct strbuf *out);

/*
 * audit_parse - parse a line written by audit_format (any prefix before
 * "decision " is skipped) into d (decision_free it). 0 or -1.
 */
int audit_parse(const char *line, struct decision *d);

#endif

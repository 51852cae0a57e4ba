/*
 * mime_subject.h - PersonalSubjectTag: find and take out the tags in a
 * Subject field (pure, apart from GMime's RFC 2047 decoder). Part of the
 * MIME module: with mime.c, the only file that includes GMime.
 *
 * A trusted submitter marks a message personal by writing one of the
 * configured tags (e.g. "[sikker]") anywhere in its Subject, also inside a
 * word; mail clients on phones and webmail that cannot set PersonalHeader
 * can still do that. The field is read as a reader sees it: unfolded,
 * RFC 2047 encoded-words decoded (any charset GMime knows, into UTF-8),
 * composed (NFC; so is each tag: "å" typed as "a" and a combining ring
 * is "å"), and compared without regard to case, character by character
 * with Unicode's simple case mapping ("[PERSONFØLSOM]" is
 * "[personfølsom]"); a run of white space, in the Subject or in a tag,
 * counts as one space.
 * Every tag found is taken out, the longest first where tags overlap,
 * and so is one that only shows once another is out ("[sik[sikker]ker]");
 * then runs of white space become one space and none is left at either
 * end. The rest is written back as a header value: printable ASCII as it
 * is, anything else as UTF-8 encoded-words (smime_encode_text). When no
 * tag is found nothing is rewritten.
 *
 * The field is also read as forgiving clients read it (base64 without
 * its padding, an encoded-word without its "?=", each word on its own).
 * When that reading differs from GMime's, a tag in either counts, and the
 * field is kept as it is: writing back one reading could lose text the
 * other shows.
 */
#ifndef SIKKERMAIL_MIME_SUBJECT_H
#define SIKKERMAIL_MIME_SUBJECT_H

#include <stddef.h>

/* The longest tag the configuration accepts, in bytes. */
#define MIME_SUBJECT_TAG_MAX 64

/*
 * mime_subject_strip - look for the n_tags tags (UTF-8) in raw, a Subject
 * field's value as received (folded, perhaps encoded). Returns how many
 * were found; when that is more than 0, *text is the Subject that is left
 * (decoded UTF-8, "" when nothing is) and *value the same as a header
 * value (folded with "\n "; "" when nothing is left: the field is then to
 * go), or NULL when the field is read two ways and is to stay as it is.
 * Both are new strings to free. With 0 they are set to NULL.
 */
int mime_subject_strip(const char *raw, char *const *tags, size_t n_tags, char **text,
		       char **value);

#endif

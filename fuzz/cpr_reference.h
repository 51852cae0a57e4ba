/*
 * cpr_reference.h - the CPR scanner before its fast path, for the
 * differential check in fuzz_cpr (see cpr_reference.c).
 */
#ifndef SIKKERMAIL_CPR_REFERENCE_H
#define SIKKERMAIL_CPR_REFERENCE_H

#include "cpr.h"

/* The scanner's state as it was; result is what the library's scanner gives. */
struct cpr_reference {
	uint32_t cp;		/* UTF-8 sequence being assembled */
	unsigned need;		/* continuation bytes still expected */
	uint32_t prev, prev2;	/* the two code points before this one; 0 at a text start */
	unsigned since_kw;	/* code points since a keyword ended (saturating) */
	unsigned since_neg;	/* the same for a negative keyword */
	char kw_tail[12];	/* the last code points, folded to lower-case ASCII */
	unsigned word_len;	/* code points in the current word (saturating) */
	char word_head[4];	/* its first four, folded */
	bool word_url;		/* the current word looks like a URL */
	bool word_amp;		/* it contains '&' */
	int run_state;		/* outside a digit run, in one, or after a joiner */
	uint32_t joiner;	/* the joiner just read, in that state */
	char digits[10];	/* the run's first ten digits: wiped when it is decided */
	unsigned ndigits;	/* digits in the run (saturating) */
	bool dash_seen;		/* the one dash after the sixth digit */
	bool spoiled;		/* the run cannot be a hit */
	bool keyword;		/* a keyword ended close before the run */
	bool after_plus;	/* the run follows a '+' */
	bool phone_prefix;	/* a run like "+45" and one space were just read */
	bool html;		/* skip markup */
	bool in_tag;		/* inside '<' ... '>' */
	struct cpr_result result;
};

void cpr_reference_init(struct cpr_reference *s);
void cpr_reference_set_html(struct cpr_reference *s, bool html);
void cpr_reference_scan(struct cpr_reference *s, const char *buf, size_t len);
void cpr_reference_finish(struct cpr_reference *s);

#endif

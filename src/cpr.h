/*
 * cpr.h - find Danish CPR numbers in UTF-8 text (pure: no I/O, no
 * logging, no outside library).
 *
 * A streaming scanner: feed the text in chunks of any size with cpr_scan
 * (a number split across two chunks is still found), end each text with
 * cpr_scanner_finish, read the counts in scanner.result. One scanner may
 * cover several texts (the Subject and every text part of a message);
 * a number never spans two texts.
 *
 * What is a hit (SPEC section 4):
 *
 *  - a number written DDMMYY-SSSS or DDMMYYSSSS: exactly ten ASCII digits,
 *    optionally with one dash after the sixth (ASCII '-', or one of the
 *    Unicode hyphens U+2010..U+2013 and U+2212 that word processors put
 *    there). A space in that place is not accepted: "DDMMYY NNNN" is far
 *    more often a date followed by a year, an amount or a count.
 *  - standing on its own, which throws out numbers that are part of
 *    something else:
 *      . not part of a longer number token: digits joined by '-', '.',
 *        ':' or '/' ("1234-0101901238", dates, times, "0101901238-5");
 *      . no letter, '_', '@', '/', '\' or '%' directly before or after it
 *        (identifiers, e-mail addresses, paths, percentages);
 *      . no '+', '#', '?' or '&' directly before it, nor a country code
 *        ("+45 0101901238"), nor '=' in a word with '&' ("a=1&b=...");
 *      . no "letters-" before or "-letters" after it ("INV-0101901238"),
 *        unless the word before the dash is the keyword ("CPR-0101901238");
 *      . not in a URL: a word containing "://" or '?', or starting "www.".
 *    ',' and ';' separate: a list "0101901238,0202801234" is two hits.
 *  - not labelled as something else: a negative keyword ("konto", "ordre",
 *    "order", "faktura", "invoice", "kundenr", "kundenummer", "tlf",
 *    "telefon", "phone", "mobil", "fax", "isbn") ending at most
 *    CPR_NEGATIVE_WINDOW code points before the number, and nearer than
 *    any CPR keyword, means an account, order, invoice, customer, phone or
 *    book number: "Kontonr. 1234 0101901238", "Faktura 0101901238".
 *  - a real calendar date DDMMYY in the century that the 7th digit gives:
 *        0-3     1900-1999
 *        4, 9    2000-2036 if YY <= 36, else 1937-1999
 *        5-8     2000-2057 if YY <= 57, else 1858-1899
 *    (29 February only in leap years: 1900 is not one, 2000 is). The
 *    replacement numbers with day + 60 are not recognised.
 *
 * What raises confidence:
 *
 *  - modulus 11: sum of the digits weighted 4,3,2,7,6,5,4,3,2,1 is a
 *    multiple of 11. Not required: numbers issued since 2007 may fail it.
 *  - a keyword ("cpr", which covers "CPR-nr", "cpr.nr", "CPR-nummer";
 *    "personnummer", "personnr"; case-insensitive) ending at most
 *    CPR_KEYWORD_WINDOW code points before the number.
 *
 *    CPR_WEAK    a valid date, nothing else
 *    CPR_MEDIUM  a valid date and modulus 11, or a valid date and a keyword
 *    CPR_STRONG  a valid date, modulus 11 and a keyword
 *
 * What the milter should count: every hit (result.hits, any level). A weak
 * hit is still very likely a CPR number in running text once the context
 * rules above have thrown out numbers that are part of something else; the
 * level and the mod11/keyword counts are for the log and the report.
 * Hits are occurrences: the same number in the text and the HTML
 * alternative of one message counts twice. What still makes weak hits: a
 * bare, unlabelled ten-digit number that happens to be a date (a Unix
 * time such as 1704067200, some order numbers); modulus 11 lets about one
 * in eleven of those through as medium.
 *
 * Privacy: the scanner never stores a number beyond the few digits of the
 * run it is reading (wiped as soon as the run is decided, and by
 * cpr_scanner_finish); the result holds masked numbers only ("010190-****").
 *
 * HTML (cpr_scanner_set_html): markup between '<' and '>' is skipped and
 * counts as one space, so attribute values (ids, links, styles) never hit
 * and "<td>0101901238</td>" does; character entities are left as they are.
 *
 * Text that is not valid UTF-8 is still scanned: a broken byte counts as
 * one neutral character (U+FFFD), so digits in Latin-1 text are found.
 */
#ifndef SIKKERMAIL_CPR_H
#define SIKKERMAIL_CPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPR_SAMPLES 4		/* masked numbers kept in a result */
#define CPR_KEYWORD_WINDOW 40	/* code points between keyword and number */
#define CPR_NEGATIVE_WINDOW 16	/* the same for a negative keyword */
#define CPR_MASKED_LEN 11	/* strlen("010190-****") */

enum cpr_level {
	CPR_NONE = 0,
	CPR_WEAK,		/* valid date only */
	CPR_MEDIUM,		/* valid date + modulus 11, or valid date + keyword */
	CPR_STRONG		/* valid date + modulus 11 + keyword */
};

struct cpr_sample {
	char masked[CPR_MASKED_LEN + 1];	/* "DDMMYY-****" */
	enum cpr_level level;
};

struct cpr_result {
	unsigned hits;		/* every number with a valid date: what the milter counts */
	unsigned hits_mod11;	/* of those, passing modulus 11 */
	unsigned hits_keyword;	/* of those, with a keyword close before */
	unsigned hits_strong;	/* of those, both */
	enum cpr_level level;	/* the highest level seen; CPR_NONE without hits */
	unsigned n_samples;
	struct cpr_sample samples[CPR_SAMPLES];	/* the first hits, masked */
};

/* The scanner's state; the fields but result are private. */
struct cpr_scanner {
	uint32_t cp;		/* UTF-8 sequence being assembled */
	unsigned need;		/* continuation bytes still expected */
	uint32_t prev, prev2;	/* the two code points before this one; 0 at a text start */
	uint64_t cps;		/* code points read in this text */
	uint64_t kw_at;		/* cps where the last keyword ended (none: far before the start) */
	uint64_t neg_at;	/* the same for a negative keyword */
	unsigned kw_state;	/* the keyword automaton's state: which keywords the text may be in */
	uint64_t word_at;	/* cps where the current word started */
	char word_head[4];	/* its first four code points, folded */
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

void cpr_scanner_init(struct cpr_scanner *s);
/* cpr_scanner_set_html - the text that follows, up to cpr_scanner_finish, is HTML. */
void cpr_scanner_set_html(struct cpr_scanner *s, bool html);
/* cpr_scan - feed len bytes of UTF-8 text; any chunking gives the same result. */
void cpr_scan(struct cpr_scanner *s, const char *buf, size_t len);
/*
 * cpr_scanner_finish - the current text ends here: decide a number at
 * its very end, wipe the digits, forget the text's context (and the HTML
 * mode). s->result
 * keeps counting; cpr_scan may go on with the next text.
 */
void cpr_scanner_finish(struct cpr_scanner *s);

/* cpr_scan_string - one short text (a Subject) on its own: *out is set. */
void cpr_scan_string(const char *text, size_t len, struct cpr_result *out);

/* cpr_result_init, cpr_result_add - an empty result; add one into another. */
void cpr_result_init(struct cpr_result *r);
void cpr_result_add(struct cpr_result *into, const struct cpr_result *from);

/*
 * cpr_result_format - "3 (strong; 2 mod11, 1 keyword, 1 strong: 010190-****
 * 020280-****)" for a log line, or "0"; truncated to fit n bytes.
 */
void cpr_result_format(const struct cpr_result *r, char *buf, size_t n);

const char *cpr_level_name(enum cpr_level level);	/* "none", "weak", ... */

/* cpr_mask - "DDMMYY-****" from ten digits; never anything of the last four. */
void cpr_mask(const char *digits10, char out[CPR_MASKED_LEN + 1]);

/*
 * cpr_birth_year - the year of birth ten digits (DDMMYYSSSS, no dash)
 * give under the century rule, or -1 if they are not a real date.
 */
int cpr_birth_year(const char *digits10);
/* cpr_mod11_ok - the ten digits pass the modulus-11 check. */
bool cpr_mod11_ok(const char *digits10);

#endif

/*
 * cpr_reference.c - the CPR scanner as it was before its fast path
 * (per code point, the keyword tail compared with every word): kept here,
 * outside the daemon, as the reference that fuzz_cpr compares
 * src/cpr.c against. Same rules, same results, on any input and any
 * chunking; only slower. cpr_birth_year, cpr_mod11_ok and cpr_mask come
 * from the library, which did not change.
 */
#include <string.h>

#include "cpr_reference.h"

enum run_state {
	RUN_NONE,		/* not in a number token */
	RUN_DIGITS,		/* the last code point was a digit of the token */
	RUN_JOINER		/* a joiner followed a digit: the token goes on if a digit comes */
};

#define REPLACEMENT 0xFFFDu
#define SATURATE 0x7fffffffu
#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

static const char *const keywords[] = { "cpr", "personnr", "personnummer" };
static const char *const negatives[] = {
	"konto", "ordre", "order", "faktura", "invoice", "kundenr", "kundenummer",
	"tlf", "telefon", "phone", "mobil", "fax", "isbn"
};

static void feed(struct cpr_reference *s, uint32_t c);
static void step(struct cpr_reference *s, uint32_t c);
static void run_start(struct cpr_reference *s, uint32_t c, bool after_prefix);
static void run_digit(struct cpr_reference *s, uint32_t c);
static void run_end(struct cpr_reference *s, uint32_t after1, uint32_t after2);
static void record(struct cpr_reference *s, bool mod11);
static bool left_attached(const struct cpr_reference *s);
static bool right_attached(uint32_t after1, uint32_t after2);
static void update_context(struct cpr_reference *s, uint32_t c);
static void keyword_push(struct cpr_reference *s, char folded);
static bool tail_matches(const struct cpr_reference *s, const char *const *words, size_t n);
static void word_push(struct cpr_reference *s, uint32_t c);
static bool is_digit(uint32_t c);
static bool is_dash(uint32_t c);
static bool is_joiner(uint32_t c);
static bool is_letter(uint32_t c);
static bool is_word_delimiter(uint32_t c);
static char fold(uint32_t c);
static void wipe(void *p, size_t n);

void cpr_reference_init(struct cpr_reference *s)
{
	memset(s, 0, sizeof(*s));
	s->since_kw = SATURATE;
	s->since_neg = SATURATE;
	s->run_state = RUN_NONE;
	cpr_result_init(&s->result);
}

void cpr_reference_set_html(struct cpr_reference *s, bool html)
{
	s->html = html;
}

void cpr_reference_scan(struct cpr_reference *s, const char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)buf, *end = p + len;

	for (; p < end; p++) {
		unsigned char b = *p;

		if (s->need > 0) {
			if ((b & 0xC0) == 0x80) {
				s->cp = (s->cp << 6) | (b & 0x3Fu);
				if (--s->need == 0)
					feed(s, s->cp);
				continue;
			}
			/* a sequence cut short: one neutral character, then b afresh */
			s->need = 0;
			feed(s, REPLACEMENT);
		}
		if (b < 0x80) {
			feed(s, b);
		} else if (b >= 0xC2 && b <= 0xDF) {
			s->cp = b & 0x1Fu;
			s->need = 1;
		} else if (b >= 0xE0 && b <= 0xEF) {
			s->cp = b & 0x0Fu;
			s->need = 2;
		} else if (b >= 0xF0 && b <= 0xF4) {
			s->cp = b & 0x07u;
			s->need = 3;
		} else {
			feed(s, REPLACEMENT);
		}
	}
}

void cpr_reference_finish(struct cpr_reference *s)
{
	struct cpr_result keep;

	if (s->need > 0)
		feed(s, REPLACEMENT);
	if (s->run_state == RUN_DIGITS)
		run_end(s, 0, 0);
	else if (s->run_state == RUN_JOINER)
		run_end(s, s->joiner, 0);
	keep = s->result;
	wipe(s, sizeof(*s));
	cpr_reference_init(s);
	s->result = keep;
}

/* feed - one decoded code point; in HTML a whole tag becomes one space. */
static void feed(struct cpr_reference *s, uint32_t c)
{
	if (s->html && s->in_tag) {
		if (c == '>') {
			s->in_tag = false;
			step(s, ' ');
		}
		return;
	}
	if (s->html && c == '<') {
		s->in_tag = true;
		return;
	}
	step(s, c);
}

/* step - one code point through the token state machine, then into the context. */
static void step(struct cpr_reference *s, uint32_t c)
{
	bool after_prefix = s->phone_prefix;

	s->phone_prefix = false;	/* it holds for the one code point after "+45 " */
	if (s->run_state == RUN_DIGITS) {
		if (is_digit(c)) {
			run_digit(s, c);
			goto context;
		}
		if (is_joiner(c)) {
			s->run_state = RUN_JOINER;
			s->joiner = c;
			goto context;
		}
		run_end(s, c, 0);
	} else if (s->run_state == RUN_JOINER) {
		if (is_digit(c)) {
			/* the token goes on; only the dash after the sixth digit belongs to a CPR number */
			if (is_dash(s->joiner) && s->ndigits == 6 && !s->dash_seen)
				s->dash_seen = true;
			else
				s->spoiled = true;
			s->run_state = RUN_DIGITS;
			run_digit(s, c);
			goto context;
		}
		run_end(s, s->joiner, c);
	}
	if (is_digit(c))
		run_start(s, c, after_prefix);
context:
	update_context(s, c);
}

/*
 * run_start - a number token begins; what stands before it is known now.
 * after_prefix: it follows a country code ("+45 "), so it is a phone number.
 */
static void run_start(struct cpr_reference *s, uint32_t c, bool after_prefix)
{
	bool labelled = s->since_neg <= CPR_NEGATIVE_WINDOW && s->since_neg < s->since_kw;

	s->run_state = RUN_DIGITS;
	s->ndigits = 0;
	s->dash_seen = false;
	s->after_plus = s->prev == '+';
	s->spoiled = left_attached(s) || s->word_url || labelled || after_prefix;
	s->keyword = s->since_kw <= CPR_KEYWORD_WINDOW;
	run_digit(s, c);
}

static void run_digit(struct cpr_reference *s, uint32_t c)
{
	if (s->ndigits < sizeof(s->digits))
		s->digits[s->ndigits] = (char)c;
	else
		s->spoiled = true;
	if (s->ndigits < SATURATE)
		s->ndigits++;
}

/*
 * run_end - the token ended: after1 is the code point right after its
 * last digit (0 at the end of the text), after2 the one after that when
 * after1 is a joiner. Decide, record, wipe.
 */
static void run_end(struct cpr_reference *s, uint32_t after1, uint32_t after2)
{
	if (!s->spoiled && s->ndigits == 10 && !right_attached(after1, after2) &&
	    cpr_birth_year(s->digits) > 0)
		record(s, cpr_mod11_ok(s->digits));
	s->phone_prefix = s->after_plus && s->ndigits <= 4 && (after1 == ' ' || after1 == 0xA0);
	wipe(s->digits, sizeof(s->digits));
	s->ndigits = 0;
	s->run_state = RUN_NONE;
}

static void record(struct cpr_reference *s, bool mod11)
{
	struct cpr_result *r = &s->result;
	enum cpr_level level;

	if (mod11 && s->keyword)
		level = CPR_STRONG;
	else if (mod11 || s->keyword)
		level = CPR_MEDIUM;
	else
		level = CPR_WEAK;
	r->hits++;
	r->hits_mod11 += mod11;
	r->hits_keyword += s->keyword;
	r->hits_strong += level == CPR_STRONG;
	if (level > r->level)
		r->level = level;
	if (r->n_samples < CPR_SAMPLES) {
		cpr_mask(s->digits, r->samples[r->n_samples].masked);
		r->samples[r->n_samples].level = level;
		r->n_samples++;
	}
}

/*
 * left_attached - what stands right before a new token makes it part of
 * something else: a word, an address, a path, a phone or order number, a
 * query string, or a code such as "INV-" (but "CPR-" is the keyword).
 */
static bool left_attached(const struct cpr_reference *s)
{
	uint32_t c = s->prev;

	if (is_letter(c) || (c > 0 && c < 0x80 && strchr("_@/\\%+#?&", (int)c) != NULL))
		return true;
	if (c == '=' && s->word_amp)
		return true;	/* a query string: "a=1&b=..." */
	/* a letter, then a dash: a code, unless the keyword ended in this word */
	return is_dash(c) && is_letter(s->prev2) && s->since_kw >= s->word_len;
}

/* right_attached - the same after the token; a joiner there is not followed by a digit. */
static bool right_attached(uint32_t after1, uint32_t after2)
{
	if (is_letter(after1) || (after1 > 0 && after1 < 0x80 && strchr("_@/\\%", (int)after1) != NULL))
		return true;
	return is_dash(after1) && is_letter(after2);
}

/* update_context - what the next token start needs to know about c. */
static void update_context(struct cpr_reference *s, uint32_t c)
{
	word_push(s, c);
	keyword_push(s, fold(c));
	s->prev2 = s->prev;
	s->prev = c;
}

static void keyword_push(struct cpr_reference *s, char folded)
{
	size_t n = sizeof(s->kw_tail);

	memmove(s->kw_tail, s->kw_tail + 1, n - 1);
	s->kw_tail[n - 1] = folded;
	if (s->since_kw < SATURATE)
		s->since_kw++;
	if (s->since_neg < SATURATE)
		s->since_neg++;
	if (folded < 'a' || folded > 'z')
		return;		/* every keyword ends in a letter */
	if (tail_matches(s, keywords, N_ELEMENTS(keywords)))
		s->since_kw = 0;
	if (tail_matches(s, negatives, N_ELEMENTS(negatives)))
		s->since_neg = 0;
}

/* tail_matches - the text read so far ends with one of the words. */
static bool tail_matches(const struct cpr_reference *s, const char *const *words, size_t n)
{
	size_t i, tail = sizeof(s->kw_tail);

	for (i = 0; i < n; i++) {
		size_t k = strlen(words[i]);

		if (memcmp(s->kw_tail + tail - k, words[i], k) == 0)
			return true;
	}
	return false;
}

/* word_push - track the current white-space word, to know whether it is a URL. */
static void word_push(struct cpr_reference *s, uint32_t c)
{
	if (is_word_delimiter(c)) {
		s->word_len = 0;
		s->word_url = false;
		s->word_amp = false;
		return;
	}
	if (s->word_len < sizeof(s->word_head))
		s->word_head[s->word_len] = fold(c);
	if (s->word_len < SATURATE)
		s->word_len++;
	if (s->word_len == sizeof(s->word_head) && memcmp(s->word_head, "www.", 4) == 0)
		s->word_url = true;
	if (c == '?' || (c == '/' && s->prev == '/' && s->prev2 == ':'))
		s->word_url = true;
	if (c == '&')
		s->word_amp = true;
}

static bool is_digit(uint32_t c)
{
	return c >= '0' && c <= '9';
}

/* is_dash - ASCII '-' and the hyphens and dashes a word processor puts in its place. */
static bool is_dash(uint32_t c)
{
	return c == '-' || (c >= 0x2010 && c <= 0x2013) || c == 0x2212;
}

static bool is_joiner(uint32_t c)
{
	return is_dash(c) || c == '.' || c == ':' || c == '/';
}

/* is_letter - ASCII, Latin-1, Latin Extended, Greek and Cyrillic letters. */
static bool is_letter(uint32_t c)
{
	if (c < 0x80)
		return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
	if (c >= 0xC0 && c <= 0x24F)
		return c != 0xD7 && c != 0xF7;
	return (c >= 0x370 && c <= 0x52F) || (c >= 0x1E00 && c <= 0x1EFF);
}

static bool is_word_delimiter(uint32_t c)
{
	if (c <= ' ' || c == 0x7F || c == 0xA0 || (c >= 0x2000 && c <= 0x200B) || c == 0x3000)
		return true;
	return c < 0x80 && strchr("<>\"'()[]{}", (int)c) != NULL;
}

/*
 * fold - lower-case ASCII; anything else becomes a byte no keyword
 * contains. Digits too: the keyword tail must not keep a copy of a number.
 */
static char fold(uint32_t c)
{
	if (c >= 'A' && c <= 'Z')
		return (char)(c | 0x20);
	return c > 0 && c < 0x80 && !is_digit(c) ? (char)c : '\x01';
}

/* wipe - clear memory in a way the compiler cannot drop as a dead store. */
static void wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n-- > 0)
		*v++ = 0;
}

/*
 * cpr.c - the streaming CPR-number scanner (pure: no I/O, no logging).
 *
 * Exports what cpr.h declares but the results and the number checks
 * (cpr_result.c). The bytes are decoded as UTF-8 one at a
 * time (a sequence may straddle two chunks); in HTML a tag is folded into
 * one space; each code point then goes through one step: the number-token
 * state machine first, then the context that the next token will need (the
 * two code points before it, the distance from the last keyword and the
 * last negative keyword, whether the current word is a URL).
 *
 * A token is a maximal run of digits, where a joiner ('-', the Unicode
 * hyphens, '.', ':', '/') between two digits keeps it together. Only a
 * token of exactly ten digits, with at most the one dash after the sixth,
 * is a candidate; whether it stands on its own is known from the code
 * point before it (at its start) and the one or two after it (at its
 * end), so nothing needs to look further back or ahead than the state
 * carries, and the chunking of the input cannot change the outcome.
 *
 * Speed: most of a message is text outside any number token, and there
 * a character can only move the context. scan_plain does what step()
 * would do for such characters (ASCII, and the two-byte Latin-1 letters
 * of Danish) with little more than two table lookups each: a table gives
 * each byte's class, and the keywords are matched by an automaton (one
 * lookup per character, instead of comparing the tail of the text with
 * every keyword). Distances are kept as positions, so a character need
 * not count anything; what only the last few characters and the current
 * word's start tell (the two code points before, the word's first four,
 * '?', "://", '&') is worked out once, at the end of the stretch, from
 * its bytes. Likewise scan_digits reads the digits of a number token and
 * the joiners between them. Inside an HTML tag nothing is read but the
 * '>' that ends it. Where a token starts or ends, other non-ASCII text
 * and '<' take the general path, one code point at a time. The tables
 * are built once per process, from the same predicates and word lists
 * the general path uses.
 */
#include <pthread.h>
#include <string.h>

#include "cpr.h"

enum run_state {
	RUN_NONE,		/* not in a number token */
	RUN_DIGITS,		/* the last code point was a digit of the token */
	RUN_JOINER		/* a joiner followed a digit: the token goes on if a digit comes */
};

#define REPLACEMENT 0xFFFDu
#define SATURATE 0x7fffffffu
#define NEVER ((uint64_t)0 - SATURATE)	/* a keyword position: none yet, as if long ago */
#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

static const char *const keywords[] = { "cpr", "personnr", "personnummer" };
static const char *const negatives[] = {
	"konto", "ordre", "order", "faktura", "invoice", "kundenr", "kundenummer",
	"tlf", "telefon", "phone", "mobil", "fax", "isbn"
};

/*
 * Classes of the bytes (byte_class; an ASCII byte is that character) and
 * of the code points (cp_class).
 */
enum {
	CL_CODE = 0x1F,		/* an ASCII letter's code, 1..26 whatever its case; else 0 */
	CL_DIGIT = 1 << 5,	/* is_digit */
	CL_LETTER = 1 << 6,	/* is_letter */
	CL_DELIM = 1 << 7,	/* is_word_delimiter */
	CL_MARK = 1 << 8,	/* '?', '/', '&': word_push looks closer */
	CL_LEFT = 1 << 9,	/* attaches a number after it (left_attached) */
	CL_RIGHT = 1 << 10,	/* attaches a number before it (right_attached) */
	CL_TAG = 1 << 11,	/* '<': in HTML, a tag starts */
	CL_UTF8 = 1 << 12,	/* not ASCII: part of a UTF-8 sequence, or broken */
	CL_JOINER = 1 << 13,	/* is_joiner */
	CL_DASH = 1 << 14	/* is_dash */
};

#define letter_code(c) ((unsigned)(c) & CL_CODE)

/*
 * A move of the keyword automaton: the next state, times KW_CODES so that
 * the move after it is kw_move[(move & KW_STATE) | code], and what the
 * text now ends with. Every keyword letter is one state at most, plus the
 * start state 0.
 */
#define KW_STATES 128
#define KW_CODES 32		/* code 0 (not a letter) always leads back to state 0 */
#define KW_STATE 0x0FE0u	/* (KW_STATES - 1) * KW_CODES */
#define KW_POSITIVE 0x1000u	/* a keyword */
#define KW_NEGATIVE 0x2000u	/* a negative keyword */

static uint16_t byte_class[256];
static uint16_t kw_move[KW_STATES * KW_CODES];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void tables_build(void);
static unsigned kw_add(const char *const *words, size_t n, uint16_t flag, unsigned states,
		       uint16_t *out);
static void kw_complete(uint16_t *out);
static void plain_end(struct cpr_scanner *s, const unsigned char *start, const unsigned char *end,
		      uint64_t extra);
static void word_rescan(struct cpr_scanner *s, const unsigned char *p, const unsigned char *end,
			uint64_t idx, uint32_t prev, uint32_t prev2);
static const unsigned char *scan_digits(struct cpr_scanner *s, const unsigned char *p,
					const unsigned char *end);
static uint32_t last_cp(const unsigned char **end);
static void decode(struct cpr_scanner *s, unsigned char b);
static const unsigned char *skip_tag(struct cpr_scanner *s, const unsigned char *p,
				     const unsigned char *end);
static const unsigned char *scan_plain(struct cpr_scanner *s, const unsigned char *p,
				       const unsigned char *end);
static void feed(struct cpr_scanner *s, uint32_t c);
static void step(struct cpr_scanner *s, uint32_t c);
static void run_start(struct cpr_scanner *s, uint32_t c, bool after_prefix);
static void run_digit(struct cpr_scanner *s, uint32_t c);
static void run_end(struct cpr_scanner *s, uint32_t after1, unsigned cl1, unsigned cl2);
static void record(struct cpr_scanner *s, bool mod11);
static unsigned since(const struct cpr_scanner *s, uint64_t at);
static bool left_attached(const struct cpr_scanner *s);
static bool right_attached(unsigned cl1, unsigned cl2);
static void update_context(struct cpr_scanner *s, uint32_t c, unsigned cl);
static void keyword_push(struct cpr_scanner *s, unsigned cl);
static void word_push(struct cpr_scanner *s, uint32_t c, unsigned cl);
static unsigned cp_class(uint32_t c);
static void word_mark(struct cpr_scanner *s, uint32_t c, uint32_t prev, uint32_t prev2);
static bool is_digit(uint32_t c);
static bool is_dash(uint32_t c);
static bool is_joiner(uint32_t c);
static bool is_letter(uint32_t c);
static bool is_word_delimiter(uint32_t c);
static char fold(uint32_t c);
static void wipe(void *p, size_t n);

/* tables_build - the ASCII classes and the keyword automaton, once per process. */
static void tables_build(void)
{
	uint16_t out[KW_STATES] = { 0 };
	unsigned states;

	for (uint32_t c = 0; c < 128; c++) {
		uint16_t cl = 0;

		cl |= is_digit(c) ? CL_DIGIT : 0;
		cl |= is_letter(c) ? CL_LETTER | letter_code(c) : 0;
		cl |= c <= ' ' || c == 0x7F || strchr("<>\"'()[]{}", (int)c) != NULL ? CL_DELIM : 0;
		cl |= c == '?' || c == '/' || c == '&' ? CL_MARK : 0;
		cl |= c > 0 && strchr("_@/\\%+#?&", (int)c) != NULL ? CL_LEFT : 0;
		cl |= c > 0 && strchr("_@/\\%", (int)c) != NULL ? CL_RIGHT : 0;
		cl |= c == '<' ? CL_TAG : 0;
		cl |= is_joiner(c) ? CL_JOINER : 0;
		cl |= is_dash(c) ? CL_DASH : 0;
		byte_class[c] = cl;
	}
	for (uint32_t b = 128; b < 256; b++)
		byte_class[b] = CL_UTF8;

	states = kw_add(keywords, N_ELEMENTS(keywords), KW_POSITIVE, 1, out);
	kw_add(negatives, N_ELEMENTS(negatives), KW_NEGATIVE, states, out);
	kw_complete(out);
}

/*
 * kw_add - the words into the automaton's trie (lower-case ASCII letters
 * only; the letter code is c & 0x1F, which folds the case); returns the
 * number of states used. A state is kept as its number times KW_CODES.
 */
static unsigned kw_add(const char *const *words, size_t n, uint16_t flag, unsigned states,
		       uint16_t *out)
{
	for (size_t i = 0; i < n; i++) {
		unsigned st = 0;

		for (const char *w = words[i]; *w != '\0'; w++) {
			unsigned code = letter_code(*w);

			if (kw_move[st | code] == 0)
				kw_move[st | code] = (uint16_t)(states++ * KW_CODES);
			st = kw_move[st | code];
		}
		out[st / KW_CODES] |= flag;
	}
	return states;
}

/*
 * kw_complete - turn the trie into an automaton (Aho-Corasick): after a
 * letter, the state is the longest tail of the letters read that starts a
 * word, and the move into it says which kinds of word the text now ends
 * with (out: what each state's own word is). A character that is not an
 * ASCII letter (code 0) takes it back to state 0.
 */
static void kw_complete(uint16_t *out)
{
	unsigned fail[KW_STATES] = { 0 }, queue[KW_STATES];
	unsigned head = 0, tail = 0;

	for (unsigned code = 1; code < KW_CODES; code++)
		if (kw_move[code] != 0)
			queue[tail++] = kw_move[code];
	while (head < tail) {
		unsigned u = queue[head++], f = fail[u / KW_CODES];

		out[u / KW_CODES] |= out[f / KW_CODES];
		for (unsigned code = 1; code < KW_CODES; code++) {
			unsigned v = kw_move[u | code];

			if (v != 0) {
				fail[v / KW_CODES] = kw_move[f | code];
				queue[tail++] = v;
			} else {
				kw_move[u | code] = kw_move[f | code];
			}
		}
	}
	for (unsigned i = 0; i < KW_STATES * KW_CODES; i++)
		if (i % KW_CODES != 0)
			kw_move[i] |= out[kw_move[i] / KW_CODES];
}

void cpr_scanner_init(struct cpr_scanner *s)
{
	pthread_once(&tables_once, tables_build);
	memset(s, 0, sizeof(*s));
	s->kw_at = NEVER;
	s->neg_at = NEVER;
	s->run_state = RUN_NONE;
	cpr_result_init(&s->result);
}

void cpr_scanner_set_html(struct cpr_scanner *s, bool html)
{
	s->html = html;
}

void cpr_scan(struct cpr_scanner *s, const char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)buf, *end = p + len;

	while (p < end) {
		if (s->html && s->in_tag) {
			p = skip_tag(s, p, end);
			if (p == end)
				break;
		} else {
			p = s->run_state == RUN_DIGITS ? scan_digits(s, p, end) : scan_plain(s, p, end);
			if (p == end)
				break;
			if (*p < 0x80 && s->need == 0 && !(s->html && *p == '<')) {
				step(s, *p++);	/* what decode() and feed() come to */
				continue;
			}
		}
		decode(s, *p++);
	}
}

/* decode - one byte of UTF-8: a code point is fed when it is complete. */
static void decode(struct cpr_scanner *s, unsigned char b)
{
	if (s->need > 0) {
		if ((b & 0xC0) == 0x80) {
			s->cp = (s->cp << 6) | (b & 0x3Fu);
			if (--s->need == 0)
				feed(s, s->cp);
			return;
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

/*
 * skip_tag - inside an HTML tag every code point is dropped but '>': pass
 * over the ASCII bytes before it. A byte of a UTF-8 sequence goes through
 * the decoder (an overlong sequence can spell '>'), as does any byte
 * while a sequence is pending.
 */
static const unsigned char *skip_tag(struct cpr_scanner *s, const unsigned char *p,
				     const unsigned char *end)
{
	if (s->need > 0)
		return p;
	while (p < end && *p < 0x80 && *p != '>')
		p++;
	return p;
}

/*
 * scan_plain - the characters from p that are ASCII (not digits, not the
 * '<' of an HTML tag) or two-byte Latin-1 (U+00C0..U+00FF: æ, ø, å and
 * their kin), read outside a number token with no UTF-8 sequence pending:
 * for each, what step() would do. Returns where it stopped (p itself
 * when the state or the byte needs the general path).
 */
static const unsigned char *scan_plain(struct cpr_scanner *s, const unsigned char *p,
				       const unsigned char *end)
{
	const unsigned char *start = p;
	unsigned stop = CL_DIGIT | CL_UTF8 | (s->html ? CL_TAG : 0), kw = s->kw_state;
	uint64_t extra = 0;	/* bytes that were not a code point of their own */

	if (s->need > 0 || s->run_state != RUN_NONE)
		return p;
	while (p < end) {
		unsigned cl = byte_class[*p];

		if (cl & stop) {
			if (*p != 0xC3 || end - p < 2 || (p[1] & 0xC0) != 0x80)
				break;
			p += 2;		/* U+00C0..U+00FF: no class, no keyword letter */
			extra++;
			kw = 0;
			continue;
		}
		p++;
		kw = kw_move[(kw & KW_STATE) | (cl & CL_CODE)];
		if (kw & (KW_POSITIVE | KW_NEGATIVE)) {
			uint64_t at = s->cps + (uint64_t)(p - start) - extra;

			if (kw & KW_POSITIVE)
				s->kw_at = at;
			if (kw & KW_NEGATIVE)
				s->neg_at = at;
		}
	}
	if (p > start) {
		s->kw_state = kw & KW_STATE;
		plain_end(s, start, p, extra);
	}
	return p;
}

/*
 * plain_end - the rest of what step() would have done for the stretch
 * start..end that scan_plain read (extra: its bytes that were not a code
 * point of their own): the code points counted, the two last ones, and
 * the current word's start, head and marks.
 */
static void plain_end(struct cpr_scanner *s, const unsigned char *start, const unsigned char *end,
		      uint64_t extra)
{
	const unsigned char *q = end, *word;
	uint64_t base = s->cps;
	uint32_t prev = s->prev, prev2 = s->prev2;

	s->cps += (uint64_t)(end - start) - extra;
	s->phone_prefix = false;
	s->prev = last_cp(&q);
	s->prev2 = q > start ? last_cp(&q) : prev;
	for (word = end; word > start && !(byte_class[word[-1]] & CL_DELIM); word--)
		continue;
	if (word > start) {
		/* a new word started here: nothing of the old one carries over */
		uint64_t n = (uint64_t)(end - word);

		for (q = word; q < end; q++)
			n -= (*q & 0xC0) == 0x80;
		s->word_at = s->cps - n;
		s->word_url = false;
		s->word_amp = false;
		word_rescan(s, word, end, 0, 0, 0);
	} else {
		word_rescan(s, start, end, base - s->word_at, prev, prev2);
	}
}

/*
 * last_cp - the code point that ends at *end, as scan_plain read it
 * (ASCII, or a two-byte sequence); *end moves back over it.
 */
static uint32_t last_cp(const unsigned char **end)
{
	const unsigned char *e = *end;

	if (e[-1] < 0x80) {
		*end = e - 1;
		return e[-1];
	}
	*end = e - 2;
	return 0xC0u | (e[-1] & 0x3Fu);
}

/*
 * word_rescan - what word_push would have made of the current word's
 * characters p..end that scan_plain read (no delimiter among them): idx
 * is the first one's place in the word, prev and prev2 the two code
 * points before it (0 at a word start, where they cannot complete "://").
 */
static void word_rescan(struct cpr_scanner *s, const unsigned char *p, const unsigned char *end,
			uint64_t idx, uint32_t prev, uint32_t prev2)
{
	for (; p < end; idx++) {
		uint32_t c;

		if (*p < 0x80) {
			c = *p++;
		} else {
			c = 0xC0u | (p[1] & 0x3Fu);	/* the two-byte sequences scan_plain takes */
			p += 2;
		}
		if (idx < sizeof(s->word_head)) {
			s->word_head[idx] = fold(c);
			if (idx + 1 == sizeof(s->word_head) && memcmp(s->word_head, "www.", 4) == 0)
				s->word_url = true;
		}
		if (c < 0x80 && (byte_class[c] & CL_MARK))
			word_mark(s, c, prev, prev2);
		prev2 = prev;
		prev = c;
	}
}

/*
 * scan_digits - inside a number token, with no UTF-8 sequence pending:
 * the ASCII digits from p, and each ASCII joiner that a digit follows,
 * as step() would read them. None of them is a word delimiter, a
 * keyword letter, or a mark (a '/' here comes after a digit, never
 * after "/"). Returns where it stopped: the token's end, or a byte the
 * general path must see.
 */
static const unsigned char *scan_digits(struct cpr_scanner *s, const unsigned char *p,
					const unsigned char *end)
{
	const unsigned char *start = p;
	unsigned n = s->ndigits;
	bool spoiled = s->spoiled;
	uint64_t idx;

	if (s->need > 0)
		return p;
	while (p < end) {
		if (!(byte_class[*p] & CL_DIGIT)) {
			if (!(byte_class[*p] & CL_JOINER) || end - p < 2 ||
			    !(byte_class[p[1]] & CL_DIGIT))
				break;
			/* a joiner between two digits; only the dash after the sixth belongs to a CPR number */
			if (*p == '-' && n == 6 && !s->dash_seen)
				s->dash_seen = true;
			else
				spoiled = true;
			s->joiner = *p++;
		}
		/* run_digit */
		if (n < sizeof(s->digits))
			s->digits[n] = (char)*p;
		else
			spoiled = true;
		n += n < SATURATE;
		p++;
	}
	if (p == start)
		return p;
	s->ndigits = n;
	s->spoiled = spoiled;
	idx = s->cps - s->word_at;
	for (const unsigned char *q = start; q < p && idx < sizeof(s->word_head); q++, idx++)
		s->word_head[idx] = byte_class[*q] & CL_DIGIT ? '\x01' : (char)*q;	/* fold */
	s->cps += (uint64_t)(p - start);
	s->phone_prefix = false;
	s->kw_state = 0;
	s->prev2 = p - start >= 2 ? p[-2] : s->prev;
	s->prev = p[-1];
	return p;
}

void cpr_scanner_finish(struct cpr_scanner *s)
{
	struct cpr_result keep;

	if (s->need > 0)
		feed(s, REPLACEMENT);
	if (s->run_state == RUN_DIGITS)
		run_end(s, 0, 0, 0);
	else if (s->run_state == RUN_JOINER)
		run_end(s, s->joiner, cp_class(s->joiner), 0);
	keep = s->result;
	wipe(s, sizeof(*s));
	cpr_scanner_init(s);
	s->result = keep;
}

void cpr_scan_string(const char *text, size_t len, struct cpr_result *out)
{
	struct cpr_scanner s;

	cpr_scanner_init(&s);
	cpr_scan(&s, text, len);
	cpr_scanner_finish(&s);
	*out = s.result;
}

/* feed - one decoded code point; in HTML a whole tag becomes one space. */
static void feed(struct cpr_scanner *s, uint32_t c)
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
static void step(struct cpr_scanner *s, uint32_t c)
{
	unsigned cl = cp_class(c);
	bool after_prefix = s->phone_prefix;

	s->phone_prefix = false;	/* it holds for the one code point after "+45 " */
	if (s->run_state == RUN_DIGITS) {
		if (cl & CL_DIGIT) {
			run_digit(s, c);
			goto context;
		}
		if (cl & CL_JOINER) {
			s->run_state = RUN_JOINER;
			s->joiner = c;
			goto context;
		}
		run_end(s, c, cl, 0);
	} else if (s->run_state == RUN_JOINER) {
		if (cl & CL_DIGIT) {
			/* the token goes on; only the dash after the sixth digit belongs to a CPR number */
			if (is_dash(s->joiner) && s->ndigits == 6 && !s->dash_seen)
				s->dash_seen = true;
			else
				s->spoiled = true;
			s->run_state = RUN_DIGITS;
			run_digit(s, c);
			goto context;
		}
		run_end(s, s->joiner, cp_class(s->joiner), cl);
	}
	if (cl & CL_DIGIT)
		run_start(s, c, after_prefix);
context:
	update_context(s, c, cl);
}

/*
 * run_start - a number token begins; what stands before it is known now.
 * after_prefix: it follows a country code ("+45 "), so it is a phone number.
 */
static void run_start(struct cpr_scanner *s, uint32_t c, bool after_prefix)
{
	unsigned since_kw = since(s, s->kw_at), since_neg = since(s, s->neg_at);
	bool labelled = since_neg <= CPR_NEGATIVE_WINDOW && since_neg < since_kw;

	s->run_state = RUN_DIGITS;
	s->ndigits = 0;
	s->dash_seen = false;
	s->after_plus = s->prev == '+';
	s->spoiled = left_attached(s) || s->word_url || labelled || after_prefix;
	s->keyword = since_kw <= CPR_KEYWORD_WINDOW;
	run_digit(s, c);
}

static void run_digit(struct cpr_scanner *s, uint32_t c)
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
 * last digit (0 at the end of the text), cl1 its class, cl2 the class of
 * the one after that when after1 is a joiner. Decide, record, wipe.
 */
static void run_end(struct cpr_scanner *s, uint32_t after1, unsigned cl1, unsigned cl2)
{
	if (!s->spoiled && s->ndigits == 10 && !right_attached(cl1, cl2) &&
	    cpr_birth_year(s->digits) > 0)
		record(s, cpr_mod11_ok(s->digits));
	s->phone_prefix = s->after_plus && s->ndigits <= 4 && (after1 == ' ' || after1 == 0xA0);
	/* only the first ndigits were written since the last wipe */
	wipe(s->digits, s->ndigits < sizeof(s->digits) ? s->ndigits : sizeof(s->digits));
	s->ndigits = 0;
	s->run_state = RUN_NONE;
}

static void record(struct cpr_scanner *s, bool mod11)
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

/* since - code points read after position at (a keyword's end, a word's start), saturating. */
static unsigned since(const struct cpr_scanner *s, uint64_t at)
{
	uint64_t n = s->cps - at;	/* from NEVER: SATURATE at least */

	return n < SATURATE ? (unsigned)n : SATURATE;
}

/*
 * left_attached - what stands right before a new token makes it part of
 * something else: a word, an address, a path, a phone or order number, a
 * query string, or a code such as "INV-" (but "CPR-" is the keyword).
 */
static bool left_attached(const struct cpr_scanner *s)
{
	uint32_t c = s->prev;
	unsigned cl = cp_class(c);

	if (cl & (CL_LETTER | CL_LEFT))
		return true;
	if (c == '=' && s->word_amp)
		return true;	/* a query string: "a=1&b=..." */
	/* a letter, then a dash: a code, unless the keyword ended in this word */
	return (cl & CL_DASH) && (cp_class(s->prev2) & CL_LETTER) &&
	       since(s, s->kw_at) >= since(s, s->word_at);
}

/*
 * right_attached - the same after the token, from the classes of the code
 * point after it and, when that is a joiner, the next (no digit).
 */
static bool right_attached(unsigned cl1, unsigned cl2)
{
	if (cl1 & (CL_LETTER | CL_RIGHT))
		return true;
	return (cl1 & CL_DASH) && (cl2 & CL_LETTER);
}

/* update_context - what the next token start needs to know about c (of class cl). */
static void update_context(struct cpr_scanner *s, uint32_t c, unsigned cl)
{
	s->cps++;
	word_push(s, c, cl);
	keyword_push(s, cl);
	s->prev2 = s->prev;
	s->prev = c;
}

/* keyword_push - into the keyword automaton; every keyword is ASCII letters (cl's code). */
static void keyword_push(struct cpr_scanner *s, unsigned cl)
{
	unsigned kw = kw_move[s->kw_state | (cl & CL_CODE)];

	s->kw_state = kw & KW_STATE;
	if (kw & KW_POSITIVE)
		s->kw_at = s->cps;
	if (kw & KW_NEGATIVE)
		s->neg_at = s->cps;
}

/* word_push - track the current white-space word, to know whether it is a URL. */
static void word_push(struct cpr_scanner *s, uint32_t c, unsigned cl)
{
	uint64_t len;

	if (cl & CL_DELIM) {
		s->word_at = s->cps;
		s->word_url = false;
		s->word_amp = false;
		return;
	}
	len = s->cps - 1 - s->word_at;	/* before c */
	if (len < sizeof(s->word_head)) {
		s->word_head[len] = fold(c);
		if (len + 1 == sizeof(s->word_head) && memcmp(s->word_head, "www.", 4) == 0)
			s->word_url = true;
	}
	if (cl & CL_MARK)
		word_mark(s, c, s->prev, s->prev2);
}

/* word_mark - '?' or "://" makes the word a URL; '&' a query string. */
static void word_mark(struct cpr_scanner *s, uint32_t c, uint32_t prev, uint32_t prev2)
{
	if (c == '?' || (c == '/' && prev == '/' && prev2 == ':'))
		s->word_url = true;
	if (c == '&')
		s->word_amp = true;
}

/*
 * cp_class - the class of a code point: the table's for ASCII; a letter,
 * a dash (and so a joiner) or a word delimiter beyond (no digits, marks or
 * keyword letters there).
 */
static unsigned cp_class(uint32_t c)
{
	unsigned cl = 0;

	if (c < 0x80)
		return byte_class[c];
	cl |= is_letter(c) ? CL_LETTER : 0;
	cl |= is_dash(c) ? CL_DASH | CL_JOINER : 0;
	cl |= is_word_delimiter(c) ? CL_DELIM : 0;
	return cl;
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

/* is_word_delimiter - beyond ASCII: the spaces (tables_build has ASCII's) */
static bool is_word_delimiter(uint32_t c)
{
	return c == 0xA0 || (c >= 0x2000 && c <= 0x200B) || c == 0x3000;
}

/*
 * fold - lower-case ASCII; anything else becomes a byte no keyword
 * contains. Digits too: the word's head must not keep a copy of a number.
 */
static char fold(uint32_t c)
{
	if (c >= 'A' && c <= 'Z')
		return (char)(c | 0x20);
	return c > 0 && c < 0x80 && !is_digit(c) ? (char)c : '\x01';
}

/*
 * wipe - clear memory in a way the compiler cannot drop as a dead store:
 * the empty asm tells it the cleared bytes are read.
 */
static void wipe(void *p, size_t n)
{
	memset(p, 0, n);
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

/*
 * cpr_result.c - what the CPR scanner (cpr.c) finds: the number checks it
 * applies to a candidate, and the results it hands out (pure: no I/O, no
 * logging).
 *
 * Exports cpr_result_init, cpr_result_add, cpr_result_format,
 * cpr_level_name, cpr_mask, cpr_birth_year and cpr_mod11_ok (cpr.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cpr.h"

static bool leap(int year);
static void appendf(char *buf, size_t n, size_t *used, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

void cpr_result_init(struct cpr_result *r)
{
	memset(r, 0, sizeof(*r));
}

void cpr_mask(const char *digits10, char out[CPR_MASKED_LEN + 1])
{
	int i;

	for (i = 0; i < 6; i++)
		out[i] = digits10[i] >= '0' && digits10[i] <= '9' ? digits10[i] : '*';
	memcpy(out + 6, "-****", 6);
}

static bool leap(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int cpr_birth_year(const char *d)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int i, day, month, yy, seventh, year;

	for (i = 0; i < 10; i++)
		if (d[i] < '0' || d[i] > '9')
			return -1;
	day = (d[0] - '0') * 10 + (d[1] - '0');
	month = (d[2] - '0') * 10 + (d[3] - '0');
	yy = (d[4] - '0') * 10 + (d[5] - '0');
	seventh = d[6] - '0';
	if (seventh <= 3)
		year = 1900 + yy;
	else if (seventh == 4 || seventh == 9)
		year = yy <= 36 ? 2000 + yy : 1900 + yy;
	else
		year = yy <= 57 ? 2000 + yy : 1800 + yy;
	if (month < 1 || month > 12 || day < 1)
		return -1;
	if (day > mdays[month - 1] + (month == 2 && leap(year)))
		return -1;
	return year;
}

bool cpr_mod11_ok(const char *d)
{
	static const int weight[10] = { 4, 3, 2, 7, 6, 5, 4, 3, 2, 1 };
	int i, sum = 0;

	for (i = 0; i < 10; i++) {
		if (d[i] < '0' || d[i] > '9')
			return false;
		sum += (d[i] - '0') * weight[i];
	}
	return sum % 11 == 0;
}

const char *cpr_level_name(enum cpr_level level)
{
	switch (level) {
	case CPR_WEAK:
		return "weak";
	case CPR_MEDIUM:
		return "medium";
	case CPR_STRONG:
		return "strong";
	case CPR_NONE:
		break;
	}
	return "none";
}

void cpr_result_add(struct cpr_result *into, const struct cpr_result *from)
{
	unsigned i;

	into->hits += from->hits;
	into->hits_mod11 += from->hits_mod11;
	into->hits_keyword += from->hits_keyword;
	into->hits_strong += from->hits_strong;
	if (from->level > into->level)
		into->level = from->level;
	for (i = 0; i < from->n_samples && into->n_samples < CPR_SAMPLES; i++)
		into->samples[into->n_samples++] = from->samples[i];
}

void cpr_result_format(const struct cpr_result *r, char *buf, size_t n)
{
	size_t used = 0;
	unsigned i;

	if (n == 0)
		return;
	buf[0] = '\0';
	appendf(buf, n, &used, "%u", r->hits);
	if (r->hits == 0)
		return;
	appendf(buf, n, &used, " (%s; %u mod11, %u keyword, %u strong:", cpr_level_name(r->level),
		r->hits_mod11, r->hits_keyword, r->hits_strong);
	for (i = 0; i < r->n_samples; i++)
		appendf(buf, n, &used, " %s", r->samples[i].masked);
	appendf(buf, n, &used, "%s)", r->hits > r->n_samples ? " ..." : "");
}

/* appendf - snprintf at *used, truncating at the end of the buffer. */
static void appendf(char *buf, size_t n, size_t *used, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (*used + 1 >= n)
		return;
	va_start(ap, fmt);
	k = vsnprintf(buf + *used, n - *used, fmt, ap);
	va_end(ap);
	if (k < 0)
		return;
	*used = (size_t)k < n - *used ? *used + (size_t)k : n - 1;
}

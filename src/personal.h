/*
 * personal.h - is the message personal? (pure)
 *
 * Collects every copy of PersonalHeader seen from a trusted submitter and
 * turns them into a flag: yes/true/1/ja mean personal, no/false/0/nej mean
 * not personal (case-insensitive, surrounding and folding white space
 * ignored); any other value, or copies that disagree, mean personal (fail
 * safe) with the reason recorded.
 */
#ifndef SIKKERMAIL_PERSONAL_H
#define SIKKERMAIL_PERSONAL_H

#include <stdbool.h>

#include "sikkermail.h"

struct personal_flag {
	int n_yes;
	int n_no;
	int n_other;
	char first_other[33];	/* first unrecognised value, truncated, printable ASCII only */
};

enum flag_value {
	FLAG_YES,
	FLAG_NO,
	FLAG_OTHER
};

/* flag_value_parse - classify one header value (may contain folding). */
enum flag_value flag_value_parse(const char *value);

void personal_flag_init(struct personal_flag *f);
void personal_flag_add(struct personal_flag *f, const char *value);

/*
 * personal_flag_result - true if the copies seen make the message
 * personal; *why gets a new string explaining it ("header yes",
 * "header unrecognised value \"maybe\"", "headers disagree (2 yes, 1 no)",
 * "no header"); free it.
 */
bool personal_flag_result(const struct personal_flag *f, const char *header_name, char **why);

/* header_name_eq - RFC 5322 field names compare case-insensitively. */
bool header_name_eq(const char *a, const char *b);

#endif

/*
 * ctl_mta.h - what the files of sikkermail-ctl check-mta share: the state
 * of one run (struct check) and the listing of Postfix lookup tables.
 * Included only by ctl_mta*.c.
 *
 * ctl_mta.c decides what is a way round the filter; ctl_mta_table.c lists
 * a table's entries, whatever its type, and hands each to a callback.
 */
#ifndef SIKKERMAIL_CTL_MTA_H
#define SIKKERMAIL_CTL_MTA_H

#include <stdbool.h>

#include "ctl.h"
#include "util.h"

struct check {
	struct ctl *c;
	const char *config_dir;	/* postconf -c, or NULL for the default */
	struct strlist milters;	/* --milter: what names this filter in a milter list */
	int found;
	int unchecked;
	bool failed;		/* postconf could not be run */
};

/*
 * How to judge the entries of a table, whatever its type: mta_table_check
 * lists the entries and hands each to entry().
 */
struct table_use {
	const char *param;	/* the parameter that names the table */
	const char *scope;	/* after "PARAM (TABLE)": "" or " for smtp/inet" */
	const char *key_end;	/* what ends a key in a source file */
	const char *every;	/* the key of a static: table */
	const char *by_hand;	/* UNCHECKED: what to check by hand */
	bool local_keys;
	void (*entry)(struct check *k, const struct table_use *u, const char *where,
		      const char *key, const char *value);
};

/*
 * mta_list_next - the next element of a Postfix list (a parameter value,
 * an inline: body, a list of milters) at *cursor, as Postfix splits it:
 * elements end at a comma or blank outside braces, so "{ a, b }" and
 * "inline:{ ... }" are one element each. NUL-terminated in place, *cursor
 * moved past it; NULL at the end.
 */
char *mta_list_next(char **cursor);

/*
 * mta_group_strip - an element "{ text }": *elem becomes its text,
 * without the braces and the blanks inside them, in place. NULL, or what
 * is wrong (no closing brace, text after it); then *elem is unchanged.
 */
const char *mta_group_strip(char **elem);

/* mta_table_split - add the tables of a list of TYPE:NAME to tables, in order. */
void mta_table_split(const char *list, struct strlist *tables);

/*
 * mta_table_check - hand each entry of table to u->entry; an UNCHECKED
 * line (k->unchecked) when it cannot be listed.
 */
void mta_table_check(struct check *k, const char *table, const struct table_use *u);

#endif

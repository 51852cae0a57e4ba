/*
 * config_int.h - what config.c, config_values.c and config_checks.c
 * share, and nothing else may see: the shape of a key, the per-type value
 * functions the key table points at, and the error reporting of the file
 * parser. Included only by config*.c; everyone else uses config.h.
 *
 * config.c owns the key table, the parser and struct parser (opaque
 * here) and exports config_perr and config_quote_len. config_values.c owns
 * the value types and exports the config_set_* and config_dump_*
 * functions and config_free_strv; config_checks.c exports the
 * config_check_* and config_entry_* functions.
 */
#ifndef SIKKERMAIL_CONFIG_INT_H
#define SIKKERMAIL_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "config.h"
#include "util.h"

#define MINUTE 60L
#define HOUR 3600L
#define DAY 86400L

struct parser;
struct key;

typedef bool set_fn(struct parser *p, struct config *c, const struct key *k, char *v);
typedef void dump_fn(struct strbuf *out, const struct config *c, const struct key *k);
typedef bool check_fn(struct parser *p, const char *v);
typedef char *entry_fn(const char *entry, const char **why);

struct choice {
	const char *name;
	int value;
	const char *never;	/* set: the word is known but refused, for this reason */
};

enum {
	KEY_REPEAT = 1,		/* may be given more than once */
	KEY_REST = 2,		/* the value is the rest of the line, '#' included */
	KEY_LOWER = 4		/* store the value in lower case */
};

struct key {
	const char *name;
	set_fn *set;
	dump_fn *dump;
	const char *def;	/* default, as a file would write it; NULL = not set */
	size_t off;		/* the field in struct config */
	size_t off_n;		/* lists: the element count */
	long min, max;		/* numbers and durations */
	const struct choice *choices;
	check_fn *check;	/* strings: extra validation */
	entry_fn *entry;	/* lists: normalise one entry, or NULL with a reason */
	unsigned flags;
};

/* The field of struct config that key k describes. */
#define FIELD(c, k, type) ((type *)(void *)((char *)(c) + (k)->off))
#define CFIELD(c, k, type) ((type const *)(const void *)((const char *)(c) + (k)->off))

/* QV(v) - the arguments for "\"%.*s%s\"": v, cut short in an error message. */
#define QV(v) config_quote_len(v), (v), (strlen(v) > (size_t)config_quote_len(v) ? "..." : "")

/* Setters: parse v (which they may cut up) into c, or report with config_perr. */
set_fn config_set_str, config_set_bool, config_set_choice, config_set_int, config_set_octal,
	config_set_duration, config_set_list, config_set_networks, config_set_language,
	config_set_mailbox, config_set_default_mailbox, config_set_facility, config_set_level,
	config_set_mailbox_users, config_set_subject_tag;
/* Dumpers: the key as a line config_parse reads back to the same value. */
dump_fn config_dump_str, config_dump_bool, config_dump_choice, config_dump_int, config_dump_octal,
	config_dump_duration, config_dump_list, config_dump_networks, config_dump_language,
	config_dump_mailboxes, config_dump_facility, config_dump_level, config_dump_mailbox_users,
	config_dump_subject_tags;
/* Checks of string values, for config_set_str. */
check_fn config_check_path, config_check_socket, config_check_userid, config_check_field_name,
	config_check_url, config_check_ldap_filter, config_check_cipher, config_check_reinject,
	config_check_text, config_check_map, config_check_instance;
/* List entries, for config_set_list. */
entry_fn config_entry_domain, config_entry_ldap_uri;

/* config_free_strv - free n strings and the array that holds them. */
void config_free_strv(char **v, size_t n);

/*
 * config_perr - report an error at the parser's current line, about the
 * key being set (if any); fatal while setting the built-in defaults.
 */
void config_perr(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* config_parser_line - the line being parsed (0 while setting the built-in defaults). */
unsigned config_parser_line(const struct parser *p);

/* config_quote_len - how much of v an error message quotes: whole characters. */
int config_quote_len(const char *v);

#endif

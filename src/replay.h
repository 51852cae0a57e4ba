/*
 * replay.h - what the files of sikkermail-ctl replay share, and nothing
 * else may see: the replay's result (struct replay: counts, changes,
 * groups) and its writers. Included only by ctl_replay.c, replay_write.c
 * and replay_html.c.
 *
 * ctl_replay.c makes the replay and exports replay_outcome_label;
 * replay_write.c writes it as text, CSV and JSON and exports
 * replay_write_text, replay_write_csv, replay_write_json and
 * replay_partial_why; replay_html.c writes the HTML page
 * (replay_write_html). The writers only read the replay, and escape every
 * field with report.h's escapers, as the compliance report does.
 */
#ifndef SIKKERMAIL_REPLAY_H
#define SIKKERMAIL_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "sikkermail.h"

/* Why a decision could not be fully replayed. */
enum partial {
	PARTIAL_BEFORE_FACTS,	/* recorded before the facts were kept */
	PARTIAL_NOT_SCANNED,	/* not scanned for CPR numbers; FILE has DetectCPR enforce */
	PARTIAL_COUNT
};

/* One side of a change: what was, or would be, done to one recipient. */
struct replay_outcome {
	enum rclass cls;
	enum action action;	/* the verdict */
	bool monitor;		/* decided in monitor mode: delivered whatever the verdict */
	char *rule;
};

/* One recipient whose outcome would change. */
struct replay_change {
	long long time;
	char *queue_id;
	char *sender;
	char *rcpt;
	struct replay_outcome before;
	struct replay_outcome after;
	char *evidence;		/* why the new class */
	bool no_cert;		/* the certificate cache had no answer for it */
	int partial;		/* enum partial, or -1 */
};

/* The changes of one kind: the same outcome and rule before, and after. */
struct replay_group {
	char *before;		/* outcome label */
	char *before_rule;
	char *after;
	char *after_rule;
	long messages;
	long rcpts;
	long last_decision;	/* the decision last counted, to count a message once */
};

/* A replay: what it was asked, what it counted and the changes it found, for the writers. */
struct replay {
	struct config *cfg;	/* the configuration replayed */
	struct certs *certs;	/* its trust store; the cache only */
	struct store *store;
	char *config_path;	/* cleaned, for the output */
	char *database;
	char since[11];
	char until[11];
	long long generated;
	bool failed;		/* a database error during the walk */
	long decisions;
	long rcpts;
	long changed_messages;
	long changed_rcpts;
	long partial[PARTIAL_COUNT];
	long partial_changed[PARTIAL_COUNT];
	long no_cert;		/* recipients whose certificate question the cache could not
				   answer */
	long unknown;		/* recipients the replay could not classify */
	struct replay_change *changes;
	size_t n_changes;
	size_t cap_changes;
	struct replay_group *groups;
	size_t n_groups;
	size_t cap_groups;
};

/*
 * replay_partial_why - for the text output: each reason in lines that fit
 * 80 columns (the HTML page makes each one line).
 */
extern const char *const replay_partial_why[PARTIAL_COUNT];

/* replay_outcome_label - "reject"; in monitor mode "deliver" or "would reject (monitor)". */
char *replay_outcome_label(const struct replay_outcome *o);

/* The writers: the replay as text, CSV, JSON (replay_write.c) or one HTML page (replay_html.c). */
void replay_write_text(const struct replay *r, FILE *out);
void replay_write_csv(const struct replay *r, FILE *out);
void replay_write_json(const struct replay *r, FILE *out);
void replay_write_html(const struct replay *r, FILE *out);

#endif

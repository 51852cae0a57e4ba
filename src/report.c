/*
 * report.c - gathering recorded decisions into the tables of the
 * compliance report (see report.h).
 *
 * Exports report_init, report_add, report_finish, report_free,
 * report_set_outcome, report_clean, report_parse_date, report_date_arg,
 * report_day_start, report_time_string,
 * report_rule_words, report_reason, report_event_reason, report_rcpt_reason
 * and report_day_shown.
 *
 * The period is a run of whole local days, each with its own first
 * second found by mktime, so that days of 23 or 25 hours (daylight
 * saving changes) are counted right. Strings are cleaned and masked as
 * they come in (report_clean), never on the way out: a writer cannot
 * forget to mask what the report never held in clear.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpr.h"
#include "report.h"

#define CPR_DIGITS 10
#define CPR_DATE_DIGITS 6

static long long local_midnight(int year, int month, int day, char *date);
static struct report_day *find_day(struct report *r, long long t);
static void add_counts(struct report_day *day, const struct decision *d);
static void add_routes(struct report *r, const struct decision *d);
static struct report_event *new_event(struct report_event **v, size_t *n, size_t *cap);
static void add_event(struct report_event *e, const struct decision *d, const char *host,
		      bool all);
static void add_rcpt(struct report_event *e, const struct rcpt *rc);
static void free_events(struct report_event *v, size_t n);
static const char *first_outcome(const struct decision *d);
static void add_tables(struct report *r, const struct decision *d, const char *host);
static char *sender_key(const char *sender);
static const char *rcpt_domain(const struct rcpt *rc);
static struct report_count *table_get(struct report_table *t, const char *key);
static void table_grow(struct report_table *t);
static size_t hash_key(const char *s);
static void table_rank(struct report_table *t, size_t keep,
		       int (*cmp)(const void *, const void *));
static void table_free(struct report_table *t);
static int cmp_senders(const void *a, const void *b);
static int cmp_domains(const void *a, const void *b);
static int cmp_keys(const void *a, const void *b);
static int cmp_events(const void *a, const void *b);
static void sanitise(const char *s, struct strbuf *out);
static bool date_shaped(const char *p);
static size_t cpr_dash(const char *p);
static char *mask_cpr(const char *s);
static bool valid_action(enum action a);
static bool valid_class(enum rclass c);

/* ------------------------------------------------------------ dates */

int report_parse_date(const char *s, int *year, int *month, int *day)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, m, d;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return -1;
	y = atoi(s);
	m = atoi(s + 5);
	d = atoi(s + 8);
	if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return -1;
	if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return -1;
	*year = y;
	*month = m;
	*day = d;
	return 0;
}

int report_date_arg(const char *s, long long now, int *year, int *month, int *day)
{
	time_t tnow = (time_t)now;
	size_t n = strspn(s, "0123456789");
	struct tm tm;
	int back;

	if (report_parse_date(s, year, month, day) == 0)
		return 0;
	if (strcmp(s, "today") == 0)
		back = 0;
	else if (strcmp(s, "yesterday") == 0)
		back = 1;
	else if (n >= 1 && n <= 5 && s[n] == 'd' && s[n + 1] == '\0')
		back = atoi(s);
	else
		return -1;
	if (localtime_r(&tnow, &tm) == NULL)
		return -1;
	/* noon of the day, back days earlier: mktime normalises, whatever the clock change */
	tm.tm_mday -= back;
	tm.tm_hour = 12;
	tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	if (mktime(&tm) == (time_t)-1 || tm.tm_year + 1900 < 1970)
		return -1;
	*year = tm.tm_year + 1900;
	*month = tm.tm_mon + 1;
	*day = tm.tm_mday;
	return 0;
}

bool report_day_shown(const struct report *r, size_t i)
{
	return r->all_days || r->days[i].messages > 0;
}

const char *report_rule_words(const char *rule, enum report_lang lang)
{
	static const struct {
		const char *rule, *en, *da;
	} words[] = {
		{ "not-personal", "no personal data found", "ingen personoplysninger fundet" },
		{ "no-recipients", "the message had no recipients",
		  "beskeden havde ingen modtagere" },
		{ "internal", "an internal recipient", "en intern modtager" },
		{ "tunnel", "a recipient reached through a secure tunnel",
		  "en modtager, der n\303\245s gennem en sikker tunnel" },
		{ "encrypted", "a recipient with a certificate: the message is encrypted",
		  "en modtager med certifikat: beskeden krypteres" },
		{ "PersonalToPartner",
		  "personal data to a partner with a data processing agreement",
		  "personoplysninger til en partner med databehandleraftale" },
		{ "PersonalToFreemail", "personal data to a freemail address",
		  "personoplysninger til en freemail-adresse" },
		{ "PersonalToTLS",
		  "personal data to a recipient with neither certificate, tunnel nor agreement "
		  "(TLS only)",
		  "personoplysninger til en modtager uden certifikat, tunnel eller aftale "
		  "(kun TLS)" },
		{ "OnLookupFailure", "the recipient could not be looked up",
		  "modtageren kunne ikke sl\303\245s op" },
		{ "database-unavailable", "the database could not be used",
		  "databasen kunne ikke bruges" },
		{ "already-encrypted", "the message was already encrypted",
		  "beskeden var allerede krypteret" },
		{ "encryption-unavailable", "encryption was not available",
		  "kryptering var ikke tilg\303\246ngelig" },
		{ "SecureMailbox",
		  "the function mailbox for the encrypted message is not configured, or the sender "
		  "may not use it",
		  "funktionspostkassen til den krypterede besked er ikke sat op, eller afsenderen "
		  "m\303\245 ikke bruge den" },
		{ "encryption-failed", "the message could not be encrypted",
		  "beskeden kunne ikke krypteres" },
		{ "mta-refused", "the mail server refused a change to the message",
		  "mailserveren afviste en \303\246ndring af beskeden" },
		{ "not-recorded", "the decision could not be recorded",
		  "afg\303\270relsen kunne ikke registreres" },
		{ "header-limit", "the message's header was too large to check",
		  "beskedens brevhoved var for stort til at blive kontrolleret" },
		{ "time-budget", "the message could not be checked in time",
		  "beskeden kunne ikke kontrolleres i tide" },
	};

	for (size_t i = 0; rule != NULL && i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(rule, words[i].rule) == 0)
			return lang == REPORT_DA ? words[i].da : words[i].en;
	return NULL;
}

char *report_reason(const char *rule, const char *detail, enum report_lang lang)
{
	const char *words = report_rule_words(rule, lang);

	if (words == NULL)
		words = rule != NULL && rule[0] != '\0' ? rule : "-";
	if (detail == NULL || detail[0] == '\0')
		return xstrdup(words);
	return xasprintf("%s (%s)", words, detail);
}

char *report_event_reason(const struct report_event *e, enum report_lang lang)
{
	return report_reason(e->rule, e->why, lang);
}

char *report_rcpt_reason(const struct report_rcpt *rc, enum report_lang lang)
{
	return report_reason(rc->rule, rc->evidence, lang);
}

/* local_midnight - the first second of a local day (normalised by mktime); date gets its name. */
static long long local_midnight(int year, int month, int day, char *date)
{
	struct tm tm = { 0 };
	time_t t;

	tm.tm_year = year - 1900;
	tm.tm_mon = month - 1;
	tm.tm_mday = day;
	tm.tm_isdst = -1;
	t = mktime(&tm);
	if (date != NULL)
		strftime(date, 11, "%Y-%m-%d", &tm);
	return (long long)t;
}

int report_day_start(const char *s, long long now, long long *t)
{
	int y, m, d;

	if (report_date_arg(s, now, &y, &m, &d) != 0)
		return -1;
	*t = local_midnight(y, m, d, NULL);
	return *t == -1 ? -1 : 0;
}

void report_time_string(long long t, bool iso, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char off[8];
	size_t n;

	if (localtime_r(&tt, &tm) == NULL ||
	    strftime(buf, size, iso ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm) == 0) {
		snprintf(buf, size, "%lld", t);
		return;
	}
	if (!iso || strftime(off, sizeof(off), "%z", &tm) != 5)
		return;
	n = strlen(buf);	/* +0100 -> +01:00 (RFC 3339) */
	snprintf(buf + n, size - n, "%.3s:%.2s", off, off + 3);
}

/* ------------------------------------------------------------ life cycle */

int report_init(struct report *r, const char *since, const char *until, size_t top,
		long long now, const char **err)
{
	int sy, sm, sd, uy, um, ud;
	time_t tnow = (time_t)now;
	struct tm tm;
	long long end;

	memset(r, 0, sizeof(*r));
	strlist_init(&r->files);
	r->csv_sep = ',';
	r->generated = now;
	r->top = top;
	*err = NULL;
	if (localtime_r(&tnow, &tm) == NULL || strftime(r->tz, sizeof(r->tz), "%Z", &tm) == 0)
		strcpy(r->tz, "local");
	if (until == NULL) {
		uy = tm.tm_year + 1900, um = tm.tm_mon + 1, ud = tm.tm_mday;
	} else if (report_date_arg(until, now, &uy, &um, &ud) != 0) {
		*err = "--until: not a date (YYYY-MM-DD, today, yesterday or Nd for N days ago)";
		return -1;
	}
	if (since == NULL) {
		sy = uy, sm = um, sd = ud - 29;		/* mktime normalises the day */
	} else if (report_date_arg(since, now, &sy, &sm, &sd) != 0) {
		*err = "--since: not a date (YYYY-MM-DD, today, yesterday or Nd for N days ago)";
		return -1;
	}
	r->t_since = local_midnight(sy, sm, sd, r->since);
	end = local_midnight(uy, um, ud, r->until);
	if (r->t_since > end) {
		*err = "--since is after --until";
		return -1;
	}
	for (int i = 0; r->n_days == 0 || r->days[r->n_days - 1].start < end; i++) {
		if (r->n_days == REPORT_MAX_DAYS) {
			*err = "the period is longer than ten years";
			return -1;
		}
		r->days = xrealloc(r->days, (r->n_days + 1) * sizeof(*r->days));
		memset(&r->days[r->n_days], 0, sizeof(*r->days));
		r->days[r->n_days].start = local_midnight(sy, sm, sd + i, r->days[r->n_days].date);
		r->n_days++;
	}
	r->t_until = local_midnight(uy, um, ud + 1, NULL);
	return 0;
}

static void table_free(struct report_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].key);
	free(t->v);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

static void free_events(struct report_event *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct report_event *e = &v[i];

		for (size_t j = 0; j < e->n_rcpts; j++) {
			free(e->rcpts[j].address);
			free(e->rcpts[j].rule);
			free(e->rcpts[j].evidence);
		}
		free(e->rcpts);
		free(e->host);
		free(e->queue_id);
		free(e->message_id);
		free(e->sender);
		free(e->personal_reason);
		free(e->rule);
		free(e->why);
		free(e->outcome);
		free(e->held_by);
	}
	free(v);
}

void report_free(struct report *r)
{
	free_events(r->events, r->n_events);
	free_events(r->cpr, r->n_cpr);
	free(r->days);
	table_free(&r->senders);
	table_free(&r->domains);
	table_free(&r->hosts);
	strlist_free(&r->files);
	free(r->database);
	memset(r, 0, sizeof(*r));
}

/* ------------------------------------------------------------ counting */

static bool valid_action(enum action a)
{
	return (unsigned)a < ACTION_COUNT;
}

static bool valid_class(enum rclass c)
{
	return (unsigned)c < CLASS_COUNT;
}

void report_add(struct report *r, const struct decision *d, const char *host)
{
	struct report_day *day;

	if (d->time < r->t_since || d->time >= r->t_until ||
	    (day = find_day(r, d->time)) == NULL) {
		r->outside++;
		return;
	}
	add_counts(day, d);
	add_counts(&r->total, d);
	add_routes(r, d);
	if (d->action == ACTION_REJECT || d->action == ACTION_HOLD)
		add_event(new_event(&r->events, &r->n_events, &r->cap_events), d, host, false);
	if (d->cpr_hits > 0)
		add_event(new_event(&r->cpr, &r->n_cpr, &r->cap_cpr), d, host, true);
	add_tables(r, d, host);
}

/* find_day - the day holding t (binary search on the first seconds). */
static struct report_day *find_day(struct report *r, long long t)
{
	size_t lo = 0, hi = r->n_days;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->days[mid].start <= t)
			lo = mid;
		else
			hi = mid;
	}
	return r->n_days > 0 && r->days[lo].start <= t ? &r->days[lo] : NULL;
}

static void add_counts(struct report_day *day, const struct decision *d)
{
	day->messages++;
	day->personal += d->personal;
	day->cpr += d->cpr_hits > 0;
	if (valid_action(d->applied))
		day->applied[d->applied]++;
	if (d->mode == MODE_MONITOR) {
		day->monitor++;
		if (valid_action(d->action))
			day->would[d->action]++;
	}
	for (size_t i = 0; i < d->n_rcpts; i++) {
		enum rclass c = d->rcpts[i].cls;

		if (!valid_class(c))
			continue;
		day->rcpts[c]++;
		if (d->personal)
			day->personal_rcpts[c]++;
		/*
		 * classify.c's evidence for a domain certificate
		 * (DomainCertificates), and only for a copy that was sent:
		 * not in monitor mode, not when the message was stopped.
		 */
		if (c == CLASS_ENCRYPTED && d->applied == ACTION_ENCRYPT &&
		    d->rcpts[i].action == ACTION_ENCRYPT && d->rcpts[i].evidence != NULL &&
		    strncmp(d->rcpts[i].evidence, "domain certificate for ", 23) == 0)
			day->domain_cert++;
	}
}

static void add_routes(struct report *r, const struct decision *d)
{
	if (!d->personal)
		return;
	for (size_t i = 0; i < d->n_rcpts; i++) {
		const struct rcpt *rc = &d->rcpts[i];

		if (!valid_class(rc->cls))
			continue;
		r->routes[rc->cls].rcpts++;
		if (valid_action(rc->action))
			r->routes[rc->cls].action[rc->action]++;
	}
}

static char *sender_key(const char *sender)
{
	return report_clean(sender == NULL ? "-" : sender[0] == '\0' ? "<>" : sender);
}

/* new_event - a new, zeroed entry at the end of a listing. */
static struct report_event *new_event(struct report_event **v, size_t *n, size_t *cap)
{
	struct report_event *e;

	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*v = xrealloc(*v, *cap * sizeof(**v));
	}
	e = &(*v)[*n];
	memset(e, 0, sizeof(*e));
	e->seq = (*n)++;
	return e;
}

/*
 * add_event - keep a message for a listing: with its offending recipients
 * (hold or worse), or with all of them when all is set or when none
 * offended (a refusal of the whole message, e.g. an unknown function
 * mailbox: then its recorded failure or its rule says why).
 */
static void add_event(struct report_event *e, const struct decision *d, const char *host,
		      bool all)
{
	size_t offending = 0;

	e->time = d->time;
	e->host = host != NULL && host[0] != '\0' ? report_clean(host) : NULL;
	e->queue_id = report_clean(d->queue_id);
	e->message_id = report_clean(d->message_id);
	e->sender = sender_key(d->sender);
	e->personal_reason = report_clean(d->personal_why);
	e->rule = report_clean(d->rule != NULL ? d->rule : "");
	e->why = report_clean(d->failure);
	e->mode = d->mode;
	e->action = d->action;
	e->applied = d->applied;
	e->personal = d->personal;
	e->psrc = d->psrc;
	e->cpr_hits = d->cpr_hits;
	e->outcome = xstrdup(first_outcome(d));
	e->rcpts = xcalloc(d->n_rcpts ? d->n_rcpts : 1, sizeof(*e->rcpts));
	for (size_t i = 0; i < d->n_rcpts; i++)
		if (valid_action(d->rcpts[i].action) && d->rcpts[i].action >= ACTION_HOLD)
			offending++;
	e->whole = !all && offending == 0;
	for (size_t i = 0; i < d->n_rcpts; i++)
		if (all || e->whole || (valid_action(d->rcpts[i].action) &&
					d->rcpts[i].action >= ACTION_HOLD))
			add_rcpt(e, &d->rcpts[i]);
}

static void add_rcpt(struct report_event *e, const struct rcpt *rc)
{
	struct report_rcpt *o = &e->rcpts[e->n_rcpts++];

	o->address = report_clean(rc->addr.full != NULL ? rc->addr.full
				  : rc->raw != NULL   ? rc->raw
						      : "");
	o->cls = rc->cls;
	o->action = rc->action;
	o->rule = report_clean(rc->rule != NULL ? rc->rule : "");
	o->evidence = report_clean(rc->evidence);
}

/* first_outcome - what the filter did; a held message's release or deletion comes later. */
static const char *first_outcome(const struct decision *d)
{
	switch (d->applied) {
	case ACTION_REJECT:
		return "rejected";
	case ACTION_HOLD:
		return "held";
	case ACTION_TEMPFAIL:
		return "tempfailed";
	default:
		return d->mode == MODE_MONITOR ? "passed (monitor mode)" : "passed";
	}
}

void report_set_outcome(struct report *r, const char *queue_id, long long time,
			const char *state, const char *by, long long when)
{
	char at[40];

	report_time_string(when, true, at, sizeof(at));
	for (size_t i = 0; i < r->n_events; i++) {
		struct report_event *e = &r->events[i];
		char *raw;

		if (e->time != time || e->applied != ACTION_HOLD || e->queue_id == NULL ||
		    queue_id == NULL || strcmp(e->queue_id, queue_id) != 0)
			continue;
		raw = xasprintf("%s by %s at %s", state, by, at);
		free(e->outcome);
		e->outcome = report_clean(raw);
		free(raw);
		e->held_state = strcmp(state, "deleted") == 0 ? REPORT_HELD_DELETED
								: REPORT_HELD_RELEASED;
		free(e->held_by);
		e->held_by = report_clean(by);
		e->held_at = when;
	}
}

static const char *rcpt_domain(const struct rcpt *rc)
{
	const char *full = rc->addr.full != NULL ? rc->addr.full : rc->raw, *at;

	if (rc->addr.domain != NULL && rc->addr.domain[0] != '\0')
		return rc->addr.domain;
	if (full == NULL)
		return "";
	at = strrchr(full, '@');
	return at != NULL ? at + 1 : full;
}

/* add_tables - senders of stopped personal mail, external domains, gateways. */
static void add_tables(struct report *r, const struct decision *d, const char *host)
{
	struct report_count *c;
	char *key;

	if (d->personal && (d->action == ACTION_REJECT || d->action == ACTION_HOLD)) {
		key = sender_key(d->sender);
		c = table_get(&r->senders, key);
		free(key);
		c->n++;
		if (d->action == ACTION_REJECT)
			c->rejected++;
		else
			c->held++;
	}
	for (size_t i = 0; d->personal && i < d->n_rcpts; i++) {
		const struct rcpt *rc = &d->rcpts[i];

		if (rc->cls == CLASS_INTERNAL || !valid_class(rc->cls))
			continue;
		key = report_clean(rcpt_domain(rc));
		c = table_get(&r->domains, key);
		free(key);
		c->n++;
		if (rc->action == ACTION_DELIVER || rc->action == ACTION_ENCRYPT)
			c->allowed++;
		else
			c->stopped++;
		c->classes |= 1u << rc->cls;
	}
	if (host == NULL || host[0] == '\0')
		return;
	key = report_clean(host);
	c = table_get(&r->hosts, key);
	free(key);
	c->n++;
	c->personal += d->personal;
	c->rejected += d->applied == ACTION_REJECT;
	c->held += d->applied == ACTION_HOLD;
	c->tempfailed += d->applied == ACTION_TEMPFAIL;
}

/* ------------------------------------------------------------ keyed tables */

static size_t hash_key(const char *s)
{
	uint64_t h = 14695981039346656037ULL;	/* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)h;
}

static void table_grow(struct report_table *t)
{
	size_t n = t->n_slots ? t->n_slots * 2 : 64;

	free(t->slots);
	t->slots = xcalloc(n, sizeof(*t->slots));
	t->n_slots = n;
	for (size_t i = 0; i < t->n; i++) {
		size_t h = hash_key(t->v[i].key) & (n - 1);

		while (t->slots[h] != 0)
			h = (h + 1) & (n - 1);
		t->slots[h] = i + 1;
	}
}

/* table_get - the row for key, added (zeroed) if new; key is copied. */
static struct report_count *table_get(struct report_table *t, const char *key)
{
	size_t h;

	if (2 * (t->n + 1) > t->n_slots)
		table_grow(t);
	for (h = hash_key(key) & (t->n_slots - 1); t->slots[h] != 0; h = (h + 1) & (t->n_slots - 1))
		if (strcmp(t->v[t->slots[h] - 1].key, key) == 0)
			return &t->v[t->slots[h] - 1];
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->v = xrealloc(t->v, t->cap * sizeof(*t->v));
	}
	memset(&t->v[t->n], 0, sizeof(t->v[t->n]));
	t->v[t->n].key = xstrdup(key);
	t->slots[h] = ++t->n;
	return &t->v[t->n - 1];
}

/* table_rank - sort, keep the first keep rows (0: all); the hash index is dropped. */
static void table_rank(struct report_table *t, size_t keep,
		       int (*cmp)(const void *, const void *))
{
	free(t->slots);
	t->slots = NULL;
	t->n_slots = 0;
	if (t->n > 1)
		qsort(t->v, t->n, sizeof(*t->v), cmp);
	while (keep > 0 && t->n > keep)
		free(t->v[--t->n].key);
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(((const struct report_count *)a)->key, ((const struct report_count *)b)->key);
}

static int cmp_senders(const void *a, const void *b)
{
	const struct report_count *x = a, *y = b;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	if (x->rejected != y->rejected)
		return x->rejected > y->rejected ? -1 : 1;
	return cmp_keys(a, b);
}

static int cmp_domains(const void *a, const void *b)
{
	const struct report_count *x = a, *y = b;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	if (x->stopped != y->stopped)
		return x->stopped > y->stopped ? -1 : 1;
	return cmp_keys(a, b);
}

static int cmp_events(const void *a, const void *b)
{
	const struct report_event *x = a, *y = b;

	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void report_finish(struct report *r)
{
	if (r->n_events > 1)
		qsort(r->events, r->n_events, sizeof(*r->events), cmp_events);
	if (r->n_cpr > 1)
		qsort(r->cpr, r->n_cpr, sizeof(*r->cpr), cmp_events);
	table_rank(&r->senders, r->top, cmp_senders);
	table_rank(&r->domains, r->top, cmp_domains);
	table_rank(&r->hosts, 0, cmp_keys);
}

/* ------------------------------------------------------------ cleaning */

/* sanitise - printable ASCII and well-formed UTF-8 as they are; any other byte as \xHH. */
static void sanitise(const char *s, struct strbuf *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	while (*p) {
		if (*p >= 0x20 && *p < 0x7f) {
			sb_addc(out, *p++);
		} else if (*p >= 0x80 && (n = utf8_text_len(p)) > 0) {
			sb_addmem(out, p, n);
			p += n;
		} else {
			sb_printf(out, "\\x%02x", *p++);
		}
	}
}

/* date_shaped - do the six digits at p read as DDMMYY with a possible day and month? */
static bool date_shaped(const char *p)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int dd = (p[0] - '0') * 10 + (p[1] - '0');
	int mm = (p[2] - '0') * 10 + (p[3] - '0');

	return mm >= 1 && mm <= 12 && dd >= 1 && dd <= mdays[mm - 1];
}

/* cpr_dash - length of the dash at p that may join DDMMYY and SSSS ('-' or a Unicode hyphen); 0 if none. */
static size_t cpr_dash(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;

	if (u[0] == '-')
		return 1;
	/* U+2010..U+2013 and U+2212, as cpr.c accepts them */
	if (u[0] == 0xe2 && ((u[1] == 0x80 && u[2] >= 0x90 && u[2] <= 0x93) ||
			     (u[1] == 0x88 && u[2] == 0x92)))
		return 3;
	return 0;
}

/*
 * mask_cpr - mask DDMMYYSSSS and DDMMYY-SSSS (with any dash cpr.c
 * accepts). Wider than the detector on purpose (no century, context or
 * modulus-11 test, 29 February in any year): a report may over-mask, it
 * must never print one. A digit run longer than a CPR number (a phone or
 * an account number) is left alone.
 */
static char *mask_cpr(const char *s)
{
	char digits[CPR_DIGITS + 1], masked[CPR_MASKED_LEN + 1];
	struct strbuf sb;
	const char *p = s;

	sb_init(&sb);
	while (*p) {
		size_t n = strspn(p, "0123456789"), dash;

		if (n == 0) {
			sb_addc(&sb, *p++);
			continue;
		}
		if (n == CPR_DIGITS && date_shaped(p)) {
			memcpy(digits, p, CPR_DIGITS);
		} else if (n == CPR_DATE_DIGITS && (dash = cpr_dash(p + n)) > 0 &&
			   strspn(p + n + dash, "0123456789") == 4 && date_shaped(p)) {
			memcpy(digits, p, CPR_DATE_DIGITS);
			memcpy(digits + CPR_DATE_DIGITS, p + n + dash, 4);
			n += dash + 4;
		} else {
			sb_addmem(&sb, p, n);
			p += n;
			continue;
		}
		digits[CPR_DIGITS] = '\0';
		cpr_mask(digits, masked);
		sb_adds(&sb, masked);
		p += n;
	}
	memset(digits, 0, sizeof(digits));
	return sb.s;	/* the buffer itself: sb_steal would allocate a new one */
}

char *report_clean(const char *s)
{
	struct strbuf sb;
	char *masked;

	if (s == NULL)
		return NULL;
	sb_init(&sb);
	sanitise(s, &sb);
	masked = mask_cpr(sb.s);
	sb_free(&sb);
	return masked;
}

/*
 * t_policy.c - the decision table of SPEC section 5, row by row and
 * setting by setting; the message outcome over mixed recipients; monitor
 * mode; and classification precedence (SPEC section 3), first without a
 * store, then against a real store on a temporary file.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "classify.h"
#include "decision.h"
#include "lists.h"
#include "policy.h"
#include "store.h"
#include "tap.h"

static void test_not_personal(void);
static void test_personal_table(void);
static void test_defensive(void);
static void test_decide_mixed(void);
static void test_decide_monitor(void);
static void test_decide_empty(void);
static void test_decide_store_failed(void);
static void test_rule_intern(void);
static void test_classify_no_store(void);
static void test_classify_store(void);

/* base_config - the documented defaults of the decision settings; the rest zero. */
static void base_config(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mode = MODE_ENFORCE;
	cfg->personal_to_partner = ACTION_DELIVER;
	cfg->personal_to_freemail = ACTION_REJECT;
	cfg->personal_to_tls = ACTION_REJECT;
	cfg->on_lookup_failure = ACTION_TEMPFAIL;
}

static void test_not_personal(void)
{
	struct config cfg;
	const char *rule;

	/* whatever the settings, mail without personal data goes everywhere */
	base_config(&cfg);
	cfg.personal_to_partner = ACTION_REJECT;
	cfg.personal_to_tls = ACTION_HOLD;
	cfg.personal_to_freemail = ACTION_HOLD;
	cfg.on_lookup_failure = ACTION_HOLD;
	for (int c = 0; c < CLASS_COUNT; c++) {
		rule = NULL;
		is_int(policy_rcpt_action(&cfg, false, (enum rclass)c, &rule), ACTION_DELIVER,
		       "not personal, %s: deliver", rclass_name((enum rclass)c));
		is_str(rule, "not-personal", "not personal, %s: rule", rclass_name((enum rclass)c));
	}
}

static const struct {
	enum rclass cls;
	int setting;		/* which setting to vary: 0 none, 1 partner, 2 freemail, 3 tls, 4 lookup */
	enum action value;	/* the setting's value */
	enum action want;
	const char *rule;
} personal_rows[] = {
	{ CLASS_INTERNAL, 0, 0, ACTION_DELIVER, "internal" },
	{ CLASS_TUNNEL, 0, 0, ACTION_DELIVER, "tunnel" },
	{ CLASS_ENCRYPTED, 0, 0, ACTION_ENCRYPT, "encrypted" },
	{ CLASS_PARTNER, 1, ACTION_DELIVER, ACTION_DELIVER, "PersonalToPartner" },
	{ CLASS_PARTNER, 1, ACTION_REJECT, ACTION_REJECT, "PersonalToPartner" },
	{ CLASS_FREEMAIL, 2, ACTION_REJECT, ACTION_REJECT, "PersonalToFreemail" },
	{ CLASS_FREEMAIL, 2, ACTION_HOLD, ACTION_HOLD, "PersonalToFreemail" },
	{ CLASS_TLS, 3, ACTION_REJECT, ACTION_REJECT, "PersonalToTLS" },
	{ CLASS_TLS, 3, ACTION_HOLD, ACTION_HOLD, "PersonalToTLS" },
	{ CLASS_TLS, 3, ACTION_DELIVER, ACTION_DELIVER, "PersonalToTLS" },
	{ CLASS_UNKNOWN, 4, ACTION_TEMPFAIL, ACTION_TEMPFAIL, "OnLookupFailure" },
	{ CLASS_UNKNOWN, 4, ACTION_HOLD, ACTION_HOLD, "OnLookupFailure" },
};

static void apply_setting(struct config *cfg, int setting, enum action value)
{
	switch (setting) {
	case 1:
		cfg->personal_to_partner = value;
		break;
	case 2:
		cfg->personal_to_freemail = value;
		break;
	case 3:
		cfg->personal_to_tls = value;
		break;
	case 4:
		cfg->on_lookup_failure = value;
		break;
	default:
		break;
	}
}

static void test_personal_table(void)
{
	struct config cfg;
	const char *rule;

	for (size_t i = 0; i < sizeof(personal_rows) / sizeof(personal_rows[0]); i++) {
		base_config(&cfg);
		apply_setting(&cfg, personal_rows[i].setting, personal_rows[i].value);
		rule = NULL;
		is_int(policy_rcpt_action(&cfg, true, personal_rows[i].cls, &rule), personal_rows[i].want,
		       "personal, %s, setting %s: %s", rclass_name(personal_rows[i].cls),
		       action_name(personal_rows[i].value), action_name(personal_rows[i].want));
		is_str(rule, personal_rows[i].rule, "personal, %s: rule",
		       rclass_name(personal_rows[i].cls));
	}

	/* a setting for one class never leaks into another */
	base_config(&cfg);
	cfg.personal_to_tls = ACTION_DELIVER;
	is_int(policy_rcpt_action(&cfg, true, CLASS_FREEMAIL, &rule), ACTION_REJECT,
	       "PersonalToTLS accept does not open freemail");
	cfg.personal_to_partner = ACTION_REJECT;
	is_int(policy_rcpt_action(&cfg, true, CLASS_INTERNAL, &rule), ACTION_DELIVER,
	       "PersonalToPartner reject does not touch internal");
	is_int(policy_rcpt_action(&cfg, true, CLASS_TUNNEL, &rule), ACTION_DELIVER,
	       "PersonalToPartner reject does not touch tunnel");
}

/* test_defensive - settings outside their documented values fail safe. */
static void test_defensive(void)
{
	struct config cfg;
	const char *rule;

	base_config(&cfg);
	cfg.personal_to_freemail = ACTION_DELIVER;
	is_int(policy_rcpt_action(&cfg, true, CLASS_FREEMAIL, &rule), ACTION_REJECT,
	       "PersonalToFreemail deliver is read as reject");
	cfg.personal_to_freemail = ACTION_ENCRYPT;
	is_int(policy_rcpt_action(&cfg, true, CLASS_FREEMAIL, &rule), ACTION_REJECT,
	       "PersonalToFreemail encrypt is read as reject");
	cfg.personal_to_partner = ACTION_ENCRYPT;
	is_int(policy_rcpt_action(&cfg, true, CLASS_PARTNER, &rule), ACTION_REJECT,
	       "PersonalToPartner encrypt is read as reject");
	cfg.personal_to_tls = (enum action)99;
	is_int(policy_rcpt_action(&cfg, true, CLASS_TLS, &rule), ACTION_REJECT,
	       "PersonalToTLS out of range is read as reject");
	cfg.on_lookup_failure = ACTION_DELIVER;
	is_int(policy_rcpt_action(&cfg, true, CLASS_UNKNOWN, &rule), ACTION_TEMPFAIL,
	       "OnLookupFailure deliver is read as tempfail");
	base_config(&cfg);
	is_int(policy_rcpt_action(&cfg, true, (enum rclass)42, &rule), ACTION_TEMPFAIL,
	       "a class out of range is treated as unknown");
	is_str(rule, "OnLookupFailure", "... by rule OnLookupFailure");
}

/* decide - a decision with the given classes, decided under cfg. */
static void decide(const struct config *cfg, bool personal, const enum rclass *cls, size_t n,
		   struct decision *d)
{
	decision_init(d);
	d->personal = personal;
	for (size_t i = 0; i < n; i++) {
		char raw[48];
		struct rcpt *r;

		snprintf(raw, sizeof(raw), "<r%zu@example.org>", i);
		r = decision_add_rcpt(d, raw, NULL);
		r->cls = cls[i];
	}
	policy_decide(cfg, d);
}

static const struct {
	const char *name;
	enum rclass cls[5];
	size_t n;
	enum action want;
	const char *rule;
} mixed_rows[] = {
	{ "internal only", { CLASS_INTERNAL }, 1, ACTION_DELIVER, "internal" },
	{ "deliver then encrypt", { CLASS_INTERNAL, CLASS_ENCRYPTED }, 2, ACTION_ENCRYPT, "encrypted" },
	{ "encrypt then hold", { CLASS_ENCRYPTED, CLASS_TLS }, 2, ACTION_HOLD, "PersonalToTLS" },
	{ "hold then tempfail", { CLASS_TLS, CLASS_UNKNOWN }, 2, ACTION_TEMPFAIL, "OnLookupFailure" },
	{ "tempfail then reject", { CLASS_UNKNOWN, CLASS_FREEMAIL }, 2, ACTION_REJECT,
	  "PersonalToFreemail" },
	{ "reject first, then everything milder",
	  { CLASS_FREEMAIL, CLASS_UNKNOWN, CLASS_TLS, CLASS_ENCRYPTED, CLASS_INTERNAL }, 5,
	  ACTION_REJECT, "PersonalToFreemail" },
	{ "reject last", { CLASS_INTERNAL, CLASS_ENCRYPTED, CLASS_TLS, CLASS_UNKNOWN, CLASS_PARTNER },
	  5, ACTION_REJECT, "PersonalToPartner" },
	{ "first of two rejects names the rule", { CLASS_PARTNER, CLASS_FREEMAIL }, 2, ACTION_REJECT,
	  "PersonalToPartner" },
};

static void test_decide_mixed(void)
{
	struct config cfg;
	struct decision d;

	/* tls held and partners refused, so every severity appears in the table */
	base_config(&cfg);
	cfg.personal_to_tls = ACTION_HOLD;
	cfg.personal_to_partner = ACTION_REJECT;
	for (size_t i = 0; i < sizeof(mixed_rows) / sizeof(mixed_rows[0]); i++) {
		decide(&cfg, true, mixed_rows[i].cls, mixed_rows[i].n, &d);
		is_int(d.action, mixed_rows[i].want, "%s: action %s", mixed_rows[i].name,
		       action_name(mixed_rows[i].want));
		is_int(d.applied, mixed_rows[i].want, "%s: applied in enforce mode", mixed_rows[i].name);
		is_str(d.rule, mixed_rows[i].rule, "%s: rule", mixed_rows[i].name);
		decision_free(&d);
	}

	/* every recipient gets its own action and rule */
	decide(&cfg, true, mixed_rows[5].cls, mixed_rows[5].n, &d);
	is_int(d.rcpts[0].action, ACTION_REJECT, "rcpt 1 freemail: reject");
	is_int(d.rcpts[1].action, ACTION_TEMPFAIL, "rcpt 2 unknown: tempfail");
	is_int(d.rcpts[2].action, ACTION_HOLD, "rcpt 3 tls: hold");
	is_int(d.rcpts[3].action, ACTION_ENCRYPT, "rcpt 4 encrypted: encrypt");
	is_int(d.rcpts[4].action, ACTION_DELIVER, "rcpt 5 internal: deliver");
	is_str(d.rcpts[2].rule, "PersonalToTLS", "rcpt 3 rule");
	is_str(d.rcpts[4].rule, "internal", "rcpt 5 rule");
	is_int(d.mode, MODE_ENFORCE, "decision records the mode");
	decision_free(&d);

	/* the same recipients, not personal: all delivered */
	decide(&cfg, false, mixed_rows[5].cls, mixed_rows[5].n, &d);
	is_int(d.action, ACTION_DELIVER, "not personal: deliver over all classes");
	is_str(d.rule, "not-personal", "not personal: rule");
	for (size_t i = 0; i < d.n_rcpts; i++)
		ok(d.rcpts[i].action == ACTION_DELIVER, "not personal: rcpt %zu delivered", i + 1);
	decision_free(&d);
}

static void test_decide_monitor(void)
{
	static const enum rclass cls[] = { CLASS_INTERNAL, CLASS_FREEMAIL };
	static const enum rclass enc[] = { CLASS_ENCRYPTED };
	struct config cfg;
	struct decision d;

	base_config(&cfg);
	cfg.mode = MODE_MONITOR;
	decide(&cfg, true, cls, 2, &d);
	is_int(d.action, ACTION_REJECT, "monitor: the verdict is still reject");
	is_int(d.applied, ACTION_DELIVER, "monitor: applied is deliver");
	is_str(d.rule, "PersonalToFreemail", "monitor: rule");
	is_int(d.rcpts[1].action, ACTION_REJECT, "monitor: rcpt action kept");
	is_int(d.mode, MODE_MONITOR, "monitor: decision records the mode");
	decision_free(&d);

	decide(&cfg, true, enc, 1, &d);
	is_int(d.action, ACTION_ENCRYPT, "monitor: encrypt verdict");
	is_int(d.applied, ACTION_DELIVER, "monitor: encrypt not applied");
	decision_free(&d);
}

static void test_decide_empty(void)
{
	struct config cfg;
	struct decision d;

	base_config(&cfg);
	decide(&cfg, true, NULL, 0, &d);
	is_int(d.action, ACTION_DELIVER, "no recipients: deliver");
	is_int(d.applied, ACTION_DELIVER, "no recipients: applied deliver");
	is_str(d.rule, "no-recipients", "no recipients: rule");
	decision_free(&d);
}

/* A personal message decided without the database never ends in delivery. */
static void test_decide_store_failed(void)
{
	static const enum rclass cls[] = { CLASS_INTERNAL, CLASS_TUNNEL };
	static const enum rclass rej[] = { CLASS_INTERNAL, CLASS_FREEMAIL };
	struct config cfg;
	struct decision d;

	base_config(&cfg);
	decision_init(&d);
	d.personal = true;
	d.store_failed = true;
	for (size_t i = 0; i < 2; i++)
		decision_add_rcpt(&d, "<x@kp.dk>", NULL)->cls = cls[i];
	policy_decide(&cfg, &d);
	is_int(d.applied, ACTION_TEMPFAIL, "database unavailable, personal: tempfail");
	is_str(d.rule, "database-unavailable", "database unavailable: rule");
	cfg.on_lookup_failure = ACTION_HOLD;
	policy_decide(&cfg, &d);
	is_int(d.applied, ACTION_HOLD, "database unavailable, OnLookupFailure hold: hold");
	d.personal = false;
	policy_decide(&cfg, &d);
	is_int(d.applied, ACTION_DELIVER, "database unavailable, not personal: deliver");
	decision_free(&d);

	base_config(&cfg);
	decision_init(&d);
	d.personal = true;
	d.already_encrypted = true;
	decision_add_rcpt(&d, "<x@example.org>", NULL)->cls = CLASS_ENCRYPTED;
	decision_add_rcpt(&d, "<y@kp.dk>", NULL)->cls = CLASS_INTERNAL;
	policy_decide(&cfg, &d);
	is_int(d.applied, ACTION_DELIVER, "already encrypted: delivered as it is");
	is_str(d.rcpts[0].rule, "already-encrypted", "already encrypted: rule");
	d.already_encrypted = false;
	policy_decide(&cfg, &d);
	is_int(d.applied, ACTION_ENCRYPT, "not yet encrypted: encrypt");
	decision_free(&d);

	base_config(&cfg);
	decision_init(&d);
	d.personal = true;
	d.store_failed = true;
	for (size_t i = 0; i < 2; i++)
		decision_add_rcpt(&d, "<x@kp.dk>", NULL)->cls = rej[i];
	policy_decide(&cfg, &d);
	is_int(d.applied, ACTION_REJECT, "database unavailable: a reject stays a reject");
	decision_free(&d);
}

static void test_rule_intern(void)
{
	static const char *const names[] = {
		"not-personal", "internal", "tunnel", "encrypted", "PersonalToPartner",
		"PersonalToFreemail", "PersonalToTLS", "OnLookupFailure", "no-recipients",
		"encryption-unavailable",
	};
	char buf[64];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		strcpy(buf, names[i]);
		is_str(policy_rule_intern(buf), names[i], "rule %s interns", names[i]);
		ok(policy_rule_intern(buf) != buf, "rule %s: a static copy", names[i]);
	}
	ok(policy_rule_intern("personaltotls") == NULL, "rule names are case-sensitive");
	ok(policy_rule_intern("bogus") == NULL, "unknown rule: NULL");
	ok(policy_rule_intern(NULL) == NULL, "NULL rule: NULL");
}

/* classify_one - class and evidence of address local@domain. */
static enum rclass classify_one(const struct config *cfg, struct store *st, const char *domain,
				bool need_cert, const char *today, char **evidence)
{
	struct address a = { .local = (char *)"u", .domain = (char *)domain, .full = NULL };
	struct classification c;

	classify_address(cfg, NULL, st, NULL, &a, need_cert, today, &c);
	*evidence = c.evidence;
	return c.cls;
}

static void test_classify_no_store(void)
{
	static char *internal[] = { (char *)"kp.dk", (char *)".stud.kp.dk" };
	struct config cfg;
	char *ev, today[11];
	struct address none = { 0 };
	struct classification c;

	base_config(&cfg);
	cfg.internal_domains = internal;
	cfg.n_internal_domains = 2;

	is_int(classify_one(&cfg, NULL, "kp.dk", true, "2025-06-01", &ev), CLASS_INTERNAL,
	       "kp.dk is internal without any store");
	is_str(ev, "InternalDomains entry kp.dk", "internal evidence");
	free(ev);
	is_int(classify_one(&cfg, NULL, "a.b.stud.kp.dk", true, "2025-06-01", &ev), CLASS_INTERNAL,
	       ".stud.kp.dk covers a.b.stud.kp.dk");
	is_str(ev, "InternalDomains entry .stud.kp.dk", "subdomain evidence names the entry");
	free(ev);

	static const char *const outside[] = { "evilkp.dk", "kp.dk.evil.com", "kp-dk.com",
					       "sub.kp.dk" };
	for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
		is_int(classify_one(&cfg, NULL, outside[i], false, "2025-06-01", &ev), CLASS_UNKNOWN,
		       "%s is not internal; no store: unknown", outside[i]);
		is_str(ev, "tunnel list unavailable", "%s: evidence names the list", outside[i]);
		free(ev);
	}

	/* PreferEncryption: the (stub) certificate lookup answers, then the tunnel list cannot */
	cfg.prefer_encryption = true;
	is_int(classify_one(&cfg, NULL, "x.org", true, "2025-06-01", &ev), CLASS_UNKNOWN,
	       "PreferEncryption, no store: unknown");
	is_str(ev, "tunnel list unavailable", "PreferEncryption: tunnel list still consulted");
	free(ev);
	is_int(classify_one(&cfg, NULL, "kp.dk", true, NULL, &ev), CLASS_INTERNAL,
	       "internal still first with PreferEncryption (today computed)");
	free(ev);

	classify_address(&cfg, NULL, NULL, NULL, &none, true, NULL, &c);
	is_int(c.cls, CLASS_UNKNOWN, "address without a domain: unknown");
	classification_free(&c);
	ok(c.evidence == NULL, "classification_free clears");

	{
		struct address pm = { (char *)"Postmaster", (char *)"", (char *)"Postmaster" };
		struct address other = { (char *)"root", (char *)"", (char *)"root" };

		classify_address(&cfg, NULL, NULL, NULL, &pm, true, NULL, &c);
		is_int(c.cls, CLASS_INTERNAL, "<postmaster> without a domain: internal (RFC 5321)");
		classification_free(&c);
		classify_address(&cfg, NULL, NULL, NULL, &other, true, NULL, &c);
		is_int(c.cls, CLASS_UNKNOWN, "any other address without a domain: unknown");
		classification_free(&c);
	}

	today_string(today);
	ok(strlen(today) == 10 && today[4] == '-' && today[7] == '-' && today[0] == '2',
	   "today_string is YYYY-MM-DD (%s)", today);
}

static void add_entry(struct list_entries *l, const char *domain, const char *org,
		      const char *expires)
{
	struct list_entry *e;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
	}
	e = &l->v[l->n++];
	memset(e, 0, sizeof(*e));
	e->domain = strdup(domain);
	e->organisation = org ? strdup(org) : NULL;
	e->dpa_expires = expires ? strdup(expires) : NULL;
	e->source = strdup("/etc/sikkermail/test.list");
	e->line = (long)l->n;
}

static void fill_list(struct store *st, enum list_kind kind, struct list_entries *l)
{
	char *err = NULL;

	ok(store_list_replace(st, kind, l, &err) == 0, "import %s list%s%s", list_kind_name(kind),
	   err ? ": " : "", err ? err : "");
	free(err);
	list_entries_free(l);
}

static const struct {
	const char *domain;
	bool prefer;
	const char *today;
	enum rclass want;
	const char *evidence;	/* prefix of the evidence */
} store_rows[] = {
	{ "kp.dk", false, "2025-06-01", CLASS_INTERNAL, "InternalDomains entry kp.dk" },
	{ "aarhus.dk", false, "2025-06-01", CLASS_TUNNEL,
	  "tunnel list: aarhus.dk (Aarhus Kommune; /etc/sikkermail/test.list, imported " },
	{ "skole.kommune.dk", false, "2025-06-01", CLASS_TUNNEL,
	  "tunnel list: .kommune.dk (/etc/sikkermail/test.list, imported" },
	{ "both.dk", false, "2025-06-01", CLASS_TUNNEL, "tunnel list: both.dk" },
	{ "both.dk", true, "2025-06-01", CLASS_TUNNEL, "tunnel list: both.dk" },
	{ "dpa.com", false, "2025-06-01", CLASS_PARTNER,
	  "partner list: dpa.com (Processor A/S; agreement expires 2025-12-31; /etc/" },
	{ "dpa.com", false, "2025-12-31", CLASS_PARTNER, "partner list: dpa.com" },
	{ "dpa.com", false, "2026-01-01", CLASS_TLS,
	  "partner agreement expired 2025-12-31 (dpa.com); no other list entry" },
	{ "forever.com", false, "2099-01-01", CLASS_PARTNER,
	  "partner list: forever.com (Forever ApS; agreement without expiry;" },
	{ "gmail.com", false, "2025-06-01", CLASS_FREEMAIL, "freemail list: gmail.com" },
	{ "free-partner.com", false, "2025-06-01", CLASS_PARTNER, "partner list: free-partner.com" },
	{ "old-free.com", false, "2025-06-01", CLASS_FREEMAIL,
	  "partner agreement expired 2020-01-01 (old-free.com); freemail list: old-free.com" },
	{ "example.org", false, "2025-06-01", CLASS_TLS, "no list entry, no valid certificate" },
};

static void test_classify_store(void)
{
	static char *internal[] = { (char *)"kp.dk" };
	char dir[] = "/tmp/t_policy.XXXXXX", path[64], *err = NULL, *ev, today[11], want[160];
	struct list_entries l = { 0 };
	struct config cfg;
	struct store *st;

	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/db", dir);
	st = store_open(path, STORE_RW, &err);
	if (!ok(st != NULL, "store_open %s%s", path, err ? err : "")) {
		free(err);
		return;
	}
	add_entry(&l, "aarhus.dk", "Aarhus Kommune", NULL);
	add_entry(&l, ".kommune.dk", NULL, NULL);
	add_entry(&l, "both.dk", NULL, NULL);
	fill_list(st, LIST_TUNNEL, &l);
	add_entry(&l, "dpa.com", "Processor A/S", "2025-12-31");
	add_entry(&l, "forever.com", "Forever ApS", NULL);
	add_entry(&l, "both.dk", "Both", NULL);
	add_entry(&l, "free-partner.com", "Free Partner", NULL);
	add_entry(&l, "old-free.com", "Old", "2020-01-01");
	fill_list(st, LIST_PARTNERS, &l);
	add_entry(&l, "gmail.com", NULL, NULL);
	add_entry(&l, "free-partner.com", NULL, NULL);
	add_entry(&l, "old-free.com", NULL, NULL);
	fill_list(st, LIST_FREEMAIL, &l);

	base_config(&cfg);
	cfg.internal_domains = internal;
	cfg.n_internal_domains = 1;
	for (size_t i = 0; i < sizeof(store_rows) / sizeof(store_rows[0]); i++) {
		cfg.prefer_encryption = store_rows[i].prefer;
		is_int(classify_one(&cfg, st, store_rows[i].domain, true, store_rows[i].today, &ev),
		       store_rows[i].want, "%s%s on %s: %s", store_rows[i].domain,
		       store_rows[i].prefer ? " (PreferEncryption)" : "", store_rows[i].today,
		       rclass_name(store_rows[i].want));
		ok(ev != NULL && strncmp(ev, store_rows[i].evidence, strlen(store_rows[i].evidence)) == 0,
		   "%s: evidence \"%s\"", store_rows[i].domain, ev ? ev : "(null)");
		free(ev);
	}
	cfg.prefer_encryption = false;
	/* the store records the import time itself: today */
	today_string(today);
	snprintf(want, sizeof(want),
		 "tunnel list: aarhus.dk (Aarhus Kommune; /etc/sikkermail/test.list, imported %s)",
		 today);
	classify_one(&cfg, st, "aarhus.dk", true, today, &ev);
	is_str(ev, want, "tunnel evidence, exactly");
	free(ev);
	is_int(classify_one(&cfg, st, "example.org", false, "2025-06-01", &ev), CLASS_TLS,
	       "no certificate lookup for a message that is not personal");
	is_str(ev, "no list entry", "evidence without the certificate");
	free(ev);

	store_close(st);
	unlink(path);
	snprintf(path, sizeof(path), "%s/db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/db-shm", dir);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	test_not_personal();
	test_personal_table();
	test_defensive();
	test_decide_mixed();
	test_decide_monitor();
	test_decide_empty();
	test_decide_store_failed();
	test_rule_intern();
	test_classify_no_store();
	test_classify_store();
	return done_testing();
}

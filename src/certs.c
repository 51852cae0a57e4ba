/*
 * certs.c - is a valid S/MIME certificate known for this address?
 *
 * Cache first (the store), then the directory (directory.c), each answer
 * validated (certcheck.c) and cached. The directory being slow or down
 * never reads as "no certificate": a stale cache entry is used up to
 * MaxStale, else the answer is LOOKUP_RETRY.
 *
 * Concurrent lookups of one address share one directory query: the first
 * thread becomes the leader of an in-flight record, later ones wait on it
 * and take its answer (Go's singleflight, in C). Waiters stop waiting after
 * twice LDAPTimeout, or sooner when their own message's time budget ends
 * (directory_budget_set), and answer LOOKUP_RETRY, so a stuck leader
 * cannot hold a message longer than that.
 *
 * A cached certificate is judged again at each use (still_valid). What
 * that judgement depends on, the trust store, the CRLs and the settings,
 * is fixed for the life of one struct certs (a reload makes a new one);
 * what is left is time. So a "valid" judgement is remembered for the
 * address and those exact certificate bytes until the certificate or
 * anything in the trust store expires (a CRL's next update included),
 * and at most VERDICT_MAX_AGE: OpenSSL's parse and chain check cost a
 * half millisecond, which every message to a certificate recipient paid.
 *
 * A struct certs made by certs_new_cached has the trust store but no
 * directory pool: it answers from the cache alone (sikkermail-ctl replay).
 *
 * Domain certificates (certs.h) go through the same code under the key
 * "@domain": the directory is asked with LDAPDomainFilter and the
 * certificate judged for the bare domain (name_of). The imported ones
 * are read from the store at each use and judged there, with the same
 * remembered verdicts.
 *
 * Exports: certs_new, certs_new_cached, certs_free, certs_lookup,
 * certs_lookup_now, cert_summary_free, certs_directory_queries (certs.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "certcheck.h"
#include "certs.h"
#include "directory.h"
#include "log.h"
#include "util.h"

/* One directory query in progress, shared by every thread asking for its address. */
struct inflight {
	struct inflight *next;
	char *address;
	int waiters;		/* threads besides the leader holding a reference */
	bool done;
	enum lookup result;
	struct cert_cache_entry answer;	/* what the leader found (valid when done) */
	char *error;
};

#define VERDICTS 256		/* remembered "valid" judgements, by hash */
#define VERDICT_MAX_AGE 60	/* seconds */

/* One remembered "valid" judgement. */
struct verdict {
	char *address;
	unsigned char *der;
	size_t der_len;
	long long until;	/* valid before this time */
};

struct verdicts {
	pthread_mutex_t lock;
	struct verdict slot[VERDICTS];
};

/* The trust store and the directory pool of one configuration (a runtime). */
struct certs {
	struct config *cfg;		/* referenced */
	struct directory *dir;		/* NULL: no LDAPURI, nobody has a certificate */
	struct certcheck *check;
	bool cache_only;		/* certs_new_cached: the cache answers, never the directory */
	struct verdicts *verdicts;	/* mutable under its lock, though certs is not */
};

static pthread_mutex_t inflight_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t inflight_cond = PTHREAD_COND_INITIALIZER;
static struct inflight *inflight_list;
static atomic_ulong directory_queries;

static struct certs *make(struct config *cfg, bool cache_only, char **err);
static enum lookup lookup(const struct certs *cs, struct store *store, const char *address,
			  bool use_cache, struct cert_summary *out);
static enum lookup lookup_cached(const struct certs *cs, struct store *store, const char *address,
				 struct cert_summary *out);
static enum lookup ask_directory(const struct certs *cs, const char *address,
				 struct cert_cache_entry *e, struct strlist *rejected, char **error);
static enum lookup shared_query(const struct certs *cs, struct store *store,
				const char *address, bool use_cache, struct cert_cache_entry *e,
				struct strlist *rejected, char **error);
static bool cached_meanwhile(const struct certs *cs, struct store *store, const char *address,
			     struct cert_cache_entry *e);
static void entry_copy(struct cert_cache_entry *dst, const struct cert_cache_entry *src);
static enum lookup summarise(const struct cert_cache_entry *e, struct cert_summary *out);
static int still_valid(const struct certs *cs, const char *address,
		       const struct cert_cache_entry *e, long long now, struct cert_summary *out);
static struct verdict *verdict_slot(const struct certs *cs, const char *address,
				    const unsigned char *der, size_t len);
static bool verdict_known(const struct certs *cs, const char *address,
			  const struct cert_cache_entry *e, long long now);
static void verdict_keep(const struct certs *cs, const char *address,
			 const struct cert_cache_entry *e, long long now);
static const char *name_of(const char *key);
static enum lookup with_domain(const struct certs *cs, struct store *store,
			       const struct address *addr, bool use_cache, enum lookup r,
			       struct cert_summary *out);
static enum lookup lookup_imported(const struct certs *cs, struct store *store,
				   const char *domain, struct cert_summary *out);
static void adopt(struct cert_summary *out, struct cert_summary *d, bool found);

struct certs *certs_new(struct config *cfg, char **err)
{
	return make(cfg, false, err);
}

struct certs *certs_new_cached(struct config *cfg, char **err)
{
	return make(cfg, true, err);
}

static struct certs *make(struct config *cfg, bool cache_only, char **err)
{
	struct certs *cs = xcalloc(1, sizeof(*cs));

	*err = NULL;
	cs->cfg = config_ref(cfg);
	cs->verdicts = xcalloc(1, sizeof(*cs->verdicts));
	pthread_mutex_init(&cs->verdicts->lock, NULL);
	if (cfg->n_ldap_uri == 0 && !cfg->domain_certificates)
		return cs;
	if (cfg->trusted_ca_file == NULL) {
		*err = xstrdup(cfg->n_ldap_uri > 0
				       ? "LDAPURI is set but TrustedCAFile is not: no certificate "
					 "could be trusted"
				       : "DomainCertificates is on but TrustedCAFile is not: no "
					 "certificate could be trusted");
		goto fail;
	}
	if ((cs->check = certcheck_new(cfg, err)) == NULL)
		goto fail;
	if (cfg->n_ldap_uri == 0)
		return cs;	/* imported domain certificates only */
	cs->cache_only = cache_only;
	if (!cache_only && (cs->dir = directory_new(cfg, err)) == NULL)
		goto fail;
	return cs;
fail:
	certs_free(cs);
	return NULL;
}

void certs_free(struct certs *cs)
{
	if (cs == NULL)
		return;
	directory_free(cs->dir);
	certcheck_free(cs->check);
	config_unref(cs->cfg);
	if (cs->verdicts != NULL) {
		for (size_t i = 0; i < VERDICTS; i++) {
			free(cs->verdicts->slot[i].address);
			free(cs->verdicts->slot[i].der);
		}
		pthread_mutex_destroy(&cs->verdicts->lock);
		free(cs->verdicts);
	}
	free(cs);
}

unsigned long certs_directory_queries(void)
{
	return atomic_load(&directory_queries);
}

enum lookup certs_lookup(const struct certs *cs, struct store *store, const struct address *addr,
			 struct cert_summary *out)
{
	return with_domain(cs, store, addr, true, lookup(cs, store, addr->full, true, out), out);
}

enum lookup certs_lookup_now(const struct certs *cs, struct store *store,
			     const struct address *addr, struct cert_summary *out)
{
	return with_domain(cs, store, addr, false, lookup(cs, store, addr->full, false, out), out);
}

/* name_of - what a cache key's certificate must name: the address, or the domain of "@domain". */
static const char *name_of(const char *key)
{
	return key[0] == '@' ? key + 1 : key;
}

/*
 * with_domain - r is the answer for the address itself; without a valid
 * personal certificate, and with DomainCertificates, the domain's: the
 * imported ones first, then the directory's entry for the domain.
 */
static enum lookup with_domain(const struct certs *cs, struct store *store,
			       const struct address *addr, bool use_cache, enum lookup r,
			       struct cert_summary *out)
{
	struct cert_summary d;
	char *key;

	if (r != LOOKUP_NOTFOUND || !cs->cfg->domain_certificates || cs->check == NULL)
		return r;
	memset(&d, 0, sizeof(d));
	strlist_init(&d.rejected);
	r = lookup_imported(cs, store, addr->domain, &d);
	if (r == LOOKUP_NOTFOUND) {
		adopt(out, &d, false);	/* keeps why the imported ones are not usable */
		key = xasprintf("@%s", addr->domain);
		r = lookup(cs, store, key, use_cache, &d);
		free(key);
	}
	if (r == LOOKUP_FOUND)
		d.domain = xstrdup(addr->domain);
	adopt(out, &d, r == LOOKUP_FOUND);
	return r;
}

/*
 * adopt - the domain's answer d joins the address's in out: its
 * rejections always, its certificate when found, its error on RETRY.
 * d is released.
 */
static void adopt(struct cert_summary *out, struct cert_summary *d, bool found)
{
	for (size_t i = 0; i < d->rejected.n; i++)
		strlist_addf(&out->rejected, "domain %s", d->rejected.v[i]);
	if (found) {
		struct strlist keep = out->rejected;

		strlist_init(&out->rejected);
		cert_summary_free(out);
		strlist_free(&d->rejected);
		*out = *d;
		out->rejected = keep;
		memset(d, 0, sizeof(*d));
		return;
	}
	if (d->error != NULL) {
		free(out->error);
		out->error = d->error;
		d->error = NULL;
	}
	cert_summary_free(d);
}

/*
 * lookup_imported - the imported certificates for domain, judged now: the
 * valid one that expires last. NOTFOUND when none is valid (why joins
 * out->rejected); RETRY when the store cannot answer, or none is valid
 * and one cannot be judged now.
 */
static enum lookup lookup_imported(const struct certs *cs, struct store *store,
				   const char *domain, struct cert_summary *out)
{
	struct domain_certs l;
	long long now = (long long)time(NULL);
	const struct domain_cert *best = NULL;
	char *key, *undecided = NULL;
	enum lookup r;

	if (store == NULL)
		return LOOKUP_NOTFOUND;
	if ((r = store_domain_certs_get(store, domain, &l)) != LOOKUP_FOUND) {
		if (r == LOOKUP_RETRY)
			out->error = xasprintf("imported domain certificates: %s",
					       store_errmsg(store));
		return r;
	}
	key = xasprintf("@%s", domain);
	for (size_t i = 0; i < l.n; i++) {
		const struct domain_cert *d = &l.v[i];
		struct cert_cache_entry e = { .found = true, .der = d->der, .der_len = d->der_len,
					      .not_after = d->not_after };
		char *reason = NULL;
		int rc = verdict_known(cs, key, &e, now) ? 1
			 : certcheck_check_der(cs->check, domain, d->der, d->der_len, (time_t)now,
					       &reason);

		if (rc == 1) {
			verdict_keep(cs, key, &e, now);
			if (best == NULL || d->not_after > best->not_after)
				best = d;
		} else if (rc == 0) {
			strlist_addf(&out->rejected, "%s (imported, %s:%ld): %s",
				     d->subject ? d->subject : "?", d->source ? d->source : "-",
				     d->line, reason ? reason : "not valid");
		} else if (undecided == NULL) {
			undecided = xasprintf("the imported certificate for %s cannot be judged "
					      "now: %s", domain, reason ? reason : "?");
		}
		free(reason);
	}
	r = LOOKUP_NOTFOUND;
	if (best != NULL) {
		struct cert_choice c;
		char *err = NULL;

		if (certcheck_parse_one(best->der, best->der_len, &c, &err) == 1) {
			out->subject = c.subject;
			out->issuer = c.issuer;
			out->fingerprint = c.fingerprint;
			c.subject = c.issuer = c.fingerprint = NULL;
			out->der = c.der;
			out->der_len = c.der_len;
			c.der = NULL;
			out->not_before = (long long)c.not_before;
			out->not_after = (long long)c.not_after;
			out->source = xasprintf("%s:%ld", best->source ? best->source : "(import)",
						best->line);
			out->fetched_at = best->imported_at;
			r = LOOKUP_FOUND;
		} else {
			out->error = err;
			err = NULL;
			r = LOOKUP_RETRY;
		}
		cert_choice_free(&c);
		free(err);
	} else if (undecided != NULL) {
		out->error = undecided;
		undecided = NULL;
		r = LOOKUP_RETRY;
	}
	free(undecided);
	free(key);
	domain_certs_free(&l);
	return r;
}

/*
 * lookup - a fresh cache entry answers at once; otherwise the directory is
 * asked (once for all threads) and the answer cached; if the directory is
 * down, a cache entry fetched less than MaxStale ago still answers.
 */
static enum lookup lookup(const struct certs *cs, struct store *store, const char *address,
			  bool use_cache, struct cert_summary *out)
{
	const struct config *cfg = cs->cfg;
	struct cert_cache_entry cached = { 0 }, fetched = { 0 };
	long long now = (long long)time(NULL);
	enum lookup have = LOOKUP_NOTFOUND, r;

	memset(out, 0, sizeof(*out));
	strlist_init(&out->rejected);
	if (cs->cache_only)
		return lookup_cached(cs, store, address, out);
	if (cs->dir == NULL)
		return LOOKUP_NOTFOUND;	/* no directory configured: nobody has a certificate */
	if (store != NULL)
		have = store_cert_get(store, address, &cached);
	if (use_cache && have == LOOKUP_FOUND && cached.fresh_until > now &&
	    (!cached.found || cached.not_after > now)) {
		switch (still_valid(cs, address, &cached, now, out)) {
		case 1:
			out->from_cache = true;
			r = summarise(&cached, out);
			goto out;
		case -1:
			r = LOOKUP_RETRY;
			goto out;
		default:	/* no longer valid here and now: ask the directory again */
			break;
		}
	}
	r = shared_query(cs, store, address, use_cache, &fetched, &out->rejected, &out->error);
	if (r != LOOKUP_RETRY) {
		r = summarise(&fetched, out);
		goto out;
	}
	if (have == LOOKUP_FOUND && cached.fetched_at + cfg->max_stale > now &&
	    (!cached.found || cached.not_after > now)) {
		char *down = out->error;

		out->error = NULL;
		switch (still_valid(cs, address, &cached, now, out)) {
		case 1:
			msg_warn("certificate directory unavailable (%s); using the cached answer for "
				 "%s fetched %lld s ago", down ? down : "?", log_addr(address),
				 now - cached.fetched_at);
			out->from_cache = out->stale = true;
			r = summarise(&cached, out);
			break;
		case 0:
			/*
			 * Not valid as cached (revoked since, or it needed
			 * intermediates the cache does not keep): with the
			 * directory down nothing better can be known now.
			 */
			out->error = xasprintf("the cached certificate for %s is not valid now, and the "
					       "directory cannot be asked", address);
			break;
		default:
			break;
		}
		if (out->error == NULL)
			out->error = down;
		else
			free(down);
	}
out:
	cert_cache_entry_free(&cached);
	cert_cache_entry_free(&fetched);
	return r;
}

/*
 * lookup_cached - the cache alone, whatever the age of its answer: a
 * cached certificate still valid here and now is found; none cached, or
 * one no longer valid, is not.
 */
static enum lookup lookup_cached(const struct certs *cs, struct store *store, const char *address,
				 struct cert_summary *out)
{
	struct cert_cache_entry cached = { 0 };
	enum lookup r = store != NULL ? store_cert_get(store, address, &cached) : LOOKUP_NOTFOUND;

	if (r == LOOKUP_FOUND) {
		out->from_cache = true;
		switch (still_valid(cs, address, &cached, (long long)time(NULL), out)) {
		case 1:
			r = summarise(&cached, out);
			break;
		case 0:
			r = LOOKUP_NOTFOUND;
			break;
		default:
			r = LOOKUP_RETRY;
			break;
		}
	}
	cert_cache_entry_free(&cached);
	return r;
}

/*
 * still_valid - a cached certificate is judged again at every use, against
 * the trust store, CRLs and settings of now: a new CRL, a CA taken out of
 * TrustedCAFile or AcceptSubjectEmail turned off count at once. A cached
 * "none found" needs no judging. 1 usable; 0 not (the reason joins
 * out->rejected); -1 cannot be judged now (out->error).
 */
static int still_valid(const struct certs *cs, const char *address,
		       const struct cert_cache_entry *e, long long now, struct cert_summary *out)
{
	char *reason = NULL;
	int rc;

	if (!e->found || verdict_known(cs, address, e, now))
		return 1;
	rc = certcheck_check_der(cs->check, name_of(address), e->der, e->der_len, (time_t)now,
				 &reason);
	if (rc == 1)
		verdict_keep(cs, address, e, now);
	if (rc == 0)
		strlist_addf(&out->rejected, "%s (cached): %s", e->subject ? e->subject : "?",
			     reason ? reason : "not valid");
	else if (rc < 0)
		out->error = xasprintf("the cached certificate cannot be judged now: %s",
				       reason ? reason : "?");
	free(reason);
	return rc;
}

/* verdict_slot - where a judgement of (address, der) is kept: FNV-1a of both. */
static struct verdict *verdict_slot(const struct certs *cs, const char *address,
				    const unsigned char *der, size_t len)
{
	uint32_t h = 2166136261u;

	for (const char *p = address; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ der[i]) * 16777619u;
	return &cs->verdicts->slot[h % VERDICTS];
}

/* verdict_known - was this certificate found valid for address, still in force at now? */
static bool verdict_known(const struct certs *cs, const char *address,
			  const struct cert_cache_entry *e, long long now)
{
	struct verdict *v = verdict_slot(cs, address, e->der, e->der_len);
	bool known;

	pthread_mutex_lock(&cs->verdicts->lock);
	known = v->address != NULL && now < v->until && v->der_len == e->der_len &&
		strcmp(v->address, address) == 0 && memcmp(v->der, e->der, e->der_len) == 0;
	pthread_mutex_unlock(&cs->verdicts->lock);
	return known;
}

/* verdict_keep - remember "valid" until the certificate or the trust store expires, or a while. */
static void verdict_keep(const struct certs *cs, const char *address,
			 const struct cert_cache_entry *e, long long now)
{
	long long until = now + VERDICT_MAX_AGE, store = certcheck_changes_at(cs->check);
	struct verdict *v;

	if (e->not_after > 0 && e->not_after < until)
		until = e->not_after;
	if (store > 0 && store < until)
		until = store;
	if (until <= now)
		return;
	v = verdict_slot(cs, address, e->der, e->der_len);
	pthread_mutex_lock(&cs->verdicts->lock);
	free(v->address);
	free(v->der);
	v->address = xstrdup(address);
	v->der = xmalloc(e->der_len);
	memcpy(v->der, e->der, e->der_len);
	v->der_len = e->der_len;
	v->until = until;
	pthread_mutex_unlock(&cs->verdicts->lock);
}

/* summarise - a cache entry as the caller's summary: FOUND or NOTFOUND. */
static enum lookup summarise(const struct cert_cache_entry *e, struct cert_summary *out)
{
	out->fetched_at = e->fetched_at;
	out->source = e->source ? xstrdup(e->source) : NULL;
	if (!e->found)
		return LOOKUP_NOTFOUND;
	out->subject = e->subject ? xstrdup(e->subject) : NULL;
	out->issuer = e->issuer ? xstrdup(e->issuer) : NULL;
	out->fingerprint = e->fingerprint ? xstrdup(e->fingerprint) : NULL;
	out->not_before = e->not_before;
	out->not_after = e->not_after;
	out->der = xmalloc(e->der_len);
	memcpy(out->der, e->der, e->der_len);
	out->der_len = e->der_len;
	return LOOKUP_FOUND;
}

/*
 * shared_query - one directory query per address at a time: the leader
 * asks and caches the answer before it lets the others, who wait for it
 * (bounded by twice LDAPTimeout), take it. Caching inside the window means
 * a thread arriving just after finds the cache, not an empty slot.
 */
static enum lookup shared_query(const struct certs *cs, struct store *store,
				const char *address, bool use_cache, struct cert_cache_entry *e,
				struct strlist *rejected, char **error)
{
	const struct config *cfg = cs->cfg;
	struct inflight *f, **pp;
	struct timespec deadline;
	enum lookup r;

	pthread_mutex_lock(&inflight_lock);
	for (f = inflight_list; f != NULL; f = f->next)
		if (strcmp(f->address, address) == 0)
			break;
	if (f != NULL) {
		/* the leader's limit, or this thread's own budget if that ends first */
		long long wait_ms = (2LL * cfg->ldap_timeout + 1) * 1000, left = directory_budget_left();
		bool budget = left >= 0 && left < wait_ms;

		if (budget)
			wait_ms = left;
		f->waiters++;
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += (time_t)(wait_ms / 1000);
		deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
		while (!f->done)
			if (pthread_cond_timedwait(&inflight_cond, &inflight_lock, &deadline) ==
			    ETIMEDOUT)
				break;
		r = f->done ? f->result : LOOKUP_RETRY;
		if (f->done && r != LOOKUP_RETRY)
			entry_copy(e, &f->answer);
		if (r == LOOKUP_RETRY)
			*error = xstrdup(f->done && f->error ? f->error
					 : budget ? "waiting for the directory: the message's time "
						    "budget is spent"
						  : "waiting for the directory timed out");
		if (--f->waiters == 0 && f->done) {
			cert_cache_entry_free(&f->answer);
			free(f->error);
			free(f->address);
			free(f);
		}
		pthread_mutex_unlock(&inflight_lock);
		return r;
	}
	f = xcalloc(1, sizeof(*f));
	f->address = xstrdup(address);
	f->next = inflight_list;
	inflight_list = f;
	pthread_mutex_unlock(&inflight_lock);

	/*
	 * A leader that finished between our look at the cache and now left
	 * its answer there, not in the in-flight list: take it rather than
	 * ask the directory a second time.
	 */
	if (use_cache && cached_meanwhile(cs, store, address, e)) {
		r = e->found ? LOOKUP_FOUND : LOOKUP_NOTFOUND;
	} else {
		r = ask_directory(cs, address, e, rejected, error);
		if (r != LOOKUP_RETRY && store != NULL && store_cert_put(store, address, e) != 0)
			msg_warn("certificate cache: cannot store %s: %s", log_addr(address),
				 store_errmsg(store));
	}

	pthread_mutex_lock(&inflight_lock);
	for (pp = &inflight_list; *pp != f; pp = &(*pp)->next)
		;
	*pp = f->next;
	f->done = true;
	f->result = r;
	if (r != LOOKUP_RETRY)
		entry_copy(&f->answer, e);
	f->error = *error ? xstrdup(*error) : NULL;
	if (f->waiters == 0) {
		cert_cache_entry_free(&f->answer);
		free(f->error);
		free(f->address);
		free(f);
	}
	pthread_cond_broadcast(&inflight_cond);
	pthread_mutex_unlock(&inflight_lock);
	return r;
}

/*
 * cached_meanwhile - a cache entry for address that another leader has
 * just fetched, and that is valid here and now (the caller may have come
 * because the entry it saw was not)?
 */
static bool cached_meanwhile(const struct certs *cs, struct store *store, const char *address,
			     struct cert_cache_entry *e)
{
	long long now = (long long)time(NULL);
	char *reason = NULL;

	if (store == NULL || store_cert_get(store, address, e) != LOOKUP_FOUND)
		return false;
	if (e->fresh_until > now && (!e->found || e->not_after > now) && e->fetched_at >= now - 1 &&
	    (!e->found || verdict_known(cs, address, e, now) ||
	     certcheck_check_der(cs->check, name_of(address), e->der, e->der_len, (time_t)now,
				 &reason) == 1)) {
		free(reason);
		return true;
	}
	free(reason);
	cert_cache_entry_free(e);
	memset(e, 0, sizeof(*e));
	return false;
}

/* ask_directory - query, validate, and turn the answer into a cache entry. */
static enum lookup ask_directory(const struct certs *cs, const char *address,
				 struct cert_cache_entry *e, struct strlist *rejected, char **error)
{
	const struct config *cfg = cs->cfg;
	struct dir_result dr;
	struct cert_choice choice;
	long long now = (long long)time(NULL);
	enum lookup r;
	int ok;

	memset(e, 0, sizeof(*e));
	memset(&dr, 0, sizeof(dr));
	atomic_fetch_add(&directory_queries, 1);
	r = address[0] == '@' ? directory_lookup_domain(cs->dir, address + 1, &dr)
			      : directory_lookup(cs->dir, address, &dr);
	if (r == LOOKUP_RETRY) {
		msg_warn("certificate directory lookup for %s failed: %s", log_addr(address),
			 dr.error ? dr.error : "unknown error");
		*error = xstrdup(dr.error ? dr.error : "certificate directory unavailable");
		dir_result_free(&dr);
		return LOOKUP_RETRY;
	}
	e->fetched_at = now;
	e->source = dr.server ? xstrdup(dr.server) : NULL;
	cert_choice_init(&choice);
	ok = r == LOOKUP_FOUND
		     ? certcheck_choose(cs->check, name_of(address), &dr, (time_t)now, &choice)
		     : 0;
	for (size_t i = 0; i < choice.rejected.n; i++) {
		/* the reason names the certificate's holder: withheld with the address */
		if (!log_addresses_redacted())
			msg_info("certificate for %s not usable: %s", address, choice.rejected.v[i]);
		strlist_add(rejected, choice.rejected.v[i]);
	}
	if (ok < 0) {
		/* garbage from the directory is a failure of the directory, not "no certificate" */
		*error = xstrdup(choice.error ? choice.error : "certificate check failed");
		r = LOOKUP_RETRY;
		cert_cache_entry_free(e);
	} else if (ok > 0) {
		e->found = true;
		e->der = choice.der;
		e->der_len = choice.der_len;
		choice.der = NULL;
		e->subject = choice.subject ? xstrdup(choice.subject) : NULL;
		e->issuer = choice.issuer ? xstrdup(choice.issuer) : NULL;
		e->fingerprint = choice.fingerprint ? xstrdup(choice.fingerprint) : NULL;
		e->not_before = (long long)choice.not_before;
		e->not_after = (long long)choice.not_after;
		e->fresh_until = now + cfg->cert_ttl < e->not_after ? now + cfg->cert_ttl
								    : e->not_after;
		r = LOOKUP_FOUND;
	} else {
		e->found = false;
		e->fresh_until = now + cfg->negative_ttl;
		r = LOOKUP_NOTFOUND;
	}
	cert_choice_free(&choice);
	dir_result_free(&dr);
	return r;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void entry_copy(struct cert_cache_entry *dst, const struct cert_cache_entry *src)
{
	*dst = *src;
	dst->subject = dup_or_null(src->subject);
	dst->issuer = dup_or_null(src->issuer);
	dst->fingerprint = dup_or_null(src->fingerprint);
	dst->source = dup_or_null(src->source);
	dst->der = NULL;
	if (src->der != NULL) {
		dst->der = xmalloc(src->der_len);
		memcpy(dst->der, src->der, src->der_len);
	}
}

void cert_summary_free(struct cert_summary *c)
{
	free(c->subject);
	free(c->issuer);
	free(c->fingerprint);
	free(c->source);
	free(c->domain);
	free(c->der);
	free(c->error);
	strlist_free(&c->rejected);
	memset(c, 0, sizeof(*c));
}

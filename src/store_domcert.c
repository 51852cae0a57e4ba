/*
 * store_domcert.c - the domain certificates imported with sikkermail-ctl
 * import domain-certs: one row per certificate and domain, with the file
 * and line it came from and when it was imported. An import replaces
 * every row in one transaction, so a reader sees the old set or the new,
 * never a mixture. The certificates are judged again at each use
 * (certs.c); what is stored here is only what the import accepted.
 *
 * Exports store_domain_certs_replace, store_domain_certs_get and
 * domain_certs_free (store.h).
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "util.h"

static int replace_locked(struct store *s, const struct domain_certs *l, long long now);
static void row_to_cert(sqlite3_stmt *st, struct domain_cert *d);

int store_domain_certs_replace(struct store *s, const struct domain_certs *l, long long now,
			       char **err)
{
	*err = NULL;
	if (store_write_begin(s) < 0 || store_write_end(s, replace_locked(s, l, now)) < 0) {
		*err = xstrdup(s->errmsg);
		return -1;
	}
	return 0;
}

/* replace_locked - delete the old set and insert the new, inside the caller's transaction. */
static int replace_locked(struct store *s, const struct domain_certs *l, long long now)
{
	sqlite3_stmt *ins = NULL;
	int rc = -1;

	if (store_exec(s, "DELETE FROM domain_cert") < 0)
		return -1;
	if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO domain_cert (domain, fingerprint,"
			       " der, subject, not_after, source, line, imported_at)"
			       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
			       -1, &ins, NULL) != SQLITE_OK) {
		store_set_db_err(s, "cannot import the domain certificates");
		return -1;
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct domain_cert *d = &l->v[i];

		sqlite3_bind_text(ins, 1, d->domain, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 2, d->fingerprint, -1, SQLITE_STATIC);
		sqlite3_bind_blob(ins, 3, d->der, (int)d->der_len, SQLITE_STATIC);
		store_bind_text(ins, 4, d->subject);
		sqlite3_bind_int64(ins, 5, d->not_after);
		store_bind_text(ins, 6, d->source);
		sqlite3_bind_int64(ins, 7, d->line);
		sqlite3_bind_int64(ins, 8, now);
		if (sqlite3_step(ins) != SQLITE_DONE) {
			store_set_err(s, "database %s: cannot insert the certificate for %s "
				      "(line %ld): %s", s->path, d->domain, d->line,
				      sqlite3_errmsg(s->db));
			goto out;
		}
		sqlite3_reset(ins);
		sqlite3_clear_bindings(ins);
	}
	rc = 0;
out:
	sqlite3_finalize(ins);
	return rc;
}

enum lookup store_domain_certs_get(struct store *s, const char *domain, struct domain_certs *out)
{
	sqlite3_stmt *st = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	/* one domain is asked for each recipient: that statement is kept prepared */
	if (domain != NULL) {
		if ((st = store_stmt_get(s, ST_DOMCERT_GET)) == NULL)
			return LOOKUP_RETRY;
	} else if (sqlite3_prepare_v2(s->db, "SELECT domain, der, subject, fingerprint, not_after,"
				      " source, line, imported_at FROM domain_cert"
				      " ORDER BY domain, not_after DESC, fingerprint", -1, &st,
				      NULL) != SQLITE_OK) {
		store_set_db_err(s, "cannot read the domain certificates");
		return LOOKUP_RETRY;
	}
	if (domain != NULL)
		store_bind_text(st, 1, domain);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		out->v = xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
		row_to_cert(st, &out->v[out->n++]);
	}
	if (rc != SQLITE_DONE) {
		store_set_db_err(s, "cannot read the domain certificates");
		domain_certs_free(out);
	}
	if (domain != NULL)
		store_stmt_done(st);
	else
		sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return LOOKUP_RETRY;
	return out->n > 0 ? LOOKUP_FOUND : LOOKUP_NOTFOUND;
}

static void row_to_cert(sqlite3_stmt *st, struct domain_cert *d)
{
	memset(d, 0, sizeof(*d));
	d->domain = store_column_dup(st, 0);
	d->der = store_column_blob(st, 1, &d->der_len);
	d->subject = store_column_dup(st, 2);
	d->fingerprint = store_column_dup(st, 3);
	d->not_after = sqlite3_column_int64(st, 4);
	d->source = store_column_dup(st, 5);
	d->line = (long)sqlite3_column_int64(st, 6);
	d->imported_at = sqlite3_column_int64(st, 7);
}

void domain_certs_free(struct domain_certs *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].domain);
		free(l->v[i].der);
		free(l->v[i].subject);
		free(l->v[i].fingerprint);
		free(l->v[i].source);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

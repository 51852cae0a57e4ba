/*
 * directory_int.h - what directory.c (the LDAP calls) and
 * directory_state.c (the servers' bookkeeping) share, and nothing else
 * may see. struct dir_conn, which holds an LDAP handle, stays opaque here
 * so that only directory.c needs <ldap.h>.
 */
#ifndef SIKKERMAIL_DIRECTORY_INT_H
#define SIKKERMAIL_DIRECTORY_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define DIR_POOL_IDLE 8		/* idle connections kept per server */
#define DIR_PASSWORD_MAX 1024

struct dir_conn;

struct dir_server {
	char *uri;
	time_t down_until;	/* in back-off until then (directory_clock) */
	long backoff;		/* the last back-off, seconds; 0 = healthy */
	struct dir_conn *idle[DIR_POOL_IDLE];
	size_t n_idle;
};

struct directory {
	pthread_mutex_t lock;	/* guards the servers' state and idle lists */
	struct dir_server *servers;
	size_t n_servers;
	char *base;
	char *filter;
	char *domain_filter;	/* LDAPDomainFilter */
	char *bind_dn;		/* NULL: anonymous */
	char *password;
	char *ca_file;
	bool starttls;		/* LDAPStartTLS */
	int timeout;		/* seconds, per lookup */
};

/* directory_conn_free - close a connection (directory.c). */
void directory_conn_free(struct dir_conn *c);
/*
 * directory_order - healthy servers in LDAPURI order, then those in
 * back-off by the end of their back-off; *n_healthy gets how many are
 * healthy. Returns the number in order[] (dir->n_servers).
 */
size_t directory_order(struct directory *dir, time_t now, size_t *order, size_t *n_healthy);
/* directory_read_password - the first line of file; NULL with *err. */
char *directory_read_password(const char *file, char **err);

#endif

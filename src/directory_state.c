/*
 * directory_state.c - the LDAP servers' state: their order for the next
 * lookup and their back-off after a failure, and the bind password file.
 * No LDAP library code here (that is directory.c): plain bookkeeping under
 * the directory's lock.
 *
 * Exports directory_plan, directory_server_failed, directory_server_ok,
 * directory_server_uri, directory_server_backoff (directory.h), and
 * directory_order, directory_read_password (directory_int.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "directory.h"
#include "directory_int.h"
#include "log.h"
#include "util.h"

/* directory_read_password - the first line of file, without its line end. */
char *directory_read_password(const char *file, char **err)
{
	char buf[DIR_PASSWORD_MAX + 2];
	struct stat st;
	FILE *fp = fopen(file, "r");

	if (fp == NULL) {
		*err = xasprintf("LDAPBindPasswordFile %s: %s", file, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(fp), &st) == 0 && (st.st_mode & S_IROTH))
		msg_warn("LDAPBindPasswordFile %s is readable by everyone; make it mode 0600 or 0640",
			 file);
	if (fgets(buf, sizeof(buf), fp) == NULL)
		buf[0] = '\0';
	fclose(fp);
	buf[strcspn(buf, "\r\n")] = '\0';
	if (buf[0] == '\0' || strlen(buf) > DIR_PASSWORD_MAX) {
		*err = xasprintf("LDAPBindPasswordFile %s: %s", file,
				 buf[0] ? "the password is too long" : "no password on its first line");
		explicit_bzero(buf, sizeof(buf));
		return NULL;
	}
	char *pw = xstrdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return pw;
}

/*
 * directory_order - healthy servers in LDAPURI order, then those in back-off by the
 * end of their back-off. *n_healthy gets the number of healthy ones.
 */
size_t directory_order(struct directory *dir, time_t now, size_t *order, size_t *n_healthy)
{
	size_t n = 0;

	pthread_mutex_lock(&dir->lock);
	for (size_t i = 0; i < dir->n_servers; i++)
		if (dir->servers[i].down_until <= now)
			order[n++] = i;
	*n_healthy = n;
	for (size_t i = 0; i < dir->n_servers; i++) {
		if (dir->servers[i].down_until <= now)
			continue;
		size_t k = n++;
		/* insertion by down_until; stable for equal times */
		while (k > *n_healthy && dir->servers[order[k - 1]].down_until > dir->servers[i].down_until) {
			order[k] = order[k - 1];
			k--;
		}
		order[k] = i;
	}
	pthread_mutex_unlock(&dir->lock);
	return n;
}

size_t directory_plan(struct directory *dir, time_t now, size_t *order, size_t max)
{
	size_t all[dir->n_servers + 1], healthy;
	size_t n = directory_order(dir, now, all, &healthy);

	for (size_t i = 0; i < n && i < max; i++)
		order[i] = all[i];
	return n;
}

void directory_server_failed(struct directory *dir, size_t server, time_t now)
{
	struct dir_conn *stale[DIR_POOL_IDLE];
	size_t n_stale;
	struct dir_server *s;
	bool was_up;
	long backoff;

	if (server >= dir->n_servers)
		return;
	s = &dir->servers[server];
	pthread_mutex_lock(&dir->lock);
	was_up = s->backoff == 0;
	s->backoff = s->backoff ? s->backoff * 2 : DIR_BACKOFF_MIN;
	if (s->backoff > DIR_BACKOFF_MAX)
		s->backoff = DIR_BACKOFF_MAX;
	s->down_until = now + s->backoff;
	/* Its idle connections are most likely dead too. */
	n_stale = s->n_idle;
	memcpy(stale, s->idle, n_stale * sizeof(stale[0]));
	s->n_idle = 0;
	backoff = (long)s->backoff;
	pthread_mutex_unlock(&dir->lock);
	/* one line when a server goes down, one when it is back: not one per lookup */
	if (was_up)
		msg_warn("directory down uri=%s retry_in=%lds", s->uri, backoff);
	for (size_t i = 0; i < n_stale; i++)
		directory_conn_free(stale[i]);
}

void directory_server_ok(struct directory *dir, size_t server)
{
	bool was_down;

	if (server >= dir->n_servers)
		return;
	pthread_mutex_lock(&dir->lock);
	was_down = dir->servers[server].backoff != 0;
	dir->servers[server].backoff = 0;
	dir->servers[server].down_until = 0;
	pthread_mutex_unlock(&dir->lock);
	if (was_down)
		msg_notice("directory up uri=%s", dir->servers[server].uri);
}

const char *directory_server_uri(const struct directory *dir, size_t server)
{
	return server < dir->n_servers ? dir->servers[server].uri : NULL;
}

long directory_server_backoff(struct directory *dir, size_t server, time_t now)
{
	long left = 0;

	if (server >= dir->n_servers)
		return 0;
	pthread_mutex_lock(&dir->lock);
	if (dir->servers[server].down_until > now)
		left = (long)(dir->servers[server].down_until - now);
	pthread_mutex_unlock(&dir->lock);
	return left;
}


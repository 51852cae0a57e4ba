/*
 * fuzz_config.c - the configuration parser (config.c, config_values.c) on
 * a whole sikkermail.conf held in memory: config_parse is what config_load
 * calls once it has read the file.
 *
 * Invariants: a file is either accepted or refused with at least one
 * error; what an accepted file dumps (sikkermail-milter -n prints the
 * same) parses again, to the same configuration. What the daemon asks of
 * an accepted configuration (is a client internal, where was a key set,
 * which mailbox) is asked too.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "config.h"
#include "fuzz.h"

/* use - the questions the daemon and sikkermail-ctl ask of a loaded configuration. */
static void use(const struct config *c)
{
	static const char *const v4[] = { "127.0.0.1", "10.1.2.3", "192.0.2.1", "255.255.255.255" };
	static const char *const v6[] = { "::1", "2001:db8:4b50::1", "fe80::1", "::ffff:10.0.0.1" };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	char *where;

	for (size_t i = 0; i < sizeof(v4) / sizeof(v4[0]); i++) {
		inet_pton(AF_INET, v4[i], &sin.sin_addr);
		(void)config_is_internal_network(c, (const struct sockaddr *)&sin);
	}
	for (size_t i = 0; i < sizeof(v6) / sizeof(v6[0]); i++) {
		inet_pton(AF_INET6, v6[i], &sin6.sin6_addr);
		(void)config_is_internal_network(c, (const struct sockaddr *)&sin6);
	}
	(void)config_socket_path(c->socket);
	where = config_where(c, "InternalDomains");
	free(where);
	where = config_where(c, "Socket");
	free(where);
	for (size_t i = 0; i < c->n_mailboxes; i++) {
		FUZZ_ASSERT(config_find_mailbox(c, c->mailboxes[i].address) != NULL);
		where = config_where_mailbox(c, &c->mailboxes[i]);
		free(where);
	}
	if (c->default_secure_mailbox != NULL && c->n_mailboxes > 0)
		FUZZ_ASSERT(config_find_mailbox(c, c->default_secure_mailbox) != NULL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strlist errors = { 0 };
	struct strbuf dump, again;
	struct config *c, *c2;

	c = config_parse("fuzz.conf", (const char *)data, size, &errors);
	if (c == NULL) {
		FUZZ_ASSERT(errors.n > 0);
		for (size_t i = 0; getenv("FUZZ_VERBOSE") != NULL && i < errors.n; i++)
			fprintf(stderr, "%s\n", errors.v[i]);
		strlist_free(&errors);
		return 0;
	}
	use(c);
	sb_init(&dump);
	config_dump(c, &dump);
	c2 = config_parse("dump.conf", dump.s, dump.len, &errors);
	if (c2 == NULL) {
		for (size_t i = 0; i < errors.n; i++)
			fprintf(stderr, "%s\n", errors.v[i]);
		fprintf(stderr, "%s", dump.s);
	}
	FUZZ_ASSERT(c2 != NULL);
	sb_init(&again);
	config_dump(c2, &again);
	/* the first line names the file it came from */
	FUZZ_ASSERT(strcmp(strchr(dump.s, '\n'), strchr(again.s, '\n')) == 0);
	sb_free(&again);
	sb_free(&dump);
	config_unref(c2);
	config_unref(c);
	strlist_free(&errors);
	return 0;
}

/*
 * silentlisten.c - a TCP listener on 127.0.0.1 that accepts connections
 * and never says a word: a blackholed directory server for the tests.
 *
 *   silentlisten [PORT]
 *
 * Prints the port it listens on (a free one when PORT is 0 or missing)
 * on stdout, then accepts and holds connections until it is killed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(argc > 1 ? (unsigned short)atoi(argv[1]) : 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		perror("silentlisten");
		return 1;
	}
	printf("%u\n", ntohs(sin.sin_port));
	fflush(stdout);
	for (;;) {
		/* Hold every connection open; say nothing. */
		if (accept(fd, NULL, NULL) < 0)
			sleep(1);
	}
}

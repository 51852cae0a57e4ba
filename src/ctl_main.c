/*
 * ctl_main.c - main() of sikkermail-ctl; everything else is in ctl.c.
 */
#include <stdbool.h>
#include <stdio.h>

#include "ctl.h"
#include "log.h"

int main(int argc, char **argv)
{
	/* A command-line tool: diagnostics to stderr only, not to syslog. */
	log_init("sikkermail-ctl", false, true, 0);
	return ctl_main(argc, argv, stdout);
}

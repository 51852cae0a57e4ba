/*
 * t_log.c - unit tests for log.c's log_defang, through which every
 * message goes to syslog: text the filter quotes with a newline or
 * another control character in it (a server's error message, an address
 * from the envelope) stays one line, the characters written \xHH, so that
 * it cannot start a line that passes for a decision line; UTF-8 is kept,
 * and the result always fits.
 */
#include <string.h>

#include "log.h"
#include "tap.h"

int main(void)
{
	char out[64], tiny[8];

	log_defang("plain text", out, sizeof(out));
	is_str(out, "plain text", "plain text as it is");
	log_defang("x\nsikkermail-milter: decision time=1", out, sizeof(out));
	is_str(out, "x\\x0asikkermail-milter: decision time=1", "a newline is written \\x0a");
	ok(strchr(out, '\n') == NULL, "... one line");
	log_defang("a\rb\tc\x1b[0m\x7f", out, sizeof(out));
	is_str(out, "a\\x0db\\x09c\\x1b[0m\\x7f", "CR, tab, escape and DEL written \\xHH");
	log_defang("K\xc3\xb8" "benhavn", out, sizeof(out));
	is_str(out, "K\xc3\xb8" "benhavn", "UTF-8 kept");
	is_int((long long)log_defang("\n\n\n\n", tiny, sizeof(tiny)), 4, "cut to fit");
	is_str(tiny, "\\x0a", "... with whole escapes only, terminated");
	return done_testing();
}

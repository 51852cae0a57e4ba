/*
 * names.c - names of the shared enums (sikkermail.h), for logs and parsing.
 */
#include <string.h>

#include "sikkermail.h"

static const char *const rclass_names[CLASS_COUNT] = {
	"internal", "tunnel", "encrypted", "partner", "freemail", "tls", "unknown",
};

static const char *const action_names[ACTION_COUNT] = {
	"deliver", "encrypt", "hold", "tempfail", "reject",
};

const char *rclass_name(enum rclass c)
{
	return (unsigned)c < CLASS_COUNT ? rclass_names[c] : "?";
}

int rclass_parse(const char *s)
{
	for (int i = 0; i < CLASS_COUNT; i++)
		if (strcmp(s, rclass_names[i]) == 0)
			return i;
	return -1;
}

const char *action_name(enum action a)
{
	return (unsigned)a < ACTION_COUNT ? action_names[a] : "?";
}

int action_parse(const char *s)
{
	for (int i = 0; i < ACTION_COUNT; i++)
		if (strcmp(s, action_names[i]) == 0)
			return i;
	return -1;
}

const char *mode_name(enum mode m)
{
	return m == MODE_MONITOR ? "monitor" : "enforce";
}

const char *personal_source_name(enum personal_source s)
{
	switch (s) {
	case PSRC_HEADER:
		return "header";
	case PSRC_CPR:
		return "cpr";
	case PSRC_SUBJECT:
		return "subject";
	default:
		return "none";
	}
}

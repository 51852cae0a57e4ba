/*
 * mime.c - parse a message with GMime and feed its decoded text to the
 * CPR scanner; the only file that includes GMime.
 *
 * Exports mime_init and mime_scan_cpr (mime.h). The FILE is wrapped in a
 * bounded GMimeStreamFile that does not own it; the parser runs with a
 * persistent stream, so a part's content stays in the file as a
 * substream. Each text part is then read through a GMimeStreamFilter
 * (transfer decoding, then charset conversion to UTF-8) in chunks of
 * CHUNK bytes into the scanner: nothing is held in memory but the
 * headers, the MIME tree and a few buffers.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/types.h>

#include <gmime/gmime.h>

#include "log.h"
#include "mime.h"
#include "util.h"

#define CHUNK 8192

struct walk {
	struct cpr_scanner scanner;
	char *err;		/* the first error, or NULL */
};

static void init_once(void);
static void glib_log(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data);
static GMimeMessage *parse(GMimeStream *stream, char **err);
static bool blank(const char *s);
static bool pgp_mime_frame_only(GMimeMultipart *mp);
static bool strict_encoding(GMimePart *part, GMimeStream *raw);
static GMimeMessage *message_open(FILE *message, off_t *start, GMimeStream **stream, char **err);
static int message_close(FILE *message, off_t start, GMimeStream *stream, GMimeMessage *parsed,
			 int rc, char **err);
static void walk_message(struct walk *w, GMimeMessage *message, int depth);
static void walk_object(struct walk *w, GMimeObject *object, int depth);
static void scan_text_part(struct walk *w, GMimePart *part);
static GMimeStream *decoded_stream(GMimePart *part, GMimeStream *raw);
static bool is_utf8(const char *charset);

static pthread_once_t once = PTHREAD_ONCE_INIT;

void mime_init(void)
{
	pthread_once(&once, init_once);
}

static void init_once(void)
{
	g_mime_init();
	/* GMime's own complaints go to our log, never to a raw stderr */
	g_log_set_handler("GMime", G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION,
			  glib_log, NULL);
}

static void glib_log(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
	const char *text = message != NULL ? message : "(no message)";

	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
		msg_warn("%s: %s", domain != NULL ? domain : "GLib", text);
	else
		msg_debug("%s: %s", domain != NULL ? domain : "GLib", text);
}

int mime_scan_cpr(FILE *message, struct cpr_result *out, char **err)
{
	struct walk w;
	GMimeStream *stream = NULL;
	GMimeMessage *parsed = NULL;
	off_t start = 0;
	int rc = -1;

	mime_init();
	cpr_result_init(out);
	memset(&w, 0, sizeof(w));
	cpr_scanner_init(&w.scanner);
	if ((parsed = message_open(message, &start, &stream, err)) == NULL)
		goto out;
	walk_message(&w, parsed, 0);
	if (w.err == NULL && ferror(message))
		w.err = xstrdup("cannot read the message: read error");
	if (w.err != NULL) {
		*err = w.err;
		goto out;
	}
	*out = w.scanner.result;
	rc = 0;
out:
	cpr_scanner_finish(&w.scanner);
	return message_close(message, start, stream, parsed, rc, err);
}

int mime_encrypted_payload(FILE *message, int (*sink)(void *ctx, const void *p, size_t n),
			   void *ctx, const char **kind, char **err)
{
	GMimeStream *stream = NULL, *raw = NULL, *decoded = NULL;
	GMimeMessage *parsed = NULL;
	GMimeObject *top, *part = NULL;
	GMimeDataWrapper *content;
	char buf[16384];
	gssize n;
	off_t start = 0;
	int rc = -1;

	mime_init();
	*kind = NULL;
	if ((parsed = message_open(message, &start, &stream, err)) == NULL)
		goto out;
	top = g_mime_message_get_mime_part(parsed);
	if (top != NULL && GMIME_IS_PART(top) &&
	    (g_mime_content_type_is_type(g_mime_object_get_content_type(top), "application",
					 "pkcs7-mime") ||
	     g_mime_content_type_is_type(g_mime_object_get_content_type(top), "application",
					 "x-pkcs7-mime"))) {
		part = top;
		*kind = "cms";
	} else if (top != NULL && GMIME_IS_MULTIPART(top) &&
		   g_mime_content_type_is_type(g_mime_object_get_content_type(top), "multipart",
					       "encrypted") &&
		   pgp_mime_frame_only(GMIME_MULTIPART(top))) {
		part = g_mime_multipart_get_part(GMIME_MULTIPART(top), 1);
		*kind = "pgp";
	}
	if (part == NULL) {
		*err = xstrdup("no part that could carry the encryption");
		goto out;
	}
	if ((content = g_mime_part_get_content(GMIME_PART(part))) == NULL) {
		*err = xstrdup("the encrypted part is empty");
		goto out;
	}
	if ((raw = g_mime_data_wrapper_get_stream(content)) == NULL) {
		*err = xstrdup("the encrypted part is empty");
		goto out;
	}
	if (!strict_encoding(GMIME_PART(part), raw)) {
		/* a lenient decoder would skip clear text mixed into the base64 */
		*err = xstrdup("the encrypted part holds more than its encoding allows");
		goto out;
	}
	decoded = g_mime_stream_filter_new(raw);
	if (g_mime_part_get_content_encoding(GMIME_PART(part)) == GMIME_CONTENT_ENCODING_BASE64 ||
	    g_mime_part_get_content_encoding(GMIME_PART(part)) ==
		    GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE) {
		GMimeFilter *filter =
			g_mime_filter_basic_new(g_mime_part_get_content_encoding(GMIME_PART(part)), FALSE);

		g_mime_stream_filter_add(GMIME_STREAM_FILTER(decoded), filter);
		g_object_unref(filter);
	}
	if (g_mime_stream_reset(decoded) != 0) {
		*err = xstrdup("cannot read the message: cannot seek to a part");
		goto out;
	}
	/* a bounded stream answers -1 at its end: read errors show in ferror() */
	while ((n = g_mime_stream_read(decoded, buf, sizeof(buf))) > 0)
		if (sink(ctx, buf, (size_t)n) != 0) {
			*err = xstrdup("the encrypted part could not be kept");
			goto out;
		}
	if (ferror(message)) {
		*err = xstrdup("cannot read the message: read error");
		goto out;
	}
	rc = 0;
out:
	if (decoded != NULL)
		g_object_unref(decoded);
	return message_close(message, start, stream, parsed, rc, err);
}

/* blank - only whitespace (or nothing). */
static bool blank(const char *s)
{
	return s == NULL || s[strspn(s, " \t\r\n")] == '\0';
}

/*
 * pgp_mime_frame_only - RFC 3156's frame and nothing more: no text before
 * the first boundary or after the last, two parts, the first
 * application/pgp-encrypted saying only "Version: 1", the second a leaf.
 */
static bool pgp_mime_frame_only(GMimeMultipart *mp)
{
	GMimeObject *control;
	GMimeDataWrapper *content;
	GMimeStream *raw;
	char buf[256];
	gssize n, got = 0;

	if (g_mime_multipart_get_count(mp) != 2 || !blank(g_mime_multipart_get_prologue(mp)) ||
	    !blank(g_mime_multipart_get_epilogue(mp)) ||
	    !GMIME_IS_PART(g_mime_multipart_get_part(mp, 1)))
		return false;
	control = g_mime_multipart_get_part(mp, 0);
	if (!GMIME_IS_PART(control) ||
	    !g_mime_content_type_is_type(g_mime_object_get_content_type(control), "application",
					 "pgp-encrypted") ||
	    (content = g_mime_part_get_content(GMIME_PART(control))) == NULL ||
	    (raw = g_mime_data_wrapper_get_stream(content)) == NULL || g_mime_stream_reset(raw) != 0)
		return false;
	while (got < (gssize)sizeof(buf) - 1 &&
	       (n = g_mime_stream_read(raw, buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += n;
	buf[got] = '\0';
	if (got == (gssize)sizeof(buf) - 1)
		return false;	/* far more than "Version: 1" */
	{
		const char *p = buf + strspn(buf, " \t\r\n");

		return strncmp(p, "Version: 1", 10) == 0 && blank(p + 10);
	}
}

/*
 * strict_encoding - the raw content of a part holds only what its
 * transfer encoding allows: base64 letters, "=" and whitespace for base64;
 * anything for 7bit, 8bit and binary. Quoted-printable and others: no.
 */
static bool strict_encoding(GMimePart *part, GMimeStream *raw)
{
	GMimeContentEncoding enc = g_mime_part_get_content_encoding(part);
	char buf[16384];
	gssize n;

	if (enc == GMIME_CONTENT_ENCODING_DEFAULT || enc == GMIME_CONTENT_ENCODING_7BIT ||
	    enc == GMIME_CONTENT_ENCODING_8BIT || enc == GMIME_CONTENT_ENCODING_BINARY)
		return true;
	if (enc != GMIME_CONTENT_ENCODING_BASE64 || g_mime_stream_reset(raw) != 0)
		return false;
	while ((n = g_mime_stream_read(raw, buf, sizeof(buf))) > 0)
		for (gssize i = 0; i < n; i++)
			if (buf[i] == '\0' ||
			    (!g_ascii_isalnum(buf[i]) && strchr("+/= \t\r\n", buf[i]) == NULL))
				return false;
	return true;
}

/*
 * message_open - the message from the FILE's position on (*start), parsed
 * over a GMime stream that does not own the FILE (*stream, NULL when the
 * FILE cannot be used); NULL with *err when there is no message.
 */
static GMimeMessage *message_open(FILE *message, off_t *start, GMimeStream **stream, char **err)
{
	*err = NULL;
	*stream = NULL;
	if (fflush(message) != 0 || (*start = ftello(message)) < 0) {
		*err = xasprintf("cannot read the message: not a seekable file: %s", strerror(errno));
		return NULL;
	}
	clearerr(message);
	*stream = g_mime_stream_file_new_with_bounds(message, *start, -1);
	g_mime_stream_file_set_owner(GMIME_STREAM_FILE(*stream), FALSE);
	return parse(*stream, err);
}

/* message_close - release what message_open made and put the FILE back; rc, or -1. */
static int message_close(FILE *message, off_t start, GMimeStream *stream, GMimeMessage *parsed,
			 int rc, char **err)
{
	if (stream == NULL)
		return -1;	/* message_open failed before it had a position */
	if (parsed != NULL)
		g_object_unref(parsed);
	g_object_unref(stream);
	clearerr(message);
	if (fseeko(message, start, SEEK_SET) != 0 && rc == 0) {
		*err = xasprintf("cannot rewind the message: %s", strerror(errno));
		rc = -1;
	}
	return rc;
}

/*
 * parse - the message on stream; NULL with *err if GMime finds no message
 * at all (nothing, or no header before the end).
 */
static GMimeMessage *parse(GMimeStream *stream, char **err)
{
	static const char *fallback[] = { "UTF-8", "windows-1252", NULL };
	GMimeParserOptions *options = g_mime_parser_options_new();
	GMimeParser *parser = g_mime_parser_new_with_stream(stream);
	GMimeMessage *message;

	g_mime_parser_options_set_fallback_charsets(options, fallback);
	g_mime_parser_set_persist_stream(parser, TRUE);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	message = g_mime_parser_construct_message(parser, options);
	if (message == NULL)
		*err = xstrdup("the message cannot be parsed: no header found");
	g_object_unref(parser);
	g_mime_parser_options_free(options);
	return message;
}

/*
 * walk_message - the Subject, then the body, of a message or an attached
 * one. Every Subject field, should there be several; GMime gives each
 * value unfolded and with its encoded words decoded to UTF-8.
 */
static void walk_message(struct walk *w, GMimeMessage *message, int depth)
{
	GMimeHeaderList *headers = g_mime_object_get_header_list(GMIME_OBJECT(message));
	GMimeObject *body = g_mime_message_get_mime_part(message);
	int i, n = headers != NULL ? g_mime_header_list_get_count(headers) : 0;

	for (i = 0; i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(headers, i);
		const char *value = g_mime_header_get_value(h);

		if (g_ascii_strcasecmp(g_mime_header_get_name(h), "Subject") != 0 || value == NULL)
			continue;
		cpr_scan(&w->scanner, value, strlen(value));
		cpr_scanner_finish(&w->scanner);
	}
	if (body != NULL)
		walk_object(w, body, depth + 1);
}

static void walk_object(struct walk *w, GMimeObject *object, int depth)
{
	int i, n;

	if (w->err != NULL)
		return;
	if (depth > MIME_MAX_DEPTH) {
		w->err = xasprintf("the message nests deeper than %d MIME levels", MIME_MAX_DEPTH);
		return;
	}
	if (GMIME_IS_MESSAGE_PART(object)) {
		GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(object));

		if (inner != NULL)
			walk_message(w, inner, depth);
	} else if (GMIME_IS_MULTIPART(object)) {
		n = g_mime_multipart_get_count(GMIME_MULTIPART(object));
		for (i = 0; i < n && w->err == NULL; i++)
			walk_object(w, g_mime_multipart_get_part(GMIME_MULTIPART(object), i), depth + 1);
	} else if (GMIME_IS_MESSAGE_PARTIAL(object) ||
		   g_mime_content_type_is_type(g_mime_object_get_content_type(object), "message",
					       "partial")) {
		/* one fragment of a message split up: what it holds is only known whole */
		w->err = xstrdup("the message is a fragment (message/partial): it cannot be "
				 "scanned whole");
	} else if (GMIME_IS_PART(object) &&
		   g_mime_content_type_is_type(g_mime_object_get_content_type(object), "text", "*")) {
		scan_text_part(w, GMIME_PART(object));
	}
	/* anything else (image, audio, video, application) is not text */
}

/* scan_text_part - decode one text part in chunks into the scanner. */
static void scan_text_part(struct walk *w, GMimePart *part)
{
	GMimeDataWrapper *content = g_mime_part_get_content(part);
	GMimeContentType *type = g_mime_object_get_content_type(GMIME_OBJECT(part));
	GMimeStream *raw, *decoded;
	char buf[CHUNK];
	ssize_t n;

	if (content == NULL || (raw = g_mime_data_wrapper_get_stream(content)) == NULL)
		return;		/* no body */
	decoded = decoded_stream(part, raw);
	if (g_mime_stream_reset(decoded) != 0) {
		w->err = xstrdup("cannot read the message: cannot seek to a part");
		goto out;
	}
	cpr_scanner_set_html(&w->scanner, g_mime_content_type_is_type(type, "text", "html"));
	/* a bounded stream answers -1 at its end: read errors show in ferror() */
	while ((n = g_mime_stream_read(decoded, buf, sizeof(buf))) > 0)
		cpr_scan(&w->scanner, buf, (size_t)n);
	cpr_scanner_finish(&w->scanner);
out:
	g_object_unref(decoded);
}

/*
 * decoded_stream - raw content through the transfer decoding and the
 * charset conversion to UTF-8; a charset iconv does not know is left as
 * it is (its digits are still ASCII).
 */
static GMimeStream *decoded_stream(GMimePart *part, GMimeStream *raw)
{
	GMimeStream *stream = g_mime_stream_filter_new(raw);
	GMimeContentEncoding encoding = g_mime_part_get_content_encoding(part);
	const char *charset = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
	GMimeFilter *filter;

	if (encoding == GMIME_CONTENT_ENCODING_BASE64 ||
	    encoding == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
	    encoding == GMIME_CONTENT_ENCODING_UUENCODE) {
		filter = g_mime_filter_basic_new(encoding, FALSE);
		g_mime_stream_filter_add(GMIME_STREAM_FILTER(stream), filter);
		g_object_unref(filter);
	}
	if (charset != NULL && !is_utf8(charset) &&
	    (filter = g_mime_filter_charset_new(charset, "UTF-8")) != NULL) {
		g_mime_stream_filter_add(GMIME_STREAM_FILTER(stream), filter);
		g_object_unref(filter);
	}
	return stream;
}

/* is_utf8 - no conversion needed: UTF-8, or its ASCII subset. */
static bool is_utf8(const char *charset)
{
	return g_ascii_strcasecmp(charset, "utf-8") == 0 || g_ascii_strcasecmp(charset, "utf8") == 0 ||
	       g_ascii_strcasecmp(charset, "us-ascii") == 0;
}

/*
 * t_pipeline.c - the pipeline (facts -> verdict -> outcome) with a
 * recording fake MTA that can be told to fail any call.
 *
 * Every row of the decision table, and every failure row of the table in
 * sikkermail-milter(8) ("Carrying out a decision"): the encrypted copy's
 * hand-off failing (a fake sendmail that exits 75), the MTA refusing to
 * take a recipient off, to hold, or to change a header, and the record
 * failing (a trigger in the test's database refuses the insert), before
 * and after the copy is queued. Each row asserts the MTA calls made, the
 * result, the outcome in the decision, the record and the audit line, and
 * then the invariants: a recipient with an encrypted copy is never left on
 * an accepted or held original, and an accepted message always has a
 * record or an audit line saying it has none.
 *
 * Real parts: the configuration loader, a runtime with a real trust store
 * and function-mailbox key (made with the openssl command), a SQLite
 * database with imported lists and a cached certificate, S/MIME building,
 * and re-injection through a stand-in sendmail script.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "facts.h"
#include "lists.h"
#include "log.h"
#include "mime.h"
#include "pipeline.h"
#include "policy.h"
#include "runtime.h"
#include "store.h"
#include "tap.h"
#include "tfiles.h"

#define ENC "enc@cert.example"
#define MAILBOX "sikker@kp.dk"

/* The fake MTA: records every call; fails the ones it is told to. */
struct fake {
	bool fail_reply, fail_quarantine, fail_delrcpt, fail_header;
	struct strbuf calls;		/* one line per call */
	char rcode[4];
	char *reply;			/* the reply lines, joined with '\n' */
	char *quarantine;		/* the hold reason */
	struct strbuf delrcpts;		/* "<a>,<b>," */
	int failed;			/* calls that were made to fail */
	char *tag;			/* the X-Sikkermail value inserted */
};

struct pcase {
	const char *name;
	const char *conf;	/* extra configuration lines */
	const char *rcpts;	/* comma-separated */
	const char *headers;	/* header lines (each "\n"-terminated) after the usual ones */
	const char *inject;	/* "", "sendmail", "delrcpt", "quarantine", "header", "record", "reply" */
	enum mta_result want;
	enum action applied;
	const char *rule;
	int copies;		/* encrypted copies handed to the MTA */
	const char *removed;	/* recipients taken off the original ("<a>,") */
	bool held;
	const char *rcode;	/* reply code set, or NULL */
	bool recorded;
	const char *reply_has;	/* a line the reply must have, or NULL */
	const char *hold_has;	/* text the hold reason must have, or NULL */
	const char *body;	/* the body, or "@file" made by make_files; NULL: a short text */
};

static void make_files(void);
static struct runtime *runtime_for(const char *conf);
static struct runtime *build_runtime(const char *conf);
static void seed_database(void);
static int count_copies(void);
static char *audit_line_of(const char *log, const char *qid);
static bool recorded(const char *qid, enum action *applied);
static char *markers(void);
static bool regex_all_lines(const char *text, const char *ere);
static void run_case(const struct pcase *c, int n, bool exact);
static void cross_product(void);
static void header_limits(void);
static int fk_reply(void *mta, const struct reply *r);
static int fk_quarantine(void *mta, const char *reason);
static int fk_delrcpt(void *mta, const char *raw);
static int fk_chgheader(void *mta, const char *name, int index, const char *value);
static int fk_insheader(void *mta, int index, const char *name, const char *value);
static int fk_progress(void *mta);

static const struct mta_ops fake_ops = {
	fk_reply, fk_quarantine, fk_delrcpt, fk_chgheader, fk_insheader, fk_progress,
};

#define HOLD "PersonalToFreemail hold\nPersonalToTLS hold\nOnLookupFailure hold\n"
#define TAG "PersonalSubjectTag [sikker]\n"
#define SUBJ "Subject: Svar [SIKKER] om sagen\n"

static const struct pcase cases[] = {
	/* The decision table, personal message, enforce mode. */
	{ "internal", "", "bob@kp.dk", "", "", MTA_ACCEPT, ACTION_DELIVER, RULE_INTERNAL, 0, "",
	  false, NULL, true, NULL, NULL, NULL },
	{ "tunnel", "", "sag@kommune.dk", "", "", MTA_ACCEPT, ACTION_DELIVER, RULE_TUNNEL, 0, "",
	  false, NULL, true, NULL, NULL, NULL },
	{ "encrypted", "", ENC, "", "", MTA_DISCARD, ACTION_ENCRYPT, RULE_ENCRYPTED, 1, "<" ENC ">,",
	  false, NULL, true, NULL, NULL, NULL },
	{ "partner", "", "x@partner.dk", "", "", MTA_ACCEPT, ACTION_DELIVER, RULE_PARTNER, 0, "",
	  false, NULL, true, NULL, NULL, NULL },
	{ "partner, PersonalToPartner reject", "PersonalToPartner reject\n", "x@partner.dk", "", "",
	  MTA_REJECT, ACTION_REJECT, RULE_PARTNER, 0, "", false, "550", true, NULL, NULL, NULL },
	{ "freemail", "", "x@gmail.com", "", "", MTA_REJECT, ACTION_REJECT, RULE_FREEMAIL, 0, "",
	  false, "550", true, NULL, NULL, NULL },
	{ "freemail, hold", HOLD, "x@gmail.com", "", "", MTA_ACCEPT, ACTION_HOLD, RULE_FREEMAIL, 0,
	  "", true, NULL, true, NULL, NULL, NULL },
	{ "tls", "", "x@other.example", "", "", MTA_REJECT, ACTION_REJECT, RULE_TLS, 0, "", false,
	  "550", true, NULL, NULL, NULL },
	{ "tls, hold", HOLD, "x@other.example", "", "", MTA_ACCEPT, ACTION_HOLD, RULE_TLS, 0, "",
	  true, NULL, true, NULL, NULL, NULL },
	{ "tls, accept", "PersonalToTLS accept\n", "x@other.example", "", "", MTA_ACCEPT,
	  ACTION_DELIVER, RULE_TLS, 0, "", false, NULL, true, NULL, NULL, NULL },
	{ "unknown", "", "x@nocert.example", "", "", MTA_TEMPFAIL, ACTION_TEMPFAIL, RULE_LOOKUP, 0,
	  "", false, "451", true, NULL, NULL, NULL },
	{ "unknown, hold", HOLD, "x@nocert.example", "", "", MTA_ACCEPT, ACTION_HOLD, RULE_LOOKUP, 0,
	  "", true, NULL, true, NULL, NULL, NULL },
	{ "not personal", "", "x@gmail.com," ENC, "X-KP-Personal: no\n", "", MTA_ACCEPT,
	  ACTION_DELIVER, RULE_NOT_PERSONAL, 0, "", false, NULL, true, NULL, NULL, NULL },
	{ "monitor", "Mode monitor\n", "x@gmail.com," ENC, "", "", MTA_ACCEPT, ACTION_DELIVER,
	  RULE_FREEMAIL, 0, "", false, NULL, true, NULL, NULL, NULL },
	{ "internal + encrypted", "", "bob@kp.dk," ENC, "", "", MTA_ACCEPT, ACTION_ENCRYPT,
	  RULE_ENCRYPTED, 1, "<" ENC ">,", false, NULL, true, NULL, NULL, NULL },
	/* hold and encrypt in one message: the copy first, then the rest is held */
	{ "freemail hold + encrypted", HOLD, "x@gmail.com," ENC, "", "", MTA_ACCEPT, ACTION_HOLD,
	  RULE_FREEMAIL, 1, "<" ENC ">,", true, NULL, true, NULL,
	  "personal data to x@gmail.com (freemail) held; 1 encrypted copy recipient not on it", NULL },
	{ "freemail reject + encrypted", "", "x@gmail.com," ENC, "", "", MTA_REJECT, ACTION_REJECT,
	  RULE_FREEMAIL, 0, "", false, "550", true, NULL, NULL, NULL },
	{ "already encrypted", "", ENC,
	  "Content-Type: application/pkcs7-mime; smime-type=enveloped-data\n"
	  "Content-Transfer-Encoding: base64\n", "", MTA_ACCEPT,
	  ACTION_DELIVER, RULE_ALREADY_ENCRYPTED, 0, "", false, NULL, true, NULL, NULL,
	  "@enveloped.b64" },
	{ "already encrypted, no smime-type", "", ENC,
	  "Content-Type: application/x-pkcs7-mime\nContent-Transfer-Encoding: base64\n", "",
	  MTA_ACCEPT, ACTION_DELIVER, RULE_ALREADY_ENCRYPTED, 0, "", false, NULL, true, NULL, NULL,
	  "@enveloped.b64" },
	/* a label is not encryption: the body decides */
	{ "labelled pkcs7-mime, clear body", "", ENC,
	  "Content-Type: application/pkcs7-mime\n", "", MTA_DISCARD, ACTION_ENCRYPT,
	  RULE_ENCRYPTED, 1, "<" ENC ">,", false, NULL, true, NULL, NULL, NULL },
	{ "labelled pkcs7-mime, base64 clear body", "", ENC,
	  "Content-Type: application/pkcs7-mime; smime-type=enveloped-data\n"
	  "Content-Transfer-Encoding: base64\n", "", MTA_DISCARD, ACTION_ENCRYPT,
	  RULE_ENCRYPTED, 1, "<" ENC ">,", false, NULL, true, NULL, NULL,
	  "SGVqIEJvYiwgaGVyIGVyIHNhZ2VuLgo=\n" },
	{ "labelled pkcs7-mime, SignedData body", "", ENC,
	  "Content-Type: application/pkcs7-mime\nContent-Transfer-Encoding: base64\n", "",
	  MTA_DISCARD, ACTION_ENCRYPT, RULE_ENCRYPTED, 1, "<" ENC ">,", false, NULL, true, NULL,
	  NULL, "@signed.b64" },
	{ "PGP/MIME encrypted", "", ENC,
	  "MIME-Version: 1.0\nContent-Type: multipart/encrypted; "
	  "protocol=\"application/pgp-encrypted\"; boundary=b\n", "", MTA_ACCEPT,
	  ACTION_DELIVER, RULE_ALREADY_ENCRYPTED, 0, "", false, NULL, true, NULL, NULL,
	  "--b\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n--b\n"
	  "Content-Type: application/octet-stream\n\n-----BEGIN PGP MESSAGE-----\n\n"
	  "hAMBAgPSBQGqu8zd\n=abcd\n-----END PGP MESSAGE-----\n--b--\n" },
	/* encrypted data with clear text beside it is not encrypted */
	{ "PGP/MIME, clear text before the first boundary", "", ENC,
	  "MIME-Version: 1.0\nContent-Type: multipart/encrypted; "
	  "protocol=\"application/pgp-encrypted\"; boundary=b\n", "", MTA_DISCARD,
	  ACTION_ENCRYPT, RULE_ENCRYPTED, 1, "<" ENC ">,", false, NULL, true, NULL, NULL,
	  "Personale: Jens Jensen\n--b\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n--b\n"
	  "Content-Type: application/octet-stream\n\n-----BEGIN PGP MESSAGE-----\n\n"
	  "hAMBAgPSBQGqu8zd\n-----END PGP MESSAGE-----\n--b--\n" },
	{ "PGP/MIME, clear text before the armour", "", ENC,
	  "MIME-Version: 1.0\nContent-Type: multipart/encrypted; "
	  "protocol=\"application/pgp-encrypted\"; boundary=b\n", "", MTA_DISCARD,
	  ACTION_ENCRYPT, RULE_ENCRYPTED, 1, "<" ENC ">,", false, NULL, true, NULL, NULL,
	  "--b\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n--b\n"
	  "Content-Type: application/octet-stream\n\nJens Jensen\n-----BEGIN PGP MESSAGE-----\n\n"
	  "hAMBAgPSBQGqu8zd\n-----END PGP MESSAGE-----\n--b--\n" },
	{ "PGP/MIME, clear packet data after the encrypted data", "", ENC,
	  "MIME-Version: 1.0\nContent-Type: multipart/encrypted; "
	  "protocol=\"application/pgp-encrypted\"; boundary=b\n", "", MTA_DISCARD,
	  ACTION_ENCRYPT, RULE_ENCRYPTED, 1, "<" ENC ">,", false, NULL, true, NULL, NULL,
	  "--b\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n--b\n"
	  "Content-Type: application/octet-stream\n\n-----BEGIN PGP MESSAGE-----\n\n"
	  "hAMBAgPSBQGqu8zdQ1BSIDAxMDE5MC0xMjM0\n-----END PGP MESSAGE-----\n--b--\n" },
	{ "PGP/MIME, clear text after the armour", "", ENC,
	  "MIME-Version: 1.0\nContent-Type: multipart/encrypted; "
	  "protocol=\"application/pgp-encrypted\"; boundary=b\n", "", MTA_DISCARD,
	  ACTION_ENCRYPT, RULE_ENCRYPTED, 1, "<" ENC ">,", false, NULL, true, NULL, NULL,
	  "--b\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n--b\n"
	  "Content-Type: application/octet-stream\n\n-----BEGIN PGP MESSAGE-----\n\n"
	  "hAMBAgPSBQGqu8zd\n-----END PGP MESSAGE-----\nJens Jensen\n--b--\n" },
	{ "S/MIME, clear text after the EnvelopedData", "", ENC,
	  "Content-Type: application/pkcs7-mime; smime-type=enveloped-data\n"
	  "Content-Transfer-Encoding: base64\n", "", MTA_DISCARD, ACTION_ENCRYPT,
	  RULE_ENCRYPTED, 1, "<" ENC ">,", false, NULL, true, NULL, NULL, "@enveloped-tail.b64" },
	{ "S/MIME, two Content-Type fields", "", ENC,
	  "Content-Type: application/pkcs7-mime; smime-type=enveloped-data\n"
	  "Content-Transfer-Encoding: base64\nContent-Type: text/plain\n", "", MTA_DISCARD,
	  ACTION_ENCRYPT, RULE_ENCRYPTED, 1, "<" ENC ">,", false, NULL, true, NULL, NULL,
	  "@enveloped.b64" },
	{ "labelled PGP/MIME, clear body", "", ENC,
	  "MIME-Version: 1.0\nContent-Type: multipart/encrypted; "
	  "protocol=\"application/pgp-encrypted\"; boundary=b\n", "", MTA_DISCARD,
	  ACTION_ENCRYPT, RULE_ENCRYPTED, 1, "<" ENC ">,", false, NULL, true, NULL, NULL,
	  "--b\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n--b\n"
	  "Content-Type: application/octet-stream\n\nHej Bob, her er sagen.\n--b--\n" },
	{ "labelled PGP/MIME, a literal-data packet", "", ENC,
	  "MIME-Version: 1.0\nContent-Type: multipart/encrypted; "
	  "protocol=\"application/pgp-encrypted\"; boundary=b\n", "", MTA_DISCARD,
	  ACTION_ENCRYPT, RULE_ENCRYPTED, 1, "<" ENC ">,", false, NULL, true, NULL, NULL,
	  "--b\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n--b\n"
	  "Content-Type: application/octet-stream\n\n-----BEGIN PGP MESSAGE-----\n\n"
	  "yxR0AAAAAABIZWogQm9iLCBzYWdlbi4K\n-----END PGP MESSAGE-----\n--b--\n" },
	/* SecureMailboxUsers: the sender (alice@kp.dk) is listed, by address or domain, or not */
	{ "mailbox users: sender listed", "SecureMailboxUsers " MAILBOX " bo@kp.dk, alice@kp.dk\n",
	  ENC, "", "", MTA_DISCARD, ACTION_ENCRYPT, RULE_ENCRYPTED, 1, "<" ENC ">,", false, NULL,
	  true, NULL, NULL, NULL },
	{ "mailbox users: domain listed", "SecureMailboxUsers " MAILBOX " @kp.dk\n", ENC, "", "",
	  MTA_DISCARD, ACTION_ENCRYPT, RULE_ENCRYPTED, 1, "<" ENC ">,", false, NULL, true, NULL,
	  NULL, NULL },
	{ "mailbox users: sender not listed", "SecureMailboxUsers " MAILBOX " bo@kp.dk, @hr.kp.dk\n",
	  ENC, "", "", MTA_REJECT, ACTION_REJECT, RULE_SECURE_MAILBOX, 0, "", false, "550", true,
	  "Du maa ikke sende fra funktionspostkassen <" MAILBOX ">\n"
	  "You may not send from the function mailbox <" MAILBOX ">\n", NULL, NULL },
	{ "mailbox users: named mailbox, sender not listed",
	  "SecureMailboxUsers " MAILBOX " bo@kp.dk\n", ENC,
	  "X-KP-Secure-Mailbox: Sikker <" MAILBOX ">\n", "", MTA_REJECT, ACTION_REJECT,
	  RULE_SECURE_MAILBOX, 0, "", false, "550", true, NULL, NULL, NULL },
	{ "unknown function mailbox", "", ENC, "X-KP-Secure-Mailbox: HR <hr@kp.dk>\n", "",
	  MTA_REJECT, ACTION_REJECT, RULE_SECURE_MAILBOX, 0, "", false, "550", true,
	  "Funktionspostkassen <hr@kp.dk> er ikke sat op til krypteret post\n"
	  "The function mailbox <hr@kp.dk> is not configured for encrypted mail\n", NULL, NULL },

	/* Each effect failing. */
	{ "encrypted, hand-off fails", "", ENC, "", "sendmail", MTA_TEMPFAIL, ACTION_TEMPFAIL,
	  RULE_ENCRYPTION_FAILED, 0, "", false, "451", true,
	  "The encrypted copy could not be made; try again later\n", NULL, NULL },
	{ "internal + encrypted, delrcpt fails", "", "bob@kp.dk," ENC, "", "delrcpt", MTA_TEMPFAIL,
	  ACTION_TEMPFAIL, RULE_MTA_REFUSED, 1, "", false, "451", true, NULL, NULL, NULL },
	{ "freemail hold + encrypted, quarantine fails", HOLD, "x@gmail.com," ENC, "", "quarantine",
	  MTA_TEMPFAIL, ACTION_TEMPFAIL, RULE_MTA_REFUSED, 1, "<" ENC ">,", false, "451", true, NULL, NULL, NULL },
	{ "freemail hold, quarantine fails", HOLD, "x@gmail.com", "", "quarantine", MTA_TEMPFAIL,
	  ACTION_TEMPFAIL, RULE_MTA_REFUSED, 0, "", false, "451", true, NULL, NULL, NULL },
	{ "internal, header change fails", "", "bob@kp.dk", "", "header", MTA_TEMPFAIL,
	  ACTION_TEMPFAIL, RULE_MTA_REFUSED, 0, "", false, "451", true, NULL, NULL, NULL },
	{ "internal + encrypted, header change fails", "", "bob@kp.dk," ENC, "", "header",
	  MTA_ACCEPT, ACTION_ENCRYPT, RULE_ENCRYPTED, 1, "<" ENC ">,", false, NULL, true, NULL, NULL, NULL },
	{ "internal, record fails", "", "bob@kp.dk", "", "record", MTA_TEMPFAIL, ACTION_TEMPFAIL,
	  RULE_NOT_RECORDED, 0, "", false, "451", false,
	  "The decision could not be recorded; try again later\n", NULL, NULL },
	{ "internal + encrypted, record fails after the copy", "", "bob@kp.dk," ENC, "", "record",
	  MTA_ACCEPT, ACTION_ENCRYPT, RULE_ENCRYPTED, 1, "<" ENC ">,", false, NULL, false, NULL, NULL, NULL },
	{ "internal + encrypted, record fails, OnLookupFailure hold", HOLD, "bob@kp.dk," ENC, "",
	  "record", MTA_ACCEPT, ACTION_ENCRYPT, RULE_ENCRYPTED, 1, "<" ENC ">,", false, NULL,
	  false, NULL, NULL, NULL },
	{ "encrypted only, record fails after the copy", "", ENC, "", "record", MTA_DISCARD,
	  ACTION_ENCRYPT, RULE_ENCRYPTED, 1, "<" ENC ">,", false, NULL, false, NULL, NULL, NULL },
	{ "not personal, record fails", "", "x@gmail.com", "X-KP-Personal: no\n", "record",
	  MTA_ACCEPT, ACTION_DELIVER, RULE_NOT_PERSONAL, 0, "", false, NULL, false, NULL, NULL, NULL },
	{ "freemail hold, record fails", HOLD, "x@gmail.com", "", "record", MTA_ACCEPT, ACTION_HOLD,
	  RULE_FREEMAIL, 0, "", true, NULL, false, NULL, NULL, NULL },
	{ "freemail, the reply cannot be set", "", "x@gmail.com", "", "reply", MTA_REJECT,
	  ACTION_REJECT, RULE_FREEMAIL, 0, "", false, NULL, true, NULL, NULL, NULL },
	/* a subject tag makes the message personal, whatever X-KP-Personal says */
	{ "subject tag, header no, freemail", TAG, "x@gmail.com", "X-KP-Personal: no\n" SUBJ, "",
	  MTA_REJECT, ACTION_REJECT, RULE_FREEMAIL, 0, "", false, "550", true, NULL, NULL, NULL },
	{ "subject tag, header no, encrypted", TAG, ENC, "X-KP-Personal: no\n" SUBJ, "",
	  MTA_DISCARD, ACTION_ENCRYPT, RULE_ENCRYPTED, 1, "<" ENC ">,", false, NULL, true, NULL,
	  NULL, NULL },
	{ "subject tag, the Subject cannot be changed", TAG, "bob@kp.dk",
	  "X-KP-Personal: no\n" SUBJ, "header", MTA_TEMPFAIL, ACTION_TEMPFAIL, RULE_MTA_REFUSED, 0,
	  "", false, "451", true, NULL, NULL, NULL },
	{ "subject tag, header no, internal", TAG, "bob@kp.dk", "X-KP-Personal: no\n" SUBJ, "",
	  MTA_ACCEPT, ACTION_DELIVER, RULE_INTERNAL, 0, "", false, NULL, true, NULL, NULL, NULL },
	{ "subject tag, only the tag, internal", TAG, "bob@kp.dk", "Subject:  [sikker] \n", "",
	  MTA_ACCEPT, ACTION_DELIVER, RULE_INTERNAL, 0, "", false, NULL, true, NULL, NULL, NULL },
	{ "subject tag in a broken encoded-word, internal", TAG, "bob@kp.dk",
	  "X-KP-Personal: no\nSubject: =?utf-8?b?W3Npa2tlcl0?= Svar\n", "", MTA_ACCEPT,
	  ACTION_DELIVER, RULE_INTERNAL, 0, "", false, NULL, true, NULL, NULL, NULL },
	{ "subject tag in a broken encoded-word, freemail", TAG, "x@gmail.com",
	  "X-KP-Personal: no\nSubject: =?utf-8?b?W3Npa2tlcl0?= Svar\n", "", MTA_REJECT,
	  ACTION_REJECT, RULE_FREEMAIL, 0, "", false, "550", true, NULL, NULL, NULL },
	{ "subject tag, tag not configured", "", "x@gmail.com", "X-KP-Personal: no\n" SUBJ, "",
	  MTA_ACCEPT, ACTION_DELIVER, RULE_NOT_PERSONAL, 0, "", false, NULL, true, NULL, NULL,
	  NULL },
};

/* Calls to the MTA that some cases must make, one after the other. */
static const struct {
	const char *name;
	const char *calls;
} case_calls[] = {
	{ "subject tag, the Subject cannot be changed",
	  "chgheader Subject 2 Svar om sagen\nreply 451" },
	{ "subject tag, header no, internal",
	  "chgheader Subject 2 Svar om sagen\ninsheader 0 X-Sikkermail\n" },
	{ "subject tag, only the tag, internal", "chgheader Subject 2 (delete)\n" },
};

/* Calls to the MTA that some cases must not make. */
static const struct {
	const char *name;
	const char *call;
} case_not_calls[] = {
	/* read two ways: personal, the Subject left as it is */
	{ "subject tag in a broken encoded-word, internal", "chgheader Subject" },
};

/*
 * make_files - a CA, the function mailbox's key and certificate, a
 * recipient certificate, and the stand-in sendmail: it keeps each message
 * in sent/, or fails (exit 75, with an MTA-internal looking complaint)
 * while the file sendmail-fails exists.
 */
static void make_files(void)
{
	static const char cnf[] =
		"[req]\ndistinguished_name=dn\n[dn]\n"
		"[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n";
	FILE *f;
	char *p;
	int rc;

	p = path("req.cnf");
	f = fopen(p, "w");
	fputs(cnf, f);
	fclose(f);
	free(p);
	rc = sh("openssl req -x509 -config req.cnf -extensions ca -newkey rsa:2048 -nodes "
		"-keyout ca.key -out ca.pem -days 30 -subj '/CN=Pipeline Test CA'");
	for (int i = 0; rc == 0 && i < 2; i++) {
		const char *name = i == 0 ? "mailbox" : "enc", *addr = i == 0 ? MAILBOX : ENC;

		rc = sh("printf 'basicConstraints=CA:FALSE\\nkeyUsage=critical,digitalSignature,"
			"keyEncipherment\\nextendedKeyUsage=emailProtection\\nsubjectAltName=email:%s\\n'"
			" >%s.ext && openssl req -new -config req.cnf -newkey rsa:2048 -nodes "
			"-keyout %s.key -out %s.csr -subj '/CN=%s' && openssl x509 -req -in %s.csr "
			"-CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -extfile %s.ext -out %s.pem "
			"-outform PEM && openssl x509 -in %s.pem -outform DER -out %s.der && chmod 600 "
			"%s.key",
			addr, name, name, name, addr, name, name, name, name, name, name);
	}
	/* an EnvelopedData and a SignedData body, base64 as a mail client sends them */
	if (rc == 0)
		rc = sh("echo 'Hej Bob' | openssl cms -encrypt -aes-256-cbc -outform DER enc.pem | "
			"base64 >enveloped.b64 && (cat enveloped.b64; echo; echo 'CPR 010190-1234') "
			">enveloped-tail.b64 && echo 'Hej Bob' | openssl cms -sign -nodetach "
			"-signer enc.pem -inkey enc.key -outform DER | base64 >signed.b64");
	if (rc == 0)
		rc = sh("mkdir sent && printf '#!/bin/sh\\nif [ -e %s/sendmail-fails ]; then echo "
			"\"postdrop: warning: internal MTA detail %%s\" >&2; exit 75; fi\\n"
			"f=$(mktemp %s/sent/m.XXXXXX) && cat >\"$f\"\\n' >sendmail && chmod 755 sendmail",
			dir, dir);
	if (rc != 0) {
		printf("Bail out! cannot make the test files (see %s/log)\n", dir);
		exit(1);
	}
}

/*
 * runtime_for - a runtime for the base configuration plus conf, as the
 * daemon builds one; one per distinct conf, kept (a new reference each
 * call).
 */
static struct runtime *runtime_for(const char *conf)
{
	static struct {
		const char *conf;
		struct runtime *rt;
	} made[16];
	static size_t n_made;

	for (size_t i = 0; i < n_made; i++)
		if (strcmp(made[i].conf, conf) == 0)
			return runtime_ref(made[i].rt);
	if (n_made == sizeof(made) / sizeof(made[0])) {
		printf("Bail out! too many configurations\n");
		exit(1);
	}
	made[n_made].conf = conf;
	made[n_made].rt = build_runtime(conf);
	return runtime_ref(made[n_made++].rt);
}

/* build_runtime - see runtime_for. */
static struct runtime *build_runtime(const char *conf)
{
	struct strlist errors;
	struct config *cfg;
	struct runtime *rt = NULL;
	char *text = xasprintf("Syslog no\nInternalDomains kp.dk\nDetectCPR off\n"
			       "Database %s/db\nSecureMailbox " MAILBOX " %s/mailbox.key "
			       "%s/mailbox.pem\nTrustedCAFile %s/ca.pem\n"
			       "LDAPURI ldap://127.0.0.1:1\nLDAPBase c=DK\nLDAPTimeout 2\n"
			       "SendmailPath %s/sendmail\n%s",
			       dir, dir, dir, dir, dir, conf);

	strlist_init(&errors);
	cfg = config_parse("pipeline.conf", text, strlen(text), &errors);
	if (cfg != NULL && (rt = runtime_load(cfg, &errors)) != NULL &&
	    runtime_open_store(rt, &errors) != 0) {
		runtime_unref(rt);
		rt = NULL;
	}
	for (size_t i = 0; i < errors.n; i++)
		diag("%s", errors.v[i]);
	if (rt == NULL) {
		printf("Bail out! cannot build a runtime for \"%s\"\n", conf);
		exit(1);
	}
	config_unref(cfg);
	strlist_free(&errors);
	free(text);
	return rt;
}

/*
 * seed_database - the lists, the recipient's certificate in the cache (as
 * if the directory had answered), and a trigger that refuses to record
 * any decision whose queue id starts with FAILREC.
 */
static void seed_database(void)
{
	static const char *const lists[][2] = {
		{ "tunnel", "kommune.dk,Eksempel Kommune\n" },
		{ "partners", "partner.dk,Partner A/S,2099-12-31\n" },
	};
	char *db = path("db"), *err = NULL;
	struct store *s = store_open(db, STORE_RW, &err);
	struct cert_cache_entry e = { 0 };
	static const char *const no_cert[] = { "x@partner.dk", "x@gmail.com", "x@other.example" };
	size_t len;

	if (s == NULL) {
		printf("Bail out! %s\n", err);
		exit(1);
	}
	for (size_t i = 0; i < 2; i++) {
		struct list_entries l = { 0 };
		struct strlist errors;
		enum list_kind kind = (enum list_kind)list_kind_parse(lists[i][0]);

		strlist_init(&errors);
		if (lists_parse(kind, "t", lists[i][1], strlen(lists[i][1]), &l, &errors) != 0 ||
		    store_list_replace(s, kind, &l, &err) != 0) {
			printf("Bail out! cannot import the %s list\n", lists[i][0]);
			exit(1);
		}
		list_entries_free(&l);
		strlist_free(&errors);
	}
	e.found = true;
	e.der = (unsigned char *)slurp("enc.der", &len);
	e.der_len = len;
	e.subject = xstrdup("CN=" ENC);
	e.fingerprint = xstrdup("00:11");
	e.source = xstrdup("ldap://127.0.0.1:1");
	e.not_before = (long long)time(NULL) - 60;
	e.not_after = (long long)time(NULL) + 30 * 86400;
	e.fetched_at = (long long)time(NULL);
	e.fresh_until = e.fetched_at + 86400;
	if (store_cert_put(s, ENC, &e) != 0) {
		printf("Bail out! cannot cache the certificate: %s\n", store_errmsg(s));
		exit(1);
	}
	cert_cache_entry_free(&e);
	/* the directory said "no certificate" for these (x@nocert.example it never answered) */
	for (size_t i = 0; i < sizeof(no_cert) / sizeof(no_cert[0]); i++) {
		struct cert_cache_entry none = { 0 };

		none.fetched_at = (long long)time(NULL);
		none.fresh_until = none.fetched_at + 3600;
		if (store_cert_put(s, no_cert[i], &none) != 0) {
			printf("Bail out! cannot cache %s: %s\n", no_cert[i], store_errmsg(s));
			exit(1);
		}
	}
	store_close(s);
	if (sh("sqlite3 db \"CREATE TRIGGER refuse BEFORE INSERT ON decision WHEN "
	       "NEW.queue_id LIKE 'FAILREC%%' BEGIN SELECT RAISE(ABORT, 'disk full (test)'); END;\"") !=
	    0) {
		printf("Bail out! cannot add the trigger (is sqlite3 installed?)\n");
		exit(1);
	}
	free(db);
}

/* count_copies - encrypted copies the stand-in sendmail was handed. */
static int count_copies(void)
{
	char *sent = path("sent"), *name, *text;
	DIR *d = opendir(sent);
	struct dirent *e;
	int n = 0;

	while (d != NULL && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		name = xasprintf("sent/%s", e->d_name);
		text = slurp(name, NULL);
		n += text != NULL && strstr(text, "application/pkcs7-mime") != NULL;
		free(text);
		free(name);
	}
	if (d != NULL)
		closedir(d);
	free(sent);
	return n;
}

/* audit_line_of - the one decision line for qid in log (NULL if none, "" if several). */
static char *audit_line_of(const char *log, const char *qid)
{
	char *key = xasprintf(" queue_id=%s ", qid), *found = NULL;
	const char *p = log;

	while ((p = strstr(p, "decision time=")) != NULL) {
		const char *end = strchr(p, '\n');
		char *line = xstrndup(p, end ? (size_t)(end - p) : strlen(p));

		if (strstr(line, key) != NULL) {
			if (found != NULL) {
				free(found);
				free(line);
				line = xstrdup("");
			}
			found = line;
		} else {
			free(line);
		}
		p = end ? end : p + strlen(p);
	}
	free(key);
	return found;
}

struct find {
	const char *qid;
	bool found;
	enum action applied;
};

static int find_decision(const struct decision *d, void *arg)
{
	struct find *f = arg;

	if (d->queue_id != NULL && strcmp(d->queue_id, f->qid) == 0) {
		f->found = true;
		f->applied = d->applied;
	}
	return 0;
}

/* regex_all_lines - every line of text (at least one) matches ere. */
static bool regex_all_lines(const char *text, const char *ere)
{
	regex_t re;
	char *copy = xstrdup(text), *save = NULL, *line;
	bool all = true, any = false;

	if (regcomp(&re, ere, REG_EXTENDED | REG_NOSUB) != 0)
		return free(copy), false;
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		any = true;
		all &= regexec(&re, line, 0, NULL, 0) == 0;
	}
	regfree(&re);
	free(copy);
	return any && all;
}

/* markers - what the database keeps of the re-injection markers, one a line. */
static char *markers(void)
{
	char *db = path("db");
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	struct strbuf sb;

	sb_init(&sb);
	sb_adds(&sb, "");
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(h, "SELECT marker FROM reinject_marker ORDER BY marker", -1, &st,
			       NULL) != SQLITE_OK)
		sb_adds(&sb, "(cannot read the markers)");
	while (st != NULL && sqlite3_step(st) == SQLITE_ROW)
		sb_printf(&sb, "%s\n", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(h);
	free(db);
	return sb.s;
}

static bool recorded(const char *qid, enum action *applied)
{
	char *db = path("db"), *err = NULL;
	struct store *s = store_open(db, STORE_RO, &err);
	struct find f = { qid, false, ACTION_DELIVER };

	if (s != NULL) {
		store_decisions_each(s, 0, LLONG_MAX, find_decision, &f);
		store_close(s);
	}
	free(err);
	free(db);
	*applied = f.applied;
	return f.found;
}

/* ------------------------------------------------------------- the fake MTA */

static int fk_reply(void *mta, const struct reply *r)
{
	struct fake *k = mta;
	struct strbuf sb;

	sb_printf(&k->calls, "reply %s %s\n", r->rcode, r->xcode);
	if (k->fail_reply)
		return k->failed++, -1;
	sb_init(&sb);
	for (size_t i = 0; i < r->n_lines; i++)
		sb_printf(&sb, "%s\n", r->lines[i]);
	free(k->reply);
	k->reply = sb.s;
	memcpy(k->rcode, r->rcode, sizeof(k->rcode));
	return 0;
}

static int fk_quarantine(void *mta, const char *reason)
{
	struct fake *k = mta;

	sb_printf(&k->calls, "quarantine\n");
	if (k->fail_quarantine)
		return k->failed++, -1;
	free(k->quarantine);
	k->quarantine = xstrdup(reason);
	return 0;
}

static int fk_delrcpt(void *mta, const char *raw)
{
	struct fake *k = mta;

	sb_printf(&k->calls, "delrcpt %s\n", raw);
	if (k->fail_delrcpt)
		return k->failed++, -1;
	sb_printf(&k->delrcpts, "%s,", raw);
	return 0;
}

static int fk_chgheader(void *mta, const char *name, int index, const char *value)
{
	struct fake *k = mta;

	sb_printf(&k->calls, "chgheader %s %d %s\n", name, index, value ? value : "(delete)");
	if (k->fail_header)
		return k->failed++, -1;
	return 0;
}

static int fk_insheader(void *mta, int index, const char *name, const char *value)
{
	struct fake *k = mta;

	sb_printf(&k->calls, "insheader %d %s\n", index, name);
	if (k->fail_header)
		return k->failed++, -1;
	free(k->tag);
	k->tag = xstrdup(value);
	return 0;
}

static int fk_progress(void *mta)
{
	sb_printf(&((struct fake *)mta)->calls, "progress\n");
	return 0;
}

/* ------------------------------------------------------------------ cases */

static void run_case(const struct pcase *c, int n, bool exact)
{
	struct fake k = { 0 };
	struct runtime *rt = runtime_for(c->conf);
	int copies;
	struct facts *f;
	char *qid = xasprintf("%s%d", strcmp(c->inject, "record") == 0 ? "FAILREC" : "Q", n);
	char *rcpts = xstrdup(c->rcpts), *save = NULL, *line, *logfile = path("stderr");
	char *fails = path("sendmail-fails");
	char *hdrs = xasprintf("From: Alice <alice@kp.dk>\nSubject: Sag %d\nMessage-ID: <m%d@kp.dk>\n"
			       "%s%s",
			       n, n, strstr(c->headers, "X-KP-Personal") ? "" : "X-KP-Personal: yes\n",
			       c->headers);
	char *body = c->body == NULL ? xstrdup("Hej Bob,\nher er sagen.\n")
		     : c->body[0] == '@' ? slurp(c->body + 1, NULL)
					 : xstrdup(c->body);
	char *logtext;
	int copies_before = count_copies(), saved, fd;
	char *markers_before = exact ? markers() : NULL, *markers_after = NULL;
	enum mta_result r;
	enum action applied;
	bool rec;
	const char *what = c->name;
	int failed_before = tap_failed;

	sb_init(&k.calls);
	sb_init(&k.delrcpts);
	k.fail_reply = strcmp(c->inject, "reply") == 0;
	k.fail_quarantine = strcmp(c->inject, "quarantine") == 0;
	k.fail_delrcpt = strcmp(c->inject, "delrcpt") == 0;
	k.fail_header = strcmp(c->inject, "header") == 0;
	if (strcmp(c->inject, "sendmail") == 0)
		close(open(fails, O_WRONLY | O_CREAT, 0600));

	f = facts_new(rt, "192.0.2.7", NULL, "alice", "<alice@kp.dk>");
	for (char *a = strtok_r(rcpts, ",", &save); a != NULL; a = strtok_r(NULL, ",", &save)) {
		char *raw = xasprintf("<%s>", a);
		const char *why;

		if (facts_add_rcpt(f, raw, &why) != ADDR_OK)
			ok(0, "%s: recipient %s accepted", what, raw);
		free(raw);
	}
	for (char *h = hdrs; *h != '\0'; h = strchr(h, '\n') + 1) {
		char *colon = strchr(h, ':'), *nl = strchr(h, '\n');
		char *name = xstrndup(h, (size_t)(colon - h));
		char *value = xstrndup(colon + 2, (size_t)(nl - colon - 2));

		facts_header(f, name, value);
		free(name);
		free(value);
	}
	facts_end_of_headers(f);
	facts_body(f, body, strlen(body));
	facts_set_queue_id(f, qid);

	fflush(stderr);
	saved = dup(2);
	fd = open(logfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	close(fd);
	r = pipeline_end_of_message(f, &fake_ops, &k);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	logtext = slurp("stderr", NULL);
	line = audit_line_of(logtext ? logtext : "", qid);

	copies = count_copies() - copies_before;
	rec = recorded(qid, &applied);
	if (exact) {
		markers_after = markers();
		/* a failed hand-off leaves no marker behind; a stored one is a digest */
		if (strcmp(c->inject, "sendmail") == 0)
			is_str(markers_after, markers_before,
			       "%s: no re-injection marker left after the failed hand-off", what);
		if (c->copies > 0)
			ok(strcmp(markers_after, markers_before) != 0 &&
				   regex_all_lines(markers_after, "^[0-9a-f]{64}$"),
			   "%s: the database keeps the markers' SHA-256, not the markers", what);
		free(markers_after);
		free(markers_before);
		is_str(mta_result_name(r), mta_result_name(c->want), "%s: the MTA is told %s", what,
		       mta_result_name(c->want));
		is_str(action_name(f->d.applied), action_name(c->applied), "%s: applied=%s", what,
		       action_name(c->applied));
		is_str(f->d.rule, c->rule, "%s: rule %s", what, c->rule);
		is_int(copies, c->copies, "%s: %d encrypted copies queued", what,
		       c->copies);
		is_str(k.delrcpts.s ? k.delrcpts.s : "", c->removed, "%s: taken off the original: %s", what,
		       c->removed[0] ? c->removed : "nobody");
		is_int(k.quarantine != NULL, c->held, "%s: %s", what, c->held ? "held" : "not held");
		is_str(k.reply ? k.rcode : NULL, c->rcode, "%s: reply %s", what, c->rcode ? c->rcode : "none");
		is_int(rec, c->recorded, "%s: %s", what, c->recorded ? "recorded" : "not recorded");
		if (rec)
			is_str(action_name(applied), action_name(c->applied), "%s: the record says %s", what,
			       action_name(c->applied));
		if (ok(line != NULL && line[0] != '\0', "%s: exactly one audit line", what)) {
			char *want = xasprintf(" applied=%s ", action_name(c->applied));

			ok(strstr(line, want) != NULL, "%s: the audit line has%s", what, want);
			ok((strstr(line, " recorded=no ") == NULL) == c->recorded,
			   "%s: the audit line %s recorded=no", what, c->recorded ? "has no" : "has");
			if (c->copies > 0)
				ok(strstr(line, " copy=") != NULL, "%s: the audit line names the copy", what);
			if (c->inject[0] != '\0' && strcmp(c->inject, "reply") != 0)
				ok(strstr(line, " failure=") != NULL, "%s: the audit line says what failed",
				   what);
			free(want);
		} else {
			diag("log: %s", logtext ? logtext : "(none)");
		}

}
	/* The invariants, whatever the row. */
	if (copies > 0 && (r == MTA_ACCEPT || r == MTA_DISCARD || k.quarantine != NULL))
		ok(strstr(k.delrcpts.s ? k.delrcpts.s : "", "<" ENC ">") != NULL,
		   "%s: invariant: the recipient of the copy is not on what goes on", what);
	if (k.quarantine != NULL)
		ok(strstr(k.quarantine, ENC) == NULL, "%s: invariant: the hold reason names no "
		       "recipient of the encrypted copy", what);
	if (r == MTA_ACCEPT || r == MTA_DISCARD)
		ok(rec || (line != NULL && strstr(line, " recorded=no ") != NULL),
		   "%s: invariant: accepted with a record or an audit line saying there is none",
		   what);
	if (k.reply != NULL) {
		ok(strstr(k.reply, "internal MTA detail") == NULL && strstr(k.reply, "postdrop") == NULL,
		   "%s: no MTA internals in the reply", what);
		ok(strstr(k.reply, "Ref " ) != NULL, "%s: the reply has a reference", what);
	}
	ok(copies <= 1, "%s: invariant: at most one copy per message", what);
	if (f->d.mode == MODE_ENFORCE && (r == MTA_ACCEPT || k.quarantine != NULL))
		for (size_t i = 0; i < f->d.n_rcpts; i++)
			if (f->d.rcpts[i].action == ACTION_ENCRYPT)
				ok(strstr(k.delrcpts.s ? k.delrcpts.s : "", f->d.rcpts[i].raw) != NULL,
				   "%s: invariant: %s, due an encrypted copy, is neither sent nor held "
				   "the clear original",
				   what, f->d.rcpts[i].addr.full);
	if (copies == 0 && k.failed > 0 && strcmp(c->inject, "reply") != 0)
		ok(r == MTA_TEMPFAIL || r == MTA_REJECT,
		   "%s: invariant: an effect failed before any copy: not accepted", what);
	if (copies == 0 && line != NULL && strstr(line, " failure=\"encrypt") != NULL)
		ok(r == MTA_TEMPFAIL || r == MTA_REJECT,
		   "%s: invariant: the copy could not be made: not accepted", what);
	if (exact && r == MTA_ACCEPT && k.quarantine == NULL)
		ok(k.tag != NULL || c->inject[0] != '\0', "%s: tagged", what);
	if (c->reply_has != NULL)
		ok(k.reply != NULL && strstr(k.reply, c->reply_has) != NULL, "%s: the reply says %s",
		   what, c->reply_has);
	if (c->hold_has != NULL)
		ok(k.quarantine != NULL && strstr(k.quarantine, c->hold_has) != NULL,
		   "%s: the hold reason says \"%s\"", what, c->hold_has);
	for (size_t i = 0; i < sizeof(case_calls) / sizeof(case_calls[0]); i++)
		if (exact && strcmp(case_calls[i].name, c->name) == 0)
			ok(k.calls.s != NULL && strstr(k.calls.s, case_calls[i].calls) != NULL,
			   "%s: the MTA is asked for the Subject change, in order", what);
	for (size_t i = 0; i < sizeof(case_not_calls) / sizeof(case_not_calls[0]); i++)
		if (exact && strcmp(case_not_calls[i].name, c->name) == 0)
			ok(k.calls.s == NULL || strstr(k.calls.s, case_not_calls[i].call) == NULL,
			   "%s: no %s", what, case_not_calls[i].call);
	if (tap_failed > failed_before)
		diag("%s: calls:\n%s", what, k.calls.s ? k.calls.s : "(none)");

	unlink(fails);
	free(fails);
	facts_free(f);
	runtime_unref(rt);
	sb_free(&k.calls);
	sb_free(&k.delrcpts);
	free(k.reply);
	free(k.quarantine);
	free(k.tag);
	free(line);
	free(logtext);
	free(logfile);
	free(hdrs);
	free(body);
	free(rcpts);
	free(qid);
}

/*
 * cross_product - every recipient set under every configuration, each
 * with every failure injected: the exact outcomes are the table's above;
 * here the invariants must hold in all of them.
 */
/*
 * header_limits - what is kept of a trusted submitter's header is bounded:
 * one field over FACTS_HEADER_FIELD_LIMIT or a block over
 * FACTS_HEADER_BLOCK_LIMIT is refused 552 5.3.4 (an encrypted copy would
 * lack part of the header); many small fields under the limit go on; a
 * subject tag in a Subject that is not kept still counts.
 */
static void header_limits(void)
{
	struct pcase pc = { 0 };
	struct strbuf sb;
	char *big = xmalloc(FACTS_HEADER_FIELD_LIMIT + 2);

	memset(big, 'a', FACTS_HEADER_FIELD_LIMIT + 1);
	big[FACTS_HEADER_FIELD_LIMIT + 1] = '\0';
	pc.conf = "";
	pc.inject = "";
	pc.removed = "";
	pc.recorded = true;

	sb_init(&sb);
	sb_printf(&sb, "X-Big: %s\n", big);
	pc.name = "one field over 64 KB";
	pc.rcpts = ENC;
	pc.headers = sb.s;
	pc.want = MTA_REJECT;
	pc.applied = ACTION_REJECT;
	pc.rule = RULE_HEADER_LIMIT;
	pc.rcode = "552";
	run_case(&pc, 900, true);
	sb_free(&sb);

	/* a tag in a Subject too long to keep still makes the message personal */
	sb_init(&sb);
	sb_printf(&sb, "X-KP-Personal: no\nSubject: [sikker] %s\n", big);
	pc.name = "a Subject over 64 KB with a subject tag, to gmail";
	pc.conf = TAG;
	pc.rcpts = "x@gmail.com";
	pc.headers = sb.s;
	pc.rule = RULE_FREEMAIL;
	pc.rcode = "550";
	run_case(&pc, 903, true);
	sb_free(&sb);
	pc.conf = "";
	pc.rcpts = ENC;
	pc.rule = RULE_HEADER_LIMIT;
	pc.rcode = "552";

	sb_init(&sb);
	for (int i = 0; i < 10000; i++)
		sb_printf(&sb, "X-Filler-%05d: %.100s\n", i, big);
	pc.name = "10,000 fields, 1.2 MB";
	pc.headers = sb.s;
	run_case(&pc, 901, true);
	sb_free(&sb);

	sb_init(&sb);
	for (int i = 0; i < 10000; i++)
		sb_printf(&sb, "X-F: %d\n", i);
	pc.name = "10,000 small fields";
	pc.rcpts = "bob@kp.dk";
	pc.headers = sb.s;
	pc.want = MTA_ACCEPT;
	pc.applied = ACTION_DELIVER;
	pc.rule = RULE_INTERNAL;
	pc.rcode = NULL;
	run_case(&pc, 902, true);
	sb_free(&sb);
	free(big);
}

static void cross_product(void)
{
	static const char *const rcpt_sets[] = {
		"bob@kp.dk", "sag@kommune.dk", ENC, "x@partner.dk", "x@gmail.com",
		"x@other.example", "x@nocert.example", "bob@kp.dk," ENC, "x@gmail.com," ENC,
	};
	static const char *const confs[] = { "", HOLD, "Mode monitor\n", "PersonalToTLS accept\n" };
	static const char *const injects[] = {
		"", "sendmail", "delrcpt", "quarantine", "header", "record", "reply",
	};
	int n = 1000;

	for (size_t r = 0; r < sizeof(rcpt_sets) / sizeof(rcpt_sets[0]); r++)
		for (size_t c = 0; c < sizeof(confs) / sizeof(confs[0]); c++)
			for (size_t i = 0; i < sizeof(injects) / sizeof(injects[0]); i++)
				for (int personal = 0; personal < 2; personal++) {
					struct pcase pc = { 0 };
					char *name = xasprintf("cross: %s, %s%s, %s, %s",
							       rcpt_sets[r], confs[c][0] ? "" : "defaults",
							       confs[c], personal ? "personal" : "not personal",
							       injects[i][0] ? injects[i] : "no failure");

					for (char *p = name; *p; p++)
						if (*p == '\n')
							*p = ' ';
					pc.name = name;
					pc.conf = confs[c];
					pc.rcpts = rcpt_sets[r];
					pc.headers = personal ? "" : "X-KP-Personal: no\n";
					pc.inject = injects[i];
					run_case(&pc, n++, false);
					free(name);
				}
}

int main(void)
{
	char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/t_pipeline.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	log_init("t_pipeline", false, true, 0);
	mime_init();
	make_files();
	seed_database();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i], (int)i + 1, true);
	cross_product();
	header_limits();
	if (tap_failed == 0)
		sh("cd / && rm -rf '%s'", dir);
	else
		diag("files kept in %s", dir);
	return done_testing();
}

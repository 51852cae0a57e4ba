#!/bin/bash
# protocol.sh - the real sikkermail-milter driven through the milter
# protocol by miltertest: each tests/milter/*.lua script is one behaviour
# (flag headers stripped, bilingual reject, tags, quarantine, monitor mode,
# tempfail on a broken database, routed recipients). The scripts report
# their checks; this script numbers them as TAP and then checks the
# decision lines and the database records the daemon wrote.

. "$(dirname "$0")/../lib/common.sh"

need "$MILTER" "sikkermail-milter not built ($MILTER)"
need "$CTL" "sikkermail-ctl not built ($CTL)"
need miltertest "miltertest not installed (Debian package miltertest)"
need sqlite3 "sqlite3 not installed"
need runuser

HELPURL=https://kp.dk/sikkermail

# Four daemons, each with its own configuration, socket and database, run
# side by side (a daemon takes seconds to stop; stopping them together
# keeps the test quick).
declare -A D_DIR D_PID

# use NAME - point CONF, SOCK, LOG, DB at daemon NAME.
use() {
	local dir=${D_DIR[$1]}
	CONF=$dir/milter.conf
	SOCK=$dir/milter.sock
	LOG=$dir/milter.log
	DB=$dir/db/sikkermail.db
}

# daemon NAME [LINE...] - write its configuration and start it.
daemon() {
	local name=$1
	shift
	D_DIR[$name]=$TEST_TMP/$name
	use "$name"
	mkdir -p "${D_DIR[$name]}/db"
	give_to_test_user "${D_DIR[$name]}"
	milter_conf "$CONF" "Socket local:$SOCK" "Database $DB" "UMask 007" "HelpURL $HELPURL" "$@"
	if milter_start "$CONF" "$SOCK" "$LOG"; then
		D_PID[$name]=$MILTER_PID
		pass "$name daemon starts"
	else
		fail "$name daemon starts"
	fi
}

running() { [ -n "${D_PID[$1]:-}" ]; }

# run_lua SCRIPT QID_PREFIX [NAME=VALUE...] - run one script against the
# daemon in use, with the NAMEs as its globals.
run_lua() {
	local script=$1
	shift
	miltertest_tap "${script%.lua}" "$SOCK" "$script" "$@"
}

# db_rcpts QID - "rcpt|class|action" for each recorded recipient of QID.
db_rcpts() {
	local link from to
	link=$(sql "$DB" "SELECT \"from\" || ' ' || \"to\" FROM pragma_foreign_key_list('decision_rcpt') WHERE \"table\" = 'decision' LIMIT 1")
	read -r from to <<<"$link"
	: "${from:=decision_id}" "${to:=id}"
	sql "$DB" "SELECT r.rcpt, r.class, r.action FROM decision_rcpt r JOIN decision d ON r.$from = d.$to WHERE d.queue_id = '$1' ORDER BY r.rcpt"
}

# record QID NAME APPLIED RULE RCPTS - the database row for QID.
record() {
	local qid=$1 name=$2
	is "$(sql "$DB" "SELECT applied, rule FROM decision WHERE queue_id = '$qid'")" \
		"$3|$4" "$name: database records applied=$3 rule=$4"
	is "$(db_rcpts "$qid" | tr '\n' ' ')" "$5" "$name: database records the recipients"
}

# enforce: 127.0.0.1 is not internal, so only {auth_authen} makes the
# client trusted. hold, monitor: the default InternalNetworks (127.0.0.1
# is trusted; hold does not scan for CPR numbers). broken: its database
# is broken once it runs.
daemon enforce "InternalNetworks 192.0.2.0/24"
daemon hold "PersonalToFreemail hold" "DetectCPR off" "PersonalSubjectTag [sikker]"
daemon monitor "Mode monitor" "PersonalSubjectTag [sikker]"
daemon broken
daemon cprmon "DetectCPR monitor"
daemon cprenf "DetectCPR enforce"
daemon subjtag "InternalNetworks 192.0.2.0/24" "PersonalSubjectTag [sikker]" \
	"PersonalSubjectTag [personfølsom]" "DetectCPR enforce"

# encrypt: a function mailbox, a certificate directory that never answers
# (the recipient's certificate is put in the cache below, as if it had),
# and a stand-in sendmail that keeps what it is handed in sent/.
ENC_DIR=$TEST_TMP/encrypt-files
mkdir -p "$ENC_DIR/sent"
if bash "$top_srcdir/tests/lib/mkcerts.sh" "$ENC_DIR/pki" 2>"$ENC_DIR/mkcerts.err"; then
	chmod 600 "$ENC_DIR"/pki/*.key
	printf '#!/bin/sh\nprintf "%%s\\n" "$*" >>%s/sent/args\ncat >"$(mktemp %s/sent/m.XXXXXX)"\n' \
		"$ENC_DIR" "$ENC_DIR" >"$ENC_DIR/sendmail"
	chmod 755 "$ENC_DIR/sendmail"
	give_to_test_user "$ENC_DIR/sent"
	daemon encrypt "SecureMailbox sikker@kp.dk $ENC_DIR/pki/valid.key $ENC_DIR/pki/valid.pem" \
		"LDAPURI ldap://127.0.0.1:1" "LDAPBase c=DK" "TrustedCAFile $ENC_DIR/pki/trust.pem" \
		"SendmailPath $ENC_DIR/sendmail"
else
	fail "test PKI made for the encrypt daemon"
	diag_file "$ENC_DIR/mkcerts.err"
fi

# ------------------------------------------------------------ enforce

use enforce
if running enforce; then
	run_lua untrusted.lua AA0000
	run_lua trusted.lua BB0000
	run_lua routed.lua EE0000
	run_lua sendmail.lua 5E0000
	before=$(grep -c 'sends no MAIL FROM macros' "$LOG")
	run_lua macros.lua 3A0000
	is "$(($(grep -c 'sends no MAIL FROM macros' "$LOG") - before))" 2 \
		"no MAIL FROM macros: said once per connection (2 connections, 4 messages)"
	like "$(grep 'sends no MAIL FROM macros' "$LOG" | tail -1)" \
		'an authenticated submitter cannot be recognised; only InternalNetworks are trusted' \
		"no MAIL FROM macros: the log line says what it means"
	decision 3A00000001 "no macros" "trusted=no" "personal=no" "applied=deliver"

	decision AA00000001 "spoofed flags" "trusted=no" "personal=no" \
		"applied=deliver" "rcpt1=x@gmail.com" "class1=freemail" "action1=deliver"
	decision BB00000001 "personal to gmail" "trusted=yes" "mode=enforce" \
		"personal=yes" "personal_source=header" "action=reject" "applied=reject" \
		"rule=PersonalToFreemail" "rcpts=1" "rcpt1=x@gmail.com" "class1=freemail" \
		"action1=reject"
	decision BB00000002 "value maybe" "personal=yes" "applied=reject"
	decision BB00000005 "value nej" "personal=no" "applied=deliver"
	decision BB00000007 "personal to internal" "personal=yes" "applied=deliver" \
		"class1=internal" "action1=deliver"
	decision BB00000009 "lookalike" "applied=reject" "rcpt1=bob@kp.dk.evil.com" "class1=tls"
	decision BB0000000A "internal + gmail" "rcpts=2" "applied=reject"
fi

# ------------------------------------------------------------ hold

use hold
if running hold; then
	run_lua hold.lua CC0000
	run_lua steps.lua C50000 scanning=no
	decision C500000001 "body skipped" "personal=no" "applied=deliver"
	decision CC00000001 "hold" "trusted=yes" "personal=yes" "action=hold" "applied=hold" \
		"class1=freemail" "action1=hold"
	decision CC00000002 "reject beats hold" "applied=reject"
	decision CC00000004 "held by tag" "personal=yes" "personal_source=subject" "applied=hold"
fi

# ------------------------------------------------------------ monitor

use monitor
if running monitor; then
	run_lua monitor.lua DD0000
	decision DD00000004 "monitor, subject tag" "mode=monitor" "personal=yes" \
		"personal_source=subject" "action=reject" "applied=deliver"
	decision DD00000001 "monitor" "mode=monitor" "personal=yes" "action=reject" \
		"applied=deliver" "class1=freemail"
fi

# ------------------------------------------------------------ DetectCPR

use cprmon
if running cprmon; then
	run_lua cpr.lua C10000 mode=monitor
	run_lua steps.lua C60000 scanning=yes
	decision C100000001 "cpr, monitor" "personal=no" "cpr=1" "applied=deliver" "class1=freemail"
fi
use cprenf
if running cprenf; then
	run_lua cpr.lua C20000 mode=enforce
	decision C200000001 "cpr, enforce" "personal=yes" "personal_source=cpr" "cpr=1" \
		"applied=reject" "rule=PersonalToFreemail"
	decision C200000002 "cpr, enforce, internal" "personal=yes" "personal_source=cpr" \
		"applied=deliver"
fi
for name in cprmon cprenf; do
	running "$name" || continue
	unlike "$(cat "${D_DIR[$name]}/milter.log")" '010190-?1238' \
		"$name: the CPR number is in no log line"
done

# ------------------------------------------------------------ PersonalSubjectTag

use subjtag
if running subjtag; then
	run_lua subject.lua 5B0000
	decision 5B00000001 "tag, internal" "trusted=yes" "personal=yes" "personal_source=subject" \
		"applied=deliver"
	decision 5B00000002 "encoded tag, gmail" "personal=yes" "personal_source=subject" \
		"applied=reject" "rule=PersonalToFreemail"
	decision 5B00000005 "header no + tag" "personal=yes" "personal_source=subject" \
		'personal_reason="header no; subject tag"' "applied=reject"
	decision 5B00000006 "header yes + tag" "personal_source=header" \
		'personal_reason="header yes; subject tag"'
	decision 5B00000007 "tag + cpr" "personal_source=subject" "cpr=1"
	decision 5B00000008 "no tag" "personal=no" "personal_source=none"
	decision 5B00000009 "untrusted tag" "trusted=no" "personal=no" "personal_source=none" \
		"applied=deliver"
	is "$(sql "$DB" "SELECT personal_source FROM decision WHERE queue_id = '5B00000002'")" \
		subject "encoded tag, gmail: database records personal_source subject"
	unlike "$(cat "$LOG")" '010190-?1238' \
		"subjtag: the CPR number in the Subject is in no log line"
	# the records keep the subject as the source: a replay decides them as they were
	capture "$CTL" -c "$CONF" replay --config "$CONF" --since "$(date -d yesterday +%F)"
	is "$RC" 0 "subjtag: replay under its own configuration: exit 0" || diag_file "$ERR"
	like "$(cat "$OUT")" "none: every recipient would be handled as it was" \
		"subjtag: replayed, what a subject tag made personal is refused again"
fi

# ------------------------------------------------------------ encrypt

use encrypt
if running encrypt; then
	wait_for 5 test -f "$DB"
	as_test_user sqlite3 "$DB" "INSERT OR REPLACE INTO cert_cache (address, found, der, subject,
		issuer, fingerprint, source, not_before, not_after, fetched_at, fresh_until) VALUES
		('valid@example.dk', 1, readfile('$ENC_DIR/pki/valid.der'), 'CN=valid', 'CN=Test',
		'00', 'ldap://127.0.0.1:1', 0, 4102444800, strftime('%s', 'now'),
		strftime('%s', 'now') + 3600)" >/dev/null
	run_lua encrypt.lua E10000
	copies=$(grep -l -s 'application/pkcs7-mime' "$ENC_DIR"/sent/m.* | wc -l)
	is "$copies" 2 "encrypt: two encrypted copies handed to the stand-in sendmail"
	is "$(grep -c -- '-f sikker@kp.dk -- valid@example.dk$' "$ENC_DIR/sent/args")" 2 \
		"encrypt: each from the function mailbox, to the certificate recipient only"
	decision E100000001 "internal + encrypted" "action=encrypt" "applied=encrypt" \
		"rcpt2=valid@example.dk" "class2=encrypted" "action2=encrypt" "copy=<[^ ]+>"
	decision E100000002 "encrypted only" "applied=encrypt"
	decision E100000003 "unknown mailbox" "applied=reject" "rule=SecureMailbox" \
		"mailbox=hr@kp.dk" "failure=.*function mailbox <hr@kp.dk> is not configured.*" \
		"rcpts=1" "rcpt1=valid@example.dk" "class1=encrypted"
	# the refusal's record names the mailbox, why, and the recipients with their classes
	record E100000003 "unknown mailbox" reject SecureMailbox "valid@example.dk|encrypted|encrypt "
	is "$(sql "$DB" "SELECT f.mailbox, f.failure FROM decision_facts f JOIN decision d
		ON f.decision_id = d.id WHERE d.queue_id = 'E100000003'")" \
		"hr@kp.dk|mailbox: function mailbox <hr@kp.dk> is not configured for encrypted mail" \
		"unknown mailbox: database records the mailbox named and the failure"
	is "$(sql "$DB" "SELECT count(*) FROM decision_facts f JOIN decision d
		ON f.decision_id = d.id WHERE d.queue_id = 'E100000001' AND f.mailbox IS NULL
		AND f.failure IS NULL")" 1 "encrypted: no mailbox named, no failure recorded"
fi

# ------------------------------------------------------------ broken database

use broken
if running broken; then
	# Replace the database under the running daemon with garbage.
	wait_for 5 test -f "$DB"
	as_test_user sh -c "head -c 8192 /dev/urandom >'$DB.new' && mv -f '$DB.new' '$DB' && rm -f '$DB-wal' '$DB-shm' '$DB-journal'"
	run_lua tempfail.lua FF0000
	decision FF00000001 "garbage database" "personal=yes" "applied=tempfail"

	# A database the daemon's user cannot read.
	as_test_user sh -c "rm -f '$DB' && sqlite3 '$DB' 'CREATE TABLE t(x)' && chmod 000 '$DB'"
	run_lua tempfail.lua FF1000
	decision FF10000001 "unreadable database" "personal=yes" "applied=tempfail"
	run_lua tempfail.lua FF2000
	decision FF20000001 "still unreadable" "personal=yes" "applied=tempfail"
	# one outage, one line: not one per message or per recipient
	is "$(grep -a -c 'database .* unavailable' "$LOG")" 1 \
		"broken database: the outage is logged once for three messages"
fi

# ------------------------------------------------------------ shutdown

[ ${#D_PID[@]} -gt 0 ] && stop_pids "${D_PID[@]}"
for name in enforce hold monitor broken cprmon cprenf subjtag encrypt; do
	running "$name" || continue
	use "$name"
	is "${STOP_STATUSES[${D_PID[$name]}]}" 0 "$name daemon: SIGTERM exits 0"
	ok "$name daemon: socket removed" test ! -e "$SOCK"
	unlike "$(cat "$LOG")" '(Sanitizer|runtime error|panic)' \
		"$name daemon: no sanitizer report or panic in its log"
done

# ------------------------------------------------------------ database records

use enforce
if running enforce; then
	record BB00000001 "personal to gmail" reject PersonalToFreemail \
		"x@gmail.com|freemail|reject "
	record BB0000000A "internal + gmail" reject PersonalToFreemail \
		"bob@kp.dk|internal|deliver x@gmail.com|freemail|reject "
	is "$(sql "$DB" "SELECT applied FROM decision WHERE queue_id = 'AA00000001'")" deliver \
		"spoofed flags: database records applied=deliver"
fi
use hold
running hold && record CC00000001 "hold" hold PersonalToFreemail "x@gmail.com|freemail|hold "
use monitor
running monitor && record DD00000001 "monitor" deliver PersonalToFreemail \
	"x@gmail.com|freemail|reject "

if tests_failed; then
	for name in "${!D_DIR[@]}"; do
		diag_file "${D_DIR[$name]}/milter.log" 40
	done
fi

done_testing

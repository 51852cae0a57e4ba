#!/bin/bash
# e2e/notice.sh - the function mailbox learns what was sent on its behalf
# (SPEC section 7, the guide's step 8) in digests: with NoticeDelay the
# notices about encrypted messages wait in the database and reach the
# mailbox as one message, not one MTA transaction each; none is lost.
#
#   swaks -> a private Postfix on 127.0.0.1 -> sikkermail-milter (one
#   daemon per case, each with its own database) -> smtp-sink; copies and
#   digests go back over SMTP to a listener without milters (or through a
#   stand-in sendmail), certificates from a private slapd.
#
# Covers: three encrypted messages close together (NoticeDelay 2): one
# digest listing all three, no notice of their own; a waiting notice sent
# when the daemon stops (SIGTERM, NoticeDelay 1h); one left by a daemon
# killed with SIGKILL, sent by the next start at once; a digest the MTA
# refuses kept and sent again later; a notice the database cannot keep
# sent on its own at once.

. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/postfix.sh"
. "$(dirname "$0")/../lib/e2e.sh"
. "$(dirname "$0")/../lib/slapd.sh"

e2e_need openssl ldapsearch
need "$SLAPD_BIN" "slapd not installed (Debian: slapd)"
need "$SLAPADD_BIN" "slapadd not installed (Debian: slapd)"

MSG_SUBJECT="Sag om"
DIGEST_SUBJECT="Subject: Sikre beskeder sendt / Secure messages sent"
T0=$SECONDS

directory_start

for name in stop kill retry nostore; do
	pf_listener "$name" "$M/$name.sock"
done
pf_listener_nomilter reinject
must "private Postfix starts" pf_start "$M/batch.sock"
REINJECT_PORT=${PF_PORTS[reinject]}

CONF_DEFAULTS=("LDAPURI $SLAPD_URI" "LDAPBase c=DK" "TrustedCAFile $CERTS/trust.pem"
	"SecureMailbox sikker@kp.dk $MB/sikker.key $MB/sikker.pem"
	"DefaultSecureMailbox sikker@kp.dk" "Reinject smtp:127.0.0.1:$REINJECT_PORT")
declare -A db
for name in batch stop kill retry nostore; do
	db[$name]=$M/db/$name.db
done
conf batch "Database ${db[batch]}" "NoticeDelay 2"
conf stop "Database ${db[stop]}" "NoticeDelay 1h"
conf kill "Database ${db[kill]}" "NoticeDelay 1h"
conf nostore "Database ${db[nostore]}" "NoticeDelay 1m"

# The retry daemon hands its copies and digests to a stand-in sendmail
# (-i -f SENDER -- RCPT...) that submits them to the re-injection listener,
# but refuses anything for the mailbox until $M/mta-back exists.
cat >"$M/retry-sendmail" <<EOF
#!/bin/sh
from=
while getopts if: o; do
	case \$o in f) from=\$OPTARG ;; i) ;; *) exit 64 ;; esac
done
shift \$((OPTIND - 1))
[ "\$1" = -- ] && shift
to=\$(IFS=,; echo "\$*")
if [ "\$to" = sikker@kp.dk ] && [ ! -e "$M/mta-back" ]; then
	echo "postdrop: warning: mail system is down" >&2
	exit 75
fi
swaks --server 127.0.0.1 --port $REINJECT_PORT --helo localhost --from "\$from" \\
	--to "\$to" --data - >>"$M/retry-sendmail.log" 2>&1
EOF
chmod 755 "$M/retry-sendmail"
conf retry "Database ${db[retry]}" "NoticeDelay 1" "Reinject sendmail" \
	"SendmailPath $M/retry-sendmail"
give_to_test_user "$M"

for name in batch stop kill retry nostore; do
	milters_start "$name"
done
# The nostore daemon's database refuses to keep notices.
must "a trigger refuses notices in the nostore database" \
	sql "${db[nostore]}" "CREATE TRIGGER no_notice BEFORE INSERT ON notice
	BEGIN SELECT RAISE(ABORT, 'notices refused by the test'); END"
pass "slapd, Postfix (smtpd $PF_PORT, re-injection $REINJECT_PORT), smtp-sink and 5 milters running"
diag "set-up took $((SECONDS - T0)) s"

# ------------------------------------------------------------ helpers

# digests - the captured digests, one file a line.
digests() { grep -l -a -F "$DIGEST_SUBJECT" "$SINK_DIR"/* 2>/dev/null; }
digests_are() { [ "$(digests | wc -l)" -eq "$1" ]; }
# digest_with QID - the captured digest that lists QID.
digest_with() {
	grep -l -a -E "^Reference: +$1"$'\r?$' $(digests) /dev/null 2>/dev/null | head -n 1
}
has_digest_with() { [ -n "$(digest_with "$1")" ]; }
# waiting DB - notices waiting in the daemon's database.
waiting() { sql "$1" "SELECT count(*) FROM notice"; }
waiting_is() { [ "$(waiting "$1")" = "$2" ]; }
logged() { grep -a -q -E "$2" "$1"; }
has_notice() { [ -n "$(notice_for "$1")" ]; }

# sent_to NAME TAG - a personal message from alice@ to valid@example.dk
# through daemon NAME, encrypted; QID is its queue id.
sent_to() {
	local name=$1 tag=$2
	LOG=$M/$name.log
	msg "$tag" valid@example.dk
	SEND_PORT=${PF_PORTS[$name]:-$PF_PORT} send "$tag" valid@example.dk
	accepted "$name: $tag" && copy_queued "$name: $tag" 30
}

# ------------------------------------------------------------ three in one digest

LOG=$M/batch.log
senders=()
for i in 1 2 3; do
	msg "b$i" valid@example.dk
	send "b$i" valid@example.dk &
	senders+=($!)
done
wait "${senders[@]}"
qids=()
for i in 1 2 3; do
	[[ $(cat "$TEST_TMP/swaks.b$i.out") =~ queued\ as\ ([0-9A-Za-z]+) ]] &&
		qids+=("${BASH_REMATCH[1]}")
done
is "${#qids[@]}" 3 "NoticeDelay 2: three personal messages to valid@ accepted, sent together"
for q in "${qids[@]}"; do
	QID=$q
	copy_queued "NoticeDelay 2: $q" 30
	ok "NoticeDelay 2: $q's notice kept for the digest" \
		wait_for 10 logged "$LOG" "$q: notice to sikker@kp\\.dk kept for its digest"
done
if ok "NoticeDelay 2: a digest reached the mailbox" wait_for 20 digests_are 1; then
	sleep 4	# anything else would have come by now
	is "$(digests | wc -l)" 1 "NoticeDelay 2: exactly one digest for the three messages"
	d=$(digests | head -n 1)
	h=$(headers_of "$d")
	like "$h" $'(^|\n)'"$DIGEST_SUBJECT"' \(3\)'$'(\n|$)' "digest: Subject counts three"
	like "$h" $'(^|\n)X-Mail-Args: <sikker@kp\\.dk>' "digest: from the mailbox"
	like "$h" $'(^|\n)X-Rcpt-Args: <sikker@kp\\.dk>' "digest: to the mailbox"
	is "$(printf '%s\n' "$h" | grep -c -i '^X-Rcpt-Args:')" 1 "digest: to the mailbox only"
	b=$(tr -d '\r' <"$d")
	for q in "${qids[@]}"; do
		like "$b" $'\nReference: +'"$q"$'\n' "digest: lists $q"
	done
	for i in 1 2 3; do
		like "$b" $'\nEmne / Subject: +Sag om b'"$i"$'\n' "digest: names the subject of b$i"
	done
	is "$(printf '%s\n' "$b" | grep -c '^  valid@example\.dk$')" 3 "digest: each names valid@"
	is "$(printf '%s\n' "$b" | grep -c '^Afsender / Sender: *alice@kp\.dk$')" 3 \
		"digest: each names the sender"
	like "$b" $'\nReplies will arrive in this mailbox\\.' "digest: replies will come here"
fi
for q in "${qids[@]}"; do
	is "$(notice_for "$q")" "" "NoticeDelay 2: no notice of its own for $q"
done
like "$(grep -a 'notice digest to sikker@kp.dk sent' "$LOG")" \
	"notices=3 refs=[A-Za-z0-9,]+ id=<" "NoticeDelay 2: the log says the digest was sent, with the refs"
is "$(waiting "${db[batch]}")" 0 "NoticeDelay 2: nothing waits in the database any more"

# ------------------------------------------------------------ sent at SIGTERM

if sent_to stop stop1; then
	q=$QID
	ok "NoticeDelay 1h: the notice waits in the database" wait_for 10 waiting_is "${db[stop]}" 1
	sleep 1
	is "$(digest_with "$q")" "" "NoticeDelay 1h: no digest yet"
	stop_pid "${MPID[stop]}" 30
	is "$STOP_STATUS" 0 "SIGTERM with a waiting notice: the daemon exits 0"
	ok "SIGTERM: the waiting notice was sent before the exit" wait_for 20 has_digest_with "$q"
	like "$(cat "$M/stop.log")" "notice digest to sikker@kp\\.dk sent: notices=1 refs=$q " \
		"SIGTERM: logged as sent"
	is "$(waiting "${db[stop]}")" 0 "SIGTERM: nothing left waiting"
fi

# ------------------------------------------------------------ sent after SIGKILL

if sent_to kill kill1; then
	q=$QID
	ok "SIGKILL: the notice waits in the database" wait_for 10 waiting_is "${db[kill]}" 1
	kill -KILL "${MPID[kill]}"
	wait "${MPID[kill]}" 2>/dev/null
	untrack_pid "${MPID[kill]}"
	sleep 1
	is "$(digest_with "$q")" "" "SIGKILL: the killed daemon sent nothing"
	is "$(waiting "${db[kill]}")" 1 "SIGKILL: the notice is still in the database"
	rm -f "$M/kill.sock"
	milters_start kill
	ok "SIGKILL: the next start sends it at once (NoticeDelay 1h)" wait_for 20 has_digest_with "$q"
	ok "SIGKILL: ... and deletes it" wait_for 5 waiting_is "${db[kill]}" 0
fi

# ------------------------------------------------------------ the MTA refuses a digest

if sent_to retry retry1; then
	q=$QID
	ok "MTA refuses: the failure is logged with the mailbox and the count" \
		wait_for 15 logged "$LOG" \
		"notice digest to sikker@kp\\.dk with 1 notice\\(s\\) not sent; kept, tried again in [0-9]+ s"
	like "$(cat "$LOG")" "notice digest to sikker@kp\\.dk \\(refs=$q\\) not handed to the MTA: .*mail system is down" \
		"MTA refuses: the MTA's own words are logged"
	is "$(waiting "${db[retry]}")" 1 "MTA refuses: the notice is kept"
	touch "$M/mta-back"
	ok "MTA back: the digest is sent on a later try" wait_for 30 has_digest_with "$q"
	ok "MTA back: nothing left waiting" wait_for 5 waiting_is "${db[retry]}" 0
	like "$(headers_of "$(digest_with "$q")")" $'(^|\n)X-Sikkermail-Reinjected: [0-9]+\\.[0-9a-f]{64}(\n|$)' \
		"Reinject sendmail: the digest carries a re-injection marker"
fi

# ------------------------------------------------------------ the database refuses

if sent_to nostore nostore1; then
	q=$QID
	ok "database refuses: the notice is sent on its own at once" \
		wait_for 15 has_notice "$q"
	like "$(cat "$LOG")" "$q: notice to sikker@kp\\.dk not kept for a digest \\(.*notices refused by the test.*\\): sent on its own" \
		"database refuses: logged"
	like "$(cat "$LOG")" "$q: notice to sikker@kp\\.dk sent" "database refuses: the notice's hand-off logged"
	is "$(digest_with "$q")" "" "database refuses: no digest"
fi

diag "cases took $((SECONDS - T0)) s in all"

# ------------------------------------------------------------ shutdown

e2e_stop batch kill retry nostore

done_testing

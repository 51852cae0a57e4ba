#!/bin/bash
# e2e/held.sh - what became of held mail: sikkermail-ctl held, release and
# delete against a private Postfix, the outcome recorded and reported, and
# HoldNotice telling the sender.
#
#   swaks -> a private Postfix on 127.0.0.1 -> sikkermail-milter
#   (PersonalToFreemail hold, HoldNotice yes) -> smtp-sink. The daemon
#   hands its notices to a stand-in sendmail that submits them to the same
#   Postfix, through the filter again: the re-injection marker must let
#   them pass.
#
# Covers: personal messages to freemail held in Postfix's hold queue;
# their sender told, in both languages, with the reference (a notice the
# MTA refuses is logged and the message stays held); held lists
# them with sender, recipient, rule and evidence; release and delete refuse
# a non-root user, a queue id the filter did not hold (one it delivered,
# one that does not exist), one already released, one deleted by hand, and
# ALL or an option in place of a queue id; release as root
# through sudo puts the message on its way to the sink and records
# "alice (sudo)"; delete takes the other out of the queue and records
# root; held and the report (text, CSV, JSON, HTML) show both outcomes; a
# message deleted with postsuper by hand shows as no longer held, not by
# sikkermail-ctl.

. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/postfix.sh"
. "$(dirname "$0")/../lib/e2e.sh"

e2e_need postsuper postqueue
need "$CTL" "sikkermail-ctl not built ($CTL)"

NOTICE_SUBJECT="Subject: Besked tilbageholdt / Message held for review"

pf_listener_nomilter unused
must "private Postfix starts" pf_start "$M/held.sock"

# The stand-in sendmail (-i -f SENDER -- RCPT...) submits a notice over
# SMTP to the filtered listener: the notice meets the filter again.
cat >"$M/sendmail" <<EOF
#!/bin/sh
from=
while getopts if: o; do
	case \$o in f) from=\$OPTARG ;; i) ;; *) exit 64 ;; esac
done
shift \$((OPTIND - 1))
[ "\$1" = -- ] && shift
to=\$(IFS=,; echo "\$*")
if [ -e "$M/mta-down" ]; then
	echo "postdrop: warning: mail system is down" >&2
	exit 75
fi
# swaks spells the null sender <>
[ -z "\$from" ] && from="<>"
swaks --server 127.0.0.1 --port $PF_PORT --helo localhost --from "\$from" \\
	--to "\$to" --data - >>"$M/sendmail.log" 2>&1
EOF
chmod 755 "$M/sendmail"
conf held "PersonalToFreemail hold" "HoldNotice yes" "Reinject sendmail" \
	"SendmailPath $M/sendmail"
give_to_test_user "$M"
milters_start held
LOG=$M/held.log
CONF=$M/held.conf

# ------------------------------------------------------------ helpers

in_hold() { pf_queue_files hold | grep -q -F "/$1"; }
in_queue() { pf_queue_files | grep -q -F "/$1"; }
notice_to() {
	grep -l -a -F "$NOTICE_SUBJECT (ref $1)" "$SINK_DIR"/* 2>/dev/null | head -n 1
}
has_notice() { [ -n "$(notice_to "$1")" ]; }
ctl() { capture "$CTL" -c "$CONF" "$@"; }

# hold TAG - a personal message from alice@kp.dk to TAG@gmail.com, held by
# the filter; QID is its queue id.
hold() {
	msg "$1" "$1@gmail.com"
	send "$1" "$1@gmail.com"
	accepted "$1" || return 1
	ok "$1: in Postfix's hold queue" wait_for 10 in_hold "$QID"
}

# ------------------------------------------------------------ held, and the sender told

hold h1
Q1=$QID
hold h2
Q2=$QID
hold h3
Q3=$QID
ok "h1: not delivered" test -z "$(sink_file h1)"

ok "h1: the sender is told" wait_for 20 has_notice "$Q1"
N1=$(notice_to "$Q1")
if [ -n "$N1" ]; then
	like "$(grep -a '^X-Rcpt-Args' "$N1")" 'alice@kp.dk' "notice: to the sender"
	like "$(grep -a '^X-Mail-Args' "$N1")" 'X-Mail-Args: *$|<>' "notice: from the null sender"
	is "$(header_value "$N1" From | tr -d '\r')" "<postmaster@kp.dk>" \
		"notice: From postmaster of the sender's domain"
	is "$(header_value "$N1" Auto-Submitted | tr -d '\r')" "auto-generated" \
		"notice: Auto-Submitted"
	body=$(tr -d '\r' <"$N1")
	like "$body" "Den er tilbageholdt og venter" "notice: in Danish"
	like "$body" "It is held for review and has not been sent on" "notice: in English"
	like "$body" "Reference: +$Q1" "notice: with the reference"
	like "$body" "h1@gmail.com \\(freemail\\)" "notice: the held recipient"
	unlike "$body" "X-KP-Personal|$MSG_SUBJECT" "notice: nothing of the message itself"
fi
like "$(cat "$LOG")" "$Q1: hold notice <[^>]*> sent to alice@kp.dk" "notice: logged as sent"
like "$(cat "$LOG")" "re-injected copy <[^>]*> passed" \
	"notice: the filter passed its own notice (marker)"
ok "h2, h3: their senders told too" wait_for 20 has_notice "$Q3"

# a notice that cannot be handed over: logged, and the message stays held
touch "$M/mta-down"
hold h4
Q4=$QID
rm -f "$M/mta-down"
notice_failed() { grep -a -q -F "$Q4: hold notice to alice@kp.dk not sent" "$LOG"; }
ok "h4: the notice that could not be sent is logged" wait_for 10 notice_failed
ok "h4: still held" in_hold "$Q4"
ok "h4: not delivered" test -z "$(sink_file h4)"
ok "h4: no notice" test -z "$(notice_to "$Q4")"
decision "$Q4" "h4" "action=hold" "applied=hold"

# a message the filter let through: not a held one
msg d1 d1@example.org "X-KP-Personal: no"
send d1 d1@example.org
accepted d1
Q_DELIVERED=$QID
sink_wait d1

# ------------------------------------------------------------ held lists them

ctl held --config-dir "$PF_DIR"
is "$RC" 0 "held: exit 0"
for q in "$Q1" "$Q2" "$Q3"; do
	like "$(cat "$OUT")" "ref $q  held [0-9-]+ [0-9:]+ \\([0-9]+[sm] ago\\)" "held: $q with time and age"
done
like "$(cat "$OUT")" "sender: alice@kp.dk" "held: the sender"
like "$(cat "$OUT")" "recipient: h1@gmail.com \\(freemail\\), rule PersonalToFreemail: [^ ]" \
	"held: recipient, class, rule and evidence"
like "$(cat "$OUT")" "outcome: held \\(in the hold queue\\)" "held: Postfix still holds them"
like "$(cat "$OUT")" "4 held messages shown, 4 still held" "held: summary"
unlike "$(cat "$OUT")" "$Q_DELIVERED" "held: not the delivered message"

# ------------------------------------------------------------ release and delete refused

capture runuser -u "$TEST_USER" -- "$CTL" -c "$CONF" release --config-dir "$PF_DIR" "$Q1"
is "$RC" 1 "release as another user than root: exit 1"
like "$(cat "$ERR")" "must be run as root" "... saying root is needed"
ok "... and h1 still held" in_hold "$Q1"

ctl release --config-dir "$PF_DIR" "$Q_DELIVERED"
is "$RC" 1 "release of a message the filter delivered: exit 1"
like "$(cat "$ERR")" "$Q_DELIVERED: not a message sikkermail held" "... refused, clearly"
ctl delete --config-dir "$PF_DIR" ABCDEF123
is "$RC" 1 "delete of an unknown queue id: exit 1"
like "$(cat "$ERR")" "ABCDEF123: not a message sikkermail held" "... refused"
for bad in ALL -d "$Q1 $Q2"; do
	ctl delete --config-dir "$PF_DIR" "$bad"
	is "$RC" 64 "delete \"$bad\": not a queue id, usage error"
done
ok "... and nothing was deleted" in_hold "$Q1"

# ------------------------------------------------------------ release

SUDO_USER=alice capture "$CTL" -c "$CONF" release --config-dir "$PF_DIR" "$Q1"
is "$RC" 0 "release h1: exit 0"
like "$(cat "$OUT")" "$Q1: released from the hold queue" "release: says so"
like "$(cat "$ERR")" "held queue_id=$Q1 state=released by=alice \\(sudo\\)" "release: logged"
ok "release: h1 arrives at the sink" sink_wait h1 20
is "$(sql "$DB" "SELECT o.state || '|' || o.by_user FROM held_outcome o
	JOIN decision d ON d.id = o.decision_id WHERE d.queue_id = '$Q1'")" \
	"released|alice (sudo)" "release: recorded with who"
SUDO_USER=alice capture "$CTL" -c "$CONF" release --config-dir "$PF_DIR" "$Q1"
is "$RC" 1 "release h1 again: exit 1"
like "$(cat "$ERR")" "$Q1: already released by alice \\(sudo\\) at " "... already released"

# ------------------------------------------------------------ delete

env -u SUDO_USER "$CTL" -c "$CONF" delete --config-dir "$PF_DIR" "$Q2" >"$TEST_TMP/del.out" 2>&1
is "$?" 0 "delete h2: exit 0"
ok "delete: h2 is gone from the queue" eval '! in_queue "$Q2"'
ok "delete: h2 never arrives" test -z "$(sink_file h2)"
is "$(sql "$DB" "SELECT o.state || '|' || o.by_user FROM held_outcome o
	JOIN decision d ON d.id = o.decision_id WHERE d.queue_id = '$Q2'")" \
	"deleted|root" "delete: recorded with who"

# h3 deleted by hand, outside sikkermail-ctl
postsuper -c "$PF_DIR" -d "$Q3" hold >/dev/null 2>&1
ok "h3 deleted with postsuper by hand" eval '! in_queue "$Q3"'
ctl delete --config-dir "$PF_DIR" "$Q3"
is "$RC" 1 "delete h3 again: exit 1"
like "$(cat "$ERR")" "$Q3: not deleted: it is not in Postfix's hold queue" "... not in the hold queue"
is "$(sql "$DB" "SELECT count(*) FROM held_outcome o JOIN decision d ON d.id = o.decision_id
	WHERE d.queue_id = '$Q3'")" 0 "... and nothing recorded"

# ------------------------------------------------------------ held shows the outcomes

ctl held --config-dir "$PF_DIR"
is "$RC" 0 "held again: exit 0"
like "$(cat "$OUT")" "ref $Q4 .*outcome: held \\(in the hold queue\\)" "held: h4 still held"
like "$(cat "$OUT")" "1 held message shown, 1 still held" "held: only h4 still held"
unlike "$(cat "$OUT")" "ref ($Q1|$Q2|$Q3) " "held: the others not listed without --all"
ctl held --all --config-dir "$PF_DIR"
is "$RC" 0 "held --all: exit 0"
like "$(cat "$OUT")" "outcome: released by alice \\(sudo\\) at [0-9-]+ [0-9:]+" "held --all: the release"
like "$(cat "$OUT")" "outcome: deleted by root at " "held --all: the deletion"
like "$(cat "$OUT")" "outcome: no longer held \\(not by sikkermail-ctl\\)" \
	"held --all: the one deleted by hand"
ctl held --all --since 2001-01-01 --config-dir "$PF_DIR"
like "$(cat "$OUT")" "4 held messages shown" "held --since: an old date lists all"
ctl held --all --since 2099-01-01 --config-dir "$PF_DIR"
like "$(cat "$OUT")" "0 held messages shown" "held --since: a later date lists none"
ctl held --since tomorrow
is "$RC" 64 "held --since with a bad date: usage error"
is "$(wc -l <"$ERR")" 1 "... in one line"
ctl held --all --since 30d --config-dir "$PF_DIR"
like "$(cat "$OUT")" "4 held messages shown" "held --since 30d: a relative date, as the report takes"
ctl held --since 2026-02-30
is "$RC" 64 "held --since an impossible date: usage error, not moved into March"
# a held decision whose sender, Message-ID, recipient and evidence carry a
# CPR-shaped number: held masks it as the report does
sqlite3 "$DB" "INSERT INTO decision (id, time, queue_id, message_id, sender, client_addr,
  trusted, personal, personal_source, personal_why, cpr_hits, mode, action, applied, rule)
  VALUES (9001, strftime('%s','now'), 'CPRQ1', '<0101901234@kp.dk>', 'cpr0101901234@kp.dk',
  '10.0.0.1', 1, 1, 'header', 'header yes', 0, 'enforce', 'hold', 'hold', 'PersonalToTLS');
  INSERT INTO decision_rcpt VALUES (9001, 0, '0101901234@firma.example', 'tls', 'hold',
  'PersonalToTLS', 'no agreement for 0101901234');"
give_to_test_user "$(dirname "$DB")"
ctl held --all --config-dir "$PF_DIR"
unlike "$(cat "$OUT")" "0101901234" "held: no CPR number shown in clear"
like "$(cat "$OUT")" "sender: cpr010190-\\*\\*\\*\\*@kp.dk" "... masked as in the report"
sqlite3 "$DB" "DELETE FROM decision_rcpt WHERE decision_id = 9001;
  DELETE FROM decision WHERE id = 9001"
give_to_test_user "$(dirname "$DB")"

# ------------------------------------------------------------ the report

ctl report --format text
like "$(cat "$OUT")" "outcome: +released by alice \\(sudo\\) at " "report text: the release"
like "$(cat "$OUT")" "outcome: +deleted by root at " "report text: the deletion"
ctl report --format csv
ok "report csv: the release, in the outcome column of h1's row" \
	grep -q -a -E "^stopped,[^,]*,[^,]*,$Q1,.*,\"?released by alice \\(sudo\\) at [^,]*\"?$" "$OUT"
ctl report --format json
like "$(cat "$OUT")" "\"queue_id\":\"$Q2\".*\"outcome\":\"deleted by root at " "report json: the deletion"
ctl report --format html
like "$(cat "$OUT")" "frigivet af alice \\(sudo\\) kl\\. " "report html: the release, in Danish by default"
ctl report --format html --lang en
like "$(cat "$OUT")" "released by alice \\(sudo\\) at " "report html --lang en: the release in English"

e2e_stop held
done_testing

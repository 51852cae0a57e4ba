#!/bin/bash
# e2e/postfix.sh - end to end: swaks -> a private Postfix on 127.0.0.1 ->
# sikkermail-milter (unix socket) -> smtp-sink, which captures what was
# delivered. Checks what the sender sees (SMTP replies), what arrives (and
# what does not), the decision lines and the database records.
#
# Trust: the milters are configured with InternalNetworks 127.0.0.1/32, so
# a client connecting from 127.0.0.1 is a trusted submitter and one
# connecting from 127.0.0.2 (swaks --local-interface; all of 127/8 is
# loopback) is not. Postfix relays for both (mynetworks 127.0.0.0/8).
#
# One Postfix runs the whole time. Its main smtpd listener uses the milter
# in enforce mode; three more smtpd listeners each use their own milter:
# Mode monitor, PersonalToFreemail hold, and one whose database is broken
# while it runs. The first three share one database.

. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/postfix.sh"
. "$(dirname "$0")/../lib/e2e.sh"

e2e_need postsuper sendmail
need "$CTL" "sikkermail-ctl not built ($CTL)"

HELPURL=https://kp.dk/sikkermail
mkdir -p "$M/broken/db"

CONF_DEFAULTS=("HelpURL $HELPURL")
conf enforce
conf monitor "Mode monitor"
conf hold "PersonalToFreemail hold"
conf broken "Database $M/broken/db/sikkermail.db"

cat >"$M/tunnel.txt" <<'EOF'
# tunnelmail: connected public organisations
kommune-tunnel.dk,Eksempel Kommune
EOF
cat >"$M/partners.txt" <<'EOF'
# partners with a data processing agreement
partner-firma.dk,Partner A/S,2099-12-31
udloebet-firma.dk,Udloebet ApS,2001-01-01
EOF
give_to_test_user "$M"

# The lists go into a fresh database, created by the daemon's user.
for kind in tunnel partners; do
	ctl_import "$M/enforce.conf" "$kind" "$M/$kind.txt"
done
pass "tunnel and partner lists imported"

milters_start enforce monitor hold broken
LOG=$M/enforce.log

pf_listener monitor "$M/monitor.sock"
pf_listener hold "$M/hold.sock"
pf_listener broken "$M/broken.sock"
pf_listener_nomilter plain
# mx.kp.dk is Postfix's own domain (and internal to the filter, .kp.dk):
# Postfix un-quotes "v@gmail.com"@mx.kp.dk and routes it to v@gmail.com.
pf_main_cf mydestination=mx.kp.dk
must "private Postfix starts" pf_start "$M/enforce.sock"
pass "4 milters, Postfix and smtp-sink running (smtpd on 127.0.0.1:$PF_PORT)"

# ------------------------------------------------------------ helpers

# delivered NAME TAG TAGVALUE - queued, arrived at the sink, tagged
# "X-Sikkermail: TAGVALUE; ref=QUEUEID". Sets QID and FILE.
delivered() {
	local name=$1 tag=$2 value=$3
	FILE=
	accepted "$name" || return 1
	if ! ok "$name: arrived at the sink" sink_wait "$tag"; then
		diag "queue: $(pf_queue_files | tr '\n' ' ')"
		diag_file "$PF_LOG" 10
		return 1
	fi
	FILE=$(sink_file "$tag")
	if ! ok "$name: tagged X-Sikkermail: $value; ref=$QID" \
		header_line "$FILE" "X-Sikkermail: $value; ref=$QID"; then
		diag "$(grep -a -i '^X-Sikkermail' "$FILE")"
	fi
}

# rejected NAME TAG RCPT CLASS - the sender got 550 5.7.1 naming RCPT with
# its class and a reference, and nothing was queued or delivered. Sets QID
# (from the reply's "Ref").
rejected() {
	local name=$1 tag=$2 rcpt=$3 class=$4 re
	QID=
	is "$SEND_QID" "" "$name: not queued"
	re="^550-5\.7\.1 Personoplysninger .* <${rcpt//./\\.}> \($class"
	like "$SEND_REPLY" "$re" "$name: Danish 550-5.7.1 line names <$rcpt> ($class)"
	re="(^|"$'\n'")550-5\.7\.1 Personal data may not be sent to <${rcpt//./\\.}> \($class"
	like "$SEND_REPLY" "$re" "$name: English 550-5.7.1 line names <$rcpt> ($class)"
	if like "$SEND_REPLY" "(^|"$'\n'")550 5\.7\.1 Ref ([0-9A-Za-z]+); see ${HELPURL//./\\.}\$" \
		"$name: last line 550 5.7.1 Ref QUEUEID; see HelpURL"; then
		[[ $SEND_REPLY =~ Ref\ ([0-9A-Za-z]+)\; ]] && QID=${BASH_REMATCH[1]}
		# postlogd writes the maillog asynchronously: allow it a moment.
		ok "$name: the Ref is Postfix's queue id" \
			wait_for 5 grep -q "$QID: milter-reject: END-OF-MESSAGE" "$PF_LOG"
	fi
	ok "$name: nothing delivered" test -z "$(sink_file "$tag")"
	[ -n "$QID" ] && ok "$name: nothing left in the queue" \
		test -z "$(pf_queue_files | grep -F "$QID")"
	tests_failed && [ -z "$QID" ] && diag "$SEND_OUT"
	return 0
}

# recorded QID NAME APPLIED - the database has the decision.
recorded() {
	is "$(sql "$DB" "SELECT applied FROM decision WHERE queue_id = '$1'")" "$3" \
		"$2: database records applied=$3"
}

T0=$SECONDS

# ------------------------------------------------------------ trusted, enforce

msg internal bob@kp.dk
send internal bob@kp.dk
delivered "internal" internal "personal=yes (header); action=deliver"
decision "$QID" "internal" "trusted=yes" "personal=yes" "applied=deliver" \
	"rcpt1=bob@kp.dk" "class1=internal"
recorded "$QID" "internal" deliver

msg tunnel sag@kommune-tunnel.dk
send tunnel sag@kommune-tunnel.dk
delivered "tunnel" tunnel "personal=yes (header); action=deliver"
decision "$QID" "tunnel" "applied=deliver" "class1=tunnel"

msg partner kontakt@partner-firma.dk
send partner kontakt@partner-firma.dk
delivered "partner" partner "personal=yes (header); action=deliver"
decision "$QID" "partner" "applied=deliver" "class1=partner"

# A list imported while the daemon runs decides the very next message
# (the daemon keeps the lists in memory and notices the import).
printf 'ny-tunnel.dk,Ny Region\n' >"$M/tunnel2.txt"
give_to_test_user "$M/tunnel2.txt"
ctl_import "$M/enforce.conf" tunnel "$M/tunnel2.txt"
msg newtunnel sag@ny-tunnel.dk
send newtunnel sag@ny-tunnel.dk
delivered "newly imported tunnel domain" newtunnel "personal=yes (header); action=deliver"
decision "$QID" "newly imported tunnel domain" "applied=deliver" "class1=tunnel"
msg oldtunnel sag@kommune-tunnel.dk
send oldtunnel sag@kommune-tunnel.dk
rejected "tunnel domain gone from the new list" oldtunnel sag@kommune-tunnel.dk tls
ctl_import "$M/enforce.conf" tunnel "$M/tunnel.txt"
msg backtunnel sag@kommune-tunnel.dk
send backtunnel sag@kommune-tunnel.dk
delivered "tunnel domain imported again" backtunnel "personal=yes (header); action=deliver"

msg expired kontakt@udloebet-firma.dk
send expired kontakt@udloebet-firma.dk
rejected "expired partner" expired kontakt@udloebet-firma.dk tls
decision "$QID" "expired partner" "applied=reject" "class1=tls" "action1=reject"

msg freemail x@gmail.com
send freemail x@gmail.com
rejected "freemail" freemail x@gmail.com freemail
want="550-5.7.1 Personoplysninger maa ikke sendes til <x@gmail.com> (freemail)
550-5.7.1 Personal data may not be sent to <x@gmail.com> (freemail: not even with TLS)
550 5.7.1 Ref $QID; see $HELPURL"
is "$SEND_REPLY" "$want" "freemail: the exact reply the sender sees"
decision "$QID" "freemail" "trusted=yes" "personal=yes" "personal_source=header" \
	"action=reject" "applied=reject" "rule=PersonalToFreemail" "rcpt1=x@gmail.com" \
	"class1=freemail" "action1=reject"
recorded "$QID" "freemail" reject

msg tls info@almindelig-firma.dk
send tls info@almindelig-firma.dk
rejected "plain TLS" tls info@almindelig-firma.dk tls
decision "$QID" "plain TLS" "applied=reject" "rule=PersonalToTLS" "class1=tls"

msg lookalike bob@kp.dk.evil.com
send lookalike bob@kp.dk.evil.com
rejected "lookalike kp.dk.evil.com" lookalike bob@kp.dk.evil.com tls
decision "$QID" "lookalike" "applied=reject" "class1=tls"

sink_mark
msg mixed carol@kp.dk
send mixed carol@kp.dk,y@gmail.com
rejected "internal + gmail" mixed y@gmail.com freemail
unlike "$SEND_REPLY" "carol@kp\.dk" "internal + gmail: the internal recipient is not named"
sleep 1
is "$(sink_new | wc -l)" 0 "internal + gmail: nobody received anything"
decision "$QID" "internal + gmail" "rcpts=2" "applied=reject"

msg nonpersonal x@gmail.com "X-KP-Personal: no"
send nonpersonal x@gmail.com
delivered "not personal to gmail" nonpersonal "personal=no; action=deliver"
decision "$QID" "not personal to gmail" "personal=no" "applied=deliver" "class1=freemail"

# Local submission (sendmail -> pickup -> cleanup, non_smtpd_milters):
# Postfix presents it to the milter as a connection from 127.0.0.1, so the
# flag counts; the personal message must not reach gmail, and Postfix
# bounces it to the (internal) sender.
msg localsub x-local@gmail.com
if sendmail -C "$PF_DIR" -i -f alice@kp.dk -- x-local@gmail.com <"$TEST_TMP/localsub.eml"; then
	pass "sendmail (local submission) accepted the message for processing"
	bounced() { grep -l -a "^X-Rcpt-Args: <alice@kp.dk>" "$SINK_DIR"/* 2>/dev/null |
		xargs -r grep -l -a "X-Test-Id: localsub" | grep -q .; }
	ok "local submission: bounced to the sender" wait_for 20 bounced
	ok "local submission: not delivered to x-local@gmail.com" \
		test -z "$(grep -l -a "^X-Rcpt-Args: <x-local@gmail.com>" "$SINK_DIR"/* 2>/dev/null)"
	line=$(decision_with_rcpt "$LOG" x-local@gmail.com)
	like "$line" "(^| )applied=reject( |\$)" "local submission: decision line has applied=reject"
else
	fail "sendmail (local submission) accepted the message for processing"
fi

# Routed recipients are refused at RCPT TO.
msg routed bob@kp.dk
send routed 'x%gmail.com@kp.dk'
like "$SEND_OUT" $'<\\*\\* 550[ -]5\\.1\\.3 ' "x%gmail.com@kp.dk: 550 5.1.3 at RCPT TO"
is "$SEND_QID" "" "x%gmail.com@kp.dk: not queued"

# A quoted local part holding a route: Postfix would deliver it elsewhere.
# First, without the filter, the proof that it does: the message for
# "probe@gmail.com"@mx.kp.dk arrives at the sink addressed to probe@gmail.com.
msg qprobe probe@gmail.com "X-KP-Personal: no"
SEND_PORT=${PF_PORTS[plain]} send qprobe '"probe@gmail.com"@mx.kp.dk'
unset SEND_PORT
accepted "no filter: quoted route accepted by Postfix"
if ok "no filter: quoted route delivered" sink_wait qprobe; then
	like "$(grep -a '^X-Rcpt-Args:' "$(sink_file qprobe)")" '<probe@gmail\.com>' \
		"no filter: Postfix routed \"probe@gmail.com\"@mx.kp.dk to probe@gmail.com"
fi
# Through the filter: refused at RCPT TO, nothing reaches gmail.com.
for q in '"victim@gmail.com"@mx.kp.dk' '"victim\@gmail.com"@mx.kp.dk' \
	'"@gmail.com:victim@gmail.com"@mx.kp.dk' '"victim%gmail.com"@mx.kp.dk'; do
	msg qroute victim@gmail.com
	send qroute "$q"
	like "$SEND_OUT" $'<\\*\\* 550[ -]5\\.1\\.3 .*quoted local part' "$q: 550 5.1.3 at RCPT TO"
	is "$SEND_QID" "" "$q: not queued"
done
sleep 1
ok "quoted routes: nothing delivered to victim@gmail.com" \
	test -z "$(grep -l -a '^X-Rcpt-Args: <victim@gmail.com>' "$SINK_DIR"/* 2>/dev/null)"
line=$(grep -a 'refused recipient' "$LOG" | grep -a -F 'victim@gmail.com' | head -n 1)
like "$line" 'quoted local part' "quoted routes: the refusal is logged with its reason"

# ------------------------------------------------------------ untrusted client

pf_message "$TEST_TMP/spoof.eml" spoof "From: Mallory <mallory@example.net>" \
	"To: <x@gmail.com>" "Subject: e2e spoof" "X-KP-Personal: yes" \
	"X-KP-Personal-Note: keep me" "x-kp-personal: ja" \
	"X-KP-Secure-Mailbox: hr@kp.dk" $'X-Kp-Personal: yes,\r\n\tvery much so'
pf_send spoof --from mallory@example.net --to x@gmail.com --local-interface 127.0.0.2 \
	--data "@$TEST_TMP/spoof.eml"
if delivered "spoofed flag from 127.0.0.2" spoof "personal=no; action=deliver"; then
	hdrs=$(headers_of "$FILE")
	unlike "$hdrs" $'(^|\n)[Xx]-[Kk][Pp]-[Pp][Ee][Rr][Ss][Oo][Nn][Aa][Ll]:' \
		"spoofed flag: every X-KP-Personal copy is gone"
	unlike "$hdrs" "very much so" "spoofed flag: the folded copy is gone, continuation too"
	unlike "$hdrs" $'(^|\n)[Xx]-[Kk][Pp]-[Ss]ecure-[Mm]ailbox:' \
		"spoofed flag: X-KP-Secure-Mailbox is gone"
	like "$hdrs" $'(^|\n)X-KP-Personal-Note: keep me' "spoofed flag: other headers kept"
fi
decision "$QID" "spoofed flag" "client=127.0.0.2" "trusted=no" "personal=no" "applied=deliver"

# ------------------------------------------------------------ monitor

LOG=$M/monitor.log
SEND_PORT=${PF_PORTS[monitor]}
msg monitor m@gmail.com
send monitor m@gmail.com
delivered "monitor mode" monitor "personal=yes (header); action=deliver; monitor=reject"
decision "$QID" "monitor mode" "mode=monitor" "action=reject" "applied=deliver"
recorded "$QID" "monitor mode" deliver

# ------------------------------------------------------------ hold

LOG=$M/hold.log
SEND_PORT=${PF_PORTS[hold]}
msg hold h@gmail.com
send hold h@gmail.com
accepted hold
held() { pf_queue_files hold | grep -q -F "/$1"; }
ok "hold: in Postfix's hold queue" wait_for 10 held "$QID"
sleep 1
ok "hold: not delivered" test -z "$(sink_file hold)"
decision "$QID" "hold" "action=hold" "applied=hold"
postsuper -c "$PF_DIR" -d ALL hold >/dev/null 2>&1

# ------------------------------------------------------------ broken database

LOG=$M/broken.log
SEND_PORT=${PF_PORTS[broken]}
bdb=$M/broken/db/sikkermail.db
as_test_user sh -c "head -c 8192 /dev/urandom >'$bdb.new' && mv -f '$bdb.new' '$bdb' && rm -f '$bdb-wal' '$bdb-shm'"
msg brokendb dora@kp.dk
send brokendb dora@kp.dk
is "$SEND_QID" "" "database broken: personal message not accepted"
like "$SEND_REPLY" '^4[0-9][0-9][ -]4\.[0-9]+\.[0-9]+' "database broken: 4xx 4.x.x tempfail"
sleep 1
ok "database broken: nothing delivered" test -z "$(sink_file brokendb)"
unset SEND_PORT

diag "cases took $((SECONDS - T0)) s"

# ------------------------------------------------------------ shutdown

e2e_stop enforce monitor hold broken

done_testing

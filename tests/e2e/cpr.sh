#!/bin/bash
# e2e/cpr.sh - CPR detection end to end: swaks -> a private Postfix ->
# sikkermail-milter -> smtp-sink. A trusted sender's message without the
# X-KP-Personal flag, with a CPR number in a base64-encoded text attachment
# of a multipart message, to a gmail address: delivered and tagged in
# DetectCPR monitor, rejected in DetectCPR enforce. The number never
# appears unmasked in a reply, a header, the log or the database.
#
# One Postfix: its main listener uses the enforce milter, a second
# listener the monitor milter; both share one database.

. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/postfix.sh"
. "$(dirname "$0")/../lib/e2e.sh"

e2e_need base64

CPR=0101901238		# a valid date; modulus 11 holds
MASKED="010190-****"

conf enforce "DetectCPR enforce"
conf monitor "DetectCPR monitor"
conf off "DetectCPR off"
give_to_test_user "$M"

milters_start enforce monitor off
pf_listener monitor "$M/monitor.sock"
pf_listener off "$M/off.sock"
must "private Postfix starts" pf_start "$M/enforce.sock"
pass "3 milters, Postfix and smtp-sink running"

# cpr_message FILE TAG - multipart/mixed; the CPR number only inside a
# base64 text/plain attachment, the visible text innocent.
cpr_message() {
	local b64
	b64=$(printf 'Elevliste\r\nNavn: Jens Jensen, CPR-nr. %s-%s\r\n' "${CPR:0:6}" "${CPR:6}" | base64 -w 76)
	{
		printf 'From: Alice <alice@kp.dk>\r\nTo: <modtager@gmail.com>\r\n'
		printf 'Subject: e2e %s\r\nX-Test-Id: %s\r\n' "$2" "$2"
		printf 'Message-ID: <%s.%s@client.sikkermail.test>\r\nDate: %s\r\n' "$2" "$$" "$(date -R)"
		printf 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n'
		printf -- '--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSe vedhæftet liste.\r\n'
		printf -- '--b1\r\nContent-Type: text/plain; charset=utf-8; name="liste.txt"\r\n'
		printf 'Content-Disposition: attachment; filename="liste.txt"\r\n'
		printf 'Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--b1--\r\n' "$b64"
	} >"$1"
}

send_cpr() {
	local tag=$1 port=$2
	cpr_message "$TEST_TMP/$tag.eml" "$tag"
	SEND_PORT=$port pf_send "$tag" --from alice@kp.dk --to modtager@gmail.com \
		--data "@$TEST_TMP/$tag.eml"
}

# ------------------------------------------------------------ monitor
send_cpr monitor "${PF_PORTS[monitor]}"
accepted monitor
if ok "monitor: delivered to the gmail recipient" sink_wait monitor; then
	FILE=$(sink_file monitor)
	tag=$(header_value "$FILE" X-Sikkermail)
	like "$tag" "^personal=no; cpr=1; action=deliver; ref=$SEND_QID\$" \
		"monitor: tagged personal=no; cpr=1; action=deliver"
fi
wait_for 5 has_decision "$M/monitor.log" "$SEND_QID"
line=$(decision_line "$M/monitor.log" "$SEND_QID")
like "$line" ' cpr=1 ' "monitor: decision line counts cpr=1"
like "$line" ' personal=no ' "monitor: decision line personal=no"
like "$line" "$MASKED" "monitor: decision line shows the number masked"

# ------------------------------------------------------------ enforce
send_cpr enforce "$PF_PORT"
is "$SEND_QID" "" "enforce: not queued"
like "$SEND_REPLY" '^550-5\.7\.1 Personoplysninger .* <modtager@gmail\.com> \(freemail\)' \
	"enforce: 550 names <modtager@gmail.com> (freemail)"
ok "enforce: nothing delivered" test -z "$(sink_file enforce)"
QID=
[[ $SEND_REPLY =~ Ref\ ([0-9A-Za-z]+) ]] && QID=${BASH_REMATCH[1]}
wait_for 5 has_decision "$M/enforce.log" "$QID"
line=$(decision_line "$M/enforce.log" "$QID")
like "$line" ' personal=yes personal_source=cpr ' "enforce: personal, source cpr"
like "$line" ' applied=reject ' "enforce: applied=reject"
like "$line" "$MASKED" "enforce: decision line shows the number masked"
is "$(sql "$DB" "SELECT personal_source || ',' || applied FROM decision WHERE queue_id = '$QID'")" \
	"cpr,reject" "enforce: the database records source cpr, applied reject"

# ------------------------------------------------------------ internal recipient, enforce
cpr_message "$TEST_TMP/internal.eml" internal
sed -i 's/^To: <modtager@gmail.com>/To: <bob@kp.dk>/' "$TEST_TMP/internal.eml"
pf_send internal --from alice@kp.dk --to bob@kp.dk --data "@$TEST_TMP/internal.eml"
ok "enforce: the same message to an internal recipient is delivered" sink_wait internal
[ -n "$(sink_file internal)" ] &&
	like "$(header_value "$(sink_file internal)" X-Sikkermail)" \
		'^personal=yes \(cpr\); cpr=1; action=deliver; ref=' "enforce, internal: tagged personal=yes (cpr)"

# ------------------------------------------------------------ DetectCPR off
send_cpr off "${PF_PORTS[off]}"
if ok "off: delivered" sink_wait off; then
	like "$(header_value "$(sink_file off)" X-Sikkermail)" '^personal=no; action=deliver; ref=' \
		"off: not scanned (no cpr= in the tag)"
fi

# ------------------------------------------------------------ never in clear
pf_wait_idle 10 || true
leaks=$(grep -a -l -E "${CPR:0:6}-?${CPR:6}" "$M"/*.log "$PF_LOG" 2>/dev/null)
is "$leaks" "" "the CPR number appears in no log"
is "$(sql "$DB" "SELECT count(*) FROM decision WHERE personal_why LIKE '%${CPR:6}%'
	OR personal_why LIKE '%${CPR:0:6}${CPR:6}%'")" "0" "the CPR number appears in no database record"
for tag in monitor internal off; do
	f=$(sink_file "$tag")
	[ -n "$f" ] || continue
	unlike "$(headers_of "$f")" "${CPR:0:6}-?${CPR:6}" \
		"$tag: the CPR number is in no header of the delivered message"
done

done_testing

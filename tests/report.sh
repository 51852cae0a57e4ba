#!/bin/bash
# tests/report.sh - sikkermail-ctl report (TAP).
#
# A known set of decisions - rejects, a hold, a tempfail, a monitor-mode
# would-reject, personal mail to tunnel, partner and encrypted recipients,
# mail that is not personal, one decision whose sender, message-id, reason
# and recipient carry CPR numbers, and decisions just outside the period -
# is written into a database with the sqlite3 CLI and, as the same audit
# lines, into the syslog files of two gateways. Each output format must
# give the right counts; CSV sections keep their column count, the JSON
# parses (tests/unit/jsoncheck), the HTML page is self-contained and
# renders its charts in headless Chromium (the screenshot is checked for
# the chart colours by tests/unit/pngcheck), and no output holds a CPR
# number. The period is 2026-03-28..30 in Central European time: the
# 29th has 23 hours, and a decision in its last second and one in the
# first second of the 30th must land on the right days.
#
# A second, fixed database with a fixed "now" (SIKKERMAIL_NOW) gives the
# golden files tests/data/report/*.ref (text, CSV with , and with ; and a
# byte-order mark, JSON) byte for byte: every stopped recipient with its
# why, a message refused as a whole with all its recipients, the CPR
# listing, an empty day left out. Its HTML report, printed to PDF by
# headless Chromium in Danish and in English, must carry every reason as
# printed text (pdftotext), and its captions must be true to the mode.
# Relative dates and the one-line date errors are checked against it too.
#
# Then decisions made by the real filter: two daemons (enforce, monitor)
# share a database, miltertest drives the scenarios of tests/milter
# through them, and the report - from the database and from the daemons'
# logs - must agree with what the database holds.
#
# Then logs a SIEM can take: two daemons with their InstanceName, one
# logging key=value and one JSON, each decide a message to 500
# recipients; every line stays under 1000 bytes, the JSON lines parse,
# and the report counts each message once per gateway - with each file
# given twice too, from a gzip-compressed rotated log, and not at all
# when a recipient line is missing. Lines that only look like the
# filter's (another program's tag, the record quoted inside another
# line) are not counted.

. "$(dirname "$0")/lib/common.sh"

JSONCHECK=${SIKKERMAIL_JSONCHECK:-$top_builddir/tests/unit/jsoncheck}
PNGCHECK=${SIKKERMAIL_PNGCHECK:-$top_builddir/tests/unit/pngcheck}
need "$CTL" "sikkermail-ctl not built ($CTL)"
need "$JSONCHECK" "tests/unit/jsoncheck not built"
need "$PNGCHECK" "tests/unit/pngcheck not built"
need sqlite3 "sqlite3 not installed"

# Central European time with its rule, so that no tzdata is needed.
export TZ='CET-1CEST,M3.5.0,M10.5.0/3'

T=$TEST_TMP
CONF=$T/sikkermail.conf
DB=$T/sikkermail.db
PERIOD=(--since 2026-03-28 --until 2026-03-30)
# The CPR numbers seeded below, in every form they were written in.
CPR_RE='0101901234|010190-1234|2311850123|1505821234|311299-9999'

# as root the tool works as UserID, which must be able to write here
cat >"$CONF" <<EOF
Database $DB
InternalDomains kp.dk, .kp.dk
UserID $TEST_USER
EOF
give_to_test_user "$T"

# report ARGS... - run the report; sets RC, OUT (file), ERR (file).
report() { capture "$CTL" -c "$CONF" report "$@"; }

# row FILE PREFIX - the first line of FILE starting with PREFIX, white space squeezed.
row() { grep -m1 -E "^$2" "$1" | tr -s ' '; }

# ------------------------------------------------------------ usage and errors

report "${PERIOD[@]}"
is "$RC" 75 "no database yet: EX_TEMPFAIL"
like "$(cat "$ERR")" "does not exist" "... saying so"

printf 'kommune.dk,Eksempel Kommune\n' >"$T/tunnel.txt"
"$CTL" -c "$CONF" import tunnel "$T/tunnel.txt" >/dev/null 2>&1
ok "the database is created by an import" test -f "$DB"
cp "$DB" "$T/golden.db"		# the same schema, for the golden files below

report --since 2026-02-30
is "$RC" 64 "an impossible date: usage error"
like "$(cat "$ERR")" "--since: not a date" "... naming the option"
is "$(wc -l <"$ERR")" 1 "... in one line, without the usage text"
like "$(cat "$ERR")" "YYYY-MM-DD, today, yesterday or Nd" "... with the forms it takes"
report --until 7x
is "$RC:$(wc -l <"$ERR")" 64:1 "--until 7x: a one-line usage error"
like "$(cat "$ERR")" "--until: not a date" "... naming --until"
report --csv-separator ';;' --format csv
is "$RC:$(wc -l <"$ERR")" 64:1 "--csv-separator of two characters: a one-line usage error"
like "$(cat "$ERR")" "one of , ; \\| or tab" "... saying which it takes"
report --csv-separator x --format csv
is "$RC" 64 "--csv-separator x refused"
report --csv-separator ';'
like "$RC $(cat "$ERR")" "^64 .*--csv-separator is for --format csv" "--csv-separator with text refused"
report --bom --format json
like "$RC $(cat "$ERR")" "^64 .*--bom is for --format csv" "--bom with json refused, saying why"
report --lang fr --format html
like "$RC $(cat "$ERR")" "^64 .*--lang \"fr\": da or en" "--lang fr refused"
SIKKERMAIL_NOW=soon report
like "$RC $(cat "$ERR")" "^1 .*SIKKERMAIL_NOW=soon is not a unix time" "a bad SIKKERMAIL_NOW refused"
report --since 2026-03-30 --until 2026-03-28
is "$RC" 64 "--since after --until: usage error"
report --format xml
is "$RC" 64 "unknown format: usage error"
report --log
is "$RC" 64 "--log without a file: usage error"
report --frob
is "$RC" 64 "unknown argument: usage error"
report --top many
is "$RC" 64 "--top without a number: usage error"
report --log "$T/no-such-file"
is "$RC" 1 "an unreadable log file: exit 1"
is "$(wc -c <"$OUT")" 0 "... and no report at all"

# ------------------------------------------------------------ the decisions

# the columns the rows below give (later schema steps add more)
DCOLS='id, time, queue_id, message_id, sender, client_addr, trusted, personal, personal_source,
	personal_why, cpr_hits, mode, action, applied, rule'
sqlite3 "$DB" <<EOF || fail "insert the test decisions"
BEGIN;
INSERT INTO decision ($DCOLS) VALUES (1,1774652340,'B0000000','<before@kp.dk>','a@kp.dk','10.0.0.1',1,1,'header','header yes',0,'enforce','reject','reject','PersonalToFreemail');
INSERT INTO decision_rcpt VALUES (1,0,'early@gmail.com','freemail','reject','PersonalToFreemail',NULL);
INSERT INTO decision ($DCOLS) VALUES (2,1774688400,'A0000001','<d1@kp.dk>','a@kp.dk','10.0.0.1',1,1,'header','header yes',0,'enforce','reject','reject','PersonalToFreemail');
INSERT INTO decision_rcpt VALUES (2,0,'x@gmail.com','freemail','reject','PersonalToFreemail','freemail list: gmail.com (built-in)');
INSERT INTO decision_rcpt VALUES (2,1,'u@kp.dk','internal','deliver','internal','InternalDomains entry kp.dk');
INSERT INTO decision ($DCOLS) VALUES (3,1774692000,'A0000002','<d2@kp.dk>','b@kp.dk','10.0.0.1',1,1,'header','header <b>yes</b> & "so"',0,'enforce','hold','hold','PersonalToTLS');
INSERT INTO decision_rcpt VALUES (3,0,'y@firma.example','tls','hold','PersonalToTLS',NULL);
INSERT INTO decision ($DCOLS) VALUES (4,1774695600,'A0000003','<d3@kp.dk>','c@kp.dk','10.0.0.1',1,0,'none',NULL,0,'enforce','deliver','deliver','not-personal');
INSERT INTO decision_rcpt VALUES (4,0,'z@gmail.com','freemail','deliver','not-personal',NULL);
INSERT INTO decision_rcpt VALUES (4,1,'w@kommune.dk','tunnel','deliver','not-personal',NULL);
INSERT INTO decision ($DCOLS) VALUES (5,1774699200,'A0000004','<d4@kp.dk>','c@kp.dk','10.0.0.1',1,1,'header','header yes',0,'enforce','encrypt','encrypt','encrypted');
INSERT INTO decision_rcpt VALUES (5,0,'v@kommune.dk','tunnel','deliver','tunnel',NULL);
INSERT INTO decision_rcpt VALUES (5,1,'e@certs.example','encrypted','encrypt','encrypted','certificate CN=e');
INSERT INTO decision ($DCOLS) VALUES (6,1774767600,'A0000005','<d5@kp.dk>','a@kp.dk','10.0.0.1',1,1,'header','header yes',0,'monitor','reject','deliver','PersonalToFreemail');
INSERT INTO decision_rcpt VALUES (6,0,'q@hotmail.com','freemail','reject','PersonalToFreemail',NULL);
INSERT INTO decision ($DCOLS) VALUES (7,1774771200,'A0000006','<d6@kp.dk>','d@kp.dk','10.0.0.1',1,1,'header','header yes',0,'enforce','deliver','deliver','PersonalToPartner');
INSERT INTO decision_rcpt VALUES (7,0,'p@lon.example.dk','partner','deliver','PersonalToPartner',NULL);
INSERT INTO decision ($DCOLS) VALUES (8,1774821599,'A0000007','<d7@kp.dk>','d@kp.dk','10.0.0.1',1,1,'header','header yes',0,'enforce','tempfail','tempfail','OnLookupFailure');
INSERT INTO decision_rcpt VALUES (8,0,'r@slow.example','unknown','tempfail','OnLookupFailure',NULL);
INSERT INTO decision ($DCOLS) VALUES (9,1774821600,'A0000008','<010190-1234.x@kp.dk>','cpr0101901234@kp.dk','10.0.0.1',1,1,'cpr','cpr 2 (0101901234, 311299-9999)',2,'enforce','reject','reject','PersonalToFreemail');
INSERT INTO decision_rcpt VALUES (9,0,'2311850123@gmail.com','freemail','reject','PersonalToFreemail','note 1505821234');
INSERT INTO decision ($DCOLS) VALUES (10,1774908000,'C0000000','<after@kp.dk>','a@kp.dk','10.0.0.1',1,1,'header','header yes',0,'enforce','reject','reject','PersonalToFreemail');
INSERT INTO decision_rcpt VALUES (10,0,'late@gmail.com','freemail','reject','PersonalToFreemail',NULL);
COMMIT;
EOF

# ------------------------------------------------------------ text

report "${PERIOD[@]}"
is "$RC" 0 "text report: exit 0"
TEXT=$OUT
like "$(cat "$OUT")" "Period: +2026-03-28 to 2026-03-30, 3 days" "text: the period"
is "$(row "$OUT" '  messages ')" " messages 8" "text: 8 messages (2 outside the period left out)"
is "$(row "$OUT" '  messages with personal')" " messages with personal data 7" "text: 7 personal"
is "$(row "$OUT" '  messages with CPR')" " messages with CPR numbers found 1" "text: 1 with CPR numbers"
is "$(row "$OUT" '  rejected ')" " rejected 2" "text: 2 rejected"
is "$(row "$OUT" '  decided in monitor')" " decided in monitor mode 1" "text: 1 in monitor mode"
is "$(row "$OUT" '    of which would be rejected')" " of which would be rejected 1" \
	"text: which would have been rejected"
days=$(awk '/^Messages per day/ { p = 1; next } p && /^$/ { exit } p' "$OUT" | tr -s ' ')
like "$days" "2026-03-28 4 3 0 1 1 1 0 1" "text: 28 March by action"
like "$days" "2026-03-29 3 3 0 2 0 0 1 0" "text: 29 March (23 hours, its last second included)"
like "$days" "2026-03-30 1 1 1 0 0 0 0 1" "text: 30 March (its first second)"
like "$days" "total 8 7 1 3 1 1 1 2" "text: totals by action"
classes=$(awk '/^Recipients per day, by class/ { p = 1; next } p && /^$/ { exit } p' "$OUT" | tr -s ' ')
like "$classes" "total 1 2 1 1 4 1 1" "text: recipients by class"
routes=$(awk '/^Personal mail by route/ { p = 1; next } p && /^$/ { exit } p' "$OUT" | tr -s ' ')
like "$routes" "freemail 3 0 0 0 0 3" "text: personal to freemail: 3 rejects"
like "$routes" "tunnel 1 1 0 0 0 0" "text: personal to tunnel delivered"
like "$routes" "encrypted 1 0 1 0 0 0" "text: personal encrypted"
like "$routes" "partner 1 1 0 0 0 0" "text: personal to partner delivered"
like "$(cat "$OUT")" "Rejected and held messages: 4" "text: 4 stopped messages listed"
like "$(cat "$OUT")" "2026-03-29 09:00:00  would reject \(monitor\)  ref A0000005" \
	"text: the monitor-mode message, at local summer time"
like "$(cat "$OUT")" "recipient:  y@firma.example \(tls: hold\)" "text: offending recipient and class"
unlike "$(cat "$OUT")" "u@kp.dk" "text: recipients that were not the problem are not listed"
is "$(row "$OUT" '  +2 +2 +0  a@kp.dk')" " 2 2 0 a@kp.dk" "text: top sender, monitor rejects included"
is "$(row "$OUT" '  +2 +0 +2  gmail.com')" " 2 0 2 gmail.com (freemail)" "text: top external domain"
unlike "$(cat "$OUT")" "  1 +[01] +[01]  kp.dk" "text: internal domains are not external"
is "$(awk 'length > 80' "$OUT" | wc -l)" 0 "text: no line longer than 80 columns"

report "${PERIOD[@]}" --top 1
is "$(awk '/^Top senders/ { p = 1; next } p && /^$/ { exit } p' "$OUT" | wc -l)" 2 \
	"--top 1: one sender (and the header)"

# ------------------------------------------------------------ CSV

report "${PERIOD[@]}" --format csv
is "$RC" 0 "csv report: exit 0"
CSV=$OUT
# csv_fields - per line "SECTION FIELDS", quotes respected; blank lines as "- 0".
csv_fields() {
	awk '{
		n = 1; q = 0
		for (i = 1; i <= length($0); i++) {
			c = substr($0, i, 1)
			if (c == "\"") q = !q
			else if (c == "," && !q) n++
		}
		split($0, f, ",")
		print ($0 == "" ? "- 0" : f[1] " " n)
	}' "$1"
}
# every row of a section has as many fields as its header
bad=$(csv_fields "$OUT" | awk '$1 == "section" { want = $2; next } $1 != "-" && $2 != want')
is "$bad" "" "csv: every row has its section's column count"
is "$(grep -c '^section,' "$OUT")" 8 "csv: eight sections, each with a header row"
is "$(grep -m1 '^day,total,' "$OUT")" \
	"day,total,8,7,1,3,1,1,1,2,1,0,0,0,0,1,1,2,1,1,4,1,1,1,1,1,1,3,1,1" "csv: the totals row"
is "$(grep -m1 '^day,2026-03-29,' "$OUT" | cut -d, -f3-10)" "3,3,0,2,0,0,1,0" "csv: 29 March"
is "$(grep -c '^stopped,' "$OUT")" 4 "csv: one row per offending recipient"
is "$(grep -m1 '^route,freemail,' "$OUT")" "route,freemail,3,0,0,0,0,3" "csv: route freemail"
is "$(grep -m1 '^summary,would_reject,' "$OUT")" "summary,would_reject,1" "csv: would reject"
like "$(grep -m1 'A0000002' "$OUT")" ',"header <b>yes</b> & ""so""",' "csv: a quote doubled, field quoted"

# ------------------------------------------------------------ JSON

report "${PERIOD[@]}" --format json
is "$RC" 0 "json report: exit 0"
JSON=$OUT
ok "json: valid JSON" "$JSONCHECK" <"$OUT"
like "$(cat "$OUT")" '"totals": \{"date":null,"messages":8,"personal":7,"cpr":1,"applied":\{"deliver":3,"encrypt":1,"hold":1,"tempfail":1,"reject":2\},"monitor":1,"would":\{"deliver":0,"encrypt":0,"hold":0,"tempfail":0,"reject":1\}' \
	"json: totals"
is "$(grep -c '"date":"2026-03-' "$OUT")" 3 "json: three days"
is "$(grep -c '"whole_message":' "$OUT")" 4 "json: four stopped messages"
like "$(cat "$OUT")" '"personal_reason":"header <b>yes</b> & \\"so\\""' "json: quotes escaped"
printf '{"a":[1,2,}' >"$T/bad.json"
! "$JSONCHECK" <"$T/bad.json" 2>/dev/null
ok "jsoncheck refuses broken JSON" test $? -eq 0

# ------------------------------------------------------------ HTML

report "${PERIOD[@]}" --format html
is "$RC" 0 "html report: exit 0"
HTML=$OUT
like "$(head -c 15 "$OUT")" '^<!DOCTYPE html>' "html: a document"
is "$(grep -c '<svg ' "$OUT")" 4 "html: four charts (by action, monitor, by route, by class)"
unlike "$(cat "$OUT")" '<script|<link|<img|<iframe|@import|url\(' "html: no script, link, image or import"
is "$(grep -oE '(src|href)=' "$OUT" | wc -l)" 0 "html: nothing loaded from anywhere"
like "$(cat "$OUT")" "Content-Security-Policy\" content=\"default-src 'none'" "html: a CSP that loads nothing"
like "$(cat "$OUT")" 'header &lt;b&gt;yes&lt;/b&gt; &amp; &quot;so&quot;' "html: text escaped"
unlike "$(cat "$OUT")" '<b>yes' "html: no markup from a decision"

# render it: Chromium must draw the charts
BROWSER=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$BROWSER" ]; then
	if strict; then
		fail "chromium installed (SIKKERMAIL_STRICT=1: nothing may be skipped)"
	else
		skip "html renders in headless Chromium" "chromium not installed"
	fi
else
	cp "$OUT" "$T/report.html"
	timeout 60 "$BROWSER" --headless --no-sandbox --disable-gpu --disable-background-networking \
		--disable-component-update --disable-sync --no-first-run \
		--user-data-dir="$T/chromium" --screenshot="$T/report.png" --window-size=1200,1600 \
		"file://$T/report.html" >"$T/chromium.log" 2>&1
	ok "html: Chromium takes a screenshot" test -s "$T/report.png" || diag_file "$T/chromium.log"
	# delivered green, encrypted blue, held orange, rejected red
	read -r w h colours <<<"$("$PNGCHECK" "$T/report.png" 2>&1 | head -n 1)"
	is "$w x $h" "1200 x 1600" "html: the screenshot has the window's size"
	ok "html: the screenshot is not blank ($colours colours)" test "${colours:-0}" -gt 50
	for c in 4e9a3a 3465a4 f0a020 cc2222; do
		n=$("$PNGCHECK" "$T/report.png" "$c" | awk -v c="$c" '$1 == c { print $2 }')
		ok "html: chart colour #$c drawn (${n:-0} pixels)" test "${n:-0}" -gt 200
	done
fi

# ------------------------------------------------------------ no CPR number anywhere

for f in "$TEXT" "$CSV" "$JSON" "$HTML"; do
	unlike "$(cat "$f")" "$CPR_RE" "no CPR number in $(basename "$f")"
	like "$(cat "$f")" "cpr010190-\*\*\*\*@kp.dk" "... the sender with one masked ($(basename "$f"))"
done
like "$(cat "$TEXT")" "231185-\*\*\*\*@gmail.com" "text: recipient masked"
like "$(cat "$TEXT")" "cpr 2 \(010190-\*\*\*\*, 311299-\*\*\*\*\)" "text: reason masked"

# ------------------------------------------------------------ from syslog files

# The same decisions as audit lines in two gateways' logs, in two syslog
# formats, among other programs' lines, and one line cut short.
cat >"$T/mx1.log" <<'EOF'
Mar 27 23:59:00 mx1 sikkermail-milter[100]: decision time=1774652340 queue_id=B0000000 message_id=<before@kp.dk> sender=a@kp.dk client=10.0.0.1 trusted=yes mode=enforce personal=yes personal_source=header personal_reason="header yes" cpr=0 action=reject applied=reject rule=PersonalToFreemail rcpts=1 rcpt1=early@gmail.com class1=freemail action1=reject rule1=PersonalToFreemail evidence1=-
Mar 28 10:00:00 mx1 postfix/smtpd[99]: connect from client.kp.dk[10.0.0.1]
Mar 28 10:00:00 mx1 sikkermail-milter[100]: decision time=1774688400 queue_id=A0000001 message_id=<d1@kp.dk> sender=a@kp.dk client=10.0.0.1 trusted=yes mode=enforce personal=yes personal_source=header personal_reason="header yes" cpr=0 action=reject applied=reject rule=PersonalToFreemail rcpts=2 rcpt1=x@gmail.com class1=freemail action1=reject rule1=PersonalToFreemail evidence1="freemail list: gmail.com (built-in)" rcpt2=u@kp.dk class2=internal action2=deliver rule2=internal evidence2="InternalDomains entry kp.dk"
Mar 28 11:00:00 mx1 sikkermail-milter[100]: decision time=1774692000 queue_id=A0000002 message_id=<d2@kp.dk> sender=b@kp.dk client=10.0.0.1 trusted=yes mode=enforce personal=yes personal_source=header personal_reason="header <b>yes</b> & \"so\"" cpr=0 action=hold applied=hold rule=PersonalToTLS rcpts=1 rcpt1=y@firma.example class1=tls action1=hold rule1=PersonalToTLS evidence1=-
Mar 28 12:00:00 mx1 sikkermail-milter[100]: decision time=1774695600 queue_id=A0000003 message_id=<d3@kp.dk> sender=c@kp.dk client=10.0.0.1 trusted=yes mode=enforce personal=no personal_source=none personal_reason=- cpr=0 action=deliver applied=deliver rule=not-personal rcpts=2 rcpt1=z@gmail.com class1=freemail action1=deliver rule1=not-personal evidence1=- rcpt2=w@kommune.dk class2=tunnel action2=deliver rule2=not-personal evidence2=-
Mar 28 13:00:00 mx1 sikkermail-milter[100]: decision time=1774699200 queue_id=A0000004 message_id=<d4@kp.dk> sender=c@kp.dk client=10.0.0.1 trusted=yes mode=enforce personal=yes personal_source=header personal_reason="header yes" cpr=0 action=encrypt applied=encrypt rule=encrypted rcpts=2 rcpt1=v@kommune.dk class1=tunnel action1=deliver rule1=tunnel evidence1=- rcpt2=e@certs.example class2=encrypted action2=encrypt rule2=encrypted evidence2="certificate CN=e"
Mar 28 13:05:00 mx1 sikkermail-milter[100]: decision time=1774699500 queue_id=A00000FF message_id=<cut@kp.dk> sender=c@kp.dk client=10.0.0.1 trusted=yes mode=enforce personal=yes personal_source=header personal_reason="header yes" cpr=0 action=reject applied=reject rule=PersonalToFreemail rcpts=2 rcpt1=f@gmail.com class1=freemail action1=reject rule1=PersonalToFreemail evidence1=- rcpt2=g@gma
EOF
cat >"$T/mx2.log" <<'EOF'
2026-03-29T09:00:00.000123+02:00 mx2 sikkermail-milter[7]: decision time=1774767600 queue_id=A0000005 message_id=<d5@kp.dk> sender=a@kp.dk client=10.0.0.1 trusted=yes mode=monitor personal=yes personal_source=header personal_reason="header yes" cpr=0 action=reject applied=deliver rule=PersonalToFreemail rcpts=1 rcpt1=q@hotmail.com class1=freemail action1=reject rule1=PersonalToFreemail evidence1=-
2026-03-29T10:00:00.000123+02:00 mx2 sikkermail-milter[7]: decision time=1774771200 queue_id=A0000006 message_id=<d6@kp.dk> sender=d@kp.dk client=10.0.0.1 trusted=yes mode=enforce personal=yes personal_source=header personal_reason="header yes" cpr=0 action=deliver applied=deliver rule=PersonalToPartner rcpts=1 rcpt1=p@lon.example.dk class1=partner action1=deliver rule1=PersonalToPartner evidence1=-
2026-03-29T23:59:59.000000+02:00 mx2 sikkermail-milter[7]: decision time=1774821599 queue_id=A0000007 message_id=<d7@kp.dk> sender=d@kp.dk client=10.0.0.1 trusted=yes mode=enforce personal=yes personal_source=header personal_reason="header yes" cpr=0 action=tempfail applied=tempfail rule=OnLookupFailure rcpts=1 rcpt1=r@slow.example class1=unknown action1=tempfail rule1=OnLookupFailure evidence1=-
2026-03-30T00:00:00.000000+02:00 mx2 sikkermail-milter[7]: decision time=1774821600 queue_id=A0000008 message_id=<010190-1234.x@kp.dk> sender=cpr0101901234@kp.dk client=10.0.0.1 trusted=yes mode=enforce personal=yes personal_source=cpr personal_reason="cpr 2 (0101901234, 311299-9999)" cpr=2 action=reject applied=reject rule=PersonalToFreemail rcpts=1 rcpt1=2311850123@gmail.com class1=freemail action1=reject rule1=PersonalToFreemail evidence1="note 1505821234"
2026-03-31T00:00:00.000000+02:00 mx2 sikkermail-milter[7]: decision time=1774908000 queue_id=C0000000 message_id=<after@kp.dk> sender=a@kp.dk client=10.0.0.1 trusted=yes mode=enforce personal=yes personal_source=header personal_reason="header yes" cpr=0 action=reject applied=reject rule=PersonalToFreemail rcpts=1 rcpt1=late@gmail.com class1=freemail action1=reject rule1=PersonalToFreemail evidence1=-
EOF

# same_counts FILE1 FILE2 NAME - the JSON counts (totals, days, routes, top lists) agree.
json_counts() { grep -E '^  "totals"|^    \{"(date|class|sender|domain)"' "$1"; }
same_counts() {
	if [ "$(json_counts "$1")" = "$(json_counts "$2")" ] && [ -n "$(json_counts "$1")" ]; then
		pass "$3"
	else
		fail "$3"
		diag "$(diff <(json_counts "$1") <(json_counts "$2"))"
	fi
}

report "${PERIOD[@]}" --format json --log "$T/mx1.log" "$T/mx2.log"
is "$RC" 0 "from logs: exit 0 despite a line cut short"
ok "from logs: valid JSON" "$JSONCHECK" <"$OUT"
same_counts "$JSON" "$OUT" "from logs: the same counts as from the database"
like "$(cat "$OUT")" '"lines":11,"bad_lines":1,"incomplete":0,"outside":2' "from logs: lines read, bad and outside counted"
like "$(cat "$ERR")" "mx1.log:7: not a complete decision line" "from logs: the bad line named on stderr"
like "$(cat "$OUT")" '\{"host":"mx1","messages":4,"personal":3,"rejected":1,"held":1,"tempfailed":0\}' \
	"from logs: gateway mx1"
like "$(cat "$OUT")" '\{"host":"mx2","messages":4,"personal":4,"rejected":1,"held":0,"tempfailed":1\}' \
	"from logs: gateway mx2"
unlike "$(cat "$OUT")" "$CPR_RE" "from logs: no CPR number"

report "${PERIOD[@]}" --log - <"$T/mx2.log"
is "$RC" 0 "from stdin: exit 0"
is "$(row "$OUT" '  messages ')" " messages 4" "from stdin: mx2's 4 messages"
like "$(cat "$OUT")" "Gateways" "text: the gateway table when read from logs"
# a refusal of the whole message, as the filter logs it: what failed is named
cat >"$T/mx3.log" <<'EOF'
Mar 28 14:00:00 mx3 sikkermail-milter[9]: decision time=1774702800 queue_id=M0000001 message_id=<m1@kp.dk> sender=hr-staff@kp.dk client=10.0.0.1 trusted=yes mode=enforce personal=yes personal_source=header personal_reason="header yes" cpr=0 action=reject applied=reject rule=SecureMailbox failure="mailbox: function mailbox <hr@kp.dk> is not configured for encrypted mail" rcpts=2 rcpt1=e@certs.example class1=encrypted action1=encrypt rule1=encrypted evidence1="certificate CN=e" rcpt2=v@kommune.dk class2=tunnel action2=encrypt rule2=encrypted evidence2=-
EOF
for fmt in text csv json html; do
	report "${PERIOD[@]}" --format "$fmt" --log "$T/mx3.log"
	# (the text report wraps it)
	like "$(tr -s ' \n' '  ' <"$OUT")" \
		"function mailbox (<|&lt;)hr@kp.dk(>|&gt;) is not configured for encrypted mail" \
		"$fmt: a whole-message refusal from the log says what failed"
	like "$(cat "$OUT")" "e@certs.example" "$fmt: ... and names its recipients (1)"
	like "$(cat "$OUT")" "v@kommune.dk" "$fmt: ... (2)"
done
report "${PERIOD[@]}" --format html --lang en --log "$T/mx1.log" --log="$T/mx2.log"
like "$(cat "$OUT")" '<h2>Gateways</h2>' "html: the gateway table when read from logs"

# ------------------------------------------------------------ golden files

# A fixed database, a fixed time zone and a fixed "now" (SIKKERMAIL_NOW):
# the text, CSV and JSON reports must be tests/data/report/*.ref byte for
# byte. The set: a reject with its evidence, a hold whose evidence needs
# wrapping, a refusal of the whole message (the function mailbox: every
# recipient's own action is encrypt), a monitor-mode would-reject without
# evidence, CPR numbers in a message that is not personal and in one that
# is, an empty day (30 March) and a decision after the period.
# SIKKERMAIL_UPDATE_REFS=1 writes the .ref files instead (then review the diff).
REFS=$top_srcdir/tests/data/report
GNOW=1775037600		# 2026-04-01 12:00:00 CEST
sqlite3 "$T/golden.db" <<EOF || fail "insert the golden decisions"
BEGIN;
INSERT INTO decision ($DCOLS) VALUES (1,1774688400,'A0000001','<g1@kp.dk>','a@kp.dk','10.0.0.1',1,1,'header','header X-KP-Personal: yes',0,'enforce','reject','reject','PersonalToFreemail');
INSERT INTO decision_rcpt VALUES (1,0,'x@gmail.com','freemail','reject','PersonalToFreemail','freemail list: gmail.com (built-in)');
INSERT INTO decision_rcpt VALUES (1,1,'u@kp.dk','internal','deliver','internal','InternalDomains entry kp.dk');
INSERT INTO decision ($DCOLS) VALUES (2,1774692000,'A0000002','<g2@kp.dk>','b@kp.dk','10.0.0.1',1,1,'header','header X-KP-Personal: yes',0,'enforce','hold','hold','PersonalToTLS');
INSERT INTO decision_rcpt VALUES (2,0,'y@firma.example','tls','hold','PersonalToTLS','partner agreement with firma.example expired 2025-06-30; no certificate found in LDAP or DNS; no tunnel');
INSERT INTO decision ($DCOLS) VALUES (3,1774695600,'A0000003','<g3@kp.dk>','c@kp.dk','10.0.0.1',1,1,'header','header X-KP-Personal: yes',0,'enforce','reject','reject','SecureMailbox');
INSERT INTO decision_rcpt VALUES (3,0,'e@certs.example','encrypted','encrypt','encrypted','certificate CN=e, valid to 2027-01-31');
INSERT INTO decision_rcpt VALUES (3,1,'v@kommune.dk','tunnel','encrypt','encrypted','TunnelDomains entry kommune.dk');
INSERT INTO decision_facts VALUES (3,'yes','n/a',0,'hr@kp.dk','mailbox: function mailbox <hr@kp.dk> is not configured for encrypted mail');
INSERT INTO held_outcome VALUES (2,'released','alice (sudo)',1774699200);
INSERT INTO decision ($DCOLS) VALUES (4,1774767600,'A0000004','<g4@kp.dk>','a@kp.dk','10.0.0.1',1,1,'header','header X-KP-Personal: yes',0,'monitor','reject','deliver','PersonalToFreemail');
INSERT INTO decision_rcpt VALUES (4,0,'q@hotmail.com','freemail','reject','PersonalToFreemail',NULL);
INSERT INTO decision ($DCOLS) VALUES (5,1774771200,'A0000005','<g5@kp.dk>','d@kp.dk','10.0.0.1',1,0,'none',NULL,1,'enforce','deliver','deliver','not-personal');
INSERT INTO decision_rcpt VALUES (5,0,'z@gmail.com','freemail','deliver','not-personal',NULL);
INSERT INTO decision ($DCOLS) VALUES (6,1774944000,'A0000006','<g6@kp.dk>','cpr0101901234@kp.dk','10.0.0.1',1,1,'cpr','cpr 3 (0101901234, 311299-9999, 2311850123)',3,'enforce','encrypt','encrypt','encrypted');
INSERT INTO decision_rcpt VALUES (6,0,'e@certs.example','encrypted','encrypt','encrypted','certificate CN=e, valid to 2027-01-31');
INSERT INTO decision_rcpt VALUES (6,1,'w@kp.dk','internal','deliver','internal','InternalDomains entry kp.dk');
INSERT INTO decision ($DCOLS) VALUES (7,1774947600,'A0000007','<g7@kp.dk>','a@kp.dk','10.0.0.1',1,0,'none',NULL,0,'enforce','deliver','deliver','not-personal');
INSERT INTO decision_rcpt VALUES (7,0,'u@kp.dk','internal','deliver','internal','InternalDomains entry kp.dk');
INSERT INTO decision ($DCOLS) VALUES (8,1775037000,'A0000008','<g8@kp.dk>','a@kp.dk','10.0.0.1',1,1,'header','header X-KP-Personal: yes',0,'enforce','reject','reject','PersonalToFreemail');
INSERT INTO decision_rcpt VALUES (8,0,'late@gmail.com','freemail','reject','PersonalToFreemail',NULL);
COMMIT;
EOF
give_to_test_user "$T/golden.db"
GPERIOD=(--since 2026-03-28 --until 2026-03-31)
# greport ARGS... - the report on the golden database, named "golden.db" so
# that no temporary directory is in it; sets RC, OUT, ERR.
greport() {
	pushd "$T" >/dev/null || return
	SIKKERMAIL_NOW=$GNOW capture "$CTL" -c "$CONF" -d golden.db report "$@"
	popd >/dev/null || return
}
# golden NAME ARGS... - the report must be $REFS/NAME byte for byte.
golden() {
	local name=$1
	shift
	greport "$@"
	cp "$OUT" "$T/$name"
	if [ "${SIKKERMAIL_UPDATE_REFS:-0}" = 1 ]; then
		cp "$T/$name" "$REFS/$name"
	fi
	if [ "$RC" = 0 ] && cmp -s "$REFS/$name" "$T/$name"; then
		pass "golden: $name"
	else
		fail "golden: $name (exit $RC)"
		diag "$(diff -u "$REFS/$name" "$T/$name" | head -40; cat "$ERR")"
	fi
}
golden report.txt.ref "${GPERIOD[@]}"
golden report.csv.ref "${GPERIOD[@]}" --format csv
golden report-semicolon.csv.ref "${GPERIOD[@]}" --format csv --csv-separator ';' --bom
golden report.json.ref "${GPERIOD[@]}" --format json
golden report-all-days.txt.ref "${GPERIOD[@]}" --all-days
ok "golden: the JSON parses" "$JSONCHECK" <"$T/report.json.ref"
G=$T/report.txt.ref
unlike "$(cat "$G" "$T"/report*.csv.ref "$T/report.json.ref")" "$CPR_RE" "golden: no CPR number"
is "$(awk 'length > 80' "$G" | wc -l)" 0 "golden text: no line longer than 80 columns"
# the why of every stopped recipient, in plain words with its evidence
like "$(tr -s ' \n' '  ' <"$G")" "why: personal data to a freemail address \(freemail list: gmail.com \(built-in\)\)" \
	"text: why x@gmail.com was refused"
like "$(tr -s ' \n' '  ' <"$G")" "why: personal data to a recipient with neither certificate, tunnel nor agreement \(TLS only\) \(partner agreement with firma.example expired 2025-06-30; no certificate found in LDAP or DNS; no tunnel\)" \
	"text: why y@firma.example was held, wrapped within 80 columns"
like "$(cat "$G")" "why: personal data to a freemail address"$'\n'"  personal" \
	"text: the monitor-mode recipient without evidence still has its why"
# a whole message refused: its recipients and the message's reason
blk=$(awk '/ref A0000003/ { p = 1 } p && /^  message-id/ { exit } p' "$G")
like "$blk" "why: +the function mailbox for the encrypted message is not configured" \
	"text: the refused whole message says why"
like "$(echo "$blk" | tr -s ' \n' '  ')" "function mailbox <hr@kp.dk> is not configured for encrypted mail" \
	"text: ... naming the function mailbox, from the database"
like "$blk" "recipient: +e@certs.example \(encrypted: encrypt\)" "... and names its recipients (1)"
like "$blk" "recipient: +v@kommune.dk \(tunnel: encrypt\)" "... (2)"
like "$(grep -m1 A0000003 "$T/report.json.ref")" '"whole_message":true,.*"address":"e@certs.example".*"address":"v@kommune.dk"' \
	"json: the whole-message refusal names its recipients"
is "$(grep -c '^stopped,.*,A0000003,' "$T/report.csv.ref")" 2 "csv: a row for each of its recipients"
# what became of the held message
like "$(awk '/ref A0000002/ { p = 1 } p && /^  outcome/ { print; exit }' "$G")" \
	"outcome: +released by alice \(sudo\) at 2026-03-28T13:00:00\+01:00" \
	"text: the held message's release, by whom and when"
like "$(grep -m1 A0000002 "$T/report.json.ref")" '"outcome":"released by alice \(sudo\) at 2026-03-28T13:00:00\+01:00"' \
	"json: the same"
# captions true to the mode
like "$(cat "$G")" "Enforce mode: what was done. Monitor mode" "text: mixed modes, both said"
# CPR findings listed, personal or not
cprs=$(awk '/^Messages in which CPR numbers were found/ { p = 1 } p && /^$/ { exit } p' "$G")
like "$cprs" "found: 2" "text: two messages with CPR numbers listed"
like "$cprs" "delivered  ref A0000005" "... the one that was not personal"
like "$cprs" "cpr010190-\*\*\*\*@kp.dk" "... the sender masked"
is "$(grep -c '^cpr_found,' "$T/report.csv.ref")" 3 "csv: one CPR row per recipient"
is "$(grep -c '"cpr":[1-9][0-9]*,"recipients"' "$T/report.json.ref")" 2 "json: cpr_found lists two"
# days without messages left out unless --all-days
unlike "$(cat "$G")" "2026-03-30 " "text: the empty day is left out"
like "$(cat "$T/report-all-days.txt.ref")" "2026-03-30 +0 " "--all-days: the empty day is there"
is "$(grep -c '^day,2026-03-' "$T/report.csv.ref")" 3 "csv: the three days with messages"
# the separator and the byte-order mark
is "$(head -c 3 "$T/report-semicolon.csv.ref" | od -An -tx1 | tr -d ' ')" efbbbf "--bom: a UTF-8 BOM"
is "$(grep -c ',' "$T/report-semicolon.csv.ref")" "$(grep -c '"[^"]*,[^"]*"' "$T/report-semicolon.csv.ref")" \
	"--csv-separator ';': commas only inside quoted fields"
is "$(grep -m1 '^day;total;' "$T/report-semicolon.csv.ref" | tr ';' ',')" \
	"$(grep -m1 '^day,total,' "$T/report.csv.ref")" "... the same rows, separated by ;"

# relative dates against the fixed now (Wednesday 2026-04-01)
greport --since 4d
like "$(cat "$OUT")" "Period: +2026-03-28 to 2026-04-01, 5 days" "--since 4d: four days ago to today"
greport --since yesterday --until yesterday
like "$(cat "$OUT")" "Period: +2026-03-31 to 2026-03-31, 1 day" "--since/--until yesterday"
greport --since today
like "$(cat "$OUT")" "Period: +2026-04-01 to 2026-04-01, 1 day" "--since today"
is "$(row "$OUT" '  messages ')" " messages 1" "... today's decision"
greport --since 0d --until today --format json
like "$(cat "$OUT")" '"since":"2026-04-01","until":"2026-04-01"' "--since 0d --until today"

# The HTML report, rendered by Chromium and printed to PDF, in both
# languages: every stopped recipient's why must be text on the page.
# printed LANG TEXT NAME - TEXT is in the printed page of LANG (white space and hyphens aside).
printed() {
	local got want
	got=$(tr -d ' \n-' <"$T/golden-$1.txt")
	want=$(printf '%s' "$2" | tr -d ' -')
	if [[ "$got" == *"$want"* ]]; then
		pass "$3"
	else
		fail "$3"
		diag "not printed: $2"
	fi
}
BROWSER=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$BROWSER" ] && command -v pdftotext >/dev/null; then
	for lang in en da; do
		greport "${GPERIOD[@]}" --format html --lang "$lang"
		cp "$OUT" "$T/golden-$lang.html"
		is "$(grep -c 'title=' "$T/golden-$lang.html")" 0 "html ($lang): nothing only in a tooltip"
		like "$(cat "$T/golden-$lang.html")" "<html lang=\"$lang\">" "html ($lang): the page's language"
		like "$(cat "$T/golden-$lang.html")" "@media print" "html ($lang): a print style sheet"
		timeout 60 "$BROWSER" --headless --no-sandbox --disable-gpu \
			--disable-background-networking --disable-component-update --disable-sync \
			--no-first-run --user-data-dir="$T/chromium-$lang" --no-pdf-header-footer \
			--print-to-pdf="$T/golden-$lang.pdf" "file://$T/golden-$lang.html" \
			>"$T/chromium-$lang.log" 2>&1
		ok "html ($lang): Chromium prints it" test -s "$T/golden-$lang.pdf" ||
			diag_file "$T/chromium-$lang.log"
		pdftotext "$T/golden-$lang.pdf" "$T/golden-$lang.txt" 2>/dev/null
		unlike "$(cat "$T/golden-$lang.txt")" "$CPR_RE" "html ($lang): no CPR number printed"
		# narrow columns wrap (and pdftotext joins words at hyphens): compare
		# without white space and hyphens
		for why in "freemail list: gmail.com (built-in)" \
			"partner agreement with firma.example expired 2025-06-30; no certificate found" \
			"cpr010190-****@kp.dk"; do
			printed "$lang" "$why" "html ($lang): \"$why\" printed"
		done
	done
	printed en "personal data to a freemail address" "html (en): the rule in plain English"
	printed da "personoplysninger til en freemail-adresse" "html (da): the rule in plain Danish"
	printed en "the function mailbox for the encrypted message is not configured" \
		"html (en): the whole-message refusal says why"
	printed da "funktionspostkassen til den krypterede besked er ikke sat op" \
		"html (da): the whole-message refusal says why"
	printed en "Enforce mode: what was done. Monitor mode" "html (en): caption true to both modes"
	printed da "Afviste og tilbageholdte beskeder: 4" "html (da): Danish headings"
	printed da "Beskeder, hvori der blev fundet CPR-numre: 2" "html (da): the CPR listing"
	printed en "Messages in which CPR numbers were found: 2" "html (en): the CPR listing"
else
	if strict; then
		fail "chromium and pdftotext installed (SIKKERMAIL_STRICT=1: nothing may be skipped)"
	else
		skip "the HTML report printed by Chromium" "chromium or pdftotext (poppler-utils) missing"
	fi
fi
# a report of enforce mode only has no monitor caption (it had one before)
greport --since 2026-03-28 --until 2026-03-28 --format html --lang en
like "$(cat "$OUT")" "What was done: these messages were rejected or held" \
	"html: enforce only, the caption says what was done"
unlike "$(sed -n '/<h2>Rejected and held/,/<\/section>/p' "$OUT")" "[Mm]onitor mode" \
	"html: enforce only, no monitor-mode caption"
greport --since 2026-03-29 --until 2026-03-29 --format html --lang en
like "$(cat "$OUT")" "these messages would have been rejected or held in enforce mode" \
	"html: monitor only, the caption says what would have been done"
# the default language is the first of Language
printf 'Database %s\nUserID %s\nLanguage en,da\n' "$T/golden.db" "$TEST_USER" >"$T/en.conf"
SIKKERMAIL_NOW=$GNOW "$CTL" -c "$T/en.conf" report --format html >"$T/en.html" 2>&1
like "$(cat "$T/en.html")" '<html lang="en">' "Language en,da: an English page"
greport --format html
like "$(cat "$OUT")" '<html lang="da">' "Language unset (da,en): a Danish page"

# ------------------------------------------------------------ the default period

now=$(date +%s)
sqlite3 "$DB" "INSERT INTO decision ($DCOLS) VALUES (11,$now,'N0000001','<now@kp.dk>','n@kp.dk','10.0.0.1',1,0,'none',NULL,0,'enforce','deliver','deliver','not-personal');"
sqlite3 "$DB" "INSERT INTO decision_rcpt VALUES (11,0,'n@example.com','tls','deliver','not-personal',NULL);"
report
like "$(cat "$OUT")" "Period: +$(date -d '29 days ago' +%F) to $(date +%F), 30 days" \
	"default: the last 30 days, today included"
is "$(row "$OUT" '  messages ')" " messages 1" "default: today's decision counted"

# ------------------------------------------------------------ decisions made by the filter

if ! command -v miltertest >/dev/null 2>&1 || [ ! -x "$MILTER" ]; then
	if strict; then
		fail "miltertest and sikkermail-milter available (SIKKERMAIL_STRICT=1)"
	else
		skip "report on decisions made by the filter" "miltertest or the milter missing"
	fi
	done_testing
fi

M=$T/milter
MDB=$M/db/sikkermail.db
HELPURL=https://kp.dk/sikkermail
mkdir -p "$M/db"
give_to_test_user "$M"
# mconf NAME [LINE...] - a daemon's configuration; all share one database.
mconf() {
	local name=$1
	shift
	milter_conf "$M/$name.conf" "Socket local:$M/$name.sock" "Database $MDB" "UMask 007" \
		"HelpURL $HELPURL" "$@"
}
mconf enforce
mconf monitor "Mode monitor"
mconf hold "PersonalToFreemail hold"
# The scenarios' own checks are protocol.sh's business; here only the
# decisions they leave behind count.
declare -A scripts=([enforce]="trusted.lua untrusted.lua" [monitor]="monitor.lua trusted.lua"
	[hold]="hold.lua")
pids=()
for name in enforce monitor hold; do
	if ! milter_start "$M/$name.conf" "$M/$name.sock" "$M/$name.log"; then
		fail "$name daemon starts"
		done_testing
	fi
	pids+=("$MILTER_PID")
	for script in ${scripts[$name]}; do
		miltertest_run "$M/$name.sock" "$script" "${name:0:1}${script:0:1}00" \
			>>"$M/miltertest.log"
	done
done
stop_pids "${pids[@]}"

q() { sqlite3 -batch -noheader "$MDB" "$1" 2>&1; }
n_all=$(q "SELECT count(*) FROM decision")
ok "the filter recorded decisions ($n_all)" test "${n_all:-0}" -gt 4 || diag_file "$M/miltertest.log"
ok "... among them a reject, a hold and a monitor-mode one" test \
	"$(q "SELECT count(DISTINCT applied) FROM decision WHERE applied IN ('reject','hold')")$(
	q "SELECT count(*) > 0 FROM decision WHERE mode = 'monitor'")" = 21
ml_conf=$T/m.conf
printf 'Database %s\nUserID %s\n' "$MDB" "$TEST_USER" >"$ml_conf"
"$CTL" -c "$ml_conf" report --format json >"$T/m.json" 2>"$T/m.err"
is "$?" 0 "report on the filter's database: exit 0"
ok "... valid JSON" "$JSONCHECK" <"$T/m.json"
totals=$(grep -m1 '^  "totals"' "$T/m.json")
for a in deliver hold tempfail reject; do
	want=$(q "SELECT count(*) FROM decision WHERE applied = '$a'")
	like "$totals" "\"applied\":\\{[^}]*\"$a\":$want[,}]" "filter: $want $a as the database says"
done
like "$totals" "\"messages\":$n_all," "filter: every recorded decision counted"
like "$totals" "\"personal\":$(q "SELECT count(*) FROM decision WHERE personal = 1")," \
	"filter: personal messages as the database says"
like "$totals" "\"monitor\":$(q "SELECT count(*) FROM decision WHERE mode = 'monitor'")," \
	"filter: monitor-mode messages as the database says"
is "$(grep -c '"whole_message":' "$T/m.json")" \
	"$(q "SELECT count(*) FROM decision WHERE action IN ('reject','hold')")" \
	"filter: every rejected or held message listed"
# the other formats say the same
n_rej=$(q "SELECT count(*) FROM decision WHERE applied = 'reject'")
"$CTL" -c "$ml_conf" report >"$T/m.txt" 2>&1
is "$(row "$T/m.txt" '  messages ')" " messages $n_all" "filter, text: every decision counted"
is "$(row "$T/m.txt" '  rejected ')" " rejected $n_rej" "filter, text: the rejects"
"$CTL" -c "$ml_conf" report --format csv >"$T/m.csv" 2>&1
is "$(grep '^summary,messages,' "$T/m.csv")" "summary,messages,$n_all" "filter, csv: every decision"
is "$(grep '^summary,reject,' "$T/m.csv")" "summary,reject,$n_rej" "filter, csv: the rejects"
"$CTL" -c "$ml_conf" report --format html --lang en >"$T/m.html" 2>&1
like "$(cat "$T/m.html")" "<th class=\"l\">messages</th><td>$n_all</td>" "filter, html: every decision"
like "$(cat "$T/m.html")" "<th class=\"l\">rejected</th><td>$n_rej</td>" "filter, html: the rejects"
unlike "$(cat "$T/m.txt" "$T/m.csv" "$T/m.html" "$T/m.json")" "$CPR_RE" "filter: no CPR number"

"$CTL" -c "$ml_conf" report --format json --log "$M/enforce.log" "$M/monitor.log" "$M/hold.log" \
	>"$T/ml.json" 2>"$T/ml.err"
is "$?" 0 "report on the filter's logs: exit 0"
same_counts "$T/m.json" "$T/ml.json" "filter: the logs give the same counts as the database"
like "$(cat "$T/ml.json")" '"bad_lines":0' "filter: every decision line of the logs read"

# ------------------------------------------------------------ logs a SIEM can take

# Two gateways, one logging key=value, one JSON, each with its
# InstanceName; through each, one personal message to 500 recipients with
# a Message-ID and a sender longer than a line may hold.
mconf gw-a "InstanceName gw-a"
mconf gw-b "InstanceName gw-b" "LogFormat json"
for name in gw-a gw-b; do
	if ! milter_start "$M/$name.conf" "$M/$name.sock" "$M/$name.log"; then
		fail "$name daemon starts"
		done_testing
	fi
	prefix=${name: -1}
	miltertest_run "$M/$name.sock" many.lua "${prefix^^}500" >>"$M/many.log" ||
		diag_file "$M/many.log"
	milter_stop
done
# records NAME - the decision records of a gateway's log, without the tag
records() { grep -a -E '^sikkermail-milter: (decision|\{)' "$M/$1.log" | sed 's/^sikkermail-milter: //'; }
longest() { LC_ALL=C awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }' "$1"; }
for name in gw-a gw-b; do
	is "$(records $name | wc -l)" 501 "$name: 500 recipients give a summary and 500 recipient lines"
	n=$(longest "$M/$name.log")
	ok "$name: every log line is under 1000 bytes (the longest has $n)" test "$n" -lt 1000
	like "$(records $name | head -n 1)" 'kkkk\.\.\.\[cut\]' "$name: a long sender is cut, visibly"
done
is "$(q "SELECT instance FROM decision WHERE queue_id IN ('A5000001', 'B5000001') ORDER BY 1")" \
	"$(printf 'gw-a\ngw-b')" "InstanceName recorded with each gateway's decision"
is "$(q "SELECT count(*) FROM decision WHERE instance IS NOT '$(hostname)' AND queue_id NOT IN
	('A5000001', 'B5000001')")" 0 "without InstanceName, the host name is recorded"
like "$(records gw-a | head -n 1)" '^decision time=[0-9]+ instance=gw-a id=[^ ]+ queue_id=A5000001 ' \
	"gw-a: kv, the summary carries the instance and the decision id"
like "$(records gw-a | tail -n 1)" ' n=500 of=500$' "gw-a: the last recipient line says which it is"
bad=0
while IFS= read -r rec; do
	printf '%s' "$rec" | "$JSONCHECK" 2>/dev/null || bad=$((bad + 1))
done < <(records gw-b)
is "$bad" 0 "gw-b: every line is one valid JSON object"
like "$(records gw-b | head -n 1)" '^\{"type":"decision","time":[0-9]+,"instance":"gw-b","id":' \
	"gw-b: JSON, the summary carries the instance"

report --format json --log "$M/gw-a.log" "$M/gw-b.log"
is "$RC" 0 "two gateways' logs: exit 0"
like "$(cat "$OUT")" '"messages":2,' "two gateways' logs: 2 messages, each counted once"
like "$(cat "$OUT")" '"lines":1002,"bad_lines":0' "two gateways' logs: every line read"
like "$(cat "$OUT")" '\{"host":"gw-a","messages":1,"personal":1,"rejected":1,' \
	"two gateways' logs: gw-a by its InstanceName"
like "$(cat "$OUT")" '\{"host":"gw-b","messages":1,"personal":1,"rejected":1,' \
	"two gateways' logs: gw-b by its InstanceName"
report --format json --log "$M/gw-a.log" "$M/gw-a.log" "$M/gw-b.log" "$M/gw-b.log"
like "$(cat "$OUT")" '"messages":2,' "each file given twice: still 2 messages"
like "$(cat "$ERR")" "read more than once" "... saying that lines were read twice"

# rotated: the first 200 lines in mail.log.1.gz, the rest in mail.log
grep -a -E '^sikkermail-milter: decision' "$M/gw-a.log" >"$T/gw-a.all"
head -n 200 "$T/gw-a.all" >"$T/mail.log.1" && gzip -f "$T/mail.log.1"
tail -n +201 "$T/gw-a.all" >"$T/mail.log"
report --format json --log "$T/mail.log.1.gz" "$T/mail.log"
is "$RC" 0 "a gzip-compressed rotated log: exit 0"
like "$(cat "$OUT")" '"messages":1,' "a decision split over mail.log.1.gz and mail.log is counted"
like "$(cat "$OUT")" '"bad_lines":0' "... every line of the compressed file read"
report --format json --log "$T/mail.log.1.gz"
like "$(cat "$OUT")" '"messages":0,' "the compressed part alone: not counted"
like "$(cat "$ERR")" "incomplete \(199 of 500 recipient lines\)" "... but reported as incomplete"
grep -a -v ' n=7 of=500$' "$T/gw-a.all" >"$T/gap.log"
report --format json --log "$T/gap.log"
like "$(cat "$OUT")" '"messages":0,' "one recipient line missing: not counted"
like "$(cat "$ERR")" "1 decisions with lines missing" "... and reported"
gzip -c "$T/gw-a.all" | head -c 2000 >"$T/broken.gz"
report --log "$T/broken.gz"
is "$RC" 1 "a damaged compressed file: exit 1"
like "$(cat "$ERR")" "cannot read .*broken.gz" "... naming it"

# Only the filter's own lines count: the same record after another
# program's tag, inside another program's message or inside one of the
# filter's own warnings is not a decision.
line=$(grep -m1 'queue_id=A0000001' "$T/mx1.log" | sed 's/^.*sikkermail-milter\[100\]: //')
forged() { sed "s/queue_id=A0000001/queue_id=$1/" <<<"$line"; }
{
	echo "Mar 28 10:00:00 mx1 logger[55]: $(forged F0000001)"
	echo "Mar 28 10:00:01 mx1 alice: $(forged F0000002)"
	echo "Mar 28 10:00:02 mx1 alice: sikkermail-milter[100]: $(forged F0000003)"
	echo "Mar 28 10:00:03 mx1 sikkermail-milter[100]: warning: LDAP server said: sikkermail-milter[100]: $(forged F0000004)"
	echo "Mar 28 10:00:04 mx1 postfix/smtpd[99]: NOQUEUE: reject: RCPT from x[192.0.2.1]: 554 5.7.1 <a@b>: Relay access denied; from=<sikkermail-milter[1]: $(forged F0000005)> to=<a@b> proto=ESMTP"
	echo "Mar 28 10:00:05 mx1 sikkermail-milter-x[100]: $(forged F0000006)"
	echo "Mar 28 10:00:06 mx1 sikkermail-milter[100]: $(forged G0000001)"
	echo "<22>1 2026-03-28T10:00:07+01:00 mx1 sikkermail-milter 100 - - $(forged G0000002)"
} >"$T/forged.log"
report "${PERIOD[@]}" --format json --log "$T/forged.log"
is "$RC" 0 "forged lines: exit 0"
like "$(cat "$OUT")" '"messages":2,' "forged lines: only the filter's own two lines count"
like "$(cat "$OUT")" '"lines":2,"bad_lines":0' "forged lines: the others are not decision lines at all"
unlike "$(cat "$OUT")" 'F000000' "forged lines: none of them listed"

done_testing

#!/bin/bash
# tests/replay.sh - sikkermail-ctl replay (TAP): "what if" on a recorded week.
#
# Three daemons - enforce, monitor, and enforce with DetectCPR off - share
# one database with a tunnel and a partner list; miltertest drives the
# same nine messages (tests/milter/replay.lua) through each, and the
# decisions they record are then spread over a week (monitor's three days
# back, DetectCPR off's five). Replays of that week must list exactly the
# recipients that change, and nothing else:
#   - the enforce configuration itself: only the monitor days' would-be
#     refusals change (would reject -> reject);
#   - a partner list without partner.example (imported into a copy of the
#     database): only the personal mail to partner.example;
#   - PersonalToTLS hold: only the refused TLS recipients;
#   - DetectCPR enforce: only the message with a CPR number; the messages
#     recorded while DetectCPR was off are counted as not fully replayed;
#   - decisions recorded before their facts were kept replay with what is
#     known and are counted as such;
#   - LDAPURI set: certificates come from the cache only (the directory is
#     never asked), and a recipient without a cached answer is counted.
# CSV, JSON and HTML say the same, the JSON parses (tests/unit/jsoncheck),
# the HTML page loads nothing and prints every reason (headless Chromium,
# pdftotext), and no output holds a CPR number.

. "$(dirname "$0")/lib/common.sh"

JSONCHECK=${SIKKERMAIL_JSONCHECK:-$top_builddir/tests/unit/jsoncheck}
need "$CTL" "sikkermail-ctl not built ($CTL)"
need "$MILTER" "sikkermail-milter not built ($MILTER)"
need "$JSONCHECK" "tests/unit/jsoncheck not built"
need miltertest "miltertest not installed (Debian package miltertest)"
need sqlite3 "sqlite3 not installed"

export TZ=UTC
T=$TEST_TMP
M=$T/milter
DB=$M/db/sikkermail.db
HELPURL=https://kp.dk/sikkermail
lists=$top_srcdir/tests/data/lists
mkdir -p "$M/db"
give_to_test_user "$T" "$M"

# ctl CONF ARGS... - sikkermail-ctl; sets RC, OUT, ERR.
ctl() {
	local conf=$1
	shift
	capture "$CTL" -c "$conf" "$@"
}

# conf NAME LINE... - a configuration for the tool (and the replays).
conf() {
	local name=$1
	shift
	milter_conf "$T/$name.conf" "Socket local:$M/$name.sock" "Database $DB" "UMask 007" \
		"HelpURL $HELPURL" "$@"
}

# ------------------------------------------------------------ usage and errors

conf enforce
ctl "$T/enforce.conf" replay
is "$RC" 64 "replay without --config: usage error"
like "$(cat "$ERR")" "--config FILE is required" "... saying what is missing"
ctl "$T/enforce.conf" replay --config "$T/enforce.conf" --format xml
is "$RC" 64 "an unknown format: usage error"
ctl "$T/enforce.conf" replay --config "$T/enforce.conf" --since 2026-02-30
is "$RC" 64 "an impossible date: usage error"
ctl "$T/enforce.conf" replay --config "$T/enforce.conf" --frob
is "$RC" 64 "an unknown argument: usage error"
ctl "$T/enforce.conf" replay --config "$T/no-such.conf"
is "$RC" 1 "a configuration that cannot be read: exit 1"
ctl "$T/enforce.conf" replay --config "$T/enforce.conf"
is "$RC" 75 "no database: EX_TEMPFAIL"

# ------------------------------------------------------------ the recorded week

ctl "$T/enforce.conf" import tunnel "$lists/tunnel.txt"
is "$RC" 0 "the tunnel list imported" || diag_file "$ERR"
ctl "$T/enforce.conf" import partners "$lists/partners.txt"
is "$RC" 0 "the partner list imported" || diag_file "$ERR"

conf monitor "Mode monitor"
conf cproff "DetectCPR off"
pids=()
for name in enforce monitor cproff; do
	if ! milter_start "$T/$name.conf" "$M/$name.sock" "$M/$name.log"; then
		fail "$name daemon starts"
		done_testing
	fi
	pids+=("$MILTER_PID")
done
declare -A prefix=([enforce]=A00000 [monitor]=B00000 [cproff]=C00000)
for name in enforce monitor cproff; do
	miltertest_tap "$name" "$M/$name.sock" replay.lua "${prefix[$name]}"
done
stop_pids "${pids[@]}"

q() { sql "$DB" "$1"; }
is "$(q "SELECT count(*) FROM decision")" 27 "27 decisions recorded"
is "$(q "SELECT count(*) FROM decision_facts")" 27 "... each with its facts"
is "$(q "SELECT flag, cpr_scan FROM decision_facts f JOIN decision d ON f.decision_id = d.id
	WHERE queue_id = 'A000000007'")" "unclear|scanned" "an unclear flag recorded as such"
is "$(q "SELECT cpr_hits, cpr_scan FROM decision_facts f JOIN decision d ON f.decision_id = d.id
	WHERE queue_id = 'A000000005'")" "1|scanned" "the CPR scan and its finding recorded"
is "$(q "SELECT cpr_scan FROM decision_facts f JOIN decision d ON f.decision_id = d.id
	WHERE queue_id = 'C000000005'")" "skipped" "DetectCPR off: recorded as not scanned"
is "$(q "SELECT group_concat(rcpt || ':' || class || ':' || action, ' ') FROM decision_rcpt
	WHERE decision_id = (SELECT id FROM decision WHERE queue_id = 'A000000001')")" \
	"p@partner.example:partner:deliver bob@kp.dk:internal:deliver" \
	"the recorded recipients of a message"

now=$(date +%s)
today=$(date -d "@$now" +%F)
day3=$(date -d "@$((now - 3 * 86400))" +%F)
day5=$(date -d "@$((now - 5 * 86400))" +%F)
week=$(date -d "@$((now - 7 * 86400))" +%F)
q "UPDATE decision SET time = time - 3 * 86400 WHERE queue_id LIKE 'B%';
   UPDATE decision SET time = time - 5 * 86400 WHERE queue_id LIKE 'C%'" >/dev/null

# replay CONF ARGS... - replay under CONF; sets RC, OUT, ERR.
replay() {
	local c=$1
	shift
	ctl "$T/enforce.conf" replay --config "$c" "$@"
}

# changed FILE - the changed recipients of a text replay, one per line, sorted.
changed() {
	awk '/^Recipients that would change/ { p = 1; next } p && /^    [^ ]/ { print $1 }' "$1" | sort
}

# total FILE LABEL - a summary figure of a text replay.
total() {
	grep -m1 -E "^  $2 +[0-9]+$" "$1" | awk '{ print $NF }'
}

# ------------------------------------------------------------ the same configuration

tls_reject='tls: reject \(PersonalToTLS\)'

replay "$T/enforce.conf" --since "$today" --until "$today"
is "$RC" 0 "the enforce days under their own configuration: exit 0"
is "$(total "$OUT" "decisions replayed")" 9 "... 9 decisions replayed"
is "$(total "$OUT" "recipients that would change")" 0 "... nothing would change"
like "$(cat "$OUT")" "none: every recipient would be handled as it was" "... and it says so"

replay "$T/enforce.conf" --since "$week" --until "$today"
is "$RC" 0 "the whole week under the enforce configuration: exit 0"
is "$(total "$OUT" "decisions replayed")" 27 "... 27 decisions replayed"
is "$(changed "$OUT" | tr '\n' ' ')" \
	"010190-****@firma.example f@gmail.com valid@example.dk y@firma.example " \
	"... exactly the monitor days' would-be refusals change"
like "$(cat "$OUT")" \
	"3 +3  would reject \(monitor\) \(PersonalToTLS\) -> reject \(PersonalToTLS\)" \
	"... grouped by rule: three TLS recipients"
like "$(cat "$OUT")" \
	"1 +1  would reject \(monitor\) \(PersonalToFreemail\) -> reject \(PersonalToFreemail\)" \
	"... and one freemail recipient"
like "$(cat "$OUT")" \
	"y@firma.example  tls: would reject \(monitor\) \(PersonalToTLS\) -> $tls_reject" \
	"... each with its class, outcome and rule before and after"
is "$(total "$OUT" "messages that would change")" 4 "... in 4 messages"
unlike "$(cat "$OUT")" "0101901234|010190-1234" "... no CPR number in the output"
like "$(cat "$OUT")" "Without LDAPURI nobody has a certificate" \
	"... the certificate source stated"
cp "$OUT" "$T/week.txt"

# the same week as one HTML page: the same content, nothing loaded, nothing only in a tooltip
replay "$T/enforce.conf" --since "$week" --until "$today" --format html
is "$RC" 0 "HTML: exit 0" || diag_file "$ERR"
cp "$OUT" "$T/week.html"
like "$(cat "$T/week.html")" "Content-Security-Policy\" content=\"default-src 'none';" \
	"HTML: a Content-Security-Policy that forbids loading anything"
like "$(cat "$T/week.html")" "@media print" "HTML: a print style sheet"
is "$(grep -ci '<script' "$T/week.html")" 0 "HTML: no script"
is "$(grep -c 'title=' "$T/week.html")" 0 "HTML: nothing only in a tooltip"
is "$(grep -Eci '(src|href)=|url\(|@import|https?://' "$T/week.html")" 0 \
	"HTML: nothing loaded from elsewhere"
unlike "$(cat "$T/week.html")" "0101901234|010190-1234" "HTML: no CPR number in the page"
L='<td class="l">'
like "$(tr -d '\n' <"$T/week.html")" \
	"${L}decisions replayed</td><td>27</td>.*${L}recipients that would change</td><td>4</td>" \
	"HTML: the totals"
want="<td>3</td><td>3</td>${L}would reject \(monitor\) \(PersonalToTLS\) &rarr;</td>"
want+="${L}reject \(PersonalToTLS\)</td>"
like "$(cat "$T/week.html")" "$want" "HTML: the changes grouped by rule, with counts"
n=0
while read -r rcpt; do
	row=$(grep -F "$L$rcpt</td>" "$T/week.html")
	why=$(grep -F -A2 "    $rcpt  " "$T/week.txt" | sed -n 's/^      now: //p')
	after=': <span class="reject">reject</span> ('
	[[ "$row" == *"would reject (monitor)"*"</td>$L"*"$after"* ]] &&
		[[ -n "$why" && "$row" == *">$why</td></tr>"* ]] && n=$((n + 1))
done < <(changed "$T/week.txt")
is "$n" 4 "HTML: each changed recipient in a row with its old and new action and its reason"

# rendered by Chromium and printed: the recipient and its reason are text on paper
BROWSER=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$BROWSER" ] && command -v pdftotext >/dev/null; then
	timeout 60 "$BROWSER" --headless --no-sandbox --disable-gpu \
		--disable-background-networking --disable-component-update --disable-sync \
		--no-first-run --user-data-dir="$T/chromium" --no-pdf-header-footer \
		--print-to-pdf="$T/week.pdf" "file://$T/week.html" >"$T/chromium.log" 2>&1
	ok "HTML: Chromium prints it" test -s "$T/week.pdf" || diag_file "$T/chromium.log"
	pdftotext "$T/week.pdf" "$T/week.pdf.txt" 2>/dev/null
	# narrow columns wrap (and pdftotext joins words at hyphens): compare
	# without white space and hyphens
	printed=$(tr -d ' \n-' <"$T/week.pdf.txt")
	n=0
	while read -r rcpt; do
		why=$(grep -F -A2 "    $rcpt  " "$T/week.txt" | sed -n 's/^      now: //p')
		if [[ -n "$why" && "$printed" == *"$(printf '%s' "$rcpt" | tr -d ' -')"*"$(
			printf '%s' "$why" | tr -d ' -')"* ]]; then
			n=$((n + 1))
		else
			diag "not printed: $rcpt, then $why"
		fi
	done < <(changed "$T/week.txt")
	is "$n" 4 "HTML printed: each changed recipient followed by its reason"
	like "$printed" "wouldreject\(monitor\)\(PersonalToFreemail\)" \
		"HTML printed: the old outcome and rule"
	unlike "$(cat "$T/week.pdf.txt")" "0101901234|010190-1234" "HTML printed: no CPR number"
elif strict; then
	fail "chromium and pdftotext installed (SIKKERMAIL_STRICT=1: nothing may be skipped)"
else
	skip "the HTML replay printed by Chromium" "chromium or pdftotext (poppler-utils) missing"
fi

replay "$T/enforce.conf" --since "$day5" --until "$day5"
is "$(total "$OUT" "recipients that would change")" 0 \
	"the DetectCPR-off days under DetectCPR monitor: nothing changes"
is "$(total "$OUT" "decisions not fully replayed")" 0 "... and all fully replayed"

# ------------------------------------------------------------ a changed partner list

cp "$DB" "$T/copy.db"
give_to_test_user "$T/copy.db"
grep -v '^partner\.example' "$lists/partners.txt" >"$T/partners-new.txt"
capture "$CTL" -c "$T/enforce.conf" -d "$T/copy.db" import partners "$T/partners-new.txt"
is "$RC" 0 "a partner list without partner.example imported into a copy" || diag_file "$ERR"
replay "$T/enforce.conf" --database "$T/copy.db" --since "$today" --until "$today"
is "$RC" 0 "replay on the copy: exit 0"
is "$(changed "$OUT" | tr '\n' ' ')" "n@partner.example p@partner.example " \
	"exactly the personal mail to partner.example changes (not the mail that is not personal)"
like "$(cat "$OUT")" "2 +2  deliver \(PersonalToPartner\) -> reject \(PersonalToTLS\)" \
	"... deliver -> reject, grouped by rule"
like "$(cat "$OUT")" "Database: +$T/copy.db" "... on the copy"
capture "$CTL" -c "$T/enforce.conf" -d "$T/copy.db" replay --config "$T/enforce.conf" \
	--since "$today" --until "$today"
is "$(changed "$OUT" | tr '\n' ' ')" "n@partner.example p@partner.example " \
	"... the same with -d"
replay "$T/enforce.conf" --since "$today" --until "$today"
is "$(total "$OUT" "recipients that would change")" 0 "... and the original database is unchanged"

replay "$T/enforce.conf" --database "$T/copy.db" --since "$today" --until "$today" --format json
is "$RC" 0 "JSON: exit 0"
ok "JSON: parses" "$JSONCHECK" <"$OUT"
like "$(cat "$OUT")" '"changed_messages":2,"changed_recipients":2' "JSON: the totals"
is "$(grep -c '"recipient":' "$OUT")" 2 "JSON: two changed recipients"
want='"recipient":"p@partner.example",'
want+='"before":\{"class":"partner","action":"deliver","mode":"enforce",'
want+='"rule":"PersonalToPartner"\},'
want+='"after":\{"class":"tls","action":"reject","mode":"enforce","rule":"PersonalToTLS"\}'
like "$(cat "$OUT")" "$want" "JSON: before and after"
replay "$T/enforce.conf" --database "$T/copy.db" --since "$today" --until "$today" --format csv
is "$RC" 0 "CSV: exit 0"
is "$(grep -c '^change,' "$OUT")" 2 "CSV: two changed recipients"
is "$(grep '^rule,' "$OUT")" "rule,2,2,deliver,PersonalToPartner,reject,PersonalToTLS" \
	"CSV: the rule row"
is "$(sed -E 's/"([^"]|"")*"/q/g' "$OUT" |
	awk -F, '/^section,time/ { n = NF } /^change,/ && NF != n { bad++ } END { print bad + 0 }')" \
	0 "CSV: every change row has the header's columns"

# a database whose lists cannot be read: no replay rather than a wrong one
cp "$DB" "$T/broken.db"
give_to_test_user "$T/broken.db"
sql "$T/broken.db" "ALTER TABLE list_entry RENAME TO list_gone" >/dev/null
replay "$T/enforce.conf" --database "$T/broken.db" --since "$today" --until "$today"
is "$RC" 75 "lists that cannot be read: EX_TEMPFAIL"
like "$(cat "$ERR")" "could not be classified \(tunnel list unavailable\)" "... saying why"
is "$(wc -c <"$OUT")" 0 "... and no replay at all"

# ------------------------------------------------------------ a changed configuration

conf hold "PersonalToTLS hold"
replay "$T/hold.conf" --since "$today" --until "$today"
is "$(changed "$OUT" | tr '\n' ' ')" "010190-****@firma.example valid@example.dk y@firma.example " \
	"PersonalToTLS hold: exactly the refused TLS recipients change"
like "$(cat "$OUT")" "3 +3  reject \(PersonalToTLS\) -> hold \(PersonalToTLS\)" "... reject -> hold"
unlike "$(cat "$OUT")" "0101901234|010190-1234" "... no CPR number in the output"

conf cprenf "DetectCPR enforce"
replay "$T/cprenf.conf" --since "$today" --until "$today"
is "$(changed "$OUT" | tr '\n' ' ')" "z@gmail.com " \
	"DetectCPR enforce: exactly the message with a CPR number changes"
like "$(cat "$OUT")" "1 +1  deliver \(not-personal\) -> reject \(PersonalToFreemail\)" \
	"... deliver -> reject"
is "$(total "$OUT" "decisions not fully replayed")" 0 "... every decision fully replayed"
replay "$T/cprenf.conf" --since "$day5" --until "$day5" --format json
ok "DetectCPR enforce on the DetectCPR-off days: JSON parses" "$JSONCHECK" <"$OUT"
like "$(cat "$OUT")" '"not_fully_replayed":\{"before_facts":0,"not_scanned":2\}' \
	"... the two messages without a flag that were never scanned are not fully replayed"
like "$(cat "$OUT")" '"changed_recipients":0' "... and taken as without a CPR number"

# ------------------------------------------------------------ records older than the facts

q "DELETE FROM decision_facts WHERE decision_id IN
	(SELECT id FROM decision WHERE queue_id LIKE 'B%')" >/dev/null
replay "$T/enforce.conf" --since "$day3" --until "$day3"
is "$RC" 0 "decisions recorded before their facts were kept: exit 0"
is "$(total "$OUT" "decisions not fully replayed")" 9 "... all 9 counted as not fully replayed"
like "$(tr -s ' \n' ' ' <"$OUT")" \
	"9 \(4 of them changed\): recorded before the facts a replay needs" \
	"... saying why"
is "$(changed "$OUT" | tr '\n' ' ')" \
	"010190-****@firma.example f@gmail.com valid@example.dk y@firma.example " \
	"... and replayed from the recorded personal source all the same"

# ------------------------------------------------------------ certificates: the cache only

# valid@example.dk's certificate in the cache (as a lookup by the filter
# would have left it); nobody else's. The directory (port 1) never answers.
P=$T/pki
if bash "$top_srcdir/tests/lib/mkcerts.sh" "$P" 2>"$T/mkcerts.err"; then
	chmod 644 "$P"/*.pem
	give_to_test_user "$P"
else
	fail "the test PKI (tests/lib/mkcerts.sh)"
	diag_file "$T/mkcerts.err"
fi
q "INSERT INTO cert_cache (address, found, der, subject, issuer, fingerprint, source,
	not_before, not_after, fetched_at, fresh_until) VALUES ('valid@example.dk', 1,
	readfile('$P/valid.der'), 'CN=valid', 'CN=Test Issuing CA', '00', 'ldap://127.0.0.1:1',
	0, 4102444800, 1, 2)" >/dev/null
conf ldap "SecureMailbox sikker@kp.dk $P/valid.key $P/valid.pem" "LDAPURI ldap://127.0.0.1:1" \
	"LDAPBase c=DK" "TrustedCAFile $P/trust.pem"
replay "$T/ldap.conf" --since "$today" --until "$today"
is "$RC" 0 "LDAPURI set, nothing listening: exit 0" || diag_file "$ERR"
like "$(cat "$OUT")" "directory was not asked" "... saying the directory was not asked"
is "$(changed "$OUT" | tr '\n' ' ')" "valid@example.dk " \
	"... the cached certificate (long past its freshness) counts: only its holder changes"
like "$(cat "$OUT")" \
	"valid@example.dk  tls: reject \(PersonalToTLS\) -> encrypted: encrypt \(encrypted\)" \
	"... reject -> encrypt"
like "$(tr -s ' \n' ' ' <"$OUT")" "5 recipients of personal messages had no cached answer" \
	"... the personal recipients the cache knows nothing of are counted"
is "$(total "$OUT" "recipients not classified \(unknown\)")" 0 \
	"... and none is unknown: the directory, which would have failed, was not asked"
replay "$T/ldap.conf" --since "$today" --until "$today" --format json
ok "... JSON parses" "$JSONCHECK" <"$OUT"
like "$(cat "$OUT")" '"no_cached_certificate":5' "... JSON: the count"

# without LDAPURI but with DomainCertificates the imported domain certificates still serve
conf domcerts "SecureMailbox sikker@kp.dk $P/valid.key $P/valid.pem" \
	"TrustedCAFile $P/trust.pem" "DomainCertificates yes"
replay "$T/domcerts.conf" --since "$today" --until "$today"
is "$RC" 0 "DomainCertificates without LDAPURI: exit 0" || diag_file "$ERR"
like "$(tr -s ' \n' ' ' <"$OUT")" \
	"Without LDAPURI only the imported domain certificates serve \(DomainCertificates\)" \
	"... the summary says the imported domain certificates serve"
unlike "$(cat "$OUT")" "nobody has a certificate" "... not that nobody has one"
replay "$T/domcerts.conf" --since "$today" --until "$today" --format html
like "$(cat "$OUT")" "Without LDAPURI only the imported domain certificates serve" \
	"... HTML: the same"

# with DomainCertificates a cached "no certificate" for the address is half
# the answer: the domain's directory entry is asked as well, and a replay
# that has not got that cached counts the recipient as without an answer
q "INSERT OR IGNORE INTO cert_cache (address, found, fetched_at, fresh_until, kind)
	SELECT DISTINCT lower(trim(rcpt, '<> ')), 0, 1, 2, 'personal' FROM decision_rcpt" >/dev/null
replay "$T/ldap.conf" --since "$today" --until "$today" --format json
like "$(cat "$OUT")" '"no_cached_certificate":0' \
	"every address's answer cached: no recipient without a cached answer"
conf ldapdom "SecureMailbox sikker@kp.dk $P/valid.key $P/valid.pem" \
	"LDAPURI ldap://127.0.0.1:1" "LDAPBase c=DK" "TrustedCAFile $P/trust.pem" \
	"DomainCertificates yes"
replay "$T/ldapdom.conf" --since "$today" --until "$today" --format json
like "$(cat "$OUT")" '"no_cached_certificate":5' \
	"DomainCertificates yes: the 5 whose domain's answer is not cached are counted again"
q "INSERT OR IGNORE INTO cert_cache (address, found, fetched_at, fresh_until, kind)
	SELECT DISTINCT '@' || substr(address, instr(address, '@') + 1), 0, 1, 2, 'domain'
	FROM cert_cache WHERE kind = 'personal'" >/dev/null
replay "$T/ldapdom.conf" --since "$today" --until "$today" --format json
like "$(cat "$OUT")" '"no_cached_certificate":0' \
	"... and none once their domains' answers are cached too"

done_testing

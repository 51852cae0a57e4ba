#!/bin/bash
# e2e/domcerts.sh - end to end: domain certificates (DomainCertificates).
#
#   swaks -> a private Postfix on 127.0.0.1 -> sikkermail-milter
#         -> smtp-sink (captures what was delivered)
#   the milter looks certificates up in a private slapd that holds the test
#   PKI of tests/lib/mkcerts.sh (with its domain entries under
#   ou=domains,c=DK), and re-injects encrypted copies over SMTP into a
#   second smtpd listener of the same Postfix that runs no milters.
#
# Covers: sikkermail-ctl import domain-certs (a bad file is refused whole,
# each bad certificate named FILE:LINE; a good one replaces the set; list
# domain-certs shows where each came from); a personal message to two
# addresses of partner.dk (imported certificate) yields one copy that the
# domain key decrypts, encrypted to the domain certificate once; a
# personal certificate for anna@partner.dk wins over the domain's; the
# directory's domain entry (dirpartner.dk, LDAPDomainFilter) serves too;
# expired and wrong-EKU domain certificates in the directory are refused
# like personal ones (the recipient is handled as without a certificate);
# DomainCertificates no ignores both sources, and so does a reload that
# turns it off (a cached domain answer included); a subdomain is not
# served by its parent's certificate; an imported certificate revoked
# since its import is not used; the kind shows in the
# evidence, explain, cert, cache stats and the report.

. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/postfix.sh"
. "$(dirname "$0")/../lib/e2e.sh"
. "$(dirname "$0")/../lib/slapd.sh"

e2e_need openssl ldapsearch
need curl "curl not installed (Debian: curl)"
need /usr/bin/python3 "python3 not installed (Debian: python3)"
need "$CTL" "sikkermail-ctl not built ($CTL)"
need "$SLAPD_BIN" "slapd not installed (Debian: slapd)"
need "$SLAPADD_BIN" "slapadd not installed (Debian: slapd)"

MSG_SUBJECT=domcerts
W=$TEST_TMP/work
mkdir -p "$W"

T0=$SECONDS
directory_start
pass "slapd answers on $SLAPD_URI"

pf_listener_nomilter reinject
REINJECT_PORT=${PF_PORTS[reinject]}

CONF_DEFAULTS=("HelpURL https://kp.dk/sikkermail" "LDAPURI $SLAPD_URI" "LDAPBase c=DK"
	"NoticeDelay 0" "TrustedCAFile $CERTS/trust.pem" "CRLFile $CERTS/crl.pem"
	"SecureMailbox sikker@kp.dk $MB/sikker.key $MB/sikker.pem"
	"DefaultSecureMailbox sikker@kp.dk" "Reinject smtp:127.0.0.1:$REINJECT_PORT")
conf main "DomainCertificates yes"
conf off "DomainCertificates no" "Database $M/db/off.db"
# the same database, trusting only the root: the imported certificate's
# chain (it needs the issuing CA) no longer verifies
conf rootonly "DomainCertificates yes" "TrustedCAFile $CERTS/trust-root.pem"
# a CRL from before dom-revoked.pem was revoked
conf crlbefore "DomainCertificates yes" "CRLFile $CERTS/crl-before.pem"

# ------------------------------------------------------------ the import

# ctl CONF ARGS... - sikkermail-ctl as the daemon's user: stdout in OUT,
# stderr in ERR, exit status in RC.
ctl() {
	local conf=$1
	shift
	OUT=$(as_test_user "$CTL" -c "$M/$conf.conf" "$@" 2>"$TEST_TMP/ctl.err")
	RC=$?
	ERR=$(cat "$TEST_TMP/ctl.err")
}
# field TEXT LABEL - the value after "  LABEL: " in ctl output.
field() {
	printf '%s\n' "$1" | sed -n "s/^ *$2: *//p" | head -n 1
}
fp() {
	openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2
}
lines() { wc -l <"$1"; }

# bad.txt: partner.dk is fine, the expired and the wrong-EKU ones are not
{
	printf '# partners that decrypt centrally\n\ndomain Partner.DK\n'
	cat "$CERTS/dom-partner.pem"
	printf 'domain expired-partner.dk\n'
	cat "$CERTS/dom-expired.pem"
	printf 'domain noeku-partner.dk\n'
	cat "$CERTS/dom-noeku.pem"
} >"$M/bad.txt"
EXPIRED_LINE=$((3 + $(lines "$CERTS/dom-partner.pem") + 2))
NOEKU_LINE=$((EXPIRED_LINE + $(lines "$CERTS/dom-expired.pem") + 1))
{
	printf '# partners that decrypt centrally\n\ndomain Partner.DK\n'
	cat "$CERTS/dom-partner.pem"
	printf '# the old one, still valid for a while\n'
	cat "$CERTS/dom-short.pem"
} >"$M/good.txt"
give_to_test_user "$M"

ctl main import domain-certs "$M/bad.txt"
is "$RC" 1 "import a file with bad certificates: exit 1"
like "$ERR" "$M/bad\\.txt:$EXPIRED_LINE: the certificate for expired-partner\\.dk is not valid: expired on" \
	"import: the expired certificate is named with FILE:LINE"
like "$ERR" "$M/bad\\.txt:$NOEKU_LINE: the certificate for noeku-partner\\.dk is not valid: extendedKeyUsage does not include emailProtection" \
	"import: the wrong-EKU certificate is named with FILE:LINE"
like "$ERR" "nothing imported" "import: nothing imported"
ctl main list domain-certs
is "$OUT" "" "list domain-certs: nothing after a refused import"

ctl main import domain-certs "$M/good.txt"
is "$RC" 0 "import a good file: exit 0"
like "$OUT" "imported 2 domain certificates from $M/good\\.txt" "import: says what it did"
ctl main list domain-certs
like "$OUT" "^partner\\.dk"$'\t'"[^"$'\t'"]*CN=partner\\.dk[^"$'\t'"]*"$'\t'"$(fp "$CERTS/dom-partner.pem")"$'\t'"[0-9-]+"$'\t'"$M/good\\.txt:4"$'\t' \
	"list domain-certs: domain, subject, fingerprint, expiry, FILE:LINE"
is "$(printf '%s\n' "$OUT" | wc -l)" 2 "list domain-certs: both certificates"
ctl main explain --personal eve@partner.dk
like "$(field "$OUT" certificate)" "^domain partner\\.dk; subject CN=partner\\.dk,O=Partner,C=DK; SHA-256 $(fp "$CERTS/dom-partner.pem")" \
	"explain eve@partner.dk: of two imported, the one that expires last"
# exactly the domain: not a subdomain of it; case and a trailing dot do not matter
ctl main explain --personal x@sub.partner.dk
is "$(field "$OUT" class)" tls \
	"explain x@sub.partner.dk: partner.dk's certificate does not serve a subdomain"
unlike "$OUT" "domain partner" "explain x@sub.partner.dk: no domain certificate named"
ctl main explain --personal Eve@PARTNER.DK.
like "$(field "$OUT" certificate)" "^domain partner\\.dk; " \
	"explain Eve@PARTNER.DK.: normalised, partner.dk's certificate serves"
# the daemon without domain certificates has them imported too: it must ignore them
ctl off import domain-certs "$M/good.txt"
is "$RC" 0 "import into the database of DomainCertificates no"
like "$ERR" "DomainCertificates is off" "import: warns that DomainCertificates is off"

milters_start main off
pf_listener off "$M/off.sock"
must "private Postfix starts" pf_start "$M/main.sock"
pass "slapd, 2 milters, Postfix and smtp-sink running"
diag "set-up took $((SECONDS - T0)) s"

LOG=$M/main.log

decrypt() {
	openssl cms -decrypt -in "$1" -recip "$2" -inkey "$3" -out "$4" 2>"$4.err"
}

# encrypted_copy NAME - the message just sent was accepted and its copy
# reached the sink; sets QID and COPY.
encrypted_copy() {
	COPY=
	accepted "$1" || return 1
	copy_queued "$1" || return 1
	if ! ok "$1: the copy reached the sink" wait_for 30 sink_has_id "$COPY_ID"; then
		diag_file "$PF_LOG" 10
		return 1
	fi
	COPY=$(sink_by_id "$COPY_ID")
	[ -n "$COPY" ]
}
sink_has_id() { [ -n "$(sink_by_id "$1")" ]; }
# recipient_infos FILE - how many recipients the copy is encrypted to.
recipient_infos() {
	openssl cms -cmsout -print -in "$1" 2>/dev/null | grep -c 'd.ktri:'
}

# ------------------------------------------------------------ imported: partner.dk

msg two bob@partner.dk
send two bob@partner.dk,carl@partner.dk
if encrypted_copy "two of partner.dk"; then
	decision "$QID" "two of partner.dk" "rcpt1=bob@partner.dk" "class1=encrypted" \
		"rcpt2=carl@partner.dk" "class2=encrypted" "applied=encrypt"
	line=$(decision_line "$LOG" "$QID")
	like "$line" "evidence1=\"?domain certificate for partner\\.dk: certificate CN=partner\\.dk" \
		"two of partner.dk: evidence says domain certificate for partner.dk"
	like "$line" "from $M/good\\.txt:4" "two of partner.dk: evidence names the import FILE:LINE"
	hdrs=$(headers_of "$COPY")
	like "$hdrs" $'(^|\n)X-Rcpt-Args: <bob@partner\\.dk>' "two of partner.dk: the copy goes to bob@"
	like "$hdrs" $'(^|\n)X-Rcpt-Args: <carl@partner\\.dk>' "two of partner.dk: the copy goes to carl@"
	ok "two of partner.dk: the domain key decrypts the copy" \
		decrypt "$COPY" "$CERTS/dom-partner.pem" "$CERTS/dom-partner.key" "$W/two.out" ||
		diag_file "$W/two.out.err"
	like "$(cat "$W/two.out" 2>/dev/null)" "multipart/signed" "two of partner.dk: inside, the signed message"
	is "$(recipient_infos "$COPY")" 2 \
		"two of partner.dk: encrypted to the mailbox and once to the domain certificate"
fi

# ------------------------------------------------------------ a personal one wins

msg anna anna@partner.dk
send anna anna@partner.dk,bob@partner.dk
if encrypted_copy "anna and bob"; then
	decision "$QID" "anna and bob" "rcpt1=anna@partner.dk" "class1=encrypted" \
		"rcpt2=bob@partner.dk" "class2=encrypted"
	line=$(decision_line "$LOG" "$QID")
	like "$line" "evidence1=\"?certificate CN=Test anna" "anna and bob: anna@ by her personal certificate"
	unlike "$line" "evidence1=\"?domain" "anna and bob: not the domain's for anna@"
	like "$line" "evidence2=\"?domain certificate for partner\\.dk" "anna and bob: bob@ by the domain's"
	ok "anna and bob: anna's personal key decrypts the copy" \
		decrypt "$COPY" "$CERTS/anna.pem" "$CERTS/anna.key" "$W/anna.out" ||
		diag_file "$W/anna.out.err"
	ok "anna and bob: the domain key decrypts it too (bob's)" \
		decrypt "$COPY" "$CERTS/dom-partner.pem" "$CERTS/dom-partner.key" "$W/anna-dom.out"
	is "$(recipient_infos "$COPY")" 3 "anna and bob: mailbox, anna and the domain"
fi
ctl main explain --personal anna@partner.dk
like "$(field "$OUT" certificate)" "^personal; subject CN=Test anna" "explain anna@: a personal certificate"

# ------------------------------------------------------------ the directory: dirpartner.dk

msg dir x@dirpartner.dk
send dir x@dirpartner.dk
if encrypted_copy "to dirpartner.dk"; then
	decision "$QID" "to dirpartner.dk" "rcpt1=x@dirpartner.dk" "class1=encrypted"
	like "$(decision_line "$LOG" "$QID")" \
		"evidence1=\"?domain certificate for dirpartner\\.dk: .*from ${SLAPD_URI//./\\.}" \
		"to dirpartner.dk: evidence says domain certificate, from the directory"
	ok "to dirpartner.dk: the directory's domain key decrypts the copy" \
		decrypt "$COPY" "$CERTS/dom-dir.pem" "$CERTS/dom-dir.key" "$W/dir.out" ||
		diag_file "$W/dir.out.err"
fi
ctl main explain --personal y@dirpartner.dk
is "$(field "$OUT" class)" encrypted "explain y@dirpartner.dk: encrypted"
like "$(field "$OUT" certificate)" "^domain dirpartner\\.dk; subject CN=dirpartner\\.dk,O=Partner,C=DK; SHA-256 $(fp "$CERTS/dom-dir.pem")" \
	"explain y@dirpartner.dk: a domain certificate, which one"
ctl main cert z@dirpartner.dk
is "$RC" 0 "cert z@dirpartner.dk: exit 0"
is "$(field "$OUT" kind)" "domain certificate for dirpartner.dk" "cert z@dirpartner.dk: the kind"
is "$(field "$OUT" sha256)" "$(fp "$CERTS/dom-dir.pem")" "cert z@dirpartner.dk: the fingerprint"
ctl main cert anna@partner.dk
is "$(field "$OUT" kind)" personal "cert anna@partner.dk: personal"

# ------------------------------------------------------------ serve tells the kinds apart

# The web service renders the same route answer as explain: the JSON names the
# kind, the domain and the certificate explain printed, for both sources.
# Started as the test runs (root in CI), it becomes UserID itself; $! is its own pid.
pick_port SPORT
"$CTL" -c "$M/main.conf" serve --listen "127.0.0.1:$SPORT" \
	>"$TEST_TMP/serve.log" 2>&1 </dev/null &
SERVE_PID=$!
if ok "serve starts" wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$SPORT/"; then
	curl -sS -g -o "$TEST_TMP/route.json" \
		"http://127.0.0.1:$SPORT/v1/route?rcpt=eve@partner.dk&rcpt=anna@partner.dk&rcpt=y@dirpartner.dk"
	TZ=UTC ctl main explain --personal eve@partner.dk anna@partner.dk y@dirpartner.dk
	printf '%s\n' "$OUT" >"$TEST_TMP/route.explain"
	n=0
	while IFS=$'\t' read -r res what; do
		n=$((n + 1))
		if [ "$res" = ok ]; then pass "serve = explain: $what"; else fail "serve = explain: $what"; fi
	done < <(/usr/bin/python3 "$top_srcdir/tests/lib/routecmp.py" \
		"$TEST_TMP/route.explain" "$TEST_TMP/route.json" 2>&1)
	[ "$n" -gt 0 ] || fail "serve = explain: something compared"
	KINDS=$(/usr/bin/python3 -c 'import json,sys
for r in json.load(open(sys.argv[1]))["recipients"]:
    c = r["certificate"]
    print(c.get("kind"), c.get("domain"))' "$TEST_TMP/route.json" 2>&1)
	is "$KINDS" "domain partner.dk
personal None
domain dirpartner.dk" "serve /v1/route: kind and domain of each certificate"
	curl -sS -o "$TEST_TMP/cert.pem" "http://127.0.0.1:$SPORT/v1/cert?addr=eve@partner.dk&format=pem"
	is "$(fp "$TEST_TMP/cert.pem")" "$(fp "$CERTS/dom-partner.pem")" \
		"serve /v1/cert: the domain certificate explain named"
else
	diag_file "$TEST_TMP/serve.log"
fi
kill "$SERVE_PID" 2>/dev/null
wait "$SERVE_PID" 2>/dev/null
ok "serve has stopped" test ! -d "/proc/$SERVE_PID"

# ------------------------------------------------------------ refused like personal ones

for d in expired noeku; do
	addr=someone@$d-partner.dk
	ctl main explain --personal "$addr"
	is "$(field "$OUT" class)" tls "explain $addr: not encrypted (tls)"
	ctl main cert "$addr"
	like "$OUT" "no usable certificate" "cert $addr: no usable certificate"
	case $d in
	expired) re="expired on [0-9]{4}-" ;;
	noeku) re="extendedKeyUsage does not include emailProtection" ;;
	esac
	like "$OUT" $'(^|\n)  not usable: domain [^\n]*'"$re" "cert $addr: the domain certificate's reason"
	msg "$d" "$addr"
	send "$d" "$addr"
	wait_for 10 eval '[ -n "$(decision_with_rcpt "$LOG" "$addr")" ]'
	line=$(decision_with_rcpt "$LOG" "$addr")
	like "$line" "class1=tls" "to $addr: handled as without a certificate (tls)"
	unlike "$line" "applied=encrypt" "to $addr: not encrypted"
done

# ------------------------------------------------------------ DomainCertificates no

LOG=$M/off.log
for addr in bob@partner.dk x@dirpartner.dk; do
	ctl off explain --personal "$addr"
	is "$(field "$OUT" class)" tls "DomainCertificates no: explain $addr: tls"
	msg "off-${addr%@*}" "$addr"
	SEND_PORT=${PF_PORTS[off]} send "off-${addr%@*}" "$addr"
	wait_for 10 eval '[ -n "$(decision_with_rcpt "$LOG" "$addr")" ]'
	line=$(decision_with_rcpt "$LOG" "$addr")
	like "$line" "class1=tls" "DomainCertificates no: $addr is handled as without a certificate"
	unlike "$line" "domain certificate" "DomainCertificates no: no domain certificate in the evidence"
done
LOG=$M/main.log

# ------------------------------------------------------------ judged again at use

ctl rootonly cert dora@partner.dk
like "$OUT" $'(^|\n)  not usable: domain CN=partner\\.dk[^\n]*\\(imported, '"$M"$'/good\\.txt:4\\): chain does not verify' \
	"judged at use: an imported certificate that no longer chains is not used, and why"
like "$OUT" "no usable certificate" "judged at use: dora@partner.dk has none then"
ctl rootonly explain --personal dora@partner.dk
is "$(field "$OUT" class)" tls "judged at use: explain dora@partner.dk: tls"

# ------------------------------------------------------------ cache and report

ctl main cache stats
like "$(field "$OUT" domain)" "^[1-9][0-9]* \\([1-9][0-9]* with a certificate\\)" \
	"cache stats: domain answers cached, with certificates"
like "$(field "$OUT" personal)" "^[1-9]" "cache stats: personal answers counted apart"
ctl main cache stats
before_purge=$(field "$OUT" domain)
ctl main cache purge @dirpartner.dk
like "$OUT" "removed 1 cached answer" "cache purge @dirpartner.dk: the domain's answer is forgotten"
ctl main cache stats
isnt "$(field "$OUT" domain)" "$before_purge" "cache stats: one domain answer fewer"
ctl main cert z@dirpartner.dk
ctl main cache stats
is "$(field "$OUT" domain)" "$before_purge" "cache stats: the domain's answer cached again"

# bob@ and carl@, bob@ again, x@dirpartner.dk: four recipients by domain certificate
ctl main report --format csv
like "$OUT" $'(^|\n)summary,domain_certificate,4(\n|$)' "report csv: 4 recipients by domain certificate"
ctl main report --format json
like "$OUT" '"totals": \{[^}]*(\{[^}]*\}[^}]*)*"domain_certificate":4\}' \
	"report json: 4 recipients by domain certificate in the totals"
ctl main report --format text
like "$OUT" "encrypted to a domain certificate +4" "report text: 4 recipients by domain certificate"
ctl main report --format html --lang en
like "$OUT" "recipients encrypted to a domain certificate</th><td>4<" \
	"report html: 4 recipients by domain certificate"
ctl main report --log "$LOG"
like "$OUT" "encrypted to a domain certificate +4" "report from the log: 4 by domain certificate"
sq=$(as_test_user sqlite3 "$DB" "SELECT count(*) FROM decision_rcpt WHERE class = 'encrypted' AND evidence LIKE 'domain certificate for %'")
is "$sq" 4 "the database records the 4 with evidence \"domain certificate for ...\""

# ------------------------------------------------------------ a reload turns them off

# dirpartner.dk's answer is cached and fresh, partner.dk's certificate
# imported: after SIGUSR1 with DomainCertificates no, neither serves
reloads=$(grep -a -c 'reload accepted' "$LOG")
give_to_test_user "$MB"	# the daemon reads the mailbox key again, as its own user
conf main "DomainCertificates no"
kill -USR1 "${MPID[main]}"
ok "SIGUSR1 with DomainCertificates no: reload accepted" \
	wait_for 10 eval '[ "$(grep -a -c "reload accepted" "$LOG")" -gt "$reloads" ]' ||
	diag "$(grep -a -i 'reload' "$LOG" | tail -n 3)"
for addr in reload@partner.dk reload@dirpartner.dk; do
	msg "reload-${addr#*@}" "$addr"
	send "reload-${addr#*@}" "$addr"
	wait_for 10 eval '[ -n "$(decision_with_rcpt "$LOG" "$addr")" ]'
	line=$(decision_with_rcpt "$LOG" "$addr")
	like "$line" "class1=tls" "after the reload: $addr is handled as without a certificate"
	unlike "$line" "domain certificate" "after the reload: no domain certificate for $addr"
done
conf main "DomainCertificates yes"

# ------------------------------------------------------------ revoked since the import

{
	printf 'domain revoked-partner.dk\n'
	cat "$CERTS/dom-revoked.pem"
} >"$M/revoked.txt"
give_to_test_user "$M/revoked.txt"
ctl crlbefore import domain-certs "$M/revoked.txt"
is "$RC" 0 "import under a CRL from before the revocation: accepted" || diag "$ERR"
ctl main cert x@revoked-partner.dk
like "$OUT" $'(^|\n)  not usable: domain CN=revoked-partner\\.dk[^\n]*\\(imported, [^\n]*\\): [^\n]*certificate revoked' \
	"revoked since the import: judged against the CRL of now, and why"
ctl main explain --personal x@revoked-partner.dk
is "$(field "$OUT" class)" tls "revoked since the import: x@revoked-partner.dk is handled as without one"

# a re-import replaces: an empty file leaves nothing, and partner.dk has no certificate
printf '# none\n' >"$M/empty.txt"
give_to_test_user "$M/empty.txt"
ctl main import domain-certs "$M/empty.txt"
is "$RC" 0 "import an empty file: exit 0"
ctl main list domain-certs
is "$OUT" "" "list domain-certs: empty after re-import"
ctl main explain --personal dora@partner.dk
is "$(field "$OUT" class)" tls "after the re-import: dora@partner.dk has no certificate"

e2e_stop main off
done_testing

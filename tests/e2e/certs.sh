#!/bin/bash
# e2e/certs.sh - end to end: S/MIME certificates in a private slapd decide
# the recipient class "encrypted" (SPEC section 6).
#
#   swaks -> a private Postfix on 127.0.0.1 -> sikkermail-milter
#         -> smtp-sink (captures what was delivered)
#   the milter looks certificates up in a private slapd on 127.0.0.1 that
#   holds the test PKI of tests/lib/mkcerts.sh, and re-injects encrypted
#   copies over SMTP into a second smtpd listener of the same Postfix that
#   runs no milters.
#
# Covers: sikkermail-ctl explain --personal and cert for every test
# certificate (valid ones -> encrypted, with the chosen certificate's
# fingerprint; each invalid one -> not encrypted, with its reason), the
# AcceptSubjectEmail and CRLFile switches; through Postfix: a personal
# message to a valid certificate is encrypted, the answer is cached
# (positive and negative), mail that does not need a certificate causes no
# LDAP search at all, injection local parts match nobody, 20 concurrent
# messages to one uncached address cause one search (while the first
# LDAPURI, a silent server, holds the lookup up: failover); with slapd
# stopped a cached answer (fresh, stale, after a restart of the milter) is
# used, an answer past MaxStale or none at all gives 4xx that says the
# directory is unavailable, and so does sikkermail-ctl cert; a directory
# that accepts connections and never answers gives 4xx within LDAPTimeout.

. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/postfix.sh"
. "$(dirname "$0")/../lib/e2e.sh"
. "$(dirname "$0")/../lib/slapd.sh"

e2e_need openssl ldapsearch
need "$CTL" "sikkermail-ctl not built ($CTL)"
need "$SLAPD_BIN" "slapd not installed (Debian: slapd)"
need "$SLAPADD_BIN" "slapadd not installed (Debian: slapd)"

silent_listener_find

HELPURL=https://kp.dk/sikkermail
LDAP_TIMEOUT=3
MSG_SUBJECT=certs

T0=$SECONDS
directory_start
pass "slapd answers on $SLAPD_URI"

# The silent listener: accepts connections, never says a word.
"$SILENT" >"$TEST_TMP/silent.port" 2>&1 </dev/null &
track_pid $!
wait_for 5 test -s "$TEST_TMP/silent.port"
SILENT_PORT=$(head -n 1 "$TEST_TMP/silent.port")
if ! [[ $SILENT_PORT =~ ^[0-9]+$ ]]; then
	fail "silent listener starts"
	diag_file "$TEST_TMP/silent.port"
	done_testing
fi

# The re-injection listener: same Postfix, no milters, relays to the sink.
pf_listener_nomilter reinject
REINJECT_PORT=${PF_PORTS[reinject]}

CONF_DEFAULTS=("HelpURL $HELPURL" "LDAPBase c=DK" "LDAPTimeout $LDAP_TIMEOUT" "NoticeDelay 0"
	"TrustedCAFile $CERTS/trust.pem" "SecureMailbox sikker@kp.dk $MB/sikker.key $MB/sikker.pem"
	"DefaultSecureMailbox sikker@kp.dk" "Reinject smtp:127.0.0.1:$REINJECT_PORT")
conf main "LDAPURI $SLAPD_URI" "CRLFile $CERTS/crl.pem"
conf silent "LDAPURI ldap://127.0.0.1:$SILENT_PORT/" "Database $M/db/silent.db"
# End-of-message time budget: a silent directory that LDAPTimeout alone
# would wait 30 s for. "budget" gives up after 5 s; "late" after 10 s,
# behind a Postfix listener that gives up after 3 s.
conf budget "LDAPURI ldap://127.0.0.1:$SILENT_PORT/" "LDAPTimeout 30" "DecisionTimeout 5"
conf late "LDAPURI ldap://127.0.0.1:$SILENT_PORT/" "LDAPTimeout 30" "DecisionTimeout 10"
conf failover "LDAPURI ldap://127.0.0.1:$SILENT_PORT/ $SLAPD_URI" "Database $M/db/failover.db"
# sikkermail-ctl's own views, each with its own cache so that they never
# answer from another's: as the milter; without the CRL; with
# AcceptSubjectEmail.
conf ctl "LDAPURI $SLAPD_URI" "CRLFile $CERTS/crl.pem" "Database $M/db/ctl.db"
conf nocrl "LDAPURI $SLAPD_URI" "Database $M/db/nocrl.db"
# the same database as nocrl, now with the CRL, and with a directory that
# is not there (its cache is all it has)
conf crlnow "LDAPURI ldap://127.0.0.1:1" "Database $M/db/nocrl.db" "CRLFile $CERTS/crl.pem"
conf subjectoff "LDAPURI ldap://127.0.0.1:1" "CRLFile $CERTS/crl.pem" "AcceptSubjectEmail no" \
	"Database $M/db/subject.db"
conf subject "LDAPURI $SLAPD_URI" "CRLFile $CERTS/crl.pem" "AcceptSubjectEmail yes" \
	"Database $M/db/subject.db"

printf '# tunnelmail\nkommune-tunnel.dk,Eksempel Kommune\n' >"$M/tunnel.txt"
give_to_test_user "$M"
ctl_import "$M/main.conf" tunnel "$M/tunnel.txt"

milters_start main silent failover budget late

pf_listener silent "$M/silent.sock"
pf_listener budget "$M/budget.sock"
pf_listener late "$M/late.sock" milter_content_timeout=3s
pf_listener failover "$M/failover.sock"
must "private Postfix starts" pf_start "$M/main.sock"
pass "slapd, 3 milters, Postfix (smtpd $PF_PORT, re-injection $REINJECT_PORT) and smtp-sink running"
diag "set-up took $((SECONDS - T0)) s"

# ------------------------------------------------------------ helpers

fp() {
	openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2
}

# ctl CONF ARGS... - sikkermail-ctl as the daemon's user: stdout in OUT,
# exit status in RC (stderr, which repeats the reasons, is not needed).
ctl() {
	local conf=$1
	shift
	OUT=$(as_test_user "$CTL" -c "$M/$conf.conf" "$@" 2>>"$TEST_TMP/ctl.err")
	RC=$?
}

# field TEXT LABEL - the value after "  LABEL: " in ctl output.
field() {
	printf '%s\n' "$1" | sed -n "s/^ *$2: *//p" | head -n 1
}

sink_has_id() { [ -n "$(sink_by_id "$1")" ]; }

# encrypted NAME RCPT - the message just sent was accepted and decided
# "encrypt" for RCPT; an application/pkcs7-mime copy from the mailbox
# reached RCPT; the clear original reached nobody. Sets QID and COPY.
encrypted() {
	local name=$1 rcpt=$2 tag=$3 id hdrs
	COPY=
	accepted "$name" || return 1
	decision "$QID" "$name" "class1=encrypted" "action1=encrypt" "applied=encrypt"
	copy_queued "$name" 5 || return 1
	id=$COPY_ID
	ok "$name: the copy arrived at the sink" wait_for 20 sink_has_id "$id" || return 1
	COPY=$(sink_by_id "$id")
	hdrs=$(headers_of "$COPY")
	like "$hdrs" $'(^|\n)X-Rcpt-Args: <'"${rcpt//./\\.}"'>' "$name: the copy went to <$rcpt>"
	like "$hdrs" $'(^|\n)X-Mail-Args: <sikker@kp\\.dk>' "$name: ... from <sikker@kp.dk>"
	like "$hdrs" $'(^|\n)Content-Type: application/pkcs7-mime' \
		"$name: ... as application/pkcs7-mime"
	sleep 0.3
	ok "$name: the original reached nobody in clear" test -z "$(sink_file "$tag")"
}

# tempfailed NAME TAG [WHY] - 4xx to the message data saying WHY (default:
# the directory is unavailable), nothing queued or delivered. Sets QID
# from the reply's "Ref".
tempfailed() {
	local name=$1 tag=$2 why=${3:-certificate directory unavailable} bad=0
	QID=
	is "$SEND_QID" "" "$name: not queued" || bad=1
	like "$SEND_REPLY" '^451[ -]4\.[0-9]+\.[0-9]+ ' "$name: 451 4.x.x" || bad=1
	like "$SEND_REPLY" "$why" "$name: the reply says: $why" || bad=1
	[[ $SEND_REPLY =~ Ref\ ([0-9A-Za-z]+) ]] && QID=${BASH_REMATCH[1]}
	sleep 0.3
	ok "$name: nothing delivered" test -z "$(sink_file "$tag")" || bad=1
	[ -n "$QID" ] && ok "$name: no encrypted copy made" test -z "$(copy_id "$QID")"
	[ "$bad" = 0 ] || diag "$SEND_OUT"
	return 0
}

SLOG=$SLAPD_DIR/slapd.log
all_searches() { grep -c ' SRCH base=' "$SLOG"; }
searches_are() { [ "$(slapd_searches "$1")" = "$2" ]; }

# results_since LINE - nentries of every search slapd answered after LINE.
results_since() {
	tail -n +"$(($1 + 1))" "$SLOG" | sed -n 's/.* SEARCH RESULT .* nentries=\([0-9]*\).*/\1/p'
}

LOG=$M/main.log

# ------------------------------------------------ classification by ctl

# One ctl process per address, as an administrator would run it.
while read -r name addr <&3; do
	want=$(fp "$CERTS/$name.pem")
	[ "$name" = two-a ] && continue		# twocerts@: two-b must win
	ctl ctl explain --personal "$addr"
	case $name in
	valid | two-b | ec | mixedcase | bundle | star)
		is "$(field "$OUT" class)" encrypted "explain --personal $addr: class encrypted"
		like "$(field "$OUT" evidence)" "SHA-256 $want" \
			"explain --personal $addr: evidence names the certificate ($name)"
		ctl ctl cert "$addr"
		like "$OUT" "usable certificate \(from ${SLAPD_URI//./\\.}\)" \
			"cert $addr: usable, from the private slapd"
		is "$(field "$OUT" sha256)" "$want" "cert $addr: the fingerprint of $name.pem"
		;;
	*)
		is "$(field "$OUT" class)" tls "explain --personal $addr: not encrypted (tls)"
		ctl ctl cert "$addr"
		like "$OUT" "no usable certificate" "cert $addr: no usable certificate"
		;;
	esac
	is "$RC" 0 "cert $addr: exit status 0"
	case $name in
	expired) re="expired on [0-9]{4}-" ;;
	notyet) re="not valid before [0-9]{4}-" ;;
	wrongaddr) re="wrongaddr@example\.dk is not in subjectAltName \(it names someone\.else@example\.dk\)" ;;
	subjonly) re="only in the subject's emailAddress" ;;
	noeku) re="extendedKeyUsage does not include emailProtection" ;;
	nokeyenc) re="keyUsage does not include keyEncipherment" ;;
	untrusted | missinginter) re="chain does not verify: unable to get local issuer" ;;
	revoked) re="chain does not verify: certificate revoked" ;;
	weak) re="RSA key of 1024 bits is too weak" ;;
	*) re= ;;
	esac
	if [ -n "$re" ]; then
		like "$OUT" $'(^|\n)  not usable: [^\n]*'"$re" "cert $addr ($name): the reason is shown"
	elif [ "$name" != two-b ]; then
		unlike "$OUT" "not usable" "cert $addr: nothing rejected"
	fi
done 3<"$CERTS/leaves.txt"

ctl ctl cert twocerts@example.dk
like "$OUT" $'(^|\n)  sha256: +'"$(fp "$CERTS/two-b.pem")" \
	"cert twocerts@: of two valid certificates the later-expiring (two-b) wins"
unlike "$OUT" "$(fp "$CERTS/two-a.pem")" "cert twocerts@: two-a is not shown"

for addr in nocert@example.dk nobody@example.dk; do
	ctl ctl explain --personal "$addr"
	is "$(field "$OUT" class)" tls "explain --personal $addr: tls"
	ctl ctl cert "$addr"
	like "$OUT" "no usable certificate" "cert $addr: no usable certificate"
done

ctl subject explain --personal subjonly@example.dk
is "$(field "$OUT" class)" encrypted "AcceptSubjectEmail yes: subjonly@ is encrypted"
ctl nocrl explain --personal revoked@example.dk
is "$(field "$OUT" class)" encrypted "without CRLFile: revoked@ is encrypted (the CRL is what refuses it)"
# A cached certificate is judged again at every use: a CRL added since it
# was cached, or AcceptSubjectEmail turned off, counts at once - even with
# the directory down, when the cache is all there is.
ctl crlnow explain --personal revoked@example.dk
isnt "$(field "$OUT" class)" encrypted "CRL added after caching: revoked@ no longer encrypted"
ctl subjectoff explain --personal subjonly@example.dk
isnt "$(field "$OUT" class)" encrypted "AcceptSubjectEmail off after caching: subjonly@ no longer encrypted"
ctl ctl explain valid@example.dk
is "$(field "$OUT" class)" tls "explain without --personal: no lookup, tls"

ctl ctl cache stats
like "$OUT" $'(^|\n)certificates: +[1-9]' "cache stats: certificates cached by cert/explain"
ctl ctl cache purge valid@example.dk
like "$OUT" "removed 1 cached answer" "cache purge ADDRESS: one entry removed"

# ------------------------------------------------ through Postfix

n=$(slapd_searches "(mail=valid@example.dk)")
msg valid valid@example.dk
send valid valid@example.dk
encrypted "personal to valid@" valid@example.dk valid
ok "personal to valid@: one search in slapd" wait_for 5 searches_are "(mail=valid@example.dk)" $((n + 1))
has_notice() { [ -n "$(notice_for "$1")" ]; }
ok "personal to valid@: the mailbox got its notice" wait_for 10 has_notice "$QID"
is "$(sql "$DB" "SELECT found || '|' || fingerprint FROM cert_cache WHERE address = 'valid@example.dk'")" \
	"1|$(fp "$CERTS/valid.pem")" "personal to valid@: the certificate is in the milter's cache"

msg valid2 valid@example.dk
send valid2 valid@example.dk
encrypted "second message to valid@" valid@example.dk valid2
sleep 0.3
is "$(slapd_searches "(mail=valid@example.dk)")" $((n + 1)) \
	"second message to valid@: answered from the cache, no new search"

# A label is not encryption: a clear text sent as application/pkcs7-mime
# is encrypted like any other (the body does not parse as EnvelopedData).
msg labelled valid@example.dk "X-KP-Personal: yes" "MIME-Version: 1.0" \
	"Content-Type: application/pkcs7-mime; smime-type=enveloped-data"
send labelled valid@example.dk
encrypted "clear text labelled pkcs7-mime" valid@example.dk labelled
like "$(grep -a "$QID" "$LOG" | grep 'labelled encrypted')" "taken as clear: the body is not CMS" \
	"clear text labelled pkcs7-mime: the log says why it was taken as clear"

# NegativeTTL: "no certificate" is cached too.
n=$(slapd_searches "(mail=nocert@example.dk)")
for i in 1 2; do
	msg nocert$i nocert@example.dk
	send nocert$i nocert@example.dk
	like "$SEND_REPLY" '^550[ -]5\.7\.1 ' "personal to nocert@ (#$i): 550 5.7.1 (no certificate: tls)"
done
is "$(slapd_searches "(mail=nocert@example.dk)")" $((n + 1)) "nocert@: one search for two messages"

# Mail that needs no certificate asks nobody.
n=$(all_searches)
msg np ec@example.dk "X-KP-Personal: no"
send np ec@example.dk
ok "not personal to ec@: delivered" sink_wait np
msg internal bob@kp.dk
send internal bob@kp.dk
ok "personal to internal bob@kp.dk: delivered" sink_wait internal
msg tunnel sag@kommune-tunnel.dk
send tunnel sag@kommune-tunnel.dk
ok "personal to a tunnel domain: delivered" sink_wait tunnel
pf_message "$TEST_TMP/spoof.eml" spoof "From: Mallory <m@example.net>" "To: <ec@example.dk>" \
	"Subject: spoof" "X-KP-Personal: yes"
pf_send spoof --from m@example.net --to ec@example.dk --local-interface 127.0.0.2 \
	--data "@$TEST_TMP/spoof.eml"
ok "personal flag from an untrusted client: delivered as not personal" sink_wait spoof
sleep 0.3
is "$(all_searches)" "$n" "none of these four caused an LDAP search"
is "$(sql "$DB" "SELECT count(*) FROM cert_cache WHERE address = 'ec@example.dk'")" 0 \
	"ec@ was never looked up"

# Injection: filter metacharacters in the local part match nobody; a quoted
# local part with parentheses never gets as far as the directory.
mark=$(wc -l <"$SLOG")
msg injq '"*)(mail=*"@example.dk'
send injq '"*)(mail=*"@example.dk'
like "$SEND_OUT" $'<\\*\\* 550[ -]5\\.1\\.3 ' 'injection <"*)(mail=*"@example.dk>: 550 5.1.3 at RCPT TO'
sleep 0.3
is "$(results_since "$mark" | grep -c .)" 0 'injection <"*)(mail=*"@example.dk>: no LDAP search'
for addr in '*@example.dk' 'v*d@example.dk'; do
	mark=$(wc -l <"$SLOG")
	tag=inj$RANDOM
	msg "$tag" "$addr"
	send "$tag" "$addr"
	like "$SEND_REPLY" '^550[ -]5\.7\.1 ' "injection <$addr>: refused (550 5.7.1), not encrypted"
	[[ $SEND_REPLY =~ Ref\ ([0-9A-Za-z]+) ]] && QID=${BASH_REMATCH[1]} || QID=
	decision "$QID" "injection <$addr>" "class1=tls"
	sleep 0.3
	res=$(results_since "$mark" | tr '\n' ' ')
	like "$res" '^0 ' "injection <$addr>: slapd searched and found nothing"
	unlike "$res" '[1-9]' "injection <$addr>: no search found an entry"
done
like "$(grep -a -F 'filter="(mail=' "$SLOG")" 'filter="\(mail=\\2[Aa]@example\.dk\)"' \
	"slapd received <*@example.dk> escaped (RFC 4515)"
unlike "$(grep -a -F 'filter="(mail=' "$SLOG")" 'filter="\(mail=\*' \
	"slapd never received a bare '*' at the start of a value"

# ------------------------------------------------ 20 at once

# smtp_reply FD - one SMTP reply; 0 if it is 2xx/3xx. REPLY_TEXT gets its lines.
smtp_reply() {
	local line
	REPLY_TEXT=
	while IFS= read -r -t 30 line <&"$1"; do
		line=${line%$'\r'}
		REPLY_TEXT+="$line"$'\n'
		[[ $line =~ ^[0-9]{3}\  ]] && { [[ $line =~ ^[23] ]]; return; }
	done
	return 1
}

# smtp_upto_dot PORT RCPT FILE - a raw SMTP session (bash's /dev/tcp) that
# sends the whole message but not the final dot; SMTP_FD is its descriptor.
smtp_upto_dot() {
	local cmd
	exec {SMTP_FD}<>"/dev/tcp/127.0.0.1/$1" || return 1
	smtp_reply "$SMTP_FD" || return 1
	for cmd in "EHLO client.sikkermail.test" "MAIL FROM:<alice@kp.dk>" "RCPT TO:<$2>" DATA; do
		printf '%s\r\n' "$cmd" >&"$SMTP_FD"
		smtp_reply "$SMTP_FD" || { diag "$cmd: $REPLY_TEXT"; return 1; }
	done
	cat "$3" >&"$SMTP_FD"
}

# Every message goes as far as its last line; then all 20 final dots go out
# at once, so the filter sees 20 ends of message together. The filter asks
# a silent server first (LDAPURI failover), so the first lookup takes about
# half of LDAPTimeout: all 20 are in flight while it runs.
LOG=$M/failover.log
n=$(slapd_searches "(mail=twocerts@example.dk)")
before=$(grep -l -a '^X-Rcpt-Args: <twocerts@example.dk>' "$SINK_DIR"/* 2>/dev/null | wc -l)
fds=()
for i in $(seq 1 20); do
	msg conc$i twocerts@example.dk
	if smtp_upto_dot "${PF_PORTS[failover]}" twocerts@example.dk "$TEST_TMP/conc$i.eml"; then
		fds+=("$SMTP_FD")
	else
		diag "SMTP session $i: $REPLY_TEXT"
	fi
done
is "${#fds[@]}" 20 "20 SMTP sessions to twocerts@ up to the final dot"
t0=$(date +%s.%N)
for fd in "${fds[@]}"; do
	printf '.\r\n' >&"$fd"
done
qids=()
for fd in "${fds[@]}"; do
	if smtp_reply "$fd" && [[ $REPLY_TEXT =~ queued\ as\ ([0-9A-Za-z]+) ]]; then
		qids+=("${BASH_REMATCH[1]}")
	else
		diag "reply: $REPLY_TEXT"
	fi
	printf 'QUIT\r\n' >&"$fd"
	exec {fd}>&-
done
t1=$(date +%s.%N)
diag "20 concurrent: all answered $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s after the dots"
is "${#qids[@]}" 20 "20 concurrent messages to twocerts@: all accepted"
is "$(slapd_searches "(mail=twocerts@example.dk)")" $((n + 1)) \
	"20 concurrent messages to uncached twocerts@: exactly one search in slapd"
good=0
for q in "${qids[@]}"; do
	wait_for 5 has_decision "$LOG" "$q"
	line=" $(decision_line "$LOG" "$q") "
	[[ $line == *" class1=encrypted "* && $line == *" applied=encrypt "* &&
		$line == *"from $SLAPD_URI"* ]] && good=$((good + 1))
done
is "$good" 20 "20 concurrent: 20 decision lines class1=encrypted, applied=encrypt, from the second LDAPURI"
copies() { [ "$(grep -l -a '^X-Rcpt-Args: <twocerts@example.dk>' "$SINK_DIR"/* 2>/dev/null | wc -l)" -ge "$1" ]; }
ok "20 concurrent: 20 encrypted copies arrived" wait_for 30 copies $((before + 20))
is "$(sql "$M/db/failover.db" "SELECT fingerprint FROM cert_cache WHERE address = 'twocerts@example.dk'")" \
	"$(fp "$CERTS/two-b.pem")" "twocerts@: the cache holds two-b, the later-expiring"
LOG=$M/main.log

# ------------------------------------------------ a silent directory

LOG=$M/silent.log
SEND_PORT=${PF_PORTS[silent]}
msg silent valid@example.dk
t0=$(date +%s.%N)
send silent valid@example.dk
t1=$(date +%s.%N)
elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
diag "silent directory: the answer came after $elapsed s (LDAPTimeout $LDAP_TIMEOUT)"
tempfailed "silent directory" silent
# The margin covers swaks and Postfix; twice LDAPTimeout would not fit.
ok "silent directory: 4xx within LDAPTimeout + 2 s ($elapsed s)" \
	awk -v e="$elapsed" -v t="$LDAP_TIMEOUT" 'BEGIN { exit !(e < t + 2) }'
decision "$QID" "silent directory" "class1=unknown" "applied=tempfail"
unset SEND_PORT
LOG=$M/main.log

# ------------------------------------------------ the time budget

# valid@ is cached; slow@ is not, and the directory is silent. The
# message is tempfailed when DecisionTimeout is spent - not after
# LDAPTimeout - and valid@'s encrypted copy is not sent: the MTA may have
# given up on the message by then.
LOG=$M/budget.log
SEND_PORT=${PF_PORTS[budget]}
msg budget valid@example.dk
t0=$(date +%s.%N)
send budget valid@example.dk,slow@example.dk
t1=$(date +%s.%N)
elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
diag "time budget: the answer came after $elapsed s (DecisionTimeout 5, LDAPTimeout 30)"
tempfailed "time budget" budget "could not be decided in time"
ok "time budget: 4xx before LDAPTimeout would have ended ($elapsed s)" \
	awk -v e="$elapsed" 'BEGIN { exit !(e < 15) }'
decision "$QID" "time budget" "applied=tempfail" "rule=time-budget" "class2=unknown"
ok "time budget: no encrypted copy queued" test -z "$(copy_id "$QID")"

# Postfix gives up after 3 s (milter_content_timeout); the filter's budget
# runs out at 10 s. It logs its decision then and hands nothing over.
LOG=$M/late.log
SEND_PORT=${PF_PORTS[late]}
msg late valid@example.dk
sink_mark
send late valid@example.dk,slow@example.dk
is "$SEND_QID" "" "MTA timeout: not accepted"
like "$SEND_REPLY" '^4[0-9][0-9][ -]4\.[0-9]+\.[0-9]+' "MTA timeout: Postfix tempfails it"
late_line() { grep -a "message_id=<late\.$$@" "$LOG" | grep ' decision '; }
has_late() { [ -n "$(late_line)" ]; }
ok "MTA timeout: the filter logs its decision when its budget ends" wait_for 20 has_late
like "$(late_line)" " applied=tempfail rule=time-budget " "MTA timeout: ... a tempfail, rule time-budget"
unlike "$(cat "$LOG")" "encrypted copy .* queued" "MTA timeout: no encrypted copy handed over"
sleep 1
is "$(sink_new | wc -l)" 0 "MTA timeout: nothing reached the sink"
unset SEND_PORT
LOG=$M/main.log

# ------------------------------------------------ slapd stopped

slapd_stop
pass "slapd stopped"

msg down1 valid@example.dk
send down1 valid@example.dk
encrypted "slapd down, fresh cache entry for valid@" valid@example.dk down1

# The entry has run out (CertTTL) but is within MaxStale.
sql "$DB" "UPDATE cert_cache SET fresh_until = strftime('%s', 'now') - 60 WHERE address = 'valid@example.dk'" >/dev/null
msg down2 valid@example.dk
send down2 valid@example.dk
encrypted "slapd down, stale cache entry for valid@" valid@example.dk down2
like "$(grep -a 'using the cached answer for valid@example.dk' "$LOG")" . \
	"slapd down, stale entry: the milter logs that it used the cached answer"
# one line when the directory goes down, not one per lookup
is "$(grep -a -c "directory down uri=${SLAPD_URI%/}/\? retry_in=[0-9]*s" "$LOG")" 1 \
	"slapd down: one 'directory down' line for two lookups"

# The cache survives a restart of the milter (the main one: a second start
# while it runs would be refused).
stop_pid "${MPID[main]}" 30
is "$STOP_STATUS" 0 "main milter: SIGTERM exits 0"
if milter_start "$M/main.conf" "$M/main.sock" "$M/main.log"; then
	MPID[main]=$MILTER_PID
	msg down3 valid@example.dk
	send down3 valid@example.dk
	encrypted "slapd down, milter restarted: cached valid@" valid@example.dk down3
else
	fail "main milter restarts"
fi

# Past MaxStale the entry no longer answers.
sql "$DB" "UPDATE cert_cache SET fetched_at = 1000, fresh_until = 1000 WHERE address = 'valid@example.dk'" >/dev/null
msg down4 valid@example.dk
send down4 valid@example.dk
tempfailed "slapd down, cache entry past MaxStale" down4
decision "$QID" "slapd down, past MaxStale" "class1=unknown" "applied=tempfail"

msg down5 Mixed.Case@example.dk
send down5 Mixed.Case@example.dk
tempfailed "slapd down, nothing cached for Mixed.Case@" down5
decision "$QID" "slapd down, nothing cached" "class1=unknown" "applied=tempfail"

ctl ctl cert down@example.dk
is "$RC" 75 "slapd down, cert for an uncached address: exit status 75 (EX_TEMPFAIL)"
like "$OUT" "directory unavailable" "slapd down, cert for an uncached address: says the directory is unavailable"
# ctl.db holds an answer for Mixed.Case@ from above: "look up now" must not
# pass that off as a fresh answer from the directory.
ctl ctl cert Mixed.Case@example.dk
like "$OUT" "unavailable" "slapd down, cert for a cached address: says the directory is unavailable"

diag "cases took $((SECONDS - T0)) s in all"

# ------------------------------------------------ shutdown

e2e_stop main silent failover budget late

done_testing

#!/bin/bash
# e2e/smime.sh - end to end: a personal message to a recipient with a valid
# certificate leaves signed and encrypted from a function mailbox; every
# other recipient of the same message gets the original; nothing is lost
# and nothing leaks (SPEC sections 7 and 8).
#
#   swaks -> a private Postfix on 127.0.0.1 -> sikkermail-milter
#         -> smtp-sink (captures what was delivered)
#   certificates come from a private slapd (tests/lib/mkcerts.sh's PKI);
#   the milter re-injects its copies over SMTP into a second smtpd
#   listener of the same Postfix that runs no milters.
#
# The function mailboxes sikker@kp.dk and hr@kp.dk get keys and
# certificates of their own here, issued by mkcerts.sh's "Test Issuing CA".
#
# Covers: what arrives for the certificate recipient (application/pkcs7-mime
# that the recipient's and the mailbox's key decrypt, signed by the mailbox,
# verifying against the test CA, holding the original Subject and body,
# which appear nowhere in the raw bytes; envelope sender, From, Reply-To
# and Subject); mixed recipients; the mailbox notice; MailboxHeader (a
# configured and an unknown mailbox); failure injection (an unreadable key,
# the re-injection listener down, OpenSSL failing on a bad certificate);
# both ciphers; already encrypted messages; a 20 MB message with bounded
# memory; re-injected copies not filtered twice; forged and replayed
# re-injection markers.

. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/postfix.sh"
. "$(dirname "$0")/../lib/e2e.sh"
. "$(dirname "$0")/../lib/slapd.sh"

e2e_need openssl ldapsearch base64 sha256sum
need "$CTL" "sikkermail-ctl not built ($CTL)"
need "$SLAPD_BIN" "slapd not installed (Debian: slapd)"
need "$SLAPADD_BIN" "slapadd not installed (Debian: slapd)"

HELPURL=https://kp.dk/sikkermail
SECURE_SUBJECT="Sikker post fra KP / Secure mail from KP"
W=$TEST_TMP/work
mkdir -p "$W"

T0=$SECONDS
must "mkcerts.sh makes the test PKI" make_pki

if ! mailbox_cert sikker sikker@kp.dk || ! mailbox_cert hr hr@kp.dk; then
	fail "function mailbox certificates made"
	diag_file "$MB/openssl.log"
	done_testing
fi
is "$(stat -c %a "$MB/sikker.key")" 600 "the mailbox key is mode 0600"
# The same key, readable by everybody: the daemon must refuse it.
cp "$MB/sikker.key" "$MB/open.key"
chmod 0644 "$MB/open.key"

if ! slapd_setup "$CERTS" || ! slapd_start; then
	fail "private slapd starts"
	done_testing
fi

# Postfix, with a listener for each milter but main (whose is smtpd's own).
for name in gcm noreinject loop nokey mem slow; do
	pf_listener "$name" "$M/$name.sock"
done
# The re-injection listener (no milters, relays to the sink), and room for
# the 20 MB message and its encrypted copy.
pf_listener_nomilter reinject
pf_main_cf message_size_limit=104857600
must "private Postfix starts" pf_start "$M/main.sock"
REINJECT_PORT=${PF_PORTS[reinject]}
pick_port CLOSED_PORT

CONF_DEFAULTS=("HelpURL $HELPURL" "LDAPURI $SLAPD_URI" "LDAPBase c=DK" "NoticeDelay 0"
	"TrustedCAFile $CERTS/trust.pem" "SecureMailbox sikker@kp.dk $MB/sikker.key $MB/sikker.pem"
	"SecureMailbox hr@kp.dk $MB/hr.key $MB/hr.pem" "DefaultSecureMailbox sikker@kp.dk"
	"SecureSubject $SECURE_SUBJECT" "Reinject smtp:127.0.0.1:$REINJECT_PORT")
conf main
conf mem
conf gcm "Cipher aes-256-gcm"
conf noreinject "Reinject smtp:127.0.0.1:$CLOSED_PORT"
# fake_sendmail NAME PORT [BEFORE] - $M/NAME-sendmail, a stand-in for
# sendmail -i -f SENDER -- RCPT... (a non-root program cannot hand a
# private instance mail through postdrop): it runs the shell code BEFORE,
# then submits its standard input over SMTP to 127.0.0.1:PORT, keeping a
# copy in $M/NAME-submitted.eml.
fake_sendmail() {
	local name=$1 port=$2 before=${3:-:}
	cat >"$M/$name-sendmail" <<EOF
#!/bin/sh
from=
while getopts if: o; do
	case \$o in f) from=\$OPTARG ;; i) ;; *) exit 64 ;; esac
done
shift \$((OPTIND - 1))
[ "\$1" = -- ] && shift
to=\$(IFS=,; echo "\$*")
$before
tee -a "$M/$name-submitted.eml" | swaks --server 127.0.0.1 --port $port \\
	--helo localhost --from "\$from" --to "\$to" --data - >>"$M/$name-sendmail.log" 2>&1
EOF
	chmod 755 "$M/$name-sendmail"
}

# The loop milter uses Reinject sendmail and submits to its own,
# milter-enabled listener, as pickup passes locally submitted mail through
# non_smtpd_milters; what it submitted (markers included) serves the
# replay cases.
fake_sendmail loop "${PF_PORTS[loop]}"
conf loop "Reinject sendmail" "SendmailPath $M/loop-sendmail"
# The slow milter takes 3 s to hand its copy on (to the re-injection
# listener), so that SIGTERM can arrive while a decision is under way.
fake_sendmail slow "$REINJECT_PORT" ": >'$M/slow-started'; sleep 3"
conf slow "Reinject sendmail" "SendmailPath $M/slow-sendmail"
conf nokey "Socket local:$M/nokey.sock" "DefaultSecureMailbox open@kp.dk" \
	"SecureMailbox open@kp.dk $MB/open.key $MB/sikker.pem"

printf '# tunnelmail\nkommune-tunnel.dk,Eksempel Kommune\n' >"$M/tunnel.txt"
give_to_test_user "$M"
ctl_import "$M/main.conf" tunnel "$M/tunnel.txt"

# The daemons' temporary files (bodies past the memory limit) go here.
mkdir -p "$W/tmp"
give_to_test_user "$W/tmp"
# The mem milter measures the daemon's memory. In a sanitizer build,
# AddressSanitizer's quarantine keeps every freed block resident for a
# while, so that its peak would measure the allocator, not the daemon:
# this one instance runs without the quarantine.
MILTERS="main mem gcm noreinject loop"
for name in $MILTERS; do
	asan=${ASAN_OPTIONS:-}
	[ $name = mem ] && asan="${asan:+$asan:}quarantine_size_mb=0:thread_local_quarantine_size_kb=0"
	ASAN_OPTIONS=$asan TMPDIR=$W/tmp milters_start "$name"
done
TMPDIR=$W/tmp milters_start slow
pass "slapd, Postfix (smtpd $PF_PORT, re-injection $REINJECT_PORT), smtp-sink and 6 milters running"
diag "set-up took $((SECONDS - T0)) s"

# ------------------------------------------------------------ helpers

CANARY_BODY="KANARIE-KROP-$RANDOM$RANDOM"
CANARY_SUBJECT="KANARIE-EMNE-$RANDOM$RANDOM"

# msg TAG RCPT [HEADER...] - a personal message from alice@kp.dk (unless
# the headers say otherwise) with the canaries in its Subject and body (in
# place of e2e.sh's msg).
msg() {
	local tag=$1 rcpt=$2
	shift 2
	pf_message "$TEST_TMP/$tag.eml" "$tag" "From: Alice <alice@kp.dk>" "To: <$rcpt>" \
		"Subject: CPR-sag $CANARY_SUBJECT $tag" "X-KP-Personal: yes" "$@"
	printf 'Personal data: %s\r\n' "$CANARY_BODY" >>"$TEST_TMP/$tag.eml"
}

# sent_mid MESSAGE-ID - Postfix has handed the message with this id to the
# sink (so the sink's file is complete).
sent_mid() {
	local q
	q=$(grep -a -F "message-id=$1" "$PF_LOG" | sed -n 's/.*\]: \([0-9A-F]*\): message-id=.*/\1/p' | tail -n 1)
	[ -n "$q" ] && grep -a -q "$q: to=.*status=sent" "$PF_LOG"
}
# body_of FILE - the body, LF line ends, without trailing empty lines (the
# sink adds some).
body_of() { tr -d '\r' <"$1" | sed '1,/^$/d' | no_trailing_blanks; }
no_trailing_blanks() {
	awk '$0 == "" { n++; next } { while (n > 0) { print ""; n-- } print }'
}
has_notice() { [ -n "$(notice_for "$1")" ] && sent_mid "$(grep -a -i '^Message-ID:' "$(notice_for "$1")" | head -n 1 | grep -o '<[^>]*>')"; }

# rcpts_new - one line per recipient of every transaction since sink_mark.
rcpts_new() {
	local f
	for f in $(sink_new); do
		tr -d '\r' <"$f" | sed -n 's/^X-Rcpt-Args: <\([^>]*\)>.*/\1/p'
	done
}
rcpts_at_least() { [ "$(rcpts_new | wc -l)" -ge "$1" ]; }

# encrypted_copy NAME RCPT [MAILBOX] - the message just sent was accepted,
# decided "encrypt", and its copy reached the sink. Sets QID, COPY.
encrypted_copy() {
	local name=$1 rcpt=$2 mb=${3:-sikker@kp.dk} id
	COPY=
	accepted "$name" || return 1
	copy_queued "$name" || return 1
	id=$COPY_ID
	if ! ok "$name: the copy reached the sink" wait_for 30 sent_mid "$id"; then
		diag_file "$PF_LOG" 10
		return 1
	fi
	COPY=$(sink_by_id "$id")
	like "$(headers_of "$COPY")" $'(^|\n)X-Mail-Args: <'"${mb//./\\.}"'>' \
		"$name: the copy's envelope sender is <$mb>"
	[ -n "$COPY" ]
}

# decrypt IN CERT KEY OUT, verify IN OUT - openssl cms, errors to OUT.err.
decrypt() {
	openssl cms -decrypt -in "$1" -recip "$2" -inkey "$3" -out "$4" 2>"$4.err"
}
verify() {
	openssl cms -verify -in "$1" -CAfile "$CERTS/trust.pem" -out "$2" \
		-signer "$2.signer" 2>"$2.err"
}
# inner MIME-ENTITY - the message inside "Content-Type: message/rfc822".
inner() { tr -d '\r' <"$1" | sed '1,/^$/d'; }

LOG=$M/main.log

# ------------------------------------------------------------ to a certificate

msg single valid@example.dk
send single valid@example.dk
if encrypted_copy "to valid@" valid@example.dk; then
	decision "$QID" "to valid@" "class1=encrypted" "applied=encrypt"
	hdrs=$(headers_of "$COPY")
	like "$hdrs" $'(^|\n)X-Mail-Args: <sikker@kp\\.dk>' "to valid@: envelope sender is the mailbox"
	like "$hdrs" $'(^|\n)X-Rcpt-Args: <valid@example\\.dk>' "to valid@: envelope recipient valid@"
	is "$(printf '%s\n' "$hdrs" | grep -c -i '^X-Rcpt-Args:')" 1 "to valid@: the copy has one recipient"
	like "$hdrs" $'(^|\n)From: (<)?sikker@kp\\.dk(>)?(\n|$)' "to valid@: From: is the mailbox"
	like "$hdrs" $'(^|\n)Reply-To: (<)?sikker@kp\\.dk(>)?(\n|$)' "to valid@: Reply-To: is the mailbox"
	like "$hdrs" $'(^|\n)Subject: '"$SECURE_SUBJECT"$'(\n|$)' "to valid@: Subject: is SecureSubject"
	like "$hdrs" $'(^|\n)Content-Type: application/pkcs7-mime; smime-type=enveloped-data' \
		"to valid@: application/pkcs7-mime; smime-type=enveloped-data"
	is "$(printf '%s\n' "$hdrs" | grep -c -i '^Content-Type:')" 1 "to valid@: one Content-Type"
	is "$(printf '%s\n' "$hdrs" | grep -c -i '^MIME-Version:')" 1 "to valid@: one MIME-Version"
	unlike "$hdrs" 'alice@kp\.dk' "to valid@: the original sender is not in the outer headers"
	fails "to valid@: the body canary is nowhere in the raw bytes" grep -a -q -F "$CANARY_BODY" "$COPY"
	fails "to valid@: the Subject canary is nowhere in the raw bytes" grep -a -q -F "$CANARY_SUBJECT" "$COPY"

	ok "to valid@: openssl cms -decrypt with the recipient's key" \
		decrypt "$COPY" "$CERTS/valid.pem" "$CERTS/valid.key" "$W/single.rcpt" ||
		diag_file "$W/single.rcpt.err"
	ok "to valid@: openssl cms -decrypt with the mailbox's key" \
		decrypt "$COPY" "$MB/sikker.pem" "$MB/sikker.key" "$W/single.mb" ||
		diag_file "$W/single.mb.err"
	fails "to valid@: someone else's key does not decrypt it" \
		decrypt "$COPY" "$CERTS/ec.pem" "$CERTS/ec.key" "$W/single.other"
	like "$(head -c 2000 "$W/single.rcpt")" 'multipart/signed' "to valid@: inside is multipart/signed"
	if ok "to valid@: the signature verifies against the test CA" verify "$W/single.rcpt" "$W/single.inner"; then
		like "$(openssl x509 -in "$W/single.inner.signer" -noout -ext subjectAltName 2>/dev/null)" \
			'email:sikker@kp\.dk' "to valid@: signed by the mailbox's certificate"
		like "$(tr -d '\r' <"$W/single.inner" | head -n 1)" '^Content-Type: message/rfc822' \
			"to valid@: the signed content is message/rfc822"
		in=$(inner "$W/single.inner")
		like "$in" $'(^|\n)Subject: CPR-sag '"$CANARY_SUBJECT single"$'\n' "to valid@: inside, the original Subject"
		like "$in" $'(^|\n)From: Alice <alice@kp\\.dk>\n' "to valid@: inside, the original From"
		like "$in" "Personal data: $CANARY_BODY" "to valid@: inside, the original body"
		like "$in" $'(^|\n)X-Test-Id: single\n' "to valid@: inside, the original's other headers"
	else
		diag_file "$W/single.inner.err"
	fi
	if ok "to valid@: the mailbox got its notice" wait_for 10 has_notice "$QID"; then
		NOTICE=$(notice_for "$QID")
		nh=$(headers_of "$NOTICE")
		like "$nh" $'(^|\n)X-Rcpt-Args: <sikker@kp\\.dk>' "notice: to the mailbox"
		like "$nh" $'(^|\n)X-Mail-Args: <sikker@kp\\.dk>' "notice: from the mailbox"
		like "$(body_of "$NOTICE")" "valid@example\.dk" "notice: names the recipient"
		like "$(body_of "$NOTICE")" "alice@kp\.dk" "notice: names the sender"
	fi
	ok "to valid@: the body canary reached nobody in clear" \
		test -z "$(grep -l -a -F "$CANARY_BODY" "$SINK_DIR"/* 2>/dev/null)"
	ok "to valid@: the original itself was not delivered" test -z "$(sink_file single)"
fi

# ------------------------------------------------------------ mixed

sink_mark
msg mixed valid@example.dk
send mixed bob@kp.dk,valid@example.dk,sag@kommune-tunnel.dk
if encrypted_copy "mixed" valid@example.dk; then
	decision "$QID" "mixed" "rcpts=3" "class1=internal" "class2=encrypted" "class3=tunnel" \
		"applied=encrypt"
	wait_for 10 has_notice "$QID"
	wait_for 20 rcpts_at_least 4
	sleep 1
	got=$(rcpts_new | sort | tr '\n' ' ')
	is "$got" "bob@kp.dk sag@kommune-tunnel.dk sikker@kp.dk valid@example.dk " \
		"mixed: each recipient got exactly one message, plus the mailbox notice, nothing else"
	orig=$(sink_file mixed)
	if ok "mixed: the original was delivered" test -n "$orig"; then
		oh=$(headers_of "$orig")
		unlike "$oh" 'X-Rcpt-Args: <valid@' "mixed: ... not to the certificate recipient"
		like "$(body_of "$orig")" "$CANARY_BODY" "mixed: the original is cleartext for bob@ and sag@"
		like "$oh" $'(^|\n)Subject: CPR-sag '"$CANARY_SUBJECT" "mixed: ... with its Subject"
		unlike "$oh" 'pkcs7' "mixed: ... not encrypted"
	fi
	is "$(sink_new | xargs -r grep -l -a -F "$CANARY_BODY" | wc -l)" 1 \
		"mixed: cleartext in exactly one transaction"
	ok "mixed: the copy for valid@ decrypts" \
		decrypt "$COPY" "$CERTS/valid.pem" "$CERTS/valid.key" "$W/mixed.rcpt"
fi

# ------------------------------------------------------------ MailboxHeader

msg hr valid@example.dk "X-KP-Secure-Mailbox: hr@kp.dk"
send hr bob@kp.dk,valid@example.dk
if encrypted_copy "X-KP-Secure-Mailbox: hr@kp.dk" valid@example.dk hr@kp.dk; then
	if ok "hr@: the original reached bob@" sink_wait hr; then
		unlike "$(headers_of "$(sink_file hr)")" $'(^|\n)X-KP-Secure-Mailbox:' \
			"hr@: the mailbox header is removed from the original"
	fi
	hdrs=$(headers_of "$COPY")
	like "$hdrs" $'(^|\n)X-Mail-Args: <hr@kp\\.dk>' "hr@: envelope sender hr@kp.dk"
	like "$hdrs" $'(^|\n)From: (<)?hr@kp\\.dk(>)?(\n|$)' "hr@: From: hr@kp.dk"
	ok "hr@: hr's key decrypts" decrypt "$COPY" "$MB/hr.pem" "$MB/hr.key" "$W/hr.mb"
	fails "hr@: sikker's key does not" decrypt "$COPY" "$MB/sikker.pem" "$MB/sikker.key" "$W/hr.no"
	if verify "$W/hr.mb" "$W/hr.inner"; then
		like "$(openssl x509 -in "$W/hr.inner.signer" -noout -ext subjectAltName 2>/dev/null)" \
			'email:hr@kp\.dk' "hr@: signed by hr's certificate"
		unlike "$(inner "$W/hr.inner")" '(^|'$'\n'')X-KP-Secure-Mailbox:' \
			"hr@: the mailbox header is not passed on inside"
	else
		fail "hr@: the signature verifies"
		diag_file "$W/hr.inner.err"
	fi
	ok "hr@: the notice went to hr@" wait_for 10 has_notice "$QID"
	like "$(headers_of "$(notice_for "$QID")")" 'X-Rcpt-Args: <hr@kp\.dk>' "hr@: notice to hr@kp.dk"
fi

sink_mark
msg nomb valid@example.dk "X-KP-Secure-Mailbox: ukendt@kp.dk"
send nomb bob@kp.dk,valid@example.dk
is "$SEND_QID" "" "unknown mailbox: not queued"
like "$SEND_REPLY" '^550[ -]5\.[0-9]+\.[0-9]+ .*ukendt@kp\.dk.*not configured' \
	"unknown mailbox: 550 saying the mailbox <ukendt@kp.dk> is not configured"
sleep 1
is "$(sink_new | wc -l)" 0 "unknown mailbox: nothing delivered, not even to bob@"

# ------------------------------------------------------------ failures

# A key other users can read: the daemon refuses to start.
timeout 20 "$MILTER" -f -c "$M/nokey.conf" >"$M/nokey.log" 2>&1 </dev/null
rc=$?
ok "key file mode 0644: the daemon refuses to start (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
like "$(cat "$M/nokey.log")" "open\.key.*(0644|chmod 600)" "key file mode 0644: the error names the file and its mode"
ok "key file mode 0644: no socket" test ! -e "$M/nokey.sock"
SEND_PORT=${PF_PORTS[nokey]}
sink_mark
msg nokey valid@example.dk
send nokey bob@kp.dk,valid@example.dk
unset SEND_PORT
is "$SEND_QID" "" "milter not running: not queued"
like "$SEND_OUT" $'<\\*\\* 4[0-9][0-9][ -]' "milter not running: 4xx (milter_default_action = tempfail)"
sleep 1
is "$(sink_new | wc -l)" 0 "milter not running: nothing delivered"

# The re-injection listener is down.
LOG=$M/noreinject.log
SEND_PORT=${PF_PORTS[noreinject]}
sink_mark
msg noreinj valid@example.dk
send noreinj bob@kp.dk,valid@example.dk
unset SEND_PORT
is "$SEND_QID" "" "re-injection down: not queued"
like "$SEND_REPLY" "(^|"$'\n'")451[ -]4\\.3\\.0 The encrypted copy could not be made; try again later" \
	"re-injection down: 451 4.x.x, the encrypted copy could not be made"
unlike "$SEND_REPLY" '(refused|onnection|127\.0\.0\.1|:[0-9]{4,5})' \
	"re-injection down: nothing of the hand-off's own error reaches the client"
sleep 1
is "$(sink_new | wc -l)" 0 "re-injection down: nothing delivered, not even to bob@"
[[ $SEND_OUT =~ Ref\ ([0-9A-Za-z]+) ]] || true
wait_for 5 grep -q -a ' decision .*applied=tempfail' "$LOG"
like "$(grep -a ' decision ' "$LOG" | tail -n 1)" ' applied=tempfail ' "re-injection down: decision line applied=tempfail"
LOG=$M/main.log

# A cached "certificate" that is one zero byte: judged again before it is
# used, it is no certificate, and the directory has none for garbage@, so
# the personal message is refused (PersonalToTLS) - never encrypted to
# garbage, never delivered in clear, not even to bob@.
far=4102444800
sql "$DB" "INSERT OR REPLACE INTO cert_cache (address, found, der, subject, issuer, fingerprint,
	source, not_before, not_after, fetched_at, fresh_until) VALUES ('garbage@example.dk', 1,
	X'00', 'CN=garbage', 'CN=garbage', '00', 'test', 0, $far, strftime('%s', 'now'), $far)" >/dev/null
sink_mark
msg garbage garbage@example.dk
send garbage bob@kp.dk,garbage@example.dk
is "$SEND_QID" "" "bad cached certificate: not queued"
like "$SEND_REPLY" '^550[ -]5\.7\.[0-9]+ ' "bad cached certificate: refused 550 5.7.x"
sleep 1
is "$(sink_new | wc -l)" 0 "bad cached certificate: nothing delivered, not even to bob@"
like "$(joined_decision "$LOG" "$(grep -a ' decision ' "$LOG" | tail -n 1)")" \
	' rcpt2=garbage@example\.dk class2=tls ' \
	"bad cached certificate: garbage@ judged tls (no valid certificate)"

# ------------------------------------------------------------ GCM

LOG=$M/gcm.log
SEND_PORT=${PF_PORTS[gcm]}
msg gcm valid@example.dk
send gcm valid@example.dk
unset SEND_PORT
if encrypted_copy "Cipher aes-256-gcm" valid@example.dk; then
	like "$(headers_of "$COPY")" 'smime-type=authEnveloped-data' "gcm: smime-type=authEnveloped-data"
	if ok "gcm: openssl cms -decrypt reads the AuthEnvelopedData" \
		decrypt "$COPY" "$CERTS/valid.pem" "$CERTS/valid.key" "$W/gcm.rcpt"; then
		like "$(openssl cms -cmsout -print -in "$COPY" 2>/dev/null | grep -i -m1 'gcm')" \
			'(aes-256-gcm|id-aes256-GCM)' "gcm: the content cipher is AES-256-GCM"
		ok "gcm: the signature verifies" verify "$W/gcm.rcpt" "$W/gcm.inner"
		like "$(inner "$W/gcm.inner")" "$CANARY_BODY" "gcm: the original body inside"
	else
		diag_file "$W/gcm.rcpt.err"
	fi
	ok "gcm: the mailbox's key decrypts too" decrypt "$COPY" "$MB/sikker.pem" "$MB/sikker.key" "$W/gcm.mb"
fi
# ... and the default is CBC.
if [ -f "$W/single.rcpt" ]; then
	single=$(sink_by_id "$(grep -a -o 'encrypted copy <[^>]*>' "$M/main.log" | head -n 1 | grep -o '<[^>]*>')")
	like "$(openssl cms -cmsout -print -in "$single" 2>/dev/null | grep -i -m1 'algorithm: aes')" \
		'aes-256-cbc' "default Cipher: AES-256-CBC"
fi
LOG=$M/main.log

# ------------------------------------------------------------ already encrypted

# Bodies that are what their labels say (the filter looks): CMS
# EnvelopedData made by openssl for valid@, and a PGP/MIME message whose
# armoured data is a public-key session key packet (tag 1) followed by
# encrypted data (tag 18), nothing else.
for kind in smime pgp; do
	if [ $kind = smime ]; then
		ct=("Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m"
			"Content-Transfer-Encoding: base64" "MIME-Version: 1.0")
		b64=$(head -c 600 /dev/urandom | openssl cms -encrypt -aes-256-cbc -outform DER \
			"$CERTS/valid.pem" | base64 -w 76)
	else
		ct=('Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary=XX'
			"MIME-Version: 1.0")
		b64=$(printf '%s\n' "--XX" "Content-Type: application/pgp-encrypted" "" "Version: 1" "" \
			"--XX" "Content-Type: application/octet-stream" "" "-----BEGIN PGP MESSAGE-----" "" \
			"$( (printf '\204\003\001\002\003\322\377\000\000\001\220'; head -c 400 /dev/urandom) |
				base64 -w 76)" \
			"-----END PGP MESSAGE-----" "--XX--")
	fi
	pf_message "$TEST_TMP/pre$kind.eml" pre$kind "From: Alice <alice@kp.dk>" "To: <valid@example.dk>" \
		"Subject: already $kind" "X-KP-Personal: yes" "${ct[@]}"
	# replace pf_message's one-line body by an encrypted-looking one
	sed -i '/^Test message/d' "$TEST_TMP/pre$kind.eml"
	printf '%s\n' "$b64" | sed 's/$/\r/' >>"$TEST_TMP/pre$kind.eml"
	pf_send pre$kind --from alice@kp.dk --to valid@example.dk --data "@$TEST_TMP/pre$kind.eml"
	QID=$SEND_QID
	like "$QID" '^[0-9A-Za-z]+$' "already encrypted ($kind): accepted"
	if ok "already encrypted ($kind): delivered as it is" sink_wait pre$kind; then
		f=$(sink_file pre$kind)
		like "$(headers_of "$f")" 'X-Rcpt-Args: <valid@example\.dk>' "already encrypted ($kind): to valid@"
		is "$(body_of "$f" | sha256sum)" "$(printf '%s\n' "$b64" | sha256sum)" \
			"already encrypted ($kind): body unchanged"
		like "$(headers_of "$f")" $'\nSubject: already '"$kind" "already encrypted ($kind): Subject unchanged"
	fi
	ok "already encrypted ($kind): no copy made" test -z "$(copy_id "$QID")"
	decision "$QID" "already encrypted ($kind)" "applied=deliver" "class1=encrypted" "rule1=already-encrypted"
done

# ------------------------------------------------------------ memory

LOG=$M/mem.log
SEND_PORT=${PF_PORTS[mem]}
hwm() { awk '$1 == "VmHWM:" { print $2 }' "/proc/${MPID[mem]}/status"; }

# bigmsg TAG KILOBYTES - a personal message to valid@ with a base64 body.
bigmsg() {
	pf_message "$TEST_TMP/$1.eml" "$1" "From: Alice <alice@kp.dk>" "To: <valid@example.dk>" \
		"Subject: big $1" "X-KP-Personal: yes"
	head -c $(($2 * 768)) /dev/urandom | base64 -w 76 | sed 's/$/\r/' >>"$TEST_TMP/$1.eml"
}
hwm0=$(hwm)
bigmsg small 100
send small valid@example.dk
encrypted_copy "100 KB" valid@example.dk
hwm1=$(hwm)
bigmsg big 20480
# While it runs, note the files in TMPDIR the daemon holds open.
(
	while :; do
		for l in /proc/"${MPID[mem]}"/fd/*; do
			t=$(readlink "$l") || continue
			# the file may be closed between readlink and stat: skip it then
			[[ $t == "$W/tmp/"* ]] && mode=$(stat -L -c %a "$l" 2>/dev/null) &&
				echo "$mode $t"
		done
		sleep 0.05
	done
) >"$W/spill.log" 2>/dev/null &
spy=$!
track_pid "$spy"
tb=$SECONDS
send big valid@example.dk
stop_pid "$spy" 2
spilled=$(sort -u "$W/spill.log")
like "$spilled" "^600 $W/tmp/" "20 MB: the body went to a temporary file in TMPDIR, mode 0600"
is "$(printf '%s\n' "$spilled" | awk 'NF && ($1 != "600" || $NF != "(deleted)")')" "" \
	"20 MB: every such file is mode 0600 and already unlinked while in use"
if encrypted_copy "20 MB" valid@example.dk; then
	hwm2=$(hwm)
	diag "20 MB: encrypted and delivered in $((SECONDS - tb)) s; VmHWM before ${hwm0} kB," \
		"after 100 KB ${hwm1} kB, after 20 MB ${hwm2} kB" \
		"(ratio $(awk -v a="$hwm2" -v b="$hwm1" 'BEGIN { printf "%.2f", a / b }'))"
	ok "20 MB: the milter's peak memory grew by less than 10 MB ($((hwm2 - hwm1)) kB)" \
		test $((hwm2 - hwm1)) -lt 10240
	if decrypt "$COPY" "$CERTS/valid.pem" "$CERTS/valid.key" "$W/big.rcpt" &&
		verify "$W/big.rcpt" "$W/big.inner"; then
		is "$(inner "$W/big.inner" | sed '1,/^$/d' | no_trailing_blanks | sha256sum)" \
			"$(body_of "$TEST_TMP/big.eml" | sha256sum)" "20 MB: decrypts, verifies, the body is intact"
	else
		fail "20 MB: decrypts and verifies"
		diag_file "$W/big.rcpt.err"
		diag_file "$W/big.inner.err"
	fi
	rm -f "$W"/big.*
fi
is "$(ls -A "$W/tmp")" "" "20 MB: no temporary file left behind in TMPDIR"
unset SEND_PORT
LOG=$M/main.log

# ------------------------------------------------------------ loops and markers

# The loop milter re-injects into its own, milter-enabled listener.
LOG=$M/loop.log
SEND_PORT=${PF_PORTS[loop]}
sink_mark
msg loop valid@example.dk
send loop valid@example.dk
unset SEND_PORT
if encrypted_copy "re-injected through the filter" valid@example.dk; then
	wait_for 10 has_notice "$QID"
	sleep 1
	is "$(rcpts_new | sort | tr '\n' ' ')" "sikker@kp.dk valid@example.dk " \
		"re-injected through the filter: exactly one copy and one notice"
	is "$(grep -a -c ' decision ' "$LOG")" 1 "re-injected through the filter: one decision line"
	is "$(grep -a -c 're-injected copy .* passed' "$LOG")" 2 \
		"re-injected through the filter: the copy and the notice recognised by their marker"
	unlike "$(headers_of "$COPY")" $'(^|\n)X-Sikkermail-Reinjected:' \
		"re-injected through the filter: the marker is removed on the way out"
fi
LOG=$M/main.log

# A made-up marker does not make a message our own.
sink_mark
msg forged info@almindelig-firma.dk "X-Sikkermail-Reinjected: $(date +%s).$(printf '%064d' 0)"
send forged info@almindelig-firma.dk
like "$SEND_REPLY" '^550[ -]5\.7\.1 ' "forged marker: still filtered (550 5.7.1 to a tls recipient)"
sleep 0.5
is "$(sink_new | wc -l)" 0 "forged marker: nothing delivered"

# Nor does a genuine marker, taken from what the loop milter submitted:
# it is bound to its Message-ID, envelope sender and recipients, and it
# admits one message, once.
mark=$(grep -a -i '^X-Sikkermail-Reinjected:' "$M/loop-submitted.eml" 2>/dev/null | tail -n 1 |
	tr -d '\r' | sed 's/^[^:]*: *//')
mid=$(grep -a -i '^Message-ID:' "$M/loop-submitted.eml" 2>/dev/null | tail -n 1 | tr -d '\r' |
	sed 's/^[^:]*: *//')
if like "$mark" '^[0-9]+\.[0-9a-f]{64}$' "replayed marker: a genuine marker was submitted"; then
	SEND_PORT=${PF_PORTS[loop]}
	sink_mark
	printf '%s\r\n' "From: Alice <alice@kp.dk>" "To: <info@almindelig-firma.dk>" \
		"Subject: replay $CANARY_SUBJECT" "X-KP-Personal: yes" "Message-ID: $mid" \
		"X-Sikkermail-Reinjected: $mark" "X-Test-Id: replay" "" "Personal data: $CANARY_BODY" \
		>"$TEST_TMP/replay.eml"
	send replay info@almindelig-firma.dk
	like "$SEND_REPLY" '^550[ -]5\.7\.1 ' "replayed marker (other envelope): still filtered (550 5.7.1)"
	sleep 0.5
	is "$(sink_new | wc -l)" 0 "replayed marker (other envelope): nothing delivered"

	# The very envelope the marker was made for: used up already.
	printf '%s\r\n' "From: <sikker@kp.dk>" "To: <sikker@kp.dk>" "Subject: replay same" \
		"X-KP-Personal: yes" "Message-ID: $mid" "X-Sikkermail-Reinjected: $mark" \
		"X-Test-Id: replay3" "" "again" >"$TEST_TMP/replay3.eml"
	pf_send replay3 --from sikker@kp.dk --to sikker@kp.dk --data "@$TEST_TMP/replay3.eml"
	if ok "replayed marker (same envelope): delivered" sink_wait replay3; then
		h=$(headers_of "$(sink_file replay3)")
		like "$h" "X-Sikkermail: personal=yes \(header\); (cpr=[0-9]+; )?action=deliver; ref=$SEND_QID" \
			"replayed marker (same envelope): filtered and tagged, not passed as our own"
		unlike "$h" $'(^|\n)X-Sikkermail-Reinjected:' \
			"replayed marker (same envelope): the marker header is removed"
	fi
	unset SEND_PORT

	printf '%s\r\n' "From: Mallory <m@example.net>" "To: <bob@kp.dk>" "Subject: replay outside" \
		"X-KP-Personal: yes" "X-Sikkermail: personal=no; action=deliver; ref=FORGED" \
		"Message-ID: $mid" "X-Sikkermail-Reinjected: $mark" "X-Test-Id: replay2" "" "hi" \
		>"$TEST_TMP/replay2.eml"
	pf_send replay2 --from m@example.net --to bob@kp.dk --local-interface 127.0.0.2 \
		--data "@$TEST_TMP/replay2.eml"
	if ok "replayed marker (outside client): delivered" sink_wait replay2; then
		h=$(headers_of "$(sink_file replay2)")
		unlike "$h" 'ref=FORGED' "replayed marker (outside client): the forged X-Sikkermail tag is removed"
		unlike "$h" $'(^|\n)X-KP-Personal:' "replayed marker (outside client): X-KP-Personal is removed"
		unlike "$h" $'(^|\n)X-Sikkermail-Reinjected:' "replayed marker (outside client): the marker is removed"
		like "$h" "X-Sikkermail: personal=no; action=deliver; ref=$SEND_QID" \
			"replayed marker (outside client): filtered and tagged as usual"
	fi
fi

# With Reinject smtp (a listener without milters) no marker leaves at all.
if [ -n "${NOTICE:-}" ]; then
	unlike "$(headers_of "$NOTICE")" $'(^|\n)X-Sikkermail-Reinjected:' \
		"Reinject smtp: the notice carries no marker"
else
	fail "Reinject smtp: no notice captured"
fi

diag "cases took $((SECONDS - T0)) s in all"

# ------------------------------------------------------------ SIGTERM during a decision

# SIGTERM while the slow milter is handing an encrypted copy to the MTA:
# the decision is finished (copy queued, the sender gets its 250) before
# the daemon exits, and it exits 0.
LOG=$M/slow.log
msg sigterm valid@example.dk
(SEND_PORT=${PF_PORTS[slow]} send sigterm valid@example.dk) &
bg=$!
if ok "SIGTERM: the slow re-injection has begun" wait_for 30 test -e "$M/slow-started"; then
	kill -TERM "${MPID[slow]}"
fi
wait "$bg"
out=$(cat "$TEST_TMP/swaks.sigterm.out" 2>/dev/null)
SEND_QID=
[[ $out =~ queued\ as\ ([0-9A-Za-z]+) ]] && SEND_QID=${BASH_REMATCH[1]}
encrypted_copy "SIGTERM during the decision" valid@example.dk
stop_pid "${MPID[slow]}" 20
is "${STOP_STATUS:-}" 0 "SIGTERM during the decision: the daemon exits 0 afterwards"
like "$(cat "$M/slow.log")" 'stop version=' "SIGTERM during the decision: the daemon logged its stop"
unlike "$(cat "$M/slow.log")" 'still under way' "SIGTERM during the decision: nothing left under way"
LOG=$M/main.log

# ------------------------------------------------------------ shutdown

e2e_stop $MILTERS

done_testing

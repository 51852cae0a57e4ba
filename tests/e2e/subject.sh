#!/bin/bash
# e2e/subject.sh - PersonalSubjectTag end to end: swaks -> a private
# Postfix -> sikkermail-milter -> smtp-sink, certificates from a private
# slapd, encrypted copies re-injected over SMTP into a listener without
# milters.
#
# A trusted submitter's message with a tag in its Subject, and no
# X-KP-Personal header, is handled as personal (personal_source=subject
# in the decision line, the tag header, the database and the report) and
# arrives with the tag gone from its Subject: to an internal and to a
# tunnel recipient (the delivered Subject), to a certificate recipient
# (the Subject inside the decrypted copy, and in the mailbox's notice).
# A message to gmail whose Subject is only the tag is refused. From a
# client that is not trusted the tag changes nothing. Two Subject fields
# (one only the tag, one with it, in another case) are each dealt with
# in the MTA's own counting; a message submitted with sendmail(1)
# (pickup, non_smtpd_milters) is handled like one sent over SMTP. A
# message held for review (PersonalToFreemail hold) waits in Postfix's
# hold queue with the tag already gone, as it will go on when released.

. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/postfix.sh"
. "$(dirname "$0")/../lib/e2e.sh"
. "$(dirname "$0")/../lib/slapd.sh"

e2e_need openssl ldapsearch perl sendmail postcat
need "$CTL" "sikkermail-ctl not built ($CTL)"
need "$SLAPD_BIN" "slapd not installed (Debian: slapd)"
need "$SLAPADD_BIN" "slapadd not installed (Debian: slapd)"

W=$TEST_TMP/work
mkdir -p "$W"
directory_start

pf_listener_nomilter reinject
pf_listener untrusted "$M/untrusted.sock"
pf_listener hold "$M/hold.sock"
must "private Postfix starts" pf_start "$M/main.sock"

CONF_DEFAULTS=("LDAPURI $SLAPD_URI" "LDAPBase c=DK" "NoticeDelay 0"
	"TrustedCAFile $CERTS/trust.pem" "SecureMailbox sikker@kp.dk $MB/sikker.key $MB/sikker.pem"
	"DefaultSecureMailbox sikker@kp.dk" "Reinject smtp:127.0.0.1:${PF_PORTS[reinject]}"
	"PersonalSubjectTag [sikker]" "PersonalSubjectTag [personfølsom]")
conf main
conf untrusted "InternalNetworks 192.0.2.0/24"
conf hold "PersonalToFreemail hold"
printf '# tunnelmail\nkommune-tunnel.dk,Eksempel Kommune\n' >"$M/tunnel.txt"
give_to_test_user "$M"
ctl_import "$M/main.conf" tunnel "$M/tunnel.txt"
milters_start main untrusted hold
pass "slapd, Postfix, smtp-sink and 3 milters running"

LOG=$M/main.log
CANARY="KANARIE-$RANDOM$RANDOM"

# subject_msg TAG RCPT SUBJECT - from alice@kp.dk, no X-KP-Personal, the
# canary in the body.
subject_msg() {
	pf_message "$TEST_TMP/$1.eml" "$1" "From: Alice <alice@kp.dk>" "To: <$2>" "Subject: $3"
	printf 'Personal data: %s\r\n' "$CANARY" >>"$TEST_TMP/$1.eml"
}

# subject_of FILE - the message's Subject fields, unfolded and decoded
# (RFC 2047), one a line.
subject_of() {
	headers_of "$1" | perl -MEncode -ne '
		chomp;
		if (/^[ \t]/) { $s[-1] .= $_ if $in; next }
		$in = s/^Subject:[ \t]*//i;
		push @s, $_ if $in;
		END { binmode STDOUT, ":utf8"; print decode("MIME-Header", $_), "\n" for @s }'
}

# delivered TAG RCPT SUBJECT WANT - sent through the main milter and
# delivered, with the Subject WANT. Sets FILE.
delivered() {
	local tag=$1 rcpt=$2 want=$4
	FILE=
	subject_msg "$tag" "$rcpt" "$3"
	send "$tag" "$rcpt"
	accepted "$tag" || return 1
	if ! ok "$tag: delivered" sink_wait "$tag"; then
		diag_file "$PF_LOG" 10
		return 1
	fi
	FILE=$(sink_file "$tag")
	is "$(subject_of "$FILE")" "$want" "$tag: delivered with the Subject \"$want\""
	unlike "$(headers_of "$FILE" | tr A-Z a-z)" '\[sikker\]|personf' \
		"$tag: no tag left in the raw header"
	like "$(header_value "$FILE" X-Sikkermail)" \
		"^personal=yes \\(subject\\); action=deliver; ref=$QID\$" \
		"$tag: tagged personal=yes (subject)"
}

# ------------------------------------------------------------ internal

if delivered internal bob@kp.dk 'Referat [sikker] fra =?UTF-8?Q?m=C3=B8det?=' \
	'Referat fra mødet'; then
	decision "$QID" internal "trusted=yes" "personal=yes" "personal_source=subject" \
		"class1=internal" "applied=deliver"
	like "$(headers_of "$FILE" | grep -a -i '^Subject:')" \
		'^Subject: =\?UTF-8\?B\?[A-Za-z0-9+/=]+\?=$' \
		"internal: the new Subject is an encoded-word"
fi

# a long one: several encoded-words on folded lines, as Postfix writes them
LONG="Ansøgning om orlov for medarbejder på afdelingen for sygepleje og ernæring, med bilag"
if delivered long bob@kp.dk "[sikker] $LONG" "$LONG"; then
	lines=$(headers_of "$FILE" | sed -n '/^Subject:/,/^[^ \t]/p' | sed '$d')
	ok "long: the Subject is folded over several lines" \
		test "$(printf '%s\n' "$lines" | wc -l)" -gt 1
	is "$(printf '%s\n' "$lines" | awk 'length($0) > 78' | wc -l)" 0 \
		"long: no line of it is longer than 78 columns"
	is "$(printf '%s\n' "$lines" | grep -o '=?[^ ]*?=' | awk 'length($0) > 75' | wc -l)" 0 \
		"long: no encoded-word is longer than 75 characters"
fi

# ------------------------------------------------------------ two Subject fields

# the first only the tag (it goes), the second, in upper case, with it
# (changed): Postfix counts the fields whatever their case, as the filter does
pf_message "$TEST_TMP/two.eml" two "From: Alice <alice@kp.dk>" "To: <bob@kp.dk>" \
	"Subject: [sikker]" "SUBJECT: Referat [SIKKER] 2027"
send two bob@kp.dk
if accepted two && ok "two: delivered" sink_wait two; then
	FILE=$(sink_file two)
	is "$(subject_of "$FILE")" "Referat 2027" "two: one Subject left, without the tag"
	is "$(headers_of "$FILE" | grep -a -i -c '^subject:')" 1 "two: exactly one Subject field"
	unlike "$(headers_of "$FILE" | tr A-Z a-z)" '\[sikker\]' "two: no tag left in the raw header"
	decision "$QID" two "personal=yes" "personal_source=subject" "applied=deliver"
fi

# ------------------------------------------------------------ sendmail(1)

# local submission: pickup -> cleanup -> non_smtpd_milters, presented to
# the milter as 127.0.0.1 (trusted); the tag goes there too
subject_msg local bob@kp.dk '[sikker] Lokalt indsendt'
if ok "local: sendmail(1) takes the message" \
	sendmail -C "$PF_DIR" -i -f alice@kp.dk -- bob@kp.dk <"$TEST_TMP/local.eml" &&
	ok "local: delivered" sink_wait local; then
	FILE=$(sink_file local)
	is "$(subject_of "$FILE")" "Lokalt indsendt" "local: delivered with the tag gone"
	like "$(header_value "$FILE" X-Sikkermail)" '^personal=yes \(subject\); action=deliver; ' \
		"local: tagged personal=yes (subject)"
fi

# ------------------------------------------------------------ tunnel

if delivered tunnel x@kommune-tunnel.dk '[SIKKER]  Budget 2027' 'Budget 2027'; then
	decision "$QID" tunnel "personal_source=subject" "class1=tunnel" "applied=deliver"
	ok "tunnel: the new Subject is plain ASCII, as it is" \
		header_line "$FILE" "Subject: Budget 2027"
fi

# ------------------------------------------------------------ encrypted

subject_msg encrypted valid@example.dk '=?ISO-8859-1?Q?=5BPERSONF=D8LSOM=5D_Ans=F8gning?= om orlov'
send encrypted valid@example.dk
if accepted encrypted && copy_queued encrypted 20; then
	decision "$QID" encrypted "personal_source=subject" "class1=encrypted" "applied=encrypt"
	ok "encrypted: the copy reached the sink" \
		wait_for 30 eval '[ -n "$(sink_by_id "$COPY_ID")" ]'
	COPY=$(sink_by_id "$COPY_ID")
	if [ -n "$COPY" ] && ok "encrypted: openssl cms -decrypt with the recipient's key" \
		openssl cms -decrypt -in "$COPY" -recip "$CERTS/valid.pem" \
		-inkey "$CERTS/valid.key" -out "$W/enc.signed"; then
		openssl cms -verify -in "$W/enc.signed" -CAfile "$CERTS/trust.pem" \
			-out "$W/enc.inner" 2>"$W/enc.err"
		tr -d '\r' <"$W/enc.inner" | sed '1,/^$/d' >"$W/enc.eml"
		like "$(cat "$W/enc.eml")" "Personal data: $CANARY" \
			"encrypted: inside, the original body"
		is "$(subject_of "$W/enc.eml")" "Ansøgning om orlov" \
			"encrypted: inside, the Subject without the tag"
		unlike "$(headers_of "$W/enc.eml" | tr A-Z a-z)" 'personf' \
			"encrypted: inside, no tag in the raw header"
	fi
	if ok "encrypted: the mailbox got its notice" \
		wait_for 10 eval '[ -n "$(notice_for "$QID")" ]'; then
		body=$(tr -d '\r' <"$(notice_for "$QID")" | sed '1,/^$/d')
		like "$body" 'Emne / Subject: +Ansøgning om orlov' \
			"notice: names the Subject as a reader sees it, decoded"
		unlike "$(printf '%s' "$body" | tr A-Z a-z)" 'personf|\[sikker\]' \
			"notice: no tag in it"
	fi
fi

# ------------------------------------------------------------ only the tag, to gmail

subject_msg gmail x@gmail.com '[sikker]'
send gmail x@gmail.com
is "$SEND_QID" "" "gmail, only the tag: not queued"
like "$SEND_REPLY" '^550-5\.7\.1 .*<x@gmail\.com> \(freemail\)' \
	"gmail, only the tag: 550 names <x@gmail.com>"
QID=
[[ $SEND_REPLY =~ Ref\ ([0-9A-Za-z]+) ]] && QID=${BASH_REMATCH[1]}
decision "$QID" gmail "personal=yes" "personal_source=subject" \
	'personal_reason="no header; subject tag"' "applied=reject" "rule=PersonalToFreemail"
is "$(sql "$DB" "SELECT personal_source || ',' || applied FROM decision WHERE queue_id = '$QID'")" \
	"subject,reject" "gmail, only the tag: the database records source subject, applied reject"

# the report, from the database and from the log: the refusal's personal source
capture "$CTL" -c "$M/main.conf" report --format csv
like "$(grep -a "$QID" "$OUT")" ',yes,subject,' "report (csv): the refusal's source is subject"
capture "$CTL" -c "$M/main.conf" report --format json
like "$(cat "$OUT")" '"personal_source":"subject"' "report (json): personal_source subject"
capture "$CTL" -c "$M/main.conf" report
like "$(cat "$OUT")" 'personal: +subject \(no header; subject tag\)' \
	"report (text): personal: subject"
capture "$CTL" -c "$M/main.conf" report --format html --lang en
like "$(cat "$OUT")" '<td class="l">subject tag<br>' "report (html): the subject tag named"
capture "$CTL" -c "$M/main.conf" report --format csv --log "$LOG"
like "$(grep -a "$QID" "$OUT")" ',yes,subject,' "report from the log (csv): source subject"

# a broken encoded-word (base64 without its padding, as some phones write
# it) that a reader sees as "[sikker] Løn": found all the same, refused
subject_msg broken x@gmail.com '=?utf-8?b?W3Npa2tlcl0gTMO4bg?='
send broken x@gmail.com
is "$SEND_QID" "" "gmail, the tag in a broken encoded-word: not queued"
like "$SEND_REPLY" '^550-5\.7\.1 .*<x@gmail\.com> \(freemail\)' \
	"gmail, the tag in a broken encoded-word: 550, personal"
QID=
[[ $SEND_REPLY =~ Ref\ ([0-9A-Za-z]+) ]] && QID=${BASH_REMATCH[1]}
decision "$QID" broken "personal=yes" "personal_source=subject" "applied=reject"

# ------------------------------------------------------------ held

in_hold() { pf_queue_files hold | grep -q -F "/$1"; }
subject_msg held x@gmail.com 'Til vurdering [sikker]'
SEND_PORT=${PF_PORTS[hold]} send held x@gmail.com
if accepted held && ok "held: in Postfix's hold queue" wait_for 10 in_hold "$QID"; then
	postcat -c "$PF_DIR" -h -q "$QID" >"$W/held.txt" 2>"$W/held.err"
	is "$(subject_of "$W/held.txt")" "Til vurdering" \
		"held: the held message's Subject has no tag" || diag_file "$W/held.err"
	like "$(header_value "$W/held.txt" X-Sikkermail)" '^personal=yes \(subject\); action=hold; ' \
		"held: tagged personal=yes (subject), action=hold"
	LOG=$M/hold.log decision "$QID" held "personal_source=subject" "applied=hold"
fi

# ------------------------------------------------------------ untrusted

subject_msg untrusted x@gmail.com '[sikker] Referat'
SEND_PORT=${PF_PORTS[untrusted]} send untrusted x@gmail.com
if accepted untrusted && ok "untrusted: delivered to gmail" sink_wait untrusted; then
	FILE=$(sink_file untrusted)
	ok "untrusted: the Subject is left as it is" header_line "$FILE" "Subject: [sikker] Referat"
	like "$(header_value "$FILE" X-Sikkermail)" '^personal=no; action=deliver; ' \
		"untrusted: tagged personal=no"
	LOG=$M/untrusted.log decision "$QID" untrusted "trusted=no" "personal=no" \
		"personal_source=none"
fi

e2e_stop main untrusted hold
done_testing

# e2e.sh - what the end-to-end scripts (tests/e2e) share: sikkermail-milter
# daemons behind the private Postfix of postfix.sh, messages sent through
# them, and the checks on what came out (source common.sh and postfix.sh
# first).
#
# Exports:
#   places:   M (the daemons' files, $TEST_TMP/milter, with M/db made here),
#             DB (their usual database), CERTS (the test PKI, make_pki),
#             MB (function mailboxes' keys and certificates, mailbox_cert),
#             MPID[NAME] (the pid of daemon NAME, milters_start)
#   settings: CONF_DEFAULTS (an array: the script's own configuration lines
#             for conf), MSG_SUBJECT (msg's Subject before the tag; e2e)
#   set-up:   e2e_need CMD... (root, the daemon, what postfix.sh needs, and
#             each CMD; else skip_all), conf NAME [LINE...] (write
#             $M/NAME.conf), ctl_import CONF KIND FILE, milters_start NAME...,
#             make_pki, mailbox_cert NAME ADDRESS, directory_start,
#             silent_listener_find (sets SILENT)
#   messages: msg TAG RCPT [HEADER...] (write $TEST_TMP/TAG.eml), send TAG
#             RCPTS [SWAKS OPTIONS] (send it; see pf_send), accepted NAME
#             (a test: Postfix queued it; sets QID)
#   results:  headers_of FILE, header_line FILE LINE, header_value FILE NAME,
#             copy_id QID, copy_logged QID, copy_queued NAME [SECS] (a
#             test: the daemon queued an encrypted copy of QID; sets
#             COPY_ID), notice_for QID
#   the end:  e2e_stop NAME... (stop Postfix and the daemons; tests that each
#             exited 0 and logged no sanitizer report or panic)
#
# The daemons NAME listen on $M/NAME.sock and log to $M/NAME.log; the
# checks on a daemon's log read the one in LOG.

M=$TEST_TMP/milter
DB=$M/db/sikkermail.db
CERTS=$TEST_TMP/certs
MB=$TEST_TMP/mailbox
mkdir -p "$M/db"
declare -A MPID
CONF_DEFAULTS=()
MSG_SUBJECT=e2e

# ------------------------------------------------------------------ set-up

e2e_need() {
	local cmd
	need_root "a private Postfix instance must be started as root"
	need "$MILTER" "sikkermail-milter not built ($MILTER)"
	for cmd in postfix postconf smtp-sink swaks sqlite3 runuser "$@"; do
		need "$cmd"
	done
}

# conf NAME [LINE...] - $M/NAME.conf (milter_conf) for a daemon on
# $M/NAME.sock using $DB that trusts 127.0.0.1, with the lines of the
# array CONF_DEFAULTS (the script's own defaults); a LINE replaces the line
# with its key.
conf() {
	local name=$1
	shift
	milter_conf "$M/$name.conf" "Socket local:$M/$name.sock" "Database $DB" \
		"InternalNetworks 127.0.0.1/32" "${CONF_DEFAULTS[@]}" "$@"
}

# ctl_import CONF KIND FILE - sikkermail-ctl import, as the daemon's user
# (the database it creates must stay the daemon's); must succeed.
ctl_import() {
	local out
	out=$(as_test_user "$CTL" -c "$1" import "$2" "$3" 2>&1) && return 0
	fail "sikkermail-ctl import $2"
	diag "$out"
	done_testing
}

# milters_start NAME... - start the daemon of $M/NAME.conf; each must start.
milters_start() {
	local name
	for name in "$@"; do
		must "$name milter starts" milter_start "$M/$name.conf" "$M/$name.sock" "$M/$name.log"
		MPID[$name]=$MILTER_PID
	done
}

# make_pki - the test PKI of mkcerts.sh in $CERTS; diagnostics when it fails.
make_pki() {
	bash "$top_srcdir/tests/lib/mkcerts.sh" "$CERTS" 2>"$TEST_TMP/mkcerts.err" && return 0
	diag_file "$TEST_TMP/mkcerts.err"
	return 1
}

# silent_listener_find - SILENT: the listener that accepts connections and
# never answers (tests/unit/silentlisten), as the build made it, else
# built here; skip_all when neither works.
silent_listener_find() {
	SILENT=${SILENTLISTEN:-$top_builddir/tests/unit/silentlisten}
	[ -x "$SILENT" ] && return 0
	SILENT=$TEST_TMP/silentlisten
	if ! "${CC:-cc}" -o "$SILENT" "$top_srcdir/tests/unit/silentlisten.c" \
		>"$TEST_TMP/cc.log" 2>&1; then
		diag_file "$TEST_TMP/cc.log"
		skip_all "cannot build tests/unit/silentlisten.c (no C compiler?)"
	fi
}

# directory_start - the test PKI (make_pki), the function mailbox
# sikker@kp.dk (mailbox_cert) and a private slapd serving the PKI's
# certificates (slapd.sh: source it first); each must work, else the
# script ends here.
directory_start() {
	must "mkcerts.sh makes the test PKI" make_pki
	if ! mailbox_cert sikker sikker@kp.dk; then
		fail "function mailbox certificate made"
		diag_file "$MB/openssl.log"
		done_testing
	fi
	if ! slapd_setup "$CERTS" || ! slapd_start; then
		fail "private slapd starts"
		done_testing
	fi
}

# mailbox_cert NAME ADDRESS - a function mailbox's key $MB/NAME.key (mode
# 0600) and certificate $MB/NAME.pem (e-mail protection, the address in
# subjectAltName), issued by mkcerts.sh's "Test Issuing CA".
mailbox_cert() {
	local name=$1 addr=$2 log=$MB/openssl.log
	mkdir -p "$MB" || return 1
	(umask 077 && openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
		-out "$MB/$name.key") >>"$log" 2>&1 || return 1
	openssl req -new -key "$MB/$name.key" -subj "/C=DK/O=KP/CN=$addr" \
		-out "$MB/$name.csr" >>"$log" 2>&1 || return 1
	printf '%s\n' "basicConstraints = CA:false" \
		"keyUsage = digitalSignature, keyEncipherment" \
		"extendedKeyUsage = emailProtection" \
		"subjectAltName = email:$addr" >"$MB/$name.ext"
	openssl x509 -req -in "$MB/$name.csr" -CA "$CERTS/ca/inter/ca.pem" \
		-CAkey "$CERTS/ca/inter/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
		-days 30 -sha256 -extfile "$MB/$name.ext" -out "$MB/$name.pem" >>"$log" 2>&1
}

# ------------------------------------------------------------------ messages

# msg TAG RCPT [HEADER...] - from alice@kp.dk, Subject "$MSG_SUBJECT TAG";
# personal (X-KP-Personal: yes) unless headers are given.
msg() {
	local tag=$1 rcpt=$2
	shift 2
	[ $# -eq 0 ] && set -- "X-KP-Personal: yes"
	pf_message "$TEST_TMP/$tag.eml" "$tag" "From: Alice <alice@kp.dk>" \
		"To: <$rcpt>" "Subject: $MSG_SUBJECT $tag" "$@"
}

# send TAG RCPTS [SWAKS OPTIONS] - $TEST_TMP/TAG.eml from alice@kp.dk to
# RCPTS (comma-separated).
send() {
	local tag=$1 rcpts=$2
	shift 2
	pf_send "$tag" --from alice@kp.dk --to "$rcpts" --data "@$TEST_TMP/$tag.eml" "$@"
}

# accepted NAME - Postfix queued the message just sent; QID is its queue id.
accepted() {
	QID=$SEND_QID
	like "$QID" '^[0-9A-Za-z]+$' "$1: accepted by Postfix" && return 0
	diag "$SEND_OUT"
	return 1
}

# ------------------------------------------------------------------ results

# headers_of FILE - a message's header section, LF line ends.
headers_of() { tr -d '\r' <"$1" | sed '/^$/q'; }

# header_line FILE LINE - the message has exactly this header line.
header_line() { headers_of "$1" | grep -q -x -F -- "$2"; }

# header_value FILE NAME - the value of the message's first NAME header.
header_value() {
	headers_of "$1" | grep -a -i "^$2:" | head -n 1 | sed "s/^[^:]*: *//"
}

# The daemon logs "QID: encrypted copy <MESSAGE-ID> queued".
copy_id() {
	grep -a -o "$1: encrypted copy <[^>]*> queued" "$LOG" | tail -n 1 | grep -o '<[^>]*>'
}
copy_logged() { [ -n "$(copy_id "$1")" ]; }

copy_queued() {
	COPY_ID=
	if ! ok "$1: encrypted copy queued" wait_for "${2:-10}" copy_logged "$QID"; then
		diag_file "$LOG" 10
		return 1
	fi
	COPY_ID=$(copy_id "$QID")
}

# notice_for QID - the captured notice to the function mailbox about QID.
notice_for() {
	grep -l -a -F "Subject: Sikker besked sendt / Secure message sent (ref $1)" \
		"$SINK_DIR"/* 2>/dev/null | head -n 1
}

# ------------------------------------------------------------------ the end

e2e_stop() {
	local name
	pf_stop
	stop_pids "${MPID[@]}"
	for name in "$@"; do
		is "${STOP_STATUSES[${MPID[$name]}]}" 0 "$name milter: SIGTERM exits 0"
		unlike "$(cat "$M/$name.log")" '(Sanitizer|runtime error|panic)' \
			"$name milter: no sanitizer report or panic"
	done
	if tests_failed; then
		for name in "$@"; do
			diag_file "$M/$name.log" 30
		done
		diag_file "$PF_LOG" 40
	fi
}

#!/bin/bash
# bench/run.sh - what sikkermail-milter costs next to a do-nothing milter,
# workload by workload (make bench; doc/PERFORMANCE.md).
#
# Run (as root; Postfix, slapd, ldap-utils, openssl installed; the daemon
# built, and "make bench-programs" run in the build directory):
#   make bench [BENCH_ARGS="..."]          (in the build directory), or
#   [top_builddir=BUILD] bash bench/run.sh [-w LIST] [-q] [-n N] [-r ROUNDS]
#       [-s SESSIONS] [-0] [-i]
#   -w LIST     workloads, comma-separated (default micro,W1,W2,W3,W3s,W4,
#               W5,W6)
#   -q          quick: a fifth of the messages, one round (to iterate)
#   -n N        messages per slice for W1-W4 (default W1/W2 500, W3 150,
#               W4 100)
#   -r ROUNDS   rounds (default 3; the figures are their medians)
#   -s SESSIONS parallel SMTP sessions for W1-W5 (default 20)
#   -0          also measure Postfix without any milter (always for W1)
#   -i          set everything up, print where it listens, and wait (for
#               profiling by hand: perf, strace, bench/smtpload); Ctrl-C
#               stops it all
#
# What runs, all on 127.0.0.1: one private Postfix (tests/lib/postfix.sh)
# whose queue and sink live in /dev/shm, so that only the filters' path
# competes for the CPUs; one smtpd listener per filter, each with its
# milter on its own unix socket: "null", bench/nullmilter (accepts all,
# the yardstick), and "sm", sikkermail-milter as built, started as the
# tests start it (as root, dropping to the test user), on a default
# configuration plus the test PKI; the main listener has no milter. The
# daemon's database stays on disk (in the temporary directory under
# /tmp), as a real installation's does. A private slapd serves the test
# PKI's certificates (tests/lib/e2e.sh directory_start), plus ten more for
# W4. smtpd holds every message it accepts (smtpd_data_restrictions =
# check_client_access static:HOLD), and "postsuper -d ALL" empties the
# queue after each slice. What sikkermail hands to Postfix itself (W3-W5:
# encrypted copies, mailbox notices) goes through sendmail(1), as by
# default (Reinject sendmail), is not held, passes the filter again
# (non_smtpd_milters, as in contrib/postfix-main.cf) and is delivered to
# the sink; the daemon runs in a mount namespace of its own where
# /etc/postfix is the private instance's configuration, so that its
# sendmail(1) reaches that instance exactly as it would the system's.
#
# Workloads (bench/smtpload sends; one message per SMTP session):
#   micro  bench/micro (in-process microbenchmarks), when it is built
#   W1  non-personal 4 KB, trusted submitter (127.0.0.1 is InternalNetworks),
#       to bob@kp.dk (internal) and carol@example.com (tls)
#   W2  personal (X-KP-Personal: yes) 4 KB Danish text, to an internal, a
#       tunnel and a partner recipient, with 10,000 tunnel domains and
#       1,000 partners imported
#   W3  personal 100 KB, to valid@example.dk, whose certificate is cached
#       (looked up before the first slice): signed and encrypted, the copy
#       and the notice handed to sendmail(1)
#   W3s W3 with Reinject smtp:127.0.0.1:PORT, the copy and the notice
#       submitted over SMTP to a listener without milters (the
#       ADMIN-GUIDE's re-injection listener) instead of sendmail(1)
#   W4  personal 4 KB to ten certificate recipients; the certificate cache
#       is purged (sikkermail-ctl cache purge) before every sikkermail
#       slice, so each slice starts cold; slapd's log gives the directory
#       queries per distinct address
#   W5  a 20 MB message among small ones (SESSIONS sessions of W1
#       messages meanwhile): first one non-personal (scanned), then one personal to
#       an internal and a certificate recipient (encrypted); the daemon's
#       peak memory (VmHWM) before and after each, and how many small
#       messages were answered while each big one was under way
#   W6  200 SMTP sessions through the filter at once, each held in the
#       middle of its message data; the daemon's VmHWM
# W1-W4 run in rounds; each round has the slices null sm sm null (A B B
# A, with "none" around them when Postfix alone is measured too), of N
# messages each, so that a slow spell of the shared machine hits both
# filters alike; a filter's msg/s in a round is its messages over its
# seconds (first connection to last reply), the ratio is sikkermail's
# msg/s over the null milter's in the same round. The table shows the
# median over the rounds, the range of the ratio, and the target.
#
# Honesty checks: every sikkermail slice must have added one decision line
# of the expected shape per message to the daemon's log (W1: trusted, not
# personal, deliver to internal + tls; W2: personal, deliver to internal,
# tunnel, partner; W3/W4: encrypt, with the copy queued), none refused or
# tempfailed; W3/W4 slices must have delivered one S/MIME copy per message
# to the sink; W4 slices must have queried slapd. A run that fails a check
# says so, and the exit status is 1.
#
# The daemon is started afresh for each workload: its VmHWM (from
# /proc/PID/status) is that workload's peak. Everything started is stopped
# by PID at exit.
# Exit status: 0 when every run completed and was verified (a target that
# is missed is reported, not an error), 1 otherwise, 2 for bad usage.

WORKLOAD_LIST=micro,W1,W2,W3,W3s,W4,W5,W6
QUICK=
ROUNDS=3
SESSIONS=20
N_OPT=
NOFILTER=
INTERACTIVE=

usage() {
	sed -n '5,20p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
}

while getopts w:qn:r:s:0ih opt; do
	case $opt in
	w) WORKLOAD_LIST=$OPTARG ;;
	q) QUICK=1 ;;
	n) N_OPT=$OPTARG ;;
	r) ROUNDS=$OPTARG ;;
	s) SESSIONS=$OPTARG ;;
	0) NOFILTER=1 ;;
	i) INTERACTIVE=1 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage
for v in ${N_OPT:+"$N_OPT"} "$ROUNDS" "$SESSIONS"; do
	[[ $v =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: not a positive number: $v" >&2; usage; }
done
[ -n "$QUICK" ] && [ "$ROUNDS" = 3 ] && ROUNDS=1

_bench_dir=$(cd "$(dirname "$0")" && pwd)
# The build contrib/quickstart.sh makes, unless told otherwise.
: "${top_srcdir:=$(dirname "$_bench_dir")}"
: "${top_builddir:=$top_srcdir/build}"
. "$_bench_dir/../tests/lib/common.sh"
. "$_bench_dir/../tests/lib/postfix.sh"
. "$_bench_dir/../tests/lib/e2e.sh"
. "$_bench_dir/../tests/lib/slapd.sh"

die() {
	echo "run.sh: $*" >&2
	exit 1
}
say() { echo "# $*"; }

NULLMILTER=$top_builddir/bench/nullmilter
SMTPLOAD=$top_builddir/bench/smtpload
MICRO=$top_builddir/bench/micro

declare -A WANT
IFS=, read -r -a _wl <<<"$WORKLOAD_LIST"
for w in "${_wl[@]}"; do
	case $w in
	micro | W[1-6] | W3s) WANT[$w]=1 ;;
	*) die "unknown workload '$w' (micro, W1 ... W6, W3s)" ;;
	esac
done
want() { [ -n "${WANT[$1]:-}" ]; }

[ "$(id -u)" -eq 0 ] || die "must run as root (a private Postfix instance)"
for cmd in "$MILTER" "$CTL" "$NULLMILTER" "$SMTPLOAD" postfix postconf postsuper smtp-sink \
	openssl ldapadd ldapsearch unshare runuser timeout "$SLAPD_BIN" "$SLAPADD_BIN"; do
	if [[ $cmd == */* ]]; then
		[ -x "$cmd" ] || die "$cmd not built or not installed (make bench builds what is ours)"
	else
		command -v "$cmd" >/dev/null || die "$cmd not found"
	fi
done

# ------------------------------------------------------------ places

# Postfix's queue and the sink on tmpfs (TEST_TMP itself is on /tmp, so
# the daemon's database is on disk).
SHM=$(mktemp -d /dev/shm/smbench.XXXXXX) || die "mktemp in /dev/shm"
chmod 0755 "$SHM"
[ -n "${SIKKERMAIL_KEEP_TMP:-}" ] || at_exit "rm -rf '$SHM'"
mkdir -p "$SHM/postfix" "$SHM/sink"
ln -s "$SHM/postfix" "$TEST_TMP/postfix"
ln -s "$SHM/sink" "$TEST_TMP/sink"
# sendmail(1) and postdrop read dynamicmaps.cf beside main.cf
cp /etc/postfix/dynamicmaps.cf "$SHM/postfix/" 2>/dev/null
W=$TEST_TMP/work
mkdir -p "$W"
chmod 0755 "$W"

# The daemon as built, in a mount namespace where /etc/postfix is the
# private instance's configuration. unshare and sh exec: the daemon keeps
# the PID milter_start sees.
REAL_MILTER=$MILTER
MILTER=$W/sikkermail-milter-ns
cat >"$MILTER" <<EOF
#!/bin/sh
exec unshare -m --propagation private /bin/sh -c 'mount --bind "\$0" /etc/postfix && exec "\$@"' \\
	'$SHM/postfix' '$REAL_MILTER' "\$@"
EOF
chmod 0755 "$MILTER"

# ------------------------------------------------------------ messages

# text_body BYTES [DIGITS] - lines of text up to BYTES bytes: English
# prose, or (DIGITS) Danish text full of dates, phone, account and
# journal numbers with one CPR number next to "CPR-nr." (the personal
# path and a scanner that has candidates to check).
text_body() {
	local len=$1 digits=${2:-} i=0 size=0 line
	local -a text=(
		"Vedr. sag nr. 2024-0%05d: mødet den 12.03.2024 kl. 10:30 i lokale 2.14 er flyttet."
		"Ring på tlf. 33 12 45 67 eller 2%07d, hverdage 9-15; fax 3312 4568."
		"Beløbet kr. 12.345,00 blev overført den 01-02-2024 til konto 1234-0%09d."
		"Journalnummer %06d-2024, bilag 3 af 7, side 14, version 1.2.3 af 2023-11-30."
	)
	local -a prose=(
		"The committee met on Tuesday to discuss the plans for the new library wing."
		"Please find the agenda below; comments are welcome before the end of the week."
		"Lunch will be served in the canteen, and the afternoon session starts at one."
		"We look forward to seeing everyone there, and thank you for your patience."
	)
	if [ -n "$digits" ]; then
		printf 'Hej Bob,\n\nBorgerens CPR-nr. er 010190-1238, jf. vores telefonsamtale.\n'
		size=80
	fi
	while [ "$size" -lt "$len" ]; do
		if [ -n "$digits" ]; then
			# shellcheck disable=SC2059
			printf -v line "${text[i % 4]}" $((i * 7919 % 99991))
		else
			line=${prose[i % 4]}
		fi
		printf '%s\n' "$line"
		size=$((size + ${#line} + 1))
		i=$((i + 1))
	done
}

# message FILE TO PERSONAL BYTES - a message as a mail client writes it
# (LF line ends: smtpload sends CRLF).
message() {
	local file=$1 to=$2 personal=$3 len=$4
	{
		printf 'From: Alice <alice@kp.dk>\nTo: %s\nSubject: Bench %s\n' "$to" "${file##*/}"
		printf 'Date: %s\nMIME-Version: 1.0\n' "$(date -R)"
		[ "$personal" = yes ] && printf 'X-KP-Personal: yes\n'
		printf 'Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n'
		if [ "$personal" = yes ]; then
			text_body "$len" digits
		else
			text_body "$len"
		fi
	} >"$file"
}

# big_message FILE TO PERSONAL MB - the same, MB megabytes (a 100 KB body
# repeated).
big_message() {
	local file=$1 mb=$4 i
	message "$file" "$2" "$3" 102400
	sed '1,/^$/d' "$file" >"$W/chunk"
	for ((i = 1; i < mb * 10; i++)); do
		cat "$W/chunk"
	done >>"$file"
}

# ------------------------------------------------------------ helpers

rss() {			# rss PID FIELD - VmRSS, VmHWM (MiB) or Threads
	awk -v f="$2:" '$1 == f { if (f == "Threads:") print $2; else printf "%.1f", $2 / 1024 }' \
		"/proc/$1/status" 2>/dev/null
}

logsize() { stat -c %s "$1" 2>/dev/null || echo 0; }

# decisions_since LOG OFFSET TOKEN... - decisions logged after byte OFFSET
# that hold every TOKEN (key=value) as a whole field; the fields of a
# decision's recipient lines count as rcptN=, classN=, actionN=, ruleN=.
decisions_since() {
	local log=$1 off=$2
	shift 2
	tail -c +$((off + 1)) "$log" | grep -a -E '(^|: )decision(-rcpt)? time=' |
		awk -v toks="$*" 'BEGIN { n = split(toks, t, " ") }
		function id_of(s) { return match(s, / id=[^ ]+ /) ? substr(s, RSTART, RLENGTH) : "" }
		/decision time=/ { id = id_of($0); if (id == "") id = "#" NR; order[++m] = id
				   line[id] = " " $0 " "; next }
		match($0, / n=[0-9]+ of=[0-9]+$/) {
			split(substr($0, RSTART), f, /[ =]/); k = f[3]
			s = substr($0, 1, RSTART - 1); s = substr(s, index(s, " rcpt="))
			sub(/^ rcpt=/, " rcpt" k "=", s); sub(/ class=/, " class" k "=", s)
			sub(/ action=/, " action" k "=", s); sub(/ rule=/, " rule" k "=", s)
			line[id_of($0)] = line[id_of($0)] s " " }
		END { for (j = 1; j <= m; j++) { l = line[order[j]]; ok = 1
			for (i = 1; i <= n; i++) if (index(l, " " t[i] " ") == 0) { ok = 0; break }
			c += ok }
		      print c + 0 }'
}

copies_since() {	# copies_since LOG OFFSET - encrypted copies queued
	tail -c +$(($2 + 1)) "$1" | grep -a -c -E ': encrypted copy <[^>]*> queued'
}

sink_smime() {		# S/MIME messages at the sink
	grep -l -a -i 'application/\(x-\)\{0,1\}pkcs7-mime' "$SINK_DIR"/* 2>/dev/null | wc -l
}

slapd_queries() {	# searches for the W4 addresses so far
	grep -c -E 'filter="\(mail=cert[0-9]+@example\.dk\)"' "$SLAPD_DIR/slapd.log"
}

sink_nonempty() { [ -n "$(ls -A "$SINK_DIR")" ]; }
decided() { [ "$(decisions_since "$M/sm.log" "$1" "${EXPECT[@]}")" -ge "$2" ]; }

empty_queue() {
	pf_wait_idle 300 || say "Postfix's queue did not drain within 300 s"
	postsuper -c "$PF_DIR" -d ALL >/dev/null 2>&1
	find "$SINK_DIR" -type f -delete
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 }
	END { if (NR == 0) print "-"; else if (NR % 2) printf "%.3f", v[(NR + 1) / 2];
	      else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minmax() { tr ' ' '\n' | grep . | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 }
	END { if (NR) printf "%.2f-%.2f", lo, hi; else print "-" }'; }

# ------------------------------------------------------------ the servers

sm_start() {
	milter_start "$M/sm.conf" "$M/sm.sock" "$M/sm.log" || return 1
	SM_PID=$MILTER_PID
	# the mount namespace: sendmail(1) in it must find the private instance
	[ "$(readlink "/proc/$SM_PID/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] ||
		{ say "the daemon is not in a mount namespace of its own"; return 1; }
}

sm_restart() {
	[ -n "${SM_PID:-}" ] && stop_pid "$SM_PID" 60
	SM_PID=
	sm_start
}

null_start() {
	rm -f "$M/null.sock"
	"$NULLMILTER" -p "unix:$M/null.sock" -u "$TEST_USER" >>"$M/null.log" 2>&1 </dev/null &
	NULL_PID=$!
	track_pid "$NULL_PID"
	wait_for 10 test -S "$M/null.sock" && return 0
	diag_file "$M/null.log"
	return 1
}

null_restart() {
	[ -n "${NULL_PID:-}" ] && stop_pid "$NULL_PID" 30
	null_start
}

# ctl CMD... - sikkermail-ctl on the daemon's configuration, as its user.
ctl() {
	local out
	out=$(as_test_user "$CTL" -c "$M/sm.conf" "$@" 2>&1) && return 0
	say "sikkermail-ctl $*: $out"
	return 1
}

# w4_certs - ten certificate recipients cert01..cert10@example.dk: keys
# and certificates issued by the test PKI's issuing CA, added to slapd.
w4_certs() {
	local i name addr log=$W/w4certs.log
	W4_RCPTS=
	for ((i = 1; i <= 10; i++)); do
		printf -v name 'cert%02d' "$i"
		addr=$name@example.dk
		W4_RCPTS=${W4_RCPTS:+$W4_RCPTS,}$addr
		openssl req -new -newkey rsa:2048 -nodes -keyout "$W/$name.key" \
			-subj "/C=DK/O=Bench/CN=$addr" -out "$W/$name.csr" >>"$log" 2>&1 || return 1
		printf '%s\n' "basicConstraints = CA:false" \
			"keyUsage = digitalSignature, keyEncipherment" \
			"extendedKeyUsage = emailProtection" "subjectAltName = email:$addr" >"$W/$name.ext"
		openssl x509 -req -in "$W/$name.csr" -CA "$CERTS/ca/inter/ca.pem" \
			-CAkey "$CERTS/ca/inter/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
			-days 30 -sha256 -extfile "$W/$name.ext" -outform DER -out "$W/$name.der" \
			>>"$log" 2>&1 || return 1
		printf 'dn: cn=%s,ou=people,c=DK\nobjectClass: inetOrgPerson\n' "$name"
		printf 'cn: %s\nsn: %s\nmail: %s\nuserCertificate;binary:< file://%s\n\n' \
			"$name" "$name" "$addr" "$W/$name.der"
	done >"$W/w4.ldif"
	ldapadd -x -H "$SLAPD_URI" -D "$SLAPD_ROOTDN" -w "$(cat "$SLAPD_ROOTPW_FILE")" -f "$W/w4.ldif" \
		>>"$log" 2>&1
}

# lists - 10,000 tunnel domains and 1,000 partners, imported.
lists() {
	local i
	{
		echo "# tunnel list for make bench"
		for ((i = 1; i <= 10000; i++)); do
			printf 'tunnel-%05d.dk,Kommune %05d\n' "$i" "$i"
		done
	} >"$W/tunnel.txt"
	{
		echo "# partners for make bench"
		for ((i = 1; i <= 1000; i++)); do
			printf 'partner-%04d.dk,Leverandør %04d,2099-12-31\n' "$i" "$i"
		done
	} >"$W/partners.txt"
	chmod 0644 "$W/tunnel.txt" "$W/partners.txt"
	ctl import tunnel "$W/tunnel.txt" && ctl import partners "$W/partners.txt"
}

setup() {
	local t0=$SECONDS
	directory_start >"$W/directory.log" || { cat "$W/directory.log"; die "slapd set-up failed"; }
	if want W4; then
		w4_certs || { tail -n 5 "$W/w4certs.log" >&2; die "the W4 certificates could not be made"; }
	fi

	pf_listener null "$M/null.sock"
	pf_listener sm "$M/sm.sock"
	# W3s: the re-injection listener, no milter, delivering (not holding)
	want W3s && pf_listener reinject "" "smtpd_data_restrictions="
	pf_main_cf "smtpd_data_restrictions=check_client_access static:HOLD" \
		"non_smtpd_milters=unix:$M/sm.sock" "default_process_limit=300" \
		"message_size_limit=104857600" "in_flow_delay=0s"

	CONF_DEFAULTS=("HelpURL https://kp.dk/sikkermail" "LDAPURI $SLAPD_URI" "LDAPBase c=DK"
		"TrustedCAFile $CERTS/trust.pem" "SecureMailbox sikker@kp.dk $MB/sikker.key $MB/sikker.pem"
		"DefaultSecureMailbox sikker@kp.dk")
	conf sm
	give_to_test_user "$M"
	sm_start || die "sikkermail-milter did not start"
	null_start || die "nullmilter did not start"
	pf_start "" || { diag_file "$PF_LOG"; die "Postfix did not start"; }
	PF_PORTS[none]=$PF_PORT
	# sendmail(1) as the daemon's user, inside its namespace, must reach
	# the instance: what W3 relies on
	if want W3 || want W3s || want W4 || want W5; then
		printf 'Subject: bench set-up\n\nset-up\n' |
			nsenter -t "$SM_PID" -m runuser -u "$TEST_USER" -- \
				/usr/sbin/sendmail -i -f alice@kp.dk -- sikker@kp.dk >"$W/sendmail.log" 2>&1 ||
			{ cat "$W/sendmail.log"; die "sendmail(1) in the daemon's namespace failed"; }
		wait_for 20 sink_nonempty || die "sendmail(1) from the daemon's namespace delivered nothing"
		empty_queue
	fi
	if want W2; then
		lists || die "importing the lists failed"
	fi

	message "$W/w1.eml" "<bob@kp.dk>, <carol@example.com>" no 4096
	message "$W/w2.eml" "<bob@kp.dk>" yes 4096
	message "$W/w3.eml" "<valid@example.dk>" yes 102400
	message "$W/w4.eml" "Ten recipients <cert01@example.dk>" yes 4096
	chmod 0644 "$W"/*.eml
	say "set-up took $((SECONDS - t0)) s"
}

# ------------------------------------------------------------ one slice

# slice FILTER N - N messages of the current workload ($MSG to $RCPTS)
# through FILTER's listener. Sets SLICE_SECS; 1 when a message was not
# accepted or the checks on sikkermail's work fail.
slice() {
	local f=$1 n=$2 off=0 out rc ok got q0=0 q1 smime
	if [ "$f" = sm ]; then
		off=$(logsize "$M/sm.log")
		if [ "$WL" = W4 ]; then
			ctl cache purge >/dev/null || return 1
			q0=$(slapd_queries)
		fi
	fi
	out=$(timeout $((120 + n)) "$SMTPLOAD" -p "${PF_PORTS[$f]}" -m "$n" -s "$SESSIONS" \
		-f alice@kp.dk -t "$RCPTS" -F "$MSG" 2>>"$W/smtpload.err")
	rc=$?
	SLICE_SECS=$(sed -n 's/.* seconds=\([0-9.]*\).*/\1/p' <<<"$out")
	ok=$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' <<<"$out")
	if [ "$rc" -ne 0 ] || [ "${ok:-0}" -ne "$n" ]; then
		say "$WL $f: not every message accepted: ${out:-smtpload exit $rc}"
		tail -n 5 "$PF_LOG" | sed 's/^/#   /'
		return 1
	fi
	pf_wait_idle 300 || say "Postfix's queue did not drain"
	[ "$f" = sm ] || { empty_queue; return 0; }

	# sikkermail really decided each message as the workload means
	wait_for 10 decided "$off" "$n"
	got=$(decisions_since "$M/sm.log" "$off" "${EXPECT[@]}")
	if [ "$got" -lt "$n" ]; then
		say "$WL: $got of $n decision lines are as expected (${EXPECT[*]})"
		tail -c +$((off + 1)) "$M/sm.log" | grep -a 'decision time=' | head -n 2 | sed 's/^/#   /'
		return 1
	fi
	got=$(tail -c +$((off + 1)) "$M/sm.log" | grep -a -E '(^|: )decision time=' |
		grep -c -E ' action=(reject|tempfail|hold) ')
	[ "$got" -eq 0 ] || { say "$WL: $got messages refused, tempfailed or held"; return 1; }
	if [ "$WL" = W3 ] || [ "$WL" = W3s ] || [ "$WL" = W4 ]; then
		got=$(copies_since "$M/sm.log" "$off")
		smime=$(sink_smime)
		if [ "$got" -lt "$n" ] || [ "$smime" -lt "$n" ]; then
			say "$WL: $got copies queued, $smime S/MIME messages at the sink, for $n messages"
			return 1
		fi
	fi
	if [ "$WL" = W4 ]; then
		sleep 0.5
		q1=$(slapd_queries)
		[ "$q1" -gt "$q0" ] || { say "W4: the slice asked slapd nothing (cache not cold?)"; return 1; }
		W4_QUERIES=$((W4_QUERIES + q1 - q0))
		W4_SLICES=$((W4_SLICES + 1))
	fi
	empty_queue
}

# ------------------------------------------------------------ throughput

declare -A RES_RATE RES_RATIO RES_RANGE RES_HWM RES_NULLHWM RES_NOTE RES_OK
FAILED=

# throughput WL N - the rounds of a W1-W4 workload.
throughput() {
	local n=$2 r f rate ratio
	local -a order=(null sm) slices
	local -A rates s_n s_s
	WL=$1
	[ -n "$NOFILTER" ] || [ "$WL" = W1 ] && order=(none null sm)
	slices=("${order[@]}")
	for ((r = ${#order[@]} - 1; r >= 0; r--)); do
		slices+=("${order[$r]}")
	done
	sm_restart || { FAILED=1; RES_OK[$WL]="daemon did not start"; return 1; }
	say "$WL: $(describe "$WL"); $n messages per slice, $SESSIONS sessions"
	# one unmeasured slice each: caches, lists and processes warm, and
	# the checks on what sikkermail did
	for f in "${order[@]}"; do
		slice "$f" $((n < 50 ? n : 50)) || { FAILED=1; RES_OK[$WL]="warm-up of $f failed"; return 1; }
	done
	W4_QUERIES=0 W4_SLICES=0
	for ((r = 1; r <= ROUNDS; r++)); do
		s_n=() s_s=()
		for f in "${slices[@]}"; do
			slice "$f" "$n" || { FAILED=1; RES_OK[$WL]="round $r, $f failed"; return 1; }
			s_n[$f]=$((${s_n[$f]:-0} + n))
			s_s[$f]=$(awk -v a="${s_s[$f]:-0}" -v b="$SLICE_SECS" 'BEGIN { print a + b }')
		done
		for f in "${order[@]}"; do
			rate=$(awk -v n="${s_n[$f]}" -v s="${s_s[$f]}" 'BEGIN { printf "%.1f", n / s }')
			rates[$f]="${rates[$f]:-} $rate"
		done
		ratio=$(awk -v a="$(echo "${rates[sm]}" | awk '{ print $NF }')" \
			-v b="$(echo "${rates[null]}" | awk '{ print $NF }')" 'BEGIN { printf "%.4f", a / b }')
		rates[ratio]="${rates[ratio]:-} $ratio"
		say "$WL round $r: $(for f in "${order[@]}"; do
			printf '%s %s msg/s  ' "$f" "$(echo "${rates[$f]}" | awk '{ print $NF }')"
		done)ratio $ratio"
	done
	for f in "${order[@]}"; do
		RES_RATE[$WL,$f]=$(median <<<"${rates[$f]}" | awk '{ printf "%.0f", $1 }')
	done
	RES_RATIO[$WL]=$(median <<<"${rates[ratio]}")
	RES_RANGE[$WL]=$(minmax <<<"${rates[ratio]}")
	RES_HWM[$WL]=$(rss "$SM_PID" VmHWM)
	RES_NULLHWM[$WL]=$(rss "$NULL_PID" VmHWM)
	RES_OK[$WL]=verified
	if [ "$WL" = W4 ] && [ "$W4_SLICES" -gt 0 ]; then
		RES_NOTE[$WL]=$(awk -v q="$W4_QUERIES" -v s="$W4_SLICES" \
			'BEGIN { printf "%.2f directory queries per distinct address and slice", q / (s * 10) }')
	fi
}

describe() {
	case $1 in
	W1) echo "non-personal 4 KB, trusted, internal + tls" ;;
	W2) echo "personal 4 KB, internal + tunnel + partner, 10k/1k lists" ;;
	W3) echo "personal 100 KB, 1 certificate rcpt, sign+encrypt, sendmail" ;;
	W3s) echo "the same, Reinject smtp: to a listener without milters" ;;
	W4) echo "personal 4 KB, 10 certificate rcpts, cold cache each slice" ;;
	W5) echo "20 MB messages among small ones" ;;
	W6) echo "200 SMTP sessions held open" ;;
	esac
}

# ------------------------------------------------------------ W5, W6

# big_one FILE RCPTS - one big message; sets BIG_T0, BIG_T1.
big_one() {
	local out
	BIG_T0=$(date +%s.%N)
	out=$(timeout 600 "$SMTPLOAD" -p "${PF_PORTS[sm]}" -m 1 -s 1 -f alice@kp.dk -t "$2" -F "$1" \
		2>>"$W/smtpload.err")
	local rc=$?
	BIG_T1=$(date +%s.%N)
	[ "$rc" -eq 0 ] && return 0
	say "W5: the big message ${1##*/} was not accepted: ${out:-exit $rc}"
	return 1
}

# small_between T0 T1 - small messages answered between the two times.
small_between() {
	awk -v a="$1" -v b="$2" '$1 >= a && $1 <= b && $2 == "ok" { n++ } END { print n + 0 }' \
		"$W/w5.times"
}

w5() {
	local h0 h1 h2 bg t_start n_a n_b n_pre d_a d_b off out bad=
	WL=W5
	big_message "$W/big-plain.eml" "<bob@kp.dk>, <carol@example.com>" no 20
	big_message "$W/big-personal.eml" "<bob@kp.dk>, <valid@example.dk>" yes 20
	chmod 0644 "$W"/big-*.eml
	sm_restart || { FAILED=1; RES_OK[W5]="daemon did not start"; return 1; }
	say "W5: $(describe W5): ${SESSIONS} sessions of W1 messages meanwhile"
	off=$(logsize "$M/sm.log")
	rm -f "$W/w5.stop"
	t_start=$(date +%s.%N)
	"$SMTPLOAD" -p "${PF_PORTS[sm]}" -m 1000000 -s "$SESSIONS" -f alice@kp.dk \
		-t bob@kp.dk,carol@example.com -F "$W/w1.eml" -E "$W/w5.stop" -T "$W/w5.times" \
		>"$W/w5.small" 2>>"$W/smtpload.err" </dev/null &
	bg=$!
	track_pid "$bg"
	sleep 5
	h0=$(rss "$SM_PID" VmHWM)
	big_one "$W/big-plain.eml" bob@kp.dk,carol@example.com || bad=1
	local a0=$BIG_T0 a1=$BIG_T1
	h1=$(rss "$SM_PID" VmHWM)
	big_one "$W/big-personal.eml" bob@kp.dk,valid@example.dk || bad=1
	h2=$(rss "$SM_PID" VmHWM)
	sleep 2
	touch "$W/w5.stop"
	wait "$bg"
	untrack_pid "$bg"
	# the small messages' end times are written when they are all done
	d_a=$(awk -v a="$a0" -v b="$a1" 'BEGIN { printf "%.1f", b - a }')
	d_b=$(awk -v a="$BIG_T0" -v b="$BIG_T1" 'BEGIN { printf "%.1f", b - a }')
	n_a=$(small_between "$a0" "$a1")
	n_b=$(small_between "$BIG_T0" "$BIG_T1")
	n_pre=$(small_between "$t_start" "$a0")
	out=$(cat "$W/w5.small")
	say "W5 small messages: $out"
	if ! [[ $out =~ tempfail=0\ reject=0\ error=0 ]]; then
		say "W5: small messages failed"
		bad=1
	fi
	EXPECT=(trusted=yes personal=no action=deliver class1=internal class2=tls)
	local small_ok
	small_ok=$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' <<<"$out")
	if [ "$(decisions_since "$M/sm.log" "$off" "${EXPECT[@]}")" -lt "${small_ok:-1}" ]; then
		say "W5: fewer decision lines than small messages accepted"
		bad=1
	fi
	if [ "$(copies_since "$M/sm.log" "$off")" -lt 1 ]; then
		say "W5: no encrypted copy of the personal 20 MB message was queued"
		bad=1
	fi
	empty_queue
	RES_HWM[W5]=$h2
	RES_NOTE[W5]=$(awk -v h0="$h0" -v h1="$h1" -v h2="$h2" -v pre="$n_pre" \
		-v ts="$t_start" -v a0="$a0" -v na="$n_a" -v da="$d_a" -v nb="$n_b" -v db="$d_b" 'BEGIN {
		printf "VmHWM %.1f MiB before; +%.1f MiB for the scanned one (%.1f s, %d small msgs meanwhile, %.0f/s), ",
			h0, h1 - h0, da, na, (da > 0 ? na / da : 0)
		printf "+%.1f MiB more for the encrypted one (%.1f s, %d small meanwhile, %.0f/s); %.0f small msg/s before",
			h2 - h1, db, nb, (db > 0 ? nb / db : 0), pre / (a0 - ts) }')
	RES_W5_GROWTH=$(awk -v h0="$h0" -v h2="$h2" 'BEGIN { printf "%.1f", h2 - h0 }')
	RES_OK[W5]=verified
	[ -z "$bad" ] || { RES_OK[W5]=FAILED; FAILED=1; }
	say "W5: ${RES_NOTE[W5]}"
}

# hold_sessions FILTER - 200 sessions held mid-DATA through FILTER;
# HELD_THREADS, HELD_RSS: the filter process while they are held.
hold_sessions() {
	local f=$1 pid=$2 out bg
	rm -f "$W/w6.err"
	"$SMTPLOAD" -p "${PF_PORTS[$f]}" -m 200 -s 200 -H "$HOLD" -f alice@kp.dk \
		-t bob@kp.dk,carol@example.com -F "$W/w1.eml" >"$W/w6.out" 2>"$W/w6.err" </dev/null &
	bg=$!
	track_pid "$bg"
	wait_for 120 grep -qs "^held" "$W/w6.err"
	sleep 1
	HELD=$(sed -n 's/^held //p' "$W/w6.err")
	HELD_THREADS=$(rss "$pid" Threads)
	HELD_RSS=$(rss "$pid" VmRSS)
	HELD_CONNS=$(ss -xn 2>/dev/null | grep -c -F "$M/$f.sock")
	wait "$bg"
	local rc=$?
	untrack_pid "$bg"
	out=$(cat "$W/w6.out")
	say "W6 $f: ${HELD:-0} sessions held; $out"
	pf_wait_idle 60
	postsuper -c "$PF_DIR" -d ALL >/dev/null 2>&1
	[ "$rc" -eq 0 ] && [ "${HELD:-0}" -eq 200 ]
}

w6() {
	local off
	WL=W6
	HOLD=5
	sm_restart || { FAILED=1; RES_OK[W6]="daemon did not start"; return 1; }
	null_restart || { FAILED=1; RES_OK[W6]="nullmilter did not start"; return 1; }
	say "W6: $(describe W6), each for ${HOLD} s in the middle of its data"
	hold_sessions null "$NULL_PID" || FAILED=1
	RES_NULLHWM[W6]=$(rss "$NULL_PID" VmHWM)
	local nt=$HELD_THREADS nc=$HELD_CONNS
	off=$(logsize "$M/sm.log")
	if ! hold_sessions sm "$SM_PID"; then
		FAILED=1
		RES_OK[W6]="not all 200 sessions held and accepted"
	else
		EXPECT=(trusted=yes personal=no action=deliver class1=internal class2=tls)
		if [ "$(decisions_since "$M/sm.log" "$off" "${EXPECT[@]}")" -lt 200 ]; then
			FAILED=1
			RES_OK[W6]="fewer than 200 decisions logged"
		else
			RES_OK[W6]=verified
		fi
	fi
	RES_HWM[W6]=$(rss "$SM_PID" VmHWM)
	RES_NOTE[W6]="while held: sikkermail $HELD_CONNS connections on its socket, $HELD_THREADS threads, VmRSS $HELD_RSS MiB; nullmilter $nc connections, $nt threads, VmHWM ${RES_NULLHWM[W6]} MiB"
	say "W6: ${RES_NOTE[W6]}"
}

# ------------------------------------------------------------ main

echo "# make bench: $("$REAL_MILTER" -V 2>&1 | head -n 1), commit $(git -C "$top_srcdir" describe --always --dirty 2>/dev/null || echo unknown)"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), Postfix $(postconf -d -h mail_version)"
echo "# load average at start:$(uptime | sed 's/.*load average//; s/^s\{0,1\}://')"
echo "# $ROUNDS round(s), $SESSIONS sessions${QUICK:+, quick mode}"

if want micro; then
	if [ -x "$MICRO" ]; then
		say "micro: $MICRO"
		"$MICRO" 2>&1 || { say "bench/micro failed"; FAILED=1; }
	else
		say "micro: not built (bench/micro.c is not in this tree)"
	fi
fi

if want W1 || want W2 || want W3 || want W3s || want W4 || want W5 || want W6; then
	setup
fi

if [ -n "$INTERACTIVE" ]; then
	say "listeners on 127.0.0.1: none ${PF_PORTS[none]}, null ${PF_PORTS[null]}, sm ${PF_PORTS[sm]}"
	say "sikkermail-milter pid $SM_PID (log $M/sm.log, configuration $M/sm.conf), nullmilter pid $NULL_PID"
	say "Postfix configuration $PF_DIR, sink $SINK_DIR, slapd $SLAPD_URI (log $SLAPD_DIR/slapd.log)"
	say "messages: $W/w[1-4].eml; W4 recipients: ${W4_RCPTS:-(not made: -w W4)}"
	say "e.g. $SMTPLOAD -p ${PF_PORTS[sm]} -m 500 -s 20 -f alice@kp.dk -t bob@kp.dk,carol@example.com -F $W/w1.eml"
	say "waiting; Ctrl-C stops everything"
	# a wait that a signal interrupts (the traps of common.sh then run)
	while :; do
		sleep 3600 &
		track_pid $!
		wait $!
	done
fi

declare -A NDEF=([W1]=500 [W2]=500 [W3]=150 [W3s]=150 [W4]=100)
for WL in W1 W2 W3 W3s W4; do
	want "$WL" || continue
	n=${N_OPT:-${NDEF[$WL]}}
	[ -n "$QUICK" ] && [ -z "$N_OPT" ] && n=$((n / 5))
	case $WL in
	W1)
		MSG=$W/w1.eml RCPTS=bob@kp.dk,carol@example.com
		EXPECT=(trusted=yes personal=no action=deliver class1=internal class2=tls) ;;
	W2)
		MSG=$W/w2.eml RCPTS=bob@kp.dk,post@tunnel-05000.dk,post@partner-0500.dk
		EXPECT=(trusted=yes personal=yes action=deliver class1=internal class2=tunnel
			class3=partner) ;;
	W3)
		MSG=$W/w3.eml RCPTS=valid@example.dk
		EXPECT=(personal=yes action=encrypt class1=encrypted action1=encrypt)
		ctl cert valid@example.dk >/dev/null || FAILED=1 ;;
	W3s)
		MSG=$W/w3.eml RCPTS=valid@example.dk
		EXPECT=(personal=yes action=encrypt class1=encrypted action1=encrypt)
		conf sm "Reinject smtp:127.0.0.1:${PF_PORTS[reinject]}"
		ctl cert valid@example.dk >/dev/null || FAILED=1 ;;
	W4)
		MSG=$W/w4.eml RCPTS=$W4_RCPTS
		EXPECT=(personal=yes action=encrypt rcpts=10)
		for ((i = 1; i <= 10; i++)); do
			EXPECT+=("class$i=encrypted")
		done ;;
	esac
	throughput "$WL" "$n"
	if [ "$WL" = W3s ]; then	# back to the default hand-off
		conf sm
		sm_restart || FAILED=1
	fi
done
want W5 && w5
want W6 && w6

# ------------------------------------------------------------ the table

target() {
	case $1 in
	W1 | W2) echo ">= 0.90" ;;
	W3 | W3s) echo ">= 0.60" ;;
	W4) echo ">= 0.30" ;;
	W5) echo "growth < 16 MiB" ;;
	W6) echo "VmHWM < 64 MiB" ;;
	esac
}

met() {			# met WL - "met", "NOT met" or "-"
	local v lim
	case $1 in
	W1 | W2) v=${RES_RATIO[$1]:-} lim=0.90 ;;
	W3 | W3s) v=${RES_RATIO[$1]:-} lim=0.60 ;;
	W4) v=${RES_RATIO[$1]:-} lim=0.30 ;;
	W5) v=${RES_W5_GROWTH:-}
		[ -n "$v" ] || { echo -; return; }
		awk -v v="$v" 'BEGIN { print (v < 16 ? "met" : "NOT met") }'; return ;;
	W6) v=${RES_HWM[W6]:-}
		[ -n "$v" ] || { echo -; return; }
		awk -v v="$v" 'BEGIN { print (v < 64 ? "met" : "NOT met") }'; return ;;
	esac
	[ -n "$v" ] || { echo -; return; }
	awk -v v="$v" -v l="$lim" 'BEGIN { print (v >= l ? "met" : "NOT met") }'
}

echo
echo "# Results: msg/s are medians over the rounds; ratio = sikkermail / do-nothing milter (same round)"
printf '%-3s %-58s %8s %8s %9s %6s %-10s %-16s %-8s %9s  %s\n' "" workload "none/s" "null/s" \
	"sikker/s" ratio range target "" "VmHWM MiB" checks
for WL in W1 W2 W3 W3s W4 W5 W6; do
	want "$WL" || continue
	if [ "$WL" = W5 ] || [ "$WL" = W6 ]; then
		printf '%-3s %-58s %8s %8s %9s %6s %-10s %-16s %-8s %9s  %s\n' "$WL" "$(describe "$WL")" - - - - - \
			"$(target "$WL")" "$(met "$WL")" "${RES_HWM[$WL]:--}" "${RES_OK[$WL]:-not run}"
	else
		printf '%-3s %-58s %8s %8s %9s %6s %-10s %-16s %-8s %9s  %s\n' "$WL" "$(describe "$WL")" \
			"${RES_RATE[$WL,none]:--}" "${RES_RATE[$WL,null]:--}" "${RES_RATE[$WL,sm]:--}" \
			"$(printf '%.2f' "${RES_RATIO[$WL]:-0}")" "${RES_RANGE[$WL]:--}" "$(target "$WL")" \
			"$(met "$WL")" "${RES_HWM[$WL]:--}" "${RES_OK[$WL]:-not run}"
	fi
	[ -n "${RES_NOTE[$WL]:-}" ] && printf '    %s\n' "${RES_NOTE[$WL]}"
done
[ -z "$FAILED" ] || { echo "# some runs failed or could not be verified: the figures above are not trustworthy"; exit 1; }
exit 0

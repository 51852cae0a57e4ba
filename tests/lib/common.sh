# common.sh - shared helpers for the script tests (source it from bash).
#
# Exports:
#   TAP:      ok NAME CMD..., fails NAME CMD... (passes when CMD fails),
#             pass NAME, fail NAME, is GOT WANT NAME,
#             like GOT ERE NAME, unlike GOT ERE NAME, skip NAME REASON,
#             diag MSG..., diag_file FILE [LINES], tests_failed, done_testing
#             (prints the plan; exit 1 if anything failed), must NAME CMD...
#             (CMD or the end: a failed test NAME, then done_testing)
#   needs:    need CMD [REASON], need_root [REASON], skip_all REASON: print
#             "1..0 # SKIP" and exit 77 - or, with SIKKERMAIL_STRICT=1 (CI,
#             where nothing may be skipped), fail
#   places:   top_srcdir, top_builddir (default: this tree), MILTER, CTL
#             (SIKKERMAIL_MILTER / SIKKERMAIL_CTL override), TEST_USER (the
#             daemon's UserID; SIKKERMAIL_TEST_USER, default nobody),
#             TEST_TMP (private temp dir, mode 0755 so that the daemon's user
#             and postfix reach sockets in it; removed at exit unless
#             SIKKERMAIL_KEEP_TMP is set)
#   servers:  track_pid PID, untrack_pid PID, at_exit CMD (run at cleanup),
#             stop_pid PID [SECONDS] (TERM, then KILL; sets STOP_STATUS),
#             stop_pids PID... (all at once; sets STOP_STATUSES[PID]),
#             alive PID, milter_conf FILE LINE... (write a daemon's
#             configuration), milter_start CONF SOCKETPATH LOG [ARGS...] (sets
#             MILTER_PID), milter_stop, miltertest_run SOCKET SCRIPT QIDPREFIX
#             [NAME=VALUE...] (the NAMEs become the script's globals),
#             miltertest_tap LABEL SOCKET SCRIPT QIDPREFIX [NAME=VALUE...]
#             (the same, its checks as TAP lines)
#   helpers:  wait_for SECONDS CMD..., pick_port VAR, free_port,
#             port_in_use PORT, file_owner PATH, proc_user PID,
#             give_to_test_user PATH..., as_test_user CMD...,
#             decision_line LOG QUEUEID, joined_decision LOG SUMMARYLINE,
#             decision_with_rcpt LOG ADDRESS, has_decision LOG QUEUEID,
#             decision QUEUEID NAME ERE... (tests on the decision line in
#             $LOG), sql DB QUERY, capture CMD... (sets OUT, ERR, RC)
#
# Everything started through these helpers is stopped by PID when the
# script exits, whatever way it exits.

if [ -z "${BASH_VERSION:-}" ]; then
	echo "Bail out! these tests need bash"
	exit 1
fi

_common_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${top_srcdir:=$(cd "$_common_dir/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
MILTER=${SIKKERMAIL_MILTER:-$top_builddir/sikkermail-milter}
CTL=${SIKKERMAIL_CTL:-$top_builddir/sikkermail-ctl}
export top_srcdir top_builddir

# The daemon drops to this user when it starts as root.
TEST_USER=${SIKKERMAIL_TEST_USER:-nobody}

PATH=$PATH:/usr/sbin:/sbin
export LC_ALL=C

# ------------------------------------------------------------------ TAP

_tap_n=0
_tap_failed=0

_tap_result() {		# _tap_result STATUS NAME
	_tap_n=$((_tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $_tap_n - $2"
	else
		echo "not ok $_tap_n - $2"
		_tap_failed=$((_tap_failed + 1))
	fi
	return "$1"
}

pass() { _tap_result 0 "$1"; }
fail() { _tap_result 1 "$1"; }

# ok NAME CMD... - passes when the command exits 0.
ok() {
	local name=$1
	shift
	"$@"
	_tap_result $? "$name"
}

# fails NAME CMD... - passes when the command exits non-zero.
fails() {
	local name=$1
	shift
	"$@"
	_tap_result $(($? == 0)) "$name"
}

# is GOT WANT NAME
is() {
	if [ "$1" = "$2" ]; then
		_tap_result 0 "$3"
	else
		_tap_result 1 "$3"
		diag "     got: '$1'"
		diag "expected: '$2'"
		return 1
	fi
}

# like GOT ERE NAME (bash regular expression match)
# isnt GOT UNWANTED NAME - a test that GOT is not UNWANTED.
isnt() {
	if [ "$1" != "$2" ]; then
		pass "$3"
	else
		fail "$3"
		diag "     got: '$1', which it must not be"
	fi
}

like() {
	if [[ $1 =~ $2 ]]; then
		_tap_result 0 "$3"
	else
		_tap_result 1 "$3"
		diag "                  '${1:0:2000}'"
		diag "doesn't match ERE '$2'"
		return 1
	fi
}

unlike() {
	if [[ $1 =~ $2 ]]; then
		_tap_result 1 "$3"
		diag "                  '${1:0:2000}'"
		diag "matches ERE       '$2'"
		return 1
	fi
	_tap_result 0 "$3"
}

skip() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $1 # SKIP $2"
}

diag() {
	local line
	printf '%s\n' "$*" | while IFS= read -r line; do
		echo "# $line"
	done
}

# diag_file FILE [LINES] - the tail of a file as diagnostics.
diag_file() {
	[ -f "$1" ] || { diag "($1: no such file)"; return 0; }
	diag "--- last lines of $1:"
	diag "$(tail -n "${2:-30}" "$1")"
}

tests_failed() { [ "$_tap_failed" -gt 0 ]; }

done_testing() {
	echo "1..$_tap_n"
	if [ "$_tap_failed" -gt 0 ]; then
		diag "$_tap_failed of $_tap_n tests failed"
		exit 1
	fi
	exit 0
}

# must NAME CMD... - what the rest of the script builds on: when CMD fails,
# a failed test NAME and the end of the script.
must() {
	local name=$1
	shift
	"$@" && return 0
	fail "$name"
	done_testing
}

# ---------------------------------------------------------- prerequisites

strict() { [ "${SIKKERMAIL_STRICT:-0}" = 1 ]; }

# skip_all REASON - nothing here can run. In strict mode that is a failure.
skip_all() {
	if strict; then
		fail "prerequisite: $1 (SIKKERMAIL_STRICT=1: nothing may be skipped)"
		done_testing
	fi
	if [ "$_tap_n" -gt 0 ]; then
		skip "the remaining tests" "$1"
		echo "1..$_tap_n"
		[ "$_tap_failed" -gt 0 ] && exit 1
		exit 0
	fi
	echo "1..0 # SKIP $1"
	exit 77
}

# need CMD [REASON] - CMD must be an executable path or in PATH.
need() {
	local what=$1 why=${2:-}
	if [[ $what == */* ]]; then
		[ -x "$what" ] && return 0
	else
		command -v "$what" >/dev/null 2>&1 && return 0
	fi
	skip_all "${why:-$what not found}"
}

need_root() {
	[ "$(id -u)" -eq 0 ] && return 0
	skip_all "${1:-must run as root}"
}

# ---------------------------------------------------------- temp dir + cleanup

_pids=()
_at_exit=()

track_pid() { _pids+=("$1"); }

untrack_pid() {
	local i
	for i in "${!_pids[@]}"; do
		[ "${_pids[$i]}" = "$1" ] && unset '_pids[i]'
	done
}

at_exit() { _at_exit+=("$1"); }

# stop_pid PID [SECONDS] - SIGTERM, wait, then SIGKILL. STOP_STATUS gets the
# exit status when PID is our child, "gone" when it was not running, and
# "killed" when it had to be killed.
stop_pid() {
	local pid=$1 t=${2:-10} i
	STOP_STATUS=gone
	if ! kill -0 "$pid" 2>/dev/null; then
		wait "$pid" 2>/dev/null && STOP_STATUS=0 || STOP_STATUS=$?
		untrack_pid "$pid"
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < t * 10; i++)); do
		alive "$pid" || break
		sleep 0.1
	done
	if alive "$pid"; then
		# where it hangs, for whoever reads the log
		diag "pid $pid did not stop within ${t}s; its threads:"
		ps -L -o lwp,stat,wchan:32,comm -p "$pid" 2>&1 | sed 's/^/#   /'
		for f in /proc/"$pid"/task/*/stack; do
			[ -r "$f" ] && { echo "# $f:"; head -8 "$f" | sed 's/^/#     /'; }
		done 2>/dev/null
		if command -v gdb >/dev/null; then
			timeout 30 gdb -p "$pid" -batch -ex 'thread apply all bt' 2>&1 |
				grep -E '^(Thread|#|ptrace|warning: process)' | head -80 | sed 's/^/#   /'
		fi
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		STOP_STATUS=killed
	else
		wait "$pid" 2>/dev/null && STOP_STATUS=0 || STOP_STATUS=$?
	fi
	untrack_pid "$pid"
}

# stop_pids PID... - stop several at once (SIGTERM to all first: a
# daemon may take seconds to exit). STOP_STATUSES[PID] gets each status.
declare -A STOP_STATUSES
stop_pids() {
	local pid
	for pid in "$@"; do
		kill -TERM "$pid" 2>/dev/null
	done
	# libmilter notices a stop only when its listener's poll times out:
	# a few seconds idle, more on a loaded machine, and a sanitizer build
	# checks for leaks on the way out.
	for pid in "$@"; do
		stop_pid "$pid" 60
		STOP_STATUSES[$pid]=$STOP_STATUS
	done
}

_cleanup() {
	local i
	for ((i = ${#_at_exit[@]} - 1; i >= 0; i--)); do
		eval "${_at_exit[$i]}" >/dev/null 2>&1
	done
	[ ${#_pids[@]} -gt 0 ] && stop_pids "${_pids[@]}"
	if [ -n "${TEST_TMP:-}" ] && [ -d "$TEST_TMP" ]; then
		if [ -n "${SIKKERMAIL_KEEP_TMP:-}" ]; then
			echo "# kept $TEST_TMP"
		else
			rm -rf "$TEST_TMP"
		fi
	fi
}

trap _cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Short path: unix socket names are limited to 107 bytes.
TEST_TMP=$(mktemp -d /tmp/smtest.XXXXXX) || { echo "Bail out! mktemp"; exit 1; }
chmod 0755 "$TEST_TMP"

# A checkout in a directory other users cannot enter (root's home, a
# mktemp -d directory): the test user runs the programs from a copy.
if [ "$(id -u)" -eq 0 ] && [ -x "$CTL" ] && command -v runuser >/dev/null &&
	! runuser -u "$TEST_USER" -- test -x "$CTL" 2>/dev/null; then
	mkdir -p "$TEST_TMP/bin"
	for _prog in "$MILTER" "$CTL"; do
		[ -x "$_prog" ] && cp "$_prog" "$TEST_TMP/bin/"
	done
	chmod 0755 "$TEST_TMP/bin" "$TEST_TMP"/bin/*
	MILTER=$TEST_TMP/bin/${MILTER##*/}
	CTL=$TEST_TMP/bin/${CTL##*/}
fi

# ------------------------------------------------------------------ helpers

# wait_for SECONDS CMD... - poll CMD every 0.1 s until it succeeds.
wait_for() {
	local t=$1 i
	shift
	for ((i = 0; i < t * 10; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	"$@"
}

_ports_taken=" "

port_in_use() {
	if command -v ss >/dev/null 2>&1; then
		[ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ] && return 0
	fi
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pick_port VAR - set VAR to a TCP port on 127.0.0.1 that nothing listens
# on and that this script has not handed out before.
pick_port() {
	local p
	p=$(free_port) || return 1
	_ports_taken="$_ports_taken$p "
	printf -v "$1" '%s' "$p"
}

# free_port - print such a port (call pick_port to reserve it).
free_port() {
	local i p
	for ((i = 0; i < 200; i++)); do
		# below Linux's ephemeral range (32768-60999): a port picked
		# now must not become some connection's local port before the
		# server binds it (bind fails then, even with SO_REUSEADDR)
		p=$((20000 + RANDOM % 12000))
		[[ $_ports_taken == *" $p "* ]] && continue
		port_in_use "$p" && continue
		echo "$p"
		return 0
	done
	echo "Bail out! no free port found" >&2
	return 1
}

file_owner() { stat -c %U "$1" 2>/dev/null; }
proc_user() { ps -o user= -p "$1" 2>/dev/null | tr -d ' '; }
# alive PID - running, not a zombie. A child that exited is a zombie until
# waited for (kill -0 still succeeds), and bash may reap it at any moment:
# ps then says nothing, which is "gone" too, never "running".
alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)
	[ -n "$st" ] && [ "$st" != Z ]
}

# give_to_test_user PATH... - let the daemon user write there (as root).
give_to_test_user() {
	[ "$(id -u)" -eq 0 ] || return 0
	chown -R "$TEST_USER" "$@"
}

# milter_conf FILE LINE... - write a daemon's configuration: the settings
# every script uses (UserID TEST_USER, UMask 000, Syslog no, InternalDomains
# kp.dk, .kp.dk), then the LINEs. A key stands once, where it first came,
# with the value it was given last (a later line replaces an earlier one);
# only SecureMailbox and PersonalSubjectTag, which the daemon takes more
# than once, are repeated.
milter_conf() {
	local file=$1 line key
	local -a lines=()
	local -A at=()
	shift
	for line in "UserID $TEST_USER" "UMask 000" "Syslog no" \
		"InternalDomains kp.dk, .kp.dk" "$@"; do
		key=${line%% *}
		if [ "$key" != SecureMailbox ] && [ "$key" != PersonalSubjectTag ] &&
			[ -n "${at[$key]:-}" ]; then
			lines[${at[$key]}]=$line
		else
			at[$key]=${#lines[@]}
			lines+=("$line")
		fi
	done
	printf '%s\n' "${lines[@]}" >"$file"
}

# milter_start CONF SOCKETPATH LOG [ARGS...] - run the daemon in the
# foreground (in the background of this shell), stderr appended to LOG,
# and wait until its socket appears. Sets MILTER_PID. 1 if it died or
# the socket did not show up.
milter_start() {
	local conf=$1 sock=$2 log=$3
	shift 3
	"$MILTER" -f -c "$conf" "$@" >>"$log" 2>&1 </dev/null &
	MILTER_PID=$!
	track_pid "$MILTER_PID"
	wait_for 10 _milter_ready "$sock"
	if ! alive "$MILTER_PID"; then
		diag "milter exited during start-up"
		diag_file "$log"
		return 1
	fi
	[ -S "$sock" ] || { diag "no socket $sock"; diag_file "$log"; return 1; }
}

_milter_ready() { [ -S "$1" ] || ! alive "$MILTER_PID"; }

# milter_stop - SIGTERM the daemon started last; STOP_STATUS is its exit status.
milter_stop() {
	[ -n "${MILTER_PID:-}" ] || return 0
	stop_pid "$MILTER_PID" 30
	MILTER_PID=
}

# decision_line LOG QUEUEID - the daemon's decision for a queue id, as
# one line (joined_decision).
decision_line() {
	joined_decision "$1" "$(grep -a -E "(^|: )decision (.* )?queue_id=$2( |\$)" "$1" | tail -n 1)"
}

# joined_decision LOG SUMMARY - a summary line with the fields of its
# recipient lines in LOG appended as rcptN=, classN=, actionN=, ruleN=
# and evidenceN= (the single line of earlier versions, which the checks
# match); a single line of an earlier version as it is.
joined_decision() {
	local log=$1 line=$2 id
	[ -n "$line" ] || return 0
	id=$(sed -nE 's/^.* id=([^ ]+) .*$/\1/p' <<<"$line")
	if [ -z "$id" ]; then
		printf '%s\n' "$line"
		return 0
	fi
	printf '%s' "$line"
	grep -a -F " id=$id " "$log" | grep -a -E '(^|: )decision-rcpt ' | awk '
		match($0, / n=[0-9]+ of=[0-9]+$/) {
			split(substr($0, RSTART), f, /[ =]/)
			k = f[3]
			s = substr($0, 1, RSTART - 1)
			s = substr(s, index(s, " rcpt="))
			sub(/^ rcpt=/, " rcpt" k "=", s)
			sub(/ class=/, " class" k "=", s)
			sub(/ action=/, " action" k "=", s)
			sub(/ rule=/, " rule" k "=", s)
			sub(/ evidence=/, " evidence" k "=", s)
			printf "%s", s
		}'
	echo
}

# decision_with_rcpt LOG ADDRESS - the last decision (joined) with that recipient.
decision_with_rcpt() {
	local id
	id=$(grep -a -E "(^|: )decision-rcpt .* rcpt=$2 " "$1" | tail -n 1 |
		sed -nE 's/^.* id=([^ ]+) .*$/\1/p')
	[ -n "$id" ] || return 0
	joined_decision "$1" "$(grep -a -E "(^|: )decision .* id=$id " "$1" | tail -n 1)"
}

# as_test_user CMD... - run CMD as the daemon's user when we are root, so
# that files it creates (SQLite -wal/-shm/-journal) stay usable by the daemon.
as_test_user() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$TEST_USER" -- "$@"
	else
		"$@"
	fi
}

has_decision() { [ -n "$(decision_line "$1" "$2")" ]; }

# decision QUEUEID NAME ERE... - the decision line for QUEUEID in $LOG (the
# daemon's log) has every field: a test per ERE, matched as a whole field.
decision() {
	local qid=$1 name=$2 line re
	shift 2
	if [ -z "$qid" ]; then
		fail "$name: decision line (no queue id known)"
		return 1
	fi
	wait_for 5 has_decision "$LOG" "$qid"
	line=$(decision_line "$LOG" "$qid")
	if [ -z "$line" ]; then
		fail "$name: decision line for queue_id=$qid logged"
		return 1
	fi
	for re in "$@"; do
		like "$line" "(^| )$re( |\$)" "$name: decision line has $re"
	done
}

# miltertest_run SOCKET SCRIPT QIDPREFIX - one scenario of tests/milter
# (SCRIPT, run by run.lua) against the daemon on SOCKET; miltertest's output
# on stdout. HELPURL must be the daemon's HelpURL.
miltertest_run() {
	local dir=$top_srcdir/tests/milter sock=$1 script=$2 prefix=$3 kv defs=()
	shift 3
	for kv in "$@"; do
		defs+=(-D "$kv")
	done
	miltertest -D "socket=unix:$sock" -D "libdir=$dir" -D "helpurl=$HELPURL" \
		-D "qid_prefix=$prefix" -D "script=$dir/$script" "${defs[@]}" -s "$dir/run.lua" 2>&1
}

# miltertest_tap LABEL SOCKET SCRIPT QIDPREFIX [NAME=VALUE...] - run a
# script whose checks print "ok - X" / "not ok - X": each becomes a TAP
# line "LABEL: X" (LABEL empty: just "X"), then one saying whether the
# script ran to its end.
miltertest_tap() {
	local label=${1:+$1: } out rc line finished=
	shift
	out=$(miltertest_run "$@")
	rc=$?
	while IFS= read -r line; do
		case $line in
		"ok - "*) pass "$label${line#ok - }" ;;
		"not ok - "*) fail "$label${line#not ok - }" ;;
		done) finished=1 ;;
		"# "*) echo "$line" ;;
		"") ;;
		*) diag "$label$line" ;;
		esac
	done <<<"$out"
	if [ -n "$finished" ] && [ "$rc" -eq 0 ]; then
		pass "${label}$2 ran to its end"
	else
		fail "${label}$2 ran to its end (miltertest exit $rc)"
	fi
}

# sql DB QUERY - one query through the sqlite3 CLI.
sql() {
	as_test_user sqlite3 -batch -noheader -separator '|' "$1" "$2" 2>&1
}

# capture CMD... - run CMD with its output in fresh files: OUT and ERR are
# their names, RC its exit status.
_capture_n=0
capture() {
	_capture_n=$((_capture_n + 1))
	OUT=$TEST_TMP/out.$_capture_n
	ERR=$TEST_TMP/err.$_capture_n
	"$@" >"$OUT" 2>"$ERR"
	RC=$?
}

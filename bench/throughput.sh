#!/bin/bash
# bench/throughput.sh - what sikkermail-milter costs in mail throughput.
#
# Run (as root; Postfix, smtp-source and smtp-sink installed; the daemon
# built):
#   [top_builddir=BUILD] bash bench/throughput.sh [-n N] [-s S]
#       [-l BYTES] [-r ROUNDS] [-c CONFIGS]
#   -n N        messages per run (default 2000)
#   -s S        parallel SMTP sessions of smtp-source (default 20)
#   -l BYTES    message body size (default 4096)
#   -r ROUNDS   measured runs per configuration (default 3)
#   -c LIST     comma-separated configurations beyond the baseline
#               (default off,scan,tcp,personal)
#
# What it does: one private Postfix on 127.0.0.1 (tests/lib/postfix.sh)
# relays everything to an smtp-sink that only counts (it writes nothing to
# disk). Postfix has one smtpd listener per configuration:
#   base      no milter: the baseline
#   off       sikkermail-milter on a unix socket, DetectCPR off
#   scan      the same with DetectCPR monitor (the default): body scanned
#   tcp       as scan, but the milter on loopback TCP (inet:PORT@127.0.0.1)
#   personal  as scan, but each message comes from a file (smtp-source -F)
#             with "X-KP-Personal: yes" and a Danish text body of BYTES
#             bytes full of digits (dates, phone, account and journal
#             numbers) with one CPR number next to "CPR-nr." (a journal
#             number NNNNNN-2024 with a valid date is CPR-shaped too, so
#             the daemon finds a few): the personal path and a scanner
#             that has candidates to check
# Every milter configuration has a daemon (and database) of its own, so
# that its peak RSS is its own. smtp-source sends N messages from
# alice@kp.dk to bob@kp.dk (internal; 127.0.0.1 is a trusted network), one
# connection per message; a run lasts from its start until the sink has
# counted all N. First one short unmeasured run per configuration (it also
# checks that the milter really saw the mail), then ROUNDS rounds, the
# configurations interleaved (base off scan ... base off scan ...), so that
# a slow spell of the shared machine hits them all alike. Everything stops
# by itself: each run has a time limit, and whatever was started is
# stopped by PID at exit. All traffic stays on 127.0.0.1.
#
# How to read it: the machine is shared and noisy, so absolute msg/s mean
# little; read the RATIO column. seconds is the median of the rounds,
# msg/s = N / seconds; ratio is the median over the rounds of
# (baseline seconds / this configuration's seconds) in the same round:
# 1.00 costs nothing, 0.60 means the milter leaves 60 % of the throughput
# Postfix has without it. "runs" lists each round's seconds: when they
# spread widely, run again on a quieter machine (the load average at the
# start is printed). RSS is the daemon's VmRSS after start-up and its
# VmHWM (peak) at the end, over all its runs.
# Exit status: 0 when every run completed, 1 otherwise, 2 for bad usage.

N=2000
SESSIONS=20
LEN=4096
ROUNDS=3
CONFIG_LIST=off,scan,tcp,personal

usage() {
	sed -n '4,13p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
}

while getopts n:s:l:r:c:h opt; do
	case $opt in
	n) N=$OPTARG ;;
	s) SESSIONS=$OPTARG ;;
	l) LEN=$OPTARG ;;
	r) ROUNDS=$OPTARG ;;
	c) CONFIG_LIST=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage
for v in "$N" "$SESSIONS" "$LEN" "$ROUNDS"; do
	[[ $v =~ ^[1-9][0-9]*$ ]] || { echo "throughput.sh: not a positive number: $v" >&2; usage; }
done

_bench_dir=$(cd "$(dirname "$0")" && pwd)
# The build contrib/quickstart.sh makes, unless told otherwise.
: "${top_srcdir:=$(dirname "$_bench_dir")}"
: "${top_builddir:=$top_srcdir/build}"
. "$_bench_dir/../tests/lib/common.sh"
. "$_bench_dir/../tests/lib/postfix.sh"
. "$_bench_dir/../tests/lib/e2e.sh"

die() {
	echo "throughput.sh: $*" >&2
	exit 1
}

declare -A DESC=(
	[base]="no milter (baseline)"
	[off]="unix socket, DetectCPR off"
	[scan]="unix socket, DetectCPR monitor"
	[tcp]="loopback TCP, DetectCPR monitor"
	[personal]="unix, monitor, personal + digits"
)
CONFIGS=(base)
IFS=, read -r -a _want <<<"$CONFIG_LIST"
for c in "${_want[@]}"; do
	if [ -z "${DESC[$c]:-}" ] || [ "$c" = base ]; then
		die "unknown configuration '$c' (off, scan, tcp, personal)"
	fi
	CONFIGS+=("$c")
done

[ "$(id -u)" -eq 0 ] || die "must run as root (a private Postfix instance)"
for cmd in "$MILTER" postfix postconf smtp-source smtp-sink timeout ss; do
	if [[ $cmd == */* ]]; then
		[ -x "$cmd" ] || die "$cmd not built"
	else
		command -v "$cmd" >/dev/null || die "$cmd not found"
	fi
done

SUBJECT="Throughput test"
WARMUP=$((N < 200 ? N : 200))
declare -A PORT MLOG SECS RATIOS RSS0

# ------------------------------------------------------------ the sink

# Replaces postfix.sh's sink: this one only counts. With -c smtp-sink
# writes "sess=A quit=B mesg=C" and a CR whenever a session ends or a
# message is received; the last record holds the count.
_sink_start() {
	smtp-sink -u postfix -c 127.0.0.1:"$SINK_PORT" 1000 \
		>"$TEST_TMP/sink.count" 2>"$TEST_TMP/sink.log" </dev/null &
	SINK_PID=$!
	track_pid "$SINK_PID"
	wait_for 10 port_in_use "$SINK_PORT" || { diag_file "$TEST_TMP/sink.log"; return 1; }
}

sink_mesg() {
	local n
	n=$(tail -c 120 "$TEST_TMP/sink.count" | tr '\r' '\n' | grep -o 'mesg=[0-9]*' | tail -n 1)
	echo "${n#mesg=}"
}

# ------------------------------------------------------------ the messages

# personal_message FILE - headers as smtp-source writes them plus the
# personal flag and MIME, and a body of LEN bytes (LF line ends: smtp-source
# -F sends each line with CRLF).
personal_message() {
	local i=0 size=0 line
	local -a text=(
		"Vedr. sag nr. 2024-0%05d: mødet den 12.03.2024 kl. 10:30 i lokale 2.14 er flyttet."
		"Ring på tlf. 33 12 45 67 eller 2%07d, hverdage 9-15; fax 3312 4568."
		"Beløbet kr. 12.345,00 blev overført den 01-02-2024 til konto 1234-0%09d."
		"Journalnummer %06d-2024, bilag 3 af 7, side 14, version 1.2.3 af 2023-11-30."
	)
	{
		printf 'From: <alice@kp.dk>\nTo: <bob@kp.dk>\nSubject: %s\n' "$SUBJECT"
		printf 'X-KP-Personal: yes\nMIME-Version: 1.0\n'
		printf 'Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n'
		printf 'Hej Bob,\n\nBorgerens CPR-nr. er 010190-1238, jf. vores telefonsamtale.\n'
		size=80
		while [ "$size" -lt "$LEN" ]; do
			# shellcheck disable=SC2059
			printf -v line "${text[i % 4]}" $((i * 7919 % 99991))
			printf '%s\n' "$line"
			size=$((size + ${#line} + 1))
			i=$((i + 1))
		done
	} >"$1"
}

source_args() {		# source_args CONFIG - smtp-source's message options
	if [ "$1" = personal ]; then
		SRC_ARGS=(-F "$TEST_TMP/personal.eml")
	else
		SRC_ARGS=(-l "$LEN" -S "$SUBJECT")
	fi
}

# ------------------------------------------------------------ the milters

# milter_start_tcp CONF PORT LOG - milter_start for a daemon on loopback TCP.
milter_start_tcp() {
	"$MILTER" -f -c "$1" >>"$3" 2>&1 </dev/null &
	MILTER_PID=$!
	track_pid "$MILTER_PID"
	wait_for 10 port_in_use "$2"
	alive "$MILTER_PID" && port_in_use "$2" && return 0
	diag_file "$3"
	return 1
}

decisions() { grep -a -c -E '(^|: )decision ' "$M/$1.log"; }
decided() { [ "$(decisions "$1")" -ge "$2" ]; }	# decided CONFIG COUNT

rss() {			# rss PID FIELD - VmRSS or VmHWM in MiB
	awk -v f="$2:" '$1 == f { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null
}

start_milters() {
	local c mport
	for c in "${CONFIGS[@]}"; do
		case $c in
		base) PORT[base]=; continue ;;
		off) conf off "DetectCPR off" "Database $M/db/off.db" ;;
		tcp)
			pick_port mport || return 1
			conf tcp "Socket inet:$mport@127.0.0.1" "DetectCPR monitor" \
				"Database $M/db/tcp.db" ;;
		*) conf "$c" "DetectCPR monitor" "Database $M/db/$c.db" ;;
		esac
		give_to_test_user "$M"
		MLOG[$c]=$M/$c.log
		if [ "$c" = tcp ]; then
			milter_start_tcp "$M/tcp.conf" "$mport" "${MLOG[$c]}" || return 1
			TCP_SPEC=inet:127.0.0.1:$mport
			pf_listener_nomilter tcp || return 1
		else
			milter_start "$M/$c.conf" "$M/$c.sock" "${MLOG[$c]}" || return 1
			pf_listener "$c" "$M/$c.sock" || return 1
		fi
		MPID[$c]=$MILTER_PID
		PORT[$c]=${PF_PORTS[$c]}
	done
}

# start_postfix - postfix.sh's instance with no milter on its main
# listener (the baseline); the tcp listener is written without milters by
# pf_listener_nomilter and then given the TCP milter.
start_postfix() {
	pf_start "" || return 1
	PORT[base]=$PF_PORT
	[ -n "${PORT[tcp]:-}" ] || return 0
	postconf -c "$PF_DIR" -P "127.0.0.1:${PORT[tcp]}/inet/smtpd_milters=$TCP_SPEC" || return 1
	postfix -c "$PF_DIR" reload >/dev/null 2>&1 || return 1
	sleep 1
	postconf -c "$PF_DIR" -P | grep -q -F "127.0.0.1:${PORT[tcp]}/inet/smtpd_milters = $TCP_SPEC"
}

# ------------------------------------------------------------ one run

# run_once CONFIG COUNT - COUNT messages to CONFIG's listener; RUN_SECS is
# the time until the sink has counted them all. 1 when smtp-source failed
# or the time limit passed.
run_once() {
	local c=$1 count=$2 target t0 t1 spid rc=0 limit deadline got
	limit=$((60 + count / 10))
	source_args "$c"
	target=$(($(sink_mesg) + count))
	t0=$(date +%s.%N)
	timeout "$limit" smtp-source -s "$SESSIONS" -m "$count" "${SRC_ARGS[@]}" \
		-f alice@kp.dk -t bob@kp.dk "127.0.0.1:${PORT[$c]}" \
		>"$TEST_TMP/source.$c.log" 2>&1 </dev/null &
	spid=$!
	track_pid "$spid"
	deadline=$((SECONDS + limit))
	while :; do
		got=$(sink_mesg)
		[ "${got:-0}" -ge "$target" ] && break
		if [ -n "$spid" ] && ! kill -0 "$spid" 2>/dev/null; then
			wait "$spid"
			rc=$?
			untrack_pid "$spid"
			spid=
			[ "$rc" -eq 0 ] || { echo "$c: smtp-source failed (exit $rc)" >&2; break; }
		fi
		[ "$SECONDS" -lt "$deadline" ] || { echo "$c: time limit ${limit}s passed" >&2; break; }
		sleep 0.05
	done
	t1=$(date +%s.%N)
	if [ -n "$spid" ]; then
		wait "$spid"
		rc=$?
		untrack_pid "$spid"
	fi
	if [ "$rc" -ne 0 ] || [ "${got:-0}" -lt "$target" ]; then
		echo "$c: ${got:-0} of $target messages at the sink" >&2
		tail -n 5 "$TEST_TMP/source.$c.log" >&2
		tail -n 5 "$PF_LOG" >&2
		return 1
	fi
	RUN_SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	pf_wait_idle 30
	sleep 0.5
}

# warm_up CONFIG - a short run; the milter must have decided every message.
warm_up() {
	local c=$1 before=0 after
	[ "$c" = base ] || before=$(decisions "$c")
	run_once "$c" "$WARMUP" || return 1
	[ "$c" = base ] && return 0
	wait_for 5 decided "$c" $((before + WARMUP))
	after=$(decisions "$c")
	[ "$after" -ge $((before + WARMUP)) ] && return 0
	echo "$c: the milter logged $((after - before)) decisions for $WARMUP messages" >&2
	tail -n 5 "${MLOG[$c]}" >&2
	return 1
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 }
	END { if (NR % 2) printf "%.3f", v[(NR + 1) / 2];
	      else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ------------------------------------------------------------ main

echo "# sikkermail-milter throughput: $("$MILTER" -V 2>&1 | head -n 1), Postfix $(postconf -d -h mail_version)"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load average$(uptime | sed 's/.*load average//')"
echo "# $N messages per run, $SESSIONS sessions, $LEN-byte bodies, $ROUNDS rounds (+1 warm-up of $WARMUP)"

start_milters || die "a milter did not start"
for c in "${CONFIGS[@]}"; do
	[ "$c" = base ] || RSS0[$c]=$(rss "${MPID[$c]}" VmRSS)
done
start_postfix || { diag_file "$PF_LOG"; die "Postfix did not start"; }
personal_message "$TEST_TMP/personal.eml"

for c in "${CONFIGS[@]}"; do
	warm_up "$c" || die "warm-up of $c failed"
done
for ((r = 1; r <= ROUNDS; r++)); do
	for c in "${CONFIGS[@]}"; do
		run_once "$c" "$N" || die "round $r of $c failed"
		SECS[$c]="${SECS[$c]:-} $RUN_SECS"
		printf '# round %d %-9s %7.3f s\n' "$r" "$c" "$RUN_SECS"
	done
	# the ratio of this round: same moment, same machine state
	base_s=$(echo "${SECS[base]}" | awk '{ print $NF }')
	for c in "${CONFIGS[@]}"; do
		cur=$(echo "${SECS[$c]}" | awk '{ print $NF }')
		RATIOS[$c]="${RATIOS[$c]:-} $(awk -v b="$base_s" -v s="$cur" 'BEGIN { printf "%.4f", b / s }')"
	done
done

echo
printf '%-9s %-33s %8s %8s %8s %6s  %-23s %s\n' config "" messages seconds msg/s ratio \
	"runs (s)" "RSS MiB start/peak"
for c in "${CONFIGS[@]}"; do
	med=$(median <<<"${SECS[$c]}")
	rate=$(awk -v n="$N" -v s="$med" 'BEGIN { printf "%.0f", n / s }')
	ratio=$(median <<<"${RATIOS[$c]}")
	mem=-
	[ "$c" = base ] || mem="${RSS0[$c]}/$(rss "${MPID[$c]}" VmHWM)"
	printf '%-9s %-33s %8d %8.2f %8s %6.2f  %-23s %s\n' "$c" "${DESC[$c]}" "$N" "$med" \
		"$rate" "$ratio" "${SECS[$c]# }" "$mem"
done
exit 0

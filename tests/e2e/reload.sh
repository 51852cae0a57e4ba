#!/bin/bash
# e2e/reload.sh - reload under load: 500 personal messages for gmail.com,
# 10 at a time, through a private Postfix, while the configuration is
# switched between Mode enforce and Mode monitor five times, alternately
# with SIGUSR1 and SIGHUP. Every message must have been decided whole
# under one configuration: its decision line names the configuration's
# generation, the generation's mode (from the reload lines) is the mode
# on the decision line, and what the sender saw matches that mode (550 in
# enforce, 250 and delivered in monitor). Then a broken configuration is
# refused with one log line while the daemon keeps running on the old one,
# and a burst of signals neither kills it nor loses a reload.

. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/postfix.sh"
. "$(dirname "$0")/../lib/e2e.sh"

e2e_need
TOTAL=${RELOAD_MESSAGES:-500}
PARALLEL=10

CONF_DEFAULTS=("PidFile $M/main.pid")
conf main "Mode enforce"
give_to_test_user "$M"
milters_start main
LOG=$M/main.log
must "private Postfix starts" pf_start "$M/main.sock"
pass "milter, Postfix and smtp-sink running (smtpd on 127.0.0.1:$PF_PORT)"

# set_mode MODE SIGNAL - rewrite the configuration and tell the daemon
# (SIGNAL "ctl": with sikkermail-ctl reload, which finds it by its pid file).
set_mode() {
	conf main "Mode $1"
	if [ "$2" = ctl ]; then
		"$CTL" -c "$M/main.conf" reload >>"$TEST_TMP/ctl-reload.out" 2>&1 ||
			diag "sikkermail-ctl reload: $(cat "$TEST_TMP/ctl-reload.out")"
	else
		kill -"$2" "${MPID[main]}"
	fi
}

# one N - message N: personal, for gmail; the transcript in $OUTDIR/N.
OUTDIR=$TEST_TMP/out
mkdir -p "$OUTDIR"
one() {
	local n=$1
	pf_message "$TEST_TMP/m$n.eml" "r$n" "From: Alice <alice@kp.dk>" "To: <x$n@gmail.com>" \
		"Subject: reload $n" "X-KP-Personal: yes"
	swaks --server 127.0.0.1 --port "$PF_PORT" --helo client.sikkermail.test --timeout 60 \
		--from alice@kp.dk --to "x$n@gmail.com" --data "@$TEST_TMP/m$n.eml" \
		>"$OUTDIR/$n" 2>&1
	rm -f "$TEST_TMP/m$n.eml"
}

# The load, in the background.
(
	for ((n = 1; n <= TOTAL; n++)); do
		one "$n" &
		while [ "$(jobs -rp | wc -l)" -ge "$PARALLEL" ]; do
			wait -n
		done
	done
	wait
) &
load=$!

# Five switches while it runs, alternately SIGUSR1 and SIGHUP.
modes=(monitor enforce monitor enforce monitor)
signals=(USR1 HUP ctl HUP USR1)
for i in 0 1 2 3 4; do
	# wait until a fifth more of the messages have been answered
	want=$(((i + 1) * TOTAL / 6))
	wait_for 120 sh -c "[ \$(ls '$OUTDIR' | wc -l) -ge $want ]"
	set_mode "${modes[$i]}" "${signals[$i]}"
	ok "switch $((i + 1)) to ${modes[$i]} (${signals[$i]}): the daemon is alive" \
		alive "${MPID[main]}"
done
wait "$load"
ok "the daemon is alive after the load" alive "${MPID[main]}"

accepted_reloads=$(grep -a -c 'reload accepted' "$LOG")
is "$accepted_reloads" 5 "five reloads accepted"

# generation -> mode, from the start (1, enforce) and the reload lines.
declare -A GEN_MODE=([1]=enforce)
while read -r g m; do
	GEN_MODE[$g]=$m
done < <(grep -a 'reload accepted' "$LOG" |
	sed -n 's/.*(generation \([0-9]*\), \([a-z]*\) mode).*/\1 \2/p')
is "${#GEN_MODE[@]}" 6 "six generations: the first and one per reload"

pf_wait_idle 60
declare -A SEEN_GEN
bad_mode=0 bad_outcome=0 undecided=0 lost=0 leaked=0 delivered=0 refused=0
for ((n = 1; n <= TOTAL; n++)); do
	out=$(cat "$OUTDIR/$n")
	qid=
	if [[ $out =~ queued\ as\ ([0-9A-Za-z]+) ]]; then
		qid=${BASH_REMATCH[1]}
		delivered=$((delivered + 1))
	elif [[ $out =~ Ref\ ([0-9A-Za-z]+) ]]; then
		qid=${BASH_REMATCH[1]}
		refused=$((refused + 1))
	fi
	line=$( [ -n "$qid" ] && decision_line "$LOG" "$qid")
	if [ -z "$line" ]; then
		undecided=$((undecided + 1))
		[ $undecided -le 3 ] && diag "message $n: no decision (qid '$qid'): $(tail -n 3 "$OUTDIR/$n")"
		continue
	fi
	[[ $line =~ \ mode=([a-z]+)\  ]] && mode=${BASH_REMATCH[1]}
	[[ $line =~ \ generation=([0-9]+)\  ]] && gen=${BASH_REMATCH[1]}
	SEEN_GEN[$gen]=1
	if [ "${GEN_MODE[$gen]:-}" != "$mode" ]; then
		bad_mode=$((bad_mode + 1))
		diag "message $n: mode=$mode but generation $gen was ${GEN_MODE[$gen]:-unknown}"
	fi
	case $mode in
	enforce) [[ $out =~ \<\*\*\ 550 ]] && [[ $line =~ \ applied=reject\  ]] ||
		{ bad_outcome=$((bad_outcome + 1)); diag "message $n: enforce but not refused"; } ;;
	monitor) [[ $out =~ queued\ as ]] && [[ $line =~ \ applied=deliver\  ]] ||
		{ bad_outcome=$((bad_outcome + 1)); diag "message $n: monitor but not accepted"; } ;;
	esac
done
# what arrived at the sink: exactly the monitor-mode messages, nothing refused
arrived=$(grep -l -a '^X-Test-Id: r' "$SINK_DIR"/* 2>/dev/null | wc -l)
leaked=$(grep -h -a '^X-Sikkermail:' "$SINK_DIR"/* 2>/dev/null | grep -v -c 'monitor=reject')
lost=$((delivered - arrived))
diag "sent $TOTAL: accepted $delivered (monitor), refused $refused (enforce), arrived $arrived, lost $lost, leaked $leaked"
is "$((delivered + refused))" "$TOTAL" "every message was answered 250 or 550"
is "$undecided" 0 "every message has a decision line"
is "$bad_mode" 0 "every decision's mode is its generation's mode"
is "$bad_outcome" 0 "every sender saw what its decision's mode does"
is "${#SEEN_GEN[@]}" 6 "messages were decided under each of the six configurations"
is "$lost" 0 "lost = 0"
is "$leaked" 0 "leaked = 0 (nothing delivered without monitor mode's tag)"

# A broken configuration: refused, one line says why, the old one runs on.
conf main "Mode monitor" "Mode sometimes"
kill -HUP "${MPID[main]}"
ok "broken configuration: refused in one log line" \
	wait_for 10 grep -a -q 'reload refused, the running configuration stays: .*main\.conf:[0-9]*: Mode' "$LOG"
ok "broken configuration: the daemon is alive" alive "${MPID[main]}"
one broken
like "$(cat "$OUTDIR/broken")" 'queued as' "broken configuration: monitor mode still in force"

# A burst of every signal an administrator might send: nothing kills it.
conf main "Mode enforce"
before=$(grep -a -c 'reload accepted' "$LOG")
for sig in HUP USR1 USR2 HUP HUP USR1 USR1 HUP; do
	kill -"$sig" "${MPID[main]}"
done
ok "a burst of HUP, USR1 and USR2: alive" alive "${MPID[main]}"
ok "a burst of signals: at least one more reload accepted" \
	wait_for 10 sh -c "[ \$(grep -a -c 'reload accepted' '$LOG') -gt $before ]"
sleep 1
one after
like "$(cat "$OUTDIR/after")" '<\*\* 550' "after the burst: the last configuration (enforce) is in force"

e2e_stop main
done_testing

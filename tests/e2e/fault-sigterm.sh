#!/bin/bash
# e2e/fault-sigterm.sh - the daemon stopped under load (SPEC sections 8
# and 9): 240 messages (180 personal) go through a private Postfix, 10 at a
# time; after a quarter the daemon gets SIGTERM and, once it has exited, a
# new one is started; after half, SIGKILL and a new start (the stale socket
# taken over, as an init system would restart it).
#
# The messages go, in turn, to valid@example.dk (a certificate in a
# private slapd: encrypted copy, original discarded), bob@kp.dk (internal:
# delivered with the tag), x<N>@gmail.com (personal: refused) and
# y<N>@gmail.com (not personal: delivered with the tag).
#
# Checks: SIGTERM lets the decisions under way finish (exit 0, nothing
# left "under way", each decision line agrees with what its sender was
# told) and what Postfix could not hand to a filter is tempfailed; after
# SIGKILL the new daemon serves at once; every message answered; lost = 0,
# leaked = 0 (a message to valid@ or a personal one to gmail.com in
# clear); none half-modified (each one that arrived in clear carries
# exactly one tag, no recipient got both an encrypted copy and the
# original, every accepted encrypted message's copy arrived).
# (SIGTERM and an immediate restart without load, and SIGKILL with its
# stale socket and pid file, are in lifecycle.sh.)

. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/postfix.sh"
. "$(dirname "$0")/../lib/e2e.sh"
. "$(dirname "$0")/../lib/slapd.sh"
. "$(dirname "$0")/../lib/load.sh"

e2e_need openssl ldapsearch
need "$SLAPD_BIN" "slapd not installed (Debian: slapd)"
need "$SLAPADD_BIN" "slapadd not installed (Debian: slapd)"

TOTAL=${FAULT_MESSAGES:-240}
PARALLEL=10
MSG_SUBJECT=fault-sigterm
T0=$SECONDS

directory_start

pf_listener_nomilter reinject
conf main "LDAPURI $SLAPD_URI" "LDAPBase c=DK" "LDAPTimeout 5" \
	"TrustedCAFile $CERTS/trust.pem" "SecureMailbox sikker@kp.dk $MB/sikker.key $MB/sikker.pem" \
	"DefaultSecureMailbox sikker@kp.dk" "Reinject smtp:127.0.0.1:${PF_PORTS[reinject]}"
give_to_test_user "$M"
milters_start main
LOG=$M/main.log
must "private Postfix starts" pf_start "$M/main.sock"
pass "slapd, milter, Postfix and smtp-sink running"

for ((n = 1; n <= TOTAL; n++)); do
	case $((n % 4)) in
	1) load_plan "$n" valid@example.dk personal secure ;;
	2) load_plan "$n" bob@kp.dk personal clear ;;
	3) load_plan "$n" "x$n@gmail.com" personal secure ;;
	0) load_plan "$n" "y$n@gmail.com" plain secure ;;
	esac
done
diag "sending $TOTAL messages ($((TOTAL * 3 / 4)) personal), $PARALLEL at a time"
load_start "$PARALLEL"

# ------------------------------------------------------------ SIGTERM

load_wait $((TOTAL / 4))
first=${MPID[main]}
t0=$SECONDS
diag "after $(load_answered) answered: SIGTERM to the daemon (pid $first)"
stop_pid "$first" 60
diag "it exited after $((SECONDS - t0)) s, status $STOP_STATUS; $(load_answered) answered by then"
is "$STOP_STATUS" 0 "SIGTERM under load: the daemon exits 0"
like "$(grep -a -c 'SIGTERM: stopping' "$LOG")" '^1$' "SIGTERM under load: 'stopping' logged"
unlike "$(cat "$LOG")" 'still under way' "SIGTERM under load: no decision left under way"
milters_start main
startmark=$(wc -l <"$LOG")
diag "after $(load_answered) answered: a new daemon (pid ${MPID[main]})"

# ------------------------------------------------------------ SIGKILL

load_wait $((TOTAL / 2))
second=${MPID[main]}
diag "after $(load_answered) answered: SIGKILL to the daemon (pid $second)"
killmark=$(wc -l <"$LOG")
kill -KILL "$second"
wait "$second" 2>/dev/null
untrack_pid "$second"
ok "SIGKILL: the socket is left behind" test -S "$M/main.sock"
milters_start main
diag "after $(load_answered) answered: a new daemon (pid ${MPID[main]})"

load_finish
diag "all $TOTAL answered after $((SECONDS - T0)) s"
ok "the last daemon is running" alive "${MPID[main]}"

# ------------------------------------------------------------ what became of them

pf_wait_idle 60
sleep 1
load_tally
load_counts "SIGTERM and SIGKILL under load"

declare -A k_sent k_ok
bad=0 disagree=0 undecided_accepted=0 copy_missing=0
for n in "${L_ORDER[@]}"; do
	rcpt=${L_RCPT[$n]} line=" ${O_LINE[$n]} " r=${O_REPLY[$n]}
	case $rcpt in
	valid@*) kind=encrypt ;;
	bob@*) kind=internal ;;
	x*) kind=personal-gmail ;;
	y*) kind=plain ;;
	esac
	k_sent[$kind]=$((${k_sent[$kind]:-0} + 1))
	k_ok[$kind/$r]=$((${k_ok[$kind/$r]:-0} + 1))
	# what the filter decided and what the sender was told agree
	if [[ $line =~ \ applied=([a-z]+)\  ]]; then
		case ${BASH_REMATCH[1]}/$r in
		deliver/accepted | encrypt/accepted | reject/rejected | tempfail/tempfailed) ;;
		*)	# SIGKILL between a decision and its reply: the MTA
			# tempfails what the line says was done; only the
			# killed daemon may show that
			at=$(grep -a -n -F "queue_id=${O_QID[$n]} " "$LOG" | grep -a ' decision ' |
				tail -n 1 | cut -d: -f1)
			if [ "$r" = tempfailed ] && [ "${at:-0}" -gt "$startmark" ] &&
				[ "${at:-0}" -le "$killmark" ]; then
				diag "message $n ($kind): decided by the daemon that got SIGKILL, then tempfailed"
			else
				disagree=$((disagree + 1))
				[ $disagree -le 5 ] && diag "message $n ($kind): told $r, decided: ${O_LINE[$n]}"
			fi ;;
		esac
	elif [ "$r" = accepted ]; then
		undecided_accepted=$((undecided_accepted + 1))
		[ $undecided_accepted -le 5 ] && diag "message $n ($kind): accepted without a decision line"
	fi
	[ "$kind" = encrypt ] && [ "$r" = accepted ] && [ "${O_COPY[$n]}" != 1 ] &&
		copy_missing=$((copy_missing + 1))
	# refused or delivered as its kind says, or tempfailed (a stop)
	case $kind/$r in
	encrypt/accepted | internal/accepted | plain/accepted | personal-gmail/rejected | */tempfailed) ;;
	*) bad=$((bad + 1))
		[ $bad -le 5 ] && diag "message $n ($kind, $rcpt): $r: ${O_LINE[$n]}" ;;
	esac
done
for kind in encrypt internal personal-gmail plain; do
	diag "  $kind: sent ${k_sent[$kind]:-0}, accepted ${k_ok[$kind/accepted]:-0}," \
		"rejected ${k_ok[$kind/rejected]:-0}, tempfailed ${k_ok[$kind/tempfailed]:-0}"
done
is "$bad" 0 "every message had its kind's outcome, or was tempfailed"
like "$T_TEMPFAILED" '^[1-9]' "some messages were tempfailed while no daemon answered"
is "$undecided_accepted" 0 "no message accepted without a decision (Postfix tempfails what no filter saw)"
is "$copy_missing" 0 "every accepted message to valid@ had its encrypted copy delivered"
is "$disagree" 0 "every decision line agrees with what its sender was told"
load_count_tests "SIGTERM and SIGKILL"
diag "took $((SECONDS - T0)) s"

term_or_backtrace "${MPID[main]}"
e2e_stop main
done_testing

# load.sh - many messages through the private Postfix, some at a time, while
# a test breaks something, and the count of what became of each (source
# common.sh, postfix.sh and e2e.sh first).
#
# Exports:
#   load_plan N RCPT personal|plain clear|secure
#                           add message N to the plan: to RCPT, with
#                           X-KP-Personal yes or no; "secure" when a
#                           personal message to RCPT must never arrive in
#                           clear (the recipient needs encryption or a
#                           refusal: anything but internal or tunnel)
#   load_start PARALLEL     send the planned messages in the background,
#                           PARALLEL at a time, each with swaks to PF_PORT
#                           (or SEND_PORT); sets LOAD_PID
#   load_answered           how many have had their SMTP session end
#   load_wait COUNT [SECS]  wait until COUNT have (default 180 s)
#   load_finish             wait for all of them
#   load_tally              what became of each message, from the sender's
#                           replies, the daemon's log ($LOG) and what the
#                           sink captured. Sets, per message N: O_REPLY[N]
#                           (accepted, tempfailed, rejected, unanswered),
#                           O_QID[N] (Postfix's queue id, or the "Ref" of a
#                           refusal), O_LINE[N] (the decision line, if any),
#                           O_CLEAR[N] (1: the message arrived in clear),
#                           O_COPY[N] (1: its encrypted copy arrived); and
#                           the counts T_SENT, T_ACCEPTED, T_TEMPFAILED,
#                           T_REJECTED, T_UNANSWERED, T_DELIVERED (accepted
#                           and arrived, in clear or as its encrypted copy),
#                           T_LOST (accepted, not delivered), T_LEAKED (a
#                           personal "secure" message that arrived in
#                           clear), T_UNTAGGED (arrived in clear without
#                           exactly one X-Sikkermail tag: not filtered, or
#                           changed only in part), T_DOUBLE (a recipient got
#                           both the clear original and an encrypted copy)
#   load_counts WHAT        one diagnostic line with the counts
#   term_or_backtrace PID   SIGTERM; a hang shows each thread's stack
#   load_count_tests        the tests every fault script makes on the
#                           counts: every message answered, lost = 0,
#                           leaked = 0, none untagged, none both ways
#
# Messages are tagged X-Test-Id: L<N> (pf_message); the transcripts are in
# $LOAD_DIR/N.

LOAD_DIR=$TEST_TMP/load
mkdir -p "$LOAD_DIR"
declare -A L_RCPT L_KIND L_NEED O_REPLY O_QID O_LINE O_CLEAR O_COPY
L_ORDER=()

load_plan() {
	L_RCPT[$1]=$2
	L_KIND[$1]=$3
	L_NEED[$1]=$4
	L_ORDER+=("$1")
}

# _load_one N - one message of the plan; its transcript in $LOAD_DIR/N.out,
# then renamed to $LOAD_DIR/N when the session is over.
_load_one() {
	local n=$1 flag=no
	[ "${L_KIND[$n]}" = personal ] && flag=yes
	pf_message "$LOAD_DIR/$n.eml" "L$n" "From: Alice <alice@kp.dk>" "To: <${L_RCPT[$n]}>" \
		"Subject: $MSG_SUBJECT L$n" "X-KP-Personal: $flag"
	swaks --server 127.0.0.1 --port "${SEND_PORT:-$PF_PORT}" --helo client.sikkermail.test \
		--timeout 120 --from alice@kp.dk --to "${L_RCPT[$n]}" --data "@$LOAD_DIR/$n.eml" \
		>"$LOAD_DIR/$n.out" 2>&1
	mv -f "$LOAD_DIR/$n.out" "$LOAD_DIR/$n"
	rm -f "$LOAD_DIR/$n.eml"
}

load_start() {
	local parallel=$1
	(
		for n in "${L_ORDER[@]}"; do
			_load_one "$n" &
			while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do
				wait -n
			done
		done
		wait
	) &
	LOAD_PID=$!
	track_pid "$LOAD_PID"
}

load_answered() {
	find "$LOAD_DIR" -maxdepth 1 -type f -name '[0-9]*' ! -name '*.*' | wc -l
}

_load_at_least() { [ "$(load_answered)" -ge "$1" ]; }

load_wait() {
	wait_for "${2:-180}" _load_at_least "$1"
}

load_finish() {
	wait "$LOAD_PID"
	untrack_pid "$LOAD_PID"
}

# _sink_index - one line per captured transaction: "TESTID TAGS MESSAGEID"
# (TAGS: how many X-Sikkermail headers; "-" for a missing field).
_sink_index() {
	local f
	find "$SINK_DIR" -type f -print0 | xargs -0 -r awk '
		FNR == 1 { if (NR > 1) out(); id = "-"; mid = "-"; tags = 0; inhdr = 1 }
		!inhdr { next }
		{ sub(/\r$/, "") }
		/^$/ { inhdr = 0; next }
		tolower($0) ~ /^x-test-id:/ { id = $2 }
		tolower($0) ~ /^x-sikkermail:/ { tags++ }
		tolower($0) ~ /^message-id:/ { mid = $2 }
		function out() { print id, tags, mid }
		END { if (NR > 0) out() }'
}

load_tally() {
	local n out qid line copy id tags mid
	local -A clear_tags copy_ids arrived_ids
	T_SENT=0 T_ACCEPTED=0 T_TEMPFAILED=0 T_REJECTED=0 T_UNANSWERED=0
	T_DELIVERED=0 T_LOST=0 T_LEAKED=0 T_UNTAGGED=0 T_DOUBLE=0
	while read -r id tags mid; do
		[ "$mid" != - ] && arrived_ids[$mid]=1
		[[ $id == L* ]] || continue
		# a second arrival of one message shows as "2 1"
		clear_tags[$id]="${clear_tags[$id]:+${clear_tags[$id]} }$tags"
	done < <(_sink_index)
	while read -r qid id; do
		copy_ids[$qid]=$id
	done < <(grep -a -o '[0-9A-Za-z]*: encrypted copy <[^>]*> queued' "$LOG" |
		sed 's/: encrypted copy / /; s/ queued$//')
	for n in "${L_ORDER[@]}"; do
		T_SENT=$((T_SENT + 1))
		out=$(cat "$LOAD_DIR/$n" 2>/dev/null)
		qid= line=
		if [[ $out =~ queued\ as\ ([0-9A-Za-z]+) ]]; then
			O_REPLY[$n]=accepted
			qid=${BASH_REMATCH[1]}
		elif [[ $out =~ \<\*\*\ +5[0-9][0-9] ]]; then
			O_REPLY[$n]=rejected
		elif [[ $out =~ \<\*\*\ +4[0-9][0-9] ]]; then
			O_REPLY[$n]=tempfailed
		else
			O_REPLY[$n]=unanswered
		fi
		[ -z "$qid" ] && [[ $out =~ Ref\ ([0-9A-Za-z]+) ]] && qid=${BASH_REMATCH[1]}
		[ -n "$qid" ] && line=$(decision_line "$LOG" "$qid")
		O_QID[$n]=$qid
		O_LINE[$n]=$line
		O_CLEAR[$n]=0
		O_COPY[$n]=0
		[ -n "${clear_tags[L$n]:-}" ] && O_CLEAR[$n]=1
		copy=
		[ -n "$qid" ] && copy=${copy_ids[$qid]:-}
		[ -n "$copy" ] && [ -n "${arrived_ids[$copy]:-}" ] && O_COPY[$n]=1
		case ${O_REPLY[$n]} in
		accepted) T_ACCEPTED=$((T_ACCEPTED + 1)) ;;
		tempfailed) T_TEMPFAILED=$((T_TEMPFAILED + 1)) ;;
		rejected) T_REJECTED=$((T_REJECTED + 1)) ;;
		*) T_UNANSWERED=$((T_UNANSWERED + 1)) ;;
		esac
		if [ "${O_REPLY[$n]}" = accepted ]; then
			if [ "${O_CLEAR[$n]}" = 1 ] || [ "${O_COPY[$n]}" = 1 ]; then
				T_DELIVERED=$((T_DELIVERED + 1))
			else
				T_LOST=$((T_LOST + 1))
				[ "$T_LOST" -le 5 ] && diag "lost: message $n to ${L_RCPT[$n]} (queue id $qid)"
			fi
		fi
		if [ "${O_CLEAR[$n]}" = 1 ] && [ "${L_KIND[$n]}" = personal ] &&
			[ "${L_NEED[$n]}" = secure ]; then
			T_LEAKED=$((T_LEAKED + 1))
			[ "$T_LEAKED" -le 5 ] && diag "leaked: message $n to ${L_RCPT[$n]}: ${O_REPLY[$n]}; $line"
		fi
		if [ "${O_CLEAR[$n]}" = 1 ] && [ "${clear_tags[L$n]}" != 1 ]; then
			T_UNTAGGED=$((T_UNTAGGED + 1))
			[ "$T_UNTAGGED" -le 5 ] &&
				diag "message $n arrived with X-Sikkermail tag counts '${clear_tags[L$n]}'"
		fi
		if [ "${O_CLEAR[$n]}" = 1 ] && [ "${O_COPY[$n]}" = 1 ]; then
			T_DOUBLE=$((T_DOUBLE + 1))
		fi
	done
}

load_counts() {
	diag "$1: sent $T_SENT, accepted $T_ACCEPTED, tempfailed $T_TEMPFAILED," \
		"rejected $T_REJECTED, unanswered $T_UNANSWERED, delivered $T_DELIVERED," \
		"lost $T_LOST, leaked $T_LEAKED"
}

load_count_tests() {
	local what=$1
	is "$T_UNANSWERED" 0 "$what: every message answered (250, 4xx or 5xx)"
	is "$((T_ACCEPTED + T_TEMPFAILED + T_REJECTED))" "$T_SENT" "$what: accepted + tempfailed + rejected = sent"
	is "$T_LOST" 0 "$what: lost = 0 (accepted, and nothing arrived)"
	is "$T_LEAKED" 0 "$what: leaked = 0 (personal, needing more than clear delivery, arrived in clear)"
	is "$T_UNTAGGED" 0 "$what: every message that arrived carries exactly one X-Sikkermail tag"
	is "$T_DOUBLE" 0 "$what: no recipient got both the clear original and an encrypted copy"
}

# term_or_backtrace PID - SIGTERM the daemon and give it 30 s; if it is
# still there, what each of its threads is doing goes to the diagnostics
# (gdb, when installed) before e2e_stop's SIGKILL.
_gone() { ! alive "$1"; }
term_or_backtrace() {
	kill -TERM "$1" 2>/dev/null
	wait_for 30 _gone "$1" && return 0
	diag "the daemon (pid $1) did not stop within 30 s of SIGTERM"
	command -v gdb >/dev/null 2>&1 &&
		diag "$(gdb -p "$1" -batch -ex 'thread apply all bt' 2>&1 | grep -E '^(Thread|#)' | head -n 120)"
	return 1
}

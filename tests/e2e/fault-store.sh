#!/bin/bash
# e2e/fault-store.sh - the SQLite database fails under a running daemon
# (SPEC section 8): locked by another writer (BEGIN EXCLUSIVE held),
# replaced by a file that is not a database, missing, read-only, and on a
# full file system (the database lives on a small tmpfs, size=, that a
# filler file fills up).
#
# For each fault a batch of messages goes through a private Postfix, some
# at a time: personal ones to a tunnel domain and to bob@kp.dk (delivered
# when all is well), personal ones to gmail.com (refused when all is well),
# and messages that are not personal, to gmail.com. While the fault lasts:
# no personal message is accepted (the deliverable ones are tempfailed, a
# gmail one is tempfailed or refused), every message that is not personal
# is delivered, the daemon says in one clear log line what is wrong, and it
# stays up. Then the fault is repaired and, with the same daemon process,
# a second batch is delivered or refused as usual and recorded again
# (recovery without a restart). Counts: sent, accepted, tempfailed,
# delivered, lost = 0, leaked = 0 (leaked: a personal message to gmail.com
# that arrived at the sink).

. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/postfix.sh"
. "$(dirname "$0")/../lib/e2e.sh"
. "$(dirname "$0")/../lib/load.sh"

e2e_need mount umount dd
need "$CTL" "sikkermail-ctl not built ($CTL)"

PARALLEL=8
MSG_SUBJECT=fault-store
T0=$SECONDS

# The database on its own small file system, so that it can be filled.
FS=$TEST_TMP/dbfs
mkdir -p "$FS"
if mount -t tmpfs -o size=2m,mode=0755 tmpfs "$FS" 2>"$TEST_TMP/mount.err"; then
	at_exit "umount -l '$FS'"
	HAVE_FS=1
else
	diag_file "$TEST_TMP/mount.err"
	HAVE_FS=0
fi
mkdir -p "$FS/db"
DB=$FS/db/sikkermail.db

conf main "Database $DB"
printf '# tunnelmail\nkommune-tunnel.dk,Eksempel Kommune\n' >"$M/tunnel.txt"
give_to_test_user "$M" "$FS/db"
ctl_import "$M/main.conf" tunnel "$M/tunnel.txt"
milters_start main
LOG=$M/main.log
must "private Postfix starts" pf_start "$M/main.sock"
pass "milter, Postfix and smtp-sink running; database on $([ $HAVE_FS = 1 ] && echo "a 2 MB tmpfs" || echo "the test directory")"
PID=${MPID[main]}

# ------------------------------------------------------------ helpers

# batch PHASE - plan and send 16 (fault) or 8 (after) messages, wait for all.
next_n=0
batch() {
	local phase=$1 each=4 i
	[ "$phase" = after ] && each=2
	L_ORDER=()
	for ((i = 0; i < each; i++)); do
		load_plan $((next_n + 1)) "sag$((next_n + 1))@kommune-tunnel.dk" personal clear
		load_plan $((next_n + 2)) bob@kp.dk personal clear
		load_plan $((next_n + 3)) "x$((next_n + 3))@gmail.com" personal secure
		load_plan $((next_n + 4)) "y$((next_n + 4))@gmail.com" plain secure
		next_n=$((next_n + 4))
	done
	load_start "$PARALLEL"
	load_finish
	pf_wait_idle 30
	sleep 0.5
	load_tally
}

declare -A SUM
add_counts() {
	local k
	for k in SENT ACCEPTED TEMPFAILED REJECTED UNANSWERED DELIVERED LOST LEAKED UNTAGGED DOUBLE; do
		eval "SUM[$k]=\$(( \${SUM[$k]:-0} + T_$k ))"
	done
}

# outcome_check NAME during|after - each message of the batch just tallied
# had the outcome its kind has in that state.
outcome_check() {
	local name=$1 state=$2 n r rcpt line bad=0 ok_n=0 recorded=0 qids=()
	for n in "${L_ORDER[@]}"; do
		r=${O_REPLY[$n]} rcpt=${L_RCPT[$n]} line=" ${O_LINE[$n]} "
		case $state/$rcpt in
		during/y*) [ "$r" = accepted ] && [ "${O_CLEAR[$n]}" = 1 ] ;;
		during/x*) [ "$r" = tempfailed ] || [ "$r" = rejected ] ;;
		during/*) [ "$r" = tempfailed ] ;;
		after/x*) [ "$r" = rejected ] && [[ $line == *" rule=PersonalToFreemail "* ]] ;;
		after/sag*) [ "$r" = accepted ] && [ "${O_CLEAR[$n]}" = 1 ] && [[ $line == *" class1=tunnel "* ]] ;;
		after/*) [ "$r" = accepted ] && [ "${O_CLEAR[$n]}" = 1 ] ;;
		esac
		if [ $? -eq 0 ]; then
			ok_n=$((ok_n + 1))
		else
			bad=$((bad + 1))
			[ $bad -le 3 ] && diag "$name: message $n to $rcpt: $r: ${O_LINE[$n]:-no decision line}" &&
				diag "$(grep -a '^<\*\*' "$LOAD_DIR/$n" | head -n 3)"
		fi
		[ -n "${O_QID[$n]}" ] && qids+=("'${O_QID[$n]}'")
	done
	if [ "$state" = during ]; then
		is "$ok_n" "${#L_ORDER[@]}" "$name: no personal message accepted, every other one delivered"
	else
		is "$ok_n" "${#L_ORDER[@]}" "$name, repaired: every message delivered or refused as usual"
		recorded=$(sql "$DB" "SELECT count(*) FROM decision WHERE queue_id IN ($(IFS=,; echo "${qids[*]}"))")
		is "$recorded" "${#qids[@]}" "$name, repaired: every decision recorded in the database again"
	fi
}

# phase NAME BREAK REPAIR LOGRE [BACKRE] - break, a batch, tests, repair, a
# batch, tests; BACKRE: the line that says the database is back.
phase() {
	local name=$1 break=$2 repair=$3 logre=$4 backre=${5:-} mark
	mark=$(wc -l <"$LOG")
	if ! eval "$break"; then
		fail "$name: the fault is in place"
		return
	fi
	batch during
	add_counts
	load_counts "$name"
	outcome_check "$name" during
	ok "$name: the log says what is wrong" \
		sh -c "tail -n +$((mark + 1)) '$LOG' | grep -a -q -E '$logre'" ||
		diag "$(tail -n +$((mark + 1)) "$LOG" | grep -a -v ' decision ' | head -n 5)"
	ok "$name: the daemon is still running" alive "$PID"
	if ! eval "$repair"; then
		fail "$name: repaired"
		return
	fi
	mark=$(wc -l <"$LOG")
	batch after
	add_counts
	load_counts "$name, repaired"
	outcome_check "$name" after
	[ -n "$backre" ] && ok "$name, repaired: the log says the database is back" \
		sh -c "tail -n +$((mark + 1)) '$LOG' | grep -a -q -E '$backre'"
}

# ------------------------------------------------------------ all well first

batch after
add_counts
load_counts "all well"
outcome_check "all well" after

# ------------------------------------------------------------ locked

# Another writer holds the write lock (sqlite3 in a co-process) until told.
lock_db() {
	coproc LOCKER { as_test_user sqlite3 -batch "$DB" >/dev/null 2>&1; }
	LOCKER_PID=$LOCKER_PID
	track_pid "$LOCKER_PID"
	printf 'BEGIN EXCLUSIVE;\nINSERT INTO secret (name, value) VALUES (%s, x%s);\n' \
		"'fault-store-lock'" "'00'" >&"${LOCKER[1]}"
	wait_for 10 sh -c "! runuser -u '$TEST_USER' -- sqlite3 -batch '$DB' 'BEGIN IMMEDIATE; ROLLBACK;' >/dev/null 2>&1"
}
unlock_db() {
	local fd=${LOCKER[1]}
	printf 'ROLLBACK;\n.quit\n' >&"$fd"
	exec {fd}>&-
	wait "$LOCKER_PID"
	untrack_pid "$LOCKER_PID"
	return 0
}
phase "locked (BEGIN EXCLUSIVE held by another process)" lock_db unlock_db \
	'record failed: decision not recorded in the database: .*database is locked'

# ------------------------------------------------------------ not a database

keep_good() {
	as_test_user sqlite3 -batch -cmd ".timeout 10000" "$DB" ".backup '$FS/db/good.db'"
}
corrupt_db() {
	keep_good || return 1
	as_test_user sh -c "head -c 65536 /dev/urandom >'$DB.new' && mv -f '$DB.new' '$DB' && rm -f '$DB-wal' '$DB-shm'"
}
restore_db() {
	as_test_user sh -c "cp '$FS/db/good.db' '$DB.new' && mv -f '$DB.new' '$DB'"
}
phase "corrupt (replaced by random bytes)" corrupt_db restore_db \
	"database .* unavailable: .*(not an SQLite database|not a database|malformed)" \
	"database .* available again"

# ------------------------------------------------------------ missing

phase "missing (moved away)" "mv '$DB' '$DB.away'" "mv '$DB.away' '$DB'" \
	"database .* unavailable: .*does not exist" \
	"database .* available again"

# ------------------------------------------------------------ read-only

phase "read-only (mode 0440)" "chmod 0440 '$DB'" "chmod 0640 '$DB'" \
	"database .* unavailable: .*Permission denied" \
	"database .* available again"

# ------------------------------------------------------------ full

# fill - the file system full (a filler file as large as it gets), the WAL
# emptied first, so that the next write needs new blocks.
fill() {
	as_test_user sqlite3 -batch -cmd ".timeout 10000" "$DB" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
	dd if=/dev/zero of="$FS/filler" bs=4k >/dev/null 2>&1
	[ "$(df --output=avail "$FS" | tail -n 1 | tr -d ' ')" -eq 0 ]
}
if [ "$HAVE_FS" = 1 ]; then
	phase "full file system (tmpfs size=2m)" fill "rm -f '$FS/filler'" \
		"(database or disk is full)"
elif strict; then
	fail "full file system: cannot mount a tmpfs (SIKKERMAIL_STRICT=1: nothing may be skipped)"
else
	skip "full file system" "cannot mount a tmpfs here"
fi

# ------------------------------------------------------------ the counts

for k in SENT ACCEPTED TEMPFAILED REJECTED UNANSWERED DELIVERED LOST LEAKED UNTAGGED DOUBLE; do
	eval "T_$k=\${SUM[$k]}"
done
load_counts "database faults, all batches"
load_count_tests "database faults"
is "$PID" "${MPID[main]}" "one daemon process throughout (no restart)"
diag "took $((SECONDS - T0)) s"

term_or_backtrace "${MPID[main]}"
e2e_stop main
done_testing

#!/bin/bash
# e2e/lifecycle.sh - the daemon as an administrator starts, stops and
# restarts it: in the background (no -f), with a pid file, behind a
# private Postfix.
#
# - A start that fails exits non-zero with the reason on standard error:
#   a socket directory that cannot be made, a missing key file, a database
#   the daemon's user cannot write. A missing runtime directory is made.
# - A second instance is refused with "already running (pid N)".
# - SIGTERM and an immediate new start, 20 times: every start succeeds and
#   the message sent after it is filtered (Postfix never lost its socket);
#   the stopping daemon never removes the new one's socket or pid file.
# - After SIGKILL the stale socket and pid file are taken over.

. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/postfix.sh"
. "$(dirname "$0")/../lib/e2e.sh"

e2e_need
RUN=$TEST_TMP/run/sikkermail	# made by the daemon
SOCK=$RUN/sikkermail.sock
PIDF=$RUN/sikkermail.pid
mkdir -p "$TEST_TMP/run"
give_to_test_user "$M"
conf main "Socket local:$SOCK" "PidFile $PIDF"
CONF=$M/main.conf
LOG=$M/main.log

# start [CONF] - the daemon in the background, as an init script would; OUT, RC.
start() {
	OUT=$("$MILTER" -c "${1:-$CONF}" 2>&1 </dev/null)
	RC=$?
	printf '%s\n' "$OUT" >>"$LOG"
	[ -s "$PIDF" ] && track_pid "$(cut -d' ' -f1 "$PIDF")"
	return 0
}
daemon_pid() { cut -d' ' -f1 "$PIDF" 2>/dev/null; }

# ------------------------------------------------------------ failures

conf bad1 "Socket local:$TEST_TMP/no/such/dir/s.sock"
start "$M/bad1.conf"
isnt "$RC" 0 "socket directory that cannot be made: exit status $RC"
like "$OUT" "Socket .*: cannot create $TEST_TMP/no/such/dir" "... and says which directory"

conf bad2 "Socket local:$M/bad2.sock" "SecureMailbox s@kp.dk $M/missing.key $M/missing.pem"
start "$M/bad2.conf"
isnt "$RC" 0 "missing key file: exit status $RC"
like "$OUT" "bad2\.conf:[0-9]+: SecureMailbox s@kp\.dk: .*missing\.key" "... and names it where it is configured"
ok "... and leaves no socket behind" test ! -e "$M/bad2.sock"

mkdir -p "$TEST_TMP/rootdb"
chmod 755 "$TEST_TMP/rootdb"
conf bad3 "Socket local:$M/bad3.sock" "Database $TEST_TMP/rootdb/sikkermail.db"
start "$M/bad3.conf"
isnt "$RC" 0 "database its user cannot write: exit status $RC"
like "$OUT" "rootdb/sikkermail\.db" "... and names the database"
ok "... and leaves no socket behind" test ! -e "$M/bad3.sock"

# ------------------------------------------------------------ start, second instance

start
is "$RC" 0 "start in the background: exit status 0" || diag "$OUT"
ok "the runtime directory was made" test -d "$RUN"
is "$(stat -c %U "$RUN" 2>/dev/null)" "$TEST_USER" "... owned by the daemon's user"
ok "socket there" test -S "$SOCK"
pid=$(daemon_pid)
ok "pid file names a running daemon" alive "$pid"

start
is "$RC" 1 "a second instance is refused (exit 1)"
like "$OUT" "already running \\(pid $pid" "... with 'already running (pid $pid'"
is "$(daemon_pid)" "$pid" "... and the first one's pid file is untouched"

is "$(stat -c %a "$RUN" 2>/dev/null)" 750 "... mode 0750"
# In production Postfix reaches the socket as a member of the daemon's
# group (contrib/quickstart.sh, the package); the test user's group is
# nobody's, so let Postfix through here.
chmod o+x "$RUN"
must "private Postfix starts" pf_start "$SOCK"

# send_one TAG - a personal message for bob@kp.dk; a test that it was filtered.
send_one() {
	msg "$1" bob@kp.dk
	send "$1" bob@kp.dk
	[ -n "$SEND_QID" ] && sink_wait "$1" 20 &&
		header_line "$(sink_file "$1")" "X-Sikkermail: personal=yes (header); action=deliver; ref=$SEND_QID"
}
ok "a message through the first daemon is filtered" send_one first

# ------------------------------------------------------------ TERM, then start at once

restarts_ok=0 filtered=0
for i in $(seq 1 20); do
	old=$(daemon_pid)
	kill -TERM "$old"
	start
	new=$(daemon_pid)
	if [ "$RC" -eq 0 ] && [ "$new" != "$old" ] && alive "$new" && [ -S "$SOCK" ]; then
		restarts_ok=$((restarts_ok + 1))
	else
		diag "restart $i: exit $RC, pid $old -> $new: $OUT"
	fi
	if send_one "restart$i"; then
		filtered=$((filtered + 1))
	else
		diag "restart $i: message not filtered: $(printf '%s' "$SEND_OUT" | tail -n 3)"
	fi
done
is "$restarts_ok" 20 "TERM then an immediate start, 20 times: every start succeeded"
is "$filtered" 20 "... and the message sent after each was filtered"
# the stopped daemons finish in the background: none may take the new socket
sleep 7
ok "after the old ones are gone: the socket is still there" test -S "$SOCK"
ok "... and the pid file names the running daemon" alive "$(daemon_pid)"
ok "a message after all that is filtered" send_one settled

# ------------------------------------------------------------ SIGKILL: stale files

pid=$(daemon_pid)
kill -KILL "$pid"
wait_for 5 sh -c "! kill -0 $pid 2>/dev/null"
ok "after SIGKILL the socket and pid file are left behind" test -S "$SOCK" -a -e "$PIDF"
start
is "$RC" 0 "a start after SIGKILL takes over (exit 0)" || diag "$OUT"
isnt "$(daemon_pid)" "$pid" "... with its own pid file"
ok "a message through the new daemon is filtered" send_one afterkill

# ------------------------------------------------------------ the end

pid=$(daemon_pid)
pf_stop
kill -TERM "$pid"
ok "SIGTERM: the daemon stops" wait_for 30 sh -c "! kill -0 $pid 2>/dev/null"
untrack_pid "$pid"
ok "socket removed" test ! -e "$SOCK"
ok "pid file removed" test ! -e "$PIDF"
unlike "$(cat "$LOG")" '(Sanitizer|runtime error|panic)' "no sanitizer report or panic"
tests_failed && diag_file "$LOG" 40
done_testing

#!/bin/bash
# daemon.sh - the sikkermail-milter program as an administrator meets it:
# -V, -n (configuration check), usage errors, start-up as root with the
# privilege drop, pidfile and socket life cycle, SIGTERM, and refusing to
# start with an unusable database.

. "$(dirname "$0")/lib/common.sh"

need "$MILTER" "sikkermail-milter not built ($MILTER)"

# base_conf FILE DIR [EXTRA LINES] - a configuration whose files all live in DIR.
base_conf() {
	local file=$1 dir=$2
	shift 2
	{
		echo "# test configuration"
		echo "Socket local:$dir/milter.sock"
		echo "PidFile $dir/milter.pid"
		echo "Database $dir/db/sikkermail.db"
		echo "UserID $TEST_USER"
		echo "UMask 007"
		echo "Syslog no"
		echo "InternalDomains kp.dk, .kp.dk"
		printf '%s\n' "$@"
	} >"$file"
}

# ----------------------------------------------------------------- -V

out=$("$MILTER" -V 2>&1)
rc=$?
is "$rc" 0 "-V exits 0"
like "$out" 'sikkermail.*[0-9]+\.[0-9]+' "-V prints the program and its version"

# ----------------------------------------------------------------- usage

for h in -h --help; do
	out=$("$MILTER" "$h" 2>/dev/null)
	rc=$?
	is "$rc" 0 "$h: exit 0"
	like "$out" 'usage: sikkermail-milter' "$h: the usage on stdout"
	like "$out" 'SIGUSR1 or SIGHUP' "$h: says how to reload"
done

out=$("$MILTER" -Z 2>&1)
rc=$?
is "$rc" 64 "unknown option exits 64 (EX_USAGE)"
like "$out" '[Uu]sage' "unknown option prints the usage"

out=$("$MILTER" -c 2>&1)
rc=$?
is "$rc" 64 "-c without its argument exits 64"

# ----------------------------------------------------------------- -n

# contrib/sikkermail.conf: its paths are the installed system's; -n checks
# them too, so the example is checked with its places moved into the test's.
conf=$top_srcdir/contrib/sikkermail.conf
if [ -f "$conf" ]; then
	mkdir -p "$TEST_TMP/contrib/db"
	give_to_test_user "$TEST_TMP/contrib"
	sed -e "s#/var/lib/sikkermail/#$TEST_TMP/contrib/db/#" -e "s#/run/sikkermail/#$TEST_TMP/contrib/#" \
		-e "s#^\\(UserID[[:space:]]*\\).*#\\1$TEST_USER#" "$conf" >"$TEST_TMP/contrib/example.conf"
	for kv in "UserID $TEST_USER" "Database $TEST_TMP/contrib/db/sikkermail.db" \
		"Socket local:$TEST_TMP/contrib/sikkermail.sock"; do
		grep -q "^${kv%% *}" "$TEST_TMP/contrib/example.conf" ||
			echo "$kv" >>"$TEST_TMP/contrib/example.conf"
	done
	out=$("$MILTER" -n -c "$TEST_TMP/contrib/example.conf" 2>&1)
	rc=$?
	is "$rc" 0 "-n accepts contrib/sikkermail.conf (its places in the test directory)" ||
		diag "$out"
else
	fail "contrib/sikkermail.conf exists"
fi

mkdir -p "$TEST_TMP/good/db"
give_to_test_user "$TEST_TMP/good"
base_conf "$TEST_TMP/good/good.conf" "$TEST_TMP/good" \
	"Mode monitor" "PersonalToFreemail hold" "PersonalToTLS accept"
out=$("$MILTER" -n -c "$TEST_TMP/good/good.conf" 2>&1)
rc=$?
is "$rc" 0 "-n accepts a small valid configuration" || diag "$out"

# Three errors on lines 3, 5 and 7; every one must be reported in one run.
bad=$TEST_TMP/bad.conf
cat >"$bad" <<EOF
# a configuration with three mistakes
Syslog no
NoSuchKey yes
Mode enforce
Mode sometimes
InternalDomains kp.dk
PersonalToFreemail accept
EOF
out=$("$MILTER" -n -c "$bad" 2>&1)
rc=$?
is "$rc" 1 "-n on a bad configuration exits 1"
like "$out" "bad\.conf:3: [^[:space:]]" "unknown key reported as file:3: message"
like "$out" "bad\.conf:5: [^[:space:]]" "bad Mode value reported as file:5: message"
like "$out" "bad\.conf:7: [^[:space:]]" "PersonalToFreemail accept reported as file:7: message"
unlike "$out" "bad\.conf:(1|2|4|6):" "no error reported for the good lines"

out=$("$MILTER" -n -c "$TEST_TMP/does-not-exist.conf" 2>&1)
rc=$?
is "$rc" 1 "-n on a missing file exits 1"
like "$out" "does-not-exist\.conf" "... and names the file"

# -n loads what start-up loads: keys (matched to their certificates), the
# trust store and CRL, the database and the socket's directory, and says
# what is wrong with each, where it was configured, all in one run.
deep=$TEST_TMP/deep
mkdir -p "$deep/db"
if bash "$top_srcdir/tests/lib/mkcerts.sh" "$deep/pki" 2>"$deep/mkcerts.err"; then
	pki=$deep/pki
	chmod 600 "$pki"/*.key
	echo "not a certificate" >"$deep/garbage.pem"
	base_conf "$deep/deep.conf" "$deep" \
		"SecureMailbox valid@example.dk $pki/valid.key $pki/expired.pem" \
		"SecureMailbox ec@example.dk $pki/ec.key $pki/ec.pem" \
		"SecureMailbox gone@example.dk $deep/missing.key $pki/valid.pem" \
		"DefaultSecureMailbox ec@example.dk" \
		"LDAPURI ldap://127.0.0.1:1" "LDAPBase c=DK" \
		"TrustedCAFile $deep/garbage.pem"
	sed -i "s#^Socket .*#Socket local:$deep/nodir/milter.sock#" "$deep/deep.conf"
	chmod 755 "$deep/db"	# root's, not writable by the daemon's user
	out=$("$MILTER" -n -c "$deep/deep.conf" 2>&1)
	rc=$?
	is "$rc" 1 "-n: a configuration whose files are wrong exits 1"
	like "$out" "deep\.conf:9: SecureMailbox valid@example\.dk: .*does not belong" \
		"-n: a key that does not match its certificate, at its line"
	like "$out" "deep\.conf:11: SecureMailbox gone@example\.dk: .*missing\.key" \
		"-n: an unreadable key file, at its line"
	like "$out" "deep\.conf:15: TrustedCAFile: .*garbage\.pem" "-n: a CA file that is not one, at its line"
	if [ "$(id -u)" -eq 0 ]; then
		like "$out" "deep\.conf:4: Database: .*not writable by $TEST_USER" \
			"-n: a database directory the daemon's user cannot write"
	fi
	like "$out" "deep\.conf:2: Socket: socket directory $deep/nodir does not exist" \
		"-n: a missing socket directory"
	unlike "$out" "error: [^ ]*deep\.conf:10:" "-n: no error for the good mailbox"
	is "$(ls "$deep/db")" "" "-n created nothing"
	# an existing file that is not a database
	head -c 4096 /dev/urandom >"$deep/db/sikkermail.db"
	out=$("$MILTER" -n -c "$deep/deep.conf" 2>&1)
	like "$out" "deep\.conf:4: Database: .*sikkermail\.db is not an SQLite database" \
		"-n: a database file that is not one"
else
	fail "test PKI made"
	diag_file "$deep/mkcerts.err"
fi

# ----------------------------------------------------------------- start, stop

run=$TEST_TMP/run
mkdir -p "$run/db"
give_to_test_user "$run"
base_conf "$run/milter.conf" "$run"
log=$run/milter.log

if ok "starts in the foreground and opens its socket" \
	milter_start "$run/milter.conf" "$run/milter.sock" "$log"; then
	pid=$MILTER_PID
	ok "pidfile written" wait_for 5 test -s "$run/milter.pid"
	is "$(tr -d ' \n' <"$run/milter.pid" 2>/dev/null)" "$pid" "pidfile holds the daemon's PID"

	if [ "$(id -u)" -eq 0 ]; then
		# Give it a moment: some daemons drop privileges after the socket.
		runs_as() { [ "$(proc_user "$1")" = "$2" ]; }
		wait_for 5 runs_as "$pid" "$TEST_USER"
		is "$(proc_user "$pid")" "$TEST_USER" "started as root, runs as UserID ($TEST_USER)"
		want=$(id -u "$TEST_USER")
		uids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$pid/status")
		is "$uids" "$want $want $want $want" "real, effective, saved and fs uid all dropped"
		gids=$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "/proc/$pid/status")
		wantg=$(id -g "$TEST_USER")
		is "$gids" "$wantg $wantg $wantg $wantg" "real, effective, saved and fs gid all dropped"
		groups=$(awk '/^Groups:/ { $1 = ""; print }' "/proc/$pid/status")
		unlike " $groups " ' 0 ' "no supplementary group root left"
	else
		is "$(proc_user "$pid")" "$(id -un)" "started as a user, keeps running as that user"
	fi

	ok "database created" test -f "$run/db/sikkermail.db"
	ok "database writable by the daemon's user" as_test_user test -w "$run/db/sikkermail.db"

	milter_stop
	is "$STOP_STATUS" 0 "SIGTERM: exits 0"
	ok "SIGTERM: pidfile removed" test ! -e "$run/milter.pid"
	ok "SIGTERM: socket removed" test ! -e "$run/milter.sock"
	unlike "$(cat "$log")" '(fatal|panic|Sanitizer|runtime error)' "no fatal error logged"
	tests_failed && diag_file "$log"
else
	fail "(the start-up tests need a running daemon)"
fi

# A key only root can read: start-up (as root) loads it, but a reload
# reads it as UserID and would be refused every time, so both -n and the
# start say so at once, naming the file and the user.
if [ "$(id -u)" -eq 0 ] && [ -n "${pki:-}" ]; then
	rk=$TEST_TMP/rootkey
	mkdir -p "$rk/db" "$rk/keys"
	give_to_test_user "$rk"
	cp "$pki/ec.key" "$pki/ec.pem" "$rk/keys/"
	chown root:root "$rk/keys" "$rk/keys/ec.key" "$rk/keys/ec.pem"
	chmod 755 "$rk/keys"
	chmod 600 "$rk/keys/ec.key"
	chmod 644 "$rk/keys/ec.pem"
	base_conf "$rk/milter.conf" "$rk" "SecureMailbox ec@example.dk $rk/keys/ec.key $rk/keys/ec.pem" \
		"DefaultSecureMailbox ec@example.dk"
	chmod 644 "$rk/milter.conf"
	out=$("$MILTER" -n -c "$rk/milter.conf" 2>&1)
	rc=$?
	is "$rc" 0 "-n: a key only root reads still starts: exit 0" || diag "$out"
	like "$out" "milter\.conf:[0-9]+: SecureMailbox ec@example\.dk: $rk/keys/ec\.key is not readable by $TEST_USER, as whom a reload" \
		"-n: ... but warns that a reload, as $TEST_USER, cannot read it"
	unlike "$out" "ec\.pem is not readable" "-n: nothing said of the readable certificate"
	rklog=$rk/milter.log
	if ok "a key only root reads: the filter starts" \
		milter_start "$rk/milter.conf" "$rk/milter.sock" "$rklog"; then
		like "$(cat "$rklog")" "ec\.key is not readable by $TEST_USER, as whom a reload" \
			"start-up warns that every reload would be refused"
		kill -HUP "$MILTER_PID"
		ok "SIGHUP: the reload is refused, as warned" \
			wait_for 10 grep -q "reload refused" "$rklog"
		like "$(cat "$rklog")" "chown $TEST_USER $rk/keys/ec\.key; chmod 600 $rk/keys/ec\.key" \
			"... and how to mend it: the key to the filter's user, still private"
		chown "$TEST_USER" "$rk/keys/ec.key"
		kill -HUP "$MILTER_PID"
		ok "mended as advised: the next reload is accepted" \
			wait_for 10 grep -q "reload accepted" "$rklog" ||
			diag "$(grep -a reload "$rklog")"
		milter_stop
		is "$STOP_STATUS" 0 "... and it stops, exit 0"
	fi
	out=$("$MILTER" -n -c "$rk/milter.conf" 2>&1)
	unlike "$out" "not readable" "-n: once the filter's user reads it, no warning"
	# the key its user's, but in a directory only root may enter (as
	# /etc/ssl/private is): named too, the directory as the cause
	chmod 700 "$rk/keys"
	out=$("$MILTER" -n -c "$rk/milter.conf" 2>&1)
	like "$out" "ec\.key is not readable by $TEST_USER, as whom a reload .*: the directory $rk/keys keeps that user out" \
		"-n: a key behind a directory its user cannot enter: the directory named"
	: >"$rklog"
	if milter_start "$rk/milter.conf" "$rk/milter.sock" "$rklog"; then
		like "$(cat "$rklog")" "the directory $rk/keys keeps that user out" \
			"start-up: the same, found as the user itself"
		milter_stop
	else
		fail "start-up: the same, found as the user itself"
	fi
	chmod 755 "$rk/keys"
	# a relative -c, in the background: the daemon works from "/", and a
	# reload finds the file all the same
	: >"$rklog"
	if (cd "$rk" && "$MILTER" -c milter.conf >>"$rklog" 2>&1 </dev/null) &&
		MILTER_PID=$(cat "$rk/milter.pid") && [ -n "$MILTER_PID" ]; then
		track_pid "$MILTER_PID"
		is "$(readlink "/proc/$MILTER_PID/cwd")" / "a relative -c: the daemon works from /"
		like "$(cat "$rklog")" "start .* config=$rk/milter\.conf " \
			"a relative -c: the file is known by its absolute name, which a reload reads"
		milter_stop
	else
		fail "a relative -c: the filter starts"
	fi
fi

# -p overrides Socket.
rm -f "$log"
if ok "-p overrides Socket" \
	milter_start "$run/milter.conf" "$run/other.sock" "$log" -p "local:$run/other.sock"; then
	ok "... and the configured socket is not created" test ! -e "$run/milter.sock"
	milter_stop
	is "$STOP_STATUS" 0 "... and SIGTERM exits 0"
	ok "... and the socket is removed" test ! -e "$run/other.sock"
fi

# ----------------------------------------------------------------- refusals

# refuses NAME CONF DIR - the daemon must exit non-zero quickly, say why,
# and leave no socket behind.
refuses() {
	local name=$1 conf=$2 dir=$3 out rc
	out=$(timeout 20 "$MILTER" -f -c "$conf" 2>&1 </dev/null)
	rc=$?
	if [ "$rc" -eq 124 ]; then
		fail "$name: refuses to start (it kept running)"
	else
		ok "$name: refuses to start (exit $rc)" test "$rc" -ne 0
	fi
	like "$out" '[Dd]atabase|sikkermail\.db|sqlite' "$name: the error names the database"
	ok "$name: no socket left behind" test ! -e "$dir/milter.sock"
	ok "$name: no pidfile left behind" test ! -e "$dir/milter.pid"
	[ -n "$out" ] && diag "$name: $out"
}

nodb=$TEST_TMP/nodb
mkdir -p "$nodb"
give_to_test_user "$nodb"
base_conf "$nodb/milter.conf" "$nodb"	# $nodb/db does not exist
if [ "$(id -u)" -eq 0 ]; then
	# started as root, the daemon makes its missing directories for UserID
	if ok "database directory missing: made, and the daemon starts" \
		milter_start "$nodb/milter.conf" "$nodb/milter.sock" "$nodb/milter.log"; then
		is "$(stat -c '%U %a' "$nodb/db" 2>/dev/null)" "$TEST_USER 750" \
			"database directory missing: made for $TEST_USER, mode 0750"
		milter_stop
	fi
else
	refuses "database directory missing" "$nodb/milter.conf" "$nodb"
fi

filedb=$TEST_TMP/filedb
mkdir -p "$filedb"
echo "not a directory" >"$filedb/db"
give_to_test_user "$filedb"
base_conf "$filedb/milter.conf" "$filedb"	# $filedb/db is a file
refuses "database directory is a file" "$filedb/milter.conf" "$filedb"

if [ "$(id -u)" -eq 0 ]; then
	# Root can create the file, but the daemon, once it runs as UserID,
	# could not write its journal: that must be found at start-up, not
	# at the first message.
	rodb=$TEST_TMP/rodb
	mkdir -p "$rodb/db"
	give_to_test_user "$rodb"
	chown root:root "$rodb/db"
	chmod 0755 "$rodb/db"
	base_conf "$rodb/milter.conf" "$rodb"
	refuses "database directory not writable by UserID" "$rodb/milter.conf" "$rodb"
fi

done_testing

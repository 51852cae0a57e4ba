#!/bin/bash
# tests/ctl.sh - sikkermail-ctl end to end on a temporary database (TAP).
#
# Covers: import of good tunnel/partner/freemail files (also from stdin),
# list with sources and expired agreements, imports with bad lines (every
# bad line reported as FILE:LINE, nothing changed), explain for every
# class and lookalikes, the actions for a personal message, invalid
# addresses, configuration errors, usage errors and exit codes.
#
# Environment: top_builddir (where sikkermail-ctl is built) and top_srcdir
# (test data), both defaulting to this script's parent directory;
# SIKKERMAIL_CTL overrides the binary.

set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$here/..}
top_builddir=${top_builddir:-$here/..}
CTL=${SIKKERMAIL_CTL:-$top_builddir/sikkermail-ctl}
# Canonical, because the recorded source of an import is the file's real path.
data=$(cd "$top_srcdir/tests/data/lists" 2>/dev/null && pwd -P) || {
	echo "Bail out! no test data under $top_srcdir/tests/data/lists"
	exit 1
}

if [ ! -x "$CTL" ]; then
	echo "Bail out! sikkermail-ctl not found at $CTL (build it first)"
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ctl-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

n=0
failed=0
rc=0

# ok COND NAME - one TAP line; COND is an exit status (0 = pass).
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
		sed 's/^/#   stdout: /' "$tmp/out" 2>/dev/null
		sed 's/^/#   stderr: /' "$tmp/err" 2>/dev/null
	fi
}

# run ARGS... - run the tool with the test configuration; sets rc, out, err.
run() {
	"$CTL" -c "$conf" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

is_rc() { [ "$rc" -eq "$1" ]; ok $? "$2 (exit $rc, want $1)"; }
out_has() { grep -qF -- "$1" "$tmp/out"; ok $? "$2"; }
out_lacks() { ! grep -qF -- "$1" "$tmp/out"; ok $? "$2"; }
err_has() { grep -qF -- "$1" "$tmp/err"; ok $? "$2"; }

# block ADDRESS - the explain block of one address from the last output.
block() {
	awk -v a="address: $1" '$0 == a { p = 1; print; next } /^address: / { p = 0 } p' "$tmp/out"
}
block_has() { block "$1" | grep -qF -- "$2"; ok $? "$3"; }

# As root the tool works as the configuration's UserID: the test user here.
TEST_USER=${SIKKERMAIL_TEST_USER:-nobody}
conf=$tmp/sikkermail.conf
cat >"$conf" <<EOF
Database $tmp/sikkermail.db
InternalDomains kp.dk .kp.dk
UserID $TEST_USER
EOF
if [ "$(id -u)" -eq 0 ]; then
	chmod 0755 "$tmp"
	chown "$TEST_USER" "$tmp"
fi

# ---------------------------------------------------------------- usage
for h in -h --help; do
	run "$h"
	is_rc 0 "$h: exit 0"
	out_has "usage: sikkermail-ctl" "$h: the usage on stdout"
	out_has "reload" "$h: names the reload command"
done
run
is_rc 64 "no command: usage error"
err_has "usage: sikkermail-ctl" "usage text on stderr"
run frobnicate
is_rc 64 "unknown command: usage error"
err_has 'unknown command "frobnicate"' "unknown command named"
run import bogus "$data/tunnel.txt"
is_rc 64 "import of an unknown list kind: usage error"
run import tunnel
is_rc 64 "import without a file: usage error"
run explain
is_rc 64 "explain without an address: usage error"
run explain --frob a@kp.dk
is_rc 64 "explain with an unknown option: usage error"
run -x list tunnel
is_rc 64 "unknown global option: usage error"
"$CTL" -h >"$tmp/out" 2>"$tmp/err"
rc=$?
is_rc 0 "-h: exit 0"
out_has "explain [--personal] ADDRESS" "-h prints the usage on stdout"

# ---------------------------------------------------------------- database
run list tunnel
is_rc 75 "list before any database exists: EX_TEMPFAIL"
err_has "does not exist" "... saying the database does not exist"
[ ! -e "$tmp/sikkermail.db" ]
ok $? "a read-only command does not create the database"

# ---------------------------------------------------------------- configuration
cat >"$tmp/bad.conf" <<EOF
Database $tmp/x.db
NoSuchKey yes
Mode sometimes
EOF
"$CTL" -c "$tmp/bad.conf" list tunnel >"$tmp/out" 2>"$tmp/err"
rc=$?
is_rc 1 "a configuration with errors: exit 1"
err_has "$tmp/bad.conf:2:" "first configuration error reported with its line"
err_has "$tmp/bad.conf:3:" "second configuration error reported too"
"$CTL" -c "$tmp/missing.conf" list tunnel >"$tmp/out" 2>"$tmp/err"
rc=$?
is_rc 1 "a missing -c file: exit 1"

# ---------------------------------------------------------------- import
run import tunnel "$data/tunnel.txt"
is_rc 0 "import the tunnel list"
out_has "imported 3 tunnel entries from $data/tunnel.txt" "tunnel import count"
[ "$(stat -c %a "$tmp/sikkermail.db")" = 640 ]
ok $? "the new database has mode 0640"
if [ "$(id -u)" -eq 0 ]; then
	# run as root, the tool worked as UserID: the filter can use what it made
	[ "$(stat -c %U "$tmp/sikkermail.db")" = "$TEST_USER" ]
	ok $? "run as root, the database it created belongs to UserID ($TEST_USER)"
	# a database root made by hand: said so, with the command that fixes it
	mkdir -p "$tmp/rootdb" && chmod 755 "$tmp/rootdb"
	cp "$tmp/sikkermail.db" "$tmp/rootdb/sikkermail.db"
	chown root "$tmp/rootdb/sikkermail.db"
	"$CTL" -c "$conf" -d "$tmp/rootdb/sikkermail.db" import tunnel "$data/tunnel.txt" \
		>"$tmp/out" 2>"$tmp/err"
	rc=$?
	is_rc 75 "a database root owns: import refused"
	err_has "chown $TEST_USER $tmp/rootdb/sikkermail.db" "... naming the command that fixes it"
	# the file it was given is read as root (here: one only root may read)
	cp "$data/tunnel.txt" "$tmp/rootonly.txt" && chmod 600 "$tmp/rootonly.txt"
	"$CTL" -c "$conf" -d "$tmp/other.db" import tunnel "$tmp/rootonly.txt" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	is_rc 0 "an input file only root can read is imported"
fi
run import partners "$data/partners.txt"
is_rc 0 "import the partner list"
out_has "imported 3 partner entries from $data/partners.txt" "partner import count"

run list tunnel
is_rc 0 "list tunnel"
out_has "region-test.dk	Region Test	$data/tunnel.txt	" "tunnel entry with organisation and source"
out_has ".kommune-test.dk	Test Kommune	$data/tunnel.txt	" "subdomain entry, comment cut"
out_has "styrelse-test.dk	-	$data/tunnel.txt	" "entry without organisation"
[ "$(wc -l <"$tmp/out")" -eq 3 ]
ok $? "list tunnel: exactly 3 lines"
cp "$tmp/out" "$tmp/tunnel.before"

run list partners
is_rc 0 "list partners"
out_has "partner.example	Partner A/S	2099-12-31	$data/partners.txt" "partner with expiry and source"
out_has "expired.example	Old Partner ApS	2001-01-01 (expired)	" "expired agreement marked"
out_has "noexpiry.example	Forever I/S	-	" "agreement without expiry"
out_lacks "2099-12-31 (expired)" "a valid agreement is not marked expired"

run list freemail
is_rc 0 "list freemail (built-in)"
out_has "gmail.com	built-in	" "built-in freemail list with its source"

# ---------------------------------------------------------------- bad imports
run import tunnel "$data/tunnel-bad.txt"
is_rc 1 "import of a file with bad lines: exit 1"
for line in 3 5 6 7 8; do
	err_has "$data/tunnel-bad.txt:$line: " "bad line $line reported as FILE:LINE"
done
[ "$(grep -c "$data/tunnel-bad.txt:[0-9]*: " "$tmp/err")" -eq 5 ]
ok $? "exactly the 5 bad lines reported"
err_has "duplicate of line 2" "duplicate names the first line"
err_has "nothing imported" "says nothing was imported"
run list tunnel
cmp -s "$tmp/out" "$tmp/tunnel.before"
ok $? "the tunnel list is unchanged after the failed import"

run import partners "$data/partners-bad.txt"
is_rc 1 "import of partners with bad lines: exit 1"
for line in 2 3 4; do
	err_has "$data/partners-bad.txt:$line: " "partner bad line $line reported"
done
err_has '"2023-02-29"' "a date that does not exist is refused"
run explain x@partner.example
block_has x@partner.example "class: partner" "partner list unchanged after the failed import"

run import tunnel /nonexistent/list.txt
is_rc 1 "import of a missing file: exit 1"
err_has "cannot open /nonexistent/list.txt" "missing file named"

# ---------------------------------------------------------------- explain
run explain alice@kp.dk bob@sub.kp.dk '<Carol@KP.DK.>' x@region-test.dk x@a.b.kommune-test.dk \
	x@kommune-test.dk x@partner.example x@noexpiry.example x@expired.example x@gmail.com \
	x@example.com x@kp.dk.evil.com x@evilkp.dk x@kp-dk.com x@evil-region-test.dk
is_rc 0 "explain valid addresses: exit 0"
block_has alice@kp.dk "class: internal" "own domain: internal"
block_has alice@kp.dk "personal message: deliver" "internal: personal message delivered"
block_has bob@sub.kp.dk "class: internal" "subdomain of .kp.dk: internal"
block_has '<Carol@KP.DK.>' "normalised: Carol@kp.dk" "address normalised"
block_has '<Carol@KP.DK.>' "class: internal" "normalised address: internal"
block_has x@region-test.dk "class: tunnel" "tunnel entry: tunnel"
block_has x@region-test.dk "personal message: deliver" "tunnel: personal message delivered"
block_has x@a.b.kommune-test.dk "class: tunnel" "subdomain of a .domain tunnel entry: tunnel"
block_has x@kommune-test.dk "class: tunnel" "a .domain entry covers the domain itself"
block x@a.b.kommune-test.dk | grep "evidence:" | grep -F ".kommune-test.dk" | grep -F "Test Kommune" |
	grep -qF "$data/tunnel.txt"
ok $? "tunnel evidence: the entry, its organisation and its source file"
block x@expired.example | grep "evidence:" | grep -qF "expired"
ok $? "expired partner: the evidence says the agreement expired"
block_has x@partner.example "class: partner" "partner with a valid agreement: partner"
block_has x@partner.example "personal message: deliver" "partner: personal message delivered"
block_has x@noexpiry.example "class: partner" "partner without expiry: partner"
block_has x@expired.example "class: tls" "expired agreement: not partner"
block_has x@expired.example "personal message: reject" "expired partner: personal message rejected"
block_has x@gmail.com "class: freemail" "gmail.com: freemail (built-in list)"
block_has x@gmail.com "personal message: reject" "freemail: personal message rejected"
block_has x@gmail.com "other message: deliver" "freemail: other message delivered"
block_has x@example.com "class: tls" "anything else: tls"
block_has x@kp.dk.evil.com "class: tls" "kp.dk.evil.com is not internal"
block_has x@evilkp.dk "class: tls" "evilkp.dk is not internal"
block_has x@kp-dk.com "class: tls" "kp-dk.com is not internal"
block_has x@evil-region-test.dk "class: tls" "evil-region-test.dk is not tunnel"
block_has x@example.com "certificate directory was not consulted" "without --personal the directory is not consulted"
block_has alice@kp.dk "certificate: not needed" "internal needs no certificate"

run explain --personal x@example.com x@region-test.dk
is_rc 0 "explain --personal: exit 0"
block_has x@example.com "certificate: no valid certificate" "--personal looks the certificate up"
block_has x@example.com "class: tls" "--personal, no certificate: tls"
block_has x@region-test.dk "certificate: not needed" "tunnel settles the class before the certificate"

run explain 'foo@' alice@kp.dk
is_rc 1 "an invalid address: exit 1"
block_has 'foo@' "invalid: " "invalid address explained"
block_has alice@kp.dk "class: internal" "the other addresses are still explained"
run explain 'a%b@kp.dk'
is_rc 1 "a %-routed address: exit 1"
block_has 'a%b@kp.dk' "refused: " "routed address refused"
run explain -- -dash@kp.dk
is_rc 0 "-- ends the options"
block_has -dash@kp.dk "class: internal" "address after -- explained"

"$CTL" -c "$conf" -d "$tmp/none.db" explain a@kp.dk >"$tmp/out" 2>"$tmp/err"
rc=$?
is_rc 75 "explain with an unreadable database: EX_TEMPFAIL"
err_has "$tmp/none.db" "-d overrides Database"
printf 'not a database\n%.0s' $(seq 1 100) >"$tmp/text.db"
"$CTL" -c "$conf" -d "$tmp/text.db" explain a@kp.dk >"$tmp/out" 2>"$tmp/err"
rc=$?
is_rc 75 "explain on a file that is not a database: EX_TEMPFAIL"
err_has "is not an SQLite database" "... saying what is wrong with it"

# ---------------------------------------------------------------- freemail, stdin
run import freemail "$data/freemail.txt"
is_rc 0 "import a freemail list with CRLF line ends"
out_has "imported 2 freemail entries" "freemail import count"
run list freemail
out_has "freemail-test.example	$data/freemail.txt	" "freemail entry with its source"
out_has "gmail.com	$data/freemail.txt	" "gmail.com now from the file, lower-cased"
out_lacks "hotmail.com" "the built-in list was replaced"
run explain x@freemail-test.example x@hotmail.com
block_has x@freemail-test.example "class: freemail" "imported freemail domain: freemail"
block_has x@hotmail.com "class: tls" "a domain no longer listed: tls"

printf 'stdin-tunnel.dk,From Stdin\n' | "$CTL" -c "$conf" import tunnel - >"$tmp/out" 2>"$tmp/err"
rc=$?
is_rc 0 "import from stdin"
out_has "imported 1 tunnel entry from (stdin)" "stdin import count"
run list tunnel
out_has "stdin-tunnel.dk	From Stdin	(stdin)	" "stdin source recorded"
out_lacks "region-test.dk" "the import replaced the whole list"

: >"$tmp/empty.txt"
run import tunnel "$tmp/empty.txt"
is_rc 0 "import of an empty file"
err_has "now empty" "warns that the list is now empty"

# A symbolic link at the database path is never followed: whoever can
# replace the file by a link must not get root's writes through it.
ln -s "$tmp/sikkermail.db" "$tmp/link.db"
: >"$tmp/victim"
ln -s "$tmp/victim" "$tmp/link-new.db"
for cmd in "list tunnel" "import tunnel $tmp/empty.txt"; do
	# shellcheck disable=SC2086
	"$CTL" -c "$conf" -d "$tmp/link.db" $cmd >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" -ne 0 ]; ok $? "${cmd%% *} through a symlinked database refused (exit $rc)"
	err_has "is a symbolic link; it is not followed" "${cmd%% *}: the error says why"
done
"$CTL" -c "$conf" -d "$tmp/link-new.db" import tunnel "$tmp/empty.txt" >"$tmp/out" 2>"$tmp/err"
[ ! -s "$tmp/victim" ]; ok $? "a link to another file: nothing written through it"
mkdir "$tmp/dir.db"
"$CTL" -c "$conf" -d "$tmp/dir.db" list tunnel >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -ne 0 ]; ok $? "a directory at the database path refused (exit $rc)"

"$CTL" -c "$conf" list partners >/dev/full 2>"$tmp/err"
rc=$?
is_rc 1 "a write error on stdout: exit 1"

echo "1..$n"
[ "$failed" -eq 0 ]

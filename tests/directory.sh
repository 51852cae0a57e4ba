#!/bin/bash
# directory.sh - directory.c (and certcheck.c) against a real, private
# slapd on 127.0.0.1 holding the certificates of tests/lib/mkcerts.sh,
# through the test driver tests/unit/dirquery.
#
# Covers: found / not found / entries without certificates; the chosen
# certificate (latest expiry, PKCS#7 bundle); RFC 4515 escaping against
# injection; LDAPFilter templates; ldaps:// with and without the right CA;
# StartTLS on ldap:// (TLS before bind and search, once per connection;
# the wrong CA, a server that refuses StartTLS or hangs up on it: retry or
# the next server, never a search in the clear; ldaps:// and ldapi:// left
# alone); simple bind (right and wrong password, never shown); the size
# limit; failover to the next URI; connections reused, and rebuilt after
# slapd restarts; slapd stopped -> retry at once; a silent listener
# (ldap://, ldaps://, StartTLS) -> retry within LDAPTimeout; a silent first
# server costs only its share of the time once, then is skipped while in
# back-off.

. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/slapd.sh"

DIRQUERY=${DIRQUERY:-$top_builddir/tests/unit/dirquery}
SILENT=${SILENTLISTEN:-$top_builddir/tests/unit/silentlisten}
need "$DIRQUERY" "tests/unit/dirquery not built"
need "$SILENT" "tests/unit/silentlisten not built"
need "$SLAPD_BIN" "slapd not installed (Debian: slapd)"
need "$SLAPADD_BIN" "slapadd not installed (Debian: slapd)"
for cmd in ldapsearch ldapadd openssl; do
	need "$cmd"
done

CERTS=$TEST_TMP/certs
if ! bash "$top_srcdir/tests/lib/mkcerts.sh" "$CERTS"; then
	fail "mkcerts.sh"
	done_testing
fi
slapd_setup "$CERTS" || { fail "slapd_setup"; done_testing; }
slapd_start "" "$(free_port)" || { fail "slapd starts"; done_testing; }
pass "slapd answers on $SLAPD_URI and $SLAPD_TLSURI"

ERR=$TEST_TMP/dirquery.err

# q ARGS... - one dirquery run; its output in OUT, stderr appended to ERR.
q() {
	OUT=$("$DIRQUERY" "$@" 2>>"$ERR")
}

fp() {
	openssl x509 -in "$CERTS/$1.pem" -noout -fingerprint -sha256 | cut -d= -f2
}

field() {		# field NAME LINE
	[[ " $2 " =~ \ $1=([^ ]*)\  ]] && echo "${BASH_REMATCH[1]}"
}

ms_of() { field ms "$1"; }

# --------------------------------------------------- answers and choices

q -T "$CERTS/trust.pem" -H "$SLAPD_URI" valid@example.dk
like "$OUT" "^found server=$SLAPD_URI entries=1 values=1 " "valid@: found, one certificate"
is "$(field chosen "$OUT")" "$(fp valid)" "valid@: the certificate chosen is valid.pem"

q -T "$CERTS/trust.pem" -H "$SLAPD_URI" twocerts@example.dk
like "$OUT" "^found .* entries=2 values=2 " "twocerts@: two entries, two certificates"
is "$(field chosen "$OUT")" "$(fp two-b)" "twocerts@: the one that expires last"

q -T "$CERTS/trust.pem" -H "$SLAPD_URI" bundle@example.dk
is "$(field chosen "$OUT")" "$(fp bundle)" "bundle@: userSMIMECertificate bundle, leaf chosen"

q -T "$CERTS/trust.pem" -H "$SLAPD_URI" expired@example.dk
like "$OUT" "^found .* valid=none" "expired@: found, but none valid"

q -H "$SLAPD_URI" nobody@example.dk
like "$OUT" "^notfound server=$SLAPD_URI entries=0 " "unknown address: not found"

q -H "$SLAPD_URI" nocert@example.dk
like "$OUT" "^notfound server=$SLAPD_URI entries=1 " "an entry without certificates: not found"

q -H "$SLAPD_URI" VALID@EXAMPLE.DK
like "$OUT" "^found .* values=1 " "mail matching in the directory ignores case (certcheck does not)"

# ------------------------------------------------------------- injection

for a in '*@example.dk' 'valid*@example.dk' '*)(mail=*@example.dk' '*)(|(mail=*)@example.dk' \
	'v*d@example.dk' '\2a@example.dk' '*' '(mail=valid@example.dk)'; do
	q -H "$SLAPD_URI" "$a"
	like "$OUT" "^notfound .* entries=0 " "injection <$a>: matches nobody"
done
like "$(grep -F 'filter="(mail=' "$SLAPD_DIR/slapd.log")" \
	'filter="\(mail=\\2[Aa]\\29\\28mail=\\2[Aa]@example.dk\)"' \
	"slapd received the value escaped (RFC 4515)"

q -T "$CERTS/trust.pem" -H "$SLAPD_URI" 'star*name@example.dk'
like "$OUT" "^found .* entries=1 values=1 " "star*name@: exactly the entry with the '*' in it"
is "$(field chosen "$OUT")" "$(fp star)" "star*name@: its certificate"

# ---------------------------------------------------------- filter, base

q -f '(&(objectClass=inetOrgPerson)(mail=%s))' -H "$SLAPD_URI" valid@example.dk
like "$OUT" "^found .* values=1 " "a filter template with text around %s"
q -f '(&(objectClass=organizationalUnit)(mail=%s))' -H "$SLAPD_URI" valid@example.dk
like "$OUT" "^notfound " "... and the text around it counts"
q -b ou=people,c=DK -H "$SLAPD_URI" valid@example.dk
like "$OUT" "^found " "LDAPBase below the suffix"
q -b o=elsewhere -H "$SLAPD_URI" valid@example.dk
like "$OUT" "^retry .*No such object" "LDAPBase that does not exist: retry, not 'not found'"
q -f '(mail=%s' -H "$SLAPD_URI" valid@example.dk
like "$OUT" "^error LDAPFilter .*unbalanced" "a broken LDAPFilter is refused at start"

# ------------------------------------------------------------------- TLS

q -C "$CERTS/trust.pem" -H "$SLAPD_TLSURI" valid@example.dk
like "$OUT" "^found server=$SLAPD_TLSURI " "ldaps:// with LDAPCACertFile: found"
q -C "$CERTS/ca/untrusted/ca.pem" -H "$SLAPD_TLSURI" valid@example.dk
like "$OUT" "^retry .*certificate did not verify" "ldaps:// with a CA that did not sign the server: retry"
q -C "$CERTS/no-such-ca.pem" -H "$SLAPD_TLSURI" valid@example.dk
like "$OUT" "^error LDAPCACertFile .*no-such-ca.pem: No such file" "ldaps:// with a missing LDAPCACertFile: refused at start"

# -------------------------------------------------------------- StartTLS

# conn_story FILTER - what the slapd connection that searched with FILTER
# did, in order: starttls, tls (established), bind, search.
conn_story() {
	local c
	c=$(grep -F "filter=\"$1\"" "$SLAPD_DIR/slapd.log" | sed -n 's/.* conn=\([0-9]*\) op=.*/\1/p' |
		tail -n 1)
	[ -n "$c" ] || return 0
	awk -v c="conn=$c" '$3 == c {
		if (/ STARTTLS$/) s = s " starttls"
		else if (/ TLS established /) s = s " tls"
		else if (/ BIND dn=.* method=/) s = s " bind"
		else if (/ SRCH base=/) s = s " search"
	} END { print substr(s, 2) }' "$SLAPD_DIR/slapd.log"
}
starttls_count() { grep -c ' STARTTLS$' "$SLAPD_DIR/slapd.log"; }

q -S -C "$CERTS/trust.pem" -T "$CERTS/trust.pem" -f '(&(mail=%s)(cn=*))' -H "$SLAPD_URI" \
	valid@example.dk
like "$OUT" "^found server=$SLAPD_URI entries=1 values=1 " "StartTLS on ldap:// with LDAPCACertFile: found"
is "$(field chosen "$OUT")" "$(fp valid)" "... the certificate of valid.pem"
is "$(conn_story '(&(mail=valid@example.dk)(cn=*))')" "starttls tls search" \
	"... searched after StartTLS, on the same connection"
q -S -C "$CERTS/trust.pem" -D "$SLAPD_ROOTDN" -y "$SLAPD_ROOTPW_FILE" -f '(&(mail=%s)(sn=*))' \
	-H "$SLAPD_URI" valid@example.dk
like "$OUT" "^found " "StartTLS and a simple bind: found"
is "$(conn_story '(&(mail=valid@example.dk)(sn=*))')" "starttls tls bind search" \
	"... the password went only inside TLS"
before=$(starttls_count)
OUT=$(printf 'nocert@example.dk\nnobody@example.dk\nnocert@example.dk\n' |
	"$DIRQUERY" -S -C "$CERTS/trust.pem" -H "$SLAPD_URI" 2>>"$ERR" | tr '\n' ' ')
like "$OUT" "^notfound .* notfound .* notfound " "three lookups with StartTLS on one directory"
is "$(($(starttls_count) - before))" 1 "... one StartTLS: the connection is kept"

q -S -C "$CERTS/ca/untrusted/ca.pem" -f '(&(mail=%s)(objectClass=*))' -H "$SLAPD_URI" valid@example.dk
like "$OUT" "^retry .*StartTLS handshake: .*certificate did not verify" \
	"StartTLS with a CA that did not sign the server: retry"
is "$(slapd_searches '(&(mail=valid@example.dk)(objectClass=*))')" 0 "... and no search"
q -S -C "$CERTS/trust.pem" -H "ldap://127.0.0.1:$SLAPD_TLSPORT/" -H "$SLAPD_URI" valid@example.dk
like "$OUT" "^found server=$SLAPD_URI " \
	"StartTLS to a server that hangs up on it (the ldaps:// port): found on the next"
like "$(cat "$ERR")" "127.0.0.1:$SLAPD_TLSPORT/: StartTLS: Can't contact LDAP server" \
	"... the first one's failure logged"
before=$(starttls_count)
q -S -C "$CERTS/trust.pem" -H "$SLAPD_TLSURI" valid@example.dk
like "$OUT" "^found server=$SLAPD_TLSURI " "LDAPStartTLS and ldaps://: found"
is "$(($(starttls_count) - before))" 0 "... without StartTLS inside TLS"

# A second slapd on the same database, without TLS: it refuses StartTLS.
PLAIN=$TEST_TMP/plain
mkdir -p "$PLAIN"
sed -e '/^TLS/d' -e "s|^pidfile .*|pidfile $PLAIN/slapd.pid|" \
	-e "s|^argsfile .*|argsfile $PLAIN/slapd.args|" "$SLAPD_DIR/slapd.conf" >"$PLAIN/slapd.conf"
PLAIN_URI=ldap://127.0.0.1:$(free_port)/
PLAIN_IPC=ldapi://${PLAIN//\//%2F}%2Fldapi
"$SLAPD_BIN" -d stats -f "$PLAIN/slapd.conf" -h "$PLAIN_URI $PLAIN_IPC" \
	>"$PLAIN/slapd.log" 2>&1 </dev/null &
PLAIN_PID=$!
track_pid "$PLAIN_PID"
plain_up() { ldapsearch -x -LLL -o nettimeout=1 -H "$PLAIN_URI" -b c=DK -s base dn >/dev/null 2>&1; }
ok "a slapd without TLS answers on $PLAIN_URI" wait_for 10 plain_up || diag_file "$PLAIN/slapd.log"
q -S -C "$CERTS/trust.pem" -f '(&(mail=%s)(mail=*))' -H "$PLAIN_URI" valid@example.dk
like "$OUT" "^retry .*StartTLS: Protocol error" "StartTLS refused by the server: retry"
like "$(cat "$PLAIN/slapd.log")" 'conn=[0-9]+ op=0 RESULT tag=120 err=2 ' "... it did refuse"
is "$(grep -cF 'filter="(&(mail=valid@example.dk)(mail=*))"' "$PLAIN/slapd.log")" 0 \
	"... and got no search in the clear"
q -S -C "$CERTS/trust.pem" -H "$PLAIN_URI" -H "$SLAPD_URI" valid@example.dk
like "$OUT" "^found server=$SLAPD_URI " "StartTLS refused by the first server: found on the second"
q -S -C "$CERTS/trust.pem" -H "$PLAIN_IPC" valid@example.dk
like "$OUT" "^found server=$PLAIN_IPC " "LDAPStartTLS leaves ldapi:// alone: found"
stop_pid "$PLAIN_PID"

# ------------------------------------------------------------------ bind

q -D "$SLAPD_ROOTDN" -y "$SLAPD_ROOTPW_FILE" -H "$SLAPD_URI" valid@example.dk
like "$OUT" "^found " "simple bind with the right password"
like "$(grep -c "BIND dn=\"$SLAPD_ROOTDN\" method=128" "$SLAPD_DIR/slapd.log")" '^[1-9]' \
	"slapd saw the bind"
(umask 077 && printf 'wrongpw\n' >"$TEST_TMP/wrongpw")
q -D "$SLAPD_ROOTDN" -y "$TEST_TMP/wrongpw" -H "$SLAPD_URI" valid@example.dk
like "$OUT" "^retry .*bind as $SLAPD_ROOTDN: Invalid credentials" "a wrong password: retry"
: >"$TEST_TMP/emptypw"
q -D "$SLAPD_ROOTDN" -y "$TEST_TMP/emptypw" -H "$SLAPD_URI" valid@example.dk
like "$OUT" "^error .*no password" "an empty password file is refused at start"
unlike "$OUT$(cat "$ERR")" "secret|wrongpw" "no password in any output or log"

# ------------------------------------------------------------ size limit

{
	for i in $(seq 1 25); do
		printf 'dn: cn=filler%d,ou=people,c=DK\nobjectClass: inetOrgPerson\n' "$i"
		printf 'cn: filler%d\nsn: filler\nmail: filler%d@example.dk\n\n' "$i" "$i"
	done
} >"$TEST_TMP/filler.ldif"
add_fillers() {
	ldapadd -x -H "$SLAPD_URI" -D "$SLAPD_ROOTDN" -w secret -o nettimeout=5 \
		-f "$TEST_TMP/filler.ldif" >"$TEST_TMP/ldapadd.log" 2>&1 || diag_file "$TEST_TMP/ldapadd.log"
}
ok "25 more entries added" add_fillers
q -f '(|(mail=%s)(sn=filler))' -H "$SLAPD_URI" valid@example.dk
like "$OUT" " entries=20 .*truncated" "a search matching 26 entries reads 20 and says so"

# -------------------------------------------------------------- failover

DEAD=$(free_port)
q -H "ldap://127.0.0.1:$DEAD/" -H "$SLAPD_URI" valid@example.dk
like "$OUT" "^found server=$SLAPD_URI " "first URI refuses connections: the second answers"
q -H "ldap://127.0.0.1:$DEAD/" -H "ldap://127.0.0.1:$(free_port)/" valid@example.dk
like "$OUT" "^retry .*127.0.0.1:$DEAD/: Can't contact LDAP server; ldap://127.0.0.1:[0-9]+/: Can't contact" \
	"no server answers: retry, each one's reason"

# ------------------------------------------- one directory, many lookups

# A dirquery that keeps running as a coprocess: an address in, an answer out.
dq_start() {
	coproc DQ { exec "$DIRQUERY" "$@" 2>>"$ERR"; }
	track_pid "$DQ_PID"
}
dq_ask() {
	echo "$1" >&"${DQ[1]}"
	OUT=
	read -r -t 30 OUT <&"${DQ[0]}"
}
dq_stop() {
	local fd=${DQ[1]}
	exec {fd}>&-
	stop_pid "$DQ_PID" 5
}
accepts() { grep -c ' ACCEPT from IP=127.0.0.1' "$SLAPD_DIR/slapd.log"; }

before=$(accepts)
dq_start -v -t 3 -H "$SLAPD_URI"
dq_ask valid@example.dk
dq_ask twocerts@example.dk
dq_ask nobody@example.dk
like "$OUT" "^notfound " "three lookups on one directory"
is "$(($(accepts) - before))" 1 "... over one connection"

slapd_stop
dq_ask valid@example.dk
like "$OUT" "^retry ms=[0-9]+ error=$SLAPD_URI: Can't contact LDAP server" "slapd stopped: retry"
ms=$(ms_of "$OUT")
ok "slapd stopped: the answer comes at once ($ms ms)" test "${ms:-99999}" -lt 1000
slapd_start "$SLAPD_PORT" || fail "slapd restarts"
# A server in back-off is not tried, even the only one: the lookups
# answer at once until its back-off (5 s the first time) ends.
dq_ask valid@example.dk
like "$OUT" "^retry ms=[0-9]+ error=$SLAPD_URI: not tried, in back-off for [1-5] s more" \
	"slapd back, its back-off not over: not tried"
ms=$(ms_of "$OUT")
ok "... the answer comes at once ($ms ms)" test "${ms:-99999}" -lt 100
for _ in $(seq 1 14); do
	sleep 0.5
	dq_ask valid@example.dk
	case $OUT in found*) break ;; esac
done
like "$OUT" "^found " "slapd back, its back-off over: found"
slapd_stop
slapd_start "$SLAPD_PORT" || fail "slapd restarts"
dq_ask valid@example.dk
like "$OUT" "^found " "slapd restarted behind an idle connection: found on a new one"
dq_stop
like "$(cat "$ERR")" "idle connection was closed; reconnecting" "... having noticed the stale one"

# Threads share one directory: each lookup has a connection to itself.
before=$(accepts)
q -P 8 -H "$SLAPD_URI" valid@example.dk
is "$OUT" "parallel found=160 notfound=0 retry=0" "8 threads x 20 lookups at once: all found"
n=$(($(accepts) - before))
ok "... over at most 8 connections ($n)" test "$n" -ge 1 -a "$n" -le 8

# ----------------------------------------------------- a silent server

"$SILENT" >"$TEST_TMP/silent.port" &
SILENT_PID=$!
track_pid "$SILENT_PID"
wait_for 5 test -s "$TEST_TMP/silent.port"
SPORT=$(head -n 1 "$TEST_TMP/silent.port")

q -t 2 -H "ldap://127.0.0.1:$SPORT/" valid@example.dk
like "$OUT" "^retry .*: no answer in time" "a silent ldap:// server: retry"
ms=$(ms_of "$OUT")
ok "... within LDAPTimeout 2 s + 1 s ($ms ms)" test "${ms:-99999}" -le 3000
ok "... having waited for it ($ms ms)" test "${ms:-0}" -ge 1500

q -t 2 -C "$CERTS/trust.pem" -H "ldaps://127.0.0.1:$SPORT/" valid@example.dk
like "$OUT" "^retry .*: no answer in time" "a silent ldaps:// server (stuck TLS handshake): retry"
ms=$(ms_of "$OUT")
ok "... within LDAPTimeout 2 s + 1 s ($ms ms)" test "${ms:-99999}" -le 3000

q -t 2 -S -C "$CERTS/trust.pem" -H "ldap://127.0.0.1:$SPORT/" valid@example.dk
like "$OUT" "^retry .*: StartTLS: no answer in time" "a silent server asked for StartTLS: retry"
ms=$(ms_of "$OUT")
ok "... within LDAPTimeout 2 s + 1 s ($ms ms)" test "${ms:-99999}" -le 3000
ok "... having waited for it ($ms ms)" test "${ms:-0}" -ge 1500

dq_start -t 4 -H "ldap://127.0.0.1:$SPORT/" -H "$SLAPD_URI"
dq_ask valid@example.dk
like "$OUT" "^found server=$SLAPD_URI " "silent first server, live second: found on the second"
ms=$(ms_of "$OUT")
ok "... after the first had half of LDAPTimeout 4 s ($ms ms)" \
	test "${ms:-99999}" -ge 1500 -a "${ms:-99999}" -le 3000
dq_ask valid@example.dk
like "$OUT" "^found server=$SLAPD_URI " "next lookup: found on the second again"
ms=$(ms_of "$OUT")
ok "... at once: the silent server is in back-off ($ms ms)" test "${ms:-99999}" -lt 1000
dq_stop

stop_pid "$SILENT_PID"
done_testing

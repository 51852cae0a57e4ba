# slapd.sh - a private OpenLDAP slapd on 127.0.0.1 holding the test
# certificates of mkcerts.sh (source common.sh first).
#
# Exports:
#   slapd_setup CERTDIR     write $SLAPD_DIR/slapd.conf (suffix c=DK, rootdn
#                           cn=admin,c=DK with password "secret", TLS with
#                           CERTDIR/server.pem) and load CERTDIR/directory.ldif
#                           with slapadd. Sets SLAPD_DIR, SLAPD_ROOTDN,
#                           SLAPD_ROOTPW_FILE (the password in a mode-0600 file)
#   slapd_start [PORT [TLSPORT]]
#                           start slapd in the foreground of a background
#                           job, logging operations ("-d stats") to
#                           $SLAPD_DIR/slapd.log; listens on ldap://PORT and,
#                           when given, ldaps://TLSPORT (free ports when
#                           none are given). Sets SLAPD_PID, SLAPD_PORT,
#                           SLAPD_TLSPORT, SLAPD_URI, SLAPD_TLSURI. Returns 1
#                           (with the log as diagnostics) if it does not
#                           answer within 10 s
#   slapd_stop              stop it by PID (the next slapd_start reuses the
#                           same ports unless told otherwise)
#   slapd_searches FILTER   how many searches with FILTER the log shows
#
# Needs slapd, slapadd and ldapsearch (Debian: slapd, ldap-utils).

SLAPD_BIN=${SLAPD_BIN:-/usr/sbin/slapd}
SLAPADD_BIN=${SLAPADD_BIN:-/usr/sbin/slapadd}

slapd_setup() {
	local certs=$1 schema=/etc/ldap/schema moddir
	SLAPD_DIR=$TEST_TMP/slapd
	SLAPD_ROOTDN="cn=admin,c=DK"
	SLAPD_ROOTPW_FILE=$SLAPD_DIR/rootpw
	mkdir -p "$SLAPD_DIR/db"
	(umask 077 && echo secret >"$SLAPD_ROOTPW_FILE")
	for moddir in /usr/lib/ldap /usr/lib/x86_64-linux-gnu/ldap /usr/lib/openldap /usr/libexec/openldap; do
		[ -e "$moddir/back_mdb.la" ] || [ -e "$moddir/back_mdb.so" ] && break
	done
	cat "$certs/server.pem" "$certs/ca/inter/ca.pem" >"$SLAPD_DIR/server-chain.pem"
	cat >"$SLAPD_DIR/slapd.conf" <<EOF
include $schema/core.schema
include $schema/cosine.schema
include $schema/inetorgperson.schema
pidfile $SLAPD_DIR/slapd.pid
argsfile $SLAPD_DIR/slapd.args
modulepath $moddir
moduleload back_mdb
TLSCACertificateFile $certs/trust.pem
TLSCertificateFile $SLAPD_DIR/server-chain.pem
TLSCertificateKeyFile $certs/server.key
database mdb
maxsize 10485760
suffix "c=DK"
rootdn "$SLAPD_ROOTDN"
rootpw secret
directory $SLAPD_DIR/db
index mail eq
EOF
	if ! "$SLAPADD_BIN" -q -f "$SLAPD_DIR/slapd.conf" -l "$certs/directory.ldif" \
		>"$SLAPD_DIR/slapadd.log" 2>&1; then
		diag_file "$SLAPD_DIR/slapadd.log"
		return 1
	fi
}

_slapd_up() {
	ldapsearch -x -LLL -o nettimeout=1 -H "$SLAPD_URI" -b c=DK -s base dn >/dev/null 2>&1
}

slapd_start() {
	SLAPD_PORT=${1:-${SLAPD_PORT:-$(free_port)}}
	SLAPD_URI=ldap://127.0.0.1:$SLAPD_PORT/
	local urls=$SLAPD_URI
	if [ $# -ge 2 ] || [ -n "${SLAPD_TLSPORT:-}" ]; then
		SLAPD_TLSPORT=${2:-$SLAPD_TLSPORT}
		SLAPD_TLSURI=ldaps://127.0.0.1:$SLAPD_TLSPORT/
		urls="$urls $SLAPD_TLSURI"
	fi
	"$SLAPD_BIN" -d stats -f "$SLAPD_DIR/slapd.conf" -h "$urls" \
		>>"$SLAPD_DIR/slapd.log" 2>&1 </dev/null &
	SLAPD_PID=$!
	track_pid "$SLAPD_PID"
	if ! wait_for 10 _slapd_up; then
		diag "slapd did not answer on $SLAPD_URI"
		diag_file "$SLAPD_DIR/slapd.log"
		return 1
	fi
}

slapd_stop() {
	[ -n "${SLAPD_PID:-}" ] || return 0
	stop_pid "$SLAPD_PID" 10
	SLAPD_PID=
}

slapd_searches() {
	grep -cF "filter=\"$1\"" "$SLAPD_DIR/slapd.log"
}

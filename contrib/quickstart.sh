#!/bin/sh
# quickstart.sh - build sikkermail and start it, or build it and run every test.
#
#   contrib/quickstart.sh          install what is missing, build, start the
#                                  milter in the foreground on its built-in
#                                  default configuration
#   contrib/quickstart.sh check    the same set-up, then every test layer
#                                  (unit, milter protocol, end to end) in a
#                                  normal and a sanitizer (ASan/UBSan) build;
#                                  ends with "N passed, N failed, N skipped"
#
# Run as root on Debian or Ubuntu: missing packages are installed with
# apt-get. Elsewhere the script lists the packages it needs and stops.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
mode=${1:-run}
case $mode in
run | check) ;;
*)
	echo "usage: contrib/quickstart.sh [check]" >&2
	exit 64
	;;
esac

# Build and test dependencies, by Debian package name.
PACKAGES="build-essential autoconf automake libtool pkg-config
	libmilter-dev libssl-dev libldap-dev libsqlite3-dev libidn2-dev libgmime-3.0-dev zlib1g-dev
	libmicrohttpd-dev
	openssl sqlite3 ca-certificates procps iproute2 passwd"
TEST_PACKAGES="postfix slapd ldap-utils miltertest swaks clang libclang-rt-14-dev chromium poppler-utils
	nginx-light apache2 apache2-utils
	debhelper dpkg-dev lintian systemd gdb
	sasl2-bin libsasl2-modules curl python3"

say() { printf 'quickstart: %s\n' "$*"; }
die() {
	printf 'quickstart: %s\n' "$*" >&2
	exit 1
}

install_packages() {
	want="$PACKAGES"
	[ "$mode" = check ] && want="$want $TEST_PACKAGES"
	missing=""
	for p in $want; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if ! command -v apt-get >/dev/null 2>&1; then
		die "not a Debian system: install these (or your system's equivalents) and run again:$missing"
	fi
	[ "$(id -u)" = 0 ] || die "packages missing ($missing); run as root to install them"
	say "installing:$missing"
	# Postfix and slapd must not configure a system instance: the tests run private ones.
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
	export DEBIAN_FRONTEND=noninteractive
	# nginx and Apache are there for tests/proxy.sh, which runs private
	# instances on ports of its own. Installed, the distribution's services
	# would start on port 80 (the second to start failing, and its
	# installation with it) and stay enabled for every boot. So while apt
	# installs them, a policy-rc.d refuses to start those two (only them,
	# and only when the system has no policy-rc.d of its own), and
	# afterwards they are disabled at boot. An nginx or Apache installed
	# before is not in $missing and is left as it is.
	webservers=""
	for p in $missing; do
		case $p in
		nginx-light) webservers="$webservers nginx" ;;
		apache2) webservers="$webservers apache2" ;;
		esac
	done
	# invoke-rc.d asks with the script's name, deb-systemd-invoke (on a
	# systemd host) with the unit's. The file goes however the script ends.
	policy=""
	if [ -n "$webservers" ] && [ ! -e /usr/sbin/policy-rc.d ] && [ ! -L /usr/sbin/policy-rc.d ]; then
		policy=/usr/sbin/policy-rc.d
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
		trap 'rm -f /usr/sbin/policy-rc.d; exit 130' INT
		trap 'rm -f /usr/sbin/policy-rc.d; exit 143' TERM
		cat >"$policy" <<'POLICY'
#!/bin/sh
# made by sikkermail's contrib/quickstart.sh for the length of one apt-get
# install: the tests run web servers of their own, not these services
case $1 in
nginx | nginx.service | apache2 | apache2.service | apache-htcacheclean | \
	apache-htcacheclean.service) exit 101 ;;
esac
exit 0
POLICY
		chmod 0755 "$policy"
	fi
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
		die "apt-get install failed:$missing"
	if [ -n "$policy" ]; then
		rm -f "$policy"
		trap - EXIT INT TERM
	fi
	for s in $webservers; do
		if command -v systemctl >/dev/null 2>&1; then
			systemctl disable --quiet "$s" >/dev/null 2>&1 || true
		fi
		update-rc.d "$s" disable >/dev/null 2>&1 || true
	done
}

# build DIR [configure args...] - configure out of tree and make.
build() {
	dir=$1
	shift
	[ -x configure ] && [ configure -nt configure.ac ] && [ Makefile.in -nt Makefile.am ] ||
		autoreconf -fi >/dev/null 2>&1
	mkdir -p "$dir"
	if ! (cd "$dir" && "$top/configure" --quiet --enable-werror "$@" && make -s -j2) \
		>"$dir/build.out" 2>&1; then
		tail -40 "$dir/build.out" >&2
		die "build in $dir failed (full output in $dir/build.out)"
	fi
}

# setup_runtime - the user, directories and group membership the default configuration expects.
setup_runtime() {
	if ! getent passwd sikkermail >/dev/null; then
		useradd --system --user-group --home-dir /var/lib/sikkermail --no-create-home \
			--shell /usr/sbin/nologin sikkermail
	fi
	install -d -o sikkermail -g sikkermail -m 0750 /var/lib/sikkermail
	# The socket directories belong to group postfix (set-gid, so the socket
	# does too): Postfix's daemons keep only their primary group.
	sockgroup=sikkermail
	getent group postfix >/dev/null && sockgroup=postfix
	install -d -o sikkermail -g "$sockgroup" -m 2750 /run/sikkermail
	# where a chrooted smtpd finds the socket (Debian's default master.cf)
	[ -d /var/spool/postfix ] &&
		install -d -o sikkermail -g "$sockgroup" -m 2750 /var/spool/postfix/sikkermail
	# re-injection through sendmail(1) without relying on its set-gid bit
	getent group postdrop >/dev/null && usermod -a -G postdrop sikkermail || true
}

# chrooted - does this Postfix run smtpd chrooted (Debian's master.cf does)?
chrooted() {
	c=$(postconf -F smtp/inet/chroot 2>/dev/null | sed 's/.*= *//')
	# postconf needs a main.cf; a fresh "No configuration" install has only master.cf
	[ -n "$c" ] || c=$(awk '$1 == "smtp" && $2 == "inet" { print $5 }' /etc/postfix/master.cf 2>/dev/null)
	[ "$c" = y ]
}

# count_results LOG - add one test-suite.log's counts to the totals.
count_results() {
	eval "$(awk '/^# PASS:/ {p=$3} /^# (FAIL|ERROR|XPASS):/ {f+=$3} /^# SKIP:/ {s=$3}
		END {printf "p=%d f=%d s=%d\n", p, f, s}' "$1")"
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
}

# run_checks DIR LABEL - make check in a build tree; nothing may be skipped.
run_checks() {
	say "running the tests ($2)"
	rc=0
	(cd "$1" && SIKKERMAIL_STRICT=1 make -s check >"$1/check.out" 2>&1) || rc=1
	grep -E '^(FAIL|ERROR|XPASS|SKIP):' "$1/check.out" || true
	if [ -f "$1/test-suite.log" ]; then
		count_results "$1/test-suite.log"
		[ $rc = 0 ] || sed -n '/^FAIL:\|^ERROR:/,/^$/p' "$1/test-suite.log" | head -40
	else
		tail -30 "$1/check.out"
		failed=$((failed + 1))
	fi
}

install_packages
say "building in build/"
build "$top/build"

if [ "$mode" = run ]; then
	[ "$(id -u)" = 0 ] && setup_runtime
	socket=/run/sikkermail/sikkermail.sock
	smtpd_socket=$socket
	if [ "$(id -u)" = 0 ] && chrooted; then
		# smtpd looks for the socket inside its chroot
		socket=/var/spool/postfix/sikkermail/sikkermail.sock
		smtpd_socket=/sikkermail/sikkermail.sock
	fi
	cat <<EOF

Add these lines to Postfix's main.cf and run "postfix reload":

    smtpd_milters = unix:$smtpd_socket
    non_smtpd_milters = unix:$socket
    milter_default_action = tempfail

(contrib/postfix-main.cf explains them, and the TLS policy lines; with
Debian's chrooted smtpd the socket lives inside /var/spool/postfix.)
The filter now runs in the foreground on its built-in configuration; stop it
with Ctrl-C. Configure it in /etc/sikkermail/sikkermail.conf
(contrib/sikkermail.conf is an example; see sikkermail.conf(5) and
doc/ADMIN-GUIDE).

EOF
	exec "$top/build/sikkermail-milter" -f -p "local:$socket"
fi

passed=0 failed=0 skipped=0
run_checks "$top/build" "normal build"
say "building with AddressSanitizer and UndefinedBehaviorSanitizer in build-asan/"
build "$top/build-asan" CC=clang \
	CFLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS UBSAN_OPTIONS
run_checks "$top/build-asan" "sanitizer build"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ] && [ "$skipped" = 0 ]

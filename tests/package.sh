#!/bin/bash
# tests/package.sh - the Debian package, as a new administrator meets it:
# built with dpkg-buildpackage from a copy of the tree, lintian without
# errors, installed; then the filter started exactly as the systemd unit
# starts it (its own user, the runtime directory made by tmpfiles.d, as no
# init system runs here), a message sent through a private Postfix to its
# socket, and the package purged: nothing it made is left behind.
#
# It installs and removes a system package, so it runs only as root and
# cleans up whatever way it ends.

. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/postfix.sh"
. "$(dirname "$0")/lib/e2e.sh"

need_root "installs a package"
[ -d "$top_srcdir/debian" ] || skip_all "no debian/ directory in $top_srcdir"
[ -d "$top_srcdir/.git" ] || skip_all "the package is built from a git checkout"
for cmd in dpkg-buildpackage dh lintian setpriv systemd-tmpfiles postfix swaks smtp-sink; do
	need "$cmd" "$cmd not installed"
done
if dpkg-query -W -f='${Status}' sikkermail 2>/dev/null | grep -q 'ok installed'; then
	skip_all "a sikkermail package is installed on this machine already"
fi
at_exit "dpkg --purge sikkermail >/dev/null 2>&1"

# ------------------------------------------------------------ build

SRC=$TEST_TMP/src/sikkermail
mkdir -p "$SRC"
(cd "$top_srcdir" && git ls-files -z | xargs -0 cp --parents -t "$SRC")
if (cd "$SRC" && dpkg-buildpackage -us -uc -b) >"$TEST_TMP/build.log" 2>&1; then
	pass "dpkg-buildpackage -us -uc -b builds the package"
else
	fail "dpkg-buildpackage -us -uc -b builds the package"
	diag_file "$TEST_TMP/build.log" 30
	done_testing
fi
DEB=$(ls "$TEST_TMP"/src/sikkermail_*.deb 2>/dev/null | head -n 1)
ok "a .deb was made" test -n "$DEB"
lint=$(lintian --tag-display-limit 0 "$DEB" 2>&1 | grep -v 'running with root privileges')
is "$(printf '%s\n' "$lint" | grep -c '^E: ')" 0 "lintian: no errors" || diag "$lint"

contents=$(dpkg -c "$DEB" | awk '{print $6}')
for f in ./usr/sbin/sikkermail-milter ./usr/sbin/sikkermail-ctl ./lib/systemd/system/sikkermail.service \
	./usr/lib/tmpfiles.d/sikkermail.conf ./etc/sikkermail/sikkermail.conf \
	./usr/share/man/man8/sikkermail-milter.8.gz ./usr/share/man/man8/sikkermail-ctl.8.gz \
	./usr/share/man/man5/sikkermail.conf.5.gz ./usr/share/doc/sikkermail/ADMIN-GUIDE.gz \
	./lib/systemd/system/sikkermail-serve.service ./usr/share/doc/sikkermail/sikkermail-serve.nginx \
	./usr/share/doc/sikkermail/sikkermail-serve.apache; do
	like "$contents" "(^|"$'\n'")${f//./\\.}("$'\n'"|\$)" "the package has ${f#.}"
done

# ------------------------------------------------------------ install

maincf_before=$(md5sum /etc/postfix/main.cf /etc/postfix/master.cf 2>/dev/null)
if dpkg -i "$DEB" >"$TEST_TMP/install.log" 2>&1; then
	pass "dpkg -i installs it"
else
	fail "dpkg -i installs it"
	diag_file "$TEST_TMP/install.log" 30
	done_testing
fi
is "$(md5sum /etc/postfix/main.cf /etc/postfix/master.cf 2>/dev/null)" "$maincf_before" \
	"Postfix's main.cf and master.cf are untouched"
ok "the sikkermail user exists" getent passwd sikkermail
ok "the web service's unit is installed but not enabled (it waits for a proxy in front)" \
	test ! -e /etc/systemd/system/multi-user.target.wants/sikkermail-serve.service
like "$(dpkg-query -W -f='${Conffiles}' sikkermail)" "/etc/sikkermail/sikkermail\\.conf" \
	"/etc/sikkermail/sikkermail.conf is a conffile"
like "$(cat /etc/sikkermail/sikkermail.conf)" $'(^|\n)Mode[[:space:]]+monitor' \
	"the configuration installs in monitor mode"
is "$(stat -c '%U %G %a' /var/lib/sikkermail 2>/dev/null)" "sikkermail sikkermail 750" \
	"/var/lib/sikkermail made for the filter"
is "$(stat -c '%U %G %a' /var/spool/postfix/sikkermail 2>/dev/null)" "sikkermail postfix 2750" \
	"the socket directory in Postfix's chroot: group postfix, set-gid"
out=$(setpriv --reuid=sikkermail --regid=sikkermail --init-groups /usr/sbin/sikkermail-milter -n 2>&1)
is "$?" 0 "the installed configuration passes -n as the filter's user" || diag "$out"

# ------------------------------------------------------------ run as the unit does

systemd-tmpfiles --create /usr/lib/tmpfiles.d/sikkermail.conf
ok "tmpfiles.d made /run/sikkermail" test -d /run/sikkermail
SOCK=/var/spool/postfix/sikkermail/sikkermail.sock
out=$(setpriv --reuid=sikkermail --regid=sikkermail --init-groups /usr/sbin/sikkermail-milter 2>&1)
is "$?" 0 "the filter starts as ExecStart starts it (its own user, in the background)" || diag "$out"
PID=$(cut -d' ' -f1 /run/sikkermail/sikkermail.pid 2>/dev/null)
[ -n "$PID" ] && at_exit "kill -TERM $PID 2>/dev/null"
ok "it runs" alive "${PID:-0}"
is "$(ps -o user= -p "${PID:-0}" 2>/dev/null)" sikkermail "... as sikkermail"
is "$(stat -c '%U %G' "$SOCK" 2>/dev/null)" "sikkermail postfix" "its socket is of group postfix"

must "private Postfix starts" pf_start "$SOCK"
msg pkg x@gmail.com
send pkg x@gmail.com
if accepted "through the installed filter"; then
	ok "... delivered (monitor mode)" sink_wait pkg
	ok "... and tagged with what enforce mode would do" \
		header_line "$(sink_file pkg)" "X-Sikkermail: personal=yes (header); action=deliver; monitor=reject; ref=$QID"
fi
pf_stop

kill -TERM "${PID:-0}" 2>/dev/null
ok "SIGTERM stops it" wait_for 30 sh -c "! kill -0 ${PID:-0} 2>/dev/null"

# ------------------------------------------------------------ purge

if dpkg --purge sikkermail >"$TEST_TMP/purge.log" 2>&1; then
	pass "dpkg --purge removes it"
else
	fail "dpkg --purge removes it"
	diag_file "$TEST_TMP/purge.log" 20
fi
for p in /usr/sbin/sikkermail-milter /usr/sbin/sikkermail-ctl /etc/sikkermail /var/lib/sikkermail \
	/run/sikkermail /var/spool/postfix/sikkermail /lib/systemd/system/sikkermail.service \
	/lib/systemd/system/sikkermail-serve.service; do
	ok "after purge: $p is gone" test ! -e "$p"
done
ok "after purge: the sikkermail user is gone" sh -c '! getent passwd sikkermail'
ok "after purge: the sikkermail group is gone" sh -c '! getent group sikkermail'

done_testing

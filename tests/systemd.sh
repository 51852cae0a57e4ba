#!/bin/bash
# tests/systemd.sh - the systemd unit and the tmpfiles.d entry that "make
# install" installs: the unit passes "systemd-analyze verify" (its
# programs and its man pages found), its sandbox scores as systemd's
# "security" analysis rates it (the figure is in README and the admin
# guide), it reloads with SIGUSR1 and runs the filter as its own user with
# no capabilities; so does the web service's unit (sikkermail-serve); the
# tmpfiles.d entry makes /run/sikkermail for that user.

. "$(dirname "$0")/lib/common.sh"

need systemd-analyze "systemd-analyze not installed (Debian package systemd)"
UNIT=$top_builddir/contrib/sikkermail.service
[ -f "$UNIT" ] || skip_all "the unit is made by make ($UNIT)"

# the unit names the installed program; here it is the one just built
sed "s#^\(ExecStart[A-Za-z]*=\)[^ ]*/sikkermail-milter#\1$MILTER#" "$UNIT" >"$TEST_TMP/sikkermail.service"
mkdir -p "$TEST_TMP/man/man5" "$TEST_TMP/man/man8"
cp "$top_srcdir"/doc/*.8 "$TEST_TMP/man/man8/"
cp "$top_srcdir"/doc/*.5 "$TEST_TMP/man/man5/"

out=$(cd "$TEST_TMP" && MANPATH=$TEST_TMP/man systemd-analyze verify sikkermail.service 2>&1)
is "$?" 0 "systemd-analyze verify: clean" || diag "$out"
is "$out" "" "systemd-analyze verify: no warning"

out=$(cd "$TEST_TMP" && systemd-analyze security --offline=yes sikkermail.service 2>&1 | tail -n 1)
if [[ $out =~ exposure\ level\ for\ sikkermail\.service:\ ([0-9.]+)\ ([A-Z]+) ]]; then
	score=${BASH_REMATCH[1]} rating=${BASH_REMATCH[2]}
	diag "systemd-analyze security: $score $rating"
	is "$rating" OK "systemd-analyze security rates the sandbox OK (exposure $score)"
	ok "exposure at most 2.0, as documented" awk "BEGIN { exit !($score <= 2.0) }"
else
	fail "systemd-analyze security gave a score"
	diag "$out"
fi

unit=$(cat "$UNIT")
for line in "User=sikkermail" "CapabilityBoundingSet=" "NoNewPrivileges=yes" "ProtectSystem=strict" \
	"PrivateTmp=yes" "ProtectHome=yes" "RuntimeDirectory=sikkermail" "StateDirectory=sikkermail" \
	'ExecReload=/bin/kill -USR1 $MAINPID' "Restart=on-failure" "SupplementaryGroups=postdrop"; do
	like "$unit" "(^|"$'\n'")${line//\$/\\\$}("$'\n'"|\$)" "unit: $line"
done
like "$unit" $'\nReadWritePaths=[^\n]*/var/spool/postfix/maildrop' \
	"unit: sendmail(1) may write Postfix's maildrop (the encrypted copies)"

# the web service's unit: verified, sandboxed as well, as the filter's user, on loopback
SUNIT=$top_builddir/contrib/sikkermail-serve.service
sed "s#^\(ExecStart=\)[^ ]*/sikkermail-ctl#\1$CTL#" "$SUNIT" >"$TEST_TMP/sikkermail-serve.service"
out=$(cd "$TEST_TMP" && MANPATH=$TEST_TMP/man systemd-analyze verify sikkermail-serve.service 2>&1)
is "$?/$out" "0/" "sikkermail-serve.service: systemd-analyze verify, clean" || diag "$out"
out=$(cd "$TEST_TMP" && systemd-analyze security --offline=yes sikkermail-serve.service 2>&1 |
	tail -n 1)
if [[ $out =~ exposure\ level\ for\ sikkermail-serve\.service:\ ([0-9.]+)\ ([A-Z]+) ]]; then
	ok "sikkermail-serve.service: exposure at most 2.0 (${BASH_REMATCH[1]})" \
		awk "BEGIN { exit !(${BASH_REMATCH[1]} <= 2.0) }"
else
	fail "sikkermail-serve.service: systemd-analyze security gave a score"
	diag "$out"
fi
sunit=$(cat "$SUNIT")
for line in "User=sikkermail" "CapabilityBoundingSet=" "NoNewPrivileges=yes" "ProtectSystem=strict" \
	"ReadWritePaths=/var/lib/sikkermail"; do
	like "$sunit" "(^|"$'\n'")$line("$'\n'"|\$)" "sikkermail-serve.service: $line"
done
like "$sunit" $'\nExecStart=[^\n]*/sikkermail-ctl serve --listen 127\\.0\\.0\\.1:8471 --behind-proxy' \
	"sikkermail-serve.service: serve on loopback, behind the site's proxy"

tmpf=$top_srcdir/contrib/tmpfiles.d/sikkermail.conf
if command -v systemd-tmpfiles >/dev/null; then
	root=$TEST_TMP/root
	mkdir -p "$root/run" "$root/etc"
	# the user the package makes, in the image's own passwd and group
	echo "sikkermail:x:991:991:sikkermail:/var/lib/sikkermail:/usr/sbin/nologin" >"$root/etc/passwd"
	echo "sikkermail:x:991:" >"$root/etc/group"
	out=$(systemd-tmpfiles --create --root="$root" "$tmpf" 2>&1)
	is "$?" 0 "systemd-tmpfiles accepts the entry" || diag "$out"
	ok "... and makes /run/sikkermail" test -d "$root/run/sikkermail"
	is "$(stat -c '%a %u' "$root/run/sikkermail" 2>/dev/null)" "750 991" "... mode 0750, owned by sikkermail"
else
	fail "systemd-tmpfiles is installed"
fi

done_testing

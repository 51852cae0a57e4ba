#!/bin/bash
# hostile.sh - hostile and broken input through the milter protocol
# (tests/milter/hostile.lua): header limits, odd bytes, the flag header in
# other shapes, MIME that cannot be scanned, 5,000 recipients, a 50 MB
# body, abort and connection loss after every stage, many messages on one
# connection. Then: the daemon still runs, logged every decision, and its
# memory stayed bounded - the peak after all of it, and no growth from one
# batch of messages on a connection to the next.

. "$(dirname "$0")/../lib/common.sh"

need "$MILTER" "sikkermail-milter not built ($MILTER)"
need miltertest "miltertest not installed (Debian package miltertest)"
need runuser

D=$TEST_TMP/hostile
CONF=$D/milter.conf
SOCK=$D/milter.sock
LOG=$D/milter.log
mkdir -p "$D/db"
give_to_test_user "$D"
milter_conf "$CONF" "Socket local:$SOCK" "Database $D/db/sikkermail.db" \
	"InternalNetworks 192.0.2.0/24" "DetectCPR enforce"
# In a sanitizer build, freed memory is held back (ASan's quarantine) and
# would read as growth: this daemon reuses it at once.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0" \
	must "daemon starts" milter_start "$CONF" "$SOCK" "$LOG"
PID=$MILTER_PID

# kib FIELD - VmRSS or VmHWM of the daemon, in KiB.
kib() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$PID/status"; }

# run_lua PREFIX NAME=VALUE... - hostile.lua; each of its checks becomes a TAP line.
run_lua() {
	miltertest_tap "" "$SOCK" hostile.lua "$@"
}

start_hwm=$(kib VmHWM)
run_lua 4A0000 mode=all loops=1000
ok "the daemon still runs" alive "$PID"
hwm=$(kib VmHWM)
diag "peak memory: $((start_hwm / 1024)) MiB at start, $((hwm / 1024)) MiB after all of it"
# 1 MB of header kept at most, 1 MB of body in memory (the rest in a file),
# 5,000 recipients' records: a few MiB, never the 50 MB body.
ok "peak memory grew by less than 40 MiB ($(((hwm - start_hwm) / 1024)) MiB)" \
	test $((hwm - start_hwm)) -lt $((40 * 1024))
decisions=$(grep -c ' decision ' "$LOG")
ok "every message that reached its end was decided and logged ($decisions)" \
	test "$decisions" -ge 1015
unlike "$(cat "$LOG")" 'AddressSanitizer|runtime error|panic|fatal' "no sanitizer report or panic"

# a leak would grow with every message: two more batches, the second no bigger
run_lua 4B0000 mode=loops loops=1000
rss1=$(kib VmRSS)
run_lua 4C0000 mode=loops loops=1000
rss2=$(kib VmRSS)
diag "resident memory after 1,000 more messages: $((rss1 / 1024)) MiB; after another 1,000: $((rss2 / 1024)) MiB"
ok "no growth from one batch of 1,000 messages to the next ($(((rss2 - rss1))) KiB)" \
	test $((rss2 - rss1)) -lt 2048

stop_pid "$PID" 30
is "$STOP_STATUS" 0 "SIGTERM exits 0"
done_testing

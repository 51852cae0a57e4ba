#!/bin/bash
# e2e/fault-directory.sh - the certificate directory fails while mail flows
# (SPEC sections 6 and 8): 300 personal messages and 75 that are not
# personal go through a private Postfix, 10 at a time, while the private
# slapd is stopped, started again, blackholed (a listener on its port that
# accepts connections and never answers) and brought back.
#
# The personal messages go, in turn, to valid@example.dk (a certificate in
# the cache: encrypted, also while the directory is down, as long as the
# entry is within MaxStale), nocert@example.dk ("no certificate" in the
# cache: refused, likewise), a new address u<N>@example.dk each time
# (nothing cached: refused while the directory answers, tempfailed with
# OnLookupFailure while it does not) and bob@kp.dk (internal: no lookup,
# delivered). The others go to new addresses and are delivered whatever
# the directory does. At the start of each outage the cache entries are
# made stale (past CertTTL), so that they answer only because of MaxStale.
#
# Checks: every message answered; each kind's outcome as above, from the
# sender's reply, the decision line and what arrived at the sink; lost = 0
# and leaked = 0 (leaked: a personal message to anyone but bob@kp.dk that
# arrived in clear); probes during each outage (uncached: 4xx that names
# the directory; cached: encrypted) and after it (uncached: refused, the
# directory answered, once the server's back-off is over: recovery without
# a restart); one "directory down"
# and one "directory up" line per outage; the daemon never restarted.

. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/postfix.sh"
. "$(dirname "$0")/../lib/e2e.sh"
. "$(dirname "$0")/../lib/slapd.sh"
. "$(dirname "$0")/../lib/load.sh"

e2e_need openssl ldapsearch
need "$SLAPD_BIN" "slapd not installed (Debian: slapd)"
need "$SLAPADD_BIN" "slapadd not installed (Debian: slapd)"

silent_listener_find

PERSONAL=${FAULT_PERSONAL:-300}
TOTAL=$((PERSONAL * 5 / 4))
PARALLEL=10
LDAP_TIMEOUT=2
MSG_SUBJECT=fault-directory
T0=$SECONDS

directory_start

pf_listener_nomilter reinject
CONF_DEFAULTS=("LDAPURI $SLAPD_URI" "LDAPBase c=DK" "LDAPTimeout $LDAP_TIMEOUT"
	"TrustedCAFile $CERTS/trust.pem" "SecureMailbox sikker@kp.dk $MB/sikker.key $MB/sikker.pem"
	"DefaultSecureMailbox sikker@kp.dk" "Reinject smtp:127.0.0.1:${PF_PORTS[reinject]}"
	"MaxStale 7d")
conf main
give_to_test_user "$M"
milters_start main
LOG=$M/main.log
must "private Postfix starts" pf_start "$M/main.sock"
pass "slapd ($SLAPD_URI), milter, Postfix and smtp-sink running"

# sqlw QUERY - a write to the daemon's database while it runs.
sqlw() {
	as_test_user sqlite3 -batch -cmd ".timeout 10000" "$DB" "$1" >/dev/null 2>&1
}

# stale - every cached answer past CertTTL/NegativeTTL, inside MaxStale.
stale() {
	sqlw "UPDATE cert_cache SET fresh_until = strftime('%s', 'now') - 60" ||
		diag "could not make the cache entries stale"
}

# probe NAME RCPT WANT - one personal message now; WANT is encrypt,
# reject or tempfail; tests on the reply and the decision line.
probe_n=0
probe() {
	local name=$1 rcpt=$2 want=$3 tag
	probe_n=$((probe_n + 1))
	tag=probe$probe_n
	msg "$tag" "$rcpt"
	send "$tag" "$rcpt"
	QID=$SEND_QID
	[ -z "$QID" ] && [[ $SEND_REPLY =~ Ref\ ([0-9A-Za-z]+) ]] && QID=${BASH_REMATCH[1]}
	case $want in
	encrypt)
		like "$SEND_QID" '^[0-9A-Za-z]+$' "$name: accepted" || diag "$SEND_OUT"
		decision "$QID" "$name" "class1=encrypted" "applied=encrypt"
		;;
	reject)
		like "$SEND_REPLY" '^550[ -]5\.7\.1 ' "$name: 550 5.7.1" || diag "$SEND_OUT"
		decision "$QID" "$name" "class1=tls" "rule=PersonalToTLS"
		;;
	tempfail)
		like "$SEND_REPLY" '^451[ -]4\.[0-9.]+ ' "$name: 451 4.x.x" || diag "$SEND_OUT"
		like "$SEND_REPLY" 'certificate directory unavailable' \
			"$name: the reply says the certificate directory is unavailable"
		decision "$QID" "$name" "class1=unknown" "applied=tempfail" "rule=OnLookupFailure"
		;;
	esac
}

# lookups_resume SECONDS - a server in back-off is not tried until its
# back-off (5 s, doubling to 60 s while it keeps failing) is over: send
# personal messages to fresh addresses until one is looked up again.
lookups_resume() {
	local end=$((SECONDS + $1)) tag
	while [ $SECONDS -lt $end ]; do
		tag=resume$RANDOM
		msg "$tag" "$tag@example.dk"
		send "$tag" "$tag@example.dk"
		[[ $SEND_REPLY =~ ^550 ]] && return 0
		sleep 2
	done
	return 1
}

# ------------------------------------------------------------ warm the cache

probe "directory up, valid@ (first look-up)" valid@example.dk encrypt
probe "directory up, nocert@ (first look-up)" nocert@example.dk reject
is "$(sql "$DB" "SELECT group_concat(address || '=' || found, ' ') FROM (SELECT address, found FROM cert_cache ORDER BY address)")" \
	"nocert@example.dk=0 valid@example.dk=1" "both answers are in the cache"

# ------------------------------------------------------------ the plan

for ((n = 1; n <= TOTAL; n++)); do
	case $((n % 5)) in
	0) load_plan "$n" "p$n@example.dk" plain secure ;;
	1) load_plan "$n" valid@example.dk personal secure ;;
	2) load_plan "$n" nocert@example.dk personal secure ;;
	3) load_plan "$n" "u$n@example.dk" personal secure ;;
	4) load_plan "$n" bob@kp.dk personal clear ;;
	esac
done
diag "sending $TOTAL messages ($PERSONAL personal), $PARALLEL at a time"
load_start "$PARALLEL"

# ------------------------------------------------------------ the outages

downs=$(grep -a -c 'directory down uri=' "$LOG")
ups=$(grep -a -c 'directory up uri=' "$LOG")

load_wait $((TOTAL * 1 / 6))
stale
slapd_stop
diag "after $(load_answered) answered: slapd stopped"
probe "slapd stopped: uncached address" "stopped$RANDOM@example.dk" tempfail
probe "slapd stopped: valid@ from the stale cache" valid@example.dk encrypt
probe "slapd stopped: nocert@ from the stale cache" nocert@example.dk reject

load_wait $((TOTAL * 2 / 6))
must "slapd starts again on the same port" slapd_start "$SLAPD_PORT"
diag "after $(load_answered) answered: slapd running again"
t0=$SECONDS
ok "slapd restarted: lookups resume when the back-off is over" lookups_resume 75
diag "slapd restarted: lookups resumed after $((SECONDS - t0)) s"
probe "slapd restarted: an uncached address is looked up" "restarted$RANDOM@example.dk" reject
ok "slapd restarted: the recovery is logged" \
	wait_for 5 sh -c "[ \$(grep -a -c 'directory up uri=' '$LOG') -gt $ups ]"

load_wait $((TOTAL * 3 / 6))
stale
slapd_stop
"$SILENT" "$SLAPD_PORT" >"$TEST_TMP/silent.port" 2>&1 </dev/null &
silent_pid=$!
track_pid "$silent_pid"
ok "blackhole: a silent listener holds slapd's port" wait_for 5 test -s "$TEST_TMP/silent.port"
diag "after $(load_answered) answered: slapd blackholed (port $SLAPD_PORT accepts and never answers)"
t0=$SECONDS
probe "blackholed: uncached address" "blackholed$RANDOM@example.dk" tempfail
ok "blackholed: the answer came in seconds, not at a milter timeout ($((SECONDS - t0)) s)" \
	test $((SECONDS - t0)) -le $((4 * LDAP_TIMEOUT + 5))
probe "blackholed: valid@ from the stale cache" valid@example.dk encrypt

load_wait $((TOTAL * 4 / 6))
stop_pid "$silent_pid" 5
must "slapd starts again after the blackhole" slapd_start "$SLAPD_PORT"
diag "after $(load_answered) answered: slapd back"
ok "after the blackhole: lookups resume when the back-off is over" lookups_resume 75

load_finish
diag "all $TOTAL answered after $((SECONDS - T0)) s"
probe "after the outages: an uncached address is looked up" "after$RANDOM@example.dk" reject
probe "after the outages: valid@ is encrypted" valid@example.dk encrypt

ok "the daemon ran through it all (same process)" alive "${MPID[main]}"
is "$(grep -a -c 'directory down uri=' "$LOG")" $((downs + 2)) \
	"one 'directory down' line per outage (stopped, blackholed)"
is "$(grep -a -c 'directory up uri=' "$LOG")" $((ups + 2)) \
	"one 'directory up' line per recovery"
like "$(grep -a -c 'using the cached answer for valid@example.dk' "$LOG")" '^[1-9]' \
	"the stale cache answered for valid@ (logged)"
like "$(grep -a -c 'using the cached answer for nocert@example.dk' "$LOG")" '^[1-9]' \
	"the stale cache answered for nocert@ (logged)"

# ------------------------------------------------------------ what became of them

pf_wait_idle 60
sleep 1
load_tally
load_counts "directory stopped, restarted, blackholed"

declare -A k_sent k_ok
bad=0
for n in "${L_ORDER[@]}"; do
	rcpt=${L_RCPT[$n]} line=" ${O_LINE[$n]} " r=${O_REPLY[$n]}
	case $rcpt in
	valid@*) kind=cached-cert
		[ "$r" = accepted ] && [ "${O_COPY[$n]}" = 1 ] &&
			[[ $line == *" class1=encrypted "* && $line == *" applied=encrypt "* ]] ;;
	nocert@*) kind=cached-none
		[ "$r" = rejected ] && [[ $line == *" class1=tls "* && $line == *" applied=reject "* ]] ;;
	u*) kind=uncached
		if [ "$r" = tempfailed ]; then
			[[ $line == *" class1=unknown "* && $line == *" rule=OnLookupFailure "* ]] &&
				k_ok[uncached-tempfailed]=$((${k_ok[uncached-tempfailed]:-0} + 1))
		else
			[ "$r" = rejected ] && [[ $line == *" class1=tls "* ]] &&
				k_ok[uncached-rejected]=$((${k_ok[uncached-rejected]:-0} + 1))
		fi ;;
	bob@*) kind=internal
		[ "$r" = accepted ] && [ "${O_CLEAR[$n]}" = 1 ] && [[ $line == *" applied=deliver "* ]] ;;
	p*) kind=plain
		[ "$r" = accepted ] && [ "${O_CLEAR[$n]}" = 1 ] && [[ $line == *" personal=no "* ]] ;;
	esac
	st=$?
	k_sent[$kind]=$((${k_sent[$kind]:-0} + 1))
	if [ "$kind" != uncached ]; then
		if [ $st -eq 0 ]; then
			k_ok[$kind]=$((${k_ok[$kind]:-0} + 1))
		else
			bad=$((bad + 1))
			[ $bad -le 5 ] && diag "message $n ($kind, $rcpt): $r, copy ${O_COPY[$n]}, clear ${O_CLEAR[$n]}: ${O_LINE[$n]}"
		fi
	fi
done
for kind in cached-cert cached-none internal plain uncached; do
	diag "  $kind: sent ${k_sent[$kind]:-0}$(
		case $kind in
		cached-cert) echo ", encrypted ${k_ok[$kind]:-0}" ;;
		cached-none) echo ", refused ${k_ok[$kind]:-0}" ;;
		internal | plain) echo ", delivered ${k_ok[$kind]:-0}" ;;
		uncached) echo ", refused (directory answered) ${k_ok[uncached-rejected]:-0}, tempfailed ${k_ok[uncached-tempfailed]:-0}" ;;
		esac)"
done
is "${k_ok[cached-cert]:-0}" "${k_sent[cached-cert]}" "valid@ (certificate cached): every one encrypted"
is "${k_ok[cached-none]:-0}" "${k_sent[cached-none]}" "nocert@ (no certificate, cached): every one refused"
is "${k_ok[internal]:-0}" "${k_sent[internal]}" "bob@kp.dk (internal): every one delivered"
is "${k_ok[plain]:-0}" "${k_sent[plain]}" "not personal: every one delivered, whatever the directory did"
is "$((${k_ok[uncached-rejected]:-0} + ${k_ok[uncached-tempfailed]:-0}))" "${k_sent[uncached]}" \
	"uncached: each refused as tls (directory answered) or tempfailed as unknown (OnLookupFailure)"
like "${k_ok[uncached-tempfailed]:-0}" '^[1-9]' "uncached: some tempfailed during the outages"
like "${k_ok[uncached-rejected]:-0}" '^[1-9]' "uncached: some refused while the directory answered"
load_count_tests "directory faults"

term_or_backtrace "${MPID[main]}"
e2e_stop main
done_testing

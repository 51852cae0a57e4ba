# postfix.sh - a private Postfix instance on 127.0.0.1 that relays
# everything to a capturing smtp-sink (source common.sh first).
#
# Exports:
#   pf_start MILTER_SOCKET  (empty: no milter) start smtp-sink and Postfix; sets PF_DIR (the
#                           config dir), PF_PORT (Postfix smtpd), SINK_PORT,
#                           SINK_DIR (one file per received transaction),
#                           PF_LOG (Postfix's maillog)
#   pf_listener NAME SOCKET [PARAM=VALUE...]
#                           before pf_start: one more smtpd listener whose
#                           messages go through the milter on SOCKET
#                           instead, with the main.cf PARAMs overridden for
#                           it (-o); its port is PF_PORTS[NAME] (set now)
#   pf_listener_nomilter NAME
#                           before pf_start: one more smtpd listener that
#                           runs no milters (where filtered mail comes back
#                           in); its port is PF_PORTS[NAME] (set now)
#   pf_main_cf NAME=VALUE...
#                           before pf_start: main.cf settings beyond (or in
#                           place of) the ones written here
#   pf_stop                 stop Postfix (the sink is stopped by PID at exit)
#   pf_send TAG SWAKS_ARGS...
#                           one SMTP transaction with swaks to PF_PORT (or
#                           SEND_PORT when set); sets
#                           SEND_OUT (transcript), SEND_RC, SEND_QID (the
#                           "queued as" id, empty if not queued) and
#                           SEND_REPLY (the server's replies to the message
#                           data, "\n"-joined, without the "<** " marks)
#   pf_message FILE TAG HEADER...
#                           write a small message with a unique X-Test-Id
#   sink_file TAG           name of the captured file holding TAG
#   sink_by_id MESSAGE-ID   name of the captured file with this Message-ID
#   sink_wait TAG [SECS]    wait until TAG arrived at the sink
#   sink_count              number of captured transactions
#   sink_mark, sink_new     note the captured transactions; later, the
#                           files of those captured since (one a line)
#   pf_queue_files [QUEUE]  files in the queue (all queues, or one: hold ...)
#   pf_wait_idle [SECS]     wait until incoming/active/deferred are empty
#
# Design: one Postfix, started once. smtpd and the cleanup of locally
# submitted mail both run the milter on MILTER_SOCKET; milter failures
# tempfail (milter_default_action = tempfail), as in production. Only
# loopback: Postfix listens on 127.0.0.1:PF_PORT, relays every domain to
# [127.0.0.1]:SINK_PORT and does no DNS lookups.

declare -A PF_PORTS PF_LISTENER_SOCKETS PF_LISTENER_OPTS
PF_MAIN_CF=()

# The port is picked at once, so that a daemon's configuration can name it
# before Postfix runs. An empty SOCKET: no milters on that listener.
pf_listener() {
	local port
	pick_port port || return 1
	PF_PORTS[$1]=$port
	PF_LISTENER_SOCKETS[$1]=$2
	PF_LISTENER_OPTS[$1]="${*:3}"
}

pf_listener_nomilter() {
	pf_listener "$1" ""
}

pf_main_cf() {
	PF_MAIN_CF+=("$@")
}

pf_start() {
	local sock=$1 port

	PF_DIR=$TEST_TMP/postfix
	PF_LOG=$PF_DIR/maillog
	SINK_DIR=$TEST_TMP/sink
	pick_port PF_PORT || return 1
	pick_port SINK_PORT || return 1
	mkdir -p "$PF_DIR/queue" "$PF_DIR/data" "$SINK_DIR" || return 1
	chown postfix "$PF_DIR/data" "$SINK_DIR" || return 1

	_sink_start || return 1
	_pf_write_main_cf "$sock" || return 1
	if [ ${#PF_MAIN_CF[@]} -gt 0 ]; then
		postconf -c "$PF_DIR" -e "${PF_MAIN_CF[@]}" || return 1
	fi
	_pf_write_master_cf || return 1
	postfix -c "$PF_DIR" set-permissions >"$PF_DIR/set-permissions.log" 2>&1
	if ! postfix -c "$PF_DIR" check >"$PF_DIR/check.log" 2>&1; then
		diag "postfix check failed"
		diag_file "$PF_DIR/check.log"
		return 1
	fi
	if ! postfix -c "$PF_DIR" start >"$PF_DIR/start.log" 2>&1; then
		# The master can die before postlogd runs, silently: say what
		# holds our ports, then try once more.
		diag "postfix start failed; trying once more"
		for port in "$PF_PORT" "$SINK_PORT" "${PF_PORTS[@]}"; do
			ss -Htanp "sport = :$port" 2>/dev/null | sed 's/^/# port '"$port"': /'
		done
		postfix -c "$PF_DIR" stop >/dev/null 2>&1
		sleep 1
		if ! postfix -c "$PF_DIR" start >"$PF_DIR/start.log" 2>&1; then
			diag "postfix start failed"
			diag_file "$PF_DIR/start.log"
			diag_file "$PF_LOG"
			return 1
		fi
	fi
	at_exit "postfix -c '$PF_DIR' stop"
	for port in "$PF_PORT" "${PF_PORTS[@]}"; do
		if ! wait_for 15 port_in_use "$port"; then
			diag "postfix does not listen on 127.0.0.1:$port"
			diag_file "$PF_LOG"
			return 1
		fi
	done
}

pf_stop() {
	[ -n "${PF_DIR:-}" ] && postfix -c "$PF_DIR" stop >/dev/null 2>&1
}

_sink_start() {
	local user_opt=()
	[ "$(id -u)" -eq 0 ] && user_opt=(-u postfix)
	# -d: one file per transaction, named by the strftime template plus a
	# random suffix; the file starts with X-Mail-Args / X-Rcpt-Args lines.
	smtp-sink "${user_opt[@]}" -d "$SINK_DIR/%H%M%S." \
		127.0.0.1:"$SINK_PORT" 1000 >"$TEST_TMP/sink.log" 2>&1 </dev/null &
	SINK_PID=$!
	track_pid "$SINK_PID"
	if ! wait_for 10 port_in_use "$SINK_PORT"; then
		diag "smtp-sink did not start"
		diag_file "$TEST_TMP/sink.log"
		return 1
	fi
}

_pf_write_main_cf() {
	cat >"$PF_DIR/main.cf" <<EOF
# private test instance, generated by tests/lib/postfix.sh
compatibility_level = 3.6
queue_directory = $PF_DIR/queue
data_directory = $PF_DIR/data
maillog_file = $PF_LOG
maillog_file_prefixes = $PF_DIR
myhostname = mx.sikkermail.test
mydomain = sikkermail.test
myorigin = \$myhostname
inet_interfaces = loopback-only
inet_protocols = ipv4
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relay_domains =
relayhost = [127.0.0.1]:$SINK_PORT
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
smtp_tls_security_level = none
smtpd_tls_security_level = none
smtputf8_enable = no
biff = no
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
smtpd_milters = ${1:+unix:$1}
non_smtpd_milters = ${1:+unix:$1}
milter_default_action = tempfail
milter_protocol = 6
EOF
}

_pf_write_master_cf() {
	local name sock opt
	# Debian's master.cf with smtpd on our port and no chroot (a chrooted
	# smtpd would look for the milter socket inside the queue directory).
	sed -E "s/^smtp( +)inet /127.0.0.1:$PF_PORT inet /" /etc/postfix/master.cf \
		>"$PF_DIR/master.cf" || return 1
	grep -q "^127.0.0.1:$PF_PORT inet" "$PF_DIR/master.cf" || {
		diag "no 'smtp inet' line in /etc/postfix/master.cf"
		return 1
	}
	for name in "${!PF_LISTENER_SOCKETS[@]}"; do
		sock=${PF_LISTENER_SOCKETS[$name]}
		printf '127.0.0.1:%s inet n - n - - smtpd\n  -o syslog_name=postfix/%s\n' \
			"${PF_PORTS[$name]}" "$name"
		if [ -n "$sock" ]; then
			printf '  -o smtpd_milters=unix:%s\n' "$sock"
		else
			printf '  -o smtpd_milters=\n  -o non_smtpd_milters=\n'
		fi
		for opt in ${PF_LISTENER_OPTS[$name]:-}; do
			printf '  -o %s\n' "$opt"
		done
	done >>"$PF_DIR/master.cf"
	postconf -c "$PF_DIR" -F '*/*/chroot = n'
}

# pf_message FILE TAG HEADER... - From/To/Subject come from the caller's
# headers; the body names the tag so that the sink copy can be found.
pf_message() {
	local file=$1 tag=$2 h
	shift 2
	{
		for h in "$@"; do
			printf '%s\r\n' "$h"
		done
		printf 'X-Test-Id: %s\r\n' "$tag"
		printf 'Message-ID: <%s.%s@client.sikkermail.test>\r\n' "$tag" "$$"
		printf 'Date: %s\r\n' "$(date -R)"
		printf '\r\n'
		printf 'Test message %s.\r\n' "$tag"
	} >"$file"
}

# pf_send TAG SWAKS_ARGS... - see the header.
pf_send() {
	local tag=$1
	shift
	SEND_OUT=$(swaks --server 127.0.0.1 --port "${SEND_PORT:-$PF_PORT}" --helo client.sikkermail.test \
		--timeout 30 "$@" 2>&1)
	SEND_RC=$?
	printf '%s\n' "$SEND_OUT" >"$TEST_TMP/swaks.$tag.out"
	SEND_QID=
	if [[ $SEND_OUT =~ queued\ as\ ([0-9A-Za-z]+) ]]; then
		SEND_QID=${BASH_REMATCH[1]}
	fi
	# The replies after the message data: swaks marks server lines "<- "
	# (success) or "<** " (error); take those after the " -> ." line.
	SEND_REPLY=$(printf '%s\n' "$SEND_OUT" | awk '
		/^ -> \.$/ { data = 1; next }
		data && /^ *<(-|\*\*) / { sub(/^ *<(-|\*\*) +/, ""); print; next }
		data && /^ -> / { exit }' | tr -d '\r')
}

sink_file() {
	grep -l -a -E "^X-Test-Id: $1"$'\r?$' "$SINK_DIR"/* 2>/dev/null | head -n 1
}

sink_by_id() {
	grep -l -a -i -F "Message-ID: $1" "$SINK_DIR"/* 2>/dev/null | head -n 1
}

_sink_has() { [ -n "$(sink_file "$1")" ]; }

sink_wait() {
	wait_for "${2:-20}" _sink_has "$1"
}

sink_count() {
	find "$SINK_DIR" -type f | wc -l
}

sink_mark() { SINK_MARK=$(ls "$SINK_DIR" | sort); }

sink_new() {
	comm -13 <(printf '%s\n' "$SINK_MARK") <(ls "$SINK_DIR" | sort) | grep . | sed "s#^#$SINK_DIR/#"
}

pf_queue_files() {
	local q
	if [ $# -gt 0 ]; then
		find "$PF_DIR/queue/$1" -type f 2>/dev/null
		return 0
	fi
	for q in maildrop incoming active deferred hold; do
		find "$PF_DIR/queue/$q" -type f 2>/dev/null
	done
}

_pf_idle() {
	local q
	for q in maildrop incoming active deferred; do
		[ -z "$(find "$PF_DIR/queue/$q" -type f 2>/dev/null)" ] || return 1
	done
}

pf_wait_idle() {
	wait_for "${1:-20}" _pf_idle
}

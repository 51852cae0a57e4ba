#!/bin/bash
# e2e/hostile.sh - large headers through a real Postfix: a 90 KB field and
# 10,000 fields are delivered, from an untrusted client (nothing of its
# header is kept) and from a trusted submitter (whose header is kept, up to
# 1 MB, in case it must be encrypted: a message to an internal recipient
# goes on; one that needs an encrypted copy is refused 552 5.3.4, see
# tests/unit/t_pipeline.c). Postfix itself hands a milter at most about
# 60 KB of one field, under the filter's 64 KB field limit.

. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/postfix.sh"
. "$(dirname "$0")/../lib/e2e.sh"

e2e_need

# 127.0.0.1 is trusted on the main listener, not on "outside"
conf trusted
conf outside "InternalNetworks 192.0.2.0/24"
give_to_test_user "$M"
milters_start trusted outside
pf_listener outside "$M/outside.sock"
must "private Postfix starts" pf_start "$M/trusted.sock"

big=$(head -c $((90 * 1024)) /dev/zero | tr '\0' 'a')

# 1. one 90 KB field, from outside: delivered, and the field with it
LOG=$M/outside.log
SEND_PORT=${PF_PORTS[outside]}
msg bigout bob@kp.dk "X-Big: $big"
send bigout bob@kp.dk
accepted "90 KB field, untrusted client"
decision "$QID" "90 KB field, untrusted client" "trusted=no" "applied=deliver"
ok "90 KB field, untrusted client: delivered" sink_wait bigout 20
if FILE=$(sink_file bigout) && [ -n "$FILE" ]; then
	# Postfix folds the long line on the way out, and keeps about 60 KB of it
	len=$(tr -d '\r' <"$FILE" | awk '/^X-Big: / { p = 1; sub(/^X-Big: /, ""); printf "%s", $0; next }
		p && /^[ \t]/ { sub(/^[ \t]/, ""); printf "%s", $0; next } { p = 0 }' | wc -c)
	ok "90 KB field, untrusted client: the field went on ($len bytes of it)" test "$len" -gt 50000
fi

# 2. 10,000 fields from outside: delivered
hdrs=()
for i in $(seq -w 1 10000); do
	hdrs+=("X-Filler-$i: $i")
done
msg manyout bob@kp.dk "${hdrs[@]}"
send manyout bob@kp.dk
accepted "10,000 fields, untrusted client"
ok "10,000 fields, untrusted client: delivered" sink_wait manyout 30
unset SEND_PORT

# 3. from a trusted submitter: the 90 KB field and 10,000 fields of 120
#    bytes (1.2 MB, past what is kept) go on to an internal recipient
LOG=$M/trusted.log
msg bigin bob@kp.dk "X-KP-Personal: yes" "X-Big: $big"
send bigin bob@kp.dk
accepted "90 KB field, trusted submitter"
decision "$QID" "90 KB field, trusted submitter" "trusted=yes" "applied=deliver"
pad=$(head -c 100 /dev/zero | tr '\0' 'p')
hdrs=()
for i in $(seq -w 1 10000); do
	hdrs+=("X-Filler-$i: $pad")
done
msg manyin bob@kp.dk "X-KP-Personal: yes" "${hdrs[@]}"
send manyin bob@kp.dk
accepted "1.2 MB of header, trusted submitter, internal recipient"
decision "$QID" "1.2 MB of header, trusted submitter" "trusted=yes" "applied=deliver"
ok "1.2 MB of header, trusted submitter: delivered" sink_wait manyin 30
unlike "$(cat "$M/trusted.log" "$M/outside.log")" 'AddressSanitizer|runtime error' \
	"no sanitizer report"

e2e_stop trusted outside
done_testing

#!/bin/bash
# e2e/routes.sh - recipients Postfix rewrites after the filter.
#
# The filter judges RCPT TO as given; Postfix's cleanup expands
# virtual_alias_maps after the smtpd milters ran. With the alias
# team@kp.dk -> victim2@gmail.com:
#   1. one smtpd with the filter (the usual set-up): a personal message to
#      team@kp.dk is judged internal and reaches gmail.com - the limitation
#      sikkermail-ctl check-mta reports (exit 1, the alias named);
#   2. the split deployment of sikkermail-milter(8) and doc/ADMIN-GUIDE: a
#      front smtpd without the filter maps addresses and hands every
#      message (content_filter) to a loopback smtpd that runs the filter
#      with receive_override_options = no_address_mappings. The filter
#      sees victim2@gmail.com and refuses it; check-mta finds nothing
#      (exit 0) in that configuration.
# Then configurations read with postconf -c only: mapping after the
# filter, always_bcc and a later milter; aliases in inline:{ {...} } and
# static:{ ... } tables, each value of an entry judged.

. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/postfix.sh"
. "$(dirname "$0")/../lib/e2e.sh"

e2e_need postmap

conf single
conf split
give_to_test_user "$M"
milters_start single split

# the alias, in a hash table made before Postfix starts
VIRT=$TEST_TMP/virtual
mkdir -p "$TEST_TMP/pm"
: >"$TEST_TMP/pm/main.cf"
printf 'team@kp.dk victim2@gmail.com\n' >"$VIRT"
must "the alias table is made" postmap -c "$TEST_TMP/pm" "hash:$VIRT"
pf_main_cf "virtual_alias_maps = hash:$VIRT"

# The split deployment inside the same Postfix: "back" runs the filter
# after mapping; "front" runs no milter and hands everything to "back".
pf_listener back "$M/split.sock" receive_override_options=no_address_mappings content_filter=
pf_listener_nomilter front
PF_LISTENER_OPTS[front]="content_filter=smtp:[127.0.0.1]:${PF_PORTS[back]}"
must "private Postfix starts" pf_start "$M/single.sock"

# ------------------------------------------------------------ one smtpd

LOG=$M/single.log
msg single team@kp.dk
send single team@kp.dk
accepted "one smtpd: personal to team@kp.dk"
decision "$QID" "one smtpd" "rcpt1=team@kp.dk" "class1=internal" "applied=deliver"
ok "one smtpd: the alias is expanded after the filter: the message reached victim2@gmail.com" \
	sink_wait single 20
if FILE=$(sink_file single) && [ -n "$FILE" ]; then
	like "$(headers_of "$FILE")" $'(^|\n)X-Rcpt-Args: <victim2@gmail\\.com>' \
		"one smtpd: ... addressed to <victim2@gmail.com>"
fi

capture "$CTL" -c "$M/single.conf" check-mta --config-dir "$PF_DIR" --milter single.sock \
	--milter split.sock
is "$RC" 1 "check-mta on this Postfix: exit 1 (a way found)"
like "$(cat "$OUT")" "(^|"$'\n'")FOUND virtual_alias_maps \\(hash:$VIRT\\): team@kp\\.dk -> victim2@gmail\\.com" \
	"check-mta: names the alias"
like "$(cat "$OUT")" "(^|"$'\n'")NOTE 127\\.0\\.0\\.1:$PF_PORT/inet: runs the filter; Postfix rewrites recipients after it" \
	"check-mta: names the smtpd where mapping comes after the filter"
like "$(cat "$OUT")" "(^|"$'\n'")OK 127\\.0\\.0\\.1:${PF_PORTS[back]}/inet: runs the filter, after address mapping" \
	"check-mta: sees the split deployment's back smtpd"
like "$(cat "$OUT")" "(^|"$'\n'")NOTE 127\\.0\\.0\\.1:${PF_PORTS[front]}/inet: does not run the filter; its mail goes on through content_filter" \
	"check-mta: sees the front smtpd hand its mail on"
[ "$RC" = 1 ] || diag_file "$OUT"

# ------------------------------------------------------------ split

LOG=$M/split.log
SEND_PORT=${PF_PORTS[front]}
msg split team@kp.dk
sink_mark
send split team@kp.dk
accepted "split: the front smtpd queues it"
split_line() {
	joined_decision "$LOG" "$(grep -a "message_id=<split\.$$@" "$LOG" | grep ' decision ' | tail -n 1)"
}
has_split() { [ -n "$(split_line)" ]; }
ok "split: the filter decides it on the back smtpd" wait_for 30 has_split
like "$(split_line)" " rcpt1=victim2@gmail\\.com class1=freemail " \
	"split: ... for the final recipient victim2@gmail.com (freemail)"
like "$(split_line)" " applied=reject " "split: ... and refuses it"
# the refusal becomes a bounce to the sender; nothing goes to gmail.com
pf_wait_idle 20
unlike "$(sink_new | xargs -r cat 2>/dev/null | tr -d '\r' | grep -a '^X-Rcpt-Args:')" \
	'victim2@gmail\.com' "split: nothing reached victim2@gmail.com"
unset SEND_PORT

# check-mta on a Postfix set up as the split deployment alone
S=$TEST_TMP/splitcfg
mkdir -p "$S"
cp /etc/postfix/master.cf "$S/master.cf"
printf '127.0.0.1:10026 inet n - n - - smtpd\n  -o smtpd_milters=unix:%s\n  -o receive_override_options=no_address_mappings\n  -o content_filter=\n' \
	"$M/split.sock" >>"$S/master.cf"
cat >"$S/main.cf" <<EOF
compatibility_level = 3.6
mydestination =
alias_maps =
virtual_alias_maps = hash:$VIRT
content_filter = smtp:[127.0.0.1]:10026
smtpd_milters =
non_smtpd_milters =
EOF
capture "$CTL" -c "$M/split.conf" check-mta --config-dir "$S"
is "$RC" 0 "check-mta on the split deployment: exit 0 (nothing found)"
like "$(cat "$OUT")" "(^|"$'\n'")OK address mappings .* happen before the filter" \
	"check-mta: says mapping comes before the filter"
unlike "$(cat "$OUT")" "(^|"$'\n'")FOUND " "check-mta: no FOUND line"
[ "$RC" = 0 ] || diag_file "$OUT"

# the back smtpd without no_address_mappings, always_bcc to an outside
# address, and a milter after ours: each is a way round the filter
printf 'always_bcc = archive@archive.example\n' >>"$S/main.cf"
sed -i -e '/receive_override_options=no_address_mappings/d' \
	-e "s|smtpd_milters=unix:$M/split.sock|smtpd_milters=unix:$M/split.sock,inet:127.0.0.1:1|" \
	"$S/master.cf"
capture "$CTL" -c "$M/split.conf" check-mta --config-dir "$S"
is "$RC" 1 "check-mta, mapping after the filter, BCC, a later milter: exit 1"
like "$(cat "$OUT")" "FOUND always_bcc = archive@archive\\.example" "check-mta: names always_bcc"
like "$(cat "$OUT")" "FOUND virtual_alias_maps .*team@kp\\.dk -> victim2@gmail\\.com" "check-mta: names the alias"
like "$(cat "$OUT")" "a milter after sikkermail may add recipients" "check-mta: names the later milter"

# inline:{ {key = value, value} } and static:{ value, value }: each value
# of an entry, read as Postfix reads the table
INL="inline:{ {team@kp.dk = victim3@gmail.com, b@kp.dk} }"
is "$(postmap -c "$TEST_TMP/pm" -q team@kp.dk "$INL" 2>&1)" "victim3@gmail.com, b@kp.dk" \
	"Postfix reads the inline alias so"
sed -i -e '/^always_bcc/d' -e "s|^virtual_alias_maps = .*|virtual_alias_maps = $INL, static:{ all@archive.example, c@kp.dk }|" \
	"$S/main.cf"
capture "$CTL" -c "$M/split.conf" check-mta --config-dir "$S"
is "$RC" 1 "check-mta, inline:{ {...} } and static:{ ... } aliases: exit 1"
like "$(cat "$OUT")" "(^|"$'\n'")FOUND virtual_alias_maps \\(inline:\\{ \\{team@kp\\.dk = victim3@gmail\\.com, b@kp\\.dk\\} \\}\\): team@kp\\.dk -> victim3@gmail\\.com:" \
	"check-mta: names the inline alias to gmail.com"
like "$(cat "$OUT")" "(^|"$'\n'")FOUND virtual_alias_maps \\(static:\\{ all@archive\\.example, c@kp\\.dk \\}\\): \\(every recipient\\) -> all@archive\\.example:" \
	"check-mta: names the static alias outside"
is "$(grep -c '^FOUND virtual_alias_maps' "$OUT")" 2 "check-mta: ... and no other alias (b@kp.dk, c@kp.dk stay inside)"
unlike "$(cat "$OUT")" "(^|"$'\n'")UNCHECKED " "check-mta: no UNCHECKED line"
[ "$RC" = 1 ] || diag_file "$OUT"

capture "$CTL" -c "$M/split.conf" check-mta --config-dir "$TEST_TMP/none"
is "$RC" 2 "check-mta on a directory without Postfix's configuration: exit 2"
like "$(cat "$ERR")" "postconf .* failed" "check-mta: ... saying postconf failed"

e2e_stop single split
done_testing

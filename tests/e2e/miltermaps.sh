#!/bin/bash
# e2e/miltermaps.sh - smtpd_milter_maps, the per-client list of milters.
#
# Postfix (3.2 and later) looks the SMTP client's address up in
# smtpd_milter_maps; a result replaces smtpd_milters for that client, and
# DISABLE switches milters off. With "127.0.0.1 DISABLE" in a cidr: table:
#   1. a personal message to a gmail.com address from 127.0.0.1 goes out
#      through that smtpd unjudged (no decision line; it reaches the sink),
#      while a second smtpd of the same Postfix, with the map overridden
#      away (-o smtpd_milter_maps=), refuses the same kind of message;
#   2. sikkermail-ctl check-mta reports the bypass (exit 1), naming the
#      table, the smtpd and the client.
# Then configurations read with postconf -c only: a map entry that keeps
# the filter (no FOUND), one that keeps it but adds a milter after it,
# one that names only another milter (FOUND, also inside if/endif), a
# pcre: map (UNCHECKED, exit 3), an -o override in master.cf (reported
# for that service alone), one table that several services share (read
# and reported once), inline:{ {key = value, ...} } and static:{ ... }
# read as Postfix reads them, an inline: table Postfix refuses and a
# source too large to read whole (UNCHECKED).

. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/postfix.sh"
. "$(dirname "$0")/../lib/e2e.sh"

e2e_need
need "$CTL" "sikkermail-ctl not built ($CTL)"

conf mm
give_to_test_user "$M"
milters_start mm
LOG=$M/mm.log

# the map, made before Postfix starts; "plain" is an smtpd without it
MAP=$TEST_TMP/milter_map
printf '# the filter off for this host\n127.0.0.1 DISABLE\n' >"$MAP"
pf_main_cf "smtpd_milter_maps = cidr:$MAP"
pf_listener plain "$M/mm.sock" smtpd_milter_maps=
must "private Postfix starts" pf_start "$M/mm.sock"

# ------------------------------------------------------------ the bypass

msg bypass victim@gmail.com
send bypass victim@gmail.com
accepted "127.0.0.1 DISABLE: a personal message to victim@gmail.com"
ok "127.0.0.1 DISABLE: it reached the sink, unjudged" sink_wait bypass 20
if FILE=$(sink_file bypass) && [ -n "$FILE" ]; then
	like "$(headers_of "$FILE")" $'(^|\n)X-Rcpt-Args: <victim@gmail\\.com>' \
		"127.0.0.1 DISABLE: ... addressed to <victim@gmail.com>"
	unlike "$(headers_of "$FILE")" $'(^|\n)X-Sikkermail:' \
		"127.0.0.1 DISABLE: ... without the filter's header"
fi
BYPASS_QID=$QID

# the same kind of message through the smtpd without the map: refused
SEND_PORT=${PF_PORTS[plain]}
msg control control@gmail.com
send control control@gmail.com
unset SEND_PORT
is "$SEND_QID" "" "no map: the same message to control@gmail.com is not queued"
like "$SEND_REPLY" "(^|"$'\n'")550 5\\.7\\.1 " "no map: ... the sender gets 550 5.7.1"
has_control() { [ -n "$(decision_with_rcpt "$LOG" control@gmail.com)" ]; }
ok "no map: the filter decided it" wait_for 10 has_control
like "$(decision_with_rcpt "$LOG" control@gmail.com)" " applied=reject( |\$)" \
	"no map: ... and refused it"
# the daemon logs its decisions as it makes them: the control is there, so
# a decision on the bypass message would be too
is "$(decision_line "$LOG" "$BYPASS_QID")" "" "127.0.0.1 DISABLE: no decision line for its queue id"
unlike "$(cat "$LOG")" "rcpt=victim@gmail\\.com" "127.0.0.1 DISABLE: the filter never saw victim@gmail.com"

# ------------------------------------------------------------ check-mta finds it

capture "$CTL" -c "$M/mm.conf" check-mta --config-dir "$PF_DIR"
is "$RC" 1 "check-mta on this Postfix: exit 1 (a way found)"
like "$(cat "$OUT")" "(^|"$'\n'")FOUND smtpd_milter_maps \\(cidr:$MAP\\) for 127\\.0\\.0\\.1:$PF_PORT/inet: client 127\\.0\\.0\\.1 gets milters \"DISABLE\": its mail is never filtered" \
	"check-mta: names the table, the smtpd and the client"
unlike "$(cat "$OUT")" "FOUND smtpd_milter_maps .*127\\.0\\.0\\.1:${PF_PORTS[plain]}/inet" \
	"check-mta: not for the smtpd whose -o smtpd_milter_maps= clears the map"
like "$(cat "$OUT")" "(^|"$'\n'")1 way found, 0 tables not checked\$" \
	"check-mta: that is the only way found"
[ "$RC" = 1 ] || diag_file "$OUT"

# ------------------------------------------------------------ configurations

C=$TEST_TMP/cfg
mkdir -p "$C"
SOCK=unix:$M/mm.sock
# cfg_write MAPS [MASTER.CF LINES] - main.cf with the filter on every
# smtpd and smtpd_milter_maps = MAPS; Debian's master.cf plus the lines.
cfg_write() {
	cat >"$C/main.cf" <<EOF
compatibility_level = 3.6
mydestination =
alias_maps =
smtpd_milters = $SOCK
non_smtpd_milters = $SOCK
milter_default_action = tempfail
smtpd_milter_maps = $1
EOF
	cp /etc/postfix/master.cf "$C/master.cf"
	[ -z "${2:-}" ] || printf '%s\n' "$2" >>"$C/master.cf"
}
check_cfg() { capture "$CTL" -c "$M/mm.conf" check-mta --config-dir "$C"; }
found_lines() { grep -c '^FOUND ' "$OUT"; }

# entries that keep the filter, alone or in a { ... } group, and IPv6
printf '%s\n' "127.0.0.1 $SOCK" "10.0.0.0/8 { $SOCK, default_action = tempfail }" \
	"2001:db8::/32 $SOCK" >"$C/keep"
cfg_write "cidr:$C/keep"
check_cfg
is "$RC" 0 "check-mta, map entries that keep the filter: exit 0"
unlike "$(cat "$OUT")" "(^|"$'\n'")FOUND " "check-mta, keeping entries: no FOUND line"
[ "$RC" = 0 ] || diag_file "$OUT"

# the filter kept, but another milter after it
printf '%s\n' "127.0.0.1 $SOCK, inet:127.0.0.1:1" >"$C/after"
cfg_write "cidr:$C/after"
check_cfg
is "$RC" 1 "check-mta, a map entry with a milter after the filter: exit 1"
like "$(cat "$OUT")" "(^|"$'\n'")FOUND smtpd_milter_maps \\(cidr:$C/after\\) for smtp/inet: client 127\\.0\\.0\\.1: a milter after sikkermail may add recipients" \
	"check-mta: names the entry's later milter"

# only another milter; also one inside if/endif, and a continuation line
printf '%s\n' "# other milters only" "127.0.0.1 inet:127.0.0.1:1" "if 10.0.0.0/8" \
	"10.1.0.0/16 inet:127.0.0.1:2," "  inet:127.0.0.1:3" "endif" >"$C/other"
cfg_write "cidr:$C/other"
check_cfg
is "$RC" 1 "check-mta, map entries that name only another milter: exit 1"
like "$(cat "$OUT")" "(^|"$'\n'")FOUND smtpd_milter_maps \\(cidr:$C/other\\) for smtp/inet: client 127\\.0\\.0\\.1 gets milters \"inet:127\\.0\\.0\\.1:1\": its mail is never filtered" \
	"check-mta: names the client and its milters"
like "$(cat "$OUT")" "(^|"$'\n'")FOUND smtpd_milter_maps \\(cidr:$C/other\\) for smtp/inet: client 10\\.1\\.0\\.0/16 gets milters \"inet:127\\.0\\.0\\.1:2, inet:127\\.0\\.0\\.1:3\"" \
	"check-mta: an entry inside if/endif, continued on the next line"
is "$(found_lines)" 2 "check-mta: two FOUND lines (if and endif are no entries)"

# a pcre: map cannot be listed
printf '/^127\\./ DISABLE\n' >"$C/map.pcre"
cfg_write "pcre:$C/map.pcre"
check_cfg
is "$RC" 3 "check-mta, a pcre: map: exit 3 (a table not checked)"
like "$(cat "$OUT")" "(^|"$'\n'")UNCHECKED smtpd_milter_maps \\(pcre:$C/map\\.pcre\\) for smtp/inet: a pcre table cannot be listed" \
	"check-mta: says the pcre: map is unchecked"
unlike "$(cat "$OUT")" "(^|"$'\n'")FOUND " "check-mta, pcre: map: no FOUND line"

# a map set for one service only, with -o in master.cf
printf '10.0.0.0/8 DISABLE\n' >"$C/off"
cfg_write "" "127.0.0.1:10027 inet n - n - - smtpd
  -o smtpd_milter_maps=cidr:$C/off"
check_cfg
is "$RC" 1 "check-mta, -o smtpd_milter_maps on one smtpd: exit 1"
like "$(cat "$OUT")" "(^|"$'\n'")FOUND smtpd_milter_maps \\(cidr:$C/off\\) for 127\\.0\\.0\\.1:10027/inet: client 10\\.0\\.0\\.0/8 gets milters \"DISABLE\"" \
	"check-mta: names that smtpd"
is "$(found_lines)" 1 "check-mta: ... and no other"

# main.cf's map, kept by one more smtpd and cleared by another: read once
cfg_write "cidr:$C/off" "127.0.0.1:10027 inet n - n - - smtpd
127.0.0.1:10028 inet n - n - - smtpd
  -o smtpd_milter_maps="
check_cfg
is "$RC" 1 "check-mta, one map for two smtpds: exit 1"
like "$(cat "$OUT")" "(^|"$'\n'")FOUND smtpd_milter_maps \\(cidr:$C/off\\) for smtp/inet, 127\\.0\\.0\\.1:10027/inet: client 10\\.0\\.0\\.0/8 " \
	"check-mta: one line names both smtpds that use it"
is "$(found_lines)" 1 "check-mta: the table is reported once, the clearing smtpd not at all"

# inline: with "{ key = value }" elements, values holding commas (Postfix
# 3.7: postmap -q 192.0.2.9 'inline:{...}' says DISABLE); static:{ ... }
INL="inline:{ {192.0.2.1 = $SOCK, inet:127.0.0.1:9999}, {192.0.2.9 = DISABLE} }"
is "$(postmap -c "$C" -q 192.0.2.9 "$INL" 2>&1)" DISABLE "Postfix reads the inline table so too"
cfg_write "$INL"
check_cfg
is "$RC" 1 "check-mta, inline:{ {key = milters, ...} }: exit 1"
like "$(cat "$OUT")" "(^|"$'\n'")FOUND smtpd_milter_maps \\(inline:\\{ .* \\}\\) for smtp/inet: client 192\\.0\\.2\\.9 gets milters \"DISABLE\": its mail is never filtered" \
	"check-mta: the inline entry in braces that gives DISABLE"
like "$(cat "$OUT")" "(^|"$'\n'")FOUND smtpd_milter_maps \\(inline:\\{ .* \\}\\) for smtp/inet: client 192\\.0\\.2\\.1: a milter after sikkermail may add recipients" \
	"check-mta: the inline entry whose milters hold a comma"
is "$(found_lines)" 2 "check-mta: two FOUND lines, one per inline entry"
unlike "$(cat "$OUT")" "(^|"$'\n'")UNCHECKED " "check-mta, nested inline: no UNCHECKED line"

cfg_write "static:{ inet:127.0.0.1:1, inet:127.0.0.1:2 }"
check_cfg
is "$RC" 1 "check-mta, static:{ milter, milter }: exit 1"
like "$(cat "$OUT")" "(^|"$'\n'")FOUND smtpd_milter_maps \\(static:\\{ [^)]* \\}\\) for smtp/inet: client \\(every client\\) gets milters \"inet:127\\.0\\.0\\.1:1, inet:127\\.0\\.0\\.1:2\": its mail is never filtered" \
	"check-mta: static:{ ... } is one value, its braces taken off"
is "$(found_lines)" 1 "check-mta: ... one FOUND line"

cfg_write "static:{ $SOCK }, inline:{ {10.0.0.0/8 = { $SOCK, default_action = accept }} }"
check_cfg
is "$RC" 0 "check-mta, static: and inline: entries that keep the filter: exit 0"
unlike "$(cat "$OUT")" "(^|"$'\n'")(FOUND|UNCHECKED) " "check-mta: ... no FOUND or UNCHECKED line"

# Postfix refuses "inline:{ key = value }" (blanks split it): so does check-mta
cfg_write "inline:{ 127.0.0.1 = DISABLE }"
check_cfg
is "$RC" 3 "check-mta, inline: that Postfix cannot parse: exit 3"
like "$(cat "$OUT")" "(^|"$'\n'")UNCHECKED smtpd_milter_maps \\(inline:.*\\) for smtp/inet: cannot be parsed" \
	"check-mta: says it cannot be parsed"

# a source past 64 MB is not read in part
truncate -s 65M "$C/huge"
cfg_write "cidr:$C/huge"
check_cfg
is "$RC" 3 "check-mta, a cidr: source over 64 MB: exit 3"
like "$(cat "$OUT")" "(^|"$'\n'")UNCHECKED smtpd_milter_maps \\(cidr:$C/huge\\) for smtp/inet: larger than 64 MB, not read" \
	"check-mta: says it is too large to read"
rm -f "$C/huge"
tests_failed && diag_file "$OUT"

e2e_stop mm
done_testing

#!/bin/bash
# e2e/trust.sh - who is a trusted submitter, through a real Postfix.
#
# The filter trusts a client that authenticated ({auth_authen}) or that
# is in InternalNetworks. Here InternalNetworks does not cover 127.0.0.1,
# Postfix authenticates with Cyrus SASL (sasldb), and its
# milter_mail_macros is customised to "i" - without the auth macros. The
# filter asks for the macros it needs itself (smfi_setsymlist), so an
# authenticated user's personal message is still judged as personal:
# refused to a gmail address, not delivered in clear with its flag
# stripped.

. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/postfix.sh"
. "$(dirname "$0")/../lib/e2e.sh"

e2e_need saslpasswd2

conf trust "InternalNetworks 192.0.2.0/24"
give_to_test_user "$M"
milters_start trust

# Cyrus SASL for smtpd: PLAIN against a private sasldb. Debian's Postfix
# reads smtpd.conf from the sasl directory of its configuration directory.
SASL=$TEST_TMP/postfix/sasl
mkdir -p "$SASL"
printf '%s\n' "pwcheck_method: auxprop" "auxprop_plugin: sasldb" "mech_list: PLAIN LOGIN" \
	"sasldb_path: $SASL/sasldb2" >"$SASL/smtpd.conf"
must "a SASL user is made" sh -c "echo hemmelig | saslpasswd2 -p -c -f '$SASL/sasldb2' \
	-u sikkermail.test alice"
chown postfix "$SASL/sasldb2" && chmod 0600 "$SASL/sasldb2"
pf_main_cf "smtpd_sasl_auth_enable = yes" "smtpd_sasl_type = cyrus" "smtpd_sasl_path = smtpd" \
	"smtpd_sasl_local_domain = sikkermail.test" \
	"smtpd_tls_auth_only = no" "milter_mail_macros = i"
must "private Postfix starts" pf_start "$M/trust.sock"
LOG=$M/trust.log

# 1. authenticated: trusted although the MTA was told to send no auth macros
msg authed x@gmail.com
send authed x@gmail.com --auth PLAIN --auth-user alice --auth-password hemmelig
like "$SEND_OUT" '235 2\.7\.0 Authentication successful' "authenticated: SASL login accepted"
is "$SEND_QID" "" "authenticated: personal to gmail not accepted"
like "$SEND_REPLY" '^5[0-9][0-9][ -]5\.7\.[0-9]+' "authenticated: refused 5.7.x"
QID=$(printf "%s\n" "$SEND_REPLY" | sed -n "s/.*Ref \([0-9A-Za-z]*\).*/\1/p" | head -1)
decision "$QID" "authenticated" "trusted=yes" "personal=yes" "applied=reject" \
	"rule=PersonalToFreemail"
ok "authenticated: nothing reached the sink" test -z "$(sink_file authed)"

# 2. the same message without authentication: not a trusted submitter
msg anon x@gmail.com
send anon x@gmail.com
accepted "unauthenticated"
decision "$QID" "unauthenticated" "trusted=no" "personal=no" "applied=deliver"
ok "unauthenticated: delivered (the flag is not a trusted submitter's)" sink_wait anon
if FILE=$(sink_file anon) && [ -n "$FILE" ]; then
	unlike "$(headers_of "$FILE")" $'(^|\n)X-KP-Personal:' \
		"unauthenticated: its X-KP-Personal header was removed"
fi
unlike "$(cat "$LOG")" 'sends no MAIL FROM macros' \
	"the MTA sent the macros the filter asked for"

e2e_stop trust
done_testing

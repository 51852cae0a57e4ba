#!/bin/bash
# serve.sh - sikkermail-ctl serve: the read-only web service and its page.
#
#   curl / headless Chromium -> sikkermail-ctl serve on 127.0.0.1
#         (started as root, working as the filter's user) -> the lists in a
#         test database and the test PKI's certificates in a private slapd
#
# Covers: GET /v1/route answers, field by field and in request order, what
# explain --personal prints for the same addresses (every class, a
# normalised, an invalid and a routed address, an address with a
# certificate; a failed lookup as class unknown for that recipient alone,
# in monitor mode), as valid JSON of type application/json; malformed,
# oversized and many-recipient requests, POST and unknown paths get the
# right 4xx and the service answers afterwards; the rate limit answers 429
# with Retry-After, charges a route question per recipient and counts an
# IPv6 client by its /64; GET /v1/cert gives the certificate as JSON, PEM and DER
# with its fingerprint; the page, driven in Chromium: addresses typed, the
# button pressed, each route shown (as text, never as HTML), Danish and
# English with the default from Language, the certificate search and its
# download; requests logged without the addresses; SIGTERM stops it.

. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/slapd.sh"
. "$(dirname "$0")/lib/e2e.sh"

need_root "the service is started as root to test that it becomes UserID"
need "$CTL" "sikkermail-ctl not built ($CTL)"
need curl "curl not installed (Debian: curl)"
need openssl
need /usr/bin/python3 "python3 not installed (Debian: python3)"
need "$SLAPD_BIN" "slapd not installed (Debian: slapd)"
need "$SLAPADD_BIN" "slapadd not installed (Debian: slapd)"
need ldapsearch "ldapsearch not installed (Debian: ldap-utils)"
BROWSER=$(command -v chromium || command -v chromium-browser || true)
need "${BROWSER:-chromium}" "chromium not installed (Debian: chromium)"
JSONCHECK=$top_builddir/tests/unit/jsoncheck
need "$JSONCHECK" "tests/unit/jsoncheck not built"
CDP=$top_srcdir/tests/lib/cdp.py
ROUTECMP=$top_srcdir/tests/lib/routecmp.py

# explain prints the expiry in local time, the service in UTC
export TZ=UTC

directory_start
pass "slapd answers on $SLAPD_URI"

# the lists are copied: the source tree may be unreadable to the test user
cp "$top_srcdir/tests/data/lists/tunnel.txt" "$top_srcdir/tests/data/lists/partners.txt" "$M/"
MAILBOX=("SecureMailbox sikker@kp.dk $MB/sikker.key $MB/sikker.pem"
	"DefaultSecureMailbox sikker@kp.dk")
milter_conf "$M/main.conf" "Database $DB" "LDAPURI $SLAPD_URI" "LDAPBase c=DK" \
	"TrustedCAFile $CERTS/trust.pem" "CRLFile $CERTS/crl.pem" "${MAILBOX[@]}"
# a directory that is not there, in monitor mode, English first
milter_conf "$M/down.conf" "Database $M/db/down.db" "LDAPURI ldap://127.0.0.1:1/" \
	"LDAPBase c=DK" "LDAPTimeout 2" "TrustedCAFile $CERTS/trust.pem" "Mode monitor" \
	"Language en,da" "${MAILBOX[@]}"
cp "$M/main.conf" "$M/v6.conf"
# a directory that answers every request, a second late (slowproxy.py)
pick_port SLOWLDAP
milter_conf "$M/slow.conf" "Database $M/db/slow.db" "LDAPURI ldap://127.0.0.1:$SLOWLDAP/" \
	"LDAPBase c=DK" "LDAPTimeout 3" "DecisionTimeout 5" "TrustedCAFile $CERTS/trust.pem" \
	"${MAILBOX[@]}"
give_to_test_user "$M"
for conf in main down; do
	ctl_import "$M/$conf.conf" tunnel "$M/tunnel.txt"
	ctl_import "$M/$conf.conf" partners "$M/partners.txt"
done

# serve_start NAME PORT [ARGS...] - the service of $M/NAME.conf, started as
# root, its standard error in $M/NAME.serve.log; SPID[NAME] its pid.
declare -A SPID
serve_start() {
	local name=$1 port=$2
	shift 2
	"$CTL" -c "$M/$name.conf" serve --listen "127.0.0.1:$port" "$@" \
		>>"$M/$name.serve.log" 2>&1 </dev/null &
	SPID[$name]=$!
	track_pid "${SPID[$name]}"
	if ! wait_for 10 port_in_use "$port"; then
		diag_file "$M/$name.serve.log"
		return 1
	fi
}

listening() { [ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]; }
# serve_start6 NAME PORT [ARGS...] - the same on [::1]:PORT
serve_start6() {
	"$CTL" -c "$M/$1.conf" serve --listen "[::1]:$2" "${@:3}" >>"$M/$1.serve.log" 2>&1 </dev/null &
	SPID[$1]=$!
	track_pid "${SPID[$1]}"
	wait_for 10 listening "$2" && return 0
	diag_file "$M/$1.serve.log"
	return 1
}

pick_port PORT
pick_port DOWNPORT
must "serve starts (root, 127.0.0.1:$PORT)" serve_start main "$PORT" --rate 10000
must "a second serve starts (rate 6 a minute, directory down, behind a proxy)" \
	serve_start down "$DOWNPORT" --rate 6 --behind-proxy
U=http://127.0.0.1:$PORT
DU=http://127.0.0.1:$DOWNPORT
is "$(proc_user "${SPID[main]}")" "$TEST_USER" "started as root, it works as UserID ($TEST_USER)"

# get NAME URL [CURL ARGS...] - GET URL: body in $TEST_TMP/NAME.body,
# headers in NAME.head; sets CODE.
get() {
	local name=$1 url=$2
	shift 2
	CODE=$(curl -sS -g -o "$TEST_TMP/$name.body" -D "$TEST_TMP/$name.head" \
		-w '%{http_code}' "$@" "$url" 2>"$TEST_TMP/$name.curl") || CODE=curl-failed
	BODY=$(cat "$TEST_TMP/$name.body" 2>/dev/null)
}
header() { tr -d '\r' <"$TEST_TMP/$1.head" | sed -n "s/^$2: //Ip" | head -n 1; }
json_ok() { "$JSONCHECK" <"$TEST_TMP/$1.body" >"$TEST_TMP/$1.jsoncheck" 2>&1; }
# jget NAME PYEXPR - a value of the JSON body NAME, by a Python expression on j.
jget() {
	/usr/bin/python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$TEST_TMP/$1.body" "$2" 2>&1
}
fp() { openssl x509 -noout -fingerprint -sha256 "$@" | cut -d= -f2; }

# compare_with_explain NAME CONF BASEURL ADDRESS... - the service's answer
# and explain --personal's for the same addresses, field by field.
compare_with_explain() {
	local name=$1 conf=$2 base=$3 args=() a line bad=0 n=0
	shift 3
	for a in "$@"; do
		args+=(--data-urlencode "rcpt=$a")
	done
	get "$name" "$base/v1/route" -G "${args[@]}"
	is "$CODE" 200 "$name: /v1/route answers 200"
	is "$(header "$name" Content-Type)" "application/json; charset=utf-8" \
		"$name: Content-Type application/json; charset=utf-8"
	ok "$name: the answer is valid JSON" json_ok "$name" || diag_file "$TEST_TMP/$name.jsoncheck"
	as_test_user "$CTL" -c "$M/$conf.conf" explain --personal -- "$@" \
		>"$TEST_TMP/$name.explain" 2>>"$TEST_TMP/explain.err"
	while IFS=$'\t' read -r res what; do
		n=$((n + 1))
		if [ "$res" = ok ]; then
			pass "$name: $what"
		else
			fail "$name: $what"
			bad=1
		fi
	done < <(/usr/bin/python3 "$ROUTECMP" "$TEST_TMP/$name.explain" "$TEST_TMP/$name.body" 2>&1)
	[ "$n" -gt 0 ] || fail "$name: routecmp.py compared something"
	[ "$bad" = 0 ] || { diag "$BODY"; diag_file "$TEST_TMP/$name.explain" 80; }
}

# ------------------------------------------------ the same answer as explain

compare_with_explain classes main "$U" alice@kp.dk '<Carol@KP.DK.>' x@region-test.dk \
	x@a.b.kommune-test.dk x@partner.example x@expired.example x@gmail.com x@example.com \
	valid@example.dk revoked@example.dk 'foo@' 'a%b@kp.dk' nocert@example.dk
is "$(jget classes '" ".join(r["class"] or r["status"] for r in j["recipients"])')" \
	"internal internal tunnel tunnel partner tls freemail tls encrypted tls invalid refused tls" \
	"each recipient's class, in request order"
is "$(jget classes 'j["recipients"][8]["certificate"]["fingerprint_sha256"]')" \
	"$(fp -in "$CERTS/valid.pem")" "valid@example.dk: the certificate's fingerprint"
is "$(jget classes 'j["recipients"][8]["personal_message"]["action"]')" encrypt \
	"valid@example.dk: a personal message is encrypted"
is "$(jget classes 'j["recipients"][8]["certificate"]["kind"]')" personal \
	"valid@example.dk: a personal certificate"

# the directory down: that recipient is unknown (and the answer says why), the others answered
compare_with_explain down down "$DU" x@example.com alice@kp.dk
is "$(jget down '[(r["class"], r["tempfail"], r["certificate"]["status"])
	for r in j["recipients"]]')" \
	"[('unknown', True, 'lookup-failed'), ('internal', False, 'not-needed')]" \
	"a failed lookup: class unknown for that recipient, the other answered, HTTP 200"
is "$(jget down 'j["recipients"][0]["mode"]')" monitor "monitor mode is in the answer"

# ------------------------------------------------ bad requests

# bad NAME STATUS PATH-AND-QUERY [CURL ARGS...] - an answer STATUS with a JSON error
bad() {
	local name=$1 want=$2 path=$3
	shift 3
	get "$name" "$U$path" "$@"
	is "$CODE" "$want" "$name: $want"
	if [[ $want != 41[34] && $want != 431 ]]; then
		ok "$name: a JSON error" json_ok "$name"
		like "$BODY" '"error":"[^"]+' "$name: the error says why"
	fi
}
bad "bad escape" 400 "/v1/route?rcpt=%zz@kp.dk"
bad "cut escape" 400 "/v1/route?rcpt=a@kp.dk%4"
bad "empty rcpt" 400 "/v1/route?rcpt="
bad "no rcpt" 400 "/v1/route"
bad "NUL in rcpt" 400 "/v1/route?rcpt=a%00b@kp.dk"
like "$BODY" "NUL" "NUL in rcpt: the error says so"
bad "non-UTF-8 rcpt" 400 "/v1/route?rcpt=%ff%fe@kp.dk"
like "$BODY" "UTF-8" "non-UTF-8: the error says so"
bad "unknown parameter" 400 "/v1/route?rcpt=a@kp.dk&to=b@kp.dk"
many=$(for i in $(seq 51); do printf 'rcpt=r%d@kp.dk&' "$i"; done)
bad "51 recipients" 400 "/v1/route?${many%&}"
like "$BODY" "at most 50" "51 recipients: the error names the limit"
get fifty "$U/v1/route?$(for i in $(seq 50); do printf 'rcpt=r%d@kp.dk&' "$i"; done)"
is "$CODE/$(jget fifty 'len(j["recipients"])')" 200/50 "50 recipients: 50 answers"
long=$(head -c 20000 /dev/zero | tr '\0' a)
bad "huge URL" 414 "/v1/route?rcpt=$long@kp.dk"
bad "huge header" 431 "/v1/route?rcpt=a@kp.dk" -H "X-Filler: $long"
bad "POST" 405 "/v1/route?rcpt=a@kp.dk" -X POST --data-binary x=1
is "$(header POST Allow)" "GET, HEAD" "POST: 405 with Allow: GET, HEAD"
bad "PUT" 405 "/" -X PUT --data-binary x
bad "unknown path" 404 "/v1/routes?rcpt=a@kp.dk"
bad "an address in the path" 404 "/v1/route/secret@kp.dk"
bad "cert: no address" 400 "/v1/cert"
bad "cert: invalid address" 400 "/v1/cert?addr=foo@"
bad "cert: bad format" 400 "/v1/cert?addr=valid@example.dk&format=exe"
get head "$U/" -I
is "$CODE/$(header head Content-Type)" "200/text/html; charset=utf-8" "HEAD /: the page's headers"
unlike "$BODY" "<html" "HEAD /: no body"
get headroute "$U/v1/route?rcpt=valid@example.dk" -I
is "$CODE/$(header headroute Content-Type)" "200/application/json; charset=utf-8" \
	"HEAD /v1/route: the answer's headers"
# raw, as curl -I stops reading at the headers: nothing may follow them
raw_head() {
	exec 3<>"/dev/tcp/127.0.0.1/$PORT" || return 1
	printf 'HEAD /v1/route?rcpt=valid@example.dk HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
	timeout 10 cat <&3 >"$TEST_TMP/rawhead.out"
	exec 3<&-
}
raw_head
is "$(head -n 1 "$TEST_TMP/rawhead.out" | tr -d '\r')/$(sed '1,/^\r$/d' "$TEST_TMP/rawhead.out" |
	wc -c)" "HTTP/1.1 200 OK/0" "HEAD /v1/route: the headers and no body"
bad "GET with a body" 400 "/v1/route?rcpt=a@kp.dk" -X GET --data-binary x
like "$BODY" "no body" "GET with a body: the error says so"
get after "$U/v1/route?rcpt=x@gmail.com"
is "$CODE/$(jget after 'j["recipients"][0]["class"]')" 200/freemail \
	"after all that, the service still answers"
is "$(header after X-Content-Type-Options)/$(header after Cache-Control)" "nosniff/no-store" \
	"answers: nosniff, never cached"
is "$(header after Connection)" "" "answers do not close the connection"
# two requests on one connection: curl connects once (num_connects 1, then 0)
is "$(curl -sS -o /dev/null -o /dev/null -w '%{http_code}/%{num_connects} ' \
	"$U/v1/route?rcpt=x@gmail.com" "$U/v1/cert?addr=valid@example.dk")" "200/1 200/0 " \
	"keep-alive: a client (a mail client's add-in) asks again on the same connection"
get cors "$U/v1/route?rcpt=x@gmail.com" -H "Origin: https://evil.example"
is "$CODE/$(header cors Access-Control-Allow-Origin)" 200/ \
	"no CORS: a page of another origin cannot read the answers"

# ------------------------------------------------ certificates

get certjson "$U/v1/cert?addr=valid@example.dk"
is "$CODE" 200 "cert JSON: 200"
ok "cert JSON: valid JSON" json_ok certjson
is "$(jget certjson 'j["certificate"]["fingerprint_sha256"]')" "$(fp -in "$CERTS/valid.pem")" \
	"cert JSON: the fingerprint of valid.pem"
is "$(jget certjson 'j["class"]')" encrypted "cert JSON: the class it makes, encrypted"
is "$(jget certjson '(j["certificate"]["kind"], j["certificate"]["source"])')" \
	"('personal', '$SLAPD_URI')" "cert JSON: kind personal, from the private slapd"
like "$(jget certjson 'j["certificate"]["subject"]')" "Valid" "cert JSON: the subject"
like "$(jget certjson 'j["certificate"]["issuer"]')" "Test Issuing CA" "cert JSON: the issuer"
is "$(jget certjson 'j["certificate"]["not_after"]')" \
	"$(date -u -d "$(openssl x509 -noout -enddate -in "$CERTS/valid.pem" | cut -d= -f2)" \
		+%Y-%m-%dT%H:%M:%SZ)" "cert JSON: the expiry"
get certpem "$U/v1/cert?addr=valid@example.dk&format=pem"
is "$CODE/$(header certpem Content-Type)" "200/application/pem-certificate-chain" \
	"cert PEM: application/pem-certificate-chain"
is "$(header certpem Content-Disposition)" 'attachment; filename="valid@example.dk.pem"' \
	"cert PEM: a download named after the address"
is "$(fp -in "$TEST_TMP/certpem.body" 2>&1)" "$(fp -in "$CERTS/valid.pem")" \
	"cert PEM: the certificate, whole (same fingerprint)"
get certder "$U/v1/cert?addr=valid@EXAMPLE.dk&format=der"
is "$CODE/$(header certder Content-Type)" "200/application/pkix-cert" \
	"cert DER: application/pkix-cert"
is "$(fp -inform DER -in "$TEST_TMP/certder.body" 2>&1)" "$(fp -in "$CERTS/valid.pem")" \
	"cert DER: the same certificate"
bad "cert: none known" 404 "/v1/cert?addr=nocert@example.dk"
is "$(jget "cert: none known" 'j["certificate_status"]')" none "cert: none known: status none"
bad "cert: none usable (revoked)" 404 "/v1/cert?addr=revoked@example.dk&format=pem"
# the certificate explain --personal shows: none for a class that comes before encrypted
bad "cert: internal, none used" 404 "/v1/cert?addr=Alice@KP.DK"
is "$(jget "cert: internal, none used" '(j["normalised"], j["class"], j["certificate"],
	j["certificate_status"])')" "('Alice@kp.dk', 'internal', None, 'not-needed')" \
	"cert: internal: the class, and no certificate (not-needed)"
like "$BODY" "class internal comes before encrypted" "cert: internal: the error says why"

# ------------------------------------------------ the page in Chromium

get page "$U/"
is "$CODE/$(header page Content-Type)" "200/text/html; charset=utf-8" "GET /: an HTML page"
csp=$(header page Content-Security-Policy)
like "$csp" "^default-src 'none'; script-src 'nonce-[0-9a-f]{32}'; style-src 'nonce-" \
	"GET /: a strict Content-Security-Policy (nothing but its own nonce'd script and style)"
unlike "$BODY" '(src|href)="[a-z]+:|@import|url\(' "GET /: the page loads nothing from elsewhere"

# cdp NAME URL JS... - Chromium runs the JS on the page; one JSON line per JS in NAME.cdp
cdp() {
	local name=$1
	shift
	rm -rf "$TEST_TMP/chromium.$name"
	timeout 90 /usr/bin/python3 "$CDP" "$BROWSER" "$TEST_TMP/chromium.$name" "$@" \
		>"$TEST_TMP/$name.cdp" 2>"$TEST_TMP/$name.cdp.err"
}
line() { sed -n "${2}p" "$TEST_TMP/$1.cdp"; }
# JS: wait until SELECTOR matches, then the value of EXPR for each match (as e)
wait_js() {
	printf '%s' "new Promise((ok, no) => { let n = 0; const t = setInterval(() => {
		const m = document.querySelectorAll('$1');
		if (m.length) { clearInterval(t); ok([...m].map(e => $2)); }
		else if (++n > 200) { clearInterval(t); no(new Error('nothing matches $1')); } }, 50); })"
}
CARD='[e.dataset.address, e.dataset.class, e.querySelector(".verdict").textContent]'

typed='valid@example.dk x@gmail.com <b>bold</b>@example.com foo@ alice@kp.dk'
ok "page: Chromium drives it" cdp page "$U/" \
	"document.querySelector('h1').textContent" \
	"type:rcpts:$typed" "document.getElementById('check').click(); 0" \
	"$(wait_js '#results .route' "$CARD")" \
	"document.querySelectorAll('#results b').length" \
	"document.getElementById('lang-en').click(); document.querySelector('h1').textContent" \
	"$(wait_js '#results .route' "$CARD")" \
	"type:certaddr:valid@example.dk" "document.getElementById('certbtn').click(); 0" \
	"$(wait_js '#certresult dd[data-field=fingerprint]' 'e.textContent')" \
	"fetch(document.getElementById('certdl').href).then(r => r.text())" \
	"document.getElementById('certaddr').value = ''; 0" "type:certaddr:alice@kp.dk" \
	"document.getElementById('certbtn').click(); 0" \
	"$(wait_js '#certresult .nocert' 'e.textContent')" ||
	diag_file "$TEST_TMP/page.cdp.err"
is "$(line page 1)" '"Kan jeg sende personoplysninger sikkert til \u2026?"' \
	"page: Danish by default (Language da,en), headed Kan jeg sende personoplysninger sikkert til …?"
is "$(line page 2)" "\"$typed\"" "page: the addresses typed into the field, as typed"
routes=$(line page 4)
like "$routes" \
	'\["valid@example.dk", "encrypted", "Beskeden med personoplysninger bliver krypteret' \
	"page: valid@example.dk shown as encrypted, in Danish words"
like "$routes" '\["x@gmail.com", "freemail", "Beskeden med personoplysninger bliver afvist' \
	"page: x@gmail.com shown as freemail, rejected"
like "$routes" '\["foo@", "invalid", "Ugyldig adresse: address has no domain"\]' \
	"page: foo@ shown as invalid, with the reason"
like "$routes" '\["alice@kp.dk", "internal", ' "page: alice@kp.dk shown as internal"
like "$routes" '\["<b>bold</b>@example.com", ' "page: markup typed in an address is shown as text"
is "$(line page 5)" 0 "page: ... and never made into HTML"
is "$(line page 6)" '"Can I send personal data securely to \u2026?"' \
	"page: the switch to English, headed Can I send personal data securely to …?"
like "$(line page 7)" '\["x@gmail.com", "freemail", "A message with personal data is rejected' \
	"page: the routes shown again in English"
shown=$(line page 10 | tr -d '[]"')
is "$shown" "$(fp -in "$CERTS/valid.pem")" "page: the certificate search shows its fingerprint"
line page 11 |
	/usr/bin/python3 -c 'import json,sys; sys.stdout.write(json.loads(sys.stdin.read()))' \
	>"$TEST_TMP/page-download.pem"
is "$(fp -in "$TEST_TMP/page-download.pem" 2>&1)" "$shown" \
	"page: the download link gives the certificate with the fingerprint shown"
is "$(line page 13)" '"alice@kp.dk"' "page: the certificate search field typed into again"
is "$(line page 15)" '["Certificate: not needed."]' \
	"page: the certificate search for an internal address: none needed"

ok "page (English first): Chromium drives it" cdp pageen "$DU/" \
	"document.querySelector('h1').textContent" ||
	diag_file "$TEST_TMP/pageen.cdp.err"
is "$(line pageen 1)" '"Can I send personal data securely to \u2026?"' \
	"page: English by default with Language en,da"

# ------------------------------------------------ rate limit

codes=""
for i in $(seq 8); do
	get rate "$DU/v1/route?rcpt=a@kp.dk"
	codes="$codes $CODE"
	[ "$CODE" = 429 ] && break
done
like "$codes" "429$" "rate 6 a minute: a burst is answered 429 ($codes)"
like "$(header rate Retry-After)" '^[0-9]+$' "429 with Retry-After in seconds"
ok "429: a JSON error" json_ok rate
get other "$U/v1/route?rcpt=a@kp.dk"
is "$CODE" 200 "the limit is per service and client: the other service still answers"
get xff "$DU/v1/route?rcpt=a@kp.dk" -H "X-Forwarded-For: 198.51.100.9, 192.0.2.7"
is "$CODE" 200 \
	"--behind-proxy: another user behind the proxy (X-Forwarded-For) has a bucket of its own"
# drain - use up the proxy's (127.0.0.1's) bucket again, right before a
# check that needs it empty: a token comes back every 10 s, and a slow
# machine may have taken that long since the burst
drain() {
	local i
	for i in $(seq 8); do
		get drain "$DU/v1/route?rcpt=a@kp.dk"
		[ "$CODE" = 429 ] && return 0
	done
	return 1
}
drain
get xffbad "$DU/v1/route?rcpt=a@kp.dk" -H "X-Forwarded-For: not-an-address"
is "$CODE" 429 "--behind-proxy: an X-Forwarded-For that is no address counts as the proxy"
# a client's own X-Forwarded-For, then the line a proxy adds (as HAProxy does): the proxy's counts
drain
get xffspoof "$DU/v1/route?rcpt=a@kp.dk" -H "X-Forwarded-For: 203.0.113.99" \
	-H "X-Forwarded-For: 127.0.0.1"
is "$CODE" 429 \
	"--behind-proxy: the last X-Forwarded-For counts; a client's own before it dodges nothing"
# a route question costs one per recipient it asks about
SIX="rcpt=a@kp.dk&rcpt=b@kp.dk&rcpt=c@kp.dk&rcpt=d@kp.dk&rcpt=e@kp.dk&rcpt=f@kp.dk"
get six "$DU/v1/route?$SIX" -H "X-Forwarded-For: 198.51.100.20"
is "$CODE/$(jget six 'len(j["recipients"])')" 200/6 "6 recipients from a full bucket of 6: answered"
get seventh "$DU/v1/route?rcpt=a@kp.dk" -H "X-Forwarded-For: 198.51.100.20"
is "$CODE" 429 "... and they used it up: the next question, of one recipient, is refused"
get cert6 "$DU/v1/cert?addr=a@kp.dk" -H "X-Forwarded-For: 198.51.100.21"
get cert7 "$DU/v1/route?$SIX" -H "X-Forwarded-For: 198.51.100.21"
is "$CODE" 200 "a certificate question costs one: 6 recipients after it still answered"
# IPv6 clients are counted by their /64: a host has a whole /64 to pick from
get v6a "$DU/v1/route?$SIX" -H "X-Forwarded-For: 2001:db8:5:1::1"
is "$CODE" 200 "IPv6 client: 6 recipients answered"
get v6b "$DU/v1/route?rcpt=a@kp.dk" -H "X-Forwarded-For: 2001:db8:5:1:ffff:ffff:ffff:fffe"
is "$CODE" 429 "another address in the same /64 shares the bucket: refused"
get v6c "$DU/v1/route?rcpt=a@kp.dk" -H "X-Forwarded-For: 2001:db8:5:2::1"
is "$CODE" 200 "an address in the next /64 has a bucket of its own"

# ------------------------------------------------ a slow directory

# One question of 12 recipients, each a directory lookup a second late:
# the request's lookups end with the filter's DecisionTimeout (5 s here),
# so the service is not held for 12 s or more; the recipients not looked
# up in time are answered as the filter would answer them, unknown.
/usr/bin/python3 "$top_srcdir/tests/lib/slowproxy.py" "$SLOWLDAP" "$SLAPD_PORT" 1 \
	2>"$M/slowproxy.err" &
SLOWPID=$!
track_pid "$SLOWPID"
pick_port SLOWPORT
if ok "slow directory: relay and service start" \
	eval 'wait_for 10 port_in_use "$SLOWLDAP" && serve_start slow "$SLOWPORT"'; then
	q12=$(for i in $(seq 12); do printf 'rcpt=n%d@example.dk&' "$i"; done)
	get slow "http://127.0.0.1:$SLOWPORT/v1/route?${q12%&}" --max-time 60
	is "$CODE/$(jget slow 'len(j["recipients"])')" 200/12 "slow directory: 12 answers, HTTP 200"
	is "$(jget slow 'j["recipients"][0]["class"]')" tls \
		"slow directory: the first recipient was looked up in time (tls, no certificate)"
	is "$(jget slow 'j["recipients"][11]["class"]')" unknown \
		"slow directory: the last was not: unknown, as the filter would have it"
	is "$(jget slow '(j["recipients"][11]["certificate"]["status"], j["recipients"][11]["tempfail"])')" \
		"('lookup-failed', True)" \
		"slow directory: ... its certificate lookup failed, a personal message would be tempfailed"
	get slow2 "http://127.0.0.1:$SLOWPORT/v1/route?rcpt=n1@example.dk" --max-time 60
	is "$CODE/$(jget slow2 'j["recipients"][0]["class"]')" 200/tls \
		"slow directory: the next request has a budget of its own"
	stop_pid "${SPID[slow]}" 10
fi
stop_pid "$SLOWPID" 5

# ------------------------------------------------ the log and the end

like "$(cat "$M/main.serve.log")" "serve: 127\.0\.0\.1 GET /v1/route 200" "requests are logged"
like "$(cat "$M/main.serve.log")" "serve: 127\.0\.0\.1 POST /v1/route 405" \
	"refused requests are logged with their status"
unlike "$(grep 'serve: 127' "$M/main.serve.log")" "[?@]" \
	"the request lines do not hold the query (the addresses asked about)"
# nor any other line: a failed lookup (the directory down), a refused
# (revoked) certificate, both asked about above, name no address either
like "$(cat "$M/down.serve.log")" "certificate directory lookup for \(an address, not logged\) failed" \
	"a failed lookup is logged, its address withheld"
unlike "$(cat "$M/main.serve.log" "$M/down.serve.log")" "@" \
	"no line of either service's log holds an address"
like "$(cat "$M/main.serve.log")" "serve: 127\.0\.0\.1 GET \(other\) 404" \
	"nor a path of the client's own (it may hold an address): (other)"
# in flight: one request half sent, one connection kept after its answer;
# it stops at once (5 s, well inside the 15 s a connection may idle), not after them
exec 5<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET /v1/route?rcpt=a@kp.dk HTTP/1.1\r\nHost: x\r\n' >&5
exec 6<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET /v1/route?rcpt=x@gmail.com HTTP/1.1\r\nHost: x\r\n\r\n' >&6
read -r -t 10 kept <&6 || kept=
is "${kept%$'\r'}" "HTTP/1.1 200 OK" "a connection is answered and stays open"
stop_pid "${SPID[main]}" 5
exec 5<&- 6<&-
is "$STOP_STATUS" 0 "SIGTERM with connections in flight: it stops at once, exit 0"
like "$(tail -n 1 "$M/main.serve.log")" "serve: stopping \(SIGTERM\)" "SIGTERM: it says it stops"
stop_pid "${SPID[down]}" 10
is "$STOP_STATUS" 0 "the second one stops too"

# IPv6, on a privileged port from a root start: bound before UserID is taken
if ip -6 addr show dev lo 2>/dev/null | grep -q '::1/128'; then
	for p6 in $(seq 700 750); do
		listening "$p6" || break
	done
	if ok "serve starts on [::1]:$p6 (a privileged port)" \
		serve_start6 v6 "$p6" --rate 2; then
		get v6 "http://[::1]:$p6/v1/route?rcpt=x@gmail.com"
		is "$CODE/$(jget v6 'j["recipients"][0]["class"]')" 200/freemail \
			"[::1]:$p6 answers"
		is "$(proc_user "${SPID[v6]}")" "$TEST_USER" "... as UserID"
		get v6 "http://[::1]:$p6/v1/route?rcpt=x@gmail.com"
		get v6 "http://[::1]:$p6/v1/route?rcpt=x@gmail.com"
		is "$CODE" 429 "[::1]:$p6, rate 2: the third request is refused"
		get v6 "http://[::1]:$p6/v1/route?rcpt=x@gmail.com" -H "X-Forwarded-For: 192.0.2.7"
		is "$CODE" 429 "without --behind-proxy X-Forwarded-For counts for nothing"
		stop_pid "${SPID[v6]}" 10
	fi
elif strict; then
	fail "serve on [::1]: no IPv6 loopback here (SIKKERMAIL_STRICT=1: nothing may be skipped)"
else
	skip "serve on [::1]" "no IPv6 loopback on this machine"
fi
capture "$CTL" -c "$M/main.conf" serve --rate 0
is "$RC" 64 "--rate 0: usage error"
capture "$CTL" -c "$M/main.conf" serve --listen 127.0.0.1
is "$RC/$(grep -c 'ADDRESS:PORT' "$ERR")" 1/1 "--listen without a port: says ADDRESS:PORT"

done_testing

#!/bin/bash
# proxy.sh - sikkermail-ctl serve behind the web servers of the shipped
# examples, contrib/sikkermail-serve.nginx and contrib/sikkermail-serve.apache.
#
#   curl (HTTPS, from its own 127.0.1.N per check) -> a private nginx and a
#         private Apache httpd on 127.0.0.1, each running the example file
#         itself (only its ports, certificate, password file and the
#         service's port changed) -> sikkermail-ctl serve --behind-proxy
#         --rate 3 on 127.0.0.1 (started as root, working as UserID)
#
# Covers, for each web server: without credentials, with a wrong password
# or an unknown user the answer is 401 and the service never hears of the
# request; with the right ones /v1/route gives the service's own answer
# (x@gmail.com is freemail, byte for byte what the service says directly)
# and / the page, HEAD its headers; POST, PUT and DELETE are refused by the
# web server (403/405) with or without credentials and never reach the
# service; the service counts the rate limit per user (the address the
# proxy puts in X-Forwarded-For), and a client's own X-Forwarded-For does
# not get it a fresh bucket; requests on one client connection are all
# answered and the web server keeps its connection to the service open;
# the page works published under a path prefix (driven in Chromium);
# every server stops on SIGTERM.

. "$(dirname "$0")/lib/common.sh"

need_root "the web servers and the service are started as root, as on a real host"
need "$CTL" "sikkermail-ctl not built ($CTL)"
need curl "curl not installed (Debian: curl)"
need openssl
need ss "ss not installed (Debian: iproute2)"
need /usr/bin/python3 "python3 not installed (Debian: python3)"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
need "$NGINX" "nginx not installed (Debian: nginx-light)"
APACHE=$(command -v apache2 || echo /usr/sbin/apache2)
need "$APACHE" "apache2 not installed (Debian: apache2)"
APACHE_MODULES=${APACHE_MODULES:-/usr/lib/apache2/modules}
[ -f "$APACHE_MODULES/mod_proxy_http.so" ] ||
	skip_all "Apache's modules not in $APACHE_MODULES (Debian: apache2)"
need htpasswd "htpasswd not installed (Debian: apache2-utils)"
BROWSER=$(command -v chromium || command -v chromium-browser || true)
need "${BROWSER:-chromium}" "chromium not installed (Debian: chromium)"
JSONCHECK=$top_builddir/tests/unit/jsoncheck
need "$JSONCHECK" "tests/unit/jsoncheck not built"
NGINX_EXAMPLE=$top_srcdir/contrib/sikkermail-serve.nginx
APACHE_EXAMPLE=$top_srcdir/contrib/sikkermail-serve.apache
TEST_GROUP=$(id -gn "$TEST_USER")

M=$TEST_TMP/serve
P=$TEST_TMP/pki
mkdir -p "$M/db" "$P"

# ------------------------------------------------ the service

milter_conf "$M/serve.conf" "Database $M/db/sikkermail.db"
give_to_test_user "$M"
SLOG=$M/serve.log
pick_port SPORT
"$CTL" -c "$M/serve.conf" serve --listen "127.0.0.1:$SPORT" --rate 3 --behind-proxy \
	>>"$SLOG" 2>&1 </dev/null &
SPID=$!
track_pid "$SPID"
if ! wait_for 10 port_in_use "$SPORT"; then
	diag_file "$SLOG"
	must "serve starts (root, 127.0.0.1:$SPORT, --rate 3 --behind-proxy)" false
fi
pass "serve starts (root, 127.0.0.1:$SPORT, --rate 3 --behind-proxy)"
is "$(proc_user "$SPID")" "$TEST_USER" "serve works as UserID ($TEST_USER)"

# get NAME URL [CURL ARGS...] - GET URL from $SRC: body in $TEST_TMP/NAME.body,
# headers in NAME.head; sets CODE and BODY.
SRC=127.0.0.1
get() {
	local name=$1 url=$2
	shift 2
	CODE=$(curl -sS -k -g --interface "$SRC" -o "$TEST_TMP/$name.body" \
		-D "$TEST_TMP/$name.head" -w '%{http_code}' "$@" "$url" 2>"$TEST_TMP/$name.curl") ||
		{ CODE=curl-failed; diag_file "$TEST_TMP/$name.curl" 5; }
	BODY=$(cat "$TEST_TMP/$name.body" 2>/dev/null)
}
header() { tr -d '\r' <"$TEST_TMP/$1.head" | sed -n "s/^$2: //Ip" | tail -n 1; }
json_ok() { "$JSONCHECK" <"$TEST_TMP/$1.body" >/dev/null 2>&1; }
jget() {
	/usr/bin/python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$TEST_TMP/$1.body" "$2" 2>&1
}
# client - the next check comes from an address of its own (127.0.1.N): the
# web server names it to the service, whose log and rate limit show it.
_src_n=0
client() {
	_src_n=$((_src_n + 1))
	SRC=127.0.1.$_src_n
}
slog_lines() { wc -l <"$SLOG"; }
slog_has() { grep -q -E "$1" "$SLOG"; }
# not_reached NAME LINES - the service logged nothing from $SRC, and no line
# at all since it had LINES.
not_reached() {
	sleep 0.3
	is "$(grep -c -F "serve: $SRC " "$SLOG")/$(slog_lines)" "0/$2" \
		"$1: never reaches the service (nothing logged)"
}

SRC=127.0.0.1
get direct "http://127.0.0.1:$SPORT/v1/route?rcpt=x@gmail.com"
is "$CODE/$(jget direct 'j["recipients"][0]["class"]')" 200/freemail \
	"asked directly, the service says x@gmail.com is freemail"

# ------------------------------------------------ what both web servers share

# a certificate for the test's host name, and the password file (bcrypt)
if ! openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=sikkermail.example.dk" \
	-keyout "$P/site.key" -out "$P/site.pem" >"$P/openssl.log" 2>&1; then
	diag_file "$P/openssl.log"
	must "a self-signed certificate for the web servers" false
fi
USER_NAME=jens
USER_PASS='Rigtig hest 9'
must "htpasswd -B makes the password file" \
	htpasswd -B -b -c "$P/sikkermail.htpasswd" "$USER_NAME" "$USER_PASS" 2>"$P/htpasswd.log"
chmod 0644 "$P/sikkermail.htpasswd"
RIGHT=(-u "$USER_NAME:$USER_PASS")

# example_copy EXAMPLE OUT SED-ARGS... - the example with only the
# site-specific values changed by sed; outside comments, nothing of the
# shipped values may be left.
example_copy() {
	local example=$1 out=$2
	shift 2
	sed "$@" "$example" >"$out" || return 1
	if grep -v -E '^[[:space:]]*#' "$out" | grep -n -E ':8471|\<443\>|/etc/' >&2; then
		diag "$out: shipped values left"
		return 1
	fi
}
# has_all FILE STRING... - FILE has each STRING (each change was made)
has_all() {
	local f=$1 s
	shift
	for s in "$@"; do
		grep -q -F -- "$s" "$f" || { diag "$f: no $s"; return 1; }
	done
}

# ------------------------------------------------ nginx

N=$TEST_TMP/nginx
mkdir -p "$N"
pick_port NGPORT
pick_port PFXPORT
nginx_example() {
	example_copy "$NGINX_EXAMPLE" "$N/sikkermail-serve.conf" \
		-e "s|^\([[:space:]]*listen\) 443 |\1 127.0.0.1:$NGPORT |" \
		-e '/^[[:space:]]*listen \[::\]:443 /d' \
		-e "s|^\([[:space:]]*ssl_certificate\) .*;|\1 $P/site.pem;|" \
		-e "s|^\([[:space:]]*ssl_certificate_key\) .*;|\1 $P/site.key;|" \
		-e "s|^\([[:space:]]*auth_basic_user_file\) .*;|\1 $P/sikkermail.htpasswd;|" \
		-e "s|127\.0\.0\.1:8471|127.0.0.1:$SPORT|g" &&
	has_all "$N/sikkermail-serve.conf" "listen 127.0.0.1:$NGPORT ssl" "$P/site.pem;" \
		"$P/site.key;" "$P/sikkermail.htpasswd;" "127.0.0.1:$SPORT;"
}
ok "nginx: the example, with this test's ports and files" nginx_example ||
	diag "$(diff "$NGINX_EXAMPLE" "$N/sikkermail-serve.conf")"
# the http{} of a distribution's nginx.conf, reduced to what the test needs
cat >"$N/nginx.conf" <<EOF
user $TEST_USER $TEST_GROUP;
worker_processes 1;
events { worker_connections 64; }
http {
	access_log $N/access.log;
	client_body_temp_path $N/body;
	proxy_temp_path $N/proxy;
	fastcgi_temp_path $N/fastcgi;
	uwsgi_temp_path $N/uwsgi;
	scgi_temp_path $N/scgi;
	include $N/sikkermail-serve.conf;
	# the page published under a path prefix, as ADMIN-GUIDE shows
	server {
		listen 127.0.0.1:$PFXPORT;
		location /sikkermail/ {
			proxy_pass http://127.0.0.1:$SPORT/;
			proxy_set_header X-Forwarded-For 198.51.100.77;
		}
	}
}
EOF
NGINX_G="daemon off; pid $N/nginx.pid; error_log $N/error.log;"
if ! "$NGINX" -t -c "$N/nginx.conf" -p "$N/" -g "$NGINX_G" >"$N/t.log" 2>&1; then
	fail "nginx -t accepts the example"
	diag_file "$N/t.log"
else
	pass "nginx -t accepts the example"
fi
"$NGINX" -c "$N/nginx.conf" -p "$N/" -g "$NGINX_G" >>"$N/stderr.log" 2>&1 </dev/null &
NGPID=$!
track_pid "$NGPID"
if ! ok "nginx starts on 127.0.0.1:$NGPORT" wait_for 10 port_in_use "$NGPORT"; then
	diag_file "$N/stderr.log"
	diag_file "$N/error.log"
fi

# ------------------------------------------------ Apache httpd

A=$TEST_TMP/apache
mkdir -p "$A"
pick_port APPORT
apache_example() {
	example_copy "$APACHE_EXAMPLE" "$A/sikkermail-serve.conf" \
		-e "s|^<VirtualHost \*:443>|<VirtualHost 127.0.0.1:$APPORT>|" \
		-e "s|^\([[:space:]]*SSLCertificateFile\) .*|\1 $P/site.pem|" \
		-e "s|^\([[:space:]]*SSLCertificateKeyFile\) .*|\1 $P/site.key|" \
		-e "s|^\([[:space:]]*AuthUserFile\) .*|\1 $P/sikkermail.htpasswd|" \
		-e "s|127\.0\.0\.1:8471|127.0.0.1:$SPORT|g" &&
	has_all "$A/sikkermail-serve.conf" "<VirtualHost 127.0.0.1:$APPORT>" "$P/site.pem" \
		"$P/site.key" "$P/sikkermail.htpasswd" "http://127.0.0.1:$SPORT/"
}
ok "apache: the example, with this test's ports and files" apache_example ||
	diag "$(diff "$APACHE_EXAMPLE" "$A/sikkermail-serve.conf")"
{
	echo "ServerRoot $A"
	echo "ServerName 127.0.0.1"
	echo "Listen 127.0.0.1:$APPORT"
	echo "PidFile $A/apache2.pid"
	echo "ErrorLog $A/error.log"
	echo "TransferLog $A/access.log"
	echo "LogLevel warn"
	echo "DefaultRuntimeDir $A"
	echo "Mutex file:$A default"
	echo "User $TEST_USER"
	echo "Group $TEST_GROUP"
	echo "StartServers 1"
	for mod in mpm_event authn_core authn_file authz_core authz_user auth_basic \
		socache_shmcb ssl proxy proxy_http headers; do
		echo "LoadModule ${mod}_module $APACHE_MODULES/mod_$mod.so"
	done
	echo "SSLSessionCache shmcb:$A/ssl_scache(512000)"
	echo "Include $A/sikkermail-serve.conf"
} >"$A/apache2.conf"
if ! "$APACHE" -t -d "$A" -f "$A/apache2.conf" >"$A/t.log" 2>&1; then
	fail "apache2 -t accepts the example"
	diag_file "$A/t.log"
else
	pass "apache2 -t accepts the example"
fi
"$APACHE" -d "$A" -f "$A/apache2.conf" -DFOREGROUND >>"$A/stderr.log" 2>&1 </dev/null &
APPID=$!
track_pid "$APPID"
if ! ok "apache2 starts on 127.0.0.1:$APPORT" wait_for 10 port_in_use "$APPORT"; then
	diag_file "$A/stderr.log"
	diag_file "$A/error.log"
fi

# ------------------------------------------------ through each of them

# upstream_kept PROCESS - PROCESS holds a connection to the service open
upstream_kept() {
	ss -Htnp state established "( dport = :$SPORT )" 2>/dev/null | grep -q -F "((\"$1\""
}

# through NAME PROCESS BASEURL - the checks through one web server
through() {
	local p=$1 proc=$2 base=$3 lines m codes i

	client
	lines=$(slog_lines)
	get "$p-anon" "$base/v1/route?rcpt=x@gmail.com"
	is "$CODE" 401 "$p: no credentials: 401"
	like "$(header "$p-anon" WWW-Authenticate)" '^Basic realm="sikkermail"' \
		"$p: no credentials: asked for them (Basic, realm sikkermail)"
	not_reached "$p: no credentials" "$lines"

	client
	get "$p-wrong" "$base/v1/route?rcpt=x@gmail.com" -u "$USER_NAME:wrong"
	is "$CODE" 401 "$p: a wrong password: 401"
	not_reached "$p: a wrong password" "$lines"
	client
	get "$p-nouser" "$base/" -u "mallory:$USER_PASS"
	is "$CODE" 401 "$p: an unknown user: 401"
	not_reached "$p: an unknown user" "$lines"

	client
	get "$p-route" "$base/v1/route?rcpt=x@gmail.com" "${RIGHT[@]}"
	is "$CODE/$(jget "$p-route" 'j["recipients"][0]["class"]')" 200/freemail \
		"$p: right credentials: /v1/route answers, x@gmail.com is freemail"
	is "$(header "$p-route" Content-Type)" "application/json; charset=utf-8" \
		"$p: ... as application/json"
	ok "$p: ... valid JSON" json_ok "$p-route"
	ok "$p: ... the same answer as the service gives directly" \
		cmp -s "$TEST_TMP/$p-route.body" "$TEST_TMP/direct.body"
	ok "$p: the service logs the user's address, from the proxy's X-Forwarded-For" \
		wait_for 5 slog_has "serve: ${SRC//./\\.} GET /v1/route 200\$" || diag_file "$SLOG" 5
	is "$(header "$p-route" Cache-Control)" no-store "$p: the service's Cache-Control passes"

	client
	get "$p-page" "$base/" "${RIGHT[@]}"
	is "$CODE/$(header "$p-page" Content-Type)" "200/text/html; charset=utf-8" \
		"$p: right credentials: GET / is the page"
	like "$BODY" "<html" "$p: ... with the page in it"
	like "$(header "$p-page" Content-Security-Policy)" "^default-src 'none'" \
		"$p: ... and its Content-Security-Policy"
	get "$p-head" "$base/" "${RIGHT[@]}" -I
	is "$CODE/$(header "$p-head" Content-Type)" "200/text/html; charset=utf-8" \
		"$p: HEAD / with credentials: the page's headers"

	for m in POST PUT DELETE; do
		client
		lines=$(slog_lines)
		if [ "$m" = DELETE ]; then
			get "$p-$m" "$base/v1/route?rcpt=a@kp.dk" "${RIGHT[@]}" -X "$m"
		else
			get "$p-$m" "$base/v1/route?rcpt=a@kp.dk" "${RIGHT[@]}" -X "$m" --data-binary x=1
		fi
		like "$CODE" '^40[35]$' "$p: $m with credentials: refused by the web server ($CODE)"
		not_reached "$p: $m with credentials" "$lines"
	done
	client
	lines=$(slog_lines)
	get "$p-anonpost" "$base/" -X POST --data-binary x=1
	like "$CODE" '^40[13]$' "$p: POST without credentials: 401 or 403 ($CODE)"
	not_reached "$p: POST without credentials" "$lines"

	# the rate limit: 3 a minute per user
	client
	codes=""
	for _ in 1 2 3 4 5; do
		get "$p-rate" "$base/v1/route?rcpt=x@gmail.com" "${RIGHT[@]}"
		codes="$codes $CODE"
		[ "$CODE" = 429 ] && break
	done
	is "$codes" " 200 200 200 429" "$p: one user's burst: 3 answers, then 429"
	get "$p-xff" "$base/v1/route?rcpt=x@gmail.com" "${RIGHT[@]}" \
		-H "X-Forwarded-For: 203.0.113.9"
	is "$CODE" 429 "$p: the user's own X-Forwarded-For: still 429 (the proxy names the real peer)"
	ok "$p: ... and the service counted it for the user's address" \
		wait_for 5 slog_has "serve: ${SRC//./\\.} GET /v1/route 429 \\(rate limit"
	unlike "$(cat "$SLOG")" "203\.0\.113\.9" "$p: ... the address the client wrote is nowhere"
	client
	get "$p-other" "$base/v1/route?rcpt=x@gmail.com" "${RIGHT[@]}" \
		-H "X-Forwarded-For: 203.0.113.9"
	is "$CODE" 200 "$p: another user behind the same web server has a bucket of its own"

	# keep-alive: one client connection, and the web server's to the service kept open
	client
	codes=$(curl -sS -k --interface "$SRC" "${RIGHT[@]}" -o /dev/null -o /dev/null -o /dev/null \
		-w '%{http_code}/%{num_connects} ' "$base/v1/route?rcpt=x@gmail.com" \
		"$base/v1/route?rcpt=a@kp.dk" "$base/" 2>"$TEST_TMP/$p-ka.curl")
	is "$codes" "200/1 200/0 200/0 " "$p: three requests on one client connection, all 200"
	ok "$p: the connection to the service stays open after them (keep-alive upstream)" \
		upstream_kept "$proc" ||
		diag "$(ss -Htnp state established "( dport = :$SPORT )" 2>&1)"
}

through nginx nginx "https://127.0.0.1:$NGPORT"
through apache apache2 "https://127.0.0.1:$APPORT"

# ------------------------------------------------ under a path prefix

# The page asks the service by relative paths, so it works where a site
# publishes it under a prefix (https://intra.example.dk/sikkermail/):
# Chromium loads it there, an address is typed, the route is shown.
PFX=http://127.0.0.1:$PFXPORT/sikkermail/
rm -rf "$TEST_TMP/chromium.pfx"
pfx_page() {
	timeout 90 /usr/bin/python3 "$top_srcdir/tests/lib/cdp.py" "$BROWSER" \
	"$TEST_TMP/chromium.pfx" "$PFX" "type:rcpts:x@gmail.com" \
	"document.getElementById('check').click(); 0" \
	"new Promise((ok, no) => { let n = 0; const t = setInterval(() => {
		const m = document.querySelector('#results .route');
		if (m) { clearInterval(t); ok([m.dataset.address, m.dataset.class]); }
		else if (++n > 200) { clearInterval(t); no(new Error('no route shown')); } }, 50); })" \
	>"$TEST_TMP/pfx.cdp" 2>"$TEST_TMP/pfx.cdp.err"
}
if ok "under /sikkermail/: Chromium drives the page" pfx_page; then
	is "$(sed -n 3p "$TEST_TMP/pfx.cdp")" '["x@gmail.com", "freemail"]' \
		"under /sikkermail/: the route is shown (its question went to /sikkermail/v1/route)"
else
	diag_file "$TEST_TMP/pfx.cdp.err"
fi
like "$(cat "$SLOG")" "serve: 198\.51\.100\.77 GET /v1/route 200" \
	"under /sikkermail/: the service answered the page's question"

# ------------------------------------------------ the end

unlike "$(cat "$N/error.log" "$A/error.log" 2>/dev/null)" '\[(emerg|alert|crit)\]' \
	"no emergency, alert or critical line in the web servers' logs"

# stopped PID NAME PORT - SIGTERM; the process, its children and the port are gone
stopped() {
	local pid=$1 name=$2 port=$3 kids k left=
	kids=$(ps -o pid= --ppid "$pid" 2>/dev/null)
	stop_pid "$pid" 20
	is "$STOP_STATUS" 0 "$name: SIGTERM stops it, exit 0"
	for k in $kids; do
		wait_for 5 eval "! alive $k" || left="$left $k"
	done
	is "$left" "" "$name: its child processes are gone too"
	fails "$name: nothing listens on its port any more" port_in_use "$port"
}
stopped "$NGPID" nginx "$NGPORT"
stopped "$APPID" apache "$APPORT"
stopped "$SPID" serve "$SPORT"
like "$(tail -n 1 "$SLOG")" "serve: stopping \(SIGTERM\)" "serve says it stops"
if tests_failed; then
	diag_file "$SLOG" 40
	diag_file "$N/error.log"
	diag_file "$A/error.log"
fi

done_testing

#!/bin/bash
# fuzz/mkcorpus.sh - (re)make the seed corpora in fuzz/corpus/NAME/ from the
# test data of the tree and the test PKI (tests/lib/mkcerts.sh). Run it by
# hand from the top of the source tree when the inputs a target reads
# change; the seeds are checked in, and make fuzz-merge adds to them.
#
# Seeds are named after what they are (the fuzzer's own additions after
# their SHA-1), and are small: the fuzzer mutates them. fuzz/fuzz_certs_pki.h
# holds the trust anchors and CRLs of the PKI made here: the certificate
# seeds only validate with the header from the same run.
set -eu
cd "$(dirname "$0")/.."
C=fuzz/corpus
mkdir -p $C/address $C/personal $C/config $C/lists $C/cpr $C/mime $C/marker $C/audit $C/certs \
	$C/subject

seed() {	# seed NAME FILE PRINTF-FORMAT [ARGS...]: a seed with the exact bytes
	local dir=$1 file=$2
	shift 2
	# shellcheck disable=SC2059
	printf "$@" >"$C/$dir/$file"
}

# --- address: what MAIL FROM / RCPT TO carry, including the odd forms
n=0
while IFS= read -r a; do
	n=$((n + 1))
	printf '%s' "$a" >"$C/address/$(printf '%02d' $n)"
done <<'LIST'
<user@kp.dk>
user@KP.DK.
<User@Kp.Dk.> NOTIFY=NEVER ORCPT=rfc822;user@kp.dk
<>
<@relay.example,@other.example:user@kp.dk>
<"john doe"@example.com>
<"a@b"@example.com>
<"a\"b"@example.com>
user%other@kp.dk
host!user@kp.dk
<søren@æblegrød.dk>
<user@xn--blegrd-vua2l.dk>
<user@[192.0.2.1]>
<user@[IPv6:2001:db8::1]>
a.b.c@sub.domain.example
<user@kp.dk> SIZE=1000 BODY=8BITMIME
"quoted local"@kp.dk
<.bad@kp.dk>
<user@-bad-.dk>
<user@kp..dk>
LIST

# --- personal: the header's copies, NUL between them
seed personal yes 'yes'
seed personal ja ' Ja \r\n'
seed personal no 'NEJ'
seed personal folded 'yes\r\n\t'
seed personal disagree 'yes\0no\0maybe'
seed personal other 'vielleicht (\001)'
seed personal many '1\0true\0ja\00\0false\0nej'

# --- subject: Subject values with and without the tags fuzz_subject.c looks for
seed subject plain '[sikker] Referat fra m\303\270det'
seed subject inside 'Referat[SIKKER]2024 #pfs x'
seed subject nested '[sik[sikker]ker] a'
seed subject folded 'Referat fra\r\n\t[sikker] budget'
seed subject q-utf8 '=?UTF-8?Q?=5BPERSONF=C3=98LSOM=5D_Ans=C3=B8gning?='
seed subject b-latin1 '=?iso-8859-1?B?QW5z+GduaW5nIFtzaWtrZXJd?='
seed subject split '=?UTF-8?Q?=5Bsik?= =?UTF-8?Q?ker=5D_x?='
seed subject only '[sikker]'
seed subject none 'Referat =?b?= sikker'
seed subject spaced '[s\303\245\t [sikker]\r\n sikker] a'

# --- config: the example file, and small ones touching each kind of value
cp contrib/sikkermail.conf $C/config/example.conf
sed -n 's/^#\([A-Z][A-Za-z]*\t\)/\1/p' contrib/sikkermail.conf | grep -v '^Socket.*\(inet\|postfix\)\|Reinject.*smtp\|^SecureMailbox.*hr@' >$C/config/uncommented.conf
seed config minimal 'InternalDomains kp.dk\n'
seed config networks 'InternalNetworks 10.0.0.0/8, 2001:db8::/32, 192.0.2.1\nMode monitor # comment\n'
seed config durations 'CertTTL 2w\nNegativeTTL 90m\nMaxStale 30\nLDAPTimeout 120\n'
seed config quoted 'SecureSubject "Sikker \\"besked\\""\nHelpURL https://intra.kp.dk/a?b=c\n'
seed config errors 'Nonsense 1\nMode maybe\nUMask 999\nInternalDomains dk\n'
seed config reinject 'Reinject smtp:127.0.0.1:10026\nTLSPolicyMap hash:/etc/postfix/tls_policy\n'
seed config reinject6 'Reinject smtp:[::1]:25\nSocket inet6:8891@[::1]\nTLSPolicyMap lmdb:/x\n'
seed config mailboxes 'SecureMailbox a@kp.dk /k1 /c1\nSecureMailbox b@kp.dk /k2 /c2\nDefaultSecureMailbox b@kp.dk\nLDAPURI ldap://x\nLDAPBase c=DK\nTrustedCAFile /ca.pem\n'

# --- lists: the test lists
cp tests/data/lists/*.txt $C/lists/

# --- cpr: first byte = chunk size - 1 (low 7 bits), 0x80 = HTML
seed cpr plain '\x00CPR: 010190-1238'
seed cpr chunked '\x02Hej S\xc3\xb8ren, dit cpr er 010190\xe2\x80\x931238 \xe2\x80\x93 mvh'
seed cpr list '\x10CPR-numre: 0101901238, 0202801234; 010190-1234'
seed cpr negative '\x7fReg.nr. 1234 konto 0101901238 Faktura 0101901238 +45 0101901238'
seed cpr url '\x05https://journal.example.dk/patient?id=0101901238 www.x.dk/0101901238 a=1&b=0101901238'
seed cpr html '\x83<td class="0101901238">personnummer</td><td>0101901238</td><!-- 0202801234 -->'
seed cpr latin1 '\x01cpr \xf8 2902004125 \xe6 290200-4125'
seed cpr dates '\x00 0101585124 2902001126 3104901238 0101364128 0101374128'

# --- mime: the MIME test messages
for f in tests/data/mime/*.eml; do cp "$f" $C/mime/; done
# one level deeper than MIME_MAX_DEPTH, as nested multiparts and as messages
python3 - "$C/mime" <<'PY'
import sys
d = 101
mp = "From: a@b\nSubject: deep\nMIME-Version: 1.0\n"
for i in range(d):
    mp += f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n'
mp += "Content-Type: text/plain\n\nCPR 010190-1238\n"
for i in reversed(range(d)):
    mp += f"--b{i}--\n"
msg = "From: a@b\nSubject: deep\nMIME-Version: 1.0\n"
msg += "Content-Type: message/rfc822\n\nFrom: c@d\nSubject: x\n" * d
msg += "Content-Type: text/plain\n\nCPR 010190-1238\n"
open(sys.argv[1] + "/deep-multipart-101.eml", "w").write(mp)
open(sys.argv[1] + "/deep-rfc822-101.eml", "w").write(msg)
PY

# --- marker: a real one (for another secret), and near misses
seed marker real '1796200000.4f2d1f9a0c7ab2b54e7ad7d4c1a0bb8d1f0e7c9b6a5d4c3b2a19080706050403'
seed marker folded ' 1796200000.4f2d1f9a0c7ab2b54e7ad7d4c1a0bb8d1f0e7c9b6a5d4c3b2a19080706050403\r\n\t'
seed marker upper '1796200000.4F2D1F9A0C7AB2B54E7AD7D4C1A0BB8D1F0E7C9B6A5D4C3B2A19080706050403'
seed marker zero '0.0000000000000000000000000000000000000000000000000000000000000000'
seed marker leadingzero '01.00'
seed marker huge '99999999999999999999999.ab'
seed marker messageid '<20261202.1234@kp.dk>'

# --- audit: lines as the filter writes them, as syslog stores them
grep -h 'decision time=' tests/report.sh | grep -v '^[[:space:]]*#' | head -6 |
	while IFS= read -r l; do
		n=$(printf '%s' "$l" | sha1sum | cut -c1-8)
		printf '%s\n' "$l" >"$C/audit/report-$n"
	done
seed audit minimal 'decision time=1 action=hold applied=deliver rule=SomethingNew rcpts=0'
seed audit summary 'decision time=1764400000 instance=mx1 id=6929a7c0-1f3a-1 queue_id=4F2A1C3B2D message_id=<a1@kp.dk> sender="K\\xc3\\xb8 \\\\" client=- trusted=yes mode=enforce generation=2 personal=yes personal_source=header personal_reason="header yes" cpr=0 action=reject applied=reject rule=PersonalToFreemail copy=<c@kp.dk> failure="x...[cut]" recorded=no rcpts=0'
seed audit rcpt 'decision-rcpt time=1764400000 instance=mx1 id=6929a7c0-1f3a-1 queue_id=4F2A1C3B2D rcpt=x@gmail.com class=freemail action=reject rule=PersonalToFreemail evidence="freemail list: gmail.com" n=1 of=2'
seed audit json-summary '{"type":"decision","time":1764400000,"instance":"mx1","id":"I","queue_id":null,"message_id":"<a\\u0001\\ud83d\\udce7>","sender":"\\\\xff","client":null,"trusted":true,"mode":"monitor","generation":1,"personal":true,"personal_source":"cpr","personal_reason":null,"cpr":2,"action":"hold","applied":"deliver","rule":"PersonalToTLS","recorded":false,"rcpts":0}'
seed audit json-rcpt '{"type":"decision-rcpt","time":1,"instance":"mx1","id":"I","queue_id":"Q","rcpt":"u@kp.dk","class":"internal","action":"deliver","rule":"internal","evidence":null,"n":2,"of":2}'
seed audit quoted 'decision time=0 queue_id="a=b" message_id="<\\"q\\" \\\\x>" sender="" client=- trusted=no mode=monitor personal=no cpr=0 action=deliver applied=deliver rule=- rcpts=1 rcpt1="\\x01@x" class1=unknown action1=tempfail rule1=OnLookupFailure evidence1="a\\\\b"'

# --- certs: "address\n" + DER, from a fresh test PKI
pki=$(mktemp -d)
trap 'rm -rf "$pki"' EXIT
bash tests/lib/mkcerts.sh "$pki" >/dev/null
while read -r name addr; do
	{ printf '%s\n' "$addr"; cat "$pki/$name.der"; } >"$C/certs/$name"
done <"$pki/leaves.txt"
cp "$pki/valid.der" $C/certs/valid-bare.der
{ printf 'bundle@example.dk\n'; cat "$pki/bundle.p7b"; } >$C/certs/bundle-p7b
{
	cat <<'HDR'
/*
 * fuzz_certs_pki.h - the trust anchors and CRLs fuzz_certs.c judges
 * certificates against: trust.pem and crl.pem of the test PKI
 * (tests/lib/mkcerts.sh), made with the DER seeds in corpus/certs by
 * mkcorpus.sh. The CAs are valid 2000..2099; the leaves and CRLs around
 * FUZZ_CERTS_NOW, the fixed "now" of the check.
 */
#ifndef SIKKERMAIL_FUZZ_CERTS_PKI_H
#define SIKKERMAIL_FUZZ_CERTS_PKI_H

HDR
	start=$(openssl x509 -in "$pki/valid.pem" -noout -startdate | cut -d= -f2)
	echo "#define FUZZ_CERTS_NOW ((time_t)$(($(date -d "$start" +%s) + 86400)))"
	echo
	echo "static const char fuzz_trust_pem[] ="
	sed 's/^/\t"/; s/$/\\n"/' "$pki/trust.pem"
	echo "	;"
	echo
	echo "static const char fuzz_crl_pem[] ="
	sed 's/^/\t"/; s/$/\\n"/' "$pki/crl.pem"
	echo "	;"
	echo
	echo "#endif"
} >fuzz/fuzz_certs_pki.h
echo "seeds made in $C; fuzz/fuzz_certs_pki.h rewritten"

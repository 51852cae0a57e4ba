#!/bin/bash
# mkcerts.sh DIR - make the test PKI for the certificate checks, with the
# openssl command-line tool, at test time, into DIR (created if missing).
#
# CAs (all valid 2000-01-01 .. 2099-12-31):
#   root        "Test Root CA", self-signed            ca/root/ca.pem
#   inter       "Test Issuing CA", signed by root       ca/inter/ca.pem
#   inter2      "Test Other Issuing CA", signed by root, NOT in any trust
#               file: its leaves only validate when a bundle supplies it
#   untrusted   "Untrusted Root CA", self-signed, in no trust file
#
# Files for the filter's configuration:
#   trust.pem          TrustedCAFile as a site would write it: root + inter
#   trust-root.pem     root only (the chain then needs inter from elsewhere)
#   trust-inter.pem    inter only (an intermediate as the trust anchor)
#   crl.pem            CRLFile: current CRLs of root, inter and inter2
#   crl-inter.pem      the CRL of inter alone (revoked.pem is on it)
#   crl-before.pem     as crl.pem, but inter's from before any revocation
#
# Leaves, each as NAME.pem, NAME.der and NAME.key (PEM, unencrypted);
# leaves.txt lists "NAME ADDRESS" (the address the test looks up):
#   valid        valid@example.dk: RSA-2048, SAN rfc822Name, keyUsage
#                digitalSignature+keyEncipherment, EKU emailProtection,
#                issued by inter, valid from yesterday for a year;
#                CN "Søren Ærø Valid" (UTF-8)
#   expired      ended a year ago
#   notyet       starts in a year
#   wrongaddr    looked up as wrongaddr@, SAN holds someone.else@example.dk
#   subjonly     address only in the subject's emailAddress, no SAN
#   noeku        EKU clientAuth only
#   nokeyenc     keyUsage digitalSignature only
#   untrusted    issued by the untrusted root
#   missinginter issued by inter2, which nobody supplies
#   revoked      issued by inter and revoked (on crl.pem, crl-inter.pem)
#   weak         RSA-1024 (policy minimum is RSA-2048)
#   two-a, two-b twocerts@example.dk, ending in 200 and 400 days: b wins
#   ec           ec@example.dk, EC P-256, keyUsage keyAgreement
#   mixedcase    SAN rfc822Name Mixed.Case@EXAMPLE.DK
#   bundle       bundle@example.dk, issued by inter2; bundle.p7b (DER
#                PKCS#7) carries the leaf and inter2, so it validates
#   star         star*name@example.dk (a '*' in the local part)
#   server       not a mail certificate: slapd's TLS certificate for
#                localhost and 127.0.0.1 (EKU serverAuth), not in leaves.txt
#
# Domain certificates (DomainCertificates), not in leaves.txt:
#   dom-partner  partner.dk, SAN dNSName partner.dk (for the import file)
#   dom-short    partner.dk, dNSName, ending in 200 days (dom-partner, in a
#                year, wins over it)
#   dom-email    partner.dk, SAN rfc822Name partner.dk (the bare domain)
#   dom-dir      dirpartner.dk, dNSName; in the directory's domain entry
#   dom-expired  expired-partner.dk, ended a year ago; in the directory
#   dom-noeku    noeku-partner.dk, EKU clientAuth only; in the directory
#   dom-wild     SAN dNSName *.partner.dk (names no domain)
#   dom-mailbox  SAN rfc822Name someone@partner.dk (a mailbox, not the domain)
#   dom-revoked  revoked-partner.dk, dNSName; revoked (on crl.pem, not on
#                crl-before.pem)
#   anna         anna@partner.dk, a personal certificate; in the directory
# domains.txt lists "NAME DOMAIN" for the domain entries of the LDIF.
#
# directory.ldif: c=DK, ou=people,c=DK and one inetOrgPerson per address
# under it (cn=NAME), mail = the address, the certificate as
# userCertificate;binary (bundle: userSMIMECertificate), plus
# cn=nocert with mail nocert@example.dk and no certificate. two-a and
# two-b are two entries with the same mail. Under ou=domains,c=DK one
# entry per line of domains.txt (objectClass domain, domainRelatedObject
# and pkiUser: dc, associatedDomain, userCertificate;binary), and
# anna@partner.dk under ou=people.
#
# Prints nothing on success; on failure the openssl transcript goes to
# stderr and the exit status is 1.

set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
mkdir -p "$1"
D=$(cd "$1" && pwd)
case $D in
*[[:space:]]*)
	echo "mkcerts.sh: $D: the LDIF's file:// paths cannot hold white space" >&2
	exit 2
	;;
esac
LOG=$D/mkcerts.log
: >"$LOG"
export LC_ALL=C

die() {
	echo "mkcerts.sh: $*" >&2
	cat "$LOG" >&2
	exit 1
}

run() {
	echo "+ $*" >>"$LOG"
	"$@" >>"$LOG" 2>&1 || die "failed: $*"
}

NOW=$(date -u +%s)
DAY=86400

# when SECONDS-FROM-NOW - an openssl ca date (GeneralizedTime).
when() {
	date -u -d "@$((NOW + $1))" +%Y%m%d%H%M%SZ
}

CA_START=20000101000000Z
CA_END=20991231235959Z

cat >"$D/openssl.cnf" <<'EOF'
# openssl.cnf - for "openssl ca" in mkcerts.sh; the CA directory and the
# leaf's extensions come from the environment.
[ ca ]
default_ca = CA_default

[ CA_default ]
dir = $ENV::CA_DIR
database = $dir/index.txt
new_certs_dir = $dir/newcerts
certificate = $dir/ca.pem
private_key = $dir/ca.key
serial = $dir/serial
crlnumber = $dir/crlnumber
default_md = sha256
default_crl_days = 30
policy = policy_any
unique_subject = no
copy_extensions = none
preserve = yes
email_in_dn = yes
utf8 = yes
string_mask = utf8only

[ policy_any ]
countryName = optional
organizationName = optional
organizationalUnitName = optional
commonName = supplied
emailAddress = optional

[ req ]
distinguished_name = req_dn
string_mask = utf8only
utf8 = yes

[ req_dn ]

[ ext_root ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ ext_inter ]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ ext_leaf ]
basicConstraints = CA:false
keyUsage = $ENV::LEAF_KU
extendedKeyUsage = $ENV::LEAF_EKU
subjectAltName = $ENV::LEAF_SAN
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ ext_leaf_nosan ]
basicConstraints = CA:false
keyUsage = $ENV::LEAF_KU
extendedKeyUsage = $ENV::LEAF_EKU
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
export OPENSSL_CONF=$D/openssl.cnf
# The config file refers to these: they must be set for every command.
export LEAF_KU=x LEAF_EKU=x LEAF_SAN=x CA_DIR=$D

# newkey FILE [rsa BITS | ec]
newkey() {
	case $2 in
	rsa) run openssl genpkey -quiet -algorithm RSA -pkeyopt "rsa_keygen_bits:$3" -out "$1" ;;
	ec) run openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" ;;
	esac
}

# ca_init NAME - the directory "openssl ca" keeps its state in.
ca_init() {
	local dir=$D/ca/$1
	mkdir -p "$dir/newcerts"
	: >"$dir/index.txt"
	openssl rand -hex 8 >"$dir/serial"
	echo 1000 >"$dir/crlnumber"
	newkey "$dir/ca.key" rsa 2048
}

# ca_sign CA EXTSECTION CSR OUT START END - issue a certificate.
ca_sign() {
	local out=$4
	CA_DIR=$D/ca/$1 run openssl ca -batch -notext -config "$OPENSSL_CONF" \
		-extensions "$2" -in "$3" -out "$out.tmp" -startdate "$5" -enddate "$6"
	mv "$out.tmp" "$out"
}

# make_root NAME CN
make_root() {
	local dir=$D/ca/$1
	ca_init "$1"
	run openssl req -new -utf8 -key "$dir/ca.key" -subj "/C=DK/O=Sikkermail Test/CN=$2" \
		-out "$dir/ca.csr"
	CA_DIR=$dir run openssl ca -batch -notext -selfsign -config "$OPENSSL_CONF" \
		-keyfile "$dir/ca.key" -extensions ext_root -in "$dir/ca.csr" \
		-out "$dir/ca.pem" -startdate "$CA_START" -enddate "$CA_END"
}

# make_inter NAME PARENT CN
make_inter() {
	local dir=$D/ca/$1
	ca_init "$1"
	run openssl req -new -utf8 -key "$dir/ca.key" -subj "/C=DK/O=Sikkermail Test/CN=$3" \
		-out "$dir/ca.csr"
	ca_sign "$2" ext_inter "$dir/ca.csr" "$dir/ca.pem" "$CA_START" "$CA_END"
}

# leaf NAME ADDRESS CA START END [VAR=VALUE...] - a leaf certificate.
# Variables: KEY ("rsa 2048", "rsa 1024", "ec"), KU, EKU, SAN (empty: no
# subjectAltName), SUBJECT, LIST (no: not in leaves.txt and the LDIF).
leaf() {
	local name=$1 addr=$2 ca=$3 start=$4 end=$5
	shift 5
	local KEY="rsa 2048" KU="digitalSignature, keyEncipherment" EKU=emailProtection
	local SAN="email:$addr" SUBJECT="/C=DK/O=Example/CN=Test $name" LIST=yes
	local v
	for v in "$@"; do
		local "$v"
	done
	# shellcheck disable=SC2086
	newkey "$D/$name.key" $KEY
	run openssl req -new -utf8 -key "$D/$name.key" -subj "$SUBJECT" -out "$D/$name.csr"
	if [ -n "$SAN" ]; then
		LEAF_KU=$KU LEAF_EKU=$EKU LEAF_SAN=$SAN \
			ca_sign "$ca" ext_leaf "$D/$name.csr" "$D/$name.pem" "$start" "$end"
	else
		LEAF_KU=$KU LEAF_EKU=$EKU \
			ca_sign "$ca" ext_leaf_nosan "$D/$name.csr" "$D/$name.pem" "$start" "$end"
	fi
	run openssl x509 -in "$D/$name.pem" -outform DER -out "$D/$name.der"
	rm -f "$D/$name.csr"
	[ "$LIST" = no ] || echo "$name $addr" >>"$D/leaves.txt"
}

# --------------------------------------------------------------- CAs

rm -rf "$D/ca"
: >"$D/leaves.txt"
make_root root "Test Root CA"
make_root untrusted "Untrusted Root CA"
make_inter inter root "Test Issuing CA"
make_inter inter2 root "Test Other Issuing CA"

cat "$D/ca/root/ca.pem" "$D/ca/inter/ca.pem" >"$D/trust.pem"
cp "$D/ca/root/ca.pem" "$D/trust-root.pem"
cp "$D/ca/inter/ca.pem" "$D/trust-inter.pem"

# ------------------------------------------------------------- leaves

YESTERDAY=$(when -$DAY)
IN_A_YEAR=$(when $((365 * DAY)))

leaf valid valid@example.dk inter "$YESTERDAY" "$IN_A_YEAR" \
	"SUBJECT=/C=DK/O=Example/CN=Søren Ærø Valid"
leaf expired expired@example.dk inter "$(when $((-730 * DAY)))" "$(when $((-365 * DAY)))"
leaf notyet notyet@example.dk inter "$(when $((365 * DAY)))" "$(when $((730 * DAY)))"
leaf wrongaddr wrongaddr@example.dk inter "$YESTERDAY" "$IN_A_YEAR" \
	"SAN=email:someone.else@example.dk"
leaf subjonly subjonly@example.dk inter "$YESTERDAY" "$IN_A_YEAR" SAN= \
	"SUBJECT=/C=DK/O=Example/CN=Test subjonly/emailAddress=subjonly@example.dk"
leaf noeku noeku@example.dk inter "$YESTERDAY" "$IN_A_YEAR" EKU=clientAuth
leaf nokeyenc nokeyenc@example.dk inter "$YESTERDAY" "$IN_A_YEAR" KU=digitalSignature
leaf untrusted untrusted@example.dk untrusted "$YESTERDAY" "$IN_A_YEAR"
leaf missinginter missinginter@example.dk inter2 "$YESTERDAY" "$IN_A_YEAR"
leaf revoked revoked@example.dk inter "$YESTERDAY" "$IN_A_YEAR"
leaf weak weak@example.dk inter "$YESTERDAY" "$IN_A_YEAR" "KEY=rsa 1024"
leaf two-a twocerts@example.dk inter "$YESTERDAY" "$(when $((200 * DAY)))"
leaf two-b twocerts@example.dk inter "$YESTERDAY" "$(when $((400 * DAY)))"
leaf ec ec@example.dk inter "$YESTERDAY" "$IN_A_YEAR" KEY=ec \
	"KU=digitalSignature, keyAgreement"
leaf mixedcase Mixed.Case@example.dk inter "$YESTERDAY" "$IN_A_YEAR" \
	"SAN=email:Mixed.Case@EXAMPLE.DK"
leaf bundle bundle@example.dk inter2 "$YESTERDAY" "$IN_A_YEAR"
leaf star 'star*name@example.dk' inter "$YESTERDAY" "$IN_A_YEAR"

# The private slapd's own certificate (ldaps://127.0.0.1 or localhost).
leaf server - inter "$YESTERDAY" "$IN_A_YEAR" LIST=no EKU=serverAuth \
	"SAN=DNS:localhost, IP:127.0.0.1" "SUBJECT=/C=DK/O=Example/CN=localhost"

# Domain certificates
: >"$D/domains.txt"
domleaf() {
	local name=$1 domain=$2
	shift 2
	leaf "$name" - inter "$@" LIST=no "SUBJECT=/C=DK/O=Partner/CN=$domain"
	echo "$name $domain" >>"$D/domains.txt"
}
leaf dom-partner - inter "$YESTERDAY" "$IN_A_YEAR" LIST=no "SAN=DNS:partner.dk" \
	"SUBJECT=/C=DK/O=Partner/CN=partner.dk"
leaf dom-short - inter "$YESTERDAY" "$(when $((200 * DAY)))" LIST=no "SAN=DNS:partner.dk" \
	"SUBJECT=/C=DK/O=Partner/CN=partner.dk short"
leaf dom-email - inter "$YESTERDAY" "$IN_A_YEAR" LIST=no "SAN=email:partner.dk" \
	"SUBJECT=/C=DK/O=Partner/CN=partner.dk by mail"
leaf dom-wild - inter "$YESTERDAY" "$IN_A_YEAR" LIST=no "SAN=DNS:*.partner.dk"
leaf dom-mailbox - inter "$YESTERDAY" "$IN_A_YEAR" LIST=no "SAN=email:someone@partner.dk"
domleaf dom-dir dirpartner.dk "$YESTERDAY" "$IN_A_YEAR" "SAN=DNS:dirpartner.dk"
domleaf dom-expired expired-partner.dk "$(when $((-730 * DAY)))" "$(when $((-365 * DAY)))" \
	"SAN=DNS:expired-partner.dk"
domleaf dom-noeku noeku-partner.dk "$YESTERDAY" "$IN_A_YEAR" EKU=clientAuth \
	"SAN=DNS:noeku-partner.dk"
leaf dom-revoked - inter "$YESTERDAY" "$IN_A_YEAR" LIST=no "SAN=DNS:revoked-partner.dk" \
	"SUBJECT=/C=DK/O=Partner/CN=revoked-partner.dk"
leaf anna anna@partner.dk inter "$YESTERDAY" "$IN_A_YEAR" LIST=no

run openssl crl2pkcs7 -nocrl -certfile "$D/bundle.pem" -certfile "$D/ca/inter2/ca.pem" \
	-outform DER -out "$D/bundle.p7b"

# --------------------------------------------------------------- CRLs

# inter's CRL before anything was revoked (crl-before.pem)
CA_DIR=$D/ca/inter run openssl ca -batch -config "$OPENSSL_CONF" -gencrl \
	-out "$D/ca/inter/crl-before.pem"
CA_DIR=$D/ca/inter run openssl ca -batch -config "$OPENSSL_CONF" -revoke "$D/revoked.pem" \
	-crl_reason keyCompromise
CA_DIR=$D/ca/inter run openssl ca -batch -config "$OPENSSL_CONF" -revoke "$D/dom-revoked.pem" \
	-crl_reason keyCompromise
for ca in root inter inter2; do
	CA_DIR=$D/ca/$ca run openssl ca -batch -config "$OPENSSL_CONF" -gencrl \
		-out "$D/ca/$ca/crl.pem"
done
cp "$D/ca/inter/crl.pem" "$D/crl-inter.pem"
cat "$D/ca/root/crl.pem" "$D/ca/inter/crl.pem" "$D/ca/inter2/crl.pem" >"$D/crl.pem"
cat "$D/ca/root/crl.pem" "$D/ca/inter/crl-before.pem" "$D/ca/inter2/crl.pem" \
	>"$D/crl-before.pem"

# ---------------------------------------------------------------- LDIF

# entry CN MAIL [ATTRIBUTE FILE]
entry() {
	printf 'dn: cn=%s,ou=people,c=DK\n' "$1"
	printf 'objectClass: inetOrgPerson\ncn: %s\nsn: %s\nmail: %s\n' "$1" "$1" "$2"
	[ $# -lt 4 ] || printf '%s:< file://%s\n' "$3" "$4"
	printf '\n'
}

{
	printf 'dn: c=DK\nobjectClass: country\nc: DK\n\n'
	printf 'dn: ou=people,c=DK\nobjectClass: organizationalUnit\nou: people\n\n'
	while read -r name addr; do
		if [ "$name" = bundle ]; then
			entry "$name" "$addr" "userSMIMECertificate" "$D/bundle.p7b"
		else
			entry "$name" "$addr" "userCertificate;binary" "$D/$name.der"
		fi
	done <"$D/leaves.txt"
	entry nocert nocert@example.dk
	entry anna anna@partner.dk "userCertificate;binary" "$D/anna.der"
	printf 'dn: ou=domains,c=DK\nobjectClass: organizationalUnit\nou: domains\n\n'
	while read -r name domain; do
		printf 'dn: dc=%s,ou=domains,c=DK\n' "${domain%%.*}"
		printf 'objectClass: domain\nobjectClass: domainRelatedObject\n'
		printf 'objectClass: pkiUser\ndc: %s\nassociatedDomain: %s\n' "${domain%%.*}" "$domain"
		printf 'userCertificate;binary:< file://%s\n\n' "$D/$name.der"
	done <"$D/domains.txt"
} >"$D/directory.ldif"

exit 0

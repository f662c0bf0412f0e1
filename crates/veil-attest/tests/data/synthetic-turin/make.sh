#!/bin/sh
# Regenerates the SYNTHETIC Turin/VLEK certificate chains in this directory
# with the openssl CLI (3.x). Nothing here is AMD's: the keys are made up on
# the spot, and the certificates only copy the shape of AMD's (names, RSA-PSS
# SHA-384 with a 48-byte salt, the VCEK/VLEK extensions and their OIDs) so
# that the verifier's Turin and VLEK paths can be tested. See README.md.
#
#   sh make.sh        (run in this directory; overwrites every output)
set -eu
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

dn() { echo "/OU=Engineering/C=US/L=Santa Clara/ST=CA/O=Advanced Micro Devices/CN=$1"; }
pss="-sha384 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:48 -sigopt rsa_mgf1_md:sha384"
days=7300

cat > "$work/ca.ext" <<CFG
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
CFG

# TCB the VCEK and VLEK are certified for: FMC 1, bootloader 2, TEE 3, SNP 4,
# microcode 72 (report bytes, Turin layout: 01 02 03 04 00 00 00 48).
spls() {
  cat <<CFG
1.3.6.1.4.1.3704.1.1 = ASN1:INTEGER:1
1.3.6.1.4.1.3704.1.2 = ASN1:IA5STRING:Turin-B0
1.3.6.1.4.1.3704.1.3.1 = ASN1:INTEGER:2
1.3.6.1.4.1.3704.1.3.2 = ASN1:INTEGER:3
1.3.6.1.4.1.3704.1.3.3 = ASN1:INTEGER:4
1.3.6.1.4.1.3704.1.3.5 = ASN1:INTEGER:0
1.3.6.1.4.1.3704.1.3.6 = ASN1:INTEGER:0
1.3.6.1.4.1.3704.1.3.7 = ASN1:INTEGER:0
1.3.6.1.4.1.3704.1.3.8 = ASN1:INTEGER:72
1.3.6.1.4.1.3704.1.3.9 = ASN1:INTEGER:1
CFG
}
# The VCEK's hwID: the first 8 bytes of the chip ID (raw, as AMD KDS encodes it).
{ spls; echo "1.3.6.1.4.1.3704.1.4 = DER:01:23:45:67:89:AB:CD:EF"; } > "$work/vcek.ext"
# The VLEK names its cloud provider instead.
{ spls; echo "1.3.6.1.4.1.3704.1.5 = ASN1:IA5STRING:synthetic-csp"; } > "$work/vlek.ext"

root() { # name, subject CN
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out "$work/$1.key" 2>/dev/null
  openssl req -new -x509 -key "$work/$1.key" -subj "$(dn "$2")" -days $days $pss \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -outform DER -out "$1.der"
}
issue() { # name, subject CN, key algorithm, issuer name, extensions file
  if [ "$3" = rsa ]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out "$work/$1.key" 2>/dev/null
  else
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$work/$1.key"
  fi
  openssl req -new -key "$work/$1.key" -subj "$(dn "$2")" -out "$work/$1.csr"
  openssl x509 -req -in "$work/$1.csr" -CA "$4.der" -CAform DER -CAkey "$work/$4.key" \
    -set_serial "0x$(openssl rand -hex 8)" -days $days $pss -extfile "$5" \
    -outform DER -out "$1.der"
}

root ark ARK-Turin
issue ask SEV-Turin rsa ark "$work/ca.ext"
issue asvk SEV-VLEK-Turin rsa ark "$work/ca.ext"
issue vcek SEV-VCEK ec ask "$work/vcek.ext"
issue vlek SEV-VLEK ec asvk "$work/vlek.ext"
# Another root with the same name, and an ASVK it signed.
root other_ark ARK-Turin
issue other_asvk SEV-VLEK-Turin rsa other_ark "$work/ca.ext"

# The report-signing keys, so that the tests can sign synthetic reports.
for key in vcek vlek; do
  openssl pkcs8 -topk8 -nocrypt -in "$work/$key.key" -outform DER -out "$key.pk8.der"
done
rm -f other_ark.der.srl

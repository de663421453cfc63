#!/usr/bin/env bash
# Issue 25, case 14: a tls:// client checks the server's name against the certificate's
# subjectAltName only. A certificate with CN=localhost and no subjectAltName used to be accepted
# for tls://localhost (OpenSSL's fallback to the subject CN); it is now refused (exit 1, a
# handshake failure naming the mismatch). The same certificate with subjectAltName DNS:localhost
# is accepted, and so is an address in IP:127.0.0.1 (and a CN=127.0.0.1 alone is not).
set -euo pipefail
command -v openssl >/dev/null || { echo "SKIP: openssl CLI absent"; exit 77; }
. "$SRC/tests/cli/lib/scratch.sh"  # $tmp, $pids killed at exit
. "$SRC/tests/cli/lib/server.sh"
. "$SRC/tests/cli/lib/pki.sh"
cd "$tmp"
make_ca ca
make_cert cn-only ca localhost            # no subjectAltName
make_cert cn-ip ca 127.0.0.1              # no subjectAltName
make_cert with-san ca localhost "DNS:localhost,IP:127.0.0.1"
if openssl x509 -in cn-only.pem -noout -ext subjectAltName 2>/dev/null | grep -q "Subject Alternative Name"; then
  echo "FAIL: cn-only.pem has a subjectAltName"; exit 1
fi

send() {  # CERT HOST: runs a server with CERT, sends 10 lines to tls://HOST:PORT; sets $sent (exit status)
  start_server err "$LOGPIPE" analyze -v --format combined --report json -o r.json \
    --listen tls://127.0.0.1:0 --tls-cert "$1.pem" --tls-key "$1.key"
  sent=0
  "$LOGPIPE" generate -n 10 --format combined -o "tls://$2:$port" --tls-ca ca.pem 2>client.err || sent=$?
  stop_server err
}
requests() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["requests"])' "$1"; }

send cn-only localhost
[ "$sent" = 1 ] || { echo "FAIL: a certificate without subjectAltName was accepted for localhost"; cat client.err; exit 1; }
grep -q "tls://localhost:$port: TLS handshake failed: .*certificate verify failed (hostname mismatch)" client.err ||
  { echo "FAIL: message"; cat client.err; exit 1; }
[ "$(requests r.json)" = 0 ] || { echo "FAIL: lines reached the server"; exit 1; }

send cn-ip 127.0.0.1
[ "$sent" = 1 ] || { echo "FAIL: CN=127.0.0.1 without subjectAltName was accepted"; cat client.err; exit 1; }

for host in localhost 127.0.0.1; do
  send with-san $host
  [ "$sent" = 0 ] && [ "$(requests r.json)" = 10 ] || { echo "FAIL: subjectAltName refused for $host"; cat client.err err; exit 1; }
done
echo ok

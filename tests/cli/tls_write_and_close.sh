#!/usr/bin/env bash
# Issue 25, case 1: TLS clients that write and close without reading (Python's ssl, most one-way
# shippers) lose nothing. A TLS 1.3 server used to send session tickets after the handshake; such
# a client never reads them, so its kernel resets the connection on close and drops what was
# still in its send queue (20 clients x 1,000 lines gave 11,042 records). The server now sends
# no tickets. Checked with and without client certificates; the expected count is what the
# clients sent. The clients all connect before any handshakes: a burst from one address used to
# see 12 of its 20 clients refused (8 handshakes pending per address at most); the rest now wait
# their turn.
set -euo pipefail
command -v openssl >/dev/null || { echo "SKIP: openssl CLI absent"; exit 77; }
command -v ss >/dev/null || { echo "SKIP: ss (iproute2) absent"; exit 77; }
. "$SRC/tests/cli/lib/scratch.sh"  # $tmp, $pids killed at exit
. "$SRC/tests/cli/lib/server.sh"
. "$SRC/tests/cli/lib/pki.sh"
peer="$SRC/tests/cli/hostile.py"
cd "$tmp"
make_test_pki

clients=20 lines=1000
requests() { python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(r["requests"], r["malformed"])' "$1"; }
for mutual in no yes; do
  ca_flag=() cert_flag=()
  [ $mutual = yes ] && ca_flag=(--tls-ca ca.pem) cert_flag=(--cert client.pem client.key)
  start_server err "$LOGPIPE" analyze -v --format combined --report json -o r.json \
    --listen tls://127.0.0.1:0 --tls-cert server.pem --tls-key server.key "${ca_flag[@]}"
  python3 "$peer" tls-write-close "$port" ca.pem $clients $lines "${cert_flag[@]}" ||
    { echo "FAIL (client certificates: $mutual): clients failed"; cat err; exit 1; }
  wait_clients_done
  stop_server err
  got=$(requests r.json)
  [ "$got" = "$((clients * lines)) 0" ] || {
    echo "FAIL (client certificates: $mutual): got '$got', want '$((clients * lines)) 0'"; cat err; exit 1; }
  if grep -q "reset by peer" err; then echo "FAIL: connections were reset"; cat err; exit 1; fi
done
echo ok

#!/usr/bin/env bash
# Issue 25, case 8: 4,096 silent TCP connections no longer lock a TLS listener. They used to take
# every client slot until the 10 s handshake timeout (reconnecting kept it closed to everyone):
# a new client was refused "4096 clients already connected". Pending handshakes are now bounded
# apart from established clients, per address (64) and in all (256, the oldest dropped). The
# flood comes from 127.0.0.2 (with and without client certificates), then from 64 addresses at
# once (16 x 64 = 1,024 connections: 8 handshaking and 8 waiting per address, over the global
# bound, so that both kinds are dropped); a client already connected keeps sending
# through it, and a new client from 127.0.0.1 connects while the flood is held open (the listener
# has accepted it all: its accept queue is empty). Refusals by a limit are logged once per 10 s
# with a count, not once per connection.
set -euo pipefail
command -v openssl >/dev/null || { echo "SKIP: openssl CLI absent"; exit 77; }
command -v ss >/dev/null || { echo "SKIP: ss (iproute2) absent"; exit 77; }
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt 5000 ]; then
  echo "SKIP: 4,096 connections need more descriptors than the hard limit ($hard)"; exit 77
fi
ulimit -n "$hard"
python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.2", 0))' 2>/dev/null ||
  { echo "SKIP: cannot bind 127.0.0.2"; exit 77; }
. "$SRC/tests/cli/lib/scratch.sh"  # $tmp, $pids killed at exit
. "$SRC/tests/cli/lib/server.sh"
. "$SRC/tests/cli/lib/pki.sh"
peer="$SRC/tests/cli/hostile.py"
cd "$tmp"
make_test_pki
requests() { python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(r["requests"], r["malformed"])' "$1"; }
wait_file() { for _ in $(seq 600); do [ -e "$1" ] && return 0; sleep 0.05; done; echo "FAIL: no $1"; exit 1; }

many=$(seq -f "127.0.3.%g" -s, 1 64)
for flood_shape in one-address mutual many-addresses; do
  ca_flag=() cert_flag=() mutual=no from=127.0.0.2 count=4096 refusal="TLS handshakes already pending from 127.0.0.2 ("
  [ $flood_shape = mutual ] && ca_flag=(--tls-ca ca.pem) cert_flag=(--cert client.pem client.key) mutual=yes
  [ $flood_shape = many-addresses ] && from=$many count=1024 refusal="TLS handshakes pending, the oldest dropped ("
  rm -f gate gate.up flood.ready
  start_server err "$LOGPIPE" analyze -v --format combined --report json -o r.json \
    --listen tls://127.0.0.1:0 --tls-cert server.pem --tls-key server.key "${ca_flag[@]}"
  python3 "$peer" tls-hold "$port" ca.pem 10 1 gate "${cert_flag[@]}" & holder=$!
  pids+=("$holder")
  wait_file gate.up
  python3 "$peer" silent "$from" "$port" $count flood.ready & flood=$!
  pids+=("$flood")
  wait_file flood.ready
  for _ in $(seq 600); do  # every connection accepted: the listen queue is empty
    [ "$(ss -ltnH "( sport = :$port )" | awk '{print $2}')" = 0 ] && break
    sleep 0.05
  done
  python3 "$peer" tls-client "$port" ca.pem 5 2 "${cert_flag[@]}" 2>client.err ||
    { echo "FAIL ($flood_shape): a new client could not connect during the flood"; cat client.err err; exit 1; }
  touch gate
  wait "$holder" || { echo "FAIL ($flood_shape): the connected client was cut off"; cat err; exit 1; }
  kill "$flood"
  wait "$flood" 2>/dev/null || true
  wait_clients_done
  stop_server err
  [ "$(requests r.json)" = "15 0" ] || { echo "FAIL ($flood_shape): $(requests r.json), want 15 0"; cat err; exit 1; }
  grep -q "$refusal" err || { echo "FAIL ($flood_shape): no count of refusals"; cat err; exit 1; }
  lines=$(wc -l <err)
  [ "$lines" -lt 50 ] || { echo "FAIL: $lines lines on stderr for one flood"; head err; exit 1; }
done
echo ok

#!/usr/bin/env bash
# tls:// input and output with a throwaway CA made by the openssl CLI; openssl s_client/s_server
# and bash's /dev/tcp are the independent peers.
#   1. a mutual-TLS server keeps serving while a plaintext client, a client without certificate and
#      a client with a certificate from another CA are refused (and logged); 6 good clients at once
#      get every line through intact (never glued to another client's data); a client that
#      disconnects mid-line yields its partial line as a line;
#   2. a client refuses a server whose certificate is from an unknown CA or for another name;
#   3. tls:// as a client input reads what openssl s_server sends.
set -euo pipefail
command -v openssl >/dev/null || { echo "SKIP: openssl CLI absent"; exit 77; }
command -v ss >/dev/null || { echo "SKIP: ss (iproute2) absent"; exit 77; }
bin=$(dirname "$LOGPIPE")
cat=$bin/logpipe-endpoint-cat
. "$SRC/tests/cli/lib/scratch.sh"  # $tmp, $pids killed at exit
cd "$tmp"

# --- throwaway PKI --------------------------------------------------------------------------------
mkcert() {  # NAME CA SUBJECT [SAN]
  openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$3" 2>/dev/null
  if [ -n "${4:-}" ]; then printf 'subjectAltName=%s\n' "$4" >"$1.ext"; else : >"$1.ext"; fi
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -out "$1.pem" \
    -days 1 -extfile "$1.ext" 2>/dev/null
}
for ca in ca rogue; do
  openssl req -x509 -newkey rsa:2048 -nodes -keyout $ca.key -out $ca.pem -days 1 \
    -subj "/CN=logpipe test $ca" 2>/dev/null
done
mkcert server ca localhost "DNS:localhost,IP:127.0.0.1"
mkcert client ca client
mkcert intruder rogue client
mkcert othername ca other.example "DNS:other.example"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_listening() {
  for _ in $(seq 100); do
    ss -ltnH "sport = :$1" | grep >/dev/null . && return 0
    sleep 0.1
  done
  echo "FAIL: nothing listens on port $1"
  exit 1
}

# --- 1. mutual TLS server --------------------------------------------------------------------------
port=$(free_port)
"$cat" --listen --tls-cert server.pem --tls-key server.key --tls-ca ca.pem --idle-exit 3s \
  "tls://127.0.0.1:$port" server.out 2>server.err &
server=$!
pids+=("$server")
wait_listening "$port"

echo "plaintext line" | timeout 5 bash -c "cat >/dev/tcp/127.0.0.1/$port" || true
echo "no certificate line" | timeout 5 openssl s_client -connect "127.0.0.1:$port" -CAfile ca.pem \
  -quiet -no_ign_eof >/dev/null 2>&1 || true
echo "rogue certificate line" | timeout 5 openssl s_client -connect "127.0.0.1:$port" -CAfile ca.pem \
  -cert intruder.pem -key intruder.key -quiet -no_ign_eof >/dev/null 2>&1 || true

: >expected
clients=()
for k in 1 2 3 4 5 6; do
  awk -v k=$k 'BEGIN { for (i = 1; i <= 3000; i++) printf "client %d line %d %s\n", k, i, substr("abcdefghijklmnopqrstuvwxyz", 1 + i % 26) }' >in.$k
  cat in.$k >>expected
  "$cat" -q --tls-cert client.pem --tls-key client.key --tls-ca ca.pem --commit-every 7 \
    in.$k "tls://localhost:$port" 2>client.$k.err &
  clients+=($!)
done
printf 'half a line' | timeout 5 openssl s_client -connect "127.0.0.1:$port" -CAfile ca.pem \
  -cert client.pem -key client.key -quiet -no_ign_eof >/dev/null 2>&1
echo "half a line" >>expected
for k in 1 2 3 4 5 6; do
  wait "${clients[$((k - 1))]}" || { echo "FAIL: good client $k failed"; cat client.$k.err; exit 1; }
done
wait "$server" || { echo "FAIL: server exited with an error"; cat server.err; exit 1; }

sort expected >want.sorted
sort server.out >got.sorted
cmp -s want.sorted got.sorted || {
  echo "FAIL: server received $(wc -l <server.out) lines, want $(wc -l <expected)"
  diff want.sorted got.sorted | head
  exit 1
}
# Per client, the lines arrive in order.
for k in 1 2 3 4 5 6; do
  grep "^client $k " server.out | cmp -s - in.$k || { echo "FAIL: client $k out of order"; exit 1; }
done
refused=$(grep -c 'refused client 127.0.0.1:' server.err || true)
[ "$refused" -eq 3 ] || { echo "FAIL: $refused refusals logged, want 3"; cat server.err; exit 1; }
grep -q 'refused client .*wrong version number' server.err || { echo "FAIL: plaintext refusal"; cat server.err; exit 1; }
grep -q 'refused client .*peer did not return a certificate' server.err || { echo "FAIL: no-cert refusal"; cat server.err; exit 1; }
echo "ok: mutual TLS; 3 bad clients refused and logged; 6 good clients intact; partial line kept"

# --- 2. the client verifies the server ---------------------------------------------------------------
port=$(free_port)
"$cat" -q --listen --tls-cert othername.pem --tls-key othername.key --idle-exit 4s \
  "tls://127.0.0.1:$port" wrong.out 2>wrong.err &
pids+=($!)
wait_listening "$port"
expect_refusal() {  # WHAT PATTERN ARGS...
  local what=$1 pattern=$2
  shift 2
  set +e
  echo "secret" | "$cat" -q "$@" - "tls://localhost:$port" 2>refusal.err
  local rc=$?
  set -e
  [ $rc -eq 1 ] || { echo "FAIL: $what: exit $rc, want 1"; cat refusal.err; exit 1; }
  grep -q "$pattern" refusal.err || { echo "FAIL: $what: message"; cat refusal.err; exit 1; }
}
expect_refusal "server certificate for another name" 'certificate verify failed (hostname mismatch)' \
  --tls-ca ca.pem
expect_refusal "server certificate from an unknown CA" 'certificate verify failed (unable to get local issuer' \
  --tls-ca rogue.pem
expect_refusal "no CA given: system store" 'certificate verify failed (unable to get local issuer'
wait "${pids[-1]}" || true
[ ! -s wrong.out ] || { echo "FAIL: data reached a server the client should not trust"; exit 1; }
echo "ok: unknown CA and wrong host name refused by the client"

# --- 3. tls:// client input --------------------------------------------------------------------------
port=$(free_port)
(printf 's1\ns2\n'; sleep 1) | timeout 5 openssl s_server -quiet -naccept 1 -cert server.pem \
  -key server.key -accept "127.0.0.1:$port" >/dev/null 2>&1 &
pids+=($!)
wait_listening "$port"
"$cat" -q --tls-ca ca.pem "tls://localhost:$port" client_in.out
printf 's1\ns2\n' | cmp -s - client_in.out || { echo "FAIL: client input"; cat -A client_in.out; exit 1; }
echo "ok: tls:// client input"

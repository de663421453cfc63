#!/usr/bin/env bash
# Issue 24, case 1: a delivery that cannot succeed ends the command with exit 1 and a message
# naming the endpoint; one that may heal is retried for --retry-for, then fails the same way.
#  1. tls:// output refused by the server (TLS 1.3 checks the client's certificate after the
#     client's handshake is over): `generate -o tls://` without a certificate, or with one from
#     another CA, used to exit 0 with 0 records received (58 "connection lost; reconnecting" for
#     200,000 lines). Now exit 1, "the server refused this client", and the server got nothing;
#     with the right certificate everything arrives (the control).
#  2. tcp:// output to a server that is down: exit 1 after --retry-for ("no connection for 2 s"),
#     not after the 30 s close deadline; a server that comes up within --retry-for gets every line.
#  3. Alertmanager refusing the login (HTTP 401): stream ends, exit 1, naming the endpoint and the
#     answer (it used to drop the batch and go on). A refused certificate: alertmanager_tls.sh.
#  4. kafka:// to a topic the cluster refuses (the mock answers its metadata with
#     TOPIC_AUTHORIZATION_FAILED): exit 1 after --retry-for (it waited librdkafka's 5 minutes and
#     printed hundreds of identical librdkafka lines; they are now rate-limited), and a SIGTERM
#     gives up within 5 s more.
set -euo pipefail
command -v openssl >/dev/null || { echo "SKIP: openssl CLI absent"; exit 77; }
command -v ss >/dev/null || { echo "SKIP: ss (iproute2) absent"; exit 77; }
. "$SRC/tests/cli/lib/scratch.sh"  # $tmp, $pids killed at exit
. "$SRC/tests/cli/lib/server.sh"
. "$SRC/tests/cli/lib/pki.sh"
cd "$tmp"
make_test_pki
make_ca other
make_cert stranger other stranger
requests() { python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(r["requests"])' "$1"; }
expect_fail() {  # ERRFILE PATTERN COMMAND...: exit 1 and PATTERN on stderr
  local err=$1 pattern=$2 rc=0
  shift 2
  "$@" 2>"$err" || rc=$?
  [ "$rc" = 1 ] || { echo "FAIL: exit $rc, want 1: $*"; cat "$err"; exit 1; }
  grep -q -- "$pattern" "$err" || { echo "FAIL: no '$pattern' on stderr: $*"; cat "$err"; exit 1; }
}

# --- 1. tls:// refused by the server -------------------------------------------------------------
start_server srv.err "$LOGPIPE" analyze -v --format combined --report json -o r.json \
  --listen tls://127.0.0.1:0 --tls-cert server.pem --tls-key server.key --tls-ca ca.pem
out="tls://127.0.0.1:$port"
for count in 5 200000; do
  expect_fail gen.err "^logpipe: $out: the server refused this client: tlsv13 alert certificate required" \
    "$LOGPIPE" generate --format combined --count $count --seed 1 -o "$out" --tls-ca ca.pem
  [ "$(wc -l <gen.err)" = 1 ] || { echo "FAIL: the refusal should be said once"; cat gen.err; exit 1; }
  expect_fail gen.err "^logpipe: $out: the server refused this client: " \
    "$LOGPIPE" generate --format combined --count $count --seed 1 -o "$out" --tls-ca ca.pem \
    --tls-cert stranger.pem --tls-key stranger.key
done
"$LOGPIPE" generate --format combined --count 1000 --seed 1 -o "$out" --tls-ca ca.pem \
  --tls-cert client.pem --tls-key client.key
wait_clients_done
stop_server srv.err
[ "$(requests r.json)" = 1000 ] || { echo "FAIL: the server got $(requests r.json) records, want 1000 (the control only)"; exit 1; }
echo "ok: refused tls:// clients exit 1; the server got only the control's 1000 lines"

# --- 2. tcp:// to a server that is down ----------------------------------------------------------
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
down=$(free_port)
start=$(date +%s)
expect_fail gen.err "^logpipe: tcp://127.0.0.1:$down: no connection for 2 s: 1111 bytes not delivered (Connection refused)" \
  "$LOGPIPE" generate --format combined --count 5 --seed 1 -o "tcp://127.0.0.1:$down" --retry-for 2s
[ $(($(date +%s) - start)) -lt 20 ] || { echo "FAIL: --retry-for 2s took $(($(date +%s) - start)) s"; exit 1; }
late=$(free_port)
"$LOGPIPE" generate --format combined --count 3000 --seed 1 -o "tcp://127.0.0.1:$late" --retry-for 30s 2>gen.err &
gen=$!
pids+=("$gen")
sleep 1
start_server srv.err "$LOGPIPE" analyze -v --format combined --report json -o r2.json --listen "tcp://127.0.0.1:$late"
wait "$gen" || { echo "FAIL: generate failed although the server came up within --retry-for"; cat gen.err; exit 1; }
wait_clients_done
stop_server srv.err
[ "$(requests r2.json)" = 3000 ] || { echo "FAIL: $(requests r2.json) of 3000 lines arrived"; cat gen.err; exit 1; }
echo "ok: tcp:// gives up after --retry-for; a server up in time gets all 3000 lines"

# --- 3. Alertmanager refusing the login ------------------------------------------------------------
cat >am401.py <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(401)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"Unauthorized")
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
PY
python3 am401.py am.port &
pids+=($!)
for _ in $(seq 100); do [ -s am.port ] && break; sleep 0.05; done
am="alertmanager://127.0.0.1:$(cat am.port)"
python3 "$SRC/tests/cli/stream_traffic.py" full.log
expect_fail stream.err "^logpipe: $am: Alertmanager refused the alerts (HTTP 401): Unauthorized" \
  "$LOGPIPE" stream --config "$SRC/tests/data/stream_thresholds.toml" --alerts "$am" full.log
echo "ok: a refused login ends stream with exit 1"

# --- 4. kafka:// to a topic the cluster refuses ---------------------------------------------------
if [ -x "$(dirname "$LOGPIPE")/logpipe-kafka-mock" ]; then
  . "$SRC/tests/cli/lib/kafka_mock.sh"
  kafka_mock_start secret:1
  echo "topic-error secret 29" >&3
  for _ in $(seq 50); do grep -qx 'ok topic-error secret 29' "$tmp/mock.out" && break; sleep 0.1; done
  start=$(date +%s)
  expect_fail kafka.err "^logpipe: kafka://$bs/secret: 5 messages could not be delivered: Local: Message timed out" \
    "$LOGPIPE" generate --format combined --count 5 --seed 1 -o "kafka://$bs/secret" --retry-for 3s
  [ $(($(date +%s) - start)) -lt 30 ] || { echo "FAIL: --retry-for 3s took $(($(date +%s) - start)) s"; exit 1; }
  [ "$(wc -l <kafka.err)" -lt 10 ] || { echo "FAIL: $(wc -l <kafka.err) lines on stderr"; head kafka.err; exit 1; }
  "$LOGPIPE" generate --format combined --count 5 --seed 1 -o "kafka://$bs/secret" 2>term.err 3>&- &
  gen=$!
  sleep 1
  start=$(date +%s)
  kill -TERM $gen
  rc=0; wait $gen || rc=$?
  [ "$rc" = 1 ] && grep -q "^logpipe: kafka://$bs/secret: interrupted: 5 messages not delivered" term.err ||
    { echo "FAIL: SIGTERM while Kafka refuses: exit $rc"; cat term.err; exit 1; }
  [ $(($(date +%s) - start)) -lt 15 ] || { echo "FAIL: SIGTERM took $(($(date +%s) - start)) s"; exit 1; }
  echo "ok: kafka:// gives up after --retry-for, and 5 s after SIGTERM"
else
  echo "SKIP (kafka): logpipe-kafka-mock not built"
fi

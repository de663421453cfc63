#!/usr/bin/env bash
# stream --alerts alertmanager+tls:// against Debian's real Alertmanager serving HTTPS
# (--web.config.file with a throwaway CA):
#  1. with --tls-ca naming that CA, the alerts of a known incident arrive (Alertmanager's own
#     counters are the oracle), addressed by name (localhost: SNI and name check) or by IP;
#  2. with another CA the certificate check fails: nothing is delivered, and stream ends with
#     exit 1 saying why (a refused certificate does not heal: it used to retry for ever).
set -euo pipefail
am_bin=$(command -v prometheus-alertmanager || command -v alertmanager || true)
[ -n "$am_bin" ] || { echo "SKIP: prometheus-alertmanager absent (scripts/deps.sh installs it)"; exit 77; }
command -v openssl >/dev/null || { echo "SKIP: openssl CLI absent"; exit 77; }
tmp=$(mktemp -d)
am_pid=
stream_pid=
cleanup() {
  [ -n "$stream_pid" ] && kill -9 "$stream_pid" 2>/dev/null
  [ -n "$am_pid" ] && kill "$am_pid" 2>/dev/null && wait "$am_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 1 -subj "/CN=logpipe test ca" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem -days 1 -subj "/CN=other ca" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 1 \
  -extfile server.ext 2>/dev/null
cat >am.yml <<'YAML'
route:
  receiver: none
receivers:
  - name: none
YAML
cat >web.yml <<YAML
tls_server_config:
  cert_file: $tmp/server.pem
  key_file: $tmp/server.key
YAML
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$am_bin" --config.file=am.yml --web.config.file=web.yml --storage.path=am-data \
  --web.listen-address="127.0.0.1:$port" --cluster.listen-address= >am.log 2>&1 &
am_pid=$!
for _ in $(seq 200); do
  curl -sf --cacert ca.pem "https://127.0.0.1:$port/-/ready" >/dev/null && break
  kill -0 "$am_pid" 2>/dev/null || { echo "alertmanager did not start:"; cat am.log; exit 1; }
  sleep 0.1
done
received() {  # firing|resolved: alerts Alertmanager accepted through API v2
  curl -sf --cacert ca.pem "https://127.0.0.1:$port/metrics" |
    awk -v s="$1" '$1 == "alertmanager_alerts_received_total{status=\"" s "\",version=\"v2\"}" { print $2 }'
}

# Ten minutes of traffic (tests/cli/stream_traffic.py) cut at 08:07: /checkout fires and
# resolves, 6.6.6.6 fires (alertmanager_endpoint.sh checks the labels; here: the transport).
python3 "$SRC/tests/cli/stream_traffic.py" full.log
awk '$4 < "[23/Jun/2025:08:07:00"' full.log >cut.log
conf="$SRC/tests/data/stream_thresholds.toml"

# --- 1. the right CA, by name then by address ----------------------------------------------------
"$LOGPIPE" stream --config "$conf" --alerts "alertmanager+tls://localhost:$port" --tls-ca ca.pem \
  <cut.log 2>err1
[ ! -s err1 ] || { echo "unexpected stderr:"; cat err1; exit 1; }
[ "$(received firing)" = 2 ] && [ "$(received resolved)" = 1 ] ||
  { echo "received firing=$(received firing) resolved=$(received resolved), want 2 and 1"; cat am.log; exit 1; }
"$LOGPIPE" stream --config "$conf" --alerts "alertmanager+tls://127.0.0.1:$port" --tls-ca ca.pem \
  <cut.log 2>err2
[ ! -s err2 ] || { echo "unexpected stderr:"; cat err2; exit 1; }
[ "$(received firing)" = 4 ] && [ "$(received resolved)" = 2 ] ||
  { echo "by address: firing=$(received firing) resolved=$(received resolved), want 4 and 2"; exit 1; }
curl -sf --cacert ca.pem "https://127.0.0.1:$port/api/v2/alerts" |
  python3 -c 'import json, sys; a = json.load(sys.stdin); assert [x["labels"]["key"] for x in a] == ["6.6.6.6"], a'

# --- 2. a CA that did not sign the server's certificate -------------------------------------------
# A certificate refused will not heal: stream ends, exit 1, naming the endpoint and the check.
set +e
"$LOGPIPE" stream --config "$conf" --alerts "alertmanager+tls://localhost:$port" --tls-ca other.pem \
  <cut.log 2>err3
rc=$?
set -e
[ "$rc" = 1 ] || { echo "refused certificate: exit $rc, want 1"; cat err3; exit 1; }
grep -q "^logpipe: alertmanager+tls://localhost:$port: TLS handshake: certificate verify failed (unable to get local issuer certificate) (.* not delivered)" err3 ||
  { echo "expected a certificate failure:"; cat err3; exit 1; }
[ "$(received firing)" = 4 ] || { echo "an alert got through an unverified connection"; exit 1; }

# --- usage: a CA file that is not PEM is a setup error naming the endpoint -------------------------
echo "not a certificate" >bad.pem
set +e
"$LOGPIPE" stream --alerts "alertmanager+tls://localhost:$port" --tls-ca bad.pem </dev/null 2>err4
rc=$?
set -e
[ "$rc" = 2 ] && grep -q "^logpipe: stream: alertmanager+tls://localhost:$port: --tls-ca 'bad.pem': " err4 ||
  { echo "bad --tls-ca: exit $rc"; cat err4; exit 1; }
echo ok

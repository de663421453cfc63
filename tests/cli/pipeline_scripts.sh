#!/usr/bin/env bash
# scripts/pipeline-up brings up the local pipeline (mock Kafka, paced generate, stream with
# nothing but its settings file, and Prometheus/Alertmanager when installed); the injected error
# burst reaches the `alerts` topic (read with kcat, not with logpipe) and, when Alertmanager runs,
# Alertmanager; scripts/pipeline-down then leaves no process behind.
set -euo pipefail
command -v kcat >/dev/null || { echo "SKIP: kcat absent"; exit 77; }
bin=$(dirname "$LOGPIPE")
[ -x "$bin/logpipe-kafka-mock" ] || { echo "SKIP: logpipe-kafka-mock not built"; exit 77; }
tmp=$(mktemp -d)
run="$tmp/run"
cleanup() {
  "$SRC/scripts/pipeline-down" --run-dir "$run" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
# Every request to /api/v1/payment fails from the start: with 10 s windows the first alert
# comes with the first closed window.
cat >"$tmp/profile.toml" <<'TOML'
[traffic]
format = "combined"
error_rate = 0.01
[[incident]]
kind = "error_burst"
url = "/api/v1/payment"
error_rate = 1.0
share = 0.3
start = "0s"
duration = "1h"
TOML
LOGPIPE="$LOGPIPE" "$SRC/scripts/pipeline-up" --run-dir "$run" --rate 40 --window 10s \
  --profile "$tmp/profile.toml" 2>"$tmp/up.err" || { cat "$tmp/up.err"; exit 1; }
. "$run/env"
pids=$(cat "$run"/*.pid)
for name in kafka-mock stream generate; do [ -s "$run/$name.pid" ]; done
grep -q '^\[input\]' "$run/stream.toml"   # stream runs from its settings file

# Wait (generously: a loaded machine) for the payment API's alert on the alerts topic.
found=
for _ in $(seq 120); do
  kcat -C -b "$KAFKA_BOOTSTRAP" -t alerts -e -q >"$tmp/alerts.jsonl" 2>/dev/null || true
  if grep -q '"state":"firing","metric":"url_error_rate","key":"/api/v1/payment"' "$tmp/alerts.jsonl"; then
    found=1
    break
  fi
  sleep 1
done
[ -n "$found" ] || { echo "no alert on the alerts topic"; tail -n 20 "$run"/*.log; exit 1; }
python3 - "$tmp/alerts.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    a = json.loads(line)
    assert a["state"] in ("firing", "resolved"), a
    if a["key"] == "/api/v1/payment" and a["state"] == "firing":
        assert a["requests"] >= 20 and a["errors"] == a["requests"], a
PY
# Prometheus scrapes stream and, through its rule, Alertmanager receives the alert.
if [ -n "$ALERTMANAGER_URL" ] && [ -n "$PROMETHEUS_URL" ]; then
  found=
  for _ in $(seq 120); do
    if python3 - "$ALERTMANAGER_URL" <<'PY'
import json, sys, urllib.request
alerts = json.load(urllib.request.urlopen(sys.argv[1] + "/api/v2/alerts"))
sys.exit(0 if any(a["labels"].get("key") == "/api/v1/payment" for a in alerts) else 1)
PY
    then found=1; break; fi
    sleep 1
  done
  [ -n "$found" ] || { echo "no alert in Alertmanager"; tail -n 20 "$run"/*.log; exit 1; }
fi

"$SRC/scripts/pipeline-down" --run-dir "$run" 2>"$tmp/down.err" || { cat "$tmp/down.err"; exit 1; }
# Nothing is left: every recorded PID is gone (or a zombie waiting for its parent), and the
# pid files are removed.
for pid in $pids; do
  if [ -r "/proc/$pid/stat" ] && [ "$(sed 's/.*) //' "/proc/$pid/stat" | cut -d' ' -f1)" != Z ]; then
    echo "pid $pid still running: $(tr '\0' ' ' <"/proc/$pid/cmdline")"
    exit 1
  fi
done
! ls "$run"/*.pid 2>/dev/null
# stream ended cleanly on SIGTERM (no error in its log).
! grep -i "error" "$run/stream.log" || { cat "$run/stream.log"; exit 1; }
echo ok

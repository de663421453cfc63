#!/usr/bin/env bash
# The real Prometheus (Debian's prometheus) scrapes `stream --metrics-listen` every second; its
# query API must return the values stream itself reports: the line count of the run, the
# error ratio of the last closed window, the firing DDoS episode (logpipe_alerts_firing per
# metric) and its source among the top keys (--metrics-top-keys). It also loads the shipped
# packaging/prometheus/rules.yml: the recording rules evaluate over the served names and the
# traffic alert rule fires.
# Prometheus is started here on loopback with a temporary storage directory.
set -euo pipefail
prom_bin=$(command -v prometheus || true)
[ -n "$prom_bin" ] || { echo "SKIP: prometheus absent (scripts/deps.sh installs it)"; exit 77; }
tmp=$(mktemp -d)
prom_pid=
stream_pid=
cleanup() {
  [ -n "$stream_pid" ] && kill "$stream_pid" 2>/dev/null && wait "$stream_pid" 2>/dev/null
  [ -n "$prom_pid" ] && kill "$prom_pid" 2>/dev/null && wait "$prom_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Ten minutes of traffic with a DDoS from 6.6.6.6 in minute 6 (tests/cli/stream_traffic.py), cut
# at 08:07:00 so that the DDoS episode is firing when the input goes quiet. stream reads it from a
# pipe that stays open, so it keeps serving its metrics until we stop it.
python3 "$SRC/tests/cli/stream_traffic.py" "$tmp/full.log"
awk '$4 < "[23/Jun/2025:08:07:00"' "$tmp/full.log" >"$tmp/cut.log"
lines=$(wc -l <"$tmp/cut.log")
mport=$(free_port)
mkfifo "$tmp/in"
"$LOGPIPE" stream --config "$SRC/tests/data/stream_thresholds.toml" --metrics-listen "127.0.0.1:$mport" \
  --lateness 1s --metrics-top-keys 3 --alerts "$tmp/alerts.jsonl" <"$tmp/in" 2>"$tmp/stream.err" &
stream_pid=$!
exec 3>"$tmp/in"
cat "$tmp/cut.log" >&3
# stream's own view: wait until every line is counted and the quiet-input clock closed the last
# window (the DDoS fires then).
for _ in $(seq 300); do
  curl -sf "http://127.0.0.1:$mport/metrics" >"$tmp/own" || true
  grep -q "^logpipe_lines_total $lines\$" "$tmp/own" && grep -q '^logpipe_alerts_firing{metric="ip_request_rate"} 1$' "$tmp/own" && break
  sleep 0.1
done
grep -q "^logpipe_lines_total $lines\$" "$tmp/own" || { cat "$tmp/own" "$tmp/stream.err"; exit 1; }
own_error_rate=$(awk '$1 == "logpipe_window_error_ratio" { print $2 }' "$tmp/own")
[ -n "$own_error_rate" ] || { cat "$tmp/own"; exit 1; }

pport=$(free_port)
cat >"$tmp/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $SRC/packaging/prometheus/rules.yml
scrape_configs:
  - job_name: logpipe
    static_configs:
      - targets: ["127.0.0.1:$mport"]
YAML
"$prom_bin" --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/data" \
  --web.listen-address="127.0.0.1:$pport" >"$tmp/prom.log" 2>&1 3>&- &
prom_pid=$!
query() {  # query EXPR: the value of the single series the instant query returns, or nothing
  curl -sf --get "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$1" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if len(r)==1 else "")'
}
got=
for _ in $(seq 300); do
  got=$(query logpipe_lines_total 2>/dev/null || true)
  [ -n "$got" ] && break
  kill -0 "$prom_pid" 2>/dev/null || { cat "$tmp/prom.log"; exit 1; }
  sleep 0.2
done
[ "$got" = "$lines" ] || { echo "prometheus logpipe_lines_total='$got', stream read $lines lines"; exit 1; }
# The value comes back through Prometheus' float64 formatting: compare as numbers.
got=$(query 'logpipe_window_error_ratio')
python3 -c 'import sys; assert float(sys.argv[1]) == float(sys.argv[2]), sys.argv' "$got" "$own_error_rate"
got=$(query 'logpipe_alerts_firing{metric="ip_request_rate"}')
[ "$got" = 1 ] || { echo "firing episode not seen by prometheus: '$got'"; exit 1; }
got=$(query 'topk(1, logpipe_window_ip_requests_per_second)')
[ "$got" = 10 ] || { echo "top key 6.6.6.6 at 10 req/s not seen by prometheus: '$got'"; exit 1; }
# The shipped rules: a recording rule over the served names, and the traffic alert firing.
for _ in $(seq 100); do
  got=$(query 'logpipe:alerts_firing:sum')
  [ "$got" = 1 ] && break
  sleep 0.2
done
[ "$got" = 1 ] || { echo "recording rule logpipe:alerts_firing:sum='$got'"; exit 1; }
for _ in $(seq 100); do
  got=$(query 'ALERTS{alertname="LogpipeTrafficAlertFiring",alertstate="firing",metric="ip_request_rate"}')
  [ "$got" = 1 ] && break
  sleep 0.2
done
[ "$got" = 1 ] || { echo "rule LogpipeTrafficAlertFiring not firing: '$got'"; exit 1; }
got=$(query 'up{job="logpipe"}')
[ "$got" = 1 ] || { echo "up='$got'"; exit 1; }
exec 3>&-
wait "$stream_pid"
stream_pid=
echo ok

#!/usr/bin/env bash
# What an alert carries to the real Alertmanager (Debian's prometheus-alertmanager) besides the
# labels alertmanager_endpoint.sh checks (issue 24, item 4):
#  1. a severity label per metric: the default of the metric table (warning for ip_request_rate,
#     critical for error_rate), --alert-severity METRIC=LEVEL, or the settings file's
#     [alerts.severity] (the flag wins);
#  2. a summary and a description with rounded numbers in the metric's unit ("10 req/s",
#     "12.3%"; for a statistical rule its baseline and evidence too), never a raw float, while
#     the raw value/threshold/requests/errors/window/baseline/score/limit and the incident label
#     stay;
#  3. generatorURL: --alert-generator-url (a template: {metric}, {key}, {incident}), else the
#     --metrics-listen page, else none; runbook_url only with --alert-runbook-url.
# The oracle is Alertmanager's API (/api/v2/alerts lists the active alerts as it stored them).
set -euo pipefail
am_bin=$(command -v prometheus-alertmanager || command -v alertmanager || true)
[ -n "$am_bin" ] || { echo "SKIP: prometheus-alertmanager absent (scripts/deps.sh installs it)"; exit 77; }
. "$SRC/tests/cli/lib/scratch.sh"
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
cat >"$tmp/am.yml" <<'YAML'
route:
  receiver: none
receivers:
  - name: none
YAML
am_pid=
start_am() {  # start_am PORT: a fresh Alertmanager (new storage, no cluster port), waits until ready
  rm -rf "$tmp/am-data"
  "$am_bin" --config.file="$tmp/am.yml" --storage.path="$tmp/am-data" \
    --web.listen-address="127.0.0.1:$1" --cluster.listen-address= >"$tmp/am.log" 2>&1 &
  am_pid=$!
  pids+=("$am_pid")
  for _ in $(seq 200); do
    curl -sf "http://127.0.0.1:$1/-/ready" >/dev/null && return 0
    kill -0 "$am_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "alertmanager did not start:"; cat "$tmp/am.log"; exit 1
}
stop_am() { kill "$am_pid"; wait "$am_pid" 2>/dev/null || true; am_pid=; }

# Ten minutes of traffic cut at 08:07:00: the DDoS from 6.6.6.6 (ip_request_rate, 10 req/s over
# a threshold of 5) is still firing at the end, so Alertmanager lists it as active.
python3 "$SRC/tests/cli/stream_traffic.py" "$tmp/full.log"
awk '$4 < "[23/Jun/2025:08:07:00"' "$tmp/full.log" >"$tmp/cut.log"
conf="$SRC/tests/data/stream_thresholds.toml"
check() {  # check PORT PYTHON: runs PYTHON with `alerts` = the active alerts, keyed by alertname
  curl -sf "http://127.0.0.1:$1/api/v2/alerts" >"$tmp/active.json"
  python3 - "$tmp/active.json" <<PY || { cat "$tmp/active.json"; exit 1; }
import json, sys
alerts = {a["labels"]["alertname"]: a for a in json.load(open(sys.argv[1]))}
$2
PY
}

# --- 1. defaults: severity from the metric table, no generatorURL, no runbook_url ----------------
port=$(free_port)
start_am "$port"
"$LOGPIPE" stream --config "$conf" --alerts "alertmanager://127.0.0.1:$port" <"$tmp/cut.log" 2>"$tmp/err1" ||
  { cat "$tmp/err1"; exit 1; }
check "$port" '
a = alerts["ip_request_rate"]
assert a["labels"]["severity"] == "warning", a["labels"]
assert a["labels"]["incident"] == "2025-06-23T08:06:00Z/ip_request_rate", a["labels"]
assert a["labels"]["key"] == "6.6.6.6", a["labels"]
ann = a["annotations"]
assert ann["summary"] == "ip_request_rate of 6.6.6.6 is 10 req/s, above 5 req/s", ann
assert ann["description"] == ("ip_request_rate (requests per second, per client ip) of 6.6.6.6 was 10 req/s in "
    "the window 2025-06-23T08:06:00Z to 2025-06-23T08:07:00Z, above the threshold of 5 req/s: 600 requests, "
    "0 errors. Incident 2025-06-23T08:06:00Z/ip_request_rate."), ann["description"]
assert (ann["value"], ann["threshold"], ann["requests"], ann["errors"]) == ("10", "5", "600", "0"), ann
assert "runbook_url" not in ann, ann
assert a.get("generatorURL", "") == "", a
'
stop_am
# A site-wide metric: critical, and its ratio as a short percentage (--threshold error_rate=0.005:
# the error ratio of this traffic, about 1 to 2%, fires).
port=$(free_port)
start_am "$port"
"$LOGPIPE" stream --config "$conf" --threshold error_rate=0.005 --alerts "alertmanager://127.0.0.1:$port" \
  <"$tmp/cut.log" 2>"$tmp/err1b" || { cat "$tmp/err1b"; exit 1; }
check "$port" '
import re
e = alerts["error_rate"]
assert e["labels"]["severity"] == "critical", e["labels"]
assert "key" not in e["labels"], e["labels"]
summary = e["annotations"]["summary"]
# a percentage with at most 3 significant digits, not the 17 digits of the raw ratio
assert re.fullmatch(r"error_rate is \d+(\.\d+)?%, above 0\.5%", summary) and len(summary) < 40, summary
assert len(e["annotations"]["value"]) > 6, e["annotations"]  # the raw value is still there for tools
'
stop_am

# --- 2. flags: --alert-severity, --alert-generator-url and --alert-runbook-url templates ---------
port=$(free_port)
start_am "$port"
"$LOGPIPE" stream --config "$conf" --alerts "alertmanager://127.0.0.1:$port" --alert-severity ip_request_rate=page \
  --alert-generator-url 'https://grafana.example/d/logpipe?var-metric={metric}&var-key={key}' \
  --alert-runbook-url 'https://wiki.example/runbooks/{metric}#{incident}' <"$tmp/cut.log" 2>"$tmp/err2" ||
  { cat "$tmp/err2"; exit 1; }
check "$port" '
a = alerts["ip_request_rate"]
assert a["labels"]["severity"] == "page", a["labels"]
assert a["generatorURL"] == "https://grafana.example/d/logpipe?var-metric=ip_request_rate&var-key=6.6.6.6", a
assert a["annotations"]["runbook_url"] == \
    "https://wiki.example/runbooks/ip_request_rate#2025-06-23T08%3A06%3A00Z%2Fip_request_rate", a["annotations"]
'
stop_am

# --- 3. the settings file: [alerts.severity]; generatorURL defaults to the --metrics-listen page --
cp "$conf" "$tmp/conf.toml"
cat >>"$tmp/conf.toml" <<'TOML'

[alerts.severity]
ip_request_rate = "info"
TOML
port=$(free_port)
start_am "$port"
"$LOGPIPE" stream --config "$tmp/conf.toml" --alerts "alertmanager://127.0.0.1:$port" --metrics-listen 127.0.0.1:0 \
  <"$tmp/cut.log" 2>"$tmp/err3" || { cat "$tmp/err3"; exit 1; }
check "$port" '
import re
a = alerts["ip_request_rate"]
assert a["labels"]["severity"] == "info", a["labels"]
assert re.fullmatch(r"http://127\.0\.0\.1:[1-9][0-9]*/metrics", a["generatorURL"]), a
'
stop_am
# the flag wins over the file
port=$(free_port)
start_am "$port"
"$LOGPIPE" stream --config "$tmp/conf.toml" --alerts "alertmanager://127.0.0.1:$port" \
  --alert-severity ip_request_rate=critical <"$tmp/cut.log" 2>"$tmp/err4" || { cat "$tmp/err4"; exit 1; }
check "$port" 'assert alerts["ip_request_rate"]["labels"]["severity"] == "critical", alerts'
stop_am

# --- statistical rules: the baseline and the evidence, rounded, in the description ---------------
printf '[window]\nsize_s = 60\n[metrics.ip_request_rate]\nrule = "cusum"\nlimit_fast = 10\nlimit_slow = 12\nprior = 5\n' \
  >"$tmp/cusum.toml"
port=$(free_port)
start_am "$port"
"$LOGPIPE" stream --config "$tmp/cusum.toml" --alerts "alertmanager://127.0.0.1:$port" <"$tmp/cut.log" \
  2>"$tmp/err5" || { cat "$tmp/err5"; exit 1; }
check "$port" '
ann = alerts["ip_request_rate"]["annotations"]
assert ann["summary"] == "ip_request_rate of 6.6.6.6 is 10 req/s, above 0.12 req/s", ann
assert ann["description"].endswith("Statistical rule: baseline 0.0833 req/s, evidence 20.0 against the limit 10.0. "
                                   "Incident 2025-06-23T08:06:00Z/ip_request_rate."), ann["description"]
assert (ann["baseline"], ann["score"], ann["limit"]) == ("0.08333333333333333", "20", "10"), ann
'
stop_am

# --- 4. bad values are usage errors naming the option --------------------------------------------
status=0
"$LOGPIPE" stream --alert-severity nosuch=page </dev/null 2>"$tmp/bad1" || status=$?
[ "$status" = 2 ] && grep -q -- "--alert-severity" "$tmp/bad1" || { echo "status $status"; cat "$tmp/bad1"; exit 1; }
status=0
"$LOGPIPE" stream --alert-severity 'error_rate=two words' </dev/null 2>"$tmp/bad2" || status=$?
[ "$status" = 2 ] && grep -q -- "--alert-severity: expected METRIC=LEVEL" "$tmp/bad2" || { cat "$tmp/bad2"; exit 1; }
status=0
"$LOGPIPE" stream --alert-generator-url grafana/d/x </dev/null 2>"$tmp/bad3" || status=$?
[ "$status" = 2 ] && grep -q -- "--alert-generator-url: 'grafana/d/x' is not a URL" "$tmp/bad3" ||
  { cat "$tmp/bad3"; exit 1; }
printf '[alerts.severity]\nip_request_rat = "page"\n' >"$tmp/typo.toml"
status=0
"$LOGPIPE" stream --config "$tmp/typo.toml" </dev/null 2>"$tmp/bad4" || status=$?
[ "$status" = 2 ] && grep -q "unknown metric 'ip_request_rat'" "$tmp/bad4" || { cat "$tmp/bad4"; exit 1; }
echo ok

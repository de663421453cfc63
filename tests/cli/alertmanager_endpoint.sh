#!/usr/bin/env bash
# stream --alerts alertmanager:// against the real Prometheus Alertmanager (Debian's
# prometheus-alertmanager), started here on loopback with a throwaway config and storage:
#  1. the alerts of a known incident arrive with the exact labels, annotations and state
#     (what is still firing is active; what resolved is counted resolved and no longer listed);
#     --alerts is repeatable and the file sink gets the same episodes;
#  2. Alertmanager down when stream starts, up later: everything is delivered after retries;
#  3. Alertmanager down with --alert-queue 2: the oldest alert is dropped, counted and reported
#     (exit status 1: a dropped alert is not delivered),
#     the two newest are delivered.
# The oracle is Alertmanager's own API (/api/v2/alerts) and its counters (/metrics).
set -euo pipefail
am_bin=$(command -v prometheus-alertmanager || command -v alertmanager || true)
[ -n "$am_bin" ] || { echo "SKIP: prometheus-alertmanager absent (scripts/deps.sh installs it)"; exit 77; }
tmp=$(mktemp -d)
am_pid=
stream_pid=
cleanup() {
  [ -n "$stream_pid" ] && kill "$stream_pid" 2>/dev/null
  [ -n "$am_pid" ] && kill "$am_pid" 2>/dev/null && wait "$am_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
cat >"$tmp/am.yml" <<'YAML'
route:
  receiver: none
receivers:
  - name: none
YAML
# start_am PORT: a fresh Alertmanager (new storage, no cluster port), waits until ready.
start_am() {
  rm -rf "$tmp/am-data"
  "$am_bin" --config.file="$tmp/am.yml" --storage.path="$tmp/am-data" \
    --web.listen-address="127.0.0.1:$1" --cluster.listen-address= >"$tmp/am.log" 2>&1 &
  am_pid=$!
  for _ in $(seq 200); do
    curl -sf "http://127.0.0.1:$1/-/ready" >/dev/null && return 0
    kill -0 "$am_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "alertmanager did not start:"; cat "$tmp/am.log"; exit 1
}
stop_am() { kill "$am_pid"; wait "$am_pid" 2>/dev/null || true; am_pid=; }
# received PORT firing|resolved: alerts Alertmanager accepted through API v2, by status.
received() {
  curl -sf "http://127.0.0.1:$1/metrics" |
    awk -v s="$2" '$1 == "alertmanager_alerts_received_total{status=\"" s "\",version=\"v2\"}" { print $2 }'
}

# Ten minutes of traffic (tests/cli/stream_traffic.py): an error burst on /checkout in minute 3
# (fires in window 08:03, resolves in 08:05) and a DDoS from 6.6.6.6 in minute 6. Cut at 08:07:00,
# the DDoS episode is still firing at the end: three alerts, one of them active.
python3 "$SRC/tests/cli/stream_traffic.py" "$tmp/full.log"
awk '$4 < "[23/Jun/2025:08:07:00"' "$tmp/full.log" >"$tmp/cut.log"
conf="$SRC/tests/data/stream_thresholds.toml"
host=$(hostname)

# --- 1. exact alerts -----------------------------------------------------------------------------
port=$(free_port)
start_am "$port"
"$LOGPIPE" stream --config "$conf" --alerts "alertmanager://127.0.0.1:$port" --alerts "$tmp/alerts.jsonl" \
  --alert-label team=shop <"$tmp/cut.log" 2>"$tmp/err1"
[ ! -s "$tmp/err1" ] || { echo "unexpected stderr:"; cat "$tmp/err1"; exit 1; }
head -3 "$SRC/tests/data/stream_golden.jsonl" | diff -u - "$tmp/alerts.jsonl"
[ "$(received "$port" firing)" = 2 ] && [ "$(received "$port" resolved)" = 1 ] ||
  { echo "received firing=$(received "$port" firing) resolved=$(received "$port" resolved), want 2 and 1"; exit 1; }
curl -sf "http://127.0.0.1:$port/api/v2/alerts" >"$tmp/active.json"
python3 - "$tmp/active.json" "$host" <<'PY'
import json, sys
alerts = json.load(open(sys.argv[1]))
assert len(alerts) == 1, alerts
a = alerts[0]
assert a["labels"] == {"alertname": "ip_request_rate", "key": "6.6.6.6", "instance": sys.argv[2],
                       "incident": "2025-06-23T08:06:00Z/ip_request_rate", "team": "shop",
                       "severity": "warning"}, a["labels"]
assert a["status"]["state"] == "active", a["status"]
ann = a["annotations"]
assert (ann["value"], ann["threshold"], ann["requests"], ann["errors"]) == ("10", "5", "600", "0"), ann
assert (ann["window_start"], ann["window_end"]) == ("2025-06-23T08:06:00Z", "2025-06-23T08:07:00Z"), ann
assert ann["summary"] == "ip_request_rate of 6.6.6.6 is 10 req/s, above 5 req/s", ann
# startsAt is the window's start; endsAt lies ahead (re-posted while firing) so it stays active.
assert a["startsAt"].startswith("2025-06-23T08:06:00"), a["startsAt"]
assert a["endsAt"] > a["updatedAt"], a
PY
# The full log resolves the DDoS too: nothing stays active. The /checkout episode fires and resolves
# again (a second run), 6.6.6.6 fires again and resolves.
"$LOGPIPE" stream --config "$conf" --alerts "alertmanager://127.0.0.1:$port" --alert-label team=shop \
  <"$tmp/full.log"
[ "$(received "$port" firing)" = 4 ] && [ "$(received "$port" resolved)" = 3 ] ||
  { echo "after the full log: firing=$(received "$port" firing) resolved=$(received "$port" resolved)"; exit 1; }
[ "$(curl -sf "http://127.0.0.1:$port/api/v2/alerts")" = "[]" ] ||
  { echo "still active:"; curl -s "http://127.0.0.1:$port/api/v2/alerts"; exit 1; }
stop_am

# --- 2. Alertmanager down at start, up later -----------------------------------------------------
port=$(free_port)
"$LOGPIPE" stream --config "$conf" --alerts "alertmanager://127.0.0.1:$port" --alerts "$tmp/alerts2.jsonl" \
  <"$tmp/cut.log" 2>"$tmp/err2" &
stream_pid=$!
# Wait until stream reported a failed delivery: it has the alerts and keeps retrying.
for _ in $(seq 300); do grep -q "cannot deliver" "$tmp/err2" && break; sleep 0.1; done
grep -q "cannot deliver .*connect: Connection refused); retrying" "$tmp/err2" || { cat "$tmp/err2"; exit 1; }
head -3 "$SRC/tests/data/stream_golden.jsonl" | diff -u - "$tmp/alerts2.jsonl"
start_am "$port"
wait "$stream_pid" || { echo "stream failed:"; cat "$tmp/err2"; exit 1; }
stream_pid=
grep -q "delivering again" "$tmp/err2" || { cat "$tmp/err2"; exit 1; }
[ "$(received "$port" firing)" = 2 ] && [ "$(received "$port" resolved)" = 1 ] ||
  { echo "after the outage: firing=$(received "$port" firing) resolved=$(received "$port" resolved)"; exit 1; }
curl -sf "http://127.0.0.1:$port/api/v2/alerts" |
  python3 -c 'import json,sys; a=json.load(sys.stdin); assert [x["labels"]["key"] for x in a]==["6.6.6.6"], a'
stop_am

# --- 3. queue bound: 3 alerts, room for 2 -------------------------------------------------------
port=$(free_port)
"$LOGPIPE" stream --config "$conf" --alerts "alertmanager://127.0.0.1:$port" --alert-queue 2 \
  <"$tmp/cut.log" 2>"$tmp/err3" &
stream_pid=$!
for _ in $(seq 300); do grep -q "dropping the oldest" "$tmp/err3" && break; sleep 0.1; done
grep -q "alert queue full (2 alerts, Alertmanager unreachable: .*); dropping the oldest (1 dropped so far)" \
  "$tmp/err3" || { cat "$tmp/err3"; exit 1; }
start_am "$port"
status=0
wait "$stream_pid" || status=$?
stream_pid=
[ "$status" = 1 ] || { echo "stream exited $status with an alert dropped, want 1:"; cat "$tmp/err3"; exit 1; }
grep -q "1 alert dropped in all (queue of 2 full)" "$tmp/err3" || { cat "$tmp/err3"; exit 1; }
grep -q "1 alert not delivered (dropped)" "$tmp/err3" || { cat "$tmp/err3"; exit 1; }
# The oldest (the /checkout firing) was dropped; its resolution and the DDoS firing arrived.
[ "$(received "$port" firing)" = 1 ] && [ "$(received "$port" resolved)" = 1 ] ||
  { echo "bounded: firing=$(received "$port" firing) resolved=$(received "$port" resolved)"; exit 1; }
stop_am
echo ok

#!/usr/bin/env bash
# The Prometheus exposition follows Prometheus' own rules (issue 24, item 3), on a live scrape of
# stream reading Kafka (mock cluster, 2 partitions) with a threshold on every metric and
# --metrics-top-keys 3, so that every family there is appears:
#  1. `promtool check metrics` accepts it with no warning at all;
#  2. one family per quantity, base units: no logpipe_metric catch-all, no _ms, latency in
#     seconds; keyed values only for the top 3 keys (bounded), counters end in _total;
#  3. the input lag per Kafka partition (0 once everything is read) and the alerts as a gauge
#     per metric;
#  4. `promtool check rules` accepts packaging/prometheus/rules.yml;
#  5. packaging/grafana/logpipe.json parses, and every metric its queries name is exposed by the
#     scrape or recorded by rules.yml.
set -euo pipefail
promtool=$(command -v promtool || true)
[ -n "$promtool" ] || { echo "SKIP: promtool absent (Debian's prometheus package; scripts/deps.sh)"; exit 77; }
. "$SRC/tests/cli/lib/scratch.sh"
. "$SRC/tests/cli/lib/kafka_mock.sh"
. "$SRC/tests/cli/lib/lines_read.sh"
kafka_mock_start http-logs:2
bin=$(dirname "$LOGPIPE")

python3 "$SRC/tests/cli/stream_traffic.py" "$tmp/full.log"
awk '$4 < "[23/Jun/2025:08:07:00"' "$tmp/full.log" >"$tmp/cut.log"
lines=$(wc -l <"$tmp/cut.log")
"$bin/logpipe-endpoint-cat" "$tmp/cut.log" "kafka://$bs/http-logs"
thresholds=()
for m in user_error_rate user_request_rate url_p99_latency_ms prefix_request_rate; do
  thresholds+=(--threshold "$m=1000")
done
"$LOGPIPE" stream -v --config "$SRC/tests/data/stream_thresholds.toml" "${thresholds[@]}" --format combined \
  --input "kafka://$bs/http-logs" --group lint --kafka-option session.timeout.ms=6000 \
  --kafka-option heartbeat.interval.ms=1000 --lateness 1s --metrics-listen 127.0.0.1:0 --metrics-top-keys 3 \
  --alerts "$tmp/alerts.jsonl" 2>"$tmp/err" 3>&- &
pids+=($!)
mport=$(metrics_port "$tmp/err")
wait_lines_read "$mport" "$lines" 0
# Until the quiet-input clock closed the last window (the DDoS fires then) and the lag of both
# partitions is known.
for _ in $(seq 300); do
  curl -sf "http://127.0.0.1:$mport/metrics" >"$tmp/scrape" || true
  grep -q '^logpipe_alerts_firing{metric="ip_request_rate"} 1$' "$tmp/scrape" &&
    [ "$(grep -c '^logpipe_kafka_partition_lag_messages{' "$tmp/scrape")" = 2 ] && break
  sleep 0.1
done

# 1. promtool: no error, no warning (it prints nothing when the text is clean).
"$promtool" check metrics <"$tmp/scrape" >"$tmp/promtool.out" 2>&1 || { cat "$tmp/promtool.out"; exit 1; }
[ ! -s "$tmp/promtool.out" ] || { echo "promtool check metrics is not silent:"; cat "$tmp/promtool.out"; exit 1; }

# 2 and 3: the families, their types and series.
python3 - "$tmp/scrape" "$SRC/packaging/prometheus/rules.yml" "$SRC/packaging/grafana/logpipe.json" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
series = {}
for line in text.splitlines():
    if line and not line.startswith("#"):
        name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
        series.setdefault(name, []).append(line)
assert set(series) <= set(types), set(series) - set(types)
assert "logpipe_metric" not in types and "logpipe_threshold" not in types, types
for name, kind in types.items():
    assert name.startswith("logpipe_"), name
    assert "_ms" not in name, name
    assert (kind == "counter") == name.endswith("_total"), (name, kind)
# one family per quantity: the window value of every metric of the table, in base units
want = {"logpipe_window_error_ratio", "logpipe_window_server_error_ratio", "logpipe_window_requests_per_second",
        "logpipe_window_url_error_ratio_max", "logpipe_window_user_error_ratio_max",
        "logpipe_window_ip_error_ratio_max", "logpipe_window_ip_requests_per_second_max",
        "logpipe_window_user_requests_per_second_max", "logpipe_window_url_p99_latency_seconds_max",
        "logpipe_window_prefix_requests_per_second_max",
        "logpipe_lines_total", "logpipe_records_total", "logpipe_malformed_total", "logpipe_late_records_total",
        "logpipe_windows_closed_total", "logpipe_evicted_keys_total", "logpipe_alerts_fired_total",
        "logpipe_alerts_resolved_total", "logpipe_incidents_total", "logpipe_alerts_firing",
        "logpipe_newest_event_timestamp_seconds", "logpipe_last_window_end_timestamp_seconds",
        "logpipe_input_lag_seconds", "logpipe_kafka_partition_lag_messages",
        "logpipe_window_ip_requests_per_second", "logpipe_window_url_error_ratio"}
assert want <= set(types), want - set(types)
# a threshold family per metric with a threshold, in the unit of its value
assert 'logpipe_window_url_p99_latency_seconds_max_threshold 1\n' not in text
assert 'logpipe_window_url_p99_latency_seconds_threshold 1\n' in text, text
assert 'logpipe_window_ip_requests_per_second_threshold 5\n' in text, text
# bounded: the top 3 keys at most, each with a key label, the DDoS source first
top = series["logpipe_window_ip_requests_per_second"]
assert 1 <= len(top) <= 3 and top[0].startswith('logpipe_window_ip_requests_per_second{key="6.6.6.6"} 10'), top
for name, lines in series.items():
    for l in lines:
        labels = re.findall(r'(\w+)="', l)
        assert set(labels) <= {"key", "metric", "input", "partition"}, l
        if "key" in labels:
            assert len(lines) <= 3, (name, lines)
# alerts as a gauge, one series per metric of the table (10), the DDoS firing
assert len(series["logpipe_alerts_firing"]) == 10, series["logpipe_alerts_firing"]
# Kafka lag per partition, 0: everything was read
lag = sorted(series["logpipe_kafka_partition_lag_messages"])
assert lag == ['logpipe_kafka_partition_lag_messages{input="kafka://%s",partition="%d"} 0' % (
    re.search(r'input="kafka://([^"]*)"', lag[0]).group(1), p) for p in (0, 1)], lag

# 5. Grafana: valid JSON; every metric name of its queries is served or recorded.
recorded = set(re.findall(r"^\s*- record: (\S+)$", open(sys.argv[2]).read(), re.M))
dash = json.load(open(sys.argv[3]))
exprs = []
def walk(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("expr", "definition") and isinstance(v, str):
                exprs.append(v)
            elif k == "query" and isinstance(v, dict) and "query" in v:
                exprs.append(v["query"])
            else:
                walk(v)
    elif isinstance(node, list):
        for v in node:
            walk(v)
walk(dash)
assert len(exprs) > 10, exprs
used = set()
for e in exprs:
    bare = re.sub(r'"[^"]*"|\[[^\]]*\]|\{[^}]*\}', "", e)  # strings, ranges and label matchers
    used |= {n for n in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", bare) if n.startswith("logpipe")}
missing = used - set(types) - recorded
assert not missing, missing
assert {"logpipe_window_error_ratio", "logpipe_kafka_partition_lag_messages", "logpipe_alerts_firing"} <= used, used
print("families:", len(types), "dashboard names:", len(used))
PY

# 4. the shipped rules
"$promtool" check rules "$SRC/packaging/prometheus/rules.yml" >"$tmp/rules.out" 2>&1 ||
  { cat "$tmp/rules.out"; exit 1; }
grep -q "SUCCESS" "$tmp/rules.out" || { cat "$tmp/rules.out"; exit 1; }
! grep -qi "warn" "$tmp/rules.out" || { cat "$tmp/rules.out"; exit 1; }
echo ok

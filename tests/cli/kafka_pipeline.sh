#!/usr/bin/env bash
# The web shop's pipeline through Kafka (mock cluster, kcat as the independent reader):
# generate -> kafka http-logs -> stream --group -> kafka alerts. The payment-API error burst of the
# incident-day profile fires once and resolves; a restarted stream with the same group reads
# nothing again (offsets were committed after the alerts were delivered).
set -euo pipefail
command -v kcat >/dev/null || { echo "SKIP: kcat absent"; exit 77; }
. "$SRC/tests/cli/lib/scratch.sh"  # $tmp, removed at exit with the mock cluster
. "$SRC/tests/cli/lib/kafka_mock.sh"
# One partition: a consumer sees the log in time order (several partitions interleave, which needs
# a --lateness as large as the consumer's skew between partitions; see docs/stream.md).
kafka_mock_start http-logs:1 alerts:1
opts=(--kafka-option session.timeout.ms=6000)

# The mock cluster keeps about 5 MB per partition: ten minutes at 20 lines/s fit.
cat >"$tmp/profile.toml" <<'TOML'
[traffic]
format = "combined"
rate = 20
duration = "10m"
error_rate = 0.01
[[incident]]
kind = "error_burst"
url = "/api/v1/payment"
error_rate = 0.8
share = 0.2
start = "3m"
duration = "3m"
TOML
"$LOGPIPE" generate --profile "$tmp/profile.toml" --no-pace --seed 42 --start 2025-06-23T00:00:00Z \
  -o "kafka://$bs/http-logs"
"$LOGPIPE" stream --input "kafka://$bs/http-logs" --group shop --idle-exit 10s "${opts[@]}" \
  --config "$SRC/samples/thresholds.toml" --alerts "kafka://$bs/alerts" 2>"$tmp/err1"
kcat -C -b "$bs" -t alerts -e -q >"$tmp/alerts.jsonl" || { cat "$tmp/err1"; exit 1; }
python3 - "$tmp/alerts.jsonl" <<'PY'
import json, sys
alerts = [json.loads(l) for l in open(sys.argv[1])]
got = [(a["state"], a["metric"], a["key"], a["window_start"]) for a in alerts
       if a["metric"] == "url_error_rate"]
assert {a["metric"] for a in alerts} == {"url_error_rate", "error_rate", "server_error_rate"}, alerts
want = [("firing", "url_error_rate", "/api/v1/payment", "2025-06-23T00:03:00Z"),
        ("resolved", "url_error_rate", "/api/v1/payment", "2025-06-23T00:06:00Z")]
assert got == want, got
PY
# Restart with the same group: everything was committed, nothing is read, no alert is repeated.
"$LOGPIPE" stream --input "kafka://$bs/http-logs" --group shop --idle-exit 10s "${opts[@]}" \
  --config "$SRC/samples/thresholds.toml" --alerts "$tmp/second.jsonl" -v 2>"$tmp/err2"
[ ! -s "$tmp/second.jsonl" ] || { echo "restart repeated alerts:"; cat "$tmp/second.jsonl"; exit 1; }
grep -q "stream: 0 lines" "$tmp/err2" || { cat "$tmp/err2"; exit 1; }
echo ok

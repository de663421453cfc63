#!/usr/bin/env bash
# Every broker down and back while stream runs (Kafka in, alerts out to Kafka): no record and no
# alert is lost, for outages of 4 s and 2 s. The final line count and the alerts (read back with
# kcat) equal those of an uninterrupted run (tests/data/stream_golden.jsonl, whose numbers
# stream_golden_stdin.sh re-derives from the log). Each outage starts after stream committed part
# of the first half;
# the second half is produced during it (the producer retries), and stream, its consumer and its
# alert producer must come back on their own.
set -euo pipefail
command -v kcat >/dev/null || { echo "SKIP: kcat absent"; exit 77; }
bin=$(dirname "$LOGPIPE")
tmp=$(mktemp -d)
. "$SRC/tests/cli/lib/kafka_mock.sh"
stream_pid=
producer_pid=
cleanup() {
  [ -n "$stream_pid" ] && kill "$stream_pid" 2>/dev/null
  [ -n "$producer_pid" ] && kill "$producer_pid" 2>/dev/null
  kafka_mock_stop
  rm -rf "$tmp"
}
trap cleanup EXIT
python3 "$SRC/tests/cli/stream_traffic.py" "$tmp/full.log"
awk '$4 < "[23/Jun/2025:08:06:00"' "$tmp/full.log" >"$tmp/a.log"
awk '$4 >= "[23/Jun/2025:08:06:00"' "$tmp/full.log" >"$tmp/b.log"
total=$(wc -l <"$tmp/full.log")

# One run with an outage of $1 seconds, on a fresh mock cluster.
run_outage() {
  kafka_mock_start http-logs:1 alerts:1
  "$bin/logpipe-endpoint-cat" "$tmp/a.log" "kafka://$bs/http-logs" 2>/dev/null
  "$LOGPIPE" stream -v --input "kafka://$bs/http-logs" --group shop --idle-exit 20s --lateness 1s \
    --commit-interval 500ms --kafka-option session.timeout.ms=6000 \
    --config "$SRC/tests/data/stream_thresholds.toml" --alerts "kafka://$bs/alerts" 2>"$tmp/err" 3>&- &
  stream_pid=$!
  for _ in $(seq 600); do grep -q "committed" "$tmp/err" && break; sleep 0.1; done
  grep -q "committed" "$tmp/err" || { echo "no commit:"; cat "$tmp/err"; exit 1; }
  echo "down -1" >&3
  "$bin/logpipe-endpoint-cat" "$tmp/b.log" "kafka://$bs/http-logs" 2>"$tmp/producer.err" 3>&- &
  producer_pid=$!
  sleep "$1"
  echo "up -1" >&3
  wait "$producer_pid" || { cat "$tmp/producer.err"; exit 1; }
  producer_pid=
  wait "$stream_pid" || { echo "stream failed:"; cat "$tmp/err"; exit 1; }
  stream_pid=
  grep -q "^logpipe: stream: $total lines, $total records, 0 late" "$tmp/err" || { cat "$tmp/err"; exit 1; }
  kcat -C -b "$bs" -t alerts -e -q >"$tmp/alerts.jsonl"
  diff -u "$SRC/tests/data/stream_golden.jsonl" "$tmp/alerts.jsonl"
  exec 3>&-
  kafka_mock_stop
  mock_pid=
  rm -f "$tmp/control" "$tmp/bootstrap"
  echo "ok: a $1 s outage"
}
# 4 s, and 2 s: the red-team pass (issue 25) found the shorter one worse (400 records counted
# twice: a partition restarted at its last commit after the group's rebalance); the consumer now
# skips what it had already handed out.
run_outage 4
run_outage 2

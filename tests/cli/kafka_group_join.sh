#!/usr/bin/env bash
# Issue 25, Kafka under faults: a second consumer joining the group, then leaving, must not make
# the first count records twice. Each rebalance restarts a partition at its last commit, and
# stream commits only past closed windows, so the first consumer is fed again what it had
# already counted into open windows (5,000 records re-counted: 619 false alerts, 31 missing).
# Now a message this process already handed out is skipped. A second stream of the same group
# takes partitions while 24,000 lines arrive, then dies (SIGKILL: it commits nothing); when the
# group gives its partitions back, the first must end with exactly the lines the topic holds
# (kcat counts them), each counted once, and say it skipped re-delivered messages (else nothing
# was tested).
set -euo pipefail
command -v kcat >/dev/null || { echo "SKIP: kcat absent"; exit 77; }
. "$SRC/tests/cli/lib/scratch.sh"
. "$SRC/tests/cli/lib/kafka_mock.sh"
kafka_mock_start http-logs:4
cd "$tmp"
"$LOGPIPE" stream --input "kafka://$bs/http-logs" --group shop --idle-exit 15s --alerts /dev/null \
  --threshold error_rate=0.5 --kafka-consumer-option session.timeout.ms=6000 -v 2>stream.err 3>&- &
stream=$!
pids+=("$stream")
for _ in $(seq 200); do grep -q "assigned\|reading" stream.err && break; sleep 0.05; done
# Paced from a fixed start: the 12 s of event time stay inside one 60 s window, so that no
# record can be late whatever the order the partitions come back in (a partition away on the
# other consumer does not hold event time back here; a window could close without it).
"$LOGPIPE" generate --format combined --rate 2000 --duration 12s --seed 9 --start 2025-06-23T08:00:10Z \
  -o "kafka://$bs/http-logs" \
  2>gen.err 3>&- &
gen=$!
pids+=("$gen")
sleep 2
"$LOGPIPE" stream --input "kafka://$bs/http-logs" --group shop --alerts /dev/null --threshold error_rate=0.5 \
  --kafka-consumer-option session.timeout.ms=6000 -v 2>second.err 3>&- &
second=$!
pids+=("$second")
for _ in $(seq 300); do grep -q "detected format" second.err && break; sleep 0.05; done
grep -q "detected format" second.err || { echo "FAIL: the second consumer got no partition (no rebalance to test)"; cat second.err; exit 1; }
sleep 2
kill -KILL "$second"; wait "$second" 2>/dev/null || true  # dies: commits nothing, leaves after 6 s
wait "$gen" || { echo "FAIL: generate"; cat gen.err; exit 1; }
wait "$stream" || { echo "FAIL: stream exited non-zero"; cat stream.err; exit 1; }
total=$(kcat -C -b "$bs" -t http-logs -e -q | wc -l)
[ "$total" = 24000 ] || { echo "FAIL: the topic holds $total lines, want 24000"; exit 1; }
grep -q "delivered again after a rebalance, skipped (already counted)" stream.err ||
  { echo "FAIL: no re-delivery seen (the test did not exercise it)"; cat stream.err; exit 1; }
grep -q "^logpipe: stream: $total lines, $total records, 0 late" stream.err ||
  { echo "FAIL: stream did not count each of the $total lines once:"; grep "stream:" stream.err; exit 1; }
echo "ok: $total lines counted once through a second consumer's join and death"

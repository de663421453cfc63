#!/usr/bin/env bash
# At-least-once while running: stream commits Kafka offsets periodically (--commit-interval), only
# past records whose windows were evaluated and whose alerts were delivered. Killed with SIGKILL
# after such a commit, then restarted with the same group, it must:
#  - not re-read from the beginning (the restart reads fewer lines than the topic holds), and
#  - lose no alert episode: every alert of an uninterrupted run appears in the alerts topic
#    (duplicates allowed).
# Traffic: tests/cli/stream_traffic.py (a /checkout burst firing in 08:03 and resolving in 08:05,
# a DDoS firing in 08:06 and resolving in 08:07); the first half (before 08:06) is in the topic
# when the first run starts, the second half is produced after it was killed.
set -euo pipefail
command -v kcat >/dev/null || { echo "SKIP: kcat absent"; exit 77; }
bin=$(dirname "$LOGPIPE")
tmp=$(mktemp -d)
. "$SRC/tests/cli/lib/kafka_mock.sh"
stream_pid=
cleanup() {
  [ -n "$stream_pid" ] && kill -9 "$stream_pid" 2>/dev/null
  kafka_mock_stop
  rm -rf "$tmp"
}
trap cleanup EXIT
kafka_mock_start http-logs:1 alerts:1
opts=(--kafka-option session.timeout.ms=6000 --config "$SRC/tests/data/stream_thresholds.toml"
      --lateness 1s --alerts "kafka://$bs/alerts")

python3 "$SRC/tests/cli/stream_traffic.py" "$tmp/full.log"
awk '$4 < "[23/Jun/2025:08:06:00"' "$tmp/full.log" >"$tmp/a.log"
awk '$4 >= "[23/Jun/2025:08:06:00"' "$tmp/full.log" >"$tmp/b.log"
total=$(wc -l <"$tmp/full.log")
"$bin/logpipe-endpoint-cat" "$tmp/a.log" "kafka://$bs/http-logs"

# Run 1: reads the first half, closes its windows on the quiet-input clock, commits; then SIGKILL.
"$LOGPIPE" stream -v --input "kafka://$bs/http-logs" --group shop --commit-interval 500ms "${opts[@]}" \
  2>"$tmp/err1" 3>&- &
stream_pid=$!
for _ in $(seq 600); do grep -q "committed" "$tmp/err1" && break; sleep 0.1; done
grep -q "stream: committed kafka://$bs/http-logs" "$tmp/err1" || { echo "no commit:"; cat "$tmp/err1"; exit 1; }
sleep 3  # let it commit the rest of the first half (not required: an earlier commit only adds duplicates)
kill -9 "$stream_pid"
wait "$stream_pid" 2>/dev/null || true
stream_pid=

# Run 2, same group, after the second half was produced.
"$bin/logpipe-endpoint-cat" "$tmp/b.log" "kafka://$bs/http-logs"
"$LOGPIPE" stream -v --input "kafka://$bs/http-logs" --group shop --idle-exit 10s "${opts[@]}" 2>"$tmp/err2" 3>&-
read2=$(sed -n 's/^logpipe: stream: \([0-9]*\) lines, .*/\1/p' "$tmp/err2")
[ -n "$read2" ] || { cat "$tmp/err2"; exit 1; }
b_lines=$(wc -l <"$tmp/b.log")
# Resumed past the start (committed offset > 0), and nothing skipped.
[ "$read2" -lt "$total" ] || { echo "restart re-read everything ($read2 of $total lines)"; exit 1; }
[ "$read2" -ge "$b_lines" ] || { echo "restart read $read2 lines, fewer than the $b_lines produced after"; exit 1; }

kcat -C -b "$bs" -t alerts -e -q >"$tmp/alerts.jsonl"
python3 - "$tmp/alerts.jsonl" "$SRC/tests/data/stream_golden.jsonl" <<'PY'
import json, sys
key = lambda a: (a["state"], a["metric"], a["key"], a["window_start"])
got = {key(json.loads(l)) for l in open(sys.argv[1])}
want = {key(json.loads(l)) for l in open(sys.argv[2])}
assert want <= got, ("lost", sorted(want - got))
PY
echo "ok (restart read $read2 of $total lines)"

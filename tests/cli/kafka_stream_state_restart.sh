#!/usr/bin/env bash
# stream --state over Kafka (12 partitions, 3 brokers): stopped by SIGTERM while an error burst is
# firing, restarted with the same group and state file after more traffic arrived. The stop
# neither evaluates the open window nor resolves the burst, and commits only the offsets whose
# windows had closed; the restart re-reads from there, counts once what the open window needs,
# and goes on. Together the two runs write exactly the alerts of one process over the same lines
# from a file, in order, with no repeat; the restart did not re-read the topic from its start.
set -euo pipefail
command -v kcat >/dev/null || { echo "SKIP: kcat absent"; exit 77; }
. "$SRC/tests/cli/lib/scratch.sh"
. "$SRC/tests/cli/lib/kafka_mock.sh"
. "$SRC/tests/cli/lib/lines_read.sh"
kafka_mock_start --brokers 3 http-logs:12
bin=$(dirname "$LOGPIPE")
stream_pid=
trap '[ -n "$stream_pid" ] && kill -9 "$stream_pid" 2>/dev/null; kafka_mock_stop; rm -rf "$tmp"' EXIT

# The traffic: tests/cli/lib/payment_ddos.toml (an error burst at 00:03, a flood at 00:06).
"$LOGPIPE" generate --profile "$SRC/tests/cli/lib/payment_ddos.toml" --no-pace --seed 42 --start 2025-06-23T00:00:00Z -o "$tmp/all.log"
fmt='logformat:%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" %D'
conf="$SRC/samples/thresholds.toml"
awk '$4 < "[23/Jun/2025:00:03:30"' "$tmp/all.log" >"$tmp/a"
awk '$4 >= "[23/Jun/2025:00:03:30" && $4 < "[23/Jun/2025:00:04:30"' "$tmp/all.log" >"$tmp/b"
awk '$4 >= "[23/Jun/2025:00:04:30"' "$tmp/all.log" >"$tmp/c"
total=$(wc -l <"$tmp/all.log")
[ "$(($(wc -l <"$tmp/a") + $(wc -l <"$tmp/b") + $(wc -l <"$tmp/c")))" = "$total" ]

# The reference: one process over the file.
"$LOGPIPE" stream --format "$fmt" --config "$conf" "$tmp/all.log" >"$tmp/file.alerts"
[ "$(grep -c '"firing"' "$tmp/file.alerts")" -ge 3 ] || { echo "FAIL: the reference fires too little"; exit 1; }

opts=(--format "$fmt" --config "$conf" --input "kafka://$bs/http-logs" --group restart --state "$tmp/state"
      --kafka-option session.timeout.ms=6000 --kafka-option heartbeat.interval.ms=1000 --commit-interval 200ms)
wait_lines() { wait_lines_read "$mport" "$1" 1.5; }  # then a second for its commit ticks

# Run 1: the first 3.5 minutes, then up to 4.5 (the burst fires in window 00:03), then SIGTERM.
"$bin/logpipe-endpoint-cat" "$tmp/a" "kafka://$bs/http-logs"
"$LOGPIPE" stream -v --metrics-listen 127.0.0.1:0 "${opts[@]}" >"$tmp/alerts1" 2>"$tmp/err1" 3>&- &
stream_pid=$!
mport=$(metrics_port "$tmp/err1")
wait_lines "$(wc -l <"$tmp/a")"
"$bin/logpipe-endpoint-cat" "$tmp/b" "kafka://$bs/http-logs"
wait_lines "$(($(wc -l <"$tmp/a") + $(wc -l <"$tmp/b")))"
kill -TERM "$stream_pid"
status=0
wait "$stream_pid" || status=$?
stream_pid=
[ "$status" = 0 ] || { echo "FAIL: run 1 exit $status"; cat "$tmp/err1"; exit 1; }
grep -q "committed kafka://$bs/http-logs" "$tmp/err1" || { echo "FAIL: run 1 never committed"; cat "$tmp/err1"; exit 1; }
grep -q '"firing"' "$tmp/alerts1" || { echo "FAIL: the burst did not fire in run 1"; cat "$tmp/alerts1"; exit 1; }
if grep -q '"resolved"' "$tmp/alerts1"; then echo "FAIL: the stop resolved an episode"; cat "$tmp/alerts1"; exit 1; fi

# Run 2: the rest of the traffic arrives; same group and state, until the topic is quiet.
"$bin/logpipe-endpoint-cat" "$tmp/c" "kafka://$bs/http-logs"
"$LOGPIPE" stream -v --idle-exit 8s "${opts[@]}" >"$tmp/alerts2" 2>"$tmp/err2" 3>&-
read2=$(sed -n 's/^logpipe: stream: \([0-9]*\) lines, .*/\1/p' "$tmp/err2")
[ -n "$read2" ] && [ "$read2" -lt "$total" ] || { echo "FAIL: run 2 re-read the topic ($read2 of $total)"; cat "$tmp/err2"; exit 1; }
if grep -q "late record" "$tmp/err2"; then echo "FAIL: records dropped as late:"; cat "$tmp/err2"; exit 1; fi
cat "$tmp/alerts1" "$tmp/alerts2" | cmp - "$tmp/file.alerts" ||
  { echo "FAIL: the two runs' alerts differ from one run over the file"; cat "$tmp/alerts1" "$tmp/alerts2" | diff "$tmp/file.alerts" -; exit 1; }
echo "ok (run 2 read $read2 of $total lines)"

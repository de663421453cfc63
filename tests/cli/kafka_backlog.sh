#!/usr/bin/env bash
# A Kafka backlog over several partitions, read with the default 5 s lateness, gives exactly the
# alerts and windows of one process over the same lines from a file (event time is tracked per
# partition: the watermark is the minimum over the active partitions), and calibrate over the
# topic writes the thresholds of calibrate over the file. Mock cluster: 3 brokers, 12 partitions;
# kcat is the independent reader that proves the backlog is spread over the partitions.
set -euo pipefail
command -v kcat >/dev/null || { echo "SKIP: kcat absent"; exit 77; }
. "$SRC/tests/cli/lib/scratch.sh"
. "$SRC/tests/cli/lib/kafka_mock.sh"
kafka_mock_start --brokers 3 http-logs:12
opts=(--kafka-option session.timeout.ms=6000 --kafka-option heartbeat.interval.ms=1000 --idle-exit 8s)

# The traffic: tests/cli/lib/payment_ddos.toml (an error burst at 00:03, a flood at 00:06).
gen=("$LOGPIPE" generate --profile "$SRC/tests/cli/lib/payment_ddos.toml" --no-pace --seed 42 --start 2025-06-23T00:00:00Z)
"${gen[@]}" -o "$tmp/all.log"
"${gen[@]}" -o "kafka://$bs/http-logs"
fmt='logformat:%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" %D'
conf="$SRC/samples/thresholds.toml"

# The backlog is really spread: kcat reads every line back, from all twelve partitions.
used=0
for p in $(seq 0 11); do
  n=$(kcat -C -b "$bs" -t http-logs -p "$p" -e -q | wc -l)
  [ "$n" -gt 0 ] && used=$((used + 1))
  total=$((${total:-0} + n))
done
[ "$total" -eq "$(wc -l <"$tmp/all.log")" ] || { echo "FAIL: kcat reads $total lines, the file has $(wc -l <"$tmp/all.log")"; exit 1; }
[ "$used" -ge 10 ] || { echo "FAIL: only $used partitions hold data"; exit 1; }

# One process over the file: the reference.
"$LOGPIPE" stream --format "$fmt" --config "$conf" --window-log "$tmp/file.windows" "$tmp/all.log" >"$tmp/file.alerts"
[ "$(grep -c '"firing"' "$tmp/file.alerts")" -ge 3 ] || { echo "FAIL: the reference fires too little:"; cat "$tmp/file.alerts"; exit 1; }
# The backlog with the default lateness.
"$LOGPIPE" stream --format "$fmt" --config "$conf" --input "kafka://$bs/http-logs" --group backlog "${opts[@]}" \
  --window-log "$tmp/kafka.windows" >"$tmp/kafka.alerts" 2>"$tmp/kafka.err"
if grep -q "late record" "$tmp/kafka.err"; then echo "FAIL: records dropped as late:"; cat "$tmp/kafka.err"; exit 1; fi
cmp "$tmp/file.alerts" "$tmp/kafka.alerts" || { echo "FAIL: alerts differ"; diff "$tmp/file.alerts" "$tmp/kafka.alerts"; exit 1; }
cmp "$tmp/file.windows" "$tmp/kafka.windows" || { echo "FAIL: windows differ"; diff "$tmp/file.windows" "$tmp/kafka.windows" | head; exit 1; }
echo "ok: stream over 12 partitions = stream over the file ($(wc -l <"$tmp/kafka.alerts") alerts, $(wc -l <"$tmp/kafka.windows") windows)"

# calibrate over the topic writes the thresholds of calibrate over the file (comments aside:
# they name the inputs and the date).
export SOURCE_DATE_EPOCH=1750636800
"$LOGPIPE" calibrate --format "$fmt" --no-progress -o "$tmp/file.toml" "$tmp/all.log" >/dev/null 2>&1
"$LOGPIPE" calibrate --format "$fmt" --no-progress -o "$tmp/kafka.toml" "kafka://$bs/http-logs" --group cal "${opts[@]}" \
  >/dev/null 2>"$tmp/cal.err"
grep -v '^#' "$tmp/file.toml" >"$tmp/file.values"
grep -v '^#' "$tmp/kafka.toml" >"$tmp/kafka.values"
cmp "$tmp/file.values" "$tmp/kafka.values" || { echo "FAIL: thresholds differ"; diff "$tmp/file.values" "$tmp/kafka.values"; cat "$tmp/cal.err"; exit 1; }
echo "ok: calibrate over the topic = calibrate over the file"

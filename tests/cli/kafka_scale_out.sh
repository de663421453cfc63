#!/usr/bin/env bash
# Issue 17, scale-out: three `stream --scale-out` instances of one group over a 12-partition
# topic fire exactly the alerts of one process over the same lines from a file: each alert once,
# with the same values (each instance reads a third of the partitions; the partial aggregates
# they publish on logpipe.shop.partials are merged by one of them). Without --scale-out the same
# three instances each compute metrics on their part of the traffic: the values differ (checked
# first, so that the test shows what it guards against). Mock cluster: 3 brokers; kcat counts the
# partials topic independently.
set -euo pipefail
command -v kcat >/dev/null || { echo "SKIP: kcat absent"; exit 77; }
. "$SRC/tests/cli/lib/retry_once.sh"
. "$SRC/tests/cli/lib/scratch.sh"
. "$SRC/tests/cli/lib/kafka_mock.sh"
kafka_mock_start --brokers 3 http-logs:12 logpipe.shop.partials:1 logpipe.plain.partials:1
opts=(--kafka-option session.timeout.ms=6000 --kafka-option heartbeat.interval.ms=1000 --idle-exit 12s)

# The traffic: tests/cli/lib/payment_ddos.toml (an error burst at 00:03, a flood at 00:06).
gen=("$LOGPIPE" generate --profile "$SRC/tests/cli/lib/payment_ddos.toml" --no-pace --seed 42 --start 2025-06-23T00:00:00Z)
"${gen[@]}" -o "$tmp/all.log"
"${gen[@]}" -o "kafka://$bs/http-logs"
fmt='logformat:%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" %D'
conf="$SRC/samples/thresholds.toml"

# The reference: one process over the file. Alerts compared as sorted JSON lines (three
# instances have no common order; within one merger the order is the file's).
"$LOGPIPE" stream --format "$fmt" --config "$conf" "$tmp/all.log" >"$tmp/file.alerts"
[ "$(grep -c '"firing"' "$tmp/file.alerts")" -ge 3 ] || { echo "FAIL: the reference fires too little:"; cat "$tmp/file.alerts"; exit 1; }
sort "$tmp/file.alerts" >"$tmp/file.sorted"

three() {  # GROUP FLAGS...: three instances started together; their alerts, sorted, in $tmp/GROUP.sorted
  local group=$1 pids_here=() i
  shift
  for i in 1 2 3; do
    "$LOGPIPE" stream --format "$fmt" --config "$conf" --input "kafka://$bs/http-logs" --group "$group" "${opts[@]}" \
      "$@" -v >"$tmp/$group.$i.alerts" 2>"$tmp/$group.$i.err" 3>&- &
    pids_here+=($!)
    pids+=($!)
  done
  for i in 0 1 2; do
    wait "${pids_here[$i]}" || { echo "FAIL: instance $((i + 1)) of $group exited non-zero:"; cat "$tmp/$group.$((i + 1)).err"; exit 1; }
  done
  cat "$tmp/$group".[123].alerts | sort >"$tmp/$group.sorted"
}

# Without --scale-out: each instance alerts on its part of the traffic.
three plain
if cmp -s "$tmp/file.sorted" "$tmp/plain.sorted"; then
  echo "FAIL: three plain instances gave the reference's alerts (the test would prove nothing)"; exit 1
fi
# With --scale-out: exactly the reference.
three shop --scale-out
for i in 1 2 3; do
  if grep -q "late record" "$tmp/shop.$i.err"; then echo "FAIL: instance $i dropped late records:"; cat "$tmp/shop.$i.err"; exit 1; fi
done
cmp "$tmp/file.sorted" "$tmp/shop.sorted" ||
  { echo "FAIL: the three instances' alerts differ from one process over the file"; diff "$tmp/file.sorted" "$tmp/shop.sorted"; cat "$tmp"/shop.*.err; exit 1; }
# One instance merged and alerted; every instance read a share of the partitions.
merged=$(grep -l "merged [1-9]" "$tmp"/shop.[123].err | wc -l)
[ "$merged" -ge 1 ] || { echo "FAIL: no instance says it merged"; cat "$tmp"/shop.*.err; exit 1; }
read_total=0
for i in 1 2 3; do
  n=$(sed -n 's/^logpipe: stream: scale-out: \([0-9]*\) records read here.*/\1/p' "$tmp/shop.$i.err")
  [ -n "$n" ] || { echo "FAIL: instance $i printed no scale-out summary"; cat "$tmp/shop.$i.err"; exit 1; }
  read_total=$((read_total + n))
done
lines=$(wc -l <"$tmp/all.log")
[ "$read_total" -ge "$lines" ] || { echo "FAIL: the instances read $read_total records, the topic holds $lines"; exit 1; }
# kcat, independently: the partials topic holds the messages the instances say they sent.
sent=0
for i in 1 2 3; do
  n=$(sed -n 's/^logpipe: stream: scale-out: .* late; \([0-9]*\) partial messages sent.*/\1/p' "$tmp/shop.$i.err")
  sent=$((sent + n))
done
held=$(kcat -C -b "$bs" -t logpipe.shop.partials -e -q -f 'x\n' | wc -l)
[ "$held" -eq "$sent" ] || { echo "FAIL: kcat reads $held partial messages, the instances sent $sent"; exit 1; }
echo "ok: 3 scale-out instances over 12 partitions = one process over the file ($(wc -l <"$tmp/file.alerts") alerts; $sent partial messages)"

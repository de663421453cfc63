#!/usr/bin/env bash
# kafka:// input and output against librdkafka's mock cluster (real Kafka protocol on loopback),
# with kcat as the independent client:
#   1. lines produced by kcat are read back exactly by a consumer group; a consumer that stopped
#      after committing 700 lines resumes at line 701 (no loss, no duplicate); a third run reads
#      nothing; a message holding several lines yields each line;
#   2. lines written to kafka:// are read back exactly by kcat, keyed by client IP (access logs)
#      or by metric:key (alerts);
#   3. every broker goes down for 4 s while a producer and a consumer run: kcat then finds every
#      line exactly once in the topic, and the consumer delivered every line exactly once.
set -euo pipefail
command -v kcat >/dev/null || { echo "SKIP: kcat absent"; exit 77; }
cat=$(dirname "$LOGPIPE")/logpipe-endpoint-cat
tmp=$(mktemp -d)
. "$SRC/tests/cli/lib/kafka_mock.sh"
cleanup() {
  kafka_mock_stop
  rm -rf "$tmp"
}
trap cleanup EXIT

kafka_mock_start --brokers 3 http-logs:4 out:3 alerts:2 outage:4
echo "mock cluster: $bs"
# The mock coordinator waits session.timeout.ms - 1 s before re-forming a group that an earlier
# member left (a real broker does not); a short session keeps the resume steps quick.
group_opts=(--kafka-option session.timeout.ms=6000 --kafka-option heartbeat.interval.ms=1000)

# --- 1. consume what kcat produced -------------------------------------------------------------
awk 'BEGIN { for (i = 1; i <= 2000; i++)
  printf "10.0.%d.%d - - [23/Jun/2025:08:%02d:00 +0000] \"GET /p/%d HTTP/1.1\" 200 %d\n",
         i % 7, i % 13, i % 60, i, i }' >"$tmp/in.txt"
kcat -P -b "$bs" -t http-logs -l "$tmp/in.txt"
"$cat" -q --group resume "${group_opts[@]}" --max-lines 700 --commit-every 100 \
  "kafka://$bs/http-logs" "$tmp/part1.txt"
[ "$(wc -l <"$tmp/part1.txt")" -eq 700 ] || { echo "FAIL: first run read $(wc -l <"$tmp/part1.txt") lines, not 700"; exit 1; }
"$cat" -q --group resume "${group_opts[@]}" --idle-exit 2s "kafka://$bs/http-logs" "$tmp/part2.txt"
[ "$(wc -l <"$tmp/part2.txt")" -eq 1300 ] || { echo "FAIL: resumed run read $(wc -l <"$tmp/part2.txt") lines, not 1300"; exit 1; }
sort "$tmp/part1.txt" "$tmp/part2.txt" >"$tmp/got.sorted"
sort "$tmp/in.txt" >"$tmp/want.sorted"
cmp -s "$tmp/got.sorted" "$tmp/want.sorted" || { echo "FAIL: consumed lines differ from produced"; diff "$tmp/want.sorted" "$tmp/got.sorted" | head; exit 1; }
"$cat" -q --group resume "${group_opts[@]}" --idle-exit 2s "kafka://$bs/http-logs" "$tmp/part3.txt"
[ ! -s "$tmp/part3.txt" ] || { echo "FAIL: a committed group re-read $(wc -l <"$tmp/part3.txt") lines"; exit 1; }
echo "ok: consume, commit, resume"

# A consumer that never committed (a crash) leaves everything to be re-read: at-least-once.
"$cat" -q --group crash "${group_opts[@]}" --no-commit --max-lines 500 "kafka://$bs/http-logs" "$tmp/crash1.txt"
"$cat" -q --group crash "${group_opts[@]}" --idle-exit 2s "kafka://$bs/http-logs" "$tmp/crash2.txt"
sort "$tmp/crash2.txt" | cmp -s - "$tmp/want.sorted" ||
  { echo "FAIL: after an uncommitted run, $(wc -l <"$tmp/crash2.txt") lines re-read, want 2000"; exit 1; }
echo "ok: nothing committed, everything re-read"

# Several lines in one message (kcat -D sets its own message delimiter).
printf 'a1\na2\r\na3#b1#c1\nc2\n#' | kcat -P -b "$bs" -t http-logs -D '#'
"$cat" -q --group resume "${group_opts[@]}" --idle-exit 2s "kafka://$bs/http-logs" "$tmp/multi.txt"
printf 'a1\na2\na3\nb1\nc1\nc2\n' >"$tmp/multi.want"
sort "$tmp/multi.txt" | cmp -s - "$tmp/multi.want" || { echo "FAIL: multi-line messages"; cat -A "$tmp/multi.txt"; exit 1; }
echo "ok: one message, several lines"

# Two instances of one group share the partitions: together they read every line, each a part.
echo "topic shared 4" >&3
for _ in $(seq 50); do grep -qx 'ok topic shared 4' "$tmp/mock.out" && break; sleep 0.1; done
pair=()
for k in 1 2; do
  "$cat" -q --group pair "${group_opts[@]}" --idle-exit 10s "kafka://$bs/shared" "$tmp/pair.$k" &
  pair+=($!)
done
awk 'BEGIN { for (i = 1; i <= 4000; i++) printf "10.2.%d.%d shared %d\n", i % 3, i % 17, i }' >"$tmp/shared.txt"
# Two batches: the second comes after any late rebalance (a member joining a formed group waits
# session.timeout.ms - 1 s in the mock), so both members hold partitions by then even on a slow
# machine. kcat -K ' ' keys by the first field: the lines spread over the 4 partitions.
sleep 6
head -2000 "$tmp/shared.txt" | kcat -P -b "$bs" -t shared -K ' '
sleep 6
tail -2000 "$tmp/shared.txt" | kcat -P -b "$bs" -t shared -K ' '
wait "${pair[0]}" && wait "${pair[1]}" || { echo "FAIL: a group member failed"; exit 1; }
for k in 1 2; do
  [ -s "$tmp/pair.$k" ] || { echo "FAIL: group member $k got no partition's lines"; exit 1; }
done
# kcat -K ' ' sends the first field as the key and the rest as the value.
cut -d' ' -f2- "$tmp/shared.txt" | sort >"$tmp/shared.want"
# At-least-once: a late rebalance may hand a partition over before its lines were committed, so
# duplicates are allowed here; a missing line is not.
sort -u "$tmp/pair.1" "$tmp/pair.2" | cmp -s - "$tmp/shared.want" ||
  { echo "FAIL: group members: $(sort -u "$tmp/pair.1" "$tmp/pair.2" | wc -l) distinct lines, want 4000"; exit 1; }
echo "ok: two group members share the partitions ($(wc -l <"$tmp/pair.1") + $(wc -l <"$tmp/pair.2") lines)"

# --- 2. produce, read back with kcat -------------------------------------------------------------
"$cat" -q "$tmp/in.txt" "kafka://$bs/out"
kcat -C -b "$bs" -t out -e -q -f '%k\t%s\n' >"$tmp/out.kcat"
awk '{ print $1 "\t" $0 }' "$tmp/in.txt" | sort >"$tmp/out.want"
sort "$tmp/out.kcat" | cmp -s - "$tmp/out.want" || { echo "FAIL: produced messages or keys differ"; diff "$tmp/out.want" <(sort "$tmp/out.kcat") | head; exit 1; }
# Alerts: stream writes the same alerts to a file and to kafka://; each message is the alert's
# JSON line, keyed by metric:key (an episode stays in one partition, in order).
{
  for i in $(seq 0 59); do
    printf '10.0.0.1 - - [23/Jun/2025:08:00:%02d +0000] "GET /login HTTP/1.1" %d 5 "-" "ua"\n' "$i" $((i % 2 ? 500 : 200))
  done
  for i in $(seq 0 29); do
    printf '10.0.0.2 - - [23/Jun/2025:08:01:%02d +0000] "GET /home HTTP/1.1" 200 5 "-" "ua"\n' "$i"
  done
  printf '10.0.0.2 - - [23/Jun/2025:08:03:00 +0000] "GET /home HTTP/1.1" 200 5 "-" "ua"\n'
} >"$tmp/alerting.log"
"$LOGPIPE" stream --format combined --threshold error_rate=0.2 --threshold ip_request_rate=0.9 \
  --alerts "$tmp/alerts.jsonl" --alerts "kafka://$bs/alerts" <"$tmp/alerting.log"
[ "$(grep -c '"state":"firing"' "$tmp/alerts.jsonl")" -ge 2 ] || { echo "FAIL: no alerts to check"; cat "$tmp/alerts.jsonl"; exit 1; }
kcat -C -b "$bs" -t alerts -e -q -f '%k|%s\n' | sort >"$tmp/alerts.kcat"
python3 - "$tmp/alerts.jsonl" >"$tmp/alerts.want" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    a = json.loads(line)
    print(f'{a["metric"]}:{a["key"]}|{line.rstrip()}')
PY
sort -o "$tmp/alerts.want" "$tmp/alerts.want"
cmp -s "$tmp/alerts.kcat" "$tmp/alerts.want" || { echo "FAIL: alert keys"; diff "$tmp/alerts.want" "$tmp/alerts.kcat"; exit 1; }
echo "ok: produce keyed by ip and by metric:key"

# --- 3. every broker down for 4 s during production and consumption -----------------------------
awk 'BEGIN { for (i = 1; i <= 3000; i++) printf "10.1.%d.%d outage line %d\n", i % 5, i % 11, i }' >"$tmp/outage.txt"
"$cat" -q --group outage "${group_opts[@]}" --idle-exit 10s --commit-every 50 \
  "kafka://$bs/outage" "$tmp/outage.consumed" 2>"$tmp/consumer.err" &
consumer=$!
# 30 chunks of 100 lines, 0.2 s apart: the outage falls in the middle of the production.
(for c in $(seq 0 29); do sed -n "$((c * 100 + 1)),$((c * 100 + 100))p" "$tmp/outage.txt"; sleep 0.2; done) |
  "$cat" -q --commit-every 100 - "kafka://$bs/outage" 2>"$tmp/producer.err" &
producer=$!
sleep 2
echo "down -1" >&3
sleep 4
echo "up -1" >&3
wait "$producer" || { echo "FAIL: producer failed"; cat "$tmp/producer.err"; exit 1; }
wait "$consumer" || { echo "FAIL: consumer failed"; cat "$tmp/consumer.err"; exit 1; }
grep -qx 'ok down -1' "$tmp/mock.out" && grep -qx 'ok up -1' "$tmp/mock.out" ||
  { echo "FAIL: mock did not acknowledge down/up"; cat "$tmp/mock.out"; exit 1; }
# The clients saw the outage (reported on stderr, retried), so the check below means something.
cat "$tmp/producer.err" "$tmp/consumer.err" | grep -E >/dev/null 'brokers are down|Connection refused|Disconnected' ||
  { echo "FAIL: neither client noticed the outage"; exit 1; }
sort "$tmp/outage.txt" >"$tmp/outage.want"
kcat -C -b "$bs" -t outage -e -q | sort >"$tmp/outage.kcat"
cmp -s "$tmp/outage.kcat" "$tmp/outage.want" ||
  { echo "FAIL: topic after outage: $(wc -l <"$tmp/outage.kcat") lines, $(sort -u "$tmp/outage.kcat" | wc -l) distinct, want 3000"; exit 1; }
sort "$tmp/outage.consumed" | cmp -s - "$tmp/outage.want" ||
  { echo "FAIL: consumer after outage: $(wc -l <"$tmp/outage.consumed") lines, $(sort -u "$tmp/outage.consumed" | wc -l) distinct, want 3000"; exit 1; }
echo "ok: no loss, no duplicate across a 4 s outage of every broker"
echo "--- producer stderr:"; cat "$tmp/producer.err"; echo "--- consumer stderr:"; cat "$tmp/consumer.err"

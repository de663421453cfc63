# Sourced by scripts/bench. bench_kafka: lines/s produced into and consumed from librdkafka's mock
# cluster (real Kafka protocol on loopback) by logpipe-endpoint-cat, i.e. through the kafka://
# endpoint that generate -o and stream --input use. The rate runs from the first line to the last
# one acknowledged by the broker (produce) or read (consume): group join and --idle-exit excluded.
# The mock broker runs on the same machine and takes CPU too. KAFKA_BENCH_LINES (default 1000000).

# kafka_bench_file N: N combined-format lines (~170 bytes), made once with awk (no dependency on
# logpipe generate).
kafka_bench_file() {
  local n=$1 f="$BENCH_DIR/kafka-combined-$1.log"
  if [ ! -s "$f" ]; then
    awk -v n="$n" 'BEGIN { for (i = 1; i <= n; i++)
      printf "10.%d.%d.%d - user%d [23/Jun/2025:08:%02d:%02d +0000] \"GET /product/%d?ref=home HTTP/1.1\" %d %d \"https://shop.example/\" \"Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0\"\n",
        i % 200, i % 100, i % 250, i % 5000, int(i / 60) % 60, i % 60, i % 9000, (i % 50 ? 200 : 404), 1000 + i % 5000 }' >"$f"
  fi
  echo "$f"
}

# kafka_rate LABEL STDERR_FILE: prints the rate line from logpipe-endpoint-cat's summary.
kafka_rate() {
  python3 - "$1" "$2" <<'PY'
import re, sys
label, text = sys.argv[1], open(sys.argv[2]).read()
m = re.search(r"(\d+) lines, (\d+) bytes; ([\d.]+) s from", text)
if not m:
    sys.exit(f"bench: {label}: no summary in:\n{text}")
lines, size, secs = int(m[1]), int(m[2]), max(float(m[3]), 0.001)
print(f"{label:<44} {secs:7.2f} s {size / secs / 1e6:9.1f} MB/s {lines / secs / 1e6:7.2f} M lines/s")
PY
}

bench_kafka() {
  local n=${KAFKA_BENCH_LINES:-1000000} f mock_pid bs cat="$LOGPIPE_ROOT/build/logpipe-endpoint-cat"
  f=$(kafka_bench_file "$n")
  echo "== kafka: $n combined lines through the mock cluster (1 broker, 64 partitions)"
  rm -f "$BENCH_DIR/kafka.bootstrap"
  # 64 partitions: the mock keeps about 5 MB per partition and drops older messages.
  "$LOGPIPE_ROOT/build/logpipe-kafka-mock" --bootstrap-file "$BENCH_DIR/kafka.bootstrap" bench:64 \
    >/dev/null 2>"$BENCH_DIR/kafka-mock.err" </dev/null &
  mock_pid=$!
  for _ in $(seq 100); do [ -s "$BENCH_DIR/kafka.bootstrap" ] && break; sleep 0.1; done
  bs=$(cat "$BENCH_DIR/kafka.bootstrap")
  "$cat" "$f" "kafka://$bs/bench" 2>"$BENCH_DIR/kafka-produce.err" ||
    { cat "$BENCH_DIR/kafka-produce.err" >&2; kill "$mock_pid"; return 1; }
  kafka_rate "produce (file -> kafka://, acks=all, idempotent)" "$BENCH_DIR/kafka-produce.err"
  "$cat" --group "bench-$$" --idle-exit 2s "kafka://$bs/bench" /dev/null 2>"$BENCH_DIR/kafka-consume.err" ||
    { cat "$BENCH_DIR/kafka-consume.err" >&2; kill "$mock_pid"; return 1; }
  kafka_rate "consume (kafka:// group -> /dev/null)" "$BENCH_DIR/kafka-consume.err"
  grep -q "^logpipe-endpoint-cat: $n lines" "$BENCH_DIR/kafka-consume.err" ||
    echo "bench: warning: the consumer did not read all $n lines (mock retention?)" >&2
  kill "$mock_pid"
  wait "$mock_pid" 2>/dev/null || true
}

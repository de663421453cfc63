# Sourced by scripts/bench. bench_stream_scale: `stream --scale-out` with 1, 2 and 3 instances of
# one group over the same topic (librdkafka's mock cluster, 64 partitions, keyed by client
# address), samples/thresholds.toml. Per run: wall time of the slowest instance minus --idle-exit
# (it includes joining the group: about 3 s on the mock), lines/s over that, CPU per line (user +
# sys of all instances; the mock broker's CPU is not counted but shares the two cores), the
# largest peak RSS, and the bytes of partial aggregates the instances sent to
# logpipe.GROUP.partials (before compression) relative to the input's. First the same with one plain instance (no --scale-out), the baseline.
# SCALE_BENCH_LINES (default 1000000; the mock keeps ~5 MB per partition).
bench_stream_scale() {
  local n=${SCALE_BENCH_LINES:-1000000} f mock_pid bs k i cat="$LOGPIPE_ROOT/build/logpipe-endpoint-cat"
  local idle=3
  f="$BENCH_DIR/scale-combined-$n.log"
  [ -s "$f" ] || "$LOGPIPE" generate --format combined --no-pace --seed 3 --count "$n" \
    --start 2025-06-23T00:00:00Z -o "$f"
  echo "== stream --scale-out: $(cached_line_count "$f") combined lines, $(($(stat -c %s "$f") / 1000000)) MB, 64 partitions"
  rm -f "$BENCH_DIR/scale.bootstrap"
  "$LOGPIPE_ROOT/build/logpipe-kafka-mock" --bootstrap-file "$BENCH_DIR/scale.bootstrap" bench:64 \
    logpipe.s1.partials:1 logpipe.s2.partials:1 logpipe.s3.partials:1 \
    >/dev/null 2>"$BENCH_DIR/scale-mock.err" </dev/null &
  mock_pid=$!
  for _ in $(seq 100); do [ -s "$BENCH_DIR/scale.bootstrap" ] && break; sleep 0.1; done
  bs=$(cat "$BENCH_DIR/scale.bootstrap")
  "$cat" "$f" "kafka://$bs/bench" 2>"$BENCH_DIR/scale-produce.err" ||
    { cat "$BENCH_DIR/scale-produce.err" >&2; kill "$mock_pid"; return 1; }
  for k in 0 1 2 3; do
    local pids=() mode=(--scale-out)
    [ "$k" = 0 ] && mode=()
    for i in $(seq 1 "$(( k > 0 ? k : 1 ))"); do
      /usr/bin/time -f '%e %U %S %M' -o "$BENCH_DIR/scale-$k-$i.time" \
        "$LOGPIPE" stream --input "kafka://$bs/bench" --group "s$k" "${mode[@]}" --config "$LOGPIPE_ROOT/samples/thresholds.toml" \
        --idle-exit "${idle}s" --kafka-option session.timeout.ms=6000 --alerts /dev/null -v \
        2>"$BENCH_DIR/scale-$k-$i.err" &
      pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || { cat "$BENCH_DIR"/scale-"$k"-*.err >&2; kill "$mock_pid"; return 1; }; done
    local partial
    # What the instances sent (their -v summaries; the mock keeps only ~5 MB of the one partition).
    partial=$(cat "$BENCH_DIR"/scale-"$k"-*.err | python3 -c '
import re, sys
units = {"B": 1, "KiB": 1024, "MiB": 1024 ** 2, "GiB": 1024 ** 3}
print(int(sum(float(n) * units[u] for n, u in re.findall(r"partial messages sent \(([\d.]+) (B|KiB|MiB|GiB)\)", sys.stdin.read()))))')
    python3 - "$k" "$n" "$(stat -c %s "$f")" "$idle" "$partial" "$BENCH_DIR"/scale-"$k"-*.time <<'PY'
import sys
k, n, size, idle, partial = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
runs = [list(map(float, open(p).read().split())) for p in sys.argv[6:]]
wall = max(max(r[0] for r in runs) - idle, 0.01)
cpu = sum(r[1] + r[2] for r in runs)
rss = max(r[3] for r in runs) / 1024
label = "plain, 1 instance" if k == 0 else f"--scale-out, {k} instance{'s' if k > 1 else ''}"
print(f"{label:<26} {wall:7.2f} s {n / wall / 1e6:6.2f} M lines/s {cpu / n * 1e6:6.2f} us CPU/line "
      f"{rss:7.1f} MB RSS" + (f"  partials {partial / 1e6:6.2f} MB = {100 * partial / size:4.1f} % of the input" if k else ""))
PY
  done
  kill "$mock_pid"
  wait "$mock_pid" 2>/dev/null || true
}

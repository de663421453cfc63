# calibrate against analyze on the same generated file (issue 5: calibrate within 1.5x of
# `analyze --report json`). BENCH_CALIBRATE_LINES (default 10000000) sets the file size.
bench_calibrate() {
  local f
  f=$(combined_file "${BENCH_CALIBRATE_LINES:-10000000}")
  echo "== calibrate vs analyze: $(cached_line_count "$f") combined lines, $(($(stat -c %s "$f") / 1000000)) MB"
  measure "logpipe analyze --report json" "$f" "$LOGPIPE" analyze --format combined --report json "$f"
  measure "logpipe calibrate -o /dev/null" "$f" "$LOGPIPE" calibrate --format combined --no-progress -o /dev/null "$f"
}

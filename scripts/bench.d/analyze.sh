# bench_analyze (sourced by scripts/bench): logpipe analyze against the per-URL error count in
# mawk and against GoAccess, one run each, on the same generated 1M-line combined log (made by
# tests/cli/analyze_gen.py, so it does not depend on `logpipe generate`).

# analyze_file N: a generated combined log of N lines (generated once, reused).
analyze_file() {
  local n=$1 f="$BENCH_DIR/analyze-combined-$1.log"
  if [ ! -s "$f" ]; then
    python3 "$LOGPIPE_ROOT/tests/cli/analyze_gen.py" "$n" --seed 1 >"$f.tmp" && mv "$f.tmp" "$f"
  fi
  echo "$f"
}

bench_analyze() {
  local f
  f=$(analyze_file "${ANALYZE_BENCH_LINES:-1000000}")
  echo "== analyze: $(cached_line_count "$f") combined lines, $(($(stat -c %s "$f") / 1000000)) MB"
  cat "$f" >/dev/null  # page cache warm for everyone
  measure "logpipe analyze --report json (all cores)" "$f" "$LOGPIPE" analyze --report json --no-progress "$f"
  measure "logpipe analyze --report json --threads 1" "$f" "$LOGPIPE" analyze --report json --threads 1 \
    --no-progress "$f"
  measure "logpipe analyze --report html" "$f" "$LOGPIPE" analyze --report html --no-progress "$f"
  measure "mawk per-URL requests and errors" "$f" mawk \
    '{ u = $7; q = index(u, "?"); if (q) u = substr(u, 1, q - 1); n[u]++; if ($9 >= 400) e[u]++ }
     END { for (u in n) print u, n[u], e[u] + 0 }' "$f"
  measure "goaccess --log-format=COMBINED -o out.json" "$f" goaccess --log-format=COMBINED \
    -o "$BENCH_DIR/goaccess.json" "$f"
}

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

# bench_state: saved states (--save-state, --merge) on the same file cut into 10 parts at line
# boundaries ("days"): reading the 10 parts, reading them while saving a state, and merging the
# 10 saved states instead (MB/s of the merge: of the log it stands for, which it does not read).
bench_state() {
  local f d p parts=() states=()
  f=$(analyze_file "${ANALYZE_BENCH_LINES:-1000000}")
  d="$BENCH_DIR/state"
  rm -rf "$d" && mkdir -p "$d"
  split -n l/10 -d "$f" "$d/part"
  for p in "$d"/part0?; do
    parts+=("$p")
    "$LOGPIPE" analyze --no-progress --save-state "$p.state" -o /dev/null "$p"
    states+=("$p.state")
  done
  echo "== saved states: $(cached_line_count "$f") combined lines ($(($(stat -c %s "$f") / 1000000)) MB) in 10 parts;" \
    "10 states: $(($(cat "${states[@]}" | wc -c) / 1000)) kB"
  cat "$f" >/dev/null
  measure "logpipe analyze --report json (10 parts)" "$f" "$LOGPIPE" analyze --report json --no-progress "${parts[@]}"
  measure "logpipe analyze --save-state (10 parts)" "$f" "$LOGPIPE" analyze --report json --no-progress \
    --save-state "$d/all.state" "${parts[@]}"
  measure "logpipe analyze --merge (10 states)" "$f" "$LOGPIPE" analyze --merge --report json "${states[@]}"
  "$LOGPIPE" analyze --report json --no-progress "${parts[@]}" >"$d/one.json"
  "$LOGPIPE" analyze --merge --report json "${states[@]}" | cmp - "$d/one.json" && echo "merged report = one run: identical"
}

# bench_analyze_memory: peak RSS on 10M lines (`logpipe generate`, 2.6 GB) for analyze with and
# without --max-keys, and GoAccess on the same file (GoAccess takes about 9 minutes here).
bench_analyze_memory() {
  local f
  f=$(combined_file "${ANALYZE_MEMORY_LINES:-10000000}")
  echo "== analyze memory: $(cached_line_count "$f") combined lines, $(($(stat -c %s "$f") / 1000000)) MB"
  cat "$f" >/dev/null
  measure "logpipe analyze --report json (all cores)" "$f" "$LOGPIPE" analyze --report json --no-progress "$f"
  measure "logpipe analyze --report json --threads 1" "$f" "$LOGPIPE" analyze --report json --threads 1 --no-progress "$f"
  measure "logpipe analyze --max-keys 100000" "$f" "$LOGPIPE" analyze --report json --max-keys 100000 --no-progress "$f"
  measure "logpipe analyze --max-keys 10000" "$f" "$LOGPIPE" analyze --report json --max-keys 10000 --no-progress "$f"
  measure "goaccess --log-format=COMBINED -o out.json" "$f" goaccess --log-format=COMBINED \
    -o "$BENCH_DIR/goaccess-memory.json" "$f"
}

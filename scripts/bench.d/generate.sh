# Sourced by scripts/bench: the generator's own speed.
# generate: lines/s and MB/s of `generate --no-pace --count 5000000 -o /dev/null` per format,
# best of 3 runs, timed from outside (setup included). "cpu" divides by user+system CPU time
# instead of wall time: on a shared machine it is the steadier figure of one core's speed.
bench_generate() {
  local count=5000000 format run times wall cpu best_wall best_cpu bytes err
  err=$(mktemp)
  echo "== generate --no-pace --count $count -o /dev/null (best of 3)"
  for format in combined common clickstream edx; do
    best_wall=999999 best_cpu=999999
    for run in 1 2 3; do
      times=$( { TIMEFORMAT='%R %U %S'; time "$LOGPIPE" generate --no-pace --count "$count" \
        --format "$format" -o /dev/null -v 2>"$err"; } 2>&1 )
      bytes=$(sed -n 's/.* lines, \([0-9]*\) bytes .*/\1/p' "$err")
      wall=$(awk '{ print $1 }' <<<"$times")
      cpu=$(awk '{ print $2 + $3 }' <<<"$times")
      best_wall=$(awk -v a="$best_wall" -v b="$wall" 'BEGIN { print (b < a ? b : a) }')
      best_cpu=$(awk -v a="$best_cpu" -v b="$cpu" 'BEGIN { print (b < a ? b : a) }')
    done
    awk -v f="$format" -v n="$count" -v w="$best_wall" -v c="$best_cpu" -v b="$bytes" 'BEGIN {
      printf "  %-12s wall %6.3f s: %6.2f M lines/s %7.1f MB/s | cpu %6.3f s: %6.2f M lines/s %7.1f MB/s | %d bytes/line\n",
        f, w, n / w / 1e6, b / w / 1e6, c, n / c / 1e6, b / c / 1e6, b / n
    }'
  done
  rm -f "$err"
}

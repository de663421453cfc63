#!/usr/bin/env bash
# analyze --threads N gives byte for byte what one thread gives, for every report format: on a
# generated clickstream log (sessions cross every split point) with malformed lines at known
# places, on the real Apache sample, and on several files at once (plain + gzip). The malformed
# summary names the same FILE:LINE whatever the split.
set -euo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
python3 "$SRC/tests/cli/analyze_gen.py" 30000 --clickstream --seed 7 >"$tmp/gen.log"
# Malformed lines at 12345 and 25000 (the second lands in a later byte range).
awk 'NR == 12345 || NR == 25000 { print "garbage line " NR; next } { print }' "$tmp/gen.log" >"$tmp/bad.log"
[ "$(stat -c %s "$tmp/bad.log")" -gt 2000000 ] || { echo "generated file too small to split"; exit 1; }
files=("$tmp/bad.log")
apache="$SHARED/apache/elastic_examples_apache_logs.log"
if [ -f "$apache" ]; then
  gzip -c "$apache" >"$tmp/apache.log.gz"
  files+=("$apache" "$tmp/apache.log.gz")
fi
for report in json csv text html; do
  for set in one all; do
    if [ $set = one ]; then in=("$tmp/bad.log"); else in=("${files[@]}"); fi
    "$LOGPIPE" analyze --format clickstream --report $report --top 0 --threads 1 "${in[@]}" >"$tmp/t1" 2>"$tmp/e1" || true
    [ -s "$tmp/t1" ] || { echo "no output for --report $report"; exit 1; }
    for t in 2 3 8; do
      "$LOGPIPE" analyze --format clickstream --report $report --top 0 --threads $t "${in[@]}" >"$tmp/t$t" 2>"$tmp/e$t" || true
      cmp "$tmp/t1" "$tmp/t$t" || { echo "--report $report ($set): --threads $t differs from --threads 1"; exit 1; }
      cmp "$tmp/e1" "$tmp/e$t" || { echo "stderr ($set) differs with --threads $t"; diff "$tmp/e1" "$tmp/e$t"; exit 1; }
    done
  done
done
# The split really happened, and the malformed lines are located right.
"$LOGPIPE" analyze -v --format clickstream --report json --threads 3 "$tmp/bad.log" >/dev/null 2>"$tmp/err"
grep -q "bad.log: 3 ranges on 3 threads" "$tmp/err"
grep -q "logpipe: 2 malformed lines skipped; first: .*bad.log:12345: " "$tmp/err"
"$LOGPIPE" analyze --format clickstream --report json --threads 3 --rejects "$tmp/rejects" "$tmp/bad.log" >/dev/null 2>&1
printf 'garbage line 12345\ngarbage line 25000\n' | cmp - "$tmp/rejects"
# --strict stops with exit 3 at the first one, even when split.
set +e
"$LOGPIPE" analyze --format clickstream --strict --threads 3 "$tmp/bad.log" >/dev/null 2>"$tmp/err"
rc=$?
set -e
[ $rc -eq 3 ] || { echo "--strict: exit $rc"; exit 1; }
grep -q "bad.log:12345: malformed line" "$tmp/err"
echo ok

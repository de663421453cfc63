#!/usr/bin/env bash
# analyze on a small hand-made log whose every figure was checked by hand (docs/analyze.md walks
# through the sessions): the text, JSON and CSV reports and the stderr summary equal the golden
# files in tests/cli/analyze_golden/ byte for byte. Also: the same input through stdin, gzip and
# zstd gives the same report, and --since/--until keep [since, until).
set -euo pipefail
dir="$SRC/tests/cli/analyze_golden"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$dir"
"$LOGPIPE" analyze --format combined small.log >"$tmp/small.txt" 2>"$tmp/small.err"
diff -u small.txt "$tmp/small.txt"
diff -u small.err "$tmp/small.err"
"$LOGPIPE" analyze --format combined --report json --top 3 small.log >"$tmp/small.json" 2>/dev/null
diff -u small.json "$tmp/small.json"
"$LOGPIPE" analyze --format combined --report csv --top 3 small.log >"$tmp/small.csv" 2>/dev/null
cmp small.csv "$tmp/small.csv"
# Auto-detection, stdin and compressed inputs give the same report.
gzip -c small.log >"$tmp/small.log.gz"
zstd -q -c small.log >"$tmp/small.log.zst"
"$LOGPIPE" analyze --report json --top 3 - <small.log 2>/dev/null | cmp - small.json
"$LOGPIPE" analyze --report json --top 3 "$tmp/small.log.gz" 2>/dev/null | cmp - small.json
"$LOGPIPE" analyze --report json --top 3 "$tmp/small.log.zst" 2>/dev/null | cmp - small.json
# -o writes the file, nothing on stdout.
"$LOGPIPE" analyze --report json --top 3 -o "$tmp/out.json" small.log 2>/dev/null | cmp - /dev/null
cmp "$tmp/out.json" small.json
# --since/--until: 08:02:00 <= t < 08:40:00, counted by awk.
"$LOGPIPE" analyze --report json --since 2025-06-23T08:02:00Z --until 2025-06-23T08:40:00Z small.log 2>/dev/null >"$tmp/f.json"
want=$(awk -F'[][]' '/^10/ { split($2, t, ":"); hm = t[2] ":" t[3] ":" t[4]; if (hm >= "08:02:00" && hm < "08:40:00") n++ } END { print n }' small.log)
python3 -c "import json,sys; r=json.load(open('$tmp/f.json')); assert r['requests'] == $want and r['filtered_out'] == 10 - $want, r" 
# A date is midnight UTC: nothing on 2025-06-24.
"$LOGPIPE" analyze --report json --since 2025-06-24 small.log 2>/dev/null | python3 -c "import json,sys; r=json.load(sys.stdin); assert r['requests'] == 0 and r['filtered_out'] == 10, r"
# Usage errors exit 2 before any output; a missing file exits 1.
set +e
"$LOGPIPE" analyze --since yesterday-ish small.log >/dev/null 2>"$tmp/err"; rc1=$?
"$LOGPIPE" analyze --since 2025-06-24 --until 2025-06-23 small.log >/dev/null 2>>"$tmp/err"; rc2=$?
"$LOGPIPE" analyze --by week small.log >/dev/null 2>>"$tmp/err"; rc3=$?
"$LOGPIPE" analyze --report json -o "$tmp/never.json" small.log "$tmp/missing.log" >/dev/null 2>>"$tmp/err"; rc4=$?
"$LOGPIPE" analyze --format nope -o "$tmp/never.json" small.log >/dev/null 2>>"$tmp/err"; rc5=$?
set -e
[ "$rc1 $rc2 $rc3 $rc4 $rc5" = "2 2 2 1 2" ] || { echo "exit codes: $rc1 $rc2 $rc3 $rc4 $rc5"; cat "$tmp/err"; exit 1; }
grep -q "^logpipe: analyze: --since: expected RFC 3339" "$tmp/err"
grep -q "cannot open '$tmp/missing.log'" "$tmp/err"
[ ! -e "$tmp/never.json" ] || { echo "the output was created although an input is missing"; exit 1; }
echo ok

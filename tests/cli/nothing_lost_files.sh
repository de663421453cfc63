#!/usr/bin/env bash
# Issue #9 "Nothing lost", files and stdin: lines in = records + malformed, with exact counts
# built by nothing_lost.py (not by logpipe), for analyze and stream (and anonymize on the cut
# compressed files):
#   - a line of 10 MB (junk: one malformed line), NUL bytes inside a good line (a record) and a
#     line of NUL bytes (malformed), a file truncated mid-line (its last line counts, malformed);
#   - a gzip and a zstd file cut short: exit 1 and a message naming the file, and every line
#     decoded before the cut counted (the partial one as malformed, "line cut short").
set -euo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
peer="$SRC/tests/cli/nothing_lost.py"
read -r records malformed < <(python3 "$peer" make "$tmp/in.log" --long)
[ "$records" = 1001 ] && [ "$malformed" = 3 ]
lines=$((records + malformed))

counts() {  # REPORT.json -> "REQUESTS MALFORMED"
  python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(r["requests"], r["malformed"])' "$1"
}
expect() {  # WHAT GOT WANT ERRFILE
  [ "$2" = "$3" ] || { echo "FAIL $1: got '$2', want '$3'"; cat "$4"; exit 1; }
}

# Plain file and stdin, analyze and stream (stream counts lines and records with -v).
"$LOGPIPE" analyze --format combined --report json "$tmp/in.log" >"$tmp/r.json" 2>"$tmp/err"
expect "analyze FILE" "$(counts "$tmp/r.json")" "$records $malformed" "$tmp/err"
"$LOGPIPE" analyze --format combined --report json - <"$tmp/in.log" >"$tmp/r.json" 2>"$tmp/err"
expect "analyze stdin" "$(counts "$tmp/r.json")" "$records $malformed" "$tmp/err"
grep -q "^logpipe: $malformed malformed lines skipped; first: -:203: " "$tmp/err" || { cat "$tmp/err"; exit 1; }
for input in "$tmp/in.log" -; do
  "$LOGPIPE" stream -v --format combined "$input" <"$tmp/in.log" >/dev/null 2>"$tmp/err"
  grep -q "stream: $lines lines, $records records, 0 late" "$tmp/err" || { echo "stream $input"; cat "$tmp/err"; exit 1; }
  grep -q "^logpipe: $malformed malformed lines skipped" "$tmp/err" || { cat "$tmp/err"; exit 1; }
done

# A valid request with a 10 MB URL is one record (the parser has no line-length limit).
python3 - "$tmp/huge.log" <<'PY'
import sys
url = "/p?" + "a" * (10 * 1024 * 1024)
open(sys.argv[1], "w").write(f'10.1.1.1 - - [23/Jun/2025:08:00:00 +0000] "GET {url} HTTP/1.1" 200 5 "-" "x"\n')
PY
"$LOGPIPE" analyze --format combined --report json "$tmp/huge.log" >"$tmp/r.json" 2>"$tmp/err"
expect "analyze 10 MB request" "$(counts "$tmp/r.json")" "1 0" "$tmp/err"

# Compressed files cut short: 10,000 more lines (zstd decodes whole 128 KB blocks, so it needs
# several) and the hostile lines but the 10 MB one (grep ends the cut line with a newline), so
# that the cut falls among ordinary lines.
# The expected counts come from zlib (python) and the zstd CLI decoding the same bytes.
python3 "$peer" good "$tmp/more.log" 10000 --from 10000  # after in.log's times: none is late
{ grep -av "^xxxx" "$tmp/in.log" || true; cat "$tmp/more.log"; } >"$tmp/short.log"
gzip -c "$tmp/short.log" >"$tmp/full.gz"
zstd -q -c "$tmp/short.log" >"$tmp/full.zst"
python3 "$peer" cut "$tmp/full.gz" "$tmp/cut.gz" 0.5
python3 "$peer" cut "$tmp/full.zst" "$tmp/cut.zst" 0.5
printf 'k3y' >"$tmp/key"
want_gz=$(python3 "$peer" count-gzip "$tmp/cut.gz")
want_zst=$( (zstd -dc <"$tmp/cut.zst" 2>/dev/null || true) | python3 "$peer" count-decoded)
for kind in gz zst; do
  want=$want_gz; [ $kind = zst ] && want=$want_zst
  read -r want_records want_malformed <<<"$want"
  [ "$want_records" -gt 100 ] && [ "$want_malformed" -ge 1 ]  # the cut is mid-file, mid-line
  name=gzip; [ $kind = zst ] && name=zstd
  # analyze: the report covers what was decoded, then exit 1 naming the file.
  status=0
  "$LOGPIPE" analyze --format combined --report json "$tmp/cut.$kind" "$tmp/in.log" >"$tmp/r.json" 2>"$tmp/err" || status=$?
  expect "analyze cut.$kind exit status" "$status" 1 "$tmp/err"
  grep -q "^logpipe: $tmp/cut.$kind: truncated $name data$" "$tmp/err" || { cat "$tmp/err"; exit 1; }
  grep -q "line cut short (the input ended inside it)" "$tmp/err" || { cat "$tmp/err"; exit 1; }
  # ... and goes on with the next file, like gzip -d and grep do.
  expect "analyze cut.$kind + in.log" "$(counts "$tmp/r.json")" \
    "$((want_records + records)) $((want_malformed + malformed))" "$tmp/err"
  # stream: the windows read so far are evaluated, the counts printed, then exit 1.
  status=0
  "$LOGPIPE" stream -v --format combined "$tmp/cut.$kind" >/dev/null 2>"$tmp/err" || status=$?
  expect "stream cut.$kind exit status" "$status" 1 "$tmp/err"
  grep -q "stream: $((want_records + want_malformed)) lines, $want_records records, 0 late" "$tmp/err" ||
    { echo "stream cut.$kind: want $want_records records"; cat "$tmp/err"; exit 1; }
  grep -q "^logpipe: $tmp/cut.$kind: truncated $name data$" "$tmp/err" || { cat "$tmp/err"; exit 1; }
  # anonymize: every whole line decoded is written or rejected, the cut one rejected, exit 1.
  status=0
  "$LOGPIPE" anonymize -v --key-file "$tmp/key" --format combined "$tmp/cut.$kind" >"$tmp/anon" 2>"$tmp/err" ||
    status=$?
  expect "anonymize cut.$kind exit status" "$status" 1 "$tmp/err"
  grep -q "^logpipe: $((want_records + want_malformed)) lines read, $want_records written, $want_malformed rejected" \
    "$tmp/err" || { echo "anonymize cut.$kind: want $want_records written"; cat "$tmp/err"; exit 1; }
  expect "anonymize cut.$kind output lines" "$(wc -l <"$tmp/anon")" "$want_records" "$tmp/err"
done
echo ok

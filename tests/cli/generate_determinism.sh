#!/usr/bin/env bash
# --seed: same seed and options, same bytes (also through .gz and .zst outputs, whose content
# is checked with the system's gzip and zstd); another seed gives other bytes.
set -euo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for f in combined common clickstream edx; do
  "$LOGPIPE" generate --no-pace --count 20000 --seed 42 --format $f >"$tmp/a"
  "$LOGPIPE" generate --no-pace --count 20000 --seed 42 --format $f -o "$tmp/b.gz"
  "$LOGPIPE" generate --no-pace --count 20000 --seed 42 --format $f -o "$tmp/c.zst"
  gzip -dc "$tmp/b.gz" | cmp - "$tmp/a"
  zstd -qdc "$tmp/c.zst" | cmp - "$tmp/a"
  "$LOGPIPE" generate --no-pace --count 20000 --seed 43 --format $f >"$tmp/d"
  ! cmp -s "$tmp/a" "$tmp/d"
done
# Exact first line of the default run: a change here changes every user's generated data.
first=$("$LOGPIPE" generate --count 1)
[ "$first" = '29.100.84.235 - - [23/Jun/2025:00:00:00 +0000] "GET /products/smart-lamp-3012 HTTP/1.1" 200 44469 "-" "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"' ] || { echo "first line: $first"; exit 1; }
# --duration and --rate: 90 s at 20 lines/s = 1800 lines, the last one at 00:01:29.
"$LOGPIPE" generate --no-pace --rate 20 --duration 90s >"$tmp/e"
[ "$(wc -l <"$tmp/e")" -eq 1800 ]
tail -1 "$tmp/e" | grep >/dev/null '\[23/Jun/2025:00:01:29 +0000\]'
# head closing the pipe is not an error
"$LOGPIPE" generate --no-pace --count 10000000 | head -3 >/dev/null
echo ok

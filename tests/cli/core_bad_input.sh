#!/usr/bin/env bash
# Bad input is normal input: malformed lines are counted and reported with FILE:LINE, written
# verbatim with --rejects, stop the run with exit 3 under --strict; NUL bytes, invalid UTF-8, a
# 10 MB line, CRLF endings and a last line without newline are all handled; a truncated gzip file
# is a clear error that names the file.
set -euo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
good='1.2.3.4 - - [23/Jun/2025:08:00:00 +0000] "GET /a?x=1 HTTP/1.1" 200 10 "-" "curl/8"'
bad1='1.2.3.4 - - [23/Jun/2025:08:00:00 +0000] "GET /a HTTP/1.1" 200 10 "-" "unterminated'
{
  printf '%s\r\n' "$good"
  printf '%s\n' "$bad1"
  printf '\n   \n'
  printf '1.2.3.4 - - [23/Jun/2025:08:00:01 +0000] "GET /\xff\xfe HTTP/1.1" 404 5 "-" "x"\n'
  printf 'garbage\0with NUL\n'
  python3 -c 'import sys; sys.stdout.write("x" * 10_000_000 + "\n")'
  printf '%s' "$good"   # no final newline
} >"$tmp/in.log"

"$LOGPIPE" analyze --format combined --report json --rejects "$tmp/rejects" "$tmp/in.log" \
  >"$tmp/out.json" 2>"$tmp/err"
python3 - "$tmp/out.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["requests"] == 3, r
assert r["malformed"] == 3, r
assert r["errors"] == 1, r
assert r["status"] == {"200": 2, "404": 1}, r
assert r["urls"][0] == {"url": "/a", "requests": 2, "errors": 0}, r
assert r["urls"][1] == {"url": "/\\u00ff\\u00fe".encode().decode("unicode_escape"), "requests": 1, "errors": 1}, r
PY
grep -qx "logpipe: 3 malformed lines skipped; first: $tmp/in.log:2: unterminated quoted field" "$tmp/err"
# The rejects file holds the three malformed lines verbatim, in order.
python3 - "$tmp/rejects" <<'PY'
import sys
data = open(sys.argv[1], "rb").read().split(b"\n")
assert data[-1] == b""
assert data[0].endswith(b'"unterminated'), data[0][:80]
assert data[1] == b"garbage\0with NUL", data[1]
assert data[2] == b"x" * 10_000_000
assert len(data) == 4
PY

# --strict: exit 3 at the first malformed line, naming FILE:LINE.
set +e
"$LOGPIPE" analyze --format combined --report json --strict "$tmp/in.log" >/dev/null 2>"$tmp/err"
rc=$?
set -e
[ "$rc" -eq 3 ] || { echo "strict: exit $rc, expected 3"; exit 1; }
grep -qx "logpipe: $tmp/in.log:2: malformed line (unterminated quoted field)" "$tmp/err"

# A truncated gzip file: exit 1 with a message naming the file.
head -c 200 /dev/urandom >/dev/null
for i in $(seq 1 2000); do printf '%s\n' "$good"; done | gzip -c >"$tmp/full.gz"
head -c 300 "$tmp/full.gz" >"$tmp/cut.gz"
set +e
"$LOGPIPE" analyze --format combined --report json "$tmp/cut.gz" >/dev/null 2>"$tmp/err"
rc=$?
set -e
[ "$rc" -eq 1 ] || { echo "truncated gzip: exit $rc, expected 1"; exit 1; }
grep -q "$tmp/cut.gz: truncated gzip data" "$tmp/err"

# A missing file is an error before any work, naming the file; usage errors exit 2.
set +e
"$LOGPIPE" analyze --report json "$tmp/in.log" "$tmp/missing.log" >"$tmp/out" 2>"$tmp/err"; rc=$?
set -e
[ "$rc" -eq 1 ] && [ ! -s "$tmp/out" ] && grep -q "cannot open '$tmp/missing.log'" "$tmp/err"
set +e
"$LOGPIPE" analyze --format nope --report json "$tmp/in.log" >/dev/null 2>"$tmp/err"; rc=$?
set -e
[ "$rc" -eq 2 ] && grep -q "unknown format 'nope'" "$tmp/err"
echo ok

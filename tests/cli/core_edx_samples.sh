#!/usr/bin/env bash
# Every edX/FUN sample parses: JSON objects are records, `#` comment lines are malformed, blank
# lines are ignored. Python's json module is the independent count. The gzip and zstd forms of
# each file give byte-identical reports.
set -euo pipefail
[ -d "$SHARED/edx" ] || { echo "SKIP: $SHARED/edx absent (no ../shared/data)"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for f in "$SHARED"/edx/*.log "$SHARED"/fun/*.log; do
  "$LOGPIPE" analyze --format edx --report json "$f" >"$tmp/plain.json" 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
  python3 - "$f" "$tmp/plain.json" <<'PY'
import json, sys
path, report = sys.argv[1], json.load(open(sys.argv[2]))
records = malformed = 0
with open(path, "rb") as fh:
    data = fh.read().decode("utf-8", "surrogateescape")
lines = data.split("\n")
if lines and lines[-1] == "":
    lines.pop()
for line in lines:
    if line.strip(" \t\r") == "":
        continue
    try:
        obj = json.loads(line)
        ok = isinstance(obj, dict)
    except ValueError:
        ok = False
    records += ok
    malformed += not ok
assert report["requests"] == records, (path, report["requests"], records)
assert report["malformed"] == malformed, (path, report["malformed"], malformed)
PY
  gzip -c "$f" >"$tmp/x.gz"
  zstd -q -c "$f" >"$tmp/x.zst"
  "$LOGPIPE" analyze --format edx --report json "$tmp/x.gz" >"$tmp/gz.json" 2>/dev/null
  "$LOGPIPE" analyze --format edx --report json "$tmp/x.zst" >"$tmp/zst.json" 2>/dev/null
  cmp "$tmp/plain.json" "$tmp/gz.json"
  cmp "$tmp/plain.json" "$tmp/zst.json"
done
# Auto-detection picks edx on tracking logs, and says so with -v (with the sample lines it read).
"$LOGPIPE" analyze -v --report json "$SHARED/edx/eap_trajectory_tracking.log" 2>&1 >/dev/null |
  grep -qx "logpipe: $SHARED/edx/eap_trajectory_tracking.log: detected format edx (16 of 16 sample lines)"
echo ok

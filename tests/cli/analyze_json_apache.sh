#!/usr/bin/env bash
# analyze --report json on the real Apache sample: 9,999 records, one malformed line (8,899), and
# status counts equal to an independent count by awk over the well-formed lines.
set -euo pipefail
log="$SHARED/apache/elastic_examples_apache_logs.log"
[ -f "$log" ] || { echo "SKIP: $log absent (no ../shared/data)"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$LOGPIPE" analyze --report json --top 3 "$log" >"$tmp/out.json" 2>"$tmp/err"
grep -qx 'logpipe: 1 malformed line skipped; first: .*elastic_examples_apache_logs.log:8899: unterminated quoted field' "$tmp/err"
python3 - "$tmp/out.json" "$log" <<'PY'
import json, sys, collections
report = json.load(open(sys.argv[1]))
lines = open(sys.argv[2], encoding="latin-1").read().split("\n")
if lines[-1] == "": lines.pop()
good = [l for i, l in enumerate(lines, 1) if i != 8899]
status = collections.Counter(l.split('"')[2].split()[0] for l in good)
assert report["requests"] == 9999, report["requests"]
assert report["malformed"] == 1
assert report["status"] == dict(status), (report["status"], status)
assert report["errors"] == sum(v for k, v in status.items() if int(k) >= 400)
ips = {l.split(" ", 1)[0] for l in good}
assert report["unique_ips"] == len(ips)
print("ok")
PY

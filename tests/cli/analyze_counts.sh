#!/usr/bin/env bash
# analyze --report json on a generated combined log equals an independent count by awk: requests,
# errors, bytes, unique_ips, status, and the top URLs (path without query) with their errors, in
# order (most requested first, ties by url). ANALYZE_LINES sets the size (default 200000; the
# issue's acceptance run uses 1000000).
set -euo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
lines=${ANALYZE_LINES:-200000}
python3 "$SRC/tests/cli/analyze_gen.py" "$lines" --seed 3 >"$tmp/access.log"
"$LOGPIPE" analyze --report json --top 25 "$tmp/access.log" >"$tmp/report.json"
mawk '
  { req++; st[$9]++; ip[$1] = 1
    if ($9 >= 400) err++
    if ($10 != "-") bytes += $10
    u = $7; q = index(u, "?"); if (q) u = substr(u, 1, q - 1)
    ureq[u]++; if ($9 >= 400) uerr[u]++ }
  END {
    n = 0; for (k in ip) n++
    printf "requests %d\nerrors %d\nbytes %.0f\nunique_ips %d\n", req, err, bytes, n
    for (s in st) printf "status %s %d\n", s, st[s]
    for (u in ureq) printf "url %d %s %d\n", ureq[u], u, uerr[u]
  }' "$tmp/access.log" >"$tmp/awk.out"
python3 - "$tmp/report.json" "$tmp/awk.out" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
totals, status, urls = {}, {}, []
for line in open(sys.argv[2]):
    f = line.split()
    if f[0] == "status": status[f[1]] = int(f[2])
    elif f[0] == "url": urls.append((-int(f[1]), f[2], int(f[3])))
    else: totals[f[0]] = int(f[1])
for k in ("requests", "errors", "bytes", "unique_ips"):
    assert report[k] == totals[k], (k, report[k], totals[k])
assert report["malformed"] == 0
assert report["status"] == status, (report["status"], status)
urls.sort()  # most requested first, then url (byte order, as logpipe sorts)
expected = [{"url": u, "requests": -n, "errors": e} for n, u, e in urls[:25]]
assert report["urls"] == expected, (report["urls"][:3], expected[:3])
ts = report["timeseries"]
assert sum(p["requests"] for p in ts) == totals["requests"]
assert sum(p["errors"] for p in ts) == totals["errors"]
print("ok", totals["requests"], "lines")
PY

#!/usr/bin/env bash
# The report's newer panels recomputed independently by Python from the raw lines: not-found urls,
# referring domains, hour of day, weekday and visitors per day on the real Apache log (UTC and
# --tz Europe/Paris); response times overall and per url (count, total, max exact; quantiles
# nearest-rank within 6.25%) on generated lines with %D. The text and CSV reports carry the same
# numbers as the JSON one.
set -euo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# Response times: generated lines whose last field is %D (microseconds).
"$LOGPIPE" generate --count 20000 --seed 7 --with-duration --error-rate 0.05 >"$tmp/timed.log" 2>/dev/null
"$LOGPIPE" analyze --report json --top 5 "$tmp/timed.log" >"$tmp/timed.json" 2>/dev/null
"$LOGPIPE" analyze --report csv --top 5 "$tmp/timed.log" >"$tmp/timed.csv" 2>/dev/null
"$LOGPIPE" analyze --top 5 --color never "$tmp/timed.log" >"$tmp/timed.txt" 2>/dev/null
python3 - "$tmp/timed.json" "$tmp/timed.log" "$tmp/timed.csv" "$tmp/timed.txt" <<'PY'
import collections, csv, json, math, sys
report = json.load(open(sys.argv[1]))
per_url = collections.defaultdict(list)
for line in open(sys.argv[2]):
    path = line.split('"')[1].split()[1].split("?")[0]
    per_url[path].append(int(line.rsplit(" ", 1)[1]))
every = [d for v in per_url.values() for d in v]
def near(got, want):
    return abs(got - want) <= want * 0.0625 + 1e-9
def exact_q(v, q):
    v = sorted(v)
    return v[max(1, math.ceil(q * len(v) - 1e-9)) - 1] / 1000
def check(row, v, name):
    assert row["count"] == len(v), (name, row["count"], len(v))
    assert abs(row["total_ms"] - sum(v) / 1000) < 0.001, (name, row["total_ms"], sum(v))
    assert abs(row["max_ms"] - max(v) / 1000) < 0.001, (name, row["max_ms"])
    for q, key in ((0.5, "p50_ms"), (0.95, "p95_ms"), (0.99, "p99_ms")):
        assert near(row[key], exact_q(v, q)), (name, key, row[key], exact_q(v, q))
check(report["latency"], every, "(all)")
want = sorted(per_url, key=lambda u: (-sum(per_url[u]), u))[:5]
assert [r["url"] for r in report["url_latency"]] == want, ([r["url"] for r in report["url_latency"]], want)
for r in report["url_latency"]:
    check(r, per_url[r["url"]], r["url"])
# CSV: the same rows (an empty url is the overall row).
rows = [r for r in csv.reader(open(sys.argv[3], newline="")) if r and r[0] == "latency"]
assert len(rows) == 6, rows
assert rows[0][1] == "" and int(rows[0][2]) == report["latency"]["count"]
for r, j in zip(rows[1:], report["url_latency"]):
    assert r[1] == j["url"] and float(r[5]) == j["p95_ms"] and float(r[8]) == j["total_ms"], (r, j)
# Text: the section lists each url with its p95.
text = open(sys.argv[4]).read()
section = text.split("\nResponse times (ms)\n", 1)[1].split("\n\n", 1)[0]
for j in report["url_latency"]:
    assert any(l.split()[-1] == j["url"] and l.split()[3] == f"{j['p95_ms']:.3f}" for l in section.splitlines()), (j, section)
print("latency ok:", len(every), "timed records,", len(per_url), "urls")
PY

log="$SHARED/apache/elastic_examples_apache_logs.log"
[ -f "$log" ] || { echo "SKIP: $log absent (no ../shared/data): the Apache panels were not checked"; exit 77; }
for tz in UTC Europe/Paris; do
  "$LOGPIPE" analyze --report json --top 10 --tz "$tz" "$log" >"$tmp/a.json" 2>/dev/null
  "$LOGPIPE" analyze --report csv --top 10 --tz "$tz" "$log" >"$tmp/a.csv" 2>/dev/null
  python3 - "$tmp/a.json" "$log" "$tz" "$tmp/a.csv" <<'PY'
import collections, csv, datetime, json, sys
from zoneinfo import ZoneInfo
report = json.load(open(sys.argv[1]))
zone = ZoneInfo(sys.argv[3])
lines = open(sys.argv[2], encoding="latin-1").read().split("\n")
if lines[-1] == "": lines.pop()
good = [l for i, l in enumerate(lines, 1) if i != 8899]  # the one malformed line
nf = collections.Counter()
domains = collections.Counter()
hours = collections.Counter()
weekdays = collections.Counter()
visitors = collections.defaultdict(set)
for l in good:
    q = l.split('"')
    status = q[2].split()[0]
    path = q[1].split()[1].split("?")[0]
    if status == "404":
        nf[path] += 1
    ref = q[3]
    if ref not in ("-", ""):
        low = ref.lower()
        if low.startswith("http://") or low.startswith("https://"):
            host = ref.split("://", 1)[1]
            for c in "/?#":
                host = host.split(c, 1)[0]
            host = host.rsplit("@", 1)[-1].split(":", 1)[0].lower() or ref
        else:
            host = ref
        domains[host] += 1
    stamp = l.split("[", 1)[1].split("]", 1)[0]
    t = datetime.datetime.strptime(stamp, "%d/%b/%Y:%H:%M:%S %z").astimezone(zone)
    hours[t.hour] += 1
    weekdays[t.weekday()] += 1
    visitors[t.date().isoformat()].add(l.split(" ", 1)[0])
top = lambda c: [(k, n) for k, n in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:10]]
got_nf = [(r["url"], r["requests"]) for r in report["not_found"]]
assert got_nf == top(nf), (got_nf, top(nf))
got_dom = [(r["domain"], r["requests"]) for r in report["referring_domains"]]
assert got_dom == top(domains), (got_dom, top(domains))
assert [h["requests"] for h in report["hours"]] == [hours[h] for h in range(24)], report["hours"]
names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
assert [(d["weekday"], d["requests"]) for d in report["weekdays"]] == [(names[i], weekdays[i]) for i in range(7)]
assert [(d["day"], d["visitors"]) for d in report["visitors_per_day"]] == sorted((k, len(v)) for k, v in visitors.items())
rows = list(csv.reader(open(sys.argv[4], newline="")))
assert [(r[1], int(r[2])) for r in rows if r and r[0] == "not_found"] == got_nf
assert [int(r[2]) for r in rows if r and r[0] == "hours"] == [hours[h] for h in range(24)]
print(sys.argv[3], "ok:", sum(nf.values()), "404s,", len(domains), "referring domains,", len(visitors), "days")
PY
done

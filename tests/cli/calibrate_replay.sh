#!/usr/bin/env bash
# calibrate -> stream on one synthetic day (1,440 one-minute windows, written by python here, not
# by logpipe): recomputed independently, each metric is above its threshold in at most 1% of the
# windows (+1), error_rate and request_rate in more than 0.5%; `stream --config` accepts the file,
# fires alerts, and its episodes cover exactly the recomputed windows; --report json agrees.
set -euo pipefail
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"' EXIT  # KEEP=1: keep the files
python3 - "$tmp/day.log" <<'PY'
import math, random, sys
from datetime import datetime, timezone
rng = random.Random(20250623)
users = [f"user{i}" for i in range(300)] + ["-"] * 100
bad = set(users[:6])
ips = [f"10.{i // 250}.{i % 250}.{rng.randrange(1, 250)}" for i in range(400)]
proxies = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
urls = ["/", "/login", "/search", "/cart", "/checkout"] + [f"/products/p{i}" for i in range(60)]
weights = [1 / (i + 1) for i in range(len(urls))]
t0 = int(datetime(2025, 6, 23, tzinfo=timezone.utc).timestamp())
def poisson(lam):
    l, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= l:
            return k
        k += 1
with open(sys.argv[1], "w") as out:
    for minute in range(1440):
        lam = 200 * (1 + 0.6 * math.sin(2 * math.pi * (minute - 540) / 1440))
        n = poisson(lam)
        for s in sorted(rng.randrange(60) for _ in range(n)):
            t = datetime.fromtimestamp(t0 + minute * 60 + s, timezone.utc)
            heavy = rng.random() < 0.2  # a few API clients behind proxies make a fifth of the traffic
            user = rng.choice(["api1", "api2", "api3", "api4"]) if heavy else rng.choice(users)
            url = rng.choices(urls, weights)[0] + ("?q=" + str(rng.randrange(9)) if rng.random() < 0.2 else "")
            p_err = 0.3 if user in bad else (0.04 if user == "api4" else 0.02)
            status = rng.choice([404, 404, 404, 403, 500, 503]) if rng.random() < p_err else 200
            dur = int(rng.lognormvariate(10, 0.8))
            out.write(f'{rng.choice(proxies) if heavy else rng.choice(ips)} - {user} [{t.strftime("%d/%b/%Y:%H:%M:%S +0000")}] "GET {url} HTTP/1.1" '
                      f'{status} {rng.randrange(200, 9000)} "-" "test-agent/1.0" {dur}\n')
PY
fmt='logformat:%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" %D'

"$LOGPIPE" calibrate --rules threshold --format "$fmt" -o "$tmp/thresholds.toml" "$tmp/day.log" >"$tmp/table.txt"
cat "$tmp/table.txt"
grep -q '^1440 windows of 60s with traffic, target rate 0.01 (at most 14 firing windows per metric)$' "$tmp/table.txt"
grep -q '^# Alert thresholds written by `logpipe calibrate`' "$tmp/thresholds.toml"
grep -q '^\[metrics.url_p99_latency_ms\]$' "$tmp/thresholds.toml"

"$LOGPIPE" stream --format "$fmt" --config "$tmp/thresholds.toml" "$tmp/day.log" >"$tmp/alerts.jsonl"
python3 "$SRC/tests/cli/calibrate_recompute.py" "$tmp/day.log" "$tmp/thresholds.toml" \
  --alerts "$tmp/alerts.jsonl" --min-firing error_rate request_rate

# --report json: the same thresholds as the file, and the counts of the rule.
"$LOGPIPE" calibrate --rules threshold --format "$fmt" --report json -o "$tmp/again.toml" "$tmp/day.log" >"$tmp/report.json"
python3 - "$tmp/report.json" "$tmp/thresholds.toml" <<'PY'
import json, sys, tomllib
r = json.load(open(sys.argv[1]))
t = tomllib.load(open(sys.argv[2], "rb"))
assert r["windows"] == 1440 and r["allowed_firing_windows"] == 14 and r["exact"] is True, r
assert r["first_window_start"] == "2025-06-23T00:00:00Z" and r["last_window_end"] == "2025-06-24T00:00:00Z"
names = [m["metric"] for m in r["metrics"]]
assert names == ["error_rate", "server_error_rate", "url_error_rate", "user_error_rate", "ip_error_rate",
                 "request_rate", "ip_request_rate", "user_request_rate", "url_p99_latency_ms", "prefix_request_rate"], names
for m in r["metrics"]:
    s = t["metrics"][m["metric"]]
    assert m["threshold"] == s["threshold"] and m["min_requests"] == s["min_requests"], (m, s)
    assert m["p50"] <= m["p90"] <= m["p99"] <= m["p99_9"] <= m["max"], m
    assert m["firing_windows"] <= 14 and m["alert_rate"] == m["firing_windows"] / 1440, m
print("json report ok")
PY

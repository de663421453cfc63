#!/usr/bin/env bash
# analyze --max-keys: below the cap nothing changes (the report equals the uncapped one but for
# its key_cap entry, all zeros); over it, against an independent Python count of the same lines:
# totals, status codes and the time series stay exact, no listed count is ever over-estimated,
# the heavy keys at the top of each list are exact, and the report says what was evicted.
# --max-keys with --save-state or --merge is a usage error (a capped report is not mergeable).
set -euo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
python3 "$SRC/tests/cli/analyze_gen.py" 60000 --seed 4 >gen.log
"$LOGPIPE" analyze --report json --top 0 --no-progress gen.log >free.json
"$LOGPIPE" analyze --report json --top 0 --no-progress --max-keys 100000 gen.log >roomy.json
"$LOGPIPE" analyze --report json --top 20 --no-progress --max-keys 150 gen.log >capped.json
"$LOGPIPE" analyze --report json --top 0 --no-progress --max-keys 150 gen.log >capped-all.json
"$LOGPIPE" analyze --no-progress --color never --max-keys 100000 gen.log >roomy.txt
"$LOGPIPE" analyze --no-progress --color never --max-keys 150 gen.log >capped.txt
grep -q -- '--max-keys 100000: nothing evicted, every count exact' roomy.txt || { echo "FAIL: roomy text"; head -8 roomy.txt; exit 1; }
grep -q -- '--max-keys 150: [0-9]* keys evicted; a listed count may be low by at most [0-9]*' capped.txt ||
  { echo "FAIL: capped text"; head -8 capped.txt; exit 1; }
python3 - <<'PY'
import json, re
from collections import Counter
free, roomy, capped = (json.load(open(f)) for f in ("free.json", "roomy.json", "capped.json"))
cap = roomy.pop("key_cap")
assert all(v == 0 for v in cap["evicted_keys"].values()) and cap["sessions_cut"] == 0, cap
assert roomy == free, "below the cap the report differs"
line_re = re.compile(r'^(\S+) \S+ (\S+) \[[^\]]+\] "\S+ (\S+) [^"]*" (\d{3}) ')
urls, ips, users, status = Counter(), Counter(), Counter(), Counter()
errors = 0
for line in open("gen.log"):
    m = line_re.match(line)
    ip, user, url, st = m.group(1), m.group(2), m.group(3).split("?")[0], int(m.group(4))
    urls[url] += 1
    ips[ip] += 1
    if user != "-":
        users[user] += 1
    status[str(st)] += 1
    errors += st >= 400
assert capped["requests"] == sum(urls.values()) and capped["errors"] == errors
assert capped["status"] == dict(status), "status codes"
assert capped["timeseries"] == free["timeseries"], "time series"
kc = capped["key_cap"]
assert kc["max_keys"] == 150 and kc["evicted_keys"]["ips"] > 0 and kc["evicted_keys"]["urls"] > 0, kc
for table, field, truth in (("urls", "url", urls), ("ips", "ip", ips), ("users", "user", users)):
    rows = capped[table]
    assert len(rows) == 20, (table, len(rows))
    for r in rows:  # never over-estimated
        assert r["requests"] <= truth[r[field]], (table, r, truth[r[field]])
    # The heaviest keys are far above the eviction floor: listed first, exact.
    for (key, n), r in zip(truth.most_common(3), rows[:3]):
        assert (r[field], r["requests"]) == (key, n), (table, r, key, n)
# The rest is counted as other: kept keys + requests of evicted keys = every request with that key.
every = json.load(open("capped-all.json"))
for table, truth in (("urls", urls), ("ips", ips), ("users", users)):
    kept = sum(r["requests"] for r in every[table])
    assert kept + every["key_cap"]["other_requests"][table] == sum(truth.values()), (table, kept)
print("ok max-keys: exact below the cap; over it totals exact, tops exact, nothing over-estimated;",
      {t: kc["evicted_keys"][t] for t in ("urls", "ips", "users")}, "evicted, floors", kc["floors"])
PY
for other in "--save-state s.state" "--merge"; do
  set +e
  "$LOGPIPE" analyze --max-keys 10 $other gen.log >/dev/null 2>err; rc=$?
  set -e
  [ $rc = 2 ] || { echo "FAIL: --max-keys with $other: rc $rc"; cat err; exit 1; }
done
echo "ok max-keys: with --save-state or --merge, a usage error"

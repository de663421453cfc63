#!/usr/bin/env bash
# The error model over 200,000 lines, counted by awk/python from the text: the error share and
# the weight of each status match the flags within 5% relative, only the statuses of
# --status-mix appear as errors, and the bad users visibly carry their errors.
set -euo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$LOGPIPE" generate --no-pace --count 200000 --seed 7 --error-rate 0.04 \
  --status-mix '404=3,401=1,500=0.5,501=0.1' --bad-users 0.02 --bad-user-error-rate 0.7 \
  --bad-urls 0.002 --users 3000 >"$tmp/log"
python3 - "$tmp/log" <<'PY'
import sys, collections
status = collections.Counter()
per_user = collections.defaultdict(lambda: [0, 0])
for line in open(sys.argv[1]):
    user = line.split(" ", 3)[2]
    s = int(line.split('"')[2].split()[0])
    status[s] += 1
    if user != "-":
        per_user[user][0] += 1
        per_user[user][1] += s >= 400
total = sum(status.values())
errors = {s: n for s, n in status.items() if s >= 400}
failed = sum(errors.values())
share = failed / total
assert abs(share / 0.04 - 1) < 0.05, share
weights = {404: 3, 401: 1, 500: 0.5, 501: 0.1}
assert set(errors) == set(weights), errors
for s, w in weights.items():
    got, want = errors[s] / failed, w / 4.6
    assert abs(got / want - 1) < 0.05, (s, got, want)
# Bad users: among users with 50+ requests, some fail most of the time; most fail rarely.
rates = [e / n for n, e in per_user.values() if n >= 50]
bad = sum(r > 0.5 for r in rates)
good = sum(r < 0.1 for r in rates)
assert bad >= 5 and good > 10 * bad, (bad, good, len(rates))
print(f"ok: error share {share:.4f}, {bad} bad users of {len(rates)}")
PY

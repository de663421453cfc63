#!/usr/bin/env bash
# Profile keys for the detection scenarios: [[steady]] gives a url or a user a rate of its own,
# `ramp = true` / `ramp_from` make an error burst rise linearly, --truth gives a ramp's error
# rate at both ends of its (clipped) interval, and --no-incidents writes the same traffic as the
# profile without its [[incident]] tables. Counts come from the log itself, with python.
set -euo pipefail
source "$(dirname "$0")/lib/scratch.sh"
cat >"$tmp/p.toml" <<'TOML'
[traffic]
rate = 20
duration = "40m"
error_rate = 0.01
[[steady]]
url = "/api/v1/orders"
rate = 0.5
[[steady]]
user = "carol.small"
rate = 0.05
TOML
cp "$tmp/p.toml" "$tmp/quiet.toml"
cat >>"$tmp/p.toml" <<'TOML'
[[incident]]
kind = "error_burst"
url = "/api/v1/orders"
ramp = true
error_rate = 0.41
share = 0
start = "10m"
duration = "20m"
[[incident]]
kind = "error_burst"
ramp_from = 0.02
error_rate = 0.1
start = "32m"
duration = "4m"
TOML
"$LOGPIPE" generate --profile "$tmp/p.toml" --no-pace --start 2025-06-23T08:00:00Z \
  --truth "$tmp/truth.jsonl" >"$tmp/log"
cat >"$tmp/want" <<'JSON'
{"kind":"error_burst","start":"2025-06-23T08:10:00Z","end":"2025-06-23T08:30:00Z","key":"/api/v1/orders","error_rate_from":0.01,"error_rate_to":0.41}
{"kind":"error_burst","start":"2025-06-23T08:32:00Z","end":"2025-06-23T08:36:00Z","key":"","error_rate_from":0.02,"error_rate_to":0.1}
JSON
diff -u "$tmp/want" "$tmp/truth.jsonl"
python3 - "$tmp/log" <<'PY'
import sys, datetime
def t(line):
    s = line.split("[", 1)[1].split("]", 1)[0]
    return datetime.datetime.strptime(s, "%d/%b/%Y:%H:%M:%S %z").strftime("%H:%M:%S")
def failed(line):
    return int(line.split('"')[2].split()[0]) >= 400
def share(lines, lo, hi):
    picked = [l for l in lines if lo <= t(l) < hi]
    return sum(map(failed, picked)) / len(picked), len(picked)
lines = open(sys.argv[1]).read().splitlines()
orders = [l for l in lines if ' /api/v1/orders HTTP/1.1"' in l]
# 0.5 requests/s for 40 min: 1200 on average (Poisson, deviation 35), whatever the incident.
assert 1030 < len(orders) < 1370, len(orders)
base, n0 = share(orders, "08:00:00", "08:10:00")
first, n1 = share(orders, "08:10:00", "08:20:00")   # the ramp's mean there: 0.01 + 0.4 / 4
second, n2 = share(orders, "08:20:00", "08:30:00")  # 0.01 + 0.4 * 3 / 4
assert base < 0.04, base
assert 0.05 < first < 0.17, (first, n1)
assert 0.22 < second < 0.40, (second, n2)
others = [l for l in lines if ' /api/v1/orders ' not in l]
glob, _ = share(others, "08:32:00", "08:36:00")     # global ramp 0.02 -> 0.1: mean 0.06
assert 0.045 < glob < 0.075, glob
carol = [l for l in lines if l.split(" ")[2] == "carol.small"]
assert 80 < len(carol) < 160, len(carol)           # 0.05/s for 40 min: 120
assert len({l.split(" ")[0] for l in carol}) == 1  # one visitor, one address
print("ok")
PY
# Clipped by --duration: the truth ends where the log does, halfway up the first ramp.
"$LOGPIPE" generate --profile "$tmp/p.toml" --no-pace --start 2025-06-23T08:00:00Z --duration 20m \
  --truth "$tmp/t2" >/dev/null
[ "$(cat "$tmp/t2")" = '{"kind":"error_burst","start":"2025-06-23T08:10:00Z","end":"2025-06-23T08:20:00Z","key":"/api/v1/orders","error_rate_from":0.01,"error_rate_to":0.21}' ]
# --no-incidents: the bytes of the profile without its [[incident]] tables, and no truth.
"$LOGPIPE" generate --profile "$tmp/p.toml" --no-pace --no-incidents --truth "$tmp/t3" >"$tmp/a"
"$LOGPIPE" generate --profile "$tmp/quiet.toml" --no-pace >"$tmp/b"
cmp "$tmp/a" "$tmp/b"
[ ! -s "$tmp/t3" ]
# Mistakes are usage errors naming the file and line (or the incident).
fails() {  # fails PATTERN PROFILE-TEXT
  printf '%s\n' "$2" >"$tmp/bad.toml"
  set +e
  "$LOGPIPE" generate --profile "$tmp/bad.toml" --count 1 >/dev/null 2>"$tmp/err"
  local rc=$?
  set -e
  [ "$rc" -eq 2 ] || { echo "expected exit 2, got $rc for: $2"; exit 1; }
  grep -q -- "$1" "$tmp/err" || { echo "message '$(cat "$tmp/err")' lacks '$1'"; exit 1; }
}
fails "bad.toml:3: unknown key 'rte' in \[\[steady\]\]" $'[[steady]]\nurl = "/x"\nrte = 1'
fails "bad.toml:1: \[\[steady\]\] needs 'rate'" $'[[steady]]\nurl = "/x"'
fails "steady 1: needs a 'url', a 'user' or both" $'[[steady]]\nrate = 1'
fails "incident 1 (latency): only an error_burst can be a ramp" \
  $'[[incident]]\nkind = "latency"\nurl = "/x"\nramp = true\nstart = "1m"\nduration = "1m"'
fails "bad.toml:5: 'ramp = false' contradicts 'ramp_from'" \
  $'[[incident]]\nkind = "error_burst"\nstart = "1m"\nduration = "1m"\nramp = false\nramp_from = 0.1'
echo ok

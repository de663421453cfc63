#!/usr/bin/env bash
# generate --format applog writes application-log lines that the `fields:` format reads back:
# N lines -> N records, 0 malformed, and the errors of analyze equal the ERROR lines counted by
# python from the text (and generate's own count). stream then alerts on the error rate of such
# logs (records without a status but with a level): the burst windows fire, with the counts
# python finds in the log.
set -euo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fields='fields:date time level request_id session user action method url referer'

# Every kind of incident: ddos lines (no session, no user), a bad user, an error burst.
cat >"$tmp/mixed.toml" <<'TOML'
[traffic]
format = "applog"
rate = 100
duration = "10m"
error_rate = 0.01
[[incident]]
kind = "ddos"
ip = "198.51.100.23"
rate = 50
start = "2m"
duration = "1m"
[[incident]]
kind = "bad_user"
user = "mallory"
error_rate = 0.9
share = 0.05
start = "4m"
duration = "2m"
[[incident]]
kind = "error_burst"
url = "/api/v1/payment"
error_rate = 0.8
share = 0.1
start = "6m"
duration = "2m"
TOML
"$LOGPIPE" generate -v --profile "$tmp/mixed.toml" --no-pace --seed 11 >"$tmp/app.log" 2>"$tmp/gen.err"
[ "$(wc -l <"$tmp/app.log")" -eq 63000 ]   # 10 min at 100/s + 1 min at 50/s
grep -q ' ERROR req_[0-9]* [0-9a-v]* mallory ' "$tmp/app.log"
grep -q ' INFO req_[0-9]* - - ' "$tmp/app.log"
"$LOGPIPE" analyze --format "$fields" --report json "$tmp/app.log" >"$tmp/app.json"
python3 - "$tmp/app.log" "$tmp/app.json" "$tmp/gen.err" <<'PY'
import json, re, sys
rx = re.compile(r'^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) (INFO|ERROR) req_(\d+) (\S+) (\S+) '
                r'(view_page|api_call|get_asset|search|login) (GET|POST|HEAD) (/\S*) (\S+)$')
errors, users, n = 0, {}, 0
for i, line in enumerate(open(sys.argv[1]), 1):
    m = rx.match(line.rstrip('\n'))
    assert m, (i, line)
    assert int(m.group(3)) == i, (i, line)          # request ids count lines
    err = m.group(2) == 'ERROR'
    errors += err
    if m.group(5) != '-':
        u = users.setdefault(m.group(5), [0, 0])
        u[0] += 1
        u[1] += err
    n += 1
r = json.load(open(sys.argv[2]))
assert r['requests'] == n == 63000, r['requests']
assert r['malformed'] == 0, r['malformed']
assert r['errors'] == errors and errors > 0, (r['errors'], errors)
gen = int(re.search(r'\((\d+) errors', open(sys.argv[3]).read()).group(1))
assert gen == errors, (gen, errors)
for u in r['users']:
    if u['user'] in users:
        assert [u['requests'], u['errors']] == users[u['user']], (u, users[u['user']])
print('round trip:', n, 'lines,', errors, 'errors')
PY

# The example line of the issue reads as one record with user, session, url and referer.
echo '2023-12-22 22:07:37.780 INFO req_18648 session_1755 user_213 view_page GET /login https://www.bing.com' \
  | "$LOGPIPE" analyze --format "$fields" --report json - \
  | python3 -c 'import json,sys; r=json.load(sys.stdin); assert (r["requests"], r["errors"], r["malformed"], r["unique_users"]) == (1, 0, 0, 1), r; assert r["urls"][0]["url"] == "/login"'

# stream alerts on application-log error rates: a global burst of 50% errors from minute 4 to 6.
cat >"$tmp/burst.toml" <<'TOML'
[traffic]
format = "applog"
rate = 20
duration = "10m"
error_rate = 0.01
[[incident]]
kind = "error_burst"
error_rate = 0.5
start = "4m"
duration = "2m"
TOML
"$LOGPIPE" generate --profile "$tmp/burst.toml" --no-pace --seed 5 >"$tmp/burst.log"
"$LOGPIPE" stream --format "$fields" --threshold error_rate=0.2 --window 60s "$tmp/burst.log" >"$tmp/alerts"
python3 - "$tmp/burst.log" "$tmp/alerts" <<'PY'
import json, sys
win = {}
for line in open(sys.argv[1]):
    f = line.split()
    minute = f[1][:5]
    c = win.setdefault(minute, [0, 0])
    c[0] += 1
    c[1] += f[2] == 'ERROR'
# Expected episodes: fire at the first window over 0.2, resolve at the first one back under.
want, firing = [], False
for minute in sorted(win):
    req, err = win[minute]
    over = err / req > 0.2
    if over != firing:
        want.append(('firing' if over else 'resolved', minute, req, err))
        firing = over
got = []
for a in map(json.loads, open(sys.argv[2])):
    assert a['metric'] == 'error_rate' and a['key'] == '', a
    assert abs(a['value'] - a['errors'] / a['requests']) < 1e-12, a
    got.append((a['state'], a['window_start'][11:16], a['requests'], a['errors']))
assert got == want, (got, want)
assert [g[0] for g in got] == ['firing', 'resolved'] and got[0][1] == '00:04', got
print('stream:', got)
PY
# calibrate computes the same error rate: with 10 windows and a target of 0.2 the threshold is
# the largest ratio outside the two burst windows (python computes it from the log).
"$LOGPIPE" calibrate --rules threshold --format "$fields" --target-rate 0.2 -o "$tmp/cal.toml" "$tmp/burst.log" >/dev/null
python3 - "$tmp/burst.log" "$tmp/cal.toml" <<'PY'
import sys, tomllib
win = {}
for line in open(sys.argv[1]):
    f = line.split()
    c = win.setdefault(f[1][:5], [0, 0])
    c[0] += 1
    c[1] += f[2] == 'ERROR'
ratios = sorted(err / req for req, err in win.values())
assert len(ratios) == 10, win
got = tomllib.load(open(sys.argv[2], 'rb'))['metrics']['error_rate']['threshold']
assert got == ratios[-3] and got > 0, (got, ratios)
print('calibrate: error_rate threshold', got)
PY
echo ok

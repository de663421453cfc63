#!/usr/bin/env bash
# A profile with one incident of each kind: --truth lists exactly their windows, the incidents
# show in the log inside those windows and not outside, flags override the profile, and a typo
# in the profile is a usage error naming the file and line.
set -euo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/p.toml" <<'TOML'
[traffic]
rate = 50
duration = "30m"
error_rate = 0.01
with_duration = true
[[incident]]
kind = "error_burst"
url = "/api/v1/payment"
error_rate = 0.8
start = "5m"
duration = "5m"
[[incident]]
kind = "ddos"
subnet = "203.0.113.0/24"
rate = 40
start = "12m"
duration = "2m"
[[incident]]
kind = "bad_user"
user = "mallory"
error_rate = 0.9
share = 0.05
start = "15m"
duration = "5m"
[[incident]]
kind = "latency"
url = "/reports"
factor = 50
start = "22m"
duration = "4m"
TOML
"$LOGPIPE" generate --profile "$tmp/p.toml" --no-pace --start 2025-06-23T08:00:00Z \
  --truth "$tmp/truth.jsonl" >"$tmp/log"
cat >"$tmp/want" <<'JSON'
{"kind":"error_burst","start":"2025-06-23T08:05:00Z","end":"2025-06-23T08:10:00Z","key":"/api/v1/payment"}
{"kind":"ddos","start":"2025-06-23T08:12:00Z","end":"2025-06-23T08:14:00Z","key":"203.0.113.0/24"}
{"kind":"bad_user","start":"2025-06-23T08:15:00Z","end":"2025-06-23T08:20:00Z","key":"mallory"}
{"kind":"latency","start":"2025-06-23T08:22:00Z","end":"2025-06-23T08:26:00Z","key":"/reports"}
JSON
diff -u "$tmp/want" "$tmp/truth.jsonl"
python3 - "$tmp/log" <<'PY'
import sys, datetime
def t(line):
    s = line.split("[", 1)[1].split("]", 1)[0]
    return datetime.datetime.strptime(s, "%d/%b/%Y:%H:%M:%S %z").strftime("%H:%M:%S")
lines = open(sys.argv[1]).read().splitlines()
# 30 minutes at 50 lines/s plus 2 minutes of ddos at 40 lines/s.
assert len(lines) == 30 * 60 * 50 + 120 * 40, len(lines)
pay = [l for l in lines if '"GET /api/v1/payment ' in l or '"POST /api/v1/payment ' in l]
assert pay and all("08:05:00" <= t(l) < "08:10:00" for l in pay)
pay_err = sum(int(l.split('"')[2].split()[0]) >= 400 for l in pay)
assert 0.7 < pay_err / len(pay) < 0.9, (pay_err, len(pay))
ddos = [l for l in lines if l.startswith("203.0.113.")]
assert len(ddos) == 120 * 40 and all("08:12:00" <= t(l) < "08:14:00" for l in ddos)
mal = [l for l in lines if l.split(" ")[2] == "mallory"]
assert len(mal) > 500 and all("08:15:00" <= t(l) < "08:20:00" for l in mal)
mal_err = sum(int(l.split('"')[2].split()[0]) >= 400 for l in mal)
assert 0.85 < mal_err / len(mal) < 0.95, (mal_err, len(mal))
slow = [int(l.rsplit(" ", 1)[1]) for l in lines if '"GET /reports ' in l]
assert slow and all("08:22:00" <= t(l) < "08:26:00" for l in lines if '"GET /reports ' in l)
slow.sort()
assert slow[len(slow) // 2] > 50 * 5000, slow[len(slow) // 2]
print("ok")
PY
# Flags override the profile: --rate 10 and --duration 1m give 600 lines; the truth is clipped
# to the minute generated, which holds no incident.
"$LOGPIPE" generate --profile "$tmp/p.toml" --no-pace --rate 10 --duration 1m --truth "$tmp/t2" >"$tmp/log2"
[ "$(wc -l <"$tmp/log2")" -eq 600 ]
[ ! -s "$tmp/t2" ]
# A typo in the profile: exit 2, naming the file, the line and the key.
printf '[traffic]\nrate = 5\nerorr_rate = 0.1\n' >"$tmp/bad.toml"
set +e
"$LOGPIPE" generate --profile "$tmp/bad.toml" --count 1 >/dev/null 2>"$tmp/err"
rc=$?
set -e
[ "$rc" -eq 2 ]
grep -q "bad.toml:3: unknown key 'erorr_rate' in \[traffic\]" "$tmp/err"
echo ok

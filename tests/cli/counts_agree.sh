#!/usr/bin/env bash
# One classification for every command (docs/formats.md, "What counts as what"): on access logs,
# clickstream, application logs and Open edX tracking logs, and with a custom error-status list,
# analyze (its per-minute time series and totals), stream and calibrate (their --window-log, one
# line per 60 s window) report the same requests, outcomes, errors and server errors per minute,
# and those equal an independent count by python over the raw lines. The distinct users of each
# window (user, else session) agree with python's too.
set -euo pipefail
. "$SRC/tests/cli/lib/scratch.sh"
fields='fields:date time level request_id session user action method url referer'

# gen NAME FORMAT [generate options]: 6 minutes at 40 lines/s with 5% errors, from one seed.
gen() {
  local name=$1 format=$2
  shift 2
  "$LOGPIPE" generate --format "$format" --rate 40 --duration 6m --no-pace --seed 5 --error-rate 0.05 \
    --start 2025-06-23T08:00:00Z "$@" -o "$tmp/$name.log"
}
gen access combined
gen click clickstream
gen app applog
gen edx edx

# check NAME LOGPIPE_FORMAT PYTHON_KIND [--error-statuses LIST]
n=0
check() {
  local name=$1 format=$2 kind=$3 out
  shift 3
  out="$tmp/$name.$((n += 1))"  # stream appends to its window log: one file per check
  "$LOGPIPE" analyze --format "$format" --report json --by minute --top 0 "$@" "$tmp/$name.log" \
    >"$out.analyze.json" 2>"$out.analyze.err"
  "$LOGPIPE" stream --format "$format" --window-log "$out.stream.jsonl" "$@" <"$tmp/$name.log" \
    >/dev/null 2>"$out.stream.err"
  "$LOGPIPE" calibrate --format "$format" --no-progress --window-log "$out.calibrate.jsonl" "$@" \
    -o "$out.toml" "$tmp/$name.log" >/dev/null 2>"$out.calibrate.err"
  # One engine: stream and calibrate write the same windows.
  cmp "$out.stream.jsonl" "$out.calibrate.jsonl" ||
    { echo "FAIL $name: stream and calibrate windows differ"; diff "$out.stream.jsonl" "$out.calibrate.jsonl" | head; exit 1; }
  python3 - "$kind" "$tmp/$name.log" "$out.analyze.json" "$out.stream.jsonl" "$*" <<'PY'
import collections, datetime, json, re, sys
kind, log, analyze_path, windows_path, extra = sys.argv[1:6]
error_statuses = set(range(400, 1000))
if "--error-statuses" in extra:
    error_statuses = set()
    for spec in extra.split()[1].split(","):
        if spec.endswith("xx"):
            error_statuses |= set(range(int(spec[0]) * 100, int(spec[0]) * 100 + 100))
        elif "-" in spec:
            lo, hi = spec.split("-")
            error_statuses |= set(range(int(lo), int(hi) + 1))
        else:
            error_statuses.add(int(spec))
error_levels = {"ERROR", "FATAL", "CRITICAL"}
if "--error-levels" in extra:
    error_levels = {l.upper() for l in extra.split()[1].split(",")}
MONTHS = {m: i + 1 for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())}
minutes = collections.defaultdict(lambda: [0, 0, 0, 0, set()])  # requests, outcomes, errors, 5xx, users
access = re.compile(r'^\S+ \S+ (\S+) \[(\d+)/(\w+)/(\d+):(\d+):(\d+):(\d+) [^\]]*\] "[^"]*" (\d{3}|-) (?:.*"user = ([^;]*); PHPSESSID=([^"]*)")?')
for line in open(log, encoding="utf-8"):
    line = line.rstrip("\n")
    if not line.strip():
        continue
    status, level, user = None, None, ""
    if kind in ("combined", "clickstream"):
        m = access.match(line)
        assert m, line
        d, mon, y, hh, mm = int(m[2]), MONTHS[m[3]], int(m[4]), int(m[5]), int(m[6])
        minute = datetime.datetime(y, mon, d, hh, mm, tzinfo=datetime.timezone.utc)
        status = None if m[8] == "-" else int(m[8])
        user = "" if m[1] == "-" else m[1]
        if m[9] is not None:  # the cookie: user, else the session
            cookie_user = m[9].strip()
            user = cookie_user if cookie_user and cookie_user != "anonymous" else m[10]
    elif kind == "applog":
        parts = line.split(" ")
        minute = datetime.datetime.strptime(parts[0] + " " + parts[1][:5], "%Y-%m-%d %H:%M").replace(tzinfo=datetime.timezone.utc)
        level = parts[2]
        session, name = parts[4], parts[5]
        user = name if name != "-" else (session if session != "-" else "")
    else:  # edx
        obj = json.loads(line)
        minute = datetime.datetime.fromisoformat(obj["time"]).replace(second=0, microsecond=0)
        name = (obj.get("username") or "").strip()
        user = name or obj.get("session") or ""
    key = minute.strftime("%Y-%m-%dT%H:%M:00Z")
    b = minutes[key]
    b[0] += 1
    if status is not None:
        b[1] += 1
        b[2] += status in error_statuses
        b[3] += 500 <= status <= 599
    elif level is not None:
        b[1] += 1
        b[2] += level.upper() in error_levels
    if user:
        b[4].add(user)

report = json.load(open(analyze_path))
got = {p["time"]: (p["requests"], p["errors"], p["server_errors"]) for p in report["timeseries"] if p["requests"]}
want = {k: (v[0], v[2], v[3]) for k, v in minutes.items()}
assert got == want, ("analyze timeseries", sorted(set(got.items()) ^ set(want.items()))[:4])
total = lambda i: sum(v[i] for v in minutes.values())
assert (report["requests"], report["outcomes"], report["errors"], report["server_errors"]) == \
    (total(0), total(1), total(2), total(3)), ("analyze totals", report["requests"], report["outcomes"], report["errors"])
assert report["unique_users"] == len(set().union(*(v[4] for v in minutes.values()))), ("unique users", report["unique_users"])
windows = {}
for line in open(windows_path):
    w = json.loads(line)
    if w["requests"]:
        windows[w["window_start"]] = (w["requests"], w["outcomes"], w["errors"], w["server_errors"], w["users"])
want = {k: (v[0], v[1], v[2], v[3], len(v[4])) for k, v in minutes.items()}
assert windows == want, ("windows", sorted(set(windows.items()) ^ set(want.items()))[:4])
print(f"ok {kind} {extra or ''}: {total(0)} requests, {total(1)} outcomes, {total(2)} errors, {total(3)} 5xx in {len(minutes)} minutes")
PY
}

check access combined combined
check access combined combined --error-statuses 500-599,429
check click clickstream clickstream
check app "$fields" applog
check app "$fields" applog --error-levels info,fatal  # INFO lines become the errors
check edx edx edx
# The rules reach the thresholds file, so that stream classifies as calibrate did.
"$LOGPIPE" calibrate --format combined --no-progress --error-statuses 5xx,429 -o "$tmp/custom.toml" "$tmp/access.log" 2>/dev/null >/dev/null
grep -q '^\[errors\]$' "$tmp/custom.toml" && grep -q '^statuses = \[429, 500, 501' "$tmp/custom.toml" ||
  { echo "FAIL: calibrate did not write its [errors] rules"; cat "$tmp/custom.toml"; exit 1; }
"$LOGPIPE" stream --format combined --config "$tmp/custom.toml" --window-log "$tmp/from-config.jsonl" <"$tmp/access.log" >/dev/null 2>&1
"$LOGPIPE" stream --format combined --error-statuses 429,5xx --window-log "$tmp/from-flag.jsonl" <"$tmp/access.log" >/dev/null 2>&1
cmp "$tmp/from-config.jsonl" "$tmp/from-flag.jsonl" || { echo "FAIL: [errors] from the file and the flag differ"; exit 1; }
echo "ok: every command counts the same"

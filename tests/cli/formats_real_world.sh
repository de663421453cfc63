#!/usr/bin/env bash
# Issue 18, end to end: every wrong result of its "Why" list, with python (json, zoneinfo) as the
# independent count. FUN's syslog-wrapped tracking lines, nginx JSON access logs, Debian's %O,
# application logs with an empty last field and "Direct Entry", a run where nothing parses (exit 3
# in every reading command), a directory of mixed logs (one format per file), the course ids of
# the real edX fixtures, and --tz Europe/Paris.
set -euo pipefail
. "$(dirname "$0")/lib/scratch.sh"

# --- An access log to derive the others from: the real Elastic sample when present, else a
# generated one.
if [ -f "$SHARED/apache/elastic_examples_apache_logs.log" ]; then
  head -n 3000 "$SHARED/apache/elastic_examples_apache_logs.log" >"$tmp/access.log"
else
  "$LOGPIPE" generate --format combined --no-pace --seed 3 --count 3000 -o "$tmp/access.log"
fi

# --- nginx JSON access logs: detected as json:nginx, every field read (was edx: 1 request).
python3 - "$tmp/access.log" "$tmp/nginx.json" "$tmp/nginx.expect" <<'PY'
import json, re, sys
src, dst, expect = sys.argv[1:4]
pat = re.compile(r'^(\S+) \S+ (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}|-) (\d+|-) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"$')
n = 0; status = {}; ips = set(); byte_sum = 0
with open(src, encoding="utf-8", errors="surrogateescape") as f, open(dst, "w") as out:
    for line in f:
        m = pat.match(line.rstrip("\n"))
        if not m: continue
        ip, user, t, req, st, b, ref, ua = m.groups()
        out.write(json.dumps({"time_local": t, "remote_addr": ip, "remote_user": user, "request": req,
                              "status": int(st) if st != "-" else "-", "body_bytes_sent": b,
                              "http_referer": ref, "http_user_agent": ua}, ensure_ascii=False) + "\n")
        n += 1; ips.add(ip)
        if st != "-": status[st] = status.get(st, 0) + 1
        if b != "-": byte_sum += int(b)
json.dump({"requests": n, "status": status, "unique_ips": len(ips), "bytes": byte_sum}, open(expect, "w"))
PY
"$LOGPIPE" analyze -v --report json "$tmp/nginx.json" >"$tmp/nginx.out" 2>"$tmp/nginx.err"
grep -q "nginx.json: detected format json:nginx (16 of 16 sample lines)" "$tmp/nginx.err"
python3 - "$tmp/nginx.out" "$tmp/nginx.expect" <<'PY'
import json, sys
r, e = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert r["format"] == "json:nginx", r["format"]
for k in ("requests", "status", "unique_ips", "bytes"):
    assert r[k] == e[k], (k, r[k], e[k])
assert r["malformed"] == 0
PY

# --- Debian's combined LogFormat logs %O: the bytes are counted (were 0).
"$LOGPIPE" analyze --report json --format 'logformat:%h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"' \
  "$tmp/access.log" >"$tmp/debian.out" 2>/dev/null
python3 - "$tmp/debian.out" "$tmp/nginx.expect" <<'PY'
import json, sys
r, e = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert r["bytes"] == e["bytes"] and r["bytes"] > 0, (r["bytes"], e["bytes"])
PY

# --- Application logs: an empty last field and "Direct Entry" (3 of 6 lines were malformed, one of
# them an ERROR; auto read them as combined).
cat >"$tmp/app.log" <<'LOG'
2023-12-22 22:07:37.780 INFO req_18648 session_1755 user_213 view_page GET /login https://www.bing.com
2023-12-22 22:07:38.001 ERROR req_18649 session_1755 user_213 checkout POST /pay
2023-12-22 22:07:39.500 INFO req_18650 session_1800 user_7 view_page GET /login Direct Entry
2023-12-22 22:07:40.000 INFO req_18651 session_1800 user_7 view_page GET /cart
2023-12-22 22:07:41.000 WARN req_18652 session_1801 user_9 search GET /search Direct Entry
2023-12-22 22:07:42.000 INFO req_18653 session_1801 user_9 view_page GET /item https://www.google.com/
LOG
"$LOGPIPE" analyze -v --report json "$tmp/app.log" >"$tmp/app.out" 2>"$tmp/app.err"
grep -q "app.log: detected format applog" "$tmp/app.err"
python3 - "$tmp/app.out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["requests"] == 6 and r["malformed"] == 0, (r["requests"], r["malformed"])
assert r["errors"] == 1, r["errors"]
referers = sorted(x["referer"] for x in r["referers"])
assert referers == ["https://www.bing.com", "https://www.google.com/"], referers  # Direct Entry is none
PY

# --- Nothing parses: exit 3 in every reading command, naming the file, the format, the reason.
printf 'this is not a log\nnor is this\n' >"$tmp/junk.log"
printf 'k' >"$tmp/key"
for cmd in analyze stream calibrate anonymize; do
  args=()
  [ "$cmd" = anonymize ] && args=(--key-file "$tmp/key")
  [ "$cmd" = stream ] && args=(--alerts /dev/null)
  set +e
  "$LOGPIPE" "$cmd" "${args[@]}" --format combined "$tmp/junk.log" >"$tmp/junk.out" 2>"$tmp/junk.err"
  rc=$?
  set -e
  [ "$rc" -eq 3 ] || { echo "$cmd: exit $rc, expected 3"; cat "$tmp/junk.err"; exit 1; }
  grep -qF "logpipe: $tmp/junk.log: no record could be read with format combined (2 malformed lines; first: $tmp/junk.log:1: bad or missing time)" "$tmp/junk.err" ||
    { echo "$cmd: message"; cat "$tmp/junk.err"; exit 1; }
done
# auto names the best candidates and a command to try.
set +e
"$LOGPIPE" analyze "$tmp/junk.log" >/dev/null 2>"$tmp/junk.err"
rc=$?
set -e
[ "$rc" -eq 3 ] && grep -q "junk.log: no known format reads its first lines well" "$tmp/junk.err" &&
  grep -q "for example: logpipe analyze --format '" "$tmp/junk.err"
# More than --max-malformed: exit 3; under it (or 100%): 0.
{ head -n 2 "$tmp/access.log"; printf 'junk\njunk\njunk\n'; } >"$tmp/mostly.log"
set +e
"$LOGPIPE" analyze --format combined --report json "$tmp/mostly.log" >/dev/null 2>"$tmp/m.err"; rc=$?
set -e
[ "$rc" -eq 3 ] && grep -q "mostly.log: 3 of 5 lines malformed with format combined (60.0%, more than --max-malformed 50%)" "$tmp/m.err"
"$LOGPIPE" analyze --format combined --report json --max-malformed 60% "$tmp/mostly.log" >/dev/null 2>&1
"$LOGPIPE" analyze --format combined --report json --max-malformed 100 "$tmp/junk.log" >/dev/null 2>&1
set +e
"$LOGPIPE" analyze --max-malformed 120% "$tmp/junk.log" >/dev/null 2>&1; rc=$?
set -e
[ "$rc" -eq 2 ]

# --- A directory of mixed logs: one format per file, listed in the header.
mkdir "$tmp/mixed"
cp "$tmp/access.log" "$tmp/mixed/1-access.log"
cp "$tmp/nginx.json" "$tmp/mixed/2-nginx.json"
cp "$tmp/app.log" "$tmp/mixed/3-app.log"
"$LOGPIPE" analyze --report json "$tmp"/mixed/* >"$tmp/mixed.out" 2>/dev/null
python3 - "$tmp/mixed.out" "$tmp/nginx.expect" <<'PY'
import json, sys
r, e = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert r["format"] == "combined, json:nginx, applog", r["format"]
assert [x["format"] for x in r["input_formats"]] == ["combined", "json:nginx", "applog"], r["input_formats"]
assert r["requests"] == 2 * e["requests"] + 6, (r["requests"], e["requests"])
PY
"$LOGPIPE" analyze "$tmp"/mixed/* 2>/dev/null | head -4 | grep -q "3-app.log: applog"

# --- edX: FUN's syslog prefix, and the course ids of the real fixtures.
if [ -d "$SHARED/edx" ]; then
  python3 - "$SHARED/edx" "$tmp/fun.log" "$tmp/edx.expect" <<'PY'
import glob, json, re, sys
src, dst, expect = sys.argv[1:4]
comp = r"[A-Za-z0-9_.\-~%]+"
three = lambda sep: re.compile(r"(%s%s%s%s%s)" % (comp, re.escape(sep), comp, re.escape(sep), comp))
def key_of(t):
    if not isinstance(t, str) or not t: return ""
    i = t.find("course-v1:")
    if i >= 0:
        m = three("+").match(t, i + 10)
        return "course-v1:" + m.group(1) if m else ""
    i = t.find("ccx-v1:")
    if i >= 0:
        m = re.compile(r"%s\+%s\+%s\+ccx@[0-9]+" % (comp, comp, comp)).match(t, i + 7)
        return t[i:m.end()] if m else ""
    for kind in ("block-v1:", "asset-v1:"):
        i = t.find(kind)
        if i >= 0:
            m = three("+").match(t, i + len(kind))
            return "course-v1:" + m.group(1) if m and t.startswith("+type@", m.end()) else ""
    i = t.find("/courses/")
    if i >= 0:
        m = three("/").match(t, i + 9)
        return m.group(1) if m else ""
    m = three("/").fullmatch(t)
    return t if m else ""
def course_of(rec):
    ctx = rec.get("context") if isinstance(rec.get("context"), dict) else {}
    cid = ctx.get("course_id")
    if isinstance(cid, str) and cid:
        return key_of(cid) or cid
    browser = rec.get("event_source") == "browser"
    module = ctx.get("module") if isinstance(ctx.get("module"), dict) else {}
    event = rec.get("event") if isinstance(rec.get("event"), dict) else {}
    for place in ([rec.get("page"), rec.get("event_type")] if browser else [rec.get("event_type"), rec.get("page")]) + \
                 [ctx.get("path"), module.get("usage_key"), event.get("course_id")]:
        k = key_of(place)
        if k: return k
    return ""
records = 0; courses = {}
with open(dst, "w") as out:
    for path in sorted(glob.glob(src + "/*.log")):
        for n, line in enumerate(open(path, encoding="utf-8", errors="surrogateescape")):
            line = line.rstrip("\n")
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if not isinstance(rec, dict): continue
            records += 1
            c = course_of(rec)
            if c: courses[c] = courses.get(c, 0) + 1
            # FUN's tracking lines as rsyslog forwards them.
            out.write("May  9 10:%02d:%02d lms-1 tracking[123]: %s\n" % (n // 60 % 60, n % 60, line))
json.dump({"requests": records, "courses": courses}, open(expect, "w"))
PY
  "$LOGPIPE" analyze -v --report json --top 0 "$tmp/fun.log" >"$tmp/fun.out" 2>"$tmp/fun.err"
  grep -q "fun.log: detected format syslog+edx" "$tmp/fun.err"
  python3 - "$tmp/fun.out" "$tmp/edx.expect" <<'PY'
import json, sys
r, e = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert r["format"] == "syslog+edx", r["format"]
assert r["requests"] == e["requests"], (r["requests"], e["requests"])
got = {c["course_id"]: c["requests"] for c in r["courses"]}
assert got == e["courses"], (sorted(set(got) ^ set(e["courses"])), got, e["courses"])
# No course is split in two: a course-v1 id never appears without its prefix.
bare = [c for c in got if ":" not in c and "+" in c]
assert not bare, bare
PY
  # anonymize rewrites those lines (it refused them as "not a JSON object").
  "$LOGPIPE" anonymize --key-file "$tmp/key" "$tmp/fun.log" >"$tmp/fun.anon" 2>"$tmp/fun.anon.err"
  python3 - "$tmp/fun.anon" "$tmp/edx.expect" <<'PY'
import json, sys
lines = open(sys.argv[1], encoding="utf-8", errors="surrogateescape").read().splitlines()
e = json.load(open(sys.argv[2]))
assert len(lines) == e["requests"], (len(lines), e["requests"])
assert all(l.startswith("May  9 10:") and " lms-1 tracking[123]: {" in l for l in lines)
PY
else
  echo "note: $SHARED/edx absent (no ../shared/data): edX part skipped"
fi

# --- --tz Europe/Paris: day buckets and active users per Paris day, --since a Paris date.
python3 - "$tmp/tz.log" "$tmp/tz.expect" <<'PY'
import json, sys, random
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo
paris = ZoneInfo("Europe/Paris")
random.seed(18)
start = datetime(2024, 10, 25, 20, 0, tzinfo=timezone.utc)  # across the setback of Oct 27
lines, days, users = [], {}, {}
for i in range(3000):
    t = start + timedelta(seconds=random.randrange(0, 4 * 86400))
    user = "u%d" % random.randrange(40)
    lines.append((t, '203.0.113.%d - %s [%s] "GET /p HTTP/1.1" 200 10 "-" "ua"' % (i % 50, user, t.strftime("%d/%b/%Y:%H:%M:%S +0000"))))
lines.sort()
since = datetime(2024, 10, 27, tzinfo=paris)
kept = 0
for t, l in lines:
    d = t.astimezone(paris).date().isoformat()
    days[d] = days.get(d, 0) + 1
    users.setdefault(d, set()).add(l.split()[2])
    kept += t >= since
open(sys.argv[1], "w").write("".join(l + "\n" for _, l in lines))
json.dump({"days": days, "users": {d: len(u) for d, u in users.items()}, "since": kept,
           "first_day": min(days)}, open(sys.argv[2], "w"))
PY
"$LOGPIPE" analyze --tz Europe/Paris --by day --report json "$tmp/tz.log" >"$tmp/tz.out" 2>/dev/null
"$LOGPIPE" analyze --tz Europe/Paris --since 2024-10-27 --report json "$tmp/tz.log" >"$tmp/tz.since" 2>/dev/null
python3 - "$tmp/tz.out" "$tmp/tz.since" "$tmp/tz.expect" <<'PY'
import json, sys
from datetime import datetime
from zoneinfo import ZoneInfo
r, s, e = (json.load(open(p)) for p in sys.argv[1:4])
assert r["time_zone"] == "Europe/Paris"
got = {}
for b in r["timeseries"]:
    t = datetime.fromisoformat(b["time"])
    assert t.utcoffset() == t.astimezone(ZoneInfo("Europe/Paris")).utcoffset(), b["time"]
    assert (t.hour, t.minute) == (0, 0), b["time"]  # Paris midnights, including the 25-hour day
    got[t.date().isoformat()] = b["requests"]
assert got == e["days"], (got, e["days"])
assert {d["day"]: d["users"] for d in r["active_users_per_day"]} == e["users"]
assert s["requests"] == e["since"], (s["requests"], e["since"])
PY
echo ok

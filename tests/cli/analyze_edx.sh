#!/usr/bin/env bash
# analyze on the real Open edX tracking logs: events per event_type and active users per day
# equal an independent count by Python's json module over the same files; the split over
# threads changes nothing. A user is the username, else the session (docs/formats.md, "What
# counts as what"): an anonymous visitor is counted once per session, as stream's per-user
# metrics count it.
set -euo pipefail
dir="$SHARED/edx"
[ -d "$dir" ] || { echo "SKIP: $dir absent (no ../shared/data)"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$LOGPIPE" analyze --format edx --report json --top 0 "$dir"/*.log >"$tmp/r.json" 2>"$tmp/err"
"$LOGPIPE" analyze --format edx --report json --top 0 --threads 1 "$dir"/*.log 2>/dev/null | cmp - "$tmp/r.json"
python3 - "$tmp/r.json" "$dir"/*.log <<'PY'
import collections, json, sys
report = json.load(open(sys.argv[1]))
events, days, records = collections.Counter(), collections.defaultdict(set), 0
for path in sys.argv[2:]:
    for line in open(path, encoding="utf-8", errors="surrogateescape"):
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if not isinstance(obj, dict):
            continue
        records += 1
        if obj.get("event_type"):
            events[obj["event_type"]] += 1
        name = obj.get("username")
        user = (name.strip(" \t\r\n") if isinstance(name, str) else "") or obj.get("session") or ""
        if user and obj.get("time"):
            days[obj["time"][:10]].add(user)
assert report["requests"] == records, (report["requests"], records)
got = {e["event_type"]: e["requests"] for e in report["events"]}
assert got == dict(events), set(got.items()) ^ set(events.items())
want = [{"day": d, "users": len(u)} for d, u in sorted(days.items())]
assert report["active_users_per_day"] == want, (report["active_users_per_day"][:3], want[:3])
assert report["courses"] and report["courses"][0]["requests"] >= report["courses"][-1]["requests"]
assert report["status"] == {} and report["errors"] == 0
print("ok", records, "records,", len(events), "event types")
PY

#!/usr/bin/env bash
# logpipe export and --where, checked against an independent Python parse of the same lines:
# - every combined line (a generated log, and the real Apache sample when ../shared/data is
#   there) becomes the ECS document docs/export.md describes, field for field, in line order;
#   the malformed line of the real sample is counted, kept by --rejects and not exported;
# - --to-bulk writes valid NDJSON: an action line before each document;
# - edX tracking logs: the documented fields of each event (time, user, ip, host, agent, session,
#   event_type);
# - --where keeps exactly the records Python's own test of the same condition keeps, in export
#   and in analyze (requests, and the `where` counts of the report).
set -euo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
python3 "$SRC/tests/cli/analyze_gen.py" 20000 --seed 5 >"$tmp/gen.log"
logs=("$tmp/gen.log")
if [ -f "$SHARED/apache/elastic_examples_apache_logs.log" ]; then
  logs+=("$SHARED/apache/elastic_examples_apache_logs.log")
else
  echo "note: $SHARED/apache absent (no ../shared/data): the real Apache sample is not checked"
fi
where='status >= 400 and url ^= "/product/" and not bot or ip in 10.0.0.0/29'
for log in "${logs[@]}"; do
  "$LOGPIPE" export --rejects "$tmp/rejects" "$log" >"$tmp/ecs.jsonl" 2>"$tmp/err"
  "$LOGPIPE" export --names logpipe --to-bulk web-logs "$log" >"$tmp/bulk.ndjson" 2>/dev/null
  "$LOGPIPE" export --where "$where" "$log" >"$tmp/where.jsonl" 2>"$tmp/where.err"
  "$LOGPIPE" analyze --report json --where "$where" "$log" >"$tmp/where.json" 2>/dev/null
  python3 - "$log" "$tmp" <<'PY'
import json, re, sys, ipaddress
from datetime import datetime, timezone
log, tmp = sys.argv[1], sys.argv[2]
line_re = re.compile(r'^(\S+) (\S+) (\S+) \[([^\]]+)\] "(\S+) (\S+) (\S+)" (\d{3}) (\d+|-) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"$')
expected, bad, lines = [], [], open(log, encoding="utf-8", errors="surrogateescape").read().split("\n")
if lines and lines[-1] == "": lines.pop()
for no, line in enumerate(lines, 1):
    m = line_re.match(line)
    if not m:
        bad.append(line)
        continue
    ip, ident, user, t, method, url, proto, status, size, ref, agent = m.groups()
    ts = datetime.strptime(t, "%d/%b/%Y:%H:%M:%S %z").astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    doc = {"@timestamp": ts}
    try:
        ipaddress.ip_address(ip); doc["source"] = {"ip": ip}
    except ValueError:
        doc["source"] = {"address": ip}
    if user != "-": doc["user"] = {"name": user}
    http = {"request": {"method": method}}
    if ref != "-": http["request"]["referrer"] = ref
    http["version"] = proto[5:] if proto.startswith("HTTP/") else proto
    http["response"] = {"status_code": int(status)}
    if size != "-": http["response"]["body"] = {"bytes": int(size)}
    doc["http"] = http
    path, _, query = url.partition("?")
    doc["url"] = {"original": url, "path": path}
    if query: doc["url"]["query"] = query
    if agent != "-": doc["user_agent"] = {"original": agent}
    if ident != "-": doc["labels"] = {"ident": ident}
    expected.append((doc, ip, int(status), path, agent))
got = [json.loads(l) for l in open(f"{tmp}/ecs.jsonl")]
assert len(got) == len(expected), (len(got), len(expected))
for i, (g, (e, *_)) in enumerate(zip(got, expected)):
    assert g == e, (i, g, e)
    assert list(g) == list(e), (i, list(g), list(e))  # the documented order too
rejects = open(f"{tmp}/rejects", encoding="utf-8", errors="surrogateescape").read().split("\n")[:-1]
assert rejects == bad, (rejects[:2], bad[:2])
# --to-bulk: pairs of an action and a document with the record's own names.
bulk = open(f"{tmp}/bulk.ndjson").read().split("\n")
assert bulk[-1] == "" and (len(bulk) - 1) == 2 * len(expected), (len(bulk), len(expected))
for k in range(0, len(bulk) - 1, 2):
    assert json.loads(bulk[k]) == {"index": {"_index": "web-logs"}}, bulk[k]
    d = json.loads(bulk[k + 1])
    e = expected[k // 2][0]
    assert d["ip"] == e["source"].get("ip", e["source"].get("address")) and d["status"] == e["http"]["response"]["status_code"], (d, e)
    assert d["url"] == e["url"]["original"] and d["time"] == e["@timestamp"], (d, e)
# --where: Python's own evaluation of the same condition; `bot` as docs/reference.md defines it.
bot_words = ("bot", "crawl", "spider", "slurp", "facebookexternalhit", "feedfetcher", "archiver")
def is_bot(a): return any(w in a.lower() for w in bot_words)
def in_net(ip):
    try: return ipaddress.ip_address(ip) in ipaddress.ip_network("10.0.0.0/29")
    except ValueError: return False
keep = [e for e, ip, st, path, agent in expected
        if (st >= 400 and e["url"]["original"].startswith("/product/") and not is_bot(agent)) or in_net(ip)]
where = [json.loads(l) for l in open(f"{tmp}/where.jsonl")]
assert where == keep, (len(where), len(keep))
err = open(f"{tmp}/where.err").read()
assert f"--where kept {len(keep)} of {len(expected)} records ({len(expected) - len(keep)} left out)" in err, err
report = json.load(open(f"{tmp}/where.json"))
assert report["requests"] == len(keep), (report["requests"], len(keep))
assert report["where"]["read"] == len(expected) and report["where"]["kept"] == len(keep), report["where"]
assert report["where"]["left_out"] == len(expected) - len(keep)
print(f"{log}: {len(expected)} records exported as ECS, {len(bad)} malformed kept apart, --where kept {len(keep)}")
PY
done

# edX: the documented fields of each event, against Python's json module.
if [ -d "$SHARED/edx" ]; then
  for f in "$SHARED"/edx/eap_video_timeline.log "$SHARED"/edx/eap_student_forum_activity.log; do
    "$LOGPIPE" export --format edx --max-malformed 100% "$f" >"$tmp/edx.jsonl" 2>/dev/null
    python3 - "$f" "$tmp/edx.jsonl" <<'PY'
import json, sys
from datetime import datetime, timezone
src, out = sys.argv[1], sys.argv[2]
events = []
for line in open(src):
    try: e = json.loads(line)
    except ValueError: continue
    if isinstance(e, dict): events.append(e)
docs = [json.loads(l) for l in open(out)]
assert len(docs) == len(events), (len(docs), len(events))
for e, d in zip(events, docs):
    if e.get("username"): assert d["user"]["name"] == e["username"], (d, e)
    else: assert "user" not in d, d
    if e.get("event_type"): assert d["event_type"] == e["event_type"], (d, e)
    if e.get("session"): assert d["session"] == e["session"]
    if e.get("host"): assert d["url"]["domain"] == e["host"]
    if e.get("ip"): assert d["source"]["ip"] == e["ip"]
    if e.get("agent"): assert d["user_agent"]["original"] == e["agent"]
    t = datetime.fromisoformat(e["time"].replace("Z", "+00:00"))
    if t.tzinfo is None: t = t.replace(tzinfo=timezone.utc)
    t = t.astimezone(timezone.utc)
    want = t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{t.microsecond:06d}Z" if t.microsecond else "Z")
    assert d["@timestamp"] == want, (d["@timestamp"], want)
print(f"{src}: {len(docs)} edX events exported")
PY
  done
else
  echo "note: $SHARED/edx absent (no ../shared/data): the edX samples are not checked"
fi

# Usage errors say where and why, with exit 2; a filter that keeps nothing still exits 0.
set +e
"$LOGPIPE" export --where 'status >=' "$tmp/gen.log" >/dev/null 2>"$tmp/err"; rc=$?
set -e
[ "$rc" = 2 ] || { echo "a bad --where exited $rc"; exit 1; }
grep -q "column 10: expected a value after '>='" "$tmp/err" || { cat "$tmp/err"; exit 1; }
"$LOGPIPE" export --where 'status == 999' "$tmp/gen.log" >"$tmp/none.jsonl" 2>"$tmp/err"
[ ! -s "$tmp/none.jsonl" ] && grep -q "kept 0 of 20000 records" "$tmp/err" || { cat "$tmp/err"; exit 1; }
# --bots: a user pattern makes more agents crawlers, for --where and for the report's families.
printf '# ours\nFirefox/121\n' >"$tmp/bots.txt"
"$LOGPIPE" export --bots "$tmp/bots.txt" --where 'bot' "$tmp/gen.log" 2>/dev/null | wc -l >"$tmp/n"
"$LOGPIPE" analyze --report json --bots "$tmp/bots.txt" "$tmp/gen.log" >"$tmp/bots.json" 2>/dev/null
"$LOGPIPE" analyze --report json "$tmp/gen.log" >"$tmp/nobots.json" 2>/dev/null
python3 - "$tmp/gen.log" "$tmp/n" "$tmp/bots.json" "$tmp/nobots.json" <<'PY'
import json, sys
words = ("bot", "crawl", "spider", "slurp", "facebookexternalhit", "feedfetcher", "archiver")
agents = [l.rstrip("\n").rsplit('"', 2)[1] for l in open(sys.argv[1])]
builtin = sum(any(w in a.lower() for w in words) for a in agents)
ours = sum(not any(w in a.lower() for w in words) and "firefox/121" in a.lower() for a in agents)
n = int(open(sys.argv[2]).read())
assert ours > 0 and n == builtin + ours, (n, builtin, ours)
crawlers = lambda f: {b["browser"]: b["requests"] for b in json.load(open(f))["browsers"]}.get("Crawlers", 0)
assert crawlers(sys.argv[4]) == builtin and crawlers(sys.argv[3]) == builtin + ours, (crawlers(sys.argv[3]), builtin, ours)
PY
echo "export and --where agree with the independent parse"

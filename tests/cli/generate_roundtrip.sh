#!/usr/bin/env bash
# generate -> analyze: 100,000 lines of every format give 100,000 records and 0 malformed, and the
# status counts of analyze equal an independent count by awk over the generated text.
set -euo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
check() {  # check FORMAT PARSE_FORMAT [generate flags...]
  local format=$1 parse=$2; shift 2
  "$LOGPIPE" generate --no-pace --count 100000 --format "$format" "$@" >"$tmp/$format.log"
  [ "$(wc -l <"$tmp/$format.log")" -eq 100000 ]
  "$LOGPIPE" analyze --report json --format "$parse" "$tmp/$format.log" >"$tmp/$format.json"
  if [ "$format" != edx ]; then
    # Status = the field after the closing quote of the request.
    awk -F'"' '{ split($3, f, " "); n[f[1]]++ } END { for (s in n) print s, n[s] }' \
      "$tmp/$format.log" | sort >"$tmp/$format.awk"
  else
    : >"$tmp/$format.awk"
  fi
  python3 - "$tmp/$format.json" "$tmp/$format.awk" "$format" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
assert report["requests"] == 100000, (sys.argv[3], report["requests"])
assert report["malformed"] == 0, (sys.argv[3], report["malformed"])
want = {l.split()[0]: int(l.split()[1]) for l in open(sys.argv[2]) if l.strip()}
got = {k: v for k, v in report["status"].items()}
assert got == want, (sys.argv[3], got, want)
PY
}
check combined combined
check common common
check clickstream clickstream
check edx edx
check combined combined --with-duration
check combined 'logformat:%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" %D' --with-duration
# auto detection picks the right format too
"$LOGPIPE" analyze --report json "$tmp/edx.log" | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["requests"]==100000 and r["malformed"]==0'
# edx: valid JSON on every line, with the fields of docs/reference.md; server events carry `event` as a
# JSON string, browser events as an object.
python3 - "$tmp/edx.log" <<'PY'
import json, sys
kinds = {}
for line in open(sys.argv[1]):
    e = json.loads(line)
    for k in ("username", "ip", "event_source", "event_type", "event", "agent", "page", "time",
              "host", "referer", "accept_language", "session", "context"):
        assert k in e, (k, line)
    for k in ("course_id", "user_id", "org_id", "path"):
        assert k in e["context"], (k, line)
    if e["event_source"] == "server":
        assert isinstance(e["event"], str) and isinstance(json.loads(e["event"]), dict)
    else:
        assert e["event_source"] == "browser" and isinstance(e["event"], dict)
    kinds[e["event_source"]] = kinds.get(e["event_source"], 0) + 1
assert kinds["server"] > 50000 and kinds["browser"] > 10000, kinds
PY
echo ok

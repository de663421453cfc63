#!/usr/bin/env bash
# The `fields:` format reads application logs: named fields, `date time` as the time, level ERROR
# counted as an error by analyze, a line with too few fields malformed.
set -euo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/app.log" <<'LOG'
2023-12-22 22:07:37.780 INFO req_18648 session_1755 user_213 view_page GET /login https://www.bing.com
2023-12-22 22:07:38.001 ERROR req_18649 session_1755 user_213 checkout POST /pay?step=2 -
2023-12-22 22:07:39.500 INFO req_18650 session_1800 user_7 view_page GET /login -
2023-12-22 22:07:40.000 WARN req_18651 session_1800
LOG
"$LOGPIPE" analyze --format 'fields:date time level request_id session user action method url referer' \
  --report json "$tmp/app.log" >"$tmp/out.json" 2>"$tmp/err"
python3 - "$tmp/out.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["requests"] == 3, r["requests"]
assert r["errors"] == 1, r["errors"]
assert r["malformed"] == 1, r["malformed"]
assert r["unique_users"] == 2, r["unique_users"]
urls = {u["url"]: (u["requests"], u["errors"]) for u in r["urls"]}
assert urls == {"/login": (2, 0), "/pay": (1, 1)}, urls
PY
grep -q "app.log:4: missing field" "$tmp/err"
echo ok

#!/usr/bin/env bash
# Open edX tracking logs have no HTTP status: error metrics never fire even at threshold 0, and
# ip_request_rate episodes (threshold 0: any request) match python's count over the raw JSON.
set -euo pipefail
log="$SHARED/edx/eap_trajectory_tracking.log"
[ -f "$log" ] || { echo "SKIP: $log absent (no ../shared/data)"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$LOGPIPE" stream -v --format edx --lateness 100000d --threshold error_rate=0 --threshold ip_error_rate=0 \
  --min-requests ip_error_rate=1 --threshold ip_request_rate=0 "$log" >"$tmp/alerts" 2>"$tmp/err"
python3 - "$log" "$tmp/alerts" "$tmp/err" <<'PY'
import json, sys, datetime, collections
windows = collections.defaultdict(set)
records = 0
for line in open(sys.argv[1], encoding='utf-8'):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if not isinstance(e, dict) or 'time' not in e:
        continue
    records += 1
    t = datetime.datetime.fromisoformat(e['time'].replace('Z', '+00:00'))
    if e.get('ip'):
        windows[e['ip']].add(int(t.timestamp()) // 60)
episodes = sum(1 for ws in windows.values() for w in ws if w - 1 not in ws)
alerts = [json.loads(l) for l in open(sys.argv[2])]
assert all(a['metric'] == 'ip_request_rate' for a in alerts), {a['metric'] for a in alerts}
firing = [a for a in alerts if a['state'] == 'firing']
assert len(firing) == episodes, (len(firing), episodes)
summary = [l for l in open(sys.argv[3]) if 'lines,' in l][0]
assert f' {records} records, 0 late' in summary, (summary, records)
print('ok', records, 'records', episodes, 'episodes')
PY

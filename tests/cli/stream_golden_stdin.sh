#!/usr/bin/env bash
# stream on generated traffic with an error burst on one URL and a DDoS from one IP: exactly one
# firing per episode in the right window, then resolved; nothing else fires with sane thresholds.
# The golden counts are re-derived from the log by python (independent of logpipe).
set -euo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
python3 "$SRC/tests/cli/stream_traffic.py" "$tmp/t.log"
golden="$SRC/tests/data/stream_golden.jsonl"
conf="$SRC/tests/data/stream_thresholds.toml"

# stdin
"$LOGPIPE" stream --config "$conf" <"$tmp/t.log" >"$tmp/alerts" 2>"$tmp/err"
diff -u "$golden" "$tmp/alerts"
[ ! -s "$tmp/err" ] || { echo "unexpected stderr:"; cat "$tmp/err"; exit 1; }

# a gzip file given as FILES, alerts appended to a file (twice: 8 lines)
gzip -c "$tmp/t.log" >"$tmp/t.log.gz"
"$LOGPIPE" stream --config "$conf" --alerts "$tmp/out.jsonl" "$tmp/t.log.gz"
"$LOGPIPE" stream --config "$conf" --alerts "$tmp/out.jsonl" "$tmp/t.log.gz"
cat "$golden" "$golden" | diff -u - "$tmp/out.jsonl"

# flags override the file: with a 0.5 url threshold the burst (0.4) no longer fires
"$LOGPIPE" stream --config "$conf" --threshold url_error_rate=0.5 <"$tmp/t.log" >"$tmp/alerts2"
grep -v url_error_rate "$golden" | diff -u - "$tmp/alerts2"
# and min_requests: /checkout has 60 requests per window, a guard of 61 silences it
"$LOGPIPE" stream --config "$conf" --min-requests url_error_rate=61 <"$tmp/t.log" >"$tmp/alerts3"
grep -v url_error_rate "$golden" | diff -u - "$tmp/alerts3"

# Independent check of the golden numbers from the raw log.
python3 - "$tmp/t.log" "$golden" <<'PY'
import json, sys, re, calendar, time
rx = re.compile(r'^(\S+) \S+ \S+ \[([^\]]+)\] "GET ([^ ?]*)\S* [^"]*" (\d+)')
win = {}
for l in open(sys.argv[1]):
    ip, ts, url, st = rx.match(l).groups()
    t = calendar.timegm(time.strptime(ts, '%d/%b/%Y:%H:%M:%S +0000'))
    w = t - t % 60
    for key in (('url', url), ('ip', ip)):
        c = win.setdefault((w,) + key, [0, 0])
        c[0] += 1
        c[1] += int(st) >= 400
for a in map(json.loads, open(sys.argv[2])):
    w = calendar.timegm(time.strptime(a['window_start'], '%Y-%m-%dT%H:%M:%SZ'))
    dim = 'url' if a['metric'].startswith('url') else 'ip'
    req, err = win.get((w, dim, a['key']), [0, 0])
    assert (req, err) == (a['requests'], a['errors']), (a, req, err)
    value = err / req if a['metric'].endswith('error_rate') else req / 60
    assert abs(value - a['value']) < 1e-12, (a, value)
print('ok')
PY

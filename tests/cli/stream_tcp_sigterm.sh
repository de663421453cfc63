#!/usr/bin/env bash
# The golden scenario through `--listen tcp://` from several clients, then SIGTERM: the window
# still open at the end (a burst on /fail at 08:09:30) is evaluated and its alert flushed; a
# client that disconnects mid-line leaves one malformed line; --metrics-listen serves counters.
set -euo pipefail
. "$SRC/tests/cli/lib/lines_read.sh"
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
python3 "$SRC/tests/cli/stream_traffic.py" "$tmp/t.log" --tail-burst
total=$(wc -l <"$tmp/t.log")

"$LOGPIPE" stream -v --format combined --listen tcp://127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
  --config "$SRC/tests/data/stream_thresholds.toml" --threshold url_error_rate=0.3 \
  >"$tmp/alerts" 2>"$tmp/err" &
pid=$!
mport=$(metrics_port "$tmp/err")
port=$(sed -n 's|.*reading tcp://127.0.0.1:\([0-9]*\)$|\1|p' "$tmp/err")
[ -n "$port" ] || { cat "$tmp/err"; exit 1; }

python3 - "$tmp/t.log" "$port" "$mport" "$total" <<'PY'
import socket, sys, time, urllib.request
lines = open(sys.argv[1], 'rb').read().splitlines(keepends=True)
port, mport, total = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def lines_read(want):
    for _ in range(300):
        text = urllib.request.urlopen(f'http://127.0.0.1:{mport}/metrics', timeout=5).read().decode()
        got = [l for l in text.splitlines() if l.startswith('logpipe_lines_total ')]
        if got and int(got[0].split()[1]) == want:
            return text
        time.sleep(0.1)
    sys.exit(f'stream did not read {want} lines:\n{text}')
# Two clients one after the other, the second once the first was read (concurrent clients are
# merged in arrival order: minute 5 of one would make minute 3 of the other late), the second in
# small writes that split lines across packets; then one that dies mid-line.
half = len(lines) // 2
s = socket.create_connection(('127.0.0.1', port))
s.sendall(b''.join(lines[:half]))
s.close()
lines_read(half)
s = socket.create_connection(('127.0.0.1', port))
data = b''.join(lines[half:])
for i in range(0, len(data), 1000):
    s.sendall(data[i:i + 1000])
s.close()
idle = socket.create_connection(('127.0.0.1', port))
cut = socket.create_connection(('127.0.0.1', port))
cut.sendall(b'10.9.9.9 - - [23/Jun/2025:08:09:59 +0000] "GET /half HTTP/1.1" 200 12')
cut.close()
want = total + 1
text = lines_read(want)
assert '# TYPE logpipe_alerts_fired_total counter' in text, text
assert 'logpipe_malformed_total 1' in text, text
idle.close()
print('sent', want)
PY
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
[ "$status" -eq 0 ] || { echo "exit status $status"; cat "$tmp/err"; exit 1; }
{ cat "$SRC/tests/data/stream_golden.jsonl"
  echo '{"state":"firing","metric":"url_error_rate","key":"/fail","value":1,"threshold":0.3,"requests":30,"errors":30,"window_start":"2025-06-23T08:09:00Z","window_end":"2025-06-23T08:10:00Z","incident":"2025-06-23T08:09:00Z/url_error_rate"}'
} | diff -u - "$tmp/alerts" || { cat "$tmp/err"; exit 1; }
grep -q "logpipe: 1 malformed line skipped; first: tcp://127.0.0.1:$port/127.0.0.1:[0-9]*:1: line cut short" "$tmp/err" ||
  { cat "$tmp/err"; exit 1; }
grep -q "stream: $((total + 1)) lines, $total records, 0 late" "$tmp/err" || { cat "$tmp/err"; exit 1; }
echo ok

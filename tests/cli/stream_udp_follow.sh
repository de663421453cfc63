#!/usr/bin/env bash
# udp:// input (several lines per datagram, the last one without newline) and --follow on a file
# that grows and is rotated (renamed, new file); --idle-exit ends both runs.
set -euo pipefail
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
python3 "$SRC/tests/cli/stream_traffic.py" "$tmp/t.log"
golden="$SRC/tests/data/stream_golden.jsonl"
conf="$SRC/tests/data/stream_thresholds.toml"

# --- UDP: 126 datagrams of 10 lines: minute 6 of the traffic (the DDoS), 1260 lines.
"$LOGPIPE" stream -v --format combined --listen udp://127.0.0.1:0 --idle-exit 5s --config "$conf" \
  >"$tmp/udp.alerts" 2>"$tmp/udp.err" &
pid=$!
for _ in $(seq 100); do grep -q 'reading udp://' "$tmp/udp.err" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's|.*reading udp://127.0.0.1:\([0-9]*\)$|\1|p' "$tmp/udp.err")
python3 - "$tmp/t.log" "$port" <<'PY'
import socket, sys, time
lines = [l for l in open(sys.argv[1], 'rb') if b'[23/Jun/2025:08:06:' in l]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(0, len(lines), 10):
    s.sendto(b''.join(lines[i:i + 10]).rstrip(b'\n'), ('127.0.0.1', int(sys.argv[2])))
    time.sleep(0.01)  # gentle: a loaded machine must not overflow the socket buffer
print(len(lines), 'lines sent')
PY
wait "$pid"
pid=
# The DDoS window fires; the next window has no traffic at all: nothing more (no window after
# the last record's own window is emitted).
sed -n 3p "$golden" | diff -u - "$tmp/udp.alerts"
grep -q 'stream: 1260 lines, 1260 records' "$tmp/udp.err" || { cat "$tmp/udp.err"; exit 1; }

# --- follow: minutes 0-4 written first, the rest appended, then rotation and a new file.
awk '/\[23\/Jun\/2025:08:0[0-4]:/' "$tmp/t.log" >"$tmp/live.log"
"$LOGPIPE" stream -v --follow --format combined --idle-exit 5s --config "$conf" "$tmp/live.log" \
  >"$tmp/f.alerts" 2>"$tmp/f.err" &
pid=$!
# rotate only once the file is open (a slow start would otherwise open the new file)
for _ in $(seq 100); do grep -q 'reading ' "$tmp/f.err" 2>/dev/null && break; sleep 0.1; done
sleep 0.5
awk '/\[23\/Jun\/2025:08:0[5-6]:/' "$tmp/t.log" >>"$tmp/live.log"
sleep 0.5
mv "$tmp/live.log" "$tmp/live.log.1"   # rotation: the name now points to a new file
awk '/\[23\/Jun\/2025:08:0[7-9]:/' "$tmp/t.log" >"$tmp/live.log"
wait "$pid"
pid=
diff -u "$golden" "$tmp/f.alerts"
grep -q 'stream: 7200 lines, 7200 records, 0 late' "$tmp/f.err" || { cat "$tmp/f.err"; exit 1; }
echo ok

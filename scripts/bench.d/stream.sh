# Sourced by scripts/bench: `stream` throughput beside mawk, and the latency from a window's end to
# its alert on a live (paced) input.

# stream_file N: a combined log of N lines with realistic key counts (20k IPs, 5k users and 2k
# urls with skewed popularity, 3% errors), made with mawk so that it exists without `generate`.
stream_file() {
  local n=$1 f="$BENCH_DIR/stream-$1.log"
  if [ ! -s "$f" ]; then
    mawk -v n="$n" 'BEGIN { srand(7); for (i = 0; i < n; i++) {
      t = int(i / 500); r = rand(); ip = int(20000 * r * r * r); u = int(5000 * rand() * rand())
      url = int(2000 * rand() * rand() * rand()); st = (rand() < 0.03) ? (rand() < 0.3 ? 500 : 404) : 200
      printf "10.%d.%d.%d - user%d [23/Jun/2025:%02d:%02d:%02d +0000] \"GET /api/v1/items/%d?page=%d HTTP/1.1\" %d %d \"https://shop.example.com/\" \"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\"\n",
        int(ip / 65536) % 256, int(ip / 256) % 256, ip % 256, u, 8 + int(t / 3600), int(t / 60) % 60, t % 60, url, i % 10, st, 200 + int(rand() * 5000) } }' >"$f"
  fi
  echo "$f"
}

bench_stream() {
  local f conf
  f=$(stream_file 2000000)
  conf="$LOGPIPE_ROOT/tests/data/stream_thresholds.toml"
  echo "== stream: $(cached_line_count "$f") combined lines, $(($(stat -c %s "$f") / 1000000)) MB, on stdin"
  measure "logpipe stream --config (stdin)" "$f" sh -c "\"$LOGPIPE\" stream --format combined --config \"$conf\" <\"$f\""
  measure "logpipe stream, 60s window hop 10s" "$f" sh -c "\"$LOGPIPE\" stream --format combined --config \"$conf\" --hop 10s <\"$f\""
  # Statistical rules, as calibrate writes them by default (learned here on the same file).
  local rules="$BENCH_DIR/stream-rules.toml"
  "$LOGPIPE" calibrate --format combined --no-progress -o "$rules" "$f" >/dev/null
  measure "logpipe stream, calibrated statistical rules" "$f" sh -c "\"$LOGPIPE\" stream --format combined --config \"$rules\" <\"$f\""
  measure "mawk '{c[\$9]++}' (status count only)" "$f" sh -c "mawk '{c[\$9]++} END {for (k in c) print k, c[k]}' <\"$f\""
}

# Live input paced at 500 lines/s with the current time as event time, 1 s windows, lateness 0:
# prints, for each alert, the wall time of its arrival minus its window_end.
bench_stream_latency() {
  echo "== stream: latency from window end to alert (live input, 1s windows, --lateness 0)"
  python3 - "$LOGPIPE" <<'PY'
import subprocess, sys, time, json, threading
p = subprocess.Popen([sys.argv[1], 'stream', '--format', 'combined', '--window', '1s', '--lateness', '0',
                      '--threshold', 'error_rate=0.5'], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
delays = []
def read():
    for line in p.stdout:
        a = json.loads(line)
        end = time.mktime(time.strptime(a['window_end'], '%Y-%m-%dT%H:%M:%SZ')) - time.timezone
        delays.append(time.time() - end)
t = threading.Thread(target=read); t.start()
start = time.time()
while time.time() - start < 6:
    now = time.time()
    status = 500 if int(now) % 2 == 0 else 200   # error_rate alternates: fire, resolve, ...
    ts = time.strftime('%d/%b/%Y:%H:%M:%S +0000', time.gmtime(now))
    p.stdin.write(f'1.2.3.4 - - [{ts}] "GET / HTTP/1.1" {status} 1 "-" "b"\n'.encode()); p.stdin.flush()
    time.sleep(0.002)
p.stdin.close(); p.wait(); t.join()
live = delays[:-1]  # the last one comes from the end-of-input flush
print(f"alerts: {len(delays)}; delay after window end: min {min(live)*1000:.1f} ms, "
      f"median {sorted(live)[len(live)//2]*1000:.1f} ms, max {max(live)*1000:.1f} ms")
PY
}

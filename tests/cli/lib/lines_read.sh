# Sourced by tests that watch a running stream through --metrics-listen (not a test itself).
# wait_lines_read PORT N [SETTLE]: polls stream's --metrics-listen on 127.0.0.1:PORT until
# logpipe_lines_total is N, then sleeps SETTLE seconds (default 0.6: a few quiet ticks, for
# checkpoints and commits); fails after 30 s.
wait_lines_read() {
  python3 - "$1" "$2" "${3:-0.6}" <<'PY'
import sys, time, urllib.request
port, want, settle = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
for _ in range(300):
    text = urllib.request.urlopen(f'http://127.0.0.1:{port}/metrics', timeout=5).read().decode()
    got = [l for l in text.splitlines() if l.startswith('logpipe_lines_total ')]
    if got and int(got[0].split()[1]) == want:
        time.sleep(settle)
        sys.exit(0)
    time.sleep(0.1)
sys.exit(f'stream did not read {want} lines')
PY
}

# metrics_port ERRFILE: waits (10 s at most) for stream's `metrics on port N` line in ERRFILE (its
# stderr with --metrics-listen 127.0.0.1:0) and prints N; without it, shows ERRFILE and fails.
metrics_port() {
  for _ in $(seq 100); do grep -q 'metrics on port' "$1" 2>/dev/null && break; sleep 0.1; done
  local port
  port=$(sed -n 's|.*metrics on port \([0-9]*\).*|\1|p' "$1")
  [ -n "$port" ] || { echo "FAIL: no 'metrics on port' line in $1:" >&2; cat "$1" >&2; return 1; }
  echo "$port"
}

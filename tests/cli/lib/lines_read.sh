# Sourced by tests that stop a running stream once it has read what they sent (not a test itself).
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

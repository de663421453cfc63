#!/usr/bin/env bash
# stream --dashboard in tmux at 80x24 and 200x60, driven by send-keys and read with capture-pane:
# while paced lines arrive, a closed window's figures are on screen and equal its --window-log
# line; the url rows equal a recount of the lines; p freezes the screen, s sorts by errors, Tab
# moves to users then IPs, / filters the rows, q ends the stream with exit 0 and what stderr got
# meanwhile is written out afterwards. The captured panes are kept in $LOGPIPE_SCREENSHOTS when set.
set -euo pipefail
command -v tmux >/dev/null || { echo "SKIP: tmux absent (apt-get install tmux to run this test)"; exit 77; }
source "$SRC/tests/cli/lib/scratch.sh"
sock="$tmp/tmux.sock"
t() { tmux -S "$sock" "$@"; }
trap 't kill-server 2>/dev/null || true; scratch_cleanup' EXIT

"$LOGPIPE" generate --rate 400 --count 30000 --with-duration --seed 11 >"$tmp/gen.log" 2>/dev/null &
pids+=($!)

pane() { t capture-pane -p -t dash; }
# wait_for REGEX: until the pane shows it (20 s).
wait_for() {
  for _ in $(seq 100); do pane | grep -Eq "$1" && return 0; sleep 0.2; done
  echo "the dashboard never showed /$1/:"; pane; exit 1
}

for size in 80x24 200x60; do
  cols=${size%x*} rows=${size#*x}
  rm -f "$tmp/rc" "$tmp/wl.jsonl"
  t -f /dev/null new-session -d -s dash -x "$cols" -y "$rows" \
    "LANG=C.UTF-8 '$LOGPIPE' stream --dashboard -v --follow '$tmp/gen.log' --window 2s --lateness 0s \
       --threshold error_rate=0.005 --window-log '$tmp/wl.jsonl' 2>'$tmp/err.txt'; echo \$? >'$tmp/rc'; sleep 60"
  wait_for 'window 20[0-9-]+T'
  wait_for '^requests [1-9]'
  t send-keys -t dash p
  wait_for 'PAUSED'
  pane >"$tmp/a.txt"
  sleep 2.5
  pane >"$tmp/b.txt"
  cmp -s "$tmp/a.txt" "$tmp/b.txt" || { echo "$size: the screen changed while paused"; diff "$tmp/a.txt" "$tmp/b.txt"; exit 1; }
  [ -n "${LOGPIPE_SCREENSHOTS:-}" ] && cp "$tmp/a.txt" "$LOGPIPE_SCREENSHOTS/stream_dashboard_$size.txt"
  t send-keys -t dash s
  wait_for 'sorted by errors'
  pane >"$tmp/sorted.txt"
  t send-keys -t dash Tab
  wait_for '^Users \('
  t send-keys -t dash Tab
  wait_for '^IPs \('
  pane >"$tmp/ips.txt"
  prefix=$(awk '/^key /{getline; print substr($1, 1, 6); exit}' "$tmp/ips.txt")
  t send-keys -t dash / "$prefix" Enter
  wait_for "filter: $prefix"
  pane >"$tmp/filtered.txt"
  python3 - "$tmp" "$cols" "$rows" "$prefix" <<'PY'
import calendar, json, re, sys, time
from collections import Counter
tmp, cols, rows, prefix = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
a = open(f"{tmp}/a.txt", encoding="utf-8").read().split("\n")
assert all(len(l) <= cols for l in a), [l for l in a if len(l) > cols]
assert a[0].startswith("logpipe stream ") and "PAUSED" in a[0], a[0]
assert a[rows - 1].startswith("q quit"), a[rows - 1]
m = re.search(r"window (\S+) - (\S+)", a[0])
start = m.group(1)
num = lambda s: int(s.replace(",", ""))
figures = " ".join(a[1:3])
g = re.search(r"requests ([\d,]+) .* errors ([\d,]+)  error rate (\S+)  5xx ([\d,]+)", figures)
w = {json.loads(l)["window_start"]: json.loads(l) for l in open(f"{tmp}/wl.jsonl")}[start]
assert num(g.group(1)) == w["requests"] and num(g.group(2)) == w["errors"] and num(g.group(4)) == w["server_errors"], (g.groups(), w)
assert g.group(3) == f"{100 * w['errors'] / w['outcomes']:.2f}%", (g.group(3), w)
assert "latency p50 " in figures, figures
# The url rows against a recount of the window's lines.
months = {m: i for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1)}
t0 = calendar.timegm(time.strptime(start, "%Y-%m-%dT%H:%M:%SZ"))
line_re = re.compile(r'\[(\d+)/(\w+)/(\d+):(\d+):(\d+):(\d+) \+0000\] "\S+ (\S+)')
per_url = Counter()
for line in open(f"{tmp}/gen.log", encoding="utf-8", errors="replace"):
    d, mon, y, hh, mm, ss, target = line_re.search(line).groups()
    if t0 <= calendar.timegm((int(y), months[mon], int(d), int(hh), int(mm), int(ss))) < t0 + 2:
        per_url[target.split("?")[0]] += 1
assert sum(per_url.values()) == w["requests"], (sum(per_url.values()), w)
def table(lines):
    i = next(i for i, l in enumerate(lines) if l.startswith("key "))
    out = []
    for l in lines[i + 1:]:
        f = l.split()
        if len(f) < 4 or not re.fullmatch(r"[\d,]+", f[1]):
            break
        out.append(f)
    return out
urls = table(a)
assert len(urls) >= min(5, rows - 20), urls
counts = [num(f[1]) for f in urls]
assert counts == sorted(counts, reverse=True), counts
for f in urls:
    assert num(f[1]) == per_url[f[0]], (f, per_url[f[0]])
assert counts[0] == max(per_url.values())
errors = [num(f[2]) for f in table(open(f"{tmp}/sorted.txt", encoding="utf-8").read().split("\n"))]
assert errors and errors == sorted(errors, reverse=True), errors
kept = table(open(f"{tmp}/filtered.txt", encoding="utf-8").read().split("\n"))
assert kept and all(prefix in f[0] for f in kept), (prefix, kept)
print(f"{cols}x{rows}: window {start} {w['requests']} requests, {len(urls)} url rows recounted, "
      f"{len(errors)} sorted by errors, {len(kept)} ips matching {prefix}")
PY
  t send-keys -t dash p q
  for _ in $(seq 100); do [ -f "$tmp/rc" ] && break; sleep 0.1; done
  [ "$(cat "$tmp/rc" 2>/dev/null)" = 0 ] || { echo "$size: q did not end the stream with 0:"; cat "$tmp/err.txt"; exit 1; }
  grep -q "logpipe: stream: reading $tmp/gen.log" "$tmp/err.txt" ||
    { echo "$size: stderr of the run was not written out at the end:"; cat "$tmp/err.txt"; exit 1; }
  t kill-session -t dash
done

# Not on a terminal: a usage error, not a garbled pipe.
set +e
"$LOGPIPE" stream --dashboard "$tmp/gen.log" >"$tmp/out" 2>"$tmp/err"
rc=$?
set -e
[ "$rc" = 2 ] && grep -q "needs a terminal" "$tmp/err" || { echo "no terminal: exit $rc"; cat "$tmp/err"; exit 1; }
echo "ok: dashboard at 80x24 and 200x60"

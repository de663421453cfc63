#!/usr/bin/env bash
# stream --http-listen in a real browser (headless Chromium over the DevTools pipe): while paced
# lines arrive, the page at / follows /events (Server-Sent Events) and shows new windows without
# a reload; the numbers it shows for a window equal that window's --window-log line and a
# recount of the generated lines (requests, per-url requests); the open alert is listed; the
# chart has one point per window on each of its two lines. A screenshot is taken (kept in
# $LOGPIPE_SCREENSHOTS when set). Then the same server still answers /metrics, refuses other
# paths, drops an /events client that dies, and the stream ends normally.
# Skipped when Debian's chromium is not installed (scripts/deps.sh installs it for the tests).
set -euo pipefail
chromium=/usr/bin/chromium
[ -x "$chromium" ] || { echo "SKIP: $chromium absent (apt-get install chromium to run this test)"; exit 77; }
source "$SRC/tests/cli/lib/scratch.sh"

# About 14 s of traffic at 500 lines/s, 2 s windows; error_rate pages at 0.5% (the traffic has 2%).
( "$LOGPIPE" generate --rate 500 --count 7000 --with-duration --seed 7 | tee "$tmp/gen.log" |
    "$LOGPIPE" stream --window 2s --lateness 0s --http-listen 127.0.0.1:0 --threshold error_rate=0.005 \
      --window-log "$tmp/wl.jsonl" --idle-exit 3s --output-format json >"$tmp/alerts.jsonl" 2>"$tmp/err.txt"
  echo $? >"$tmp/rc" ) &
pids+=($!)
port=
for _ in $(seq 100); do
  port=$(sed -n 's|.*live view at http://127.0.0.1:\([0-9]*\)/$|\1|p' "$tmp/err.txt" 2>/dev/null)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "no 'live view at' line:"; cat "$tmp/err.txt"; exit 1; }
echo "live view on port $port"

# A client that connects to /events and dies at once: the server goes on.
timeout 1 curl -s -N "http://127.0.0.1:$port/events" >/dev/null || true

PYTHONPATH="$SRC/tests/cli/lib" python3 - "$chromium" "$tmp" "$port" "${LOGPIPE_SCREENSHOTS:-}" <<'PY'
import calendar, json, re, sys, time
from collections import Counter
from cdp import Browser

chromium, tmp, port, keep = sys.argv[1:5]
b = Browser(chromium, f"{tmp}/profile")
try:
    b.open(f"http://127.0.0.1:{port}/")
    state = "JSON.stringify({w: (document.getElementById('window') || {}).textContent, " \
            "s: (document.getElementById('status') || {}).textContent})"  # null while loading
    seen, ended = [], lambda: "lines," in open(f"{tmp}/err.txt").read()
    deadline = time.time() + 40
    while len(seen) < 4 and time.time() < deadline and not ended():
        s = json.loads(b.evaluate(state) or "{}")
        if s.get("s") == "live" and s["w"] != "none closed yet" and (not seen or seen[-1] != s["w"]):
            seen.append(s["w"])
        time.sleep(0.2)
    print("windows seen while lines arrived:", seen)
    assert len(seen) >= 4, ("the page did not follow the stream", seen, open(f"{tmp}/err.txt").read())
    assert not ended(), "the stream ended before the page saw four windows"
    probe = b.evaluate("""JSON.stringify((function () {
      var t = function (id) { return document.getElementById(id).textContent; };
      var rows = function (id) { return Array.prototype.map.call(document.querySelectorAll('#' + id + ' tbody tr'),
        function (r) { return Array.prototype.map.call(r.cells, function (c) { return c.textContent; }); }); };
      var lines = document.querySelectorAll('#chart polyline');
      return {window: t('window'), requests: t('c-requests'), errors: t('c-errors'), rate: t('c-error-rate'),
              e5xx: t('c-5xx'), rps: t('c-rate'), shown: t('c-windows'), open: t('c-alerts'),
              alerts: rows('alerts'), urls: rows('urls'), ips: rows('ips'),
              points: Array.prototype.map.call(lines, function (l) { return l.getAttribute('points').split(' ').length; })};
    })())""")
    b.screenshot(f"{tmp}/live.png")
finally:
    b.close()
p = json.loads(probe)
if keep:
    import shutil
    shutil.copy(f"{tmp}/live.png", f"{keep}/stream_http_live.png")
num = lambda s: int(s.replace(",", ""))
start, end = p["window"].split(" \u2013 ")
# The window log has the same window (it is written before the live view sees it).
logged = {}
for line in open(f"{tmp}/wl.jsonl"):
    w = json.loads(line)
    logged[w["window_start"]] = w
w = logged[start]
assert w["window_end"] == end, (w, end)
assert num(p["requests"]) == w["requests"], (p["requests"], w)
assert num(p["errors"]) == w["errors"], (p["errors"], w)
assert num(p["e5xx"]) == w["server_errors"], (p["e5xx"], w)
assert p["rate"] == f"{100 * w['errors'] / w['outcomes']:.2f}%", (p["rate"], w)
assert p["rps"] == f"{w['request_rate']:.2f}" or num(p["rps"]) == round(w["request_rate"]), (p["rps"], w)
# Recount from the lines themselves: the window's requests and the requests of each url shown.
months = {m: i for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1)}
iso = lambda s: calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))
t0, t1 = iso(start), iso(end)
line_re = re.compile(r'\[(\d+)/(\w+)/(\d+):(\d+):(\d+):(\d+) \+0000\] "\S+ (\S+)')
total, per_url = 0, Counter()
for line in open(f"{tmp}/gen.log", encoding="utf-8", errors="replace"):
    m = line_re.search(line)
    d, mon, y, hh, mm, ss, target = m.groups()
    t = calendar.timegm((int(y), months[mon], int(d), int(hh), int(mm), int(ss)))
    if t0 <= t < t1:
        total += 1
        per_url[target.split("?")[0]] += 1
assert total == w["requests"], (total, w)
assert len(p["urls"]) == min(20, len(per_url)), (len(p["urls"]), len(per_url))
counts = [num(r[1]) for r in p["urls"]]
assert counts == sorted(counts, reverse=True), counts
for r in p["urls"]:
    assert num(r[1]) == per_url[r[0]], (r, per_url[r[0]])
assert counts[0] == max(per_url.values()), (counts[0], per_url.most_common(1))
# The open alert: error_rate pages at 0.5% on traffic with 2% errors.
assert num(p["open"]) == len(p["alerts"]) >= 1, (p["open"], p["alerts"])
assert any(a[0] == "error_rate" for a in p["alerts"]), p["alerts"]
# Two lines (requests/s and error rate), one point per window shown.
assert p["points"] == [num(p["shown"])] * 2, (p["points"], p["shown"])
print(f"window {start}: {w['requests']} requests, {w['errors']} errors; {len(p['urls'])} urls recounted; "
      f"{len(p['alerts'])} open alert(s)")
PY

# The same server: Prometheus at /metrics, 404 elsewhere, HEAD of the page without a body.
# Read whole before grep: `curl | grep -q` fails under pipefail when grep exits first (SIGPIPE).
metrics_text=$(curl -sf "http://127.0.0.1:$port/metrics") || metrics_text=
grep -q '^logpipe_window_requests' <<<"$metrics_text" ||
  { echo "no Prometheus text at /metrics"; printf '%s\n' "$metrics_text" | head; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/nothing-here")
[ "$code" = 404 ] || { echo "GET /nothing-here: $code, expected 404"; exit 1; }
[ -z "$(curl -s -I "http://127.0.0.1:$port/" | tr -d '\r' | sed '1,/^$/d')" ] || { echo "HEAD / has a body"; exit 1; }
for _ in $(seq 300); do [ -f "$tmp/rc" ] && break; sleep 0.1; done
[ "$(cat "$tmp/rc" 2>/dev/null)" = 0 ] || { echo "stream failed:"; cat "$tmp/err.txt"; exit 1; }
grep -q '"state":"firing"' "$tmp/alerts.jsonl" || { echo "no alert on stdout as well"; exit 1; }
echo "ok: live page followed the stream; /metrics, 404 and the stream's end as expected"

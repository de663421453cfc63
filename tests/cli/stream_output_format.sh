#!/usr/bin/env bash
# Issue 24, case 2: stream is no longer silent until configured, and speaks to people on a
# terminal.
#  1. Without any rule it says so on stderr, with the commands that give one (it used to print
#     nothing at all).
#  2. --output-format text: one readable line per alert. Checked line by line against a
#     rendering, made here in Python, of the JSON lines of the same run (--output-format json),
#     with fixed thresholds and with the statistical rules calibrate writes.
#  3. auto (the default): text on a terminal (a pty), JSON lines when piped.
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
python3 "$SRC/tests/cli/stream_traffic.py" full.log
conf="$SRC/tests/data/stream_thresholds.toml"

# --- 1. no rule ----------------------------------------------------------------------------------
"$LOGPIPE" stream full.log >out 2>err
[ ! -s out ] || { echo "FAIL: alerts without a rule"; cat out; exit 1; }
head -1 err | grep -qx "logpipe: stream: no alert rule is set: nothing will page. To get rules:" ||
  { echo "FAIL: no hint without rules:"; cat err; exit 1; }
grep -q "logpipe calibrate HISTORY -o rules.toml" err && grep -q -- "--threshold error_rate=0.05" err ||
  { echo "FAIL: the hint lacks the commands:"; cat err; exit 1; }
"$LOGPIPE" stream --config "$conf" full.log >/dev/null 2>err
[ ! -s err ] || { echo "FAIL: stderr with rules:"; cat err; exit 1; }
"$LOGPIPE" stream --threshold error_rate=0.5 full.log >/dev/null 2>err
[ ! -s err ] || { echo "FAIL: stderr with a --threshold:"; cat err; exit 1; }

# --- 2. text lines = the JSON lines rendered independently ----------------------------------------
cat >render.py <<'PY'
import json, math, sys

def digits(x):  # 3 significant digits, fixed notation, no trailing zeros
    if x == 0:
        return "0"
    d = min(9, max(0, 2 - math.floor(math.log10(abs(x)))))
    t = f"{x:.{d}f}"
    if "." in t:
        t = t.rstrip("0").rstrip(".")
    return "0" if t == "-0" else t

def human(metric, v):
    if metric.endswith("error_rate"):
        return digits(v * 100) + "%"
    if metric.endswith("request_rate"):
        return digits(v) + " req/s"
    return digits(v / 1000) + " s" if v >= 1000 else digits(v) + " ms"

want = []
for line in open(sys.argv[1]):
    a = json.loads(line)
    what = a["metric"] + (" " + a["key"] if a["key"] else "")
    rule = ""
    if a["state"] == "firing":
        rule = (f" (baseline {human(a['metric'], a['baseline'])}, evidence {a['score']:.1f} > {a['limit']:.1f})"
                if "baseline" in a else " > " + human(a["metric"], a["threshold"]))
    counts = (f"{a['errors']} of {a['requests']} requests" if a["metric"].endswith("error_rate")
              else f"{a['requests']} requests")
    day, clock = a["window_start"][:10], a["window_start"][11:]
    state = "FIRING" if a["state"] == "firing" else "RESOLVED"
    want.append(f"{day} {clock}  {state:<8}  {what}  {human(a['metric'], a['value'])}{rule}  ({counts})  incident {a['incident']}")
got = open(sys.argv[2]).read().splitlines()
assert len(want) >= 4, want
assert got == want, "\n".join(f"got  {g}\nwant {w}" for g, w in zip(got, want) if g != w) or (len(got), len(want))
print(f"ok: {len(got)} text lines match the JSON lines")
PY
"$LOGPIPE" generate --profile "$SRC/samples/profiles/quiet-day.toml" --no-pace --seed 3 --duration 2h >history.log
"$LOGPIPE" calibrate history.log -o rules.toml >/dev/null
for rules in "$conf" rules.toml; do
  "$LOGPIPE" stream --config "$rules" --output-format json full.log >alerts.jsonl
  "$LOGPIPE" stream --config "$rules" --output-format text full.log >alerts.txt
  python3 render.py alerts.jsonl alerts.txt
done
grep -q '"baseline"' alerts.jsonl || { echo "FAIL: no statistical alert to render"; exit 1; }
"$LOGPIPE" stream --config "$conf" --output-format text full.log >alerts.txt
"$LOGPIPE" stream --config "$conf" --output-format json full.log >alerts.jsonl

# --- 3. auto: text on a terminal, JSON lines in a pipe ---------------------------------------------
python3 - "$LOGPIPE" "$conf" full.log alerts.txt <<'PY'
import os, pty, sys
logpipe, conf, log, text = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(logpipe, [logpipe, "stream", "--config", conf, log])
out = b""
while True:
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
os.waitpid(pid, 0)
got = out.decode().replace("\r\n", "\n")
assert got == open(text).read(), got[:500]
print("ok: text on a terminal")
PY
"$LOGPIPE" stream --config "$conf" full.log | cmp -s - alerts.jsonl ||
  { echo "FAIL: piped output is not the JSON lines"; exit 1; }
echo ok

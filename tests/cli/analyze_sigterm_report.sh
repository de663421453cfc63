#!/usr/bin/env bash
# Issue #9: on SIGTERM, analyze writes its report for what it read, in every report format, and
# exits 0. The input is a TCP server that never closes the connection: 2,000 lines then half a
# line. Everything that arrived is counted: 2,000 records and the half line as 1 malformed line
# (the connection is still open, so it is cut short by the signal, not lost).
set -euo pipefail
. "$SRC/tests/cli/lib/scratch.sh"  # $tmp, $pids killed at exit
peer="$SRC/tests/cli/nothing_lost.py"
python3 "$peer" good "$tmp/in.log" 2001 --cut

for format in json text csv html; do
  rm -f "$tmp/port" "$tmp/port.sent"
  python3 "$peer" serve "$tmp/in.log" "$tmp/port" --keep-open & peer_pid=$!; pids+=($peer_pid)
  for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
  "$LOGPIPE" analyze --format combined --report $format -o "$tmp/report.$format" \
    "tcp://127.0.0.1:$(cat "$tmp/port")" 2>"$tmp/err.$format" & pid=$!; pids+=($pid)
  # Signal only once analyze's kernel has every byte (the peer saw them acknowledged).
  for _ in $(seq 400); do [ -e "$tmp/port.sent" ] && break; sleep 0.05; done
  [ -e "$tmp/port.sent" ] || { echo "peer never saw its data acknowledged"; exit 1; }
  kill -TERM "$pid"
  status=0
  wait "$pid" || status=$?
  kill "$peer_pid" 2>/dev/null || true
  [ "$status" -eq 0 ] || { echo "$format: exit status $status"; cat "$tmp/err.$format"; exit 1; }
  grep -q "stopped by a signal: the report covers the lines read so far" "$tmp/err.$format" ||
    { cat "$tmp/err.$format"; exit 1; }
  grep -q "1 malformed line skipped; first: tcp://127.0.0.1:[0-9]*:2001: line cut short" "$tmp/err.$format" ||
    { cat "$tmp/err.$format"; exit 1; }
done
python3 - "$tmp" <<'PY'
import json, re, sys
d = sys.argv[1]
r = json.load(open(f"{d}/report.json"))
assert (r["requests"], r["malformed"]) == (2000, 1), (r["requests"], r["malformed"])
assert r["errors"] == 200, r["errors"]  # 1 line in 10 is a 500 (nothing_lost.py good_line)
csv = open(f"{d}/report.csv").read().splitlines()
assert "totals,requests,2000" in csv and "totals,malformed,1" in csv, csv[:8]
text = open(f"{d}/report.text").read()
assert re.search(r"^  requests +2000$", text, re.M) and re.search(r"^  malformed lines +1$", text, re.M), text[:600]
html = open(f"{d}/report.html").read()
assert "<b>2,000</b><span>requests</span>" in html, "html: requests"
assert "<b>1</b><span>malformed lines</span>" in html, "html: malformed"
PY
echo ok

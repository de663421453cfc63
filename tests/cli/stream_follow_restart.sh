#!/usr/bin/env bash
# stream --follow --state across a restart: the file's position survives. The golden traffic is
# appended to a log in three pieces; the first run reads two of them and is stopped inside the
# /checkout burst; it committed the position of the first piece's end once the window holding
# it had closed. The second run continues there (not from the start of the file), counts again
# only what the open window needs, and reads the third piece. Together the runs write the alerts
# of one run over the whole log (the golden file), and the lines read twice are exactly those of
# the closed window after the committed position. A file replaced meanwhile (rotated) is read
# from its start, said on stderr.
set -euo pipefail
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
. "$SRC/tests/cli/lib/lines_read.sh"
python3 "$SRC/tests/cli/stream_traffic.py" "$tmp/t.log"
conf="$SRC/tests/data/stream_thresholds.toml"
awk '$4 < "[23/Jun/2025:08:03:30"' "$tmp/t.log" >"$tmp/a"
awk '$4 >= "[23/Jun/2025:08:03:30" && $4 < "[23/Jun/2025:08:04:30"' "$tmp/t.log" >"$tmp/b"
awk '$4 >= "[23/Jun/2025:08:04:30"' "$tmp/t.log" >"$tmp/c"
replayed=$(awk '$4 >= "[23/Jun/2025:08:03:30" && $4 < "[23/Jun/2025:08:04:00"' "$tmp/t.log" | wc -l)
: >"$tmp/access.log"

start() {  # start ALERTS ERR
  "$LOGPIPE" stream -v --format combined --follow --metrics-listen 127.0.0.1:0 --commit-interval 100ms \
    --config "$conf" --state "$tmp/state" "$tmp/access.log" >"$1" 2>"$2" &
  pid=$!
  mport=$(metrics_port "$2")
}
wait_lines() { wait_lines_read "$mport" "$1"; }
stop() {
  kill -TERM "$pid"
  local status=0
  wait "$pid" || status=$?
  pid=
  [ "$status" -eq 0 ] || { echo "exit status $status"; cat "$1"; exit 1; }
}

start "$tmp/alerts1" "$tmp/err1"
cat "$tmp/a" >>"$tmp/access.log"
wait_lines "$(wc -l <"$tmp/a")"
cat "$tmp/b" >>"$tmp/access.log"
wait_lines "$(($(wc -l <"$tmp/a") + $(wc -l <"$tmp/b")))"
stop "$tmp/err1"
head -1 "$SRC/tests/data/stream_golden.jsonl" | diff -u - "$tmp/alerts1"

cat "$tmp/c" >>"$tmp/access.log"
start "$tmp/alerts2" "$tmp/err2"
first=$(($(wc -l <"$tmp/a") + 1))
grep -q "access.log: continuing at line $first" "$tmp/err2" || { cat "$tmp/err2"; exit 1; }
wait_lines "$(($(wc -l <"$tmp/b") + $(wc -l <"$tmp/c")))"
stop "$tmp/err2"
grep -q "logpipe: $replayed records read again for windows evaluated before (by the previous run" "$tmp/err2" ||
  { echo "want $replayed replayed"; cat "$tmp/err2"; exit 1; }
cat "$tmp/alerts1" "$tmp/alerts2" | diff -u "$SRC/tests/data/stream_golden.jsonl" -

# Rotated while stopped: a new file has the name; it is read from its start.
mv "$tmp/access.log" "$tmp/access.log.1"
head -100 "$tmp/t.log" >"$tmp/access.log"
start "$tmp/alerts3" "$tmp/err3"
wait_lines 100
stop "$tmp/err3"
grep -q "access.log: not the file the state names (rotated or truncated since): reading it from its start" "$tmp/err3" ||
  { cat "$tmp/err3"; exit 1; }
echo ok

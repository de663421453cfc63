#!/usr/bin/env bash
# Issue 25, case 4: a file truncated while it is being read (copytruncate, a file rewritten in
# place) is detected: every line read is counted, the file is named ("truncated while being
# read"), and the exit status is 1 (3,000,000 lines truncated under analyze used to give a report
# of 162,320 lines and exit 0). To truncate it at a known point, the command first reads a FIFO
# (opened with the file before any work, as every input is) that this script holds open; the file
# is truncated to its first 5,000 lines once the command has it open, then the FIFO is closed.
# Checked for analyze (one thread, and split over threads), anonymize and stream.
set -euo pipefail
[ -d /proc/self/fd ] || { echo "SKIP: no /proc"; exit 77; }
. "$SRC/tests/cli/lib/scratch.sh"  # $tmp, $pids killed at exit
cd "$tmp"
gen="$SRC/tests/cli/nothing_lost.py"
python3 "$gen" good first.log 5000
python3 "$gen" good full.log 100000
keep=$(stat -c %s first.log)
printf 'k3y' >key
chmod 600 key

truncated_run() {  # COMMAND...: runs it on (gate.fifo, big.log), truncating big.log under it
  cp full.log big.log
  rm -f gate.fifo
  mkfifo gate.fifo
  "$@" gate.fifo big.log >out 2>err & run=$!
  pids+=("$run")
  exec 3>gate.fifo
  for _ in $(seq 200); do ls -l "/proc/$run/fd" 2>/dev/null | grep -q "big.log" && break; sleep 0.05; done
  truncate -s "$keep" big.log
  exec 3>&-
  status=0
  wait "$run" || status=$?
  [ "$status" = 1 ] || { echo "FAIL $1 $2: exit $status, want 1"; cat err; exit 1; }
  grep -q "big.log: truncated while being read (it had $(stat -c %s full.log) bytes when opened, $keep now)" err ||
    { echo "FAIL $1 $2: message"; cat err; exit 1; }
}
requests() { python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(r["requests"], r["malformed"])' "$1"; }
for threads in 1 2; do
  truncated_run "$LOGPIPE" analyze --format combined --report json --threads $threads
  [ "$(requests out)" = "5000 0" ] || { echo "FAIL analyze --threads $threads: $(requests out)"; cat err; exit 1; }
done
truncated_run "$LOGPIPE" anonymize --key-file key --format combined
[ "$(wc -l <out)" = 5000 ] || { echo "FAIL anonymize: $(wc -l <out) lines"; exit 1; }
truncated_run "$LOGPIPE" stream -v --format combined --alerts /dev/null
grep -q "stream: 5000 lines, 5000 records" err || { echo "FAIL stream"; cat err; exit 1; }
echo ok

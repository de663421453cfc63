#!/usr/bin/env bash
# Issue 25, case 2: a stop signal while anonymize reads a file. Like calibrate, an interrupted run
# must not leave a copy that looks finished: `-o FILE` keeps the previous FILE (no temporary file
# left) and the exit status is 1 with "interrupted" on stderr (it used to replace out.log with
# 543,301 of 3,000,000 lines and exit 0). To stop it inside the input, the input is a FIFO: the
# first part is written (a FIFO holds 64 KiB, so it has been read when the write returns), then
# SIGTERM, then the rest, which wakes the reader. export (records as JSON) shares the same end
# (finish_whole_output): the same checks run on it, with its own counts ("N records").
set -euo pipefail
. "$SRC/tests/cli/lib/scratch.sh"  # $tmp, $pids killed at exit
cd "$tmp"
python3 "$SRC/tests/cli/nothing_lost.py" good part1.log 20000
python3 "$SRC/tests/cli/nothing_lost.py" good part2.log 20000 --from 20000
printf 'k3y' >key
chmod 600 key

interrupted_run() {  # OUTPUT: runs "${cmd[@]}" -o OUTPUT on a FIFO, stopped in the middle; sets $status
  rm -f in.fifo
  mkfifo in.fifo
  "$LOGPIPE" "${cmd[@]}" --format combined -o "$1" in.fifo 2>err & run=$!
  pids+=("$run")
  exec 3>in.fifo
  cat part1.log >&3
  kill -TERM "$run"
  cat part2.log >&3 2>/dev/null || true  # EPIPE: the reader had already stopped
  exec 3>&-
  status=0
  wait "$run" || status=$?
}

for what in anonymize export; do
  if [ "$what" = anonymize ]; then cmd=(anonymize --key-file key); read_unit=lines; written_unit="of the lines"
  else cmd=(export); read_unit=records; written_unit=records; fi
  echo "the previous anonymised copy" >out.log
  interrupted_run out.log
  [ "$status" = 1 ] || { echo "FAIL $what: exit $status, want 1"; cat err; exit 1; }
  grep -q "^logpipe: interrupted after [0-9]* $read_unit: 'out.log' not written (a previous file is kept)$" err ||
    { echo "FAIL $what: message"; cat err; exit 1; }
  [ "$(cat out.log)" = "the previous anonymised copy" ] || { echo "FAIL $what: out.log was replaced"; exit 1; }
  leftover=$(find . -name '.out.log.tmp-*')
  [ -z "$leftover" ] || { echo "FAIL $what: temporary file left: $leftover"; exit 1; }

  # A new file is not created either.
  rm -f new.log
  interrupted_run new.log
  [ "$status" = 1 ] && [ ! -e new.log ] || { echo "FAIL $what: new.log (exit $status)"; cat err; exit 1; }

  # stdout cannot be taken back: what was written stays, and the status says it is incomplete.
  interrupted_run - >stdout.log
  [ "$status" = 1 ] || { echo "FAIL $what: stdout exit $status"; cat err; exit 1; }
  grep -q "^logpipe: interrupted: the output ends after [0-9]* $written_unit" err || { cat err; exit 1; }

  # Not interrupted: the same input is written whole and exit 0 (the test can tell the two apart).
  cat part1.log part2.log >whole.log
  "$LOGPIPE" "${cmd[@]}" --format combined -o out.log whole.log
  [ "$(wc -l <out.log)" = 40000 ] || { echo "FAIL $what: $(wc -l <out.log) lines written"; exit 1; }
  echo "ok $what"
done

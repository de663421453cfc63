#!/usr/bin/env bash
# Issue 17, fail-over: three `stream --scale-out` instances read the first half of the traffic,
# then the one that merges is killed (SIGKILL: it commits nothing more, says nothing), and the
# second half arrives. The group moves its input partitions and the partials to the survivors;
# the new merger restores the state the dead one committed and reads the partials from there.
# Afterwards the set of alerts (the union of every instance's output, a repeat only as an
# identical line) equals one process over the same lines from a file. kcat writes the input
# (keyed by client address), independently of logpipe.
set -euo pipefail
command -v kcat >/dev/null || { echo "SKIP: kcat absent"; exit 77; }
. "$SRC/tests/cli/lib/retry_once.sh"
. "$SRC/tests/cli/lib/scratch.sh"
. "$SRC/tests/cli/lib/kafka_mock.sh"
kafka_mock_start --brokers 3 http-logs:12 http-logs2:12 logpipe.kill.partials:1 logpipe.killr.partials:1
opts=(--kafka-option session.timeout.ms=6000 --kafka-option heartbeat.interval.ms=1000 --idle-exit 20s
      --commit-interval 1s)

# The traffic: tests/cli/lib/payment_ddos.toml (an error burst at 00:03, a flood at 00:06).
"$LOGPIPE" generate --profile "$SRC/tests/cli/lib/payment_ddos.toml" --no-pace --seed 7 --start 2025-06-23T00:00:00Z -o "$tmp/all.log"
fmt='logformat:%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" %D'
conf="$SRC/samples/thresholds.toml"
"$LOGPIPE" stream --format "$fmt" --config "$conf" "$tmp/all.log" | sort >"$tmp/file.sorted"
[ "$(grep -c '"firing"' "$tmp/file.sorted")" -ge 3 ] || { echo "FAIL: the reference fires too little"; exit 1; }
# Halves at 00:05:00 (the file is in time order).
awk '$4 <  "[23/Jun/2025:00:05:00" { print $1 "\t" $0 }' "$tmp/all.log" >"$tmp/first.keyed"
awk '$4 >= "[23/Jun/2025:00:05:00" { print $1 "\t" $0 }' "$tmp/all.log" >"$tmp/second.keyed"
produce() { kcat -P -b "$bs" -t "$1" -K $'\t' -z lz4 <"$2"; }

# run GROUP TOPIC WHO: WHO=merger kills the instance that merges, WHO=reader another one.
run() {
  local group=$1 topic=$2 who=$3 inst=() i merger= victim
  produce "$topic" "$tmp/first.keyed"
  for i in 1 2 3; do
    "$LOGPIPE" stream --format "$fmt" --config "$conf" --input "kafka://$bs/$topic" --group "$group" --scale-out \
      "${opts[@]}" -v --stats --stats-interval 2s >"$tmp/$group.$i.alerts" 2>"$tmp/$group.$i.err" 3>&- &
    inst+=($!)
    pids+=($!)
  done
  # Wait until the first half is merged: the error burst of 00:03 has fired.
  for _ in $(seq 300); do
    for i in 1 2 3; do
      if grep -q '"firing"' "$tmp/$group.$i.alerts" 2>/dev/null; then merger=$i; break 2; fi
    done
    sleep 0.1
  done
  [ -n "$merger" ] || { echo "FAIL: $group: nothing fired on the first half"; cat "$tmp/$group".*.err; exit 1; }
  grep -q "merging the partials" "$tmp/$group.$merger.err" || { echo "FAIL: instance $merger alerted without merging"; exit 1; }
  victim=$merger
  [ "$who" = reader ] && victim=$((merger % 3 + 1))
  sleep 3  # commits of the positions and of the merger's state (every second)
  kill -KILL "${inst[$((victim - 1))]}"
  wait "${inst[$((victim - 1))]}" 2>/dev/null || true
  produce "$topic" "$tmp/second.keyed"
  for i in 1 2 3; do
    [ "$i" = "$victim" ] && continue
    wait "${inst[$((i - 1))]}" || { echo "FAIL: $group: survivor $i exited non-zero:"; cat "$tmp/$group.$i.err"; exit 1; }
  done
  cat "$tmp/$group".[123].alerts | sort -u >"$tmp/$group.sorted"
  cmp "$tmp/file.sorted" "$tmp/$group.sorted" ||
    { echo "FAIL: $group: the alerts after killing the $who differ from one process over the file";
      diff "$tmp/file.sorted" "$tmp/$group.sorted" || true  # (diff's status would end the script here)
      grep -v 'retrying\|lines (0 lines/s' "$tmp/$group".*.err || true; exit 1; }
  local how=
  if [ "$who" = merger ]; then
    # A survivor took the merge over: from the state the dead merger committed, or, when it had
    # committed none yet (its group still rebalancing), from the start of the partials (every
    # window evaluated again; the alerts compare equal either way, checked above).
    if grep -q "continuing from the state its previous merger committed" "$tmp/$group".[123].err; then
      how=", from the committed state"
    elif grep -q "merging the partials .* from offset 0" "$tmp/$group".[123].err; then
      how=", from offset 0 (no state committed before the kill)"
    else
      echo "FAIL: no survivor took the merge over"; grep -v 'retrying' "$tmp/$group".*.err; exit 1
    fi
  else
    grep -q "merged" "$tmp/$group.$merger.err" || { echo "FAIL: the merger did not finish"; exit 1; }
  fi
  repeats=$(( $(cat "$tmp/$group".[123].alerts | wc -l) - $(wc -l <"$tmp/$group.sorted") ))
  echo "ok: SIGKILL of the $who mid-run: the survivors' alerts = one process over the file ($(wc -l <"$tmp/file.sorted") alerts, $repeats identical repeats$how)"
}
run kill http-logs merger
run killr http-logs2 reader

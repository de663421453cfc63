#!/usr/bin/env bash
# Brokers gone for good (issue 25, "Kafka under faults"): the run still ends in bounded time, says
# why and exits 1, with everything it read counted. Before, `--idle-exit` waited for the group's
# session timeout (45 s by default: librdkafka holds a commit whose coordinator is gone that
# long, and its close and destroy wait for it) and SIGTERM was ignored as long. The session
# timeout is left at its default here on purpose: a run that waits for it fails the 30 s bound
# (a hang check, far above the ~5-10 s expected, not a speed threshold).
#   1. stream --idle-exit 5s reads a topic, then every broker goes down: it ends, exit 1, the
#      summary counts every line, and the offsets are said not to be committed.
#   2. stream without --idle-exit, brokers down, SIGTERM: it ends, exit 1, the same message.
# (A cluster that never assigns a partition ends the run after the 60 s join timeout, exit 1, "no
# partition assigned": not run here, for its minute.)
set -euo pipefail
command -v timeout >/dev/null || { echo "SKIP: timeout(1) absent"; exit 77; }
bin=$(dirname "$LOGPIPE")
. "$SRC/tests/cli/lib/scratch.sh"
. "$SRC/tests/cli/lib/kafka_mock.sh"
. "$SRC/tests/cli/lib/lines_read.sh"
kafka_mock_start http-logs:2
python3 "$SRC/tests/cli/stream_traffic.py" "$tmp/full.log"
total=$(wc -l <"$tmp/full.log")
"$bin/logpipe-endpoint-cat" "$tmp/full.log" "kafka://$bs/http-logs" 2>/dev/null
conf="$SRC/tests/data/stream_thresholds.toml"

# Starts stream in the background (timeout 30 s around it), waits until it has read every line.
start_stream() {  # NAME ARGS...
  local name=$1; shift
  timeout -s KILL 30 "$LOGPIPE" stream -v --input "kafka://$bs/http-logs" --config "$conf" \
    --commit-interval 500ms --metrics-listen 127.0.0.1:0 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" 3>&- &
  stream_pid=$!
  pids+=("$stream_pid")
  local port
  port=$(metrics_port "$tmp/$name.err")
  wait_lines_read "$port" "$total"
}
check_end() {  # NAME STATUS
  local name=$1 status=$2
  [ "$status" != 137 ] || { echo "FAIL: $name still running 30 s after the brokers went down"; cat "$tmp/$name.err"; exit 1; }
  [ "$status" = 1 ] || { echo "FAIL: $name exit $status, want 1"; cat "$tmp/$name.err"; exit 1; }
  grep -q "^logpipe: stream: $total lines, $total records, 0 late" "$tmp/$name.err" ||
    { echo "FAIL: $name did not count every line"; cat "$tmp/$name.err"; exit 1; }
  grep -q "kafka://$bs/http-logs: offsets not committed: the brokers did not confirm" "$tmp/$name.err" ||
    { echo "FAIL: $name does not say the offsets were not committed"; cat "$tmp/$name.err"; exit 1; }
}

# 1. --idle-exit with the brokers gone.
start_stream idle --group idle --idle-exit 5s
echo "down -1" >&3
status=0; wait "$stream_pid" || status=$?
check_end idle "$status"
echo "ok: --idle-exit ends the run with the brokers gone"

# 2. SIGTERM with the brokers gone.
echo "up -1" >&3
start_stream term --group term
echo "down -1" >&3
sleep 2
kill -TERM "$stream_pid"
status=0; wait "$stream_pid" || status=$?
check_end term "$status"
echo "ok: SIGTERM ends the run with the brokers gone"


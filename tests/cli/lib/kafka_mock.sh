# Sourced by the Kafka end-to-end tests (not a test itself: CTest globs tests/cli/*.sh only).
# kafka_mock_start ARGS... starts logpipe-kafka-mock (librdkafka's mock cluster: the real Kafka
# protocol on a loopback port) with ARGS (topics as NAME:PARTITIONS, --brokers N) and sets
#   bs        the bootstrap address
#   mock_pid  its pid (kafka_mock_stop ends it: lib/scratch.sh's EXIT trap calls it, or the test's own)
#   fd 3      its control channel: `echo "down -1" >&3` takes every broker down, "up -1" brings
#             them back; the mock answers "ok ..." on $tmp/mock.out (tools/kafka_mock.cc)
# Needs $tmp (the test's scratch directory) and $LOGPIPE. Commands a test starts in the
# background should close fd 3 (`3>&-`), or the mock waits for them before it exits.
mock_pid=
kafka_mock_start() {
  mkfifo "$tmp/control"
  "$(dirname "$LOGPIPE")/logpipe-kafka-mock" --bootstrap-file "$tmp/bootstrap" "$@" \
    <"$tmp/control" >"$tmp/mock.out" 2>"$tmp/mock.err" &
  mock_pid=$!
  exec 3>"$tmp/control"
  for _ in $(seq 100); do [ -s "$tmp/bootstrap" ] && break; sleep 0.1; done
  [ -s "$tmp/bootstrap" ] || { echo "FAIL: the mock cluster did not start:"; cat "$tmp/mock.err"; return 1; }
  bs=$(cat "$tmp/bootstrap")
}
kafka_mock_stop() {
  if [ -n "$mock_pid" ]; then kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null; fi
  return 0
}

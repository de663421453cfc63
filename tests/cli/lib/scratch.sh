# Sourced by end-to-end tests (not a test itself): a scratch directory $tmp, and an EXIT trap
# that kills the background processes listed in $pids (append with `pids+=($!)`), stops the
# Kafka mock cluster when lib/kafka_mock.sh started one, and removes $tmp.
tmp=$(mktemp -d)
pids=()
scratch_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if declare -F kafka_mock_stop >/dev/null; then kafka_mock_stop; fi
  rm -rf "$tmp"
}
trap scratch_cleanup EXIT

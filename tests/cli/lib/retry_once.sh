# Sourced first (before lib/scratch.sh) by the multi-instance Kafka tests that have a known,
# not yet explained flake (issue 17: a survivor's rare SIGSEGV after its last output, a merger
# whose .merge group rebalance stalls under the sanitizer build). A failed first attempt prints
# its output and a RETRIED line, then the test runs once more from scratch (a new mock
# cluster); the second attempt decides. scripts/test lists every test that needed it, so a
# flake stays visible in the summary instead of being hidden or turning CI red at random.
if [ -z "${LOGPIPE_TEST_ATTEMPT:-}" ]; then
  attempt_rc=0
  LOGPIPE_TEST_ATTEMPT=1 bash "$0" "$@" || attempt_rc=$?
  if [ "$attempt_rc" = 0 ] || [ "$attempt_rc" = 77 ]; then exit "$attempt_rc"; fi
  echo "RETRIED: $(basename "$0" .sh) failed its first attempt (exit $attempt_rc, output above); second attempt:"
  LOGPIPE_TEST_ATTEMPT=2 exec bash "$0" "$@"
fi

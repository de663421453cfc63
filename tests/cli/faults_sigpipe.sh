#!/usr/bin/env bash
# A closed stdout is not an error (as with ripgrep): every command piped into `head -1` stops
# with exit 0 and says nothing on stderr. Each output below is far larger than a pipe buffer
# (64 KiB) and head reads one line, so the writer is certain to hit EPIPE, whether the shell
# that runs the test ignores SIGPIPE or not.
set -uo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "$*"; exit 1; }

"$LOGPIPE" generate --count 100000 --seed 5 --error-rate 0.1 >"$tmp/big.log" || fail "generate failed"
[ "$(stat -c %s "$tmp/big.log")" -gt 4000000 ] || fail "input smaller than expected"
printf 'sigpipe-test-key' >"$tmp/key"
chmod 600 "$tmp/key"

# check NAME CMD...: CMD | head -1 gives one line, CMD exits 0, stderr stays empty.
check() {
  local name=$1
  shift
  "$@" 2>"$tmp/err" | head -1 >"$tmp/first"
  local status=("${PIPESTATUS[@]}")
  [ "${status[0]}" -eq 0 ] || fail "$name | head -1: exit ${status[0]}, expected 0; stderr: $(cat "$tmp/err")"
  [ ! -s "$tmp/err" ] || fail "$name | head -1: unexpected stderr: $(cat "$tmp/err")"
  [ "$(wc -l <"$tmp/first")" -eq 1 ] || fail "$name | head -1: no output line"
}

check "generate --count 1000000" "$LOGPIPE" generate --count 1000000 --seed 1
check "generate --format edx" "$LOGPIPE" generate --count 1000000 --format edx --seed 1
check "analyze --report text --top 0" "$LOGPIPE" analyze --report text --top 0 --no-progress "$tmp/big.log"
check "analyze --report json --top 0" "$LOGPIPE" analyze --report json --top 0 --no-progress "$tmp/big.log"
check "anonymize" "$LOGPIPE" anonymize --key-file "$tmp/key" "$tmp/big.log"
check "stream" "$LOGPIPE" stream --input "$tmp/big.log" --threshold ip_request_rate=0 \
  --min-requests ip_request_rate=1

# The same holds when the pipe closes before the first byte is written.
"$LOGPIPE" generate --count 1000000 2>"$tmp/err" | true
rc=${PIPESTATUS[0]}
[ "$rc" -eq 0 ] || fail "generate | true: exit $rc"
[ ! -s "$tmp/err" ] || fail "generate | true: unexpected stderr: $(cat "$tmp/err")"
echo ok

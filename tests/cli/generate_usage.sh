#!/usr/bin/env bash
# Bad options are usage errors (exit 2) whose message names the option.
set -uo pipefail
fails() {  # fails PATTERN ARGS...
  local pattern=$1; shift
  local err rc
  err=$("$LOGPIPE" generate "$@" 2>&1 >/dev/null); rc=$?
  [ "$rc" -eq 2 ] || { echo "expected exit 2, got $rc for: $*"; exit 1; }
  grep -q -- "$pattern" <<<"$err" || { echo "message '$err' lacks '$pattern' for: $*"; exit 1; }
}
fails --error-rate --error-rate 1.5 --count 1
fails --status-mix --status-mix '200=1' --count 1
fails --status-mix --status-mix '404=0' --count 1
fails --format --format apache --count 1
fails --duration --duration soon
fails --start --start yesterday --count 1
fails --users --users 0 --count 1
fails --daily-cycle --daily-cycle 2 --count 1
fails 'unknown output endpoint' -o 'ftp://x/y' --count 1
echo ok

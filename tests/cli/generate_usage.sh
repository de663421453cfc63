#!/usr/bin/env bash
# Bad options are usage errors (exit 2) whose message names the option; a profile that cannot be
# opened is an I/O error (exit 1, like stream --config), one that does not parse a usage error.
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
# Issue 25, case 13: out-of-range numbers say what range, and negative counts are not wrapped.
fails '^logpipe: --rate: 1e+300 is not a number of lines per second above 0 and at most 1e9$' --rate 1e300 --count 1
fails "^--count: expected a whole number, got '-1'" --count -1
fails "^--seed: expected a whole number, got '-1'" --seed -1 --count 1
fails "^--users: must be from 1 to " --users 18446744073709551616 --count 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '[traffic]\nrate = "fast"\n' >"$tmp/bad.toml"
fails "^logpipe: --profile $tmp/bad.toml:2: 'rate' must be a number$" --profile "$tmp/bad.toml" --count 1
err=$("$LOGPIPE" generate --profile "$tmp/missing.toml" --count 1 2>&1 >/dev/null); rc=$?
[ "$rc" -eq 1 ] || { echo "missing profile: expected exit 1, got $rc"; exit 1; }
[ "$err" = "logpipe: --profile: cannot open '$tmp/missing.toml': No such file or directory" ] ||
  { echo "missing profile: message '$err'"; exit 1; }
echo ok

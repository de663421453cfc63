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
fails '^logpipe: generate: --rate: 1e+300 is not a number of lines per second above 0 and at most 1e9$' --rate 1e300 --count 1
fails "^logpipe: generate: --count: expected a whole number, got '-1'" --count -1
fails "^logpipe: generate: --seed: expected a whole number, got '-1'" --seed -1 --count 1
fails "^logpipe: generate: --users: must be from 1 to " --users 18446744073709551616 --count 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '[traffic]\nrate = "fast"\n' >"$tmp/bad.toml"
fails "^logpipe: generate: --profile $tmp/bad.toml:2: 'rate' must be a number$" --profile "$tmp/bad.toml" --count 1
err=$("$LOGPIPE" generate --profile "$tmp/missing.toml" --count 1 2>&1 >/dev/null); rc=$?
[ "$rc" -eq 1 ] || { echo "missing profile: expected exit 1, got $rc"; exit 1; }
[ "$err" = "logpipe: --profile: cannot open '$tmp/missing.toml': No such file or directory" ] ||
  { echo "missing profile: message '$err'"; exit 1; }
# Issue 24, case 7: one style for every usage error, CLI11's included: `logpipe: COMMAND: what`,
# then where to look (they used to come without the prefix, or without the command).
fails "^logpipe: generate: unknown option --bogus$" --bogus
fails "^logpipe: generate: --rate: expected a number above 0, got 'abc'$" --rate abc
out=$("$LOGPIPE" generate --bogus 2>&1 >/dev/null || true)
[ "$(printf '%s\n' "$out" | sed -n 2p)" = 'Run `logpipe generate --help` for its options.' ] ||
  { echo "usage error without the hint: $out"; exit 1; }
out=$("$LOGPIPE" frobnicate 2>&1 >/dev/null || true)
[ "$(printf '%s\n' "$out" | head -1)" = "logpipe: unexpected argument frobnicate" ] || { echo "unknown command: $out"; exit 1; }
# --version names the commit and the libraries it runs with.
v=$("$LOGPIPE" --version)
printf '%s\n' "$v" | head -1 | grep -qE '^logpipe [0-9]+\.[0-9]+\.[0-9]+ \(commit ([0-9a-f]{7,}(-dirty)?|unknown)\)$' ||
  { echo "--version: $v"; exit 1; }
for lib in simdjson toml++ OpenSSL fmt librdkafka zstd zlib Boost CLI11; do
  printf '%s\n' "$v" | sed -n 2p | grep -qF "$lib " || { echo "--version does not name $lib: $v"; exit 1; }
done
if git -C "$SRC" rev-parse HEAD >/dev/null 2>&1; then
  head=$(git -C "$SRC" rev-parse --short=12 HEAD)
  printf '%s\n' "$v" | grep -q "commit $head" || echo "note: --version names another commit than HEAD ($head): build not refreshed"
fi
echo ok

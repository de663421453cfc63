#!/usr/bin/env bash
# Issue 24, case 7: the completions know which flags take a value and what the value is. zsh and
# fish used to treat every flag as taking one (booleans such as --stats included: the next word
# completed as a file). Checked by running the shells on the committed scripts: bash (the
# function itself, COMP_WORDS set by hand), fish (`complete -C`), zsh (a syntax check, and the
# spec of a boolean and of a choice).
set -euo pipefail
comp="$SRC/completions"
fail() { echo "FAIL: $*"; exit 1; }

# --- bash ----------------------------------------------------------------------------------------
bash_complete() {  # WORDS...: COMPREPLY for the last word, one per line, sorted
  bash -c '
    source "$1"; shift
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
    _logpipe
    printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$comp/logpipe.bash" "$@"
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
touch access.log
[ "$(bash_complete logpipe analyze --report "" | tr '\n' ' ')" = "csv html json text " ] ||
  fail "bash: --report values: $(bash_complete logpipe analyze --report "")"
[ "$(bash_complete logpipe generate --format e)" = edx ] || fail "bash: generate --format e"
bash_complete logpipe stream --format json: | grep -qx "json:nginx" || fail "bash: stream --format json:"
[ "$(bash_complete logpipe stream --alerts ka)" = "kafka://" ] || fail "bash: --alerts ka: $(bash_complete logpipe stream --alerts ka)"
[ "$(bash_complete logpipe stream --stats acc)" = access.log ] || fail "bash: a file after the boolean --stats"
[ "$(bash_complete logpipe stream --window "")" = "" ] || fail "bash: --window takes a duration, not a file"
[ "$(bash_complete logpipe stream --config acc)" = access.log ] || fail "bash: --config FILE"
echo "ok: bash"

# --- fish ----------------------------------------------------------------------------------------
if command -v fish >/dev/null; then
  fish_complete() { fish --no-config -c "source '$comp/logpipe.fish'; complete -C '$1'" | cut -f1 | sort; }
  [ "$(fish_complete 'logpipe analyze --report ' | tr '\n' ' ')" = "csv html json text " ] ||
    fail "fish: --report values: $(fish_complete 'logpipe analyze --report ')"
  fish_complete 'logpipe stream --stats ' | grep -qx access.log || fail "fish: a file after the boolean --stats"
  fish_complete 'logpipe stream --stats ' | grep -q "^--" && fail "fish: --stats took the next word as its value"
  fish_complete 'logpipe stream --alerts ' | grep -qx "alertmanager+tls://" || fail "fish: --alerts schemes"
  fish_complete 'logpipe stream --output-format ' | tr '\n' ' ' | grep -qx "auto json text " || fail "fish: --output-format"
  echo "ok: fish"
else
  echo "SKIP (fish): fish absent (scripts/deps.sh installs it)"
fi

# --- zsh -----------------------------------------------------------------------------------------
if command -v zsh >/dev/null; then
  zsh -n "$comp/_logpipe" || fail "zsh: syntax"
  grep -qF "'--stats[Print throughput and lag on stderr periodically]' \\" "$comp/_logpipe" ||
    fail "zsh: --stats should take no value"
  grep -qF ":value:(text json csv html)' \\" "$comp/_logpipe" || fail "zsh: --report choices"
  echo "ok: zsh"
else
  echo "SKIP (zsh): zsh absent (scripts/deps.sh installs it)"
fi

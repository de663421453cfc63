#!/usr/bin/env bash
# On a terminal (faked with script(1)) analyze draws a progress bar on stderr and colours the text
# report; through pipes and files it does neither, and NO_COLOR / --no-progress turn them off.
set -euo pipefail
command -v script >/dev/null || { echo "SKIP: script(1) absent (bsdutils)"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
python3 "$SRC/tests/cli/analyze_gen.py" 20000 --seed 2 >"$tmp/a.log"
esc=$(printf '\033')
# Terminal: bar and colours.
script -qec "\"$LOGPIPE\" analyze --top 3 \"$tmp/a.log\"" /dev/null >"$tmp/tty.out"
grep -qE "\[[# ]{30}\] +[0-9]+%" "$tmp/tty.out" || { echo "no progress bar on a terminal"; exit 1; }
grep -q "${esc}\[1;36mTop URLs" "$tmp/tty.out" || { echo "no colour on a terminal"; exit 1; }
# --no-progress and NO_COLOR.
script -qec "NO_COLOR=1 \"$LOGPIPE\" analyze --no-progress --top 3 \"$tmp/a.log\"" /dev/null >"$tmp/plain.out"
if grep -q "$esc" "$tmp/plain.out"; then echo "escape sequences despite NO_COLOR and --no-progress"; exit 1; fi
# Pipes: nothing but the report.
"$LOGPIPE" analyze --top 3 "$tmp/a.log" >"$tmp/pipe.out" 2>"$tmp/pipe.err"
if grep -q "$esc" "$tmp/pipe.out" "$tmp/pipe.err"; then echo "escape sequences in a pipe"; exit 1; fi
[ ! -s "$tmp/pipe.err" ] || { echo "unexpected stderr:"; cat "$tmp/pipe.err"; exit 1; }
echo ok

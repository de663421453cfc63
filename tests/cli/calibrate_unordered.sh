#!/usr/bin/env bash
# calibrate is batch: no record is lost to lateness. Files given out of time order (a rotated
# history passed newest first) and a file disordered inside by minutes are read again with the
# lateness the first pass measured, and give exactly the thresholds of the ordered history; a
# pipe, which cannot be read twice, says how many records it lost.
set -euo pipefail
. "$SRC/tests/cli/lib/scratch.sh"
export SOURCE_DATE_EPOCH=1750636800
"$LOGPIPE" generate --format combined --rate 20 --duration 30m --no-pace --seed 3 --error-rate 0.03 \
  --start 2025-06-23T00:00:00Z -o "$tmp/all.log"
split -n l/3 -d "$tmp/all.log" "$tmp/part."
values() { grep -v '^#' "$1"; }
"$LOGPIPE" calibrate --format combined --no-progress -o "$tmp/ordered.toml" "$tmp/all.log" >/dev/null 2>"$tmp/ordered.err"

# Newest first.
"$LOGPIPE" calibrate --format combined --no-progress -o "$tmp/reversed.toml" "$tmp/part.02" "$tmp/part.01" "$tmp/part.00" \
  >/dev/null 2>"$tmp/reversed.err"
grep -q "reading again with a lateness of" "$tmp/reversed.err" || { echo "FAIL: no second pass:"; cat "$tmp/reversed.err"; exit 1; }
if grep -q "late record" "$tmp/reversed.err"; then echo "FAIL: records lost:"; cat "$tmp/reversed.err"; exit 1; fi
cmp <(values "$tmp/ordered.toml") <(values "$tmp/reversed.toml") ||
  { echo "FAIL: thresholds of the reversed files differ"; diff <(values "$tmp/ordered.toml") <(values "$tmp/reversed.toml"); exit 1; }
echo "ok: files newest first"

# Disordered inside: lines shuffled within blocks of 3 minutes (2,400 lines at 20/s... 3,600).
python3 - "$tmp/all.log" "$tmp/shuffled.log" <<'PY'
import random, sys
lines = open(sys.argv[1]).readlines()
random.seed(1)
out = []
for i in range(0, len(lines), 3600):
    block = lines[i:i + 3600]
    random.shuffle(block)
    out += block
open(sys.argv[2], "w").writelines(out)
PY
"$LOGPIPE" calibrate --format combined --no-progress -o "$tmp/shuffled.toml" "$tmp/shuffled.log" >/dev/null 2>"$tmp/shuffled.err"
grep -q "reading again" "$tmp/shuffled.err" || { echo "FAIL: no second pass for a disordered file"; cat "$tmp/shuffled.err"; exit 1; }
cmp <(values "$tmp/ordered.toml") <(values "$tmp/shuffled.toml") ||
  { echo "FAIL: thresholds of the shuffled file differ"; diff <(values "$tmp/ordered.toml") <(values "$tmp/shuffled.toml"); exit 1; }
echo "ok: a file disordered inside"

# A pipe cannot be read twice: the loss is counted and said.
cat "$tmp/part.02" "$tmp/part.00" | "$LOGPIPE" calibrate --format combined --no-progress -o "$tmp/pipe.toml" - \
  >/dev/null 2>"$tmp/pipe.err"
late=$(sed -n 's/^logpipe: \([0-9]*\) late records dropped.*cannot be read again.*/\1/p' "$tmp/pipe.err")
want=$(wc -l <"$tmp/part.00")
[ "$late" = "$want" ] || { echo "FAIL: a pipe out of order: '$late' late, want $want"; cat "$tmp/pipe.err"; exit 1; }
echo "ok: a pipe out of order says what it lost ($late records)"

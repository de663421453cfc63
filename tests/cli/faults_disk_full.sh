#!/usr/bin/env bash
# A full disk is a clear error, never partial garbage: `analyze -o`, `anonymize -o`,
# `calibrate -o` and `stream --alerts` on /dev/full (ENOSPC) exit 1 with one message naming the
# file. On a regular file that cannot grow (RLIMIT_FSIZE stands in for a full disk: write(2) fails
# with EFBIG just as it would with ENOSPC), the -o commands leave the previous file untouched (or
# no file) and no temporary file behind, and stream's alerts file keeps only whole lines.
set -euo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
[ -w /dev/full ] || { echo "skipped: no writable /dev/full"; exit 77; }

"$LOGPIPE" generate --count 2000 --seed 3 --error-rate 0.2 >"$tmp/in.log"
printf 'fault-test-key' >"$tmp/key"
chmod 600 "$tmp/key"

# expect_failure WHAT FILE CMD...: exit 1 and exactly one stderr line naming FILE.
expect_failure() {
  local what=$1 file=$2
  shift 2
  set +e
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  set -e
  [ "$rc" -eq 1 ] || { echo "$what: exit $rc, expected 1"; cat "$tmp/err"; exit 1; }
  [ "$(wc -l <"$tmp/err")" -eq 1 ] || { echo "$what: expected one error line:"; cat "$tmp/err"; exit 1; }
  grep -q "^logpipe: cannot write '$file': " "$tmp/err" ||
    { echo "$what: message does not name $file:"; cat "$tmp/err"; exit 1; }
}

# 1. /dev/full: ENOSPC on the first write.
expect_failure "analyze -o /dev/full" /dev/full \
  "$LOGPIPE" analyze --report json -o /dev/full "$tmp/in.log"
grep -qx "logpipe: cannot write '/dev/full': No space left on device" "$tmp/err"
expect_failure "anonymize -o /dev/full" /dev/full \
  "$LOGPIPE" anonymize --key-file "$tmp/key" -o /dev/full "$tmp/in.log"
expect_failure "calibrate -o /dev/full" /dev/full \
  "$LOGPIPE" calibrate -o /dev/full "$tmp/in.log"
[ ! -s "$tmp/out" ] || { echo "calibrate printed its table although the thresholds were not written"; exit 1; }
expect_failure "stream --alerts /dev/full" /dev/full \
  "$LOGPIPE" stream --input "$tmp/in.log" --threshold error_rate=0 --alerts /dev/full

# 2. A regular file on a "full disk": at most 1 KiB may be written (every output below is larger).
# SIGXFSZ is ignored so that write(2) returns EFBIG instead of killing the process.
limited() { (trap '' XFSZ; ulimit -f 1; exec "$@"); }
mkdir "$tmp/out.d"
check_untouched() {  # WHAT FILE EXPECTED(old|absent)
  if [ "$3" = absent ]; then
    [ ! -e "$2" ] || { echo "$1: left a partial $2"; exit 1; }
  else
    [ "$(cat "$2")" = "previous content" ] || { echo "$1: $2 was overwritten with partial output"; exit 1; }
  fi
  leftovers=$(find "$tmp/out.d" -name '.*tmp*')
  [ -z "$leftovers" ] || { echo "$1: temporary file left behind: $leftovers"; exit 1; }
}
for state in absent old; do
  for cmd in analyze anonymize calibrate; do
    out="$tmp/out.d/$cmd.out"
    rm -f "$out"
    [ "$state" = absent ] || echo "previous content" >"$out"
    case $cmd in
      analyze) expect_failure "$cmd ($state)" "$out" limited "$LOGPIPE" analyze --report json -o "$out" "$tmp/in.log" ;;
      anonymize) expect_failure "$cmd ($state)" "$out" limited "$LOGPIPE" anonymize --key-file "$tmp/key" -o "$out" "$tmp/in.log" ;;
      calibrate) expect_failure "$cmd ($state)" "$out" limited "$LOGPIPE" calibrate -o "$out" "$tmp/in.log" ;;
    esac
    grep -q "File too large" "$tmp/err" || { echo "$cmd: unexpected error:"; cat "$tmp/err"; exit 1; }
    check_untouched "$cmd ($state)" "$out" "$state"
  done
done

# The same commands without the limit do write the file (so the checks above can fail), and the
# file gets the usual permissions, not mkstemp's 0600.
(umask 022; "$LOGPIPE" analyze --report json -o "$tmp/out.d/report.json" "$tmp/in.log")
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["requests"] == 2000' "$tmp/out.d/report.json"
[ "$(stat -c %a "$tmp/out.d/report.json")" = 644 ] || { echo "report mode $(stat -c %a "$tmp/out.d/report.json")"; exit 1; }
[ -z "$(find "$tmp/out.d" -name '.*tmp*')" ] || { echo "temporary file left after success"; exit 1; }

# 3. stream --alerts on a regular file appends live; a failed write is cut back to whole lines,
# so the file is the previous alerts plus complete JSON lines.
printf '{"state":"firing","metric":"previous","key":""}\n' >"$tmp/alerts.jsonl"
expect_failure "stream --alerts FILE" "$tmp/alerts.jsonl" \
  limited "$LOGPIPE" stream --input "$tmp/in.log" --threshold error_rate=0 --threshold ip_request_rate=0 \
  --alerts "$tmp/alerts.jsonl"
python3 - "$tmp/alerts.jsonl" <<'PY'
import json, sys
data = open(sys.argv[1], "rb").read()
assert data.endswith(b"\n"), data[-80:]
lines = data.decode().splitlines()
assert json.loads(lines[0])["metric"] == "previous", lines[0]
for line in lines[1:]:
    json.loads(line)  # every appended line is whole
PY
echo ok

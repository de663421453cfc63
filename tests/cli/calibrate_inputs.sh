#!/usr/bin/env bash
# calibrate's inputs and options: usage errors name the option (exit 2), a missing file exits 1
# before anything is written, gzip/zstd/split inputs give the same thresholds as the plain file,
# --min-requests and --exact-windows 0 (the sketch) behave as documented, and edX tracking logs
# calibrate the rate metrics only (they have no HTTP status) into a file stream accepts.
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export SOURCE_DATE_EPOCH=1750000000
fail=0
expect() {  # expect CODE 'message part' ARGS...
  local code=$1 msg=$2
  shift 2
  set +e
  "$LOGPIPE" calibrate --rules threshold "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  set -e
  if [ $rc -ne "$code" ] || ! grep -qF -- "$msg" "$tmp/err"; then
    echo "FAIL: calibrate $* -> exit $rc (want $code), stderr: $(cat "$tmp/err")"
    fail=1
  fi
}

python3 - "$tmp/h.log" <<'PY'
import random, sys
from datetime import datetime, timezone
rng = random.Random(3)
t0 = int(datetime(2025, 1, 6, tzinfo=timezone.utc).timestamp())
with open(sys.argv[1], "w") as out:
    for minute in range(600):
        for s in sorted(rng.randrange(60) for _ in range(rng.randrange(20, 120))):
            t = datetime.fromtimestamp(t0 + minute * 60 + s, timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000")
            ip = f"10.0.0.{rng.randrange(1, 30)}"
            status = 500 if rng.random() < 0.03 else 200
            out.write(f'{ip} - u{rng.randrange(40)} [{t}] "GET /p{rng.randrange(8)} HTTP/1.1" {status} 10 "-" "a"\n')
PY

expect 2 "--target-rate" --target-rate 0 "$tmp/h.log"
expect 2 "--target-rate" --target-rate 1.5 "$tmp/h.log"
expect 2 "--window" --window 1.5s "$tmp/h.log"
expect 2 "--window" --window soon "$tmp/h.log"
expect 2 "--min-requests: unknown metric 'url_eror_rate'" --min-requests url_eror_rate=3 "$tmp/h.log"
expect 2 "--min-requests: 'x' is not a whole number" --min-requests url_error_rate=x "$tmp/h.log"
expect 2 "--report" --report xml "$tmp/h.log"
expect 1 "cannot open '$tmp/missing.log'" -o "$tmp/never.toml" "$tmp/h.log" "$tmp/missing.log"
[ ! -e "$tmp/never.toml" ] || { echo "FAIL: output written although an input was missing"; fail=1; }

# Same thresholds from plain, gzip, zstd and a split history (comments name the files: drop them).
"$LOGPIPE" calibrate --rules threshold --format combined -o "$tmp/plain.toml" "$tmp/h.log" >/dev/null
gzip -c "$tmp/h.log" >"$tmp/h.log.gz"
zstd -q -c "$tmp/h.log" >"$tmp/h.bin"  # compression is detected by magic bytes, not by name
head -n 20000 "$tmp/h.log" >"$tmp/part1.log"
tail -n +20001 "$tmp/h.log" >"$tmp/part2.log"
"$LOGPIPE" calibrate --rules threshold --format combined -o "$tmp/gz.toml" "$tmp/h.log.gz" >/dev/null
"$LOGPIPE" calibrate --rules threshold -o "$tmp/zst.toml" "$tmp/h.bin" >/dev/null 2>&1  # format auto-detected
"$LOGPIPE" calibrate --rules threshold --format combined -o "$tmp/split.toml" "$tmp/part1.log" "$tmp/part2.log" >/dev/null
for f in gz zst split; do
  if ! diff <(grep -v '^# History' "$tmp/plain.toml") <(grep -v '^# History' "$tmp/$f.toml"); then
    echo "FAIL: $f input gave other thresholds"
    fail=1
  fi
done
grep -q '^# Alert thresholds written by `logpipe calibrate` (logpipe [0-9.]*) on 2025-06-15T15:06:40Z\.$' "$tmp/plain.toml" ||
  { echo "FAIL: header line"; fail=1; }
grep -q '^# History: .*part1.log, .*part2.log (.* records, 600 windows of 60s with traffic, 2025-01-06T00:00:00Z to 2025-01-06T10:00:00Z)\.$' \
  "$tmp/split.toml" || { echo "FAIL: history line"; fail=1; }

# A history with a gap (minutes 0-99 and 500-599 only): the 400 empty windows are skipped, so the
# rule works on the 200 windows with traffic (k = 2), as an independent python count checks.
awk '$4 < "[06/Jan/2025:01:40:00" || $4 >= "[06/Jan/2025:08:20:00"' "$tmp/h.log" >"$tmp/gap.log"
"$LOGPIPE" calibrate --rules threshold --format combined -o "$tmp/gap.toml" "$tmp/gap.log" >"$tmp/gap.txt" 2>&1
grep -q '^# History: .*gap.log (.* records, 200 windows of 60s with traffic and 400 empty ones skipped, 2025-01-06T00:00:00Z to 2025-01-06T10:00:00Z)\.$' \
  "$tmp/gap.toml" || { echo "FAIL: gap history line"; head -3 "$tmp/gap.toml"; fail=1; }
grep -q '^200 windows of 60s with traffic (400 empty ones skipped), target rate 0.01 (at most 2 firing windows per metric)$' \
  "$tmp/gap.txt" || { echo "FAIL: gap table header"; head -2 "$tmp/gap.txt"; fail=1; }
python3 - "$tmp/gap.log" "$tmp/gap.toml" <<'PY' || fail=1
import collections, sys, tomllib
req, err = collections.Counter(), collections.Counter()
for line in open(sys.argv[1]):
    minute = line.split("[", 1)[1][:17]  # dd/Mon/yyyy:HH:MM
    req[minute] += 1
    err[minute] += line.split('"')[2].split()[0] == "500"
values = sorted(err[m] / req[m] for m in req)
assert len(values) == 200, len(values)
want = values[200 - 2 - 1]  # the (n-k)-th smallest: strictly above it in at most k = 2 windows
got = tomllib.load(open(sys.argv[2], "rb"))["metrics"]["error_rate"]["threshold"]
if got != want:
    print("FAIL: gap error_rate threshold", got, "want", want)
    sys.exit(1)
PY

# --min-requests N sets every keyed metric; METRIC=N one (later wins).
"$LOGPIPE" calibrate --rules threshold --format combined --min-requests 3 --min-requests ip_request_rate=7 -o "$tmp/m.toml" "$tmp/h.log" >/dev/null
python3 - "$tmp/m.toml" <<'PY' || fail=1
import sys, tomllib
m = tomllib.load(open(sys.argv[1], "rb"))["metrics"]
want = {"error_rate": 1, "server_error_rate": 1, "request_rate": 1, "url_error_rate": 3, "user_error_rate": 3,
        "ip_error_rate": 3, "ip_request_rate": 7, "user_request_rate": 3, "prefix_request_rate": 3}
got = {k: v["min_requests"] for k, v in m.items()}
if got != want:
    print("FAIL: min_requests", got)
    sys.exit(1)
PY

# The sketch: thresholds at or above the exact ones (within 2.1%), never firing more.
"$LOGPIPE" calibrate --rules threshold --format combined --report json -o /dev/null "$tmp/h.log" >"$tmp/exact.json"
"$LOGPIPE" calibrate --rules threshold --format combined --report json --exact-windows 0 -o "$tmp/sketch.toml" "$tmp/h.log" >"$tmp/sketch.json"
grep -q '^# Values from a DDSketch (relative accuracy 0.01)' "$tmp/sketch.toml" || { echo "FAIL: sketch comment"; fail=1; }
python3 - "$tmp/exact.json" "$tmp/sketch.json" <<'PY' || fail=1
import json, sys
e, s = (json.load(open(p)) for p in sys.argv[1:])
assert e["exact"] is True and s["exact"] is False
bad = 0
for a, b in zip(e["metrics"], s["metrics"]):
    if a["threshold"] is None:
        assert b["threshold"] is None
        continue
    ok = a["threshold"] <= b["threshold"] <= a["threshold"] * 1.0205 + 1e-12 and b["firing_windows"] <= s["allowed_firing_windows"]
    if not ok:
        print("FAIL: sketch", a["metric"], a["threshold"], b["threshold"], b["firing_windows"])
        bad = 1
sys.exit(bad)
PY

# edX / FUN tracking logs: no status, so only the rate metrics are calibrated.
edx="$SHARED/edx"
if [ -d "$edx" ]; then
  "$LOGPIPE" calibrate --rules threshold --format edx -o "$tmp/edx.toml" "$edx/eap_trajectory_tracking.log" \
    "$edx/eap_problem_response_tracking.log" "$edx/eap_answer_dist_acceptance_tracking.log" >"$tmp/edx.txt" 2>"$tmp/edx.err"
  got=$(grep -o '^\[metrics\.[a-z_0-9]*\]' "$tmp/edx.toml" | tr '\n' ' ')
  [ "$got" = "[metrics.request_rate] [metrics.ip_request_rate] [metrics.user_request_rate] [metrics.prefix_request_rate] " ] ||
    { echo "FAIL: edx calibrated: $got"; fail=1; }
  grep -q '^# Not calibrated (no window had an eligible value, so they never alert): error_rate, server_error_rate, url_error_rate, user_error_rate, ip_error_rate, url_p99_latency_ms\.$' \
    "$tmp/edx.toml" || { echo "FAIL: edx not-calibrated comment"; fail=1; }
  "$LOGPIPE" stream --format edx --config "$tmp/edx.toml" "$edx/eap_trajectory_tracking.log" >/dev/null ||
    { echo "FAIL: stream rejected the edx thresholds"; fail=1; }
fi
[ $fail -eq 0 ] && echo ok
exit $fail

#!/usr/bin/env bash
# Bad options are refused before any work with exit 2 and a message naming the option; a missing
# input is exit 1 naming the file.
set -euo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
expect() {  # expect CODE MESSAGE-REGEX ARGS...
  local code=$1 msg=$2 rc=0
  shift 2
  "$LOGPIPE" stream "$@" </dev/null >"$tmp/out" 2>"$tmp/err" || rc=$?
  [ "$rc" -eq "$code" ] || { echo "stream $*: exit $rc, expected $code"; cat "$tmp/err"; exit 1; }
  grep -qE -- "$msg" "$tmp/err" || { echo "stream $*: message does not match '$msg':"; cat "$tmp/err"; exit 1; }
  [ ! -s "$tmp/out" ] || { echo "stream $*: wrote to stdout"; exit 1; }
}
expect 2 "--threshold: unknown metric 'url_eror_rate'" --threshold url_eror_rate=0.3
expect 2 "--threshold: 'high' is not a number" --threshold error_rate=high
expect 2 "--min-requests: '1.5' is not a whole number" --min-requests url_error_rate=1.5
expect 2 "--window: bad duration" --window 1x
expect 2 "--window: must be a whole number of seconds" --window 1500ms
expect 2 "--hop: must not exceed --window" --window 60s --hop 2m
# Issue 25, case 10: a window of 3,600 panes could not keep up (200,000 lines not done after 120 s).
expect 2 "--hop: a window may span at most 120 panes of gcd\(window, hop\), this one spans 3600 .*at least 30s here" \
  --window 1h --hop 1s
expect 2 "this one spans 3600 .*at least 30s here" --window 1h --hop 31s  # gcd 1 s: 3,600 panes
"$LOGPIPE" stream --window 1h --hop 30s --alerts /dev/null </dev/null || { echo "FAIL: --window 1h --hop 30s refused"; exit 1; }
expect 2 "--listen: expected tcp://" --listen /tmp/x
# Issue 25, case 13: no value turns the memory bound or an alert off silently.
expect 2 "--max-keys: must be from 16 to 100000000, got 3" --max-keys 3
expect 2 "--max-keys: must be from 16 to 100000000, got 0" --max-keys 0  # was silently the default
expect 2 "--max-keys: expected a whole number, got '-1'" --max-keys -1  # was no bound at all
expect 2 "--max-keys: must be from 16 to 100000000, got 18446744073709551616" --max-keys 18446744073709551616
expect 2 "--alert-queue: expected a whole number, got '-1'" --alert-queue -1
expect 2 "--threshold: 'nan' must be a finite number >= 0 in 'error_rate=nan'" --threshold error_rate=nan
expect 2 "--threshold: 'inf' must be a finite number >= 0" --threshold error_rate=inf
expect 2 "--threshold: '-0.1' must be a finite number >= 0" --threshold error_rate=-0.1  # fired in every window
printf '[window]\nsize_s = 60\nhop_s = 120\n' >"$tmp/hop.toml"
expect 2 "hop.toml:3: \[window\] hop_s: must not exceed .*hop.toml:2: \[window\] size_s" --config "$tmp/hop.toml"
printf '[window]\nhop_s = 120\n' >"$tmp/hop2.toml"
expect 2 "hop2.toml:2: \[window\] hop_s: must not exceed --window" --config "$tmp/hop2.toml"
printf '[metrics.error_rate]\nthreshold = -0.5\n' >"$tmp/neg.toml"
expect 2 "neg.toml:2: \[metrics.error_rate\] threshold must be a number >= 0" --config "$tmp/neg.toml"
printf '[window]\nmax_keys = 1000000000\n' >"$tmp/keys.toml"
expect 2 "keys.toml:2: \[window\] max_keys must be an integer from 16 to 100000000" --config "$tmp/keys.toml"
printf '[metrics.url_error_rate]\nthreshold = 0.3\nmin_request = 20\n' >"$tmp/bad.toml"
expect 2 "bad.toml:3: unknown key \[metrics.url_error_rate\] min_request" --config "$tmp/bad.toml"
expect 1 "--config: cannot open '$tmp/none.toml'" --config "$tmp/none.toml"
expect 1 "cannot open '$tmp/missing.log'" "$tmp/missing.log"
# --strict: the first malformed line is exit 3 with FILE:LINE
printf 'not a log line\n' >"$tmp/bad.log"
expect 3 "bad.log:1: malformed line" --strict --format combined "$tmp/bad.log"
echo ok

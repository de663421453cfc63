#!/usr/bin/env bash
# Issue 5's "done when" on a day written by `logpipe generate` (quiet-day profile, 30 lines/s,
# 1,440 one-minute windows): recomputed independently in python, every metric is above its
# calibrated threshold in at most 1% of the windows (+1), error_rate and request_rate in more than
# 0.5%; replaying the day with `stream --config` fires alerts on exactly those windows.
# Skipped (77) when this binary has no `generate` or the profile is missing.
set -euo pipefail
"$LOGPIPE" generate --help >/dev/null 2>&1 || exit 77
profile="$SRC/samples/profiles/quiet-day.toml"
[ -f "$profile" ] || exit 77
command -v zstd >/dev/null || exit 77
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fmt='logformat:%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" %D'
"$LOGPIPE" generate --profile "$profile" --rate 30 --no-pace --seed 7 -o "$tmp/day.log.zst"
"$LOGPIPE" calibrate --rules threshold --format "$fmt" --no-progress -o "$tmp/thresholds.toml" "$tmp/day.log.zst"
"$LOGPIPE" stream --format "$fmt" --config "$tmp/thresholds.toml" "$tmp/day.log.zst" >"$tmp/alerts.jsonl"
python3 "$SRC/tests/cli/calibrate_recompute.py" "$tmp/day.log.zst" "$tmp/thresholds.toml" \
  --alerts "$tmp/alerts.jsonl" --min-firing error_rate request_rate

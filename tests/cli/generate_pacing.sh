#!/usr/bin/env bash
# Pacing: with --rate the output follows the wall clock, so 2 s of log time at 500 lines/s take
# at least 2 s minus one pacing step (only a lower bound: a loaded machine may be slower), and
# --no-pace with the same options gives the same bytes at once.
set -euo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
start=$(date +%s%N)
"$LOGPIPE" generate --rate 500 --duration 2s --start 2025-06-23T08:00:00Z >"$tmp/paced"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$(wc -l <"$tmp/paced")" -eq 1000 ]
[ "$elapsed_ms" -ge 1900 ] || { echo "paced run took only ${elapsed_ms} ms"; exit 1; }
"$LOGPIPE" generate --rate 500 --duration 2s --start 2025-06-23T08:00:00Z --no-pace | cmp - "$tmp/paced"
echo ok

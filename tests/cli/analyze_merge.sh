#!/usr/bin/env bash
# analyze --save-state / --merge: the report of merged daily states is byte for byte the report
# of one run over the same daily files, in every format, on generated logs (sessions across every
# cut, several threads), on the real Apache sample split by day (its malformed line included),
# on edX tracking logs, with --where, --bots and --tz; a month kept as a rolling state equals the
# days merged at once. States counted differently, damaged or foreign files are refused by name;
# options that apply while reading are refused with --merge.
set -euo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

# Writes the report of one run over the days and of their merged states, in each format, and
# compares them. $1: label; the days are $days; reading options in "${opts[@]}", report options
# (both runs) in "${ropts[@]}".
check_merge() {
  local label=$1 states=() i=0 f
  for f in "${days[@]}"; do
    "$LOGPIPE" analyze "${opts[@]}" --threads 2 --no-progress --save-state "$tmp/day$i.state" "$f" \
      --report json -o "$tmp/day$i.json" 2>/dev/null
    # Saving a state does not change the day's own report.
    "$LOGPIPE" analyze "${opts[@]}" --no-progress "$f" --report json 2>/dev/null | cmp -s - "$tmp/day$i.json" ||
      { echo "FAIL $label: day $i's report differs when its state is saved"; exit 1; }
    states+=("$tmp/day$i.state")
    i=$((i + 1))
  done
  for report in json text csv html; do
    "$LOGPIPE" analyze "${opts[@]}" "${ropts[@]}" --no-progress --report "$report" --color never "${days[@]}" \
      -o "$tmp/one.$report" 2>/dev/null
    "$LOGPIPE" analyze --merge "${ropts[@]}" --report "$report" --color never "${states[@]}" -o "$tmp/merged.$report"
    cmp "$tmp/one.$report" "$tmp/merged.$report" ||
      { echo "FAIL $label: merged $report report differs from one run"; diff <(tr , '\n' <"$tmp/one.$report") \
        <(tr , '\n' <"$tmp/merged.$report") | head -20; exit 1; }
  done
  # A rolling state: the first days merged and saved, then merged with the last one.
  if [ "${#states[@]}" -ge 3 ]; then
    "$LOGPIPE" analyze --merge "${states[@]:0:${#states[@]}-1}" --save-state "$tmp/month.state" -o /dev/null
    "$LOGPIPE" analyze --merge "${ropts[@]}" "$tmp/month.state" "${states[-1]}" --report json -o "$tmp/rolled.json"
    cmp "$tmp/one.json" "$tmp/rolled.json" || { echo "FAIL $label: rolling state differs"; exit 1; }
  fi
  echo "ok $label: ${#days[@]} states merged = one run (json, text, csv, html)"
}

# Generated combined lines cut at arbitrary lines: visitors' sessions cross every cut.
python3 "$SRC/tests/cli/analyze_gen.py" 60000 --seed 11 >gen.log
head -n 17000 gen.log >g1.log
sed -n '17001,41000p' gen.log >g2.log
tail -n +41001 gen.log >g3.log
days=(g1.log g2.log g3.log)
opts=()
ropts=()
check_merge generated
printf 'googlebot\nFirefox/121\n' >bots.txt
opts=(--where 'status >= 400 or url ^= "/product/1" and not bot' --bots bots.txt)
check_merge generated-where
opts=(--tz Europe/Paris)
ropts=(--by hour --top 3)
check_merge generated-tz
ropts=()

# The state is compact and compressed.
[ "$(head -c 4 "$tmp/day0.state" | od -An -tx1 | tr -d ' ')" = 28b52ffd ] || { echo "FAIL: state not zstd"; exit 1; }
state_bytes=$(cat "$tmp"/day*.state | wc -c)
log_bytes=$(cat g1.log g2.log g3.log | wc -c)
[ "$state_bytes" -lt $((log_bytes / 10)) ] || { echo "FAIL: states $state_bytes bytes for $log_bytes of log"; exit 1; }

# Refusals. Different --where: a runtime error naming both states.
"$LOGPIPE" analyze g1.log --save-state a.state -o /dev/null
"$LOGPIPE" analyze g2.log --where 'status >= 500' --save-state b.state -o /dev/null 2>/dev/null
set +e
"$LOGPIPE" analyze --merge a.state b.state >/dev/null 2>err; rc=$?
set -e
[ $rc = 1 ] && grep -qx 'logpipe: a.state and b.state were counted with different --where expressions: merge states saved with the same options' err ||
  { echo "FAIL: different --where: rc $rc"; cat err; exit 1; }
# A reading option with --merge: a usage error.
set +e
"$LOGPIPE" analyze --merge --where 'status >= 500' a.state >/dev/null 2>err; rc=$?
set -e
[ $rc = 2 ] && grep -q -- '--merge: --where applies when records are read' err || { echo "FAIL: --where with --merge: rc $rc"; cat err; exit 1; }
# Another zone than the states': the days would be other days.
set +e
"$LOGPIPE" analyze --merge --tz Europe/Paris a.state >/dev/null 2>err; rc=$?
set -e
[ $rc = 2 ] && grep -q -- '--tz Europe/Paris: the states counted days in UTC' err || { echo "FAIL: --tz: rc $rc"; cat err; exit 1; }
# A log given as a state, a state cut short: refused by name, no report written.
for bad in g1.log cut.state; do
  # (through a file: zstd killed by SIGPIPE from head would fail the pipeline under pipefail)
  [ "$bad" = cut.state ] && zstd -dcq a.state -o whole.state && head -c 3000 whole.state >cut.state
  set +e
  "$LOGPIPE" analyze --merge a.state "$bad" -o report.txt 2>err; rc=$?
  set -e
  [ $rc = 1 ] && grep -q "logpipe: $bad: " err && [ ! -e report.txt ] || { echo "FAIL: $bad: rc $rc"; cat err; exit 1; }
done
echo "ok refusals: different --where, --where with --merge, another --tz, a log, a cut state"

# The real Apache sample, split by day (17-20 May 2015; its malformed line stays in its day).
if [ -f "$SHARED/apache/elastic_examples_apache_logs.log" ]; then
  python3 - "$SHARED/apache/elastic_examples_apache_logs.log" <<'PY'
import re, sys
out = {}
day = "17"
for line in open(sys.argv[1], encoding="utf-8", errors="surrogateescape"):
    m = re.search(r"\[(\d\d)/", line)
    day = m.group(1) if m else day
    out.setdefault(day, []).append(line)
for d, lines in out.items():
    open("apache-%s.log" % d, "w", encoding="utf-8", errors="surrogateescape").writelines(lines)
PY
  days=(apache-*.log)
  opts=()
  check_merge apache
  grep -q '"malformed":1,' one.json || { echo "FAIL apache: the malformed line is not counted"; exit 1; }
else
  echo "note: $SHARED/apache absent (no ../shared/data): the real Apache sample is not checked"
fi
if [ -d "$SHARED/edx" ]; then
  days=("$SHARED"/edx/eap_module_engagement_acceptance_tracking_2015041*.log "$SHARED/edx/eap_user_activity_tracking.log")
  opts=(--format edx)
  check_merge edx
else
  echo "note: $SHARED/edx absent (no ../shared/data): edX tracking logs are not checked"
fi

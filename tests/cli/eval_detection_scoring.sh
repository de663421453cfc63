#!/usr/bin/env bash
# The scorer of scripts/eval-detection (scripts/eval_detection_score.py) on hand-written truth and
# alerts whose figures are worked out by hand below, checked exactly; then the same incidents with
# alerts grouped by an `incident` field; then the suite itself on its quickest scenario.
set -euo pipefail
source "$(dirname "$0")/lib/scratch.sh"
command -v python3 >/dev/null || { echo "python3 is missing: skipped"; exit 77; }
score="$SRC/scripts/eval_detection_score.py"
cat >"$tmp/truth.jsonl" <<'JSON'
{"kind":"error_burst","start":"2025-06-23T00:10:20Z","end":"2025-06-23T00:11:50Z","key":"/api/v1/payment"}
{"kind":"bad_user","start":"2025-06-23T00:30:00Z","end":"2025-06-23T00:35:00Z","key":"mallory"}
{"kind":"error_burst","start":"2025-06-23T00:40:00Z","end":"2025-06-23T00:45:00Z","key":"/api/v1/orders","error_rate_from":0.04,"error_rate_to":0.06}
{"kind":"ddos","start":"2025-06-23T00:50:30Z","end":"2025-06-23T00:55:30Z","key":"203.0.113.0/24"}
{"kind":"latency","start":"2025-06-23T01:10:00Z","end":"2025-06-23T01:12:00Z","key":"/search"}
{"kind":"error_burst","start":"2025-06-23T01:13:00Z","end":"2025-06-23T01:15:00Z","key":"/checkout"}
{"kind":"error_burst","start":"2025-06-23T01:30:00Z","end":"2025-06-23T01:50:00Z","key":"","error_rate_from":0.01,"error_rate_to":0.06}
JSON
# A(lert) lines; the comment after each says what the scorer must make of it (window 60 s,
# lateness 5 s: an incident's extended window ends 65 s after its end).
a() {  # a STATE METRIC KEY WINDOW_START WINDOW_END [EXTRA_JSON]
  printf '{"state":"%s","metric":"%s","key":"%s","value":1,"threshold":0.5,"window_start":"2025-06-23T%sZ","window_end":"2025-06-23T%sZ"%s}\n' \
    "$1" "$2" "$3" "$4" "$5" "${6:-}"
}
{
  a firing url_error_rate /api/v1/payment 00:10:00 00:11:00   # true T1, emitted 00:11:05: TTD 45 s
  a firing error_rate "" 00:11:00 00:12:00                     # true T1 (a global metric fits any key)
  a resolved url_error_rate /api/v1/payment 00:12:00 00:13:00  # not firing: ignored
  a firing user_request_rate bob 00:12:00 00:13:00             # collateral T1 (starts before 00:12:55)
  a firing ip_error_rate 192.0.2.9 00:13:00 00:14:00           # quiet: starts after 00:12:55
  a firing ip_error_rate 192.0.2.9 00:31:00 00:32:00           # collateral T2 (an address, not the user)
  a firing user_error_rate alice 00:33:00 00:34:00             # collateral T2 (right metric, other user)
  a firing url_error_rate /api/v1/orders 00:41:00 00:42:00     # true T6, 00:42:05: TTD 125 s
  a firing ip_request_rate 203.0.113.77 00:51:00 00:52:00 ',"at":"2025-06-23T00:52:02Z"'  # true T3, 92 s
  a firing prefix_request_rate 203.0.113.0/24 00:50:00 00:51:00 ',"at":"2025-06-23T00:51:01Z"'  # true T3, 31 s: TTD 31
  a firing ip_request_rate 198.51.100.1 00:52:00 00:53:00      # collateral T3 (not in the /24)
  a firing url_p99_latency_ms /search 01:09:00 01:10:00        # quiet: ends just as T4 starts
  a firing url_weird_score /search 01:10:00 01:11:00           # unknown metric on T4's key
  a firing url_p99_latency_ms /search 01:11:00 01:12:00        # true T4, emitted 01:12:05: TTD 125 s
  a firing url_error_rate /search 01:11:00 01:12:00            # collateral T4 (errors, not latency)
  a firing url_p99_latency_ms /searchlight 01:10:00 01:11:00   # collateral T4 (another path)
  a firing error_rate "" 01:13:00 01:14:00                     # true T7 (not by key), 65 s
  a firing ip_request_rate 192.0.2.50 01:13:00 01:14:00        # collateral: T4 and T7, T7 started last
  a firing error_rate "" 01:33:00 01:34:00                     # true T5, 01:34:05: TTD 245 s
  a firing url_error_rate /cart 01:35:00 01:36:00              # true T5 (a global incident: any key)
  a firing request_rate "" 01:52:00 01:53:00                   # quiet: starts after 01:51:05
  a firing mystery_rate "" 01:58:00 01:59:00                   # quiet, and an unknown metric
} >"$tmp/alerts.jsonl"
python3 "$score" "$tmp/truth.jsonl" "$tmp/alerts.jsonl" --span 2025-06-23T00:00:00Z 2025-06-23T02:00:00Z \
  --json >"$tmp/out.json"
# Worked out by hand:
#   pages: 21 firing alerts, not grouped: true 9, collateral 7 (bob, 192.0.2.9 at 00:31, alice,
#   198.51.100.1, url_error_rate[/search], /searchlight, 192.0.2.50), unknown 1, quiet 4;
#   precision of pages 9 / (9 + 7 + 4) = 0.45.
#   extended windows: T1 155 s, T2 365, T6 365, T3 365, T4 and T7 together 01:10:00-01:16:05
#   365, T5 1265 = 2880 s, so 7200 - 2880 = 4320 s without incident; false pages per day
#   4 * 86400 / 4320 = 80. T1 and T7 make one row: TTD 45 and 65 s, median 55; T7 only by the
#   global error_rate, so by key 1 of 2.
#   T5 doubles (0.01 -> 0.02) after 0.01 / 0.05 * 1200 = 240 s; detected at 245 s: not before;
#   error rate then 0.01 + 0.05 * 245 / 1200 = 0.0202083, 2.020833 x its start. T6 (0.04 ->
#   0.06) never doubles; detected at 125 s, at 0.04 + 0.02 * 125 / 300 = 0.048333: 1.208333 x.
cat >"$tmp/want" <<'EOF2'
totals pages=21 true=9 collateral=7 unknown=1 quiet=4
precision 0.450000 quiet_seconds 4320.000000 false_pages_per_day 80.000000
unknown_metrics mystery_rate,url_weird_score
error_burst url n=2 recall=1.000 by_key=0.500 median=55.0 max=65.0 precision=0.600000 per_incident=2.500 true=3 collateral=2 unknown=0
bad_user n=1 recall=0.000 by_key=0.000 median=- max=- precision=0.000000 per_incident=2.000 true=0 collateral=2 unknown=0
ramp url n=1 recall=1.000 by_key=1.000 median=125.0 max=125.0 precision=1.000000 per_incident=1.000 true=1 collateral=0 unknown=0 before_doubling=0 doubles_after=- rate_x=1.208333
ddos subnet n=1 recall=1.000 by_key=1.000 median=31.0 max=31.0 precision=0.666667 per_incident=3.000 true=2 collateral=1 unknown=0
latency n=1 recall=1.000 by_key=1.000 median=125.0 max=125.0 precision=0.333333 per_incident=4.000 true=1 collateral=2 unknown=1
ramp global n=1 recall=1.000 by_key=1.000 median=245.0 max=245.0 precision=1.000000 per_incident=2.000 true=2 collateral=0 unknown=0 before_doubling=0 doubles_after=240.0 rate_x=2.020833
EOF2
summarise() {
  python3 - "$1" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
t = s["totals"]
print("totals " + " ".join(f"{k}={t[k]}" for k in ("pages", "true", "collateral", "unknown", "quiet")))
print(f"precision {s['precision']:.6f} quiet_seconds {s['quiet_seconds']:.6f} false_pages_per_day {s['false_pages_per_day']:.6f}")
print("unknown_metrics " + ",".join(s["unknown_metrics"]))
f = lambda v, spec: "-" if v is None else format(v, spec)
for e in s["rows"]:
    p = e["pages"]
    line = (f"{e['label']} n={e['incidents']} recall={e['recall']:.3f} by_key={e['recall_by_key']:.3f}"
            f" median={f(e['median_ttd'], '.1f')} max={f(e['max_ttd'], '.1f')}"
            f" precision={f(e['precision'], '.6f')} per_incident={e['pages_per_incident']:.3f}"
            f" true={p['true']} collateral={p['collateral']} unknown={p['unknown']}")
    if "before_doubling" in e:
        line += (f" before_doubling={e['before_doubling']} doubles_after={f(e['doubles_after'], '.1f')}"
                 f" rate_x={f(e['median_rate_at_detection_x'], '.6f')}")
    print(line)
PY
}
summarise "$tmp/out.json" >"$tmp/got"
diff -u "$tmp/want" "$tmp/got"

# Grouped alerts: a page is the first firing alert of each incident id; a group that holds a
# fitting alert is a true page. i1 = T1 (one page for two alerts); i2 opens with the address of
# the bad user (does not fit) but holds user_error_rate[mallory] (fits): true, and T2 is detected
# at 00:33:05, 185 s; i3 is quiet. 3 pages, 2 true: precision 2/3.
{
  a firing url_error_rate /api/v1/payment 00:10:00 00:11:00 ',"incident":"i1"'
  a firing error_rate "" 00:11:00 00:12:00 ',"incident":"i1"'
  a firing ip_error_rate 192.0.2.9 00:31:00 00:32:00 ',"incident":"i2"'
  a firing user_error_rate mallory 00:32:00 00:33:00 ',"incident":"i2"'
  a firing request_rate "" 01:00:00 01:01:00 ',"incident":"i3"'
  a resolved request_rate "" 01:01:00 01:02:00 ',"incident":"i3"'
} >"$tmp/grouped.jsonl"
python3 "$score" "$tmp/truth.jsonl" "$tmp/grouped.jsonl" --span 2025-06-23T00:00:00Z 2025-06-23T02:00:00Z \
  --json >"$tmp/grouped.json"
cat >"$tmp/want2" <<'EOF2'
totals pages=3 true=2 collateral=0 unknown=0 quiet=1
precision 0.666667 quiet_seconds 4320.000000 false_pages_per_day 20.000000
unknown_metrics 
error_burst url n=2 recall=0.500 by_key=0.500 median=45.0 max=45.0 precision=1.000000 per_incident=0.500 true=1 collateral=0 unknown=0
bad_user n=1 recall=1.000 by_key=1.000 median=185.0 max=185.0 precision=1.000000 per_incident=1.000 true=1 collateral=0 unknown=0
ramp url n=1 recall=0.000 by_key=0.000 median=- max=- precision=- per_incident=0.000 true=0 collateral=0 unknown=0 before_doubling=0 doubles_after=- rate_x=-
ddos subnet n=1 recall=0.000 by_key=0.000 median=- max=- precision=- per_incident=0.000 true=0 collateral=0 unknown=0
latency n=1 recall=0.000 by_key=0.000 median=- max=- precision=- per_incident=0.000 true=0 collateral=0 unknown=0
ramp global n=1 recall=0.000 by_key=0.000 median=- max=- precision=- per_incident=0.000 true=0 collateral=0 unknown=0 before_doubling=0 doubles_after=240.0 rate_x=-
EOF2
summarise "$tmp/grouped.json" >"$tmp/got2"
diff -u "$tmp/want2" "$tmp/got2"
grep -q '"grouped": true' "$tmp/grouped.json"

# The suite end to end, on its cheapest scenario: it runs, prints its commands and a summary.
# The help read whole before grep: `| grep -q` under pipefail fails (and this part would be
# skipped) when grep exits before the last write.
generate_help=$("$LOGPIPE" generate --help)
if grep -q -- --no-incidents <<<"$generate_help"; then
  LOGPIPE=$LOGPIPE python3 "$SRC/scripts/eval-detection" --quick --scenario low-traffic-latency >"$tmp/suite.txt"
  grep -q '^  \$ .* generate --profile .*low-traffic-latency.toml --no-pace --no-incidents --seed 101 ' "$tmp/suite.txt"
  grep -q '^| low-traffic-latency | latency x10 /, 11/min | 1 | ' "$tmp/suite.txt"
  grep -q '^eval-detection: 2 commands' "$tmp/suite.txt"
fi
echo ok

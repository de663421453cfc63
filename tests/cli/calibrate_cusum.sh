#!/usr/bin/env bash
# calibrate (statistical rules, the default) -> stream, end to end on generated traffic:
#  1. the rules file: every metric has rule = "cusum" with limits above the history's worst
#     evidence, the report's budget holds (history_page_share <= target_rate);
#  2. a quiet day of another seed pages at most once (the target is <= 1 false page a day);
#  3. a day with the five incident kinds of the eval suite's midwindow scenario: each is paged,
#     by the scorer of scripts/eval-detection (python, independent of logpipe), precision >= 0.9,
#     at most 1.5 pages per incident;
#  4. incidents, recomputed from the alert lines: a resolved alert carries its episode's incident,
#     an incident id is the window start and metric of its first alert, statistical alerts carry
#     baseline, score and limit with score > limit when firing.
set -euo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
profile="$SRC/samples/profiles/eval/midwindow.toml"
fmt='logformat:%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" %D'

"$LOGPIPE" generate --profile "$profile" --no-pace --no-incidents --seed 301 --start 2025-06-22T00:00:00Z \
  --duration 21600s | "$LOGPIPE" calibrate --format "$fmt" --no-progress --report json -o "$tmp/rules.toml" - \
  >"$tmp/report.json"
python3 - "$tmp/rules.toml" "$tmp/report.json" <<'PY'
import json, sys, tomllib
rules = tomllib.load(open(sys.argv[1], "rb"))
report = json.load(open(sys.argv[2]))
assert report["rules"] == "cusum", report
assert report["history_page_share"] <= report["target_rate"], report
assert len(rules["metrics"]) == 10, sorted(rules["metrics"])
for name, m in rules["metrics"].items():
    assert m["rule"] == "cusum", (name, m)
    assert m["limit_fast"] >= 6.9 and m["limit_slow"] >= 6.9, (name, m)
PY

# 2. a quiet day of another seed
"$LOGPIPE" generate --profile "$profile" --no-pace --no-incidents --seed 302 --start 2025-06-23T00:00:00Z \
  --duration 86400s | "$LOGPIPE" stream --format "$fmt" --config "$tmp/rules.toml" - >"$tmp/quiet.jsonl"
pages=$(python3 -c 'import json,sys; print(len({json.loads(l)["incident"] for l in open(sys.argv[1])}))' "$tmp/quiet.jsonl")
[ "$pages" -le 1 ] || { echo "FAIL: $pages pages on a quiet day:"; cat "$tmp/quiet.jsonl"; exit 1; }

# 3. the five kinds, 90 s each, mid-window
"$LOGPIPE" generate --profile "$profile" --no-pace --seed 303 --start 2025-06-23T00:00:17Z --duration 18000s \
  --truth "$tmp/truth.jsonl" | "$LOGPIPE" stream --format "$fmt" --config "$tmp/rules.toml" - >"$tmp/alerts.jsonl"
python3 "$SRC/scripts/eval_detection_score.py" "$tmp/truth.jsonl" "$tmp/alerts.jsonl" \
  --span 2025-06-23T00:00:17Z 2025-06-23T05:00:17Z --json >"$tmp/score.json"
python3 - "$tmp/score.json" "$tmp/alerts.jsonl" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
missed = [r for r in s["run"]["incidents"] if not r["detected"]]
assert not missed, missed
summary = s["summary"]
assert summary["precision"] is not None and summary["precision"] >= 0.9, summary["totals"]
incidents = sum(row["incidents"] for row in summary["rows"])
pages = sum(sum(row["pages"].values()) for row in summary["rows"])
assert incidents == 10 and pages <= 1.5 * incidents, (incidents, pages)
print(f"{incidents} incidents, all detected, {pages} pages, precision {summary['precision']:.2f}")

# 4. incidents from the alert lines alone
firing_incident, first_of = {}, {}
for line in open(sys.argv[2]):
    a = json.loads(line)
    episode = (a["metric"], a["key"])
    assert {"baseline", "score", "limit", "incident"} <= a.keys(), a
    if a["state"] == "firing":
        assert a["score"] > a["limit"], a
        firing_incident[episode] = a["incident"]
        first_of.setdefault(a["incident"], a)
    else:
        assert a["incident"] == firing_incident.pop(episode), a
for inc, a in first_of.items():
    assert inc == a["window_start"] + "/" + a["metric"], (inc, a)
PY
echo ok

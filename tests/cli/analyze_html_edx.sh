#!/usr/bin/env bash
# The HTML report of the real Open edX and FUN tracking logs (../shared/data), as a browser shows
# it (headless Chromium, after its script ran): every figure of the course table and of the
# active-learners-per-week table equals the JSON report's, the headline cards are those of
# tracking logs (events, learners, courses; no "0 B"), and a screenshot renders (kept in
# $LOGPIPE_SCREENSHOTS when set). Skipped without chromium or without ../shared/data.
set -euo pipefail
chromium=/usr/bin/chromium
[ -x "$chromium" ] || { echo "SKIP: $chromium absent (apt-get install chromium to run this test)"; exit 77; }
[ -d "$SHARED/edx" ] || { echo "SKIP: $SHARED/edx absent (the team's ../shared/data is not in a clone)"; exit 77; }
source "$SRC/tests/cli/lib/scratch.sh"
logs=("$SHARED"/edx/*.log "$SHARED"/fun/*.log)
"$LOGPIPE" analyze --report json "${logs[@]}" >"$tmp/r.json" 2>/dev/null
"$LOGPIPE" analyze --report html -o "$tmp/r.html" "${logs[@]}" 2>/dev/null
browse=(timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking
        --disable-component-update --disable-sync --no-first-run --user-data-dir="$tmp/profile")
"${browse[@]}" --window-size=1200,900 --virtual-time-budget=3000 --dump-dom "file://$tmp/r.html" >"$tmp/dom.html" 2>/dev/null
"${browse[@]}" --window-size=1200,2400 --screenshot="$tmp/edx.png" "file://$tmp/r.html" >/dev/null 2>&1
PYTHONPATH="$SRC/tests/cli/lib" python3 - "$tmp/r.json" "$tmp/dom.html" "$tmp/edx.png" <<'PY'
import html_tables, json, sys
report = json.load(open(sys.argv[1]))
t = html_tables.read(sys.argv[2])
n = lambda s: int(s.replace(",", ""))
share = lambda a, b: f"{100 * a / b:.1f}%" if b else "-"
courses = t.tables["course_figures"][1:]
want = report["course_figures"]
assert len(courses) == len(want) >= 5, (len(courses), len(want))
for row, c in zip(courses, want):
    assert row[0] == c["course_id"], (row, c)
    assert [n(row[1]), n(row[3]), n(row[4]), n(row[5]), n(row[6]), n(row[8]), n(row[10])] == \
        [c["learners"], c["peak_week_learners"], c["enrolments"], c["unenrolments"], c["video_plays"],
         c["problem_checks"], c["forum_posts"]], (row, c)
    assert float(row[2]) == round(c["learners_per_day"], 1), (row, c)
    assert row[7] == share(c["video_completers"], c["video_learners"]), (row, c)
    assert row[9] == share(c["problem_correct"], c["problem_checks"]), (row, c)
weeks = [(r[0], r[1], n(r[2])) for r in t.tables["course_weeks"][1:]]
assert weeks == [(c["course_id"], w["week"], w["learners"]) for c in want for w in c["active_learners_per_week"]], weeks[:3]
assert sum(c["video_plays"] for c in want) > 0 and sum(c["problem_checks"] for c in want) > 0
cards = t.cards
assert not any(v == "0 B" for v in cards.values()), cards
assert n(cards["events"]) == report["requests"], (cards, report["requests"])
# Tracking logs have no status: no errors chart; the requests chart's grid labels are 0, q, 2q, 3q, 4q.
import re
page = open(sys.argv[2], encoding="utf-8").read()
assert 'id=errors' not in page and 'id="errors"' not in page, "an errors chart for tracking logs"
svg = re.search(r'<svg[^>]*id="?timeseries-chart.*?</svg>', page, re.S).group(0)
grid = [n(x) for x in re.findall(r'text-anchor="end">([\d,]+)</text>', svg)][:5]
assert len(grid) == 5 and grid[1] > 0 and grid == [k * grid[1] for k in range(5)], grid
png = open(sys.argv[3], "rb").read()
assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50000, len(png)
print(f"grid {grid}; ok: {len(courses)} courses and {len(weeks)} course weeks equal the JSON; cards {sorted(cards)}")
PY
[ -n "${LOGPIPE_SCREENSHOTS:-}" ] && cp "$tmp/edx.png" "$LOGPIPE_SCREENSHOTS/analyze_html_edx.png"
exit 0

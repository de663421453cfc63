#!/usr/bin/env bash
# analyze's edX course figures (docs/analyze.md "Course figures") on the real Open edX and FUN
# tracking logs equal an independent recomputation by Python's json module over the raw lines:
# learners per course, per day and per week, enrolments, video plays and completions, graded
# problem checks and their success, forum posts. Only the course of each record is taken from
# logpipe (`export`, whose course rule docs/formats.md and core_edx_samples.sh test); the raw
# line must agree with the exported record on user and event type. The CSV section carries the
# same figures; the headline of a tracking log reads events, not errors and bytes.
set -euo pipefail
[ -d "$SHARED/edx" ] || { echo "SKIP: $SHARED/edx absent (no ../shared/data)"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
inputs=("$SHARED"/edx/*.log)
[ -d "$SHARED/fun" ] && inputs+=("$SHARED"/fun/*.log)
"$LOGPIPE" analyze --format edx --report json --top 0 --no-progress "${inputs[@]}" >"$tmp/r.json" 2>/dev/null
"$LOGPIPE" analyze --format edx --report csv --top 0 --no-progress "${inputs[@]}" >"$tmp/r.csv" 2>/dev/null
"$LOGPIPE" analyze --format edx --report text --top 0 --no-progress "${inputs[@]}" >"$tmp/r.txt" 2>/dev/null
"$LOGPIPE" export --format edx --names logpipe "${inputs[@]}" >"$tmp/records.jsonl" 2>/dev/null
python3 - "$tmp" "${inputs[@]}" <<'PY'
import collections, csv, datetime, json, sys
tmp = sys.argv[1]
report = json.load(open(f"{tmp}/r.json"))
exported = [json.loads(l) for l in open(f"{tmp}/records.jsonl", encoding="utf-8", errors="surrogateescape")]
raw = []
for path in sys.argv[2:]:
    for line in open(path, encoding="utf-8", errors="surrogateescape"):
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            raw.append(obj)
assert len(raw) == len(exported) == report["requests"], (len(raw), len(exported), report["requests"])

def text(v):
    return v if isinstance(v, str) else ""

def utc_day(t):
    d = datetime.datetime.fromisoformat(t.replace("Z", "+00:00"))
    if d.tzinfo is not None:
        d = d.astimezone(datetime.timezone.utc)
    return d.date()

C = lambda: {"events": 0, "enrolments": 0, "unenrolments": 0, "video_plays": 0, "video_completions": 0,
             "problem_checks": 0, "problem_correct": 0, "forum_events": 0, "forum_posts": 0,
             "days": collections.defaultdict(set), "weeks": collections.defaultdict(set), "learners": set(),
             "played": set(), "completed": set()}
courses = collections.defaultdict(C)
graded = 0
for obj, rec in zip(raw, exported):
    user = text(obj.get("username")).strip(" \t\r\n")
    etype = text(obj.get("event_type"))
    assert rec.get("user", "") == user and rec.get("event_type", "") == etype, (rec, user, etype)
    ev = obj.get("event")
    success = text(ev.get("success")) if isinstance(ev, dict) else ""
    if etype == "problem_check" and success:
        graded += 1
    course = rec.get("course_id")
    if not course:
        continue
    c = courses[course]
    c["events"] += 1
    c["enrolments"] += etype == "edx.course.enrollment.activated"
    c["unenrolments"] += etype == "edx.course.enrollment.deactivated"
    play = etype in ("play_video", "edx.video.played")
    done = etype in ("stop_video", "complete_video", "edx.video.completed")
    c["video_plays"] += play
    c["video_completions"] += done
    if etype == "problem_check" and success:
        c["problem_checks"] += 1
        c["problem_correct"] += success == "correct"
    if etype.startswith("edx.forum."):
        c["forum_events"] += 1
        c["forum_posts"] += etype in ("edx.forum.thread.created", "edx.forum.response.created",
                                      "edx.forum.comment.created")
    if not user:
        continue
    if play:
        c["played"].add(user)
    if done:
        c["completed"].add(user)
    if text(obj.get("time")):
        day = utc_day(obj["time"])
        c["learners"].add(user)
        c["days"][day].add(user)
        c["weeks"][day - datetime.timedelta(days=day.weekday())].add(user)

got = {c["course_id"]: c for c in report["course_figures"]}
assert set(got) == set(courses), set(got) ^ set(courses)
assert [c["course_id"] for c in report["course_figures"]] == [c["course_id"] for c in report["courses"]]
def rate(n, d):
    return None if d == 0 else round(n / d, 4)
for name, w in courses.items():
    g = got[name]
    for k in ("events", "enrolments", "unenrolments", "video_plays", "video_completions", "problem_checks",
              "problem_correct", "forum_events", "forum_posts"):
        assert g[k] == w[k], (name, k, g[k], w[k])
    per_day = [{"day": d.isoformat(), "learners": len(u)} for d, u in sorted(w["days"].items())]
    per_week = [{"week": d.isoformat(), "learners": len(u)} for d, u in sorted(w["weeks"].items())]
    assert g["active_learners_per_day"] == per_day, (name, g["active_learners_per_day"], per_day)
    assert g["active_learners_per_week"] == per_week, (name, g["active_learners_per_week"], per_week)
    assert g["learners"] == len(w["learners"]), (name, g["learners"], len(w["learners"]))
    mean = sum(len(u) for u in w["days"].values()) / len(w["days"]) if w["days"] else 0
    assert abs(g["learners_per_day"] - mean) <= 0.005, (name, g["learners_per_day"], mean)
    assert g["peak_day_learners"] == max([len(u) for u in w["days"].values()] or [0])
    assert g["peak_week_learners"] == max([len(u) for u in w["weeks"].values()] or [0])
    assert g["video_learners"] == len(w["played"]) and g["video_completers"] == len(w["completed"]), name
    assert g["video_completion_rate"] == rate(len(w["completed"]), len(w["played"])), name
    assert g["problem_success_rate"] == rate(w["problem_correct"], w["problem_checks"]), name

# Every graded check of the fixtures has a course: the course figures hold all of them.
assert sum(c["problem_checks"] for c in courses.values()) == graded, graded
assert graded > 100 and sum(c["enrolments"] for c in courses.values()) > 10
assert any(c["forum_posts"] for c in courses.values()) and any(c["video_completions"] for c in courses.values())

# The CSV section: the same figures, column by column.
rows = [r for r in csv.reader(open(f"{tmp}/r.csv", newline="")) if r and r[0] == "course_figures"]
header = next(r for r in csv.reader(open(f"{tmp}/r.csv", newline="")) if r[:2] == ["section", "course_id"]
              and "video_plays" in r)
assert len(rows) == len(report["course_figures"])
for row, g in zip(rows, report["course_figures"]):
    for k, v in zip(header[1:], row[1:]):
        want = g[k]
        if want is None:
            assert v == "", (k, v)
        elif isinstance(want, float) or k.endswith("_rate") or k == "learners_per_day":
            assert abs(float(v) - want) < 1e-9, (k, v, want)
        elif isinstance(want, int):
            assert int(v) == want, (k, v, want)
        else:
            assert v == want, (k, v, want)

txt = open(f"{tmp}/r.txt").read()
totals = txt.split("Totals", 1)[1].split("\n\n", 1)[0]
assert "events" in totals and "bytes" not in totals and "server errors" not in totals, totals
assert f"{graded}" in totals and "Course figures (edx)" in txt
print("ok", len(courses), "courses,", graded, "graded checks,", sum(len(c["learners"]) for c in courses.values()),
      "course learners")
PY

#!/usr/bin/env bash
# --where on the windowed commands, and export's other outputs, against independent references:
# - stream --where E gives exactly the alerts and windows of stream over the lines that Python's
#   own test of E keeps (written to a file), and its stderr counts are Python's;
# - calibrate --where E writes the thresholds of calibrate over those lines (its header names E);
# - export -o kafka://: kcat reads back exactly the documents export writes to a file, one
#   message per record;
# - export of clickstream lines: the session and the user come from the cookie, as Python reads
#   them.
set -euo pipefail
command -v kcat >/dev/null || { echo "SKIP: kcat absent (the independent Kafka reader)"; exit 77; }
. "$SRC/tests/cli/lib/scratch.sh"
. "$SRC/tests/cli/lib/kafka_mock.sh"
cd "$tmp"
gen=("$LOGPIPE" generate --profile "$SRC/tests/cli/lib/payment_ddos.toml" --no-pace --seed 42 --start 2025-06-23T00:00:00Z)
"${gen[@]}" -o all.log
fmt='logformat:%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" %D'
conf="$SRC/samples/thresholds.toml"
where='not (url ^= "/static/" or url ^= "/images/") and (method == "POST" or status >= 500 or path ^= "/api/")'
python3 - <<'PY'
import re
line_re = re.compile(r'^\S+ \S+ \S+ \[[^\]]+\] "(\S+) (\S+) [^"]*" (\d{3}) ')
kept = read = 0
with open("all.log") as f, open("kept.log", "w") as out:
    for line in f:
        m = line_re.match(line)
        method, url, status = m.group(1), m.group(2), int(m.group(3))
        path = url.split("?")[0]
        read += 1
        if not (url.startswith("/static/") or url.startswith("/images/")) and \
           (method == "POST" or status >= 500 or path.startswith("/api/")):
            out.write(line)
            kept += 1
open("counts", "w").write("logpipe: --where kept %d of %d records (%d left out)\n" % (kept, read, read - kept))
PY

# stream: the filter in the pump = the filtered file.
"$LOGPIPE" stream --format "$fmt" --config "$conf" --window-log kept.windows kept.log >kept.alerts 2>/dev/null
"$LOGPIPE" stream --format "$fmt" --config "$conf" --where "$where" --window-log where.windows all.log >where.alerts 2>stream.err
[ -s kept.alerts ] || { echo "FAIL: the reference raises no alert: the comparison would prove little"; exit 1; }
cmp kept.alerts where.alerts || { echo "FAIL: stream --where alerts differ"; diff kept.alerts where.alerts | head; exit 1; }
cmp kept.windows where.windows || { echo "FAIL: stream --where windows differ"; diff kept.windows where.windows | head; exit 1; }
grep -qxF "$(cat counts)" stream.err || { echo "FAIL: stream counts"; cat counts stream.err; exit 1; }
echo "ok stream --where: $(wc -l <where.alerts) alerts, $(wc -l <where.windows) windows = stream over Python's selection"

# calibrate: the same thresholds (the header comments name the inputs, the date and the filter).
export SOURCE_DATE_EPOCH=1750636800
"$LOGPIPE" calibrate --format "$fmt" --no-progress -o kept.toml kept.log >/dev/null 2>&1
"$LOGPIPE" calibrate --format "$fmt" --no-progress --where "$where" -o where.toml all.log >/dev/null 2>cal.err
cmp <(grep -v '^#' kept.toml) <(grep -v '^#' where.toml) || { echo "FAIL: calibrate --where thresholds differ"; exit 1; }
grep -q '^#.*--where' where.toml || { echo "FAIL: the rules file does not say it was filtered"; head -5 where.toml; exit 1; }
grep -qxF "$(cat counts)" cal.err || { echo "FAIL: calibrate counts"; cat counts cal.err; exit 1; }
echo "ok calibrate --where = calibrate over Python's selection"

# export to Kafka: the documents of a file export, one message each (one partition: in order).
kafka_mock_start records:1
"$LOGPIPE" export --format "$fmt" -o file.jsonl kept.log
"$LOGPIPE" export --format "$fmt" -o "kafka://$bs/records" kept.log 3>&-
kcat -C -b "$bs" -t records -e -q >kafka.jsonl
cmp file.jsonl kafka.jsonl || { echo "FAIL: kcat reads other documents than the file export"; diff file.jsonl kafka.jsonl | head -5; exit 1; }
echo "ok export -o kafka://: kcat reads the $(wc -l <kafka.jsonl) documents of the file export"

# Clickstream lines: user and session from the cookie.
python3 "$SRC/tests/cli/analyze_gen.py" 3000 --clickstream --seed 3 >click.log
"$LOGPIPE" export --names logpipe click.log >click.jsonl
python3 - <<'PY'
import json, re
cookie = re.compile(r'"user = ([^;]*); PHPSESSID=([0-9a-f]+)"$')
docs = [json.loads(l) for l in open("click.jsonl")]
lines = open("click.log").read().splitlines()
assert len(docs) == len(lines), (len(docs), len(lines))
for line, d in zip(lines, docs):
    user, sid = cookie.search(line).groups()
    assert d["session"] == sid, (line, d)
    if user != "anonymous":
        assert d["user"] == user, (line, d)
    assert d["ip"] == line.split(" ", 1)[0]
print("ok export of clickstream lines: %d records, user and session from the cookie" % len(docs))
PY

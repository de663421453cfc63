#!/usr/bin/env bash
# The CSV report loads in Python's csv module (one section per table, same figures as the JSON);
# the HTML report is one well-formed, self-contained file: inline SVG charts with data in them,
# one inline script whose SHA-256 is the only one the CSP lets run, no reference to any URL, a CSP
# that forbids network access, log data escaped.
set -euo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
python3 "$SRC/tests/cli/analyze_gen.py" 5000 --clickstream --seed 5 >"$tmp/a.log"
# A hostile line: markup and a CSV-breaking url.
echo '10.9.9.9 - - [23/Jun/2025:00:01:00 +0000] "GET /<img_src=x_onerror=alert(1)>,x HTTP/1.1" 200 5 "-" "<b>bold</b>" "user = anonymous; PHPSESSID=zz"' >>"$tmp/a.log"
"$LOGPIPE" analyze --format clickstream --report json --top 5 "$tmp/a.log" >"$tmp/r.json" 2>/dev/null
"$LOGPIPE" analyze --format clickstream --report csv --top 5 "$tmp/a.log" >"$tmp/r.csv" 2>/dev/null
"$LOGPIPE" analyze --format clickstream --report html --top 0 -o "$tmp/r.html" "$tmp/a.log" 2>/dev/null
python3 - "$tmp/r.json" "$tmp/r.csv" "$tmp/r.html" <<'PY'
import csv, html.parser, json, sys
report = json.load(open(sys.argv[1]))
sections = {}
with open(sys.argv[2], newline="") as f:
    header = None
    for row in csv.reader(f, strict=True):
        if not row:
            header = None
            continue
        if header is None:
            assert row[0] == "section", row
            header = row
            continue
        assert len(row) == len(header), (row, header)
        sections.setdefault(row[0], []).append(dict(zip(header[1:], row[1:])))
for name in ("totals", "status", "urls", "ips", "users", "timeseries", "sessions", "browsers", "os"):
    assert name in sections, (name, sorted(sections))
totals = {r["metric"]: r["value"] for r in sections["totals"]}
for k in ("requests", "errors", "bytes", "unique_ips", "unique_users", "malformed"):
    assert int(totals[k]) == report[k], k
assert {r["status"]: int(r["requests"]) for r in sections["status"]} == report["status"]
assert [(r["url"], int(r["requests"]), int(r["errors"])) for r in sections["urls"]] == \
       [(u["url"], u["requests"], u["errors"]) for u in report["urls"]]
assert sum(int(r["requests"]) for r in sections["timeseries"]) == report["requests"]
assert int({r["metric"]: r["value"] for r in sections["sessions"]}["count"]) == report["sessions"]["count"]

class Check(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.tags, self.paths, self.csp, self.scripts = [], {}, 0, "", 0
    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        a = dict(attrs)
        for k, v in a.items():
            assert not (v or "").lower().startswith(("http:", "https:", "//", "javascript:")), (tag, k, v)
            assert not k.startswith("on"), (tag, k)
        assert tag not in ("img", "link", "iframe", "object", "embed"), tag
        if tag == "script":
            assert not a, a  # inline only: no src, no type tricks
            self.scripts += 1
        if tag == "meta" and a.get("http-equiv") == "Content-Security-Policy":
            self.csp = a["content"]
        if tag == "path" and a.get("d", "").count(" L") >= 2:  # a line through several points
            self.paths += 1
        if tag not in ("meta", "br", "line", "rect", "path", "input"):
            self.stack.append(tag)
    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
        self.stack.pop()
text = open(sys.argv[3], encoding="utf-8").read()
c = Check()
c.feed(text)
c.close()
assert not c.stack, c.stack
policy = dict((d.split()[0], d.split()[1:]) for d in c.csp.split(";") if d.strip())
assert policy["default-src"] == ["'none'"], policy
import base64, hashlib, re
script = re.search(r"<script>(.*?)</script>", text, re.S).group(1)
digest = "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
assert policy["script-src"] == [digest], (policy, digest)
assert c.scripts == 1, c.scripts
assert c.tags.get("svg", 0) >= 4, c.tags       # time series, status, browsers, os (+ more)
assert c.paths >= 3, c.paths                     # requests area, errors and 5xx lines
assert "<b>bold</b>" not in text and "&lt;b&gt;bold&lt;/b&gt;" in text
assert "<img" not in text
print("ok")
PY

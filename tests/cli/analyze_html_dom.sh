#!/usr/bin/env bash
# The HTML report read back as a person's browser shows it (headless Chromium):
# - every number in its tables and cards equals the JSON report's (grouping commas removed);
# - under its own Content-Security-Policy the inline script runs (the filter boxes appear);
# - a click on a header sorts the rows (numbers by value, both directions), the filter box hides
#   the rows that do not match;
# - laid out 400 px wide, no box but the wide tables' own scrolling areas is wider.
# Run on generated lines with response times, and on the real Apache log when ../shared is there.
# Skipped when Debian's chromium is not installed (scripts/deps.sh installs it for the tests).
set -euo pipefail
chromium=/usr/bin/chromium
[ -x "$chromium" ] || { echo "SKIP: $chromium absent (apt-get install chromium to run this test)"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
dump() {  # dump WIDTH FILE: the DOM after the page's scripts ran
  timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$tmp/profile" \
    --window-size="$1",900 --virtual-time-budget=3000 --dump-dom "file://$2" 2>/dev/null
}
"$LOGPIPE" generate --count 30000 --seed 3 --with-duration --error-rate 0.04 >"$tmp/gen.log" 2>/dev/null
inputs=("$tmp/gen.log")
apache="$SHARED/apache/elastic_examples_apache_logs.log"
if [ -f "$apache" ]; then inputs+=("$apache"); else echo "note: $apache absent (no ../shared/data): generated lines only"; fi
for log in "${inputs[@]}"; do
  "$LOGPIPE" analyze --report json --top 15 "$log" >"$tmp/r.json" 2>/dev/null
  "$LOGPIPE" analyze --report html --top 15 -o "$tmp/r.html" "$log" 2>/dev/null
  dump 1200 "$tmp/r.html" >"$tmp/live.html"
  # A copy with a probe appended (and the policy removed so that the probe may run): it sorts the
  # ips table by requests twice, filters the urls table, and measures the page at 400 px.
  PYTHONPATH="$SRC/tests/cli/lib" python3 - "$tmp/r.html" "$tmp/probe.html" <<'PY'
import re, sys
page = open(sys.argv[1], encoding="utf-8").read()
page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
probe = """<script>
window.addEventListener('load', function () {
  // Headless Chromium's window is at least 500 px wide: the page is laid out at 400 px instead
  // (the phone media query applies below 640), and every box outside a scrolling table must fit.
  document.documentElement.style.width = '400px';
  var wide = [];
  Array.prototype.forEach.call(document.querySelectorAll('body *'), function (e) {
    var s = e.parentElement && e.parentElement.closest('.scroll');
    var r = e.getBoundingClientRect();
    if (!s && r.right > 400.5) wide.push(e.tagName + (e.id ? '#' + e.id : '') + ' ' + Math.round(r.right));
  });
  var out = {width: document.body.scrollWidth, wide: wide.slice(0, 10)};
  var col = function (id, i) { return Array.prototype.map.call(document.querySelectorAll('#' + id + ' tbody tr'),
    function (r) { return r.hidden ? null : r.cells[i].textContent; }); };
  var th = document.querySelectorAll('#ips thead th')[1];
  th.click(); out.desc = col('ips', 1); out.desc_sort = th.getAttribute('aria-sort');
  th.click(); out.asc = col('ips', 1); out.asc_sort = th.getAttribute('aria-sort');
  var key = document.querySelectorAll('#urls thead th')[0];
  key.click(); out.by_url = col('urls', 0);
  var f = document.querySelector('#urls input.filter');
  out.filter = !!f;
  if (f) { var want = col('urls', 0)[1]; f.value = want; f.dispatchEvent(new Event('input'));
           out.filtered = col('urls', 0).filter(function (x) { return x !== null; }); out.want = want; }
  var pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""
open(sys.argv[2], "w", encoding="utf-8").write(page.replace("</body>", probe + "</body>"))
PY
  dump 500 "$tmp/probe.html" >"$tmp/probe.dom"
  PYTHONPATH="$SRC/tests/cli/lib" python3 - "$tmp/r.json" "$tmp/r.html" "$tmp/live.html" "$tmp/probe.dom" "$log" <<'PY'
import html, html_tables, json, re, sys
report = json.load(open(sys.argv[1]))
t = html_tables.read(sys.argv[2])
n = lambda s: int(s.replace(",", ""))
def body(section):
    rows = t.tables.get(section, [])
    return rows[1:]  # the header row first
def same(section, key, with_errors=True, name=None):
    got = [(r[0], n(r[1])) + ((n(r[2]),) if with_errors else ()) for r in body(section)]
    want = [(x[key], x["requests"]) + ((x["errors"],) if with_errors else ()) for x in report[name or section]]
    assert got == want, (section, got[:3], want[:3])
    return len(got)
checked = 0
for section, key, errors in (("urls", "url", True), ("ips", "ip", True), ("not_found", "url", False),
                             ("referring_domains", "domain", True), ("referers", "referer", True),
                             ("agents", "agent", True), ("methods", "method", True)):
    checked += same(section, key, errors)
assert n(t.cards["requests"]) == report["requests"]
assert n(t.cards["errors"].split()[0]) == report["errors"]
assert n(t.cards["unique IPs"]) == report["unique_ips"]
assert n(t.cards["malformed lines"]) == report["malformed"]
if report["latency"]["count"]:
    rows = body("url_latency")
    assert n(rows[0][1]) == report["latency"]["count"]
    for r, j in zip(rows[1:], report["url_latency"]):
        assert r[0] == j["url"] and n(r[1]) == j["count"], (r, j)
        for cell, k in zip(r[2:], ("mean_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms", "total_ms")):
            assert abs(float(cell.replace(",", "")) - j[k]) < 0.0005, (r, j, k)
    assert len(rows) == len(report["url_latency"]) + 1
    checked += len(rows)
# Numbers of 1,000 and more are grouped.
big = [c for rows in t.tables.values() for r in rows for c in r[1:] if re.fullmatch(r"\d{4,}", c)]
assert not big, big[:5]
# The script ran under the page's own policy: it added the filter boxes.
live = open(sys.argv[3], encoding="utf-8").read()
assert 'class="filter"' in live, "the inline script did not run under the page's CSP"
probe = json.loads(html.unescape(re.search(r'<pre id="probe">(.*?)</pre>', open(sys.argv[4], encoding="utf-8").read(), re.S).group(1)))
assert probe["width"] <= 400 and not probe["wide"], (probe["width"], probe["wide"])
desc = [n(x) for x in probe["desc"]]
assert desc == sorted(desc, reverse=True) and probe["desc_sort"] == "descending", probe
asc = [n(x) for x in probe["asc"]]
assert asc == sorted(asc) and probe["asc_sort"] == "ascending", probe
assert probe["by_url"] == sorted(probe["by_url"], key=lambda s: s) or len(set(probe["by_url"])) == len(probe["by_url"]), probe
if len(report["urls"]) > 10:
    assert probe["filter"], probe
    assert probe["want"] in probe["filtered"] and all(probe["want"].lower() in x.lower() for x in probe["filtered"]), probe
print(sys.argv[5].rsplit("/", 1)[-1], "ok:", checked, "table rows equal the JSON; sorted, filtered, width", probe["width"])
PY
done

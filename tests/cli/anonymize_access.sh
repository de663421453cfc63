#!/usr/bin/env bash
# anonymize on the real Apache sample with users injected (as %u and as a clickstream cookie),
# --ip truncate and --ip hash. Python computes every expected line independently (hmac module,
# ipaddress module); line 8899 (unterminated quote) must be rejected, never written.
set -euo pipefail
log="$SHARED/apache/elastic_examples_apache_logs.log"
[ -f "$log" ] || { echo "SKIP: $log absent (no ../shared/data)"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export LOGPIPE_TEST_KEY='k3y with spaces'
python3 - "$log" "$tmp" <<'PY'
import sys
log, tmp = sys.argv[1:3]
lines = open(log, encoding="latin-1").read().split("\n")
if lines[-1] == "": lines.pop()
users = ["-", "alice", "anonymous", "bob.smith@example.org", "-", "Zoë"]
combined, click = [], []
for i, l in enumerate(lines):
    parts = l.split(" ", 3)          # ip ident user rest
    parts[2] = users[i % len(users)]
    l2 = " ".join(parts)
    combined.append(l2)
    cookie_user = ["carol", "anonymous", "-", "dave"][i % 4]
    click.append(l2 + ' "user = %s; PHPSESSID=s%d"' % (cookie_user, i))
open(tmp + "/combined.log", "w", encoding="latin-1").write("\n".join(combined) + "\n")
open(tmp + "/click.log", "w", encoding="latin-1").write("\n".join(click) + "\n")
PY
"$LOGPIPE" anonymize --key-env LOGPIPE_TEST_KEY --format combined --ip truncate \
  --rejects "$tmp/combined.rej" "$tmp/combined.log" >"$tmp/combined.out" 2>"$tmp/combined.err"
"$LOGPIPE" anonymize --key-env LOGPIPE_TEST_KEY --format clickstream --ip hash -j 1 \
  "$tmp/click.log" >"$tmp/click.out" 2>"$tmp/click.err"
grep -qx 'logpipe: 1 malformed line skipped; first: .*combined.log:8899: unterminated quoted field' "$tmp/combined.err"
python3 - "$tmp" <<'PY'
import hashlib, hmac, ipaddress, re, sys
tmp = sys.argv[1]
key = b"k3y with spaces"
h = lambda s: hmac.new(key, s.encode("latin-1"), hashlib.sha256).hexdigest()
def user(u): return u if u in ("-", "", "anonymous") else h(u)
def trunc(ip):
    a = ipaddress.ip_address(ip)
    net = ipaddress.ip_network(f"{ip}/{24 if a.version == 4 else 48}", strict=False)
    return str(net.network_address)
read = lambda n: open(f"{tmp}/{n}", encoding="latin-1").read().split("\n")[:-1]
src = read("combined.log")
out = read("combined.out")
assert len(out) == len(src) - 1, (len(out), len(src))
assert read("combined.rej") == [src[8898]]
exp = []
for i, l in enumerate(src):
    if i == 8898: continue
    ip, ident, u, rest = l.split(" ", 3)
    exp.append(" ".join([trunc(ip), ident, user(u), rest]))
for e, g in zip(exp, out): assert e == g, (e, g)
src = read("click.log")
out = read("click.out")
assert len(out) == len(src) - 1
exp = []
for i, l in enumerate(src):
    if i == 8898: continue
    ip, ident, u, rest = l.split(" ", 3)
    m = re.fullmatch(r'(.*) "user = ([^;]*); PHPSESSID=(s\d+)"', rest)
    rest = '%s "user = %s; PHPSESSID=%s"' % (m.group(1), user(m.group(2)), m.group(3))
    exp.append(" ".join([h(ip), ident, user(u), rest]))
for e, g in zip(exp, out): assert e == g, (e, g)
print("ok:", len(out), "lines")
PY

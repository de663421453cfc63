#!/usr/bin/env bash
# anonymize --prefix keep|strip (issue 19, item 5) on FUN's production form: edX tracking lines
# behind a syslog prefix, plus access-log lines behind syslog and CRI prefixes. Python is the
# oracle: with keep, each output line is the input's prefix, byte for byte, then the message
# with its username (or %u user) replaced by hmac.new(key, name, sha256).hexdigest(); with strip,
# it is that message alone. The edX lines come from ../shared/data (skipped without it).
set -euo pipefail
[ -d "$SHARED/edx" ] || { echo "SKIP: $SHARED/edx absent (no ../shared/data)"; exit 77; }
. "$SRC/tests/cli/lib/scratch.sh"
printf 'prefix-key\n' >"$tmp/key"
chmod 600 "$tmp/key"
python3 - "$tmp" "$SHARED"/edx/*.log <<'PY'
import json, sys
tmp, files = sys.argv[1], sys.argv[2:]
edx = []
for f in files:
    for line in open(f, encoding="utf-8"):
        line = line.rstrip("\n")
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and isinstance(rec.get("username"), str) and rec["username"]:
            edx.append(line)
edx = edx[:300]
with open(tmp + "/edx.log", "w", encoding="utf-8") as out:
    for i, line in enumerate(edx):
        out.write(f"Jun 23 08:{i // 60:02d}:{i % 60:02d} lms-{i % 3} tracking[{100 + i}]: {line}\n")
with open(tmp + "/access.log", "w") as out:
    for i in range(200):
        out.write(f"Jun 23 09:00:{i % 60:02d} web1 apache2: 10.0.0.{i % 9} - user{i % 7} "
                  f"[23/Jun/2025:09:00:{i % 60:02d} +0000] \"GET /p/{i} HTTP/1.1\" 200 {i} \"-\" \"ua\"\n")
with open(tmp + "/cri.log", "w") as out:
    for i in range(200):
        out.write(f"2025-06-23T09:00:{i % 60:02d}.000000000Z stdout F 10.0.0.{i % 9} - user{i % 7} "
                  f"[23/Jun/2025:09:00:{i % 60:02d} +0000] \"GET /p/{i} HTTP/1.1\" 200 {i} \"-\" \"ua\"\n")
PY
for f in edx access cri; do
  for p in keep strip; do
    "$LOGPIPE" anonymize --key-file "$tmp/key" --prefix "$p" "$tmp/$f.log" >"$tmp/$f.$p" 2>"$tmp/$f.$p.err"
  done
done
python3 - "$tmp" <<'PY'
import hashlib, hmac, json, re, sys
tmp = sys.argv[1]
h = lambda s: hmac.new(b"prefix-key", s.encode("utf-8"), hashlib.sha256).hexdigest()
syslog = re.compile(r"^([A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \S+ [^:]+: )(.*)$")
cri = re.compile(r"^(\S+ stdout F )(.*)$")
def check(name, split, rewrite):
    src = open(f"{tmp}/{name}.log", encoding="utf-8").read().split("\n")[:-1]
    keep = open(f"{tmp}/{name}.keep", encoding="utf-8").read().split("\n")[:-1]
    strip = open(f"{tmp}/{name}.strip", encoding="utf-8").read().split("\n")[:-1]
    assert len(src) == len(keep) == len(strip), (name, len(src), len(keep), len(strip))
    for s, k, t in zip(src, keep, strip):
        prefix, message = split.match(s).groups()
        want = rewrite(message)
        assert k == prefix + want, (name, s, k)
        assert t == want, (name, s, t)
    print(f"{name}: {len(src)} lines, prefix kept and stripped")
def edx(message):
    rec = json.loads(message)
    # username and context.username (hashed by default too) are replaced in place: every other
    # byte of the message is kept
    names = {rec["username"]}
    ctx = rec.get("context")
    if isinstance(ctx, dict) and isinstance(ctx.get("username"), str) and ctx["username"]:
        names.add(ctx["username"])
    for u in names:
        assert '"username": "' + u + '"' in message, message
        message = message.replace('"username": "' + u + '"', '"username": "' + h(u) + '"')
    return message
def access(message):
    m = re.match(r"^(\S+ \S+ )(\S+)( .*)$", message)
    return m.group(1) + h(m.group(2)) + m.group(3)
check("edx", syslog, edx)
check("access", syslog, access)
check("cri", cri, access)
PY
for f in edx access cri; do
  for p in keep strip; do
    [ ! -s "$tmp/$f.$p.err" ] || { echo "FAIL: $f --prefix $p wrote to stderr:"; cat "$tmp/$f.$p.err"; exit 1; }
  done
done
status=0
"$LOGPIPE" anonymize --key-file "$tmp/key" --prefix drop "$tmp/cri.log" >/dev/null 2>&1 || status=$?
[ "$status" = 2 ] || { echo "FAIL: --prefix drop: exit $status, want 2"; exit 1; }
echo ok

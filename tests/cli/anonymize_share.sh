#!/usr/bin/env bash
# anonymize --profile share on every edX/FUN sample of ../shared/data, with a user table made from
# the samples (the sign-ups' username, full name and e-mail, and every other username seen).
# Python is the oracle, written from the documentation (docs/anonymize.md):
# - each output record equals the input record transformed in Python: users hashed with
#   hmac.new(key, name.encode(), hashlib.sha256).hexdigest(), user ids remapped by the documented
#   Feistel network, addresses truncated, every other string scrubbed with edx-analytics-pipeline's
#   own regular expressions (Python's re) for e-mails, phone numbers and the line's users' names,
#   IPv4 addresses in text truncated;
# - nothing identifying remains: no e-mail address, no full name of the table, no username of the
#   table as a user value, no address that is not a /24;
# - every string that the oracle leaves unchanged keeps its bytes, and so does everything between
#   strings (except remapped ids);
# - `anonymize --audit` finds things in the input (exit 1) and nothing in the output (exit 0).
set -euo pipefail
[ -d "$SHARED/edx" ] || { echo "SKIP: $SHARED/edx absent (no ../shared/data)"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf 'share-secret\n' >"$tmp/key"
chmod 600 "$tmp/key"
python3 - "$tmp/users.csv" "$SHARED"/edx/*.log "$SHARED"/fun/*.log <<'PY'
import csv, json, sys
users = {}
for f in sys.argv[2:]:
    for line in open(f, encoding="utf-8"):
        try: rec = json.loads(line)
        except ValueError: continue
        if not isinstance(rec, dict): continue
        for u in (rec.get("username"), (rec.get("context") or {}).get("username") if isinstance(rec.get("context"), dict) else None):
            if isinstance(u, str) and u: users.setdefault(u, ("", ""))
        ev = rec.get("event")
        if isinstance(ev, str):
            try: ev = json.loads(ev)
            except ValueError: ev = None
        post = ev.get("POST") if isinstance(ev, dict) else None
        if isinstance(post, dict) and post.get("username"):
            first = lambda k: (post.get(k) or [""])[0] if isinstance(post.get(k), list) else ""
            users[first("username")] = (first("name"), first("email"))
with open(sys.argv[1], "w", newline="") as out:
    w = csv.writer(out)
    w.writerow(["username", "name", "email"])
    for u, (n, e) in sorted(users.items()):
        w.writerow([u, n, e])
print(f"user table: {len(users)} users, {sum(1 for n, e in users.values() if n)} with a full name")
PY
for f in "$SHARED"/edx/*.log "$SHARED"/fun/*.log; do
  name=$(basename "$f")
  "$LOGPIPE" anonymize --key-file "$tmp/key" --profile share --user-info "$tmp/users.csv" --format edx \
    --rejects "$tmp/$name.rej" "$f" >"$tmp/$name.out" 2>"$tmp/$name.err"
  cp "$f" "$tmp/$name.in"
done
python3 - "$tmp" <<'PY'
import csv, glob, hashlib, hmac, ipaddress, json, os, re, sys
tmp = sys.argv[1]
key = b"share-secret"
h = lambda s: hmac.new(key, s.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
table = {r["username"]: (r["name"], r["email"]) for r in csv.DictReader(open(tmp + "/users.csv"))}

# --remap-ids, as docs/anonymize.md describes it.
dk = hmac.new(key, b"logpipe --remap-ids v1", hashlib.sha256).digest()
def feistel(hb, v):
    mask = (1 << hb) - 1
    L, R = (v >> hb) & mask, v & mask
    for r in range(8):
        f = int.from_bytes(hmac.new(dk, bytes([hb, r]) + R.to_bytes(8, "little"), hashlib.sha256).digest()[:8], "little")
        L, R = R, L ^ (f & mask)
    return (L << hb) | R
def remap(n):
    if n < 2 ** 32: return feistel(16, n)
    v = feistel(32, n)
    while v < 2 ** 32: v = feistel(32, v)
    return v

# edx-analytics-pipeline's patterns (obfuscate_util.py at 8f9792e2), Python 2's ASCII \b kept.
EMAIL = re.compile(r"""\b[a-z0-9!#$%&\'*+\/\=\?\^\_\`\{\|\}\~\-]+(?:\.[a-z0-9!#$%&\'*+\/\=?^_`{|}~-]+)*
                 @(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\b""", re.I | re.X | re.A)
US = r"""(?:\+?1\s*(?:[.\- ]?\s*)?)?(?:\([2-9]\d{2}\)\s*|[2-9]\d{2}\s*(?:[.\- ]\s*))?\b\d{3}\s*(?:[\- ]\s*)\d{4}"""
# One documented change: no '+' after a letter or digit starts a phone (course keys Org+Course+20150803).
PHONE = re.compile(r"((?:" + US + r"|(?<!\w)\+(?:\d[\- ]?){6,14}\d))\b", re.A)
IPV4 = re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?!\d|\.\d)", re.A)  # --scrub ips: to the /24
URL_USER = re.compile(r"/(?:u|users)/([^/?#&\"' \t\r\n<>;,)\\\x00]+)")
def fullname_patterns(fullname):
    n = re.sub(r"\b(?:s\/o|d\/o|a\/l|a\/p|a\/k|w\/o)\b", " ", fullname, flags=re.I)
    for c in '"*(),': n = n.replace(c, " ")
    parts = n.split()
    if not parts: return None
    pats = [" ".join(map(re.escape, parts))]
    for p in parts:
        escaped_len = len(p) + sum(p.count(c) for c in "-'.")
        if escaped_len > 2 and p.lower() not in ("the", "and", "can") and not p.endswith("."): pats.append(re.escape(p))
    return re.compile(r"\b(" + "|".join(pats) + r")\b", re.I)
def url_repl(m):
    seg = m.group(1)
    if re.fullmatch(r"[0-9a-f]{64}", seg): return m.group(0)
    if seg.isdigit() and len(seg) <= 19 and seg.isascii(): new = str(remap(int(seg)))
    else:
        from urllib.parse import unquote_to_bytes
        new = hmac.new(key, unquote_to_bytes(seg), hashlib.sha256).hexdigest()
    return m.group(0)[: m.start(1) - m.start(0)] + new
def scrub(text, users):
    text = EMAIL.sub("<<EMAIL>>", text)
    text = URL_USER.sub(url_repl, text)
    for u in users:
        name = table[u][0]
        pat = fullname_patterns(name) if name else None
        if pat: text = pat.sub("<<FULLNAME>>", text)
        text = re.compile(r"\b(" + re.escape(u) + r")\b", re.I | re.A).sub("<<USERNAME>>", text)
    text = IPV4.sub(lambda m: m.group(0) if any(int(x) > 255 for x in m.group(0).split("."))
                    else m.group(0).rsplit(".", 1)[0] + ".0", text)
    return PHONE.sub("<<PHONE_NUMBER>>", text)

PII = {"email", "address", "full_name", "first_name", "last_name", "phone", "mailing_address"}
HASHED = {("username",), ("context", "username"), ("event", "username"), ("event", "user"), ("event", "student"),
          ("event", "instructor"), ("event", "POST", "username")}
IPS = {("ip",), ("context", "ip"), ("context", "client", "ip")}
IDS = {("context", "user_id"), ("event", "user_id")}
KEPT = {("time",), ("name",), ("event_source",), ("context", "course_id"), ("context", "org_id")}  # never scrubbed
def trunc(ip):
    try: a = ipaddress.ip_address(ip)
    except ValueError: return h(ip)
    if a.version == 6 and a.ipv4_mapped: return "::ffff:" + trunc(str(a.ipv4_mapped))
    return str(ipaddress.ip_network(f"{ip}/{24 if a.version == 4 else 48}", strict=False).network_address)
def hash_value(v):
    if isinstance(v, list): return [hash_value(x) for x in v]
    if isinstance(v, str): return h(v) if v else v
    if isinstance(v, (int, float)) and not isinstance(v, bool): raise KeyError("number hashed as written")
    return v
def named(rec, path=(), out=None):  # the users a record names (its hashed fields)
    out = [] if out is None else out
    if isinstance(rec, str) and path == ("event",):
        try: rec = json.loads(rec)
        except ValueError: return out
    if isinstance(rec, dict):
        for k, v in rec.items():
            p = path + (k,)
            if p in HASHED:
                for x in (v if isinstance(v, list) else [v]):
                    if isinstance(x, str) and x in table and x not in out: out.append(x)
            elif any(q[: len(p)] == p for q in HASHED): named(v, p, out)
    return out
def transform(v, path, users):
    if path in HASHED: return hash_value(v)
    if path in KEPT: return v
    if path in IPS: return trunc(v) if isinstance(v, str) and v else v
    if path in IDS:
        if isinstance(v, bool) or v is None or v == "": return v
        if isinstance(v, int) and v >= 0: return remap(v)
        if isinstance(v, str) and v.isdigit() and v.isascii() and len(v) <= 19: return str(remap(int(v)))
        return h(v if isinstance(v, str) else json.dumps(v))
    if isinstance(v, dict):
        return {k: transform(x, path + (k,), users) for k, x in v.items() if not (path == () and k in PII)}
    if isinstance(v, list): return [transform(x, path + ("[]",), users) for x in v]
    if isinstance(v, str):
        if path == ("event",):
            try: inner = json.loads(v)
            except ValueError: inner = None
            if isinstance(inner, dict): return ("JSON", transform(inner, ("event",), users))
        return scrub(v, users)
    return v
STR = re.compile(r'"(?:[^"\\]|\\.)*"')
COURSE = re.compile(r"course-v1:[^/\"\\ ]+|block-v1:[^/\"\\ ]+")  # course and block keys, in any string
courses = 0
files = sorted(glob.glob(tmp + "/*.log.in"))
records = identical_strings = changed_strings = 0
for f in files:
    base = f[: -len(".in")]
    lines = open(f, "rb").read().decode("utf-8").split("\n")
    if lines[-1] == "": lines.pop()
    out = open(base + ".out", "rb").read().decode("utf-8").split("\n")
    assert out.pop() == ""
    kept = []
    for line in lines:
        if line.strip() == "": kept.append((line, None)); continue
        try: rec = json.loads(line)
        except ValueError: rec = None
        if isinstance(rec, dict): kept.append((line, rec))
    assert len(out) == len(kept), (f, len(out), len(kept))
    for (line, rec), got in zip(kept, out):
        if rec is None: assert got == line; continue
        records += 1
        exp = transform(rec, (), named(rec))
        g = json.loads(got)
        if isinstance(exp.get("event"), tuple): g["event"] = ("JSON", json.loads(g["event"]))
        assert list(g.items()) == list(exp.items()), (f, line, got, exp)
        if "name" in rec: assert g["name"] == rec["name"]
        # What analyses key on is untouched: the event's name, type, source, time and course (a
        # server event's type is its URL, which may name a user: `.../submission_history/staff/...`;
        # the oracle above checked it).
        for k in ("name", "event_type", "event_source", "time"):
            if k in rec and not (k == "event_type" and str(rec[k]).startswith("/")):
                assert g[k] == rec[k], (k, rec[k], g[k])
        if isinstance(rec.get("context"), dict) and "course_id" in rec["context"]:
            assert g["context"]["course_id"] == rec["context"]["course_id"]
        assert COURSE.findall(line) == COURSE.findall(got), (line, got)
        courses += len(COURSE.findall(line))
        # Bytes: strings the oracle leaves alone, and everything between strings, are kept (a
        # dropped member aside, which none of these samples has at the top level).
        if PII & rec.keys(): continue
        a, b = STR.findall(line), STR.findall(got)
        assert len(a) == len(b), (line, got)
        for x, y in zip(a, b):
            if json.loads(x) == json.loads(y): assert x == y, (x, y); identical_strings += 1
            else: changed_strings += 1
        ga, gb = STR.split(line), STR.split(got)
        for x, y in zip(ga, gb):
            if x != y:  # only a remapped numeric user id may differ there
                mx, my = re.fullmatch(r"(\s*:\s*)(\d+)(.*)", x, re.S), re.fullmatch(r"(\s*:\s*)(\d+)(.*)", y, re.S)
                assert mx and my and (mx.group(1), mx.group(3)) == (my.group(1), my.group(3)), (x, y)
                assert int(my.group(2)) == remap(int(mx.group(2))), (x, y)

# Nothing identifying is left anywhere in the output.
text = "".join(open(f[: -len(".in")] + ".out", encoding="utf-8").read() for f in files)
assert not EMAIL.search(text.replace("\\n", " ").replace("\\t", " ")), EMAIL.search(text)
names = {n for n, e in table.values() if n}
low = text.lower()
for n in names:
    assert n.lower() not in low, n
def strings(v):
    if isinstance(v, dict):
        for x in v.values(): yield from strings(x)
    elif isinstance(v, list):
        for x in v: yield from strings(x)
    elif isinstance(v, str):
        try: inner = json.loads(v) if v.startswith("{") else None
        except ValueError: inner = None
        if isinstance(inner, dict): yield from strings(inner)  # its values (keys are never rewritten)
        else: yield v
user_values = 0
for line in text.split("\n"):
    if not line.strip(): continue
    rec = json.loads(line)
    def inner(v):
        try: return json.loads(v)
        except ValueError: return None  # JSON cut at 512 characters
    for path in HASHED:
        v = rec
        for k in path:
            if isinstance(v, str) and v.startswith("{"): v = inner(v)
            v = v.get(k) if isinstance(v, dict) else None
        for x in (v if isinstance(v, list) else [v]):
            if isinstance(x, str) and x:
                assert re.fullmatch(r"[0-9a-f]{64}", x), (path, x); user_values += 1
    for s in strings(rec):
        for ip in re.findall(r"(?<![\d.])(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?![\d.])", s):
            assert ip.endswith(".0"), (ip, s)
print(f"{records} records in {len(files)} files equal the Python transformation; {courses} course and block keys "
      f"kept; {identical_strings} strings kept "
      f"byte for byte, {changed_strings} rewritten; {user_values} user values are pseudonyms; no e-mail, "
      f"no full name of {len(names)}, no untruncated IPv4 left")
PY
# The audit finds what the input holds (exit 1), and nothing in the shared output (exit 0).
set +e
"$LOGPIPE" anonymize --audit --user-info "$tmp/users.csv" --format edx "$tmp"/*.log.in >"$tmp/audit.in" 2>/dev/null
in_rc=$?
cat "$tmp"/*.log.out | "$LOGPIPE" anonymize --audit --user-info "$tmp/users.csv" --format edx >"$tmp/audit.out" 2>/dev/null
out_rc=$?
set -e
[ "$in_rc" -eq 1 ] || { echo "audit of the input: exit $in_rc"; cat "$tmp/audit.in"; exit 1; }
grep -Eq '^  user field in clear +[0-9]+  first at .*\.log\.in:[0-9]+$' "$tmp/audit.in" || { cat "$tmp/audit.in"; exit 1; }
grep -Eq '^  e-mail address +[0-9]+  first at ' "$tmp/audit.in" || { cat "$tmp/audit.in"; exit 1; }
grep -Eq '^  client address +[0-9]+  first at ' "$tmp/audit.in" || { cat "$tmp/audit.in"; exit 1; }
[ "$out_rc" -eq 0 ] || { echo "audit of the shared output: exit $out_rc"; cat "$tmp/audit.out"; exit 1; }
grep -qx 'nothing found that identifies someone' "$tmp/audit.out" || { cat "$tmp/audit.out"; exit 1; }
# A file anonymised with the defaults (users hashed, no user table) still holds the sign-ups'
# full names in their POST data: the audit with the table finds them although the users are
# pseudonyms.
cat "$tmp"/*.log.in | "$LOGPIPE" anonymize --key-file "$tmp/key" --format edx 2>/dev/null >"$tmp/default.out"
set +e
"$LOGPIPE" anonymize --audit --user-info "$tmp/users.csv" --format edx "$tmp/default.out" >"$tmp/audit.default" 2>/dev/null
default_rc=$?
set -e
[ "$default_rc" -eq 1 ] || { echo "audit of the default output: exit $default_rc"; cat "$tmp/audit.default"; exit 1; }
names=$(python3 -c 'import csv, re, sys
names = [r["name"] for r in csv.DictReader(open(sys.argv[1])) if len(r["name"].split()) >= 2]
text = open(sys.argv[2], encoding="utf-8").read()
print(sum(len(re.findall(r"(?<!\w)" + re.escape(n) + r"(?!\w)", text, re.I)) for n in names))' "$tmp/users.csv" "$tmp/default.out")
[ "$names" -gt 0 ]
grep -Eq "^  full name \(--user-info\) +$names  first at " "$tmp/audit.default" ||
  { echo "expected $names full names:"; cat "$tmp/audit.default"; exit 1; }
echo "audit: input exit 1 ($(grep -c 'first at' "$tmp/audit.in") kinds listed), shared output exit 0"

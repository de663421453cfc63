#!/usr/bin/env bash
# anonymize on every edX/FUN sample of ../shared/data, with PII members injected at the start, in
# the middle and at the end of objects. Python is the oracle: json.loads of each output line must
# equal the input record with `username` replaced by hmac.new(key, username.encode(),
# hashlib.sha256).hexdigest() and the PII removed (same key order); a line without injected PII
# must be byte-identical apart from the username value; lines that are not JSON objects must be
# absent from the output and present, verbatim, in --rejects.
set -euo pipefail
[ -d "$SHARED/edx" ] || { echo "SKIP: $SHARED/edx absent (no ../shared/data)"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf 'fun-secret\n' >"$tmp/key"   # the trailing newline is stripped: the key is "fun-secret"
for f in "$SHARED"/edx/*.log "$SHARED"/fun/*.log; do
  name=$(basename "$f")
  python3 - "$f" "$tmp/$name.in" <<'PY'
import json, sys
src, dst = sys.argv[1], sys.argv[2]
data = open(src, "rb").read().decode("utf-8")
lines = data.split("\n")
if lines and lines[-1] == "": lines.pop()
out = []
for i, line in enumerate(lines):
    try:
        rec = json.loads(line)
    except ValueError:
        rec = None
    if isinstance(rec, dict) and rec:
        if i % 6 == 0:    # first member (odd lines get no PII)
            line = line.replace("{", '{"email": "jane.doe@example.org", ', 1)
        if i % 8 == 2:    # after the first member
            dec = json.JSONDecoder()
            start = line.index(":") + 1
            while line[start] == " ": start += 1
            _, end = dec.raw_decode(line, start)
            line = line[:end] + ', "address": "1 rue de la Paix", "first_name": "Jos\\u00e9"' + line[end:]
        if i % 10 == 4:   # last member
            j = line.rindex("}")
            line = line[:j] + ', "name": "Jane", "phone": "+33 1 23 45 67 89"' + line[j:]
    out.append(line)
open(dst, "wb").write(("\n".join(out) + "\n").encode("utf-8"))
PY
  "$LOGPIPE" anonymize --key-file "$tmp/key" --format edx --rejects "$tmp/$name.rej" "$tmp/$name.in" \
    >"$tmp/$name.out" 2>"$tmp/$name.err"
  python3 - "$tmp/$name.in" "$tmp/$name.out" "$tmp/$name.rej" "$tmp/$name.err" <<'PY'
import hashlib, hmac, json, re, sys
inp, outp, rejp, errp = sys.argv[1:5]
key = b"fun-secret"
PII = {"email", "address", "name", "full_name", "first_name", "last_name", "phone", "mailing_address"}
lines = open(inp, "rb").read().decode("utf-8").split("\n")[:-1]
out = open(outp, "rb").read().decode("utf-8").split("\n")
assert out[-1] == "", "output must end with a newline"
out.pop()
expected_rejects = []
kept = []
for line in lines:
    if line.strip(" \t\r") == "":
        kept.append((line, None)); continue
    try:
        rec = json.loads(line)
    except ValueError:
        rec = None
    if not isinstance(rec, dict):
        expected_rejects.append(line); continue
    kept.append((line, rec))
assert len(out) == len(kept), (len(out), len(kept))
same = 0
for (line, rec), got in zip(kept, out):
    if rec is None:
        assert got == line; continue
    exp = {}
    for k, v in rec.items():
        if k in PII: continue
        if k == "username" and isinstance(v, str) and v:
            v = hmac.new(key, v.encode("utf-8"), hashlib.sha256).hexdigest()
        exp[k] = v
    g = json.loads(got)
    assert list(g.items()) == list(exp.items()), (line, got)
    if not (PII & rec.keys()):
        u = rec.get("username")
        if isinstance(u, str) and u:
            h = '"' + hmac.new(key, u.encode(), hashlib.sha256).hexdigest() + '"'
            idx = got.index(h)
            suffix = got[idx + len(h):]
            assert line[:idx] == got[:idx] and line.endswith(suffix), (line, got)
            assert json.loads(line[idx:len(line) - len(suffix)]) == u
        else:
            assert got == line, (line, got)
        same += 1
rej = open(rejp, "rb").read().decode("utf-8")
assert rej == "".join(l + "\n" for l in expected_rejects), "rejects differ"
err = open(errp).read()
if expected_rejects:
    assert re.match(r"logpipe: %d malformed lines? skipped; first: " % len(expected_rejects), err), err
else:
    assert err == "", err
print(f"{inp.rsplit('/',1)[-1]}: {len(kept)} written ({same} byte-identical apart from username), {len(expected_rejects)} rejected")
PY
done

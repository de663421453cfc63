#!/usr/bin/env bash
# anonymize on every edX/FUN sample of ../shared/data, with PII members injected at the start, in
# the middle and at the end of objects. Python is the oracle: json.loads of each output line must
# equal the input record with `username` and `context.username` replaced by hmac.new(key,
# name.encode(), hashlib.sha256).hexdigest() and the PII removed (same key order); a line without
# injected PII must be byte-identical apart from those values; lines that are not JSON objects must be
# absent from the output and present, verbatim, in --rejects.
set -euo pipefail
[ -d "$SHARED/edx" ] || { echo "SKIP: $SHARED/edx absent (no ../shared/data)"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf 'fun-secret\n' >"$tmp/key"   # the trailing newline is stripped: the key is "fun-secret"
chmod 600 "$tmp/key"   # a key readable by others is warned about
python3 - "$tmp" "$SHARED"/edx/*.log "$SHARED"/fun/*.log <<'PY'
import json, sys
def inject(src, dst):
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
              line = line[:j] + ', "full_name": "Jane Doe", "phone": "+33 1 23 45 67 89"' + line[j:]
      out.append(line)
  open(dst, "wb").write(("\n".join(out) + "\n").encode("utf-8"))

for src in sys.argv[2:]:
    inject(src, sys.argv[1] + '/' + src.rsplit('/', 1)[-1] + '.in')
PY
names=()
for f in "$SHARED"/edx/*.log "$SHARED"/fun/*.log; do
  name=$(basename "$f")
  names+=("$name")
  "$LOGPIPE" anonymize --key-file "$tmp/key" --scrub none --format edx --rejects "$tmp/$name.rej" "$tmp/$name.in" \
    >"$tmp/$name.out" 2>"$tmp/$name.err"
done
python3 - "$tmp" "${names[@]}" <<'PY'
import hashlib, hmac, json, re, sys
key = b"fun-secret"
PII = {"email", "address", "full_name", "first_name", "last_name", "phone", "mailing_address"}  # never the event's name
for name in sys.argv[2:]:
    base = sys.argv[1] + '/' + name
    inp, outp, rejp, errp = base + '.in', base + '.out', base + '.rej', base + '.err'
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
        names = set()  # values hashed: username, context.username, a sign-up's event.POST.username
        for k, v in rec.items():
            if k in PII: continue
            if k == "username" and isinstance(v, str) and v:
                names.add(v)
                v = hmac.new(key, v.encode("utf-8"), hashlib.sha256).hexdigest()
            if k == "context" and isinstance(v, dict) and isinstance(v.get("username"), str) and v["username"]:
                names.add(v["username"])
                v = dict(v, username=hmac.new(key, v["username"].encode("utf-8"), hashlib.sha256).hexdigest())
            if k == "event" and isinstance(v, str):  # a sign-up's POST names the new user (a list)
                try: ev = json.loads(v)
                except ValueError: ev = None
                if isinstance(ev, dict) and isinstance(ev.get("POST"), dict) and isinstance(ev["POST"].get("username"), list):
                    names.update(u for u in ev["POST"]["username"] if u)
                    ev["POST"]["username"] = [hmac.new(key, u.encode("utf-8"), hashlib.sha256).hexdigest() if u else u
                                              for u in ev["POST"]["username"]]
                    v = ("JSON", ev)
            exp[k] = v
        g = json.loads(got)
        if isinstance(exp.get("event"), tuple): g["event"] = ("JSON", json.loads(g["event"]))
        assert list(g.items()) == list(exp.items()), (line, got)
        if not (PII & rec.keys()):
            # Byte for byte: the output with each pseudonym put back is the input line (for names
            # written without escapes, as they all are here).
            back = got
            for u in names:
                assert '"' + u + '"' in line or '\\"' + u + '\\"' in line, (line, u)
                back = back.replace(hmac.new(key, u.encode(), hashlib.sha256).hexdigest(), u)
            assert back == line, (line, got)
            same += 1
    rej = open(rejp, "rb").read().decode("utf-8")
    assert rej == "".join(l + "\n" for l in expected_rejects), "rejects differ"
    err = open(errp).read()
    if expected_rejects:
        assert re.match(r"logpipe: %d malformed lines? skipped; first: " % len(expected_rejects), err), err
    else:
        assert err == "", err
    print(f"{inp.rsplit('/',1)[-1]}: {len(kept)} written ({same} byte-identical apart from usernames), {len(expected_rejects)} rejected")
PY
# All samples at once (several inputs, one output), with the default hashed paths (username,
# context.username, event.username, event.user), --scrub none, --drop event.POST (also inside `event` strings that hold JSON: the sign-up
# events carry the new user's name and e-mail there) and --ip truncate: every record must equal
# the Python transformation of its input record.
"$LOGPIPE" anonymize --key-file "$tmp/key" --scrub none --drop event.POST --ip truncate -o "$tmp/all.out.gz" \
  "$tmp"/*.log.in 2>/dev/null
python3 - "$tmp" <<'PY'
import glob, gzip, hashlib, hmac, ipaddress, json, sys
tmp = sys.argv[1]
key = b"fun-secret"
PII = {"email", "address", "full_name", "first_name", "last_name", "phone", "mailing_address"}  # never the event's name
h = lambda s: hmac.new(key, s.encode("utf-8"), hashlib.sha256).hexdigest()
def trunc(ip):
    a = ipaddress.ip_address(ip)
    return str(ipaddress.ip_network(f"{ip}/{24 if a.version == 4 else 48}", strict=False).network_address)
expected = []
for f in sorted(glob.glob(tmp + "/*.log.in")):
    for line in open(f, "rb").read().decode("utf-8").split("\n")[:-1]:
        if line.strip() == "": expected.append(None); continue
        try: rec = json.loads(line)
        except ValueError: continue
        if not isinstance(rec, dict): continue
        rec = {k: v for k, v in rec.items() if k not in PII}
        if isinstance(rec.get("username"), str) and rec["username"]: rec["username"] = h(rec["username"])
        if isinstance(rec.get("ip"), str) and rec["ip"]: rec["ip"] = trunc(rec["ip"])
        ctx = rec.get("context")
        if isinstance(ctx, dict) and isinstance(ctx.get("username"), str) and ctx["username"]:
            ctx["username"] = h(ctx["username"])
        if isinstance(ctx, dict):  # --ip also rewrites context.ip and context.client.ip
            if isinstance(ctx.get("ip"), str) and ctx["ip"]: ctx["ip"] = trunc(ctx["ip"])
            cl = ctx.get("client")
            if isinstance(cl, dict) and isinstance(cl.get("ip"), str) and cl["ip"]: cl["ip"] = trunc(cl["ip"])
        ev = rec.get("event")
        if isinstance(ev, str):
            try: ev = json.loads(ev)
            except ValueError: ev = None
            if isinstance(ev, dict): rec["event"] = ("JSON", ev)
        if isinstance(ev, dict):
            ev.pop("POST", None)
            for k in ("username", "user", "student", "instructor"):
                if isinstance(ev.get(k), str) and ev[k]: ev[k] = h(ev[k])
        expected.append(rec)
got = gzip.open(tmp + "/all.out.gz").read().decode("utf-8").split("\n")[:-1]
assert len(got) == len(expected), (len(got), len(expected))
hashed_ctx = embedded = 0
for e, g in zip(expected, got):
    if e is None: assert g.strip() == ""; continue
    g = json.loads(g)
    if isinstance(e.get("event"), tuple):
        assert isinstance(g["event"], str)
        g["event"] = ("JSON", json.loads(g["event"]))
        embedded += 1
    assert list(g.items()) == list(e.items()), g
    hashed_ctx += isinstance(e.get("context"), dict) and len(str(e["context"].get("username", ""))) == 64
assert hashed_ctx > 100 and embedded > 1000, (hashed_ctx, embedded)
print(f"all samples: {len(got)} lines, {hashed_ctx} context.username hashed, {embedded} JSON events in strings")
PY

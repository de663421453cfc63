#!/usr/bin/env bash
# --geoip on analyze and export, against a small MaxMind DB written by Debian's Perl writer
# (tests/cli/lib/make_mmdb.pl) and an independent Python lookup of the same networks:
# - the countries, cities and networks panels of the JSON report (every row: requests and
#   errors) and the text, CSV and HTML reports' tables;
# - the geo fields of every exported record, ECS (source.geo.*, source.as.*) and logpipe names;
# - a City and an ASN database combine; IPv4 and IPv6; addresses no database knows are
#   "(unknown)"/null;
# - merged saved states with --geoip give the one-run report;
# - a file that is not a MaxMind DB is a usage error naming it; mmdblookup agrees with the DB.
set -euo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
if ! perl -MMaxMind::DB::Writer::Tree -e 1 2>/dev/null; then
  echo "SKIP: Perl's MaxMind::DB::Writer (Debian libmaxmind-db-writer-perl) is missing: no test database"
  exit 77
fi
cd "$tmp"
cat >city.json <<'EOF'
[{"network": "10.0.0.0/25", "country": "FR", "country_name": "France", "city": "Paris"},
 {"network": "10.0.0.128/25", "country": "DE", "country_name": "Germany", "city": "Berlin"},
 {"network": "10.0.1.0/24", "country": "DE", "country_name": "Germany"},
 {"network": "10.0.2.0/23", "country": "US", "country_name": "United States", "city": "New York"},
 {"network": "2001:db8::/33", "country": "JP", "country_name": "Japan", "city": "Tokyo"}]
EOF
cat >asn.json <<'EOF'
[{"network": "10.0.0.0/24", "asn": 64500, "as_org": "Example Telecom"},
 {"network": "10.0.2.0/23", "asn": 64501, "as_org": "Other Net"},
 {"network": "2001:db8::/32", "asn": 64502, "as_org": "V6 \"Net\""}]
EOF
perl "$SRC/tests/cli/lib/make_mmdb.pl" city.json city.mmdb logpipe-test-City
perl "$SRC/tests/cli/lib/make_mmdb.pl" asn.json asn.mmdb logpipe-test-ASN
if command -v mmdblookup >/dev/null; then
  # (captured first: grep -q leaving early would SIGPIPE mmdblookup and fail the pipe under pipefail)
  v4=$(mmdblookup --file city.mmdb --ip 10.0.0.200 country iso_code)
  v6=$(mmdblookup --file asn.mmdb --ip 2001:db8::5 autonomous_system_number)
  grep -q '"DE"' <<<"$v4" || { echo "FAIL: mmdblookup disagrees: $v4"; exit 1; }
  grep -q 64502 <<<"$v6" || { echo "FAIL: mmdblookup v6: $v6"; exit 1; }
fi
python3 "$SRC/tests/cli/analyze_gen.py" 20000 --seed 9 >gen.log

"$LOGPIPE" analyze --geoip city.mmdb --geoip asn.mmdb --top 0 --report json --no-progress gen.log >report.json
"$LOGPIPE" export --geoip city.mmdb --geoip asn.mmdb gen.log >ecs.jsonl
"$LOGPIPE" export --names logpipe --geoip city.mmdb --geoip asn.mmdb gen.log >flat.jsonl
python3 - <<'PY'
import ipaddress, json, re
def nets(path):
    return [(ipaddress.ip_network(n["network"]), n) for n in json.load(open(path))]
city, asn = nets("city.json"), nets("asn.json")
def find(table, ip):
    a = ipaddress.ip_address(ip)
    for net, n in table:
        if a.version == net.version and a in net:
            return n
    return {}
line_re = re.compile(r'^(\S+) \S+ \S+ \[[^\]]+\] "[^"]*" (\d{3}) ')
countries, cities, networks = {}, {}, {}
def add(d, key, status):
    r = d.setdefault(key, [0, 0])
    r[0] += 1
    r[1] += status >= 400
records = []
for line in open("gen.log"):
    m = line_re.match(line)
    ip, status = m.group(1), int(m.group(2))
    c, a = find(city, ip), find(asn, ip)
    records.append((ip, c, a))
    add(countries, (c.get("country"), c.get("country_name")), status)
    add(cities, (c.get("city"), c.get("country")), status)
    add(networks, (a.get("asn"), a.get("as_org")), status)
geo = json.load(open("report.json"))["geoip"]
def check(name, got, want, fields):
    got = {tuple(r[f] for f in fields): [r["requests"], r["errors"]] for r in got}
    assert got == want, (name, got, want)
check("countries", geo["countries"], countries, ("country", "name"))
check("cities", geo["cities"], cities, ("city", "country"))
check("networks", geo["networks"], networks, ("asn", "organization"))
ips = {ip for ip, _, _ in records}
assert geo["addresses"] == len(ips), geo["addresses"]
assert geo["unknown"] == sum(1 for ip in ips if not find(city, ip) and not find(asn, ip)), geo["unknown"]
# Most requests first, ties by the shown name.
for panel in ("countries", "cities", "networks"):
    req = [r["requests"] for r in geo[panel]]
    assert req == sorted(req, reverse=True), panel
ecs = [json.loads(l) for l in open("ecs.jsonl")]
flat = [json.loads(l) for l in open("flat.jsonl")]
assert len(ecs) == len(flat) == len(records)
for (ip, c, a), e, f in zip(records, ecs, flat):
    src = e["source"]
    assert src["ip"] == ip
    want_geo = {k: v for k, v in (("country_iso_code", c.get("country")), ("country_name", c.get("country_name")),
                                  ("city_name", c.get("city"))) if v}
    assert src.get("geo", {}) == want_geo, (ip, src)
    want_as = {}
    if a.get("asn"): want_as["number"] = a["asn"]
    if a.get("as_org"): want_as["organization"] = {"name": a["as_org"]}
    assert src.get("as", {}) == want_as, (ip, src)
    for k, v in (("country", c.get("country")), ("country_name", c.get("country_name")), ("city", c.get("city")),
                 ("asn", a.get("asn")), ("as_org", a.get("as_org"))):
        assert f.get(k) == v, (ip, k, f)
print("ok geoip: %d records, %d addresses; panels and exported fields match the Python lookup" % (len(records), len(ips)))
PY

# The other formats show the same panels.
"$LOGPIPE" analyze --geoip city.mmdb --geoip asn.mmdb --no-progress --color never gen.log >report.txt
grep -q '^Countries (GeoIP)' report.txt && grep -q 'FR France$' report.txt && grep -q 'AS64502 V6 "Net"$' report.txt &&
  grep -q '(unknown)$' report.txt || { echo "FAIL: text report panels"; sed -n '/Countries/,/Networks/p' report.txt; exit 1; }
"$LOGPIPE" analyze --geoip city.mmdb --no-progress --report csv gen.log >report.csv
grep -q '^countries,FR France,[0-9]*,[0-9]*' report.csv && grep -q '^cities,"Paris, FR",' report.csv ||
  { echo "FAIL: CSV panels"; grep '^countries\|^cities' report.csv | head; exit 1; }
"$LOGPIPE" analyze --geoip city.mmdb --no-progress --report html gen.log >report.html
grep -q '<h2>Countries (GeoIP)</h2>' report.html || { echo "FAIL: HTML panels"; exit 1; }
# Without --geoip, nothing changes: no geoip key.
"$LOGPIPE" analyze --report json --no-progress gen.log >plain.json
grep -q '"geoip"' plain.json && { echo "FAIL: geoip key without --geoip"; exit 1; }
echo "ok geoip: text, CSV and HTML panels"

# Saved states: the panels come from the addresses, so merged states with --geoip = one run.
head -n 9000 gen.log >a.log
tail -n +9001 gen.log >b.log
"$LOGPIPE" analyze --save-state a.state -o /dev/null a.log
"$LOGPIPE" analyze --save-state b.state -o /dev/null b.log
"$LOGPIPE" analyze --merge --geoip city.mmdb --geoip asn.mmdb --report json a.state b.state >merged.json
"$LOGPIPE" analyze --geoip city.mmdb --geoip asn.mmdb --report json --no-progress a.log b.log | cmp - merged.json ||
  { echo "FAIL: merged states with --geoip differ from one run"; exit 1; }
echo "ok geoip: merged states = one run"

set +e
"$LOGPIPE" analyze --geoip gen.log gen.log >/dev/null 2>err; rc=$?
set -e
[ $rc = 2 ] && grep -q 'logpipe: analyze: --geoip gen.log: not a MaxMind DB file' err || { echo "FAIL: bad db: rc $rc"; cat err; exit 1; }
set +e
"$LOGPIPE" export --geoip missing.mmdb gen.log >/dev/null 2>err; rc=$?
set -e
[ $rc = 2 ] && grep -q 'missing.mmdb: cannot read it' err || { echo "FAIL: missing db: rc $rc"; cat err; exit 1; }
echo "ok geoip: a file that is not a database, a missing one: usage errors naming them"

#!/usr/bin/env bash
# `cmake --install` puts the binary, man pages, completions, systemd units, docs, the sample
# settings, the Prometheus rules and the Grafana dashboard in the standard places (under any
# prefix); the units carry the hardening of
# docs/operations.md, their timers parse, and systemd-analyze verify accepts them when systemd
# is installed.
set -euo pipefail
build=$(dirname "$LOGPIPE")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log"
for f in bin/logpipe share/man/man1/logpipe.1 share/man/man1/logpipe-stream.1 \
  share/bash-completion/completions/logpipe share/zsh/vendor-completions/_logpipe \
  share/fish/vendor_completions.d/logpipe.fish \
  lib/systemd/system/logpipe-stream@.service lib/systemd/system/logpipe-analyze@.service \
  lib/systemd/system/logpipe-analyze@.timer lib/systemd/system/logpipe-calibrate@.service \
  lib/systemd/system/logpipe-calibrate@.timer share/doc/logpipe/operations.md \
  share/doc/logpipe/extending.md share/doc/logpipe/examples/profiles/pipeline.toml \
  etc/logpipe/example.toml etc/logpipe/example.env \
  share/logpipe/prometheus/rules.yml share/logpipe/grafana/logpipe.json; do
  [ -f "$tmp/prefix/$f" ] || { echo "not installed: $f"; exit 1; }
done
[ "$(stat -c %a "$tmp/prefix/etc/logpipe/example.env")" = 600 ]   # it may hold secrets
"$tmp/prefix/bin/logpipe" --version | grep >/dev/null '^logpipe '
# The installed sample settings are valid: stream accepts them (inputs overridden, no network).
"$tmp/prefix/bin/logpipe" stream --config "$tmp/prefix/etc/logpipe/example.toml" \
  --metrics-listen 127.0.0.1:0 --alerts - </dev/null >"$tmp/out" 2>"$tmp/err" - \
  || { cat "$tmp/err"; exit 1; }

units="$SRC/packaging/systemd"
python3 - "$units" <<'PY'
import configparser, os, sys
d = sys.argv[1]
def load(name):
    p = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    p.optionxform = str
    # Repeated keys (ExecStart, SystemCallFilter) are legal in units: keep the last for this check.
    p.read_string(open(os.path.join(d, name)).read())
    return p
hardening = {"DynamicUser": "yes", "ProtectSystem": "strict", "NoNewPrivileges": "yes",
             "PrivateTmp": "yes", "ProtectHome": "yes"}
for name in ("logpipe-stream@.service", "logpipe-analyze@.service", "logpipe-calibrate@.service"):
    s = load(name)["Service"]
    for k, v in hardening.items():
        assert s.get(k) == v, (name, k, s.get(k))
    assert s.get("RestrictAddressFamilies"), name
    assert s.get("CapabilityBoundingSet") == "", name
stream = load("logpipe-stream@.service")
assert stream["Service"]["ExecStart"] == "logpipe stream --config /etc/logpipe/%i.toml --state ${STATE_DIRECTORY}/stream.state", stream["Service"]["ExecStart"]
assert stream["Service"]["Restart"] == "on-failure"
assert stream["Service"]["RestartPreventExitStatus"] == "2"
assert stream["Install"]["WantedBy"] == "multi-user.target"
assert "AF_INET" in stream["Service"]["RestrictAddressFamilies"]
for name, service in (("logpipe-analyze@.timer", "analyze"), ("logpipe-calibrate@.timer", "calibrate")):
    t = load(name)
    assert t["Timer"]["OnCalendar"] and t["Timer"]["Persistent"] == "true", name
    assert t["Install"]["WantedBy"] == "timers.target", name
    assert "logpipe " + service in load(name.replace(".timer", ".service"))["Service"]["ExecStart"]
PY
command -v systemd-analyze >/dev/null || { echo "systemd-analyze absent: structural checks only"; echo ok; exit 0; }
# Calendar expressions: nightly and weekly.
systemd-analyze calendar --iterations=2 "$(sed -n 's/^OnCalendar=//p' "$units/logpipe-analyze@.timer")" >"$tmp/cal1"
grep -q "00:30:00" "$tmp/cal1"
systemd-analyze calendar "$(sed -n 's/^OnCalendar=//p' "$units/logpipe-calibrate@.timer")" | grep >/dev/null "Sun "
# verify: instances of the templates, ExecStart pointed at the built binary (systemd resolves a
# bare `logpipe` in /usr/bin or /usr/local/bin, where it is not installed on a build machine).
mkdir "$tmp/units"
for f in "$units"/*; do
  base=$(basename "$f")
  sed "s|^ExecStart=logpipe |ExecStart=$LOGPIPE |" "$f" >"$tmp/units/${base/@./@test.}"
done
(cd "$tmp/units" && systemd-analyze verify --man=no ./*) >"$tmp/verify.log" 2>&1 || {
  cat "$tmp/verify.log"; exit 1; }
# Lines about the host's own units are not ours; any line naming a logpipe unit is a finding.
if grep -i "logpipe" "$tmp/verify.log"; then exit 1; fi
echo ok

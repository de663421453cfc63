#!/usr/bin/env bash
# `cpack -G DEB` builds a package whose Depends name the Debian package of every shared library
# the binary needs (worked out here with readelf and dpkg -S, not by CPack), that ships the man
# pages, completions, systemd units and the /etc/logpipe sample (as conffiles), and whose
# extracted binary runs a generate | analyze and a generate | stream pipeline.
set -euo pipefail
for tool in cpack dpkg-deb dpkg-shlibdeps file readelf; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool absent (scripts/deps.sh installs dpkg-dev and file)"; exit 77; }
done
build=$(dirname "$LOGPIPE")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$build" && cpack -G DEB -B "$tmp/out" >"$tmp/cpack.log" 2>&1) || { cat "$tmp/cpack.log"; exit 1; }
deb=$(ls "$tmp"/out/logpipe_*.deb)
[ "$(echo "$deb" | wc -l)" -eq 1 ]

# Depends: every NEEDED library's package (found with dpkg -S) is named.
dpkg-deb -f "$deb" Depends >"$tmp/depends"
[ -s "$tmp/depends" ] || { echo "no Depends"; exit 1; }
tr ',' '\n' <"$tmp/depends" | sed 's/^ *//; s/[ (].*//' >"$tmp/depends.names"
readelf -d "$LOGPIPE" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' >"$tmp/needed"
[ -s "$tmp/needed" ]
while read -r lib; do
  path=$(ldconfig -p | awk -v l="$lib" '$1 == l && !found { print $NF; found = 1 }')
  [ -n "$path" ] || { echo "cannot locate $lib"; exit 1; }
  # dpkg knows the file under the name its package shipped (the real file or the symlink).
  pkg=$( { dpkg -S "$(readlink -f "$path")" 2>/dev/null || dpkg -S "$path"; } | sed -n '1s/:.*//p')
  grep -qxF "$pkg" "$tmp/depends.names" || { echo "Depends lacks $pkg (for $lib): $(cat "$tmp/depends")"; exit 1; }
done <"$tmp/needed"
dpkg-deb -f "$deb" Package Version Architecture | grep >/dev/null '^Package: logpipe$'

# Contents.
dpkg-deb -c "$deb" | awk '{ print $1, $NF }' >"$tmp/contents"
for f in ./usr/bin/logpipe ./usr/share/man/man1/logpipe.1 ./usr/share/man/man1/logpipe-generate.1 \
  ./usr/share/man/man1/logpipe-stream.1 ./usr/share/man/man1/logpipe-calibrate.1 \
  ./usr/share/man/man1/logpipe-anonymize.1 ./usr/share/man/man1/logpipe-analyze.1 \
  ./usr/share/bash-completion/completions/logpipe ./usr/share/zsh/vendor-completions/_logpipe \
  ./usr/share/fish/vendor_completions.d/logpipe.fish ./usr/lib/systemd/system/logpipe-stream@.service \
  ./usr/lib/systemd/system/logpipe-analyze@.timer ./usr/lib/systemd/system/logpipe-calibrate@.timer \
  ./etc/logpipe/example.toml ./etc/logpipe/example.env ./usr/share/doc/logpipe/operations.md \
  ./usr/share/logpipe/prometheus/rules.yml ./usr/share/logpipe/grafana/logpipe.json; do
  grep -q " $f$" "$tmp/contents" || { echo "not in the package: $f"; cat "$tmp/contents"; exit 1; }
done
grep -q '^-rw------- ./etc/logpipe/example.env$' "$tmp/contents"
# No build-machine paths leak into the package (everything under /usr and /etc).
if awk '{ print $2 }' "$tmp/contents" | grep -v '^\./usr/\|^\./etc/\|^\./$\|^\./usr$\|^\./etc$'; then exit 1; fi
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles >"$tmp/conffiles"
grep -qx /etc/logpipe/example.toml "$tmp/conffiles"

# The extracted binary runs.
dpkg-deb -x "$deb" "$tmp/root"
bin="$tmp/root/usr/bin/logpipe"
"$bin" --version | grep >/dev/null '^logpipe '
"$bin" generate --no-pace --count 5000 --seed 3 | "$bin" analyze --report json - >"$tmp/report.json"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["requests"] == 5000 and r["malformed"] == 0, r' "$tmp/report.json"
cat >"$tmp/ddos.toml" <<'TOML'
[traffic]
rate = 20
duration = "3m"
[[incident]]
kind = "ddos"
ip = "198.51.100.23"
rate = 50
start = "1m"
duration = "1m"
TOML
"$bin" generate --no-pace --profile "$tmp/ddos.toml" --seed 1 |
  "$bin" stream --config "$tmp/root/usr/share/doc/logpipe/examples/thresholds.toml" --threshold ip_request_rate=20 >"$tmp/alerts.jsonl"
grep -q '"state":"firing","metric":"ip_request_rate","key":"198.51.100.23"' "$tmp/alerts.jsonl"
echo ok

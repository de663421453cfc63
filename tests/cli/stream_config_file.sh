#!/usr/bin/env bash
# stream runs with nothing but --config: [input], [alerts], [window] and [metrics.*] from one
# file give exactly the golden alerts; flags override the file; an unknown key is a usage error
# naming file:line; a secret in a file others can read is warned about (and not once it is 0600).
set -euo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
python3 "$SRC/tests/cli/stream_traffic.py" "$tmp/t.log"
golden="$SRC/tests/data/stream_golden.jsonl"

{
  cat <<CONF
[input]
endpoint = "$tmp/t.log"
format = "combined"
rejects = "$tmp/rejects.log"

[alerts]
endpoint = "$tmp/alerts.jsonl"

CONF
  cat "$SRC/tests/data/stream_thresholds.toml"
} >"$tmp/svc.toml"

# Nothing but --config: the alerts land in the file named by [alerts].
"$LOGPIPE" stream --config "$tmp/svc.toml" </dev/null >"$tmp/out" 2>"$tmp/err"
diff -u "$golden" "$tmp/alerts.jsonl"
[ ! -s "$tmp/out" ] || { echo "unexpected stdout:"; cat "$tmp/out"; exit 1; }
[ ! -s "$tmp/err" ] || { echo "unexpected stderr:"; cat "$tmp/err"; exit 1; }
[ -e "$tmp/rejects.log" ] && [ ! -s "$tmp/rejects.log" ]   # opened from the file, nothing rejected

# Flags override the file: --alerts - writes to stdout; FILES replace [input] endpoint.
head -n 300 "$tmp/t.log" >"$tmp/first5min.log"
"$LOGPIPE" stream --config "$tmp/svc.toml" --alerts - >"$tmp/out2"
diff -u "$golden" "$tmp/out2"
"$LOGPIPE" stream --config "$tmp/svc.toml" --alerts - "$tmp/first5min.log" >"$tmp/out3"
python3 - "$tmp/first5min.log" "$tmp/out3" <<'PY'
import sys
# The first 300 lines end before the burst on /checkout (minute 3): no alert may fire.
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 300 and lines[-1].split('[')[1][:20] < '23/Jun/2025:08:03:00', lines[-1]
assert open(sys.argv[2]).read() == '', open(sys.argv[2]).read()
PY
# --format on the command line beats [input] format (edx reads nothing of an access log: exit 3).
set +e
"$LOGPIPE" stream --config "$tmp/svc.toml" --alerts - --format edx >"$tmp/out4" 2>"$tmp/err4"
rc=$?
set -e
[ ! -s "$tmp/out4" ] && [ "$rc" -eq 3 ]
grep -q "no record could be read with format edx" "$tmp/err4"

# Server mode, idle exit and the Prometheus listener from the file alone (port 0: any free port).
printf '[input]\nlisten = "tcp://127.0.0.1:0"\nidle_exit = "2s"\n[prometheus]\nlisten = "127.0.0.1:0"\n' >"$tmp/listen.toml"
timeout 60 "$LOGPIPE" stream -v --config "$tmp/listen.toml" </dev/null 2>"$tmp/err10"
grep -q "stream: reading tcp://127.0.0.1:[1-9]" "$tmp/err10"
grep -q "stream: metrics on port [1-9]" "$tmp/err10"
# ... and --listen on the command line replaces it.
timeout 60 "$LOGPIPE" stream -v --config "$tmp/listen.toml" --listen udp://127.0.0.1:0 </dev/null 2>"$tmp/err11"
grep -q "stream: reading udp://127.0.0.1:[1-9]" "$tmp/err11"

# Unknown keys and typo'd tables: exit 2 with file:line.
printf '[input]\nendpoint = "-"\nlisten_on = "tcp://127.0.0.1:0"\n' >"$tmp/bad.toml"
set +e
"$LOGPIPE" stream --config "$tmp/bad.toml" </dev/null 2>"$tmp/err5"; rc=$?
set -e
[ "$rc" -eq 2 ] || { echo "exit $rc, expected 2"; exit 1; }
grep -qF "$tmp/bad.toml:3: unknown key [input] listen_on" "$tmp/err5"
printf '[window]\nsize_s = 60\n\n[alert]\nendpoint = "-"\n' >"$tmp/bad2.toml"
set +e
"$LOGPIPE" stream --config "$tmp/bad2.toml" </dev/null 2>"$tmp/err6"; rc=$?
set -e
[ "$rc" -eq 2 ]
grep -qF "$tmp/bad2.toml:4: unknown table [alert]" "$tmp/err6"

# A password in the config file: warned about while group/others can read it, not at 0600.
cp "$tmp/svc.toml" "$tmp/secret.toml"
printf '\n[kafka]\nsasl.username = "logpipe"\nsasl.password = "hunter2"\n' >>"$tmp/secret.toml"
chmod 644 "$tmp/secret.toml"
"$LOGPIPE" stream --config "$tmp/secret.toml" --alerts /dev/null 2>"$tmp/err7"
grep -qF "warning: '$tmp/secret.toml' holds sasl.password and is readable by every user" "$tmp/err7"
if grep -q hunter2 "$tmp/err7"; then echo "the password was printed"; exit 1; fi
chmod 600 "$tmp/secret.toml"
"$LOGPIPE" stream --config "$tmp/secret.toml" --alerts /dev/null 2>"$tmp/err8"
[ ! -s "$tmp/err8" ] || { cat "$tmp/err8"; exit 1; }
# The same for the option file it names.
printf 'sasl.password=hunter2\n' >"$tmp/kafka.conf"
chmod 640 "$tmp/kafka.conf"
printf '\n[kafka]\noption_file = "%s"\n' "$tmp/kafka.conf" >>"$tmp/svc.toml"
"$LOGPIPE" stream --config "$tmp/svc.toml" --alerts /dev/null 2>"$tmp/err9"
grep -qF "warning: '$tmp/kafka.conf' holds sasl.password and is readable by its group" "$tmp/err9"
echo ok

#!/usr/bin/env bash
# Issue 25, case 5: datagrams the kernel drops (a full receive buffer) are counted and make the
# exit status 1; every datagram received is still counted (the kernel dropped 17,476 datagrams
# under analyze, which exited 0 and said nothing). The drops are made certain: the server is
# stopped (SIGSTOP) while 30,000 datagrams are sent, far more than a receive buffer holds, then
# resumed and ended with SIGTERM. Received + dropped must be exactly what was sent, whatever the
# buffer size of the machine. A run without drops still exits 0.
set -euo pipefail
. "$SRC/tests/cli/lib/scratch.sh"  # $tmp, $pids killed at exit
. "$SRC/tests/cli/lib/server.sh"
peer="$SRC/tests/cli/hostile.py"
cd "$tmp"
requests() { python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(r["requests"])' "$1"; }

start_server err "$LOGPIPE" analyze -v --format combined --report json -o r.json --listen udp://127.0.0.1:0
kill -STOP "$server"
sent=$(python3 "$peer" udp-send "$port" 30000)
kill -CONT "$server"
stop_server_status err
[ "$status" = 1 ] || { echo "FAIL: exit $status, want 1"; cat err; exit 1; }
dropped=$(sed -n 's|^logpipe: udp://127.0.0.1:[0-9]*: \([0-9]*\) datagrams dropped by the kernel (receive buffer of [0-9]* KiB full.*|\1|p' err)
[ -n "$dropped" ] || { echo "FAIL: no drop count"; cat err; exit 1; }
received=$(requests r.json)
[ "$((received + dropped))" = "$sent" ] && [ "$received" -gt 0 ] ||
  { echo "FAIL: $received received + $dropped dropped != $sent sent"; cat err; exit 1; }

# Without drops: exit 0 and every datagram counted.
start_server err "$LOGPIPE" analyze -v --format combined --report json -o r.json --listen udp://127.0.0.1:0
python3 "$peer" udp-send "$port" 200 >/dev/null
stop_server err
[ "$(requests r.json)" = 200 ] || { echo "FAIL: $(requests r.json) of 200"; cat err; exit 1; }
if grep -q dropped err; then echo "FAIL: drops reported"; cat err; exit 1; fi
echo "ok ($received received, $dropped dropped of $sent)"

#!/usr/bin/env bash
# Issue 25, cases 9 and 12: outputs that cannot deliver neither freeze the input nor hold a stop.
#  12. generate -o tcp:// with no server: SIGTERM ends it within the 5 s it is given after a
#      stop, exit 1, "interrupted: N bytes not delivered (Connection refused)" (it used to ignore
#      SIGTERM until its 30 s connect loop gave up).
#   9. stream --alerts tcp:// to a receiver that accepts and never reads: the input is read to
#      its end (the queue is bounded by --alert-queue: the oldest alerts are dropped, counted,
#      and the exit status is 1); and SIGTERM ends stream (--listen input) with alerts to a
#      tcp:// or tls:// receiver that never reads (stream used to freeze, input included, and
#      ignore SIGTERM for 90 s or more). The hang guards (timeout 120) only turn a hang into a
#      failure; what is checked is the exit status and the messages.
set -euo pipefail
command -v openssl >/dev/null || { echo "SKIP: openssl CLI absent"; exit 77; }
command -v timeout >/dev/null || { echo "SKIP: timeout (coreutils) absent"; exit 77; }
. "$SRC/tests/cli/lib/scratch.sh"  # $tmp, $pids killed at exit
. "$SRC/tests/cli/lib/server.sh"
. "$SRC/tests/cli/lib/pki.sh"
peer="$SRC/tests/cli/hostile.py"
cd "$tmp"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_grep() {  # PATTERN FILE
  for _ in $(seq 600); do grep -q "$1" "$2" && return 0; sleep 0.05; done
  echo "FAIL: '$1' never appeared"; cat "$2"; exit 1
}
never_read() {  # PORTFILE [--tls CERT KEY]: starts the receiver, sets $sink_port
  rm -f "$1"
  python3 "$peer" never-read "$@" & pids+=($!)
  for _ in $(seq 200); do [ -s "$1" ] && break; sleep 0.05; done
  sink_port=$(cat "$1")
}

# --- 12. generate -o tcp:// without a server, then SIGTERM --------------------------------------
port=$(free_port)
timeout 120 "$LOGPIPE" generate -n 1000 -o "tcp://127.0.0.1:$port" 2>err & gen=$!
pids+=("$gen")
wait_grep "cannot connect (Connection refused); buffering and retrying" err
kill -TERM "$gen"
status=0
wait "$gen" || status=$?
[ "$status" = 1 ] || { echo "FAIL generate: exit $status, want 1"; cat err; exit 1; }
grep -q "^logpipe: tcp://127.0.0.1:$port: interrupted: [0-9]* bytes not delivered (Connection refused)$" err ||
  { echo "FAIL generate: message"; cat err; exit 1; }

# --- 9. alerts to a receiver that never reads (tcp:// and tls://) ----------------------------------
# 20,000 lines with a new client address every second: thousands of alerts. The input is read to
# its end (the client's bytes are all acknowledged, and stream counts them all), the oldest alerts
# beyond --alert-queue are dropped and counted, and SIGTERM ends stream with exit 1.
python3 "$SRC/tests/cli/nothing_lost.py" good in.log 20000
make_test_pki  # server.pem: the receiver that never reads
for scheme in tcp tls; do
  if [ $scheme = tls ]; then never_read tls.port --tls server.pem server.key; else never_read tcp.port; fi
  start_server err timeout 120 "$LOGPIPE" stream -v --format combined --threshold ip_request_rate=0 \
    --alert-queue 100 --listen tcp://127.0.0.1:0 --tls-ca ca.pem --alerts "$scheme://127.0.0.1:$sink_port"
  python3 "$SRC/tests/cli/nothing_lost.py" send in.log "$port"
  wait_clients_done
  stop_server_status err
  [ "$status" = 1 ] || { echo "FAIL $scheme:// after SIGTERM: exit $status, want 1"; cat err; exit 1; }
  grep -q "stream: 20000 lines, 20000 records" err || { echo "FAIL $scheme://: the input was not read to its end"; cat err; exit 1; }
  grep -q "^logpipe: $scheme://127.0.0.1:$sink_port: alert queue full (100 alerts; the server is not reading); dropping the oldest" err ||
    { echo "FAIL $scheme://: no warning"; cat err; exit 1; }
  dropped=$(sed -n "s|^logpipe: $scheme://127.0.0.1:$sink_port: \([0-9]*\) alerts dropped in all (queue of 100 full.*|\1|p" err)
  [ -n "$dropped" ] && [ "$dropped" -gt 0 ] || { echo "FAIL $scheme://: no count of dropped alerts"; cat err; exit 1; }
  grep -q "^logpipe: $scheme://127.0.0.1:$sink_port: .*not delivered" err || { echo "FAIL $scheme://: message"; cat err; exit 1; }
done
echo ok

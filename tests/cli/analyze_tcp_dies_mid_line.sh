#!/usr/bin/env bash
# Issue #9 "Nothing lost": a TCP peer sends 100,000 lines and dies inside the last one. analyze
# reports exactly 99,999 records and 1 malformed line, both as a client (tcp://, the peer is the
# server) and as a server (--listen tcp://127.0.0.1:0, the peer is a client; --idle-exit ends it).
set -euo pipefail
. "$SRC/tests/cli/lib/scratch.sh"  # $tmp, $pids killed at exit
peer="$SRC/tests/cli/nothing_lost.py"
python3 "$peer" good "$tmp/in.log" 100000 --cut
# Independent count: 99,999 newline-terminated lines and a last one without its newline.
[ "$(wc -l <"$tmp/in.log")" -eq 99999 ] && [ -n "$(tail -c 1 "$tmp/in.log" | tr -d '\n')" ]

check() {  # REPORT.json what
  python3 - "$1" "$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
got = (r["requests"], r["malformed"])
assert got == (99999, 1), f"{sys.argv[2]}: requests, malformed = {got}, want (99999, 1)"
PY
}

# 1. analyze connects; the server sends everything and dies.
python3 "$peer" serve "$tmp/in.log" "$tmp/port" & pids+=($!)
for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
"$LOGPIPE" analyze --format combined --report json "tcp://127.0.0.1:$(cat "$tmp/port")" \
  >"$tmp/client.json" 2>"$tmp/client.err" || { cat "$tmp/client.err"; exit 1; }
check "$tmp/client.json" "analyze tcp://"
grep -q "1 malformed line skipped; first: tcp://127.0.0.1:[0-9]*:100000: line cut short" "$tmp/client.err" ||
  { cat "$tmp/client.err"; exit 1; }

# 2. analyze listens on a free port (named with -v); a client sends everything and dies; a
# server ends on SIGTERM (or --idle-exit), which loses nothing that arrived.
"$LOGPIPE" analyze -v --format combined --report json --listen tcp://127.0.0.1:0 \
  >"$tmp/server.json" 2>"$tmp/server.err" & server=$!; pids+=($server)
for _ in $(seq 200); do grep -q "reading tcp://" "$tmp/server.err" && break; sleep 0.05; done
port=$(sed -n 's|^logpipe: reading tcp://127.0.0.1:\([0-9]*\)$|\1|p' "$tmp/server.err")
[ -n "$port" ] || { cat "$tmp/server.err"; exit 1; }
python3 "$peer" send "$tmp/in.log" "$port" || { cat "$tmp/server.err"; exit 1; }
kill -TERM "$server"  # the client is gone and analyze's kernel holds every byte it sent
wait "$server" || { echo "analyze --listen failed"; cat "$tmp/server.err"; exit 1; }
check "$tmp/server.json" "analyze --listen"
grep -q "first: tcp://127.0.0.1:$port/127.0.0.1:[0-9]*:100000: line cut short" "$tmp/server.err" ||
  { cat "$tmp/server.err"; exit 1; }
echo ok

#!/usr/bin/env bash
# -o tcp://: (1) a server that starts late still receives every line, byte for byte;
# (2) a server that drops the connection: the sink says so on stderr, reconnects, and the new
# connection starts with a whole line and carries everything from there to the last line.
set -euo pipefail
tmp=$(mktemp -d)
server_pid=
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
cat >"$tmp/server.py" <<'PY'
import socket, sys, time
# server.py PORTFILE OUT DELAY_S CLOSE_FIRST_AFTER_BYTES: loopback only.
portfile, out, delay, close_after = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
probe = socket.socket(); probe.bind(("127.0.0.1", 0)); port = probe.getsockname()[1]; probe.close()
open(portfile + ".tmp", "w").write(str(port))
import os; os.rename(portfile + ".tmp", portfile)
time.sleep(delay)  # nothing listens meanwhile: connections are refused
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(1)
for n in range(2 if close_after else 1):
    c, _ = s.accept()
    got = bytearray()
    while True:
        b = c.recv(65536)
        if not b: break
        got += b
        if n == 0 and close_after and len(got) >= close_after: break
    c.close()
    open(f"{out}.{n}", "wb").write(got)
PY
start_server() {  # start_server DELAY CLOSE_AFTER
  rm -f "$tmp/port" "$tmp"/out.*
  python3 "$tmp/server.py" "$tmp/port" "$tmp/out" "$1" "$2" &
  server_pid=$!
  for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
  port=$(cat "$tmp/port")
}
"$LOGPIPE" generate --no-pace --count 200000 >"$tmp/expected"

start_server 1.0 0
"$LOGPIPE" generate --no-pace --count 200000 -o "tcp://127.0.0.1:$port" 2>"$tmp/err1"
wait "$server_pid"; server_pid=
cmp "$tmp/out.0" "$tmp/expected"
grep -q "cannot connect (Connection refused); buffering and retrying" "$tmp/err1"

start_server 0 3000000
"$LOGPIPE" generate --no-pace --count 200000 -o "tcp://127.0.0.1:$port" 2>"$tmp/err2"
wait "$server_pid"; server_pid=
grep -q "connection lost" "$tmp/err2"
grep -q "reconnected" "$tmp/err2"
python3 - "$tmp/expected" "$tmp/out.0" "$tmp/out.1" <<'PY'
import sys
expected = open(sys.argv[1], "rb").read().split(b"\n")[:-1]
first = open(sys.argv[2], "rb").read().split(b"\n")[:-1]  # the last piece may be a fragment
second = open(sys.argv[3], "rb").read()
assert second.endswith(b"\n")
second = second.split(b"\n")[:-1]
assert first == expected[:len(first)], "first connection: not a prefix"
i = expected.index(second[0])  # starts with a whole line
assert i >= len(first) - 1
assert second == expected[i:], "second connection: not the whole rest"
print(f"ok: {len(first)} lines, then {len(second)} from line {i + 1}")
PY

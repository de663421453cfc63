#!/usr/bin/env bash
# Issue #9 "Nothing lost" over tcp:// and tls://: the hostile input of nothing_lost.py (a 10 MB
# line, NUL bytes, a last line cut short by a peer that dies) gives exactly the records and
# malformed lines the generator counted, with analyze connecting (tcp://), analyze serving
# (--listen tcp:// and --listen tls:// with a client certificate), stream serving, and calibrate
# and anonymize connecting. Servers end on SIGTERM once the client is gone (nothing that arrived
# is lost).
set -euo pipefail
command -v openssl >/dev/null || { echo "SKIP: openssl CLI absent"; exit 77; }
. "$SRC/tests/cli/lib/scratch.sh"  # $tmp, $pids killed at exit
peer="$SRC/tests/cli/nothing_lost.py"
read -r records malformed < <(python3 "$peer" make "$tmp/in.log" --long)
[ "$records" = 1001 ] && [ "$malformed" = 3 ]

counts() { python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(r["requests"], r["malformed"])' "$1"; }
expect() {  # WHAT GOT WANT ERRFILE
  [ "$2" = "$3" ] || { echo "FAIL $1: got '$2', want '$3'"; cat "$4"; exit 1; }
}
serve_once() {  # FILE: a one-shot server that sends FILE then dies; sets $port
  rm -f "$tmp/port"
  python3 "$peer" serve "$1" "$tmp/port" >/dev/null 2>"$tmp/peer.err" & pids+=($!)
  for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
  port=$(cat "$tmp/port")
}
start_server() {  # ERRFILE COMMAND...: runs a logpipe server in the background, sets $server $port
  local err=$1; shift
  "$@" 2>"$err" & server=$!; pids+=($server)
  for _ in $(seq 300); do grep -q "reading t[cl][ps]://" "$err" && break; sleep 0.05; done
  port=$(sed -n 's|.*reading t[cl][ps]://127.0.0.1:\([0-9]*\)$|\1|p' "$err")
  [ -n "$port" ] || { cat "$err"; exit 1; }
}
stop_server() {  # ERRFILE
  kill -TERM "$server"
  wait "$server" || { echo "server failed"; cat "$1"; exit 1; }
}

# analyze as a tcp:// client.
serve_once "$tmp/in.log"
"$LOGPIPE" analyze --format combined --report json "tcp://127.0.0.1:$port" >"$tmp/r.json" 2>"$tmp/err"
expect "analyze tcp://" "$(counts "$tmp/r.json")" "$records $malformed" "$tmp/err"
grep -q "line cut short (the input ended inside it)" "$tmp/err" || { cat "$tmp/err"; exit 1; }

# analyze --listen tcp://, a client that dies mid-line.
start_server "$tmp/err" "$LOGPIPE" analyze -v --format combined --report json -o "$tmp/r.json" \
  --listen tcp://127.0.0.1:0
python3 "$peer" send "$tmp/in.log" "$port"
stop_server "$tmp/err"
expect "analyze --listen tcp://" "$(counts "$tmp/r.json")" "$records $malformed" "$tmp/err"

# stream --listen tcp://: lines = records + malformed, all counted.
start_server "$tmp/err" "$LOGPIPE" stream -v --format combined --listen tcp://127.0.0.1:0 --alerts /dev/null
python3 "$peer" send "$tmp/in.log" "$port"
stop_server "$tmp/err"
grep -q "stream: $((records + malformed)) lines, $records records, 0 late" "$tmp/err" || { cat "$tmp/err"; exit 1; }
grep -q "^logpipe: $malformed malformed lines skipped" "$tmp/err" || { cat "$tmp/err"; exit 1; }

# analyze --listen tls:// with mutual TLS (a throwaway CA, as in tls_endpoint.sh).
cd "$tmp"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 1 -subj "/CN=logpipe test ca" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 1 \
  -extfile server.ext 2>/dev/null
start_server "$tmp/err" "$LOGPIPE" analyze -v --format combined --report json -o "$tmp/r.json" \
  --listen tls://127.0.0.1:0 --tls-cert server.pem --tls-key server.key
python3 "$peer" send-tls "$tmp/in.log" "$port" ca.pem
stop_server "$tmp/err"
expect "analyze --listen tls://" "$(counts "$tmp/r.json")" "$records $malformed" "$tmp/err"
grep -q "first: tls://127.0.0.1:$port/127.0.0.1:[0-9]*:203: " "$tmp/err" || { cat "$tmp/err"; exit 1; }

# calibrate and anonymize read the same endpoint kinds. calibrate over tcp:// gives the same
# thresholds as over the file; anonymize over tcp:// the same bytes as over the file.
python3 "$peer" good "$tmp/day.log" 20000
"$LOGPIPE" calibrate --format combined --window 60s "$tmp/day.log" >"$tmp/file.toml" 2>/dev/null
serve_once "$tmp/day.log"
"$LOGPIPE" calibrate --format combined --window 60s "tcp://127.0.0.1:$port" >"$tmp/tcp.toml" 2>"$tmp/err" ||
  { cat "$tmp/err"; exit 1; }
diff <(grep -v '^#' "$tmp/file.toml") <(grep -v '^#' "$tmp/tcp.toml")
grep -q '^\[metrics.error_rate\]' "$tmp/tcp.toml"
printf 'k3y' >key
"$LOGPIPE" anonymize --key-file key --format combined "$tmp/day.log" >"$tmp/file.anon"
serve_once "$tmp/day.log"
"$LOGPIPE" anonymize --key-file key --format combined "tcp://127.0.0.1:$port" >"$tmp/tcp.anon" 2>"$tmp/err" ||
  { cat "$tmp/err"; exit 1; }
cmp "$tmp/file.anon" "$tmp/tcp.anon"
[ "$(wc -l <"$tmp/tcp.anon")" -eq 20000 ] && ! grep -q ' user[0-9] ' "$tmp/tcp.anon"
echo ok

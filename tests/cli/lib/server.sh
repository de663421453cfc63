# Sourced by end-to-end tests after lib/scratch.sh (not a test itself): a logpipe server in the
# background. `start_server ERRFILE COMMAND...` runs COMMAND (which must be given -v, so that it
# names the port it got: `reading tcp://127.0.0.1:PORT`), sets $server and $port and adds the
# process to $pids; `stop_server ERRFILE` sends SIGTERM and fails the test, showing ERRFILE,
# when the server exits non-zero; `stop_server_status ERRFILE` only sets $status.
start_server() {  # ERRFILE COMMAND...
  local err=$1
  shift
  : >"$err"  # not the port of a previous server
  "$@" 2>>"$err" &
  server=$!
  pids+=("$server")
  for _ in $(seq 300); do grep -q "reading [a-z]*://" "$err" && break; sleep 0.05; done
  port=$(sed -n 's|.*reading [a-z]*://127.0.0.1:\([0-9]*\)$|\1|p' "$err" | head -1)
  [ -n "$port" ] || { echo "FAIL: the server named no port"; cat "$err"; exit 1; }
}
stop_server_status() {  # ERRFILE
  kill -TERM "$server"
  status=0
  wait "$server" || status=$?
}
stop_server() {  # ERRFILE
  stop_server_status "$1"
  [ "$status" = 0 ] || { echo "FAIL: the server exited $status"; cat "$1"; exit 1; }
}
# Waits until the server on $port holds no client connection any more (each one read to its end
# and closed by the server), so that a SIGTERM cannot race the data still being read. Needs ss.
wait_clients_done() {
  for _ in $(seq 600); do
    [ -z "$(ss -tnH state established state close-wait "( sport = :$port )")" ] && return 0
    sleep 0.05
  done
  echo "FAIL: clients still connected to port $port"
  exit 1
}

#!/usr/bin/env bash
# Issue 25, cases 6 and 7: memory stays bounded whatever the input.
#   6. A line longer than --max-line-bytes is cut there and counted as ONE malformed line ("line
#      longer than --max-line-bytes"), its rest skipped, for files (one thread or split), pipes,
#      gzip, stream's file reader, anonymize (never written; --rejects keeps its first bytes) and
#      tcp:// and tls:// listeners. A newline-free input (/dev/zero) no longer grows without
#      bound (analyze /dev/zero reached 3.1 GB then std::bad_alloc; 512 MiB of zeros: 1.5 GB).
#   7. --format auto keeps at most 1 MiB of sampled lines: 16 lines of 24 MiB sent to a listener
#      used to pin 16 copies.
# The expected counts come from the generator (hostile.py long-lines); memory from the kernel's
# peak RSS (VmHWM, ru_maxrss).
set -euo pipefail
command -v openssl >/dev/null || { echo "SKIP: openssl CLI absent"; exit 77; }
command -v gzip >/dev/null || { echo "SKIP: gzip absent"; exit 77; }
. "$SRC/tests/cli/lib/scratch.sh"  # $tmp, $pids killed at exit
. "$SRC/tests/cli/lib/server.sh"
. "$SRC/tests/cli/lib/pki.sh"
peer="$SRC/tests/cli/hostile.py"
cd "$tmp"
counts() { python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(r["requests"], r["malformed"])' "$1"; }
expect() {  # WHAT GOT WANT
  [ "$2" = "$3" ] || { echo "FAIL $1: got '$2', want '$3'"; cat err; exit 1; }
}

for cap in 4096 1048576; do
  flag=(--max-line-bytes $((cap / 1024))K)
  want=$(python3 "$peer" long-lines in.log $cap)
  gzip -c in.log >in.log.gz
  for threads in 1 2; do
    "$LOGPIPE" analyze --format combined --report json --threads $threads "${flag[@]}" -o r.json in.log 2>err
    expect "analyze --threads $threads (cap $cap)" "$(counts r.json)" "$want"
  done
  grep -q "first: in.log:102: line longer than --max-line-bytes (cut there)" err || { cat err; exit 1; }
  "$LOGPIPE" analyze --format combined --report json "${flag[@]}" -o r.json - <in.log 2>err
  expect "analyze - (cap $cap)" "$(counts r.json)" "$want"
  "$LOGPIPE" analyze --report json "${flag[@]}" -o r.json in.log.gz 2>err  # format detected too
  expect "analyze gzip (cap $cap)" "$(counts r.json)" "$want"
  "$LOGPIPE" stream -v --format combined "${flag[@]}" --alerts /dev/null in.log 2>err
  grep -q "stream: 1005 lines, ${want% *} records" err || { echo "FAIL stream (cap $cap)"; cat err; exit 1; }
  KEY=k3y "$LOGPIPE" anonymize --key-env KEY --format combined "${flag[@]}" --rejects rej.log -o out.log in.log 2>err
  expect "anonymize (cap $cap)" "$(wc -l <out.log) $(wc -l <rej.log)" "$want"
  python3 -c 'import sys; cap = int(sys.argv[2])
assert all(len(l) == cap for l in open(sys.argv[1], "rb").read().split(b"\n")[:-1]), "rejects are not cut at the cap"' rej.log $cap
done

# Network listeners (cap 1 MiB): a client sends the file and dies.
want=$(python3 "$peer" long-lines in.log 1048576)
start_server err "$LOGPIPE" analyze -v --format combined --report json -o r.json --max-line-bytes 1M \
  --listen tcp://127.0.0.1:0
python3 "$SRC/tests/cli/nothing_lost.py" send in.log "$port"
stop_server err
expect "analyze --listen tcp://" "$(counts r.json)" "$want"
make_test_pki
start_server err "$LOGPIPE" analyze -v --format combined --report json -o r.json --max-line-bytes 1M \
  --listen tls://127.0.0.1:0 --tls-cert server.pem --tls-key server.key
python3 "$SRC/tests/cli/nothing_lost.py" send-tls in.log "$port" ca.pem
stop_server err
expect "analyze --listen tls://" "$(counts r.json)" "$want"

# An input that is one line over the cap gives no record: exit 3 (issue 18), naming that line.
set +e
head -c $((3 << 20)) /dev/zero | "$LOGPIPE" analyze --report json --max-line-bytes 1M -o r.json - 2>err
status=$?
set -e
expect "analyze /dev/zero exit status" "$status" 3
grep -q "no record could be read .*first: -:1: line longer than --max-line-bytes" err || { cat err; exit 1; }

# Memory: 256 MiB without a newline through a pipe, cap 1 MiB: one malformed line, a small peak
# (--max-malformed 100%: the report is written although no record could be read).
peak=$(python3 -c 'import resource, subprocess, sys
zeros = subprocess.Popen(["head", "-c", str(256 << 20), "/dev/zero"], stdout=subprocess.PIPE)
subprocess.run(sys.argv[1:], stdin=zeros.stdout, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)' \
  "$LOGPIPE" analyze --report json --max-line-bytes 1M --max-malformed 100% -o r.json - 2>err)
expect "analyze /dev/zero" "$(counts r.json)" "0 1"
[ "$peak" -lt 200 ] || { echo "FAIL: 256 MiB without a newline peaked at $peak MB"; exit 1; }

# 7. --format auto on a listener: 16 lines of 24 MiB are not all kept for sniffing.
start_server err "$LOGPIPE" analyze -v --report json --max-malformed 100% -o r.json --listen tcp://127.0.0.1:0
python3 "$peer" big-lines "$port" 16 24
wait_clients_done
hwm=$(awk '/^VmHWM/ {print int($2 / 1024)}' "/proc/$server/status")
stop_server err
expect "auto on 16 lines of 24 MiB" "$(counts r.json)" "0 16"
[ "$hwm" -lt 250 ] || { echo "FAIL: sniffing 16 lines of 24 MiB peaked at $hwm MB"; exit 1; }
echo "ok (peaks: $peak MB for 256 MiB of zeros, $hwm MB for 16 x 24 MiB sniffed)"

#!/usr/bin/env bash
# Issue 25, case 3: a compressed file whose data is intact but whose trailer checksum is wrong
# (gzip CRC32, zstd content checksum). Every line decoded is counted, then the error is named and
# the exit status is 1: the chunk decoded by the read that found the bad trailer used to be
# dropped (1,000 lines gave 0 records, 200,000 gave 198,408, and a pipe gave another count). The
# expected counts come from the generator; python's zlib confirms the CRC is what is broken.
set -euo pipefail
command -v gzip >/dev/null || { echo "SKIP: gzip absent"; exit 77; }
. "$SRC/tests/cli/lib/scratch.sh"  # $tmp, $pids killed at exit
cd "$tmp"
gen="$SRC/tests/cli/nothing_lost.py"
flip() {  # FILE OFFSET_FROM_END OUT: flips one byte
  python3 -c 'import sys; d = bytearray(open(sys.argv[1], "rb").read()); d[-int(sys.argv[2])] ^= 0xff
open(sys.argv[3], "wb").write(d)' "$@"
}
counts() { python3 -c 'import json, sys; r = json.load(sys.stdin); print(r["requests"], r["malformed"])'; }
check() {  # WHAT FILE LINES ERROR
  local status=0
  "$LOGPIPE" analyze --format combined --report json "$2" >r.json 2>err || status=$?
  [ "$status" = 1 ] && [ "$(counts <r.json)" = "$3 0" ] && grep -q "$4" err ||
    { echo "FAIL $1 (file): exit $status, counts $(counts <r.json), want $3 0"; cat err; exit 1; }
  status=0
  "$LOGPIPE" analyze --format combined --report json - <"$2" >r.json 2>err || status=$?
  [ "$status" = 1 ] && [ "$(counts <r.json)" = "$3 0" ] ||
    { echo "FAIL $1 (pipe): exit $status, counts $(counts <r.json), want $3 0"; cat err; exit 1; }
  status=0
  "$LOGPIPE" anonymize --key-env KEY --format combined -o out.log "$2" 2>err || status=$?
  [ "$status" = 1 ] && [ "$(wc -l <out.log)" = "$3" ] ||
    { echo "FAIL $1 (anonymize): exit $status, $(wc -l <out.log) lines, want $3"; cat err; exit 1; }
}
export KEY=k3y
for n in 1000 200000; do
  python3 "$gen" good "in$n.log" $n
  gzip -c "in$n.log" >"in$n.log.gz"
  flip "in$n.log.gz" 8 "bad$n.gz"  # the first byte of the CRC32 in the 8-byte trailer
  python3 -c 'import sys, zlib
try:
    zlib.decompress(open(sys.argv[1], "rb").read(), 31)
except zlib.error as e:
    assert "incorrect data check" in str(e), e
else:
    sys.exit("the CRC is not broken")' "bad$n.gz"
  check "gzip $n" "bad$n.gz" $n "bad$n.gz: corrupt gzip data (incorrect data check)"
  if command -v zstd >/dev/null; then
    zstd -q --check -c "in$n.log" >"in$n.log.zst"
    flip "in$n.log.zst" 1 "bad$n.zst"  # the frame's content checksum is its last 4 bytes
    if zstd -q -t "bad$n.zst" 2>/dev/null; then echo "FAIL: zstd accepts the broken checksum"; exit 1; fi
    check "zstd $n" "bad$n.zst" $n "bad$n.zst: corrupt zstd data"
  fi
done
echo ok

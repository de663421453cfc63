#!/usr/bin/env bash
# Issue 25, case 15: files holding a secret that others may read get a warning, as the Kafka
# password file did already: anonymize's HMAC key file (whoever reads it can re-identify every
# user) and a TLS private key (--tls-key, or [tls] key in stream's settings file). A 0600 file
# gets none; the secret itself is never printed.
set -euo pipefail
command -v openssl >/dev/null || { echo "SKIP: openssl CLI absent"; exit 77; }
. "$SRC/tests/cli/lib/scratch.sh"  # $tmp, $pids killed at exit
. "$SRC/tests/cli/lib/pki.sh"
cd "$tmp"
python3 "$SRC/tests/cli/nothing_lost.py" good in.log 10
printf 'k3y-s3cret' >key
make_test_pki
warned() {  # FILE WHAT WHO ERRFILE
  grep -qF "logpipe: warning: '$1' holds $2 and is readable by $3; run chmod 600 on it" "$4" ||
    { echo "FAIL: no warning for $1 ($3)"; cat "$4"; exit 1; }
  if grep -q "k3y-s3cret" "$4"; then echo "FAIL: the key was printed"; exit 1; fi
}
quiet() {  # ERRFILE
  if grep -q "warning" "$1"; then echo "FAIL: a warning for a 0600 file"; cat "$1"; exit 1; fi
}

for mode in 644 640; do
  who="every user"; [ $mode = 640 ] && who="its group"
  chmod $mode key server.key
  "$LOGPIPE" anonymize --key-file key --format combined -o out.log in.log 2>err
  warned key "the HMAC key" "$who" err
  "$LOGPIPE" analyze --format combined --listen tls://127.0.0.1:0 --tls-cert server.pem --tls-key server.key \
    --idle-exit 100ms -o r.txt 2>err
  warned server.key "a TLS private key" "$who" err
  printf '[tls]\ncert = "%s"\nkey = "%s"\n[input]\nlisten = "tls://127.0.0.1:0"\nidle_exit = "100ms"\n' \
    "$tmp/server.pem" "$tmp/server.key" >svc.toml
  "$LOGPIPE" stream --config svc.toml --alerts /dev/null 2>err
  warned "$tmp/server.key" "a TLS private key" "$who" err
done
chmod 600 key server.key
"$LOGPIPE" anonymize --key-file key --format combined -o out.log in.log 2>err
quiet err
"$LOGPIPE" analyze --format combined --listen tls://127.0.0.1:0 --tls-cert server.pem --tls-key server.key \
  --idle-exit 100ms -o r.txt 2>err
quiet err
echo ok

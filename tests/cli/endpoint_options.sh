#!/usr/bin/env bash
# The shared endpoint flags (add_endpoint_options), through logpipe-endpoint-cat which registers
# them like every command: secrets are refused on argv and never echoed; settings from a file or
# LOGPIPE_KAFKA_* reach librdkafka (a bad key is reported by name, exit 2); bad durations,
# endpoints and TLS flag pairs are usage errors.
set -euo pipefail
cat=$(dirname "$LOGPIPE")/logpipe-endpoint-cat
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

expect() {  # CODE PATTERN -- COMMAND...
  local code=$1 pattern=$2
  shift 3
  set +e
  "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  set -e
  [ $rc -eq "$code" ] || { echo "FAIL: exit $rc, want $code: $*"; cat "$tmp/err"; exit 1; }
  grep -q -- "$pattern" "$tmp/err" || { echo "FAIL: stderr lacks '$pattern': $*"; cat "$tmp/err"; exit 1; }
  if grep -q hunter2 "$tmp/err"; then echo "FAIL: a secret was echoed: $*"; exit 1; fi
}

expect 2 'sasl.password: secrets are not accepted on the command line.*LOGPIPE_KAFKA_SASL_PASSWORD' -- \
  "$cat" --kafka-option sasl.password=hunter2 kafka://127.0.0.1:9/t
expect 2 '--kafka-option: expected KEY=VALUE' -- "$cat" --kafka-option novalue kafka://127.0.0.1:9/t

printf '# credentials\nsasl.username = alice\nsasl.password=hunter2\n\nno.such.property=1\n' >"$tmp/kafka.conf"
expect 2 'kafka://127.0.0.1:9/t: --kafka-option no.such.property: No such configuration property' -- \
  "$cat" --kafka-option-file "$tmp/kafka.conf" kafka://127.0.0.1:9/t
printf 'broken line\n' >"$tmp/broken.conf"
expect 2 "$tmp/broken.conf:1: expected KEY=VALUE" -- "$cat" --kafka-option-file "$tmp/broken.conf" kafka://127.0.0.1:9/t
expect 2 'kafka-option-file: File does not exist' -- "$cat" --kafka-option-file "$tmp/absent" kafka://127.0.0.1:9/t

expect 2 '--kafka-option no.such.key: No such configuration property' -- \
  env LOGPIPE_KAFKA_NO_SUCH_KEY=1 "$cat" kafka://127.0.0.1:9/t
expect 2 '--kafka-option linger.ms: Invalid value' -- \
  "$cat" --kafka-option linger.ms=soon - kafka://127.0.0.1:9/t

expect 2 '--idle-exit: bad duration' -- "$cat" --idle-exit soon kafka://127.0.0.1:9/t
expect 2 "bad endpoint 'kafka://127.0.0.1:9'" -- "$cat" --idle-exit 1s kafka://127.0.0.1:9
: >"$tmp/cert.pem"
expect 2 '--tls-cert and --tls-key go together' -- "$cat" --tls-cert "$tmp/cert.pem" tls://127.0.0.1:9
expect 2 'a TLS server needs --tls-cert and --tls-key' -- "$cat" --listen tls://127.0.0.1:9
echo ok

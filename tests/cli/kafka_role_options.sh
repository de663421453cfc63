#!/usr/bin/env bash
# Issue 24, case 5: Kafka settings for one role. Settings given once ([kafka], --kafka-option)
# used to go to the consumer and the producer alike, and librdkafka filled stderr with
# "Configuration property session.timeout.ms is a consumer property and will be ignored by this
# producer instance" (scripts/pipeline-up's stream did it on every start). Now a property
# librdkafka defines for one role goes to that role only (its own table says which), and
# [kafka.consumer] / [kafka.producer] and --kafka-consumer-option / --kafka-producer-option set
# one role explicitly. Checked on a stream that reads and writes Kafka (mock cluster), its alerts
# read back with kcat and compared with the same run's alerts on a file.
set -euo pipefail
command -v kcat >/dev/null || { echo "SKIP: kcat absent"; exit 77; }
. "$SRC/tests/cli/lib/scratch.sh"
. "$SRC/tests/cli/lib/kafka_mock.sh"
kafka_mock_start http-logs:1 alerts:1
cd "$tmp"
python3 "$SRC/tests/cli/stream_traffic.py" full.log
ignored='property and will be ignored'

# Shared flags with one property of each role: nothing ignored, on either side.
"$LOGPIPE" generate --format combined --count 1 --start 2025-06-22T00:00:00Z -o "kafka://$bs/http-logs" \
  --kafka-option session.timeout.ms=6000 --kafka-option acks=all 2>gen.err </dev/null
! grep -q "$ignored" gen.err || { echo "FAIL: generate: cross-role warning:"; cat gen.err; exit 1; }
"$LOGPIPE" generate --format combined --count 1 --start 2025-06-22T00:00:01Z -o "kafka://$bs/http-logs" \
  --kafka-producer-option session.timeout.ms=6000 2>gen.err </dev/null
grep -q "session.timeout.ms is a consumer property and will be ignored by this producer" gen.err ||
  { echo "FAIL: an explicit producer option should reach the producer (and librdkafka say it is misplaced)"; cat gen.err; exit 1; }
# The stream below reads these two lines first (a day earlier than full.log: a window of
# their own, without alerts) and then full.log, written by kcat.
kcat -P -b "$bs" -t http-logs <full.log

# stream: [kafka] shared, [kafka.consumer], [kafka.producer], from the settings file.
cp "$SRC/tests/data/stream_thresholds.toml" conf.toml
cat >>conf.toml <<TOML

[kafka]
session.timeout.ms = "6000"
acks = "all"
[kafka.consumer]
fetch.wait.max.ms = "50"
[kafka.producer]
linger.ms = "1"
TOML
"$LOGPIPE" stream --config conf.toml --input "kafka://$bs/http-logs" --group roles --idle-exit 3s \
  --alerts "kafka://$bs/alerts" --alerts file.jsonl 2>stream.err
! grep -q "$ignored" stream.err || { echo "FAIL: stream: cross-role warning:"; cat stream.err; exit 1; }
kcat -C -b "$bs" -t alerts -e -q >kafka.jsonl
[ -s file.jsonl ] || { echo "FAIL: no alert"; cat stream.err; exit 1; }
cmp -s kafka.jsonl file.jsonl || { echo "FAIL: the alerts topic differs from the file"; diff kafka.jsonl file.jsonl | head; exit 1; }

# A wrong setting names its role's flag and the key; secrets stay off argv; a role that is not a table.
set +e
"$LOGPIPE" stream --input "kafka://$bs/http-logs" --kafka-consumer-option fetch.wait.max.ms=soon </dev/null 2>bad.err
rc=$?
set -e
[ $rc = 2 ] && grep -q "fetch.wait.max.ms" bad.err || { echo "FAIL: bad consumer option: exit $rc"; cat bad.err; exit 1; }
set +e
"$LOGPIPE" stream --kafka-producer-option sasl.password=x </dev/null 2>secret.err; rc=$?
set -e
[ $rc = 2 ] && grep -q "secrets are not accepted on the command line" secret.err ||
  { echo "FAIL: a password on argv: exit $rc"; cat secret.err; exit 1; }
printf '[kafka]\nconsumer = "x"\n' >notable.toml
set +e
"$LOGPIPE" stream --config notable.toml </dev/null 2>notable.err; rc=$?
set -e
[ $rc = 2 ] && grep -q "\[kafka\] consumer must be a table" notable.err || { echo "FAIL: [kafka] consumer = string: exit $rc"; cat notable.err; exit 1; }
echo ok

#!/usr/bin/env bash
# Issue #9 "Nothing lost" over kafka:// (mock cluster, kcat as the independent producer): the
# hostile input of nothing_lost.py, one line per message (NUL bytes inside lines, a last line
# cut short), gives exactly the records and malformed lines the generator counted, in analyze
# and in stream. The 10 MB line is left out: a Kafka message is bounded by the brokers'
# message.max.bytes (1 MB by default), so such a line cannot travel as one message.
set -euo pipefail
command -v kcat >/dev/null || { echo "SKIP: kcat absent"; exit 77; }
. "$SRC/tests/cli/lib/scratch.sh"  # $tmp, removed at exit with the mock cluster
. "$SRC/tests/cli/lib/kafka_mock.sh"
peer="$SRC/tests/cli/nothing_lost.py"
read -r records malformed < <(python3 "$peer" make "$tmp/in.log")
[ "$records" = 1001 ] && [ "$malformed" = 2 ]

kafka_mock_start http-logs:1
kcat -P -b "$bs" -t http-logs -l "$tmp/in.log"
# Independent count of what the topic holds: every line is a message, the cut one included.
[ "$(kcat -C -b "$bs" -t http-logs -e -q -f '%o\n' | wc -l)" -eq $((records + malformed)) ]

opts=(--idle-exit 3s --kafka-option session.timeout.ms=6000)
"$LOGPIPE" analyze --format combined --report json "kafka://$bs/http-logs" --group report "${opts[@]}" \
  >"$tmp/r.json" 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
got=$(python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(r["requests"], r["malformed"])' "$tmp/r.json")
[ "$got" = "$records $malformed" ] || { echo "analyze kafka://: got $got, want $records $malformed"; cat "$tmp/err"; exit 1; }
"$LOGPIPE" stream -v --format combined --input "kafka://$bs/http-logs" --group alerting "${opts[@]}" \
  --alerts /dev/null 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
grep -q "stream: $((records + malformed)) lines, $records records, 0 late" "$tmp/err" || { cat "$tmp/err"; exit 1; }
# analyze committed its offsets after writing the report: the same group reads nothing again.
"$LOGPIPE" analyze --format combined --report json "kafka://$bs/http-logs" --group report "${opts[@]}" \
  >"$tmp/again.json" 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
got=$(python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(r["requests"], r["malformed"])' "$tmp/again.json")
[ "$got" = "0 0" ] || { echo "analyze re-read its committed offsets: $got"; exit 1; }
echo ok

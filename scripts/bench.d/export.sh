# bench_export: `logpipe export` (records as ECS JSON lines) against jq doing the same mapping:
# on 1,000,000 combined lines, `jq -R` with a capture regex (jq has no access-log parser); on the
# ~100 MB of edX tracking lines of bench_anonymize, jq picking the same fields from each event.
# Sourced by scripts/bench.

JQ_COMBINED='capture("^(?<ip>\\S+) (?<ident>\\S+) (?<user>\\S+) \\[(?<t>[^\\]]+)\\] \"(?<m>\\S+) (?<url>\\S+) (?<p>\\S+)\" (?<st>\\d{3}) (?<b>\\d+|-) \"(?<ref>[^\"]*)\" \"(?<ua>[^\"]*)\"") as $r
  | {"@timestamp": ($r.t | strptime("%d/%b/%Y:%H:%M:%S %z") | mktime | todate), source: {ip: $r.ip},
     http: {request: {method: $r.m, referrer: $r.ref}, version: ($r.p | ltrimstr("HTTP/")),
            response: {status_code: ($r.st | tonumber), body: {bytes: ($r.b | tonumber? // null)}}},
     url: {original: $r.url, path: ($r.url | split("?")[0])}, user_agent: {original: $r.ua}}'
JQ_EDX='{"@timestamp": .time, source: {ip: .ip}, user: {name: .username}, url: {domain: .host},
  user_agent: {original: .agent}, event_type: .event_type, course_id: .context.course_id, session: .session}'

bench_export() {
  local f e
  f=$(combined_file 1000000)
  cat "$f" >/dev/null  # into the page cache
  echo "== export: $(cached_line_count "$f") combined lines, $(($(stat -c %s "$f") / 1000000)) MB"
  measure "logpipe export (ECS)" "$f" "$LOGPIPE" export "$f"
  measure "logpipe export --to-bulk logs" "$f" "$LOGPIPE" export --to-bulk logs "$f"
  measure "logpipe export --names logpipe" "$f" "$LOGPIPE" export --names logpipe "$f"
  measure "logpipe export --where 'status >= 500 and not bot'" "$f" "$LOGPIPE" export --where 'status >= 500 and not bot' "$f"
  measure "jq -cR (capture regex, same mapping)" "$f" jq -cR "$JQ_COMBINED" "$f"
  if [ -d "$LOGPIPE_ROOT/../shared/data/edx" ]; then
    e=$(edx_100mb_file)
    cat "$e" >/dev/null
    echo "== export: $(cached_line_count "$e") edX lines, $(($(stat -c %s "$e") / 1000000)) MB"
    measure "logpipe export --format edx" "$e" "$LOGPIPE" export --format edx --max-malformed 100% "$e"
    measure "jq -c (the same fields)" "$e" jq -c "$JQ_EDX" "$e"
  fi
}

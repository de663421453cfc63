# bench_json: the JSON access-log path (`--format json:nginx`, simdjson On-Demand) on 1,000,000
# nginx JSON lines (397 MB), against jq counting the same file by status -- jq parses every
# object too, and does much less with it than the full report. Sourced by scripts/bench. The
# input is the generated combined log rewritten as nginx `escape=json` lines by python.

nginx_json_file() {
  local f="$BENCH_DIR/nginx-json-1000000.log" src
  src=$(combined_file 2000000)
  if [ ! -s "$f" ]; then
    python3 - "$src" "$f" <<'PY'
import json, re, sys
src, dst = sys.argv[1:3]
pat = re.compile(r'^(\S+) \S+ (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}|-) (\d+|-) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"')
with open(src, encoding="utf-8", errors="surrogateescape") as f, \
     open(dst, "w", encoding="utf-8", errors="surrogateescape") as out:
    for n, line in enumerate(f):
        if n == 1000000: break
        ip, user, t, req, st, b, ref, ua = pat.match(line).groups()
        out.write(json.dumps({"time_local": t, "remote_addr": ip, "remote_user": user, "request": req,
                              "status": int(st), "body_bytes_sent": int(b) if b != "-" else 0,
                              "http_referer": ref, "http_user_agent": ua, "request_time": "0.012"},
                             separators=(",", ":")) + "\n")
PY
  fi
  echo "$f"
}

bench_json() {
  local f
  f=$(nginx_json_file)
  cat "$f" >/dev/null  # into the page cache
  echo "== JSON access logs: $(cached_line_count "$f") nginx JSON lines, $(($(stat -c %s "$f") / 1000000)) MB"
  measure "logpipe analyze --format json:nginx" "$f" "$LOGPIPE" analyze --format json:nginx --report json "$f"
  measure "logpipe analyze --format json:nginx --threads 1" "$f" "$LOGPIPE" analyze --format json:nginx --threads 1 --report json "$f"
  measure "logpipe analyze (auto: detected json:nginx)" "$f" "$LOGPIPE" analyze --report json "$f"
  measure "jq -n 'reduce inputs ... status count'" "$f" jq -n 'reduce inputs as $r ({}; .[$r.status|tostring] += 1)' "$f"
}

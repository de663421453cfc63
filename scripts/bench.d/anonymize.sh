# bench_anonymize: `logpipe anonymize` on ~100 MB of edX tracking lines, against
# `jq -c 'del(.email)'` (which only deletes a member and hashes nothing). Sourced by scripts/bench.
# The input is made in $BENCH_DIR from the samples of ../shared/data/edx: lines repeated at
# random, usernames varied (5,000 values per name), an `email` member in one line of ten.

edx_100mb_file() {
  local f="$BENCH_DIR/edx-100mb.log" shared="$LOGPIPE_ROOT/../shared/data/edx"
  if [ ! -s "$f" ]; then
    python3 - "$shared" "$f" <<'PY'
import glob, json, random, sys
src, out = sys.argv[1:3]
random.seed(1)
lines = [l.rstrip("\n") for f in sorted(glob.glob(src + "/*.log"))
         for l in open(f, encoding="utf-8") if l.startswith("{")]
size, i = 0, 0
with open(out, "w", encoding="utf-8") as w:
    while size < 100 * 1024 * 1024:
        l = random.choice(lines)
        u = json.loads(l).get("username")
        if isinstance(u, str) and u:
            l = l.replace('"username": "%s"' % u, '"username": "%s%d"' % (u, random.randrange(5000)), 1)
        if i % 10 == 0:
            l = l.replace("{", '{"email": "user%d@example.org", ' % i, 1)
        w.write(l + "\n")
        size += len(l) + 1
        i += 1
PY
  fi
  echo "$f"
}

bench_anonymize() {
  if [ ! -d "$LOGPIPE_ROOT/../shared/data/edx" ]; then
    echo "== anonymize: skipped (no ../shared/data/edx)"
    return 0
  fi
  local f key="$BENCH_DIR/hmac.key"
  f=$(edx_100mb_file)
  printf 'bench-secret\n' >"$key"
  cat "$f" >/dev/null  # into the page cache, as for every other run
  echo "== anonymize: $(cached_line_count "$f") edX lines, $(($(stat -c %s "$f") / 1000000)) MB"
  measure "logpipe anonymize (-j 2, default)" "$f" "$LOGPIPE" anonymize --key-file "$key" "$f"
  measure "logpipe anonymize -j 1" "$f" "$LOGPIPE" anonymize --key-file "$key" -j 1 "$f"
  measure "  --ip truncate --hash-field context.username" "$f" \
    "$LOGPIPE" anonymize --key-file "$key" --ip truncate --hash-field context.username "$f"
  measure "  --scrub none (no free-text scrubbing)" "$f" "$LOGPIPE" anonymize --key-file "$key" --scrub none "$f"
  measure "  --profile share" "$f" "$LOGPIPE" anonymize --key-file "$key" --profile share "$f"
  python3 -c 'import sys
for i in range(5000): print(f"staff{i},Staff Member{i},staff{i}@example.com")' >"$BENCH_DIR/users.csv"
  measure "  --profile share --user-info (5,000 users)" "$f" \
    "$LOGPIPE" anonymize --key-file "$key" --profile share --user-info "$BENCH_DIR/users.csv" "$f"
  # --audit exits 1 when it finds something, as it does here (the file holds e-mails and addresses).
  measure "logpipe anonymize --audit" "$f" bash -c '"$0" anonymize --audit "$1"; [ $? -le 1 ]' "$LOGPIPE" "$f"
  measure "  -o FILE.zst" "$f" "$LOGPIPE" anonymize --key-file "$key" -o "$BENCH_DIR/anon.zst" "$f"
  rm -f "$BENCH_DIR/anon.zst"
  measure "jq -c 'del(.email)' (no hashing)" "$f" jq -c 'del(.email)' "$f"
}

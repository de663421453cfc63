#!/usr/bin/env bash
# anonymize from the command line: key handling (file with trailing newline, environment, empty
# or missing key = exit 2), gzip/zstd in and out, --rejects, --strict (exit 3), -o, stdin.
# Hashes are computed by Python's hmac module.
set -euo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
pyhash() { python3 -c 'import hmac,hashlib,sys; print(hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), hashlib.sha256).hexdigest())' "$1" "$2"; }
expect_exit() {  # expect_exit CODE STDERR-REGEX CMD...
  local code=$1 pattern=$2; shift 2
  set +e; "$@" >out.txt 2>err.txt; local got=$?; set -e
  [ "$got" -eq "$code" ] || { echo "expected exit $code, got $got: $*"; cat err.txt; exit 1; }
  grep -Eq -- "$pattern" err.txt || { echo "stderr does not match '$pattern':"; cat err.txt; exit 1; }
}
cat >in.log <<'JSON'
{"username": "staff", "email": "staff@example.org", "event_type": "x", "ip": "192.0.2.9"}
# a comment that mentions bob@example.org
{"username": "Jos\u00e9", "time": "2015-01-01T00:00:00.000000+00:00"}

{"username": "", "name": "edx.course.enrollment.activated", "full_name": "Nobody"}
JSON
printf 'secret\n' >key
h_staff=$(pyhash secret staff)
h_jose=$(pyhash secret 'José')
cat >expected <<END
{"username": "$h_staff", "event_type": "x", "ip": "192.0.2.9"}
{"username": "$h_jose", "time": "2015-01-01T00:00:00.000000+00:00"}

{"username": "", "name": "edx.course.enrollment.activated"}
END

# Key file: one trailing newline stripped; the result equals Python's.
"$LOGPIPE" anonymize --key-file key in.log >out 2>err
cmp out expected
grep -qx 'logpipe: 1 malformed line skipped; first: in.log:2: not a JSON object' err
# Environment variable; stdin; gzip input; zstd and gzip output by suffix.
gzip -c in.log >in.log.gz
LOGPIPE_KEY=secret "$LOGPIPE" anonymize --key-env LOGPIPE_KEY --rejects rej -o out.zst - <in.log.gz 2>/dev/null
zstd -dq out.zst -o out.unzst
cmp out.unzst expected
printf '# a comment that mentions bob@example.org\n' | cmp - rej
LOGPIPE_KEY=secret "$LOGPIPE" anonymize --key-env LOGPIPE_KEY -o out.gz in.log.gz 2>/dev/null
gzip -dc out.gz | cmp - expected
# A key file without newline and one with CRLF give the same key.
printf 'secret' >key2
printf 'secret\r\n' >key3
"$LOGPIPE" anonymize --key-file key2 in.log 2>/dev/null | cmp - expected
"$LOGPIPE" anonymize --key-file key3 in.log 2>/dev/null | cmp - expected
# Only one newline is stripped: "secret\n\n" is the key "secret\n".
printf 'secret\n\n' >key4
h4=$(python3 -c 'import hmac,hashlib; print(hmac.new(b"secret\n", b"staff", hashlib.sha256).hexdigest())')
"$LOGPIPE" anonymize --key-file key4 in.log 2>/dev/null | head -1 | grep -q "\"username\": \"$h4\""

# Refusals: exit 2 with a clear message, nothing written.
expect_exit 2 'a key is required' "$LOGPIPE" anonymize in.log
: >empty
expect_exit 2 "key-file 'empty': the key is empty" "$LOGPIPE" anonymize --key-file empty in.log
printf '\n' >newline-only
expect_exit 2 'the key is empty' "$LOGPIPE" anonymize --key-file newline-only in.log
expect_exit 2 'key-env EMPTY_KEY: the key is empty' env EMPTY_KEY= "$LOGPIPE" anonymize --key-env EMPTY_KEY in.log
expect_exit 2 'key-env UNSET_KEY_X: the variable is not set' env -u UNSET_KEY_X "$LOGPIPE" anonymize --key-env UNSET_KEY_X in.log
expect_exit 2 'excludes' env K=x "$LOGPIPE" anonymize --key-file key --key-env K in.log
expect_exit 2 "key-file: cannot open 'nope'" "$LOGPIPE" anonymize --key-file nope in.log
expect_exit 2 'hash-field applies to edx' "$LOGPIPE" anonymize --key-file key --format combined --hash-field context.username in.log
expect_exit 2 'ip' "$LOGPIPE" anonymize --key-file key --ip mask in.log
[ ! -s out.txt ]
# A missing input is an I/O error (exit 1), found before anything is written.
expect_exit 1 'missing.log' "$LOGPIPE" anonymize --key-file key in.log missing.log
[ ! -s out.txt ]
# --strict: exit 3 at the first rejected line; only the lines before it were written.
expect_exit 3 'in.log:2: malformed line \(not a JSON object\)' "$LOGPIPE" anonymize --strict --key-file key in.log
head -1 expected | cmp - out.txt
# --no-default-drop keeps the PII members (an e-mail in them is still scrubbed unless --scrub none);
# --drop adds fields; --hash-field adds paths.
"$LOGPIPE" anonymize --key-file key --no-default-drop --scrub none --drop event_type,ip --hash-field time in.log 2>/dev/null >out
h_time=$(pyhash secret '2015-01-01T00:00:00.000000+00:00')
cat >expected2 <<END
{"username": "$h_staff", "email": "staff@example.org"}
{"username": "$h_jose", "time": "$h_time"}

{"username": "", "name": "edx.course.enrollment.activated", "full_name": "Nobody"}
END
cmp out expected2
"$LOGPIPE" anonymize --key-file key --no-default-drop --drop event_type,ip --hash-field time in.log 2>/dev/null >out
sed 's/"staff@example.org"/"<<EMAIL>>"/' expected2 | cmp - out
echo ok

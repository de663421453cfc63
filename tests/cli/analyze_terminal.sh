#!/usr/bin/env bash
# analyze's text report on a terminal (issue 21): a pseudo-terminal of a set size (python's pty and
# TIOCSWINSZ) stands for the user's. Keys fill the terminal's width (cut to COLUMNS - 40 cells
# with an ellipsis; 72 when the output is a file); --color auto colours only a terminal that takes
# escapes (not TERM=dumb, not NO_COLOR); --color always/never force it; TERM=dumb gets no escape
# at all, the progress bar included. The expected cut is computed here from the url.
set -euo pipefail
. "$SRC/tests/cli/lib/scratch.sh"
long="/$(printf 'segment%03d/' $(seq 1 20))end"   # 241 characters
python3 - "$tmp/access.log" "$long" <<'PY'
import sys
path, long = sys.argv[1], sys.argv[2]
with open(path, "w") as f:
    for i in range(400):
        url = long if i % 4 == 0 else "/short"
        status = 500 if i % 5 == 0 else 200
        f.write(f'10.0.0.{i % 50} - - [23/Jun/2025:08:{i // 60:02d}:{i % 60:02d} +0000] '
                f'"GET {url} HTTP/1.1" {status} 100 "-" "curl/8"\n')
PY

# run_pty COLUMNS OUT ENV... -- ARGS...: analyze in a pty of 40 rows and COLUMNS columns (stdout and
# stderr both on it); what the terminal received goes to OUT.
run_pty() {
  python3 - "$@" <<'PY'
import fcntl, os, struct, subprocess, sys, termios
cols, out = int(sys.argv[1]), sys.argv[2]
rest = sys.argv[3:]
sep = rest.index("--")
env = {"PATH": os.environ["PATH"]}
for kv in rest[:sep]:
    k, v = kv.split("=", 1)
    env[k] = v
master, slave = os.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, cols, 0, 0))
p = subprocess.Popen([os.environ["LOGPIPE"], "analyze"] + rest[sep + 1:], stdin=slave, stdout=slave,
                     stderr=slave, env=env)
os.close(slave)
data = b""
while True:
    try:
        chunk = os.read(master, 65536)
    except OSError:
        break
    if not chunk:
        break
    data += chunk
rc = p.wait()
open(out, "wb").write(data)
sys.exit(rc)
PY
}
# expect_cut FILE WIDTH: the long url appears cut to WIDTH cells (WIDTH-1 characters and "…").
expect_cut() {
  python3 - "$1" "$2" "$long" <<'PY'
import sys
data = open(sys.argv[1], "rb").read().decode("utf-8")
width, long = int(sys.argv[2]), sys.argv[3]
cut = long[:width - 1] + "\u2026"
assert cut in data, f"the url is not cut to {width} cells"
assert long[:width] not in data, f"the url is longer than {width} cells"
PY
}
has_escape() { python3 -c 'import sys; sys.exit(0 if b"\x1b" in open(sys.argv[1], "rb").read() else 1)' "$1"; }
has_color() { python3 -c 'import sys; sys.exit(0 if b"\x1b[1" in open(sys.argv[1], "rb").read() else 1)' "$1"; }

run_pty 100 "$tmp/t100" TERM=xterm-256color -- "$tmp/access.log"
expect_cut "$tmp/t100" 60
has_color "$tmp/t100" || { echo "FAIL: no colour on a terminal"; exit 1; }
run_pty 200 "$tmp/t200" TERM=xterm-256color -- "$tmp/access.log"
expect_cut "$tmp/t200" 160
echo "ok: keys fill the terminal's width, in colour"

run_pty 100 "$tmp/dumb" TERM=dumb -- "$tmp/access.log"
! has_escape "$tmp/dumb" || { echo "FAIL: TERM=dumb got escape sequences"; exit 1; }
grep -q "Top URLs" "$tmp/dumb" || { echo "FAIL: no report on the dumb terminal"; cat "$tmp/dumb"; exit 1; }
run_pty 100 "$tmp/nocolor" TERM=xterm NO_COLOR=1 -- --no-progress "$tmp/access.log"
! has_escape "$tmp/nocolor" || { echo "FAIL: NO_COLOR got escape sequences"; exit 1; }
run_pty 100 "$tmp/never" TERM=xterm -- --color never --no-progress "$tmp/access.log"
! has_escape "$tmp/never" || { echo "FAIL: --color never got escape sequences"; exit 1; }
echo "ok: TERM=dumb, NO_COLOR and --color never get no escapes"

"$LOGPIPE" analyze "$tmp/access.log" >"$tmp/file.txt"
! has_escape "$tmp/file.txt" || { echo "FAIL: a file got escape sequences"; exit 1; }
expect_cut "$tmp/file.txt" 72
"$LOGPIPE" analyze --color always "$tmp/access.log" >"$tmp/always.txt"
has_color "$tmp/always.txt" || { echo "FAIL: --color always wrote no colour to a file"; exit 1; }
status=0
"$LOGPIPE" analyze --color sometimes "$tmp/access.log" >/dev/null 2>"$tmp/err" || status=$?
[ "$status" = 2 ] || { echo "FAIL: --color sometimes: exit $status"; exit 1; }
echo "ok: a file gets 72 cells and no colour unless --color always"

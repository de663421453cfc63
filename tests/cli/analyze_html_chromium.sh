#!/usr/bin/env bash
# The HTML report renders in headless Chromium with visible charts: in a screenshot, the
# time-series area (blue at 35% over white) and the 2xx status bar (green) cover many pixels.
# Skipped when Debian's chromium is not installed (scripts/deps.sh installs it for the tests).
set -euo pipefail
chromium=/usr/bin/chromium
[ -x "$chromium" ] || { echo "SKIP: $chromium absent (apt-get install chromium to run this test)"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
python3 "$SRC/tests/cli/analyze_gen.py" 20000 --seed 11 >"$tmp/a.log"
"$LOGPIPE" analyze --report html -o "$tmp/report.html" "$tmp/a.log" 2>/dev/null
timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --user-data-dir="$tmp/profile" \
  --screenshot="$tmp/shot.png" --window-size=1200,1400 "file://$tmp/report.html" >/dev/null 2>&1
[ -s "$tmp/shot.png" ] || { echo "no screenshot"; exit 1; }
python3 - "$tmp/shot.png" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
pos, idat, width = 8, b"", 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
        bpp = 3 if ctype == 2 else 4
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
raw = zlib.decompress(idat)
stride = width * bpp
prev = bytearray(stride)
blue = green = 0
for y in range(height):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):  # PNG filters: None, Sub, Up, Average, Paeth
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp):
        r, g, b = line[x], line[x + 1], line[x + 2]
        if abs(r - 192) < 12 and abs(g - 216) < 12 and abs(b - 242) < 12: blue += 1
        if abs(r - 39) < 12 and abs(g - 174) < 12 and abs(b - 96) < 12: green += 1
    prev = line
print("time-series area pixels:", blue, "2xx bar pixels:", green)
assert blue > 50000, blue
assert green > 2000, green
PY

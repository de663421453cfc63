#!/usr/bin/env bash
# Runs every `$ command` of the ```console blocks of docs/anonymize.md (in one scratch directory,
# with `logpipe` = the built binary) and checks that its output is the text shown under it.
set -euo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin"
ln -s "$LOGPIPE" "$tmp/bin/logpipe"
python3 - "$SRC/docs/anonymize.md" "$tmp" <<'PY'
import os, subprocess, sys
doc, tmp = sys.argv[1:3]
env = dict(os.environ, PATH=tmp + "/bin:" + os.environ["PATH"])
lines = open(doc, encoding="utf-8").read().split("\n")
in_block, steps = False, []
for line in lines:
    if line.startswith("```"):
        in_block = line == "```console"
        continue
    if not in_block: continue
    if line.startswith("$ "): steps.append([line[2:], []])
    else: steps[-1][1].append(line)
assert len(steps) >= 8, len(steps)
for cmd, expected in steps:
    got = subprocess.run(["bash", "-c", cmd], cwd=tmp, env=env, capture_output=True, text=True)
    assert got.returncode == 0, (cmd, got.stderr)
    want = "".join(l + "\n" for l in expected)
    assert got.stdout == want, f"{cmd}\n--- doc\n{want}--- got\n{got.stdout}"
print(f"ok: {len(steps)} commands")
PY

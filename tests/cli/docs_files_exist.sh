#!/usr/bin/env bash
# The docs name no file that the repository does not contain: every path under docs/, tests/,
# scripts/, samples/, packaging/, include/, src/, man/, completions/ or tools/ written in the
# README, DEVELOPERS.md, docs/*.md and the man pages exists (a user's clone has nothing else;
# the team's ../shared is named as such and is not checked).
set -euo pipefail
python3 - "$SRC" <<'PY'
import os, re, sys
root = sys.argv[1]
pages = ["README.md", "DEVELOPERS.md"] + [os.path.join("docs", f) for f in sorted(os.listdir(os.path.join(root, "docs"))) if f.endswith(".md")] \
      + [os.path.join("man", f) for f in sorted(os.listdir(os.path.join(root, "man")))]
pattern = re.compile(r"(?<![\w./-])((?:docs|tests|scripts|samples|packaging|include|src|man|completions|tools)/[A-Za-z0-9_./@+-]*[A-Za-z0-9_@+-])")
missing = []
for page in pages:
    text = open(os.path.join(root, page), encoding="utf-8").read().replace("\\-", "-").replace("\\&", "")
    for m in pattern.finditer(text):
        path = m.group(1)
        # Patterns and templates are not files: tests/cli/stream_*.sh, src/core/NAME.cc.
        if path.endswith(("_", "-")) or re.search(r"[A-Z]{3,}", path) or text[m.end():m.end() + 1] in "*<":
            continue
        if not os.path.exists(os.path.join(root, path)):
            line = text.count("\n", 0, m.start()) + 1
            missing.append(f"{page}:{line}: {path}")
if missing:
    print("files named by the docs but not in the repository:")
    print("\n".join(missing))
    sys.exit(1)
print(f"ok: every path named in {len(pages)} pages exists")
PY

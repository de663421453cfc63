#!/usr/bin/env bash
# Every `logpipe ...` command line of README.md, docs/*.md and the EXAMPLES of man/*.1 runs in a
# scratch directory and exits 0 (or as its marker says), or, when it needs a server, a broker, a
# listener, the host's files or a long run, at least parses: the command exists, every flag is in
# its --help, schemes are known, no visible usage error. Conventions: DEVELOPERS.md, "Command
# lines in the docs"; the checks: tests/cli/docs_command_lines.py.
set -euo pipefail
source "$SRC/tests/cli/lib/scratch.sh"
command -v zstd >/dev/null || { echo "skipped: zstd (the command) is not installed"; exit 77; }
python3 "$SRC/tests/cli/docs_command_lines.py" "$SRC" "$LOGPIPE" "$tmp"

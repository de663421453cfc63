#!/usr/bin/env bash
# Every flag of `logpipe anonymize --help` appears in man/logpipe-anonymize.1 and in the three
# completion scripts (regenerate with scripts/gen-completions build/logpipe).
set -euo pipefail
flags=$("$LOGPIPE" anonymize --help | grep -oE '(^|[ ,])--?[a-zA-Z][-a-zA-Z]*' | sed 's/^[ ,]//' | sort -u)
[ -n "$flags" ]
status=0
for f in $flags; do
  # roff writes a dash as \- in the man page.
  grep -qF -- "$(printf '%s' "$f" | sed 's/-/\\-/g')" "$SRC/man/logpipe-anonymize.1" || { echo "man page lacks $f"; status=1; }
  [ "$f" = "-h" ] && continue
  for c in "$SRC/completions/logpipe.bash" "$SRC/completions/_logpipe" "$SRC/completions/logpipe.fish"; do
    name=${f#-}; name=${name#-}
    grep -qE -- "(^|[^a-z-])-?-?$name([^a-z-]|$)" "$c" || { echo "$(basename "$c") lacks $f"; status=1; }
  done
done
# The completions are the generated ones, not hand-edited.
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$LOGPIPE" --completions bash | cmp -s - "$SRC/completions/logpipe.bash" || { echo "completions/logpipe.bash is stale: run scripts/gen-completions"; status=1; }
exit $status

#!/usr/bin/env bash
# One source of truth for the CLI: every flag in `logpipe COMMAND --help` appears in that command's
# man page and in the completions, and the committed completions are what the binary generates.
set -euo pipefail
fail=0
for cmd in generate stream calibrate anonymize analyze export; do
  man="$SRC/man/logpipe-$cmd.1"
  [ -f "$man" ] || { echo "missing man page $man"; fail=1; continue; }
  for flag in $("$LOGPIPE" "$cmd" --help | grep -oE -- '--[a-z][a-z0-9-]+' | sort -u); do
    [ "$flag" = "--help" ] && continue
    # roff writes a dash as \- ; accept both spellings.
    roff=$(printf '%s' "$flag" | sed 's/-/\\\\-/g')
    grep -qE -- "($flag|$roff)([^a-z0-9-]|$)" "$man" || { echo "$cmd $flag missing from $man"; fail=1; }
  done
done
for shell in bash zsh fish; do
  case $shell in bash) f=logpipe.bash;; zsh) f=_logpipe;; fish) f=logpipe.fish;; esac
  if ! "$LOGPIPE" --completions "$shell" | cmp -s - "$SRC/completions/$f"; then
    echo "completions/$f is stale: run scripts/gen-completions build/logpipe"
    fail=1
  fi
done
grep -q 'logpipe\\-analyze' "$SRC/man/logpipe.1" || { echo "man/logpipe.1 does not list the commands"; fail=1; }
# Every format that --help names is documented in docs/formats.md and in FORMATS of logpipe(1).
help=$("$LOGPIPE" analyze --help)
for f in common combined clickstream edx applog json json:nginx json:caddy json:traefik json:ecs \
  logformat: nginxformat: fields: syslog+ cri+ docker+; do
  grep -qF -- "$f" <<<"$help" || { echo "--help does not name format $f"; fail=1; }
  grep -qF -- "\`$f" "$SRC/docs/formats.md" || { echo "docs/formats.md does not document $f"; fail=1; }
  roff=$(printf '%s' "$f" | sed 's/-/\\\\-/g')
  grep -qE -- "(^|[ \"(])($f|$roff)" "$SRC/man/logpipe.1" || { echo "man/logpipe.1 does not list format $f"; fail=1; }
done
[ $fail -eq 0 ] && echo ok
exit $fail

#!/usr/bin/env bash
# The layers are enforced by the build (docs/architecture.md, "Layers"): cli -> io -> core.
#   1. A core translation unit that includes an io header does not compile, and fails on our
#      guard (the same file compiles once LOGPIPE_LAYER_IO is defined, as for io and cli): the
#      failure is the guard's, not a typo's.
#   2. The core's sources and headers name no io or cli header and no network, CLI, compression
#      or Kafka library; toml++ and simdjson appear only in the .cc files that own them, never in a
#      public header.
set -euo pipefail
: "${SRC:?}"
cxx=${CXX:-c++}
command -v "$cxx" >/dev/null || { echo "layers: no C++ compiler ($cxx): skipped"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0

printf '#include "logpipe/io/endpoint.h"\nint main() { return 0; }\n' >"$tmp/core_uses_io.cc"
if "$cxx" -std=c++20 -fsyntax-only -I"$SRC/include" "$tmp/core_uses_io.cc" 2>"$tmp/err"; then
  echo "FAIL: a core file including logpipe/io/endpoint.h compiled"; fail=1
elif ! grep -q "io layer: src/core must not include them" "$tmp/err"; then
  echo "FAIL: the compile failed, but not on the layer guard:"; head -5 "$tmp/err"; fail=1
fi
if ! "$cxx" -std=c++20 -fsyntax-only -DLOGPIPE_LAYER_IO -I"$SRC/include" "$tmp/core_uses_io.cc" 2>"$tmp/err2"; then
  echo "FAIL: the io header does not compile even inside the io layer:"; head -5 "$tmp/err2"; fail=1
fi

# forbid PATTERN WHAT FILES...: no file may match PATTERN.
forbid() {
  local pattern=$1 what=$2; shift 2
  local hits
  hits=$(grep -nE "$pattern" "$@" || true)
  if [ -n "$hits" ]; then echo "FAIL: $what:"; echo "$hits"; fail=1; fi
}
core=("$SRC"/src/core/*.cc "$SRC"/src/core/*.h "$SRC"/include/logpipe/*.h)
forbid '#include "(logpipe/io/|io/|cli/)' "the core includes an io or cli header" "${core[@]}"
forbid '#include <(CLI/|boost/asio|boost/beast|librdkafka/|sys/socket\.h|netdb\.h|netinet/|poll\.h|openssl/ssl\.h|zlib\.h|zstd\.h)' \
  "the core uses the network, the CLI library, compression or Kafka" "${core[@]}"
forbid '#include <(toml\+\+|simdjson|openssl)' "a public core header exposes a heavy dependency" "$SRC"/include/logpipe/*.h
forbid '#include <toml\+\+' "toml++ outside config.cc" $(ls "$SRC"/src/core/*.cc | grep -v '/config\.cc$')
forbid '#include "(cli/)|#include <CLI/' "the io layer includes the CLI" "$SRC"/src/io/*.cc "$SRC"/src/io/*.h "$SRC"/include/logpipe/io/*.h
# Every io header carries the guard (a new header without it would let the core reach it).
for h in "$SRC"/include/logpipe/io/*.h; do
  [ "$(basename "$h")" = layer.h ] && continue
  grep -q '#include "logpipe/io/layer.h"' "$h" || { echo "FAIL: $h does not include logpipe/io/layer.h"; fail=1; }
done
[ $fail -eq 0 ] && echo "layers: the core compiles only without io headers; no forbidden include"
exit $fail

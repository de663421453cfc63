# Sourced by scripts/demo, scripts/test and scripts/bench: installs the Debian packages logpipe
# needs when some are missing (as root), or prints the exact apt-get line (otherwise).
# Quiet when nothing is missing.

# Build and test dependencies, all from Debian.
LOGPIPE_BUILD_PACKAGES="g++ cmake ninja-build pkg-config libcli11-dev libfmt-dev libsimdjson-dev \
libzstd-dev zlib1g-dev libboost-dev doctest-dev libtomlplusplus-dev libssl-dev librdkafka-dev libmaxminddb-dev libncurses-dev"
LOGPIPE_TEST_PACKAGES="kcat mawk jq python3 zstd gzip openssl iproute2"
# The .deb test (cpack -G DEB: dpkg-shlibdeps, file) and systemd-analyze verify of the units.
LOGPIPE_TEST_PACKAGES="$LOGPIPE_TEST_PACKAGES dpkg-dev file systemd"
# Real Alertmanager and Prometheus for the endpoint tests (started on loopback), curl to query them.
LOGPIPE_TEST_PACKAGES="$LOGPIPE_TEST_PACKAGES curl prometheus prometheus-alertmanager"
# The shells whose completions we ship: the completion tests run them (zsh -n, fish complete -C).
LOGPIPE_TEST_PACKAGES="$LOGPIPE_TEST_PACKAGES zsh fish"
# A small MaxMind DB is written by the GeoIP tests (Perl's writer); mmdblookup checks it.
LOGPIPE_TEST_PACKAGES="$LOGPIPE_TEST_PACKAGES libmaxmind-db-writer-perl mmdb-bin"
# tmux runs stream --dashboard at fixed sizes (send-keys, capture-pane) in stream_dashboard.
LOGPIPE_TEST_PACKAGES="$LOGPIPE_TEST_PACKAGES tmux"
# Headless Chromium renders the HTML report in analyze_html_chromium (issue 7's done-when).
LOGPIPE_TEST_PACKAGES="$LOGPIPE_TEST_PACKAGES chromium"

# ensure_packages PKG...: installs what is missing.
ensure_packages() {
  local missing=()
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "logpipe: missing packages; run:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "logpipe: installing ${missing[*]}" >&2
  # On a new machine the package lists are empty: update once before the first install.
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || { echo "logpipe: apt-get update failed" >&2; exit 1; }
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    { echo "logpipe: apt-get install failed" >&2; exit 1; }
}

# build_logpipe DIR [cmake args...]: configures (once) and builds with Ninja.
build_logpipe() {
  local dir=$1
  shift
  if [ ! -f "$dir/build.ninja" ]; then
    cmake -S "$LOGPIPE_ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null ||
      { echo "logpipe: cmake configure failed" >&2; exit 1; }
  fi
  ninja -C "$dir" >"$dir/build.log" 2>&1 || { cat "$dir/build.log" >&2; exit 1; }
}

# scripts/fuzz: clang and libFuzzer; llvm-14 brings llvm-symbolizer for readable crash reports.
LOGPIPE_FUZZ_PACKAGES="clang-14 libclang-rt-14-dev llvm-14"

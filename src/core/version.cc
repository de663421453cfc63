// core_library_versions (include/logpipe/version.h). simdjson's and toml++'s parts live in the
// one file that includes each (jsonlog.cc, config.cc: tests/cli/layers.sh keeps it so).
#include "logpipe/version.h"

#include <fmt/format.h>
#include <openssl/crypto.h>

namespace logpipe {
namespace detail {
std::string simdjson_version();  // jsonlog.cc
std::string toml_version();      // config.cc (the one file that includes toml++)
std::string maxminddb_version();  // geoip.cc
}

std::string core_library_versions() {
  return fmt::format("{}, {}, {}, {}, fmt {}.{}.{}", detail::simdjson_version(), detail::toml_version(),
                     OpenSSL_version(OPENSSL_VERSION), detail::maxminddb_version(), FMT_VERSION / 10000,
                     FMT_VERSION / 100 % 100, FMT_VERSION % 100);
}

}  // namespace logpipe

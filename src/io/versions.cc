// io_library_versions (include/logpipe/io/endpoint.h): the io layer's libraries as found at run
// time (librdkafka, from kafka.cc, the one file that includes it; zstd, zlib) or built in (Boost).
#include "logpipe/io/endpoint.h"

#include "endpoint_factories.h"

#include <boost/version.hpp>
#include <fmt/format.h>
#include <zlib.h>
#include <zstd.h>

namespace logpipe {

std::string io_library_versions() {
  return fmt::format("librdkafka {}, zstd {}, zlib {}, Boost {}.{}.{}", detail::kafka_library_version(), ZSTD_versionString(),
                     zlibVersion(), BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000, BOOST_VERSION % 100);
}

}  // namespace logpipe

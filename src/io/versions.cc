// io_library_versions (include/logpipe/io/endpoint.h): the io layer's libraries as found at run
// time (librdkafka, zstd, zlib) or built in (Boost).
#include "logpipe/io/endpoint.h"

#include <boost/version.hpp>
#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <zlib.h>
#include <zstd.h>

namespace logpipe {

std::string io_library_versions() {
  return fmt::format("librdkafka {}, zstd {}, zlib {}, Boost {}.{}.{}", rd_kafka_version_str(), ZSTD_versionString(),
                     zlibVersion(), BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000, BOOST_VERSION % 100);
}

}  // namespace logpipe

// What `logpipe --version` reports about the libraries the binary was built with and runs on.
#pragma once

#include <string>

namespace logpipe {

/// "simdjson 3.0.1 (haswell), toml++ 3.3.0, OpenSSL 3.0.11 19 Sep 2023, fmt 9.1.0": the core's
/// libraries, with the simdjson kernel chosen for this CPU and the OpenSSL found at run time.
std::string core_library_versions();

}  // namespace logpipe

#include "logpipe/error.h"

#include <cstring>

namespace logpipe {

void system_error(int errnum, const std::string& what) {
  throw Error(kExitRuntime, fmt::format("{}: {}", what, std::strerror(errnum)));
}

}  // namespace logpipe

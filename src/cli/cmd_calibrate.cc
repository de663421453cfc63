// logpipe calibrate: not implemented yet (see its issue). Registered so that the command table is
// complete; running it says so and exits 1.
#include "cli/command.h"

#include "logpipe/error.h"

namespace logpipe::cli {

RunFn setup_calibrate(CLI::App& command) {
  return [] () -> int { runtime_error("'calibrate' is not implemented yet"); };
}

}  // namespace logpipe::cli

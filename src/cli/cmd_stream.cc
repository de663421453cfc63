// logpipe stream: not implemented yet (see its issue). Registered so that the command table is
// complete; running it says so and exits 1.
#include "cli/command.h"

#include "logpipe/error.h"

namespace logpipe::cli {

RunFn setup_stream(CLI::App& command) {
  return [] () -> int { runtime_error("'stream' is not implemented yet"); };
}

}  // namespace logpipe::cli

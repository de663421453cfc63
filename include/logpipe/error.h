// Setup errors: one exception type, caught in main and mapped to the exit codes of docs/reference.md.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace logpipe {

/// Exit codes of docs/reference.md.
enum ExitCode : int {
  kExitOk = 0,
  kExitRuntime = 1,  ///< I/O, network, broker
  kExitUsage = 2,    ///< bad option or argument
  kExitData = 3,     ///< malformed input under --strict
};

/// The one exception type for setup and runtime failures. Per-line code never throws it except
/// under --strict. The message names the file or endpoint (and the line for data errors).
class Error : public std::runtime_error {
 public:
  Error(int exit_code, std::string message)
      : std::runtime_error(std::move(message)), exit_code_(exit_code) {}
  /// The process exit code this error maps to.
  int exit_code() const noexcept { return exit_code_; }

 private:
  int exit_code_;
};

/// Throws a usage error (exit 2) with a formatted message.
template <typename... Args>
[[noreturn]] void usage_error(fmt::format_string<Args...> f, Args&&... args) {
  throw Error(kExitUsage, fmt::format(f, std::forward<Args>(args)...));
}

/// Throws a runtime error (exit 1) with a formatted message.
template <typename... Args>
[[noreturn]] void runtime_error(fmt::format_string<Args...> f, Args&&... args) {
  throw Error(kExitRuntime, fmt::format(f, std::forward<Args>(args)...));
}

/// Throws a runtime error (exit 1) for a failed system call, with strerror(errnum) appended.
[[noreturn]] void system_error(int errnum, const std::string& what);

}  // namespace logpipe

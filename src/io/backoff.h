// Internal: the retry delay of every output that reconnects (tcp://, tls://, alertmanager://):
// exponential, from `first` doubling to `max`, back to `first` after a success.
#pragma once

#include <algorithm>
#include <chrono>

namespace logpipe::detail {

class Backoff {
 public:
  using Duration = std::chrono::milliseconds;
  Backoff(Duration first, Duration max) : first_(first), max_(max), next_(first) {}
  /// The delay to wait before the next attempt; the one after is twice as long (up to max).
  Duration next() noexcept {
    Duration d = next_;
    next_ = std::min(next_ * 2, max_);
    return d;
  }
  /// After a success: the next failure waits `first` again.
  void reset() noexcept { next_ = first_; }

 private:
  Duration first_, max_, next_;
};

}  // namespace logpipe::detail

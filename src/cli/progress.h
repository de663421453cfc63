// The progress bar of long batch runs (analyze, calibrate), drawn on stderr only when it is a
// terminal: `[##########                    ]  34%  120.3 MB/s  ETA 0:42`, or, without a known
// size (stdin, a socket), `812.4 MB read  120.3 MB/s`. It has its own thread, reads a counter the
// readers bump, draws at most 10 times a second, and erases itself when destroyed.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

namespace logpipe::cli {

class ProgressBar {
 public:
  /// `done` returns the bytes processed so far (called from the bar's thread); `total` is 0 when
  /// unknown.
  ProgressBar(std::function<uint64_t()> done, uint64_t total);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

 private:
  void loop();
  std::function<uint64_t()> done_;
  uint64_t total_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace logpipe::cli

#include "cli/progress.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace logpipe::cli {

ProgressBar::ProgressBar(std::function<uint64_t()> done, uint64_t total) : done_(std::move(done)), total_(total) {
  thread_ = std::thread([this] { loop(); });
}

ProgressBar::~ProgressBar() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
  std::fputs("\r\x1b[K", stderr);
  std::fflush(stderr);
}

void ProgressBar::loop() {
  auto start = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  // The first frame is drawn at once (the user sees the bar even on a short run), then one every
  // 100 ms until the run ends.
  do {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    uint64_t done = done_();
    double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
    if (total_ > 0) {
      double f = std::min(1.0, static_cast<double>(done) / static_cast<double>(total_));
      int filled = static_cast<int>(f * 30);
      std::string eta;
      if (rate > 0 && f > 0.01 && secs >= 1) {
        auto left = static_cast<int64_t>(static_cast<double>(total_ - std::min(done, total_)) / rate + 0.5);
        eta = left >= 3600 ? fmt::format("  ETA {}:{:02}:{:02}", left / 3600, left / 60 % 60, left % 60)
                           : fmt::format("  ETA {}:{:02}", left / 60, left % 60);
      }
      fmt::print(stderr, "\r[{:#<{}}{:<{}}] {:3.0f}%  {:.1f} MB/s{}\x1b[K", "", filled, "", 30 - filled, f * 100,
                 rate / 1e6, eta);
    } else {
      fmt::print(stderr, "\r{:.1f} MB read  {:.1f} MB/s\x1b[K", static_cast<double>(done) / 1e6, rate / 1e6);
    }
    std::fflush(stderr);
  } while (!wake_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stop_; }));
}

}  // namespace logpipe::cli

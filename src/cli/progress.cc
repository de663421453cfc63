#include "cli/progress.h"

#include <fmt/format.h>

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace logpipe::cli {

bool escapes_ok(int fd) {
  const char* term = std::getenv("TERM");
  return ::isatty(fd) && term && *term && std::strcmp(term, "dumb") != 0;
}

bool color_wanted(std::string_view mode, int fd) {
  if (mode == "always") return true;
  if (mode == "never") return false;
  const char* no_color = std::getenv("NO_COLOR");
  return escapes_ok(fd) && !(no_color && *no_color);
}

size_t terminal_columns(int fd) {
  struct winsize ws {};
  if (!::isatty(fd)) return 0;  // a file or a pipe: no width (a pager's is not ours to guess)
  if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  if (const char* c = std::getenv("COLUMNS")) {
    size_t n = 0;
    auto [end, ec] = std::from_chars(c, c + std::strlen(c), n);
    if (ec == std::errc() && *end == '\0' && n > 0 && n < 100000) return n;
  }
  return 0;
}

ProgressBar::ProgressBar(std::function<uint64_t()> done, uint64_t total, bool escapes)
    : done_(std::move(done)), total_(total), escapes_(escapes) {
  thread_ = std::thread([this] { loop(); });
}

void ProgressBar::draw(const std::string& frame) {
  std::string line = "\r" + frame;
  if (escapes_) line += "\x1b[K";
  else if (frame.size() < drawn_) line.append(drawn_ - frame.size(), ' ');
  drawn_ = std::max(drawn_, frame.size());
  std::fputs(line.c_str(), stderr);
}

ProgressBar::~ProgressBar() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
  if (escapes_) std::fputs("\r\x1b[K", stderr);
  else std::fputs(("\r" + std::string(drawn_, ' ') + "\r").c_str(), stderr);
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
      draw(fmt::format("[{:#<{}}{:<{}}] {:3.0f}%  {:.1f} MB/s{}", "", filled, "", 30 - filled, f * 100, rate / 1e6, eta));
    } else {
      draw(fmt::format("{:.1f} MB read  {:.1f} MB/s", static_cast<double>(done) / 1e6, rate / 1e6));
    }
    std::fflush(stderr);
  } while (!wake_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stop_; }));
}

}  // namespace logpipe::cli

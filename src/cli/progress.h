// The progress bar of long batch runs (analyze, calibrate), drawn on stderr only when it is a
// terminal: `[##########                    ]  34%  120.3 MB/s  ETA 0:42`, or, without a known
// size (stdin, a socket), `812.4 MB read  120.3 MB/s`. It has its own thread, reads a counter the
// readers bump, draws at most 10 times a second, and erases itself when destroyed.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string_view>
#include <thread>

namespace logpipe::cli {

/// Whether `fd` is a terminal that takes ANSI escapes: a tty, with TERM set and not `dumb`.
bool escapes_ok(int fd);
/// `--color`: `always`, `never`, or `auto`: a terminal that takes escapes (escapes_ok), with
/// NO_COLOR unset or empty (no-color.org).
bool color_wanted(std::string_view mode, int fd);
/// The width of the terminal on `fd` (TIOCGWINSZ, else $COLUMNS); 0 when `fd` is no terminal.
size_t terminal_columns(int fd);

class ProgressBar {
 public:
  /// `done` returns the bytes processed so far (called from the bar's thread); `total` is 0 when
  /// unknown. Without escapes (TERM=dumb) the line is redrawn after `\r` and padded with spaces
  /// instead of erased with `ESC[K`.
  ProgressBar(std::function<uint64_t()> done, uint64_t total, bool escapes = true);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

 private:
  void loop();
  std::function<uint64_t()> done_;
  uint64_t total_;
  bool escapes_;
  size_t drawn_ = 0;  // length of the last frame (to pad over it without escapes)
  void draw(const std::string& frame);
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace logpipe::cli

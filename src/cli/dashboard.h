// `stream --dashboard`: the live board (logpipe/live.h) on the terminal, redrawn every second by
// its own thread with ncurses: the last window's figures, sparklines of requests/s and of the
// error rate (each on its own scale), the open alerts, and a table of the heaviest urls, users
// or IPs. Keys: q quit (as Ctrl-C), p pause, s sort (requests, errors, error rate), Tab the next
// table, / filter (Enter keeps it, Esc clears), Up/Down scroll.
//
// While it runs, stderr (warnings, --stats) goes to a pipe whose last lines are shown at the
// bottom of the screen; when it ends, everything that was written there is written to the real
// stderr, so nothing is lost.
#pragma once

#include <memory>
#include <string>

namespace logpipe {
class LiveBoard;
}

namespace logpipe::cli {

class Dashboard {
 public:
  /// Takes the terminal (stdin, stdout). Throws a usage Error when stdout is not a terminal or
  /// its TERM is unknown.
  Dashboard(const LiveBoard& board, std::string title);
  ~Dashboard();
  /// Gives the terminal back and writes the captured stderr out. Safe to call twice.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace logpipe::cli

// The window log: one JSON line per closed window with its global counts and metric values, for
// `stream --window-log` and `calibrate --window-log` (a dashboard's feed, a record of what the
// alerting saw, and how the commands are checked against one another and against analyze):
//
//   {"window_start":"2025-06-23T08:00:00Z","window_end":"2025-06-23T08:01:00Z","requests":1801,
//    "outcomes":1801,"errors":23,"server_errors":9,"error_rate":0.012770682954,
//    "server_error_rate":0.004997223765,"request_rate":30.016666666666666,"urls":412,"users":390,"ips":377}
//
// `outcomes` is the denominator of the error ratios (records with a status or a level,
// classify.h); `urls`, `users`, `ips` count the distinct keys of the window.
#pragma once

#include "logpipe/metrics.h"
#include "logpipe/sink.h"

#include <string>

namespace logpipe {

/// Writes every closed window to a sink, one JSON line each, flushed per window.
class WindowLog final : public WindowObserver {
 public:
  explicit WindowLog(ByteSink& sink) : sink_(sink) {}
  void on_window(const WindowView& window) override;

 private:
  ByteSink& sink_;
  std::string line_;
};

/// Appends the window-log line of a window (with its newline).
void append_window_json(std::string& out, const WindowView& window);

}  // namespace logpipe

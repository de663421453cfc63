// The live view of `stream`: what `--dashboard` (a terminal) and `--http-listen` (a browser, over
// Server-Sent Events) show while lines arrive. One board observes the closed windows and receives
// the alerts; both views read it, from their own threads.
//
//   closed window -> LiveWindow (totals, global rates, latency quantiles, the top keys of url,
//                    user and ip with their error rates) -> the last `keep` windows
//   alerts        -> the open ones (firing, not yet resolved), the counts fired and resolved
//
// Every number is the window engine's: a window's requests, errors and rates equal its
// --window-log line; the latency quantiles merge the window's per-url histograms (urls beyond
// --max-keys' latency bound have none).
#pragma once

#include "logpipe/alerts.h"
#include "logpipe/metrics.h"

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace logpipe {

/// One key of a window's top list.
struct LiveKey {
  std::string key;
  uint64_t requests = 0;
  uint64_t outcomes = 0;  ///< requests with a status or level (the error ratio's denominator)
  uint64_t errors = 0;
  double p99_ms = -1;     ///< urls with a latency histogram; -1 = none
};

/// The figures of one closed window.
struct LiveWindow {
  int64_t start_us = 0, end_us = 0;
  KeyStats totals;
  double error_rate = 0;    ///< errors / outcomes (0 without outcomes)
  double request_rate = 0;  ///< requests / window seconds
  double p50_ms = -1, p95_ms = -1, p99_ms = -1;  ///< -1: no record had a duration
  size_t urls = 0, users = 0, ips = 0;           ///< distinct keys
  /// Top keys by requests: [0] url, [1] user, [2] ip (the keyed dimensions' order).
  std::array<std::vector<LiveKey>, 3> top;
};

/// What a view shows at one moment.
struct LiveSnapshot {
  std::vector<LiveWindow> windows;  ///< oldest first
  std::vector<Alert> open;          ///< firing alerts not resolved yet, oldest first
  uint64_t fired = 0, resolved = 0;
  uint64_t version = 0;  ///< grows with every update (a view redraws when it changed)
};

class LiveBoard final : public WindowObserver, public AlertSink {
 public:
  /// Keeps the last `keep` windows and the `top` heaviest keys of each dimension.
  explicit LiveBoard(size_t keep = 120, size_t top = 20);

  void on_window(const WindowView& window) override;
  void send(std::span<const Alert> alerts) override;
  const std::string& name() const noexcept override { return name_; }

  LiveSnapshot snapshot() const;
  /// LiveSnapshot::version without the copy (a view asks it to know whether to redraw).
  uint64_t version() const;
  /// Called after every update, on the thread that updated, with the event as Server-Sent Events
  /// text (`event: window` or `event: alerts`, then `data: JSON`, a blank line). Set before use.
  void on_event(std::function<void(const std::string&)> listener) { listener_ = std::move(listener); }
  /// The events that bring a new client up to date: every kept window, then the alerts.
  std::string replay() const;

 private:
  mutable std::mutex mutex_;
  size_t keep_, top_;
  std::deque<LiveWindow> windows_;
  std::vector<Alert> open_;
  uint64_t fired_ = 0, resolved_ = 0, version_ = 0;
  std::function<void(const std::string&)> listener_;
  std::string name_ = "live view";
};

/// The JSON object of a window (one line, no newline): the data of an `event: window`.
void append_live_window_json(std::string& out, const LiveWindow& w);
/// The JSON object of the alerts: {"open":[...],"fired":N,"resolved":N}.
void append_live_alerts_json(std::string& out, const std::vector<Alert>& open, uint64_t fired, uint64_t resolved);

}  // namespace logpipe

namespace logpipe {

/// The page of `stream --http-listen` (served at /): one self-contained HTML file whose inline
/// script (its SHA-256 in the Content-Security-Policy) follows /events and redraws the cards, the
/// chart (requests and errors on their own axes) and the tables. Without scripts it says where
/// the values are (/metrics).
const std::string& live_page_html();

}  // namespace logpipe

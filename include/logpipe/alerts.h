// Alert episodes: the WindowObserver that `stream` plugs into the engine. A (metric, key) fires
// once when an eligible value goes strictly over its threshold, and resolves at the first later
// window where that no longer holds (back at or under the threshold, or the key fell under
// min_requests / vanished). Alerts are structs handed to AlertSinks; the JSON-lines form (the
// keys of the reference, in that order) is one of them.
#pragma once

#include "logpipe/metrics.h"
#include "logpipe/sink.h"

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace logpipe {

/// One alert event.
struct Alert {
  bool firing = true;  ///< false = resolved
  MetricId metric = kErrorRate;
  std::string key;     ///< "" for global metrics
  MetricValue value;
  double threshold = 0;
  int64_t window_start_us = 0;
  int64_t window_end_us = 0;
};

/// Where alerts go: stdout, files, tcp://, tls:// (JSON lines), kafka://, alertmanager://. Every
/// sink receives the alert structs and formats what it needs; none parses another's output. The
/// io layer opens them (io/alert_sinks.h).
class AlertSink {
 public:
  virtual ~AlertSink() = default;
  /// The alerts of one closed window (in metric, then key order). Delivers now, or queues for a
  /// background delivery (alertmanager://). Throws Error when delivery cannot succeed.
  virtual void send(std::span<const Alert> alerts) = 0;
  /// Waits until what was sent is delivered, as far as the sink can tell (Kafka: acknowledged).
  virtual void flush() {}
  /// Delivers what is left and finalises; throws Error naming what was not delivered. Safe to
  /// call twice.
  virtual void close() {}
  /// False while something sent is still on its way or was lost (a background sink whose queue
  /// overflowed): offsets must not be committed past it.
  virtual bool all_delivered() const noexcept { return true; }
  virtual const std::string& name() const noexcept = 0;
};

/// The JSON-lines sink over any byte sink (stdout, a file, tcp://, tls://): one SPEC.md line per
/// alert, flushed per window (an alert is only useful now).
class JsonLinesAlertSink final : public AlertSink {
 public:
  explicit JsonLinesAlertSink(std::unique_ptr<ByteSink> out) : out_(std::move(out)) {}
  void send(std::span<const Alert> alerts) override;
  void flush() override { out_->flush(); }
  void close() override { out_->close(); }
  bool all_delivered() const noexcept override { return out_->all_delivered(); }
  const std::string& name() const noexcept override { return out_->name(); }

 private:
  std::unique_ptr<ByteSink> out_;
  std::string text_;
};

/// Appends the SPEC.md JSON line for an alert (with its newline). Numbers are written in the
/// shortest form that reads back to the same double (`0.43333333333333335`, `2`).
void append_alert_json(std::string& out, const Alert& alert);

/// Evaluates thresholds on each closed window and tracks episodes.
class AlertEvaluator final : public WindowObserver {
 public:
  using Thresholds = std::array<std::optional<double>, kMetricCount>;
  /// `emit` receives the alerts of one window, sorted by metric (table order) then key, after
  /// the window closed; it runs on the engine's thread.
  AlertEvaluator(Thresholds thresholds, std::function<void(const std::vector<Alert>&)> emit);
  void on_window(const WindowView& window) override;

  /// Last closed window's value of each global metric (for --metrics-listen).
  const std::array<MetricValue, kMetricCount>& last_global() const noexcept { return last_global_; }
  /// The largest eligible value of each keyed metric in the last window and its key.
  const std::array<std::pair<std::string, MetricValue>, kMetricCount>& last_max() const noexcept {
    return last_max_;
  }
  int64_t last_window_end_us() const noexcept { return last_end_; }
  uint64_t fired() const noexcept { return fired_; }
  uint64_t resolved() const noexcept { return resolved_; }
  /// Episodes currently firing, all metrics.
  size_t firing() const noexcept;
  /// Calls f(MetricId, std::string_view key) for every firing episode.
  void for_each_firing(const std::function<void(MetricId, std::string_view)>& f) const;
  const Thresholds& thresholds() const noexcept { return thresholds_; }

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept;
  };
  using EpisodeMap = std::unordered_map<std::string, uint64_t, StringHash, std::equal_to<>>;

  Thresholds thresholds_;
  std::function<void(const std::vector<Alert>&)> emit_;
  std::array<EpisodeMap, kMetricCount> episodes_;  // firing key -> window number last seen over
  std::array<MetricValue, kMetricCount> last_global_{};
  std::array<std::pair<std::string, MetricValue>, kMetricCount> last_max_{};
  std::vector<Alert> pending_;
  uint64_t window_number_ = 0;
  int64_t last_end_ = 0;
  uint64_t fired_ = 0, resolved_ = 0;
};

}  // namespace logpipe

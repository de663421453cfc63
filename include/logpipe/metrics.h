// The windowed-metrics engine shared by `stream`, `calibrate` and `analyze` (docs/reference.md "stream").
//
// Records go in (add), event-time windows come out (WindowObserver::on_window). The engine
// counts per *pane* (a slice of gcd(window, hop) seconds): a record touches one pane whatever the
// hop, and a sliding window is the sum of its panes when it closes. Keys (url, user, ip) live in
// per-pane tables that are freed when the last window needing the pane closes, so an idle key
// costs nothing after its last window; a per-dimension cap (`max_keys`) keeps the heaviest keys
// of a pane when a flood of distinct keys arrives (see docs/stream.md for the accuracy bound).
//
// Every metric is defined once, in kMetrics: its name, its dimension, what it divides by what,
// and whether it needs an HTTP status. Everything else (evaluation, TOML keys, Prometheus names,
// calibrate's table) iterates that table.
#pragma once

#include "logpipe/aggregate.h"
#include "logpipe/classify.h"
#include "logpipe/record.h"
#include "logpipe/timeutil.h"

#include <array>
#include <bitset>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace logpipe {

/// How a metric's value is computed from a key's counters in one window.
enum class MetricKind : uint8_t {
  kErrorRatio,        ///< errors / requests with a status (or a level: application logs)
  kServerErrorRatio,  ///< 5xx / requests with a status
  kRequestRate,       ///< requests / window seconds (records without status count too)
  kP99LatencyMs,      ///< 99th percentile of duration_us / 1000 (records carrying a duration)
};

/// One row of the metric table.
struct MetricDef {
  std::string_view name;   ///< contract name (docs/reference.md), also the TOML table and Prometheus label
  Dimension dimension;     ///< global or the key it is computed per
  MetricKind kind;         ///< numerator / denominator
  bool needs_status;       ///< only records with an HTTP status feed it
  std::string_view unit;   ///< "ratio", "requests/s", "ms"
  uint64_t min_requests;   ///< default guard: below this many requests the value never alerts
  std::string_view help;   ///< one line for --help, Prometheus HELP, docs
  /// Prometheus: the window value is the family logpipe_window_<prometheus> (base units, as the
  /// naming guide asks: ratios, seconds), the value times prometheus_scale.
  std::string_view prometheus;
  double prometheus_scale;
  /// Alertmanager severity label unless the settings or --alert-severity say otherwise:
  /// site-wide errors page (critical), everything else is a warning.
  std::string_view severity;
};

/// Dense metric ids, in the order of kMetrics.
enum MetricId : uint8_t {
  kErrorRate,
  kServerErrorRate,
  kUrlErrorRate,
  kUserErrorRate,
  kIpErrorRate,
  kRequestRate,
  kIpRequestRate,
  kUserRequestRate,
  kUrlP99LatencyMs,
  kPrefixRequestRate,
  kMetricCount,
};

/// THE metric table: the one place a metric is defined.
inline constexpr std::array<MetricDef, kMetricCount> kMetrics = {{
    {"error_rate", Dimension::kGlobal, MetricKind::kErrorRatio, true, "ratio", 1,
     "errors / requests, all traffic",
     "error_ratio", 1.0, "critical"},
    {"server_error_rate", Dimension::kGlobal, MetricKind::kServerErrorRatio, true, "ratio", 1,
     "5xx / requests, all traffic",
     "server_error_ratio", 1.0, "critical"},
    {"url_error_rate", Dimension::kUrl, MetricKind::kErrorRatio, true, "ratio", 20,
     "errors / requests, per url (path without query)",
     "url_error_ratio", 1.0, "warning"},
    {"user_error_rate", Dimension::kUser, MetricKind::kErrorRatio, true, "ratio", 20,
     "errors / requests, per user (or session when no user)",
     "user_error_ratio", 1.0, "warning"},
    {"ip_error_rate", Dimension::kIp, MetricKind::kErrorRatio, true, "ratio", 20,
     "errors / requests, per client ip",
     "ip_error_ratio", 1.0, "warning"},
    {"request_rate", Dimension::kGlobal, MetricKind::kRequestRate, false, "requests/s", 1,
     "requests per second, all traffic",
     "requests_per_second", 1.0, "warning"},
    {"ip_request_rate", Dimension::kIp, MetricKind::kRequestRate, false, "requests/s", 1,
     "requests per second, per client ip",
     "ip_requests_per_second", 1.0, "warning"},
    {"user_request_rate", Dimension::kUser, MetricKind::kRequestRate, false, "requests/s", 1,
     "requests per second, per user (or session when no user)",
     "user_requests_per_second", 1.0, "warning"},
    {"url_p99_latency_ms", Dimension::kUrl, MetricKind::kP99LatencyMs, false, "ms", 20,
     "99th percentile of the response time in ms, per url (formats with a duration)",
     "url_p99_latency_seconds", 0.001, "warning"},
    {"prefix_request_rate", Dimension::kPrefix, MetricKind::kRequestRate, false, "requests/s", 1,
     "requests per second, per client network (/24 for IPv4, /48 for IPv6)",
     "prefix_requests_per_second", 1.0, "warning"},
}};

/// A value of metric m for people (alert summaries, terminals): a ratio as a percentage, a rate
/// in requests/s, a latency in ms or s, rounded to 3 significant digits ("12.3%", "250 req/s",
/// "1.25 s"), never a raw float.
std::string human_value(MetricId m, double value);

/// The id of a metric name, or kMetricCount when unknown.
MetricId find_metric(std::string_view name) noexcept;

/// A metric's value for one key (or for all traffic) in one window.
struct MetricValue {
  double value = 0;       ///< ratio, requests/s or ms
  uint64_t requests = 0;  ///< the denominator: requests with status for error ratios, every
                          ///< request for rates, latency samples for p99
  uint64_t errors = 0;    ///< errors of the key in the window (also reported for rates)
  bool eligible = false;  ///< requests >= the metric's min_requests (only eligible values alert)
};

/// The most panes (gcd(window, hop) slices) a window may span: each record is merged into every
/// window that holds it, so the cost per record grows with it (EngineConfig::validate refuses more).
inline constexpr int64_t kMaxPanesPerWindow = 120;

/// The most keys --max-keys may keep per dimension per pane (a larger cap is no cap at all:
/// --max-keys -1 used to turn the memory bound off, 981 MB instead of 86 MB).
inline constexpr size_t kMaxKeysLimit = 100'000'000;

/// Where each window setting came from, for messages: a flag, or `FILE:LINE: [window] KEY` of a
/// settings file (ThresholdConfig::origins).
struct SettingOrigins {
  std::string window = "--window";
  std::string hop = "--hop";
  std::string lateness = "--lateness";
  std::string max_keys = "--max-keys";
};

/// Settings of the engine. Thresholds are not here: they belong to what observes the windows.
struct EngineConfig {
  int64_t window_us = 60'000'000;   ///< window size
  int64_t hop_us = 0;               ///< start every hop; 0 = window_us (tumbling); <= window
  int64_t lateness_us = 5'000'000;  ///< a window closes when newest time >= end + lateness
  /// Keys kept per dimension per pane; the heaviest survive (KeyTable). The default keeps three
  /// dimensions of a few panes well under 250 MB.
  size_t max_keys = 200'000;
  /// Urls per pane that get a latency histogram (1.2 KB each); later urls of a full pane have
  /// no p99 in that pane.
  size_t max_latency_keys = 10'000;
  std::array<uint64_t, kMetricCount> min_requests = default_min_requests();
  /// What an error is (statuses, app-log levels): the one classification of classify.h.
  ErrorRules errors;

  static std::array<uint64_t, kMetricCount> default_min_requests() noexcept;
  /// Throws Error (usage) on an inconsistent configuration, naming the option or the file line
  /// each setting came from.
  void validate(const SettingOrigins& origins = {}) const;
};

class WindowEngine;

/// One closed window as observers see it. Valid only during on_window().
class WindowView {
 public:
  int64_t start_us() const noexcept { return start_us_; }
  int64_t end_us() const noexcept { return end_us_; }
  /// Counters of all traffic in the window.
  const KeyStats& totals() const noexcept { return pane_->totals; }
  /// The value of a global metric (kMetrics[m].dimension == kGlobal).
  MetricValue global(MetricId m) const noexcept;
  /// Calls f(std::string_view key, const MetricValue&) for every key of a keyed metric's
  /// dimension present in the window (eligible or not).
  template <typename F>
  void for_each_key(MetricId m, F&& f) const {
    const KeyTable& t = table(kMetrics[m].dimension);
    for (const auto& e : t.entries()) f(t.key(e), value_of(m, e));
  }
  /// The keys and counters of a keyed dimension in the window (kPrefix: derived from the ips).
  const KeyTable& table(Dimension d) const noexcept {
    return d == Dimension::kPrefix ? *prefixes_ : pane_->keys[dimension_index(d)];
  }
  /// Number of keys of a dimension in the window.
  size_t key_count(Dimension d) const noexcept { return table(d).size(); }
  /// The largest count a key of this dimension may have lost to the cap (0 = exact counts).
  uint64_t evicted_floor(Dimension d) const noexcept { return table(d).evicted_floor(); }
  /// The window's length in seconds.
  double seconds() const noexcept { return seconds_; }
  /// The metric value of a key's counters (an entry of table(kMetrics[m].dimension)).
  MetricValue value(MetricId m, const KeyTable::Entry& e) const noexcept { return value_of(m, e); }
  /// Index of a keyed dimension in [0, kKeyedDimensions).
  static size_t dimension_index(Dimension d) noexcept { return logpipe::dimension_index(d); }
  /// Everything counted in the window (totals, keys, latency), for observers that need more than
  /// metric values.
  const PaneAggregate& aggregate() const noexcept { return *pane_; }

 private:
  friend class WindowEngine;
  MetricValue value_of(MetricId m, const KeyTable::Entry& e) const noexcept;
  int64_t start_us_ = 0, end_us_ = 0;
  double seconds_ = 1;
  const PaneAggregate* pane_ = nullptr;
  const KeyTable* prefixes_ = nullptr;
  const std::array<uint64_t, kMetricCount>* min_requests_ = nullptr;
};

/// Receives windows as they close, in order of start time.
class WindowObserver {
 public:
  virtual ~WindowObserver() = default;
  virtual void on_window(const WindowView& window) = 0;
};

/// Hands every window to several observers, in the order given (alerts, then a window log...).
class ObserverList final : public WindowObserver {
 public:
  void add(WindowObserver& o) { observers_.push_back(&o); }
  void on_window(const WindowView& w) override {
    for (WindowObserver* o : observers_) o->on_window(w);
  }

 private:
  std::vector<WindowObserver*> observers_;
};

/// Running counts of the engine (for --stats, Prometheus, tests).
struct EngineStats {
  uint64_t records = 0;         ///< records counted in at least one window
  uint64_t late = 0;            ///< records whose every window had already closed (dropped)
  uint64_t replayed = 0;        ///< records of windows closed before a restart (resume): counted then
  uint64_t windows_closed = 0;  ///< windows handed to the observer
  uint64_t evicted_keys = 0;    ///< keys dropped by the cap, all panes so far
  uint64_t skipped_windows = 0; ///< empty windows not emitted inside a long silence
  int64_t max_time_us = kNoTime;  ///< newest event time seen, any source
  /// The smallest lateness that would have kept every late record (0 when none was late): what
  /// a batch command that can read its inputs again reruns with.
  int64_t needed_lateness_us = 0;
  size_t sources = 1;           ///< sources of event time registered and not removed
  size_t idle_sources = 0;      ///< of which idle
  size_t open_panes = 0;
  size_t tracked_keys = 0;      ///< keys held in open panes, all dimensions
};

/// A source of event time: a Kafka partition, a file, a socket server (WindowEngine::add_source).
using SourceId = uint32_t;

/// The engine. Not thread-safe: one thread adds, the observer runs on that thread.
///
/// Event time is tracked per source (as Flink does per partition): the watermark is the minimum,
/// over the active sources, of the newest time each has delivered (monotone), so that a backlog
/// read from several Kafka partitions in bursts gives the windows of the same lines read from one
/// file. A window closes when the watermark passes its end plus the lateness. An idle source
/// (caught up and quiet) or a removed one (a finished file, a revoked partition) stops holding the
/// watermark back; when every source is idle, the newest time of any source leads. Source 0
/// exists from the start: a single-source caller needs none of this.
class WindowEngine {
 public:
  WindowEngine(EngineConfig config, WindowObserver& observer);
  ~WindowEngine();
  WindowEngine(const WindowEngine&) = delete;
  WindowEngine& operator=(const WindowEngine&) = delete;

  enum class AddResult : uint8_t { kAdded, kLate, kNoTime };
  /// Counts one record of `source` in the windows it belongs to, then closes the windows that the
  /// new watermark makes complete. kLate: every window of the record had closed (dropped and
  /// counted). kNoTime: the record has no time (the caller counts it as malformed). A record
  /// makes an idle source active again.
  AddResult add(const Record& record, SourceId source = 0);
  /// Scale-out (docs/architecture.md, "Scale-out"): merges the aggregate of one pane of one
  /// source, published by the instance that read that source once the pane was complete by the
  /// lateness rule. kLate when every window holding the pane has closed (its records count as
  /// late). Its records count as added; the source's watermark moves only with set_progress().
  AddResult add_partial(SourceId source, int64_t pane_index, const PaneAggregate& partial);
  /// Panes starting beyond +-this (year ~146,000) are late in add_partial, before any arithmetic.
  static constexpr int64_t kMaxPartialTimeUs = int64_t{1} << 62;
  /// Scale-out: the newest event time the reader of `source` has read (the panes it completed
  /// were published before). Moves that source's watermark as a record of that time would.
  void set_progress(SourceId source, int64_t newest_us);
  /// The pane length: gcd(window, hop).
  int64_t pane_us() const noexcept { return pane_us_; }
  /// Registers another source, active, that holds the watermark until its first record (or
  /// until it is idle or removed).
  SourceId add_source();
  /// An idle source (caught up and quiet) stops holding the watermark back.
  void set_idle(SourceId source, bool idle);
  /// A source that ended (a file read to its end, a partition revoked): it no longer counts.
  void remove_source(SourceId source);
  /// The watermark before lateness: every active source has delivered up to this event time
  /// (kNoTime until they all delivered something). Monotone.
  int64_t frontier_us() const noexcept { return frontier_us_; }
  /// The watermark the sources' records alone give now (advance_to aside): the oldest newest time
  /// of the active sources, the newest of all when none is active; kNoTime while an active
  /// source has delivered nothing.
  int64_t data_frontier_us() const noexcept;
  /// Moves event time forward without a record (a live stream that went quiet): windows whose
  /// end + lateness <= time_us close. Never moves time backwards.
  void advance_to(int64_t time_us);
  /// Closes every open window (end of input, shutdown), in order: up to the window holding the
  /// newest record (windows after it that only advance_to reached stay unemitted).
  void flush();
  const EngineStats& stats() const noexcept;
  const EngineConfig& config() const noexcept { return config_; }
  /// Restarts (stream --state): the lowest window index not closed yet, or INT64_MIN when no
  /// window has closed. resume() gives a fresh engine that cursor: windows before it count as
  /// closed, and a record that only they hold (read again after a restart) is counted as
  /// `replayed`, not added a second time nor called late.
  int64_t next_window() const noexcept { return started_ && closed_any_ ? next_window_ : INT64_MIN; }
  void resume(int64_t next_window);

 private:
  struct Pane;
  Pane& pane_for(int64_t pane_index);
  void close_ready_windows();
  int64_t scan_frontier(SourceId& holder) const noexcept;
  void recompute_frontier();
  void reactivate(SourceId source);
  void note_time(SourceId source, int64_t t);
  void close_through(int64_t last_window);
  void close_window(int64_t window_index);
  void drop_dead_panes();

  EngineConfig config_;
  Classifier classifier_;
  WindowObserver& observer_;
  int64_t pane_us_;
  int64_t next_window_ = 0;  // lowest window index not closed yet (valid when started_)
  int64_t resumed_at_ = INT64_MIN;  // resume(): windows before it were closed by the previous run
  bool started_ = false;
  bool closed_any_ = false;
  int64_t empty_run_ = 0;  // consecutive empty windows closed
  int64_t newest_record_us_ = INT64_MIN;  // newest time of a counted record (advance_to aside)
  struct Source {
    int64_t newest = kNoTime;  // newest event time delivered
    bool idle = false;
    bool removed = false;
  };
  std::vector<Source> sources_;
  SourceId min_source_ = 0;        // the active source that holds the frontier
  int64_t frontier_us_ = kNoTime;  // the watermark before lateness (monotone)
  std::vector<std::unique_ptr<Pane>> panes_;  // open panes, ascending index
  std::vector<std::unique_ptr<Pane>> spare_;  // closed panes kept for reuse
  std::unique_ptr<Pane> merged_;              // scratch for sliding windows
  KeyTable prefixes_;                         // scratch: the window's ips by /24 or /48
  mutable EngineStats stats_;
};

}  // namespace logpipe

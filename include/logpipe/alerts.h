// Alert episodes: the WindowObserver that `stream` plugs into the engine. A (metric, key) fires
// once when its rule says so, and resolves when the rule says it is over (docs/detection.md):
// a fixed threshold (strictly above fires; at or under, or under min_requests, or the key
// vanished, resolves) or a statistical rule (CusumRule). Alerts are grouped into incidents and
// handed to AlertSinks as structs; the JSON-lines form (the keys of the reference, in that
// order, then incident and, for statistical rules, baseline, score and limit) is one of them.
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
  /// Fixed rule: the threshold. Statistical rule: the value above which a window adds evidence
  /// (given the key's baseline), in the metric's unit.
  double threshold = 0;
  int64_t window_start_us = 0;
  int64_t window_end_us = 0;
  std::string incident;  ///< the incident it belongs to (alerts of one cause share it)
  /// Statistical rules only (statistical == true): the key's baseline, in the metric's unit, and
  /// the evidence against it with the limit it passed (or fell under).
  bool statistical = false;
  double baseline = 0;
  double score = 0;
  double limit = 0;
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

/// Appends the human line for an alert (with its newline; values by human_value, metrics.h):
/// `2025-06-23 08:05:00Z  FIRING    url_error_rate /checkout  62.5% > 30.0%  (25 of 40 requests)  incident ...`
void append_alert_text(std::string& out, const Alert& alert);

/// Appends the docs/reference.md JSON line for an alert (with its newline). Numbers are written in the
/// shortest form that reads back to the same double (`0.43333333333333335`, `2`).
void append_alert_json(std::string& out, const Alert& alert);

/// One line per alert over any byte sink (stdout, a file, tcp://, tls://), flushed per window (an
/// alert is only useful now). The line is the docs/reference.md JSON line (append_alert_json, the
/// default), or the human line for a terminal (append_alert_text: stream's stdout on a tty, or
/// --output-format text; not a contract, scripts read the JSON).
class LineAlertSink final : public AlertSink {
 public:
  using Format = void (*)(std::string&, const Alert&);
  explicit LineAlertSink(std::unique_ptr<ByteSink> out, Format format = append_alert_json)
      : out_(std::move(out)), format_(format) {}
  void send(std::span<const Alert> alerts) override;
  void flush() override { out_->flush(); }
  void close() override { out_->close(); }
  bool all_delivered() const noexcept override { return out_->all_delivered(); }
  const std::string& name() const noexcept override { return out_->name(); }

 private:
  std::unique_ptr<ByteSink> out_;
  Format format_;
  std::string text_;
};

/// A statistical rule (docs/detection.md): per key, a CUSUM of the log-likelihood ratio that the
/// key's window shifted from its baseline to `shift` times it, with two sensitivities (fast: a
/// large shift, caught in one window; slow: a doubling, caught over several windows). A key pages
/// when either sum passes its limit, and resolves when both fall under half of it (hysteresis).
///
/// - error ratios: binomial (errors of the requests with an outcome) against the key's baseline
///   ratio, which starts at `prior` and follows the key (an exponential average over
///   `half_life` windows, frozen while it pages). While the site-wide error_rate pages, keys are
///   tested against the site's current ratio: only those worse than the site stand out.
/// - request rates: Poisson, over-dispersion allowed (`dispersion`). Global: against the recent
///   rate (an average over `half_life` windows, started by the second window of the run: the first
///   may be partial). Per ip, user, prefix: against the larger of `prior`, the requests the
///   heaviest keys of the history made in a window, and `prior_share` of the window's requests
///   (the share they took): a visitor's pace does not grow with the traffic, shared addresses do.
/// - url_p99_latency_ms: binomial on the requests slower than `latency_factor` x the url's
///   baseline median (its own median, followed as above; `prior` is the share of such slow
///   requests in the history): works with a few requests per minute.
struct CusumRule {
  double limit_fast = 0, limit_slow = 0;  ///< log-likelihood limits, set by calibrate
  double prior = 0;                       ///< see above, from the history
  double prior_weight = 200;              ///< how many requests the prior weighs in a key's baseline
  double fast_shift = 6;                  ///< the large shift (a multiple of the baseline)
  double slow_shift = 2;                  ///< the small shift
  double fast_leak = 0.5;                 ///< share of the fast evidence kept from one window to the next
  double slow_leak = 0.95;                ///< share of the slow evidence kept (sparse evidence never adds up)
  double prior_share = 0;                 ///< keyed rates: the heaviest keys' share of a window's requests
  double half_life = 60;                  ///< windows
  double latency_factor = 6;              ///< latency: slow = this many times the url's median
  double dispersion = 1;                  ///< global request rate: variance / mean of the history
  double min_expected = 2;                ///< keyed rates: a key is expected to reach this many requests
};

/// How one metric pages: not at all, above a fixed threshold, or by a statistical rule.
struct MetricRule {
  std::optional<double> threshold;  ///< fixed: an eligible value strictly above it pages
  std::optional<CusumRule> cusum;   ///< statistical (what calibrate writes)
  bool active() const noexcept { return threshold.has_value() || cusum.has_value(); }
};

/// The rules of every metric, and what the history taught about known keys.
struct AlertRules {
  std::array<MetricRule, kMetricCount> metrics{};
  /// Per metric, the baselines of keys the history knew well: key -> baseline (an error ratio, a
  /// median latency in microseconds); a key without one starts from the rule's prior.
  std::array<std::unordered_map<std::string, double>, kMetricCount> baselines{};
  /// Windows after the last alert of an incident during which a new alert joins it.
  uint64_t incident_gap_windows = 3;
};

/// What a calibration learns while the evaluator watches a history with no limits (learning
/// mode): per metric and sensitivity, the largest evidence per window.
struct EvidenceTrace {
  std::array<std::vector<double>, kMetricCount> fast, slow;  ///< one value per window observed
};

/// Evaluates the rules on each closed window, tracks episodes per (metric, key), and groups
/// alerts into incidents: a firing alert that comes while another incident is open joins it, so
/// that one cause pages once. Open means an alert of it is firing, or, for an alert of the same
/// kind (errors, request rates, latency) as one of its alerts, that the last one resolved at most
/// incident_gap_windows ago (a tail or a flap of the same cause). The incident id is the window
/// start and metric of its first alert.
class AlertEvaluator final : public WindowObserver {
 public:
  using Thresholds = std::array<std::optional<double>, kMetricCount>;
  /// `emit` receives the alerts of one window, sorted by metric (table order) then key, after
  /// the window closed; it runs on the engine's thread.
  AlertEvaluator(AlertRules rules, std::function<void(const std::vector<Alert>&)> emit);
  /// Fixed thresholds only (the original rule).
  AlertEvaluator(Thresholds thresholds, std::function<void(const std::vector<Alert>&)> emit);
  ~AlertEvaluator() override;
  void on_window(const WindowView& window) override;

  /// Learning mode (calibrate): statistical rules compute their evidence but never page, and the
  /// largest evidence of each window goes to `trace` (after `warmup` windows).
  void learn(EvidenceTrace* trace, uint64_t warmup_windows) noexcept {
    trace_ = trace;
    warmup_ = warmup_windows;
  }
  /// The baselines the keys reached (for calibrate to write the heavy ones): key, baseline and
  /// weight (requests seen), per metric.
  struct LearnedBaseline {
    std::string key;
    double baseline;
    double weight;
  };
  std::vector<LearnedBaseline> learned_baselines(MetricId m) const;
  /// The site-wide baselines reached: global error ratio, 5xx ratio, requests per window.
  double global_baseline(MetricId m) const;
  /// Calibration: the rules may change between windows (priors set after a warm-up).
  AlertRules& mutable_rules() noexcept { return rules_; }
  /// Calibration: forgets the evidence gathered so far (baselines are kept).
  void reset_evidence() noexcept;

  /// Last closed window's value of each global metric (for --metrics-listen).
  const std::array<MetricValue, kMetricCount>& last_global() const noexcept { return last_global_; }
  /// The largest eligible value of each keyed metric in the last window and its key.
  const std::array<std::pair<std::string, MetricValue>, kMetricCount>& last_max() const noexcept {
    return last_max_;
  }
  /// Keep, per keyed metric, the `n` largest eligible values of each window and their keys
  /// (stream --metrics-top-keys; 0, the default, keeps only last_max()).
  void keep_top_keys(size_t n) noexcept { top_keys_ = n; }
  /// The last window's top keys of a keyed metric, largest first (at most keep_top_keys).
  const std::vector<std::pair<std::string, MetricValue>>& last_top(MetricId m) const noexcept {
    return last_top_[m];
  }
  int64_t last_window_end_us() const noexcept { return last_end_; }
  uint64_t fired() const noexcept { return fired_; }
  uint64_t resolved() const noexcept { return resolved_; }
  /// Distinct incidents opened so far (what pages a person).
  uint64_t incidents() const noexcept { return incidents_; }
  /// Episodes currently firing, all metrics.
  size_t firing() const noexcept;
  /// Calls f(MetricId, std::string_view key) for every firing episode.
  void for_each_firing(const std::function<void(MetricId, std::string_view)>& f) const;
  /// The fixed thresholds (nullopt for metrics without one, statistical ones included).
  const Thresholds& thresholds() const noexcept { return thresholds_; }

  /// Restarts (stream --state): everything an evaluation carries from one window to the next
  /// (episodes, evidence, baselines, the open incident, counters) as text, and back. A restored
  /// evaluator continues as if it had never stopped: an episode that was firing stays firing (no
  /// resolved, no second page). restore_state throws Error naming what is wrong; it must be given
  /// to a fresh evaluator.
  std::string save_state() const;
  void restore_state(std::string_view text);
  const AlertRules& rules() const noexcept { return rules_; }

 private:
  struct State;
  struct Tables;
  void evaluate_fixed(MetricId m, const WindowView& w);
  void evaluate_cusum(MetricId m, const WindowView& w);
  void push(bool firing, MetricId m, std::string_view key, const MetricValue& v, double threshold,
            const WindowView& w, State* st);
  std::string open_incident(MetricId m, const WindowView& w);

  AlertRules rules_;
  Thresholds thresholds_{};
  std::function<void(const std::vector<Alert>&)> emit_;
  std::unique_ptr<Tables> tables_;
  std::array<MetricValue, kMetricCount> last_global_{};
  std::array<std::pair<std::string, MetricValue>, kMetricCount> last_max_{};
  size_t top_keys_ = 0;
  std::array<std::vector<std::pair<std::string, MetricValue>>, kMetricCount> last_top_{};
  std::vector<Alert> pending_;
  uint64_t window_number_ = 0;
  int64_t last_end_ = 0;
  uint64_t fired_ = 0, resolved_ = 0, incidents_ = 0;
  // The open incident: its id, and the last window in which one of its alerts fired or was firing.
  std::string incident_;
  uint64_t incident_active_window_ = 0;
  size_t incident_members_firing_ = 0;
  unsigned incident_families_ = 0;  // kinds of metric among its alerts (errors 1, rates 2, latency 4)
  std::vector<uint8_t> has_state_;  // evaluate_cusum: scratch, one flag per key of a window
  EvidenceTrace* trace_ = nullptr;
  uint64_t warmup_ = 0;
};

}  // namespace logpipe

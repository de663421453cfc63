// Threshold calibration (docs/reference.md "calibrate"): a WindowObserver on the one metrics engine that
// keeps one value per window and metric, and the rule that turns those values into thresholds.
//
// The promise checked by replay: `stream --config` over the same history fires a metric in at
// most floor(target x windows) windows. A window's value is, for a global metric, the window's
// value when eligible; for a keyed metric, the largest value over its eligible keys (the window
// fires when any key fires). Windows without an eligible value ("none") never fire. With n
// windows and k = floor(target x n), the threshold is the (n-k)-th smallest value, nones first:
// at most k values are strictly above it, and ties only make it fire less.
//
// min_requests of the keyed error ratios is chosen from the data (see choose_min_requests): the
// observer keeps a window's maximum for each level of a small ladder, so one pass suffices.
//
// Exact values are kept while they fit a budget of windows; past it every collector folds its
// values into a DDSketch (QuantileSketch) whose threshold keeps the promise exactly and is within
// a stated relative error of the exact one.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "logpipe/alerts.h"
#include "logpipe/classify.h"
#include "logpipe/metrics.h"

namespace logpipe {

/// DDSketch (Masson, Rim, Lee, VLDB 2019) for non-negative values: bucket i holds the values in
/// (gamma^(i-1), gamma^i] with gamma = (1+a)/(1-a), so any quantile is estimated within a relative
/// error a. Each bucket also keeps its largest value, which lets threshold_at_rank() return an
/// actual value with an exact count above it. Mergeable (same accuracy): counts add.
class QuantileSketch {
 public:
  /// `relative_accuracy` in (0, 0.5).
  explicit QuantileSketch(double relative_accuracy = 0.01);
  /// Adds one value; negative values count as 0.
  void add(double value) noexcept;
  /// Adds the values of another sketch of the same accuracy (throws Error otherwise).
  void merge(const QuantileSketch& other);
  uint64_t count() const noexcept { return count_; }
  double relative_accuracy() const noexcept { return accuracy_; }
  /// Estimate of the nearest-rank q-quantile (the ceil(q * count)-th smallest value), within
  /// the relative accuracy. 0 when empty.
  double quantile(double q) const noexcept;
  /// The largest value of the bucket that holds the rank-th smallest value (1-based). It is at
  /// least that value and at most gamma times it (relative error <= 2a / (1 - a)).
  double threshold_at_rank(uint64_t rank) const noexcept;
  /// Number of values strictly above `t`, exact when t was returned by threshold_at_rank (the
  /// buckets above it hold only larger values); an upper bound otherwise.
  uint64_t count_above(double t) const noexcept;
  /// Largest value added (0 when empty).
  double max() const noexcept { return max_; }

 private:
  struct Bucket {
    uint64_t count = 0;
    double max = 0;
  };
  int index_of(double value) const noexcept;
  double gamma_, log_gamma_, accuracy_;
  uint64_t zeros_ = 0;  // values == 0
  uint64_t count_ = 0;
  double max_ = 0;
  int offset_ = 0;  // index of buckets_[0]
  std::vector<Bucket> buckets_;
};

/// Quantiles and the chosen threshold of one collector (one metric at one min_requests level).
struct ValueSummary {
  uint64_t windows = 0;           ///< every window observed
  uint64_t eligible_windows = 0;  ///< windows with a value (an eligible key, for keyed metrics)
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;  ///< over the eligible windows
  /// Nullopt when no window had a value (the metric cannot be calibrated: it never alerts).
  std::optional<double> threshold;
  uint64_t firing_windows = 0;  ///< windows whose value is strictly above the threshold
  bool exact = true;            ///< false: quantiles and threshold come from the sketch
};

/// The values of one metric at one min_requests level, one per window: exact until the owner
/// calls to_sketch(), a QuantileSketch after.
class WindowValues {
 public:
  void add(double value) {
    exact_ ? values_.push_back(value) : sketch_.add(value);
    ++windows_;
  }
  void add_none() noexcept { ++windows_; }
  /// Folds the exact values into the sketch and frees them.
  void to_sketch(double relative_accuracy);
  bool exact() const noexcept { return exact_; }
  /// Applies the threshold rule with k = floor(target_rate * windows).
  ValueSummary summarize(double target_rate) const;

 private:
  bool exact_ = true;
  uint64_t windows_ = 0;
  std::vector<double> values_;
  QuantileSketch sketch_;
};

/// k = floor(target_rate * windows): the windows a metric may fire in.
uint64_t allowed_firing_windows(double target_rate, uint64_t windows) noexcept;

/// The threshold rule on exact values: `values` are the windows with a value (reordered), and
/// `windows - values.size()` more windows have none. Returns the (n-k)-th smallest value with
/// nones first (a none counts as 0, the smallest possible value); nullopt when values is empty.
std::optional<double> choose_threshold(std::vector<double>& values, uint64_t windows,
                                       double target_rate);

/// How calibrate runs.
struct CalibrationOptions {
  double target_rate = 0.01;
  /// Per metric, a fixed min_requests (from --min-requests); unset = the documented rule.
  std::array<std::optional<uint64_t>, kMetricCount> min_requests{};
  /// Exact values are kept for up to this many windows; then the sketch. 0 = sketch at once.
  uint64_t exact_windows = 262'144;
  double sketch_accuracy = 0.01;
};

/// One row of the result: what `calibrate` prints and writes for a metric.
struct MetricCalibration {
  MetricId metric = kErrorRate;
  uint64_t min_requests = 1;
  /// How min_requests was set: "fixed" (--min-requests), "rule" (chosen from the data),
  /// "default" (the metric table's default).
  std::string min_requests_source;
  ValueSummary summary;
};

/// The min_requests levels tried for the keyed error ratios (the ladder of the rule).
inline constexpr std::array<uint64_t, 7> kMinRequestsLadder = {10, 20, 50, 100, 200, 500, 1000};
/// The rule accepts the smallest level whose threshold is at most this (a key failing on more
/// than half of its requests can alert).
inline constexpr double kRatioThresholdCeiling = 0.5;

/// The observer: collects per-window values for every metric (and every ladder level).
/// The engine it observes must run with EngineConfig::min_requests all at most the smallest
/// level used (engine_min_requests() gives them); eligibility is decided here from `requests`.
class Calibrator final : public WindowObserver {
 public:
  explicit Calibrator(CalibrationOptions options);
  void on_window(const WindowView& window) override;
  /// min_requests to give the engine (1 for every metric: eligibility is decided here).
  static std::array<uint64_t, kMetricCount> engine_min_requests() noexcept;
  /// One row per metric, in kMetrics order, after the rule picked min_requests.
  std::vector<MetricCalibration> results() const;
  /// Windows holding at least one record: the windows calibrated over (and the n of the rule).
  uint64_t windows() const noexcept { return windows_; }
  /// Windows without any record (gaps in the history), skipped: `stream` cannot fire in them,
  /// and counting them would let a sparse history's thresholds fire in most busy windows.
  uint64_t empty_windows() const noexcept { return empty_windows_; }
  int64_t first_window_start_us() const noexcept { return first_start_us_; }
  int64_t last_window_end_us() const noexcept { return last_end_us_; }
  /// True once the values moved to the sketch (more windows than exact_windows).
  bool sketched() const noexcept { return sketched_; }

 private:
  struct Collector {
    MetricId metric;
    std::vector<uint64_t> levels;      // ascending min_requests levels
    std::vector<WindowValues> values;  // one per level
    std::vector<double> best;          // scratch: max per level in the current window
    std::vector<bool> has;             // scratch
    std::string source;                // "fixed", "rule", "default"
  };
  CalibrationOptions options_;
  std::array<Collector, kMetricCount> collectors_;
  uint64_t windows_ = 0;
  uint64_t empty_windows_ = 0;
  int64_t first_start_us_ = 0, last_end_us_ = 0;
  bool sketched_ = false;
};

/// How the statistical calibration runs (the default of `calibrate`; docs/detection.md).
struct RuleCalibrationOptions {
  double target_rate = 0.01;         ///< at most this share of the history's windows may hold a page
  double false_pages_per_day = 0.2;  ///< what the limits aim at on new days, all metrics together
  uint64_t warmup_windows = 60;      ///< windows with traffic that set the priors before evidence counts
  int64_t hop_us = 60'000'000;       ///< the engine's hop: windows per day
};

/// One metric's statistical rule and what the history showed of it.
struct RuleCalibration {
  MetricId metric = kErrorRate;
  CusumRule rule;
  double max_fast = 0, max_slow = 0;  ///< the largest evidence of any key in any window
  double q95_fast = 0, q95_slow = 0;  ///< the 95th percentile of the per-window largest evidence
  double expected_pages_per_day = 0;  ///< windows a day expected over a limit on traffic like the history's
  uint64_t history_windows_over = 0;  ///< windows of the history whose evidence passed a limit
  uint64_t baselines = 0;             ///< known keys written with their own baseline
};

/// The observer of statistical calibration: a warm-up sets every metric's prior (the site's error
/// ratios, its request rate and how much it varies, the requests the heaviest keys make),
/// then an AlertEvaluator in learning mode watches the rest of the history with no limit, and the
/// limits are set above the largest evidence it saw, at the level where the tail of that
/// evidence predicts `false_pages_per_day` (at least 10% above the history's worst).
class RuleCalibrator final : public WindowObserver {
 public:
  explicit RuleCalibrator(RuleCalibrationOptions options);
  ~RuleCalibrator() override;
  void on_window(const WindowView& window) override;
  /// One row per metric (kMetrics order), limits set.
  std::vector<RuleCalibration> results() const;
  /// The rules to write: every metric's CusumRule with its limits, the baselines of known keys.
  AlertRules rules() const;
  uint64_t windows() const noexcept { return windows_; }
  uint64_t empty_windows() const noexcept { return empty_windows_; }
  int64_t first_window_start_us() const noexcept { return first_start_us_; }
  int64_t last_window_end_us() const noexcept { return last_end_us_; }
  /// Share of the history's windows (after the warm-up) that held any page with the limits set.
  double history_page_share() const;

 private:
  void end_warmup();
  RuleCalibrationOptions options_;
  AlertRules rules_;
  EvidenceTrace trace_;
  std::unique_ptr<AlertEvaluator> evaluator_;
  uint64_t windows_ = 0, empty_windows_ = 0;
  int64_t first_start_us_ = 0, last_end_us_ = 0;
  // Warm-up sums.
  uint64_t with_status_ = 0, errors_ = 0, server_errors_ = 0;
  std::vector<double> requests_;  // per warm-up window
  std::array<std::vector<double>, kMetricCount> top_counts_;  // keyed rates: the heaviest key's requests per window
  std::array<std::vector<double>, kMetricCount> top_shares_;  // and its share of the window
  bool warm_ = false;
};

/// What a calibration run saw, for the file's comments and the reports.
struct CalibrationInfo {
  std::vector<std::string> inputs;  ///< as given on the command line
  std::string generated_at;         ///< RFC 3339 time written in the file's header
  uint64_t records = 0, malformed = 0, late = 0, no_time = 0;
  int64_t window_us = 60'000'000, hop_us = 60'000'000;
  double target_rate = 0.01;
  uint64_t windows = 0;        ///< windows with at least one record
  uint64_t empty_windows = 0;  ///< windows without records, between the first and the last
  int64_t first_start_us = 0, last_end_us = 0;
  bool sketched = false;
  double sketch_accuracy = 0.01;
  ErrorRules errors;  ///< what counted as an error (written as [errors] when not the default)
  std::string where;  ///< --where: the history was only the records it kept (said in the header)
};
/// The header line of a rules file calibrated on filtered records ("" when no --where).
std::string where_comment(const CalibrationInfo& info);

/// The part of a rules file both rule kinds share: the window, and the error rules the history was
/// classified with when they are not the defaults (stream must classify the same way).
struct ThresholdConfig;  // config.h
ThresholdConfig history_config(const CalibrationInfo& info);

/// The thresholds file: `#` comments saying how and when it was computed, `[window]`, and a
/// `[metrics.NAME]` table (threshold, min_requests) per calibrated metric, written with
/// format_threshold_config so that load_threshold_config reads the exact same doubles back.
std::string format_calibration_toml(const CalibrationInfo& info,
                                    const std::vector<MetricCalibration>& results);
/// The human table: one row per metric (windows, eligible, min_requests, p50 ... max,
/// threshold, firing windows, alert rate).
std::string format_calibration_table(const CalibrationInfo& info,
                                     const std::vector<MetricCalibration>& results);
/// The same as one JSON object (`--report json`), numbers in shortest round-trip form.
std::string format_calibration_json(const CalibrationInfo& info,
                                    const std::vector<MetricCalibration>& results);
/// "a, b, c and 3 more" for messages and comments.
std::string describe_inputs(const std::vector<std::string>& inputs);

/// The thresholds file of a statistical calibration: what each rule means in `#` comments, then
/// the rules and the baselines of known keys, written with format_threshold_config.
std::string format_rules_toml(const CalibrationInfo& info, const std::vector<RuleCalibration>& results,
                              const AlertRules& rules, double history_page_share, double false_pages_per_day);
/// The human table of a statistical calibration: per metric the prior, the limits, the history's
/// worst evidence, expected false pages per day, and the totals.
std::string format_rules_table(const CalibrationInfo& info, const std::vector<RuleCalibration>& results,
                               double history_page_share, double false_pages_per_day);
/// The same as one JSON object.
std::string format_rules_json(const CalibrationInfo& info, const std::vector<RuleCalibration>& results,
                              double history_page_share, double false_pages_per_day);

}  // namespace logpipe

// Threshold calibration: per-window values, the threshold rule, the min_requests rule and the
// DDSketch used when the history has too many windows to keep exactly. See calibrate.h.
#include "logpipe/calibrate.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "logpipe/config.h"
#include "logpipe/error.h"
#include "logpipe/report.h"
#include "logpipe/text.h"
#include "logpipe/timeutil.h"

namespace logpipe {

// ---------------------------------------------------------------------------------------------
// QuantileSketch

namespace {
// Positive values are indexed between 1e-12 and 1e15 (ratios, rates, milliseconds all fit);
// values outside share the edge buckets, whose max still keeps threshold_at_rank exact.
constexpr double kMinIndexed = 1e-12;
constexpr double kMaxIndexed = 1e15;
}  // namespace

QuantileSketch::QuantileSketch(double relative_accuracy) : accuracy_(relative_accuracy) {
  if (!(relative_accuracy > 0 && relative_accuracy < 0.5))
    usage_error("sketch accuracy must be in (0, 0.5), got {}", relative_accuracy);
  gamma_ = (1 + relative_accuracy) / (1 - relative_accuracy);
  log_gamma_ = std::log(gamma_);
}

int QuantileSketch::index_of(double v) const noexcept {
  v = std::clamp(v, kMinIndexed, kMaxIndexed);
  // ceil(log_gamma(v)): bucket i holds (gamma^(i-1), gamma^i]. std::log is monotone, so the
  // index never decreases when the value grows: a bucket above another holds only larger values.
  return static_cast<int>(std::ceil(std::log(v) / log_gamma_));
}

void QuantileSketch::add(double v) noexcept {
  ++count_;
  if (!(v > 0)) {  // 0, negative, NaN
    ++zeros_;
    return;
  }
  max_ = std::max(max_, v);
  int i = index_of(v);
  if (buckets_.empty()) {
    offset_ = i;
    buckets_.resize(1);
  } else if (i < offset_) {
    buckets_.insert(buckets_.begin(), static_cast<size_t>(offset_ - i), Bucket{});
    offset_ = i;
  } else if (static_cast<size_t>(i - offset_) >= buckets_.size()) {
    buckets_.resize(static_cast<size_t>(i - offset_) + 1);
  }
  Bucket& b = buckets_[static_cast<size_t>(i - offset_)];
  ++b.count;
  b.max = std::max(b.max, v);
}

void QuantileSketch::merge(const QuantileSketch& o) {
  if (o.accuracy_ != accuracy_)
    runtime_error("cannot merge sketches of accuracy {} and {}", accuracy_, o.accuracy_);
  if (o.buckets_.empty()) {
    zeros_ += o.zeros_;
    count_ += o.count_;
    return;
  }
  int lo = buckets_.empty() ? o.offset_ : std::min(offset_, o.offset_);
  int hi = buckets_.empty() ? o.offset_ + static_cast<int>(o.buckets_.size())
                            : std::max(offset_ + static_cast<int>(buckets_.size()),
                                       o.offset_ + static_cast<int>(o.buckets_.size()));
  std::vector<Bucket> merged(static_cast<size_t>(hi - lo));
  auto fold = [&](const std::vector<Bucket>& from, int offset) {
    for (size_t k = 0; k < from.size(); ++k) {
      Bucket& b = merged[static_cast<size_t>(offset - lo) + k];
      b.count += from[k].count;
      b.max = std::max(b.max, from[k].max);
    }
  };
  fold(buckets_, offset_);
  fold(o.buckets_, o.offset_);
  buckets_.swap(merged);
  offset_ = lo;
  zeros_ += o.zeros_;
  count_ += o.count_;
  max_ = std::max(max_, o.max_);
}

double QuantileSketch::threshold_at_rank(uint64_t rank) const noexcept {
  if (count_ == 0 || rank <= zeros_) return 0;
  uint64_t seen = zeros_;
  for (const Bucket& b : buckets_) {
    seen += b.count;
    if (seen >= rank) return b.max;
  }
  return max_;
}

double QuantileSketch::quantile(double q) const noexcept {
  if (count_ == 0) return 0;
  auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_) - 1e-9));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  if (rank <= zeros_) return 0;
  uint64_t seen = zeros_;
  for (size_t k = 0; k < buckets_.size(); ++k) {
    seen += buckets_[k].count;
    if (seen >= rank) {
      // The DDSketch estimate 2 gamma^i / (gamma + 1) is within the relative accuracy of every
      // value of bucket i; it cannot exceed the bucket's largest value.
      double estimate = 2 * std::pow(gamma_, offset_ + static_cast<int>(k)) / (gamma_ + 1);
      return std::min(estimate, buckets_[k].max);
    }
  }
  return max_;
}

uint64_t QuantileSketch::count_above(double t) const noexcept {
  if (t < 0) return count_;
  if (t == 0) return count_ - zeros_;
  const int i = index_of(t);
  uint64_t above = 0;
  for (size_t k = 0; k < buckets_.size(); ++k) {
    const int index = offset_ + static_cast<int>(k);
    // Bucket i may straddle t: counted whole unless its largest value is not above t.
    if (index > i || (index == i && buckets_[k].max > t)) above += buckets_[k].count;
  }
  return above;
}

// ---------------------------------------------------------------------------------------------
// The threshold rule

uint64_t allowed_firing_windows(double target_rate, uint64_t windows) noexcept {
  // The small slack absorbs binary rounding (0.29 * 100 = 28.999999999999996).
  double k = std::floor(target_rate * static_cast<double>(windows) + 1e-9);
  if (k < 0) return 0;
  return std::min<uint64_t>(static_cast<uint64_t>(k), windows);
}

std::optional<double> choose_threshold(std::vector<double>& values, uint64_t windows,
                                       double target_rate) {
  if (values.empty()) return std::nullopt;
  windows = std::max<uint64_t>(windows, values.size());
  const uint64_t k = allowed_firing_windows(target_rate, windows);
  const uint64_t nones = windows - values.size();
  if (k >= windows) return 0.0;       // target 1: anything goes; 0 is the smallest value
  const uint64_t rank = windows - k;  // 1-based, nones first
  if (rank <= nones) return 0.0;      // at most k windows have a value at all
  auto nth = values.begin() + static_cast<ptrdiff_t>(rank - nones - 1);
  std::nth_element(values.begin(), nth, values.end());
  return *nth;
}

namespace {

// Nearest rank on sorted values: the ceil(q * n)-th smallest.
double nearest_rank(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size()) - 1e-9));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

}  // namespace

void WindowValues::to_sketch(double relative_accuracy) {
  if (!exact_) return;
  sketch_ = QuantileSketch(relative_accuracy);
  for (double v : values_) sketch_.add(v);
  std::vector<double>().swap(values_);
  exact_ = false;
}

ValueSummary WindowValues::summarize(double target_rate) const {
  ValueSummary s;
  s.windows = windows_;
  s.exact = exact_;
  if (exact_) {
    s.eligible_windows = values_.size();
    if (values_.empty()) return s;
    std::vector<double> sorted = values_;
    std::sort(sorted.begin(), sorted.end());
    s.p50 = nearest_rank(sorted, 0.5);
    s.p90 = nearest_rank(sorted, 0.9);
    s.p99 = nearest_rank(sorted, 0.99);
    s.p999 = nearest_rank(sorted, 0.999);
    s.max = sorted.back();
    std::vector<double> work = sorted;  // choose_threshold reorders its input
    s.threshold = choose_threshold(work, windows_, target_rate);
    s.firing_windows = static_cast<uint64_t>(
        sorted.end() - std::upper_bound(sorted.begin(), sorted.end(), *s.threshold));
    return s;
  }
  s.eligible_windows = sketch_.count();
  if (sketch_.count() == 0) return s;
  s.p50 = sketch_.quantile(0.5);
  s.p90 = sketch_.quantile(0.9);
  s.p99 = sketch_.quantile(0.99);
  s.p999 = sketch_.quantile(0.999);
  s.max = sketch_.max();
  const uint64_t k = allowed_firing_windows(target_rate, windows_);
  const uint64_t nones = windows_ - sketch_.count();
  const uint64_t rank = windows_ - std::min(k, windows_);
  s.threshold = (k >= windows_ || rank <= nones) ? 0.0 : sketch_.threshold_at_rank(rank - nones);
  s.firing_windows = sketch_.count_above(*s.threshold);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Calibrator

namespace {

bool uses_ladder(MetricId m) noexcept {
  return kMetrics[m].dimension != Dimension::kGlobal && kMetrics[m].kind == MetricKind::kErrorRatio;
}

}  // namespace

std::array<uint64_t, kMetricCount> Calibrator::engine_min_requests() noexcept {
  std::array<uint64_t, kMetricCount> m{};
  m.fill(1);
  return m;
}

Calibrator::Calibrator(CalibrationOptions options) : options_(std::move(options)) {
  if (!(options_.target_rate > 0 && options_.target_rate < 1))
    usage_error("--target-rate: must be in (0, 1), got {}", options_.target_rate);
  for (size_t i = 0; i < kMetricCount; ++i) {
    auto m = static_cast<MetricId>(i);
    Collector& c = collectors_[i];
    c.metric = m;
    if (options_.min_requests[i]) {
      c.levels = {std::max<uint64_t>(*options_.min_requests[i], 1)};
      c.source = "fixed";
    } else if (uses_ladder(m)) {
      c.levels.assign(kMinRequestsLadder.begin(), kMinRequestsLadder.end());
      c.source = "rule";
    } else {
      c.levels = {std::max<uint64_t>(kMetrics[m].min_requests, 1)};
      c.source = "default";
    }
    c.values.resize(c.levels.size());
    c.best.resize(c.levels.size());
    c.has.resize(c.levels.size());
    if (options_.exact_windows == 0)
      for (auto& v : c.values) v.to_sketch(options_.sketch_accuracy);
  }
  sketched_ = options_.exact_windows == 0;
}

void Calibrator::on_window(const WindowView& w) {
  if (windows_ + empty_windows_ == 0) first_start_us_ = w.start_us();
  last_end_us_ = w.end_us();
  if (w.global(kRequestRate).requests == 0) {  // a gap in the history: no record, no value
    ++empty_windows_;
    return;
  }
  ++windows_;
  if (!sketched_ && windows_ > options_.exact_windows) {
    for (auto& c : collectors_)
      for (auto& v : c.values) v.to_sketch(options_.sketch_accuracy);
    sketched_ = true;
  }
  for (Collector& c : collectors_) {
    const size_t levels = c.levels.size();
    std::fill(c.has.begin(), c.has.end(), false);
    // A value with `requests` meets every level <= requests; record it at the highest such level,
    // then carry maxima down the ladder (a key eligible at 100 is eligible at 20).
    auto offer = [&](const MetricValue& v) {
      if (v.requests == 0) return;
      auto it = std::upper_bound(c.levels.begin(), c.levels.end(), v.requests);
      if (it == c.levels.begin()) return;  // under the smallest level
      size_t top = static_cast<size_t>(it - c.levels.begin()) - 1;
      if (!c.has[top] || v.value > c.best[top]) {
        c.best[top] = v.value;
        c.has[top] = true;
      }
    };
    if (kMetrics[c.metric].dimension == Dimension::kGlobal) {
      offer(w.global(c.metric));
    } else {
      w.for_each_key(c.metric, [&](std::string_view, const MetricValue& v) { offer(v); });
    }
    for (size_t l = levels; l-- > 1;) {
      if (c.has[l] && (!c.has[l - 1] || c.best[l] > c.best[l - 1])) {
        c.best[l - 1] = c.best[l];
        c.has[l - 1] = true;
      }
    }
    for (size_t l = 0; l < levels; ++l) {
      if (c.has[l])
        c.values[l].add(c.best[l]);
      else
        c.values[l].add_none();
    }
  }
}

// The min_requests rule for keyed error ratios (documented in docs/calibrate.md): the smallest
// ladder level at which (1) more than k windows have an eligible key, so the threshold is set by
// real values rather than by empty windows, and (2) the threshold is at most 0.5. Small keys are
// noisy (one error in 10 requests is 10%), so low levels give thresholds near 1 that no incident
// can exceed; high levels hide small keys. If no level meets both, the level with the lowest
// threshold among those meeting (1); if none meets (1), the metric table's default.
std::vector<MetricCalibration> Calibrator::results() const {
  std::vector<MetricCalibration> out;
  for (const Collector& c : collectors_) {
    MetricCalibration r;
    r.metric = c.metric;
    r.min_requests_source = c.source;
    std::vector<ValueSummary> summaries;
    for (const auto& v : c.values) summaries.push_back(v.summarize(options_.target_rate));
    size_t pick = 0;
    if (c.levels.size() > 1) {
      const uint64_t k = allowed_firing_windows(options_.target_rate, windows_);
      std::optional<size_t> first_ok, lowest;
      for (size_t l = 0; l < c.levels.size(); ++l) {
        const ValueSummary& s = summaries[l];
        if (!s.threshold || s.eligible_windows <= k) continue;
        if (!first_ok && *s.threshold <= kRatioThresholdCeiling) first_ok = l;
        if (!lowest || *s.threshold < *summaries[*lowest].threshold) lowest = l;
      }
      if (first_ok) {
        pick = *first_ok;
      } else if (lowest) {
        pick = *lowest;
      } else {
        auto def = std::find(c.levels.begin(), c.levels.end(), kMetrics[c.metric].min_requests);
        pick = def == c.levels.end() ? 0 : static_cast<size_t>(def - c.levels.begin());
        r.min_requests_source = "default";
      }
    }
    r.min_requests = c.levels[pick];
    r.summary = summaries[pick];
    out.push_back(std::move(r));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Output: the thresholds file and the reports

namespace {

// A number for tables: 4 significant digits, no exponent for ordinary magnitudes.
std::string short_number(double v) { return fmt::format("{:.4g}", v); }

std::string metric_comment(const MetricCalibration& r) {
  const ValueSummary& s = r.summary;
  std::string rule = r.min_requests_source == "rule"
                         ? "chosen by the rule: smallest level with threshold <= 0.5"
                         : (r.min_requests_source == "fixed" ? "from --min-requests" : "default");
  return fmt::format(
      "{} of {} windows eligible; p50 {}, p99 {}, max {}; above the threshold in {} windows "
      "({:.3g}%); min_requests {}{}",
      s.eligible_windows, s.windows, short_number(s.p50), short_number(s.p99), short_number(s.max),
      s.firing_windows,
      s.windows ? 100.0 * static_cast<double>(s.firing_windows) / static_cast<double>(s.windows)
                : 0.0,
      rule, s.exact ? "" : "; from the sketch");
}

}  // namespace

std::string where_comment(const CalibrationInfo& info) {
  if (info.where.empty()) return {};
  std::string expr = info.where;
  for (char& c : expr)
    if (c == '\n' || c == '\r') c = ' ';
  return fmt::format("# Only the records kept by --where '{}': stream with the same --where.\n", expr);
}

std::string describe_inputs(const std::vector<std::string>& inputs) {
  std::string s;
  size_t shown = std::min<size_t>(inputs.size(), 5);
  for (size_t i = 0; i < shown; ++i) s += (i ? ", " : "") + inputs[i];
  if (inputs.size() > shown) s += fmt::format(" and {} more", inputs.size() - shown);
  return s;
}

ThresholdConfig history_config(const CalibrationInfo& info) {
  ThresholdConfig config;
  config.window_us = info.window_us;
  if (info.hop_us != info.window_us) config.hop_us = info.hop_us;
  const ErrorRules defaults;
  if (info.errors.statuses != defaults.statuses) config.error_statuses = info.errors.statuses;
  if (info.errors.levels != defaults.levels) {
    config.error_levels = info.errors.levels;
    config.has_error_levels = true;
  }
  return config;
}

std::string format_calibration_toml(const CalibrationInfo& info,
                                    const std::vector<MetricCalibration>& results) {
  ThresholdConfig config = history_config(info);
  std::array<std::string, kMetricCount> comments;
  std::string not_calibrated;
  for (const auto& r : results) {
    if (!r.summary.threshold) {
      not_calibrated +=
          fmt::format("{}{}", not_calibrated.empty() ? "" : ", ", kMetrics[r.metric].name);
      continue;
    }
    config.metrics[r.metric].threshold = *r.summary.threshold;
    config.metrics[r.metric].min_requests = r.min_requests;
    comments[r.metric] = metric_comment(r);
  }
  const uint64_t k = allowed_firing_windows(info.target_rate, info.windows);
  std::string out;
  out += fmt::format("# Alert thresholds written by `logpipe calibrate` (logpipe {}) on {}.\n",
                     LOGPIPE_VERSION, info.generated_at);
  out += fmt::format("# History: {} ({} records, {} windows of {}s", describe_inputs(info.inputs),
                     info.records, info.windows, info.window_us / 1'000'000);
  if (info.hop_us != info.window_us) out += fmt::format(" every {}s", info.hop_us / 1'000'000);
  out += " with traffic";
  if (info.empty_windows) out += fmt::format(" and {} empty ones skipped", info.empty_windows);
  if (info.windows)
    out += fmt::format(", {} to {}", format_rfc3339(info.first_start_us),
                       format_rfc3339(info.last_end_us));
  out += ").\n";
  out += where_comment(info);
  out += fmt::format(
      "# Rule: for each metric, the smallest threshold that the window's value is strictly above "
      "in\n"
      "# at most floor({} x {}) = {} windows (target rate {}). A keyed metric's window value is "
      "its\n"
      "# largest over the keys with at least min_requests requests.\n",
      info.target_rate, info.windows, k, info.target_rate);
  if (info.sketched)
    out += fmt::format(
        "# Values from a DDSketch (relative accuracy {}): each threshold is at most {:.2g}% above "
        "the\n"
        "# exact one and still fires in at most {} windows.\n",
        info.sketch_accuracy, 200 * info.sketch_accuracy / (1 - info.sketch_accuracy), k);
  if (!not_calibrated.empty())
    out += fmt::format(
        "# Not calibrated (no window had an eligible value, so they never alert): {}.\n",
        not_calibrated);
  out += "# Use: logpipe stream --config THIS_FILE\n\n";
  out += format_threshold_config(config, &comments);
  return out;
}

std::string format_calibration_table(const CalibrationInfo& info,
                                     const std::vector<MetricCalibration>& results) {
  std::string out =
      fmt::format("{} windows of {}s with traffic{}, target rate {} (at most {} firing windows per "
                  "metric)\n",
                  info.windows, info.window_us / 1'000'000,
                  info.empty_windows ? fmt::format(" ({} empty ones skipped)", info.empty_windows)
                                     : std::string(),
                  info.target_rate, allowed_firing_windows(info.target_rate, info.windows));
  out += fmt::format("{:<19} {:>8} {:>8} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>7} {:>7}\n",
                     "metric", "windows", "eligible", "min_req", "p50", "p90", "p99", "p99.9",
                     "max", "threshold", "firing", "rate");
  for (const auto& r : results) {
    const ValueSummary& s = r.summary;
    if (!s.threshold) {
      out +=
          fmt::format("{:<19} {:>8} {:>8} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>7} {:>7}\n",
                      kMetrics[r.metric].name, s.windows, 0, r.min_requests, "-", "-", "-", "-",
                      "-", "none", "-", "-");
      continue;
    }
    double rate =
        s.windows ? static_cast<double>(s.firing_windows) / static_cast<double>(s.windows) : 0;
    out += fmt::format(
        "{:<19} {:>8} {:>8} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>7} {:>6.2f}%\n",
        kMetrics[r.metric].name, s.windows, s.eligible_windows, r.min_requests, short_number(s.p50),
        short_number(s.p90), short_number(s.p99), short_number(s.p999), short_number(s.max),
        short_number(*s.threshold), s.firing_windows, 100 * rate);
  }
  if (info.sketched)
    out += fmt::format("(quantiles from a DDSketch, relative accuracy {})\n", info.sketch_accuracy);
  return out;
}

std::string format_calibration_json(const CalibrationInfo& info,
                                    const std::vector<MetricCalibration>& results) {
  std::string out = "{";
  fmt::format_to(
      std::back_inserter(out),
      R"("target_rate":{},"window_s":{},"hop_s":{},"windows":{},"empty_windows":{},"allowed_firing_windows":{},)",
      info.target_rate, info.window_us / 1'000'000, info.hop_us / 1'000'000, info.windows,
      info.empty_windows, allowed_firing_windows(info.target_rate, info.windows));
  if (info.windows) {
    fmt::format_to(std::back_inserter(out), R"("first_window_start":"{}","last_window_end":"{}",)",
                   format_rfc3339(info.first_start_us), format_rfc3339(info.last_end_us));
  }
  fmt::format_to(std::back_inserter(out),
                 R"("records":{},"malformed":{},"late":{},"exact":{},"files":[)", info.records,
                 info.malformed, info.late, info.sketched ? "false" : "true");
  for (size_t i = 0; i < info.inputs.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, info.inputs[i]);
  }
  out += R"(],"metrics":[)";
  for (size_t i = 0; i < results.size(); ++i) {
    const MetricCalibration& r = results[i];
    const ValueSummary& s = r.summary;
    if (i) out += ',';
    fmt::format_to(
        std::back_inserter(out),
        R"({{"metric":"{}","dimension":"{}","windows":{},"eligible_windows":{},"min_requests":{},"min_requests_source":"{}",)",
        kMetrics[r.metric].name, dimension_name(kMetrics[r.metric].dimension), s.windows,
        s.eligible_windows, r.min_requests, r.min_requests_source);
    if (s.threshold) {
      fmt::format_to(
          std::back_inserter(out),
          R"("p50":{},"p90":{},"p99":{},"p99_9":{},"max":{},"threshold":{},"firing_windows":{},"alert_rate":{}}})",
          s.p50, s.p90, s.p99, s.p999, s.max, *s.threshold, s.firing_windows,
          s.windows ? static_cast<double>(s.firing_windows) / static_cast<double>(s.windows) : 0.0);
    } else {
      out +=
          R"("p50":null,"p90":null,"p99":null,"p99_9":null,"max":null,"threshold":null,"firing_windows":0,"alert_rate":0})";
    }
  }
  out += "]}\n";
  return out;
}

}  // namespace logpipe

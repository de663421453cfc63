// Statistical calibration (calibrate.h, RuleCalibrator): priors from a warm-up, evidence from an
// AlertEvaluator in learning mode, limits from the tail of that evidence; and its reports.
#include "logpipe/calibrate.h"

#include "logpipe/config.h"
#include "logpipe/text.h"
#include "logpipe/timeutil.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace logpipe {
namespace {

constexpr double kTailQuantile = 0.95;
constexpr double kMinLimit = 6.9;      // ln(1000): evidence of at least 1000 to 1
constexpr double kAboveWorst = 1.1;    // a limit is at least 10% above the history's worst
constexpr size_t kMaxRatioBaselines = 500;
constexpr size_t kMaxLatencyBaselines = 2000;
constexpr double kMinBaselineWeight = 100;  // requests (ratios) or samples (latency) behind a baseline
constexpr double kLatencyPrior = 0.02;      // share of requests slower than latency_factor x their url's median

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(k), v.end());
  return v[k];
}

// The limit of one sensitivity from its per-window evidence, and the false alarms expected per
// day above it: an exponential tail fitted above the 95th percentile.
struct Limit {
  double limit, q95, max, per_day;
};
Limit fit_limit(const std::vector<double>& values, double windows_per_day, double target_per_day) {
  Limit l{kMinLimit, 0, 0, 0};
  if (values.empty()) return l;
  l.q95 = quantile(values, kTailQuantile);
  l.max = *std::max_element(values.begin(), values.end());
  double sum = 0;
  size_t n = 0;
  for (double v : values)
    if (v > l.q95) {
      sum += v - l.q95;
      ++n;
    }
  const double beta = n ? std::max(sum / static_cast<double>(n), 0.5) : std::max(0.5, (l.max - l.q95) / 2);
  const double tail = 1 - kTailQuantile;
  const double wanted = l.q95 + beta * std::log(std::max(1.0, tail * windows_per_day / target_per_day));
  l.limit = std::max({wanted, l.max * kAboveWorst + 1, kMinLimit});
  l.per_day = windows_per_day * tail * std::exp(-(l.limit - l.q95) / beta);
  return l;
}

bool printable(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

bool has_key_baselines(MetricId m) {
  return m == kUrlErrorRate || m == kUserErrorRate || m == kIpErrorRate || m == kUrlP99LatencyMs;
}

}  // namespace

RuleCalibrator::RuleCalibrator(RuleCalibrationOptions options) : options_(options) {
  for (size_t m = 0; m < kMetricCount; ++m) {
    CusumRule r;
    r.prior = kMetrics[m].kind == MetricKind::kP99LatencyMs ? kLatencyPrior : 0.01;
    rules_.metrics[m].cusum = r;
  }
  evaluator_ = std::make_unique<AlertEvaluator>(rules_, [](const std::vector<Alert>&) {});
  evaluator_->learn(&trace_, UINT64_MAX);  // no evidence counts before the warm-up ends
}

RuleCalibrator::~RuleCalibrator() = default;

void RuleCalibrator::on_window(const WindowView& w) {
  if (windows_ + empty_windows_ == 0) first_start_us_ = w.start_us();
  last_end_us_ = w.end_us();
  const KeyStats& t = w.totals();
  if (t.requests == 0) {  // a gap in the history: no record, nothing to learn (stream cannot page)
    ++empty_windows_;
    return;
  }
  ++windows_;
  if (!warm_) {
    with_status_ += t.with_status;
    errors_ += t.errors;
    server_errors_ += t.server_errors;
    requests_.push_back(static_cast<double>(t.requests));
    for (size_t m = 0; m < kMetricCount; ++m) {
      if (kMetrics[m].kind != MetricKind::kRequestRate || kMetrics[m].dimension == Dimension::kGlobal) continue;
      uint64_t top = 0;
      for (const auto& e : w.table(kMetrics[m].dimension).entries()) top = std::max(top, e.stats.requests);
      top_counts_[m].push_back(static_cast<double>(top));
      top_shares_[m].push_back(static_cast<double>(top) / static_cast<double>(t.requests));
    }
  }
  evaluator_->on_window(w);
  if (!warm_ && windows_ >= options_.warmup_windows) end_warmup();
}

// The priors, from the warm-up: the site's ratios, its request rate and dispersion, the share the
// heaviest keys take (the 90th percentile over windows: a key above it is unusually heavy).
void RuleCalibrator::end_warmup() {
  warm_ = true;
  AlertRules& r = evaluator_->mutable_rules();
  const double error_ratio = with_status_ ? static_cast<double>(errors_) / static_cast<double>(with_status_) : 0.01;
  const double server_ratio =
      with_status_ ? static_cast<double>(server_errors_) / static_cast<double>(with_status_) : 0.005;
  const double mean = std::accumulate(requests_.begin(), requests_.end(), 0.0) / static_cast<double>(requests_.size());
  // Dispersion from consecutive differences: a slow daily cycle does not count as noise.
  double diff2 = 0;
  for (size_t i = 1; i < requests_.size(); ++i) diff2 += (requests_[i] - requests_[i - 1]) * (requests_[i] - requests_[i - 1]);
  const double var = requests_.size() > 1 ? diff2 / (2.0 * static_cast<double>(requests_.size() - 1)) : mean;
  for (size_t m = 0; m < kMetricCount; ++m) {
    CusumRule& c = *r.metrics[m].cusum;
    switch (kMetrics[m].kind) {
      case MetricKind::kErrorRatio: c.prior = error_ratio; break;
      case MetricKind::kServerErrorRatio: c.prior = server_ratio; break;
      case MetricKind::kRequestRate:
        if (kMetrics[m].dimension == Dimension::kGlobal) {
          c.prior = mean;
          c.dispersion = mean > 0 ? std::max(1.0, var / mean) : 1;
        } else {
          c.prior = std::max(quantile(top_counts_[m], 0.9), 1.0);
          c.prior_share = quantile(top_shares_[m], 0.9);
        }
        break;
      case MetricKind::kP99LatencyMs: break;
    }
  }
  evaluator_->reset_evidence();
  evaluator_->learn(&trace_, 0);
  requests_.clear();
  for (auto& v : top_shares_) v.clear();
  for (auto& v : top_counts_) v.clear();
}

std::vector<RuleCalibration> RuleCalibrator::results() const {
  std::vector<RuleCalibration> out;
  const double per_day = 86'400e6 / static_cast<double>(options_.hop_us);
  const double per_detector = options_.false_pages_per_day / (2.0 * static_cast<double>(kMetricCount));
  const AlertRules& learned = evaluator_->rules();
  const AlertRules final_rules = rules();
  for (size_t m = 0; m < kMetricCount; ++m) {
    RuleCalibration c;
    c.metric = static_cast<MetricId>(m);
    c.rule = *learned.metrics[m].cusum;
    Limit fast = fit_limit(trace_.fast[m], per_day, per_detector);
    Limit slow = fit_limit(trace_.slow[m], per_day, per_detector);
    c.rule.limit_fast = fast.limit;
    c.rule.limit_slow = slow.limit;
    c.max_fast = fast.max;
    c.max_slow = slow.max;
    c.q95_fast = fast.q95;
    c.q95_slow = slow.q95;
    c.expected_pages_per_day = fast.per_day + slow.per_day;
    for (size_t i = 0; i < trace_.fast[m].size(); ++i)
      c.history_windows_over += trace_.fast[m][i] > fast.limit || trace_.slow[m][i] > slow.limit;
    c.baselines = final_rules.baselines[m].size();
    out.push_back(c);
  }
  return out;
}

double RuleCalibrator::history_page_share() const {
  const std::vector<RuleCalibration> r = results();
  size_t n = 0;
  for (size_t m = 0; m < kMetricCount; ++m) n = std::max(n, trace_.fast[m].size());
  if (n == 0) return 0;
  size_t over = 0;
  for (size_t i = 0; i < n; ++i) {
    bool any = false;
    for (size_t m = 0; m < kMetricCount && !any; ++m)
      any = i < trace_.fast[m].size() &&
            (trace_.fast[m][i] > r[m].rule.limit_fast || trace_.slow[m][i] > r[m].rule.limit_slow);
    over += any;
  }
  return static_cast<double>(over) / static_cast<double>(n);
}

AlertRules RuleCalibrator::rules() const {
  AlertRules r = evaluator_->rules();
  // Limits are set by results(); a copy without them would page on everything.
  const double per_day = 86'400e6 / static_cast<double>(options_.hop_us);
  const double per_detector = options_.false_pages_per_day / (2.0 * static_cast<double>(kMetricCount));
  for (size_t m = 0; m < kMetricCount; ++m) {
    r.metrics[m].cusum->limit_fast = fit_limit(trace_.fast[m], per_day, per_detector).limit;
    r.metrics[m].cusum->limit_slow = fit_limit(trace_.slow[m], per_day, per_detector).limit;
    r.baselines[m].clear();
    if (!has_key_baselines(static_cast<MetricId>(m))) continue;
    // Known keys: a ratio baseline only for keys clearly worse than the site (the prior serves
    // the others); every well-seen url's median latency.
    const bool latency = kMetrics[m].kind == MetricKind::kP99LatencyMs;
    std::vector<AlertEvaluator::LearnedBaseline> learned = evaluator_->learned_baselines(static_cast<MetricId>(m));
    std::vector<AlertEvaluator::LearnedBaseline> kept;
    for (auto& b : learned)
      if (b.weight >= kMinBaselineWeight && printable(b.key) && (latency || b.baseline > 2 * r.metrics[m].cusum->prior))
        kept.push_back(std::move(b));
    std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
      return a.weight != b.weight ? a.weight > b.weight : a.key < b.key;
    });
    kept.resize(std::min(kept.size(), latency ? kMaxLatencyBaselines : kMaxRatioBaselines));
    for (const auto& b : kept) r.baselines[m].emplace(b.key, b.baseline);
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// Reports

namespace {

std::string g4(double v) { return fmt::format("{:.4g}", v); }

// What a rule means, for the file's comments and the table.
std::string meaning(MetricId m, const CusumRule& r) {
  const MetricDef& d = kMetrics[m];
  const std::string who = d.dimension == Dimension::kGlobal ? "the site"
                          : d.dimension == Dimension::kIp  ? "an ip"
                                                           : "a " + std::string(dimension_name(d.dimension));
  switch (d.kind) {
    case MetricKind::kErrorRatio:
    case MetricKind::kServerErrorRatio:
      return fmt::format("pages when {}'s {} ratio rises to {}x its baseline in one window, or to {}x over several; "
                         "baseline: its own ratio, starting at the site's {}",
                         who, d.kind == MetricKind::kErrorRatio ? "error" : "5xx", g4(r.fast_shift), g4(r.slow_shift),
                         g4(r.prior));
    case MetricKind::kRequestRate:
      if (d.dimension == Dimension::kGlobal)
        return fmt::format("pages when the site's requests per window rise to {}x the recent level (started at {}), "
                           "or {}x over several windows",
                           g4(r.fast_shift), g4(r.prior), g4(r.slow_shift));
      return fmt::format("pages when {} makes {}x the requests the heaviest ones made in a window of the history ({}, "
                         "or {} of the window's requests when more)",
                         who, g4(r.fast_shift), g4(r.prior), g4(r.prior_share));
    case MetricKind::kP99LatencyMs:
      return fmt::format("pages when more of a url's requests than usual ({}) are slower than {}x its median",
                         g4(r.prior), g4(r.latency_factor));
  }
  return "";
}

}  // namespace

std::string format_rules_toml(const CalibrationInfo& info, const std::vector<RuleCalibration>& results,
                              const AlertRules& rules, double history_page_share, double false_pages_per_day) {
  ThresholdConfig config = history_config(info);
  std::array<std::string, kMetricCount> comments;
  double expected = 0;
  for (const auto& r : results) {
    config.metrics[r.metric].cusum = rules.metrics[r.metric].cusum;
    comments[r.metric] = fmt::format("{}.\n# The history's worst evidence: {} (fast), {} (slow); expected false pages a day: {:.2g}",
                                     meaning(r.metric, *rules.metrics[r.metric].cusum), g4(r.max_fast), g4(r.max_slow),
                                     r.expected_pages_per_day);
    expected += r.expected_pages_per_day;
    for (const auto& [key, value] : rules.baselines[r.metric]) config.baselines[r.metric].emplace_back(key, value);
    std::sort(config.baselines[r.metric].begin(), config.baselines[r.metric].end());
  }
  std::string out;
  out += fmt::format("# Alert rules written by `logpipe calibrate` (logpipe {}) on {}.\n", LOGPIPE_VERSION,
                     info.generated_at);
  out += fmt::format("# History: {} ({} records, {} windows of {}s with traffic", describe_inputs(info.inputs),
                     info.records, info.windows, info.window_us / 1'000'000);
  if (info.empty_windows) out += fmt::format(" and {} empty ones skipped", info.empty_windows);
  if (info.windows)
    out += fmt::format(", {} to {}", format_rfc3339(info.first_start_us), format_rfc3339(info.last_end_us));
  out += ").\n";
  out += where_comment(info);
  out += fmt::format(
      "# Every metric pages by a statistical rule (rule = \"cusum\", docs/detection.md): per key, the evidence\n"
      "# (a sum of log-likelihood ratios) that its window moved from its baseline by fast_shift (caught\n"
      "# in one window) or slow_shift (over several); a key pages when the evidence passes limit_fast or\n"
      "# limit_slow, and resolves when both are back under half of them. Limits sit above the worst\n"
      "# evidence of the history, where its tail predicts {} false pages a day in all (expected: {:.2g});\n"
      "# on the history {:.3g}% of the windows would have paged (target rate {}).\n"
      "# A fixed rule stays valid: `threshold = X` (and min_requests) instead of `rule`.\n",
      false_pages_per_day, expected, 100 * history_page_share, info.target_rate);
  out += "# Use: logpipe stream --config THIS_FILE\n\n";
  out += format_threshold_config(config, &comments);
  return out;
}

std::string format_rules_table(const CalibrationInfo& info, const std::vector<RuleCalibration>& results,
                               double history_page_share, double false_pages_per_day) {
  std::string out = fmt::format(
      "{} windows of {}s with traffic{}; statistical rules aiming at {} false pages a day\n", info.windows,
      info.window_us / 1'000'000,
      info.empty_windows ? fmt::format(" ({} empty ones skipped)", info.empty_windows) : std::string(),
      false_pages_per_day);
  out += fmt::format("{:<20} {:>10} {:>10} {:>10} {:>10} {:>10} {:>9} {:>10} {:>9}\n", "metric", "prior", "limit_fast",
                     "worst", "limit_slow", "worst", "baselines", "over", "pages/day");
  double total = 0;
  for (const auto& r : results) {
    out += fmt::format("{:<20} {:>10} {:>10} {:>10} {:>10} {:>10} {:>9} {:>10} {:>9.2g}\n", kMetrics[r.metric].name,
                       g4(r.rule.prior), g4(r.rule.limit_fast), g4(r.max_fast), g4(r.rule.limit_slow), g4(r.max_slow),
                       r.baselines, r.history_windows_over, r.expected_pages_per_day);
    total += r.expected_pages_per_day;
  }
  out += fmt::format("all metrics: {:.3g}% of the history's windows over a limit (target rate {}); expected false "
                     "pages a day {:.2g}\n",
                     100 * history_page_share, info.target_rate, total);
  return out;
}

std::string format_rules_json(const CalibrationInfo& info, const std::vector<RuleCalibration>& results,
                              double history_page_share, double false_pages_per_day) {
  std::string out = "{";
  fmt::format_to(std::back_inserter(out),
                 R"("rules":"cusum","target_rate":{},"false_pages_per_day":{},"window_s":{},"hop_s":{},"windows":{},)"
                 R"("empty_windows":{},"history_page_share":{},"records":{},"malformed":{},"late":{},"files":[)",
                 info.target_rate, false_pages_per_day, info.window_us / 1'000'000, info.hop_us / 1'000'000,
                 info.windows, info.empty_windows, history_page_share, info.records, info.malformed, info.late);
  for (size_t i = 0; i < info.inputs.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, info.inputs[i]);
  }
  out += R"(],"metrics":[)";
  double total = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    const RuleCalibration& r = results[i];
    if (i) out += ',';
    fmt::format_to(std::back_inserter(out),
                   R"({{"metric":"{}","dimension":"{}","prior":{},"limit_fast":{},"limit_slow":{},"max_fast":{},)"
                   R"("max_slow":{},"q95_fast":{},"q95_slow":{},"history_windows_over":{},"baselines":{},)"
                   R"("expected_pages_per_day":{}}})",
                   kMetrics[r.metric].name, dimension_name(kMetrics[r.metric].dimension), r.rule.prior,
                   r.rule.limit_fast, r.rule.limit_slow, r.max_fast, r.max_slow, r.q95_fast, r.q95_slow,
                   r.history_windows_over, r.baselines, r.expected_pages_per_day);
    total += r.expected_pages_per_day;
  }
  fmt::format_to(std::back_inserter(out), R"(],"expected_pages_per_day":{}}})", total);
  out += "\n";
  return out;
}

}  // namespace logpipe

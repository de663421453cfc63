// Alert episodes, statistical rules and incidents (include/logpipe/alerts.h), and the JSON line.
#include "logpipe/alerts.h"

#include "logpipe/error.h"
#include "logpipe/intern.h"
#include "logpipe/text.h"
#include "logpipe/timeutil.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace logpipe {

void append_alert_json(std::string& out, const Alert& a) {
  char start[32], end[32];
  size_t ns = format_rfc3339_seconds(a.window_start_us, start);
  size_t ne = format_rfc3339_seconds(a.window_end_us, end);
  out += a.firing ? R"({"state":"firing","metric":")" : R"({"state":"resolved","metric":")";
  out += kMetrics[a.metric].name;
  out += R"(","key":)";
  append_json_string(out, a.key);
  fmt::format_to(std::back_inserter(out),
                 R"(,"value":{},"threshold":{},"requests":{},"errors":{},"window_start":"{}","window_end":"{}")",
                 a.value.value, a.threshold, a.value.requests, a.value.errors, std::string_view(start, ns),
                 std::string_view(end, ne));
  out += R"(,"incident":)";
  append_json_string(out, a.incident);
  if (a.statistical)
    fmt::format_to(std::back_inserter(out), R"(,"baseline":{},"score":{},"limit":{})", a.baseline, a.score, a.limit);
  out += "}\n";
}

void LineAlertSink::send(std::span<const Alert> alerts) {
  text_.clear();
  for (const auto& a : alerts) format_(text_, a);
  out_->write(text_);
  out_->flush();
}

void append_alert_text(std::string& out, const Alert& a) {
  char start[32];
  size_t ns = format_rfc3339_seconds(a.window_start_us, start);
  std::string_view when(start, ns);  // 2025-06-23T08:05:00Z -> 2025-06-23 08:05:00Z
  const MetricDef& m = kMetrics[a.metric];
  std::string what(m.name);
  if (!a.key.empty()) {
    what += ' ';
    what += a.key;
  }
  std::string value = human_value(a.metric, a.value.value);
  std::string rule;
  if (a.firing && a.statistical)
    rule = fmt::format(" (baseline {}, evidence {:.1f} > {:.1f})", human_value(a.metric, a.baseline), a.score,
                       a.limit);
  else if (a.firing)
    rule = " > " + human_value(a.metric, a.threshold);
  std::string counts = m.unit == "ratio" ? fmt::format("{} of {} requests", a.value.errors, a.value.requests)
                                         : fmt::format("{} requests", a.value.requests);
  fmt::format_to(std::back_inserter(out), "{} {}  {:<8}  {}  {}{}  ({})  incident {}\n", when.substr(0, 10),
                 when.substr(11), a.firing ? "FIRING" : "RESOLVED", what, value, rule, counts, a.incident);
}

namespace {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return hash_bytes(s); }
};

constexpr double kMinRatio = 1e-4;       // a baseline ratio is never taken as 0 (log 0)
constexpr double kMaxRatio = 0.95;
constexpr double kSlowExtraErrors = 0.5;  // see evaluate_cusum
constexpr double kScoreCap = 2;          // evidence is capped at twice its limit: resolves in bounded time
constexpr uint64_t kAbsentResolve = 3;   // a firing key absent this many windows resolves
constexpr size_t kMaxStates = 100'000;   // per metric: states with evidence or a baseline
constexpr double kSpentEvidence = 0.01;  // an absent key whose evidence fell under this is forgotten


// Log-likelihood ratio of x of n under p1 against p0 (binomial), and of x under mean l1 against
// l0 (Poisson).
double binomial_llr(double x, double n, double p0, double p1) {
  return x * std::log(p1 / p0) + (n - x) * std::log((1 - p1) / (1 - p0));
}
double poisson_llr(double x, double l0, double l1) { return x * std::log(l1 / l0) - (l1 - l0); }

// The rate p1 a sensitivity looks for: `shift` times the baseline, at least `floor` above it.
double shifted(double p0, double shift, double floor) { return std::min(0.99, std::max(p0 * shift, p0 + floor)); }

// The ratio above which a window adds evidence for p1 against p0.
double break_even_ratio(double p0, double p1) {
  return std::log((1 - p0) / (1 - p1)) / std::log(p1 * (1 - p0) / (p0 * (1 - p1)));
}

}  // namespace

struct AlertEvaluator::State {
  double base_x = 0, base_n = 0;  // the baseline's decayed sums
  double s_fast = 0, s_slow = 0;  // the evidence (CUSUM)
  bool firing = false;
  uint64_t seen = 0;       // window number last present
  uint64_t evaluated = 0;  // window number last evaluated (leak applied up to it)
  int warmup = 0;          // global request rate: windows seen before its baseline is set
  uint64_t hash = 0;       // hash_bytes(key): found in a window's key table without hashing again
  std::string incident;
};

namespace {
// Key -> state with the states in one vector: every window walks all of them, and a walk over
// the nodes of an unordered_map is a cache miss per key (it was 70% of the time with 15,000 urls
// of latency baselines). Erasing moves the last state into the hole (the walks below re-check the
// position they erased, and the moved state came from the part not walked yet).
template <class V>
class DenseMap {
 public:
  using Items = std::vector<std::pair<std::string, V>>;
  using iterator = typename Items::iterator;
  using const_iterator = typename Items::const_iterator;
  iterator begin() noexcept { return items_.begin(); }
  iterator end() noexcept { return items_.end(); }
  const_iterator begin() const noexcept { return items_.begin(); }
  const_iterator end() const noexcept { return items_.end(); }
  size_t size() const noexcept { return items_.size(); }
  bool empty() const noexcept { return items_.empty(); }
  void clear() noexcept {
    items_.clear();
    index_.clear();
  }
  iterator find(std::string_view key) {
    auto it = index_.find(key);
    return it == index_.end() ? items_.end() : items_.begin() + it->second;
  }
  std::pair<iterator, bool> emplace(std::string key, V value) {
    auto [it, added] = index_.try_emplace(key, static_cast<uint32_t>(items_.size()));
    if (!added) return {items_.begin() + it->second, false};
    items_.emplace_back(std::move(key), std::move(value));
    return {items_.end() - 1, true};
  }
  V& operator[](std::string key) { return emplace(std::move(key), V{}).first->second; }
  iterator erase(iterator pos) {
    const auto i = static_cast<size_t>(pos - items_.begin());
    index_.erase(index_.find(std::string_view(pos->first)));
    if (i + 1 != items_.size()) {
      items_[i] = std::move(items_.back());
      index_.find(std::string_view(items_[i].first))->second = static_cast<uint32_t>(i);
    }
    items_.pop_back();
    return items_.begin() + static_cast<ptrdiff_t>(i);
  }
  size_t erase(std::string_view key) {
    auto it = find(key);
    if (it == end()) return 0;
    erase(it);
    return 1;
  }

 private:
  Items items_;
  std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>> index_;
};
}  // namespace

struct AlertEvaluator::Tables {
  using Map = DenseMap<State>;
  std::array<Map, kMetricCount> keys;  // keyed metrics: episodes and evidence per key
  std::array<State, kMetricCount> global;
};

AlertEvaluator::AlertEvaluator(AlertRules rules, std::function<void(const std::vector<Alert>&)> emit)
    : rules_(std::move(rules)), emit_(std::move(emit)), tables_(std::make_unique<Tables>()) {
  for (size_t m = 0; m < kMetricCount; ++m) thresholds_[m] = rules_.metrics[m].threshold;
  // Keys the history knew start from their baseline (as if they had been seen for a while).
  for (size_t m = 0; m < kMetricCount; ++m) {
    const auto& cusum = rules_.metrics[m].cusum;
    if (!cusum) continue;
    for (const auto& [key, value] : rules_.baselines[m]) {
      State& st = tables_->keys[m][key];
      const bool latency = kMetrics[m].kind == MetricKind::kP99LatencyMs;
      st.base_n = cusum->prior_weight;
      st.base_x = latency ? std::log(std::max(value, 1.0)) * st.base_n : value * st.base_n;
    }
  }
}

AlertEvaluator::AlertEvaluator(Thresholds thresholds, std::function<void(const std::vector<Alert>&)> emit)
    : AlertEvaluator(
          [&] {
            AlertRules r;
            for (size_t m = 0; m < kMetricCount; ++m) r.metrics[m].threshold = thresholds[m];
            return r;
          }(),
          std::move(emit)) {}

AlertEvaluator::~AlertEvaluator() = default;

size_t AlertEvaluator::firing() const noexcept {
  size_t n = 0;
  for (size_t m = 0; m < kMetricCount; ++m) {
    n += tables_->global[m].firing;
    for (const auto& [key, st] : tables_->keys[m]) n += st.firing;
  }
  return n;
}

void AlertEvaluator::for_each_firing(const std::function<void(MetricId, std::string_view)>& f) const {
  for (size_t m = 0; m < kMetricCount; ++m) {
    if (tables_->global[m].firing) f(static_cast<MetricId>(m), "");
    for (const auto& [key, st] : tables_->keys[m])
      if (st.firing) f(static_cast<MetricId>(m), key);
  }
}

namespace {
// Errors, request rates and latency: after an incident's alerts have all resolved, only a new
// alert of a kind it had (a tail of the same cause) joins it during the gap.
unsigned metric_family(MetricId m) {
  switch (kMetrics[m].kind) {
    case MetricKind::kRequestRate: return 2;
    case MetricKind::kP99LatencyMs: return 4;
    default: return 1;
  }
}
}  // namespace

std::string AlertEvaluator::open_incident(MetricId m, const WindowView& w) {
  const bool open = !incident_.empty() &&
                    (incident_members_firing_ > 0 ||
                     (window_number_ - incident_active_window_ <= rules_.incident_gap_windows &&
                      (incident_families_ & metric_family(m)) != 0));
  if (!open) {
    incident_ = time_text(w.start_us()) + "/" + std::string(kMetrics[m].name);
    incident_families_ = 0;
    ++incidents_;
  }
  incident_families_ |= metric_family(m);
  ++incident_members_firing_;
  incident_active_window_ = window_number_;
  return incident_;
}

void AlertEvaluator::push(bool firing, MetricId m, std::string_view key, const MetricValue& v, double threshold,
                          const WindowView& w, State* st) {
  Alert a;
  a.firing = firing;
  a.metric = m;
  a.key = std::string(key);
  a.value = v;
  a.threshold = threshold;
  a.window_start_us = w.start_us();
  a.window_end_us = w.end_us();
  if (firing) {
    st->incident = open_incident(m, w);
  } else if (incident_members_firing_ > 0) {
    --incident_members_firing_;
    incident_active_window_ = window_number_;
  }
  a.incident = st->incident;
  pending_.push_back(std::move(a));
  ++(firing ? fired_ : resolved_);
}

// A fixed threshold: fires once when an eligible value goes strictly over it, resolves at the
// first window where that no longer holds (or the key vanished).
void AlertEvaluator::evaluate_fixed(MetricId m, const WindowView& w) {
  const double threshold = *rules_.metrics[m].threshold;
  if (kMetrics[m].dimension == Dimension::kGlobal) {
    State& st = tables_->global[m];
    const MetricValue v = w.global(m);
    const bool over = v.eligible && v.value > threshold;
    if (over != st.firing) {
      st.firing = over;
      push(over, m, "", v, threshold, w, &st);
    }
    return;
  }
  auto& states = tables_->keys[m];
  const KeyTable& t = w.table(kMetrics[m].dimension);
  for (const auto& e : t.entries()) {
    const MetricValue v = w.value(m, e);
    const bool over = v.eligible && v.value > threshold;
    if (!over && states.empty()) continue;  // nothing fires: no episode to look up
    std::string_view key = t.key(e);
    auto it = states.find(key);
    if (over) {
      if (it == states.end()) it = states.emplace(std::string(key), State{}).first;
      it->second.seen = window_number_;
      if (!it->second.firing) {
        it->second.firing = true;
        push(true, m, key, v, threshold, w, &it->second);
      }
    } else if (it != states.end()) {
      push(false, m, key, v, threshold, w, &it->second);
      states.erase(it);
    }
  }
  // Episodes whose key is absent from this window: it vanished, so it is no longer over.
  for (auto it = states.begin(); it != states.end();) {
    if (it->second.seen != window_number_) {
      push(false, m, it->first, MetricValue{}, threshold, w, &it->second);
      it = states.erase(it);
    } else {
      ++it;
    }
  }
}

// A statistical rule (CusumRule): per key, two sums of log-likelihood ratios against the key's
// baseline; see alerts.h for what is tested per metric kind.
void AlertEvaluator::evaluate_cusum(MetricId m, const WindowView& w) {
  const CusumRule& r = *rules_.metrics[m].cusum;
  const MetricDef& def = kMetrics[m];
  const bool learning = trace_ != nullptr;
  const double inf = std::numeric_limits<double>::infinity();
  const double limit_fast = learning ? inf : r.limit_fast, limit_slow = learning ? inf : r.limit_slow;
  const double decay = std::exp2(-1.0 / std::max(1.0, r.half_life));
  const KeyStats& totals = w.totals();
  const bool latency = def.kind == MetricKind::kP99LatencyMs;
  const bool ratio = def.kind == MetricKind::kErrorRatio || def.kind == MetricKind::kServerErrorRatio;
  // While the site pages on its error rate, a key is tested against the site's current ratio.
  double site_ratio = 0;
  if (ratio && def.dimension != Dimension::kGlobal) {
    const MetricId site = def.kind == MetricKind::kErrorRatio ? kErrorRate : kServerErrorRate;
    if (tables_->global[site].firing) site_ratio = w.global(site).value;
  }
  double max_fast = 0, max_slow = 0;

  // Evidence of one key (or of the site) in this window; `entry` is null when the key is absent.
  // Returns false when the key has no evidence and no baseline worth keeping (no state needed).
  auto test = [&](State& st, const KeyTable::Entry* entry, std::string_view key, bool keep) {
    const MetricValue v = entry ? w.value(m, *entry) : def.dimension == Dimension::kGlobal ? w.global(m) : MetricValue{};
    double llr_fast = 0, llr_slow = 0, threshold = 0, baseline = 0;
    double ratio_p0 = 0, ratio_p1 = 0;  // error ratios: the threshold is computed for an alert only
    // The baseline follows the key, but not while it pages or is suspect (past half a limit):
    // a slow rise would otherwise become the new normal before it adds up.
    bool update_baseline = !st.firing && st.s_fast <= limit_fast / 2 && st.s_slow <= limit_slow / 2;
    if (ratio) {
      const KeyStats& s = entry ? entry->stats : def.dimension == Dimension::kGlobal ? totals : KeyStats{};
      const double n = static_cast<double>(s.with_status);
      const double x = static_cast<double>(def.kind == MetricKind::kErrorRatio ? s.errors : s.server_errors);
      double p0 = (st.base_x + r.prior * r.prior_weight) / (st.base_n + r.prior_weight);
      p0 = std::clamp(std::max(p0, site_ratio), kMinRatio, kMaxRatio);
      // The slow sensitivity looks for at least half an extra error a window: on a key with few
      // requests a doubling of 1% is a tenth of an error, which no evidence can tell from chance.
      const double p1f = shifted(p0, r.fast_shift, 0.05);
      const double p1s = shifted(p0, r.slow_shift, std::max(0.01, n > 0 ? kSlowExtraErrors / n : 0.0));
      if (n > 0) {
        llr_fast = binomial_llr(x, n, p0, p1f);
        llr_slow = binomial_llr(x, n, p0, p1s);
      }
      ratio_p0 = p0;
      ratio_p1 = p1s;
      baseline = p0;
      if (update_baseline) {
        st.base_x = st.base_x * decay + x;
        st.base_n = st.base_n * decay + n;
      }
    } else if (latency) {
      const LatencyHistogram* h = entry ? w.aggregate().latency(*entry) : nullptr;
      if (h && h->count() > 0) {
        const double n = static_cast<double>(h->count());
        const double median = std::max(1.0, h->quantile_us(0.5));
        if (st.base_n > 0) {
          const double base_median = std::exp(st.base_x / st.base_n);
          const double x = static_cast<double>(h->count_above(r.latency_factor * base_median));
          const double p0 = std::clamp(r.prior, kMinRatio, kMaxRatio);
          llr_fast = binomial_llr(x, n, p0, shifted(p0, r.fast_shift, 0.2));
          llr_slow = binomial_llr(x, n, p0, shifted(p0, r.slow_shift, 0.05));
          threshold = r.latency_factor * base_median / 1000;
          baseline = base_median / 1000;
        } else {
          update_baseline = true;  // the first window of a url: its own median is its baseline
        }
        if (update_baseline) {
          st.base_x = st.base_x * decay + n * std::log(median);
          st.base_n = st.base_n * decay + n;
        }
      }
    } else {  // request rates: Poisson
      const double x = static_cast<double>(entry ? entry->stats.requests
                                                 : def.dimension == Dimension::kGlobal ? totals.requests : 0);
      double l0;
      if (def.dimension == Dimension::kGlobal) {
        // The recent level: a stream may start at any hour, so the run sets it, from its second
        // window (the first may be partial); neither is tested.
        if (st.warmup < 2) {
          if (++st.warmup == 2) {
            st.base_x = x;
            st.base_n = 1;
          }
          return keep;
        }
        l0 = st.base_x / st.base_n;
        if (update_baseline) {
          st.base_x = st.base_x * decay + x;
          st.base_n = st.base_n * decay + 1;
        }
      } else {
        l0 = std::max(r.prior, r.prior_share * static_cast<double>(totals.requests));
      }
      l0 = std::max({l0, r.min_expected, 1e-3});
      const double d = std::max(1.0, r.dispersion);
      llr_fast = poisson_llr(x, l0, l0 * r.fast_shift) / d;
      llr_slow = poisson_llr(x, l0, l0 * r.slow_shift) / d;
      const double l1 = l0 * r.slow_shift;
      threshold = (l1 - l0) / std::log(l1 / l0) / w.seconds();
      baseline = l0 / w.seconds();
    }
    // The leak of the windows since the key was last evaluated, then this window's evidence.
    const double missed = static_cast<double>(window_number_ - std::min(st.evaluated, window_number_ - 1));
    st.evaluated = window_number_;
    // Evidence leaks away each window, present or not (a leaky CUSUM): sparse evidence spread
    // over hours (one error now, one in twenty minutes) never adds up to a page.
    const double keep_fast = missed == 1 ? r.fast_leak : std::pow(r.fast_leak, missed);
    const double keep_slow = missed == 1 ? r.slow_leak : std::pow(r.slow_leak, missed);
    st.s_fast = std::max(0.0, st.s_fast * keep_fast + llr_fast);
    st.s_slow = std::max(0.0, st.s_slow * keep_slow + llr_slow);
    if (!learning) {
      st.s_fast = std::min(st.s_fast, kScoreCap * limit_fast);
      st.s_slow = std::min(st.s_slow, kScoreCap * limit_slow);
    }
    max_fast = std::max(max_fast, st.s_fast);
    max_slow = std::max(max_slow, st.s_slow);
    const bool over = st.s_fast > limit_fast || st.s_slow > limit_slow;
    const bool under = st.s_fast <= limit_fast / 2 && st.s_slow <= limit_slow / 2;
    const bool absent_too_long = entry == nullptr && def.dimension != Dimension::kGlobal &&
                                 window_number_ - st.seen >= kAbsentResolve;
    auto alert = [&](bool firing) {
      if (ratio) threshold = break_even_ratio(ratio_p0, ratio_p1);
      push(firing, m, key, v, threshold, w, &st);
      Alert& a = pending_.back();
      a.statistical = true;
      a.baseline = baseline;
      const bool fast = st.s_fast / limit_fast >= st.s_slow / limit_slow;
      a.score = fast ? st.s_fast : st.s_slow;
      a.limit = fast ? limit_fast : limit_slow;
    };
    if (!st.firing && over) {
      st.firing = true;
      alert(true);
    } else if (st.firing && (under || absent_too_long)) {
      st.firing = false;
      alert(false);
      st.s_fast = st.s_slow = 0;
    }
    return keep || st.firing || st.s_fast > 0 || st.s_slow > 0;
  };

  if (def.dimension == Dimension::kGlobal) {
    test(tables_->global[m], nullptr, "", true);
  } else {
    auto& states = tables_->keys[m];
    const KeyTable& t = w.table(def.dimension);
    const bool rate = def.kind == MetricKind::kRequestRate;
    // Keys with state first, present or not. Absent ones: rates lose evidence (no request), a
    // firing key resolves after a few absent windows, idle keys without evidence are forgotten.
    std::vector<uint8_t>& has_state = has_state_;  // per entry of t: tested here already
    has_state.assign(t.size(), 0);
    for (auto it = states.begin(); it != states.end();) {
      State& st = it->second;
      if (st.hash == 0) st.hash = hash_bytes(it->first);
      const uint32_t id = t.find(it->first, st.hash);
      if (id != KeyTable::kNone) {
        has_state[id] = 1;
        st.seen = window_number_;
        test(st, &t.entry(id), it->first, true);
        ++it;
        continue;
      }
      if (rate || st.firing) test(st, nullptr, it->first, true);
      const double idle = static_cast<double>(window_number_ - std::min(st.evaluated, window_number_));
      auto leaked_away = [&](double score, double leak) {
        return score < kSpentEvidence || score * std::pow(leak, idle) < kSpentEvidence;
      };
      const bool spent = leaked_away(st.s_fast, r.fast_leak) && leaked_away(st.s_slow, r.slow_leak);
      // A key with a learned baseline is kept a while (it comes back); without one, once spent.
      const bool forget = !st.firing && spent &&
                          (rate || st.base_n == 0 || window_number_ - st.seen > static_cast<uint64_t>(4 * r.half_life));
      it = forget ? states.erase(it) : std::next(it);
    }
    // Then the keys without state. Most can have no evidence and need no look-up: a rate at most
    // the break-even count of the smaller shift (the Poisson evidence is then <= 0), a ratio key
    // with no error and too few requests to keep a baseline of its own.
    double rate_floor = 0;
    if (rate) {
      const double l0 = std::max({r.prior, r.prior_share * static_cast<double>(totals.requests), r.min_expected, 1e-3});
      const double shift = std::min(r.fast_shift, r.slow_shift);
      rate_floor = shift > 1 ? l0 * (shift - 1) / std::log(shift) : 0;
    }
    const KeyTable::Entry* const first_entry = t.entries().data();
    for (const auto& e : t.entries()) {
      if (has_state[static_cast<size_t>(&e - first_entry)]) continue;  // tested above
      bool own_baseline = latency;
      if (rate) {
        if (static_cast<double>(e.stats.requests) <= rate_floor) continue;
      } else if (ratio) {
        own_baseline = w.value(m, e).eligible;
        const uint64_t x = def.kind == MetricKind::kErrorRatio ? e.stats.errors : e.stats.server_errors;
        if (x == 0 && !own_baseline) continue;
      }
      std::string_view key = t.key(e);
      // A key without state: evidence decides whether it needs one. A url's latency and an
      // error ratio of a key with enough requests keep one: their own history is their baseline
      // (without it, a doubling would be half absorbed by the window that shows it).
      State fresh;
      fresh.seen = window_number_;
      fresh.hash = e.hash;
      if (test(fresh, &e, key, own_baseline)) states.emplace(std::string(key), std::move(fresh));
    }
    // Bounded memory: past the cap, the states with the least evidence go (never a firing one).
    if (states.size() > kMaxStates) {
      std::vector<std::pair<double, std::string_view>> weakest;
      for (const auto& [key, st] : states)
        if (!st.firing) weakest.emplace_back(std::max(st.s_fast / limit_fast, st.s_slow / limit_slow), key);
      size_t drop = std::min(weakest.size(), states.size() - kMaxStates / 2);
      std::nth_element(weakest.begin(), weakest.begin() + static_cast<ptrdiff_t>(drop), weakest.end());
      std::vector<std::string> keys;
      for (size_t i = 0; i < drop; ++i) keys.emplace_back(weakest[i].second);
      for (const auto& k : keys) states.erase(k);
    }
  }
  if (trace_ && window_number_ > warmup_) {
    trace_->fast[m].push_back(max_fast);
    trace_->slow[m].push_back(max_slow);
  }
}

void AlertEvaluator::on_window(const WindowView& w) {
  ++window_number_;
  last_end_ = w.end_us();
  pending_.clear();
  // Global metrics first: keyed error ratios look at whether the site pages.
  for (int pass = 0; pass < 2; ++pass)
    for (size_t i = 0; i < kMetricCount; ++i) {
      const auto m = static_cast<MetricId>(i);
      const bool global = kMetrics[m].dimension == Dimension::kGlobal;
      if (global != (pass == 0)) continue;
      if (global) {
        last_global_[m] = w.global(m);
      } else {
        std::pair<std::string_view, MetricValue> best{{}, MetricValue{}};
        bool have_best = false;
        w.for_each_key(m, [&](std::string_view key, const MetricValue& v) {
          if (v.eligible && (!have_best || v.value > best.second.value)) {
            best = {key, v};
            have_best = true;
          }
        });
        last_max_[m] = {std::string(best.first), best.second};
        if (top_keys_) {
          // Once per window, not per line; the keys stay views into the window until the top
          // few are copied.
          std::vector<std::pair<std::string_view, MetricValue>> eligible;
          w.for_each_key(m, [&](std::string_view key, const MetricValue& v) {
            if (v.eligible) eligible.emplace_back(key, v);
          });
          auto larger = [](const auto& a, const auto& b) {
            return a.second.value != b.second.value ? a.second.value > b.second.value : a.first < b.first;
          };
          const size_t n = std::min(top_keys_, eligible.size());
          std::partial_sort(eligible.begin(), eligible.begin() + static_cast<ptrdiff_t>(n), eligible.end(), larger);
          auto& top = last_top_[m];
          top.clear();
          for (size_t i = 0; i < n; ++i) top.emplace_back(std::string(eligible[i].first), eligible[i].second);
        }
      }
      const MetricRule& rule = rules_.metrics[m];
      if (rule.cusum) evaluate_cusum(m, w);
      else if (rule.threshold) evaluate_fixed(m, w);
    }
  if (incident_members_firing_ > 0) incident_active_window_ = window_number_;
  if (pending_.empty()) return;
  std::sort(pending_.begin(), pending_.end(), [](const Alert& a, const Alert& b) {
    if (a.metric != b.metric) return a.metric < b.metric;
    return a.key < b.key;
  });
  emit_(pending_);
}

std::vector<AlertEvaluator::LearnedBaseline> AlertEvaluator::learned_baselines(MetricId m) const {
  std::vector<LearnedBaseline> out;
  const bool latency = kMetrics[m].kind == MetricKind::kP99LatencyMs;
  for (const auto& [key, st] : tables_->keys[m]) {
    if (st.base_n <= 0) continue;
    const double v = latency ? std::exp(st.base_x / st.base_n) : st.base_x / st.base_n;
    out.push_back({key, v, st.base_n});
  }
  return out;
}

void AlertEvaluator::reset_evidence() noexcept {
  for (size_t m = 0; m < kMetricCount; ++m) {
    tables_->global[m].s_fast = tables_->global[m].s_slow = 0;
    for (auto& [key, st] : tables_->keys[m]) st.s_fast = st.s_slow = 0;
  }
}

double AlertEvaluator::global_baseline(MetricId m) const {
  const State& st = tables_->global[m];
  return st.base_n > 0 ? st.base_x / st.base_n : 0;
}


// The state text: a header line, one line of counters, then one line per state. Strings are
// length-prefixed (N:bytes), so keys may hold any byte; doubles are written in the shortest form
// that reads back exactly, so a restored evaluator computes the very same evidence.
namespace {
constexpr std::string_view kStateMagic = "logpipe-alert-state 1\n";

void put_string(std::string& out, std::string_view s) {
  fmt::format_to(std::back_inserter(out), " {}:", s.size());
  out.append(s);
}

struct StateReader {
  std::string_view in;
  [[noreturn]] void fail(std::string_view what) const { runtime_error("alert state: {}", what); }
  void space() {
    if (in.empty() || in.front() != ' ') fail("truncated or malformed");
    in.remove_prefix(1);
  }
  template <class T>
  T number() {
    space();
    T v{};
    auto [p, ec] = std::from_chars(in.data(), in.data() + in.size(), v);
    if (ec != std::errc()) fail("a number is malformed");
    in.remove_prefix(static_cast<size_t>(p - in.data()));
    return v;
  }
  std::string string() {
    const auto n = number<size_t>();
    if (in.empty() || in.front() != ':' || in.size() - 1 < n) fail("a string is malformed");
    std::string s(in.substr(1, n));
    in.remove_prefix(1 + n);
    return s;
  }
  std::string_view word() {
    const size_t end = in.find_first_of(" \n");
    std::string_view w = in.substr(0, end);
    in.remove_prefix(w.size());
    return w;
  }
  void end_line() {
    if (in.empty() || in.front() != '\n') fail("a line has extra fields");
    in.remove_prefix(1);
  }
};
}  // namespace

std::string AlertEvaluator::save_state() const {
  std::string out(kStateMagic);
  fmt::format_to(std::back_inserter(out), "counters {} {} {} {} {} {} {} {}", window_number_, last_end_, fired_,
                 resolved_, incidents_, incident_active_window_, incident_members_firing_, incident_families_);
  put_string(out, incident_);
  out += '\n';
  auto state = [&](size_t m, std::string_view key, const State& st, bool global) {
    fmt::format_to(std::back_inserter(out), "{} {} {} {} {} {} {} {} {} {} {}", global ? "global" : "key",
                   kMetrics[m].name, st.base_x, st.base_n, st.s_fast, st.s_slow, st.firing ? 1 : 0, st.seen,
                   st.evaluated, st.warmup, 0);
    put_string(out, key);
    put_string(out, st.incident);
    out += '\n';
  };
  for (size_t m = 0; m < kMetricCount; ++m) {
    state(m, "", tables_->global[m], true);
    for (const auto& [key, st] : tables_->keys[m]) state(m, key, st, false);
  }
  out += "end\n";
  return out;
}

void AlertEvaluator::restore_state(std::string_view text) {
  StateReader r{text};
  if (!text.starts_with(kStateMagic)) r.fail("not a logpipe alert state (or another version)");
  r.in.remove_prefix(kStateMagic.size());
  if (r.word() != "counters") r.fail("the counters line is missing");
  window_number_ = r.number<uint64_t>();
  last_end_ = r.number<int64_t>();
  fired_ = r.number<uint64_t>();
  resolved_ = r.number<uint64_t>();
  incidents_ = r.number<uint64_t>();
  incident_active_window_ = r.number<uint64_t>();
  incident_members_firing_ = r.number<size_t>();
  incident_families_ = r.number<unsigned>();
  incident_ = r.string();
  r.end_line();
  for (auto& t : tables_->keys) t.clear();
  for (auto& g : tables_->global) g = State{};
  for (;;) {
    const std::string_view kind = r.word();
    if (kind == "end") break;
    if (kind != "global" && kind != "key") r.fail("unknown line");
    r.space();
    const std::string_view name = r.word();
    const MetricId m = find_metric(name);
    if (m == kMetricCount) r.fail(fmt::format("unknown metric '{}'", name));
    State st;
    st.base_x = r.number<double>();
    st.base_n = r.number<double>();
    st.s_fast = r.number<double>();
    st.s_slow = r.number<double>();
    st.firing = r.number<int>() != 0;
    st.seen = r.number<uint64_t>();
    st.evaluated = r.number<uint64_t>();
    st.warmup = r.number<int>();
    (void)r.number<int>();  // reserved
    std::string key = r.string();
    st.incident = r.string();
    r.end_line();
    if (kind == "global") tables_->global[m] = std::move(st);
    else tables_->keys[m][std::move(key)] = std::move(st);
  }
}

}  // namespace logpipe

// The windowed-metrics engine: panes of counters, windows made of panes, metric values computed
// from the one metric table. See include/logpipe/metrics.h for the model.
#include "logpipe/metrics.h"

#include "logpipe/netaddr.h"

#include "logpipe/error.h"
#include "logpipe/intern.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <numeric>

namespace logpipe {

MetricId find_metric(std::string_view name) noexcept {
  for (size_t i = 0; i < kMetricCount; ++i)
    if (kMetrics[i].name == name) return static_cast<MetricId>(i);
  return kMetricCount;
}

namespace {
// 3 significant digits, fixed notation, no trailing zeros: 0.333, 12.3, 250, 15000.
std::string three_digits(double v) {
  if (!std::isfinite(v)) return fmt::format("{}", v);
  if (v == 0) return "0";
  const int magnitude = static_cast<int>(std::floor(std::log10(std::fabs(v))));
  const int decimals = std::clamp(2 - magnitude, 0, 9);
  std::string text = fmt::format("{:.{}f}", v, decimals);
  if (text.find('.') != std::string::npos) {
    while (text.back() == '0') text.pop_back();
    if (text.back() == '.') text.pop_back();
  }
  return text == "-0" ? "0" : text;
}
}  // namespace

std::string human_value(MetricId m, double value) {
  switch (kMetrics[m].kind) {
    case MetricKind::kErrorRatio:
    case MetricKind::kServerErrorRatio:
      return three_digits(value * 100) + "%";
    case MetricKind::kRequestRate:
      return three_digits(value) + " req/s";
    case MetricKind::kP99LatencyMs:
      return value >= 1000 ? three_digits(value / 1000) + " s" : three_digits(value) + " ms";
  }
  return three_digits(value);
}

// ---------------------------------------------------------------------------------------------
// EngineConfig

std::array<uint64_t, kMetricCount> EngineConfig::default_min_requests() noexcept {
  std::array<uint64_t, kMetricCount> m{};
  for (size_t i = 0; i < kMetricCount; ++i) m[i] = kMetrics[i].min_requests;
  return m;
}

void EngineConfig::validate(const SettingOrigins& from) const {
  if (window_us < 1'000'000 || window_us % 1'000'000 != 0)
    usage_error("{}: must be a whole number of seconds, at least 1s", from.window);
  int64_t hop = hop_us ? hop_us : window_us;
  if (hop < 1'000'000 || hop % 1'000'000 != 0) usage_error("{}: must be a whole number of seconds, at least 1s", from.hop);
  if (hop > window_us) usage_error("{}: must not exceed {} (windows would leave gaps)", from.hop, from.window);
  // A sliding window is the merge of its panes when it closes, so each record is merged once
  // per window holding it: the work per record grows with window / pane. At 3,600 panes
  // (--window 1h --hop 1s) 200,000 lines were not done after 120 s and a stop took 60 s (the
  // open windows are evaluated); at 120, a 2-hour history of 720,000 lines takes 3.8 s.
  const int64_t panes = window_us / std::gcd(window_us, hop);
  if (panes > kMaxPanesPerWindow) {
    const int64_t window_s = window_us / 1'000'000;
    int64_t suggestion = (window_s + kMaxPanesPerWindow - 1) / kMaxPanesPerWindow;
    while (window_s % suggestion != 0) ++suggestion;  // a divisor of the window: panes = hops
    usage_error("{}: a window may span at most {} panes of gcd(window, hop), this one spans {} "
                "(each record is merged into every window holding it); use a --hop that divides the "
                "window, at least {}s here",
                from.hop, kMaxPanesPerWindow, panes, suggestion);
  }
  if (lateness_us < 0) usage_error("{}: must not be negative", from.lateness);
  if (max_keys < 16 || max_keys > kMaxKeysLimit)
    usage_error("{}: must be from 16 to {}, got {}", from.max_keys, kMaxKeysLimit, max_keys);
}

// ---------------------------------------------------------------------------------------------
// Panes and windows

struct WindowEngine::Pane {
  int64_t index = 0;
  PaneAggregate aggregate;
};

MetricValue WindowView::global(MetricId m) const noexcept {
  KeyTable::Entry e{};
  e.stats = pane_->totals;
  return value_of(m, e);
}

MetricValue WindowView::value_of(MetricId m, const KeyTable::Entry& e) const noexcept {
  const MetricDef& def = kMetrics[m];
  MetricValue v;
  v.errors = e.stats.errors;
  switch (def.kind) {
    case MetricKind::kErrorRatio:
      v.requests = e.stats.with_status;
      v.value = v.requests ? static_cast<double>(e.stats.errors) / static_cast<double>(v.requests) : 0;
      break;
    case MetricKind::kServerErrorRatio:
      v.requests = e.stats.with_status;
      v.value = v.requests ? static_cast<double>(e.stats.server_errors) / static_cast<double>(v.requests) : 0;
      break;
    case MetricKind::kRequestRate:
      v.requests = e.stats.requests;
      v.value = static_cast<double>(v.requests) / seconds_;
      break;
    case MetricKind::kP99LatencyMs:
      if (const LatencyHistogram* h = pane_->latency(e)) {
        v.requests = h->count();
        v.value = h->quantile_us(0.99) / 1000.0;
      }
      break;
  }
  v.eligible = v.requests > 0 && v.requests >= (*min_requests_)[m];
  return v;
}

WindowEngine::WindowEngine(EngineConfig config, WindowObserver& observer)
    : config_(std::move(config)), classifier_(config_.errors), observer_(observer), sources_(1) {
  config_.validate();
  if (config_.hop_us == 0) config_.hop_us = config_.window_us;
  pane_us_ = std::gcd(config_.window_us, config_.hop_us);
  merged_ = std::make_unique<Pane>();
}

WindowEngine::~WindowEngine() = default;

const EngineStats& WindowEngine::stats() const noexcept {
  stats_.open_panes = panes_.size();
  size_t keys = 0;
  for (const auto& p : panes_) keys += p->aggregate.key_count();
  stats_.tracked_keys = keys;
  return stats_;
}

WindowEngine::Pane& WindowEngine::pane_for(int64_t index) {
  // Few panes are open (window + lateness); most records hit the newest one. A new pane goes
  // after the last open one with a smaller index (or first), reusing a spare one's memory.
  auto pos = panes_.end();
  for (auto it = panes_.rbegin(); it != panes_.rend(); ++it, --pos) {
    if ((*it)->index == index) return **it;
    if ((*it)->index < index) break;
  }
  std::unique_ptr<Pane> p;
  if (!spare_.empty()) {
    p = std::move(spare_.back());
    spare_.pop_back();
  } else {
    p = std::make_unique<Pane>();
  }
  p->index = index;
  p->aggregate.reset(config_.max_keys, config_.max_latency_keys);
  return **panes_.insert(pos, std::move(p));
}

void WindowEngine::resume(int64_t next_window) {
  if (next_window == INT64_MIN) return;  // the previous run closed nothing
  started_ = closed_any_ = true;
  next_window_ = resumed_at_ = next_window;
}

WindowEngine::AddResult WindowEngine::add(const Record& r, SourceId source) {
  if (r.time_us == kNoTime) return AddResult::kNoTime;
  const int64_t t = r.time_us;
  const int64_t hop = config_.hop_us, size = config_.window_us;
  // Windows containing t: indices first..last (start = index * hop).
  const int64_t last = floor_div(t, hop);
  const int64_t first = floor_div(t - size, hop) + 1;
  if (last < resumed_at_) {  // its windows were evaluated before the restart, with it
    ++stats_.replayed;
    return AddResult::kLate;
  }
  reactivate(source);
  if (started_) {
    // Late when every window holding t has closed, or would have by the lateness rule.
    // (Before any window closed, only the lateness rule applies: earlier windows may still open.)
    if ((closed_any_ && last < next_window_) ||
        (frontier_us_ != kNoTime && last * hop + size + config_.lateness_us < frontier_us_)) {
      ++stats_.late;
      stats_.needed_lateness_us = std::max(stats_.needed_lateness_us, frontier_us_ - (last * hop + size));
      return AddResult::kLate;
    }
    if (!closed_any_ && first < next_window_) {
      // Out of order before anything closed: open earlier windows, but never one that the
      // lateness rule already considers complete.
      int64_t open_from = first;
      while (frontier_us_ != kNoTime && open_from * hop + size + config_.lateness_us < frontier_us_) ++open_from;
      next_window_ = std::min(next_window_, open_from);
    }
  } else {
    started_ = true;
    next_window_ = first;
  }
  Pane& pane = pane_for(floor_div(t, pane_us_));
  // Hash the three keys and prefetch their slots first: the three table misses then overlap.
  const RecordKeys keys(r);
  pane.aggregate.prefetch(keys);
  pane.aggregate.add(classifier_.outcome(r), keys, r.duration_us);
  ++stats_.records;
  newest_record_us_ = std::max(newest_record_us_, t);
  note_time(source, t);
  return AddResult::kAdded;
}

void WindowEngine::reactivate(SourceId source) {
  Source& src = sources_[source];
  if (src.idle || src.removed) {  // back: it holds the watermark again (from where it is now)
    if (src.idle) --stats_.idle_sources;
    if (src.removed) ++stats_.sources;
    src.idle = src.removed = false;
    recompute_frontier();
  }
}

void WindowEngine::note_time(SourceId source, int64_t t) {
  Source& src = sources_[source];
  if (stats_.max_time_us == kNoTime || t > stats_.max_time_us) stats_.max_time_us = t;
  if (src.newest == kNoTime || t > src.newest) {
    src.newest = t;
    // The frontier moves only when the source holding it moves (newest times only grow).
    if (sources_.size() == 1) {
      if (frontier_us_ == kNoTime || t > frontier_us_) {
        frontier_us_ = t;
        close_ready_windows();
      }
    } else if (source == min_source_) {
      recompute_frontier();
    }
  }
}

WindowEngine::AddResult WindowEngine::add_partial(SourceId source, int64_t pane_index, const PaneAggregate& partial) {
  const int64_t hop = config_.hop_us, size = config_.window_us;
  // A pane beyond any log's time (a hostile or broken message): late, before any arithmetic on it.
  if (pane_index > kMaxPartialTimeUs / pane_us_ || pane_index < -(kMaxPartialTimeUs / pane_us_)) {
    stats_.late += partial.totals.requests;
    return AddResult::kLate;
  }
  const int64_t start = pane_index * pane_us_;
  // The windows holding the pane, as for a record at its start (panes never straddle a window).
  const int64_t last = floor_div(start, hop);
  const int64_t first = floor_div(start - size, hop) + 1;
  if (last < resumed_at_) {
    stats_.replayed += partial.totals.requests;
    return AddResult::kLate;
  }
  reactivate(source);
  if (started_) {
    // Its reader published the pane once complete by the lateness rule: only closed windows make
    // it late (another reader's copy after a fail-over, or a source that rejoined too late).
    if (closed_any_ && last < next_window_) {
      stats_.late += partial.totals.requests;
      return AddResult::kLate;
    }
    if (!closed_any_ && first < next_window_) next_window_ = first;
  } else {
    started_ = true;
    next_window_ = first;
  }
  pane_for(pane_index).aggregate.merge(partial);
  stats_.records += partial.totals.requests;
  newest_record_us_ = std::max(newest_record_us_, start);
  if (stats_.max_time_us == kNoTime || start > stats_.max_time_us) stats_.max_time_us = start;
  return AddResult::kAdded;
}

void WindowEngine::set_progress(SourceId source, int64_t newest_us) {
  if (newest_us == kNoTime) return;
  reactivate(source);
  note_time(source, newest_us);
}

SourceId WindowEngine::add_source() {
  sources_.push_back(Source{});
  ++stats_.sources;
  recompute_frontier();
  return static_cast<SourceId>(sources_.size() - 1);
}

void WindowEngine::set_idle(SourceId source, bool idle) {
  Source& s = sources_[source];
  if (s.removed || s.idle == idle) return;
  s.idle = idle;
  idle ? ++stats_.idle_sources : --stats_.idle_sources;
  recompute_frontier();
}

void WindowEngine::remove_source(SourceId source) {
  Source& s = sources_[source];
  if (s.removed) return;
  if (s.idle) --stats_.idle_sources;
  s.removed = true;
  s.idle = false;
  --stats_.sources;
  recompute_frontier();
}

// The minimum newest time over the active sources (a source with no record yet holds it at
// kNoTime), or, when no source is active, the newest time of any. `holder` becomes the active
// source that holds it (left as it is when none does).
int64_t WindowEngine::scan_frontier(SourceId& holder) const noexcept {
  bool any_active = false, waiting = false;
  int64_t min_active = INT64_MAX, newest = kNoTime;
  for (SourceId i = 0; i < sources_.size(); ++i) {
    const Source& s = sources_[i];
    if (s.newest != kNoTime && (newest == kNoTime || s.newest > newest)) newest = s.newest;
    if (s.removed || s.idle) continue;
    any_active = true;
    if (s.newest == kNoTime) {
      waiting = true;
      holder = i;
    } else if (!waiting && s.newest < min_active) {
      min_active = s.newest;
      holder = i;
    }
  }
  return !any_active ? newest : waiting ? kNoTime : min_active;
}

// The frontier follows scan_frontier(), never backwards.
void WindowEngine::recompute_frontier() {
  const int64_t f = scan_frontier(min_source_);
  if (f != kNoTime && (frontier_us_ == kNoTime || f > frontier_us_)) {
    frontier_us_ = f;
    if (started_) close_ready_windows();
  }
}

int64_t WindowEngine::data_frontier_us() const noexcept {
  SourceId holder = min_source_;
  return scan_frontier(holder);
}

void WindowEngine::advance_to(int64_t time_us) {
  if (!started_ || (frontier_us_ != kNoTime && time_us <= frontier_us_)) return;
  frontier_us_ = time_us;
  if (stats_.max_time_us == kNoTime || time_us > stats_.max_time_us) stats_.max_time_us = time_us;
  close_ready_windows();
}

void WindowEngine::close_ready_windows() {
  // Window k is complete when the newest time passes its end plus the lateness (SPEC: "passes"):
  // k * hop + size + lateness < newest, i.e. <= newest - 1 us.
  if (frontier_us_ == kNoTime) return;
  close_through(floor_div(frontier_us_ - 1 - config_.lateness_us - config_.window_us, config_.hop_us));
}

void WindowEngine::close_through(int64_t last) {
  const int64_t hop = config_.hop_us, size = config_.window_us;
  // A long silence in event time: emit the first kMaxEmptyWindows empty windows (they let
  // episodes resolve), then jump to the next window holding data (a bogus far-future timestamp
  // must not loop over millions of windows).
  constexpr int64_t kMaxEmptyWindows = 1000;
  while (next_window_ <= last) {
    bool empty = panes_.empty() || panes_.front()->index * pane_us_ >= next_window_ * hop + size;
    if (!empty) {
      empty_run_ = 0;
    } else if (++empty_run_ > kMaxEmptyWindows) {
      int64_t data_window =
          panes_.empty() ? last + 1 : floor_div(panes_.front()->index * pane_us_ - size, hop) + 1;
      int64_t target = std::min(std::max(data_window, next_window_ + 1), last + 1);
      stats_.skipped_windows += static_cast<uint64_t>(target - next_window_);
      next_window_ = target;
      continue;
    }
    close_window(next_window_);
    ++next_window_;
    closed_any_ = true;
    drop_dead_panes();
  }
}

void WindowEngine::close_window(int64_t k) {
  const int64_t start = k * config_.hop_us, end = start + config_.window_us;
  const int64_t first_pane = floor_div(start, pane_us_), end_pane = floor_div(end, pane_us_);
  WindowView view;
  view.start_us_ = start;
  view.end_us_ = end;
  view.seconds_ = static_cast<double>(config_.window_us) / 1e6;
  view.min_requests_ = &config_.min_requests;
  const Pane* only = nullptr;
  size_t in_window = 0;
  for (const auto& p : panes_)
    if (p->index >= first_pane && p->index < end_pane) {
      only = p.get();
      ++in_window;
    }
  if (in_window == 1) {
    view.pane_ = &only->aggregate;
  } else {
    // Sliding window (or empty): the merge of its panes, uncapped.
    PaneAggregate& m = merged_->aggregate;
    m.reset(0, SIZE_MAX);
    for (const auto& p : panes_)
      if (p->index >= first_pane && p->index < end_pane) m.merge(p->aggregate);
    view.pane_ = &m;
  }
  // Client networks: the ips summed by /24 (IPv4) or /48 (IPv6), once per window.
  prefixes_.clear();
  const KeyTable& ips = view.pane_->keys[dimension_index(Dimension::kIp)];
  std::string prefix;
  for (const auto& e : ips.entries()) {
    prefix.clear();
    if (!append_network_prefix(ips.key(e), prefix)) continue;  // not an address: no network
    prefixes_.stats(prefixes_.upsert(prefix)).merge(e.stats);
  }
  view.prefixes_ = &prefixes_;
  observer_.on_window(view);
  ++stats_.windows_closed;
}

void WindowEngine::drop_dead_panes() {
  // A pane is dead once every window containing it has closed: its last window is
  // floor(pane start / hop).
  while (!panes_.empty() && floor_div(panes_.front()->index * pane_us_, config_.hop_us) < next_window_) {
    for (const auto& t : panes_.front()->aggregate.keys) stats_.evicted_keys += t.evicted_keys();
    spare_.push_back(std::move(panes_.front()));
    panes_.erase(panes_.begin());
    // Keep at most a few spare panes: their tables hold the memory of the busiest pane seen.
    if (spare_.size() > 4) spare_.erase(spare_.begin());
  }
}

void WindowEngine::flush() {
  if (!started_) return;
  // Close every window that holds a record, and those the (possibly advanced) time completed;
  // an empty window that only a quiet wall clock opened is not emitted.
  int64_t last = floor_div(newest_record_us_, config_.hop_us);
  if (frontier_us_ != kNoTime)
    last = std::max(last, floor_div(frontier_us_ - 1 - config_.lateness_us - config_.window_us, config_.hop_us));
  close_through(last);
}

}  // namespace logpipe

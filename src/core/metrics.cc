// The windowed-metrics engine: panes of counters, windows made of panes, metric values computed
// from the one metric table. See include/logpipe/metrics.h for the model.
#include "logpipe/metrics.h"

#include "logpipe/error.h"
#include "logpipe/intern.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <numeric>

namespace logpipe {

std::string_view dimension_name(Dimension d) noexcept {
  switch (d) {
    case Dimension::kGlobal: return "";
    case Dimension::kUrl: return "url";
    case Dimension::kUser: return "user";
    case Dimension::kIp: return "ip";
  }
  return "";
}

MetricId find_metric(std::string_view name) noexcept {
  for (size_t i = 0; i < kMetricCount; ++i)
    if (kMetrics[i].name == name) return static_cast<MetricId>(i);
  return kMetricCount;
}

// ---------------------------------------------------------------------------------------------
// LatencyHistogram

namespace {

inline size_t latency_bucket(uint64_t us) noexcept {
  constexpr size_t kSub = LatencyHistogram::kSub;
  if (us < kSub) return static_cast<size_t>(us);
  int e = 63 - std::countl_zero(us);  // >= kSubBits
  size_t b = kSub + static_cast<size_t>(e - LatencyHistogram::kSubBits) * kSub +
             static_cast<size_t>((us >> (e - LatencyHistogram::kSubBits)) & (kSub - 1));
  return std::min(b, LatencyHistogram::kBuckets - 1);
}

inline double bucket_midpoint(size_t b) noexcept {
  constexpr size_t kSub = LatencyHistogram::kSub;
  if (b < kSub) return static_cast<double>(b);
  size_t octave = (b - kSub) / kSub;  // value has bit (octave + kSubBits) as its top bit
  size_t sub = (b - kSub) % kSub;
  double width = std::ldexp(1.0, static_cast<int>(octave));
  double low = static_cast<double>(kSub + sub) * width;
  return low + width / 2;
}

}  // namespace

void LatencyHistogram::add(int64_t us) noexcept {
  uint64_t v = us < 0 ? 0 : static_cast<uint64_t>(us);
  ++counts_[latency_bucket(v)];
  ++total_;
  min_us_ = std::min(min_us_, v);
  max_us_ = std::max(max_us_, v);
}

void LatencyHistogram::merge(const LatencyHistogram& o) noexcept {
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
  total_ += o.total_;
  min_us_ = std::min(min_us_, o.min_us_);
  max_us_ = std::max(max_us_, o.max_us_);
}

void LatencyHistogram::clear() noexcept {
  counts_.fill(0);
  total_ = 0;
  min_us_ = UINT64_MAX;
  max_us_ = 0;
}

double LatencyHistogram::quantile_us(double q) const noexcept {
  if (total_ == 0) return 0;
  // Nearest rank: the ceil(q * n)-th smallest sample (1-based).
  auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total_) - 1e-9));
  if (rank < 1) rank = 1;
  auto clamped = [this](double v) {
    return std::clamp(v, static_cast<double>(min_us_), static_cast<double>(max_us_));
  };
  uint64_t seen = 0;
  for (size_t b = 0; b < kBuckets; ++b) {
    seen += counts_[b];
    if (seen >= rank) return clamped(bucket_midpoint(b));
  }
  return clamped(bucket_midpoint(kBuckets - 1));
}

// ---------------------------------------------------------------------------------------------
// KeyTable

KeyTable::Entry& KeyTable::upsert(std::string_view key, uint64_t hash, std::vector<int32_t>* evicted) {
  if (index_.empty()) rebuild_index(1024);
  size_t mask = index_.size() - 1;
  size_t i = hash & mask;
  for (;; i = (i + 1) & mask) {
    uint32_t slot = index_[i];
    if (slot == 0) break;
    Entry& e = entries_[slot - 1];
    if (e.hash == hash && e.key_size == key.size() &&
        std::memcmp(arena_.data() + e.key_offset, key.data(), key.size()) == 0)
      return e;
  }
  if (cap_ && entries_.size() >= cap_) {
    evict_lighter_half(evicted);
    return upsert(key, hash, evicted);  // the index was rebuilt: find the free slot again
  }
  Entry e{};
  e.hash = hash;
  e.key_offset = static_cast<uint32_t>(arena_.size());
  e.key_size = static_cast<uint32_t>(key.size());
  arena_.insert(arena_.end(), key.begin(), key.end());
  entries_.push_back(e);
  index_[i] = static_cast<uint32_t>(entries_.size());
  if (entries_.size() * 2 > index_.size()) rebuild_index(index_.size() * 2);
  return entries_.back();
}

const KeyTable::Entry* KeyTable::find(std::string_view key, uint64_t hash) const noexcept {
  if (index_.empty()) return nullptr;
  size_t mask = index_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    uint32_t slot = index_[i];
    if (slot == 0) return nullptr;
    const Entry& e = entries_[slot - 1];
    if (e.hash == hash && key == this->key(e)) return &e;
  }
}

void KeyTable::rebuild_index(size_t slots) {
  index_.assign(slots, 0);
  size_t mask = slots - 1;
  for (uint32_t k = 0; k < entries_.size(); ++k) {
    size_t i = entries_[k].hash & mask;
    while (index_[i] != 0) i = (i + 1) & mask;
    index_[i] = k + 1;
  }
}

// Batch eviction: rather than the exact minimum per insert (Space-Saving's stream summary), drop
// every key at or below the median in one O(n) pass. Heavy keys (a DDoS source, a failing url)
// grow far faster than the median and survive; a key that is evicted and comes back restarts
// at zero, so counts are never over-estimated (no false alarm from the cap) and are low by at
// most evicted_floor_.
void KeyTable::evict_lighter_half(std::vector<int32_t>* evicted) {
  std::vector<uint64_t> counts(entries_.size());
  for (size_t k = 0; k < entries_.size(); ++k) counts[k] = entries_[k].stats.requests;
  auto mid = counts.begin() + static_cast<ptrdiff_t>(counts.size() / 2);
  std::nth_element(counts.begin(), mid, counts.end());
  uint64_t median = *mid;
  std::vector<Entry> kept;
  kept.reserve(entries_.size());
  std::vector<char> arena;
  arena.reserve(arena_.size());
  size_t drop_budget = entries_.size() / 2 + 1;  // ties at the median: drop about half, not all
  for (const Entry& e : entries_) {
    if (e.stats.requests <= median && drop_budget > 0) {
      --drop_budget;
      ++evicted_keys_;
      evicted_floor_ = std::max(evicted_floor_, e.stats.requests);
      if (evicted && e.latency >= 0) evicted->push_back(e.latency);
      continue;
    }
    Entry n = e;
    n.key_offset = static_cast<uint32_t>(arena.size());
    arena.insert(arena.end(), arena_.begin() + e.key_offset, arena_.begin() + e.key_offset + e.key_size);
    kept.push_back(n);
  }
  entries_.swap(kept);
  arena_.swap(arena);
  rebuild_index(index_.size());
}

void KeyTable::clear() noexcept {
  std::fill(index_.begin(), index_.end(), 0u);
  entries_.clear();
  arena_.clear();
  evicted_keys_ = 0;
  evicted_floor_ = 0;
}

size_t KeyTable::memory_bytes() const noexcept {
  return index_.capacity() * sizeof(uint32_t) + entries_.capacity() * sizeof(Entry) + arena_.capacity();
}

// ---------------------------------------------------------------------------------------------
// EngineConfig

std::array<uint64_t, kMetricCount> EngineConfig::default_min_requests() noexcept {
  std::array<uint64_t, kMetricCount> m{};
  for (size_t i = 0; i < kMetricCount; ++i) m[i] = kMetrics[i].min_requests;
  return m;
}

std::bitset<1000> EngineConfig::default_error_statuses() noexcept {
  std::bitset<1000> b;
  for (size_t s = 400; s < 1000; ++s) b.set(s);
  return b;
}

void EngineConfig::validate() const {
  if (window_us < 1'000'000 || window_us % 1'000'000 != 0)
    usage_error("--window: must be a whole number of seconds, at least 1s");
  int64_t hop = hop_us ? hop_us : window_us;
  if (hop < 1'000'000 || hop % 1'000'000 != 0) usage_error("--hop: must be a whole number of seconds, at least 1s");
  if (hop > window_us) usage_error("--hop: must not exceed --window (windows would leave gaps)");
  if (window_us / std::gcd(window_us, hop) > 3600)
    usage_error("--hop: a window may span at most 3600 hops (window / gcd(window, hop))");
  if (lateness_us < 0) usage_error("--lateness: must not be negative");
  if (max_keys < 16) usage_error("--max-keys: must be at least 16");
}

// ---------------------------------------------------------------------------------------------
// Panes and windows

struct WindowEngine::Pane {
  int64_t index = 0;
  KeyStats totals;
  std::array<KeyTable, kKeyedDimensions> keys;
  std::vector<LatencyHistogram> latency;  // indexed by KeyTable::Entry::latency (url dimension)
  std::vector<int32_t> free_latency;      // histograms of evicted urls, ready for reuse
  size_t latency_used = 0;

  void reset(int64_t i, size_t cap) {
    index = i;
    totals = {};
    for (auto& t : keys) {
      t.clear();
      t.set_cap(cap);
    }
    latency_used = 0;
    free_latency.clear();
  }
  int32_t new_histogram(size_t max) {
    if (!free_latency.empty()) {
      int32_t h = free_latency.back();
      free_latency.pop_back();
      latency[static_cast<size_t>(h)].clear();
      return h;
    }
    if (latency_used >= max) return -1;
    if (latency_used == latency.size()) latency.emplace_back();
    else latency[latency_used].clear();
    return static_cast<int32_t>(latency_used++);
  }
};

MetricValue WindowView::global(MetricId m) const noexcept {
  KeyTable::Entry e{};
  e.stats = *totals_;
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
      if (e.latency >= 0 && latency_) {
        const LatencyHistogram& h = (*latency_)[static_cast<size_t>(e.latency)];
        v.requests = h.count();
        v.value = h.quantile_us(0.99) / 1000.0;
      }
      break;
  }
  v.eligible = v.requests > 0 && v.requests >= (*min_requests_)[m];
  return v;
}

WindowEngine::WindowEngine(EngineConfig config, WindowObserver& observer)
    : config_(std::move(config)), observer_(observer) {
  config_.validate();
  if (config_.hop_us == 0) config_.hop_us = config_.window_us;
  pane_us_ = std::gcd(config_.window_us, config_.hop_us);
  merged_ = std::make_unique<Pane>();
}

WindowEngine::~WindowEngine() = default;

const EngineStats& WindowEngine::stats() const noexcept {
  stats_.open_panes = panes_.size();
  size_t keys = 0;
  for (const auto& p : panes_)
    for (const auto& t : p->keys) keys += t.size();
  stats_.tracked_keys = keys;
  return stats_;
}

WindowEngine::Pane& WindowEngine::pane_for(int64_t index) {
  // Few panes are open (window + lateness); most records hit the newest one.
  for (auto it = panes_.rbegin(); it != panes_.rend(); ++it) {
    if ((*it)->index == index) return **it;
    if ((*it)->index < index) {
      auto pos = it.base();  // insert after *it
      std::unique_ptr<Pane> p;
      if (!spare_.empty()) {
        p = std::move(spare_.back());
        spare_.pop_back();
      } else {
        p = std::make_unique<Pane>();
      }
      p->reset(index, config_.max_keys);
      return **panes_.insert(pos, std::move(p));
    }
  }
  std::unique_ptr<Pane> p;
  if (!spare_.empty()) {
    p = std::move(spare_.back());
    spare_.pop_back();
  } else {
    p = std::make_unique<Pane>();
  }
  p->reset(index, config_.max_keys);
  return **panes_.insert(panes_.begin(), std::move(p));
}

void WindowEngine::count_key(Pane& pane, size_t dim, std::string_view key, uint64_t hash, const Record& r,
                             bool error, bool server_error, bool with_status) {
  KeyTable::Entry& e = pane.keys[dim].upsert(key, hash, &pane.free_latency);
  ++e.stats.requests;
  e.stats.with_status += with_status;
  e.stats.errors += error;
  e.stats.server_errors += server_error;
  if (dim == WindowView::dimension_index(Dimension::kUrl) && r.duration_us >= 0) {
    if (e.latency < 0) e.latency = pane.new_histogram(config_.max_latency_keys);
    if (e.latency >= 0) pane.latency[static_cast<size_t>(e.latency)].add(r.duration_us);
  }
}

WindowEngine::AddResult WindowEngine::add(const Record& r) {
  if (r.time_us == kNoTime) return AddResult::kNoTime;
  const int64_t t = r.time_us;
  const int64_t hop = config_.hop_us, size = config_.window_us;
  // Windows containing t: indices first..last (start = index * hop).
  const int64_t last = floor_div(t, hop);
  const int64_t first = floor_div(t - size, hop) + 1;
  if (started_) {
    // Late when every window holding t has closed, or would have by the lateness rule.
    // (Before any window closed, only the lateness rule applies: earlier windows may still open.)
    if ((closed_any_ && last < next_window_) ||
        last * hop + size + config_.lateness_us < stats_.max_time_us) {
      ++stats_.late;
      return AddResult::kLate;
    }
    if (!closed_any_ && first < next_window_) {
      // Out of order before anything closed: open earlier windows, but never one that the
      // lateness rule already considers complete.
      int64_t open_from = first;
      while (open_from * hop + size + config_.lateness_us < stats_.max_time_us) ++open_from;
      next_window_ = std::min(next_window_, open_from);
    }
  } else {
    started_ = true;
    next_window_ = first;
    stats_.max_time_us = t;
  }
  Pane& pane = pane_for(floor_div(t, pane_us_));
  // An outcome is an HTTP status or, for application logs, a level: the error ratios count both
  // (an ERROR line without status is a failed request; configured statuses do not apply to it).
  const bool with_status = r.has_outcome();
  const bool error = r.has_status()
                         ? r.status > 0 && r.status < 1000 && config_.error_statuses.test(static_cast<size_t>(r.status))
                         : r.failed;
  const bool server_error = r.status >= 500 && r.status < 600;
  ++pane.totals.requests;
  pane.totals.with_status += with_status;
  pane.totals.errors += error;
  pane.totals.server_errors += server_error;
  // Hash the three keys and prefetch their slots first: the three table misses then overlap.
  constexpr size_t kUrl = 0, kUser = 1, kIp = 2;
  static_assert(kUrl == static_cast<size_t>(Dimension::kUrl) - 1 && kIp == static_cast<size_t>(Dimension::kIp) - 1);
  const std::string_view keys[kKeyedDimensions] = {r.path(), r.user.empty() ? r.session : r.user, r.ip};
  uint64_t hashes[kKeyedDimensions];
  for (size_t d = 0; d < kKeyedDimensions; ++d) {
    hashes[d] = hash_bytes(keys[d]);
    pane.keys[d].prefetch(hashes[d]);
  }
  for (size_t d : {kUrl, kUser, kIp})
    if (!keys[d].empty()) count_key(pane, d, keys[d], hashes[d], r, error, server_error, with_status);
  ++stats_.records;
  newest_record_us_ = std::max(newest_record_us_, t);
  if (t > stats_.max_time_us) {
    stats_.max_time_us = t;
    close_ready_windows();
  }
  return AddResult::kAdded;
}

void WindowEngine::advance_to(int64_t time_us) {
  if (!started_ || time_us <= stats_.max_time_us) return;
  stats_.max_time_us = time_us;
  close_ready_windows();
}

void WindowEngine::close_ready_windows() {
  // Window k is complete when the newest time passes its end plus the lateness (SPEC: "passes"):
  // k * hop + size + lateness < newest, i.e. <= newest - 1 us.
  close_through(floor_div(stats_.max_time_us - 1 - config_.lateness_us - config_.window_us, config_.hop_us));
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
  Pane& m = *merged_;
  const Pane* source = only;
  if (in_window != 1) {
    // Sliding window (or empty): sum its panes into the scratch pane.
    m.reset(k, 0);
    for (const auto& p : panes_) {
      if (p->index < first_pane || p->index >= end_pane) continue;
      m.totals.merge(p->totals);
      for (size_t d = 0; d < kKeyedDimensions; ++d) {
        const KeyTable& from = p->keys[d];
        for (const auto& e : from.entries()) {
          KeyTable::Entry& to = m.keys[d].upsert(from.key(e), e.hash);
          to.stats.merge(e.stats);
          if (e.latency >= 0) {
            if (to.latency < 0) to.latency = m.new_histogram(SIZE_MAX);
            m.latency[static_cast<size_t>(to.latency)].merge(p->latency[static_cast<size_t>(e.latency)]);
          }
        }
      }
    }
    source = &m;
  }
  view.totals_ = &source->totals;
  for (size_t d = 0; d < kKeyedDimensions; ++d) view.tables_[d] = &source->keys[d];
  view.latency_ = &source->latency;
  observer_.on_window(view);
  ++stats_.windows_closed;
}

void WindowEngine::drop_dead_panes() {
  // A pane is dead once every window containing it has closed: its last window is
  // floor(pane start / hop).
  while (!panes_.empty() && floor_div(panes_.front()->index * pane_us_, config_.hop_us) < next_window_) {
    for (const auto& t : panes_.front()->keys) stats_.evicted_keys += t.evicted_keys();
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
  close_through(std::max(floor_div(newest_record_us_, config_.hop_us),
                         floor_div(stats_.max_time_us - 1 - config_.lateness_us - config_.window_us, config_.hop_us)));
}

}  // namespace logpipe

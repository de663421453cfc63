// Mergeable aggregation building blocks (see include/logpipe/aggregate.h): latency histograms,
// key tables, pane aggregates, and their wire form.
#include "logpipe/aggregate.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

namespace logpipe {

std::string_view dimension_name(Dimension d) noexcept {
  switch (d) {
    case Dimension::kGlobal: return "";
    case Dimension::kUrl: return "url";
    case Dimension::kUser: return "user";
    case Dimension::kIp: return "ip";
    case Dimension::kPrefix: return "prefix";
  }
  return "";
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

size_t LatencyHistogram::bucket_of(int64_t us) noexcept {
  return latency_bucket(us < 0 ? 0 : static_cast<uint64_t>(us));
}

void LatencyHistogram::add_bucket(size_t b, uint64_t n, uint64_t min_us, uint64_t max_us) noexcept {
  if (b >= kBuckets || n == 0) return;
  counts_[b] += static_cast<uint32_t>(std::min<uint64_t>(n, UINT32_MAX - counts_[b]));
  total_ += n;
  min_us_ = std::min(min_us_, min_us);
  max_us_ = std::max(max_us_, max_us);
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

uint64_t LatencyHistogram::count_above(double us) const noexcept {
  if (total_ == 0 || us >= static_cast<double>(max_us_)) return 0;
  if (us < static_cast<double>(min_us_)) return total_;
  // The first bucket whose every value is above `us`: the one after the bucket holding it.
  const size_t from = latency_bucket(static_cast<uint64_t>(us)) + 1;
  uint64_t n = 0;
  for (size_t b = from; b < kBuckets; ++b) n += counts_[b];
  return n;
}

// ---------------------------------------------------------------------------------------------
// KeyTable

namespace {

constexpr uint64_t kTagMask = 0xffffffff00000000ull;

inline uint64_t slot_of(uint64_t hash, uint32_t index) noexcept { return (hash & kTagMask) | (index + 1ull); }
inline uint32_t slot_index(uint64_t slot) noexcept { return static_cast<uint32_t>(slot) - 1; }

}  // namespace

uint32_t KeyTable::upsert(std::string_view key, uint64_t hash, std::vector<int32_t>* evicted) {
  if (index_.empty()) rebuild_index(1024);
  size_t mask = index_.size() - 1;
  size_t i = hash & mask;
  const uint64_t tag = hash & kTagMask;
  for (;; i = (i + 1) & mask) {
    uint64_t slot = index_[i];
    if (slot == 0) break;
    if ((slot & kTagMask) != tag) continue;
    uint32_t id = slot_index(slot);
    const Entry& e = entries_[id];
    // (memcmp of zero bytes still wants valid pointers: an empty key in an empty arena has none.)
    if (e.hash == hash && e.key_size == key.size() &&
        (key.empty() || std::memcmp(arena_.data() + e.key_offset, key.data(), key.size()) == 0))
      return id;
  }
  if (cap_ && entries_.size() >= cap_) {
    evict_lighter_half(evicted);
    return upsert(key, hash, evicted);  // the index was rebuilt: find the free slot again
  }
  return insert_new(key, hash, i);
}

uint32_t KeyTable::insert_new(std::string_view key, uint64_t hash, size_t slot) {
  Entry e{};
  e.hash = hash;
  e.key_offset = static_cast<uint32_t>(arena_.size());
  e.key_size = static_cast<uint32_t>(key.size());
  arena_.insert(arena_.end(), key.begin(), key.end());
  auto id = static_cast<uint32_t>(entries_.size());
  entries_.push_back(e);
  index_[slot] = slot_of(hash, id);
  if (entries_.size() * 2 > index_.size()) rebuild_index(index_.size() * 2);
  return id;
}

uint32_t KeyTable::find(std::string_view key, uint64_t hash) const noexcept {
  if (index_.empty()) return kNone;
  size_t mask = index_.size() - 1;
  const uint64_t tag = hash & kTagMask;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    uint64_t slot = index_[i];
    if (slot == 0) return kNone;
    if ((slot & kTagMask) != tag) continue;
    uint32_t id = slot_index(slot);
    const Entry& e = entries_[id];
    if (e.hash == hash && key == this->key(e)) return id;
  }
}

void KeyTable::rebuild_index(size_t slots) {
  index_.assign(slots, 0);
  size_t mask = slots - 1;
  for (uint32_t k = 0; k < entries_.size(); ++k) {
    size_t i = entries_[k].hash & mask;
    while (index_[i] != 0) i = (i + 1) & mask;
    index_[i] = slot_of(entries_[k].hash, k);
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
  remap_.assign(entries_.size(), kNone);
  ++evictions_;
  for (uint32_t id = 0; id < entries_.size(); ++id) {
    const Entry& e = entries_[id];
    if (e.stats.requests <= median && drop_budget > 0) {
      --drop_budget;
      ++evicted_keys_;
      evicted_requests_ += e.stats.requests;
      evicted_floor_ = std::max(evicted_floor_, e.stats.requests);
      if (evicted && e.latency >= 0) evicted->push_back(e.latency);
      continue;
    }
    remap_[id] = static_cast<uint32_t>(kept.size());
    Entry n = e;
    n.key_offset = static_cast<uint32_t>(arena.size());
    arena.insert(arena.end(), arena_.begin() + e.key_offset, arena_.begin() + e.key_offset + e.key_size);
    kept.push_back(n);
  }
  entries_.swap(kept);
  arena_.swap(arena);
  rebuild_index(index_.size());
}

std::vector<uint32_t> KeyTable::merge(const KeyTable& other) {
  std::vector<uint32_t> map(other.entries_.size(), kNone);
  for (uint32_t id = 0; id < other.entries_.size(); ++id) {
    const Entry& from = other.entries_[id];
    uint32_t to = upsert(other.key(from), from.hash);
    entries_[to].stats.merge(from.stats);
    map[id] = to;
  }
  // With a cap, inserting may have evicted keys merged earlier: their ids moved. Look them up
  // again (rare: only a capped table that fills up while merging).
  if (cap_)
    for (uint32_t id = 0; id < other.entries_.size(); ++id) map[id] = find(other.key(id), other.entries_[id].hash);
  evicted_keys_ += other.evicted_keys_;
  evicted_floor_ += other.evicted_floor_;
  evicted_requests_ += other.evicted_requests_;
  return map;
}

std::vector<uint32_t> KeyTable::top(size_t n) const {
  std::vector<uint32_t> ids(entries_.size());
  for (uint32_t i = 0; i < ids.size(); ++i) ids[i] = i;
  auto order = [this](uint32_t a, uint32_t b) {
    const uint64_t ra = entries_[a].stats.requests, rb = entries_[b].stats.requests;
    if (ra != rb) return ra > rb;
    return key(a) < key(b);
  };
  if (n > 0 && n < ids.size()) {
    std::partial_sort(ids.begin(), ids.begin() + static_cast<ptrdiff_t>(n), ids.end(), order);
    ids.resize(n);
  } else {
    std::sort(ids.begin(), ids.end(), order);
  }
  return ids;
}

void KeyTable::clear() noexcept {
  std::fill(index_.begin(), index_.end(), 0u);
  entries_.clear();
  arena_.clear();
  evicted_keys_ = 0;
  evicted_floor_ = 0;
  evicted_requests_ = 0;
}

size_t KeyTable::memory_bytes() const noexcept {
  return index_.capacity() * sizeof(uint64_t) + entries_.capacity() * sizeof(Entry) + arena_.capacity();
}

// ---------------------------------------------------------------------------------------------
// Wire form: unsigned LEB128 varints, length-prefixed key bytes. A pane partial starts with a
// magic and a version byte so that a newer peer's message is refused, not misread.

void wire::put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

bool wire::get_varint(std::string_view& in, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in.empty()) return false;
    auto b = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    if (shift == 63 && b > 1) return false;
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

void wire::put_stats(std::string& out, const KeyStats& s) {
  put_varint(out, s.requests);
  put_varint(out, s.with_status);
  put_varint(out, s.errors);
  put_varint(out, s.server_errors);
}

bool wire::get_stats(std::string_view& in, KeyStats& s) {
  return get_varint(in, s.requests) && get_varint(in, s.with_status) && get_varint(in, s.errors) &&
         get_varint(in, s.server_errors) && s.with_status <= s.requests && s.errors <= s.with_status &&
         s.server_errors <= s.with_status;
}

namespace {
using wire::get_stats;
using wire::get_varint;
using wire::put_stats;
using wire::put_varint;

constexpr std::string_view kPaneMagic = "LPP";
constexpr char kPaneVersion = 1;

}  // namespace

void LatencyHistogram::serialize(std::string& out) const {
  size_t used = 0;
  for (uint32_t c : counts_) used += c != 0;
  put_varint(out, used);
  size_t last = 0;
  for (size_t b = 0; b < kBuckets; ++b) {
    if (!counts_[b]) continue;
    put_varint(out, b - last);
    put_varint(out, counts_[b]);
    last = b;
  }
  if (total_) {
    put_varint(out, min_us_);
    put_varint(out, max_us_);
  }
}

bool LatencyHistogram::deserialize(std::string_view& in) {
  clear();
  uint64_t used = 0;
  if (!get_varint(in, used) || used > kBuckets) return false;
  size_t b = 0;
  for (uint64_t i = 0; i < used; ++i) {
    uint64_t delta = 0, count = 0;
    if (!get_varint(in, delta) || !get_varint(in, count)) return false;
    if ((i > 0 && delta == 0) || delta >= kBuckets - b || count == 0 || count > UINT32_MAX) return false;
    b += static_cast<size_t>(delta);
    counts_[b] = static_cast<uint32_t>(count);
    total_ += count;
  }
  if (total_) {
    if (!get_varint(in, min_us_) || !get_varint(in, max_us_) || min_us_ > max_us_) return false;
  }
  return true;
}

void KeyTable::serialize(std::string& out) const {
  put_varint(out, entries_.size());
  put_varint(out, evicted_keys_);
  put_varint(out, evicted_floor_);
  for (const Entry& e : entries_) {
    put_varint(out, e.key_size);
    out.append(arena_.data() + e.key_offset, e.key_size);
    put_stats(out, e.stats);
  }
}

bool KeyTable::deserialize(std::string_view& in) {
  clear();
  uint64_t n = 0, evicted_keys = 0, floor = 0;
  if (!get_varint(in, n) || !get_varint(in, evicted_keys) || !get_varint(in, floor)) return false;
  if (n > in.size()) return false;  // every entry takes at least one byte
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t size = 0;
    if (!get_varint(in, size) || size > in.size()) return false;
    std::string_view key = in.substr(0, static_cast<size_t>(size));
    in.remove_prefix(static_cast<size_t>(size));
    KeyStats s;
    if (!get_stats(in, s)) return false;
    size_t before = entries_.size();
    uint32_t id = upsert(key);
    if (entries_.size() == before) return false;  // a key twice
    entries_[id].stats = s;
  }
  evicted_keys_ = evicted_keys;
  evicted_floor_ = floor;
  return true;
}

// ---------------------------------------------------------------------------------------------
// PaneAggregate

void PaneAggregate::reset(size_t cap, size_t max_latency_keys) {
  totals = {};
  for (auto& t : keys) {
    t.clear();
    t.set_cap(cap);
  }
  latency_used_ = 0;
  free_latency_.clear();
  max_latency_keys_ = max_latency_keys;
}

int32_t PaneAggregate::new_histogram() {
  if (!free_latency_.empty()) {
    int32_t h = free_latency_.back();
    free_latency_.pop_back();
    latency_[static_cast<size_t>(h)].clear();
    return h;
  }
  if (latency_used_ >= max_latency_keys_) return -1;
  if (latency_used_ == latency_.size()) latency_.emplace_back();
  else latency_[latency_used_].clear();
  return static_cast<int32_t>(latency_used_++);
}

void PaneAggregate::add(const Outcome& o, const RecordKeys& k, int64_t duration_us) {
  totals.add(o);
  for (size_t d = 0; d < kKeyedDimensions; ++d) {
    if (k.keys[d].empty()) continue;
    KeyTable& t = keys[d];
    KeyTable::Entry& e = t.entry(t.upsert(k.keys[d], k.hashes[d], &free_latency_));
    e.stats.add(o);
    if (d == dimension_index(Dimension::kUrl) && duration_us >= 0) {
      if (e.latency < 0) e.latency = new_histogram();
      if (e.latency >= 0) latency_[static_cast<size_t>(e.latency)].add(duration_us);
    }
  }
}

void PaneAggregate::merge(const PaneAggregate& other) {
  totals.merge(other.totals);
  for (size_t d = 0; d < kKeyedDimensions; ++d) {
    std::vector<uint32_t> map = keys[d].merge(other.keys[d]);
    if (d != dimension_index(Dimension::kUrl)) continue;
    const auto& from = other.keys[d].entries();
    for (uint32_t id = 0; id < from.size(); ++id) {
      if (from[id].latency < 0 || map[id] == KeyTable::kNone) continue;
      KeyTable::Entry& to = keys[d].entry(map[id]);
      if (to.latency < 0) to.latency = new_histogram();
      if (to.latency >= 0) latency_[static_cast<size_t>(to.latency)].merge(other.latency_[static_cast<size_t>(from[id].latency)]);
    }
  }
}

size_t PaneAggregate::key_count() const noexcept {
  size_t n = 0;
  for (const auto& t : keys) n += t.size();
  return n;
}

void PaneAggregate::serialize(std::string& out) const {
  out += kPaneMagic;
  out += kPaneVersion;
  put_stats(out, totals);
  for (const auto& t : keys) t.serialize(out);
  const KeyTable& urls = keys[dimension_index(Dimension::kUrl)];
  size_t with_latency = 0;
  for (const auto& e : urls.entries()) with_latency += e.latency >= 0;
  put_varint(out, with_latency);
  for (uint32_t id = 0; id < urls.size(); ++id) {
    const KeyTable::Entry& e = urls.entry(id);
    if (e.latency < 0) continue;
    put_varint(out, id);
    latency_[static_cast<size_t>(e.latency)].serialize(out);
  }
}

bool PaneAggregate::deserialize(std::string_view in) {
  reset(0, SIZE_MAX);
  if (in.substr(0, kPaneMagic.size()) != kPaneMagic || in.size() < kPaneMagic.size() + 1 ||
      in[kPaneMagic.size()] != kPaneVersion)
    return false;
  in.remove_prefix(kPaneMagic.size() + 1);
  if (!get_stats(in, totals)) return false;
  for (auto& t : keys)
    if (!t.deserialize(in)) return false;
  KeyTable& urls = keys[dimension_index(Dimension::kUrl)];
  uint64_t n = 0;
  if (!get_varint(in, n) || n > urls.size()) return false;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t id = 0;
    if (!get_varint(in, id) || id >= urls.size() || urls.entry(static_cast<uint32_t>(id)).latency >= 0) return false;
    int32_t h = new_histogram();
    urls.entry(static_cast<uint32_t>(id)).latency = h;
    if (!latency_[static_cast<size_t>(h)].deserialize(in)) return false;
  }
  return in.empty();
}

}  // namespace logpipe

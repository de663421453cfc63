// The building blocks every aggregation of logpipe is made of: counters of classified records
// (KeyStats), log-linear latency histograms, key tables (interned keys with their counters, an
// optional cap that keeps the heaviest keys, top-k), and the pane aggregate that the window
// engine keeps per slice of event time.
//
// They are *mergeable*: two aggregates of disjoint inputs merge into the aggregate of the union,
// exactly (below a key cap; with a cap, counts stay lower bounds and never over-estimate). This
// is what makes analyze's thread split exact, what sliding windows are made of (the sum of their
// panes), and what lets several `stream` instances ship partial aggregates to one another
// (serialize/deserialize: a compact, versioned binary form).
#pragma once

#include "logpipe/classify.h"
#include "logpipe/intern.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace logpipe {

/// The wire form's integers: unsigned LEB128 varints (get_varint: false on truncated or
/// over-long input, consuming what it read).
namespace wire {
void put_varint(std::string& out, uint64_t v);
bool get_varint(std::string_view& in, uint64_t& v);
}  // namespace wire

/// What a metric is keyed by. kGlobal: one value per window for all traffic. kPrefix (the /24 of
/// an IPv4 client, the /48 of an IPv6 one) is derived from the ip table when a window closes: it
/// costs nothing per record.
enum class Dimension : uint8_t { kGlobal, kUrl, kUser, kIp, kPrefix };
/// Number of keyed dimensions (url, user, ip).
inline constexpr size_t kKeyedDimensions = 3;
/// "url", "user", "ip", "prefix" or "" for kGlobal.
std::string_view dimension_name(Dimension d) noexcept;
/// Index of a keyed dimension in [0, kKeyedDimensions).
constexpr size_t dimension_index(Dimension d) noexcept { return static_cast<size_t>(d) - 1; }

/// Counters of one key (or of all traffic) over some records, as the Classifier sees them.
struct KeyStats {
  uint64_t requests = 0;       ///< every record
  uint64_t with_status = 0;    ///< records with an outcome: an HTTP status, or a level (app logs)
  uint64_t errors = 0;         ///< errors by the ErrorRules
  uint64_t server_errors = 0;  ///< status 5xx
  void add(const Outcome& o) noexcept {
    ++requests;
    with_status += o.known;
    errors += o.error;
    server_errors += o.server_error;
  }
  void merge(const KeyStats& o) noexcept {
    requests += o.requests;
    with_status += o.with_status;
    errors += o.errors;
    server_errors += o.server_errors;
  }
  bool operator==(const KeyStats&) const = default;
};

namespace wire {
/// A KeyStats as four varints; get_stats is false on truncated or inconsistent counters.
void put_stats(std::string& out, const KeyStats& s);
bool get_stats(std::string_view& in, KeyStats& s);
}  // namespace wire

/// Response times: log-linear buckets (8 per power of two, values under 8 us exact), so that a
/// quantile is within 6.25% of the exact one and a histogram is 1.2 KB.
class LatencyHistogram {
 public:
  static constexpr int kSubBits = 3;
  static constexpr size_t kSub = size_t{1} << kSubBits;
  static constexpr size_t kBuckets = kSub + 38 * kSub;  ///< up to 2^41 us (25 days)
  void add(int64_t duration_us) noexcept;
  void merge(const LatencyHistogram& o) noexcept;
  void clear() noexcept;
  uint64_t count() const noexcept { return total_; }
  /// Nearest-rank quantile (the smallest bucket holding at least q of the samples), reported as
  /// the bucket's midpoint in microseconds, clamped to the smallest and largest sample: never
  /// above the slowest request (a window of identical durations reports that duration exactly).
  /// 0 when empty.
  double quantile_us(double q) const noexcept;
  /// Samples in buckets whose values are all above `us` (a lower bound of the samples slower
  /// than `us`, exact to the bucket).
  uint64_t count_above(double us) const noexcept;
  /// The bucket of a duration (negative counts as 0), for owners that keep sparse per-key
  /// bucket counts (analyze's per-url response times) and rebuild a histogram with add_bucket.
  static size_t bucket_of(int64_t duration_us) noexcept;
  /// Adds n samples to bucket b (< kBuckets) whose exact range is [min_us, max_us] (the caller's
  /// smallest and largest sample of the key: quantiles are clamped to them).
  void add_bucket(size_t b, uint64_t n, uint64_t min_us, uint64_t max_us) noexcept;
  uint64_t max_us() const noexcept { return total_ ? max_us_ : 0; }
  /// Appends the histogram in the aggregate wire form (only non-empty buckets).
  void serialize(std::string& out) const;
  /// Reads what serialize() wrote; false (and `in` unspecified) on malformed data.
  bool deserialize(std::string_view& in);
  bool operator==(const LatencyHistogram&) const = default;

 private:
  std::array<uint32_t, kBuckets> counts_{};
  uint64_t total_ = 0;
  uint64_t min_us_ = UINT64_MAX;
  uint64_t max_us_ = 0;
};

/// Keys with their counters: open addressing on a 64-bit hash (the slot keeps 32 bits of it, so a
/// probe rarely touches an entry that is not the key), key bytes in one arena, dense ids (0, 1,
/// 2, ...: callers index side tables by them), no allocation per record once warm.
///
/// With a cap, when `cap` keys are held and a new one arrives, the lighter half (by requests) is
/// evicted in one pass (amortised O(1)) and ids are renumbered; the largest evicted count is kept
/// as `evicted_floor()`: any key's count is exact when it was never evicted, and low by at most
/// that floor otherwise. Without a cap ids never change.
class KeyTable {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;
  struct Entry {
    uint64_t hash;
    uint32_t key_offset;
    uint32_t key_size;
    KeyStats stats;
    int32_t latency = -1;  ///< owner's index of this key's histogram (PaneAggregate), -1 = none
  };
  explicit KeyTable(size_t cap = 0) : cap_(cap) {}
  void set_cap(size_t cap) noexcept { cap_ = cap; }
  size_t cap() const noexcept { return cap_; }
  /// The id of `key` (hash = hash_bytes(key)), inserted with zero counts when new. With a cap, an
  /// insert may evict first; `evicted` then receives the latency indices of evicted entries.
  uint32_t upsert(std::string_view key, uint64_t hash, std::vector<int32_t>* evicted = nullptr);
  uint32_t upsert(std::string_view key) { return upsert(key, hash_bytes(key)); }
  /// Like upsert, but first tries `hint`, a likely id (the previous key of the same client): a
  /// hit costs one comparison instead of hashing the key (long user agents). Uncapped tables only.
  uint32_t upsert_hinted(std::string_view key, uint32_t hint) {
    if (hint < entries_.size() && key == this->key(entries_[hint])) return hint;
    return upsert(key);
  }
  /// Hints the CPU to load the slot of `hash` (a caller that looks up several keys per record
  /// makes their cache misses overlap).
  void prefetch(uint64_t hash) const noexcept {
    if (!index_.empty()) __builtin_prefetch(&index_[hash & (index_.size() - 1)]);
  }
  /// The id of key, or kNone.
  uint32_t find(std::string_view key, uint64_t hash) const noexcept;
  uint32_t find(std::string_view key) const noexcept { return find(key, hash_bytes(key)); }
  Entry& entry(uint32_t id) noexcept { return entries_[id]; }
  const Entry& entry(uint32_t id) const noexcept { return entries_[id]; }
  KeyStats& stats(uint32_t id) noexcept { return entries_[id].stats; }
  const KeyStats& stats(uint32_t id) const noexcept { return entries_[id].stats; }
  std::string_view key(const Entry& e) const noexcept { return {arena_.data() + e.key_offset, e.key_size}; }
  std::string_view key(uint32_t id) const noexcept { return key(entries_[id]); }
  const std::vector<Entry>& entries() const noexcept { return entries_; }
  size_t size() const noexcept { return entries_.size(); }
  /// Adds every key of `other` (an aggregate of other records) with its counts, and its evicted
  /// floor to ours (a merged count is low by at most the sum). Returns other's id -> our id
  /// (kNone for a key our cap evicted meanwhile). Latency indices are the caller's business.
  std::vector<uint32_t> merge(const KeyTable& other);
  /// Ids of the top n keys by requests (ties: by key, ascending); n = 0 for all.
  std::vector<uint32_t> top(size_t n) const;
  uint64_t evicted_keys() const noexcept { return evicted_keys_; }
  uint64_t evicted_floor() const noexcept { return evicted_floor_; }
  /// Requests counted for keys that were evicted since ("other": the table's keys plus them are
  /// every request it counted).
  uint64_t evicted_requests() const noexcept { return evicted_requests_; }
  /// Evictions so far, and the last one's renumbering: old id -> new id, kNone for an evicted
  /// key (for owners of side tables indexed by id).
  uint64_t evictions() const noexcept { return evictions_; }
  const std::vector<uint32_t>& last_remap() const noexcept { return remap_; }
  /// Forgets every key; memory is kept for reuse.
  void clear() noexcept;
  /// Approximate heap bytes held.
  size_t memory_bytes() const noexcept;
  /// Appends the table (keys and counters; latency indices excluded) in the wire form.
  void serialize(std::string& out) const;
  /// Replaces the table's content with what serialize() wrote (latency indices -1); false on
  /// malformed data.
  bool deserialize(std::string_view& in);

 private:
  uint32_t insert_new(std::string_view key, uint64_t hash, size_t slot);
  void rebuild_index(size_t slots);
  void evict_lighter_half(std::vector<int32_t>* evicted);
  // slot: (hash >> 32) << 32 | (entry index + 1); 0 = empty.
  std::vector<uint64_t> index_;
  std::vector<Entry> entries_;
  std::vector<char> arena_;
  size_t cap_;
  uint64_t evicted_keys_ = 0;
  uint64_t evicted_floor_ = 0;
  uint64_t evicted_requests_ = 0;
  uint64_t evictions_ = 0;
  std::vector<uint32_t> remap_;
};

/// The keys of one record in each keyed dimension (Classifier::url_key, user_key, ip_key; "" =
/// none) and their hashes.
struct RecordKeys {
  std::array<std::string_view, kKeyedDimensions> keys;
  std::array<uint64_t, kKeyedDimensions> hashes;
  explicit RecordKeys(const Record& r) noexcept
      : keys{Classifier::url_key(r), Classifier::user_key(r), Classifier::ip_key(r)} {
    for (size_t d = 0; d < kKeyedDimensions; ++d) hashes[d] = hash_bytes(keys[d]);
  }
};

/// Counters of one slice of traffic: totals, per-key tables for url, user and ip, and a latency
/// histogram per url (up to a bound). The window engine keeps one per pane; a sliding window is
/// the merge of its panes; instances of a scaled-out stream exchange them serialized.
class PaneAggregate {
 public:
  KeyStats totals;
  std::array<KeyTable, kKeyedDimensions> keys;

  /// Empties the aggregate (memory kept): `cap` keys per dimension (0 = none), at most
  /// `max_latency_keys` urls with a histogram.
  void reset(size_t cap, size_t max_latency_keys);
  /// Counts one classified record. Allocation-free once warm.
  void add(const Outcome& o, const RecordKeys& k, int64_t duration_us);
  /// Adds an aggregate of disjoint records: the result is the aggregate of the union (exact
  /// without caps; with caps a lower bound, see KeyTable).
  void merge(const PaneAggregate& other);
  /// The histogram of a url entry of keys[url], or nullptr.
  const LatencyHistogram* latency(const KeyTable::Entry& url_entry) const noexcept {
    return url_entry.latency >= 0 ? &latency_[static_cast<size_t>(url_entry.latency)] : nullptr;
  }
  /// Prefetches the slots of a record's keys (before add(): the misses overlap).
  void prefetch(const RecordKeys& k) const noexcept {
    for (size_t d = 0; d < kKeyedDimensions; ++d) keys[d].prefetch(k.hashes[d]);
  }
  /// Number of keys held, all dimensions.
  size_t key_count() const noexcept;
  /// Appends the aggregate in its versioned wire form (docs/architecture.md, "Pane partials").
  void serialize(std::string& out) const;
  /// Replaces the content with what serialize() wrote; false on malformed or unknown-version
  /// data. Caps are not part of the wire form: the receiver's apply.
  bool deserialize(std::string_view in);

 private:
  int32_t new_histogram();
  std::vector<LatencyHistogram> latency_;  // indexed by KeyTable::Entry::latency (url dimension)
  std::vector<int32_t> free_latency_;      // histograms of evicted urls, ready for reuse
  size_t latency_used_ = 0;
  size_t max_latency_keys_ = SIZE_MAX;
};

}  // namespace logpipe

// Batch aggregation for `analyze`: totals, status breakdown and per-url/ip/user counters keyed
// by interned strings. The JSON writer follows the contract keys of SPEC.md "analyze".
#pragma once

#include "logpipe/intern.h"
#include "logpipe/record.h"
#include "logpipe/scan.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace logpipe {

/// Requests and errors of one key (url, ip, user).
struct KeyCounts {
  uint64_t requests = 0;
  uint64_t errors = 0;
};

/// Counters per interned key.
class KeyedCounts {
 public:
  void add(std::string_view key, bool error) {
    uint32_t id = table_.intern(key);
    if (id >= counts_.size()) counts_.resize(id + 1);
    ++counts_[id].requests;
    counts_[id].errors += error;
  }
  size_t size() const noexcept { return counts_.size(); }
  /// The top n keys by requests (ties: by key, ascending), n = 0 for all.
  std::vector<std::pair<std::string_view, KeyCounts>> top(size_t n) const;

 private:
  StringTable table_;
  std::vector<KeyCounts> counts_;
};

/// Everything `analyze` counts. Feed it records; then write it.
class Report final : public RecordSink {
 public:
  void on_record(const Record& r) override;

  uint64_t requests = 0;
  uint64_t errors = 0;  ///< status >= 400
  uint64_t bytes = 0;
  uint64_t malformed = 0;
  std::array<uint64_t, 1000> status{};  ///< count per status code
  KeyedCounts urls;                     ///< by path without query
  KeyedCounts ips;
  KeyedCounts users;

  /// The report as one JSON object (SPEC.md keys), `top` entries per array.
  std::string to_json(size_t top) const;
};

/// Escapes a string for JSON output (control characters, quotes, backslashes; invalid UTF-8
/// bytes become \u00XX so that the output is always valid JSON).
void append_json_string(std::string& out, std::string_view s);

}  // namespace logpipe

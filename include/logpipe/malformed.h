// Accounting of lines that did not parse: counted by reason, the first one located by
// FILE:LINE, optionally written verbatim to a rejects file; --strict turns the first into exit 3.
#pragma once

#include "logpipe/format.h"
#include "logpipe/sink.h"

#include <array>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

namespace logpipe {

class MalformedLog {
 public:
  /// `rejects` (may be null) receives every malformed line verbatim, one per line (--rejects).
  /// With `strict` the first malformed line throws Error(kExitData, "FILE:LINE: reason").
  explicit MalformedLog(std::unique_ptr<ByteSink> rejects = nullptr, bool strict = false);
  ~MalformedLog();
  /// Records one malformed line.
  void add(std::string_view source, uint64_t line_number, std::string_view line, ParseError why);
  /// Number of malformed lines so far.
  uint64_t total() const noexcept { return total_; }
  uint64_t count(ParseError why) const noexcept { return by_reason_[static_cast<size_t>(why)]; }
  /// Starts a new input: input_first() is empty until the next add().
  void begin_input() { input_first_.clear(); }
  /// The first malformed line since begin_input(), `FILE:LINE: reason`; empty when none.
  const std::string& input_first() const noexcept { return input_first_; }
  /// Adds the counts of another log (parallel scans).
  void merge_counts(const MalformedLog& other);
  /// `N malformed lines skipped; first: FILE:LINE: reason` plus a per-reason breakdown, on `out`;
  /// nothing when there were none.
  void print_summary(std::FILE* out) const;
  /// Flushes the rejects file.
  void flush();

 private:
  uint64_t total_ = 0;
  std::array<uint64_t, static_cast<size_t>(ParseError::kCount_)> by_reason_{};
  std::string first_;
  std::string input_first_;
  bool strict_;
  std::unique_ptr<ByteSink> rejects_;
};

}  // namespace logpipe

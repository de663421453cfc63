// Record filters: the `--where` expression of every command that reads records (analyze, export,
// calibrate, stream), compiled once and applied in the record pump's sink chain (docs/reference.md
// "Filters" is the language's contract):
//
//   status >= 500 and url ^= "/api/" and not bot
//   ip in 10.0.0.0/8,192.168.0.0/16 or (course == "course-v1:FUN+01+2025" and event_type ~= video)
//
// Comparisons: == != on every field; < <= > >= on numbers (status, bytes, duration_ms) and time;
// ^= (starts with), $= (ends with), ~= (contains) on text; `in LIST` (comma-separated values;
// CIDR networks for ip; status specs such as 5xx or 502-504 for status). `bot` (a crawler: the
// built-in list and --bots patterns) and `error` (an error by --error-statuses/--error-levels) are
// conditions of their own. A comparison with an absent value (no status, no time) is false.
#pragma once

#include "logpipe/classify.h"
#include "logpipe/pump.h"
#include "logpipe/record.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace logpipe {

class RecordFilter {
 public:
  /// Compiles `expression`. Throws Error (usage) naming the column and what was expected.
  /// `classifier` says what `error` means; `bots` are extra crawler patterns (case-insensitive
  /// substrings of the user agent) beside the built-in list.
  static RecordFilter compile(std::string_view expression, Classifier classifier = Classifier(),
                              std::vector<std::string> bots = {});
  RecordFilter(RecordFilter&&) noexcept;
  RecordFilter& operator=(RecordFilter&&) noexcept;
  ~RecordFilter();

  /// True when the record is kept. Thread-safe; allocates nothing.
  bool matches(const Record& r) const noexcept;
  const std::string& expression() const noexcept { return expression_; }

  /// True when the user agent is a crawler: the built-in list (report.h classify_agent) or one of
  /// the extra patterns.
  static bool is_bot(std::string_view agent, const std::vector<std::string>& extra) noexcept;

  struct Node;

 private:
  RecordFilter() = default;
  std::string expression_;
  std::vector<Node> nodes_;
  uint32_t root_ = 0;
  Classifier classifier_;
  std::vector<std::string> bots_;  // lower-case
};

/// Parses a --bots file: one pattern per line (a case-insensitive substring of the user agent),
/// blank lines and lines starting with `#` skipped. Throws Error (usage) naming FILE:LINE of a
/// pattern shorter than 3 characters (it would match nearly every agent).
std::vector<std::string> parse_bot_patterns(std::string_view text, const std::string& file);

/// Counts of a filtered read.
struct FilterCounts {
  uint64_t read = 0;      ///< records the pump handed to the filter
  uint64_t kept = 0;      ///< records the filter kept (and the sink took)
  uint64_t filtered = 0;  ///< records the filter left out
};

/// A RecordSink that hands on only the records a filter keeps. Splits and joins with its sink.
class FilteringSink final : public RecordSink {
 public:
  FilteringSink(const RecordFilter& filter, RecordSink& sink) : filter_(filter), sink_(sink) {}
  ParseError on_record(const Record& record) override;
  std::unique_ptr<RecordSink> split() override;
  void join(RecordSink& later) override;
  const FilterCounts& counts() const noexcept { return counts_; }

 private:
  FilteringSink(const RecordFilter& filter, std::unique_ptr<RecordSink> owned)
      : filter_(filter), owned_(std::move(owned)), sink_(*owned_) {}
  const RecordFilter& filter_;
  std::unique_ptr<RecordSink> owned_;  // a split's own sink
  RecordSink& sink_;
  FilterCounts counts_;
};

}  // namespace logpipe

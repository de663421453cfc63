// Log formats: a line goes in, a Record comes out. Parsers never throw on data; they return
// a ParseError that the caller counts (SPEC.md "Bad input never crashes and never vanishes").
#pragma once

#include "logpipe/record.h"

#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace logpipe {

/// Why a line did not parse. kNone means it did.
enum class ParseError : uint8_t {
  kNone = 0,
  kBadHost,
  kBadTime,
  kBadRequest,
  kBadStatus,
  kBadBytes,
  kUnterminatedQuote,
  kMissingField,
  kTrailingData,
  kBadJson,
  kNotJsonObject,
  kBadField,
  kTruncatedLine,  ///< cut short by a disconnect (LineSource::truncated)
  kLineTooLong,    ///< longer than --max-line-bytes (LineSize::kCut): cut, never parsed
  kCount_,
};

/// A short human description of a parse error, e.g. "unterminated quoted field".
std::string_view describe(ParseError e) noexcept;

/// A compiled log format. One instance per thread; not thread-safe.
class Parser {
 public:
  virtual ~Parser() = default;
  /// Parses one line (without its newline; a trailing CR is tolerated). On success fills `out`
  /// (views stay valid until the next call) and returns kNone. Never throws on data.
  virtual ParseError parse(std::string_view line, Record& out) = 0;
  /// The format's name as accepted by --format.
  virtual std::string_view name() const noexcept = 0;
};

/// Builds a parser for a --format value: `common`, `combined`, `clickstream`, `edx` or
/// `logformat:<Apache LogFormat>`. Throws Error (usage) on an unknown format or a bad LogFormat.
std::unique_ptr<Parser> make_parser(std::string_view format);

/// Guesses the format from sample lines (blank lines ignored). Returns "combined" when nothing
/// matches, so that every line is then reported as malformed rather than silently dropped.
std::string detect_format(std::span<const std::string_view> sample_lines);

/// True when a line is blank (only spaces, tabs, CR): ignored, neither record nor malformed.
bool is_blank(std::string_view line) noexcept;

}  // namespace logpipe

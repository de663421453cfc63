// Log formats: a line goes in, a Record comes out. Parsers never throw on data; they return
// a ParseError that the caller counts (docs/reference.md "Bad input never crashes and never vanishes").
#pragma once

#include "logpipe/record.h"

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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
  kPartialLine,    ///< a fragment of a longer line split by a container runtime (CRI `P`)
  kBadPrefix,      ///< the line prefix of the format (syslog, CRI, Docker JSON) is missing or bad
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

/// Builds a parser for a --format value (docs/formats.md): `common`, `combined`, `clickstream`,
/// `edx`, `applog`, `logformat:<Apache LogFormat or nickname>`, `nginxformat:<log_format or
/// name>` (also a bare string of nginx `$variables`), `fields:<names>`, `json`, `json:<mapping>`,
/// and any of them behind a line prefix: `syslog+F`, `cri+F`, `docker+F`. Throws Error (usage) on
/// an unknown format or a bad format string.
std::unique_ptr<Parser> make_parser(std::string_view format);

/// One format tried on a sample: how many of its non-blank lines it parsed, and a score that also
/// counts the record fields it filled (a JSON line "parses" as edx with no field at all).
struct FormatCandidate {
  std::string format;
  size_t parsed = 0;
  size_t score = 0;
};

/// What detect_format found: the format to use, the non-blank lines it looked at, and the
/// candidates that parsed at least one line, best first.
struct FormatGuess {
  std::string format;
  size_t lines = 0;
  std::vector<FormatCandidate> candidates;
  /// True when the chosen format parsed at least half of the non-blank sample lines (an empty
  /// sample is fine too). Otherwise no format reads the input well: the caller says so.
  bool reads_well() const noexcept;
  /// A `--format` value worth trying on such an input, from the shape of its lines.
  std::string suggestion;
};

/// Guesses the format from sample lines by a vote: every known shape parses the sample, the one
/// that reads most lines and fills most fields wins, a line prefix (syslog, CRI, Docker JSON)
/// seen on most lines is recognised first. Returns "combined" when nothing matches, so that every
/// line is then reported as malformed rather than silently dropped. Called only by the pump.
FormatGuess detect_format(std::span<const std::string_view> sample_lines);

/// True when a line is blank (only spaces, tabs, CR): ignored, neither record nor malformed.
bool is_blank(std::string_view line) noexcept;

}  // namespace logpipe

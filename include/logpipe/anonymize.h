// Pseudonymisation of logs so that they can be shared (docs/reference.md "anonymize").
//
// edx (JSON lines): chosen string values are replaced by hex(HMAC-SHA256(key, value)) and PII
// members are removed; every other byte of the line is kept. Access logs: the %u user, the
// clickstream cookie user and (optionally) the client address are rewritten in place.
// A line that cannot be rewritten safely is never written out: it is returned as an error and
// the caller counts it (MalformedLog), as for every other parser of the core.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "logpipe/format.h"
#include "logpipe/pump.h"
#include "logpipe/source.h"

namespace logpipe {

class ByteSource;
class ByteSink;
class MalformedLog;

/// What happens to client addresses (`--ip`).
enum class IpMode : uint8_t {
  kKeep,      ///< unchanged
  kHash,      ///< hex HMAC-SHA256, like usernames
  kTruncate,  ///< IPv4 /24 (`192.0.2.0`), IPv6 /48 (`2001:db8:1::`); non-addresses are hashed
};

/// The default `--drop` list: top-level edx members removed unless --no-default-drop. None is a
/// top-level member of a standard Open edX event; they are personal wherever a custom tracker or
/// an export adds them. Never `name`: in a tracking log that is the event's name
/// (`edx.course.enrollment.activated`, event-tracking's canonical name), not a person's.
inline constexpr std::string_view kDefaultDropFields[] = {
    "email", "address", "full_name", "first_name", "last_name", "phone", "mailing_address"};

/// edx: paths hashed besides `username` in every run (issue 19: every place a tracking event names
/// its user; `event` also when it is a JSON string holding an object). In the shared fixtures,
/// 822 records named their user in clear in `context.username` with `username` alone.
inline constexpr std::string_view kDefaultEdxHashFields[] = {"context.username", "event.username", "event.user"};

/// Settings of an anonymisation run.
struct AnonymizeOptions {
  std::string key;              ///< the HMAC secret (never empty)
  std::string format = "auto";  ///< --format; `auto` is resolved from the first lines
  std::vector<std::string> hash_fields = {"username"};  ///< edx: dotted paths to hash
  std::vector<std::string>
      drop_fields;              ///< edx: dotted paths to remove (defaults included by the CLI)
  IpMode ip = IpMode::kKeep;    ///< edx top-level `ip`, access-log client field
  unsigned threads = 2;         ///< rewriting threads of AnonymizeWriter (1 = inline)
  bool stop_at_reject = false;  ///< --strict: write nothing after the first rejected line
  /// --prefix strip: a line behind a prefix (syslog, CRI, Docker; FUN's `syslog+edx`) is written
  /// without it, only its rewritten message; keep (default) writes the prefix's bytes as read.
  bool strip_prefix = false;
};

/// Rewrites one line at a time. One instance per thread.
class Anonymizer {
 public:
  /// `options.format` must be resolved (not `auto`). Throws Error (usage) for an empty key, an
  /// unknown format, an empty path, or --hash-field with a non-edx format.
  explicit Anonymizer(const AnonymizeOptions& options);
  ~Anonymizer();
  Anonymizer(const Anonymizer&) = delete;
  Anonymizer& operator=(const Anonymizer&) = delete;

  /// Appends the rewritten line (without newline) to `out` and returns kNone, or returns why the
  /// line is rejected and leaves `out` unchanged. Never throws on data.
  ParseError rewrite(std::string_view line, std::string& out);

  /// The format in use (`edx`, `combined`, `logformat:...`).
  const std::string& format() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Counts of an anonymisation run.
struct AnonymizeStats {
  uint64_t lines = 0;     ///< lines read
  uint64_t written = 0;   ///< lines written (rewritten or blank)
  uint64_t blank = 0;     ///< blank lines (copied)
  uint64_t rejected = 0;  ///< lines not written (counted in MalformedLog)
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  std::string format;  ///< the resolved format
};

/// The anonymize command's sink of the record pump (pump.h): every line is rewritten and written
/// to `sink` in input order, in constant memory: lines are gathered into ~1 MiB blocks rewritten
/// on `options.threads` threads. Blank lines are copied; rejected lines (and lines cut short by a
/// failing input) are never written and go to `malformed` (which throws under --strict, after
/// the lines before it were written).
class AnonymizeWriter final : public LineSink {
 public:
  AnonymizeWriter(const AnonymizeOptions& options, ByteSink& sink, MalformedLog& malformed);
  ~AnonymizeWriter() override;
  void on_format(const std::string& format) override;
  void on_line(std::string_view line, const LineOrigin& where) override;
  /// Rewrites and writes out every line received so far.
  void on_input_end() override;
  /// A file's rest read straight into the rewriting blocks (no copy per line).
  bool read_rest(ByteSource& rest, std::string_view unread, const std::string& source, uint64_t lines_before,
                 size_t max_line, const StopFlag* stop, PumpStats& counted) override;
  const AnonymizeStats& stats() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

namespace detail {
/// Decodes the contents of a JSON string (without its quotes) to UTF-8, appending to `out`
/// (\uD83D\uDE00 pairs joined; a lone surrogate is encoded as is). False on a bad escape.
bool json_unescape(std::string_view s, std::string& out);
}  // namespace detail

}  // namespace logpipe

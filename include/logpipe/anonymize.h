// Pseudonymisation of logs so that they can be shared (docs/reference.md "anonymize").
//
// edx (JSON lines): chosen string values are replaced by hex(HMAC-SHA256(key, value)) and PII
// members are removed; every other byte of the line is kept. Access logs: the %u user, the
// clickstream cookie user and (optionally) the client address are rewritten in place.
// A line that cannot be rewritten safely is never written out: it is returned as an error and
// the caller counts it (MalformedLog), as for every other parser of the core.
#pragma once

#include <array>
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
/// `event.student` and `event.instructor` name users in instructor-dashboard events, as
/// edx-analytics-pipeline's events_obfuscation.py knows; `event.POST.username` is the new user of
/// a sign-up (`/create_account`: a list, as Django forms post it).
inline constexpr std::string_view kDefaultEdxHashFields[] = {
    "context.username", "event.username", "event.user", "event.student", "event.instructor", "event.POST.username"};

/// edx: the user ids that `--remap-ids` rewrites (edx-analytics-pipeline remaps the same two).
inline constexpr std::string_view kEdxUserIdFields[] = {"context.user_id", "event.user_id"};

/// edx: where a client address is (`--ip`): the top-level `ip`, and the mobile apps' context.
inline constexpr std::string_view kEdxIpFields[] = {"ip", "context.ip", "context.client.ip"};

/// edx: members that analyses key on and that name no person: free-text scrubbing never touches
/// them (issue 19: never rewrite the event's name, source, time or course), even where a pattern
/// would match (a course run such as `+20150803` looks like an international phone number).
inline constexpr std::string_view kEdxKeptFields[] = {"time", "name", "event_source", "context.course_id",
                                                      "context.org_id"};

/// What `anonymize --audit` reports: what would still identify someone in a file.
enum class Finding : uint8_t {
  kUserField,        ///< a user member (username, context.username, %u...) in clear
  kUrlUser,          ///< a name in a profile URL (/u/NAME, /users/NAME)
  kEmail,            ///< an e-mail address in a string value
  kPhone,            ///< a phone number in a string value
  kFullname,         ///< the user's full name (--user-info) in a string value
  kUsernameInText,   ///< the user's username (--user-info) in a string value
  kAddress,          ///< a client address that is not truncated or hashed
  kPersonalMember,   ///< a member of the drop list (email, full_name...)
  kUserId,           ///< a numeric user id (remapped or not cannot be told): reported, not counted
};
inline constexpr size_t kFindingKinds = 9;
/// A short label: `user field in clear`, `e-mail address`...
std::string_view finding_label(Finding f) noexcept;

/// The user table of `--user-info` (scrub.h's UserTable behind an opaque handle).
class UserInfo;
/// Parses the CSV `username,full name,e-mail` (header optional). Throws Error (usage) with
/// NAME:LINE on a bad row.
std::shared_ptr<const UserInfo> parse_user_info(std::string_view csv, const std::string& name);
/// Users in the table.
size_t user_info_size(const UserInfo& info) noexcept;

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
  // Free text (every string value of an edx/JSON line): what is found is replaced by edx-analytics-
  // pipeline's tokens (<<EMAIL>>, <<PHONE_NUMBER>>, <<FULLNAME>>, <<USERNAME>>).
  bool scrub_emails = true;     ///< e-mail addresses (default on)
  bool scrub_phones = false;    ///< phone numbers (--profile share)
  bool scrub_url_users = true;  ///< /u/NAME and /users/NAME: NAME pseudonymised (default on)
  bool scrub_ips = false;       ///< IPv4 addresses in text truncated to their /24 (--profile share)
  /// --remap-ids: context.user_id and event.user_id (and numeric /users/ID) by a keyed permutation.
  bool remap_ids = false;
  /// --user-info: the full name and username of each line's user are scrubbed from its text.
  std::shared_ptr<const UserInfo> users;
  /// --audit: count what would still identify someone (Anonymizer::findings) instead of writing.
  bool audit = false;
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

  /// With options.audit: what the last rewrite() found, by Finding.
  const std::array<uint32_t, kFindingKinds>& findings() const noexcept;

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
  /// --audit: occurrences of each Finding and where the first one is (`FILE:LINE`).
  struct Found {
    uint64_t count = 0;
    std::string first;
  };
  std::array<Found, kFindingKinds> findings;
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

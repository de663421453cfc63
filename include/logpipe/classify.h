// What a record *is*, defined once for every command (docs/formats.md, "What counts as what"):
//
//   request       every record (with or without a time, status or level)
//   outcome       the record says whether it succeeded: an HTTP status, or an application-log
//                 level; the error ratios divide by the records with an outcome
//   error         a status in the error statuses (default: every status >= 400), or, without a
//                 status, a level in the error levels (default: ERROR, FATAL, CRITICAL)
//   server error  a 5xx status (a level never makes one)
//   user          the user name, else the session id (an anonymous visitor is its session)
//   url           the path without its query string
//   latency       duration_us, when the format logs one
//
// `stream`, `calibrate` (through the window engine) and `analyze` (through Report) ask the same
// Classifier, so the same log gives the same counts in every command. The rules are set once,
// from --error-statuses / --error-levels or a settings file's [errors] table.
#pragma once

#include "logpipe/record.h"

#include <bitset>
#include <string>
#include <string_view>
#include <vector>

namespace logpipe {

/// Which outcomes are errors. Defaults: statuses 400..999, levels ERROR, FATAL, CRITICAL.
struct ErrorRules {
  std::bitset<1000> statuses = default_statuses();
  /// Upper-case level names; a record's level matches case-insensitively.
  std::vector<std::string> levels = {"ERROR", "FATAL", "CRITICAL"};

  static std::bitset<1000> default_statuses() noexcept;
  /// Adds a status spec: `500`, `5xx` or `400-499` (100..999). False when malformed.
  static bool add_statuses(std::string_view spec, std::bitset<1000>& statuses) noexcept;
  /// Parses a comma-separated list of status specs (`--error-statuses 500,502-504,4xx`). False
  /// when an entry is malformed or the list is empty; `statuses` is then unchanged.
  static bool parse_statuses(std::string_view list, std::bitset<1000>& statuses) noexcept;
  /// Parses a comma-separated list of level names (`--error-levels ERROR,FATAL`): letters, digits,
  /// `_` and `-`. False when an entry is empty or has another character.
  static bool parse_levels(std::string_view list, std::vector<std::string>& levels);
  bool operator==(const ErrorRules&) const = default;
};

/// The classification of one record.
struct Outcome {
  bool known = false;         ///< has a status or a level (counts in the error ratios)
  bool error = false;         ///< an error by the rules
  bool server_error = false;  ///< a 5xx status
};

/// Applies ErrorRules to records. Cheap to copy; thread-safe to call.
class Classifier {
 public:
  explicit Classifier(ErrorRules rules = {});
  Outcome outcome(const Record& r) const noexcept {
    Outcome o;
    if (r.status != 0) {
      o.known = true;
      o.error = r.status > 0 && r.status < 1000 && rules_.statuses.test(static_cast<size_t>(r.status));
      o.server_error = r.status >= 500 && r.status < 600;
    } else if (!r.level.empty()) {
      o.known = true;
      o.error = level_is_error(r.level);
    }
    return o;
  }
  /// The key of the url dimension: the path without its query ("" = none).
  static std::string_view url_key(const Record& r) noexcept { return r.path(); }
  /// The key of the user dimension: the user, else the session ("" = none).
  static std::string_view user_key(const Record& r) noexcept { return r.user.empty() ? r.session : r.user; }
  /// The key of the ip dimension ("" = none).
  static std::string_view ip_key(const Record& r) noexcept { return r.ip; }
  /// True when the record carries a response time.
  static bool has_latency(const Record& r) noexcept { return r.duration_us >= 0; }
  const ErrorRules& rules() const noexcept { return rules_; }

 private:
  bool level_is_error(std::string_view level) const noexcept;
  ErrorRules rules_;
};

}  // namespace logpipe

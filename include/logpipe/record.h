// A parsed log line. Every text field is a view into the line or into the parser's scratch
// buffer: valid until the next parse call on the same parser.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <string_view>
#include <utility>

namespace logpipe {

/// Marks an absent time.
inline constexpr int64_t kNoTime = std::numeric_limits<int64_t>::min();

/// One log record (docs/reference.md "Records and formats"). Absent text fields are empty; `-` in access
/// logs means absent for ident, user, referer, agent and is stored as empty.
struct Record {
  int64_t time_us = kNoTime;  ///< UTC microseconds since the Unix epoch, or kNoTime.
  std::string_view ip;        ///< client address (first public one of an X-Forwarded-For list)
  std::string_view ident;
  std::string_view user;
  std::string_view method;
  std::string_view url;  ///< path and query as logged (escapes kept)
  std::string_view protocol;
  int status = 0;        ///< HTTP status, 0 when absent (edx, or `-`)
  int64_t bytes = -1;    ///< response size, -1 when absent (`-`)
  std::string_view referer;
  std::string_view agent;
  std::string_view session;
  std::string_view host;  ///< virtual host (%v) or edx `host`
  std::string_view event_type;
  std::string_view course_id;
  /// edx: the `success` member of the event (`correct`, `incorrect`: a graded problem_check), "" when none.
  std::string_view success;
  int64_t duration_us = -1;  ///< response time, -1 when the format has none
  /// Application-log level as logged (`fields:` format with a `level` field), "" when none. A
  /// record with a level has a known outcome even without an HTTP status; which levels are
  /// errors is the Classifier's business (classify.h).
  std::string_view level;
  /// Fields of a `fields:` format that are not record fields, as (name, value) in line order.
  std::span<const std::pair<std::string_view, std::string_view>> extra;

  /// True when the record carries an HTTP status (access logs).
  bool has_status() const noexcept { return status != 0; }
  /// The url without its query string.
  std::string_view path() const noexcept {
    auto q = url.find('?');
    return q == std::string_view::npos ? url : url.substr(0, q);
  }
  /// Resets every field to absent.
  void clear() noexcept { *this = Record{}; }
};

}  // namespace logpipe

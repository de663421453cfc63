// Time parsing and formatting, UTC only, no locale, no allocation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace logpipe {

/// Floor division for event times before 1970 too.
inline int64_t floor_div(int64_t a, int64_t b) noexcept {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) noexcept;

/// Parses Apache `%t` contents `10/Oct/2000:13:55:36 -0700` (without brackets) into UTC
/// microseconds. Returns false on any deviation.
bool parse_apache_time(std::string_view s, int64_t& out_us) noexcept;

/// Parses ISO 8601 / RFC 3339: `2013-12-17T15:38:32[.ffffff][Z|+00:00|+0000]`, also with a space
/// instead of T; no offset means UTC. Returns false on any deviation.
bool parse_iso_time(std::string_view s, int64_t& out_us) noexcept;

/// Parses a --start/--since value: RFC 3339 or a date `2025-06-23`, or `now`.
bool parse_time_arg(std::string_view s, int64_t& out_us) noexcept;

/// Parses seconds since the epoch with an optional decimal fraction (`1646861401.5241024`, as
/// Caddy and nginx's $msec write them) exactly, digits past microseconds truncated.
bool parse_epoch_seconds(std::string_view s, int64_t& out_us) noexcept;

/// True when an ISO 8601 time ends with a UTC offset (`Z`, `+02:00`, `-0500`): it names an
/// instant; without one it is a wall time of some zone.
bool has_utc_offset(std::string_view s) noexcept;

/// The longest duration logpipe accepts anywhere (1e18 us, about 31,700 years: `--lateness
/// 100000d` stands for "never late"). Beyond it a value is garbage; below it the conversion to
/// int64_t is defined and event time plus the duration cannot overflow.
inline constexpr double kMaxDurationUs = 1e18;

/// True when `us` (a number of microseconds, as a double) is in [0, kMaxDurationUs]; false for
/// NaN, infinities, negative and oversized values. Check before casting to int64_t.
constexpr bool duration_in_range(double us) noexcept { return us >= 0 && us <= kMaxDurationUs; }

/// Parses a duration such as `30s`, `5m`, `24h`, `1d`, `250ms`, or a bare number of seconds.
/// False for anything else, including `nan`, `inf` and durations above kMaxDurationUs.
bool parse_duration(std::string_view s, int64_t& out_us) noexcept;

/// Formats UTC microseconds as RFC 3339 `2025-06-23T08:00:00Z` (fraction only when non-zero).
std::string format_rfc3339(int64_t us);

/// Writes `2025-06-23T08:00:00Z` (seconds precision) into buf (at least 21 bytes); returns length.
size_t format_rfc3339_seconds(int64_t us, char* buf) noexcept;

/// Formats Apache `%t` contents `10/Oct/2000:13:55:36 +0000` into buf (at least 27 bytes).
size_t format_apache_time(int64_t us, char* buf) noexcept;

}  // namespace logpipe

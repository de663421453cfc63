// Time zones for reports (`analyze --tz Europe/Paris`): IANA zones read from the system tz
// database (TZif files under $TZDIR or /usr/share/zoneinfo, with the POSIX rule of their footer
// for times past the last transition). libstdc++ 12 has no std::chrono::tzdb, and TZ plus
// localtime_r is process-wide state; a TimeZone is a value, immutable once loaded, safe to share
// between threads. UTC is the default and needs no file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace logpipe {

class TimeZone {
 public:
  /// UTC.
  TimeZone();
  /// Loads `name` (`Europe/Paris`, `UTC`) from $TZDIR or /usr/share/zoneinfo. Throws Error (usage)
  /// naming --tz for an unknown or unreadable zone.
  static TimeZone load(std::string_view name);
  /// A zone from the bytes of a TZif file (RFC 8536, versions 1 to 4). Throws Error (usage) on
  /// bytes that are not a valid TZif file.
  static TimeZone from_tzif(std::string_view name, std::string_view bytes);

  const std::string& name() const noexcept { return name_; }
  bool is_utc() const noexcept { return utc_; }
  /// The offset from UTC, in seconds, in force at the UTC instant `utc_us`.
  int32_t offset_at(int64_t utc_us) const noexcept;
  /// The first UTC instant after `utc_us` at which the offset changes, or INT64_MAX.
  int64_t next_change(int64_t utc_us) const noexcept;
  /// The UTC instant of the local wall time `local_us` (microseconds since the epoch as if the
  /// wall time were UTC). A time that occurs twice (clocks set back) gives the first; a time
  /// that does not exist (clocks set forward) is read with the offset before the gap, as
  /// mktime does (02:30 on the night clocks jump from 02:00 to 03:00 is 03:30).
  int64_t to_utc(int64_t local_us) const noexcept;
  /// The UTC instant of `local_us` read with the offset `hint` when that offset is in force then
  /// (the repeated hour of a setback keeps its own), else to_utc().
  int64_t to_utc(int64_t local_us, int32_t hint) const noexcept;

  /// A rule of a POSIX TZ string (`M3.5.0/2`): the month/week/day form or a Julian day.
  struct Rule {
    enum Kind : uint8_t { kMonthWeekDay, kJulian1, kJulian0 } kind = kMonthWeekDay;
    int month = 0, week = 0, day = 0;  // day: weekday (M form) or day number (J forms)
    int32_t time_s = 7200;             // local time of the change, default 02:00
  };

 private:
  // The UTC instants at which the POSIX rule changes the offset in `year`: [start of DST, end].
  void rule_changes(int64_t year, int64_t& start, int64_t& end) const noexcept;
  int32_t rule_offset(int64_t utc_s) const noexcept;
  void parse_posix(std::string_view tz);

  std::string name_ = "UTC";
  bool utc_ = true;
  std::vector<int64_t> transitions_;  // UTC seconds, ascending
  std::vector<int32_t> offsets_;      // offset from transitions_[i] on
  int32_t initial_offset_ = 0;        // before the first transition
  // The footer's rule, for instants after the last transition (absent: the last offset stays).
  bool has_rule_ = false;
  int32_t std_offset_ = 0, dst_offset_ = 0;
  bool has_dst_ = false;
  Rule start_, end_;
};

}  // namespace logpipe

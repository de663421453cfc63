// TZif reading (RFC 8536) and POSIX TZ rules (the footer of version 2+ files, which "slim" zone
// files rely on for every time after their last listed transition).
#include "logpipe/timezone.h"

#include "logpipe/error.h"
#include "logpipe/timeutil.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace logpipe {
namespace {

constexpr int64_t kUs = 1'000'000;

uint32_t be32(const unsigned char* p) noexcept {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}
int64_t be64(const unsigned char* p) noexcept {
  return static_cast<int64_t>(uint64_t(be32(p)) << 32 | be32(p + 4));
}

[[noreturn]] void bad_zone(std::string_view name, std::string_view why) {
  usage_error("--tz: '{}' is not a usable time zone ({})", name, why);
}

// 0 = Sunday, for days since 1970-01-01 (a Thursday).
int weekday(int64_t days) noexcept { return static_cast<int>(((days % 7) + 11) % 7); }

bool leap(int64_t y) noexcept { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

// The year of a time in seconds since the epoch (UTC).
int64_t year_of(int64_t s) noexcept {
  int64_t days = floor_div(s, 86400);
  // Inverse of days_from_civil, year only (Howard Hinnant's algorithm).
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  return y + (m <= 2);
}

// `[+-]hh[:mm[:ss]]` at s[pos] (hours up to 167, as POSIX allows for rule times); seconds.
bool posix_time(std::string_view s, size_t& pos, int32_t& out) noexcept {
  int sign = 1;
  if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) sign = s[pos++] == '-' ? -1 : 1;
  int parts[3] = {0, 0, 0};
  for (int i = 0; i < 3; ++i) {
    if (i > 0) {
      if (pos >= s.size() || s[pos] != ':') break;
      ++pos;
    }
    size_t start = pos;
    int v = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9' && pos - start < 3) v = v * 10 + (s[pos++] - '0');
    if (pos == start) return false;
    parts[i] = v;
  }
  if (parts[0] > 167 || parts[1] > 59 || parts[2] > 59) return false;
  out = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
  return true;
}

// A zone abbreviation: letters, or `<...>` (`<+03>`).
bool posix_name(std::string_view s, size_t& pos) noexcept {
  size_t start = pos;
  if (pos < s.size() && s[pos] == '<') {
    size_t close = s.find('>', pos);
    if (close == std::string_view::npos) return false;
    pos = close + 1;
    return close > start + 1;
  }
  while (pos < s.size() && ((s[pos] >= 'A' && s[pos] <= 'Z') || (s[pos] >= 'a' && s[pos] <= 'z'))) ++pos;
  return pos - start >= 3;
}

bool posix_rule(std::string_view s, size_t& pos, TimeZone::Rule& r) noexcept {
  auto number = [&](int& out, int max) {
    size_t start = pos;
    int v = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9' && pos - start < 3) v = v * 10 + (s[pos++] - '0');
    out = v;
    return pos > start && v <= max;
  };
  if (pos >= s.size()) return false;
  if (s[pos] == 'M') {
    ++pos;
    r.kind = TimeZone::Rule::kMonthWeekDay;
    if (!number(r.month, 12) || r.month < 1 || pos >= s.size() || s[pos++] != '.') return false;
    if (!number(r.week, 5) || r.week < 1 || pos >= s.size() || s[pos++] != '.') return false;
    if (!number(r.day, 6)) return false;
  } else if (s[pos] == 'J') {
    ++pos;
    r.kind = TimeZone::Rule::kJulian1;
    if (!number(r.day, 365) || r.day < 1) return false;
  } else {
    r.kind = TimeZone::Rule::kJulian0;
    if (!number(r.day, 365)) return false;
  }
  r.time_s = 7200;
  if (pos < s.size() && s[pos] == '/') {
    ++pos;
    if (!posix_time(s, pos, r.time_s)) return false;
  }
  return true;
}

// Days since the epoch of the date a rule names in `year`.
int64_t rule_day(const TimeZone::Rule& r, int64_t year) noexcept {
  switch (r.kind) {
    case TimeZone::Rule::kJulian1: {  // 1..365, February 29 never counted
      int64_t d = days_from_civil(year, 1, 1) + r.day - 1;
      if (leap(year) && r.day >= 60) ++d;
      return d;
    }
    case TimeZone::Rule::kJulian0: return days_from_civil(year, 1, 1) + r.day;
    case TimeZone::Rule::kMonthWeekDay: break;
  }
  // The d'th day (0 = Sunday) of week w (5 = the last) of month m.
  int64_t first = days_from_civil(year, static_cast<unsigned>(r.month), 1);
  int64_t d = first + ((r.day - weekday(first)) + 7) % 7 + 7 * (r.week - 1);
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int len = kDays[r.month - 1] + (r.month == 2 && leap(year));
  while (d >= first + len) d -= 7;
  return d;
}

}  // namespace

TimeZone::TimeZone() = default;

TimeZone TimeZone::load(std::string_view name) {
  if (name == "UTC" || name == "Etc/UTC" || name == "Z" || name == "UTC0") return TimeZone();
  if (name.empty() || name.front() == '/' || name.find("..") != std::string_view::npos ||
      name.find('\0') != std::string_view::npos)
    bad_zone(name, "expected an IANA name such as Europe/Paris");
  const char* dir = std::getenv("TZDIR");
  std::string path = std::string(dir && *dir ? dir : "/usr/share/zoneinfo") + "/" + std::string(name);
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) bad_zone(name, fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
  std::string bytes;
  char buf[16384];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, f)) > 0 && bytes.size() < (1u << 20)) bytes.append(buf, got);
  bool failed = std::ferror(f);
  std::fclose(f);
  if (failed) bad_zone(name, fmt::format("cannot read '{}'", path));
  return from_tzif(name, bytes);
}

TimeZone TimeZone::from_tzif(std::string_view name, std::string_view bytes) {
  TimeZone z;
  z.name_ = std::string(name);
  z.utc_ = false;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t n = bytes.size();
  // One header and data block; version 2+ repeats them with 64-bit times, then the footer.
  auto block = [&](size_t at, int time_size, size_t& end) {
    if (n < at + 44 || std::memcmp(p + at, "TZif", 4) != 0) bad_zone(name, "not a TZif file");
    uint32_t isut = be32(p + at + 20), isstd = be32(p + at + 24), leapcnt = be32(p + at + 28),
             timecnt = be32(p + at + 32), typecnt = be32(p + at + 36), charcnt = be32(p + at + 40);
    if (typecnt == 0 || typecnt > 256 || timecnt > 100000 || charcnt > 100000 || leapcnt > 10000 || isut > 256 ||
        isstd > 256)
      bad_zone(name, "bad TZif counts");
    size_t size = size_t(timecnt) * time_size + timecnt + size_t(typecnt) * 6 + charcnt +
                  size_t(leapcnt) * (time_size + 4) + isstd + isut;
    size_t data = at + 44;
    if (n < data + size) bad_zone(name, "truncated TZif file");
    end = data + size;
    return std::array<uint32_t, 3>{timecnt, typecnt, static_cast<uint32_t>(data)};
  };
  size_t end = 0;
  auto v1 = block(0, 4, end);
  const char version = bytes.size() > 4 ? bytes[4] : 0;
  int time_size = 4;
  auto use = v1;
  if (version >= '2') {
    size_t end2 = 0;
    use = block(end, 8, end2);
    time_size = 8;
    end = end2;
  }
  const uint32_t timecnt = use[0], typecnt = use[1];
  const unsigned char* times = p + use[2];
  const unsigned char* idx = times + size_t(timecnt) * time_size;
  const unsigned char* types = idx + timecnt;
  std::vector<int32_t> type_offset(typecnt);
  for (uint32_t i = 0; i < typecnt; ++i) {
    int32_t off = static_cast<int32_t>(be32(types + 6 * i));
    if (off < -25 * 3600 || off > 26 * 3600) bad_zone(name, "offset out of range");
    type_offset[i] = off;
  }
  z.initial_offset_ = type_offset[0];
  // Instants are microseconds in int64_t: transitions beyond 10^12 s (31,000 years) either way
  // cannot be represented. zic writes one at -2^59 ("the big bang"): what it starts is the
  // offset from the beginning of time; one far in the future ends the table.
  constexpr int64_t kLimit = 1'000'000'000'000;
  int64_t previous = INT64_MIN;
  for (uint32_t i = 0; i < timecnt; ++i) {
    int64_t t = time_size == 8 ? be64(times + 8 * size_t(i)) : static_cast<int32_t>(be32(times + 4 * size_t(i)));
    if (idx[i] >= typecnt) bad_zone(name, "bad type index");
    if (t <= previous) bad_zone(name, "transitions out of order");
    previous = t;
    if (t < -kLimit) {
      z.initial_offset_ = type_offset[idx[i]];
      continue;
    }
    if (t > kLimit) break;
    z.transitions_.push_back(t);
    z.offsets_.push_back(type_offset[idx[i]]);
  }
  if (version >= '2' && end < n && bytes[end] == '\n') {
    size_t close = bytes.find('\n', end + 1);
    if (close != std::string_view::npos && close > end + 1) z.parse_posix(bytes.substr(end + 1, close - end - 1));
  }
  return z;
}

void TimeZone::parse_posix(std::string_view tz) {
  size_t pos = 0;
  int32_t std_west = 0;
  if (!posix_name(tz, pos) || !posix_time(tz, pos, std_west)) return;  // unusable: keep the table
  std_offset_ = -std_west;
  if (std::abs(std_offset_) > 25 * 3600) return;  // rule times may reach 167 h; offsets may not
  has_rule_ = true;
  if (pos >= tz.size()) return;
  if (!posix_name(tz, pos)) {
    has_rule_ = false;
    return;
  }
  dst_offset_ = std_offset_ + 3600;
  if (pos < tz.size() && tz[pos] != ',') {
    int32_t dst_west;
    if (!posix_time(tz, pos, dst_west)) {
      has_rule_ = false;
      return;
    }
    dst_offset_ = -dst_west;
  }
  if (std::abs(dst_offset_) > 25 * 3600) {  // offsets are within a day of UTC
    has_rule_ = false;
    return;
  }
  if (pos >= tz.size() || tz[pos] != ',') {  // a DST name without rules: POSIX's default is US rules
    start_ = Rule{Rule::kMonthWeekDay, 3, 2, 0, 7200};
    end_ = Rule{Rule::kMonthWeekDay, 11, 1, 0, 7200};
    has_dst_ = true;
    return;
  }
  ++pos;
  if (!posix_rule(tz, pos, start_) || pos >= tz.size() || tz[pos++] != ',' || !posix_rule(tz, pos, end_)) {
    has_rule_ = false;
    return;
  }
  has_dst_ = true;
}

void TimeZone::rule_changes(int64_t year, int64_t& start, int64_t& end) const noexcept {
  // DST starts at a local standard time and ends at a local daylight time.
  start = rule_day(start_, year) * 86400 + start_.time_s - std_offset_;
  end = rule_day(end_, year) * 86400 + end_.time_s - dst_offset_;
}

int32_t TimeZone::rule_offset(int64_t s) const noexcept {
  if (!has_dst_) return std_offset_;
  int64_t year = year_of(s + std_offset_);
  int64_t start, end;
  rule_changes(year, start, end);
  if (start == end) return std_offset_;
  bool dst = start < end ? (s >= start && s < end) : !(s >= end && s < start);  // southern: DST over new year
  return dst ? dst_offset_ : std_offset_;
}

int32_t TimeZone::offset_at(int64_t utc_us) const noexcept {
  if (utc_) return 0;
  const int64_t s = floor_div(utc_us, kUs);
  if (transitions_.empty() || s < transitions_.front()) {
    if (transitions_.empty() && has_rule_) return rule_offset(s);
    return initial_offset_;
  }
  if (s >= transitions_.back() && has_rule_) return rule_offset(s);
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), s);
  return offsets_[static_cast<size_t>(it - transitions_.begin()) - 1];
}

int64_t TimeZone::next_change(int64_t utc_us) const noexcept {
  if (utc_) return INT64_MAX;
  const int64_t s = floor_div(utc_us, kUs);
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), s);
  if (it != transitions_.end()) return *it * kUs;
  if (!has_rule_ || !has_dst_) return INT64_MAX;
  int64_t year = year_of(s + std_offset_);
  for (int64_t y = year - 1; y <= year + 1; ++y) {
    int64_t a, b;
    rule_changes(y, a, b);
    int64_t first = std::min(a, b), second = std::max(a, b);
    auto us = [](int64_t secs) { return secs > INT64_MAX / kUs ? INT64_MAX : secs * kUs; };
    if (first > s) return us(first);
    if (second > s) return us(second);
  }
  return INT64_MAX;
}

int64_t TimeZone::to_utc(int64_t local_us) const noexcept {
  if (utc_) return local_us;
  // The offsets in force around this wall time (offsets are within 26 hours of UTC, so the
  // instant is within 26 hours of it): the earliest instant that one of them reads back as this
  // wall time wins.
  const int64_t reach = 26 * 3600 * kUs;
  int64_t t = local_us - reach;
  const int32_t before = offset_at(t);
  int32_t candidates[16];
  size_t n = 0;
  candidates[n++] = before;
  while (n < 16) {
    t = next_change(t);
    if (t == INT64_MAX || t > local_us + reach) break;
    candidates[n++] = offset_at(t);
  }
  int64_t best = INT64_MAX;
  for (size_t i = 0; i < n; ++i) {
    int64_t u = local_us - int64_t(candidates[i]) * kUs;
    if (offset_at(u) == candidates[i]) best = std::min(best, u);
  }
  if (best != INT64_MAX) return best;
  // In a gap (clocks set forward): the offset before it puts the time just after the gap.
  return local_us - int64_t(before) * kUs;
}

int64_t TimeZone::to_utc(int64_t local_us, int32_t hint) const noexcept {
  if (utc_) return local_us;
  int64_t t = local_us - int64_t(hint) * kUs;
  return offset_at(t) == hint ? t : to_utc(local_us);
}

}  // namespace logpipe

#include "logpipe/timeutil.h"

#include <fmt/format.h>

#include <charconv>
#include <ctime>

namespace logpipe {
namespace {

constexpr int64_t kUsPerSecond = 1'000'000;

inline bool digits(std::string_view s, size_t pos, size_t n, int& out) noexcept {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    unsigned d = static_cast<unsigned char>(s[pos + i]) - '0';
    if (d > 9) return false;
    v = v * 10 + static_cast<int>(d);
  }
  out = v;
  return true;
}

// Month abbreviation to 1..12, 0 when unknown. Case-sensitive as Apache writes it.
inline unsigned month_from_abbrev(const char* p) noexcept {
  switch (p[0]) {
    case 'J': return p[1] == 'a' ? (p[2] == 'n' ? 1 : 0) : (p[2] == 'n' ? 6 : (p[2] == 'l' ? 7 : 0));
    case 'F': return p[1] == 'e' && p[2] == 'b' ? 2 : 0;
    case 'M': return p[1] == 'a' ? (p[2] == 'r' ? 3 : (p[2] == 'y' ? 5 : 0)) : 0;
    case 'A': return p[1] == 'p' && p[2] == 'r' ? 4 : (p[1] == 'u' && p[2] == 'g' ? 8 : 0);
    case 'S': return p[1] == 'e' && p[2] == 'p' ? 9 : 0;
    case 'O': return p[1] == 'c' && p[2] == 't' ? 10 : 0;
    case 'N': return p[1] == 'o' && p[2] == 'v' ? 11 : 0;
    case 'D': return p[1] == 'e' && p[2] == 'c' ? 12 : 0;
    default: return 0;
  }
}

constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

inline bool valid_date(int y, unsigned m, unsigned d) noexcept {
  static constexpr unsigned kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1 || d > kDays[m - 1]) return false;
  if (m == 2 && d == 29) return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return true;
}

// Parses a zone `+0200`, `+02:00`, `Z` starting at s[pos]; sets the offset in seconds and pos
// past it.
inline bool parse_zone(std::string_view s, size_t& pos, int64_t& offset_s) noexcept {
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
    offset_s = 0;
    return true;
  }
  if (pos >= s.size() || (s[pos] != '+' && s[pos] != '-')) return false;
  int sign = s[pos] == '-' ? -1 : 1;
  int hh, mm;
  if (!digits(s, pos + 1, 2, hh)) return false;
  size_t p = pos + 3;
  if (p < s.size() && s[p] == ':') ++p;
  if (!digits(s, p, 2, mm)) return false;
  if (hh > 23 || mm > 59) return false;
  offset_s = sign * (hh * 3600 + mm * 60);
  pos = p + 2;
  return true;
}

}  // namespace

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

static void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) noexcept {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

namespace {

// A fraction of a second after its separator at s[pos] (`.123456`, extra digits ignored): adds its
// microseconds to `frac_us` and moves pos past it. False when no digit follows the separator.
bool parse_fraction(std::string_view s, size_t& pos, int64_t& frac_us) noexcept {
  size_t start = ++pos;
  int64_t scale = 100000;
  while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
    if (scale > 0) frac_us += (s[pos] - '0') * scale;
    scale /= 10;
    ++pos;
  }
  return pos != start;
}

}  // namespace

bool parse_apache_time(std::string_view s, int64_t& out_us) noexcept {
  // 10/Oct/2000:13:55:36 -0700  (26 chars); a fraction `13:55:36.123` is tolerated.
  int day, year, hh, mi, ss;
  if (s.size() < 26 || s[2] != '/' || s[6] != '/' || s[11] != ':' || s[14] != ':' || s[17] != ':')
    return false;
  if (!digits(s, 0, 2, day) || !digits(s, 7, 4, year) || !digits(s, 12, 2, hh) ||
      !digits(s, 15, 2, mi) || !digits(s, 18, 2, ss))
    return false;
  unsigned month = month_from_abbrev(s.data() + 3);
  if (month == 0 || !valid_date(year, month, static_cast<unsigned>(day)) || hh > 23 || mi > 59 ||
      ss > 60)
    return false;
  size_t pos = 20;
  int64_t frac_us = 0;
  if (s[pos] == '.' && !parse_fraction(s, pos, frac_us)) return false;
  if (pos >= s.size() || s[pos] != ' ') return false;
  ++pos;
  int64_t offset_s;
  if (!parse_zone(s, pos, offset_s) || pos != s.size()) return false;
  int64_t secs = days_from_civil(year, month, static_cast<unsigned>(day)) * 86400 + hh * 3600 +
                 mi * 60 + ss - offset_s;
  out_us = secs * kUsPerSecond + frac_us;
  return true;
}

bool parse_iso_time(std::string_view s, int64_t& out_us) noexcept {
  int year, month, day, hh = 0, mi = 0, ss = 0;
  if (s.size() < 10 || s[4] != '-' || s[7] != '-') return false;
  if (!digits(s, 0, 4, year) || !digits(s, 5, 2, month) || !digits(s, 8, 2, day)) return false;
  if (!valid_date(year, static_cast<unsigned>(month), static_cast<unsigned>(day))) return false;
  size_t pos = 10;
  int64_t frac_us = 0, offset_s = 0;
  if (pos < s.size()) {
    if (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ') return false;
    if (s.size() < 19 || s[13] != ':' || s[16] != ':') return false;
    if (!digits(s, 11, 2, hh) || !digits(s, 14, 2, mi) || !digits(s, 17, 2, ss)) return false;
    if (hh > 23 || mi > 59 || ss > 60) return false;
    pos = 19;
    if (pos < s.size() && (s[pos] == '.' || s[pos] == ',') && !parse_fraction(s, pos, frac_us)) return false;
    if (pos < s.size() && !parse_zone(s, pos, offset_s)) return false;
    if (pos != s.size()) return false;
  }
  int64_t secs = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) *
                     86400 + hh * 3600 + mi * 60 + ss - offset_s;
  out_us = secs * kUsPerSecond + frac_us;
  return true;
}

bool parse_time_arg(std::string_view s, int64_t& out_us) noexcept {
  if (s == "now") {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    out_us = static_cast<int64_t>(ts.tv_sec) * kUsPerSecond + ts.tv_nsec / 1000;
    return true;
  }
  return parse_iso_time(s, out_us);
}

bool parse_epoch_seconds(std::string_view s, int64_t& out_us) noexcept {
  size_t dot = s.find('.');
  std::string_view whole = s.substr(0, dot);
  if (whole.empty() || whole.size() > 12) return false;
  int64_t secs = 0;
  for (char c : whole) {
    if (c < '0' || c > '9') return false;
    secs = secs * 10 + (c - '0');
  }
  int64_t frac = 0;
  if (dot != std::string_view::npos) {
    size_t pos = dot;
    if (!parse_fraction(s, pos, frac) || pos != s.size()) return false;
  }
  out_us = secs * kUsPerSecond + frac;
  return true;
}

bool has_utc_offset(std::string_view s) noexcept {
  if (s.size() <= 19) return false;  // a date, or a time to the second without anything after
  if (s.back() == 'Z' || s.back() == 'z') return true;
  size_t sign = s.find_last_of("+-");
  return sign != std::string_view::npos && sign >= 19;
}

bool parse_duration(std::string_view s, int64_t& out_us) noexcept {
  if (s.empty()) return false;
  double value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || value < 0) return false;
  std::string_view unit(ptr, static_cast<size_t>(s.data() + s.size() - ptr));
  double scale;
  if (unit.empty() || unit == "s") scale = 1e6;
  else if (unit == "ms") scale = 1e3;
  else if (unit == "us") scale = 1;
  else if (unit == "m" || unit == "min") scale = 60e6;
  else if (unit == "h") scale = 3600e6;
  else if (unit == "d") scale = 86400e6;
  else return false;
  double us = value * scale + 0.5;
  if (!duration_in_range(us)) return false;  // from_chars accepts "nan" and "1e300"
  out_us = static_cast<int64_t>(us);
  return true;
}

namespace {

// The calendar date and the second of the day of UTC microseconds (before 1970 too).
struct CivilTime {
  int64_t year;
  unsigned month, day;
  int64_t second_of_day;
};

CivilTime civil_of(int64_t us) noexcept {
  const int64_t secs = floor_div(us, kUsPerSecond);
  const int64_t days = floor_div(secs, 86400);
  CivilTime t;
  civil_from_days(days, t.year, t.month, t.day);
  t.second_of_day = secs - days * 86400;
  return t;
}

}  // namespace

size_t format_rfc3339_seconds(int64_t us, char* buf) noexcept {
  const CivilTime t = civil_of(us);
  const int64_t rem = t.second_of_day;
  auto r = fmt::format_to_n(buf, 21, "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", t.year, t.month, t.day, rem / 3600,
                            rem / 60 % 60, rem % 60);
  return r.size;
}

std::string format_rfc3339(int64_t us) {
  char buf[32];
  size_t n = format_rfc3339_seconds(us, buf);
  int64_t frac = us % kUsPerSecond;
  if (frac < 0) frac += kUsPerSecond;
  if (frac == 0) return std::string(buf, n);
  return fmt::format("{}.{:06}Z", std::string_view(buf, n - 1), frac);
}

size_t format_apache_time(int64_t us, char* buf) noexcept {
  const CivilTime t = civil_of(us);
  const int64_t rem = t.second_of_day;
  auto r = fmt::format_to_n(buf, 27, "{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000", t.day, kMonths[t.month - 1], t.year,
                            rem / 3600, rem / 60 % 60, rem % 60);
  return r.size;
}

}  // namespace logpipe

// Line prefixes in front of any format: syslog (RFC 3164 as written by rsyslog, syslog-ng and
// journald's forwarders, RFC 5424), CRI (the log files of containerd and CRI-O under
// /var/log/pods) and Docker's json-file wrapper. The prefix is split off by a hand-written
// scanner (Docker's JSON by simdjson, in jsonlog.cc); the message goes to the inner format's
// parser, and the prefix's host and time fill the record where the inner format has none.
#include "parsers.h"

#include "logpipe/error.h"
#include "logpipe/timeutil.h"

#include <ctime>

namespace logpipe::detail {
namespace {

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// The token at `pos` up to the next space (or the end); pos moves to that space.
std::string_view token(std::string_view s, size_t& pos) noexcept {
  size_t start = pos;
  while (pos < s.size() && s[pos] != ' ') ++pos;
  return s.substr(start, pos - start);
}

// `Mmm dd hh:mm:ss` (the day may be space-padded), with an optional fraction `.123`. Sets the
// time (the year from `year`) and moves pos past it.
bool bsd_time(std::string_view s, size_t& pos, const SyslogYear& year, int64_t& out_us) noexcept {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::string_view t = s.substr(pos);
  if (t.size() < 15 || t[3] != ' ' || t[6] != ' ' || t[9] != ':' || t[12] != ':') return false;
  unsigned month = 0;
  for (unsigned m = 0; m < 12; ++m)
    if (t.substr(0, 3) == kMonths[m]) month = m + 1;
  if (month == 0) return false;
  int day = 0;
  if (t[4] == ' ' && is_digit(t[5])) day = t[5] - '0';
  else if (is_digit(t[4]) && is_digit(t[5])) day = (t[4] - '0') * 10 + (t[5] - '0');
  else return false;
  int fields[3];
  for (int i = 0; i < 3; ++i) {
    char a = t[7 + 3 * i], b = t[8 + 3 * i];
    if (!is_digit(a) || !is_digit(b)) return false;
    fields[i] = (a - '0') * 10 + (b - '0');
  }
  if (day < 1 || day > 31 || fields[0] > 23 || fields[1] > 59 || fields[2] > 60) return false;
  size_t end = 15;
  int64_t frac_us = 0, scale = 100000;
  if (end < t.size() && t[end] == '.') {
    ++end;
    size_t digits = 0;
    while (end < t.size() && is_digit(t[end])) {
      if (scale > 0) frac_us += (t[end] - '0') * scale;
      scale /= 10;
      ++end;
      ++digits;
    }
    if (digits == 0) return false;
  }
  // No year in RFC 3164: the current one, or the one before for a time more than a month ahead
  // (December's lines read in January).
  int y = year.year;
  if (month > year.month + 1) --y;
  out_us = ((days_from_civil(y, month, static_cast<unsigned>(day)) * 86400 + fields[0] * 3600 + fields[1] * 60 +
             fields[2]) * 1000000) + frac_us;
  pos += end;
  return true;
}

// An ISO 8601 / RFC 3339 time token at pos (`2016-11-14T09:49:23+01:00`); moves pos past it.
bool iso_token(std::string_view s, size_t& pos, int64_t& out_us) noexcept {
  size_t p = pos;
  std::string_view t = token(s, p);
  if (t.size() < 19 || t[10] != 'T' || !parse_iso_time(t, out_us)) return false;
  pos = p;
  return true;
}

// The message after the prefix: leading spaces and a UTF-8 byte order mark skipped.
void set_message(std::string_view line, size_t pos, PrefixParts& out) noexcept {
  while (pos < line.size() && line[pos] == ' ') ++pos;
  if (line.substr(pos).starts_with("\xEF\xBB\xBF")) pos += 3;
  out.message = line.substr(pos);
  out.message_begin = pos;
  out.message_end = line.size();
}

// RFC 5424 after `<PRI>`: `1 TIMESTAMP HOST APP PROCID MSGID SD [MSG]`, `-` for a nil value. As
// Logstash's SYSLOG5424LINE, fields may be separated by several spaces and the structured data
// may be missing altogether (`... - -  message`).
bool split_5424(std::string_view line, size_t pos, PrefixParts& out) noexcept {
  size_t p = pos;
  auto spaces = [&] {
    size_t start = p;
    while (p < line.size() && line[p] == ' ') ++p;
    return p > start;
  };
  std::string_view version = token(line, p);
  if (version.empty() || version.size() > 2 || !is_digit(version[0]) || (version.size() == 2 && !is_digit(version[1])))
    return false;
  if (!spaces()) return false;
  int64_t t = kNoTime;
  if (line.compare(p, 2, "- ") == 0) {
    ++p;
  } else if (!iso_token(line, p, t)) {
    return false;
  }
  std::string_view fields[4];  // HOST APP PROCID MSGID
  for (auto& f : fields) {
    if (!spaces()) return false;
    f = token(line, p);
    if (f.empty()) return false;
  }
  size_t before_sd = p;
  spaces();
  // Structured data: `-`, or `[id k="v" ...]` elements; a value may hold `\"`, `\\`, `\]`.
  if (p < line.size() && line[p] == '-' && (p + 1 == line.size() || line[p + 1] == ' ')) {
    ++p;
  } else if (p < line.size() && line[p] == '[') {
    while (p < line.size() && line[p] == '[') {
      bool quoted = false;
      ++p;
      for (; p < line.size(); ++p) {
        char c = line[p];
        if (quoted && c == '\\') {
          ++p;
          continue;
        }
        if (c == '"') quoted = !quoted;
        else if (c == ']' && !quoted) break;
      }
      if (p >= line.size()) return false;
      ++p;  // past ']'
    }
    if (p < line.size() && line[p] != ' ') return false;
  } else if (p == before_sd + 1 || p == line.size()) {
    return false;  // one space and then neither `-` nor `[`: not RFC 5424
  } else {
    p = before_sd;  // no structured data: the message follows
  }
  out.time_us = t;
  out.host = fields[0] == "-" ? std::string_view{} : fields[0];
  set_message(line, p, out);
  return true;
}

}  // namespace

SyslogYear SyslogYear::now() noexcept {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return SyslogYear{tm.tm_year + 1900, static_cast<unsigned>(tm.tm_mon + 1)};
}

bool split_syslog(std::string_view line, const SyslogYear& year, PrefixParts& out, bool* tagged) noexcept {
  out = PrefixParts{};
  if (tagged) *tagged = false;
  size_t pos = 0;
  if (!line.empty() && line[0] == '<') {
    size_t close = line.find('>');
    if (close == std::string_view::npos || close < 2 || close > 4) return false;
    for (size_t i = 1; i < close; ++i)
      if (!is_digit(line[i])) return false;
    pos = close + 1;
    if (pos < line.size() && is_digit(line[pos]) && split_5424(line, pos, out)) {
      if (tagged) *tagged = true;
      return true;
    }
  }
  int64_t t = kNoTime;
  if (!bsd_time(line, pos, year, t) && !iso_token(line, pos, t)) return false;
  if (pos >= line.size() || line[pos] != ' ') return false;
  ++pos;
  // HOST, then an optional TAG[PID]: -- a first token that ends with ':' is a tag without host
  // (`su: ...`), as Logstash's SYSLOGLINE reads it.
  size_t p = pos;
  std::string_view first = token(line, p);
  if (first.empty()) return false;
  auto is_tag = [](std::string_view tok) {
    return tok.size() >= 2 && tok.back() == ':' && tok.front() != '[';
  };
  if (is_tag(first)) {
    if (tagged) *tagged = true;
    out.time_us = t;
    set_message(line, p, out);
    return true;
  }
  out.host = first;
  size_t after_host = p;
  if (p < line.size()) {
    ++p;
    size_t q = p;
    std::string_view tag = token(line, q);
    if (is_tag(tag)) {
      if (tagged) *tagged = true;
      after_host = q;
    }
  }
  out.time_us = t;
  set_message(line, after_host, out);
  return true;
}

bool split_cri(std::string_view line, PrefixParts& out) noexcept {
  out = PrefixParts{};
  size_t pos = 0;
  int64_t t;
  if (!iso_token(line, pos, t)) return false;
  if (pos >= line.size()) return false;
  ++pos;
  std::string_view stream = token(line, pos);
  if (stream != "stdout" && stream != "stderr") return false;
  if (pos >= line.size()) return false;
  ++pos;
  std::string_view tag = token(line, pos);
  if (tag.empty() || (tag[0] != 'F' && tag[0] != 'P') || (tag.size() > 1 && tag[1] != ':')) return false;
  out.time_us = t;
  out.partial = tag[0] == 'P';
  if (pos < line.size()) ++pos;  // exactly one space: the message keeps its own indentation
  out.message = line.substr(pos);
  out.message_begin = pos;
  out.message_end = line.size();
  return true;
}

LinePrefix format_prefix(std::string_view format, size_t& length) noexcept {
  for (LinePrefix p : {LinePrefix::kSyslog, LinePrefix::kCri, LinePrefix::kDocker}) {
    std::string_view name = prefix_name(p);
    if (format.size() > name.size() + 1 && format.starts_with(name) && format[name.size()] == '+') {
      length = name.size() + 1;
      return p;
    }
  }
  length = 0;
  return LinePrefix::kNone;
}

std::string_view prefix_name(LinePrefix p) noexcept {
  switch (p) {
    case LinePrefix::kSyslog: return "syslog";
    case LinePrefix::kCri: return "cri";
    case LinePrefix::kDocker: return "docker";
    case LinePrefix::kNone: break;
  }
  return "";
}

ParseError split_prefix(LinePrefix prefix, std::string_view line, const SyslogYear& year, DockerLineReader& docker,
                        PrefixParts& out) {
  switch (prefix) {
    case LinePrefix::kSyslog: return split_syslog(line, year, out) ? ParseError::kNone : ParseError::kBadPrefix;
    case LinePrefix::kCri: return split_cri(line, out) ? ParseError::kNone : ParseError::kBadPrefix;
    case LinePrefix::kDocker: return docker.read(line, out);
    case LinePrefix::kNone: break;
  }
  out = PrefixParts{};
  out.message = line;
  out.message_end = line.size();
  return ParseError::kNone;
}

namespace {

class PrefixedParser final : public Parser {
 public:
  PrefixedParser(LinePrefix prefix, std::unique_ptr<Parser> inner, std::string name)
      : prefix_(prefix), inner_(std::move(inner)), name_(std::move(name)), year_(SyslogYear::now()) {}
  std::string_view name() const noexcept override { return name_; }

  ParseError parse(std::string_view line, Record& r) override {
    line = trim_right(line);
    PrefixParts parts;
    if (ParseError e = split_prefix(prefix_, line, year_, docker_, parts); e != ParseError::kNone) {
      r.clear();
      return e;
    }
    if (parts.partial) {
      r.clear();
      return ParseError::kPartialLine;
    }
    ParseError e = inner_->parse(parts.message, r);
    if (e != ParseError::kNone) return e;
    if (r.time_us == kNoTime) r.time_us = parts.time_us;
    if (r.host.empty()) r.host = parts.host;
    return ParseError::kNone;
  }

 private:
  LinePrefix prefix_;
  std::unique_ptr<Parser> inner_;
  std::string name_;
  SyslogYear year_;
  DockerLineReader docker_;
};

}  // namespace

std::unique_ptr<Parser> make_prefixed_parser(LinePrefix prefix, std::unique_ptr<Parser> inner, std::string name) {
  return std::make_unique<PrefixedParser>(prefix, std::move(inner), std::move(name));
}

}  // namespace logpipe::detail

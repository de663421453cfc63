// The `fields:` format for application logs: whitespace-separated values named by the format,
// e.g. `fields:date time level request_id session user action method url referer` for
//   2023-12-22 22:07:37.780 INFO req_18648 session_1755 user_213 view_page GET /login https://www.bing.com
// Names that are record fields fill the record; `date` + `time` (or `timestamp`) give the time;
// `level` is kept in Record::level (which levels are errors: classify.h); every other name is kept as an extra
// field. The last field takes the rest of the line (a user agent may contain spaces).
//
// A name ending in `?` is optional: a line may end before it (only trailing fields may be). A value
// in double quotes may hold spaces (`"Direct Entry"`; the quotes are not part of it). `-` means
// absent, and so does every value listed with `none=` (`none="Direct Entry"`, repeatable).
#include "parsers.h"

#include "logpipe/error.h"
#include "logpipe/timeutil.h"

#include <charconv>
#include <cstdint>
#include <string>
#include <vector>

namespace logpipe::detail {
namespace {

enum class Slot : uint8_t {
  kExtra, kDate, kTime, kTimestamp, kLevel, kIp, kIdent, kUser, kSession, kMethod, kUrl,
  kProtocol, kStatus, kBytes, kReferer, kAgent, kHost, kEventType, kCourseId, kDurationUs,
  kDurationMs,
};

Slot slot_for(std::string_view n) {
  if (n == "date") return Slot::kDate;
  if (n == "time") return Slot::kTime;
  if (n == "timestamp" || n == "datetime") return Slot::kTimestamp;
  if (n == "level") return Slot::kLevel;
  if (n == "ip" || n == "client") return Slot::kIp;
  if (n == "ident") return Slot::kIdent;
  if (n == "user") return Slot::kUser;
  if (n == "session") return Slot::kSession;
  if (n == "method") return Slot::kMethod;
  if (n == "url" || n == "path") return Slot::kUrl;
  if (n == "protocol") return Slot::kProtocol;
  if (n == "status") return Slot::kStatus;
  if (n == "bytes" || n == "size") return Slot::kBytes;
  if (n == "referer" || n == "referrer") return Slot::kReferer;
  if (n == "agent" || n == "user_agent") return Slot::kAgent;
  if (n == "host") return Slot::kHost;
  if (n == "event_type") return Slot::kEventType;
  if (n == "course_id") return Slot::kCourseId;
  if (n == "duration_us") return Slot::kDurationUs;
  if (n == "duration_ms") return Slot::kDurationMs;
  return Slot::kExtra;
}

bool is_space(char c) noexcept { return c == ' ' || c == '\t'; }

// The end of a value starting at `pos`: its closing quote when it starts with one (escapes as in
// access logs), else the next space or tab. npos for an unterminated quote.
size_t value_end(std::string_view line, size_t pos) noexcept {
  if (line[pos] == '"') {
    size_t q = find_closing_quote(line, pos + 1);
    return q == std::string_view::npos ? q : q + 1;
  }
  while (pos < line.size() && !is_space(line[pos])) ++pos;
  return pos;
}

std::string_view unquote(std::string_view v) noexcept {
  return v.size() >= 2 && v.front() == '"' && v.back() == '"' ? v.substr(1, v.size() - 2) : v;
}

class FieldsParser final : public Parser {
 public:
  FieldsParser(std::string_view spec, std::string name) : name_(std::move(name)) {
    size_t i = 0;
    while (i < spec.size()) {
      while (i < spec.size() && is_space(spec[i])) ++i;
      if (i >= spec.size()) break;
      size_t j = i;
      if (spec.substr(i).starts_with("none=")) {
        j = i + 5;
        size_t end = j < spec.size() && spec[j] == '"' ? spec.find('"', j + 1) : j;
        if (end == std::string_view::npos) usage_error("--format fields: unclosed quote in '{}'", spec.substr(i));
        if (spec[j] == '"') {
          none_.emplace_back(spec.substr(j + 1, end - j - 1));
          j = end + 1;
        } else {
          while (j < spec.size() && !is_space(spec[j])) ++j;
          none_.emplace_back(spec.substr(i + 5, j - i - 5));
        }
        if (none_.back().empty()) usage_error("--format fields: empty none= value");
        i = j;
        continue;
      }
      while (j < spec.size() && !is_space(spec[j])) ++j;
      std::string n(spec.substr(i, j - i));
      bool optional = n.size() > 1 && n.back() == '?';
      if (optional) n.pop_back();
      if (n.find_first_of("?=\"") != std::string::npos)
        usage_error("--format fields: bad field name '{}'", spec.substr(i, j - i));
      if (!optional && !slots_.empty() && first_optional_ != SIZE_MAX)
        usage_error("--format fields: '{}' follows an optional field; only trailing fields may be optional", n);
      if (optional && first_optional_ == SIZE_MAX) first_optional_ = slots_.size();
      slots_.push_back(slot_for(n));
      names_.push_back(std::move(n));
      i = j;
    }
    if (slots_.empty()) usage_error("--format fields: no field names");
    extra_.reserve(slots_.size());
  }
  std::string_view name() const noexcept override { return name_; }

  ParseError parse(std::string_view line, Record& r) override {
    r.clear();
    extra_.clear();
    line = trim_right(line);
    std::string_view date, time, timestamp;
    size_t pos = 0;
    for (size_t k = 0; k < slots_.size(); ++k) {
      while (pos < line.size() && is_space(line[pos])) ++pos;
      if (pos >= line.size()) {
        if (k >= first_optional_) break;  // the optional fields left are absent
        return ParseError::kMissingField;
      }
      size_t end = value_end(line, pos);
      if (end == std::string_view::npos) return ParseError::kUnterminatedQuote;
      // The last field takes the rest of the line, unless it is one quoted value.
      if (k + 1 == slots_.size() && !(line[pos] == '"' && end == line.size())) end = line.size();
      std::string_view v = unquote(line.substr(pos, end - pos));
      pos = end;
      std::string_view value = dash_to_empty(v);
      for (const auto& none : none_)
        if (value == none) value = {};
      if (value.empty()) v = "-";
      switch (slots_[k]) {
        case Slot::kExtra: extra_.emplace_back(names_[k], value); break;
        case Slot::kDate: date = v; break;
        case Slot::kTime: time = v; break;
        case Slot::kTimestamp: timestamp = v; break;
        case Slot::kLevel:
          extra_.emplace_back(names_[k], value);
          r.level = value;
          break;
        case Slot::kIp: r.ip = value; break;
        case Slot::kIdent: r.ident = value; break;
        case Slot::kUser: r.user = value; break;
        case Slot::kSession: r.session = value; break;
        case Slot::kMethod: r.method = value; break;
        case Slot::kUrl: r.url = value; break;
        case Slot::kProtocol: r.protocol = value; break;
        case Slot::kStatus:
          if (!parse_status(v, r.status)) return ParseError::kBadStatus;
          break;
        case Slot::kBytes:
          if (!parse_bytes(v, r.bytes)) return ParseError::kBadBytes;
          break;
        case Slot::kReferer: r.referer = value; break;
        case Slot::kAgent: r.agent = value; break;
        case Slot::kHost: r.host = value; break;
        case Slot::kEventType: r.event_type = value; break;
        case Slot::kCourseId: r.course_id = value; break;
        case Slot::kDurationUs:
        case Slot::kDurationMs:
          if (!value.empty() && !parse_duration_value(v, slots_[k] == Slot::kDurationMs ? 1e3 : 1, r.duration_us))
            return ParseError::kBadField;
          break;
      }
    }
    if (!timestamp.empty() && !parse_iso_time(timestamp, r.time_us)) return ParseError::kBadTime;
    if (!date.empty() || !time.empty()) {
      // `date time` as written by most application loggers: 2023-12-22 22:07:37.780
      scratch_.assign(date);
      if (!date.empty() && !time.empty()) scratch_ += ' ';
      scratch_.append(time);
      if (!parse_iso_time(scratch_, r.time_us)) return ParseError::kBadTime;
    }
    r.extra = extra_;
    return ParseError::kNone;
  }

 private:
  std::string name_;
  std::vector<Slot> slots_;
  size_t first_optional_ = SIZE_MAX;
  std::vector<std::string> none_;
  std::vector<std::string> names_;
  std::vector<std::pair<std::string_view, std::string_view>> extra_;
  std::string scratch_;
};

}  // namespace

std::unique_ptr<Parser> make_fields_parser(std::string_view names, std::string name) {
  if (names.size() >= 2 && (names.front() == '\'' || names.front() == '"') && names.back() == names.front())
    names = names.substr(1, names.size() - 2);
  if (name.empty()) name = "fields:" + std::string(names);
  return std::make_unique<FieldsParser>(names, std::move(name));
}

}  // namespace logpipe::detail

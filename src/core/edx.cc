// Open edX / FUN tracking logs: one JSON object per line, read with simdjson On-Demand. The only
// file that includes simdjson for parsing.
#include "parsers.h"

#include "logpipe/timeutil.h"

#include <simdjson.h>

#include <cstring>
#include <vector>

namespace logpipe::detail {
namespace {

namespace od = simdjson::ondemand;

// Strips spaces, tabs, CR and LF at both ends (edx-analytics-pipeline strips usernames).
std::string_view strip(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

class EdxParser final : public Parser {
 public:
  std::string_view name() const noexcept override { return "edx"; }

  ParseError parse(std::string_view line, Record& r) override {
    r.clear();
    // Text before the first `{` (a syslog prefix) and after the last `}` is ignored, as
    // edx-analytics-pipeline and FUN's logstash.conf do.
    size_t first = line.find('{');
    if (first == std::string_view::npos) return ParseError::kNotJsonObject;
    size_t last = line.rfind('}');
    if (last == std::string_view::npos || last < first) return ParseError::kBadJson;
    std::string_view json = line.substr(first, last - first + 1);

    // Copy into a padded buffer: simdjson reads up to SIMDJSON_PADDING bytes past the end.
    copy_for_simdjson(buffer_, json);

    od::document doc;
    if (parser_.iterate(buffer_.data(), json.size(), buffer_.size()).get(doc)) return ParseError::kBadJson;
    od::object obj;
    if (doc.get_object().get(obj)) return ParseError::kNotJsonObject;
    std::string_view page, time_text, event_source, usage_key, event_course;
    bool have_time = false;
    for (auto field : obj) {
      std::string_view key;
      if (field.unescaped_key().get(key)) return ParseError::kBadJson;
      od::value value;
      if (field.value().get(value)) return ParseError::kBadJson;
      if (key == "context") {
        od::object ctx;
        if (value.get_object().get(ctx) == simdjson::SUCCESS) {
          for (auto cf : ctx) {
            std::string_view ck;
            if (cf.unescaped_key().get(ck)) return ParseError::kBadJson;
            od::value cv;
            if (cf.value().get(cv)) return ParseError::kBadJson;
            if (ck == "course_id") r.course_id = string_of(cv);
            else if (ck == "path") r.url = string_of(cv);
            else if (ck == "module") usage_key = member_of(cv, "usage_key");
            // other members (user_id, org_id, ...) are skipped by the iterator
          }
        }
        continue;
      }
      if (key == "username") r.user = strip(string_of(value));
      else if (key == "ip") r.ip = string_of(value);
      else if (key == "event_type") r.event_type = string_of(value);
      else if (key == "event_source") event_source = string_of(value);
      else if (key == "agent") r.agent = string_of(value);
      else if (key == "page") page = string_of(value);
      else if (key == "host") r.host = string_of(value);
      else if (key == "referer") r.referer = string_of(value);
      else if (key == "session") r.session = string_of(value);
      else if (key == "time") {
        time_text = string_of(value);
        have_time = true;
      } else if (key == "event") {
        event_members(value, event_course, r.success);  // an object; a JSON-encoded string is not read
      }
      // other fields (accept_language, ...) are skipped by the iterator
    }
    if (have_time && !time_text.empty() && !parse_iso_time(time_text, r.time_us))
      return ParseError::kBadTime;
    // The course: one rule (course_key_of) over every place it may be, the event's own first
    // (the URL a server event is named after, the page of a browser event), as
    // edx-analytics-pipeline's get_course_id does, then the other places.
    if (!r.course_id.empty()) {
      std::string_view key = course_key_of(r.course_id, course_scratch_);
      if (!key.empty()) r.course_id = key;
    } else {
      const bool browser = event_source == "browser";
      for (std::string_view place : {browser ? page : r.event_type, browser ? r.event_type : page, r.url, usage_key,
                                     event_course}) {
        r.course_id = course_key_of(place, course_scratch_);
        if (!r.course_id.empty()) break;
      }
    }
    return ParseError::kNone;
  }

 private:
  // A JSON string's unescaped value (kept in the parser's string buffer), or empty.
  static std::string_view string_of(od::value& v) noexcept {
    std::string_view s;
    if (v.get_string().get(s)) return {};
    return s;
  }

  // The string member `name` of an object value, or empty (also when the value is no object).
  static std::string_view member_of(od::value& v, std::string_view name) noexcept {
    od::object o;
    if (v.get_object().get(o)) return {};
    for (auto f : o) {
      std::string_view k;
      if (f.unescaped_key().get(k)) return {};
      if (k != name) continue;
      od::value inner;
      if (f.value().get(inner)) return {};
      return string_of(inner);
    }
    return {};
  }

  // The event object's `course_id` and `success` string members (empty when absent, or when the
  // event is no object: a browser event's JSON-encoded string is not read).
  static void event_members(od::value& v, std::string_view& course, std::string_view& success) noexcept {
    od::object o;
    if (v.get_object().get(o)) return;
    for (auto f : o) {
      std::string_view k;
      if (f.unescaped_key().get(k)) return;
      if (k != "course_id" && k != "success") continue;
      od::value inner;
      if (f.value().get(inner)) return;
      (k == "course_id" ? course : success) = string_of(inner);
    }
  }

  od::parser parser_;
  std::vector<char> buffer_;
  std::string course_scratch_;
};

}  // namespace

namespace {

// The end of a key component: course keys are made of letters, digits and `_ . - ~ %`; anything
// else (`/`, `?`, `#`, `"`, a space, `+` between components) ends one.
size_t component_end(std::string_view s, size_t pos) noexcept {
  while (pos < s.size()) {
    char c = s[pos];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-' || c == '~' || c == '%';
    if (!ok) break;
    ++pos;
  }
  return pos;
}

// `Org+Course+Run` (or `Org/Course/Run` with `sep` '/') at s[pos]: its length, 0 when the three
// components are not all there.
size_t three_components(std::string_view s, size_t pos, char sep) noexcept {
  size_t p = pos;
  for (int i = 0; i < 3; ++i) {
    size_t e = component_end(s, p);
    if (e == p) return 0;
    p = e;
    if (i < 2) {
      if (p >= s.size() || s[p] != sep) return 0;
      ++p;
    }
  }
  return p - pos;
}

}  // namespace

std::string_view course_key_of(std::string_view text, std::string& scratch) noexcept {
  if (text.empty()) return {};
  // A course key anywhere (a URL /courses/course-v1:.../, the key itself).
  size_t p = text.find("course-v1:");
  if (p != std::string_view::npos) {
    size_t n = three_components(text, p + 10, '+');
    return n ? text.substr(p, 10 + n) : std::string_view{};
  }
  // A CCX (custom course) key: ccx-v1:Org+Course+Run+ccx@N, kept whole.
  p = text.find("ccx-v1:");
  if (p != std::string_view::npos) {
    size_t n = three_components(text, p + 7, '+');
    if (n == 0 || text.substr(p + 7 + n).substr(0, 5) != "+ccx@") return {};
    size_t end = p + 7 + n + 5, digits = end;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    return digits > end ? text.substr(p, digits - p) : std::string_view{};
  }
  // A usage or asset key: block-v1:Org+Course+Run+type@... -> course-v1:Org+Course+Run. Without
  // its `+type@` part it is no key (edx-analytics-pipeline rejects it too).
  for (std::string_view kind : {"block-v1:", "asset-v1:"}) {
    p = text.find(kind);
    if (p == std::string_view::npos) continue;
    size_t start = p + kind.size();
    size_t n = three_components(text, start, '+');
    if (n == 0 || text.substr(start + n).substr(0, 6) != "+type@") return {};
    try {
      scratch.assign("course-v1:");
      scratch.append(text.substr(start, n));
    } catch (...) {
      return {};
    }
    return scratch;
  }
  // An old id in a URL: /courses/Org/Course/Run/...
  p = text.find("/courses/");
  if (p != std::string_view::npos) {
    size_t n = three_components(text, p + 9, '/');
    return n ? text.substr(p + 9, n) : std::string_view{};
  }
  // An old id as such: Org/Course/Run and nothing else.
  size_t n = three_components(text, 0, '/');
  return n == text.size() ? text : std::string_view{};
}

std::unique_ptr<Parser> make_edx_parser() { return std::make_unique<EdxParser>(); }

}  // namespace logpipe::detail

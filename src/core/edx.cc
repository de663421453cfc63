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

// The course id in a URL: `/courses/<id>/...` (old `Org/Course/Run` or `course-v1:...`), or
// `/xblock/block-v1:Org+Course+Run+type@...` (edx-analytics-pipeline's get_course_id).
std::string_view course_from_url(std::string_view url) noexcept {
  size_t p = url.find("/courses/");
  if (p != std::string_view::npos) {
    std::string_view rest = url.substr(p + 9);
    if (rest.starts_with("course-v1:")) {
      size_t end = rest.find_first_of("/?#");
      return rest.substr(0, end);
    }
    // Org/Course/Run: three path segments.
    size_t s1 = rest.find('/');
    if (s1 == std::string_view::npos) return {};
    size_t s2 = rest.find('/', s1 + 1);
    if (s2 == std::string_view::npos) return {};
    size_t s3 = rest.find_first_of("/?#", s2 + 1);
    std::string_view id = rest.substr(0, s3);
    return s2 + 1 < id.size() ? id : std::string_view{};
  }
  p = url.find("/xblock/block-v1:");
  if (p != std::string_view::npos) {
    std::string_view rest = url.substr(p + 17);
    size_t type = rest.find("+type@");
    if (type == std::string_view::npos) return {};
    // Keep "block-v1:" content up to +type@, rebuilt as course-v1: below by the caller.
    return rest.substr(0, type);
  }
  return {};
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
    if (buffer_.size() < json.size() + simdjson::SIMDJSON_PADDING)
      buffer_.resize(json.size() + simdjson::SIMDJSON_PADDING);
    std::memcpy(buffer_.data(), json.data(), json.size());
    std::memset(buffer_.data() + json.size(), 0, simdjson::SIMDJSON_PADDING);
    strings_.clear();

    od::document doc;
    if (parser_.iterate(buffer_.data(), json.size(), buffer_.size()).get(doc)) return ParseError::kBadJson;
    od::object obj;
    if (doc.get_object().get(obj)) return ParseError::kNotJsonObject;
    std::string_view page, time_text, event_source;
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
            else if (ck == "user_id" || ck == "org_id") {
              // not a record field; skipped
            }
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
      }
      // other fields (event, accept_language, ...) are skipped by the iterator
    }
    if (have_time && !time_text.empty() && !parse_iso_time(time_text, r.time_us))
      return ParseError::kBadTime;
    if (r.course_id.empty()) {
      std::string_view from = course_from_url(event_source == "browser" ? page : r.event_type);
      if (from.empty() && event_source != "browser") from = course_from_url(page);
      if (!from.empty() && page.find("/xblock/block-v1:") != std::string_view::npos &&
          r.event_type.find("/courses/") == std::string_view::npos) {
        // block-v1:Org+Course+Run+type@... -> course-v1:Org+Course+Run
        std::string& s = strings_.emplace_back("course-v1:");
        s.append(from);
        from = s;
      }
      r.course_id = from;
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

  od::parser parser_;
  std::vector<char> buffer_;
  std::vector<std::string> strings_;
};

}  // namespace

std::unique_ptr<Parser> make_edx_parser() { return std::make_unique<EdxParser>(); }

}  // namespace logpipe::detail

// Apache common / combined / clickstream parsing, format detection and the format factory.
#include "parsers.h"

#include "logpipe/error.h"
#include "logpipe/timeutil.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

namespace logpipe {

std::string_view describe(ParseError e) noexcept {
  switch (e) {
    case ParseError::kNone: return "ok";
    case ParseError::kBadHost: return "bad client address";
    case ParseError::kBadTime: return "bad or missing time";
    case ParseError::kBadRequest: return "bad request line";
    case ParseError::kBadStatus: return "bad status";
    case ParseError::kBadBytes: return "bad byte count";
    case ParseError::kUnterminatedQuote: return "unterminated quoted field";
    case ParseError::kMissingField: return "missing field";
    case ParseError::kTrailingData: return "unexpected data after the last field";
    case ParseError::kBadJson: return "invalid or truncated JSON";
    case ParseError::kNotJsonObject: return "not a JSON object";
    case ParseError::kBadField: return "bad field value";
    case ParseError::kTruncatedLine: return "line cut short (the input ended inside it)";
    case ParseError::kLineTooLong: return "line longer than --max-line-bytes (cut there)";
    case ParseError::kPartialLine: return "partial line (a fragment split by the container runtime)";
    case ParseError::kBadPrefix: return "missing or bad line prefix (syslog, CRI or Docker JSON)";
    case ParseError::kCount_: break;
  }
  return "unknown";
}

bool is_blank(std::string_view line) noexcept {
  for (char c : line)
    if (c != ' ' && c != '\t' && c != '\r') return false;
  return true;
}

namespace detail {

size_t find_closing_quote(std::string_view line, size_t pos) noexcept {
  const char* base = line.data();
  size_t n = line.size();
  while (pos < n) {
    const void* hit = std::memchr(base + pos, '"', n - pos);
    if (!hit) return std::string_view::npos;
    size_t q = static_cast<size_t>(static_cast<const char*>(hit) - base);
    // Count the backslashes right before the quote: an odd number escapes it.
    size_t b = q;
    while (b > pos && base[b - 1] == '\\') --b;
    if (((q - b) & 1) == 0) return q;
    pos = q + 1;
  }
  return std::string_view::npos;
}

void split_request(std::string_view request, Record& out) noexcept {
  if (request.empty() || request == "-") return;
  size_t sp = request.find(' ');
  if (sp == std::string_view::npos) return;  // one word: garbage such as "hello"
  out.method = request.substr(0, sp);
  std::string_view rest = request.substr(sp + 1);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  size_t last = rest.rfind(' ');
  if (last != std::string_view::npos && rest.substr(last + 1).starts_with("HTTP/")) {
    out.protocol = rest.substr(last + 1);
    rest = rest.substr(0, last);
    while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
  }
  out.url = rest;
}

namespace {

bool is_private_or_local(std::string_view ip) noexcept {
  if (ip.starts_with("10.") || ip.starts_with("127.") || ip.starts_with("192.168.") ||
      ip.starts_with("169.254."))
    return true;
  if (ip.starts_with("172.")) {
    int second = 0;
    auto r = std::from_chars(ip.data() + 4, ip.data() + ip.size(), second);
    if (r.ec == std::errc() && second >= 16 && second <= 31) return true;
  }
  if (ip == "::1" || ip.starts_with("fc") || ip.starts_with("fd") || ip.starts_with("fe80"))
    return true;
  return false;
}

bool looks_like_ip(std::string_view s) noexcept {
  if (s.empty()) return false;
  bool colon = false, dot = false;
  for (char c : s) {
    if (c == ':') colon = true;
    else if (c == '.') dot = true;
    else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
      return false;
  }
  return colon || dot;
}

}  // namespace

std::string_view pick_client(std::string_view host) noexcept {
  if (host.find_first_of(", \"") == std::string_view::npos) return host;
  std::string_view first, first_public;
  size_t i = 0;
  while (i < host.size()) {
    while (i < host.size() && (host[i] == ' ' || host[i] == ',' || host[i] == '"')) ++i;
    size_t j = i;
    while (j < host.size() && host[j] != ' ' && host[j] != ',' && host[j] != '"') ++j;
    if (j > i) {
      std::string_view item = host.substr(i, j - i);
      if (first.empty()) first = item;
      if (first_public.empty() && looks_like_ip(item) && !is_private_or_local(item))
        first_public = item;
    }
    i = j;
  }
  return first_public.empty() ? first : first_public;
}

void parse_cookie(std::string_view cookie, Record& out) noexcept {
  size_t i = 0;
  while (i < cookie.size()) {
    size_t end = cookie.find(';', i);
    if (end == std::string_view::npos) end = cookie.size();
    std::string_view pair = cookie.substr(i, end - i);
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos) {
      std::string_view key = pair.substr(0, eq), value = pair.substr(eq + 1);
      while (!key.empty() && key.front() == ' ') key.remove_prefix(1);
      while (!key.empty() && key.back() == ' ') key.remove_suffix(1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
      if (key == "user") {
        if (value != "anonymous" && value != "-") out.user = value;
      } else if (key == "PHPSESSID" || key == "session" || key == "sessionid") {
        out.session = dash_to_empty(value);
      }
    }
    i = end + 1;
  }
}

bool parse_status(std::string_view v, int& out) noexcept {
  if (v == "-") {
    out = 0;
    return true;
  }
  if (v.size() != 3) return false;
  int s = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    s = s * 10 + (c - '0');
  }
  if (s < 100) return false;
  out = s;
  return true;
}

bool parse_duration_value(std::string_view v, double unit_us, int64_t& out_us, bool list_ok) noexcept {
  double d = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
  if (ec != std::errc() || p == v.data()) return false;
  if (p != v.data() + v.size() && !(list_ok && *p == ',')) return false;
  double us = d * unit_us;
  if (!duration_in_range(us)) return false;  // "nan", "1e300": no UB cast
  out_us = static_cast<int64_t>(us);
  return true;
}

bool parse_integer(std::string_view v, int64_t& out) noexcept {
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  return ec == std::errc() && !v.empty() && p == v.data() + v.size();
}

bool parse_bytes(std::string_view v, int64_t& out) noexcept {
  if (v == "-") {
    out = -1;
    return true;
  }
  if (v.empty() || v.size() > 18) return false;
  int64_t b = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    b = b * 10 + (c - '0');
  }
  out = b;
  return true;
}

}  // namespace detail

namespace {

using detail::dash_to_empty;

// Longer than about 31 years is not a response time: refused, and no product below overflows.
constexpr int64_t kMaxDurationUs = 1'000'000'000'000'000;

// `12345` (microseconds), `0.123` (seconds) or `12ms` (Traefik's CLF): the response time some
// combined variants append.
bool parse_duration_token(std::string_view v, int64_t& out_us) noexcept {
  if (v.size() > 2 && v.ends_with("ms")) {
    v.remove_suffix(2);
    if (!parse_duration_token(v, out_us)) return false;
    // an integer was read as microseconds, a fraction as seconds: both were milliseconds
    if (v.find('.') != std::string_view::npos) {
      out_us /= 1000;
      return true;
    }
    if (out_us > kMaxDurationUs / 1000) return false;
    out_us *= 1000;
    return true;
  }
  if (v.empty() || v.size() > 18) return false;
  int64_t whole = 0;
  size_t i = 0;
  for (; i < v.size() && v[i] != '.'; ++i) {
    if (v[i] < '0' || v[i] > '9') return false;
    whole = whole * 10 + (v[i] - '0');
  }
  if (i == v.size()) {
    out_us = whole;
    return whole <= kMaxDurationUs;
  }
  if (i == 0 || i + 1 == v.size() || whole > kMaxDurationUs / 1000000) return false;
  int64_t frac = 0, scale = 100000;
  for (++i; i < v.size(); ++i) {
    if (v[i] < '0' || v[i] > '9') return false;
    frac += (v[i] - '0') * scale;
    scale /= 10;
  }
  out_us = whole * 1000000 + frac;
  return true;
}

enum class AccessMode { kCommon, kCombined, kClickstream };

struct Token {
  uint32_t begin;  // position of the first byte (including a quote or bracket)
  uint32_t end;    // one past the last byte
  std::string_view inner(std::string_view line) const noexcept {
    size_t b = begin, e = end;
    char c = line[b];
    if ((c == '"' || c == '[') && e - b >= 2) {
      ++b;
      --e;
    }
    return line.substr(b, e - b);
  }
  bool quoted(std::string_view line) const noexcept { return line[begin] == '"'; }
};

// Common, combined and clickstream share one tokenizer: fields separated by spaces, `"..."`
// (with backslash escapes) and `[...]` are single fields. The time field anchors the layout, so a
// client list before ident and user (nginx X-Forwarded-For) still parses.
class AccessLogParser final : public Parser {
 public:
  explicit AccessLogParser(AccessMode mode) : mode_(mode) {}

  std::string_view name() const noexcept override {
    switch (mode_) {
      case AccessMode::kCommon: return "common";
      case AccessMode::kCombined: return "combined";
      case AccessMode::kClickstream: return "clickstream";
    }
    return "combined";
  }

  ParseError parse(std::string_view line, Record& r) override {
    r.clear();
    line = detail::trim_right(line);
    if (line.size() >= (1u << 31)) return ParseError::kTrailingData;
    size_t count = 0;
    size_t time_index = SIZE_MAX;
    size_t pos = 0;
    const size_t n = line.size();
    while (pos < n) {
      while (pos < n && line[pos] == ' ') ++pos;
      if (pos >= n) break;
      if (count == kMaxTokens) return ParseError::kTrailingData;
      size_t start = pos;
      char c = line[pos];
      if (c == '"') {
        size_t q = detail::find_closing_quote(line, pos + 1);
        if (q == std::string_view::npos) return ParseError::kUnterminatedQuote;
        pos = q + 1;
      } else if (c == '[' && time_index == SIZE_MAX) {
        const void* close = std::memchr(line.data() + pos, ']', n - pos);
        if (!close) return ParseError::kBadTime;
        pos = static_cast<size_t>(static_cast<const char*>(close) - line.data()) + 1;
        time_index = count;
      } else {
        const void* sp = std::memchr(line.data() + pos, ' ', n - pos);
        pos = sp ? static_cast<size_t>(static_cast<const char*>(sp) - line.data()) : n;
      }
      tokens_[count++] = Token{static_cast<uint32_t>(start), static_cast<uint32_t>(pos)};
    }
    if (time_index == SIZE_MAX) {
      // Only the all-dash form (`- - - - - - -`) may lack a bracketed time.
      if (count < 7 || line.substr(tokens_[3].begin, tokens_[3].end - tokens_[3].begin) != "-")
        return ParseError::kBadTime;
      time_index = 3;
    }
    if (time_index < 3) return ParseError::kMissingField;
    if (count < time_index + 4) return ParseError::kMissingField;

    // Client (possibly a list), ident, user.
    std::string_view host = line.substr(tokens_[0].begin, tokens_[time_index - 3].end - tokens_[0].begin);
    r.ip = dash_to_empty(time_index == 3 ? host : detail::pick_client(host));
    r.ident = dash_to_empty(tokens_[time_index - 2].inner(line));
    r.user = dash_to_empty(tokens_[time_index - 1].inner(line));

    std::string_view time = tokens_[time_index].inner(line);
    if (time != "-" && !parse_apache_time(time, r.time_us) && !parse_iso_time(time, r.time_us))
      return ParseError::kBadTime;

    const Token& req = tokens_[time_index + 1];
    std::string_view request = req.inner(line);
    if (!req.quoted(line) && request != "-") return ParseError::kBadRequest;
    detail::split_request(request, r);
    if (!detail::parse_status(tokens_[time_index + 2].inner(line), r.status))
      return ParseError::kBadStatus;
    if (!detail::parse_bytes(tokens_[time_index + 3].inner(line), r.bytes))
      return ParseError::kBadBytes;

    size_t next = time_index + 4;
    if (next < count) {
      // Referer and agent: quoted, or a bare `-`.
      const Token& ref = tokens_[next];
      if (!ref.quoted(line) && ref.inner(line) != "-") return ParseError::kTrailingData;
      r.referer = dash_to_empty(ref.inner(line));
      ++next;
      if (next < count) {
        const Token& agent = tokens_[next];
        if (!agent.quoted(line) && agent.inner(line) != "-") return ParseError::kTrailingData;
        r.agent = dash_to_empty(agent.inner(line));
        ++next;
      }
    }
    // Extra fields after the agent: the clickstream cookie, nginx's trailing "-", or a response
    // time (`%D` microseconds as an integer, nginx's `$request_time` seconds with a fraction).
    for (; next < count; ++next) {
      const Token& extra = tokens_[next];
      if (!extra.quoted(line)) {
        std::string_view v = extra.inner(line);
        if (v == "-") continue;
        if (!parse_duration_token(v, r.duration_us)) return ParseError::kTrailingData;
        continue;
      }
      std::string_view v = extra.inner(line);
      if (v.find('=') != std::string_view::npos) detail::parse_cookie(v, r);
    }
    return ParseError::kNone;
  }

 private:
  static constexpr size_t kMaxTokens = 48;
  AccessMode mode_;
  std::array<Token, kMaxTokens> tokens_{};
};

}  // namespace

std::unique_ptr<Parser> make_parser(std::string_view format) {
  size_t prefix_length = 0;
  if (detail::LinePrefix p = detail::format_prefix(format, prefix_length); p != detail::LinePrefix::kNone)
    return detail::make_prefixed_parser(p, make_parser(format.substr(prefix_length)), std::string(format));
  if (format == "common") return std::make_unique<AccessLogParser>(AccessMode::kCommon);
  if (format == "combined") return std::make_unique<AccessLogParser>(AccessMode::kCombined);
  if (format == "clickstream") return std::make_unique<AccessLogParser>(AccessMode::kClickstream);
  if (format == "edx") return detail::make_edx_parser();
  if (format == "applog") return detail::make_fields_parser(detail::kApplogFields, "applog");
  if (format == "json") return detail::make_json_parser({});
  if (format.starts_with("json:")) return detail::make_json_parser(format.substr(5));
  if (format.starts_with("nginxformat:")) return detail::make_nginx_parser(format.substr(12));
  if (format.starts_with("logformat:")) {
    std::string_view f = format.substr(10);
    if (detail::looks_like_nginx_format(f)) return detail::make_nginx_parser(f);
    return detail::make_logformat_parser(f);
  }
  if (format.starts_with("fields:")) return detail::make_fields_parser(format.substr(7));
  if (detail::looks_like_nginx_format(format)) return detail::make_nginx_parser(format);
  usage_error("--format: unknown format '{}' (expected auto, common, combined, clickstream, edx, applog, json, "
              "json:MAPPING, logformat:'...', nginxformat:'...', fields:'...', or one of them after syslog+, "
              "cri+ or docker+)", format);
}

bool FormatGuess::reads_well() const noexcept {
  if (lines == 0) return true;
  return !candidates.empty() && candidates.front().parsed * 2 >= lines;
}

namespace {

// How much of a record a format filled: the vote prefers the format that explains most of a line.
size_t filled(const Record& r) noexcept {
  return (r.time_us != kNoTime) + !r.ip.empty() + !r.user.empty() + !r.method.empty() + !r.url.empty() +
         (r.status != 0) + (r.bytes >= 0) + !r.referer.empty() + !r.agent.empty() + !r.session.empty() +
         !r.host.empty() + !r.event_type.empty() + !r.course_id.empty() + (r.duration_us >= 0) + !r.level.empty() +
         !r.protocol.empty();
}

// The shapes detection tries, in order of preference on a tie. Common, combined and clickstream
// share one parser: which of them a sample is follows from what its lines carry (below).
constexpr std::string_view kAccess = "access";
constexpr std::string_view kCandidates[] = {
    "edx",
    "json:nginx",
    "json:caddy",
    "json:traefik",
    "json:ecs",
    kAccess,
    "logformat:vhost_combined",
    "nginxformat:upstreaminfo",
    "applog",
    "fields:date time level message?",
    "fields:timestamp level message?",
};

// A --format value worth trying when nothing reads an input well, from its first line's shape.
std::string suggest(std::string_view line) {
  line = detail::trim_right(line);
  size_t b = line.find_first_not_of(" \t");
  if (b != std::string_view::npos && line[b] == '{')
    return "json:time=KEY,ip=KEY,url=KEY,status=KEY";
  auto digit = [&](size_t i) { return i < line.size() && line[i] >= '0' && line[i] <= '9'; };
  if (digit(0) && digit(1) && digit(2) && digit(3) && line.size() > 10 && line[4] == '-')
    return line.size() > 10 && line[10] == 'T' ? "fields:timestamp level message?" : "fields:date time level message?";
  if (line.find('$') == std::string_view::npos && line.find('[') != std::string_view::npos &&
      line.find('"') != std::string_view::npos)
    return "logformat:%h %l %u %t \"%r\" %>s %b";
  return "fields:NAME NAME ... message";
}

// Votes over sample lines without a prefix.
FormatGuess detect_inner(std::span<const std::string_view> lines) {
  struct Trial {
    std::string_view name;
    std::unique_ptr<Parser> parser;
    FormatCandidate result;
  };
  std::vector<Trial> trials;
  for (std::string_view c : kCandidates)
    trials.push_back(Trial{c, c == kAccess ? std::make_unique<AccessLogParser>(AccessMode::kCombined) : make_parser(c),
                           FormatCandidate{std::string(c), 0, 0}});
  int common = 0, combined = 0, clickstream = 0;
  size_t n = 0;
  Record r;
  for (std::string_view raw : lines) {
    if (is_blank(raw)) continue;
    ++n;
    std::string_view line = detail::trim_right(raw);
    for (Trial& t : trials) {
      if (t.parser->parse(line, r) != ParseError::kNone) continue;
      ++t.result.parsed;
      t.result.score += 1 + filled(r);
      if (t.name != kAccess) continue;
      if (!r.session.empty() || line.find("PHPSESSID") != std::string_view::npos ||
          line.find("\"user = ") != std::string_view::npos)
        ++clickstream;
      else if (line.back() == '"' || !r.agent.empty() || !r.referer.empty() || r.duration_us >= 0)
        ++combined;
      else
        ++common;
    }
  }
  std::string access = clickstream > 0 && clickstream * 2 >= combined + common ? "clickstream"
                       : combined > 0 && combined >= common                    ? "combined"
                       : common > 0                                            ? "common"
                                                                               : "combined";
  FormatGuess g;
  g.lines = n;
  for (Trial& t : trials) {
    if (t.name == kAccess) t.result.format = access;
    if (t.result.parsed > 0) g.candidates.push_back(std::move(t.result));
  }
  std::stable_sort(g.candidates.begin(), g.candidates.end(),
                   [](const FormatCandidate& a, const FormatCandidate& b) { return a.score > b.score; });
  g.format = g.candidates.empty() ? std::string("combined") : g.candidates.front().format;
  if (!g.reads_well()) {
    for (std::string_view raw : lines)
      if (!is_blank(raw)) {
        g.suggestion = suggest(raw);
        break;
      }
  }
  return g;
}

}  // namespace

FormatGuess detect_format(std::span<const std::string_view> lines) {
  // A prefix seen on most lines is split off first; the format behind it is voted on the
  // messages, so a syslog-wrapped edX log is `syslog+edx`, not malformed `combined`.
  using detail::LinePrefix;
  detail::DockerLineReader docker;
  detail::SyslogYear year = detail::SyslogYear::now();
  detail::PrefixParts parts;
  size_t n = 0, syslog = 0, cri = 0, docker_lines = 0;
  for (std::string_view raw : lines) {
    if (is_blank(raw)) continue;
    ++n;
    std::string_view line = detail::trim_right(raw);
    bool tagged = false;
    if (docker.read(line, parts) == ParseError::kNone) ++docker_lines;
    else if (detail::split_cri(line, parts)) ++cri;
    else if (detail::split_syslog(line, year, parts, &tagged) && tagged) ++syslog;
  }
  LinePrefix prefix = LinePrefix::kNone;
  if (docker_lines * 2 > n) prefix = LinePrefix::kDocker;
  else if (cri * 2 > n) prefix = LinePrefix::kCri;
  else if (syslog * 2 > n) prefix = LinePrefix::kSyslog;
  if (prefix == LinePrefix::kNone) return detect_inner(lines);

  std::vector<std::string> messages;
  for (std::string_view raw : lines) {
    if (is_blank(raw)) continue;
    std::string_view line = detail::trim_right(raw);
    if (detail::split_prefix(prefix, line, year, docker, parts) == ParseError::kNone && !parts.partial)
      messages.emplace_back(parts.message);
    else
      messages.emplace_back(line);  // counted as a line no candidate reads
  }
  std::vector<std::string_view> views(messages.begin(), messages.end());
  FormatGuess g = detect_inner(views);
  std::string p = std::string(detail::prefix_name(prefix)) + "+";
  g.format = p + g.format;
  for (auto& c : g.candidates) c.format = p + c.format;
  if (!g.suggestion.empty()) g.suggestion = p + g.suggestion;
  return g;
}

}  // namespace logpipe

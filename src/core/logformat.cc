// Apache mod_log_config LogFormat strings compiled once into a parser: a list of literals and
// fields. A field ends where the next literal starts; a field between quotes ends at the next
// unescaped quote, so `"%r"` and `"%{User-agent}i"` may contain spaces; a time written with a
// strftime format (`%{%Y-%m-%d %H:%M:%S}t`) is read by that format and so may contain spaces too.
// nginx `log_format` strings are translated into the same directives (nginx_to_logformat), so
// one engine (and one anonymize rewriter) serves both.
#include "parsers.h"

#include "logpipe/error.h"
#include "logpipe/timeutil.h"

#include <charconv>
#include <string>
#include <vector>

namespace logpipe::detail {

bool scan_directive(std::string_view f, size_t& i, std::string_view& arg) noexcept {
  // Modifiers: < > and status lists such as !200,304
  while (i < f.size() && (f[i] == '<' || f[i] == '>' || f[i] == '!' || f[i] == ',' || (f[i] >= '0' && f[i] <= '9')))
    ++i;
  arg = {};
  if (i < f.size() && f[i] == '{') {
    size_t close = f.find('}', i);
    if (close == std::string_view::npos) return false;
    arg = f.substr(i + 1, close - i - 1);
    i = close + 1;
  }
  return true;
}

namespace {

enum class Field : uint8_t {
  kSkip,  // recognised but not a record field
  kHost, kIdent, kUser, kTime, kRequest, kStatus, kReferer, kAgent, kCookie, kVhost, kMethod,
  kUrlPath, kQuery, kProtocol, kForwardedFor,
  // Numbers: every directive that holds one is checked as a number; which one fills the record's
  // bytes and duration is decided once the whole format is known (see compile).
  kBytesBody,         // %b %B: the response body
  kBytesSent,         // %O: everything sent, headers included (Debian's `combined`)
  kBytesTransferred,  // %S: received and sent
  kBytesReceived,     // %I: the request (no record field; checked only)
  kDurationUs, kDurationMs, kDurationS,
  // Times other than `%t`: seconds/milliseconds/microseconds since the epoch, an epoch with a
  // fraction (nginx's $msec), a fraction to add (`%{msec_frac}t`), a strftime format.
  kTimeEpochS, kTimeEpochMs, kTimeEpochUs, kTimeEpoch, kTimeFracMs, kTimeFracUs, kTimeStrftime,
};

struct Item {
  bool literal;
  Field field;
  std::string text;  // literal text, or a strftime format
};

std::string lower(std::string_view s) {
  std::string out;
  for (char c : s) out += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  return out;
}

// `%{...}t`: Apache's named forms, a `begin:`/`end:` prefix (the request's start or end; we take
// either), or a strftime format.
Field time_field(std::string_view arg, std::string& format) {
  if (arg.starts_with("begin:")) arg.remove_prefix(6);
  else if (arg.starts_with("end:")) arg.remove_prefix(4);
  if (arg.empty()) return Field::kTime;
  if (arg == "sec") return Field::kTimeEpochS;
  if (arg == "msec") return Field::kTimeEpochMs;
  if (arg == "usec") return Field::kTimeEpochUs;
  if (arg == "msec_frac") return Field::kTimeFracMs;
  if (arg == "usec_frac") return Field::kTimeFracUs;
  if (arg == "epoch") return Field::kTimeEpoch;  // logpipe: seconds with a fraction (nginx $msec)
  for (size_t i = 0; i < arg.size(); ++i) {
    if (arg[i] != '%') continue;
    if (++i >= arg.size()) usage_error("--format logformat: '%' at the end of the time format '{}'", arg);
    if (std::string_view("YmdeHMSzbTF%").find(arg[i]) == std::string_view::npos)
      usage_error("--format logformat: the time format '{}' uses %{}, which logpipe cannot read back "
                  "(supported: %Y %m %d %e %H %M %S %z %b %T %F)", arg, arg[i]);
  }
  format.assign(arg);
  return Field::kTimeStrftime;
}

Field field_for(char directive, std::string_view arg, std::string& text) {
  switch (directive) {
    case 'h': case 'a': return Field::kHost;
    case 'l': return Field::kIdent;
    case 'u': return Field::kUser;
    case 't': return time_field(arg, text);
    case 'r': return Field::kRequest;
    case 's': return Field::kStatus;
    case 'b': case 'B': return Field::kBytesBody;
    case 'O': return Field::kBytesSent;
    case 'S': return Field::kBytesTransferred;
    case 'I': return Field::kBytesReceived;
    case 'D': return Field::kDurationUs;
    case 'T':
      if (arg == "ms") return Field::kDurationMs;
      if (arg == "us") return Field::kDurationUs;
      if (arg.empty() || arg == "s") return Field::kDurationS;
      usage_error("--format logformat: unknown unit '%{{{}}}T' (expected s, ms or us)", arg);
    case 'v': case 'V': return Field::kVhost;
    case 'm': return Field::kMethod;
    case 'U': return Field::kUrlPath;
    case 'q': return Field::kQuery;
    case 'H': return Field::kProtocol;
    case 'i': {
      std::string name = lower(arg);
      if (name == "referer" || name == "referrer") return Field::kReferer;
      if (name == "user-agent") return Field::kAgent;
      if (name == "cookie") return Field::kCookie;
      if (name == "x-forwarded-for") return Field::kForwardedFor;
      return Field::kSkip;
    }
    case 'A': case 'C': case 'e': case 'f': case 'k': case 'L': case 'n': case 'o': case 'p':
    case 'P': case 'R': case 'X': case 'x': case 'c': case 'M':
      return Field::kSkip;
    default:
      usage_error("--format logformat: unknown directive '%{}'", directive);
  }
}

bool digits(std::string_view s, size_t& pos, size_t min, size_t max, int& out) noexcept {
  size_t start = pos;
  int v = 0;
  while (pos < s.size() && pos - start < max && s[pos] >= '0' && s[pos] <= '9') v = v * 10 + (s[pos++] - '0');
  if (pos - start < min) return false;
  out = v;
  return true;
}

// Reads a time written with `format` (the strftime subset of time_field) at line[pos]; moves pos
// past it. Without %z the time is UTC.
bool read_strftime(std::string_view line, size_t& pos, std::string_view format, int64_t& out_us) noexcept {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0;
  int64_t offset_s = 0, frac_us = 0;
  for (size_t i = 0; i < format.size(); ++i) {
    char c = format[i];
    if (c != '%') {
      if (pos >= line.size() || line[pos] != c) return false;
      ++pos;
      continue;
    }
    char d = format[++i];
    bool ok = true;
    switch (d) {
      case 'Y': ok = digits(line, pos, 4, 4, year); break;
      case 'm': ok = digits(line, pos, 1, 2, month); break;
      case 'd': ok = digits(line, pos, 1, 2, day); break;
      case 'e':
        if (pos < line.size() && line[pos] == ' ') ++pos;
        ok = digits(line, pos, 1, 2, day);
        break;
      case 'H': ok = digits(line, pos, 1, 2, hour); break;
      case 'M': ok = digits(line, pos, 1, 2, minute); break;
      case 'S': ok = digits(line, pos, 1, 2, second); break;
      case 'T':
        ok = digits(line, pos, 1, 2, hour) && pos < line.size() && line[pos++] == ':' &&
             digits(line, pos, 1, 2, minute) && pos < line.size() && line[pos++] == ':' &&
             digits(line, pos, 1, 2, second);
        break;
      case 'F':
        ok = digits(line, pos, 4, 4, year) && pos < line.size() && line[pos++] == '-' &&
             digits(line, pos, 1, 2, month) && pos < line.size() && line[pos++] == '-' && digits(line, pos, 1, 2, day);
        break;
      case 'b': {
        ok = false;
        for (int m = 0; m < 12 && !ok; ++m)
          if (line.compare(pos, 3, kMonths[m]) == 0) {
            month = m + 1;
            pos += 3;
            ok = true;
          }
        break;
      }
      case 'z': {
        if (pos < line.size() && (line[pos] == 'Z' || line[pos] == 'z')) {
          ++pos;
          break;
        }
        if (pos >= line.size() || (line[pos] != '+' && line[pos] != '-')) return false;
        int sign = line[pos++] == '-' ? -1 : 1, hh = 0, mm = 0;
        ok = digits(line, pos, 2, 2, hh);
        if (ok && pos < line.size() && line[pos] == ':') ++pos;
        ok = ok && digits(line, pos, 2, 2, mm);
        offset_s = sign * (hh * 3600 + mm * 60);
        break;
      }
      case '%':
        ok = pos < line.size() && line[pos++] == '%';
        break;
      default: return false;
    }
    if (!ok) return false;
    // A fraction right after the seconds (`12:00:00.123`), which strftime cannot write but many
    // loggers append.
    if ((d == 'S' || d == 'T') && pos < line.size() && line[pos] == '.' &&
        (i + 1 >= format.size() || format[i + 1] != '.')) {
      size_t p = pos + 1;
      int64_t scale = 100000;
      while (p < line.size() && line[p] >= '0' && line[p] <= '9') {
        if (scale > 0) frac_us += (line[p] - '0') * scale;
        scale /= 10;
        ++p;
      }
      if (p > pos + 1) pos = p;
    }
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return false;
  out_us = (days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 + hour * 3600 +
            minute * 60 + second - offset_s) * 1'000'000 + frac_us;
  return true;
}

bool self_delimiting(Field f) noexcept { return f == Field::kTimeStrftime; }

class LogFormatParser final : public Parser {
 public:
  LogFormatParser(std::string_view fmt, std::string name, std::string_view flag) : name_(std::move(name)) {
    compile(fmt, flag);
  }
  std::string_view name() const noexcept override { return name_; }

  ParseError parse(std::string_view line, Record& r) override {
    r.clear();
    line = trim_right(line);
    forwarded_for_ = {};
    frac_us_ = 0;
    size_t pos = 0;
    for (size_t i = 0; i < items_.size(); ++i) {
      const Item& item = items_[i];
      if (item.literal) {
        if (line.compare(pos, item.text.size(), item.text) != 0) return ParseError::kMissingField;
        pos += item.text.size();
        continue;
      }
      if (self_delimiting(item.field)) {
        if (line.compare(pos, 1, "-") == 0 && (pos + 1 == line.size() || i + 1 == items_.size() ||
                                               line.compare(pos + 1, items_[i + 1].text.size(), items_[i + 1].text) == 0)) {
          ++pos;  // `-`: no time
          continue;
        }
        if (!read_strftime(line, pos, item.text, r.time_us)) return ParseError::kBadTime;
        continue;
      }
      bool in_quotes = pos > 0 && line[pos - 1] == '"' && i + 1 < items_.size() &&
                       items_[i + 1].literal && items_[i + 1].text.front() == '"';
      size_t end;
      if (in_quotes) {
        end = find_closing_quote(line, pos);
        if (end == std::string_view::npos) return ParseError::kUnterminatedQuote;
      } else if (item.field == Field::kTime && pos < line.size() && line[pos] == '[') {
        end = line.find(']', pos);
        if (end == std::string_view::npos) return ParseError::kBadTime;
        ++end;
      } else if (i + 1 < items_.size()) {
        end = line.find(items_[i + 1].text.front(), pos);
        if (end == std::string_view::npos) return ParseError::kMissingField;
      } else {
        end = line.size();
      }
      std::string_view v = line.substr(pos, end - pos);
      pos = end;
      if (ParseError e = store(item.field, v, r); e != ParseError::kNone) return e;
    }
    if (pos != line.size()) return ParseError::kTrailingData;
    if (r.ip.empty() && !forwarded_for_.empty()) r.ip = pick_client(forwarded_for_);
    if (frac_us_ && r.time_us != kNoTime) r.time_us += frac_us_;
    return ParseError::kNone;
  }

 private:
  ParseError store(Field f, std::string_view v, Record& r) noexcept {
    switch (f) {
      case Field::kSkip: break;
      case Field::kHost: r.ip = dash_to_empty(pick_client(v)); break;
      case Field::kIdent: r.ident = dash_to_empty(v); break;
      case Field::kUser: r.user = dash_to_empty(v); break;
      case Field::kTime: {
        if (v.size() >= 2 && v.front() == '[' && v.back() == ']') v = v.substr(1, v.size() - 2);
        if (v != "-" && !parse_apache_time(v, r.time_us) && !parse_iso_time(v, r.time_us))
          return ParseError::kBadTime;
        break;
      }
      case Field::kTimeEpochS:
      case Field::kTimeEpochMs:
      case Field::kTimeEpochUs: {
        if (v == "-") break;
        int64_t n;
        if (!parse_integer(v, n) || n < 0 || n > 253402300799'000'000) return ParseError::kBadTime;
        int64_t scale = f == Field::kTimeEpochS ? 1'000'000 : f == Field::kTimeEpochMs ? 1000 : 1;
        if (n > 253402300799'000'000 / scale) return ParseError::kBadTime;
        r.time_us = n * scale;
        break;
      }
      case Field::kTimeEpoch:
        if (v != "-" && !parse_epoch_seconds(v, r.time_us)) return ParseError::kBadTime;
        break;
      case Field::kTimeFracMs:
      case Field::kTimeFracUs: {
        int64_t n;
        if (v == "-") break;
        if (!parse_integer(v, n) || n < 0 || n >= (f == Field::kTimeFracMs ? 1000 : 1'000'000)) return ParseError::kBadTime;
        frac_us_ = f == Field::kTimeFracMs ? n * 1000 : n;
        break;
      }
      case Field::kTimeStrftime: break;  // read in parse()
      case Field::kRequest: split_request(v, r); break;
      case Field::kStatus:
        if (!parse_status(v, r.status)) return ParseError::kBadStatus;
        break;
      case Field::kBytesBody:
      case Field::kBytesSent:
      case Field::kBytesTransferred:
      case Field::kBytesReceived: {
        int64_t b;
        if (!parse_bytes(v, b)) return ParseError::kBadBytes;
        if (f == bytes_field_) r.bytes = b;
        break;
      }
      case Field::kReferer: r.referer = dash_to_empty(v); break;
      case Field::kAgent: r.agent = dash_to_empty(v); break;
      case Field::kCookie: parse_cookie(v, r); break;
      case Field::kForwardedFor: forwarded_for_ = dash_to_empty(v); break;
      case Field::kDurationUs:
      case Field::kDurationMs:
      case Field::kDurationS: {
        if (v == "-") break;
        int64_t us;
        if (!parse_duration_value(v, f == Field::kDurationUs ? 1 : f == Field::kDurationMs ? 1e3 : 1e6, us))
          return ParseError::kBadField;
        if (f == duration_field_) r.duration_us = us;
        break;
      }
      case Field::kVhost: r.host = dash_to_empty(v); break;
      case Field::kMethod: r.method = dash_to_empty(v); break;
      case Field::kUrlPath: r.url = v; break;
      case Field::kQuery: break;  // only meaningful right after %U (see compile)
      case Field::kProtocol: r.protocol = dash_to_empty(v); break;
    }
    return ParseError::kNone;
  }

  void compile(std::string_view f, std::string_view flag) {
    std::string literal;
    auto flush = [&] {
      if (!literal.empty()) items_.push_back(Item{true, Field::kSkip, std::move(literal)});
      literal.clear();
    };
    for (size_t i = 0; i < f.size(); ++i) {
      char c = f[i];
      if (c == '\\' && i + 1 < f.size()) {  // \" and \t as written in Apache config files
        char e = f[++i];
        literal += e == 't' ? '\t' : e == 'n' ? '\n' : e;
        continue;
      }
      if (c != '%') {
        literal += c;
        continue;
      }
      if (++i >= f.size()) usage_error("--format {}: '%' at the end of the format", flag);
      if (f[i] == '%') {
        literal += '%';
        continue;
      }
      std::string_view arg;
      if (!scan_directive(f, i, arg)) usage_error("--format {}: unclosed '%{{'", flag);
      if (i >= f.size()) usage_error("--format {}: directive missing after '%'", flag);
      std::string text;
      Field field = field_for(f[i], arg, text);
      if (literal.empty() && !items_.empty() && !items_.back().literal) {
        // %U%q: the path field runs to the next literal and so already holds the query.
        if (field == Field::kQuery && items_.back().field == Field::kUrlPath) continue;
        // A strftime time knows where it ends, so a field may follow it directly.
        if (!self_delimiting(items_.back().field))
          usage_error("--format {}: two fields without a separator cannot be split", flag);
      }
      flush();
      items_.push_back(Item{false, field, std::move(text)});
    }
    flush();
    if (items_.empty()) usage_error("--format {}: empty format", flag);
    // The record's bytes: the body size when logged, else what was sent (%O, headers included),
    // else the whole transfer (%S). Its duration: the most precise directive.
    for (Field want : {Field::kBytesBody, Field::kBytesSent, Field::kBytesTransferred})
      if (bytes_field_ == Field::kSkip && has(want)) bytes_field_ = want;
    for (Field want : {Field::kDurationUs, Field::kDurationMs, Field::kDurationS})
      if (duration_field_ == Field::kSkip && has(want)) duration_field_ = want;
  }

  bool has(Field f) const noexcept {
    for (const Item& i : items_)
      if (!i.literal && i.field == f) return true;
    return false;
  }

  std::string name_;
  std::vector<Item> items_;
  Field bytes_field_ = Field::kSkip;
  Field duration_field_ = Field::kSkip;
  std::string_view forwarded_for_;
  int64_t frac_us_ = 0;
};

std::string_view strip_quotes(std::string_view s) noexcept {
  if (s.size() >= 2 && (s.front() == '\'' || s.front() == '"') && s.back() == s.front()) return s.substr(1, s.size() - 2);
  return s;
}

struct Nickname {
  std::string_view name, format;
};
// Apache's stock nicknames as Debian's apache2.conf defines them (%O: bytes sent).
constexpr Nickname kApacheNicknames[] = {
    {"common", "%h %l %u %t \"%r\" %>s %O"},
    {"combined", "%h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\""},
    {"vhost_combined", "%v:%p %h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\""},
    {"referer", "%{Referer}i -> %U"},
    {"agent", "%{User-agent}i"},
};
// nginx's built-in `combined`, the `main` of its packages' nginx.conf, and ingress-nginx's
// `upstreaminfo` (the formats of Vector's parse_nginx_log).
constexpr Nickname kNginxNicknames[] = {
    {"combined",
     "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" "
     "\"$http_user_agent\""},
    {"main",
     "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" "
     "\"$http_user_agent\" \"$http_x_forwarded_for\""},
    {"upstreaminfo",
     "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" "
     "\"$http_user_agent\" $request_length $request_time [$proxy_upstream_name] "
     "[$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length $upstream_response_time "
     "$upstream_status $req_id"},
};

bool is_ident(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// The Apache directive for an nginx variable.
std::string directive_for(std::string_view var) {
  struct Map {
    std::string_view var, directive;
  };
  static constexpr Map kMap[] = {
      {"remote_addr", "%a"},
      {"realip_remote_addr", "%a"},
      {"remote_user", "%u"},
      {"time_local", "%{%d/%b/%Y:%H:%M:%S %z}t"},
      {"time_iso8601", "%{%Y-%m-%dT%H:%M:%S%z}t"},
      {"msec", "%{epoch}t"},
      {"request", "%r"},
      {"status", "%>s"},
      {"body_bytes_sent", "%B"},
      {"bytes_sent", "%O"},
      {"request_length", "%I"},
      {"request_time", "%T"},
      {"request_method", "%m"},
      {"request_uri", "%U"},
      {"uri", "%U"},
      {"document_uri", "%U"},
      {"args", "%q"},
      {"query_string", "%q"},
      {"server_protocol", "%H"},
      {"host", "%v"},
      {"server_name", "%v"},
      {"http_host", "%v"},
  };
  for (const Map& m : kMap)
    if (m.var == var) return std::string(m.directive);
  if (var.starts_with("http_") && var.size() > 5) {  // a request header: $http_x_forwarded_for
    std::string header(var.substr(5));
    for (char& c : header)
      if (c == '_') c = '-';
    return "%{" + header + "}i";
  }
  return "%{nginx:" + std::string(var) + "}x";  // any other variable: matched and ignored
}

// `log_format NAME [escape=...] '...' '...';` -> the concatenated strings.
std::string from_statement(std::string_view s) {
  s.remove_prefix(10);  // log_format
  size_t i = 0;
  auto skip_space = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  };
  skip_space();
  while (i < s.size() && s[i] != ' ' && s[i] != '\t' && s[i] != '\'' && s[i] != '"') ++i;  // the name
  std::string out;
  for (;;) {
    skip_space();
    if (i >= s.size() || s[i] == ';') break;
    if (s.substr(i).starts_with("escape=")) {
      while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
      continue;
    }
    char q = s[i];
    if (q != '\'' && q != '"') usage_error("--format nginxformat: expected a quoted string in the log_format statement");
    size_t close = s.find(q, i + 1);
    if (close == std::string_view::npos) usage_error("--format nginxformat: unclosed {} in the log_format statement", q);
    out.append(s.substr(i + 1, close - i - 1));
    i = close + 1;
  }
  return out;
}

}  // namespace

std::string logformat_string(std::string_view logformat) {
  logformat = strip_quotes(logformat);
  for (const Nickname& n : kApacheNicknames)
    if (n.name == logformat) return std::string(n.format);
  return std::string(logformat);
}

std::unique_ptr<Parser> make_logformat_parser(std::string_view logformat) {
  std::string_view as_given = strip_quotes(logformat);
  std::string f = logformat_string(as_given);
  return std::make_unique<LogFormatParser>(f, "logformat:" + std::string(as_given), "logformat");
}

bool looks_like_nginx_format(std::string_view format) noexcept {
  if (format.starts_with("log_format")) return true;
  for (size_t i = 0; i + 1 < format.size(); ++i)
    if (format[i] == '$' && (is_ident(format[i + 1]) || format[i + 1] == '{')) return true;
  return false;
}

std::string nginx_to_logformat(std::string_view nginx) {
  nginx = strip_quotes(nginx);
  std::string statement;
  if (nginx.starts_with("log_format")) {
    statement = from_statement(nginx);
    nginx = statement;
  }
  for (const Nickname& n : kNginxNicknames)
    if (n.name == nginx) nginx = n.format;
  if (nginx.empty()) usage_error("--format nginxformat: empty format");
  std::string out;
  for (size_t i = 0; i < nginx.size(); ++i) {
    char c = nginx[i];
    if (c == '$' && i + 1 < nginx.size() && (is_ident(nginx[i + 1]) || nginx[i + 1] == '{')) {
      size_t start = i + 1, end;
      if (nginx[start] == '{') {
        end = nginx.find('}', start);
        if (end == std::string_view::npos) usage_error("--format nginxformat: unclosed '${{'");
        out += directive_for(nginx.substr(start + 1, end - start - 1));
        i = end;
      } else {
        end = start;
        while (end < nginx.size() && is_ident(nginx[end])) ++end;
        out += directive_for(nginx.substr(start, end - start));
        i = end - 1;
      }
      continue;
    }
    if (c == '%') out += "%%";
    else if (c == '\\') out += "\\\\";
    else out += c;
  }
  return out;
}

std::unique_ptr<Parser> make_nginx_parser(std::string_view spec) {
  std::string_view as_given = strip_quotes(spec);
  std::string f = nginx_to_logformat(as_given);
  return std::make_unique<LogFormatParser>(f, "nginxformat:" + std::string(as_given), "nginxformat");
}

}  // namespace logpipe::detail

// Apache mod_log_config LogFormat strings compiled once into a parser: a list of literals and
// fields. A field ends where the next literal starts; a field between quotes ends at the next
// unescaped quote, so `"%r"` and `"%{User-agent}i"` may contain spaces.
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
  kHost, kIdent, kUser, kTime, kRequest, kStatus, kBytes, kReferer, kAgent, kCookie,
  kDurationUs, kDurationS, kDurationMs, kVhost, kMethod, kUrlPath, kQuery, kProtocol,
};

struct Item {
  bool literal;
  Field field;
  std::string text;  // literal text
};

Field field_for(char directive, std::string_view arg) {
  switch (directive) {
    case 'h': case 'a': return Field::kHost;
    case 'l': return Field::kIdent;
    case 'u': return Field::kUser;
    case 't': return arg.empty() ? Field::kTime : Field::kSkip;
    case 'r': return Field::kRequest;
    case 's': return Field::kStatus;
    case 'b': case 'B': return Field::kBytes;
    case 'D': return Field::kDurationUs;
    case 'T':
      if (arg == "ms") return Field::kDurationMs;
      if (arg == "us") return Field::kDurationUs;
      return Field::kDurationS;
    case 'v': case 'V': return Field::kVhost;
    case 'm': return Field::kMethod;
    case 'U': return Field::kUrlPath;
    case 'q': return Field::kQuery;
    case 'H': return Field::kProtocol;
    case 'i': {
      std::string lower;
      for (char c : arg) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
      if (lower == "referer" || lower == "referrer") return Field::kReferer;
      if (lower == "user-agent") return Field::kAgent;
      if (lower == "cookie") return Field::kCookie;
      return Field::kSkip;
    }
    case 'A': case 'C': case 'e': case 'f': case 'I': case 'k': case 'L': case 'n': case 'o':
    case 'O': case 'p': case 'P': case 'R': case 'S': case 'X': case 'x': case 'c':
      return Field::kSkip;
    default:
      usage_error("--format logformat: unknown directive '%{}'", directive);
  }
}

class LogFormatParser final : public Parser {
 public:
  explicit LogFormatParser(std::string_view fmt) : name_("logformat:" + std::string(fmt)) {
    compile(fmt);
  }
  std::string_view name() const noexcept override { return name_; }

  ParseError parse(std::string_view line, Record& r) override {
    r.clear();
    line = trim_right(line);
    size_t pos = 0;
    for (size_t i = 0; i < items_.size(); ++i) {
      const Item& item = items_[i];
      if (item.literal) {
        if (line.compare(pos, item.text.size(), item.text) != 0) return ParseError::kMissingField;
        pos += item.text.size();
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
      if (ParseError e = store(item.field, v, r); e != ParseError::kNone)
        return e;
    }
    if (pos != line.size()) return ParseError::kTrailingData;
    return ParseError::kNone;
  }

 private:
  static ParseError store(Field f, std::string_view v, Record& r) noexcept {
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
      case Field::kRequest: split_request(v, r); break;
      case Field::kStatus:
        if (!parse_status(v, r.status)) return ParseError::kBadStatus;
        break;
      case Field::kBytes:
        if (!parse_bytes(v, r.bytes)) return ParseError::kBadBytes;
        break;
      case Field::kReferer: r.referer = dash_to_empty(v); break;
      case Field::kAgent: r.agent = dash_to_empty(v); break;
      case Field::kCookie: parse_cookie(v, r); break;
      case Field::kDurationUs:
      case Field::kDurationMs:
      case Field::kDurationS: {
        if (v == "-") break;
        double d = 0;
        auto res = std::from_chars(v.data(), v.data() + v.size(), d);
        if (res.ec != std::errc() || res.ptr != v.data() + v.size()) return ParseError::kBadField;
        double scale = f == Field::kDurationUs ? 1 : f == Field::kDurationMs ? 1e3 : 1e6;
        double us = d * scale;
        if (!duration_in_range(us)) return ParseError::kBadField;  // "nan", "1e300": no UB cast
        r.duration_us = static_cast<int64_t>(us);
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

  void compile(std::string_view f) {
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
      if (++i >= f.size()) usage_error("--format logformat: '%' at the end of the format");
      if (f[i] == '%') {
        literal += '%';
        continue;
      }
      std::string_view arg;
      if (!scan_directive(f, i, arg)) usage_error("--format logformat: unclosed '%{{'");
      if (i >= f.size()) usage_error("--format logformat: directive missing after '%'");
      Field field = field_for(f[i], arg);
      if (literal.empty() && !items_.empty() && !items_.back().literal) {
        // %U%q: the path field runs to the next literal and so already holds the query.
        if (field == Field::kQuery && items_.back().field == Field::kUrlPath) continue;
        usage_error("--format logformat: two directives without a separator cannot be split");
      }
      flush();
      items_.push_back(Item{false, field, {}});
    }
    flush();
    if (items_.empty()) usage_error("--format logformat: empty format");
    // %U immediately followed by %q is allowed (the query starts with '?').
  }

  std::string name_;
  std::vector<Item> items_;
};

}  // namespace

std::unique_ptr<Parser> make_logformat_parser(std::string_view logformat) {
  if (logformat.size() >= 2 && (logformat.front() == '\'' || logformat.front() == '"') &&
      logformat.back() == logformat.front())
    logformat = logformat.substr(1, logformat.size() - 2);
  return std::make_unique<LogFormatParser>(logformat);
}

}  // namespace logpipe::detail

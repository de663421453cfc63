// The --where language (include/logpipe/filter.h): a hand-written tokenizer and recursive-descent
// parser compile the expression once into a vector of nodes; matching walks them with no
// allocation. Precedence: not, then and, then or; parentheses group.
#include "logpipe/filter.h"

#include "logpipe/error.h"
#include "logpipe/netaddr.h"
#include "logpipe/report.h"
#include "logpipe/text.h"
#include "logpipe/timeutil.h"

#include <array>
#include <bitset>
#include <charconv>
#include <cstring>
#include <utility>

namespace logpipe {
namespace {

enum class Field : uint8_t {
  kIp, kIdent, kUser, kMethod, kUrl, kPath, kProtocol, kReferer, kAgent, kSession, kHost,
  kEventType, kCourse, kLevel, kStatus, kBytes, kDuration, kTime,
};
enum class Kind : uint8_t { kAnd, kOr, kNot, kCompare, kBot, kError };
enum class Op : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe, kPrefix, kSuffix, kContains, kIn };

struct FieldName {
  std::string_view name;
  Field field;
};
constexpr FieldName kFields[] = {
    {"ip", Field::kIp},           {"ident", Field::kIdent},       {"user", Field::kUser},
    {"method", Field::kMethod},   {"url", Field::kUrl},           {"path", Field::kPath},
    {"protocol", Field::kProtocol}, {"referer", Field::kReferer}, {"agent", Field::kAgent},
    {"session", Field::kSession}, {"host", Field::kHost},         {"event_type", Field::kEventType},
    {"course", Field::kCourse},   {"course_id", Field::kCourse},  {"level", Field::kLevel},
    {"status", Field::kStatus},   {"bytes", Field::kBytes},       {"duration_ms", Field::kDuration},
    {"time", Field::kTime},
};

bool numeric(Field f) { return f == Field::kStatus || f == Field::kBytes || f == Field::kDuration; }

// An address as 16 bytes (IPv4 mapped into IPv6) and a network of them.
using Address = std::array<unsigned char, 16>;
struct Network {
  Address base{};
  int bits = 0;
  bool contains(const Address& a) const noexcept {
    int full = bits / 8;
    if (std::memcmp(a.data(), base.data(), static_cast<size_t>(full)) != 0) return false;
    if (bits % 8 == 0) return true;
    const unsigned mask = 0xffu << (8 - bits % 8);
    return (a[static_cast<size_t>(full)] & mask) == (base[static_cast<size_t>(full)] & mask);
  }
};

}  // namespace

struct RecordFilter::Node {
  Kind kind = Kind::kCompare;
  Field field = Field::kIp;
  Op op = Op::kEq;
  uint32_t a = 0, b = 0;   // children (and, or: a and b; not: a)
  double number = 0;       // status, bytes, duration_ms
  int64_t time = 0;        // time, microseconds
  std::string text;        // a text value
  std::vector<std::string> texts;  // `in` on a text field
  std::vector<Network> networks;   // ip `in`, or ip == CIDR
  std::bitset<1000> statuses;      // status ==, != and `in`
  bool status_set = false;
};

namespace {

std::string_view text_of(const Record& r, Field f) noexcept {
  switch (f) {
    case Field::kIp: return r.ip;
    case Field::kIdent: return r.ident;
    case Field::kUser: return r.user;
    case Field::kMethod: return r.method;
    case Field::kUrl: return r.url;
    case Field::kPath: return r.path();
    case Field::kProtocol: return r.protocol;
    case Field::kReferer: return r.referer;
    case Field::kAgent: return r.agent;
    case Field::kSession: return r.session;
    case Field::kHost: return r.host;
    case Field::kEventType: return r.event_type;
    case Field::kCourse: return r.course_id;
    case Field::kLevel: return r.level;
    default: return {};
  }
}

template <typename T>
bool compare(Op op, T v, T w) noexcept {
  switch (op) {
    case Op::kEq: return v == w;
    case Op::kNe: return v != w;
    case Op::kLt: return v < w;
    case Op::kLe: return v <= w;
    case Op::kGt: return v > w;
    case Op::kGe: return v >= w;
    default: return false;
  }
}

char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// `needle` is lower-case.
bool contains_lower(std::string_view hay, std::string_view needle) noexcept {
  if (needle.size() > hay.size()) return false;
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    size_t j = 0;
    while (j < needle.size() && lower(hay[i + j]) == needle[j]) ++j;
    if (j == needle.size()) return true;
  }
  return false;
}

// ---- the parser ----

enum class Tok : uint8_t { kEnd, kWord, kString, kOp, kOpen, kClose, kComma };

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;  // a word or a string's decoded value, or an operator
  size_t column = 0;  // 1-based
};

class ExprParser {
 public:
  ExprParser(std::string_view src, std::vector<RecordFilter::Node>& nodes) : src_(src), nodes_(nodes) { next(); }

  uint32_t parse() {
    if (tok_.kind == Tok::kEnd) fail(tok_, "the expression is empty");
    uint32_t n = parse_or();
    if (tok_.kind != Tok::kEnd) fail(tok_, "expected 'and', 'or' or the end, got " + describe(tok_));
    return n;
  }

 private:
  [[noreturn]] void fail(const Token& at, const std::string& what) {
    usage_error("--where: column {}: {}", at.column, what);
  }
  static std::string describe(const Token& t) {
    switch (t.kind) {
      case Tok::kEnd: return "the end";
      case Tok::kOpen: return "'('";
      case Tok::kClose: return "')'";
      case Tok::kComma: return "','";
      case Tok::kString: return "\"" + t.text + "\"";
      default: return "'" + t.text + "'";
    }
  }

  void next() {
    while (pos_ < src_.size() && (src_[pos_] == ' ' || src_[pos_] == '\t' || src_[pos_] == '\n')) ++pos_;
    tok_ = Token{};
    tok_.column = pos_ + 1;
    if (pos_ == src_.size()) return;
    const char c = src_[pos_];
    if (c == '(' || c == ')' || c == ',') {
      tok_.kind = c == '(' ? Tok::kOpen : c == ')' ? Tok::kClose : Tok::kComma;
      tok_.text = std::string(1, c);
      ++pos_;
      return;
    }
    if (c == '"' || c == '\'') {
      tok_.kind = Tok::kString;
      ++pos_;
      for (;;) {
        if (pos_ == src_.size()) fail(tok_, "a string is not closed");
        char d = src_[pos_++];
        if (d == c) break;
        if (d == '\\' && pos_ < src_.size()) d = src_[pos_++];
        tok_.text += d;
      }
      return;
    }
    static constexpr std::string_view two[] = {"==", "!=", "<=", ">=", "^=", "$=", "~="};
    for (auto op : two)
      if (src_.substr(pos_, 2) == op) {
        tok_.kind = Tok::kOp;
        tok_.text = std::string(op);
        pos_ += 2;
        return;
      }
    if (c == '<' || c == '>' || c == '=') {
      tok_.kind = Tok::kOp;
      tok_.text = c == '=' ? "==" : std::string(1, c);
      ++pos_;
      return;
    }
    if (std::strchr("!^$~", c)) fail(tok_, std::string("unknown operator '") + c + "' (the operators: == != < <= > >= ^= $= ~= in)");
    tok_.kind = Tok::kWord;
    while (pos_ < src_.size() && !std::strchr(" \t\n()\",'=!<>^$~", src_[pos_])) tok_.text += src_[pos_++];
  }

  bool keyword(std::string_view k) const { return tok_.kind == Tok::kWord && tok_.text == k; }

  uint32_t add(RecordFilter::Node n) {
    nodes_.push_back(std::move(n));
    return static_cast<uint32_t>(nodes_.size() - 1);
  }

  uint32_t parse_or() {
    uint32_t left = parse_and();
    while (keyword("or")) {
      next();
      RecordFilter::Node n;
      n.kind = Kind::kOr;
      n.a = left;
      n.b = parse_and();
      left = add(std::move(n));
    }
    return left;
  }

  uint32_t parse_and() {
    uint32_t left = parse_not();
    while (keyword("and")) {
      next();
      RecordFilter::Node n;
      n.kind = Kind::kAnd;
      n.a = left;
      n.b = parse_not();
      left = add(std::move(n));
    }
    return left;
  }

  // Parentheses and `not` nest by recursion: a bound keeps a hostile expression from using up the
  // stack (matching recurses as deep).
  void deeper(const Token& at) {
    if (++depth_ > kMaxDepth) fail(at, "nested deeper than " + std::to_string(kMaxDepth) + " levels");
  }
  static constexpr int kMaxDepth = 64;

  uint32_t parse_not() {
    if (keyword("not")) {
      deeper(tok_);
      next();
      RecordFilter::Node n;
      n.kind = Kind::kNot;
      n.a = parse_not();
      --depth_;
      return add(std::move(n));
    }
    return parse_primary();
  }

  uint32_t parse_primary() {
    if (tok_.kind == Tok::kOpen) {
      Token open = tok_;
      deeper(open);
      next();
      if (tok_.kind == Tok::kClose) fail(tok_, "empty parentheses");
      uint32_t n = parse_or();
      if (tok_.kind != Tok::kClose) fail(open, "this '(' is not closed");
      next();
      --depth_;
      return n;
    }
    if (tok_.kind != Tok::kWord || keyword("and") || keyword("or"))
      fail(tok_, "expected a field, 'bot', 'error', 'not' or '(', got " + describe(tok_));
    Token name = tok_;
    next();
    if (name.text == "bot" || name.text == "error") {
      RecordFilter::Node n;
      n.kind = name.text == "bot" ? Kind::kBot : Kind::kError;
      return add(std::move(n));
    }
    const FieldName* field = nullptr;
    for (const auto& f : kFields)
      if (f.name == name.text) field = &f;
    if (!field)
      fail(name, "unknown field '" + name.text +
                     "' (fields: ip ident user method url path protocol referer agent session host event_type course "
                     "level status bytes duration_ms time; conditions: bot error)");
    RecordFilter::Node n;
    n.field = field->field;
    Token op = tok_;
    if (keyword("in")) {
      n.op = Op::kIn;
    } else if (tok_.kind == Tok::kOp) {
      n.op = op.text == "==" ? Op::kEq
             : op.text == "!=" ? Op::kNe
             : op.text == "<"  ? Op::kLt
             : op.text == "<=" ? Op::kLe
             : op.text == ">"  ? Op::kGt
             : op.text == ">=" ? Op::kGe
             : op.text == "^=" ? Op::kPrefix
             : op.text == "$=" ? Op::kSuffix
                               : Op::kContains;
    } else {
      fail(tok_, "expected an operator after '" + name.text + "' (== != < <= > >= ^= $= ~= in), got " + describe(tok_));
    }
    next();
    std::vector<Token> values;
    for (;;) {
      if (tok_.kind != Tok::kWord && tok_.kind != Tok::kString)
        fail(tok_, "expected a value after '" + op.text + "', got " + describe(tok_));
      values.push_back(tok_);
      next();
      if (n.op != Op::kIn || tok_.kind != Tok::kComma) break;
      next();
    }
    const bool ordering = n.op == Op::kLt || n.op == Op::kLe || n.op == Op::kGt || n.op == Op::kGe;
    const bool text_op = n.op == Op::kPrefix || n.op == Op::kSuffix || n.op == Op::kContains;
    if (numeric(n.field) || n.field == Field::kTime) {
      if (text_op) fail(op, "'" + op.text + "' applies to text fields, not to " + name.text);
    } else if (ordering) {
      fail(op, "'" + op.text + "' applies to status, bytes, duration_ms and time, not to " + name.text);
    }
    if (n.field == Field::kStatus && !ordering) {
      // ==, != and `in`: status specs (500, 5xx, 502-504), as --error-statuses reads them.
      for (const Token& v : values)
        if (!ErrorRules::add_statuses(v.text, n.statuses))
          fail(v, "'" + v.text + "' is not a status (100-999), a class such as 5xx or a range such as 500-504");
      n.status_set = true;
    } else if (numeric(n.field)) {
      if (n.op == Op::kIn) fail(op, "'in' on " + name.text + " is not supported: use comparisons");
      const std::string& v = values[0].text;
      double x = 0;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
      if (ec != std::errc() || end != v.data() + v.size())
        fail(values[0], "'" + v + "' is not a number (" + name.text + ")");
      n.number = x;
    } else if (n.field == Field::kTime) {
      if (n.op == Op::kIn) fail(op, "'in' on time is not supported: use time >= A and time < B");
      if (!parse_time_arg(values[0].text, n.time) || values[0].text == "now")
        fail(values[0], "'" + values[0].text + "' is not an RFC 3339 time or a date (2025-06-23; no offset: UTC)");
    } else if (n.field == Field::kIp && (n.op == Op::kIn || ((n.op == Op::kEq || n.op == Op::kNe) &&
                                                             values[0].text.find('/') != std::string::npos))) {
      for (const Token& v : values) {
        Network net;
        const size_t slash = v.text.find('/');
        bool v4 = false;
        if (!parse_ip_address(std::string_view(v.text).substr(0, slash), net.base, &v4))
          fail(v, "'" + v.text + "' is not an address or a network (10.0.0.0/8, 2001:db8::/32)");
        const int max = v4 ? 32 : 128;
        net.bits = max;
        if (slash != std::string::npos) {
          std::string_view b = std::string_view(v.text).substr(slash + 1);
          auto [end, ec] = std::from_chars(b.data(), b.data() + b.size(), net.bits);
          if (b.empty() || ec != std::errc() || end != b.data() + b.size() || net.bits < 0 || net.bits > max)
            fail(v, "'" + v.text + "': the prefix length must be 0-" + std::to_string(max));
        }
        if (v4) net.bits += 96;
        n.networks.push_back(net);
      }
    } else if (n.op == Op::kIn) {
      for (const Token& v : values) n.texts.push_back(v.text);
    } else {
      n.text = values[0].text;
    }
    return add(std::move(n));
  }

  std::string_view src_;
  size_t pos_ = 0;
  int depth_ = 0;
  Token tok_;
  std::vector<RecordFilter::Node>& nodes_;
};

bool eval(const std::vector<RecordFilter::Node>& nodes, uint32_t i, const Record& r, const Classifier& classifier,
          const std::vector<std::string>& bots) noexcept {
  const RecordFilter::Node& n = nodes[i];
  switch (n.kind) {
    case Kind::kAnd: return eval(nodes, n.a, r, classifier, bots) && eval(nodes, n.b, r, classifier, bots);
    case Kind::kOr: return eval(nodes, n.a, r, classifier, bots) || eval(nodes, n.b, r, classifier, bots);
    case Kind::kNot: return !eval(nodes, n.a, r, classifier, bots);
    case Kind::kBot: return RecordFilter::is_bot(r.agent, bots);
    case Kind::kError: return classifier.outcome(r).error;
    case Kind::kCompare: break;
  }
  switch (n.field) {
    case Field::kStatus:
      if (r.status == 0) return false;
      if (n.status_set) {
        const bool in = r.status > 0 && r.status < 1000 && n.statuses.test(static_cast<size_t>(r.status));
        return n.op == Op::kNe ? !in : in;
      }
      return compare(n.op, static_cast<double>(r.status), n.number);
    case Field::kBytes:
      return r.bytes >= 0 && compare(n.op, static_cast<double>(r.bytes), n.number);
    case Field::kDuration:
      return r.duration_us >= 0 && compare(n.op, static_cast<double>(r.duration_us) / 1000.0, n.number);
    case Field::kTime:
      return r.time_us != kNoTime && compare(n.op, r.time_us, n.time);
    default: break;
  }
  const std::string_view v = text_of(r, n.field);
  if (!n.networks.empty()) {
    Address a;
    bool in = false;
    if (parse_ip_address(v, a))
      for (const Network& net : n.networks) in = in || net.contains(a);
    return n.op == Op::kNe ? !in : in;
  }
  switch (n.op) {
    case Op::kEq: return v == n.text;
    case Op::kNe: return v != n.text;
    case Op::kPrefix: return v.starts_with(n.text);
    case Op::kSuffix: return v.ends_with(n.text);
    case Op::kContains: return v.find(n.text) != std::string_view::npos;
    case Op::kIn:
      for (const std::string& t : n.texts)
        if (v == t) return true;
      return false;
    default: return false;
  }
}

}  // namespace

RecordFilter RecordFilter::compile(std::string_view expression, Classifier classifier, std::vector<std::string> bots) {
  RecordFilter f;
  f.expression_ = std::string(expression);
  f.classifier_ = std::move(classifier);
  for (auto& b : bots) {
    for (char& c : b) c = lower(c);
    f.bots_.push_back(std::move(b));
  }
  ExprParser parser(f.expression_, f.nodes_);
  f.root_ = parser.parse();
  return f;
}

RecordFilter::RecordFilter(RecordFilter&&) noexcept = default;
RecordFilter& RecordFilter::operator=(RecordFilter&&) noexcept = default;
RecordFilter::~RecordFilter() = default;

bool RecordFilter::matches(const Record& r) const noexcept { return eval(nodes_, root_, r, classifier_, bots_); }

bool RecordFilter::is_bot(std::string_view agent, const std::vector<std::string>& extra) noexcept {
  if (classify_agent(agent).first == BrowserFamily::kCrawler) return true;
  for (const std::string& p : extra)
    if (contains_lower(agent, p)) return true;
  return false;
}

std::vector<std::string> parse_bot_patterns(std::string_view text, const std::string& file) {
  std::vector<std::string> out;
  size_t line_no = 0;
  for_each_list_item(text, '\n', [&](std::string_view line) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') return;
    if (line.size() < 3)
      usage_error("--bots {}:{}: '{}' is shorter than 3 characters: it would match nearly every user agent", file,
                  line_no, line);
    std::string p(line);
    for (char& c : p) c = lower(c);
    out.push_back(std::move(p));
  });
  return out;
}

ParseError FilteringSink::on_record(const Record& record) {
  ++counts_.read;
  if (!filter_.matches(record)) {
    ++counts_.filtered;
    return ParseError::kNone;
  }
  ParseError e = sink_.on_record(record);
  if (e == ParseError::kNone) ++counts_.kept;
  return e;
}

std::unique_ptr<RecordSink> FilteringSink::split() {
  auto inner = sink_.split();
  if (!inner) return nullptr;
  return std::unique_ptr<RecordSink>(new FilteringSink(filter_, std::move(inner)));
}

void FilteringSink::join(RecordSink& later) {
  auto& l = static_cast<FilteringSink&>(later);
  sink_.join(l.sink_);
  counts_.read += l.counts_.read;
  counts_.kept += l.counts_.kept;
  counts_.filtered += l.counts_.filtered;
}

}  // namespace logpipe

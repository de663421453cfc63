// JSON access logs with a field mapping (nginx `escape=json` formats, Caddy, Traefik, ECS
// documents, or any mapping a user writes) and Docker's json-file wrapper, read with simdjson
// On-Demand. With edx.cc and anonymize.cc, one of the three files that include simdjson.
//
// A mapping is compiled once into a small tree of keys (`request` -> `headers` -> `User-Agent`);
// a line's object is walked once, each key looked up among the children of the node it sits in
// (a dotted key such as `http.request.method`, as flattened ECS documents write them, walks the
// tree too). A record field may be mapped from several paths; the first of its list that a line
// has wins.
#include "parsers.h"

#include "logpipe/error.h"
#include "logpipe/text.h"
#include "logpipe/timeutil.h"

#include <simdjson.h>

#include <array>
#include <charconv>
#include <cstring>
#include <span>
#include <string>

namespace logpipe::detail {
namespace {

namespace od = simdjson::ondemand;

enum class Slot : uint8_t {
  kTime, kIp, kIdent, kUser, kMethod, kUrl, kProtocol, kStatus, kBytes, kReferer, kAgent, kHost,
  kSession, kEventType, kCourseId, kLevel, kRequest, kDurationS, kDurationMs, kDurationUs,
  kDurationNs, kHttpVersion, kCount_,
};
constexpr size_t kSlots = static_cast<size_t>(Slot::kCount_);

struct SlotName {
  std::string_view name;
  Slot slot;
};
// The names of a `json:FIELD=PATH` mapping: the record fields of `fields:` plus the request
// line and durations by unit.
constexpr SlotName kSlotNames[] = {
    {"time", Slot::kTime},         {"timestamp", Slot::kTime},        {"ip", Slot::kIp},
    {"client", Slot::kIp},         {"ident", Slot::kIdent},           {"user", Slot::kUser},
    {"method", Slot::kMethod},     {"url", Slot::kUrl},               {"path", Slot::kUrl},
    {"protocol", Slot::kProtocol}, {"status", Slot::kStatus},         {"bytes", Slot::kBytes},
    {"size", Slot::kBytes},        {"referer", Slot::kReferer},       {"referrer", Slot::kReferer},
    {"agent", Slot::kAgent},       {"user_agent", Slot::kAgent},      {"host", Slot::kHost},
    {"session", Slot::kSession},   {"event_type", Slot::kEventType},  {"course_id", Slot::kCourseId},
    {"level", Slot::kLevel},       {"request", Slot::kRequest},       {"duration_s", Slot::kDurationS},
    {"duration_ms", Slot::kDurationMs}, {"duration_us", Slot::kDurationUs}, {"duration_ns", Slot::kDurationNs},
    {"http_version", Slot::kHttpVersion},
};

struct PresetPath {
  Slot slot;
  std::string_view path;
};

// nginx has no JSON format of its own: these are the variable names people use as keys
// (`log_format json escape=json '{"time":"$time_iso8601","remote_addr":"$remote_addr",...}'`).
constexpr PresetPath kNginx[] = {
    {Slot::kTime, "time_iso8601"},     {Slot::kTime, "time_local"},        {Slot::kTime, "msec"},
    {Slot::kTime, "time"},             {Slot::kTime, "timestamp"},         {Slot::kTime, "@timestamp"},
    {Slot::kIp, "remote_addr"},        {Slot::kIp, "realip_remote_addr"}, {Slot::kIp, "client_ip"},
    {Slot::kUser, "remote_user"},      {Slot::kRequest, "request"},        {Slot::kMethod, "request_method"},
    {Slot::kUrl, "request_uri"},       {Slot::kUrl, "uri"},                {Slot::kProtocol, "server_protocol"},
    {Slot::kStatus, "status"},         {Slot::kBytes, "body_bytes_sent"},  {Slot::kBytes, "bytes_sent"},
    {Slot::kReferer, "http_referer"},  {Slot::kReferer, "http_referrer"},  {Slot::kAgent, "http_user_agent"},
    {Slot::kHost, "host"},             {Slot::kHost, "server_name"},       {Slot::kHost, "http_host"},
    {Slot::kDurationS, "request_time"},
};
// Caddy's access log (`http.log.access`), as GoAccess's CADDY format reads it.
constexpr PresetPath kCaddy[] = {
    {Slot::kTime, "ts"},
    {Slot::kIp, "request.client_ip"},
    {Slot::kIp, "request.remote_ip"},
    {Slot::kUser, "user_id"},
    {Slot::kMethod, "request.method"},
    {Slot::kUrl, "request.uri"},
    {Slot::kProtocol, "request.proto"},
    {Slot::kHost, "request.host"},
    {Slot::kAgent, "request.headers.User-Agent"},
    {Slot::kReferer, "request.headers.Referer"},
    {Slot::kStatus, "status"},
    {Slot::kBytes, "size"},
    {Slot::kDurationS, "duration"},
};
// Traefik's access log with `format: json` (field names of its documentation).
constexpr PresetPath kTraefik[] = {
    {Slot::kTime, "StartUTC"},
    {Slot::kTime, "time"},
    {Slot::kTime, "StartLocal"},
    {Slot::kIp, "ClientHost"},
    {Slot::kUser, "ClientUsername"},
    {Slot::kMethod, "RequestMethod"},
    {Slot::kUrl, "RequestPath"},
    {Slot::kProtocol, "RequestProtocol"},
    {Slot::kHost, "RequestHost"},
    {Slot::kStatus, "DownstreamStatus"},
    {Slot::kStatus, "OriginStatus"},
    {Slot::kBytes, "DownstreamContentSize"},
    {Slot::kDurationNs, "Duration"},
    {Slot::kAgent, "request_User-Agent"},
    {Slot::kReferer, "request_Referer"},
};
// Elastic Common Schema documents (Filebeat's output, ecs-logging libraries), nested or dotted.
constexpr PresetPath kEcs[] = {
    {Slot::kTime, "@timestamp"},
    {Slot::kIp, "source.ip"},
    {Slot::kIp, "client.ip"},
    {Slot::kIp, "source.address"},
    {Slot::kIp, "client.address"},
    {Slot::kIp, "source.domain"},
    {Slot::kUser, "user.name"},
    {Slot::kMethod, "http.request.method"},
    {Slot::kUrl, "url.original"},
    {Slot::kUrl, "url.path"},
    {Slot::kHttpVersion, "http.version"},
    {Slot::kStatus, "http.response.status_code"},
    {Slot::kBytes, "http.response.body.bytes"},
    {Slot::kReferer, "http.request.referrer"},
    {Slot::kAgent, "user_agent.original"},
    {Slot::kHost, "url.domain"},
    {Slot::kDurationNs, "event.duration"},
    {Slot::kLevel, "log.level"},
};
constexpr PresetPath kAnyLevel[] = {{Slot::kLevel, "level"}, {Slot::kLevel, "severity"}};

struct Preset {
  std::string_view name;
  std::span<const PresetPath> paths;
};
constexpr Preset kPresets[] = {
    {"nginx", kNginx}, {"caddy", kCaddy}, {"traefik", kTraefik}, {"ecs", kEcs}};

// One key of the mapping tree. A leaf fills `slot` with `priority` (its rank in that slot's list:
// lower wins); an inner node has children.
struct Node {
  std::string key;
  Slot slot = Slot::kCount_;
  uint8_t priority = 0;
  std::vector<Node> children;

  const Node* child(std::string_view k) const noexcept {
    for (const Node& c : children)
      if (c.key == k) return &c;
    return nullptr;
  }
};

// Seconds, milliseconds, microseconds or nanoseconds since the epoch, told apart by magnitude
// (the present is 1.7e9 s, 1.7e12 ms, 1.7e15 us, 1.7e18 ns).
bool epoch_to_us(std::string_view v, int64_t& out_us) noexcept {
  int64_t i;
  if (parse_integer(v, i)) {
    int64_t a = i < 0 ? -i : i;
    out_us = a >= 100'000'000'000'000'000 ? i / 1000
             : a >= 100'000'000'000'000   ? i
             : a >= 100'000'000'000       ? i * 1000
                                          : i * 1'000'000;
    return true;
  }
  return parse_epoch_seconds(v, out_us);  // seconds with a fraction, read exactly
}

class JsonAccessParser final : public Parser {
 public:
  JsonAccessParser(std::string name, Node root) : name_(std::move(name)), root_(std::move(root)) {}
  std::string_view name() const noexcept override { return name_; }

  ParseError parse(std::string_view line, Record& r) override {
    r.clear();
    line = trim_right(line);
    size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] != '{') return ParseError::kNotJsonObject;
    if (line.back() != '}') return ParseError::kBadJson;  // cut short, or text after the object
    copy_for_simdjson(buffer_, line);
    od::document doc;
    if (parser_.iterate(buffer_.data(), line.size(), buffer_.size()).get(doc)) return ParseError::kBadJson;
    od::object obj;
    if (doc.get_object().get(obj)) return ParseError::kNotJsonObject;
    priority_.fill(0xff);
    error_priority_.fill(0xff);
    request_ = {};
    filled_ = 0;
    if (ParseError e = walk(obj, root_, r, 0); e != ParseError::kNone) return e;
    for (size_t s = 0; s < kSlots; ++s)
      if (error_priority_[s] < priority_[s]) return error_[s];  // the best path of a field was bad
    if (!request_.empty()) {  // `GET /x HTTP/1.1`: fills what no field of its own gave
      Record split;
      split_request(request_, split);
      if (r.method.empty()) r.method = split.method;
      if (r.url.empty()) r.url = split.url;
      if (r.protocol.empty()) r.protocol = split.protocol;
    }
    // An object with none of the mapped keys is not this format (an edX event read as nginx).
    return filled_ == 0 ? ParseError::kMissingField : ParseError::kNone;
  }

 private:
  ParseError walk(od::object& obj, const Node& node, Record& r, int depth) {
    for (auto field : obj) {
      std::string_view key;
      if (field.unescaped_key().get(key)) return ParseError::kBadJson;
      const Node* n = node.child(key);
      if (!n && key.find('.') != std::string_view::npos) n = dotted(node, key);
      if (!n) continue;  // skipped by the iterator
      od::value value;
      if (field.value().get(value)) return ParseError::kBadJson;
      if (!n->children.empty()) {
        od::object inner;
        if (depth < 8 && value.get_object().get(inner) == simdjson::SUCCESS)
          if (ParseError e = walk(inner, *n, r, depth + 1); e != ParseError::kNone) return e;
        continue;
      }
      if (ParseError e = store(*n, value, r); e != ParseError::kNone) return e;
    }
    return ParseError::kNone;
  }

  // `http.request.method` as one key: the node its segments lead to, if it is a leaf.
  static const Node* dotted(const Node& from, std::string_view key) noexcept {
    const Node* n = &from;
    while (n && !key.empty()) {
      size_t dot = key.find('.');
      n = n->child(key.substr(0, dot));
      key = dot == std::string_view::npos ? std::string_view{} : key.substr(dot + 1);
    }
    return n && n->children.empty() ? n : nullptr;
  }

  // The text of a scalar (a string's unescaped value, a number's token), the first element of an
  // array of them (Caddy's headers); false for objects, null, booleans.
  static bool scalar(od::value& v, std::string_view& out, bool& is_string) noexcept {
    od::json_type t;
    if (v.type().get(t)) return false;
    if (t == od::json_type::array) {
      od::array a;
      if (v.get_array().get(a)) return false;
      for (auto element : a) {
        od::value e;
        if (element.get(e)) return false;
        return scalar(e, out, is_string);
      }
      return false;
    }
    is_string = t == od::json_type::string;
    if (is_string) return v.get_string().get(out) == simdjson::SUCCESS;
    if (t != od::json_type::number) return false;
    out = v.raw_json_token();
    while (!out.empty() && (out.back() == ' ' || out.back() == '\t' || out.back() == '\n' || out.back() == '\r'))
      out.remove_suffix(1);
    return true;
  }

  // Stores a value of the path `n` unless a path listed before it gave the field already. A bad
  // value is only an error when its path is the best one the line has (checked in parse()).
  ParseError store(const Node& n, od::value& v, Record& r) {
    const size_t s = static_cast<size_t>(n.slot);
    if (n.priority >= priority_[s] || n.priority >= error_priority_[s]) return ParseError::kNone;
    std::string_view text;
    bool is_string = false;
    if (!scalar(v, text, is_string)) return ParseError::kNone;  // null, an object: absent
    ParseError e = convert(n.slot, dash_to_empty(text), r);
    if (e != ParseError::kNone) {
      error_priority_[s] = n.priority;
      error_[s] = e;
      return ParseError::kNone;
    }
    priority_[s] = n.priority;
    ++filled_;
    return ParseError::kNone;
  }

  // Converts a value into its record field; on an error the record is left as it was.
  ParseError convert(Slot slot, std::string_view value, Record& r) {
    switch (slot) {
      case Slot::kTime: {
        if (value.empty()) break;
        if (value.size() >= 2 && value.front() == '[' && value.back() == ']') value = value.substr(1, value.size() - 2);
        int64_t t;
        if (!parse_iso_time(value, t) && !parse_apache_time(value, t) && !epoch_to_us(value, t))
          return ParseError::kBadTime;
        r.time_us = t;
        break;
      }
      case Slot::kIp: r.ip = pick_client(value); break;
      case Slot::kIdent: r.ident = value; break;
      case Slot::kUser: r.user = value; break;
      case Slot::kMethod: r.method = value; break;
      case Slot::kUrl: r.url = value; break;
      case Slot::kProtocol: r.protocol = value; break;
      case Slot::kStatus: {
        int64_t st = 0;
        if (value.empty()) break;
        if (!parse_integer(value, st) || st < 100 || st > 999) return ParseError::kBadStatus;
        r.status = static_cast<int>(st);
        break;
      }
      case Slot::kBytes: {
        if (value.empty()) break;
        int64_t b;
        if (!parse_integer(value, b) || b < 0) return ParseError::kBadBytes;
        r.bytes = b;
        break;
      }
      case Slot::kReferer: r.referer = value; break;
      case Slot::kAgent: r.agent = value; break;
      case Slot::kHost: r.host = value; break;
      case Slot::kSession: r.session = value; break;
      case Slot::kEventType: r.event_type = value; break;
      case Slot::kCourseId: r.course_id = value; break;
      case Slot::kLevel: r.level = value; break;
      case Slot::kRequest: request_ = value; break;
      case Slot::kHttpVersion:  // ECS writes `1.1` for HTTP/1.1
        if (value.empty() || !r.protocol.empty()) break;
        protocol_.assign("HTTP/");
        protocol_.append(value);
        r.protocol = protocol_;
        break;
      case Slot::kDurationS:
      case Slot::kDurationMs:
      case Slot::kDurationUs:
      case Slot::kDurationNs: {
        if (value.empty()) break;
        double unit = slot == Slot::kDurationS ? 1e6 : slot == Slot::kDurationMs ? 1e3 : slot == Slot::kDurationUs ? 1 : 1e-3;
        int64_t us;
        if (!parse_duration_value(value, unit, us, /*list_ok=*/true)) return ParseError::kBadField;
        r.duration_us = us;
        break;
      }
      case Slot::kCount_: break;
    }
    return ParseError::kNone;
  }

  std::string name_;
  Node root_;
  od::parser parser_;
  std::vector<char> buffer_;
  std::array<uint8_t, kSlots> priority_{};        // of the path that gave each field (0xff: none)
  std::array<uint8_t, kSlots> error_priority_{};  // of the best path whose value was bad
  std::array<ParseError, kSlots> error_{};
  std::string_view request_;
  std::string protocol_;  // `HTTP/` + an ECS version (capacity kept from line to line)
  size_t filled_ = 0;
};

// The paths of a mapping, in priority order per slot.
struct Mapping {
  std::array<std::vector<std::string>, kSlots> paths;
  void add_preset(const Preset& p) {
    for (const PresetPath& pp : p.paths) add(pp.slot, pp.path);
  }
  void add(Slot s, std::string_view path) {
    auto& v = paths[static_cast<size_t>(s)];
    for (const auto& e : v)
      if (e == path) return;
    v.emplace_back(path);
  }
};

Mapping compile_mapping(std::string_view spec) {
  Mapping m;
  if (spec.empty()) {  // `json`: every preset, in order
    for (const Preset& p : kPresets) m.add_preset(p);
    for (const PresetPath& pp : kAnyLevel) m.add(pp.slot, pp.path);
    return m;
  }
  // One trailing comma is allowed (`json:nginx,`), as before; an empty item elsewhere is refused.
  std::string_view items = spec;
  while (!items.empty() && items.back() == ' ') items.remove_suffix(1);
  if (!items.empty() && items.back() == ',') items.remove_suffix(1);
  for_each_list_item(items, ',', [&](std::string_view item) {
    if (item.empty()) usage_error("--format json: empty item in '{}'", spec);
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      const Preset* found = nullptr;
      for (const Preset& p : kPresets)
        if (p.name == item) found = &p;
      if (!found)
        usage_error("--format json: unknown mapping '{}' (expected nginx, caddy, traefik, ecs or FIELD=PATH)", item);
      m.add_preset(*found);
      return;
    }
    std::string_view name = item.substr(0, eq), path = item.substr(eq + 1);
    const SlotName* slot = nullptr;
    for (const SlotName& sn : kSlotNames)
      if (sn.name == name) slot = &sn;
    if (!slot) usage_error("--format json: unknown record field '{}' in '{}'", name, item);
    if (path.empty() || path.front() == '.' || path.back() == '.' || path.find("..") != std::string_view::npos)
      usage_error("--format json: bad path '{}' for {}", path, name);
    // A user's path for a field replaces the preset's paths for it (it is tried first: a line
    // with both keys uses the user's).
    auto& v = m.paths[static_cast<size_t>(slot->slot)];
    v.insert(v.begin(), std::string(path));
  });
  return m;
}

Node build_tree(const Mapping& m) {
  Node root;
  for (size_t s = 0; s < kSlots; ++s) {
    const auto& list = m.paths[s];
    for (size_t prio = 0; prio < list.size() && prio < 0xff; ++prio) {
      std::string_view path = list[prio];
      Node* n = &root;
      // `@timestamp` and `request_User-Agent` are keys; only dots separate segments.
      while (true) {
        size_t dot = path.find('.');
        std::string_view seg = path.substr(0, dot);
        Node* c = nullptr;
        for (Node& child : n->children)
          if (child.key == seg) c = &child;
        if (!c) {
          n->children.push_back(Node{std::string(seg), Slot::kCount_, 0, {}});
          c = &n->children.back();
        }
        n = c;
        if (dot == std::string_view::npos) break;
        path.remove_prefix(dot + 1);
      }
      // A key that is both a leaf of one path and the parent of another (`host` in nginx and
      // ECS's `host.name`) keeps both roles: the value's type decides.
      if (n->slot == Slot::kCount_) {
        n->slot = static_cast<Slot>(s);
        n->priority = static_cast<uint8_t>(prio);
      }
    }
  }
  return root;
}

std::string_view strip_quotes(std::string_view s) noexcept {
  if (s.size() >= 2 && (s.front() == '\'' || s.front() == '"') && s.back() == s.front()) return s.substr(1, s.size() - 2);
  return s;
}

}  // namespace

void copy_for_simdjson(std::vector<char>& buffer, std::string_view text) {
  if (buffer.size() < text.size() + simdjson::SIMDJSON_PADDING) buffer.resize(text.size() + simdjson::SIMDJSON_PADDING);
  if (!text.empty()) std::memcpy(buffer.data(), text.data(), text.size());
  std::memset(buffer.data() + text.size(), 0, simdjson::SIMDJSON_PADDING);
}

std::unique_ptr<Parser> make_json_parser(std::string_view spec) {
  spec = strip_quotes(spec);
  Node root = build_tree(compile_mapping(spec));
  return std::make_unique<JsonAccessParser>(spec.empty() ? std::string("json") : "json:" + std::string(spec),
                                            std::move(root));
}

void json_mapping_paths(std::string_view spec, std::vector<std::string>& user_paths, std::vector<std::string>& ip_paths) {
  Mapping m = compile_mapping(strip_quotes(spec));
  user_paths = m.paths[static_cast<size_t>(Slot::kUser)];
  ip_paths = m.paths[static_cast<size_t>(Slot::kIp)];
}

// ---------------------------------------------------------------------------------------------

struct DockerLineReader::Impl {
  od::parser parser;
  std::vector<char> buffer;
};

DockerLineReader::DockerLineReader() : impl_(std::make_unique<Impl>()) {}
DockerLineReader::~DockerLineReader() = default;

ParseError DockerLineReader::read(std::string_view line, PrefixParts& out) {
  out = PrefixParts{};
  size_t first = line.find_first_not_of(" \t");
  if (first == std::string_view::npos || line[first] != '{') return ParseError::kBadPrefix;
  size_t last = line.find_last_not_of(" \t\r");
  if (line[last] != '}') return ParseError::kBadJson;
  auto& buffer = impl_->buffer;
  copy_for_simdjson(buffer, line);
  od::document doc;
  if (impl_->parser.iterate(buffer.data(), line.size(), buffer.size()).get(doc)) return ParseError::kBadJson;
  od::object obj;
  if (doc.get_object().get(obj)) return ParseError::kBadPrefix;
  bool have_log = false, have_time = false;
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return ParseError::kBadJson;
    if (key != "log" && key != "time") continue;
    od::value value;
    if (field.value().get(value)) return ParseError::kBadJson;
    std::string_view raw = value.raw_json_token(), text;
    if (value.get_string().get(text)) return ParseError::kBadPrefix;  // not a string
    if (key == "log") {
      have_log = true;
      while (!raw.empty() && raw.back() != '"') raw.remove_suffix(1);
      out.message_begin = static_cast<size_t>(raw.data() - buffer.data());
      out.message_end = out.message_begin + raw.size();
      bool newline = text.ends_with('\n');
      out.had_newline = newline;
      if (newline) text.remove_suffix(1);
      if (text.ends_with('\r')) text.remove_suffix(1);
      out.partial = !newline && text.size() == 16 * 1024;
      out.message = text;
      out.decoded = true;
    } else {
      if (text.empty() || !parse_iso_time(text, out.time_us)) return ParseError::kBadTime;
      have_time = true;
    }
  }
  return have_log && have_time ? ParseError::kNone : ParseError::kBadPrefix;
}

// For --version: the library and the kernel it picked for this CPU (haswell, westmere, ...).
std::string simdjson_version() {
  return "simdjson " + std::to_string(simdjson::SIMDJSON_VERSION_MAJOR) + "." +
         std::to_string(simdjson::SIMDJSON_VERSION_MINOR) + "." + std::to_string(simdjson::SIMDJSON_VERSION_REVISION) +
         " (" + std::string(simdjson::get_active_implementation()->name()) + ")";
}

}  // namespace logpipe::detail

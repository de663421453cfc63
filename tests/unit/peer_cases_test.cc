// Parsing agrees with the peers: every case of ../shared/data/peer-cases/*.tsv that a peer parsed
// gives the same fields here; every case a peer rejects is malformed here. The expected values are
// the peers' own test expectations (Logstash, Vector, Fluentd, Filebeat, edx-analytics-pipeline);
// the mapping of their field names onto our record is written out below, case by case.
#include "logpipe/format.h"
#include "logpipe/timeutil.h"

#include <doctest/doctest.h>
#include <simdjson.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace logpipe;

namespace {

struct PeerCase {
  std::string line, expected, id;
};

// Returns false (and says so) when ../shared/data is absent, as in a user's clone. `dir`: the
// cases kept in the repository (tests/data/peers, see its README), which are always there.
bool read_cases(const std::string& file, std::vector<PeerCase>& out,
                const std::string& dir = std::string(LOGPIPE_SHARED_DATA) + "/peer-cases") {
  std::string path = dir + "/" + file;
  std::ifstream in(path);
  if (!in) {
    MESSAGE("SKIPPED: " << path << " absent (no ../shared/data)");
    return false;
  }
  std::string row;
  std::getline(in, row);  // header
  while (std::getline(in, row)) {
    size_t first = row.find('\t'), last = row.rfind('\t');
    REQUIRE(first != std::string::npos);
    REQUIRE(last != first);
    out.push_back({row.substr(0, first), row.substr(first + 1, last - first - 1), row.substr(last + 1)});
  }
  REQUIRE(!out.empty());
  return true;
}

using Flat = std::map<std::string, std::string>;  // dotted key -> scalar as text; null -> "\x01null"

void flatten(simdjson::dom::element e, const std::string& prefix, Flat& out) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::OBJECT:
      for (auto [k, v] : e.get_object()) flatten(v, prefix.empty() ? std::string(k) : prefix + "." + std::string(k), out);
      break;
    case element_type::STRING: out[prefix] = std::string(std::string_view(e.get_string())); break;
    case element_type::INT64: out[prefix] = std::to_string(int64_t(e.get_int64())); break;
    case element_type::UINT64: out[prefix] = std::to_string(uint64_t(e.get_uint64())); break;
    case element_type::DOUBLE: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", double(e.get_double()));
      out[prefix] = buf;
      break;
    }
    case element_type::NULL_VALUE: out[prefix] = "\x01null"; break;
    case element_type::BOOL: out[prefix] = bool(e.get_bool()) ? "true" : "false"; break;
    default: out[prefix] = "\x01other"; break;
  }
}

Flat parse_expected(const std::string& json) {
  static simdjson::dom::parser parser;
  Flat out;
  flatten(parser.parse(json), "", out);
  return out;
}

// The peers write an absent value as null, "-", or leave the key out; we store it as empty.
std::string normalise(const std::string& v) { return v == "\x01null" || v == "-" ? "" : v; }

// Our record, with the time as RFC 3339 and absent numbers as "".
std::map<std::string, std::string> ours(const Record& r) {
  std::map<std::string, std::string> m;
  m["ip"] = std::string(r.ip);
  m["ident"] = std::string(r.ident);
  m["user"] = std::string(r.user);
  m["method"] = std::string(r.method);
  m["url"] = std::string(r.url);
  m["protocol"] = std::string(r.protocol);
  m["status"] = r.status ? std::to_string(r.status) : "";
  m["bytes"] = r.bytes >= 0 ? std::to_string(r.bytes) : "";
  m["referer"] = std::string(r.referer);
  m["agent"] = std::string(r.agent);
  m["time"] = r.time_us == kNoTime ? "" : format_rfc3339(r.time_us);
  m["course_id"] = std::string(r.course_id);
  return m;
}

// Compares the peer's fields (already mapped onto our names) with our record. With `full`, a
// field the peer does not list must be absent here too.
void compare(const std::map<std::string, std::string>& expected, const Record& r, bool full,
             const std::string& id) {
  auto mine = ours(r);
  for (const auto& [k, v] : expected) {
    INFO(id << " field " << k);
    CHECK(mine.at(k) == normalise(v));
  }
  if (!full) return;
  for (const auto& [k, v] : mine) {
    if (expected.count(k) || k == "course_id") continue;
    INFO(id << " field " << k << " should be absent");
    CHECK(v == "");
  }
}

// Renames the peer's keys to ours; keys not in the table are ignored (derived fields such as
// url.path, event.outcome, nginx.access.remote_ip_list, the raw request `message`).
std::map<std::string, std::string> rename(const Flat& peer, const std::map<std::string, std::string>& names) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : peer) {
    auto it = names.find(k);
    if (it != names.end()) out[it->second] = v;
  }
  return out;
}

const std::map<std::string, std::string> kEcsNames = {
    {"@timestamp", "time"},
    {"source.address", "ip"},
    {"user.name", "user"},
    {"http.request.method", "method"},
    {"url.original", "url"},
    {"http.version", "protocol"},
    {"http.response.status_code", "status"},
    {"http.response.body.bytes", "bytes"},
    {"http.request.referrer", "referer"},
    {"user_agent.original", "agent"},
};

// ECS writes `1.1` for HTTP/1.1 and millisecond timestamps; ours are `HTTP/1.1` and seconds.
void ecs_fixups(std::map<std::string, std::string>& m) {
  if (m.count("protocol")) m["protocol"] = "HTTP/" + m["protocol"];
  if (m.count("time") && m["time"].ends_with(".000Z")) m["time"] = m["time"].substr(0, m["time"].size() - 5) + "Z";
}

const std::string kOwnCases = std::string(LOGPIPE_SOURCE_DIR) + "/tests/data/peers";

// The cases of tests/data/peers: present in every checkout.
std::vector<PeerCase> own_cases(const std::string& file) {
  std::vector<PeerCase> cases;
  REQUIRE(read_cases(file, cases, kOwnCases));
  return cases;
}

// A request line as the peers keep it, split as our record holds it.
void expect_request(std::map<std::string, std::string>& expected, const std::string& request) {
  Record split;
  // split_request is internal; a one-field LogFormat reads a request line the same way.
  auto p = make_parser("logformat:%r");
  REQUIRE(p->parse(request, split) == ParseError::kNone);
  expected["method"] = std::string(split.method);
  expected["url"] = std::string(split.url);
  expected["protocol"] = std::string(split.protocol);
}

// A peer's timestamp (RFC 3339, any precision) as ours: UTC, microseconds at most.
std::string our_time(const std::string& peer) {
  int64_t us;
  REQUIRE(parse_iso_time(peer, us));
  return format_rfc3339(us);
}

}  // namespace

TEST_CASE("peer cases: Vector VRL parse_common_log / parse_apache_log") {
  std::vector<PeerCase> cases;
  if (!read_cases("vector-vrl.tsv", cases)) return;
  const std::map<std::string, std::string> names = {
      {"result.host", "ip"},         {"result.identity", "ident"}, {"result.user", "user"},
      {"result.method", "method"},   {"result.path", "url"},       {"result.protocol", "protocol"},
      {"result.status", "status"},   {"result.size", "bytes"},     {"result.timestamp", "time"},
      {"result.referrer", "referer"}, {"result.agent", "agent"}};
  int checked = 0;
  for (const auto& c : cases) {
    Flat peer = parse_expected(c.expected);
    std::string format = peer.count("args.format") ? peer["args.format"] : "common";
    auto parser = make_parser(format);
    Record r;
    ParseError e = parser->parse(c.line, r);
    INFO(c.id);
    if (peer.count("error")) {
      CHECK(e != ParseError::kNone);
    } else {
      REQUIRE(e == ParseError::kNone);
      compare(rename(peer, names), r, true, c.id);
    }
    ++checked;
  }
  CHECK(checked == 15);
}

TEST_CASE("peer cases: Fluentd apache2 / apache parsers") {
  std::vector<PeerCase> cases;
  if (!read_cases("fluentd.tsv", cases)) return;
  int checked = 0;
  for (const auto& c : cases) {
    Flat peer = parse_expected(c.expected);
    bool subset = peer.count("record_subset.path") > 0;
    std::string p = subset ? "record_subset." : "record.";
    const std::map<std::string, std::string> names = {
        {p + "host", "ip"},   {p + "user", "user"},      {p + "method", "method"}, {p + "path", "url"},
        {p + "code", "status"}, {p + "size", "bytes"},   {p + "referer", "referer"}, {p + "agent", "agent"},
        {"time_utc", "time"}};
    auto expected = rename(peer, names);
    // Fluentd keeps Apache escapes verbatim (`\"` stays two bytes): so do we.
    auto parser = make_parser(peer.count("record.referer") || subset ? "combined" : "common");
    Record r;
    INFO(c.id);
    REQUIRE(parser->parse(c.line, r) == ParseError::kNone);
    compare(expected, r, false, c.id);
    ++checked;
  }
  CHECK(checked == 4);
}

TEST_CASE("peer cases: Logstash HTTPD_COMBINEDLOG (ECS v1)") {
  std::vector<PeerCase> cases;
  if (!read_cases("logstash-patterns-core.tsv", cases)) return;
  std::map<std::string, std::string> names;
  for (const auto& [k, v] : kEcsNames) names["ecs_v1." + k] = v;
  for (const auto& c : cases) {
    Flat peer = parse_expected(c.expected);
    auto expected = rename(peer, names);
    ecs_fixups(expected);
    if (c.expected.find("\"ecs_v1_absent_keys\":[\"http.response.status_code\"]") != std::string::npos)
      expected["status"] = "";
    auto parser = make_parser("combined");
    Record r;
    INFO(c.id);
    REQUIRE(parser->parse(c.line, r) == ParseError::kNone);
    compare(expected, r, false, c.id);
  }
}

TEST_CASE("peer cases: Filebeat apache and nginx access modules") {
  for (const char* file : {"filebeat-apache-access.tsv", "filebeat-nginx-access.tsv"}) {
    std::vector<PeerCase> cases;
    if (!read_cases(file, cases)) return;
    for (const auto& c : cases) {
      Flat peer = parse_expected(c.expected);
      auto expected = rename(peer, kEcsNames);
      ecs_fixups(expected);
      // mod_ssl's ssl_request_log is not common/combined: read it with the LogFormat it was
      // written with.
      bool ssl = peer.count("_format") > 0;
      auto parser = make_parser(ssl ? R"(logformat:[%t] %h %{SSL_PROTOCOL}x %{SSL_CIPHER}x "%r" %b)"
                                    : "combined");
      Record r;
      INFO(c.id);
      REQUIRE(parser->parse(c.line, r) == ParseError::kNone);
      compare(expected, r, true, c.id);
    }
  }
}

TEST_CASE("peer cases: edx-analytics-pipeline eventlog") {
  std::vector<PeerCase> cases;
  if (!read_cases("edx-analytics-pipeline-eventlog.tsv", cases)) return;
  auto parser = make_parser("edx");
  int checked = 0;
  for (const auto& c : cases) {
    Flat peer = parse_expected(c.expected);
    std::string fn = peer["function"];
    Record r;
    ParseError e = parser->parse(c.line, r);
    INFO(c.id);
    if (fn == "parse_json_event") {
      if (peer.count("result") && peer["result"] == "\x01null") {
        CHECK(e != ParseError::kNone);
      } else {
        REQUIRE(e == ParseError::kNone);
        CHECK(std::string(r.user) == peer["result.username"]);
      }
    } else if (fn == "get_event_time") {
      REQUIRE(e == ParseError::kNone);
      if (peer["result"] == "\x01null") {
        CHECK(r.time_us == kNoTime);
      } else {
        // The pipeline's timestamp is naive UTC; ours is RFC 3339 with Z.
        std::string ts = peer["result.timestamp"];
        int64_t want;
        REQUIRE(parse_iso_time(ts, want));
        CHECK(r.time_us == want);
      }
    } else if (fn == "get_event_username") {
      REQUIRE(e == ParseError::kNone);
      CHECK(std::string(r.user) == normalise(peer["result"]));
    } else if (fn.starts_with("get_course_id")) {
      REQUIRE(e == ParseError::kNone);
      CHECK(std::string(r.course_id) == normalise(peer["result"]));
    } else {
      // get_event_data decodes the `event` payload, which is not a record field: the line must
      // still be a record.
      CHECK(e == ParseError::kNone);
    }
    ++checked;
  }
  CHECK(checked == 27);
}

TEST_CASE("peer cases: Vector parse_nginx_log, its combined, main and ingress-nginx upstreaminfo formats") {
  // Vector's names per format; `request` is the raw request line, which we keep split.
  const std::map<std::string, std::string> names = {
      {"client", "ip"},           {"remote_addr", "ip"},        {"user", "user"},
      {"remote_user", "user"},    {"timestamp", "time"},        {"status", "status"},
      {"size", "bytes"},          {"body_bytes_size", "bytes"}, {"referer", "referer"},
      {"http_referer", "referer"}, {"agent", "agent"},          {"http_user_agent", "agent"}};
  int checked = 0;
  for (const auto& c : own_cases("vector-nginx.tsv")) {
    Flat peer = parse_expected(c.expected);
    auto parser = make_parser(peer["_format"]);
    Record r;
    ParseError e = parser->parse(c.line, r);
    INFO(c.id);
    ++checked;
    if (peer.count("error")) {
      CHECK(e != ParseError::kNone);
      continue;
    }
    REQUIRE(e == ParseError::kNone);
    auto expected = rename(peer, names);
    expect_request(expected, peer["request"]);
    expected["time"] = our_time(expected["time"]);
    compare(expected, r, true, c.id);
    if (peer.count("request_time")) CHECK(r.duration_us == std::llround(std::stod(peer["request_time"]) * 1e6));
  }
  CHECK(checked == 14);
}

TEST_CASE("peer cases: Vector's Docker json-file and CRI parsers are the docker+ and cri+ prefixes") {
  int checked = 0;
  for (const auto& c : own_cases("vector-containers.tsv")) {
    Flat peer = parse_expected(c.expected);
    // One field named `message` takes the whole line behind the prefix: what the peer calls the
    // message; the prefix's time fills the record (the message has none).
    auto parser = make_parser(peer["_format"] + "+fields:message");
    Record r;
    ParseError e = parser->parse(c.line, r);
    INFO(c.id);
    ++checked;
    if (peer.count("error")) {
      CHECK(e != ParseError::kNone);
    } else if (peer["partial"] == "true") {
      CHECK(e == ParseError::kPartialLine);  // a fragment: counted, never read as a record
    } else {
      REQUIRE(e == ParseError::kNone);
      REQUIRE(r.extra.size() == 1);
      CHECK(std::string(r.extra[0].second) == peer["message"]);
      CHECK(format_rfc3339(r.time_us) == our_time(peer["timestamp"]));
    }
  }
  CHECK(checked == 16);
}

TEST_CASE("peer cases: Logstash SYSLOGLINE and SYSLOG5424LINE are the syslog+ prefix") {
  int checked = 0;
  for (const auto& c : own_cases("logstash-syslog.tsv")) {
    Flat peer = parse_expected(c.expected);
    auto parser = make_parser("syslog+fields:message");
    Record r;
    INFO(c.id);
    REQUIRE(parser->parse(c.line, r) == ParseError::kNone);
    // The program and its pid are no record field; the host, the message and the time are.
    if (peer.count("host.hostname")) CHECK(std::string(r.host) == normalise(peer["host.hostname"]));
    if (peer.count("message")) {
      REQUIRE(r.extra.size() == 1);
      CHECK(std::string(r.extra[0].second) == peer["message"]);
    }
    if (peer.count("timestamp") && peer["timestamp"].find('T') != std::string::npos) {
      CHECK(format_rfc3339(r.time_us) == our_time(peer["timestamp"]));
    } else if (peer.count("timestamp")) {  // RFC 3164 has no year: month, day and time must match
      const std::string t = peer["timestamp"];  // `May 11 15:40:51`
      const std::string months = "JanFebMarAprMayJunJulAugSepOctNovDec";
      char want[64];
      std::snprintf(want, sizeof want, "%02zu-%02d %s", months.find(t.substr(0, 3)) / 3 + 1, std::stoi(t.substr(4, 2)),
                    t.substr(7).c_str());
      std::string mine = format_rfc3339(r.time_us).substr(5, 14);
      mine[5] = ' ';
      CHECK(mine == want);
    }
    ++checked;
  }
  CHECK(checked == 14);
}

TEST_CASE("peer cases: GoAccess's CADDY format names the keys json:caddy reads") {
  // GoAccess reads Caddy's JSON access log with a template of %-specifiers; filling each with a
  // distinct value and reading the line back tells which record field each specifier lands in.
  std::ifstream in(kOwnCases + "/goaccess-caddy.format");
  REQUIRE(in);
  std::string tpl((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!tpl.empty() && tpl.back() == '\n') tpl.pop_back();
  const std::map<std::string, std::string> values = {
      {"%x.%^", "1646861401.5241024"}, {"%h", "203.0.113.9"}, {"%H", "HTTP/2.0"}, {"%m", "POST"},
      {"%v", "example.com"},           {"%U", "/api?q=1"},    {"%u", "curl/8.1"}, {"%R", "https://ref.example/"},
      {"%k", "TLS_AES_128_GCM_SHA256"}, {"%K", "tls1.3"},     {"%T", "0.25"},     {"%b", "5120"},
      {"%s", "503"},                   {"%M", "text/html"}};
  std::string line = tpl;
  for (const auto& [spec, value] : values) {
    size_t at;
    while ((at = line.find("\"" + spec + "\"")) != std::string::npos) line.replace(at + 1, spec.size(), value);
  }
  REQUIRE(line.find('%') == std::string::npos);
  auto parser = make_parser("json:caddy");
  Record r;
  REQUIRE(parser->parse(line, r) == ParseError::kNone);
  CHECK(format_rfc3339(r.time_us) == "2022-03-09T21:30:01.524102Z");
  CHECK(r.ip == "203.0.113.9");
  CHECK(r.protocol == "HTTP/2.0");
  CHECK(r.method == "POST");
  CHECK(r.host == "example.com");
  CHECK(r.url == "/api?q=1");
  CHECK(r.agent == "curl/8.1");
  CHECK(r.referer == "https://ref.example/");
  CHECK(r.duration_us == 250000);
  CHECK(r.bytes == 5120);
  CHECK(r.status == 503);
  // Detection picks the same mapping.
  std::vector<std::string_view> sample = {line};
  CHECK(detect_format(sample).format == "json:caddy");
}

TEST_CASE("peer cases: Filebeat traefik module (Traefik's own CLF) with the combined format") {
  for (const auto& c : own_cases("filebeat-traefik.tsv")) {
    Flat peer = parse_expected(c.expected);
    auto parser = make_parser("combined");
    Record r;
    ParseError e = parser->parse(c.line, r);
    INFO(c.id);
    if (peer.count("_differs")) {  // the peer's grok tolerates the broken quote; we count the line
      CHECK(e == ParseError::kTrailingData);
      continue;
    }
    REQUIRE(e == ParseError::kNone);
    std::map<std::string, std::string> expected = rename(
        peer, {{"@timestamp", "time"},
               {"traefik.access.remote_ip", "ip"},
               {"traefik.access.user_name", "user"},
               {"traefik.access.method", "method"},
               {"traefik.access.url", "url"},
               {"traefik.access.http_version", "protocol"},
               {"traefik.access.response_code", "status"},
               {"traefik.access.body_sent.bytes", "bytes"},
               {"traefik.access.referrer", "referer"},
               {"traefik.access.user_agent.original", "agent"}});
    ecs_fixups(expected);
    compare(expected, r, true, c.id);
    CHECK(r.duration_us == std::stoll(peer["_duration_ms"]) * 1000);
  }
}

TEST_CASE("peer cases: Filebeat's ECS documents read with json:ecs give the record of the line they came from") {
  // The expected output of Filebeat's nginx and apache modules is an ECS document (dotted keys):
  // reading it as a JSON access log must give what the original line gives as combined.
  for (const char* file : {"filebeat-apache-access.tsv", "filebeat-nginx-access.tsv"}) {
    std::vector<PeerCase> cases;
    if (!read_cases(file, cases)) return;
    auto ecs = make_parser("json:ecs");
    auto combined = make_parser("combined");
    for (const auto& c : cases) {
      if (c.expected.find("\"_format\"") != std::string::npos) continue;  // mod_ssl's other format
      Record from_doc, from_line;
      INFO(c.id);
      REQUIRE(ecs->parse(c.expected, from_doc) == ParseError::kNone);
      REQUIRE(combined->parse(c.line, from_line) == ParseError::kNone);
      auto doc = ours(from_doc), line = ours(from_line);
      // Filebeat keeps the request's client in source.address when it is a host name, and gives
      // no source.ip then; the ECS mapping reads either.
      for (const char* k : {"ip", "user", "method", "url", "protocol", "status", "bytes", "referer", "agent", "time"}) {
        INFO("field " << k);
        CHECK(doc.at(k) == line.at(k));
      }
    }
  }
}

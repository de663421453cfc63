// The --where language: each operator on each kind of field, absent values, precedence, CIDR
// networks, bots, and the messages of expressions that do not compile.
#include "logpipe/filter.h"

#include "logpipe/error.h"
#include "logpipe/timeutil.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace logpipe;

namespace {

Record access(std::string_view ip, int status, std::string_view url, std::string_view agent = "Mozilla/5.0") {
  Record r;
  r.ip = ip;
  r.status = status;
  r.url = url;
  r.method = "GET";
  r.agent = agent;
  r.bytes = 512;
  r.duration_us = 12'500;
  parse_iso_time("2025-06-23T10:00:00Z", r.time_us);
  return r;
}

bool keep(std::string_view expr, const Record& r, std::vector<std::string> bots = {}) {
  return RecordFilter::compile(expr, Classifier{}, std::move(bots)).matches(r);
}

std::string error_of(std::string_view expr) {
  try {
    RecordFilter::compile(expr);
  } catch (const Error& e) {
    CHECK(e.exit_code() == kExitUsage);
    return e.what();
  }
  return "(compiled)";
}

}  // namespace

TEST_CASE("filter: numbers compare, absent numbers never match") {
  const Record r = access("203.0.113.7", 503, "/api/cart?id=3");
  CHECK(keep("status >= 500", r));
  CHECK_FALSE(keep("status < 500", r));
  CHECK(keep("status == 503", r));
  CHECK(keep("status = 503", r));
  CHECK(keep("status != 200", r));
  CHECK(keep("bytes > 511 and bytes <= 512", r));
  CHECK(keep("duration_ms == 12.5", r));
  CHECK_FALSE(keep("duration_ms > 12.5", r));
  Record edx;  // no status, no bytes, no duration, no time
  CHECK_FALSE(keep("status >= 0", edx));
  CHECK_FALSE(keep("status != 200", edx));
  CHECK(keep("not status == 200", edx));
  CHECK_FALSE(keep("bytes >= 0", edx));
  CHECK_FALSE(keep("duration_ms >= 0", edx));
  CHECK_FALSE(keep("time >= 1970-01-01", edx));
}

TEST_CASE("filter: status specs: classes, ranges, lists") {
  CHECK(keep("status == 5xx", access("1.2.3.4", 502, "/")));
  CHECK_FALSE(keep("status == 5xx", access("1.2.3.4", 404, "/")));
  CHECK(keep("status != 5xx", access("1.2.3.4", 404, "/")));
  CHECK(keep("status in 404,500-504", access("1.2.3.4", 404, "/")));
  CHECK(keep("status in 404,500-504", access("1.2.3.4", 503, "/")));
  CHECK_FALSE(keep("status in 404,500-504", access("1.2.3.4", 505, "/")));
}

TEST_CASE("filter: text operators are exact and case-sensitive") {
  const Record r = access("1.2.3.4", 200, "/api/cart?id=3");
  CHECK(keep("url ^= \"/api/\"", r));
  CHECK(keep("url ^= /api/", r));
  CHECK_FALSE(keep("url ^= /API/", r));
  CHECK(keep("url $= 'id=3'", r));
  CHECK(keep("path == /api/cart", r));
  CHECK_FALSE(keep("path ~= id", r));
  CHECK(keep("url ~= id", r));
  CHECK(keep("method in GET,HEAD", r));
  CHECK_FALSE(keep("method in POST,PUT", r));
  CHECK(keep("user == \"\"", r));  // absent text is empty
  CHECK(keep("url == \"a\\\"b\"", access("1", 200, "a\"b")));  // \" inside a string
}

TEST_CASE("filter: a string may hold the language's own characters") {
  const Record r = access("1.2.3.4", 200, "/a (b) and c=d");
  CHECK(keep("url == \"/a (b) and c=d\"", r));
  CHECK(keep("url ~= ' and '", r));
}

TEST_CASE("filter: precedence is not, and, or; parentheses group") {
  const Record r = access("1.2.3.4", 200, "/x");
  // or binds looser than and: true or (false and false)
  CHECK(keep("status == 200 or status == 500 and url == /y", r));
  CHECK_FALSE(keep("(status == 200 or status == 500) and url == /y", r));
  CHECK(keep("not status == 500 and url == /x", r));
  CHECK_FALSE(keep("not (status == 200 and url == /x)", r));
  CHECK(keep("not not status == 200", r));
}

TEST_CASE("filter: ip networks, IPv4 and IPv6") {
  CHECK(keep("ip in 10.0.0.0/8", access("10.200.3.4", 200, "/")));
  CHECK_FALSE(keep("ip in 10.0.0.0/8", access("11.0.0.1", 200, "/")));
  CHECK(keep("ip in 192.168.0.0/16,10.0.0.0/8", access("10.0.0.1", 200, "/")));
  CHECK(keep("ip == 203.0.113.0/25", access("203.0.113.127", 200, "/")));
  CHECK_FALSE(keep("ip == 203.0.113.0/25", access("203.0.113.128", 200, "/")));
  CHECK(keep("ip != 203.0.113.0/25", access("203.0.113.128", 200, "/")));
  CHECK(keep("ip == 203.0.113.7", access("203.0.113.7", 200, "/")));
  CHECK(keep("ip in 203.0.113.7", access("203.0.113.7", 200, "/")));
  CHECK(keep("ip in 2001:db8::/32", access("2001:db8:5::1", 200, "/")));
  CHECK_FALSE(keep("ip in 2001:db8::/32", access("2001:db9::1", 200, "/")));
  CHECK(keep("ip in 0.0.0.0/0", access("8.8.8.8", 200, "/")));
  CHECK_FALSE(keep("ip in 0.0.0.0/0", access("2001:db8::1", 200, "/")));  // an IPv4 network holds IPv4 only
  CHECK(keep("ip in 10.0.0.0/8", access("::ffff:10.1.2.3", 200, "/")));
  CHECK_FALSE(keep("ip in 10.0.0.0/8", access("not-an-address", 200, "/")));
  CHECK(keep("ip != 10.0.0.0/8", access("", 200, "/")));
}

TEST_CASE("filter: time bounds, with and without an offset") {
  const Record r = access("1.2.3.4", 200, "/");  // 2025-06-23T10:00:00Z
  CHECK(keep("time >= 2025-06-23 and time < 2025-06-24", r));
  CHECK(keep("time >= \"2025-06-23T12:00:00+02:00\"", r));
  CHECK_FALSE(keep("time > \"2025-06-23T12:00:00+02:00\"", r));
  CHECK(keep("time < 2025-06-23T10:00:01Z", r));
}

TEST_CASE("filter: bot is the built-in crawler list plus the --bots patterns") {
  CHECK(keep("bot", access("1", 200, "/", "Mozilla/5.0 (compatible; Googlebot/2.1)")));
  CHECK_FALSE(keep("bot", access("1", 200, "/", "Mozilla/5.0 (X11; Linux) Firefox/120.0")));
  CHECK(keep("bot", access("1", 200, "/", "Mozilla/5.0 InternalMonitor/3"), {"internalmonitor"}));
  CHECK(keep("not bot", access("1", 200, "/", "curl/8.0")));
  auto patterns = parse_bot_patterns("# monitors\nInternalMonitor\n\r\nUptimeKuma\r\n", "bots.txt");
  REQUIRE(patterns.size() == 2);
  CHECK(patterns[0] == "internalmonitor");
  CHECK(patterns[1] == "uptimekuma");
  CHECK_THROWS_WITH(parse_bot_patterns("okpattern\nab\n", "bots.txt"), doctest::Contains("bots.txt:2"));
}

TEST_CASE("filter: error follows the error rules") {
  ErrorRules rules;
  REQUIRE(ErrorRules::parse_statuses("5xx", rules.statuses));
  auto only5xx = RecordFilter::compile("error", Classifier(rules));
  CHECK_FALSE(only5xx.matches(access("1", 404, "/")));
  CHECK(only5xx.matches(access("1", 500, "/")));
  CHECK(keep("error", access("1", 404, "/")));  // default: >= 400
  Record app;
  app.level = "error";
  CHECK(keep("error", app));
  CHECK(keep("level == error", app));
}

TEST_CASE("filter: what does not compile says where and why") {
  CHECK(error_of("") == "--where: column 1: the expression is empty");
  CHECK(error_of("stauts >= 500").find("column 1: unknown field 'stauts'") != std::string::npos);
  CHECK(error_of("status >=") == "--where: column 10: expected a value after '>=', got the end");
  CHECK(error_of("status > abc") == "--where: column 10: 'abc' is not a number (status)");
  CHECK(error_of("url > /a") == "--where: column 5: '>' applies to status, bytes, duration_ms and time, not to url");
  CHECK(error_of("status ^= 5") == "--where: column 8: '^=' applies to text fields, not to status");
  CHECK(error_of("(status == 200") == "--where: column 1: this '(' is not closed");
  CHECK(error_of("status == 200 url == /") == "--where: column 15: expected 'and', 'or' or the end, got 'url'");
  CHECK(error_of("url == \"/a") == "--where: column 8: a string is not closed");
  CHECK(error_of("ip in 10.0.0.0/33") == "--where: column 7: '10.0.0.0/33': the prefix length must be 0-32");
  CHECK(error_of("ip in 10.0.0") == "--where: column 7: '10.0.0' is not an address or a network (10.0.0.0/8, 2001:db8::/32)");
  CHECK(error_of("status == 99") ==
        "--where: column 11: '99' is not a status (100-999), a class such as 5xx or a range such as 500-504");
  CHECK(error_of("time > yesterday").find("is not an RFC 3339 time") != std::string::npos);
  CHECK(error_of("url ! x").find("unknown operator '!'") != std::string::npos);
  CHECK(error_of(std::string(65, '(') + "status == 200" + std::string(65, ')')) ==
        "--where: column 65: nested deeper than 64 levels");
  CHECK(error_of("url ~= a or url ~= b or url ~= c or url ~= d and") != "(compiled)");
  CHECK(keep(std::string(64, '(') + "status == 200" + std::string(64, ')'), access("1", 200, "/")));
  CHECK(error_of("status == 200 and") == "--where: column 18: expected a field, 'bot', 'error', 'not' or '(', got the end");
}

namespace {
struct Collect final : RecordSink {
  std::vector<int> statuses;
  ParseError on_record(const Record& r) override {
    if (r.status == 418) return ParseError::kBadTime;  // a sink's own refusal passes through
    statuses.push_back(r.status);
    return ParseError::kNone;
  }
  std::unique_ptr<RecordSink> split() override { return std::make_unique<Collect>(); }
  void join(RecordSink& later) override {
    auto& l = static_cast<Collect&>(later);
    statuses.insert(statuses.end(), l.statuses.begin(), l.statuses.end());
  }
};
}  // namespace

TEST_CASE("filter: the filtering sink counts, refuses what its sink refuses, splits and joins") {
  auto f = RecordFilter::compile("status >= 400");
  Collect inner;
  FilteringSink sink(f, inner);
  CHECK(sink.on_record(access("1", 200, "/")) == ParseError::kNone);
  CHECK(sink.on_record(access("1", 500, "/")) == ParseError::kNone);
  CHECK(sink.on_record(access("1", 418, "/")) == ParseError::kBadTime);
  auto later = sink.split();
  REQUIRE(later);
  CHECK(later->on_record(access("1", 404, "/")) == ParseError::kNone);
  CHECK(later->on_record(access("1", 302, "/")) == ParseError::kNone);
  sink.join(*later);
  CHECK(inner.statuses == std::vector<int>{500, 404});
  CHECK(sink.counts().read == 5);
  CHECK(sink.counts().kept == 2);
  CHECK(sink.counts().filtered == 2);
}

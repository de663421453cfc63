#include "logpipe/classify.h"
#include "logpipe/format.h"
#include "logpipe/timeutil.h"

#include <doctest/doctest.h>

#include <vector>

using namespace logpipe;

TEST_CASE("combined: a typical line gives every field") {
  auto p = make_parser("combined");
  Record r;
  std::string line =
      R"x(127.0.0.1 bob frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif?x=1 HTTP/1.0" 200 2326 "http://ex.com/" "Mozilla/5.0 (X11)")x";
  REQUIRE(p->parse(line, r) == ParseError::kNone);
  CHECK(r.ip == "127.0.0.1");
  CHECK(r.ident == "bob");
  CHECK(r.user == "frank");
  CHECK(format_rfc3339(r.time_us) == "2000-10-10T20:55:36Z");
  CHECK(r.method == "GET");
  CHECK(r.url == "/apache_pb.gif?x=1");
  CHECK(r.path() == "/apache_pb.gif");
  CHECK(r.protocol == "HTTP/1.0");
  CHECK(r.status == 200);
  CHECK(r.bytes == 2326);
  CHECK(r.referer == "http://ex.com/");
  CHECK(r.agent == "Mozilla/5.0 (X11)");
}

TEST_CASE("combined: escaped quote inside request stays in the url") {
  auto p = make_parser("combined");
  Record r;
  std::string line =
      R"x(192.168.0.1 - - [28/Feb/2013:12:00:00 +0900] "GET /\" HTTP/1.1" 200 777 "referer \\ \"" "user agent \\ \"")x";
  REQUIRE(p->parse(line, r) == ParseError::kNone);
  CHECK(r.url == R"x(/\")x");
  CHECK(r.referer == R"x(referer \\ \")x");
  CHECK(r.agent == R"x(user agent \\ \")x");
  CHECK(r.user.empty());
}

TEST_CASE("combined: unterminated agent is malformed") {
  auto p = make_parser("combined");
  Record r;
  CHECK(p->parse(R"x(1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "Mozilla)x", r) ==
        ParseError::kUnterminatedQuote);
}

TEST_CASE("clickstream: the cookie gives user and session; anonymous is no user") {
  auto p = make_parser("clickstream");
  Record r;
  REQUIRE(p->parse(R"x(1.2.3.4 - - [23/Jun/2025:08:00:00 +0000] "GET /cart HTTP/1.1" 200 5 "-" "ua" "user = alice; PHPSESSID=s123")x", r) ==
          ParseError::kNone);
  CHECK(r.user == "alice");
  CHECK(r.session == "s123");
  REQUIRE(p->parse(R"x(1.2.3.4 - - [23/Jun/2025:08:00:00 +0000] "GET /cart HTTP/1.1" 200 5 "-" "ua" "user = anonymous; PHPSESSID=s9")x", r) ==
          ParseError::kNone);
  CHECK(r.user.empty());
  CHECK(r.session == "s9");
}

TEST_CASE("logformat: %D, %v and %{Cookie}i are compiled once into a parser") {
  auto p = make_parser(R"x(logformat:%v %h %l %u %t "%r" %>s %b %D "%{Cookie}i")x");
  Record r;
  REQUIRE(p->parse(R"x(shop.example 10.0.0.1 - bob [23/Jun/2025:08:00:00 +0000] "POST /pay HTTP/2.0" 503 - 12345 "user = bob; PHPSESSID=xyz")x", r) ==
          ParseError::kNone);
  CHECK(r.host == "shop.example");
  CHECK(r.ip == "10.0.0.1");
  CHECK(r.method == "POST");
  CHECK(r.status == 503);
  CHECK(r.bytes == -1);
  CHECK(r.duration_us == 12345);
  CHECK(r.session == "xyz");
  CHECK(p->parse(R"x(shop.example 10.0.0.1 - bob [23/Jun/2025:08:00:00 +0000] "POST /pay HTTP/2.0" 503 - 12345)x", r) !=
        ParseError::kNone);
}

TEST_CASE("logformat: %T seconds and %U%q") {
  auto p = make_parser("logformat:%h %t %U%q %>s %T");
  Record r;
  REQUIRE(p->parse("::1 [23/Jun/2025:08:00:00 +0000] /a?b=1 200 0.250", r) == ParseError::kNone);
  CHECK(r.ip == "::1");
  CHECK(r.url == "/a?b=1");
  CHECK(r.duration_us == 250000);
}

TEST_CASE("logformat and fields: a response time of nan, inf or 1e300 is a bad field, not UB") {
  auto logformat = make_parser("logformat:%h %t %U %>s %D");
  auto seconds = make_parser("logformat:%h %t %U %>s %T");
  auto fields = make_parser("fields:timestamp url status duration_ms");
  Record r;
  for (const char* v : {"nan", "inf", "1e300", "-1"}) {
    std::string line = std::string("::1 [23/Jun/2025:08:00:00 +0000] /a 200 ") + v;
    CHECK_MESSAGE(logformat->parse(line, r) == ParseError::kBadField, v);
    CHECK_MESSAGE(seconds->parse(line, r) == ParseError::kBadField, v);
    CHECK_MESSAGE(fields->parse(std::string("2025-06-23T08:00:00Z /a 200 ") + v, r) == ParseError::kBadField, v);
  }
  REQUIRE(fields->parse("2025-06-23T08:00:00Z /a 200 1.5", r) == ParseError::kNone);
  CHECK(r.duration_us == 1500);
}

TEST_CASE("logformat: bad format strings are usage errors") {
  CHECK_THROWS(make_parser("logformat:%h %Z"));
  CHECK_THROWS(make_parser("logformat:%h%u"));
  CHECK_THROWS(make_parser("logformat:%{Referer"));
  CHECK_THROWS(make_parser("nope"));
}

TEST_CASE("edx: fields, context and syslog prefix") {
  auto p = make_parser("edx");
  Record r;
  std::string line = R"x(Jun 23 08:00:00 host tracking: {"username": "alice", "ip": "1.2.3.4", "event_source": "server", "event_type": "problem_check", "event": {"a": [1, 2]}, "agent": "ua", "page": null, "time": "2025-06-23T08:00:00.123456+00:00", "host": "lms", "context": {"course_id": "course-v1:X+Y+Z", "path": "/courses/x", "user_id": 5}})x";
  REQUIRE(p->parse(line, r) == ParseError::kNone);
  CHECK(r.user == "alice");
  CHECK(r.ip == "1.2.3.4");
  CHECK(r.event_type == "problem_check");
  CHECK(r.course_id == "course-v1:X+Y+Z");
  CHECK(r.url == "/courses/x");
  CHECK(r.host == "lms");
  CHECK(r.status == 0);
  CHECK(format_rfc3339(r.time_us) == "2025-06-23T08:00:00.123456Z");
  CHECK(p->parse("# a comment", r) == ParseError::kNotJsonObject);
  CHECK(p->parse(R"x({"username": "a", "time": "yesterday"})x", r) == ParseError::kBadTime);
  CHECK(p->parse(R"x({"username": "a", "x": {"b": 1})x", r) == ParseError::kBadJson);
}

TEST_CASE("detection: votes over the first lines") {
  std::vector<std::string_view> combined = {
      R"x(1.2.3.4 - - [23/Jun/2025:08:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "ua")x", ""};
  CHECK(detect_format(combined) == "combined");
  std::vector<std::string_view> common = {R"x(1.2.3.4 - - [23/Jun/2025:08:00:00 +0000] "GET / HTTP/1.1" 200 5)x"};
  CHECK(detect_format(common) == "common");
  std::vector<std::string_view> click = {
      R"x(1.2.3.4 - - [23/Jun/2025:08:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "ua" "user = a; PHPSESSID=1")x"};
  CHECK(detect_format(click) == "clickstream");
  std::vector<std::string_view> edx = {R"x({"username": "a"})x", "# comment"};
  CHECK(detect_format(edx) == "edx");
}

TEST_CASE("fields: application log lines name their fields; level ERROR is an error") {
  auto p = make_parser("fields:date time level request_id session user action method url referer");
  Record r;
  REQUIRE(p->parse("2023-12-22 22:07:37.780 INFO req_18648 session_1755 user_213 view_page GET /login https://www.bing.com", r) ==
          ParseError::kNone);
  CHECK(format_rfc3339(r.time_us) == "2023-12-22T22:07:37.780000Z");
  CHECK(r.session == "session_1755");
  CHECK(r.user == "user_213");
  CHECK(r.method == "GET");
  CHECK(r.url == "/login");
  CHECK(r.referer == "https://www.bing.com");
  CHECK(r.level == "INFO");
  CHECK_FALSE(Classifier().outcome(r).error);
  REQUIRE(r.extra.size() == 3);
  CHECK(r.extra[0].first == "level");
  CHECK(r.extra[0].second == "INFO");
  CHECK(r.extra[1].first == "request_id");
  CHECK(r.extra[1].second == "req_18648");
  CHECK(r.extra[2].first == "action");
  CHECK(r.extra[2].second == "view_page");
  REQUIRE(p->parse("2023-12-22 22:07:38.001 ERROR req_1 s u checkout POST /pay -", r) == ParseError::kNone);
  CHECK(r.level == "ERROR");
  CHECK(Classifier().outcome(r).error);
  CHECK(r.referer.empty());
  CHECK(p->parse("2023-12-22 22:07:38.001 ERROR req_1 s u", r) == ParseError::kMissingField);
  CHECK(p->parse("2023-13-22 22:07:38.001 ERROR req_1 s u a GET / -", r) == ParseError::kBadTime);
}

TEST_CASE("combined: a trailing response time is %D microseconds or seconds with a fraction") {
  auto p = make_parser("combined");
  Record r;
  REQUIRE(p->parse(R"x(1.2.3.4 - - [23/Jun/2025:08:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "ua" 15234)x", r) == ParseError::kNone);
  CHECK(r.duration_us == 15234);
  CHECK(r.agent == "ua");
  REQUIRE(p->parse(R"x(1.2.3.4 - - [23/Jun/2025:08:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "ua" 0.250)x", r) == ParseError::kNone);
  CHECK(r.duration_us == 250000);
  CHECK(p->parse(R"x(1.2.3.4 - - [23/Jun/2025:08:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "ua" 12ab)x", r) == ParseError::kTrailingData);
  std::vector<std::string_view> sample = {R"x(1.2.3.4 - - [23/Jun/2025:08:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "ua" 15234)x"};
  CHECK(detect_format(sample) == "combined");
}

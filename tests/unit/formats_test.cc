#include "logpipe/classify.h"
#include "logpipe/error.h"
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
  CHECK(detect_format(combined).format == "combined");
  std::vector<std::string_view> common = {R"x(1.2.3.4 - - [23/Jun/2025:08:00:00 +0000] "GET / HTTP/1.1" 200 5)x"};
  CHECK(detect_format(common).format == "common");
  std::vector<std::string_view> click = {
      R"x(1.2.3.4 - - [23/Jun/2025:08:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "ua" "user = a; PHPSESSID=1")x"};
  CHECK(detect_format(click).format == "clickstream");
  std::vector<std::string_view> edx = {R"x({"username": "a"})x", "# comment"};
  CHECK(detect_format(edx).format == "edx");
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
  // Longer than 31 years (the fuzzer's 11111111111127.5 seconds overflowed to microseconds) is
  // not a response time, in any of the three spellings; the largest accepted ones are exact.
  const std::string head = R"x(1.2.3.4 - - [23/Jun/2025:08:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "ua" )x";
  for (const char* v : {"11111111111127.5", "1000000001.0", "1000000000000001", "999999999999999999",
                        "1000000000000001ms", "999999999999999999ms", "1000000000001.5ms"})
    CHECK_MESSAGE(p->parse(head + v, r) == ParseError::kTrailingData, v);
  REQUIRE(p->parse(head + "1000000000.5", r) == ParseError::kNone);
  CHECK(r.duration_us == 1'000'000'000'500'000);
  REQUIRE(p->parse(head + "1000000000000ms", r) == ParseError::kNone);
  CHECK(r.duration_us == 1'000'000'000'000'000);
  REQUIRE(p->parse(head + "12ms", r) == ParseError::kNone);
  CHECK(r.duration_us == 12'000);
  std::vector<std::string_view> sample = {R"x(1.2.3.4 - - [23/Jun/2025:08:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "ua" 15234)x"};
  CHECK(detect_format(sample).format == "combined");
}

// ---------------------------------------------------------------------------------------------
// Apache directives that change a number (issue 18).

namespace {
const char* kDebianLine =
    R"x(203.0.113.5 - - [23/Jun/2025:08:00:00 +0200] "GET /x HTTP/1.1" 200 5316 "-" "curl/8")x";
}

TEST_CASE("logformat: %O (bytes sent, Debian's combined) gives the bytes") {
  // Debian's apache2.conf logs %O, not %b: the report showed 0 bytes.
  auto p = make_parser(R"(logformat:%h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i")");
  Record r;
  REQUIRE(p->parse(kDebianLine, r) == ParseError::kNone);
  CHECK(r.bytes == 5316);
  CHECK(format_rfc3339(r.time_us) == "2025-06-23T06:00:00Z");
  // The nickname is Debian's string.
  auto nick = make_parser("logformat:combined");
  REQUIRE(nick->parse(kDebianLine, r) == ParseError::kNone);
  CHECK(r.bytes == 5316);
  CHECK(nick->name() == "logformat:combined");
}

TEST_CASE("logformat: the body size wins over %O, %O over %S; %I is checked but fills nothing") {
  Record r;
  auto both = make_parser("logformat:%h %I %O %b %S");
  REQUIRE(both->parse("1.2.3.4 300 5400 5000 5700", r) == ParseError::kNone);
  CHECK(r.bytes == 5000);
  auto sent = make_parser("logformat:%h %I %O %S");
  REQUIRE(sent->parse("1.2.3.4 300 5400 5700", r) == ParseError::kNone);
  CHECK(r.bytes == 5400);
  auto transferred = make_parser("logformat:%h %I %S");
  REQUIRE(transferred->parse("1.2.3.4 300 5700", r) == ParseError::kNone);
  CHECK(r.bytes == 5700);
  auto received = make_parser("logformat:%h %I");
  REQUIRE(received->parse("1.2.3.4 300", r) == ParseError::kNone);
  CHECK(r.bytes == -1);
  CHECK(received->parse("1.2.3.4 3x0", r) == ParseError::kBadBytes);
  CHECK(sent->parse("1.2.3.4 300 -1 5700", r) == ParseError::kBadBytes);
  // %B writes 0 where %b writes -: both are read.
  auto body = make_parser("logformat:%h %B");
  REQUIRE(body->parse("1.2.3.4 0", r) == ParseError::kNone);
  CHECK(r.bytes == 0);
}

TEST_CASE("logformat: %T, %{s}T, %{ms}T, %{us}T and %D give the duration; the most precise one wins") {
  Record r;
  REQUIRE(make_parser("logformat:%h %T")->parse("1.2.3.4 2", r) == ParseError::kNone);
  CHECK(r.duration_us == 2'000'000);
  REQUIRE(make_parser("logformat:%h %{s}T")->parse("1.2.3.4 3", r) == ParseError::kNone);
  CHECK(r.duration_us == 3'000'000);
  REQUIRE(make_parser("logformat:%h %{ms}T")->parse("1.2.3.4 250", r) == ParseError::kNone);
  CHECK(r.duration_us == 250'000);
  REQUIRE(make_parser("logformat:%h %{us}T")->parse("1.2.3.4 1234", r) == ParseError::kNone);
  CHECK(r.duration_us == 1234);
  REQUIRE(make_parser("logformat:%h %D")->parse("1.2.3.4 98765", r) == ParseError::kNone);
  CHECK(r.duration_us == 98765);
  // Both logged (`%T %D`, a common pair): %D, the microseconds, not the rounded seconds.
  REQUIRE(make_parser("logformat:%h %T %D")->parse("1.2.3.4 0 98765", r) == ParseError::kNone);
  CHECK(r.duration_us == 98765);
  REQUIRE(make_parser("logformat:%h %D %{ms}T")->parse("1.2.3.4 98765 98", r) == ParseError::kNone);
  CHECK(r.duration_us == 98765);
  CHECK_THROWS_AS(make_parser("logformat:%h %{minutes}T"), Error);
}

TEST_CASE("logformat: times in %{sec}t, %{msec}t, %{usec}t, %{msec_frac}t and strftime formats") {
  Record r;
  REQUIRE(make_parser("logformat:%h %{sec}t")->parse("1.2.3.4 1750665600", r) == ParseError::kNone);
  CHECK(format_rfc3339(r.time_us) == "2025-06-23T08:00:00Z");
  REQUIRE(make_parser("logformat:%h %{msec}t")->parse("1.2.3.4 1750665600123", r) == ParseError::kNone);
  CHECK(format_rfc3339(r.time_us) == "2025-06-23T08:00:00.123000Z");
  REQUIRE(make_parser("logformat:%h %{usec}t")->parse("1.2.3.4 1750665600123456", r) == ParseError::kNone);
  CHECK(format_rfc3339(r.time_us) == "2025-06-23T08:00:00.123456Z");
  REQUIRE(make_parser("logformat:%h %{sec}t.%{msec_frac}t")->parse("1.2.3.4 1750665600.042", r) == ParseError::kNone);
  CHECK(format_rfc3339(r.time_us) == "2025-06-23T08:00:00.042000Z");
  // A strftime time may hold spaces: it is read by its format, not up to the next space.
  auto strf = make_parser("logformat:[%{%Y-%m-%d %H:%M:%S %z}t] %h %>s");
  REQUIRE(strf->parse("[2025-06-23 10:00:00 +0200] 1.2.3.4 404", r) == ParseError::kNone);
  CHECK(format_rfc3339(r.time_us) == "2025-06-23T08:00:00Z");
  CHECK(r.status == 404);
  REQUIRE(make_parser("logformat:%{begin:%d/%b/%Y:%T %z}t %h")->parse("23/Jun/2025:10:00:00 +0200 1.2.3.4", r) ==
          ParseError::kNone);
  CHECK(format_rfc3339(r.time_us) == "2025-06-23T08:00:00Z");
  CHECK(strf->parse("[2025-06-23 10:00 +0200] 1.2.3.4 404", r) == ParseError::kBadTime);
  CHECK_THROWS_AS(make_parser("logformat:%{%A %d}t %h"), Error);  // %A cannot be read back
}

TEST_CASE("logformat: %{X-Forwarded-For}i gives the client when the format has no %h") {
  Record r;
  auto p = make_parser(R"(logformat:"%{X-Forwarded-For}i" %l %u %t "%r" %>s %b)");
  REQUIRE(p->parse(R"x("10.0.0.1, 203.0.113.7" - - [23/Jun/2025:08:00:00 +0000] "GET / HTTP/1.1" 200 5)x", r) ==
          ParseError::kNone);
  CHECK(r.ip == "203.0.113.7");
}

// ---------------------------------------------------------------------------------------------
// nginx log_format strings (issue 18).

TEST_CASE("nginxformat: a log_format string, its default combined and the main of nginx.conf") {
  Record r;
  auto p = make_parser(
      R"(nginxformat:$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time)");
  REQUIRE(p->parse(R"x(203.0.113.5 - ann [23/Jun/2025:10:00:00 +0200] "GET /a?b=1 HTTP/2.0" 503 0 "-" "curl/8" 0.250)x", r) ==
          ParseError::kNone);
  CHECK(r.ip == "203.0.113.5");
  CHECK(r.user == "ann");
  CHECK(format_rfc3339(r.time_us) == "2025-06-23T08:00:00Z");
  CHECK(r.url == "/a?b=1");
  CHECK(r.status == 503);
  CHECK(r.bytes == 0);
  CHECK(r.referer.empty());
  CHECK(r.agent == "curl/8");
  CHECK(r.duration_us == 250000);
  auto main = make_parser("nginxformat:main");
  REQUIRE(main->parse(R"x(172.24.0.3 - - [31/Dec/2024:17:32:06 +0000] "GET / HTTP/1.1" 200 615 "-" "curl/8.11.1" "1.2.3.4, 10.10.1.1")x", r) ==
          ParseError::kNone);
  CHECK(r.ip == "172.24.0.3");  // $remote_addr; X-Forwarded-For is only a fallback
  CHECK(make_parser("nginxformat:combined")->name() == "nginxformat:combined");
}

TEST_CASE("nginxformat: a whole log_format statement, ${var}, $msec, $time_iso8601, a literal %") {
  Record r;
  auto p = make_parser(
      "nginxformat:log_format timed escape=default '$remote_addr ${status}% [$time_iso8601] '\n"
      "                 '$msec \"$request\"';");
  REQUIRE(p->parse(R"x(203.0.113.5 200% [2025-06-23T10:00:00+02:00] 1750665600.250 "GET / HTTP/1.1")x", r) ==
          ParseError::kNone);
  CHECK(r.status == 200);
  CHECK(format_rfc3339(r.time_us) == "2025-06-23T08:00:00.250000Z");  // $msec comes after
  CHECK(r.method == "GET");
}

TEST_CASE("nginxformat: a --format of $variables is an nginx log_format, also after logformat:") {
  Record r;
  const char* line = R"x(203.0.113.5 - - [23/Jun/2025:10:00:00 +0200] "GET / HTTP/1.1" 200 12)x";
  for (const char* f : {R"($remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent)",
                        R"(logformat:$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent)"}) {
    auto p = make_parser(f);
    INFO(f);
    REQUIRE(p->parse(line, r) == ParseError::kNone);
    CHECK(r.bytes == 12);
    CHECK(std::string(p->name()).starts_with("nginxformat:"));
  }
  CHECK_THROWS_AS(make_parser("nginxformat:$remote_addr$status"), Error);  // cannot be split
  CHECK_THROWS_AS(make_parser("nginxformat:log_format x '$status"), Error);
}

// ---------------------------------------------------------------------------------------------
// fields: optional trailing fields, quoted values, values that mean none (issue 18).

TEST_CASE("fields: a line may end before its optional trailing fields (the seed's empty referrer)") {
  // Without `?`, a line whose last field was empty was malformed: 3 of 6 lines of a real sample,
  // one of them an ERROR.
  auto p = make_parser("fields:date time level request_id session user action method url referer?");
  Record r;
  REQUIRE(p->parse("2023-12-22 22:07:38.001 ERROR req_1 s u checkout POST /pay", r) == ParseError::kNone);
  CHECK(r.level == "ERROR");
  CHECK(r.url == "/pay");
  CHECK(r.referer.empty());
  CHECK(p->parse("2023-12-22 22:07:38.001 ERROR req_1 s u checkout POST", r) == ParseError::kMissingField);
  CHECK_THROWS_AS(make_parser("fields:date time level? message"), Error);  // only trailing fields
}

TEST_CASE("fields: quoted values hold spaces; none= names values that mean absent") {
  auto p = make_parser(R"(fields:date time level user referer? agent? none="Direct Entry" none=N/A)");
  Record r;
  REQUIRE(p->parse(R"x(2023-12-22 22:07:38 INFO "Ann Lee" "Direct Entry" "Mozilla/5.0 (X11)")x", r) == ParseError::kNone);
  CHECK(r.user == "Ann Lee");
  CHECK(r.referer.empty());  // not a top referer: direct traffic
  CHECK(r.agent == "Mozilla/5.0 (X11)");
  REQUIRE(p->parse("2023-12-22 22:07:38 INFO N/A https://ex.com/ curl/8 and more", r) == ParseError::kNone);
  CHECK(r.user.empty());
  CHECK(r.referer == "https://ex.com/");
  CHECK(r.agent == "curl/8 and more");  // the last field still takes the rest of the line
  CHECK(p->parse(R"(2023-12-22 22:07:38 INFO "Ann)", r) == ParseError::kUnterminatedQuote);
  CHECK_THROWS_AS(make_parser(R"(fields:date none="x)"), Error);
}

TEST_CASE("applog: what generate --format applog writes, with an optional referer that may be Direct Entry") {
  auto p = make_parser("applog");
  CHECK(p->name() == "applog");
  Record r;
  REQUIRE(p->parse("2023-12-22 22:07:37.780 INFO req_18648 k3v0q9 anna.smith view_page GET /login https://www.bing.com/", r) ==
          ParseError::kNone);
  CHECK(r.session == "k3v0q9");
  CHECK(r.referer == "https://www.bing.com/");
  REQUIRE(p->parse("2023-12-22 22:07:37.780 ERROR req_18649 k3v0q9 - login POST /login Direct Entry", r) ==
          ParseError::kNone);
  CHECK(r.referer.empty());
  CHECK(r.user.empty());
  REQUIRE(p->parse("2023-12-22 22:07:37.780 INFO req_18650 k3v0q9 anna.smith search GET /search", r) == ParseError::kNone);
}

TEST_CASE("combined: Traefik's trailing request count and `12ms` duration") {
  auto p = make_parser("combined");
  Record r;
  REQUIRE(p->parse(R"x(192.168.33.1 - - [02/Oct/2017:20:22:07 +0000] "GET / HTTP/1.1" 304 0 "-" "ua" 262 "router" "http://172.19.0.3:5601" 12ms)x", r) ==
          ParseError::kNone);
  CHECK(r.duration_us == 12000);
  REQUIRE(p->parse(R"x(1.2.3.4 - - [02/Oct/2017:20:22:07 +0000] "GET / HTTP/1.1" 200 0 "-" "ua" 2.5ms)x", r) == ParseError::kNone);
  CHECK(r.duration_us == 2500);
}

// ---------------------------------------------------------------------------------------------
// Detection (issue 18: each "Why" case).

TEST_CASE("detection: nginx JSON access logs are json:nginx, not edX (issue 18)") {
  // Detected as edx before: one request, no IP, no URL, no status, 0 malformed, exit 0.
  std::vector<std::string_view> sample = {
      R"({"time":"2025-06-23T08:00:00+00:00","remote_addr":"203.0.113.5","request":"GET /a HTTP/1.1","status":200})",
      R"({"time":"2025-06-23T08:00:01+00:00","remote_addr":"203.0.113.6","request":"GET /b HTTP/1.1","status":404})"};
  FormatGuess g = detect_format(sample);
  CHECK(g.format == "json:nginx");
  CHECK(g.reads_well());
  auto p = make_parser(g.format);
  Record r;
  REQUIRE(p->parse(sample[1], r) == ParseError::kNone);
  CHECK(r.ip == "203.0.113.6");
  CHECK(r.url == "/b");
  CHECK(r.status == 404);
}

TEST_CASE("detection: edX lines behind a syslog prefix are syslog+edx, not combined (issue 18)") {
  std::vector<std::string_view> sample = {
      R"(May  9 10:11:12 lms-1 tracking[123]: {"username": "ann", "event_type": "page_close", "time": "2015-05-09T10:11:12+00:00"})",
      R"(May  9 10:11:13 lms-1 tracking[123]: {"username": "bob", "event_type": "play_video", "time": "2015-05-09T10:11:13+00:00"})"};
  CHECK(detect_format(sample).format == "syslog+edx");
}

TEST_CASE("detection: application logs are applog or fields:, not combined (issue 18)") {
  std::vector<std::string_view> applog = {
      "2023-12-22 22:07:37.780 INFO req_18648 session_1755 user_213 view_page GET /login https://www.bing.com",
      "2023-12-22 22:07:38.001 ERROR req_18649 session_1755 user_213 checkout POST /pay",
      "2023-12-22 22:07:39.500 INFO req_18650 session_1800 user_7 view_page GET /login Direct Entry"};
  CHECK(detect_format(applog).format == "applog");
  std::vector<std::string_view> generic = {"2023-12-22 22:07:37 ERROR database gone", "2023-12-22 22:07:38 INFO back"};
  CHECK(detect_format(generic).format == "fields:date time level message?");
  std::vector<std::string_view> iso = {"2023-12-22T22:07:37Z WARN disk 91% full"};
  CHECK(detect_format(iso).format == "fields:timestamp level message?");
}

TEST_CASE("detection: container runtimes and other access-log layouts") {
  std::vector<std::string_view> docker = {
      R"({"log":"203.0.113.5 - - [23/Jun/2025:08:00:00 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"ua\"\n","stream":"stdout","time":"2025-06-23T08:00:00.1Z"})"};
  CHECK(detect_format(docker).format == "docker+combined");
  std::vector<std::string_view> cri = {
      R"(2025-06-23T08:00:00.1Z stdout F {"time":"2025-06-23T08:00:00+00:00","remote_addr":"1.2.3.4","status":200})"};
  CHECK(detect_format(cri).format == "cri+json:nginx");
  std::vector<std::string_view> vhost = {
      R"x(example.com:443 203.0.113.5 - - [23/Jun/2025:08:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "ua")x"};
  CHECK(detect_format(vhost).format == "logformat:vhost_combined");
  std::vector<std::string_view> ingress = {
      R"x(0.0.0.0 - bob [18/Mar/2023:15:00:00 +0000] "GET /some/path HTTP/2.0" 200 12312 "https://10.0.0.1/" "ua" 462 0.050 [svc-9000] [] 10.0.50.80:9000 19437 0.049 200 752178adb17130b291aefd8c386279e7)x"};
  CHECK(detect_format(ingress).format == "nginxformat:upstreaminfo");
}

TEST_CASE("detection: a sample no format reads well names candidates and a format to try") {
  std::vector<std::string_view> sample = {"2023-12-22 22:07:37,780 [main] something happened",
                                          "key=value other=thing", "free text"};
  FormatGuess g = detect_format(sample);
  CHECK_FALSE(g.reads_well());
  CHECK(g.lines == 3);
  CHECK_FALSE(g.suggestion.empty());
  std::vector<std::string_view> empty = {"", "  "};
  CHECK(detect_format(empty).reads_well());
}

// ---------------------------------------------------------------------------------------------
// edX course ids: one rule for every place (issue 18).

TEST_CASE("edx: a server event on an xblock usage key gets the course-v1 id, as a browser page does (issue 18)") {
  // It got `Org+Course+Run` without `course-v1:`, splitting a course in two.
  auto p = make_parser("edx");
  Record r;
  REQUIRE(p->parse(R"({"event_source": "server", "context": {}, "event_type": "/xblock/block-v1:FUN+C1+2015+type@problem+block@a1/handler/x"})", r) ==
          ParseError::kNone);
  CHECK(r.course_id == "course-v1:FUN+C1+2015");
  REQUIRE(p->parse(R"({"event_source": "browser", "context": {}, "page": "https://lms/xblock/block-v1:FUN+C1+2015+type@vertical+block@v"})", r) ==
          ParseError::kNone);
  CHECK(r.course_id == "course-v1:FUN+C1+2015");
}

TEST_CASE("edx: the course from context, the event, the page, the path, the module's usage key, old ids") {
  auto p = make_parser("edx");
  Record r;
  auto course = [&](const char* line) {
    REQUIRE(p->parse(line, r) == ParseError::kNone);
    return std::string(r.course_id);
  };
  CHECK(course(R"({"context": {"course_id": "course-v1:A+B+C"}, "event_type": "/courses/course-v1:X+Y+Z/about"})") == "course-v1:A+B+C");
  CHECK(course(R"({"context": {"course_id": "ENSCachan/20003S02/Trimestre_1_2015"}})") == "ENSCachan/20003S02/Trimestre_1_2015");
  CHECK(course(R"({"event_source": "server", "context": {}, "event_type": "/courses/edX/DemoX/Demo_Course/info"})") == "edX/DemoX/Demo_Course");
  CHECK(course(R"({"event_source": "server", "context": {"path": "/courses/course-v1:P+Q+R/courseware"}, "event_type": "problem_check"})") == "course-v1:P+Q+R");
  CHECK(course(R"({"event_source": "server", "context": {"module": {"usage_key": "block-v1:M+N+O+type@video+block@v1"}}, "event_type": "load_video"})") == "course-v1:M+N+O");
  CHECK(course(R"({"event_source": "server", "context": {}, "event_type": "edx.course.enrollment.activated", "event": {"course_id": "course-v1:E+F+G", "user_id": 1}})") == "course-v1:E+F+G");
  CHECK(course(R"({"event_source": "browser", "context": {}, "page": "https://lms/asset-v1:H+I+J+type@asset+block@x.png"})") == "course-v1:H+I+J");
  CHECK(course(R"({"event_source": "server", "context": {}, "event_type": "/courses/ccx-v1:A+B+C+ccx@12/courseware"})") == "ccx-v1:A+B+C+ccx@12");
  // A usage key without its `+type@` part is no key (edx-analytics-pipeline agrees).
  CHECK(course(R"({"event_source": "browser", "context": {}, "page": "https://lms/xblock/block-v1:A+B+C?p=1"})") == "");
  CHECK(course(R"({"event_source": "server", "context": {}, "event_type": "/courses/onlytwo/parts"})") == "");
}

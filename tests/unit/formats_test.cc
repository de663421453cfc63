#include "logpipe/format.h"
#include "logpipe/timeutil.h"

#include <doctest/doctest.h>

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

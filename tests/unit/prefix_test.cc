// Line prefixes in front of any format (src/core/prefix.cc): syslog (RFC 3164, RFC 5424), CRI
// and Docker's json-file wrapper; the record takes the prefix's host and time only where the
// format behind it has none.
#include "logpipe/error.h"
#include "logpipe/format.h"
#include "logpipe/timeutil.h"

#include <doctest/doctest.h>

#include <string>

using namespace logpipe;

namespace {
const char* kCombined = R"x(203.0.113.5 - - [23/Jun/2025:08:00:00 +0000] "GET /a HTTP/1.1" 200 5 "-" "ua")x";
}

TEST_CASE("syslog+: RFC 3164 and RFC 5424 in front of an access log") {
  auto p = make_parser("syslog+combined");
  CHECK(p->name() == "syslog+combined");
  Record r;
  for (std::string prefix : {"Jun 23 08:00:09 web-1 nginx[42]: ", "<190>Jun  3 08:00:09 web-1 nginx: ",
                             "<190>1 2025-06-23T08:00:09Z web-1 nginx 42 - - ",
                             "2025-06-23T10:00:09+02:00 web-1 nginx[42]: "}) {
    INFO(prefix);
    const std::string line = prefix + kCombined;  // the record's fields are views into it
    REQUIRE(p->parse(line, r) == ParseError::kNone);
    CHECK(r.ip == "203.0.113.5");
    CHECK(format_rfc3339(r.time_us) == "2025-06-23T08:00:00Z");  // the access log's own time
    CHECK(r.host == "web-1");                                    // the access log has none
    CHECK(r.url == "/a");
  }
  CHECK(p->parse(kCombined, r) == ParseError::kBadPrefix);
}

TEST_CASE("syslog+: the prefix's time where the format behind has none; RFC 3164 has no year") {
  auto p = make_parser("syslog+fields:level message");
  Record r;
  REQUIRE(p->parse("<11>1 2025-06-23T08:00:09.5+02:00 app-1 api - - [id@1 a=\"x\\]y\"] ERROR it broke", r) == ParseError::kNone);
  CHECK(format_rfc3339(r.time_us) == "2025-06-23T06:00:09.500000Z");
  CHECK(r.level == "ERROR");
  CHECK(r.host == "app-1");
  REQUIRE(p->parse("Jun 23 08:00:09 app-1 api: WARN slow", r) == ParseError::kNone);
  CHECK(format_rfc3339(r.time_us).substr(4) == "-06-23T08:00:09Z");  // this year, or the last
  CHECK(r.level == "WARN");
}

TEST_CASE("cri+: containerd's log lines; a partial line is a fragment, not a record") {
  auto p = make_parser("cri+combined");
  Record r;
  REQUIRE(p->parse(std::string("2025-06-23T08:00:00.123456789Z stdout F ") + kCombined, r) == ParseError::kNone);
  CHECK(r.status == 200);
  CHECK(p->parse(std::string("2025-06-23T08:00:00.1Z stdout P ") + kCombined, r) == ParseError::kPartialLine);
  CHECK(p->parse(std::string("2025-06-23T08:00:00.1Z console F ") + kCombined, r) == ParseError::kBadPrefix);
  auto msg = make_parser("cri+fields:message");
  REQUIRE(msg->parse("2025-06-23T08:00:00.1Z stderr F   indented text", r) == ParseError::kNone);
  CHECK(format_rfc3339(r.time_us) == "2025-06-23T08:00:00.100000Z");
}

TEST_CASE("docker+: the log string decoded, escapes and all; its time, its newline dropped") {
  auto p = make_parser("docker+combined");
  Record r;
  const char* line =
      R"({"log":"203.0.113.5 - - [23/Jun/2025:08:00:00 +0000] \"GET /caf\u00e9 HTTP/1.1\" 200 5 \"-\" \"ua\"\n","stream":"stdout","time":"2025-06-23T08:00:00.5Z"})";
  REQUIRE(p->parse(line, r) == ParseError::kNone);
  CHECK(r.url == "/caf\xc3\xa9");
  CHECK(r.agent == "ua");
  CHECK(p->parse(R"({"log":"x\n","stream":"stdout"})", r) == ParseError::kBadPrefix);
  CHECK(p->parse(R"({"log":"x\n","stream":"stdout","time":"noon"})", r) == ParseError::kBadTime);
  std::string chunk(16 * 1024, 'a');
  CHECK(p->parse(R"({"log":")" + chunk + R"(","stream":"stdout","time":"2025-06-23T08:00:00Z"})", r) ==
        ParseError::kPartialLine);
}

TEST_CASE("prefixes nest: docker+syslog+edx") {
  auto p = make_parser("docker+syslog+edx");
  Record r;
  REQUIRE(p->parse(R"({"log":"May  9 10:11:12 lms-1 tracking[1]: {\"username\": \"ann\", \"event_type\": \"play_video\"}\n","time":"2015-05-09T10:11:12Z"})",
                   r) == ParseError::kNone);
  CHECK(r.user == "ann");
  CHECK(r.event_type == "play_video");
  CHECK(format_rfc3339(r.time_us).ends_with("-05-09T10:11:12Z"));
}

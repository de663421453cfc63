// JSON access logs with a field mapping (src/core/jsonlog.cc): the nginx, Caddy, Traefik and ECS
// presets, user mappings, values of every JSON type, and the lines that are not this format.
#include "logpipe/error.h"
#include "logpipe/format.h"
#include "logpipe/timeutil.h"

#include <doctest/doctest.h>

using namespace logpipe;

TEST_CASE("json:nginx: the variable names of an escape=json log_format") {
  auto p = make_parser("json:nginx");
  Record r;
  REQUIRE(p->parse(R"({"time_local":"23/Jun/2025:10:00:00 +0200","remote_addr":"203.0.113.5","remote_user":"-","request":"GET /a?b=1 HTTP/1.1","status":"404","body_bytes_sent":"153","http_referer":"","http_user_agent":"curl/8","request_time":"0.050","upstream_response_time":"0.049, 0.001"})",
                   r) == ParseError::kNone);
  CHECK(format_rfc3339(r.time_us) == "2025-06-23T08:00:00Z");
  CHECK(r.ip == "203.0.113.5");
  CHECK(r.user.empty());
  CHECK(r.method == "GET");
  CHECK(r.url == "/a?b=1");
  CHECK(r.protocol == "HTTP/1.1");
  CHECK(r.status == 404);
  CHECK(r.bytes == 153);
  CHECK(r.referer.empty());
  CHECK(r.agent == "curl/8");
  CHECK(r.duration_us == 50000);
  // $time_iso8601 is preferred to $time_local, numbers may be JSON numbers, $msec an epoch.
  REQUIRE(p->parse(R"({"msec":1750665600.5,"time_local":"bad","time_iso8601":"2025-06-23T10:00:00+02:00","status":200,"request_method":"PUT","request_uri":"/x","request":"GET /y HTTP/1.0"})",
                   r) == ParseError::kNone);
  CHECK(format_rfc3339(r.time_us) == "2025-06-23T08:00:00Z");
  CHECK(r.method == "PUT");  // its own field wins over the request line
  CHECK(r.url == "/x");
  CHECK(r.protocol == "HTTP/1.0");
}

TEST_CASE("json:caddy: nested request object, header arrays, epoch seconds, duration in seconds") {
  auto p = make_parser("json:caddy");
  Record r;
  REQUIRE(p->parse(R"({"level":"info","ts":1646861401.5241024,"logger":"http.log.access.log0","msg":"handled request","request":{"remote_ip":"127.0.0.1","remote_port":"41342","client_ip":"203.0.113.9","proto":"HTTP/1.1","method":"GET","host":"localhost","uri":"/","headers":{"User-Agent":["curl/7.82.0"],"Accept":["*/*"]}},"user_id":"","duration":0.000929675,"size":10900,"status":200,"resp_headers":{"Server":["Caddy"]}})",
                   r) == ParseError::kNone);
  CHECK(format_rfc3339(r.time_us) == "2022-03-09T21:30:01.524102Z");
  CHECK(r.ip == "203.0.113.9");  // client_ip (the trusted client) before remote_ip
  CHECK(r.agent == "curl/7.82.0");
  CHECK(r.host == "localhost");
  CHECK(r.bytes == 10900);
  CHECK(r.duration_us == 929);
  CHECK(r.user.empty());
}

TEST_CASE("json:traefik: its field names, the duration in nanoseconds") {
  auto p = make_parser("json:traefik");
  Record r;
  REQUIRE(p->parse(R"({"ClientHost":"203.0.113.7","ClientUsername":"-","DownstreamContentSize":612,"DownstreamStatus":502,"Duration":1234567,"OriginStatus":0,"RequestHost":"example.com","RequestMethod":"GET","RequestPath":"/api","RequestProtocol":"HTTP/2.0","StartUTC":"2025-06-23T08:00:00.123456789Z","request_User-Agent":"Go-http-client/1.1","level":"info","time":"2025-06-23T08:00:01Z"})",
                   r) == ParseError::kNone);
  CHECK(format_rfc3339(r.time_us) == "2025-06-23T08:00:00.123456Z");
  CHECK(r.ip == "203.0.113.7");
  CHECK(r.status == 502);
  CHECK(r.bytes == 612);
  CHECK(r.duration_us == 1234);
  CHECK(r.url == "/api");
  CHECK(r.agent == "Go-http-client/1.1");
}

TEST_CASE("json:ecs: nested and dotted keys, the HTTP version as ECS writes it") {
  auto p = make_parser("json:ecs");
  Record r;
  const char* nested =
      R"({"@timestamp":"2025-06-23T08:00:00.000Z","source":{"ip":"203.0.113.5"},"http":{"request":{"method":"GET","referrer":"https://ex/"},"response":{"status_code":200,"body":{"bytes":42}},"version":"1.1"},"url":{"original":"/a?b"},"user_agent":{"original":"ua"},"event":{"duration":2500000}})";
  const char* dotted =
      R"({"@timestamp":"2025-06-23T08:00:00.000Z","source.ip":"203.0.113.5","http.request.method":"GET","http.request.referrer":"https://ex/","http.response.status_code":200,"http.response.body.bytes":42,"http.version":"1.1","url.original":"/a?b","user_agent.original":"ua","event.duration":2500000})";
  for (const char* line : {nested, dotted}) {
    INFO(line);
    REQUIRE(p->parse(line, r) == ParseError::kNone);
    CHECK(r.ip == "203.0.113.5");
    CHECK(r.method == "GET");
    CHECK(r.referer == "https://ex/");
    CHECK(r.status == 200);
    CHECK(r.bytes == 42);
    CHECK(r.protocol == "HTTP/1.1");
    CHECK(r.url == "/a?b");
    CHECK(r.duration_us == 2500);
  }
}

TEST_CASE("json: user mappings, alone or over a preset; every known mapping with plain json") {
  Record r;
  auto own = make_parser("json:time=when,ip=client.addr,url=path,status=code,duration_ms=took,user=who");
  REQUIRE(own->parse(R"({"when":1750665600000,"client":{"addr":"198.51.100.1"},"path":"/p","code":"500","took":12.5,"who":"ann"})", r) ==
          ParseError::kNone);
  CHECK(format_rfc3339(r.time_us) == "2025-06-23T08:00:00Z");  // milliseconds, by magnitude
  CHECK(r.ip == "198.51.100.1");
  CHECK(r.status == 500);
  CHECK(r.duration_us == 12500);
  CHECK(r.user == "ann");
  // A user's path goes before the preset's for that field.
  auto over = make_parser("json:nginx,ip=http_x_real_ip");
  REQUIRE(over->parse(R"({"remote_addr":"10.0.0.1","http_x_real_ip":"203.0.113.8","status":200})", r) == ParseError::kNone);
  CHECK(r.ip == "203.0.113.8");
  auto any = make_parser("json");
  REQUIRE(any->parse(R"({"ClientHost":"203.0.113.7","DownstreamStatus":200,"StartUTC":"2025-06-23T08:00:00Z"})", r) == ParseError::kNone);
  CHECK(r.status == 200);
  CHECK(any->name() == "json");
  CHECK_THROWS_AS(make_parser("json:apache"), Error);
  CHECK_THROWS_AS(make_parser("json:colour=c"), Error);
  CHECK_THROWS_AS(make_parser("json:ip=a..b"), Error);
  CHECK_NOTHROW(make_parser("json:nginx, ip=x ,"));  // spaces and one trailing comma
  CHECK_THROWS_AS(make_parser("json:nginx,,ip=x"), Error);
  CHECK_THROWS_AS(make_parser("json:,"), Error);
}

TEST_CASE("json: epochs in seconds, milliseconds, microseconds and nanoseconds") {
  auto p = make_parser("json:time=t,status=s");
  Record r;
  for (const char* t : {"1750665600", "1750665600000", "1750665600000000", "1750665600000000000", "\"1750665600.000\""}) {
    std::string line = std::string(R"({"t":)") + t + R"(,"s":200})";
    INFO(line);
    REQUIRE(p->parse(line, r) == ParseError::kNone);
    CHECK(format_rfc3339(r.time_us) == "2025-06-23T08:00:00Z");
  }
}

TEST_CASE("json: lines that are not this format, and values that are wrong, are malformed") {
  auto p = make_parser("json:nginx");
  Record r;
  CHECK(p->parse("not json", r) == ParseError::kNotJsonObject);
  CHECK(p->parse(R"({"status":200)", r) == ParseError::kBadJson);
  CHECK(p->parse(R"({"status":200} trailing)", r) == ParseError::kBadJson);
  CHECK(p->parse(R"({"status":"OK"})", r) == ParseError::kBadStatus);
  CHECK(p->parse(R"({"status":99})", r) == ParseError::kBadStatus);
  CHECK(p->parse(R"({"body_bytes_sent":-5})", r) == ParseError::kBadBytes);
  CHECK(p->parse(R"({"time":"yesterday"})", r) == ParseError::kBadTime);
  CHECK(p->parse(R"({"request_time":"fast"})", r) == ParseError::kBadField);
  // An object with none of the mapped keys (an edX event read as nginx) is not a record.
  CHECK(p->parse(R"({"username":"ann","event_type":"page_close"})", r) == ParseError::kMissingField);
  // null and objects where a value was expected are absent, not errors.
  REQUIRE(p->parse(R"({"status":200,"remote_user":null,"http_user_agent":{"x":1}})", r) == ParseError::kNone);
  CHECK(r.user.empty());
  CHECK(r.agent.empty());
}

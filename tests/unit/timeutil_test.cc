#include "logpipe/timeutil.h"

#include <doctest/doctest.h>

using namespace logpipe;

TEST_CASE("apache time: offsets are converted to UTC") {
  int64_t us = 0;
  REQUIRE(parse_apache_time("10/Oct/2000:13:55:36 -0700", us));
  CHECK(format_rfc3339(us) == "2000-10-10T20:55:36Z");
  REQUIRE(parse_apache_time("26/Dec/2016:16:16:29 +0200", us));
  CHECK(format_rfc3339(us) == "2016-12-26T14:16:29Z");
  REQUIRE(parse_apache_time("01/Jan/2000:00:30:00 +0100", us));
  CHECK(format_rfc3339(us) == "1999-12-31T23:30:00Z");
}

TEST_CASE("apache time: rejects malformed values") {
  int64_t us = 0;
  CHECK_FALSE(parse_apache_time("1234", us));
  CHECK_FALSE(parse_apache_time("10/Foo/2000:13:55:36 -0700", us));
  CHECK_FALSE(parse_apache_time("31/Feb/2000:13:55:36 +0000", us));
  CHECK_FALSE(parse_apache_time("29/Feb/2001:13:55:36 +0000", us));
  CHECK(parse_apache_time("29/Feb/2000:13:55:36 +0000", us));
  CHECK_FALSE(parse_apache_time("10/Oct/2000:25:55:36 +0000", us));
  CHECK_FALSE(parse_apache_time("10/Oct/2000:13:55:36 +0000x", us));
}

TEST_CASE("iso time: fractions, zones and naive UTC") {
  int64_t us = 0;
  REQUIRE(parse_iso_time("2013-12-17T15:38:32.805444+00:00", us));
  CHECK(format_rfc3339(us) == "2013-12-17T15:38:32.805444Z");
  REQUIRE(parse_iso_time("2013-12-17T15:38:32", us));
  CHECK(format_rfc3339(us) == "2013-12-17T15:38:32Z");
  REQUIRE(parse_iso_time("2013-12-17T17:38:32+0200", us));
  CHECK(format_rfc3339(us) == "2013-12-17T15:38:32Z");
  REQUIRE(parse_iso_time("2025-06-23", us));
  CHECK(format_rfc3339(us) == "2025-06-23T00:00:00Z");
  CHECK_FALSE(parse_iso_time("2013-12-17T15:38", us));
  CHECK_FALSE(parse_iso_time("2013-13-17T15:38:32", us));
}

TEST_CASE("durations") {
  int64_t us = 0;
  REQUIRE(parse_duration("30s", us));
  CHECK(us == 30'000'000);
  REQUIRE(parse_duration("5m", us));
  CHECK(us == 300'000'000);
  REQUIRE(parse_duration("24h", us));
  CHECK(us == 86'400'000'000);
  REQUIRE(parse_duration("250ms", us));
  CHECK(us == 250'000);
  REQUIRE(parse_duration("60", us));
  CHECK(us == 60'000'000);
  CHECK_FALSE(parse_duration("5 minutes", us));
  CHECK_FALSE(parse_duration("", us));
}

TEST_CASE("durations: nan, inf and absurd sizes are refused, not converted (UB found by fuzzing)") {
  int64_t us = 7;
  for (const char* s : {"nan", "nans", "inf", "infd", "1e300", "1e300s", "1e10d", "-0.5s"})
    CHECK_MESSAGE(!parse_duration(s, us), s);
  CHECK(us == 7);
  REQUIRE(parse_duration("365d", us));
  CHECK(us == 31'536'000'000'000);
  REQUIRE(parse_duration("100000d", us));  // stream --lateness 100000d: never late
  CHECK(us == 8'640'000'000'000'000);
  CHECK(duration_in_range(kMaxDurationUs));
  CHECK_FALSE(duration_in_range(kMaxDurationUs * 2));
  CHECK_FALSE(duration_in_range(-1));
}

TEST_CASE("formatting round-trips through the parsers") {
  char buf[32];
  for (int64_t s : {0LL, 951782400LL, 1750665600LL, 4102444799LL}) {
    int64_t us = s * 1'000'000, back = 0;
    size_t n = format_apache_time(us, buf);
    REQUIRE(parse_apache_time(std::string_view(buf, n), back));
    CHECK(back == us);
    n = format_rfc3339_seconds(us, buf);
    REQUIRE(parse_iso_time(std::string_view(buf, n), back));
    CHECK(back == us);
  }
}

// Time zones (src/core/timezone.cc): offsets from the system's TZif files and their POSIX
// footer, the changes of offset, and local wall times back to UTC across a gap and an overlap.
// The expected offsets are the published rules of each zone (EU: last Sunday of March and of
// October at 01:00 UTC; Australia/Sydney: first Sunday of October and of April).
#include "logpipe/timezone.h"

#include "logpipe/error.h"
#include "logpipe/timeutil.h"

#include <doctest/doctest.h>

#include <climits>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

using namespace logpipe;

namespace {

int64_t at(const char* rfc3339) {
  int64_t us;
  REQUIRE(parse_iso_time(rfc3339, us));
  return us;
}

bool have_zoneinfo() {
  std::ifstream f("/usr/share/zoneinfo/Europe/Paris");
  if (!f) MESSAGE("SKIPPED: no /usr/share/zoneinfo (tzdata not installed)");
  return bool(f);
}

}  // namespace

TEST_CASE("timezone: UTC needs no file and never moves") {
  TimeZone utc = TimeZone::load("UTC");
  CHECK(utc.is_utc());
  CHECK(utc.offset_at(at("2025-06-23T08:00:00Z")) == 0);
  CHECK(utc.to_utc(at("2025-06-23T08:00:00Z")) == at("2025-06-23T08:00:00Z"));
  CHECK(TimeZone().name() == "UTC");
}

TEST_CASE("timezone: Europe/Paris, summer and winter, the changes of 2024 and of 2099 (POSIX rule)") {
  if (!have_zoneinfo()) return;
  TimeZone paris = TimeZone::load("Europe/Paris");
  CHECK_FALSE(paris.is_utc());
  CHECK(paris.offset_at(at("2024-01-15T12:00:00Z")) == 3600);
  CHECK(paris.offset_at(at("2024-07-15T12:00:00Z")) == 7200);
  CHECK(paris.offset_at(at("2024-03-31T00:59:59Z")) == 3600);
  CHECK(paris.offset_at(at("2024-03-31T01:00:00Z")) == 7200);
  CHECK(paris.offset_at(at("2024-10-27T00:59:59Z")) == 7200);
  CHECK(paris.offset_at(at("2024-10-27T01:00:00Z")) == 3600);
  CHECK(paris.next_change(at("2024-02-01T00:00:00Z")) == at("2024-03-31T01:00:00Z"));
  CHECK(paris.next_change(at("2024-03-31T01:00:00Z")) == at("2024-10-27T01:00:00Z"));
  // Far past any listed transition: the footer `CET-1CEST,M3.5.0,M10.5.0/3`.
  CHECK(paris.offset_at(at("2099-03-29T00:59:59Z")) == 3600);
  CHECK(paris.offset_at(at("2099-03-29T01:00:00Z")) == 7200);
  CHECK(paris.offset_at(at("2099-10-25T01:00:00Z")) == 3600);
  CHECK(paris.next_change(at("2099-06-01T00:00:00Z")) == at("2099-10-25T01:00:00Z"));
}

TEST_CASE("timezone: local times back to UTC: the skipped hour and the repeated one") {
  if (!have_zoneinfo()) return;
  TimeZone paris = TimeZone::load("Europe/Paris");
  CHECK(paris.to_utc(at("2024-06-01T00:00:00Z")) == at("2024-05-31T22:00:00Z"));  // local midnight
  // 02:30 does not exist on 2024-03-31: read with the offset before the gap, it is 03:30 CEST.
  CHECK(paris.to_utc(at("2024-03-31T02:30:00Z")) == at("2024-03-31T01:30:00Z"));
  // 02:30 happens twice on 2024-10-27: the first (CEST) unless the offset says otherwise.
  CHECK(paris.to_utc(at("2024-10-27T02:30:00Z")) == at("2024-10-27T00:30:00Z"));
  CHECK(paris.to_utc(at("2024-10-27T02:30:00Z"), 3600) == at("2024-10-27T01:30:00Z"));
}

TEST_CASE("timezone: the southern hemisphere and half-hour offsets") {
  if (!have_zoneinfo()) return;
  TimeZone sydney = TimeZone::load("Australia/Sydney");
  CHECK(sydney.offset_at(at("2024-01-15T00:00:00Z")) == 11 * 3600);  // summer: AEDT
  CHECK(sydney.offset_at(at("2024-07-15T00:00:00Z")) == 10 * 3600);
  CHECK(sydney.offset_at(at("2099-01-15T00:00:00Z")) == 11 * 3600);  // the rule across new year
  CHECK(sydney.offset_at(at("2099-07-15T00:00:00Z")) == 10 * 3600);
  TimeZone kolkata = TimeZone::load("Asia/Kolkata");
  CHECK(kolkata.offset_at(at("2024-01-15T00:00:00Z")) == 5 * 3600 + 1800);
  CHECK(kolkata.next_change(at("2024-01-15T00:00:00Z")) == INT64_MAX);
}

TEST_CASE("timezone: unknown names and files that are not TZif are usage errors naming --tz") {
  CHECK_THROWS_AS(TimeZone::load("Mars/Olympus_Mons"), Error);
  CHECK_THROWS_AS(TimeZone::load("../../etc/passwd"), Error);
  CHECK_THROWS_AS(TimeZone::load(""), Error);
  CHECK_THROWS_AS(TimeZone::from_tzif("x", "not a tzif file at all, long enough to have a header......"), Error);
  CHECK_THROWS_AS(TimeZone::from_tzif("x", std::string("TZif2") + std::string(50, '\0')), Error);
  try {
    TimeZone::load("Mars/Olympus_Mons");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).starts_with("--tz: 'Mars/Olympus_Mons'"));
    CHECK(e.exit_code() == kExitUsage);
  }
}

namespace {

// A TZif version 2 file: transitions (UTC seconds, type index), types (offsets), a POSIX footer.
std::string tzif(const std::vector<std::pair<int64_t, uint8_t>>& transitions, const std::vector<int32_t>& offsets,
                 const std::string& footer) {
  std::string out;
  auto be32 = [&](uint32_t v) {
    for (int i = 3; i >= 0; --i) out += static_cast<char>(v >> (8 * i) & 0xff);
  };
  auto header = [&](uint32_t timecnt, uint32_t typecnt) {
    out += "TZif2";
    out += std::string(15, '\0');
    for (uint32_t c : {0u, 0u, 0u, timecnt, typecnt, 4u}) be32(c);
  };
  header(0, 1);  // version 1 block: one type, no transition
  be32(0);
  out += std::string("\0\0UTC\0", 6);
  header(static_cast<uint32_t>(transitions.size()), static_cast<uint32_t>(offsets.size()));
  for (const auto& [t, type] : transitions) {
    be32(static_cast<uint32_t>(static_cast<uint64_t>(t) >> 32));
    be32(static_cast<uint32_t>(t));
  }
  for (const auto& [t, type] : transitions) out += static_cast<char>(type);
  for (int32_t o : offsets) {
    be32(static_cast<uint32_t>(o));
    out += std::string("\0\0", 2);
  }
  out += std::string("ZZZ\0", 4);
  return out + "\n" + footer + "\n";
}

}  // namespace

// Found by fuzz_timezone: a TZif time of 6.5e18 s overflowed the microseconds of next_change;
// a POSIX offset of -111 hours was taken; offsets changing twice within a day confused to_utc.
TEST_CASE("timezone: transitions beyond 31,000 years (zic's -2^59) neither overflow nor end the table") {
  TimeZone z = TimeZone::from_tzif(
      "test", tzif({{-(int64_t{1} << 59), 1}, {1711846800, 0}, {int64_t{6514850700902531072}, 1}}, {7200, 3600}, ""));
  CHECK(z.offset_at(at("1900-01-01T00:00:00Z")) == 3600);  // from the big bang on
  CHECK(z.offset_at(at("2025-01-01T00:00:00Z")) == 7200);
  CHECK(z.next_change(at("2025-01-01T00:00:00Z")) == INT64_MAX);
  CHECK(z.next_change(at("2000-01-01T00:00:00Z")) == at("2024-03-31T01:00:00Z"));
}

TEST_CASE("timezone: a POSIX rule with an offset beyond a day is ignored; close changes map back") {
  TimeZone wild = TimeZone::from_tzif("test", tzif({}, {3600}, "AAA-1BBB111,M3.5.0,M10.5.0"));
  CHECK(wild.offset_at(at("2025-07-01T00:00:00Z")) == 3600);
  TimeZone ok = TimeZone::from_tzif("test", tzif({}, {3600}, "AAA-1BBB,M3.5.0,M10.5.0/3"));
  CHECK(ok.offset_at(at("2025-07-01T00:00:00Z")) == 7200);
  // +01:00, +23:30 from -1000 s, -10:00 from 1536 s: the wall time of the epoch (23:30) maps back
  // to it, although the offset a day before that wall time is +01:00.
  TimeZone close = TimeZone::from_tzif("test", tzif({{-1000000, 0}, {-1000, 1}, {1536, 2}}, {3600, 84600, -36000}, ""));
  CHECK(close.to_utc(int64_t{84600} * 1000000) == 0);
}

// Saved analyze states (report_state.h): merged states equal one report over all the records,
// a state reads back to the same bytes, and a damaged or foreign state is refused by name.
#include "logpipe/error.h"
#include "logpipe/report.h"
#include "logpipe/report_state.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <string>
#include <vector>

using namespace logpipe;

namespace {

constexpr int64_t kMinute = 60LL * 1000000;
const int64_t kT0 = 1750665600LL * 1000000;  // 2025-06-23T08:00:00Z

Record rec(std::string_view ip, std::string_view url, int status, int64_t t, std::string_view user,
           std::string_view session, std::string_view agent) {
  Record r;
  r.ip = ip;
  r.url = url;
  r.method = "GET";
  r.status = status;
  r.bytes = 100;
  r.time_us = t;
  r.user = user;
  r.session = session;
  r.agent = agent;
  r.referer = "https://example.com/";
  return r;
}

// Visitors interleaved over two days, sessions across midnight and across every cut, gaps
// around 30 minutes, records without ip or agent (their session key holds a missing id).
std::vector<Record> records() {
  std::vector<Record> v;
  const char* ips[] = {"1.1.1.1", "2.2.2.2", "3.3.3.3", ""};
  const char* urls[] = {"/", "/a", "/b.css", "/c", "/a?x"};
  const char* users[] = {"", "carol", "", "dave"};
  const char* sessions[] = {"", "", "S1"};
  const char* agents[] = {"Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0", "", "Googlebot/2.1"};
  int64_t t = kT0 + 15 * 60 * kMinute;  // 23:00Z
  for (int i = 0; i < 48; ++i) {
    t += (i % 7 == 3 ? 31 : i % 11 == 5 ? 29 : 4) * kMinute - (i % 5 == 0 ? 2 * kMinute : 0);
    v.push_back(rec(ips[i % 4], urls[(i * 7) % 5], i % 9 == 0 ? 500 : i % 13 == 0 ? 404 : 200, t,
                    users[(i / 3) % 4], sessions[(i / 2) % 3], agents[(i / 5) % 3]));
    // Response times on most records (some on records without a url, i == 0 mod 17 has none).
    if (i % 17) v.back().duration_us = (i * 7919 % 5000) * 100;
    if (i % 6 == 1) v.back().url = "";
    // edX events on every third record: course figures and learners' activity cross the cuts.
    static const char* events[] = {"play_video", "stop_video", "problem_check", "edx.course.enrollment.activated",
                                   "edx.forum.thread.created", "seq_goto"};
    if (i % 3 == 0) {
      v.back().course_id = i % 2 ? "course-v1:A+B+C" : "course-v1:X+Y+Z";
      v.back().event_type = events[(i / 3) % 6];
      if ((i / 3) % 6 == 2) v.back().success = i % 4 ? "correct" : "incorrect";
    }
  }
  return v;
}

std::string json_of(Report& r) {
  r.finish_sessions();
  return write_json(summarize(r, SummaryOptions{0, "minute", "test", {}}));
}

ReportStateInfo info_for(std::string input) {
  ReportStateInfo info;
  info.inputs = {input};
  info.input_formats = {{input, "combined"}};
  info.formats = "combined";
  return info;
}

std::string state_of(const std::vector<Record>& v, size_t from, size_t to, const std::string& name) {
  Report r({}, /*continuation=*/true);
  for (size_t i = from; i < to; ++i) r.on_record(v[i]);
  return save_report_state(r, info_for(name));
}

}  // namespace

TEST_CASE("state: merged saved states give the report of one run, at every pair of cuts") {
  const auto v = records();
  Report whole;
  for (const auto& r : v) whole.on_record(r);
  const std::string expected = json_of(whole);
  for (size_t cut1 = 0; cut1 <= v.size(); cut1 += 5) {
    for (size_t cut2 = cut1; cut2 <= v.size(); cut2 += 4) {
      ReportStateInfo info, info2, info3;
      auto merged = load_report_state(state_of(v, 0, cut1, "a"), "a", info);
      auto second = load_report_state(state_of(v, cut1, cut2, "b"), "b", info2);
      auto third = load_report_state(state_of(v, cut2, v.size(), "c"), "c", info3);
      merge_state_info(info, info2, "a", "b");
      merge_state_info(info, info3, "a", "c");
      merged->merge(*second);
      merged->merge(*third);
      CAPTURE(cut1);
      CAPTURE(cut2);
      CHECK(json_of(*merged) == expected);
      CHECK(info.inputs == std::vector<std::string>{"a", "b", "c"});
      CHECK(info.formats == "combined");
    }
  }
}

TEST_CASE("state: a state reads back to the same bytes; a saving report reports as usual") {
  const auto v = records();
  const std::string bytes = state_of(v, 0, v.size(), "all");
  ReportStateInfo info;
  auto loaded = load_report_state(bytes, "all", info);
  CHECK(save_report_state(*loaded, info) == bytes);
  Report plain, saving({}, true);
  for (const auto& r : v) {
    plain.on_record(r);
    saving.on_record(r);
  }
  CHECK(json_of(saving) == json_of(plain));
  CHECK(json_of(*loaded) == json_of(plain));
}

TEST_CASE("state: cut short, foreign or of another version, it is refused by name") {
  const auto v = records();
  const std::string bytes = state_of(v, 0, v.size(), "all");
  ReportStateInfo info;
  for (size_t n = 0; n < bytes.size(); n += 1 + n / 16) {
    CAPTURE(n);
    CHECK_THROWS_WITH_AS(load_report_state(std::string_view(bytes).substr(0, n), "day1.state", info),
                         doctest::Contains("day1.state"), Error);
  }
  CHECK_THROWS_WITH_AS(load_report_state("10.0.0.1 - - [23/Jun/2025", "x.log", info),
                       "x.log: not a saved analyze state (written by analyze --save-state)", Error);
  std::string newer = bytes;
  newer[7] = static_cast<char>(kReportStateVersion + 1);
  CHECK_THROWS_WITH_AS(load_report_state(newer, "new.state", info),
                       fmt::format("new.state: saved state of version {}; this logpipe reads version {}",
                                   kReportStateVersion + 1, kReportStateVersion)
                           .c_str(),
                       Error);
  std::string older = bytes;  // version 1 had no 404 urls, visitors or response times
  older[7] = 1;
  CHECK_THROWS_WITH_AS(load_report_state(older, "old.state", info),
                       doctest::Contains("saved state of version 1; this logpipe reads version 2"), Error);
  // A flipped byte anywhere: refused, or read as some other valid state; never a crash (ASan).
  for (size_t i = 8; i < bytes.size(); ++i) {
    std::string damaged = bytes;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x5a);
    try {
      auto r = load_report_state(damaged, "d", info);
      json_of(*r);
    } catch (const Error&) {
    }
  }
}

TEST_CASE("state: states counted differently are not merged") {
  ReportStateInfo a = info_for("a"), b = info_for("b");
  b.where = "status >= 500";
  CHECK_THROWS_WITH_AS(merge_state_info(a, b, "a.state", "b.state"),
                       "a.state and b.state were counted with different --where expressions: merge states "
                       "saved with the same options",
                       Error);
  b = info_for("b");
  b.zone = "Europe/Paris";
  CHECK_THROWS_WITH_AS(merge_state_info(a, b, "a.state", "b.state"),
                       doctest::Contains("time zones (--tz UTC and Europe/Paris)"), Error);
  b = info_for("b");
  b.rules.statuses.reset(404);
  CHECK_THROWS_WITH_AS(merge_state_info(a, b, "a.state", "b.state"), doctest::Contains("--error-statuses"), Error);
  b = info_for("b");
  b.input_formats = {{"b", "edx"}};
  a.where_counts = {10, 4, 6};
  b.where_counts = {5, 5, 0};
  merge_state_info(a, b, "a.state", "b.state");
  CHECK(a.formats == "combined, edx");
  CHECK(a.where_counts.read == 15);
  CHECK(a.where_counts.kept == 9);
  CHECK(a.where_counts.filtered == 6);
}

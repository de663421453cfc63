#include "logpipe/error.h"
#include "logpipe/report.h"
#include "logpipe/timeutil.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

using namespace logpipe;

namespace {

constexpr int64_t kMinute = 60LL * 1000000;
const int64_t kT0 = 1750665600LL * 1000000;  // 2025-06-23T08:00:00Z

Record rec(std::string_view ip, std::string_view url, int status, int64_t t, std::string_view user = {},
           std::string_view session = {}) {
  Record r;
  r.ip = ip;
  r.url = url;
  r.method = "GET";
  r.status = status;
  r.bytes = 100;
  r.time_us = t;
  r.user = user;
  r.session = session;
  r.agent = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
  return r;
}

std::string json_of(Report& r, size_t top = 0) {
  r.finish_sessions();
  return write_json(summarize(r, SummaryOptions{top, "minute", "test", {}}));
}

}  // namespace

TEST_CASE("agents: families from a hand-written classifier") {
  auto check = [](std::string_view a, std::string_view browser, std::string_view os) {
    auto [b, o] = classify_agent(a);
    CHECK(family_name(b) == browser);
    CHECK(family_name(o) == os);
  };
  check("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
        "Chrome", "Windows");
  check("Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0",
        "Edge", "Windows");
  check("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", "Firefox", "Linux");
  check("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 "
        "Safari/605.1.15",
        "Safari", "macOS");
  check("Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.2 Mobile/15E148 Safari/604.1",
        "Safari", "iOS");
  check("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36",
        "Chrome", "Android");
  check("Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 OPR/106.0",
        "Opera", "Windows");
  check("Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)", "Internet Explorer", "Windows");
  check("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Crawlers", "Other");
  check("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "Crawlers", "Other");
  check("Sogou web spider/4.0", "Crawlers", "Other");
  check("curl/7.88.1", "curl", "Other");
  check("UniversalFeedParser/4.2-pre-314-svn +http://feedparser.org/", "Other", "Other");
  check("", "Other", "Other");
}

TEST_CASE("pages: static assets are not pages") {
  CHECK(is_page_path("/"));
  CHECK(is_page_path("/cart"));
  CHECK(is_page_path("/blog/post.html"));
  CHECK(is_page_path("/v1.2/items"));
  CHECK_FALSE(is_page_path("/static/app.js"));
  CHECK_FALSE(is_page_path("/img/Logo.PNG"));
  CHECK_FALSE(is_page_path("/favicon.ico"));
  CHECK_FALSE(is_page_path("/fonts/a.woff2"));
}

TEST_CASE("report: totals, status, url without query, top order with ties by key") {
  Report r;
  r.on_record(rec("1.1.1.1", "/b?x=1", 200, kT0));
  r.on_record(rec("1.1.1.1", "/b", 404, kT0 + 1));
  r.on_record(rec("2.2.2.2", "/a", 503, kT0 + 2, "alice"));
  r.on_record(rec("2.2.2.2", "/c", 200, kT0 + 3, "alice"));
  CHECK(r.requests == 4);
  CHECK(r.errors == 2);
  CHECK(r.server_errors == 1);
  CHECK(r.bytes == 400);
  auto top = r.urls.top(2);
  REQUIRE(top.size() == 2);
  CHECK(r.urls.key(top[0]) == "/b");
  CHECK(r.urls.stats(top[0]).requests == 2);
  CHECK(r.urls.stats(top[0]).errors == 1);
  CHECK(r.urls.key(top[1]) == "/a");  // tie with /c: by key
  std::string j = json_of(r, 2);
  CHECK(j.starts_with(R"({"requests":4,"errors":2,"malformed":0,"bytes":400,"unique_ips":2,"unique_users":1,)"
                      R"("status":{"200":2,"404":1,"503":1},"urls":[{"url":"/b","requests":2,"errors":1},)"
                      R"({"url":"/a","requests":1,"errors":1}],"ips":[{"ip":"1.1.1.1","requests":2,"errors":1},)"
                      R"({"ip":"2.2.2.2","requests":2,"errors":1}],"users":[{"user":"alice","requests":2,"errors":1}],)"
                      R"("timeseries":[{"time":"2025-06-23T08:00:00Z","requests":4,"errors":2,"server_errors":1,)"
                      R"("bytes":400}],)"));
}

TEST_CASE("report: a record without url counts, but not in the url table") {
  Report r;
  r.on_record(rec("1.1.1.1", "", 408, kT0));
  r.on_record(rec("1.1.1.1", "/", 200, kT0 + 1));
  CHECK(r.requests == 2);
  CHECK(r.errors == 1);
  CHECK(r.urls.size() == 1);
  r.finish_sessions();
  auto s = summarize(r, SummaryOptions{});
  CHECK(s.session_count == 1);
  CHECK(s.session_pages.max == 1);
}

TEST_CASE("report: --since/--until keep [since, until) and count the rest") {
  Report r;
  r.set_time_filter(kT0 + kMinute, kT0 + 2 * kMinute);
  r.on_record(rec("1.1.1.1", "/", 200, kT0));
  r.on_record(rec("1.1.1.1", "/", 200, kT0 + kMinute));
  r.on_record(rec("1.1.1.1", "/", 200, kT0 + 2 * kMinute - 1));
  r.on_record(rec("1.1.1.1", "/", 200, kT0 + 2 * kMinute));
  r.on_record(rec("1.1.1.1", "/", 200, kNoTime));
  CHECK(r.requests == 2);
  CHECK(r.filtered_out == 3);
}

TEST_CASE("sessions: 30-minute gap, entry/exit pages, click paths skip assets and reloads") {
  Report r;
  // Visitor A: / -> /cart -> (asset) -> /cart (reload) -> /checkout, then back 31 minutes later.
  r.on_record(rec("1.1.1.1", "/", 200, kT0));
  r.on_record(rec("1.1.1.1", "/cart", 200, kT0 + kMinute));
  r.on_record(rec("1.1.1.1", "/app.js", 200, kT0 + kMinute + 1));
  r.on_record(rec("1.1.1.1", "/cart", 200, kT0 + 2 * kMinute));
  r.on_record(rec("1.1.1.1", "/checkout", 200, kT0 + 3 * kMinute));
  r.on_record(rec("1.1.1.1", "/", 200, kT0 + 34 * kMinute));
  // Visitor B (same IP, a user): one session of one page.
  r.on_record(rec("1.1.1.1", "/cart", 200, kT0 + 5 * kMinute, "bob"));
  r.finish_sessions();
  auto s = summarize(r, SummaryOptions{0, "auto", "", {}});
  CHECK(s.session_count == 3);
  CHECK(s.session_duration_s.max == 180);
  CHECK(s.session_pages.max == 4);
  REQUIRE(s.entry_pages.size() == 2);
  CHECK(s.entry_pages[0].key == "/");
  CHECK(s.entry_pages[0].count == 2);
  CHECK(s.entry_pages[1].key == "/cart");
  REQUIRE(s.click_paths.size() == 2);
  CHECK(s.click_paths[0].from == "/");
  CHECK(s.click_paths[0].to == "/cart");
  CHECK(s.click_paths[1].from == "/cart");
  CHECK(s.click_paths[1].to == "/checkout");
  CHECK(s.by == "minute");
}

TEST_CASE("click paths: top N by count, ties by from then to, same as the full list cut") {
  // One visitor walks /p0 -> /pK for K = 1..9, K times each for K <= 6 and 4 times for K >= 7
  // (a tie of four paths at count 4, ordered by `to`); one more walks /b -> /a four times.
  Report r;
  int64_t t = kT0;
  auto walk = [&](const char* ip, std::string_view from, std::string_view to) {
    r.on_record(rec(ip, from, 200, t += 31 * kMinute));  // a new session: no path from the last walk
    r.on_record(rec(ip, to, 200, t += kMinute));
  };
  for (int k = 1; k <= 9; ++k)
    for (int n = 0; n < (k <= 6 ? k : 4); ++n) walk("1.1.1.1", "/p0", "/p" + std::to_string(k));
  for (int n = 0; n < 4; ++n) walk("2.2.2.2", "/b", "/a");
  r.finish_sessions();
  auto all = summarize(r, SummaryOptions{0, "auto", "", {}});
  auto top = summarize(r, SummaryOptions{5, "auto", "", {}});
  // Expected, written out: 6, 5, then the count-4 ties by from ("/b" < "/p0"), then by to.
  std::vector<std::string> expected = {"/p0>/p6:6", "/p0>/p5:5", "/b>/a:4", "/p0>/p4:4", "/p0>/p7:4"};
  std::vector<std::string> got;
  for (const auto& p : top.click_paths) got.push_back(std::string(p.from) + ">" + std::string(p.to) + ":" + std::to_string(p.count));
  CHECK(got == expected);
  REQUIRE(all.click_paths.size() > 5);
  for (size_t i = 0; i < 5; ++i) {
    CHECK(all.click_paths[i].from == top.click_paths[i].from);
    CHECK(all.click_paths[i].to == top.click_paths[i].to);
  }
}

TEST_CASE("merge: every split point gives what one report gives") {
  // Several visitors interleaved, sessions crossing the split point, gaps near 30 minutes.
  std::vector<Record> records;
  const char* ips[] = {"1.1.1.1", "2.2.2.2", "3.3.3.3"};
  const char* urls[] = {"/", "/a", "/b.css", "/c", "/a?x"};
  const char* users[] = {"", "carol", ""};
  const char* sessions[] = {"", "", "S1"};
  int64_t t = kT0;
  for (int i = 0; i < 60; ++i) {
    t += (i % 7 == 3 ? 31 : i % 11 == 5 ? 29 : 1) * kMinute - (i % 5 == 0 ? 2 * kMinute : 0);
    records.push_back(rec(ips[i % 3], urls[(i * 7) % 5], i % 9 == 0 ? 500 : i % 8 == 0 ? 404 : 200, t,
                          users[(i / 3) % 3], sessions[(i / 2) % 3]));
    records.back().duration_us = (i * 7919 % 3000) * 1000;  // latency panels and their url ids
    records.back().referer = i % 4 ? "https://Shop.Example:8443/x" : "";
    static const char* events[] = {"play_video", "complete_video", "problem_check", "edx.forum.comment.created"};
    if (i % 2) {  // course figures and learner activity across the split points
      records.back().course_id = i % 3 ? "course-v1:A+B+C" : "course-v1:X+Y+Z";
      records.back().event_type = events[(i / 2) % 4];
      if ((i / 2) % 4 == 2) records.back().success = i % 5 ? "correct" : "incorrect";
    }
  }
  Report whole;
  for (const auto& r : records) whole.on_record(r);
  std::string expected = json_of(whole);
  for (size_t cut1 = 0; cut1 <= records.size(); cut1 += 3) {
    for (size_t cut2 = cut1; cut2 <= records.size(); cut2 += 7) {
      Report first, second({}, true), third({}, true);
      for (size_t i = 0; i < records.size(); ++i) (i < cut1 ? first : i < cut2 ? second : third).on_record(records[i]);
      first.merge(second);
      first.merge(third);
      CAPTURE(cut1);
      CAPTURE(cut2);
      CHECK(json_of(first) == expected);
    }
  }
}

TEST_CASE("csv: fields with commas, quotes or newlines are quoted, quotes doubled") {
  Report r;
  r.on_record(rec("1.1.1.1", "/a,\"b\"", 200, kT0));
  r.finish_sessions();
  std::string csv = write_csv(summarize(r, SummaryOptions{}));
  CHECK(csv.find("urls,\"/a,\"\"b\"\"\",1,0\r\n") != std::string::npos);
}

TEST_CASE("html: log data is escaped, the file asks for no network") {
  Report r;
  r.on_record(rec("1.1.1.1", "/<script>alert('x')</script>", 200, kT0));
  r.finish_sessions();
  std::string html = write_html(summarize(r, SummaryOptions{}));
  // One script, ours (the table sorter), at the end; the log's markup is text.
  CHECK(html.find("<script") == html.rfind("<script>"));
  CHECK(html.find("<script>(function(){") != std::string::npos);
  CHECK(html.find("<script>alert") == std::string::npos);
  CHECK(html.find("&lt;script&gt;alert(&#39;x&#39;)") != std::string::npos);
  CHECK(html.find("script-src 'sha256-") != std::string::npos);
  CHECK(html.find("default-src 'none'") != std::string::npos);
  CHECK(html.find("http://") == std::string::npos);
  CHECK(html.find("https://") == std::string::npos);
}

TEST_CASE("text: control bytes never reach the terminal") {
  Report r;
  r.on_record(rec("1.1.1.1", "/\x1b[2J", 200, kT0));
  r.finish_sessions();
  std::string text = write_text(summarize(r, SummaryOptions{}), false);
  CHECK(text.find('\x1b') == std::string::npos);
  CHECK(text.find("/?[2J") != std::string::npos);
}

TEST_CASE("U64Counter: adds, grows, visits every key") {
  U64Counter c;
  for (uint64_t i = 0; i < 5000; ++i) c.add(i * 7919, i % 3 + 1);
  c.add(0, 10);
  CHECK(c.size() == 5000);
  uint64_t total = 0, zero = 0;
  c.for_each([&](uint64_t k, uint64_t n) {
    total += n;
    if (k == 0) zero = n;
  });
  CHECK(zero == 11);
  CHECK(total == 10 + 5000 / 3 * 6 + 1 + 2);
}

// ---------------------------------------------------------------------------------------------
// --tz (issue 18): buckets and days of a zone; times written with its offset.

namespace {

bool paris(TimeZone& zone) {
  try {
    zone = TimeZone::load("Europe/Paris");
    return true;
  } catch (const Error&) {
    MESSAGE("SKIPPED: no Europe/Paris in the system tz database");
    return false;
  }
}

int64_t at(const char* t) {
  int64_t us;
  REQUIRE(parse_iso_time(t, us));
  return us;
}

}  // namespace

TEST_CASE("report --tz: days, active users and day buckets are Paris days; times carry the offset") {
  TimeZone zone;
  if (!paris(zone)) return;
  Report r;
  r.set_time_zone(zone);
  // 23:30 UTC on June 22 is 01:30 on June 23 in Paris: one Paris day, two UTC days.
  r.on_record(rec("1.1.1.1", "/a", 200, at("2025-06-22T23:30:00Z"), "ann"));
  r.on_record(rec("1.1.1.1", "/a", 200, at("2025-06-23T20:00:00Z"), "bob"));
  r.on_record(rec("1.1.1.1", "/a", 200, at("2025-06-23T22:30:00Z"), "ann"));  // June 24, 00:30
  r.finish_sessions();
  auto s = summarize(r, SummaryOptions{0, "day", "test", {}});
  REQUIRE(s.timeseries.size() == 2);
  CHECK(zoned_time_text(s.timeseries[0].time, s.zone) == "2025-06-23T00:00:00+02:00");
  CHECK(s.timeseries[0].value.requests == 2);
  CHECK(zoned_time_text(s.timeseries[1].time, s.zone) == "2025-06-24T00:00:00+02:00");
  REQUIRE(s.active_users_per_day.size() == 2);
  CHECK(s.active_users_per_day[0].second == 2);  // ann and bob on June 23
  CHECK(s.active_users_per_day[1].second == 1);
  std::string j = write_json(s);
  CHECK(j.find(R"("time_zone":"Europe/Paris","first_time":"2025-06-23T01:30:00+02:00")") != std::string::npos);
  CHECK(j.find(R"({"day":"2025-06-23","users":2})") != std::string::npos);
  // Without --tz the same records fall on three UTC days.
  Report utc;
  for (const char* t : {"2025-06-22T23:30:00Z", "2025-06-23T20:00:00Z", "2025-06-23T22:30:00Z"})
    utc.on_record(rec("1.1.1.1", "/a", 200, at(t), "ann"));
  utc.finish_sessions();
  CHECK(summarize(utc, SummaryOptions{0, "day", "test", {}}).timeseries.size() == 2);
  CHECK(write_json(summarize(utc, SummaryOptions{0, "day", "test", {}})).find("time_zone") == std::string::npos);
}

TEST_CASE("report --tz: the hour repeated by a setback is two buckets, a 25-hour day one") {
  TimeZone zone;
  if (!paris(zone)) return;
  Report r;
  r.set_time_zone(zone);
  // 2024-10-27: 02:00-03:00 happens twice in Paris (00:00Z-01:00Z in CEST, 01:00Z-02:00Z in CET).
  for (const char* t : {"2024-10-26T23:30:00Z", "2024-10-27T00:30:00Z", "2024-10-27T01:30:00Z", "2024-10-27T02:30:00Z"})
    r.on_record(rec("1.1.1.1", "/a", 200, at(t)));
  r.finish_sessions();
  auto hours = summarize(r, SummaryOptions{0, "hour", "test", {}});
  std::vector<std::string> times;
  for (const auto& p : hours.timeseries) times.push_back(zoned_time_text(p.time, hours.zone));
  CHECK(times == std::vector<std::string>{"2024-10-27T01:00:00+02:00", "2024-10-27T02:00:00+02:00",
                                          "2024-10-27T02:00:00+01:00", "2024-10-27T03:00:00+01:00"});
  auto days = summarize(r, SummaryOptions{0, "day", "test", {}});
  REQUIRE(days.timeseries.size() == 1);
  CHECK(days.timeseries[0].value.requests == 4);
  // The hour skipped in spring leaves no empty bucket behind: 01:00 CET is followed by 03:00 CEST.
  Report spring;
  spring.set_time_zone(zone);
  for (const char* t : {"2024-03-31T00:30:00Z", "2024-03-31T02:30:00Z"}) spring.on_record(rec("1.1.1.1", "/a", 200, at(t)));
  spring.finish_sessions();
  auto sh = summarize(spring, SummaryOptions{0, "hour", "test", {}});
  times.clear();
  for (const auto& p : sh.timeseries) times.push_back(zoned_time_text(p.time, sh.zone));
  CHECK(times == std::vector<std::string>{"2024-03-31T01:00:00+01:00", "2024-03-31T03:00:00+02:00",
                                          "2024-03-31T04:00:00+02:00"});
}

TEST_CASE("U64Counter: evicting the lighter half keeps the heavy keys and says the largest dropped") {
  U64Counter c;
  for (uint64_t k = 0; k < 100; ++k) c.add(k, k + 1);  // counts 1..100
  uint64_t floor = c.evict_lighter_half();
  CHECK(c.size() == 49);
  CHECK(floor == 51);
  uint64_t smallest = UINT64_MAX;
  c.for_each([&](uint64_t k, uint64_t n) {
    CHECK(n == k + 1);
    smallest = std::min(smallest, n);
  });
  CHECK(smallest == 52);
}

TEST_CASE("report --max-keys: evictions renumber keys; sessions, paths and user-days follow, totals stay exact") {
  // Many one-off visitors (evicted) around a few heavy ones (kept): every side table must follow
  // the renumbering, or ASan/UBSan or the checks below see it.
  Report capped, free;
  capped.set_max_keys(16);
  std::vector<std::string> ips, urls, users;
  for (int i = 0; i < 400; ++i) {
    ips.push_back(fmt::format("10.0.{}.{}", i / 256, i % 256));
    urls.push_back(fmt::format("/p/{}", i));
    users.push_back(fmt::format("u{}", i));
  }
  int64_t t = kT0;
  for (int i = 0; i < 4000; ++i) {
    t += kMinute / 10;
    const bool heavy = i % 3 == 0;
    const size_t v = heavy ? static_cast<size_t>(i % 2) : static_cast<size_t>(i * 7919 % 400);
    Record r = rec(ips[v], heavy ? std::string_view(i % 2 ? "/" : "/cart") : std::string_view(urls[v]),
                   i % 10 == 0 ? 500 : 200, t, users[v]);
    r.duration_us = (i * 131 % 997) * 100;
    capped.on_record(r);
    free.on_record(r);
  }
  CHECK(capped.ips.evicted_keys() > 0);
  CHECK(capped.urls.evicted_keys() > 0);
  CHECK(capped.ips.size() <= 16);
  CHECK(capped.requests == free.requests);
  CHECK(capped.errors == free.errors);
  CHECK(capped.status == free.status);
  // The two heavy visitors and pages are exact.
  for (std::string_view ip : {"10.0.0.0", "10.0.0.1"}) CHECK(capped.ips.stats(capped.ips.find(ip)).requests == free.ips.stats(free.ips.find(ip)).requests);
  for (std::string_view url : {"/", "/cart"}) CHECK(capped.urls.stats(capped.urls.find(url)).requests == free.urls.stats(free.urls.find(url)).requests);
  capped.finish_sessions();
  free.finish_sessions();
  CHECK(capped.sessions.count >= free.sessions.count);  // a cut session counts twice, none is lost
  const ReportSummary s = summarize(capped, SummaryOptions{0, "minute", "test", {}});
  for (const auto& p : s.click_paths) CHECK((!p.from.empty() && !p.to.empty()));
  CHECK(!s.active_users_per_day.empty());
  // Response times follow the url renumbering: the heavy pages' figures equal the uncapped ones.
  const ReportSummary fs = summarize(free, SummaryOptions{0, "minute", "test", {}});
  auto latency_of = [](const ReportSummary& x, std::string_view url) {
    for (const auto& u : x.url_latency)
      if (u.url == url) return u.latency;
    return ReportSummary::Latency{};
  };
  for (std::string_view url : {"/", "/cart"}) {
    CAPTURE(url);
    const auto a = latency_of(s, url), b = latency_of(fs, url);
    CHECK(a.count > 0);
    CHECK(a.count == b.count);
    CHECK(a.total_ms == b.total_ms);
    CHECK(a.p95_ms == b.p95_ms);
    CHECK(a.max_ms == b.max_ms);
  }
  CHECK(s.latency.count == fs.latency.count);
  CHECK(!s.visitors_per_day.empty());
  CHECK(s.visitors_per_day.front().second <= 16);
}

TEST_CASE("report: 404 urls, visitors per day, hour of day, weekday and referring domains") {
  Report r;
  Record a = rec("1.1.1.1", "/missing?q=1", 404, kT0);  // Monday 08:00Z
  a.referer = "https://WWW.Example.org:8080/page?x";
  r.on_record(a);
  Record b = rec("1.1.1.1", "/missing", 404, kT0 + 90 * kMinute);  // 09:30
  b.referer = "http://user@www.example.org/other";
  r.on_record(b);
  Record c = rec("2.2.2.2", "/gone", 404, kT0 + 24 * 60 * kMinute);  // Tuesday 08:00
  c.referer = "android-app://com.example";
  r.on_record(c);
  r.on_record(rec("2.2.2.2", "/", 200, kT0 + 24 * 60 * kMinute + kMinute));
  r.on_record(rec("3.3.3.3", "/", 500, kT0 + 7 * 24 * 60 * kMinute));  // Monday again
  r.finish_sessions();
  const ReportSummary s = summarize(r, SummaryOptions{0, "minute", "test", {}});
  REQUIRE(s.not_found.size() == 2);
  CHECK(s.not_found[0].key == "/missing");
  CHECK(s.not_found[0].requests == 2);
  CHECK(s.not_found[1].key == "/gone");
  REQUIRE(s.referring_domains.size() == 2);
  CHECK(s.referring_domains[0].key == "www.example.org");
  CHECK(s.referring_domains[0].requests == 2);
  CHECK(s.referring_domains[1].key == "android-app://com.example");
  REQUIRE(s.visitors_per_day.size() == 3);
  CHECK(s.visitors_per_day[0].second == 1);  // 1.1.1.1 twice
  CHECK(s.visitors_per_day[1].second == 1);  // 2.2.2.2 twice
  CHECK(s.visitors_per_day[2].second == 1);
  CHECK(s.hours[8].requests == 4);
  CHECK(s.hours[9].requests == 1);
  CHECK(s.weekdays[0].requests == 3);  // Monday
  CHECK(s.weekdays[0].errors == 3);
  CHECK(s.weekdays[1].requests == 2);  // Tuesday
  CHECK(s.weekdays[2].requests == 0);
  // In Paris (UTC+2 in June) the same records are at 10:00 and 11:30.
  TimeZone zone;
  if (!paris(zone)) return;
  Report in_paris;
  in_paris.set_time_zone(zone);
  for (const Record& x : {a, b, c}) in_paris.on_record(x);
  in_paris.finish_sessions();
  const ReportSummary p = summarize(in_paris, SummaryOptions{0, "minute", "test", {}});
  CHECK(p.hours[10].requests == 2);
  CHECK(p.hours[11].requests == 1);
  CHECK(p.hours[8].requests == 0);
}

TEST_CASE("report: response times overall and per url, quantiles within a bucket, urls by total time") {
  Report r;
  std::vector<int64_t> slow, fast;
  for (int i = 0; i < 200; ++i) {
    Record x = rec("1.1.1.1", i % 4 == 0 ? "/slow" : "/fast", 200, kT0 + i * kMinute / 10);
    x.duration_us = i % 4 == 0 ? 100000 + i * 997 : 1000 + i * 13;
    (i % 4 == 0 ? slow : fast).push_back(x.duration_us);
    r.on_record(x);
  }
  Record untimed = rec("1.1.1.1", "/fast", 200, kT0);  // no response time: counted nowhere here
  r.on_record(untimed);
  r.finish_sessions();
  const ReportSummary s = summarize(r, SummaryOptions{0, "minute", "test", {}});
  CHECK(s.latency.count == 200);
  REQUIRE(s.url_latency.size() == 2);
  CHECK(s.url_latency[0].url == "/slow");  // 50 x ~200 ms beats 150 x ~2 ms
  auto exact = [](std::vector<int64_t> v, double q) {
    std::sort(v.begin(), v.end());
    size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size()) - 1e-9));
    return static_cast<double>(v[std::max<size_t>(rank, 1) - 1]) / 1000.0;
  };
  for (const auto& [row, v] : {std::pair{s.url_latency[0], slow}, std::pair{s.url_latency[1], fast}}) {
    CAPTURE(row.url);
    CHECK(row.latency.count == v.size());
    double sum = 0;
    for (int64_t d : v) sum += static_cast<double>(d);
    CHECK(row.latency.total_ms == doctest::Approx(sum / 1000.0));
    CHECK(row.latency.mean_ms == doctest::Approx(sum / 1000.0 / static_cast<double>(v.size())));
    CHECK(row.latency.max_ms == static_cast<double>(*std::max_element(v.begin(), v.end())) / 1000.0);
    for (double q : {0.5, 0.95, 0.99}) {
      const double want = exact(v, q);
      const double got = q == 0.5 ? row.latency.p50_ms : q == 0.95 ? row.latency.p95_ms : row.latency.p99_ms;
      CAPTURE(q);
      CHECK(std::abs(got - want) <= want * 0.0625);
    }
  }
  // A timed record without a url: the overall mean and total are unknown, not wrong.
  Record no_url = rec("1.1.1.1", "", 200, kT0);
  no_url.duration_us = 5;
  r.on_record(no_url);
  const ReportSummary t = summarize(r, SummaryOptions{0, "minute", "test", {}});
  CHECK(t.latency.count == 201);
  CHECK(t.latency.mean_ms < 0);
  CHECK(t.latency.p50_ms > 0);
  CHECK(write_json(t).find("\"latency\":{\"count\":201,\"mean_ms\":null") != std::string::npos);
}

TEST_CASE("report: edx course figures, learners per day and week, tracking headline") {
  // Two courses over 9 days (two ISO weeks: Mon 2025-06-23 .. Tue 2025-07-01), three learners and
  // an anonymous browser (a session, no user: not a learner).
  Report r;
  const int64_t kDay = 24 * 60 * kMinute;
  auto ev = [&](std::string_view course, std::string_view user, std::string_view type, int64_t t,
                std::string_view result = {}) {
    Record x;
    x.time_us = t;
    x.user = user;
    x.session = user.empty() ? "anon-session" : "";
    x.event_type = type;
    x.course_id = course;
    x.success = result;
    x.ip = "10.0.0.1";
    r.on_record(x);
  };
  const std::string_view A = "course-v1:Org+A+2025", B = "course-v1:Org+B+2025";
  ev(A, "ann", "edx.course.enrollment.activated", kT0);
  ev(A, "ann", "play_video", kT0 + kMinute);
  ev(A, "ann", "play_video", kT0 + 2 * kMinute);  // a second play: two plays, one learner
  ev(A, "ann", "stop_video", kT0 + 3 * kMinute);
  ev(A, "ann", "problem_check", kT0 + 4 * kMinute, "correct");
  ev(A, "ann", "problem_check", kT0 + 5 * kMinute);  // the browser twin: no success, not a graded check
  ev(A, "bob", "edx.course.enrollment.activated", kT0 + kDay);
  ev(A, "bob", "play_video", kT0 + kDay + kMinute);
  ev(A, "bob", "problem_check", kT0 + kDay + 2 * kMinute, "incorrect");
  ev(A, "bob", "problem_check", kT0 + kDay + 3 * kMinute, "incorrect");
  ev(A, "bob", "edx.forum.thread.created", kT0 + kDay + 4 * kMinute);
  ev(A, "bob", "edx.forum.searched", kT0 + kDay + 5 * kMinute);
  ev(A, "ann", "seq_goto", kT0 + 8 * kDay);  // Tuesday of the next week
  ev(A, "bob", "edx.course.enrollment.deactivated", kT0 + 8 * kDay);
  ev(A, "", "play_video", kT0 + 8 * kDay);  // anonymous: counted as a play, not as a learner
  ev(B, "cid", "edx.video.played", kT0 + 2 * kDay);
  ev(B, "cid", "edx.video.completed", kT0 + 2 * kDay + kMinute);
  ev(B, "ann", "edx.forum.response.created", kT0 + 2 * kDay);
  r.finish_sessions();
  const ReportSummary s = summarize(r, SummaryOptions{0, "day", "test", {}});
  REQUIRE(s.course_figures.size() == 2);
  CHECK(s.tracking);
  const auto& a = s.course_figures[0];
  CHECK(a.course == A);
  CHECK(a.events == 15);
  CHECK(a.learners == 2);
  CHECK(a.figures.enrolments == 2);
  CHECK(a.figures.unenrolments == 1);
  CHECK(a.figures.video_plays == 4);
  CHECK(a.figures.video_completions == 1);
  CHECK(a.video_learners == 2);
  CHECK(a.video_completers == 1);
  CHECK(a.figures.problem_checks == 3);
  CHECK(a.figures.problem_correct == 1);
  CHECK(a.figures.forum_events == 2);
  CHECK(a.figures.forum_posts == 1);
  using Days = std::vector<std::pair<int64_t, uint64_t>>;
  const int64_t day0 = floor_div(kT0, kDay) * kDay;
  CHECK(a.per_day == Days{{day0, 1}, {day0 + kDay, 1}, {day0 + 8 * kDay, 2}});
  CHECK(a.per_week == Days{{day0, 2}, {day0 + 7 * kDay, 2}});
  CHECK(a.peak_day_learners == 2);
  CHECK(a.peak_week_learners == 2);
  CHECK(a.learners_per_day == doctest::Approx(4.0 / 3));
  const auto& b = s.course_figures[1];
  CHECK(b.course == B);
  CHECK(b.learners == 2);
  CHECK(b.video_learners == 1);
  CHECK(b.video_completers == 1);
  CHECK(b.figures.forum_posts == 1);
  CHECK(s.course_totals.enrolments == 2);
  CHECK(s.course_totals.video_plays == 5);
  const std::string json = write_json(s);
  CHECK(json.find("\"problem_success_rate\":0.3333") != std::string::npos);
  CHECK(json.find("\"active_learners_per_week\":[{\"week\":\"2025-06-23\",\"learners\":2},{\"week\":\"2025-06-30\","
                  "\"learners\":2}]") != std::string::npos);
  const std::string text = write_text(s, false);
  CHECK(text.find("  events ") != std::string::npos);
  CHECK(text.find("server errors") == std::string::npos);  // no HTTP status in tracking logs
  const std::string html = write_html(s);
  CHECK(html.find("<span>learners</span>") != std::string::npos);
  CHECK(html.find("<span>bytes</span>") == std::string::npos);
  CHECK(html.find("id=course_figures") != std::string::npos);
}

TEST_CASE("report --max-keys: course figures and learners follow course and user evictions") {
  Report capped, free;
  capped.set_max_keys(16);
  std::vector<std::string> courses, users;
  for (int i = 0; i < 300; ++i) {
    courses.push_back(fmt::format("course-v1:O+C{}+1", i));
    users.push_back(fmt::format("u{}", i));
  }
  int64_t t = kT0;
  for (int i = 0; i < 3000; ++i) {
    t += kMinute;
    const bool heavy = i % 2 == 0;
    Record x;
    x.time_us = t;
    x.course_id = heavy ? std::string_view("course-v1:O+Heavy+1") : std::string_view(courses[i * 7919 % 300]);
    x.user = heavy ? std::string_view(i % 4 ? "ann" : "bob") : std::string_view(users[i * 31 % 300]);
    x.event_type = i % 3 ? "play_video" : "problem_check";
    if (i % 3 == 0) x.success = i % 5 ? "correct" : "incorrect";
    capped.on_record(x);
    free.on_record(x);
  }
  CHECK(capped.courses.evicted_keys() > 0);
  CHECK(capped.users.evicted_keys() > 0);
  const ReportSummary cs = summarize(capped, SummaryOptions{1, "day", "test", {}});
  const ReportSummary fs = summarize(free, SummaryOptions{1, "day", "test", {}});
  REQUIRE(cs.course_figures.size() == 1);
  REQUIRE(fs.course_figures.size() == 1);
  CHECK(cs.course_figures[0].course == "course-v1:O+Heavy+1");
  CHECK(cs.course_figures[0].figures == fs.course_figures[0].figures);
  CHECK(cs.course_figures[0].learners == 2);  // ann and bob, heavy: never evicted
  CHECK(cs.course_figures[0].per_day == fs.course_figures[0].per_day);
  CHECK(cs.course_figures[0].video_learners == fs.course_figures[0].video_learners);
}

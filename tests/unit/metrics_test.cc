// The windowed-metrics engine: window boundaries, lateness, out-of-order records, every metric
// of the table, the key cap. Expected values are worked out by hand in each test.
#include "logpipe/metrics.h"
#include "logpipe/timeutil.h"

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

using namespace logpipe;

namespace {

constexpr int64_t kS = 1'000'000;
// 2025-06-23T08:00:00Z, a multiple of 60 s.
constexpr int64_t kT0 = 1'750'665'600 * kS;

struct Closed {
  int64_t start, end;
  std::array<MetricValue, kMetricCount> global{};
  std::map<std::string, MetricValue> keyed[kMetricCount];
};

struct Collector final : WindowObserver {
  std::vector<Closed> windows;
  void on_window(const WindowView& w) override {
    Closed c{w.start_us(), w.end_us()};
    for (size_t m = 0; m < kMetricCount; ++m) {
      auto id = static_cast<MetricId>(m);
      if (kMetrics[m].dimension == Dimension::kGlobal)
        c.global[m] = w.global(id);
      else
        w.for_each_key(id, [&](std::string_view key, const MetricValue& v) { c.keyed[m][std::string(key)] = v; });
    }
    windows.push_back(std::move(c));
  }
};

Record rec(int64_t t, int status = 200, std::string_view url = "/", std::string_view ip = "10.0.0.1",
           std::string_view user = "") {
  Record r;
  r.time_us = t;
  r.status = status;
  r.url = url;
  r.ip = ip;
  r.user = user;
  return r;
}

EngineConfig tumbling(int64_t window_s = 60, int64_t lateness_s = 5) {
  EngineConfig c;
  c.window_us = window_s * kS;
  c.lateness_us = lateness_s * kS;
  return c;
}

}  // namespace

TEST_CASE("windows: tumbling windows are aligned to multiples of their size since the epoch") {
  Collector out;
  WindowEngine e(tumbling(), out);
  e.add(rec(kT0 + 10 * kS));
  e.add(rec(kT0 + 59 * kS + 999'999));  // last microsecond of the first window
  e.add(rec(kT0 + 60 * kS));            // first microsecond of the second
  CHECK(out.windows.empty());           // 60 < 60 + 5: nothing closed yet
  e.flush();
  REQUIRE(out.windows.size() == 2);
  CHECK(format_rfc3339(out.windows[0].start) == "2025-06-23T08:00:00Z");
  CHECK(format_rfc3339(out.windows[0].end) == "2025-06-23T08:01:00Z");
  CHECK(out.windows[0].global[kRequestRate].requests == 2);
  CHECK(out.windows[1].global[kRequestRate].requests == 1);
}

TEST_CASE("windows: a window closes when the newest time passes its end plus the lateness") {
  Collector out;
  WindowEngine e(tumbling(60, 5), out);
  e.add(rec(kT0 + 1 * kS));
  e.add(rec(kT0 + 64 * kS + 999'999));
  CHECK(out.windows.empty());
  e.add(rec(kT0 + 65 * kS));  // reaches 08:01:00 + 5 s, does not pass it: still open
  CHECK(out.windows.empty());
  CHECK(e.add(rec(kT0 + 30 * kS)) == WindowEngine::AddResult::kAdded);  // so not late
  e.add(rec(kT0 + 65 * kS + 1));  // one microsecond past
  REQUIRE(out.windows.size() == 1);
  CHECK(out.windows[0].start == kT0);
  CHECK(out.windows[0].global[kRequestRate].requests == 2);
  CHECK(e.add(rec(kT0 + 59 * kS)) == WindowEngine::AddResult::kLate);
}

TEST_CASE("windows: an out-of-order record within the lateness counts in its own window") {
  Collector out;
  WindowEngine e(tumbling(60, 5), out);
  e.add(rec(kT0 + 30 * kS));
  e.add(rec(kT0 + 62 * kS));
  CHECK(e.add(rec(kT0 + 58 * kS)) == WindowEngine::AddResult::kAdded);
  e.flush();
  REQUIRE(out.windows.size() == 2);
  CHECK(out.windows[0].global[kRequestRate].requests == 2);
  CHECK(out.windows[1].global[kRequestRate].requests == 1);
}

TEST_CASE("windows: a record older than a closed window is late, dropped and counted") {
  Collector out;
  WindowEngine e(tumbling(60, 5), out);
  e.add(rec(kT0 + 30 * kS));
  e.add(rec(kT0 + 70 * kS));  // closes [0, 60)
  REQUIRE(out.windows.size() == 1);
  CHECK(e.add(rec(kT0 + 59 * kS)) == WindowEngine::AddResult::kLate);
  CHECK(e.stats().late == 1);
  e.flush();
  REQUIRE(out.windows.size() == 2);
  CHECK(out.windows[0].global[kRequestRate].requests == 1);
}

TEST_CASE("windows: before anything closed, an earlier record opens an earlier window") {
  Collector out;
  WindowEngine e(tumbling(60, 5), out);
  e.add(rec(kT0 + 61 * kS));
  e.add(rec(kT0 + 59 * kS));  // window [0, 60) needs time >= 65 to close: still open
  e.flush();
  REQUIRE(out.windows.size() == 2);
  CHECK(out.windows[0].start == kT0);
  CHECK(out.windows[0].global[kRequestRate].requests == 1);
  CHECK(out.windows[1].global[kRequestRate].requests == 1);
}

TEST_CASE("windows: an earlier record already past its window's lateness is late even first") {
  Collector out;
  WindowEngine e(tumbling(60, 5), out);
  e.add(rec(kT0 + 200 * kS));
  CHECK(e.add(rec(kT0 + 10 * kS)) == WindowEngine::AddResult::kLate);
  e.flush();
  REQUIRE(out.windows.size() == 1);
  CHECK(out.windows[0].start == kT0 + 180 * kS);
}

TEST_CASE("windows: a record without time is refused as kNoTime") {
  Collector out;
  WindowEngine e(tumbling(), out);
  Record r = rec(kNoTime);
  CHECK(e.add(r) == WindowEngine::AddResult::kNoTime);
  e.flush();
  CHECK(out.windows.empty());
}

TEST_CASE("windows: sliding windows (hop) count a record in every window that holds it") {
  Collector out;
  EngineConfig c = tumbling(60, 0);
  c.hop_us = 30 * kS;
  WindowEngine e(c, out);
  e.add(rec(kT0 + 45 * kS));  // in [0,60) and [30,90)
  e.add(rec(kT0 + 75 * kS));  // in [30,90) and [60,120)
  e.flush();
  // Windows from the first one holding the first record ([0,60)) to the last holding the newest.
  REQUIRE(out.windows.size() == 3);
  CHECK(out.windows[0].start == kT0);
  CHECK(out.windows[0].global[kRequestRate].requests == 1);
  CHECK(out.windows[1].start == kT0 + 30 * kS);
  CHECK(out.windows[1].global[kRequestRate].requests == 2);
  CHECK(out.windows[2].start == kT0 + 60 * kS);
  CHECK(out.windows[2].global[kRequestRate].requests == 1);
  CHECK(out.windows[1].keyed[kIpRequestRate]["10.0.0.1"].requests == 2);
}

TEST_CASE("windows: a silence in the traffic gives empty windows, then data again") {
  Collector out;
  WindowEngine e(tumbling(60, 0), out);
  e.add(rec(kT0));
  e.add(rec(kT0 + 180 * kS));
  e.flush();
  REQUIRE(out.windows.size() == 4);
  CHECK(out.windows[1].global[kRequestRate].requests == 0);
  CHECK(out.windows[1].global[kRequestRate].eligible == false);
  CHECK(out.windows[2].global[kErrorRate].requests == 0);
  CHECK(out.windows[3].global[kRequestRate].requests == 1);
}

TEST_CASE("windows: a far-future timestamp does not emit millions of empty windows") {
  Collector out;
  WindowEngine e(tumbling(60, 0), out);
  e.add(rec(kT0));
  e.add(rec(kT0 + 100LL * 365 * 86400 * kS));  // a century later
  e.flush();
  CHECK(out.windows.size() <= 1002);
  CHECK(out.windows.back().global[kRequestRate].requests == 1);
  CHECK(e.stats().skipped_windows > 0);
}

TEST_CASE("windows: times before 1970 are aligned with floor division") {
  Collector out;
  WindowEngine e(tumbling(60, 0), out);
  e.add(rec(-1 * kS));
  e.flush();
  REQUIRE(out.windows.size() == 1);
  CHECK(out.windows[0].start == -60 * kS);
  CHECK(out.windows[0].end == 0);
}

TEST_CASE("metrics: the table names the contract metrics and find_metric resolves them") {
  CHECK(kMetrics.size() == 10);
  CHECK(find_metric("url_error_rate") == kUrlErrorRate);
  CHECK(find_metric("prefix_request_rate") == kPrefixRequestRate);
  CHECK(find_metric("url_p99_latency_ms") == kUrlP99LatencyMs);
  CHECK(find_metric("nope") == kMetricCount);
  for (size_t i = 0; i < kMetricCount; ++i) CHECK(find_metric(kMetrics[i].name) == i);
}

TEST_CASE("metrics: error_rate and server_error_rate over all traffic") {
  Collector out;
  WindowEngine e(tumbling(), out);
  int statuses[] = {200, 200, 404, 500, 503, 301, 200, 401};
  for (int s : statuses) e.add(rec(kT0 + kS, s));
  e.flush();
  REQUIRE(out.windows.size() == 1);
  const auto& g = out.windows[0].global;
  CHECK(g[kErrorRate].value == doctest::Approx(4.0 / 8));
  CHECK(g[kErrorRate].requests == 8);
  CHECK(g[kErrorRate].errors == 4);
  CHECK(g[kServerErrorRate].value == doctest::Approx(2.0 / 8));
  CHECK(g[kRequestRate].value == doctest::Approx(8.0 / 60));
}

TEST_CASE("metrics: url_error_rate is keyed by the path without its query") {
  Collector out;
  WindowEngine e(tumbling(), out);
  e.add(rec(kT0, 500, "/login?next=/a"));
  e.add(rec(kT0, 200, "/login?next=/b"));
  e.add(rec(kT0, 200, "/login"));
  e.add(rec(kT0, 404, "/other"));
  e.flush();
  auto& u = out.windows[0].keyed[kUrlErrorRate];
  REQUIRE(u.size() == 2);
  CHECK(u["/login"].value == doctest::Approx(1.0 / 3));
  CHECK(u["/login"].requests == 3);
  CHECK(u["/login"].errors == 1);
  CHECK(u["/other"].value == 1.0);
}

TEST_CASE("metrics: min_requests makes a key eligible; the default guard for keyed errors is 20") {
  Collector out;
  EngineConfig c = tumbling();
  c.min_requests[kIpErrorRate] = 3;
  WindowEngine e(c, out);
  e.add(rec(kT0, 500, "/", "1.1.1.1"));
  e.add(rec(kT0, 500, "/", "2.2.2.2"));
  e.add(rec(kT0, 200, "/", "2.2.2.2"));
  e.add(rec(kT0, 200, "/", "2.2.2.2"));
  e.flush();
  auto& ip = out.windows[0].keyed[kIpErrorRate];
  CHECK(ip["1.1.1.1"].value == 1.0);
  CHECK_FALSE(ip["1.1.1.1"].eligible);
  CHECK(ip["2.2.2.2"].eligible);
  CHECK_FALSE(out.windows[0].keyed[kUrlErrorRate]["/"].eligible);  // 4 < 20
  CHECK(out.windows[0].global[kErrorRate].eligible);
}

TEST_CASE("metrics: user_error_rate falls back to the session when there is no user") {
  Collector out;
  WindowEngine e(tumbling(), out);
  Record a = rec(kT0, 500, "/", "1.1.1.1", "alice");
  Record b = rec(kT0, 200, "/", "1.1.1.1", "");
  b.session = "S1";
  Record c = rec(kT0, 200, "/", "1.1.1.1", "");  // neither: not in the user dimension
  e.add(a);
  e.add(b);
  e.add(c);
  e.flush();
  auto& users = out.windows[0].keyed[kUserErrorRate];
  REQUIRE(users.size() == 2);
  CHECK(users["alice"].value == 1.0);
  CHECK(users["S1"].value == 0.0);
  CHECK(out.windows[0].keyed[kUserRequestRate]["S1"].requests == 1);
}

TEST_CASE("metrics: records without status (edx) feed the rate metrics only") {
  Collector out;
  WindowEngine e(tumbling(10, 0), out);
  for (int i = 0; i < 5; ++i) {
    Record r = rec(kT0, 0, "/courses/x", "9.9.9.9", "bob");
    e.add(r);
  }
  e.flush();
  const auto& w = out.windows[0];
  CHECK(w.global[kRequestRate].value == doctest::Approx(0.5));
  CHECK(w.global[kErrorRate].requests == 0);
  CHECK_FALSE(w.global[kErrorRate].eligible);
  CHECK(w.keyed[kIpRequestRate].at("9.9.9.9").value == doctest::Approx(0.5));
  CHECK(w.keyed[kUserRequestRate].at("bob").value == doctest::Approx(0.5));
  CHECK(w.keyed[kUserErrorRate].at("bob").requests == 0);
  CHECK_FALSE(w.keyed[kUserErrorRate].at("bob").eligible);
}

TEST_CASE("metrics: application-log lines (a level, no status) count ERROR as an error") {
  Collector out;
  WindowEngine e(tumbling(10, 0), out);
  // 8 lines of user ann on /pay: 3 at level ERROR; 2 lines of bob, both INFO; 1 edx-like line
  // without a level (no outcome: rates only).
  for (int i = 0; i < 8; ++i) {
    Record r = rec(kT0, 0, "/pay", "", "ann");
    r.level = i < 3 ? "ERROR" : "INFO";
    e.add(r);
  }
  for (int i = 0; i < 2; ++i) {
    Record r = rec(kT0, 0, "/home", "", "bob");
    r.level = "info";
    e.add(r);
  }
  e.add(rec(kT0, 0, "/home", "", "carl"));
  // A level never overrides a status: a 200 stays a success.
  Record ok = rec(kT0, 200, "/home", "", "bob");
  ok.level = "ERROR";
  e.add(ok);
  e.flush();
  const auto& w = out.windows[0];
  CHECK(w.global[kRequestRate].requests == 12);
  CHECK(w.global[kErrorRate].requests == 11);
  CHECK(w.global[kErrorRate].errors == 3);
  CHECK(w.global[kErrorRate].value == doctest::Approx(3.0 / 11));
  CHECK(w.global[kServerErrorRate].value == 0);
  CHECK(w.keyed[kUserErrorRate].at("ann").requests == 8);
  CHECK(w.keyed[kUserErrorRate].at("ann").value == doctest::Approx(3.0 / 8));
  CHECK(w.keyed[kUrlErrorRate].at("/pay").value == doctest::Approx(3.0 / 8));
  CHECK(w.keyed[kUserErrorRate].at("bob").value == 0);
  CHECK(w.keyed[kUserErrorRate].at("carl").requests == 0);
}

TEST_CASE("metrics: ip_request_rate is requests per second of one client") {
  Collector out;
  WindowEngine e(tumbling(), out);
  for (int i = 0; i < 120; ++i) e.add(rec(kT0 + i * (kS / 4), 200, "/", "6.6.6.6"));
  e.add(rec(kT0, 200, "/", "7.7.7.7"));
  e.flush();
  CHECK(out.windows[0].keyed[kIpRequestRate]["6.6.6.6"].value == doctest::Approx(2.0));
  CHECK(out.windows[0].keyed[kIpRequestRate]["7.7.7.7"].value == doctest::Approx(1.0 / 60));
}

TEST_CASE("metrics: url_p99_latency_ms is the nearest-rank 99th percentile within 6.25%") {
  Collector out;
  WindowEngine e(tumbling(), out);
  // 100 samples 1..100 ms: nearest rank 99 is 99 ms. 10 samples of 3 us: rank 10 is exact.
  for (int i = 1; i <= 100; ++i) {
    Record r = rec(kT0, 200, "/slow");
    r.duration_us = i * 1000;
    e.add(r);
  }
  for (int i = 0; i < 10; ++i) {
    Record r = rec(kT0, 200, "/fast");
    r.duration_us = 3;
    e.add(r);
  }
  e.add(rec(kT0, 200, "/none"));  // no duration: no latency value
  e.flush();
  auto& p99 = out.windows[0].keyed[kUrlP99LatencyMs];
  CHECK(p99["/slow"].value == doctest::Approx(99.0).epsilon(0.0625));
  CHECK(p99["/slow"].requests == 100);
  CHECK(p99["/slow"].eligible);
  CHECK(p99["/fast"].value == doctest::Approx(0.003));
  CHECK_FALSE(p99["/fast"].eligible);  // 10 < 20
  CHECK(p99["/none"].requests == 0);
}

TEST_CASE("metrics: [errors] statuses replaces the default >= 400") {
  Collector out;
  EngineConfig c = tumbling();
  c.errors.statuses.reset();
  c.errors.statuses.set(500);
  WindowEngine e(c, out);
  e.add(rec(kT0, 404));
  e.add(rec(kT0, 500));
  e.flush();
  CHECK(out.windows[0].global[kErrorRate].value == 0.5);
}

TEST_CASE("engine: max_keys bounds the keys held for two million distinct ips") {
  Collector out;
  EngineConfig c = tumbling(60, 0);
  c.max_keys = 1000;
  struct CountOnly final : WindowObserver {
    size_t max_ips = 0;
    uint64_t attacker = 0;
    void on_window(const WindowView& w) override {
      max_ips = std::max(max_ips, w.key_count(Dimension::kIp));
      w.for_each_key(kIpRequestRate, [&](std::string_view k, const MetricValue& v) {
        if (k == "6.6.6.6") attacker = v.requests;
      });
    }
  } obs;
  WindowEngine e(c, obs);
  char ip[32];
  for (int i = 0; i < 200000; ++i) {
    int n = std::snprintf(ip, sizeof ip, "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
    Record r = rec(kT0 + (i % 60) * kS, 200, "/", std::string_view(ip, static_cast<size_t>(n)));
    e.add(r);
    if (i % 10 == 0) e.add(rec(kT0 + (i % 60) * kS, 200, "/", "6.6.6.6"));
  }
  e.flush();
  CHECK(obs.max_ips <= 1000);
  CHECK(obs.attacker == 20000);
  CHECK(e.stats().evicted_keys > 0);
}

namespace {

// Windows as text, for comparing two runs.
std::string windows_text(const Collector& c) {
  std::string out;
  for (const auto& w : c.windows) {
    out += std::to_string(w.start) + " " + std::to_string(w.global[kRequestRate].requests) + " " +
           std::to_string(w.global[kErrorRate].errors);
    for (const auto& [k, v] : w.keyed[kIpRequestRate]) out += " " + k + "=" + std::to_string(v.requests);
    out += "\n";
  }
  return out;
}

}  // namespace

TEST_CASE("sources: partitions read in bursts give the windows of one ordered stream") {
  // 4 partitions (by ip), each in time order, 10 minutes of traffic; read one burst of a
  // partition after the other, as a Kafka consumer reads a backlog.
  std::vector<std::vector<Record>> parts(4);
  std::vector<Record> ordered;
  std::vector<std::string> ips;
  for (int i = 0; i < 40; ++i) ips.push_back("10.0.0." + std::to_string(i));
  for (int s = 0; s < 600; ++s)
    for (int k = 0; k < 3; ++k) {
      int ip = (s * 7 + k * 13) % 40;
      Record r = rec(kT0 + s * kS + k * 1000, (s + k) % 9 ? 200 : 500, "/", ips[static_cast<size_t>(ip)]);
      parts[static_cast<size_t>(ip % 4)].push_back(r);
      ordered.push_back(r);
    }
  Collector truth;
  {
    WindowEngine e(tumbling(), truth);
    for (const auto& r : ordered) e.add(r);
    e.flush();
  }
  for (size_t burst : {size_t{50}, size_t{700}, size_t{100000}}) {
    CAPTURE(burst);
    Collector out;
    WindowEngine e(tumbling(), out);
    std::vector<SourceId> ids{0, e.add_source(), e.add_source(), e.add_source()};
    std::vector<size_t> next(4, 0);
    bool more = true;
    while (more) {
      more = false;
      for (size_t p = 0; p < 4; ++p)
        for (size_t n = 0; n < burst && next[p] < parts[p].size(); ++n, more = true)
          CHECK(e.add(parts[p][next[p]++], ids[p]) == WindowEngine::AddResult::kAdded);
    }
    e.flush();
    CHECK(e.stats().late == 0);
    CHECK(windows_text(out) == windows_text(truth));
  }
}

TEST_CASE("sources: one without records holds the watermark until it is idle or removed") {
  Collector out;
  WindowEngine e(tumbling(60, 5), out);
  SourceId quiet = e.add_source();
  for (int s = 0; s < 200; ++s) e.add(rec(kT0 + s * kS));
  CHECK(out.windows.empty());  // partition `quiet` has said nothing yet: nothing may close
  CHECK(e.frontier_us() == kNoTime);
  e.set_idle(quiet, true);  // caught up and quiet: it no longer holds the others back
  CHECK(out.windows.size() == 3);  // the frontier is at 199 s: [0, 60) .. [120, 180) close
  CHECK(e.stats().idle_sources == 1);
  // Back with an old record: late, and the lateness that would have kept it is known.
  CHECK(e.add(rec(kT0 + 10 * kS), quiet) == WindowEngine::AddResult::kLate);
  CHECK(e.stats().needed_lateness_us == 199 * kS - 60 * kS);
  CHECK(e.stats().idle_sources == 0);  // a record made it active again...
  e.add(rec(kT0 + 300 * kS));
  CHECK(out.windows.size() == 3);  // ...and it holds the watermark at its own newest time (10 s)
  // A removed source does not hold the watermark.
  e.remove_source(quiet);
  CHECK(out.windows.size() == 4);  // 300 s: [180, 240) closes
  SourceId gone = e.add_source();
  e.add(rec(kT0 + 400 * kS));
  CHECK(out.windows.size() == 4);  // `gone` holds it
  e.remove_source(gone);
  CHECK(out.windows.size() == 6);
  CHECK(e.stats().sources == 1);
}

TEST_CASE("metrics: prefix_request_rate sums the addresses of each /24 and /48") {
  Collector out;
  WindowEngine e(tumbling(60, 0), out);
  for (int i = 0; i < 256; ++i) e.add(rec(kT0 + kS, 200, "/", "203.0.113." + std::to_string(i)));
  e.add(rec(kT0 + kS, 200, "/", "2001:db8:1:2::5"));
  e.add(rec(kT0 + kS, 200, "/", "2001:db8:1:ff::9"));
  e.add(rec(kT0 + kS, 200, "/", "::ffff:198.51.100.7"));
  e.add(rec(kT0 + kS, 200, "/", "not-an-address"));
  e.flush();
  REQUIRE(out.windows.size() == 1);
  auto& p = out.windows[0].keyed[kPrefixRequestRate];
  CHECK(p.size() == 3);
  CHECK(p["203.0.113.0/24"].requests == 256);
  CHECK(p["2001:db8:1::/48"].requests == 2);
  CHECK(p["::ffff:198.51.100.0/24"].requests == 1);
  CHECK(p["203.0.113.0/24"].value == doctest::Approx(256.0 / 60));
}

TEST_CASE("human_value: ratios as percentages, rates in req/s, latencies in ms or s, 3 digits") {
  CHECK(human_value(kErrorRate, 0.43333333333333335) == "43.3%");
  CHECK(human_value(kServerErrorRate, 0.0005) == "0.05%");
  CHECK(human_value(kUrlErrorRate, 1) == "100%");
  CHECK(human_value(kErrorRate, 0) == "0%");
  CHECK(human_value(kIpRequestRate, 10) == "10 req/s");
  CHECK(human_value(kRequestRate, 1.0 / 3) == "0.333 req/s");
  CHECK(human_value(kRequestRate, 15234.7) == "15235 req/s");
  CHECK(human_value(kUrlP99LatencyMs, 850.25) == "850 ms");
  CHECK(human_value(kUrlP99LatencyMs, 1250) == "1.25 s");
}

TEST_CASE("kMetrics: every metric has a Prometheus family in base units and a default severity") {
  for (const MetricDef& m : kMetrics) {
    CHECK(!m.prometheus.empty());
    CHECK(m.prometheus.find("_ms") == std::string_view::npos);
    CHECK((m.severity == "critical" || m.severity == "warning"));
  }
  CHECK(kMetrics[kUrlP99LatencyMs].prometheus_scale == 0.001);
}

TEST_CASE("sources: the quiet clock's base is the watermark of the records, not the newest of all") {
  // A partition whose next fetch is still under way looks caught up; the quiet clock counts from
  // data_frontier_us(), which it holds back, not from the newest record of another partition.
  Collector out;
  WindowEngine e(tumbling(60, 5), out);
  SourceId slow = e.add_source();
  CHECK(e.data_frontier_us() == kNoTime);  // `slow` has said nothing yet
  for (int s = 0; s < 600; ++s) e.add(rec(kT0 + s * kS));
  for (int s = 0; s < 299; ++s) e.add(rec(kT0 + s * kS), slow);
  CHECK(e.data_frontier_us() == kT0 + 298 * kS);
  e.advance_to(e.data_frontier_us() + 3 * kS);
  CHECK(e.add(rec(kT0 + 300 * kS), slow) == WindowEngine::AddResult::kAdded);  // not late
  CHECK(e.data_frontier_us() == kT0 + 300 * kS);
  e.set_idle(slow, true);
  e.set_idle(0, true);
  CHECK(e.data_frontier_us() == kT0 + 599 * kS);  // none active: the newest of all
  CHECK(e.stats().late == 0);
}

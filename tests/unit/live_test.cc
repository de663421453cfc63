// The live board behind stream --http-listen and --dashboard: what it keeps of each closed
// window (totals, top keys, latency quantiles), the open alerts, and the Server-Sent Events text.
// Expected values are worked out by hand.
#include "logpipe/live.h"
#include "logpipe/timeutil.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace logpipe;

namespace {

constexpr int64_t kS = 1'000'000;
constexpr int64_t kT0 = 1'750'665'600 * kS;  // 2025-06-23T08:00:00Z

Record rec(int64_t t, int status, std::string_view url, std::string_view ip, int64_t duration_us = -1) {
  Record r;
  r.time_us = t;
  r.status = status;
  r.url = url;
  r.ip = ip;
  if (duration_us >= 0) r.duration_us = duration_us;
  return r;
}

EngineConfig tumbling60() {
  EngineConfig c;
  c.window_us = 60 * kS;
  c.lateness_us = 0;
  return c;
}

Alert alert(bool firing, MetricId m, std::string key) {
  Alert a;
  a.firing = firing;
  a.metric = m;
  a.key = std::move(key);
  a.value.value = 0.5;
  a.threshold = 0.1;
  a.window_end_us = kT0 + 60 * kS;
  a.incident = "i";
  return a;
}

}  // namespace

TEST_CASE("live: a closed window keeps its totals, its heaviest keys first, and latency quantiles") {
  LiveBoard board(10, 2);
  std::vector<std::string> events;
  board.on_event([&](const std::string& e) { events.push_back(e); });
  WindowEngine e(tumbling60(), board);
  // /a: 3 requests (1 error), /b: 2, /c: 1; ips 10.0.0.1 x4, 10.0.0.2 x2. Durations 1..6 ms.
  int64_t d = 1000;
  for (auto [url, ip, status] : {std::tuple{"/a", "10.0.0.1", 200}, {"/a", "10.0.0.1", 500}, {"/a", "10.0.0.2", 200},
                                 {"/b", "10.0.0.1", 200}, {"/b", "10.0.0.2", 404}, {"/c", "10.0.0.1", 200}}) {
    e.add(rec(kT0 + d, status, url, ip, d));
    d += 1000;
  }
  e.add(rec(kT0 + 61 * kS, 200, "/a", "10.0.0.1"));  // closes the first window (lateness 0)
  LiveSnapshot s = board.snapshot();
  REQUIRE(s.windows.size() == 1);
  const LiveWindow& w = s.windows[0];
  CHECK(w.start_us == kT0);
  CHECK(w.totals.requests == 6);
  CHECK(w.totals.errors == 2);  // 500 and 404 (the default rules count 4xx)
  CHECK(w.totals.server_errors == 1);
  CHECK(w.error_rate == doctest::Approx(2.0 / 6));
  CHECK(w.request_rate == doctest::Approx(6.0 / 60));
  CHECK(w.urls == 3);
  CHECK(w.ips == 2);
  REQUIRE(w.top[0].size() == 2);  // top 2 of 3 urls
  CHECK(w.top[0][0].key == "/a");
  CHECK(w.top[0][0].requests == 3);
  CHECK(w.top[0][0].errors == 1);
  CHECK(w.top[0][0].p99_ms == doctest::Approx(3.0).epsilon(0.07));  // its slowest: 3 ms
  CHECK(w.top[0][1].key == "/b");
  CHECK(w.top[2][0].key == "10.0.0.1");
  CHECK(w.top[2][0].requests == 4);
  CHECK(w.p50_ms == doctest::Approx(3.0).epsilon(0.07));  // 1..6 ms: the 3rd of 6
  CHECK(w.p99_ms == doctest::Approx(6.0).epsilon(0.07));
  REQUIRE(events.size() == 1);
  CHECK(events[0].rfind("event: window\ndata: {\"window_start\":\"2025-06-23T08:00:00Z\"", 0) == 0);
  CHECK(events[0].find(R"("requests":6,"outcomes":6,"errors":2,"server_errors":1)") != std::string::npos);
  CHECK(events[0].find(R"("url":[{"key":"/a","requests":3,"outcomes":3,"errors":1,"p99_ms":)") != std::string::npos);
  CHECK(events[0].ends_with("\n\n"));
}

TEST_CASE("live: only the last windows are kept, oldest first") {
  LiveBoard board(2, 5);
  WindowEngine e(tumbling60(), board);
  for (int i = 0; i < 4; ++i) e.add(rec(kT0 + i * 60 * kS, 200, "/", "10.0.0.1"));
  e.flush();
  LiveSnapshot s = board.snapshot();
  REQUIRE(s.windows.size() == 2);
  CHECK(s.windows[0].start_us == kT0 + 120 * kS);
  CHECK(s.windows[1].start_us == kT0 + 180 * kS);
  CHECK(s.windows[0].p99_ms == -1);  // no durations
  std::string replay = board.replay();
  CHECK(replay.find("2025-06-23T08:02:00Z") != std::string::npos);
  CHECK(replay.find("2025-06-23T08:01:00Z\",\"window_end") == std::string::npos);
  CHECK(replay.find("\"p50_ms\":null") != std::string::npos);
  CHECK(replay.ends_with("event: alerts\ndata: {\"open\":[],\"fired\":0,\"resolved\":0}\n\n"));
}

TEST_CASE("live: an alert is open from its firing until its resolution, one row per metric and key") {
  LiveBoard board;
  std::vector<std::string> events;
  board.on_event([&](const std::string& e) { events.push_back(e); });
  std::vector<Alert> batch{alert(true, kErrorRate, ""), alert(true, kUrlErrorRate, "/pay")};
  board.send(batch);
  batch = {alert(true, kUrlErrorRate, "/pay")};  // the same episode again: still one row
  board.send(batch);
  CHECK(board.snapshot().open.size() == 2);
  batch = {alert(false, kErrorRate, "")};
  board.send(batch);
  LiveSnapshot s = board.snapshot();
  REQUIRE(s.open.size() == 1);
  CHECK(s.open[0].key == "/pay");
  CHECK(s.fired == 2);  // episodes, not messages
  CHECK(s.resolved == 1);
  board.send({});  // nothing: no event
  REQUIRE(events.size() == 3);
  CHECK(events[2] ==
        "event: alerts\ndata: {\"open\":[{\"metric\":\"url_error_rate\",\"key\":\"/pay\",\"value\":0.5,"
        "\"threshold\":0.1,\"requests\":0,\"errors\":0,\"human\":\"50%\",\"window_end\":\"2025-06-23T08:01:00Z\","
        "\"incident\":\"i\"}],\"fired\":2,\"resolved\":1}\n\n");
}

// Episode logic and the alert JSON line: one firing per (metric, key) episode, resolved at the
// first later window that is no longer over the threshold.
#include "logpipe/alerts.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace logpipe;

namespace {

constexpr int64_t kS = 1'000'000;
constexpr int64_t kT0 = 1'750'665'600 * kS;  // 2025-06-23T08:00:00Z

struct Harness {
  std::string out;
  AlertEvaluator::Thresholds thresholds{};
  std::unique_ptr<AlertEvaluator> eval;
  std::unique_ptr<WindowEngine> engine;
  explicit Harness(AlertEvaluator::Thresholds t, EngineConfig c = {}) : thresholds(t) {
    c.lateness_us = 0;
    eval = std::make_unique<AlertEvaluator>(t, [this](const std::vector<Alert>& alerts) {
      for (const auto& a : alerts) append_alert_json(out, a);
    });
    engine = std::make_unique<WindowEngine>(c, *eval);
  }
  // n requests in minute `minute`, `errors` of them 500.
  void traffic(int minute, int n, int errors, std::string_view url = "/", std::string_view ip = "10.0.0.1") {
    for (int i = 0; i < n; ++i) {
      Record r;
      r.time_us = kT0 + minute * 60 * kS + i * (59 * kS / n);
      r.status = i < errors ? 500 : 200;
      r.url = url;
      r.ip = ip;
      engine->add(r);
    }
  }
};

}  // namespace

TEST_CASE("alerts: the JSON line has the docs/reference.md keys in order") {
  Alert a;
  a.firing = true;
  a.metric = kUrlErrorRate;
  a.key = "/login \"x\"";
  a.value = MetricValue{0.43, 120, 52, true};
  a.threshold = 0.2;
  a.window_start_us = kT0;
  a.window_end_us = kT0 + 60 * kS;
  std::string s;
  append_alert_json(s, a);
  CHECK(s ==
        "{\"state\":\"firing\",\"metric\":\"url_error_rate\",\"key\":\"/login \\\"x\\\"\",\"value\":0.43,"
        "\"threshold\":0.2,\"requests\":120,\"errors\":52,\"window_start\":\"2025-06-23T08:00:00Z\","
        "\"window_end\":\"2025-06-23T08:01:00Z\",\"incident\":\"\"}\n");
}

TEST_CASE("alerts: a global metric fires once per episode, then resolves") {
  AlertEvaluator::Thresholds t{};
  t[kErrorRate] = 0.5;
  Harness h(t);
  h.traffic(0, 10, 1);
  h.traffic(1, 10, 8);  // 0.8 > 0.5: firing
  h.traffic(2, 10, 9);  // still over: nothing
  h.traffic(3, 10, 5);  // 0.5 is not > 0.5: resolved
  h.traffic(4, 10, 6);  // a new episode
  h.engine->flush();
  CHECK(h.out ==
        "{\"state\":\"firing\",\"metric\":\"error_rate\",\"key\":\"\",\"value\":0.8,\"threshold\":0.5,"
        "\"requests\":10,\"errors\":8,\"window_start\":\"2025-06-23T08:01:00Z\",\"window_end\":\"2025-06-23T08:02:00Z\","
        "\"incident\":\"2025-06-23T08:01:00Z/error_rate\"}\n"
        "{\"state\":\"resolved\",\"metric\":\"error_rate\",\"key\":\"\",\"value\":0.5,\"threshold\":0.5,"
        "\"requests\":10,\"errors\":5,\"window_start\":\"2025-06-23T08:03:00Z\",\"window_end\":\"2025-06-23T08:04:00Z\","
        "\"incident\":\"2025-06-23T08:01:00Z/error_rate\"}\n"
        "{\"state\":\"firing\",\"metric\":\"error_rate\",\"key\":\"\",\"value\":0.6,\"threshold\":0.5,"
        "\"requests\":10,\"errors\":6,\"window_start\":\"2025-06-23T08:04:00Z\",\"window_end\":\"2025-06-23T08:05:00Z\","
        // Back over a minute after it resolved: the same incident (no new page for a flap).
        "\"incident\":\"2025-06-23T08:01:00Z/error_rate\"}\n");
}

TEST_CASE("alerts: keyed episodes are per key and respect min_requests") {
  AlertEvaluator::Thresholds t{};
  t[kUrlErrorRate] = 0.3;
  Harness h(t);
  h.traffic(0, 30, 15, "/login");
  h.traffic(0, 5, 5, "/tiny");  // 100% but 5 < 20 requests: never alerts
  h.traffic(0, 30, 0, "/ok");
  h.traffic(1, 30, 12, "/login");  // 0.4: still the same episode
  h.traffic(2, 30, 3, "/login");   // 0.1: resolved
  h.engine->flush();
  CHECK(h.out ==
        "{\"state\":\"firing\",\"metric\":\"url_error_rate\",\"key\":\"/login\",\"value\":0.5,\"threshold\":0.3,"
        "\"requests\":30,\"errors\":15,\"window_start\":\"2025-06-23T08:00:00Z\",\"window_end\":\"2025-06-23T08:01:00Z\","
        "\"incident\":\"2025-06-23T08:00:00Z/url_error_rate\"}\n"
        "{\"state\":\"resolved\",\"metric\":\"url_error_rate\",\"key\":\"/login\",\"value\":0.1,\"threshold\":0.3,"
        "\"requests\":30,\"errors\":3,\"window_start\":\"2025-06-23T08:02:00Z\",\"window_end\":\"2025-06-23T08:03:00Z\","
        "\"incident\":\"2025-06-23T08:00:00Z/url_error_rate\"}\n");
  CHECK(h.eval->fired() == 1);
  CHECK(h.eval->resolved() == 1);
  CHECK(h.eval->firing() == 0);
}

TEST_CASE("alerts: a key that vanishes from the traffic resolves in the next window") {
  AlertEvaluator::Thresholds t{};
  t[kIpRequestRate] = 1.0;
  Harness h(t);
  h.traffic(0, 120, 0, "/", "6.6.6.6");  // 2 req/s
  h.traffic(0, 10, 0, "/", "1.1.1.1");
  h.traffic(1, 10, 0, "/", "1.1.1.1");
  h.engine->flush();
  CHECK(h.out ==
        "{\"state\":\"firing\",\"metric\":\"ip_request_rate\",\"key\":\"6.6.6.6\",\"value\":2,\"threshold\":1,"
        "\"requests\":120,\"errors\":0,\"window_start\":\"2025-06-23T08:00:00Z\",\"window_end\":\"2025-06-23T08:01:00Z\","
        "\"incident\":\"2025-06-23T08:00:00Z/ip_request_rate\"}\n"
        "{\"state\":\"resolved\",\"metric\":\"ip_request_rate\",\"key\":\"6.6.6.6\",\"value\":0,\"threshold\":1,"
        "\"requests\":0,\"errors\":0,\"window_start\":\"2025-06-23T08:01:00Z\",\"window_end\":\"2025-06-23T08:02:00Z\","
        "\"incident\":\"2025-06-23T08:00:00Z/ip_request_rate\"}\n");
}

TEST_CASE("alerts: a metric without threshold is computed but never alerts") {
  AlertEvaluator::Thresholds t{};
  Harness h(t);
  h.traffic(0, 100, 100);
  h.engine->flush();
  CHECK(h.out.empty());
  CHECK(h.eval->last_global()[kErrorRate].value == 1.0);
  CHECK(h.eval->last_max()[kIpErrorRate].first == "10.0.0.1");
}

TEST_CASE("alerts: alerts of one window are sorted by metric then key") {
  AlertEvaluator::Thresholds t{};
  t[kUrlErrorRate] = 0.1;
  t[kErrorRate] = 0.1;
  Harness h(t);
  h.traffic(0, 20, 20, "/b");
  h.traffic(0, 20, 20, "/a");
  h.engine->flush();
  std::vector<std::string> keys;
  size_t pos = 0;
  while ((pos = h.out.find("\"metric\":", pos)) != std::string::npos) {
    size_t end = h.out.find(",\"value\"", pos);
    keys.push_back(h.out.substr(pos, end - pos));
    pos = end;
  }
  REQUIRE(keys.size() == 3);
  CHECK(keys[0] == "\"metric\":\"error_rate\",\"key\":\"\"");
  CHECK(keys[1] == "\"metric\":\"url_error_rate\",\"key\":\"/a\"");
  CHECK(keys[2] == "\"metric\":\"url_error_rate\",\"key\":\"/b\"");
}

// Calibration: the threshold rule on hand-made value sets, the DDSketch against brute force, the
// observer on the real engine (keyed max, the min_requests ladder), and the thresholds file read
// back by the stream branch's loader. Expected values are worked out by hand or by brute force.
#include "logpipe/calibrate.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "logpipe/config.h"
#include "logpipe/error.h"

using namespace logpipe;

namespace {

constexpr int64_t kS = 1'000'000;
constexpr int64_t kT0 = 1'750'665'600 * kS;  // 2025-06-23T08:00:00Z

uint64_t count_above(const std::vector<double>& values, double t) {
  return static_cast<uint64_t>(
      std::count_if(values.begin(), values.end(), [&](double v) { return v > t; }));
}

Record rec(int64_t t, int status, std::string_view url, std::string_view ip,
           std::string_view user = "") {
  Record r;
  r.time_us = t;
  r.status = status;
  r.url = url;
  r.ip = ip;
  r.user = user;
  return r;
}

}  // namespace

TEST_CASE(
    "calibrate: allowed firing windows is floor(target x windows), robust to binary rounding") {
  CHECK(allowed_firing_windows(0.01, 1440) == 14);
  CHECK(allowed_firing_windows(0.01, 99) == 0);
  CHECK(allowed_firing_windows(0.01, 100) == 1);
  CHECK(allowed_firing_windows(0.29, 100) == 29);  // 0.29 * 100 = 28.999999999999996 in binary
  CHECK(allowed_firing_windows(0.5, 0) == 0);
}

TEST_CASE("calibrate: threshold is the (n-k)-th smallest value, so at most k windows are above") {
  std::vector<double> values;
  for (int i = 1; i <= 100; ++i) values.push_back(i);
  std::vector<double> work = values;
  auto t = choose_threshold(work, 100, 0.05);  // k = 5: the 95th smallest
  REQUIRE(t);
  CHECK(*t == 95);
  CHECK(count_above(values, *t) == 5);
}

TEST_CASE("calibrate: windows without an eligible value count as the lowest and never fire") {
  std::vector<double> values;
  for (int i = 1; i <= 100; ++i) values.push_back(i);
  std::vector<double> work = values;
  // 200 windows, 100 of them "none": k = 10, rank 190 = the 90th smallest real value.
  auto t = choose_threshold(work, 200, 0.05);
  REQUIRE(t);
  CHECK(*t == 90);
  CHECK(count_above(values, *t) == 10);
  // Fewer values than allowed firing windows: every value may fire; 0 is the threshold.
  std::vector<double> few = {0.5, 0.7};
  t = choose_threshold(few, 1000, 0.01);
  REQUIRE(t);
  CHECK(*t == 0);
  std::vector<double> none;
  CHECK_FALSE(choose_threshold(none, 1000, 0.01));
}

TEST_CASE("calibrate: ties at the top make the metric fire less, never more") {
  std::vector<double> values(1000, 1.0);
  for (int i = 0; i < 900; ++i) values[i] = i / 1000.0;
  std::vector<double> work = values;
  auto t = choose_threshold(work, 1000, 0.01);  // k = 10: the 990th smallest is 1.0
  REQUIRE(t);
  CHECK(*t == 1.0);
  CHECK(count_above(values, *t) == 0);
}

TEST_CASE("calibrate: the threshold fires in more than half the target when values are distinct") {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(0, 1);
  for (uint64_t n : {50u, 144u, 1440u, 10000u}) {
    std::vector<double> values;
    for (uint64_t i = 0; i < n; ++i) values.push_back(dist(rng));
    std::vector<double> work = values;
    auto t = choose_threshold(work, n, 0.01);
    REQUIRE(t);
    CHECK(count_above(values, *t) == allowed_firing_windows(0.01, n));
  }
}

TEST_CASE("calibrate: DDSketch quantiles are within the relative accuracy of the exact ones") {
  QuantileSketch sketch(0.01);
  std::vector<double> values;
  std::mt19937_64 rng(1);
  std::lognormal_distribution<double> dist(0, 2);
  for (int i = 0; i < 100000; ++i) {
    double v = i % 50 == 0 ? 0.0 : dist(rng);
    values.push_back(v);
    sketch.add(v);
  }
  std::sort(values.begin(), values.end());
  CHECK(sketch.count() == values.size());
  CHECK(sketch.max() == values.back());
  for (double q : {0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0}) {
    double exact =
        values[static_cast<size_t>(std::ceil(q * static_cast<double>(values.size()))) - 1];
    double estimate = sketch.quantile(q);
    CAPTURE(q);
    if (exact == 0)
      CHECK(estimate == 0);
    else
      CHECK(std::abs(estimate - exact) <= 0.01 * exact * (1 + 1e-12));
  }
}

TEST_CASE(
    "calibrate: the sketch's threshold is an actual value, never below the exact one, with an "
    "exact count above") {
  QuantileSketch sketch(0.01);
  std::vector<double> values;
  std::mt19937_64 rng(2);
  std::exponential_distribution<double> dist(3);
  for (int i = 0; i < 20000; ++i) {
    double v = dist(rng);
    values.push_back(v);
    sketch.add(v);
  }
  std::vector<double> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  const double gamma = 1.01 / 0.99;
  for (uint64_t rank : {1u, 100u, 10000u, 19800u, 19990u, 20000u}) {
    double t = sketch.threshold_at_rank(rank);
    double exact = sorted[rank - 1];
    CAPTURE(rank);
    CHECK(t >= exact);
    CHECK(t <= exact * gamma);
    CHECK(std::find(values.begin(), values.end(), t) != values.end());
    CHECK(sketch.count_above(t) == count_above(values, t));
    CHECK(sketch.count_above(t) <= values.size() - rank);
  }
}

TEST_CASE("calibrate: merged sketches equal the sketch of all values") {
  QuantileSketch a(0.02), b(0.02), all(0.02);
  for (int i = 0; i < 5000; ++i) {
    double v = (i * 7919 % 10007) / 100.0;
    (i % 3 == 0 ? a : b).add(v);
    all.add(v);
  }
  a.merge(b);
  CHECK(a.count() == all.count());
  CHECK(a.max() == all.max());
  for (double q : {0.0, 0.25, 0.5, 0.75, 0.99, 1.0}) CHECK(a.quantile(q) == all.quantile(q));
  for (uint64_t r : {1u, 2500u, 5000u}) CHECK(a.threshold_at_rank(r) == all.threshold_at_rank(r));
  QuantileSketch other(0.01);
  CHECK_THROWS_AS(a.merge(other), Error);
}

TEST_CASE("calibrate: sketch mode keeps the promise and is close to exact mode") {
  WindowValues exact, sketched;
  sketched.to_sketch(0.01);
  std::mt19937_64 rng(3);
  std::gamma_distribution<double> dist(2, 0.01);
  std::vector<double> values;
  for (int i = 0; i < 5000; ++i) {
    if (i % 10 == 0) {
      exact.add_none();
      sketched.add_none();
      continue;
    }
    double v = dist(rng);
    values.push_back(v);
    exact.add(v);
    sketched.add(v);
  }
  ValueSummary e = exact.summarize(0.01), s = sketched.summarize(0.01);
  CHECK(e.exact);
  CHECK_FALSE(s.exact);
  REQUIRE(e.threshold);
  REQUIRE(s.threshold);
  CHECK(e.windows == 5000);
  CHECK(s.windows == 5000);
  CHECK(e.eligible_windows == 4500);
  CHECK(s.eligible_windows == 4500);
  CHECK(e.firing_windows == count_above(values, *e.threshold));
  CHECK(e.firing_windows == 50);
  CHECK(s.firing_windows == count_above(values, *s.threshold));
  CHECK(s.firing_windows <= 50);
  CHECK(*s.threshold >= *e.threshold);
  CHECK(*s.threshold <= *e.threshold * 1.01 / 0.99);
  CHECK(std::abs(s.p50 - e.p50) <= 0.01 * e.p50);
}

TEST_CASE("calibrate: a keyed metric's window value is the max over keys meeting min_requests") {
  // 100 one-minute windows. Each has url /a with 30 requests of which i % 10 fail, and url /b with
  // 5 requests that all fail (under every ladder level, so never the window's value).
  CalibrationOptions options;
  options.target_rate = 0.05;  // k = 5
  Calibrator calibrator(options);
  EngineConfig engine;
  engine.min_requests = Calibrator::engine_min_requests();
  WindowEngine e(engine, calibrator);
  std::vector<double> expected;
  for (int w = 0; w < 100; ++w) {
    int64_t t = kT0 + w * 60 * kS;
    int errors = w % 10;
    for (int i = 0; i < 30; ++i)
      e.add(rec(t + i * kS, i < errors ? 500 : 200, "/a", "10.0.0.1", "u1"));
    for (int i = 0; i < 5; ++i) e.add(rec(t + (40 + i) * kS, 404, "/b", "10.0.0.2", "u2"));
    expected.push_back(errors / 30.0);
  }
  e.flush();
  CHECK(calibrator.windows() == 100);
  auto results = calibrator.results();
  REQUIRE(results.size() == kMetricCount);
  const MetricCalibration& url = results[kUrlErrorRate];
  CHECK(url.min_requests == 10);  // the smallest level whose threshold (0.3) is <= 0.5
  CHECK(url.min_requests_source == "rule");
  REQUIRE(url.summary.threshold);
  CHECK(*url.summary.threshold == 9 / 30.0);  // k = 5 of 10 windows at 9/30: ties, fires in 0
  CHECK(url.summary.firing_windows == 0);
  CHECK(url.summary.max == 9 / 30.0);
  // error_rate is global: (errors + 5) / 35 per window.
  const MetricCalibration& global = results[kErrorRate];
  CHECK(global.min_requests == 1);
  CHECK(global.summary.eligible_windows == 100);
  CHECK(*global.summary.threshold == 14 / 35.0);
  // request_rate: 35 requests per minute in every window.
  CHECK(*results[kRequestRate].summary.threshold == 35 / 60.0);
  // The ip 10.0.0.2 makes 5 requests a minute at 100% errors: under every ladder level.
  CHECK(results[kIpErrorRate].summary.max == 9 / 30.0);
}

TEST_CASE("calibrate: the ladder moves past levels where small keys saturate the ratio") {
  // Each window: user "noisy" with 15 requests, 12 failing (0.8, eligible at 10 only); user
  // "big" with 60 requests and w % 20 errors (eligible up to 50).
  CalibrationOptions options;
  Calibrator calibrator(options);
  EngineConfig engine;
  engine.min_requests = Calibrator::engine_min_requests();
  WindowEngine e(engine, calibrator);
  for (int w = 0; w < 200; ++w) {
    int64_t t = kT0 + w * 60 * kS;
    for (int i = 0; i < 15; ++i)
      e.add(rec(t + i * kS, i < 12 ? 500 : 200, "/x", "10.0.0.9", "noisy"));
    for (int i = 0; i < 60; ++i)
      e.add(rec(t + i * kS, i < w % 20 ? 500 : 200, "/y", "10.0.0.8", "big"));
  }
  e.flush();
  auto results = calibrator.results();
  const MetricCalibration& user = results[kUserErrorRate];
  CHECK(user.min_requests == 20);
  CHECK(user.min_requests_source == "rule");
  CHECK(*user.summary.threshold == 19 / 60.0);  // k = 2: the 198th smallest of 0..19/60 x 10
  // A fixed --min-requests is used as is.
  options.min_requests[kUserErrorRate] = 10;
  Calibrator fixed(options);
  WindowEngine e2(engine, fixed);
  for (int w = 0; w < 200; ++w)
    for (int i = 0; i < 15; ++i)
      e2.add(rec(kT0 + w * 60 * kS + i * kS, i < 12 ? 500 : 200, "/x", "10.0.0.9", "noisy"));
  e2.flush();
  auto r2 = fixed.results();
  CHECK(r2[kUserErrorRate].min_requests == 10);
  CHECK(r2[kUserErrorRate].min_requests_source == "fixed");
  CHECK(*r2[kUserErrorRate].summary.threshold == 0.8);
}

TEST_CASE(
    "calibrate: the thresholds file reads back through the stream config loader, bit for bit") {
  CalibrationOptions options;
  options.target_rate = 0.01;
  Calibrator calibrator(options);
  EngineConfig engine;
  engine.min_requests = Calibrator::engine_min_requests();
  WindowEngine e(engine, calibrator);
  std::mt19937_64 rng(11);
  std::poisson_distribution<int> requests(40);
  for (int w = 0; w < 300; ++w) {
    int64_t t = kT0 + w * 60 * kS;
    int n = requests(rng);
    for (int i = 0; i < n; ++i)
      e.add(rec(t + (i * 59 / std::max(n, 1)) * kS, rng() % 37 == 0 ? 503 : 200,
                i % 2 ? "/p" : "/q", i % 3 ? "10.1.1.1" : "10.1.1.2", i % 5 ? "ann" : "bob"));
  }
  e.flush();
  auto results = calibrator.results();
  CalibrationInfo info;
  info.inputs = {"history.log"};
  info.generated_at = "2026-01-01T00:00:00Z";
  info.windows = calibrator.windows();
  info.first_start_us = calibrator.first_window_start_us();
  info.last_end_us = calibrator.last_window_end_us();
  std::string text = format_calibration_toml(info, results);
  CHECK(text.find("# Alert thresholds written by `logpipe calibrate`") == 0);
  CHECK(text.find("2026-01-01T00:00:00Z") != std::string::npos);
  ThresholdConfig config = parse_threshold_config(text, "calibrated.toml");
  REQUIRE(config.window_us);
  CHECK(*config.window_us == 60 * kS);
  CHECK_FALSE(config.hop_us);
  for (const auto& r : results) {
    CAPTURE(kMetrics[r.metric].name);
    if (!r.summary.threshold) {
      CHECK_FALSE(config.metrics[r.metric].threshold);
      continue;
    }
    REQUIRE(config.metrics[r.metric].threshold);
    CHECK(*config.metrics[r.metric].threshold == *r.summary.threshold);  // exact double
    CHECK(*config.metrics[r.metric].min_requests == r.min_requests);
  }
  // No latency in these records: url_p99_latency_ms cannot be calibrated and is left out.
  CHECK_FALSE(results[kUrlP99LatencyMs].summary.threshold);
  CHECK(text.find("Not calibrated (no window had an eligible value, so they never alert): "
                  "url_p99_latency_ms") != std::string::npos);
}

TEST_CASE("calibrate: a target rate outside (0, 1) is a usage error") {
  CalibrationOptions options;
  options.target_rate = 0;
  CHECK_THROWS_AS(Calibrator{options}, Error);
  options.target_rate = 1;
  CHECK_THROWS_AS(Calibrator{options}, Error);
}

TEST_CASE("calibrate: the reported firing windows are the brute-force count above the threshold") {
  // Values with many ties (small integer ratios) or few, in random order, some windows "none".
  std::mt19937_64 rng(5);
  for (int round = 0; round < 20; ++round) {
    WindowValues collector;
    std::vector<double> values;
    uint64_t windows = 500 + rng() % 2000;
    for (uint64_t w = 0; w < windows; ++w) {
      if (rng() % 7 == 0) {
        collector.add_none();
        continue;
      }
      double v = static_cast<double>(rng() % (round % 2 ? 5 : 1000)) /
                 static_cast<double>(10 + rng() % 20);
      values.push_back(v);
      collector.add(v);
    }
    ValueSummary s = collector.summarize(0.01);
    REQUIRE(s.threshold);
    CAPTURE(round);
    CHECK(s.firing_windows == count_above(values, *s.threshold));
    CHECK(s.firing_windows <= allowed_firing_windows(0.01, windows));
    std::vector<double> sorted = values;
    std::sort(sorted.begin(), sorted.end());
    CHECK(s.p50 ==
          sorted[static_cast<size_t>(std::ceil(0.5 * static_cast<double>(sorted.size()))) - 1]);
    CHECK(s.max == sorted.back());
  }
}

// The statistical rules (CusumRule) and incidents on the real engine: a sharp break pages in its
// window, a doubling over a few, a site-wide failure pages the site and not every url, a quiet
// history calibrates limits that a new quiet day does not pass while a real incident does, and
// the rules file reads back. Traffic is built here; expected windows are worked out by hand
// (the log-likelihood sums are given next to each case).
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "logpipe/alerts.h"
#include "logpipe/calibrate.h"
#include "logpipe/config.h"
#include "logpipe/error.h"

using namespace logpipe;

namespace {

constexpr int64_t kS = 1'000'000;
constexpr int64_t kT0 = 1'750'665'600 * kS;  // 2025-06-23T08:00:00Z

CusumRule rule(double prior, double limit) {
  CusumRule r;
  r.prior = prior;
  r.limit_fast = r.limit_slow = limit;
  return r;
}

struct Run {
  std::vector<Alert> alerts;
  std::unique_ptr<AlertEvaluator> eval;
  std::unique_ptr<WindowEngine> engine;
  explicit Run(AlertRules rules) {
    EngineConfig c;
    c.lateness_us = 0;
    eval = std::make_unique<AlertEvaluator>(std::move(rules), [this](const std::vector<Alert>& a) {
      alerts.insert(alerts.end(), a.begin(), a.end());
    });
    engine = std::make_unique<WindowEngine>(c, *eval);
  }
  // n requests to `url` in minute `minute`, the first `errors` of them 500, spread over the minute.
  void traffic(int minute, int n, int errors, std::string_view url) {
    for (int i = 0; i < n; ++i) {
      Record r;
      r.time_us = kT0 + minute * 60 * kS + i * (59 * kS / n);
      r.status = i < errors ? 500 : 200;
      r.url = url;
      r.ip = "10.0.0.1";
      engine->add(r);
    }
  }
  // Minutes in which `url` got a firing (or resolved) alert of metric m.
  std::vector<int> minutes(MetricId m, std::string_view key, bool firing) const {
    std::vector<int> out;
    for (const Alert& a : alerts)
      if (a.metric == m && a.key == key && a.firing == firing)
        out.push_back(static_cast<int>((a.window_start_us - kT0) / (60 * kS)));
    return out;
  }
};

// Poisson-ish noise: each minute, every url gets `n` requests whose errors are Binomial(n, p).
void noisy_minutes(WindowObserver& observer, int first, int count, double p, uint32_t seed,
                   int urls = 8, int n = 60) {
  EngineConfig c;
  c.lateness_us = 0;
  WindowEngine engine(c, observer);
  std::mt19937 rng(seed);
  std::binomial_distribution<int> errors(n, p);
  for (int minute = first; minute < first + count; ++minute) {
    for (int u = 0; u < urls; ++u) {
      const std::string url = "/page/" + std::to_string(u);
      const int e = errors(rng);
      for (int i = 0; i < n; ++i) {
        Record r;
        r.time_us = kT0 + minute * 60 * kS + (u * n + i) * (59 * kS / (urls * n));
        r.status = i < e ? 503 : 200;
        r.url = url;
        const std::string ip = "10.0.0." + std::to_string(i % 7);  // Record holds views
        r.ip = ip;
        r.duration_us = 20'000 + (i * 7919) % 30'000;
        engine.add(r);
      }
    }
  }
  engine.flush();
}

}  // namespace

TEST_CASE("cusum: a url that breaks pages in that window and resolves once the evidence leaked away") {
  AlertRules rules;
  rules.metrics[kUrlErrorRate].cusum = rule(0.01, 10);
  Run run(rules);
  for (int m = 0; m < 20; ++m) {
    run.traffic(m, 100, 1, "/a");
    run.traffic(m, 100, 1, "/b");
  }
  // 40 errors of 100 against 1%: the fast sum (6%) gains 40 ln 6 + 60 ln(0.94/0.99) = 68.6.
  run.traffic(20, 100, 40, "/a");
  run.traffic(20, 100, 1, "/b");
  for (int m = 21; m < 40; ++m) {
    run.traffic(m, 100, 1, "/a");
    run.traffic(m, 100, 1, "/b");
  }
  run.engine->flush();
  CHECK(run.minutes(kUrlErrorRate, "/a", true) == std::vector<int>{20});
  CHECK(run.minutes(kUrlErrorRate, "/b", true).empty());
  // The fast sum halves each window (leak 0.5), the slow one keeps 95%: /a resolves when both
  // are under half their limit, some windows later, once and only once.
  const auto resolved = run.minutes(kUrlErrorRate, "/a", false);
  REQUIRE(resolved.size() == 1);
  CHECK(resolved[0] > 21);
  CHECK(resolved[0] < 40);
  const Alert& a = run.alerts.front();
  CHECK(a.statistical);
  CHECK(a.baseline == doctest::Approx(0.01).epsilon(0.2));
  CHECK(a.score > a.limit);
  CHECK(a.limit == 10);
  CHECK(a.incident == "2025-06-23T08:20:00Z/url_error_rate");
  std::string line;
  append_alert_json(line, a);
  CHECK(line.find("\"baseline\":") != std::string::npos);
  CHECK(line.find("\"limit\":10") != std::string::npos);
}

TEST_CASE("cusum: a doubling is caught over a few windows, not in the first") {
  AlertRules rules;
  rules.metrics[kUrlErrorRate].cusum = rule(0.05, 10);
  Run run(rules);
  for (int m = 0; m < 30; ++m) run.traffic(m, 200, 10, "/a");  // 5%, the prior
  // 10%: the slow sum (doubling) gains 20 ln 2 + 180 ln(0.90/0.95) = 4.13 a window (less as the
  // baseline follows a little); the fast one (x6) gains nothing. Over 10 after three windows.
  for (int m = 30; m < 40; ++m) run.traffic(m, 200, 20, "/a");
  run.engine->flush();
  const auto fired = run.minutes(kUrlErrorRate, "/a", true);
  REQUIRE(fired.size() == 1);
  CHECK(fired[0] >= 32);
  CHECK(fired[0] <= 34);
}

TEST_CASE("cusum: one error ratio everywhere pages the site; a url worse than the site still stands out") {
  AlertRules rules;
  rules.metrics[kErrorRate].cusum = rule(0.01, 10);
  rules.metrics[kUrlErrorRate].cusum = rule(0.01, 10);
  Run run(rules);
  const std::vector<std::string> urls = {"/1", "/2", "/3", "/4", "/5", "/6"};
  for (int m = 0; m < 20; ++m)
    for (const auto& u : urls) run.traffic(m, 100, 1, u);
  for (const auto& u : urls) run.traffic(20, 100, 40, u);  // everything fails alike
  run.traffic(20, 100, 100, "/worst");                      // and one fails completely
  run.engine->flush();
  CHECK(run.minutes(kErrorRate, "", true) == std::vector<int>{20});
  CHECK(run.minutes(kUrlErrorRate, "/worst", true) == std::vector<int>{20});
  for (const auto& u : urls) CHECK(run.minutes(kUrlErrorRate, u, true).empty());
  // One cause, one incident: both alerts carry the site's incident, and it pages once.
  for (const Alert& a : run.alerts)
    if (a.firing) CHECK(a.incident == "2025-06-23T08:20:00Z/error_rate");
  CHECK(run.eval->incidents() == 1);
}

TEST_CASE("incidents: alerts close in time share one; a cause after the gap opens another") {
  AlertRules rules;
  rules.metrics[kErrorRate].threshold = 0.5;
  rules.metrics[kUrlErrorRate].threshold = 0.5;
  Run run(rules);
  run.traffic(0, 100, 90, "/a");  // both fire: one incident
  run.traffic(1, 100, 0, "/a");   // both resolve
  run.traffic(2, 100, 0, "/a");
  run.traffic(3, 100, 90, "/a");  // 2 windows after: the same incident (incident_gap_windows 3)
  for (int m = 4; m < 10; ++m) run.traffic(m, 100, 0, "/a");
  run.traffic(10, 100, 90, "/a");  // 7 windows after: a new one
  run.engine->flush();
  std::vector<std::string> incidents;
  for (const Alert& a : run.alerts)
    if (a.firing) incidents.push_back(a.incident);
  CHECK(incidents == std::vector<std::string>{
                         "2025-06-23T08:00:00Z/error_rate", "2025-06-23T08:00:00Z/error_rate",
                         "2025-06-23T08:00:00Z/error_rate", "2025-06-23T08:00:00Z/error_rate",
                         "2025-06-23T08:10:00Z/error_rate", "2025-06-23T08:10:00Z/error_rate"});
  CHECK(run.eval->incidents() == 2);
  CHECK(run.eval->fired() == 6);
}

TEST_CASE("calibrate: limits learned on a quiet history hold on another quiet day; an incident passes them") {
  RuleCalibrationOptions options;
  RuleCalibrator calibrator(options);
  noisy_minutes(calibrator, 0, 720, 0.02, 1);  // 12 hours of 2% errors
  AlertRules rules = calibrator.rules();
  for (const RuleCalibration& r : calibrator.results()) {
    CAPTURE(kMetrics[r.metric].name);
    CHECK(r.rule.limit_fast >= 6.9);
    CHECK(r.rule.limit_slow >= 6.9);
    CHECK(r.rule.limit_fast > r.max_fast);  // above the history's worst
    CHECK(r.rule.limit_slow > r.max_slow);
  }
  CHECK(rules.metrics[kErrorRate].cusum->prior == doctest::Approx(0.02).epsilon(0.1));
  CHECK(calibrator.history_page_share() == 0);

  SUBCASE("a new quiet day pages nothing") {
    Run run(rules);
    noisy_minutes(*run.eval, 0, 1440, 0.02, 2);
    CHECK(run.alerts.empty());
  }
  SUBCASE("one url at 30% errors pages that url") {
    Run run(rules);
    noisy_minutes(*run.eval, 0, 120, 0.02, 3);
    run.traffic(120, 60, 18, "/page/3");
    for (int u = 0; u < 8; ++u)
      if (u != 3) run.traffic(120, 60, 1, "/page/" + std::to_string(u));
    run.engine->flush();
    REQUIRE(!run.alerts.empty());
    CHECK(run.minutes(kUrlErrorRate, "/page/3", true) == std::vector<int>{120});
  }
}

TEST_CASE("config: a statistical rule and the baselines read back from the file calibrate writes") {
  ThresholdConfig c;
  CusumRule r = rule(0.013, 14.25);
  r.limit_slow = 21.5;
  r.prior_share = 0.125;
  r.dispersion = 3.5;
  c.metrics[kUrlErrorRate].cusum = r;
  c.metrics[kUrlErrorRate].min_requests = 5;
  c.metrics[kErrorRate].threshold = 0.2;
  c.baselines[kUrlErrorRate] = {{"/login \"x\"", 0.25}, {"/api", 0.0625}};
  const std::string text = format_threshold_config(c);
  CAPTURE(text);
  const ThresholdConfig back = parse_threshold_config(text, "rules.toml");
  REQUIRE(back.metrics[kUrlErrorRate].cusum);
  const CusumRule& b = *back.metrics[kUrlErrorRate].cusum;
  CHECK(b.limit_fast == 14.25);
  CHECK(b.limit_slow == 21.5);
  CHECK(b.prior == 0.013);
  CHECK(b.prior_share == 0.125);
  CHECK(b.dispersion == 3.5);
  CHECK(b.fast_leak == r.fast_leak);
  CHECK(*back.metrics[kUrlErrorRate].min_requests == 5);
  CHECK(*back.metrics[kErrorRate].threshold == 0.2);
  const AlertRules rules = back.rules();
  CHECK(rules.metrics[kUrlErrorRate].cusum.has_value());
  CHECK(rules.baselines[kUrlErrorRate].at("/login \"x\"") == 0.25);
  CHECK(rules.baselines[kUrlErrorRate].at("/api") == 0.0625);
  // A statistical rule without limits is refused (it would page on everything).
  CHECK_THROWS_AS(parse_threshold_config("[metrics.url_error_rate]\nrule = \"cusum\"\n", "x.toml"), Error);
  CHECK_THROWS_AS(parse_threshold_config("[metrics.url_error_rate]\nlimit_fast = 3\n", "x.toml"), Error);
}

TEST_CASE("restart: a saved state continues as if the run had never stopped") {
  AlertRules rules;
  rules.metrics[kUrlErrorRate].cusum = rule(0.01, 10);
  rules.metrics[kErrorRate].threshold = 0.2;  // a fixed rule's episode survives too
  // The traffic: /a breaks in minutes 8-14 (its episode is open at the stop, in minute 10).
  auto minute = [](Run& run, int m) {
    const bool broken = m >= 8 && m <= 14;
    run.traffic(m, 100, broken ? 40 : 1, "/a");
    run.traffic(m, 100, 1, "/b");
  };
  Run whole(rules);
  for (int m = 0; m < 30; ++m) minute(whole, m);
  whole.engine->flush();
  REQUIRE(!whole.alerts.empty());

  // First run: minutes 0-10, then a stop: window 10 is still open (lateness 0, it ends at 11:00).
  Run first(rules);
  for (int m = 0; m <= 10; ++m) minute(first, m);
  const int64_t next = first.engine->next_window();
  CHECK(next == (kT0 / (60 * kS)) + 10);
  const std::string saved = first.eval->save_state();
  CHECK(first.eval->firing() == 2);  // /a and the site, open at the stop: nothing resolved
  // Second run: restored, then fed from minute 9 (a replay of a closed window, as Kafka re-reads
  // after its last commit) to the end.
  Run second(rules);
  second.eval->restore_state(saved);
  second.engine->resume(next);
  CHECK(second.eval->firing() == 2);
  for (int m = 9; m < 30; ++m) minute(second, m);
  second.engine->flush();
  CHECK(second.engine->stats().replayed == 200);  // minute 9: counted by the first run
  CHECK(second.engine->stats().late == 0);

  std::vector<std::string> joined, reference;
  for (const auto& a : first.alerts) joined.emplace_back(), append_alert_json(joined.back(), a);
  for (const auto& a : second.alerts) joined.emplace_back(), append_alert_json(joined.back(), a);
  for (const auto& a : whole.alerts) reference.emplace_back(), append_alert_json(reference.back(), a);
  CHECK(joined == reference);
  CHECK(second.eval->save_state().find("logpipe-alert-state 1\n") == 0);

  // Damaged or foreign text is refused with a reason, never half-loaded silently.
  Run other(rules);
  CHECK_THROWS_WITH_AS(other.eval->restore_state("hello"), doctest::Contains("not a logpipe alert state"), Error);
  CHECK_THROWS_AS(other.eval->restore_state(saved.substr(0, saved.size() / 2)), Error);
  std::string bad_metric = saved;
  bad_metric.replace(bad_metric.find("url_error_rate"), 14, "url_error_ratf");
  CHECK_THROWS_WITH_AS(other.eval->restore_state(bad_metric), doctest::Contains("unknown metric"), Error);
}

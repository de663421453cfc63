// The service loop of stream, with a fake clock, scripted live inputs and a collecting alert sink:
// alerts while the input is quiet (event time follows the clock), --idle-exit on a pipe,
// at-least-once checkpoints (committed only past closed windows and delivered alerts), the end of
// input, records without a time, and the Prometheus text.
#include "logpipe/stream_service.h"

#include "logpipe/timeutil.h"

#include "fakes.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace logpipe;
using namespace logpipe::testing;

namespace {

constexpr int64_t kS = 1'000'000;

// A combined line at 08:MM:SS on 2025-06-23 with a status.
std::string at(int minute, int second, int status, const std::string& ip = "10.0.0.1") {
  char buf[200];
  std::snprintf(buf, sizeof buf, "%s - - [23/Jun/2025:08:%02d:%02d +0000] \"GET /pay HTTP/1.1\" %d 10 \"-\" \"ua\"",
                ip.c_str(), minute, second, status);
  return buf;
}

ServiceConfig config_with(double error_threshold) {
  ServiceConfig c;
  c.rules.metrics[kErrorRate].threshold = error_threshold;
  c.commit_every_us = 5 * kS;
  return c;
}

struct Run {
  FakeClock clock;
  CollectingAlertSink sink{&clock};
  MalformedLog malformed;
  std::vector<std::unique_ptr<PumpInput>> inputs;
  ScriptedLineSource* script = nullptr;

  void input(std::vector<ScriptedLineSource::Step> steps, bool network = true, bool positions = false) {
    auto s = std::make_unique<ScriptedLineSource>(std::move(steps), network ? "kafka://b/t" : "-", false, &clock);
    s->with_positions = positions;
    script = s.get();
    inputs.push_back(std::make_unique<ScriptedInput>(std::move(s), network));
  }
  // Runs the pump into a service; returns the service's Prometheus text at the end.
  std::string go(const ServiceConfig& c, bool input_failed = false) {
    RecordPump pump(PumpOptions{"combined"}, malformed);
    StreamService service(c, {&sink}, nullptr, nullptr, clock, nullptr);
    service.watch(pump, malformed);
    pump.run(inputs, service, &service);
    service.finish(inputs, pump, input_failed);
    fired = service.alerts().fired();
    commits_while_running = service.stats().commits;
    return service.prometheus_text();
  }
  uint64_t fired = 0;
  uint64_t commits_while_running = 0;
};

// Minute 0: 10 lines; then 5 lines of minute 2, one every 6 s of clock; then `quiet_after`
// quiet polls of 6 s.
std::vector<ScriptedLineSource::Step> paced_steps(int quiet_after) {
  std::vector<ScriptedLineSource::Step> steps;
  for (int s = 0; s < 10; ++s) steps.push_back(line(at(0, s, 200)));
  for (int i = 0; i < 5; ++i) {
    steps.push_back(quiet(6 * kS));
    steps.push_back(line(at(2, i, 200)));
  }
  for (int i = 0; i < quiet_after; ++i) steps.push_back(quiet(6 * kS));
  return steps;
}

}  // namespace

TEST_CASE("stream service: a quiet input still closes its window; the alert comes while it is quiet") {
  Run r;
  std::vector<ScriptedLineSource::Step> steps;
  for (int s = 0; s < 30; ++s) steps.push_back(line(at(0, s, s % 2 ? 500 : 200)));  // 50% errors
  for (int i = 0; i < 12; ++i) steps.push_back(quiet(10 * kS));
  r.input(steps);
  r.go(config_with(0.2));
  REQUIRE(r.sink.received.size() >= 1);
  const Alert& a = r.sink.received[0];
  CHECK(a.firing);
  CHECK(a.metric == kErrorRate);
  CHECK(a.value.requests == 30);
  CHECK(a.value.errors == 15);
  CHECK(format_rfc3339(a.window_end_us) == "2025-06-23T08:01:00Z");
  // The window ends at 08:01:00 and waits 5 s of lateness; the last record is at 08:00:29, so
  // event time must move 36 s with the clock. The quiet spell counts from the first quiet poll
  // (at 10 s): event time passes 08:01:05 at the poll of 50 s, long before the script ends.
  CHECK(r.sink.at_us[0] == 50 * kS);
  // The traffic stopped: the next (empty) window resolves the episode, also while quiet
  // (08:02:05 is passed once 97 s of quiet have gone by: the poll of 110 s).
  REQUIRE(r.sink.received.size() == 2);
  CHECK_FALSE(r.sink.received[1].firing);
  CHECK(r.sink.at_us[1] == 110 * kS);
  CHECK(r.sink.closes == 1);
}

TEST_CASE("stream service: --idle-exit ends a quiet pipe, not a network input") {
  for (bool network : {false, true}) {
    CAPTURE(network);
    Run r;
    std::vector<ScriptedLineSource::Step> steps{line(at(0, 0, 200))};
    for (int i = 0; i < 6; ++i) steps.push_back(quiet(10 * kS));
    r.input(steps, network);
    ServiceConfig c = config_with(0.5);
    c.idle_exit_us = 25 * kS;
    r.go(c);
    // The quiet spell counts from the first quiet poll: a pipe ends at the fourth (30 s >= 25 s),
    // two steps are never read. A network input applies --idle-exit itself (its LineSource
    // returns kEnd): the script runs out.
    CHECK(r.script->steps_left() == (network ? 0u : 2u));
  }
}

TEST_CASE("stream service: offsets are committed only past closed windows and delivered alerts") {
  Run r;
  // Checkpoints are taken along the way, but a position only becomes committable once the windows
  // holding what was read before it have closed.
  r.input(paced_steps(1), /*network=*/true, /*positions=*/true);
  r.go(config_with(0.9));
  // The first checkpoint (at 6 s) holds the 10 lines of minute 0 and event time 08:00:09; it is
  // committable once window [08:00, 08:01) has closed, which the first line of minute 2 does.
  REQUIRE_FALSE(r.script->committed.empty());
  CHECK(r.script->committed.front() == 10);
  for (int64_t p : r.script->committed) CHECK(p <= 15);
  CHECK(r.commits_while_running == r.script->committed.size());
  CHECK(r.script->commits == 1);  // and everything, once at the end
}

TEST_CASE("stream service: asynchronous commits (Kafka) are counted once confirmed") {
  Run r;
  r.input(paced_steps(2), /*network=*/true, /*positions=*/true);
  r.script->async_commits = true;
  r.go(config_with(0.9));
  // The same positions are sent as with synchronous commits; each is counted when the source
  // says it is confirmed (the fake: at its next poll), and only then.
  REQUIRE_FALSE(r.script->committed.empty());
  CHECK(r.script->committed.front() == 10);
  CHECK(r.commits_while_running >= 1);
  CHECK(r.commits_while_running <= r.script->committed.size());
  CHECK(r.script->commits == 1);
}

TEST_CASE("stream service: nothing is committed while an alert sink has not delivered") {
  Run r;
  r.sink.delivered = false;
  r.input(paced_steps(0), true, true);
  r.go(config_with(0.9));
  CHECK(r.script->committed.empty());
  CHECK(r.script->commits == 0);
}

TEST_CASE("stream service: a failed input is not committed; a record without a time is malformed") {
  Run r;
  r.input({line(at(0, 0, 200)), line("10.0.0.1 - - [not a time] \"GET / HTTP/1.1\" 200 1")});
  r.go(config_with(0.9), /*input_failed=*/true);
  CHECK(r.script->commits == 0);
  CHECK(r.malformed.total() == 1);
}

TEST_CASE("stream service: the Prometheus text counts the run") {
  Run r;
  std::vector<ScriptedLineSource::Step> steps;
  for (int s = 0; s < 20; ++s) steps.push_back(line(at(0, s, 500)));
  steps.push_back(line("garbage"));
  r.input(steps);
  std::string text = r.go(config_with(0.5));
  CHECK(r.fired == 1);
  CHECK(text.find("\nlogpipe_lines_total 21\n") != std::string::npos);
  CHECK(text.find("\nlogpipe_records_total 20\n") != std::string::npos);
  CHECK(text.find("\nlogpipe_malformed_total 1\n") != std::string::npos);
  CHECK(text.find("\nlogpipe_alerts_fired_total 1\n") != std::string::npos);
  CHECK(text.find("\nlogpipe_window_error_ratio_threshold 0.5\n") != std::string::npos);
  CHECK(text.find("\nlogpipe_window_error_ratio 1\n") != std::string::npos);
  CHECK(text.find("\nlogpipe_alerts_firing{metric=\"error_rate\"} 1\n") != std::string::npos);
  // One family per quantity: the catch-all of the old text is gone.
  CHECK(text.find("logpipe_metric") == std::string::npos);
  CHECK(text.find("logpipe_threshold") == std::string::npos);
}

TEST_CASE("stream service: Prometheus keyed values: the largest without a key, the top keys only when asked") {
  // 08:00: 30 requests from 10.0.0.1, 20 from 10.0.0.2, 25 from 10.0.0.3 (all >= min_requests
  // of ip_request_rate, 1); the end of the input closes the window.
  auto steps = [] {
    std::vector<ScriptedLineSource::Step> out;
    const std::pair<const char*, int> ips[] = {{"10.0.0.1", 30}, {"10.0.0.2", 20}, {"10.0.0.3", 25}};
    for (const auto& [ip, n] : ips)
      for (int i = 0; i < n; ++i) out.push_back(line(at(0, i, 200, ip)));
    return out;
  };
  SUBCASE("default: bounded, no key label") {
    Run r;
    r.input(steps(), /*network=*/false);
    ServiceConfig c = config_with(0.9);
    std::string text = r.go(c);
    CHECK(text.find("\nlogpipe_window_ip_requests_per_second_max 0.5\n") != std::string::npos);
    CHECK(text.find("key=") == std::string::npos);
  }
  SUBCASE("--metrics-top-keys 2: the two largest, largest first") {
    Run r;
    r.input(steps(), /*network=*/false);
    ServiceConfig c = config_with(0.9);
    c.metrics_top_keys = 2;
    std::string text = r.go(c);
    const size_t first = text.find("\nlogpipe_window_ip_requests_per_second{key=\"10.0.0.1\"} 0.5\n");
    const size_t second = text.find("\nlogpipe_window_ip_requests_per_second{key=\"10.0.0.3\"} ");
    CHECK(first != std::string::npos);
    CHECK(second != std::string::npos);
    CHECK(first < second);
    CHECK(text.find("logpipe_window_ip_requests_per_second{key=\"10.0.0.2\"}") == std::string::npos);
  }
}

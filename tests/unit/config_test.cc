// The thresholds file: the docs/reference.md example, errors that name the key, and the writer's round trip.
#include "logpipe/config.h"
#include "logpipe/error.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace logpipe;

TEST_CASE("config: the docs/reference.md example sets the window and one metric") {
  ThresholdConfig c = parse_threshold_config(
      "[window]\nsize_s = 60\n[metrics.url_error_rate]\nthreshold = 0.3\nmin_requests = 20\n", "t.toml");
  REQUIRE(c.window_us);
  CHECK(*c.window_us == 60'000'000);
  CHECK(*c.metrics[kUrlErrorRate].threshold == 0.3);
  CHECK(*c.metrics[kUrlErrorRate].min_requests == 20);
  CHECK_FALSE(c.metrics[kErrorRate].threshold);
  EngineConfig e;
  e.min_requests[kUrlErrorRate] = 99;
  c.apply_to(e);
  CHECK(e.min_requests[kUrlErrorRate] == 20);
  CHECK(e.window_us == 60'000'000);
}

TEST_CASE("config: an integer threshold reads as a number") {
  ThresholdConfig c = parse_threshold_config("[metrics.ip_request_rate]\nthreshold = 5\n", "t.toml");
  CHECK(*c.metrics[kIpRequestRate].threshold == 5.0);
}

TEST_CASE("config: a typo in a metric or key is an error naming the file and line") {
  auto message = [](const char* text) {
    try {
      parse_threshold_config(text, "t.toml");
    } catch (const Error& e) {
      CHECK(e.exit_code() == kExitUsage);
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message("[metrics.url_eror_rate]\nthreshold = 1\n").find("t.toml:1: unknown metric [metrics.url_eror_rate]") == 0);
  CHECK(message("[metrics.error_rate]\ntreshold = 1\n").find("t.toml:2: unknown key [metrics.error_rate] treshold") == 0);
  CHECK(message("[metrics.error_rate]\nthreshold = \"high\"\n").find("threshold must be a number") != std::string::npos);
  CHECK(message("[window]\nsize_s = 0\n").find("size_s must be a positive") != std::string::npos);
  // Found by fuzzing: 1e300 overflowed the conversion to microseconds, 1e-9 rounded to a
  // zero-length window.
  CHECK(message("[window]\nsize_s = 1e300\n").find("size_s must be a positive") != std::string::npos);
  CHECK(message("[window]\nsize_s = 1e-9\n").find("size_s must be a positive") != std::string::npos);
  CHECK(message("[window]\nlateness_s = nan\n").find("lateness_s must be a non-negative") != std::string::npos);
  CHECK(message("[window\n").find("t.toml:1:") == 0);
}

TEST_CASE("config: [window] settings carry their FILE:LINE for the engine's messages") {
  ThresholdConfig c = parse_threshold_config("[window]\nsize_s = 60\nhop_s = 120\n", "w.toml");
  CHECK(c.origins.window == "w.toml:2: [window] size_s");
  CHECK(c.origins.hop == "w.toml:3: [window] hop_s");
  CHECK(c.origins.lateness == "--lateness");
  EngineConfig e;
  c.apply_to(e);
  try {
    e.validate(c.origins);
    FAIL("a hop longer than the window was accepted");
  } catch (const Error& err) {
    CHECK(std::string(err.what()) == "w.toml:3: [window] hop_s: must not exceed w.toml:2: [window] size_s (windows would leave gaps)");
  }
}

TEST_CASE("config: other top-level tables are ignored (notes written by tools)") {
  ThresholdConfig c = parse_threshold_config("[calibration]\nwindows = 1440\n", "t.toml");
  CHECK_FALSE(c.window_us);
}

TEST_CASE("config: [errors] statuses accepts codes, classes and ranges") {
  ThresholdConfig c = parse_threshold_config("[errors]\nstatuses = [404, \"5xx\", \"429-430\"]\n", "t.toml");
  REQUIRE(c.error_statuses);
  CHECK(c.error_statuses->test(404));
  CHECK_FALSE(c.error_statuses->test(403));
  CHECK(c.error_statuses->test(500));
  CHECK(c.error_statuses->test(599));
  CHECK(c.error_statuses->test(429));
  CHECK(c.error_statuses->test(430));
  CHECK_FALSE(c.error_statuses->test(431));
  CHECK_THROWS_AS(parse_threshold_config("[errors]\nstatuses = [\"abc\"]\n", "t.toml"), Error);
}

TEST_CASE("config: the writer's output reads back to the same settings") {
  ThresholdConfig c;
  c.window_us = 300'000'000;
  c.metrics[kErrorRate].threshold = 0.05;
  c.metrics[kIpRequestRate].threshold = 12;
  c.metrics[kIpRequestRate].min_requests = 1;
  std::string text = format_threshold_config(c);
  CHECK(text.find("threshold = 12.0\n") != std::string::npos);
  ThresholdConfig back = parse_threshold_config(text, "w.toml");
  CHECK(*back.window_us == 300'000'000);
  CHECK(*back.metrics[kErrorRate].threshold == 0.05);
  CHECK(*back.metrics[kIpRequestRate].threshold == 12.0);
  CHECK(*back.metrics[kIpRequestRate].min_requests == 1);
}

TEST_CASE("config: --threshold NAME=VALUE names the metric") {
  auto [id, value] = parse_metric_assignment("url_error_rate=0.3", "--threshold");
  CHECK(id == kUrlErrorRate);
  CHECK(value == "0.3");
  CHECK_THROWS_AS(parse_metric_assignment("nope=1", "--threshold"), Error);
  CHECK_THROWS_AS(parse_metric_assignment("error_rate", "--threshold"), Error);
}

TEST_CASE("config: one file carries the service settings of stream") {
  ThresholdConfig c = parse_threshold_config(R"(
[input]
endpoints = ["kafka://127.0.0.1:9092/http-logs"]
format = "combined"
group = "shop-alerts"
idle_exit = "90s"
rejects = "/var/log/logpipe/rejects.log"
where = 'not bot and url ^= "/api/"'
bots = "/etc/logpipe/bots.txt"
scale_out = true
[alerts]
endpoint = "kafka://127.0.0.1:9092/alerts"
[prometheus]
listen = "127.0.0.1:9464"
[tls]
ca = "/etc/ssl/ca.pem"
[kafka]
option_file = "/etc/logpipe/kafka.conf"
security.protocol = "SASL_SSL"
"sasl.mechanism" = "SCRAM-SHA-512"
enable.idempotence = true
message.timeout.ms = 30000
[window]
size_s = 60
max_keys = 5000
[metrics.error_rate]
threshold = 0.1
)", "svc.toml");
  const ServiceSettings& s = c.service;
  CHECK(s.inputs == std::vector<std::string>{"kafka://127.0.0.1:9092/http-logs"});
  CHECK(*s.format == "combined");
  CHECK(*s.group == "shop-alerts");
  CHECK(*s.idle_exit_us == 90'000'000);
  CHECK(*s.scale_out);
  CHECK_FALSE(s.follow);
  CHECK(*s.rejects == "/var/log/logpipe/rejects.log");
  CHECK(*s.where == "not bot and url ^= \"/api/\"");
  CHECK(*s.bots == "/etc/logpipe/bots.txt");
  CHECK(s.alerts == std::vector<std::string>{"kafka://127.0.0.1:9092/alerts"});
  CHECK(*s.metrics_listen == "127.0.0.1:9464");
  CHECK(*s.tls_ca == "/etc/ssl/ca.pem");
  CHECK_FALSE(s.tls_cert);
  CHECK(*s.kafka_option_file == "/etc/logpipe/kafka.conf");
  using KV = std::pair<std::string, std::string>;
  // Dotted TOML keys are nested tables; they come back flattened, every value as text.
  std::vector<KV> kafka = s.kafka_options;
  std::sort(kafka.begin(), kafka.end());
  CHECK(kafka == std::vector<KV>{{"enable.idempotence", "true"},
                                 {"message.timeout.ms", "30000"},
                                 {"sasl.mechanism", "SCRAM-SHA-512"},
                                 {"security.protocol", "SASL_SSL"}});
  CHECK(*s.max_keys == 5000);
  EngineConfig e;
  c.apply_to(e);
  CHECK(e.max_keys == 5000);
  CHECK(*c.metrics[kErrorRate].threshold == 0.1);
}

TEST_CASE("config: unknown keys of the service tables and near-miss tables are errors with file:line") {
  auto message = [](const char* text) {
    try {
      parse_threshold_config(text, "svc.toml");
    } catch (const Error& e) {
      CHECK(e.exit_code() == kExitUsage);
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message("[input]\nformat = \"combined\"\nlisten_on = \"tcp://:1\"\n")
            .find("svc.toml:3: unknown key [input] listen_on") == 0);
  CHECK(message("[alerts]\nendpont = \"-\"\n").find("svc.toml:2: unknown key [alerts] endpont") == 0);
  CHECK(message("[tls]\ncertificate = \"x\"\n").find("svc.toml:2: unknown key [tls] certificate") == 0);
  CHECK(message("[prometheus]\nport = 9464\n").find("svc.toml:2: unknown key [prometheus] port") == 0);
  CHECK(message("\n[allerts]\nendpoint = \"-\"\n").find("svc.toml:2: unknown table [allerts]") == 0);
  CHECK(message("[input]\nidle_exit = \"soon\"\n").find("svc.toml:2: [input] idle_exit: bad duration") == 0);
  CHECK(message("[input]\nendpoints = []\n").find("svc.toml:2: [input] endpoints must not be empty") == 0);
  CHECK(message("[input]\nfollow = \"yes\"\n").find("follow must be true or false") != std::string::npos);
  CHECK(message("[input]\nscale_out = 1\n").find("scale_out must be true or false") != std::string::npos);
  CHECK(message("[kafka]\nbatch = [1, 2]\n").find("svc.toml:2: [kafka] batch must be") == 0);
  CHECK(message("[window]\nmax_keys = 3\n").find("max_keys must be an integer from 16 to 100000000") != std::string::npos);
  CHECK(message("[metrics.error_rate]\nthreshold = -1\n").find("svc.toml:2: [metrics.error_rate] threshold must be a number >= 0") == 0);
  CHECK(message("input = 3\n").find("svc.toml:1: 'input' must be a table") == 0);
}

TEST_CASE("config: [prometheus] top_keys") {
  CHECK(parse_threshold_config("[prometheus]\ntop_keys = 5\n", "svc.toml").service.metrics_top_keys == 5u);
  try {
    parse_threshold_config("[prometheus]\ntop_keys = -1\n", "svc.toml");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("svc.toml:2: [prometheus] top_keys must be a whole number") == 0);
  }
}

TEST_CASE("config: [alerts] generator_url, runbook_url and [alerts.severity]") {
  ThresholdConfig c = parse_threshold_config(R"([alerts]
generator_url = "https://grafana.example/d/logpipe?var-metric={metric}"
runbook_url = "https://wiki.example/{metric}"
[alerts.severity]
server_error_rate = "page"
ip_request_rate = "info"
)",
                                             "svc.toml");
  const ServiceSettings& s = c.service;
  CHECK(s.generator_url == "https://grafana.example/d/logpipe?var-metric={metric}");
  CHECK(s.runbook_url == "https://wiki.example/{metric}");
  REQUIRE(s.severities.size() == 2);
  CHECK(s.severities[0] == std::pair<std::string, std::string>{"ip_request_rate", "info"});  // by name
  CHECK(s.severities[1] == std::pair<std::string, std::string>{"server_error_rate", "page"});
  auto message = [](const char* text) {
    try {
      parse_threshold_config(text, "svc.toml");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(message("[alerts.severity]\nip_request_rat = \"page\"\n").find("unknown metric 'ip_request_rat'") !=
        std::string::npos);
  CHECK(message("[alerts]\nseverity = \"page\"\n").find("[alerts] severity must be a table") != std::string::npos);
}

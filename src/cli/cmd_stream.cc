// logpipe stream: live stream -> records -> windowed metrics -> alert episodes -> JSON lines.
//
// The engine (metrics.h) and the episode logic (alerts.h) are the core; this file parses and
// validates options, opens every input and output before any work, and runs the read loop:
// LineSource::next with a 100 ms timeout so that a quiet input still closes windows (event time
// advances with the wall clock while nothing arrives), notices SIGINT/SIGTERM, prints --stats and
// refreshes --metrics-listen.
#include "cli/command.h"

#include "logpipe/alerts.h"
#include "logpipe/config.h"
#include "logpipe/io/endpoint.h"
#include "logpipe/error.h"
#include "logpipe/format.h"
#include "logpipe/malformed.h"
#include "logpipe/metrics.h"
#include "logpipe/io/metrics_server.h"
#include "logpipe/timeutil.h"

#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <chrono>
#include <deque>
#include <optional>

namespace logpipe::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct StreamOptions {
  InputOptions input;
  std::string input_endpoint;
  std::string listen;
  bool follow = false;
  std::string config;
  std::vector<std::string> thresholds;
  std::vector<std::string> min_requests;
  std::string window, hop, lateness;
  size_t max_keys = 0;
  std::vector<std::string> alerts;  ///< --alerts, repeatable; none = stdout
  std::vector<std::string> alert_labels;
  bool stats = false;
  std::string stats_interval = "5s";
  std::string metrics_listen;
  std::string idle_exit;
  std::string commit_interval = "5s";
  EndpointOptions net;  ///< --tls-*, --kafka-option[-file], --group
  const CLI::App* app = nullptr;  ///< to tell a flag given from its default (flags override --config)
};

// The [input], [alerts], [tls], [kafka] and [prometheus] settings of --config fill what the
// command line left unset, so that a service runs with nothing but `--config FILE`.
void apply_file_settings(const ServiceSettings& f, const std::string& path, StreamOptions& o) {
  auto given = [&](const char* flag) { return o.app && o.app->count(flag) > 0; };
  if (f.listen && !f.inputs.empty())
    usage_error("{}: [input] listen and [input] endpoint cannot be combined (a service either serves or connects)", path);
  if (o.input.inputs.empty() && o.input_endpoint.empty() && o.listen.empty()) {
    o.input.inputs = f.inputs;
    if (f.listen) o.listen = *f.listen;
  }
  if (f.format && !given("--format")) o.input.format = *f.format;
  if (f.rejects && !given("--rejects")) o.input.rejects = *f.rejects;
  if (f.group && !given("--group")) o.net.kafka_group = *f.group;
  if (f.idle_exit_us && !given("--idle-exit")) o.idle_exit = fmt::format("{}us", *f.idle_exit_us);
  if (f.follow && !given("--follow")) o.follow = *f.follow;
  if (!f.alerts.empty() && !given("--alerts")) o.alerts = f.alerts;  // every endpoint gets every alert
  if (f.metrics_listen && !given("--metrics-listen")) o.metrics_listen = *f.metrics_listen;
  auto tls_file = [&](const std::optional<std::string>& value, const char* flag, const char* key, std::string& out) {
    if (!value || given(flag)) return;
    if (std::FILE* test = std::fopen(value->c_str(), "rb")) std::fclose(test);
    else system_error(errno, fmt::format("{}: [tls] {}: cannot open '{}'", path, key, *value));
    out = *value;
  };
  tls_file(f.tls_cert, "--tls-cert", "cert", o.net.tls_cert);
  tls_file(f.tls_key, "--tls-key", "key", o.net.tls_key);
  tls_file(f.tls_ca, "--tls-ca", "ca", o.net.tls_ca);
  // Precedence, lowest first: environment, [kafka] keys, [kafka] option_file, then the flags
  // (already in o.net.kafka_options). librdkafka keeps the last value set.
  std::vector<std::pair<std::string, std::string>> from_file = f.kafka_options;
  warn_if_secrets_exposed(path, f.kafka_options);
  if (f.kafka_option_file) read_kafka_option_file(*f.kafka_option_file, from_file);
  o.net.kafka_options.insert(o.net.kafka_options.begin(), from_file.begin(), from_file.end());
}

// Everything resolved from the options before any work starts (STYLE.md rule 4).
struct Setup {
  EngineConfig engine;
  AlertEvaluator::Thresholds thresholds{};
  std::vector<std::string> inputs;
  EndpointOptions endpoint;
  int64_t idle_exit_us = 0;
  int64_t stats_every_us = 0;
  int64_t commit_every_us = 0;
};

Setup resolve(const StreamOptions& o, const ThresholdConfig& file) {
  Setup s;
  file.apply_to(s.engine);
  s.thresholds = file.thresholds();
  for (const auto& t : o.thresholds) {
    auto [id, text] = parse_metric_assignment(t, "--threshold");
    double v = 0;
    auto r = std::from_chars(text.data(), text.data() + text.size(), v);
    if (r.ec != std::errc() || r.ptr != text.data() + text.size())
      usage_error("--threshold: '{}' is not a number in '{}'", text, t);
    s.thresholds[id] = v;
  }
  for (const auto& t : o.min_requests) {
    auto [id, text] = parse_metric_assignment(t, "--min-requests");
    uint64_t v = 0;
    auto r = std::from_chars(text.data(), text.data() + text.size(), v);
    if (r.ec != std::errc() || r.ptr != text.data() + text.size())
      usage_error("--min-requests: '{}' is not a whole number in '{}'", text, t);
    s.engine.min_requests[id] = v;
  }
  if (!o.window.empty()) s.engine.window_us = duration_option(o.window, "--window", true);
  if (!o.hop.empty()) s.engine.hop_us = duration_option(o.hop, "--hop", true);
  if (!o.lateness.empty()) s.engine.lateness_us = duration_option(o.lateness, "--lateness", false);
  if (o.max_keys) s.engine.max_keys = o.max_keys;
  s.engine.validate();
  if (!o.idle_exit.empty()) s.idle_exit_us = duration_option(o.idle_exit, "--idle-exit", false);
  if (o.stats) s.stats_every_us = duration_option(o.stats_interval, "--stats-interval", false);
  if (o.stats && s.stats_every_us <= 0) usage_error("--stats-interval: must be positive");
  s.commit_every_us = duration_option(o.commit_interval, "--commit-interval", false);
  if (s.commit_every_us <= 0) usage_error("--commit-interval: must be positive");

  std::vector<std::string> inputs = o.input.inputs;
  if (!o.input_endpoint.empty()) inputs.push_back(o.input_endpoint);
  s.inputs = resolve_inputs(std::move(inputs), o.listen, s.endpoint);
  s.endpoint.tls_cert = o.net.tls_cert;
  s.endpoint.tls_key = o.net.tls_key;
  s.endpoint.tls_ca = o.net.tls_ca;
  s.endpoint.kafka_options = o.net.kafka_options;
  s.endpoint.kafka_group = o.net.kafka_group;
  finish_endpoint_options(s.endpoint);  // LOGPIPE_KAFKA_* from the environment
  s.endpoint.follow = o.follow;
  s.endpoint.idle_exit_us = s.idle_exit_us;
  s.endpoint.alert_queue = o.net.alert_queue;
  if (s.endpoint.alert_queue == 0) usage_error("--alert-queue: must be at least 1");
  for (const auto& l : o.alert_labels) {
    size_t eq = l.find('=');
    std::string name = l.substr(0, eq == std::string::npos ? 0 : eq);
    bool ok = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0]));
    for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
    if (!ok || eq + 1 >= l.size())
      usage_error("--alert-label: expected NAME=VALUE with NAME of letters, digits and _, got '{}'", l);
    if (name == "alertname" || name == "key")
      usage_error("--alert-label: '{}' is set by logpipe (the metric and the key)", name);
    s.endpoint.alert_labels.emplace_back(name, l.substr(eq + 1));
  }
  return s;
}

// The Prometheus snapshot: counters of the run, then the last closed window's values.
std::string prometheus_text(const EngineStats& es, const AlertEvaluator& alerts, uint64_t lines, uint64_t malformed) {
  std::string out;
  auto metric = [&](std::string_view name, std::string_view type, std::string_view help, auto value) {
    fmt::format_to(std::back_inserter(out), "# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help, type, value);
  };
  metric("logpipe_lines_total", "counter", "Lines read.", lines);
  metric("logpipe_records_total", "counter", "Records counted in windows.", es.records);
  metric("logpipe_malformed_total", "counter", "Malformed lines skipped.", malformed);
  metric("logpipe_late_records_total", "counter", "Records dropped because their windows had closed.", es.late);
  metric("logpipe_windows_closed_total", "counter", "Windows evaluated.", es.windows_closed);
  metric("logpipe_evicted_keys_total", "counter", "Keys dropped by --max-keys.", es.evicted_keys);
  metric("logpipe_alerts_fired_total", "counter", "Alerts fired.", alerts.fired());
  metric("logpipe_alerts_resolved_total", "counter", "Alerts resolved.", alerts.resolved());
  metric("logpipe_alerts_firing", "gauge", "Episodes currently firing.", alerts.firing());
  metric("logpipe_event_time_seconds", "gauge", "Newest event time seen.",
         es.max_time_us == kNoTime ? 0.0 : static_cast<double>(es.max_time_us) / 1e6);
  metric("logpipe_window_end_seconds", "gauge", "End of the last closed window.",
         static_cast<double>(alerts.last_window_end_us()) / 1e6);
  out += "# HELP logpipe_metric Value of each metric in the last closed window (keyed: the largest eligible key).\n";
  out += "# TYPE logpipe_metric gauge\n";
  for (size_t m = 0; m < kMetricCount; ++m) {
    if (kMetrics[m].dimension == Dimension::kGlobal) {
      fmt::format_to(std::back_inserter(out), "logpipe_metric{{metric=\"{}\"}} {}\n", kMetrics[m].name,
                     alerts.last_global()[m].value);
    } else {
      const auto& [key, v] = alerts.last_max()[m];
      fmt::format_to(std::back_inserter(out), "logpipe_metric{{metric=\"{}\",key=\"{}\"}} {}\n", kMetrics[m].name,
                     prometheus_label(key), v.value);
    }
  }
  out += "# HELP logpipe_threshold Alert threshold of each metric that has one.\n# TYPE logpipe_threshold gauge\n";
  for (size_t m = 0; m < kMetricCount; ++m)
    if (alerts.thresholds()[m])
      fmt::format_to(std::back_inserter(out), "logpipe_threshold{{metric=\"{}\"}} {}\n", kMetrics[m].name,
                     *alerts.thresholds()[m]);
  out += "# HELP logpipe_alert_firing 1 for each (metric, key) episode currently firing.\n";
  out += "# TYPE logpipe_alert_firing gauge\n";
  alerts.for_each_firing([&](MetricId m, std::string_view key) {
    fmt::format_to(std::back_inserter(out), "logpipe_alert_firing{{metric=\"{}\",key=\"{}\"}} 1\n", kMetrics[m].name,
                   prometheus_label(key));
  });
  return out;
}

int run_stream(StreamOptions o) {
  ThresholdConfig config;
  if (!o.config.empty()) {
    config = load_threshold_config(o.config);
    apply_file_settings(config.service, o.config, o);
  }
  Setup s = resolve(o, config);
  // Open everything before any work: inputs, the alert sink, the metrics listener.
  std::vector<std::unique_ptr<LineSource>> sources;
  for (const auto& in : s.inputs) {
    sources.push_back(open_line_source(in, s.endpoint));
    if (o.input.verbose) fmt::print(stderr, "logpipe: stream: reading {}\n", sources.back()->name());
  }
  std::vector<std::unique_ptr<ByteSink>> sinks;
  for (const auto& a : o.alerts.empty() ? std::vector<std::string>{"-"} : o.alerts)
    sinks.push_back(open_sink(a, s.endpoint, /*append=*/true));
  std::unique_ptr<MetricsServer> metrics_server;
  if (!o.metrics_listen.empty()) {
    metrics_server = std::make_unique<MetricsServer>(o.metrics_listen);
    if (o.input.verbose) fmt::print(stderr, "logpipe: stream: metrics on port {}\n", metrics_server->port());
  }
  MalformedLog malformed(open_rejects(o.input.rejects), o.input.strict);
  std::unique_ptr<Parser> parser;
  if (o.input.format != "auto") parser = make_parser(o.input.format);

  std::string alert_text;
  AlertEvaluator alerts(s.thresholds, [&](const std::vector<Alert>& batch) {
    alert_text.clear();
    for (const auto& a : batch) append_alert_json(alert_text, a);
    for (auto& sink : sinks) {
      sink->write(alert_text);
      sink->flush();  // an alert is only useful now (alertmanager:// only hands it to its thread)
    }
  });
  WindowEngine engine(s.engine, alerts);

  uint64_t lines = 0, bytes = 0;
  Record record;
  auto handle = [&](LineSource& src, std::string_view line, uint64_t number, bool truncated) {
    if (is_blank(line)) return;
    if (truncated) {
      malformed.add(src.name(), number, line, ParseError::kTruncatedLine);
      return;
    }
    ParseError e = parser->parse(line, record);
    if (e != ParseError::kNone) {
      malformed.add(src.name(), number, line, e);
      return;
    }
    if (engine.add(record) == WindowEngine::AddResult::kNoTime)
      malformed.add(src.name(), number, line, ParseError::kBadTime);
  };
  // With --format auto, the first lines are kept until 16 are seen (or the input pauses), the
  // format is detected, and they are replayed.
  std::vector<std::string> pending;
  std::vector<std::pair<uint64_t, bool>> pending_numbers;  // line number, truncated
  auto detect = [&](LineSource& src) {
    std::vector<std::string_view> views(pending.begin(), pending.end());
    parser = make_parser(detect_format(views));
    if (o.input.verbose) fmt::print(stderr, "logpipe: {}: detected format {}\n", src.name(), parser->name());
    for (size_t i = 0; i < pending.size(); ++i)
      handle(src, pending[i], pending_numbers[i].first, pending_numbers[i].second);
    pending.clear();
    pending_numbers.clear();
  };

  auto started = Clock::now();
  auto last_data = started;
  int64_t time_at_last_data = kNoTime;  // newest event time when data last arrived
  uint64_t lines_at_last_data = 0;
  auto next_stats = started + std::chrono::microseconds(s.stats_every_us);
  uint64_t stats_lines = 0, stats_bytes = 0;
  auto stats_time = started;
  auto next_publish = started;
  auto tick = [&](Clock::time_point now) {
    if (s.stats_every_us && now >= next_stats) {
      const EngineStats& es = engine.stats();
      double dt = std::chrono::duration<double>(now - stats_time).count();
      double lag = es.max_time_us == kNoTime ? 0.0
                   : static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count() - es.max_time_us) / 1e6;
      fmt::print(stderr,
                 "logpipe: stream: {} lines ({:.0f} lines/s, {:.1f} MB/s), {} malformed, {} late, lag {:.1f}s, "
                 "{} panes, {} keys, {} windows, {} firing\n",
                 lines, static_cast<double>(lines - stats_lines) / dt, static_cast<double>(bytes - stats_bytes) / dt / 1e6,
                 malformed.total(), es.late, lag, es.open_panes, es.tracked_keys, es.windows_closed, alerts.firing());
      stats_lines = lines;
      stats_bytes = bytes;
      stats_time = now;
      next_stats = now + std::chrono::microseconds(s.stats_every_us);
    }
    if (metrics_server && now >= next_publish) {
      metrics_server->publish(prometheus_text(engine.stats(), alerts, lines, malformed.total()));
      next_publish = now + std::chrono::milliseconds(500);
    }
  };

  // At-least-once while running (Kafka): every --commit-interval the source's position is noted
  // with the newest event time read so far. It becomes committable once every window that can
  // hold a record read before it has closed (their alerts were then written), and is committed
  // once every alert sink has delivered what it was given. A killed run re-reads at most what
  // came after the last commit. Sources without offsets (files, sockets) skip all this.
  struct Checkpoint {
    LineSource::Position position;
    int64_t newest_time_us;
  };
  std::deque<Checkpoint> checkpoints;           // waiting for their windows to close, oldest first
  std::optional<LineSource::Position> closed;   // windows closed, waiting for alert delivery
  auto next_checkpoint = started + std::chrono::microseconds(s.commit_every_us);
  auto windows_closed_through = [&](int64_t t) {  // every window containing time t has closed
    int64_t hop = s.engine.hop_us ? s.engine.hop_us : s.engine.window_us;
    int64_t last_start = t - ((t % hop) + hop) % hop;
    return alerts.last_window_end_us() >= last_start + s.engine.window_us;
  };
  auto checkpoint = [&](LineSource& src, Clock::time_point now) {
    if (now < next_checkpoint) return;
    next_checkpoint = now + std::chrono::microseconds(s.commit_every_us);
    if (!parser) return;  // lines held for format detection are not in the engine yet
    LineSource::Position p = src.position();
    if (p.empty()) return;
    int64_t newest = engine.stats().max_time_us;
    if (newest == kNoTime) {
      closed = std::move(p);  // nothing with a time was read: only malformed or blank lines
    } else if (checkpoints.empty() || checkpoints.back().position != p) {
      checkpoints.push_back({std::move(p), newest});
    }
    while (!checkpoints.empty() && windows_closed_through(checkpoints.front().newest_time_us)) {
      closed = std::move(checkpoints.front().position);
      checkpoints.pop_front();
    }
    if (!closed) return;
    bool delivered = true;
    for (auto& sink : sinks) delivered = delivered && sink->all_delivered();
    // Not yet (alertmanager:// still retrying), or never in this run (its full queue dropped
    // alerts: committing would lose them for good; a restart re-reads and re-sends them).
    if (!delivered) return;
    if (src.commit(*closed) && o.input.verbose)
      fmt::print(stderr, "logpipe: stream: committed {} up to the windows closed so far\n", src.name());
    closed.reset();
  };

  constexpr int kPollMs = 100;
  // An input that fails mid-read (a compressed file cut short, a dropped connection, a fatal
  // broker error) ends the reading; the windows read so far are still evaluated and their alerts
  // delivered, then the command fails (exit 1) without committing Kafka offsets.
  std::string input_error;
  for (auto& owned : sources) try {
    // Network inputs: a stop signal ends them after what already arrived (StopDrainingSource).
    // Files stop at once (there, everything has "arrived").
    std::unique_ptr<StopDrainingSource> drained;
    LineSource* src = owned.get();
    if (endpoint_scheme(owned->name()) != "file") {
      drained = std::make_unique<StopDrainingSource>(*owned, &g_stop_requested);
      src = drained.get();
    }
    checkpoints.clear();
    closed.reset();
    std::string_view line;
    bool done = false;
    while (!done && (drained || !g_stop_requested)) {
      LineSource::Status st = src->next(line, kPollMs);
      if (st == LineSource::Status::kLine) {
        ++lines;
        bytes += line.size() + 1;
        if (parser) {
          handle(*src, line, src->line_number(), src->truncated());
        } else {
          pending.emplace_back(line);
          pending_numbers.emplace_back(src->line_number(), src->truncated());
          if (pending.size() >= 16) detect(*src);
        }
        if ((lines & 0xfff) == 0) {
          auto now = Clock::now();
          tick(now);
          checkpoint(*src, now);
        }
        continue;
      }
      if (st == LineSource::Status::kEnd) {
        done = true;
        break;
      }
      // Timeout: the input is quiet.
      auto now = Clock::now();
      if (!parser && !pending.empty()) detect(*src);
      if (lines != lines_at_last_data) {  // data arrived since the last quiet spell
        lines_at_last_data = lines;
        last_data = now;
        time_at_last_data = engine.stats().max_time_us;
      }
      auto quiet_us = std::chrono::duration_cast<std::chrono::microseconds>(now - last_data).count();
      // Event time follows the wall clock while nothing arrives, so a window still closes (and an
      // episode still resolves) when the traffic stops.
      if (time_at_last_data != kNoTime) engine.advance_to(time_at_last_data + quiet_us);
      // Network sources apply --idle-exit themselves (Kafka counts from its partition
      // assignment, which takes seconds); files and pipes here.
      if (s.idle_exit_us && !drained && quiet_us >= s.idle_exit_us) {
        done = true;
        break;
      }
      tick(now);
      checkpoint(*src, now);
    }
    if (!parser && !pending.empty()) detect(*src);
    if (g_stop_requested) break;
  } catch (const Error& e) {
    if (e.exit_code() != kExitRuntime) throw;
    if (!parser && !pending.empty()) detect(*owned);
    input_error = e.what();
    break;
  }
  // End of input or a stop signal: evaluate the open windows and flush their alerts. Only then
  // are Kafka offsets committed: every record read so far has had its window evaluated and its
  // alerts delivered (at-least-once; a run killed before this point re-reads from the last commit).
  // close() waits until the sinks delivered everything (Kafka: acknowledged; alertmanager://:
  // accepted, within its deadline) and throws otherwise, so nothing is committed past a lost alert.
  engine.flush();
  for (auto& sink : sinks) sink->close();
  bool delivered = true;
  for (auto& sink : sinks) delivered = delivered && sink->all_delivered();
  if (!input_error.empty()) {
    // The input failed: nothing is committed, a restart re-reads it.
  } else if (delivered) {
    for (auto& src : sources) src->commit();
  } else {
    for (auto& src : sources)
      if (!src->position().empty())
        fmt::print(stderr, "logpipe: {}: offsets not committed past the dropped alerts: a restart re-reads them\n",
                   src->name());
  }
  if (metrics_server) metrics_server->publish(prometheus_text(engine.stats(), alerts, lines, malformed.total()));
  const EngineStats& es = engine.stats();
  if (o.input.verbose || s.stats_every_us)
    fmt::print(stderr, "logpipe: stream: {} lines, {} records, {} late, {} windows, {} alerts fired, {} resolved\n",
               lines, es.records, es.late, es.windows_closed, alerts.fired(), alerts.resolved());
  if (es.late) fmt::print(stderr, "logpipe: {} late record{} dropped (older than their closed window)\n", es.late,
                          es.late == 1 ? "" : "s");
  malformed.flush();
  malformed.print_summary(stderr);
  if (!input_error.empty()) runtime_error("{}", input_error);
  return kExitOk;
}

}  // namespace

RunFn setup_stream(CLI::App& command) {
  auto o = std::make_shared<StreamOptions>();
  add_input_options(command, o->input);
  command.add_option("--input", o->input_endpoint,
                     "Input endpoint: -, PATH, tcp://HOST:PORT or tls://HOST:PORT (connect), udp://HOST:PORT, "
                     "kafka://BROKERS/TOPIC");
  command.add_option("--listen", o->listen,
                     "Serve an input endpoint: tcp://HOST:PORT, tls://HOST:PORT or udp://HOST:PORT (many clients)");
  command.add_flag("-f,--follow", o->follow, "Keep reading files as they grow and are rotated (like tail -F)");
  command.add_option("--config", o->config,
                     "Settings file (TOML): thresholds as written by calibrate, and [input], [alerts], [tls], "
                     "[kafka], [prometheus] (flags override it)");
  command.add_option("--threshold", o->thresholds, "Override a threshold: METRIC=VALUE (repeatable)")
      ->allow_extra_args(false);
  command.add_option("--min-requests", o->min_requests, "Override a min_requests guard: METRIC=N (repeatable)")
      ->allow_extra_args(false);
  command.add_option("--window", o->window, "Window size, e.g. 60s, 5m (default 60s or [window] size_s)");
  command.add_option("--hop", o->hop, "Start a window every DURATION (sliding windows; default = --window)");
  command.add_option("--lateness", o->lateness, "How long after its end a window waits for late records (default 5s)");
  command.add_option("--max-keys", o->max_keys, "Keys kept per dimension (url, user, ip) per window slice (default 200000)");
  command.add_option("--alerts", o->alerts,
                     "Where alerts go (repeatable; default -): -, FILE (appended), tcp://, tls://, kafka://BROKERS/TOPIC, "
                     "alertmanager://HOST:PORT, alertmanager+tls://HOST:PORT")
      ->type_name("ENDPOINT")
      ->allow_extra_args(false);
  command.add_option("--alert-label", o->alert_labels,
                     "alertmanager://: add a label to every alert, NAME=VALUE (repeatable; instance=NAME replaces the "
                     "host name)")
      ->type_name("NAME=VALUE")
      ->allow_extra_args(false);
  command.add_option("--alert-queue", o->net.alert_queue,
                     "alertmanager://: alerts kept while it is unreachable; beyond, the oldest are dropped")
      ->type_name("N")
      ->capture_default_str();
  command.add_flag("--stats", o->stats, "Print throughput and lag on stderr periodically");
  command.add_option("--stats-interval", o->stats_interval, "Period of --stats")->capture_default_str();
  command.add_option("--metrics-listen", o->metrics_listen, "Serve live values in Prometheus text format on HOST:PORT");
  command.add_option("--idle-exit", o->idle_exit, "End after DURATION without input (e.g. 10s)");
  command.add_option("--commit-interval", o->commit_interval,
                     "Kafka input: commit offsets this often while running (only past closed windows and "
                     "delivered alerts)")
      ->type_name("DURATION")
      ->capture_default_str();
  add_endpoint_options(command, o->net, /*input_side=*/false);
  command.add_option("--group", o->net.kafka_group, "Kafka consumer group of a kafka:// input")
      ->type_name("ID")
      ->capture_default_str()
      ->group("Endpoint options");
  o->app = &command;
  return [o] { return run_stream(*o); };
}

}  // namespace logpipe::cli

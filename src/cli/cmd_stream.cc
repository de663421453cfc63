// logpipe stream: live stream -> records -> windowed metrics -> alert episodes -> alert sinks.
//
// A thin command: it parses and validates options (and the --config settings file), opens every
// input and output before any work, and runs the record pump (pump.h) into the service loop
// (stream_service.h), which holds the engine, the alerts, the quiet-input clock, checkpoints and
// the Prometheus text.
#include "cli/command.h"
#include "cli/dashboard.h"

#include "logpipe/alerts.h"
#include "logpipe/config.h"
#include "logpipe/error.h"
#include "logpipe/format.h"
#include "logpipe/io/endpoint.h"
#include "logpipe/io/files.h"
#include "logpipe/io/inputs.h"
#include "logpipe/io/metrics_server.h"
#include "logpipe/live.h"
#include "logpipe/malformed.h"
#include "logpipe/metrics.h"
#include "logpipe/pump.h"
#include "logpipe/scale_out.h"
#include "logpipe/stream_service.h"
#include "logpipe/window_log.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cmath>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <exception>
#include <optional>
#include <type_traits>

namespace logpipe::cli {
namespace {

struct StreamOptions {
  InputOptions input;
  ErrorOptions errors;
  FilterOptions filter;
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
  std::vector<std::string> alert_severities;  ///< --alert-severity METRIC=LEVEL
  std::string alert_generator_url, alert_runbook_url;
  size_t metrics_top_keys = 0;
  bool stats = false;
  std::string stats_interval = "5s";
  std::string metrics_listen;
  std::string http_listen;  ///< --http-listen: the live page on the same server
  bool dashboard = false;   ///< --dashboard: the live view on the terminal
  std::string window_log;
  std::string commit_interval = "5s";
  std::string partition_idle = "5s";
  std::string state;  ///< --state FILE
  bool scale_out = false;  ///< --scale-out
  std::string output_format = "auto";  ///< --output-format: alerts on stdout
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
  if (f.state && !given("--state")) o.state = *f.state;
  if (f.group && !given("--group")) o.net.kafka_group = *f.group;
  if (f.where && !given("--where")) o.filter.where = *f.where;
  if (f.bots && !given("--bots")) o.filter.bots = *f.bots;
  if (f.idle_exit_us && !given("--idle-exit")) o.net.idle_exit_us = *f.idle_exit_us;
  if (f.follow && !given("--follow")) o.follow = *f.follow;
  if (f.scale_out && !given("--scale-out")) o.scale_out = *f.scale_out;
  if (!f.alerts.empty() && !given("--alerts")) o.alerts = f.alerts;  // every endpoint gets every alert
  if (f.metrics_listen && !given("--metrics-listen") && !given("--http-listen")) o.metrics_listen = *f.metrics_listen;
  if (f.metrics_top_keys && !given("--metrics-top-keys")) o.metrics_top_keys = *f.metrics_top_keys;
  if (f.generator_url && !given("--alert-generator-url")) o.alert_generator_url = *f.generator_url;
  if (f.runbook_url && !given("--alert-runbook-url")) o.alert_runbook_url = *f.runbook_url;
  // [alerts.severity] first, the flags after them win (resolve applies them in this order).
  std::vector<std::string> severities;
  for (const auto& [metric, level] : f.severities) severities.push_back(metric + "=" + level);
  o.alert_severities.insert(o.alert_severities.begin(), severities.begin(), severities.end());
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
  for (auto [file_side, net_side] : {std::pair{&f.kafka_consumer_options, &o.net.kafka_consumer_options},
                                     std::pair{&f.kafka_producer_options, &o.net.kafka_producer_options}}) {
    warn_if_secrets_exposed(path, *file_side);
    net_side->insert(net_side->begin(), file_side->begin(), file_side->end());
  }
}

// Everything resolved from the options before any work starts (STYLE.md rule 4).
struct Setup {
  ServiceConfig service;
  std::vector<std::string> inputs;
  EndpointOptions endpoint;
};

// METRIC=VALUE flags (--threshold, --min-requests): each value parsed whole as a T, else a usage
// error naming the flag.
template <typename T, typename Store>
void parse_assignments(const std::vector<std::string>& given, const char* flag, const char* kind, Store store) {
  for (const auto& t : given) {
    auto [id, text] = parse_metric_assignment(t, flag);
    T v{};
    auto r = std::from_chars(text.data(), text.data() + text.size(), v);
    if (r.ec != std::errc() || r.ptr != text.data() + text.size()) usage_error("{}: '{}' is not {} in '{}'", flag, text, kind, t);
    // from_chars reads nan and inf: a nan threshold never fired, a negative one fired in every
    // window (the settings file refused nan already).
    if constexpr (std::is_floating_point_v<T>)
      if (!std::isfinite(v) || v < 0) usage_error("{}: '{}' must be a finite number >= 0 in '{}'", flag, text, t);
    store(id, v);
  }
}

Setup resolve(const StreamOptions& o, const ThresholdConfig& file) {
  Setup s;
  EngineConfig& engine = s.service.engine;
  file.apply_to(engine);
  apply_error_options(o.errors, engine.errors);  // flags over the file's [errors]
  s.service.rules = file.rules();
  s.service.verbose = o.input.verbose;
  // --threshold METRIC=V: a fixed rule for that metric, whatever the file says.
  parse_assignments<double>(o.thresholds, "--threshold", "a number", [&](MetricId id, double v) {
    s.service.rules.metrics[id].threshold = v;
    s.service.rules.metrics[id].cusum.reset();
  });
  parse_assignments<uint64_t>(o.min_requests, "--min-requests", "a whole number",
                              [&](MetricId id, uint64_t v) { engine.min_requests[id] = v; });
  // A setting from the file is named by its FILE:LINE; one from a flag by the flag.
  SettingOrigins origins = file.origins;
  if (!o.window.empty()) {
    engine.window_us = duration_option(o.window, "--window", true);
    origins.window = "--window";
  }
  if (!o.hop.empty()) {
    engine.hop_us = duration_option(o.hop, "--hop", true);
    origins.hop = "--hop";
  }
  if (!o.lateness.empty()) {
    engine.lateness_us = duration_option(o.lateness, "--lateness", false);
    origins.lateness = "--lateness";
  }
  if (o.max_keys) {  // 0: not given (the flag refuses 0)
    engine.max_keys = o.max_keys;
    origins.max_keys = "--max-keys";
  }
  engine.validate(origins);
  s.service.idle_exit_us = o.net.idle_exit_us;
  if (o.stats) s.service.stats_every_us = duration_option(o.stats_interval, "--stats-interval", false);
  if (o.stats && s.service.stats_every_us <= 0) usage_error("--stats-interval: must be positive");
  s.service.partition_idle_us = duration_option(o.partition_idle, "--partition-idle", false);
  if (s.service.partition_idle_us <= 0) usage_error("--partition-idle: must be positive");
  s.service.commit_every_us = duration_option(o.commit_interval, "--commit-interval", false);
  if (s.service.commit_every_us <= 0) usage_error("--commit-interval: must be positive");

  std::vector<std::string> inputs = o.input.inputs;
  if (!o.input_endpoint.empty()) inputs.push_back(o.input_endpoint);
  s.inputs = resolve_inputs(std::move(inputs), o.listen, s.endpoint);
  s.endpoint.tls_cert = o.net.tls_cert;
  s.endpoint.tls_key = o.net.tls_key;
  s.endpoint.tls_ca = o.net.tls_ca;
  s.endpoint.kafka_options = o.net.kafka_options;
  s.endpoint.kafka_consumer_options = o.net.kafka_consumer_options;
  s.endpoint.kafka_producer_options = o.net.kafka_producer_options;
  s.endpoint.kafka_group = o.net.kafka_group;
  finish_endpoint_options(s.endpoint);  // LOGPIPE_KAFKA_* from the environment
  s.endpoint.follow = o.follow;
  s.endpoint.idle_exit_us = o.net.idle_exit_us;
  s.endpoint.max_line_bytes = o.net.max_line_bytes;
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
  // --alert-severity METRIC=LEVEL ([alerts.severity] of the file come first): a label value
  // that routes can match, so a plain word.
  for (const auto& t : o.alert_severities) {
    auto [id, level] = parse_metric_assignment(t, "--alert-severity");
    bool ok = !level.empty();
    for (char c : level) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-');
    if (!ok) usage_error("--alert-severity: expected METRIC=LEVEL with LEVEL a word (critical, warning, info), got '{}'", t);
    s.endpoint.alert_severity[id] = std::string(level);
  }
  for (const auto& [flag, url] : {std::pair{"--alert-generator-url", &o.alert_generator_url},
                                  std::pair{"--alert-runbook-url", &o.alert_runbook_url}})
    if (!url->empty() && url->find("://") == std::string::npos)
      usage_error("{}: '{}' is not a URL (expected SCHEME://...)", flag, *url);
  s.endpoint.alert_generator_url = o.alert_generator_url;
  s.endpoint.alert_runbook_url = o.alert_runbook_url;
  s.service.metrics_top_keys = o.metrics_top_keys;
  return s;
}

// http://HOST:PORT/PATH of --metrics-listen HOST:PORT (PATH: "metrics", or "" for the live page),
// with the port it got (PORT 0) and the host name for a wildcard address (0.0.0.0, ::), which no
// browser can open.
std::string server_url(const std::string& listen, unsigned short port, std::string_view path) {
  std::string host = listen.substr(0, listen.rfind(':'));
  if (host.empty() || host == "0.0.0.0" || host == "[::]" || host == "::") {
    char name[256] = {};
    host = ::gethostname(name, sizeof name - 1) == 0 && name[0] ? name : "localhost";
  }
  return fmt::format("http://{}:{}/{}", host, port, path);
}

int run_stream(StreamOptions o) {
  ThresholdConfig config;
  if (!o.config.empty()) {
    config = load_threshold_config(o.config);
    apply_file_settings(config.service, o.config, o);
  }
  // --http-listen is the Prometheus server with the live page: one address for both.
  if (!o.http_listen.empty()) {
    if (!o.metrics_listen.empty() && o.metrics_listen != o.http_listen)
      usage_error("--http-listen {} and --metrics-listen {}: one server serves both (the live page at /, "
                  "Prometheus at /metrics): give one address",
                  o.http_listen, o.metrics_listen);
    o.metrics_listen = o.http_listen;
  }
  Setup s = resolve(o, config);
  if (o.input.format != "auto") make_parser(o.input.format);  // a bad --format is a usage error now
  // Open everything before any work: inputs, the alert sinks, the window log, the metrics listener.
  auto inputs = open_pump_inputs(s.inputs, s.endpoint, FileReading::kLive, false);
  if (o.input.verbose)
    for (const auto& in : inputs) fmt::print(stderr, "logpipe: stream: reading {}\n", in->name());
  // The live view (--http-listen): it observes the windows and receives the alerts.
  // --dashboard ranks more keys than the page shows (its sort and filter work on them).
  std::unique_ptr<LiveBoard> board;
  if (!o.http_listen.empty() || o.dashboard) board = std::make_unique<LiveBoard>(120, o.dashboard ? 100 : 20);
  if (o.dashboard)
    for (const auto& in : s.inputs)
      if (in == "-")
        usage_error("--dashboard: the terminal is the dashboard's; read the lines from a file, --follow FILE, "
                    "--listen or --input (not stdin)");
  std::unique_ptr<MetricsServer> metrics_server;
  if (!o.metrics_listen.empty()) {
    metrics_server = std::make_unique<MetricsServer>(o.metrics_listen);
    if (board) {
      metrics_server->serve_live(*board);
      fmt::print(stderr, "logpipe: stream: live view at {}\n", server_url(o.metrics_listen, metrics_server->port(), ""));
    }
    if (o.input.verbose) fmt::print(stderr, "logpipe: stream: metrics on port {}\n", metrics_server->port());
    // An alert links to the values that raised it unless --alert-generator-url says where else.
    if (s.endpoint.alert_generator_url.empty())
      s.endpoint.alert_generator_url = server_url(o.metrics_listen, metrics_server->port(), "metrics");
  }
  std::vector<std::unique_ptr<AlertSink>> sinks;
  // stdout: human lines on a terminal, JSON lines for a pipe (or as --output-format says).
  const bool text = o.output_format == "text" || (o.output_format == "auto" && ::isatty(STDOUT_FILENO));
  // With --dashboard the alerts are on the screen; --alerts still sends them elsewhere.
  for (const auto& a : o.alerts.empty() ? std::vector<std::string>(o.dashboard ? 0 : 1, "-") : o.alerts)
    sinks.push_back(a == "-" && text ? std::make_unique<LineAlertSink>(open_sink("-", s.endpoint), append_alert_text)
                                     : open_alert_sink(a, s.endpoint));
  bool any_rule = false;
  for (const MetricRule& r : s.service.rules.metrics) any_rule = any_rule || r.threshold || r.cusum;
  if (!any_rule)
    fmt::print(stderr,
               "logpipe: stream: no alert rule is set: nothing will page. To get rules:\n"
               "  logpipe calibrate HISTORY -o rules.toml; logpipe stream --config rules.toml  (learned from your logs)\n"
               "  logpipe stream --config samples/thresholds.toml  (sample thresholds, also in share/doc/logpipe/examples)\n"
               "  logpipe stream --threshold error_rate=0.05  (one fixed threshold)\n");
  std::unique_ptr<ByteSink> window_log_sink;
  std::unique_ptr<WindowLog> window_log;
  if (!o.window_log.empty()) {
    window_log_sink = open_sink(o.window_log, s.endpoint, /*append=*/true);
    window_log = std::make_unique<WindowLog>(*window_log_sink);
  }
  const CompiledFilter filter = compile_filter(o.filter, s.service.engine.errors);
  MalformedLog malformed(open_rejects(o.input.rejects), o.input.strict);
  RecordPump pump(pump_options(o.input, 1), malformed);
  // --scale-out: the instances of the group exchange partial aggregates on logpipe.GROUP.partials.
  std::unique_ptr<PartialsChannel> partials;
  if (o.scale_out) {
    if (s.inputs.size() != 1 || endpoint_scheme(s.inputs[0]) != "kafka")
      usage_error("--scale-out: the input must be one Kafka topic (--input kafka://BROKERS/TOPIC)");
    if (!o.state.empty())
      usage_error("--scale-out keeps its state in Kafka (the commits of group {}.merge): --state is for one "
                  "instance", s.endpoint.kafka_group);
    partials = open_partials_channel(s.inputs[0], s.endpoint);
    s.service.scale_out = partials.get();
    if (o.input.verbose) fmt::print(stderr, "logpipe: stream: scale-out through {}\n", partials->name());
  }

  std::vector<AlertSink*> sink_list;
  for (auto& sink : sinks) sink_list.push_back(sink.get());
  ObserverList observers;  // after the alerts: the window log, the live view
  if (window_log) observers.add(*window_log);
  if (board) {
    observers.add(*board);
    sink_list.push_back(board.get());
  }
  SystemClock clock;
  StreamService service(s.service, std::move(sink_list), &observers, metrics_server.get(), clock, stderr);
  service.watch(pump, malformed);
  // --state: continue where the previous run stopped (its open episodes, evidence, baselines and
  // the windows it had evaluated). A missing file is a first run.
  struct stat state_file {};
  if (!o.state.empty() && (::stat(o.state.c_str(), &state_file) == 0 || errno != ENOENT)) {
    const std::string text = read_settings_file(o.state, "--state");  // names the file when it cannot
    try {
      std::string_view rest = restore_input_positions(text, inputs, o.input.verbose);
      service.restore_state(rest);
    } catch (const Error& e) {
      runtime_error("--state '{}': {}", o.state, e.what());
    }
    if (o.input.verbose)
      fmt::print(stderr, "logpipe: stream: continuing from '{}' ({} firing)\n", o.state, service.alerts().firing());
  }
  // An input that fails mid-read (a compressed file cut short, a dropped connection, a fatal
  // broker error) ends the reading; the windows read so far are still evaluated and their alerts
  // delivered, then the command fails (exit 1) without committing Kafka offsets.
  std::string input_error;
  std::unique_ptr<FilteringSink> filtering;
  if (filter.filter) filtering = std::make_unique<FilteringSink>(*filter.filter, service);
  std::unique_ptr<Dashboard> dashboard;
  if (o.dashboard) dashboard = std::make_unique<Dashboard>(*board, s.inputs.size() == 1 ? s.inputs[0] : fmt::format("{} inputs", s.inputs.size()));
  try {
    if (filtering) pump.run(inputs, *filtering, &service);
    else pump.run(inputs, service, &service);
  } catch (const Error& e) {
    if (e.exit_code() != kExitRuntime) throw;
    input_error = e.what();
  }
  // An alert sink that could not deliver everything fails at close (exit 1); what was read is
  // still summarised first.
  std::exception_ptr delivery_failure;
  // Stopped by a signal with --state: the open windows and episodes are saved, not evaluated nor
  // resolved (the next run goes on with them). Any other end evaluates everything, as without it.
  // With --scale-out a stop is a hand-over too: the open panes and windows go to the partitions'
  // next readers and the next merger (Kafka keeps the state).
  const bool keep_open = (!o.state.empty() || o.scale_out) && g_stop_requested;
  try {
    service.finish(inputs, pump, !input_error.empty(), keep_open);
  } catch (const Error& e) {
    if (e.exit_code() != kExitRuntime) throw;
    delivery_failure = std::current_exception();
  }
  if (dashboard) dashboard->stop();  // the terminal back, and what stderr got meanwhile
  if (!o.state.empty()) {  // replaced atomically: a crash leaves the previous state
    auto out = open_output_replacing(o.state);
    out->write(save_input_positions(inputs) + service.save_state());
    out->close();
    if (o.input.verbose) fmt::print(stderr, "logpipe: stream: state saved to '{}'\n", o.state);
  }
  if (window_log_sink) window_log_sink->close();
  const EngineStats& es = service.engine().stats();
  if (o.input.verbose || s.service.stats_every_us)
    fmt::print(stderr, "logpipe: stream: {} lines, {} records, {} late, {} windows, {} alerts fired, {} resolved\n",
               pump.stats().lines, es.records, es.late, es.windows_closed, service.alerts().fired(),
               service.alerts().resolved());
  if (o.scale_out && (o.input.verbose || s.service.stats_every_us)) fmt::print(stderr, "{}", service.scale_out_summary());
  if (const uint64_t late = es.late + service.scale_out_late())
    fmt::print(stderr, "logpipe: {} late record{} dropped (older than their closed window)\n", late,
               late == 1 ? "" : "s");
  if (es.replayed)
    fmt::print(stderr, "logpipe: {} record{} read again for windows evaluated before (by the previous run, or the previous merger): not counted twice\n",
               es.replayed, es.replayed == 1 ? "" : "s");
  malformed.flush();
  malformed.print_summary(stderr);
  if (filtering) print_filter_counts(filtering->counts());
  if (!input_error.empty()) {
    if (delivery_failure) fmt::print(stderr, "logpipe: {}\n", input_error);
    else runtime_error("{}", input_error);
  }
  if (delivery_failure) std::rethrow_exception(delivery_failure);
  return kExitOk;
}

}  // namespace

RunFn setup_stream(CLI::App& command) {
  auto o = std::make_shared<StreamOptions>();
  add_input_options(command, o->input);
  add_error_options(command, o->errors);
  add_filter_options(command, o->filter);
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
  command.add_option("--max-keys", o->max_keys, "Keys kept per dimension (url, user, ip) per window slice (default 200000)")
      ->check(whole_number(16, kMaxKeysLimit));
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
  command.add_option("--alert-severity", o->alert_severities,
                     "alertmanager://: the severity label of a metric's alerts, METRIC=LEVEL (repeatable; default "
                     "critical for error_rate and server_error_rate, warning for the others)")
      ->type_name("METRIC=LEVEL")
      ->allow_extra_args(false);
  command.add_option("--alert-generator-url", o->alert_generator_url,
                     "alertmanager://: the generatorURL of every alert; {metric}, {key} and {incident} are replaced "
                     "(default: http://HOST:PORT/metrics of --metrics-listen, else none)")
      ->type_name("URL");
  command.add_option("--alert-runbook-url", o->alert_runbook_url,
                     "alertmanager://: a runbook_url annotation on every alert; {metric}, {key} and {incident} are "
                     "replaced (default: none)")
      ->type_name("URL");
  command.add_option("--alert-queue", o->net.alert_queue,
                     "alertmanager:// and tcp://: alerts kept while the receiver is unreachable or not reading; "
                     "beyond, the oldest are dropped (and the exit status is 1)")
      ->type_name("N")
      ->check(whole_number(1, 100'000'000))
      ->capture_default_str();
  command.add_option("--output-format", o->output_format,
                     "Alerts on stdout: text (one readable line each), json (JSON lines), or auto: text on a "
                     "terminal, json otherwise")
      ->check(CLI::IsMember({"auto", "text", "json"}))
      ->capture_default_str();
  command.add_flag("--stats", o->stats, "Print throughput and lag on stderr periodically");
  command.add_option("--stats-interval", o->stats_interval, "Period of --stats")->capture_default_str();
  command.add_option("--metrics-listen", o->metrics_listen, "Serve live values in Prometheus text format on HOST:PORT");
  command.add_option("--http-listen", o->http_listen,
                     "Serve a live HTML view on HOST:PORT (/: the page, updated through Server-Sent Events from "
                     "/events; /metrics: the Prometheus text)")
      ->type_name("HOST:PORT");
  command.add_flag("--dashboard", o->dashboard,
                   "Show the live view on the terminal (ncurses): the last window, sparklines, open alerts, top "
                   "urls/users/ips; keys q p s Tab / (alerts go there instead of stdout unless --alerts)");
  command.add_option("--metrics-top-keys", o->metrics_top_keys,
                     "--metrics-listen: also serve the window values of the N largest keys of each keyed metric, "
                     "with a key label (default 0: only the largest value, no key; bounded series)")
      ->type_name("N")
      ->check(whole_number(0, 1000));
  command.add_option("--window-log", o->window_log,
                     "Also write one JSON line per closed window (its counts and global values) to ENDPOINT "
                     "(-, FILE appended, tcp://, tls://, kafka://)")
      ->type_name("ENDPOINT");
  command.add_option("--partition-idle", o->partition_idle,
                     "Kafka input: a partition that handed out everything and stayed quiet this long stops "
                     "holding event time back (the watermark is the minimum over active partitions)")
      ->type_name("DURATION")
      ->capture_default_str();
  command.add_option("--state", o->state,
                     "Keep the alert state in FILE across restarts: a stop (SIGTERM, SIGINT) saves open windows' "
                     "episodes instead of resolving them, and the next run continues from it")
      ->type_name("FILE");
  command.add_option("--commit-interval", o->commit_interval,
                     "Kafka input: commit offsets this often while running (only past closed windows and "
                     "delivered alerts)")
      ->type_name("DURATION")
      ->capture_default_str();
  command.add_flag("--scale-out", o->scale_out,
                   "Kafka input: instances of one --group compute the metrics of the whole topic, exactly, "
                   "through the topic logpipe.GROUP.partials (one partition, created beforehand); one of them "
                   "evaluates and alerts");
  add_endpoint_options(command, o->net, /*input_side=*/true);
  o->app = &command;
  return [o] { return run_stream(*o); };
}

}  // namespace logpipe::cli

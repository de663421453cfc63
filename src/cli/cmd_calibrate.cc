// logpipe calibrate: history -> records -> the windowed-metrics engine -> Calibrator -> the
// thresholds file that `stream --config` reads, and a table (text or JSON) per metric.
//
// Parse, validate, open every input, then pump the records into the engine (pump.h). A progress
// bar (stderr, only when it is a terminal) shows how much of the files is done; compressed files
// count their compressed bytes.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "cli/command.h"
#include "cli/progress.h"
#include "logpipe/calibrate.h"
#include "logpipe/config.h"
#include "logpipe/error.h"
#include "logpipe/event_sources.h"
#include "logpipe/io/endpoint.h"
#include "logpipe/format.h"
#include "logpipe/io/files.h"
#include "logpipe/io/inputs.h"
#include "logpipe/malformed.h"
#include "logpipe/metrics.h"
#include "logpipe/pump.h"
#include "logpipe/stream_service.h"
#include "logpipe/timeutil.h"
#include "logpipe/window_log.h"

namespace logpipe::cli {
namespace {

struct CalibrateOptions {
  InputOptions input;
  ErrorOptions errors;
  FilterOptions filter;
  std::string window_log;
  double target_rate = 0.01;
  std::string rules = "cusum";
  double false_pages_per_day = 0.2;
  std::string window = "60s";
  std::string hop;
  std::vector<std::string> min_requests;
  std::string output = "-";
  std::string report = "text";
  uint64_t exact_windows = 262'144;
  bool no_progress = false;
  std::string listen;
  EndpointOptions net;  ///< --tls-*, --kafka-option[-file], --group, --idle-exit
};

// Feeds parsed records to the engine, each with its source of event time (a file, a Kafka
// partition: EventSources); records without a time cannot be placed in a window.
class EngineSink final : public RecordSink, public PumpObserver {
 public:
  EngineSink(WindowEngine& engine, const RecordPump& pump) : engine_(engine), pump_(pump), sources_(engine, 5'000'000) {}
  ParseError on_record(const Record& r) override {
    if (engine_.add(r, sources_.source_of(pump_.origin())) == WindowEngine::AddResult::kNoTime) ++no_time_;
    return ParseError::kNone;  // counted apart: "N records without a time skipped"
  }
  void on_input(PumpInput& input) override { sources_.on_input(input); }
  bool on_tick(PumpInput& input, bool) override {
    sources_.on_tick(input, clock_.steady_us());
    return true;
  }
  void on_input_end(PumpInput&, bool) override { sources_.on_input_end(); }
  uint64_t no_time() const noexcept { return no_time_; }

 private:
  WindowEngine& engine_;
  const RecordPump& pump_;
  EventSources sources_;
  SystemClock clock_;
  uint64_t no_time_ = 0;
};

uint64_t whole_number(std::string_view text, std::string_view option, std::string_view whole) {
  uint64_t v = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || r.ec != std::errc() || r.ptr != text.data() + text.size())
    usage_error("{}: '{}' is not a whole number in '{}'", option, text, whole);
  return v;
}

// "--min-requests N" sets every keyed metric; "--min-requests METRIC=N" one metric (any).
std::array<std::optional<uint64_t>, kMetricCount> resolve_min_requests(
    const std::vector<std::string>& specs) {
  std::array<std::optional<uint64_t>, kMetricCount> out{};
  for (const auto& spec : specs) {
    if (spec.find('=') == std::string::npos) {
      uint64_t n = whole_number(spec, "--min-requests", spec);
      for (size_t m = 0; m < kMetricCount; ++m)
        if (kMetrics[m].dimension != Dimension::kGlobal) out[m] = n;
    } else {
      auto [id, text] = parse_metric_assignment(spec, "--min-requests");
      out[id] = whole_number(text, "--min-requests", spec);
    }
  }
  return out;
}

std::string utc_now() {
  // SOURCE_DATE_EPOCH (reproducible builds convention) pins the date written in the file.
  int64_t secs = static_cast<int64_t>(std::time(nullptr));
  if (const char* e = std::getenv("SOURCE_DATE_EPOCH")) {
    int64_t v = 0;
    auto r = std::from_chars(e, e + std::strlen(e), v);
    if (r.ec == std::errc()) secs = v;
  }
  return format_rfc3339(secs * 1'000'000);
}

int run_calibrate(CalibrateOptions& o) {
  // Validate every option before any work.
  CalibrationOptions calibration;
  calibration.target_rate = o.target_rate;
  if (!(o.target_rate > 0 && o.target_rate < 1))
    usage_error("--target-rate: must be in (0, 1), got {}", o.target_rate);
  calibration.min_requests = resolve_min_requests(o.min_requests);
  calibration.exact_windows = o.exact_windows;
  EngineConfig engine_config;
  engine_config.window_us = duration_option(o.window, "--window", true);
  engine_config.hop_us = o.hop.empty() ? engine_config.window_us : duration_option(o.hop, "--hop", true);
  engine_config.min_requests = Calibrator::engine_min_requests();
  if (o.rules != "cusum" && o.rules != "threshold") usage_error("--rules: expected cusum or threshold, got '{}'", o.rules);
  const bool statistical = o.rules == "cusum";
  if (!(o.false_pages_per_day > 0)) usage_error("--false-pages-per-day: must be > 0, got {}", o.false_pages_per_day);
  RuleCalibrationOptions rule_options;
  rule_options.target_rate = o.target_rate;
  rule_options.false_pages_per_day = o.false_pages_per_day;
  apply_error_options(o.errors, engine_config.errors);
  const CompiledFilter filter = compile_filter(o.filter, engine_config.errors);
  engine_config.validate();
  rule_options.hop_us = engine_config.hop_us;

  CalibrationInfo info;
  info.generated_at = utc_now();
  info.inputs = resolve_inputs(o.input.inputs, o.listen, o.net);
  finish_endpoint_options(o.net);  // LOGPIPE_KAFKA_* from the environment, TLS flag checks
  info.window_us = engine_config.window_us;
  info.hop_us = engine_config.hop_us;
  info.target_rate = o.target_rate;
  info.sketch_accuracy = calibration.sketch_accuracy;
  info.errors = engine_config.errors;

  // Open every input and the output before reading anything.
  if (o.input.format != "auto") make_parser(o.input.format);  // a bad --format is a usage error now
  auto inputs = open_pump_inputs(info.inputs, o.net, FileReading::kBatch, o.input.verbose);
  const bool live = std::any_of(inputs.begin(), inputs.end(), [](const auto& in) { return in->network(); });
  // Files can be read again; stdin and network inputs cannot.
  const bool rereadable = std::none_of(info.inputs.begin(), info.inputs.end(),
                                       [](const std::string& e) { return e == "-" || endpoint_scheme(e) != "file"; });
  auto out = open_output_replacing(o.output);
  const bool toml_on_stdout = o.output == "-";

  // One pass over the history. Calibration is batch: a record must not be lost because it came
  // after its window had closed. Event time is tracked per file and per Kafka partition, so
  // ordered inputs lose nothing with the default lateness; when files are out of order (given in
  // the wrong order, or disordered inside), the pass measured the lateness that would have kept
  // every record, and the files are read again with it.
  struct Pass {
    std::unique_ptr<MalformedLog> malformed;
    std::unique_ptr<RecordPump> pump;
    std::unique_ptr<Calibrator> calibrator;     // --rules threshold
    std::unique_ptr<RuleCalibrator> rules;      // --rules cusum
    std::unique_ptr<ByteSink> window_log_sink;
    std::unique_ptr<WindowLog> window_log;
    std::unique_ptr<ObserverList> observers;
    std::unique_ptr<WindowEngine> engine;
    std::unique_ptr<EngineSink> sink;
    std::unique_ptr<FilteringSink> filtering;  // --where
  };
  auto run_pass = [&](int64_t lateness_us) {
    Pass p;
    p.malformed = std::make_unique<MalformedLog>(open_rejects(o.input.rejects), o.input.strict);
    p.pump = std::make_unique<RecordPump>(pump_options(o.input, 1), *p.malformed);
    p.observers = std::make_unique<ObserverList>();
    if (statistical) {
      p.rules = std::make_unique<RuleCalibrator>(rule_options);
      p.observers->add(*p.rules);
    } else {
      p.calibrator = std::make_unique<Calibrator>(calibration);
      p.observers->add(*p.calibrator);
    }
    if (!o.window_log.empty()) {
      p.window_log_sink = open_output(o.window_log);
      p.window_log = std::make_unique<WindowLog>(*p.window_log_sink);
      p.observers->add(*p.window_log);
    }
    EngineConfig config = engine_config;
    config.lateness_us = lateness_us;
    p.engine = std::make_unique<WindowEngine>(config, *p.observers);
    p.sink = std::make_unique<EngineSink>(*p.engine, *p.pump);
    std::unique_ptr<ProgressBar> bar;
    uint64_t total = 0;
    for (const auto& in : inputs) total += in->size();
    if (!o.no_progress && ::isatty(2) && total > 0)
      bar = std::make_unique<ProgressBar>(
          [&inputs] {
            uint64_t done = 0;
            for (const auto& in : inputs) done += in->bytes_read();
            return done;
          },
          total, escapes_ok(2));
    if (filter.filter) p.filtering = std::make_unique<FilteringSink>(*filter.filter, *p.sink);
    if (p.filtering) p.pump->run(inputs, *p.filtering, p.sink.get());
    else p.pump->run(inputs, *p.sink, p.sink.get());  // a network input: until it ends, --idle-exit or a signal
    p.engine->flush();
    if (p.window_log_sink) p.window_log_sink->close();
    return p;
  };
  Pass pass = run_pass(engine_config.lateness_us);
  if (pass.engine->stats().late > 0 && rereadable && !pass.pump->stopped()) {
    // Whole seconds, rounded up: the windows then hold every record of this same order.
    const int64_t lateness = (pass.engine->stats().needed_lateness_us / 1'000'000 + 1) * 1'000'000;
    fmt::print(stderr,
               "logpipe: {} record{} came after their window had closed (inputs out of time order); reading "
               "again with a lateness of {} s so that none is lost\n",
               pass.engine->stats().late, pass.engine->stats().late == 1 ? "" : "s", lateness / 1'000'000);
    inputs = open_pump_inputs(info.inputs, o.net, FileReading::kBatch, false);
    pass = run_pass(lateness);
  }
  MalformedLog& malformed = *pass.malformed;
  RecordPump& pump = *pass.pump;
  WindowEngine& engine = *pass.engine;
  // Files: an interrupted run would calibrate on part of the history, so nothing is written. A
  // network input has no end of its own: a signal ends it and what was read is calibrated.
  if (pump.stopped() && !live) runtime_error("interrupted: no thresholds written");
  if (pump.stopped())
    fmt::print(stderr, "logpipe: stopped by a signal: calibrating on the records read so far\n");
  info.records = engine.stats().records;
  info.late = engine.stats().late;
  info.malformed = malformed.total();
  info.no_time = pass.sink->no_time();
  if (filter.filter) info.where = filter.filter->expression();
  if (statistical) {
    info.windows = pass.rules->windows();
    info.empty_windows = pass.rules->empty_windows();
    info.first_start_us = pass.rules->first_window_start_us();
    info.last_end_us = pass.rules->last_window_end_us();
  } else {
    info.windows = pass.calibrator->windows();
    info.empty_windows = pass.calibrator->empty_windows();
    info.first_start_us = pass.calibrator->first_window_start_us();
    info.last_end_us = pass.calibrator->last_window_end_us();
    info.sketched = pass.calibrator->sketched();
  }
  if (info.windows == 0) {
    malformed.flush();
    malformed.print_summary(stderr);
    if (pass.filtering && pass.filtering->counts().kept == 0 && pass.filtering->counts().read > 0)
      runtime_error("--where left out all {} records of {}: nothing to calibrate", pass.filtering->counts().read,
                    describe_inputs(info.inputs));
    runtime_error("no record with a time in {}: nothing to calibrate",
                  describe_inputs(info.inputs));
  }
  std::string toml, table;
  if (statistical) {
    const std::vector<RuleCalibration> results = pass.rules->results();
    const double share = pass.rules->history_page_share();
    toml = format_rules_toml(info, results, pass.rules->rules(), share, o.false_pages_per_day);
    table = o.report == "json" ? format_rules_json(info, results, share, o.false_pages_per_day)
                               : format_rules_table(info, results, share, o.false_pages_per_day);
  } else {
    const std::vector<MetricCalibration> results = pass.calibrator->results();
    toml = format_calibration_toml(info, results);
    table = o.report == "json" ? format_calibration_json(info, results) : format_calibration_table(info, results);
  }
  out->write(toml);
  out->close();
  for (size_t i = 0; i < inputs.size(); ++i)  // Kafka: offsets only once the thresholds are written
    if (pump.read_through(i)) inputs[i]->lines().commit();
  if (toml_on_stdout) {
    fmt::print(stderr, "{}", table);
  } else {
    auto stdout_sink = open_output("-");
    stdout_sink->write(table);
    stdout_sink->close();
  }
  if (info.late)  // only an input that cannot be read again (stdin, a socket, Kafka) gets here
    fmt::print(stderr, "logpipe: {} late record{} dropped (the input was out of time order by more than the "
               "lateness and cannot be read again)\n",
               info.late, info.late == 1 ? "" : "s");
  if (info.no_time)
    fmt::print(stderr, "logpipe: {} record{} without a time skipped\n", info.no_time,
               info.no_time == 1 ? "" : "s");
  malformed.flush();
  malformed.print_summary(stderr);
  if (pass.filtering) print_filter_counts(pass.filtering->counts());
  return kExitOk;
}

}  // namespace

RunFn setup_calibrate(CLI::App& command) {
  auto o = std::make_shared<CalibrateOptions>();
  add_input_options(command, o->input);
  add_error_options(command, o->errors);
  add_filter_options(command, o->filter);
  command.add_option("--window-log", o->window_log,
                     "Also write one JSON line per window (its counts and global values) to FILE")
      ->type_name("FILE");
  command
      .add_option("--target-rate", o->target_rate,
                  "Share of the history's windows that may hold a page, all metrics together (cusum), or each "
                  "metric (threshold); in (0, 1)")
      ->capture_default_str();
  command
      .add_option("--rules", o->rules,
                  "cusum: statistical rules per key against learned baselines (the default); threshold: one "
                  "fixed threshold per metric")
      ->check(CLI::IsMember({"cusum", "threshold"}))
      ->capture_default_str();
  command
      .add_option("--false-pages-per-day", o->false_pages_per_day,
                  "cusum: the false pages a day the limits aim at on traffic like the history's, all metrics "
                  "together")
      ->type_name("F")
      ->capture_default_str();
  command.add_option("--window", o->window, "Window size, as in stream (60s, 5m)")
      ->capture_default_str();
  command.add_option("--hop", o->hop,
                     "Start a window every DURATION (sliding windows; default = --window)");
  command
      .add_option("--min-requests", o->min_requests,
                  "N for every keyed metric, or METRIC=N (repeatable); default: the rule of man "
                  "logpipe-calibrate")
      ->allow_extra_args(false);
  command
      .add_option("-o,--output", o->output, "Write the thresholds TOML to FILE (default stdout)")
      ->capture_default_str();
  command
      .add_option("--report", o->report,
                  "Table format: text or json (stdout; stderr when the TOML goes there)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  command
      .add_option("--exact-windows", o->exact_windows,
                  "Keep exact values for up to N windows, then a DDSketch (1% relative accuracy); "
                  "0 = sketch")
      ->capture_default_str();
  command.add_flag("--no-progress", o->no_progress,
                   "Never draw the progress bar (drawn only when stderr is a terminal)");
  add_listen_option(command, o->listen, "reading ends on SIGTERM/SIGINT or after --idle-exit");
  add_endpoint_options(command, o->net, /*input_side=*/true);
  return [o] { return run_calibrate(*o); };
}

}  // namespace logpipe::cli

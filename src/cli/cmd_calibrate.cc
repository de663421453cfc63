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
#include "logpipe/format.h"
#include "logpipe/io/files.h"
#include "logpipe/io/inputs.h"
#include "logpipe/malformed.h"
#include "logpipe/metrics.h"
#include "logpipe/pump.h"
#include "logpipe/timeutil.h"
#include "logpipe/window_log.h"

namespace logpipe::cli {
namespace {

struct CalibrateOptions {
  InputOptions input;
  ErrorOptions errors;
  std::string window_log;
  double target_rate = 0.01;
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

// Feeds parsed records to the engine; records without a time cannot be placed in a window.
class EngineSink final : public RecordSink {
 public:
  explicit EngineSink(WindowEngine& engine) : engine_(engine) {}
  ParseError on_record(const Record& r) override {
    if (engine_.add(r) == WindowEngine::AddResult::kNoTime) ++no_time_;
    return ParseError::kNone;  // counted apart: "N records without a time skipped"
  }
  uint64_t no_time() const noexcept { return no_time_; }

 private:
  WindowEngine& engine_;
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
  apply_error_options(o.errors, engine_config.errors);
  engine_config.validate();

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
  auto out = open_output_replacing(o.output);
  const bool toml_on_stdout = o.output == "-";
  std::unique_ptr<ByteSink> window_log_sink;
  if (!o.window_log.empty()) window_log_sink = open_output(o.window_log);

  MalformedLog malformed(open_rejects(o.input.rejects), o.input.strict);
  RecordPump pump(PumpOptions{o.input.format, o.input.verbose, 1, &g_stop_requested}, malformed);
  Calibrator calibrator(calibration);
  ObserverList observers;
  observers.add(calibrator);
  std::unique_ptr<WindowLog> window_log;
  if (window_log_sink) {
    window_log = std::make_unique<WindowLog>(*window_log_sink);
    observers.add(*window_log);
  }
  WindowEngine engine(engine_config, observers);
  EngineSink sink(engine);
  {
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
          total);
    pump.run(inputs, sink);  // a network input: until it ends, --idle-exit or a signal
  }
  engine.flush();
  if (window_log_sink) window_log_sink->close();
  // Files: an interrupted run would calibrate on part of the history, so nothing is written. A
  // network input has no end of its own: a signal ends it and what was read is calibrated.
  if (pump.stopped() && !live) runtime_error("interrupted: no thresholds written");
  if (pump.stopped())
    fmt::print(stderr, "logpipe: stopped by a signal: calibrating on the records read so far\n");

  info.records = engine.stats().records;
  info.late = engine.stats().late;
  info.malformed = malformed.total();
  info.no_time = sink.no_time();
  info.windows = calibrator.windows();
  info.empty_windows = calibrator.empty_windows();
  info.first_start_us = calibrator.first_window_start_us();
  info.last_end_us = calibrator.last_window_end_us();
  info.sketched = calibrator.sketched();
  if (info.windows == 0) {
    malformed.flush();
    malformed.print_summary(stderr);
    runtime_error("no record with a time in {}: nothing to calibrate",
                  describe_inputs(info.inputs));
  }
  std::vector<MetricCalibration> results = calibrator.results();

  out->write(format_calibration_toml(info, results));
  out->close();
  for (size_t i = 0; i < inputs.size(); ++i)  // Kafka: offsets only once the thresholds are written
    if (pump.read_through(i)) inputs[i]->lines().commit();
  std::string table = o.report == "json" ? format_calibration_json(info, results)
                                         : format_calibration_table(info, results);
  if (toml_on_stdout) {
    fmt::print(stderr, "{}", table);
  } else {
    auto stdout_sink = open_output("-");
    stdout_sink->write(table);
    stdout_sink->close();
  }
  if (info.late)
    fmt::print(stderr, "logpipe: {} late record{} dropped (give the files in time order)\n",
               info.late, info.late == 1 ? "" : "s");
  if (info.no_time)
    fmt::print(stderr, "logpipe: {} record{} without a time skipped\n", info.no_time,
               info.no_time == 1 ? "" : "s");
  malformed.flush();
  malformed.print_summary(stderr);
  return kExitOk;
}

}  // namespace

RunFn setup_calibrate(CLI::App& command) {
  auto o = std::make_shared<CalibrateOptions>();
  add_input_options(command, o->input);
  add_error_options(command, o->errors);
  command.add_option("--window-log", o->window_log,
                     "Also write one JSON line per window (its counts and global values) to FILE")
      ->type_name("FILE");
  command
      .add_option("--target-rate", o->target_rate,
                  "Share of windows in which each metric may fire, in (0, 1)")
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

// logpipe calibrate: history -> records -> the windowed-metrics engine -> Calibrator -> the
// thresholds file that `stream --config` reads, and a table (text or JSON) per metric.
//
// Parse, validate, open every input, then run. The inputs are read through a byte counter so
// that a progress bar (stderr, only when it is a terminal) can show how much of the files is done;
// compressed files count their compressed bytes.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <ctime>

#include "cli/command.h"
#include "logpipe/calibrate.h"
#include "logpipe/config.h"
#include "logpipe/io/endpoint.h"
#include "logpipe/error.h"
#include "logpipe/io/files.h"
#include "logpipe/malformed.h"
#include "logpipe/metrics.h"
#include "logpipe/io/files.h"
#include "logpipe/report.h"
#include "logpipe/io/scan.h"
#include "logpipe/timeutil.h"

namespace logpipe::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct CalibrateOptions {
  InputOptions input;
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

// Draws `calibrate [#######-------]  52%  1.2/2.3 GB  310 MB/s` on stderr, at most 5 times a
// second.
class ProgressBar {
 public:
  ProgressBar(uint64_t total_bytes, bool enabled)
      : total_(total_bytes), enabled_(enabled && total_bytes > 0) {}
  void add(uint64_t bytes) {
    done_ += bytes;
    if (!enabled_) return;
    auto now = Clock::now();
    if (now < next_draw_) return;
    next_draw_ = now + std::chrono::milliseconds(200);
    double fraction = std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_));
    double secs = std::chrono::duration<double>(now - start_).count();
    constexpr int kWidth = 30;
    int filled = static_cast<int>(fraction * kWidth);
    fmt::print(stderr, "\rcalibrate [{:#<{}}{:-<{}}] {:3.0f}%  {:.1f}/{:.1f} MB  {:.0f} MB/s ", "",
               filled, "", kWidth - filled, fraction * 100, static_cast<double>(done_) / 1e6,
               static_cast<double>(total_) / 1e6,
               secs > 0 ? static_cast<double>(done_) / 1e6 / secs : 0.0);
    drawn_ = true;
  }
  void finish() {
    if (drawn_) fmt::print(stderr, "\r\033[K");
    drawn_ = false;
  }

 private:
  uint64_t total_;
  uint64_t done_ = 0;
  bool enabled_;
  bool drawn_ = false;
  Clock::time_point start_ = Clock::now();
  Clock::time_point next_draw_ = start_;
};

// A file or stdin, read raw (decompression wraps it), counting bytes for the progress bar.
class CountingFileSource final : public ByteSource {
 public:
  CountingFileSource(const std::string& path, ProgressBar& progress)
      : name_(path), progress_(progress) {
    if (path == "-") {
      fd_ = 0;
      return;
    }
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) system_error(errno, "cannot open '" + path + "'");
    struct stat st {};
    if (::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode)) size_ = static_cast<uint64_t>(st.st_size);
    ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
  }
  ~CountingFileSource() override {
    if (fd_ > 0) ::close(fd_);
  }
  size_t read(char* buf, size_t n) override {
    for (;;) {
      ssize_t r = ::read(fd_, buf, n);
      if (r >= 0) {
        progress_.add(static_cast<uint64_t>(r));
        return static_cast<size_t>(r);
      }
      if (errno != EINTR) system_error(errno, "cannot read '" + name_ + "'");
    }
  }
  const std::string& name() const noexcept override { return name_; }
  /// Size of a regular file, 0 otherwise (stdin, pipes).
  uint64_t size() const noexcept { return size_; }

 private:
  std::string name_;
  ProgressBar& progress_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// Feeds parsed records to the engine; records without a time cannot be placed in a window.
class EngineSink final : public RecordSink {
 public:
  explicit EngineSink(WindowEngine& engine) : engine_(engine) {}
  void on_record(const Record& r) override {
    if (engine_.add(r) == WindowEngine::AddResult::kNoTime) ++no_time_;
  }
  uint64_t no_time() const noexcept { return no_time_; }

 private:
  WindowEngine& engine_;
  uint64_t no_time_ = 0;
};

int64_t duration_option(const std::string& text, std::string_view option) {
  int64_t us = 0;
  if (!parse_duration(text, us))
    usage_error("{}: bad duration '{}' (examples: 60s, 5m, 1h)", option, text);
  if (us % 1'000'000 != 0)
    usage_error("{}: must be a whole number of seconds, got '{}'", option, text);
  return us;
}

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
  engine_config.window_us = duration_option(o.window, "--window");
  engine_config.hop_us = o.hop.empty() ? engine_config.window_us : duration_option(o.hop, "--hop");
  engine_config.min_requests = Calibrator::engine_min_requests();
  engine_config.validate();

  CalibrationInfo info;
  info.generated_at = utc_now();
  info.inputs = resolve_inputs(o.input.inputs, o.listen, o.net);
  finish_endpoint_options(o.net);  // LOGPIPE_KAFKA_* from the environment, TLS flag checks
  info.window_us = engine_config.window_us;
  info.hop_us = engine_config.hop_us;
  info.target_rate = o.target_rate;
  info.sketch_accuracy = calibration.sketch_accuracy;

  // Open every input and the output before reading anything.
  ProgressBar progress(0, false);
  // One of raw[i] (a file or stdin) and network[i] (tcp://, tls://, udp://, kafka://) per input.
  std::vector<std::unique_ptr<CountingFileSource>> raw;
  std::vector<std::unique_ptr<LineSource>> network;
  uint64_t total_bytes = 0;
  for (const auto& path : info.inputs) {
    if (endpoint_scheme(path) == "file") {
      raw.push_back(std::make_unique<CountingFileSource>(path, progress));
      network.push_back(nullptr);
      total_bytes += raw.back()->size();
    } else {
      raw.push_back(nullptr);
      network.push_back(open_line_source(path, o.net));
      if (o.input.verbose) fmt::print(stderr, "logpipe: reading {}\n", network.back()->name());
    }
  }
  const bool live = std::any_of(network.begin(), network.end(), [](const auto& n) { return n != nullptr; });
  progress = ProgressBar(total_bytes, !o.no_progress && ::isatty(2));
  auto out = open_output_replacing(o.output);
  const bool toml_on_stdout = o.output == "-";

  MalformedLog malformed(open_rejects(o.input.rejects), o.input.strict);
  Scanner scanner(ScanOptions{o.input.format, o.input.verbose}, malformed);
  scanner.set_stop_flag(&g_stop_requested);
  Calibrator calibrator(calibration);
  WindowEngine engine(engine_config, calibrator);
  EngineSink sink(engine);
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i]) {
      auto source = maybe_decompress(std::move(raw[i]));
      scanner.scan(*source, sink);
    } else {
      scanner.scan(*network[i], sink);  // until it ends, --idle-exit or a signal
    }
    if (g_stop_requested) break;
  }
  engine.flush();
  progress.finish();
  // Files: an interrupted run would calibrate on part of the history, so nothing is written. A
  // network input has no end of its own: a signal ends it and what was read is calibrated.
  if (g_stop_requested && !live) runtime_error("interrupted: no thresholds written");
  if (g_stop_requested)
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
  for (auto& n : network)
    if (n) n->commit();  // Kafka: offsets only once the thresholds are written
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

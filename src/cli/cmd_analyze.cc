// logpipe analyze: batch report (text, JSON, CSV, HTML) over files, for humans and for cron.
// Parse and validate options, open every input and the output, then scan (report_scan.cc), then
// write one report. A progress bar is drawn on stderr when it is a terminal.
#include "cli/command.h"

#include "logpipe/io/endpoint.h"
#include "logpipe/error.h"
#include "logpipe/format.h"
#include "logpipe/malformed.h"
#include "logpipe/io/files.h"
#include "logpipe/io/report_scan.h"
#include "logpipe/report.h"
#include "logpipe/timeutil.h"

#include <fmt/format.h>

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace logpipe::cli {
namespace {

struct AnalyzeOptions {
  InputOptions input;
  std::string report = "text";
  std::string output = "-";
  size_t top = 10;
  std::string since, until;
  std::string by = "auto";
  unsigned threads = 0;
  bool no_progress = false;
  std::string listen;
  EndpointOptions net;  ///< --tls-*, --kafka-option[-file], --group, --idle-exit
};

/// Draws `[####      ]  45%  120.3 MB/s` on stderr at most 10 times a second, from its own
/// thread, reading a counter the scan threads bump; erases itself at the end.
class ProgressBar {
 public:
  ProgressBar(std::atomic<uint64_t>& done, uint64_t total) : done_(done), total_(total) {
    thread_ = std::thread([this] { loop(); });
  }
  ~ProgressBar() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_one();
    thread_.join();
    std::fputs("\r\x1b[K", stderr);
    std::fflush(stderr);
  }

 private:
  void loop() {
    auto start = std::chrono::steady_clock::now();
    std::unique_lock lock(mutex_);
    // The first frame is drawn at once (the user sees the bar even on a short run), then one
    // every 100 ms until the scan ends.
    do {
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      uint64_t done = done_.load(std::memory_order_relaxed);
      double rate = secs > 0 ? static_cast<double>(done) / secs / 1e6 : 0;
      if (total_ > 0) {
        double f = std::min(1.0, static_cast<double>(done) / static_cast<double>(total_));
        int filled = static_cast<int>(f * 30);
        fmt::print(stderr, "\r[{:#<{}}{:<{}}] {:3.0f}%  {:.1f} MB/s\x1b[K", "", filled, "", 30 - filled, f * 100,
                   rate);
      } else {
        fmt::print(stderr, "\r{:.1f} MB read  {:.1f} MB/s\x1b[K", static_cast<double>(done) / 1e6, rate);
      }
      std::fflush(stderr);
    } while (!wake_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stop_; }));
  }
  std::atomic<uint64_t>& done_;
  uint64_t total_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

/// True when a file starts with the gzip or zstd magic (its size says nothing of its lines).
bool looks_compressed(const std::string& path) {
  unsigned char m[4] = {};
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  size_t n = std::fread(m, 1, sizeof m, f);
  std::fclose(f);
  return (n >= 2 && m[0] == 0x1f && m[1] == 0x8b) || (n == 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd);
}

int64_t parse_bound(const std::string& value, const char* flag) {
  if (value.empty()) return kNoTime;
  int64_t us;
  if (!parse_time_arg(value, us)) usage_error("{}: expected RFC 3339 time or a date (2025-06-23), got '{}'", flag, value);
  return us;
}

int run_analyze(AnalyzeOptions& o) {
  // Validate everything before any work.
  const int64_t since = parse_bound(o.since, "--since");
  const int64_t until = parse_bound(o.until, "--until");
  if (since != kNoTime && until != kNoTime && since >= until) usage_error("--since must be before --until");
  std::vector<std::string> inputs = resolve_inputs(o.input.inputs, o.listen, o.net);
  finish_endpoint_options(o.net);  // LOGPIPE_KAFKA_* from the environment, TLS flag checks
  if (o.threads > 64) usage_error("--threads: at most 64, got {}", o.threads);
  unsigned threads = o.threads ? o.threads : std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
  // Rejects are written verbatim and in order: only one thread reads then.
  if (!o.input.rejects.empty()) threads = 1;

  if (o.input.format != "auto") make_parser(o.input.format);  // a bad --format is a usage error now
  // A missing input is reported before the output (or the rejects file) is created.
  for (const auto& p : inputs)
    if (p != "-" && endpoint_scheme(p) == "file" && ::access(p.c_str(), R_OK) != 0)
      system_error(errno, "cannot open '" + p + "'");
  MalformedLog malformed(open_rejects(o.input.rejects), o.input.strict);
  auto out = open_output_replacing(o.output);
  std::atomic<uint64_t> progress_bytes{0};
  ReportScanOptions scan{o.input.format, o.input.verbose, threads, &g_stop_requested, nullptr};
  scan.endpoint = &o.net;
  // An input that fails mid-read (a compressed file cut short, a dropped connection) is named on
  // stderr and makes the exit status 1, but the report still covers every line read.
  std::vector<std::string> input_errors;
  scan.input_errors = &input_errors;
  // Kafka offsets are committed only once the report is written (a failed write re-reads them).
  std::vector<std::unique_ptr<LineSource>> read_sources;
  scan.read_sources = &read_sources;
  std::unique_ptr<ProgressBar> bar;
  if (!o.no_progress && ::isatty(2)) {
    uint64_t total = 0;
    for (const auto& p : inputs) {
      struct stat st;
      if (p == "-" || endpoint_scheme(p) != "file" || ::stat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
          looks_compressed(p)) {
        total = 0;  // a stream, a pipe, or compressed: no percentage, only bytes and rate
        break;
      }
      total += static_cast<uint64_t>(st.st_size);
    }
    scan.progress_bytes = &progress_bytes;
    bar = std::make_unique<ProgressBar>(progress_bytes, total);
  }

  Report report;
  report.set_time_filter(since, until);
  std::string format;
  try {
    format = scan_for_report(inputs, scan, malformed, report);
  } catch (...) {
    bar.reset();
    throw;
  }
  bar.reset();
  if (g_stop_requested)
    fmt::print(stderr, "logpipe: stopped by a signal: the report covers the lines read so far\n");
  report.finish_sessions();
  report.malformed = malformed.total();

  ReportSummary summary = summarize(report, SummaryOptions{o.top, o.by, format, inputs});
  std::string text;
  if (o.report == "json") text = write_json(summary);
  else if (o.report == "csv") text = write_csv(summary);
  else if (o.report == "html") text = write_html(summary);
  else text = write_text(summary, o.output == "-" && ::isatty(1) && !std::getenv("NO_COLOR"));
  out->write(text);
  out->close();
  for (auto& source : read_sources) source->commit();
  malformed.flush();
  malformed.print_summary(stderr);
  for (const auto& e : input_errors) fmt::print(stderr, "logpipe: {}\n", e);
  return input_errors.empty() ? kExitOk : kExitRuntime;
}

}  // namespace

RunFn setup_analyze(CLI::App& command) {
  auto o = std::make_shared<AnalyzeOptions>();
  add_input_options(command, o->input);
  command.add_option("--report", o->report, "Report format: text, json, csv, html")
      ->check(CLI::IsMember({"text", "json", "csv", "html"}))
      ->capture_default_str();
  command.add_option("-o,--output", o->output, "Write the report to FILE (default stdout; .gz/.zst compress)");
  command.add_option("--top", o->top, "Entries in each top list (0 = all)")->capture_default_str();
  command.add_option("--since", o->since, "Only records at or after TIME (RFC 3339 or YYYY-MM-DD)");
  command.add_option("--until", o->until, "Only records before TIME (RFC 3339 or YYYY-MM-DD)");
  command.add_option("--by", o->by, "Time-series bucket: minute, hour, day, auto (by span)")
      ->check(CLI::IsMember({"minute", "hour", "day", "auto"}))
      ->capture_default_str();
  command.add_option("--threads", o->threads, "Threads for large regular files (0 = one per core)")
      ->capture_default_str();
  command.add_flag("--no-progress", o->no_progress, "Never draw the progress bar (drawn only on a terminal)");
  add_listen_option(command, o->listen, "the report is written on SIGTERM/SIGINT or after --idle-exit");
  add_endpoint_options(command, o->net, /*input_side=*/true);
  return [o] { return run_analyze(*o); };
}

}  // namespace logpipe::cli

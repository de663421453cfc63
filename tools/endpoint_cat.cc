// logpipe-endpoint-cat: copies lines from any input endpoint to any output endpoint through the
// public endpoint API (open_line_source / open_sink), with the same endpoint flags as logpipe.
// For tests, benchmarks and operators (e.g. replaying a file into Kafka, draining a topic).
//
// Commit discipline is the one `stream` follows: the output is flushed (for Kafka: every message
// acknowledged) before the input offsets are committed, every --commit-every lines, when the
// input is idle, and at the end. --max-lines stops early (a consumer that processed part of a
// topic); --no-commit never commits (a consumer that crashed).
#include "cli/command.h"

#include "logpipe/io/endpoint.h"
#include "logpipe/error.h"
#include "logpipe/io/files.h"

#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <cstdio>

namespace logpipe::cli {
StopFlag g_stop_requested{false};
}

namespace {

using namespace logpipe;

// Files and stdin through the core line reader (with gzip/zstd detection).
class FileLines final : public LineSource {
 public:
  explicit FileLines(const std::string& path) : source_(open_input(path)), reader_(*source_) {}
  Status next(std::string_view& line, int) override {
    return reader_.next(line) ? Status::kLine : Status::kEnd;
  }
  const std::string& name() const noexcept override { return reader_.name(); }
  uint64_t line_number() const noexcept override { return reader_.line_number(); }

 private:
  std::unique_ptr<ByteSource> source_;
  LineReader reader_;
};

struct CatOptions {
  std::string input;
  std::string output = "-";
  EndpointOptions endpoint;
  uint64_t max_lines = 0;
  uint64_t commit_every = 10000;
  bool no_commit = false;
  bool quiet = false;
};

int run(CatOptions& o) {
  cli::finish_endpoint_options(o.endpoint);
  std::unique_ptr<LineSource> in = endpoint_scheme(o.input) == "file"
                                       ? std::make_unique<FileLines>(o.input)
                                       : open_line_source(o.input, o.endpoint);
  std::unique_ptr<ByteSink> out = open_sink(o.output, o.endpoint);
  using Clock = std::chrono::steady_clock;
  Clock::time_point first{}, last{};  // of the first and last line: the rate excludes joins, idling
  uint64_t lines = 0, bytes = 0, since_commit = 0;
  auto checkpoint = [&] {
    out->flush();
    if (!o.no_commit) in->commit();
    since_commit = 0;
  };
  std::string_view line;
  while (!cli::g_stop_requested && (o.max_lines == 0 || lines < o.max_lines)) {
    LineSource::Status s = in->next(line, 200);
    if (s == LineSource::Status::kEnd) break;
    if (s == LineSource::Status::kTimeout) {
      if (since_commit > 0) checkpoint();
      continue;
    }
    if (lines == 0) first = Clock::now();
    out->write(line);
    out->write("\n");
    ++lines;
    bytes += line.size() + 1;
    if (++since_commit >= o.commit_every) checkpoint();
  }
  checkpoint();
  out->close();  // for Kafka: every message acknowledged
  last = Clock::now();
  double seconds = lines > 0 ? std::chrono::duration<double>(last - first).count() : 0.0;
  if (!o.quiet)
    fmt::print(stderr,
               "logpipe-endpoint-cat: {} lines, {} bytes; {:.3f} s from the first line to the "
               "last delivered ({:.0f} lines/s)\n",
               lines, bytes, seconds, seconds > 0 ? lines / seconds : 0.0);
  return kExitOk;
}

void on_stop(int) { cli::g_stop_requested = true; }

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGINT, on_stop);
  std::signal(SIGTERM, on_stop);
  CatOptions o;
  CLI::App app{"Copy lines from an input endpoint to an output endpoint", "logpipe-endpoint-cat"};
  app.add_option("INPUT", o.input, "Input endpoint: -, path, tcp://, tls://, udp://, kafka://")
      ->required();
  app.add_option("OUTPUT", o.output, "Output endpoint: -, path, tcp://, tls://, kafka://")
      ->capture_default_str();
  app.add_flag("--listen", o.endpoint.listen, "Serve the input endpoint (many clients)");
  app.add_option("--max-lines", o.max_lines, "Stop (after committing) once N lines were copied");
  app.add_option("--commit-every", o.commit_every, "Flush the output and commit the input every N lines")
      ->capture_default_str();
  app.add_flag("--no-commit", o.no_commit, "Never commit input offsets (simulates a crash)");
  app.add_flag("-q,--quiet", o.quiet, "No summary on stderr");
  try {
    logpipe::cli::add_endpoint_options(app, o.endpoint, true);
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  } catch (const Error& e) {
    fmt::print(stderr, "logpipe-endpoint-cat: {}\n", e.what());
    return e.exit_code();
  }
  try {
    return run(o);
  } catch (const Error& e) {
    if (e.exit_code() == kExitOk) return 0;
    fmt::print(stderr, "logpipe-endpoint-cat: {}\n", e.what());
    return e.exit_code();
  }
}

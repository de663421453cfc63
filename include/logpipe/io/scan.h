// The shared batch/stream driver: inputs -> lines -> parser -> records -> a sink.
#pragma once

#include "logpipe/io/layer.h"
#include "logpipe/format.h"
#include "logpipe/malformed.h"
#include "logpipe/record.h"
#include "logpipe/source.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace logpipe {

/// What a scan reads and how it treats bad lines.
struct ScanOptions {
  std::string format = "auto";  ///< --format value
  bool verbose = false;         ///< print the detected format on stderr
};

/// Counts of one scan. lines = records + malformed + blank.
struct ScanStats {
  uint64_t lines = 0;
  uint64_t records = 0;
  uint64_t blank = 0;
  uint64_t malformed = 0;
  uint64_t bytes = 0;
};

/// Resolves `auto` by peeking at the first lines of the first source. Sources stay readable.
class Scanner {
 public:
  Scanner(ScanOptions options, MalformedLog& malformed);
  ~Scanner();
  /// Reads one source to its end, feeding sink. The format is fixed by the first source.
  void scan(ByteSource& source, RecordSink& sink);
  /// Reads a line source (socket server, Kafka, followed file) until it ends or the stop flag is
  /// set; timeouts only re-check the stop flag.
  void scan(LineSource& source, RecordSink& sink);
  /// Opens each path (`-` = stdin, compressed detected) and scans them in order.
  void scan_paths(const std::vector<std::string>& paths, RecordSink& sink);
  const ScanStats& stats() const noexcept { return stats_; }
  /// The format in use ("" until the first source was seen with `auto`).
  const std::string& format() const noexcept { return format_; }
  /// Optional: stops early (signal handlers set it); checked between lines.
  void set_stop_flag(const StopFlag* flag) noexcept { stop_ = flag; }

 private:
  // Counts one line and hands a record to the sink (or the line to MalformedLog).
  void handle(std::string_view line, std::string_view source, uint64_t number, RecordSink& sink);
  // With `auto`: buffers the first lines until the format can be decided.
  bool buffer_for_detection(std::string_view line);
  void decide_format(std::string_view source, uint64_t last_line, RecordSink& sink);

  ScanOptions options_;
  std::vector<std::string> pending_;
  Record record_;
  MalformedLog& malformed_;
  std::unique_ptr<Parser> parser_;
  std::string format_;
  ScanStats stats_;
  const StopFlag* stop_ = nullptr;
};

}  // namespace logpipe

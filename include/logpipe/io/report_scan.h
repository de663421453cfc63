// The scan driver of `analyze` (report_scan.cc): inputs -> lines -> parser -> Report.
#pragma once

#include "logpipe/io/endpoint.h"
#include "logpipe/io/layer.h"
#include "logpipe/malformed.h"
#include "logpipe/report.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace logpipe {

/// How the scan driver reads inputs.
struct ReportScanOptions {
  std::string format = "auto";  ///< --format value; `auto` is detected once, on the first input
  bool verbose = false;         ///< print the detected format and the split on stderr
  unsigned threads = 1;         ///< byte ranges per large regular file (1 = no split)
  const StopFlag* stop = nullptr;             ///< set by signal handlers; checked per line
  std::atomic<uint64_t>* progress_bytes = nullptr;  ///< bytes of lines done, for a progress bar
  /// Settings of network inputs (TLS files, Kafka options and group, listen, idle exit);
  /// nullptr = defaults.
  const EndpointOptions* endpoint = nullptr;
  /// When set, an input that fails while being read (a gzip or zstd file cut short, a socket
  /// error, a fatal broker error) is recorded here — the message names it — and the scan goes on
  /// with the next input; the lines read before the failure stay counted. Otherwise it throws.
  std::vector<std::string>* input_errors = nullptr;
  /// When set, each network input is handed over here once read, not yet committed, so that the
  /// caller commits Kafka offsets only after the report is safely written. Otherwise the scan
  /// commits as soon as a source is read.
  std::vector<std::unique_ptr<LineSource>>* read_sources = nullptr;
};

/// Byte ranges smaller than this are not worth a thread.
inline constexpr uint64_t kMinRangeBytes = 256 * 1024;

/// Reads every input in order into `report` (which must not be a continuation). Regular,
/// uncompressed files of at least 2 * kMinRangeBytes are split at line boundaries into up to
/// `threads` ranges parsed in parallel and merged in order: the report, the malformed counts and
/// their FILE:LINE are the same as with one thread. Opens every input before reading any.
/// Returns the format in use. Throws Error on I/O failure (or --strict via `malformed`).
std::string scan_for_report(const std::vector<std::string>& inputs, const ReportScanOptions& options,
                            MalformedLog& malformed, Report& report);

}  // namespace logpipe

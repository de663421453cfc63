// Fuzzes the saved analyze states that `analyze --merge` reads (report_state.cc): a file damaged
// on disk, cut short or from another version. Besides memory safety and UB: bad bytes raise
// logpipe::Error only; an accepted state saves back to the same bytes, merges into another copy
// of itself and gives a report (every id it holds was checked against its table).
#include "logpipe/error.h"
#include "logpipe/report.h"
#include "logpipe/report_state.h"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  logpipe::ReportStateInfo info;
  std::unique_ptr<logpipe::Report> report;
  try {
    report = logpipe::load_report_state(bytes, "fuzz", info);
  } catch (const logpipe::Error&) {
    return 0;
  }
  std::string saved = logpipe::save_report_state(*report, info);
  logpipe::ReportStateInfo again_info;
  auto again = logpipe::load_report_state(saved, "saved", again_info);  // throws (a bug) if not
  if (logpipe::save_report_state(*again, again_info) != saved) std::abort();
  report->merge(*again);
  report->finish_sessions();
  logpipe::SummaryOptions options;
  options.top = 5;
  options.by = "day";
  (void)logpipe::write_json(logpipe::summarize(*report, options));
  return 0;
}

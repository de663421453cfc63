// Saved analyze states (`analyze --save-state FILE`, `analyze --merge A B ...`): everything a
// Report counted, open sessions included, with what the report shows about how it was read
// (inputs, formats, --where and its counts), in a compact versioned binary form
// (docs/analyze.md "Saved states", docs/architecture.md "Saved analyze states").
//
// Merging the states of consecutive inputs, in input order, gives the Report one run over all
// of them gives: a session that spans two days is one session, a user active on both days counts
// once per day, and every writer prints the same bytes. States are merged only when they were
// counted the same way (error rules, time zone, --since/--until, --where, --bots): otherwise the
// sum would mean nothing, and load says which option differs.
#pragma once

#include "logpipe/classify.h"
#include "logpipe/filter.h"
#include "logpipe/report.h"

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace logpipe {

/// How a state was counted and what its report shows besides the counts.
struct ReportStateInfo {
  ErrorRules rules;
  std::string zone = "UTC";  ///< --tz (IANA name)
  int64_t since_us = kNoTime, until_us = kNoTime;
  std::string where;  ///< --where, empty when none
  FilterCounts where_counts;
  std::vector<std::string> bots;  ///< --bots patterns
  std::vector<std::string> inputs;
  std::vector<std::pair<std::string, std::string>> input_formats;
  std::string formats;  ///< the pump's format list (`combined, edx`)
};

/// Version of the saved-state form this build writes and reads.
inline constexpr unsigned kReportStateVersion = 2;  // 2: 404 urls, ip-days, response times, course figures

/// The state of `report` (not yet finish_sessions()'d; a continuation report, so that its first
/// session of each key can join the previous state's last one) as bytes.
std::string save_report_state(const Report& report, const ReportStateInfo& info);

/// Reads a saved state into a continuation report with the state's rules, time filter and zone.
/// Throws Error (runtime) naming `name` when the bytes are not a state, are of another version or
/// are damaged.
std::unique_ptr<Report> load_report_state(std::string_view bytes, const std::string& name, ReportStateInfo& info);

/// Adds the info of the state that follows (`later`, read from `later_name`) to `into` (the
/// states before it, the first read from `first_name`): inputs and formats appended, --where
/// counts summed. Throws Error (runtime) naming both files when they were counted differently.
void merge_state_info(ReportStateInfo& into, const ReportStateInfo& later, const std::string& first_name,
                      const std::string& later_name);

}  // namespace logpipe

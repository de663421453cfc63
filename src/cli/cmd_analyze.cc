// logpipe analyze: batch report over files.
#include "cli/command.h"

#include "logpipe/error.h"
#include "logpipe/malformed.h"
#include "logpipe/output.h"
#include "logpipe/report.h"
#include "logpipe/scan.h"

#include <fmt/format.h>

namespace logpipe::cli {
namespace {

struct AnalyzeOptions {
  InputOptions input;
  std::string report = "text";
  std::string output = "-";
  size_t top = 10;
};

int run_analyze(const AnalyzeOptions& o) {
  if (o.report != "json") usage_error("--report: only 'json' is implemented so far");
  std::vector<std::string> inputs = o.input.inputs.empty() ? std::vector<std::string>{"-"} : o.input.inputs;
  auto out = open_output(o.output);
  MalformedLog malformed(o.input.rejects, o.input.strict);
  Scanner scanner(ScanOptions{o.input.format, o.input.verbose}, malformed);
  scanner.set_stop_flag(&g_stop_requested);
  Report report;
  scanner.scan_paths(inputs, report);
  report.malformed = malformed.total();
  out->write(report.to_json(o.top));
  out->close();
  malformed.flush();
  malformed.print_summary(stderr);
  return kExitOk;
}

}  // namespace

RunFn setup_analyze(CLI::App& command) {
  auto o = std::make_shared<AnalyzeOptions>();
  add_input_options(command, o->input);
  command.add_option("--report", o->report, "Report format: text, json, csv, html")
      ->check(CLI::IsMember({"text", "json", "csv", "html"}))
      ->capture_default_str();
  command.add_option("-o,--output", o->output, "Write the report to FILE (default stdout)");
  command.add_option("--top", o->top, "Entries in each top list")->capture_default_str();
  return [o] { return run_analyze(*o); };
}

}  // namespace logpipe::cli

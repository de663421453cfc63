// logpipe analyze: batch report (text, JSON, CSV, HTML) over files, for humans and for cron.
// Parse and validate options, open every input and the output, pump the records into a Report
// (pump.h: large files split over threads), then write one report. A progress bar is drawn on
// stderr when it is a terminal.
#include "cli/command.h"
#include "cli/progress.h"

#include "logpipe/error.h"
#include "logpipe/format.h"
#include "logpipe/geoip.h"
#include "logpipe/io/endpoint.h"
#include "logpipe/io/files.h"
#include "logpipe/io/inputs.h"
#include "logpipe/malformed.h"
#include "logpipe/pump.h"
#include "logpipe/report.h"
#include "logpipe/report_state.h"
#include "logpipe/timeutil.h"
#include "logpipe/timezone.h"

#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace logpipe::cli {
namespace {

struct AnalyzeOptions {
  InputOptions input;
  ErrorOptions errors;
  FilterOptions filter;
  std::string report = "text";
  std::string output = "-";
  size_t top = 10;
  std::string since, until;
  std::string by = "auto";
  unsigned threads = 0;
  bool no_progress = false;
  std::string color = "auto";
  std::string listen;
  std::string tz = "UTC";
  EndpointOptions net;  ///< --tls-*, --kafka-option[-file], --group, --idle-exit
  std::string save_state;
  bool merge = false;
  std::vector<std::string> geoip;
  size_t max_keys = 0;
  const CLI::App* command = nullptr;  ///< for --merge: which options were given
};

// A time with an offset (`...Z`, `...+02:00`) is that instant; a date or a time without one is a
// wall time of the report's zone (--tz).
int64_t parse_bound(const std::string& value, const char* flag, const TimeZone& zone) {
  if (value.empty()) return kNoTime;
  int64_t us;
  if (!parse_time_arg(value, us)) usage_error("{}: expected RFC 3339 time or a date (2025-06-23), got '{}'", flag, value);
  if (value != "now" && !has_utc_offset(value)) us = zone.to_utc(us);
  return us;
}

// The report's options from how the records were counted (one run, or the merged states).
SummaryOptions summary_options(const AnalyzeOptions& o, const ReportStateInfo& info) {
  SummaryOptions s{o.top, o.by, info.formats, info.inputs};
  s.input_formats = info.input_formats;
  s.bots = info.bots;
  s.where = info.where;
  s.where_counts = info.where_counts;
  return s;
}

// Writes the report of a finished Report (sessions closed) in the chosen format.
void write_report(const AnalyzeOptions& o, const Report& report, const ReportStateInfo& info, GeoIp* geo,
                  ByteSink& out) {
  SummaryOptions options = summary_options(o, info);
  options.geoip = geo;
  ReportSummary summary = summarize(report, options);
  std::string text;
  if (o.report == "json") text = write_json(summary);
  else if (o.report == "csv") text = write_csv(summary);
  else if (o.report == "html") text = write_html(summary);
  else {
    // On a terminal, keys fill its width (the count columns take about 40 cells); elsewhere 72.
    const bool to_stdout = o.output == "-";
    const size_t columns = to_stdout ? terminal_columns(1) : 0;
    text = write_text(summary, to_stdout ? color_wanted(o.color, 1) : o.color == "always",
                      columns > 56 ? columns - 40 : columns ? 16 : 72);
  }
  out.write(text);
  out.close();
}

void check_state_output(const AnalyzeOptions& o) {
  if (o.save_state == "-" && o.output == "-")
    usage_error("--save-state -: the report goes to stdout too; give one of them a file (-o FILE)");
  if (!o.save_state.empty() && o.save_state == o.output)
    usage_error("--save-state and --output name the same file '{}'", o.output);
}

// The state is compressed (zstd) whatever its name: it is only read back by --merge.
void write_state(const std::string& path, const Report& report, const ReportStateInfo& info) {
  auto out = open_output_replacing(path, /*always_zstd=*/true);
  out->write(save_report_state(report, info));
  out->close();
}

// analyze --merge STATE...: the report of the saved states, in the order given.
int run_merge(AnalyzeOptions& o) {
  // Options that only apply while records are read would be silently meaningless here.
  static constexpr std::string_view kAllowed[] = {"--merge", "--save-state", "--report", "--output", "--top",
                                                  "--by", "--color", "--no-progress", "--tz", "--verbose",
                                                  "--geoip", "--help", "FILES"};
  for (const CLI::Option* opt : o.command->get_options()) {
    if (opt->count() == 0) continue;
    std::string name = opt->get_name();
    if (std::find(std::begin(kAllowed), std::end(kAllowed), name) == std::end(kAllowed))
      usage_error("--merge: {} applies when records are read; each state keeps the options it was saved with",
                  name);
  }
  if (o.input.inputs.empty()) usage_error("--merge: name the saved states to merge (analyze --save-state FILE)");
  check_state_output(o);
  auto geo = open_geoip(o.geoip, o.input.verbose);
  for (const auto& path : o.input.inputs)
    if (path.find("://") != std::string::npos) usage_error("--merge reads saved state files, not endpoints: '{}'", path);

  auto read_state = [](const std::string& path, ReportStateInfo& info) {
    auto in = open_input(path);
    std::string bytes;
    char buf[1 << 16];
    for (size_t n; (n = in->read(buf, sizeof buf)) > 0;) bytes.append(buf, n);
    return load_report_state(bytes, path, info);
  };
  ReportStateInfo info;
  std::unique_ptr<Report> report = read_state(o.input.inputs[0], info);
  for (size_t i = 1; i < o.input.inputs.size(); ++i) {
    ReportStateInfo later_info;
    std::unique_ptr<Report> later = read_state(o.input.inputs[i], later_info);
    merge_state_info(info, later_info, o.input.inputs[0], o.input.inputs[i]);
    report->merge(*later);
  }
  const TimeZone zone = TimeZone::load(info.zone);
  if (o.command->count("--tz") && TimeZone::load(o.tz).name() != zone.name())
    usage_error("--tz {}: the states counted days in {}; a report in another zone needs the logs read again",
                o.tz, info.zone);
  report->set_time_zone(zone);
  if (o.input.verbose)
    fmt::print(stderr, "logpipe: merged {} states: {} records from {} inputs\n", o.input.inputs.size(),
               report->requests, info.inputs.size());
  auto out = open_output_replacing(o.output);
  if (!o.save_state.empty()) write_state(o.save_state, *report, info);
  report->finish_sessions();
  write_report(o, *report, info, geo.get(), *out);
  return kExitOk;
}

int run_analyze(AnalyzeOptions& o) {
  if (o.merge) return run_merge(o);
  // Validate everything before any work.
  check_state_output(o);
  if (o.max_keys && !o.save_state.empty())
    usage_error("--max-keys and --save-state: a capped report cannot be merged exactly; save states uncapped");
  const TimeZone zone = TimeZone::load(o.tz);
  const int64_t since = parse_bound(o.since, "--since", zone);
  const int64_t until = parse_bound(o.until, "--until", zone);
  if (since != kNoTime && until != kNoTime && since >= until) usage_error("--since must be before --until");
  ErrorRules rules;
  apply_error_options(o.errors, rules);
  const CompiledFilter filter = compile_filter(o.filter, rules);
  auto geo = open_geoip(o.geoip, o.input.verbose);
  std::vector<std::string> endpoints = resolve_inputs(o.input.inputs, o.listen, o.net);
  finish_endpoint_options(o.net);  // LOGPIPE_KAFKA_* from the environment, TLS flag checks
  if (o.threads > 64) usage_error("--threads: at most 64, got {}", o.threads);
  unsigned threads = o.threads ? o.threads : std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
  // Rejects are written verbatim and in order: only one thread reads then. A capped report is
  // not merged (its evictions would renumber the ids a merge maps): one thread too.
  if (!o.input.rejects.empty() || o.max_keys) threads = 1;
  PumpOptions pumping = pump_options(o.input, threads);
  // An input that fails mid-read (a compressed file cut short, a dropped connection) is named on
  // stderr and makes the exit status 1, but the report still covers every line read.
  std::vector<std::string> input_errors;
  pumping.input_errors = &input_errors;
  if (o.input.format != "auto") make_parser(o.input.format);  // a bad --format is a usage error now

  // Every input is opened (a missing file reported) before the output or the rejects file exist.
  auto inputs = open_pump_inputs(endpoints, o.net, FileReading::kBatch, o.input.verbose);
  MalformedLog malformed(open_rejects(o.input.rejects), o.input.strict);
  RecordPump pump(pumping, malformed);
  auto out = open_output_replacing(o.output);
  std::unique_ptr<ProgressBar> bar;
  if (!o.no_progress && ::isatty(2)) {
    uint64_t total = 0;
    for (const auto& in : inputs) total = in->size() == 0 || total == UINT64_MAX ? UINT64_MAX : total + in->size();
    bar = std::make_unique<ProgressBar>(
        [&inputs] {
          uint64_t done = 0;
          for (const auto& in : inputs) done += in->bytes_read();
          return done;
        },
        total == UINT64_MAX ? 0 : total,  // a stream or a socket: no percentage, only bytes and rate
        escapes_ok(2));
  }

  // A report whose state is saved keeps the first session of each key open-ended (a
  // continuation): the state saved before it may end with the same visit.
  Report report(rules, /*continuation=*/!o.save_state.empty());
  report.set_time_filter(since, until);
  report.set_time_zone(zone);
  report.set_max_keys(o.max_keys);
  std::unique_ptr<FilteringSink> filtering;
  if (filter.filter) filtering = std::make_unique<FilteringSink>(*filter.filter, report);
  try {
    if (filtering) pump.run(inputs, *filtering);
    else pump.run(inputs, report);
  } catch (...) {
    bar.reset();
    throw;
  }
  bar.reset();
  if (pump.stopped())
    fmt::print(stderr, "logpipe: stopped by a signal: the report covers the lines read so far\n");
  report.malformed = malformed.total();

  ReportStateInfo info{rules, zone.name(), since, until, {}, {}, filter.bots, endpoints, {}, pump.formats()};
  for (const InputReport& in : pump.inputs()) info.input_formats.emplace_back(in.name, in.format);
  if (filtering) {
    info.where = filter.filter->expression();
    info.where_counts = filtering->counts();
  }
  if (!o.save_state.empty()) write_state(o.save_state, report, info);
  report.finish_sessions();
  write_report(o, report, info, geo.get(), *out);
  // Kafka offsets are committed only once the report is written (a failed write re-reads them).
  for (size_t i = 0; i < inputs.size(); ++i)
    if (pump.read_through(i)) inputs[i]->lines().commit();
  malformed.flush();
  malformed.print_summary(stderr);
  if (filtering) print_filter_counts(filtering->counts());
  for (const auto& e : input_errors) fmt::print(stderr, "logpipe: {}\n", e);
  return input_errors.empty() ? kExitOk : kExitRuntime;
}

}  // namespace

RunFn setup_analyze(CLI::App& command) {
  auto o = std::make_shared<AnalyzeOptions>();
  add_input_options(command, o->input);
  add_error_options(command, o->errors);
  add_filter_options(command, o->filter);
  command.add_option("--report", o->report, "Report format: text, json, csv, html")
      ->check(CLI::IsMember({"text", "json", "csv", "html"}))
      ->capture_default_str();
  command.add_option("-o,--output", o->output, "Write the report to FILE (default stdout; .gz/.zst compress)");
  command.add_option("--top", o->top, "Entries in each top list (0 = all)")
      ->check(whole_number(0, 1'000'000'000))
      ->capture_default_str();
  command.add_option("--since", o->since, "Only records at or after TIME (RFC 3339 or YYYY-MM-DD; no offset: --tz)");
  command.add_option("--until", o->until, "Only records before TIME (RFC 3339 or YYYY-MM-DD; no offset: --tz)");
  command.add_option("--tz", o->tz,
                     "Time zone of the buckets, days and --since/--until dates (IANA name, e.g. Europe/Paris)")
      ->capture_default_str();
  command.add_option("--by", o->by, "Time-series bucket: minute, hour, day, auto (by span)")
      ->check(CLI::IsMember({"minute", "hour", "day", "auto"}))
      ->capture_default_str();
  command.add_option("--threads", o->threads, "Threads for large regular files (0 = one per core)")
      ->check(whole_number(0, 64))
      ->capture_default_str();
  command.add_flag("--no-progress", o->no_progress, "Never draw the progress bar (drawn only on a terminal)");
  command.add_option("--color", o->color,
                     "Colour the text report: auto (a terminal, not TERM=dumb, NO_COLOR unset), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
  add_geoip_option(command, o->geoip);
  command
      .add_option("--max-keys", o->max_keys,
                  "Bound memory: at most N keys per table, click-path pairs and open sessions; the heavy keys "
                  "stay exact, the lighter half is evicted when full (0 = no cap; reads with one thread)")
      ->check(whole_number(0, 1'000'000'000))
      ->capture_default_str();
  command.add_option("--save-state", o->save_state,
                     "Also save what was counted to FILE (compact, zstd), to merge later with --merge")
      ->type_name("FILE");
  command.add_flag("--merge", o->merge,
                   "FILES are saved states (--save-state), in input order: report on them as one run over all "
                   "their inputs");
  add_listen_option(command, o->listen, "the report is written on SIGTERM/SIGINT or after --idle-exit");
  add_endpoint_options(command, o->net, /*input_side=*/true);
  o->command = &command;
  return [o] { return run_analyze(*o); };
}

}  // namespace logpipe::cli

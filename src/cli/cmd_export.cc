// logpipe export: every parsed record as one JSON object per line (Elastic Common Schema names by
// default), or as an Elasticsearch/OpenSearch `_bulk` body, to any output endpoint. For people
// who load logs into ELK or OpenSearch and would otherwise keep Logstash for the parsing.
#include "cli/command.h"

#include "logpipe/error.h"
#include "logpipe/export.h"
#include "logpipe/filter.h"
#include "logpipe/geoip.h"
#include "logpipe/io/endpoint.h"
#include "logpipe/io/files.h"
#include "logpipe/io/inputs.h"
#include "logpipe/malformed.h"
#include "logpipe/pump.h"

#include <fmt/format.h>

namespace logpipe::cli {
namespace {

struct ExportCliOptions {
  InputOptions input;
  ErrorOptions errors;
  FilterOptions filter;
  std::string names = "ecs";
  std::string bulk_index;
  std::string bulk_action = "index";
  std::string output = "-";
  std::string listen;
  EndpointOptions net;
  std::vector<std::string> geoip;
};

int run_export(ExportCliOptions& c) {
  // Everything is validated before any input is read (STYLE.md rule 4).
  ErrorRules rules;
  apply_error_options(c.errors, rules);  // what `error` means in --where
  const CompiledFilter filter = compile_filter(c.filter, rules);
  const auto geo = open_geoip(c.geoip, c.input.verbose);
  ExportOptions options;
  options.geoip = geo.get();
  options.names = c.names == "logpipe" ? ExportNames::kLogpipe : ExportNames::kEcs;
  options.bulk_index = c.bulk_index;
  options.bulk_action = c.bulk_action;
  if (!c.bulk_index.empty()) {
    // Elasticsearch's index name rules: lower case, none of \ / * ? " < > | , # : or a space,
    // not starting with - _ +, not . or .. (a data stream name follows the same rules).
    const std::string& ix = c.bulk_index;
    bool ok = ix != "." && ix != ".." && ix.size() <= 255 && ix.find_first_of("\\/*?\"<>|,#: ") == std::string::npos &&
              ix.find_first_of("-_+") != 0;
    for (char ch : ix) ok = ok && !(ch >= 'A' && ch <= 'Z') && static_cast<unsigned char>(ch) >= 0x20;
    if (!ok)
      usage_error("--to-bulk: '{}' is not a valid index name (lower case; none of \\ / * ? \" < > | , # : or space; "
                  "not starting with - _ +)",
                  ix);
  } else if (c.bulk_action != "index") {
    usage_error("--bulk-action applies to a _bulk body: give --to-bulk INDEX");
  }
  if (c.input.format != "auto") make_parser(c.input.format);  // a bad --format is a usage error now

  std::vector<std::string> endpoints = resolve_inputs(c.input.inputs, c.listen, c.net);
  finish_endpoint_options(c.net);  // LOGPIPE_KAFKA_* from the environment, TLS flag checks
  auto inputs = open_pump_inputs(endpoints, c.net, FileReading::kBatch, c.input.verbose);
  EndpointOptions output_options = c.net;
  output_options.listen = false;
  // A file is replaced only once complete, as anonymize does: an error leaves no half export.
  const bool to_file = c.output != "-" && endpoint_scheme(c.output) == "file";
  auto sink = to_file ? open_output_replacing(c.output) : open_sink(c.output, output_options);
  MalformedLog malformed(open_rejects(c.input.rejects), c.input.strict);
  RecordPump pump(pump_options(c.input, 1), malformed);

  ExportWriter writer(options, *sink);
  std::unique_ptr<FilteringSink> filtering;
  if (filter.filter) filtering = std::make_unique<FilteringSink>(*filter.filter, writer);
  std::string input_error;
  try {
    if (filtering) pump.run(inputs, *filtering);
    else pump.run(inputs, writer);
  } catch (const Error& e) {
    if (e.exit_code() != kExitRuntime) throw;
    input_error = e.what();
  }
  writer.finish();
  const std::string records = fmt::format("{} records", writer.written());
  finish_whole_output(pump, inputs, *sink, c.output, malformed, input_error.empty(), records, records);
  if (c.input.verbose)
    fmt::print(stderr, "logpipe: export: {} lines read, {} records written\n", pump.stats().lines, writer.written());
  malformed.print_summary(stderr);
  if (filtering) print_filter_counts(filtering->counts());
  if (!input_error.empty()) runtime_error("{}", input_error);
  return kExitOk;
}

}  // namespace

RunFn setup_export(CLI::App& command) {
  auto o = std::make_shared<ExportCliOptions>();
  command.footer(
      "Each record is one JSON object per line, absent fields left out. Names: Elastic Common Schema\n"
      "(@timestamp, source.ip, url.path, http.response.status_code, ...; edX fields under their own\n"
      "names) or the record's own (--names logpipe). docs/export.md has the whole mapping.\n"
      "Malformed lines are counted on stderr and kept with --rejects, never exported.");
  command.add_option("-o,--output", o->output, "Write to ENDPOINT (default -; .gz/.zst compress; kafka:// one record per message)")
      ->type_name("ENDPOINT");
  command
      .add_option("--names", o->names,
                  "Field names: ecs (Elastic Common Schema, nested objects) or logpipe (the record's fields, flat)")
      ->check(CLI::IsMember({"ecs", "logpipe"}))
      ->capture_default_str();
  command
      .add_option("--to-bulk", o->bulk_index,
                  "Write an Elasticsearch/OpenSearch _bulk body: an action line for INDEX before each document")
      ->type_name("INDEX");
  command
      .add_option("--bulk-action", o->bulk_action,
                  "The action of each _bulk line: index, or create (data streams accept only create)")
      ->check(CLI::IsMember({"index", "create"}))
      ->capture_default_str();
  add_input_options(command, o->input);
  add_error_options(command, o->errors);
  add_filter_options(command, o->filter);
  add_geoip_option(command, o->geoip);
  add_listen_option(command, o->listen, "reading ends on SIGTERM/SIGINT or after --idle-exit");
  add_endpoint_options(command, o->net, /*input_side=*/true);
  return [o] { return run_export(*o); };
}

}  // namespace logpipe::cli

// The command table: each command is one cmd_<name>.cc that registers its options on a CLI11
// subcommand and returns the function that runs it once the options are parsed and validated.
#pragma once

#include "logpipe/classify.h"
#include "logpipe/filter.h"
#include "logpipe/io/endpoint.h"
#include "logpipe/malformed.h"
#include "logpipe/pump.h"
#include "logpipe/sink.h"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace logpipe {
class GeoIp;
}

namespace logpipe::cli {

/// Runs a command after parsing; returns the exit code. Throws logpipe::Error on failure.
using RunFn = std::function<int()>;
/// Adds a command's options to its subcommand; the returned function runs it.
using SetupFn = RunFn (*)(CLI::App& command);

struct CommandEntry {
  const char* name;
  const char* summary;
  SetupFn setup;
};

RunFn setup_generate(CLI::App& command);
RunFn setup_stream(CLI::App& command);
RunFn setup_calibrate(CLI::App& command);
RunFn setup_anonymize(CLI::App& command);
RunFn setup_analyze(CLI::App& command);
RunFn setup_export(CLI::App& command);

/// Options shared by every command that reads logs.
struct InputOptions {
  std::vector<std::string> inputs;  ///< positional FILES (`-` = stdin); default stdin
  std::string format = "auto";
  std::string rejects;
  bool strict = false;
  bool verbose = false;
  double max_malformed = 0.5;  ///< --max-malformed, as a share (checked by the pump, pump.h)
};

/// The pump's options from the shared input flags (format, -v, --max-malformed), with `threads`
/// byte ranges per splittable input and the stop signal.
PumpOptions pump_options(const InputOptions& options, unsigned threads);

/// Parses a duration option (`60s`, `5m`, `1h`, `250ms`) into microseconds; `whole_seconds`
/// refuses fractions of a second (window sizes). Throws Error (usage) naming the option.
int64_t duration_option(const std::string& text, std::string_view option, bool whole_seconds = false);

/// A CLI11 check for a whole-number option: digits only, from `min` to `max`. CLI11 alone reads
/// -1 as 18446744073709551615 and lets an overflow through (--max-keys -1 turned the memory bound
/// off; generate -n -1 never ended).
CLI::Validator whole_number(uint64_t min, uint64_t max = UINT64_MAX);
/// A number above 0 (CLI::PositiveNumber printed "Value abc not in range 0.000000 to 1797...").
CLI::Validator positive_number();
/// The command being run ("stream"), for the `logpipe: COMMAND: ...` prefix of usage errors.
extern std::string_view g_command;

/// The --rejects file (malformed lines, verbatim), or null when `path` is empty.
std::unique_ptr<ByteSink> open_rejects(const std::string& path);

/// --error-statuses and --error-levels: what an error is (classify.h), for every command that
/// counts errors (analyze, stream, calibrate).
struct ErrorOptions {
  std::string statuses;  ///< e.g. `500,502-504,4xx`; empty = not given
  std::string levels;    ///< e.g. `ERROR,FATAL`; empty = not given
};
void add_error_options(CLI::App& command, ErrorOptions& options);
/// Applies the flags that were given over `rules` (defaults, or a settings file's [errors]).
/// Throws Error (usage) naming the flag on a malformed list.
void apply_error_options(const ErrorOptions& options, ErrorRules& rules);

/// --where and --bots: which records a reading command keeps (filter.h), for analyze, export,
/// calibrate and stream.
struct FilterOptions {
  std::string where;  ///< the expression; empty = every record
  std::string bots;   ///< --bots FILE: extra crawler patterns
};
void add_filter_options(CLI::App& command, FilterOptions& options);
/// The compiled --where (null when none) and the --bots patterns. Throws Error (usage).
struct CompiledFilter {
  std::unique_ptr<RecordFilter> filter;
  std::vector<std::string> bots;
};
CompiledFilter compile_filter(const FilterOptions& options, const ErrorRules& rules);
/// `logpipe: --where kept K of N records (F left out)` on stderr.
void print_filter_counts(const FilterCounts& counts);

/// The end of a command whose output is only useful whole (anonymize, export), after its pump
/// ran. When a stop signal cut an input short the output is not finished: a regular-file output
/// is left as it was (the sink is dropped unclosed, its temporary file removed), any other output
/// is closed, and both end in a runtime error (`read`: "120 lines", `written`: "100 of the lines").
/// Otherwise the sink is closed, and then, when `commit`, the Kafka offsets of the inputs read
/// through are committed (never before the output is complete); the malformed log is flushed.
void finish_whole_output(const RecordPump& pump, std::vector<std::unique_ptr<PumpInput>>& inputs, ByteSink& sink,
                         const std::string& output, MalformedLog& malformed, bool commit, const std::string& read,
                         const std::string& written);

/// --geoip FILE (repeatable; analyze and export) and the databases it opens (null when none;
/// -v names each database's type). Throws Error (usage) naming a file that is not a MaxMind DB.
void add_geoip_option(CLI::App& command, std::vector<std::string>& files);
std::unique_ptr<GeoIp> open_geoip(const std::vector<std::string>& files, bool verbose);

/// Registers --format, --rejects, --strict, -v, --max-malformed and (when `positional`) the FILES
/// argument.
void add_input_options(CLI::App& command, InputOptions& options, bool positional = true);

/// Registers the network endpoint flags (endpoint_options.cc; docs/endpoints.md): --tls-cert,
/// --tls-key, --tls-ca, --kafka-option KEY=VALUE (repeatable), --kafka-option-file FILE, and on
/// the input side --group ID and --idle-exit DURATION. `options` must outlive parsing.
void add_endpoint_options(CLI::App& command, EndpointOptions& options, bool input_side);

/// Registers `--listen ENDPOINT` (tcp://, tls:// or udp://): serve that endpoint, many clients,
/// instead of reading FILES. `what` ends the help text (how the command ends its input).
void add_listen_option(CLI::App& command, std::string& listen, const std::string& what);

/// The inputs of a command that reads logs: `inputs` (FILES and endpoints, client side), or the
/// `--listen` endpoint alone (sets options.listen); `-` when neither. Throws Error (usage) when
/// --listen is combined with inputs or is not a server endpoint.
std::vector<std::string> resolve_inputs(std::vector<std::string> inputs, const std::string& listen,
                                        EndpointOptions& options);

/// After parsing: adds the LOGPIPE_KAFKA_<KEY> environment variables (lowest precedence) to the
/// Kafka options, points `options.stop` at the stop flag (outputs give up soon after SIGTERM) and
/// validates the TLS flags. Throws Error (usage) naming the option.
void finish_endpoint_options(EndpointOptions& options);

/// Reads a file of librdkafka `KEY=VALUE` lines ('#' comments allowed) and appends them to `out`;
/// warns (warn_if_secrets_exposed) when it holds a secret and others may read it. Throws Error.
void read_kafka_option_file(const std::string& path, std::vector<std::pair<std::string, std::string>>& out);

/// True for librdkafka properties whose value is a secret (sasl.password, ssl.key.password, ...).
bool is_secret_key(std::string_view key);

/// Prints a warning on stderr when the file at `path`, which holds `what` (a secret: "a TLS
/// private key", "the HMAC key", a Kafka key name), is readable by its group or by everyone.
void warn_if_readable_by_others(const std::string& path, std::string_view what);

/// Prints a warning on stderr when `options` (read from `path`) hold a secret and the file is
/// readable by its group or by everyone.
void warn_if_secrets_exposed(const std::string& path, const std::vector<std::pair<std::string, std::string>>& options);

/// The environment variable that carries a Kafka setting: sasl.password -> SASL_PASSWORD (after
/// the LOGPIPE_KAFKA_ prefix).
std::string kafka_env_name(std::string_view key);

/// Set by SIGINT/SIGTERM; long loops check it and finish cleanly.
extern StopFlag g_stop_requested;

}  // namespace logpipe::cli

// logpipe: one binary, five commands sharing one core. This file holds the command table and the
// mapping of errors to exit codes; each command lives in its own cmd_<name>.cc.
#include "cli/command.h"
#include "cli/completions.h"

#include "logpipe/config.h"
#include "logpipe/error.h"
#include "logpipe/geoip.h"
#include "logpipe/io/files.h"
#include "logpipe/timeutil.h"
#include "logpipe/version.h"
#include "logpipe/io/endpoint.h"
#include "logpipe_commit.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <sys/resource.h>
#include <sys/stat.h>

namespace logpipe::cli {

StopFlag g_stop_requested{false};
std::string_view g_command;

namespace {

constexpr CommandEntry kCommands[] = {
    {"generate", "Write synthetic web or Open edX traffic with injected incidents", setup_generate},
    {"stream", "Compute windowed metrics over a live stream and emit alerts", setup_stream},
    {"calibrate", "Pick alert thresholds from history (fire in at most 1% of windows)",
     setup_calibrate},
    {"anonymize", "Pseudonymise users with HMAC-SHA256 and drop PII, byte for byte otherwise",
     setup_anonymize},
    {"analyze", "Batch report (text, JSON, CSV, HTML) over log files", setup_analyze},
    {"export", "Write each parsed record as JSON (Elastic Common Schema) or an Elasticsearch _bulk body",
     setup_export},
};

void on_stop_signal(int) { g_stop_requested = true; }

// Every input is opened before any work (STYLE.md rule 4), each with its descriptor, and a
// server holds one per client: 3,000 files failed with "Too many open files" under the usual
// soft limit of 1,024. The soft limit is raised to the hard one, as build tools and service
// managers do; the sockets are polled with poll(2), never select(2), so high descriptors are fine.
void raise_descriptor_limit() noexcept {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  rlim_t wanted = limit.rlim_max;
  limit.rlim_cur = wanted;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0 && wanted > (rlim_t{1} << 20)) {
    limit.rlim_cur = rlim_t{1} << 20;  // an "unlimited" hard limit above the kernel's nr_open
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

int64_t duration_option(const std::string& text, std::string_view option, bool whole_seconds) {
  int64_t us = 0;
  if (!parse_duration(text, us)) usage_error("{}: bad duration '{}' (examples: 60s, 5m, 1h)", option, text);
  if (whole_seconds && us % 1'000'000 != 0) usage_error("{}: must be a whole number of seconds, got '{}'", option, text);
  return us;
}

CLI::Validator whole_number(uint64_t min, uint64_t max) {
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        uint64_t value = 0;
        auto r = std::from_chars(text.data(), text.data() + text.size(), value);
        if (text.empty() || r.ec == std::errc::invalid_argument || r.ptr != text.data() + text.size())
          return fmt::format("expected a whole number, got '{}'", text);
        if (r.ec == std::errc::result_out_of_range || value < min || value > max)
          return fmt::format("must be from {} to {}, got {}", min, max, text);
        return {};
      },
      "");
}

CLI::Validator positive_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        double value = 0;
        auto r = std::from_chars(text.data(), text.data() + text.size(), value);
        if (text.empty() || r.ec != std::errc() || r.ptr != text.data() + text.size() || !(value > 0) ||
            !std::isfinite(value))
          return fmt::format("expected a number above 0, got '{}'", text);
        return {};
      },
      "");
}

std::unique_ptr<ByteSink> open_rejects(const std::string& path) {
  return path.empty() ? nullptr : open_output(path);
}

void add_error_options(CLI::App& command, ErrorOptions& o) {
  command.add_option("--error-statuses", o.statuses,
                     "HTTP statuses that count as errors: a list of 500, 5xx, 400-499 (default 400-999)")
      ->type_name("LIST");
  command.add_option("--error-levels", o.levels,
                     "Application-log levels that count as errors, without a status (default ERROR,FATAL,CRITICAL)")
      ->type_name("LIST");
}

void apply_error_options(const ErrorOptions& o, ErrorRules& rules) {
  if (!o.statuses.empty() && !ErrorRules::parse_statuses(o.statuses, rules.statuses))
    usage_error("--error-statuses: expected a comma-separated list of 500, 5xx or 400-499 (100-999), got '{}'",
                o.statuses);
  if (!o.levels.empty() && !ErrorRules::parse_levels(o.levels, rules.levels))
    usage_error("--error-levels: expected a comma-separated list of level names such as ERROR,FATAL, got '{}'",
                o.levels);
}

void add_filter_options(CLI::App& command, FilterOptions& o) {
  command
      .add_option("--where", o.where,
                  "Keep only the records that match EXPR, e.g. 'status >= 500 and url ^= \"/api/\" and not bot' "
                  "(fields, operators, CIDR networks: docs/reference.md \"Filters\")")
      ->type_name("EXPR");
  command
      .add_option("--bots", o.bots,
                  "Also count as crawlers the user agents holding a pattern of FILE (one per line, any case; "
                  "# comments): for `bot` in --where and the Crawler family of reports")
      ->type_name("FILE");
}

CompiledFilter compile_filter(const FilterOptions& o, const ErrorRules& rules) {
  CompiledFilter c;
  if (!o.bots.empty()) {
    std::string text;
    try {
      text = read_settings_file(o.bots, "--bots");
    } catch (const Error& e) {
      usage_error("{}", e.what());
    }
    c.bots = parse_bot_patterns(text, o.bots);
  }
  if (!o.where.empty())
    c.filter = std::make_unique<RecordFilter>(RecordFilter::compile(o.where, Classifier(rules), c.bots));
  return c;
}

void print_filter_counts(const FilterCounts& counts) {
  fmt::print(stderr, "logpipe: --where kept {} of {} records ({} left out)\n", counts.kept, counts.read,
             counts.filtered);
}

void finish_whole_output(const RecordPump& pump, std::vector<std::unique_ptr<PumpInput>>& inputs, ByteSink& sink,
                         const std::string& output, MalformedLog& malformed, bool commit, const std::string& read,
                         const std::string& written) {
  // Network inputs have no end of their own: a signal is how they end, and what arrived is
  // written. A file cut short by a signal leaves a copy that looks finished but is not.
  bool cut_short = false;
  for (size_t i = 0; i < inputs.size(); ++i) cut_short = cut_short || (pump.stopped() && !pump.read_through(i));
  if (cut_short) {
    malformed.print_summary(stderr);
    struct stat st {};
    const bool replacing = output != "-" && endpoint_scheme(output) == "file" &&
                           (::stat(output.c_str(), &st) != 0 || S_ISREG(st.st_mode));
    if (replacing)  // the sink is dropped unclosed: its temporary file goes, the file stays as it was
      runtime_error("interrupted after {}: '{}' not written (a previous file is kept)", read, output);
    sink.close();
    runtime_error("interrupted: the output ends after {} (the input was not read to its end)", written);
  }
  sink.close();
  if (commit)  // Kafka: offsets only once the output is written
    for (size_t i = 0; i < inputs.size(); ++i)
      if (pump.read_through(i)) inputs[i]->lines().commit();
  malformed.flush();
}

void add_geoip_option(CLI::App& command, std::vector<std::string>& files) {
  command
      .add_option("--geoip", files,
                  "Add country, city and network (ASN) of client addresses from a MaxMind DB FILE (GeoLite2, "
                  "DB-IP lite; repeatable: a City and an ASN database combine). None is shipped: docs/geoip.md")
      ->type_name("FILE")
      ->take_all()
      ->allow_extra_args(false);
}

std::unique_ptr<GeoIp> open_geoip(const std::vector<std::string>& files, bool verbose) {
  if (files.empty()) return nullptr;
  auto geo = GeoIp::open(files);
  if (verbose)
    for (const auto& d : geo->describe()) fmt::print(stderr, "logpipe: --geoip {}\n", d);
  return geo;
}

void add_input_options(CLI::App& command, InputOptions& o, bool positional) {
  command
      .add_option("--format", o.format,
                  "Log format (detected per input by default): auto, common, combined, clickstream, edx, "
                  "applog, json, json:nginx, json:caddy, json:traefik, json:ecs, json:FIELD=PATH,..., logformat:'...', "
                  "nginxformat:'...', fields:'...'; any of them behind syslog+, cri+ or docker+")
      ->capture_default_str();
  command.add_option("--rejects", o.rejects, "Write every malformed line verbatim to FILE");
  command.add_flag("--strict", o.strict, "Stop at the first malformed line (exit 3)");
  command
      .add_option_function<std::string>(
          "--max-malformed",
          [&o](const std::string& v) {
            std::string_view t = v;
            if (!t.empty() && t.back() == '%') t.remove_suffix(1);
            double share = -1;
            auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), share);
            if (ec != std::errc() || p != t.data() + t.size() || !(share >= 0 && share <= 100))
              throw CLI::ValidationError("--max-malformed", "expected a percentage from 0 to 100, got '" + v + "'");
            o.max_malformed = share / 100;
          },
          "Exit 3 when an input gave no record or more than this share of malformed lines (default 50%; "
          "100% never)")
      ->type_name("PERCENT");
  command.add_flag("-v,--verbose", o.verbose, "Print the detected format of each input and details on stderr");
  if (positional)
    command.add_option("FILES", o.inputs,
                       "Inputs: files (`-` = stdin; gzip/zstd ok) or endpoints tcp://, tls://, "
                       "udp://, kafka:// (client side)");
}

PumpOptions pump_options(const InputOptions& o, unsigned threads) {
  PumpOptions p{o.format, o.verbose, threads, &g_stop_requested};
  p.max_malformed = o.max_malformed;
  return p;
}

int run_main(int argc, char** argv) {
  CLI::App app{"logpipe: real-time and batch analysis of web and application logs", "logpipe"};
  app.set_version_flag("-V,--version", [] {
    return fmt::format("logpipe {} (commit {})\nlibraries: {}, {}, CLI11 {}", LOGPIPE_VERSION, LOGPIPE_COMMIT,
                       core_library_versions(), io_library_versions(), CLI11_VERSION);
  });
  app.require_subcommand(0, 1);
  app.footer("Run `logpipe COMMAND --help` for a command's options; `man logpipe` for more.");
  std::string completion_shell;
  app.add_option("--completions", completion_shell, "Print the completion script for a shell")
      ->check(CLI::IsMember({"bash", "zsh", "fish"}))
      ->group("");  // hidden: used by scripts/gen-completions

  std::vector<RunFn> runs;
  std::vector<CLI::App*> subs;
  for (const auto& entry : kCommands) {
    CLI::App* sub = app.add_subcommand(entry.name, entry.summary);
    subs.push_back(sub);
    runs.push_back(entry.setup(*sub));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    // One style for every usage error: `logpipe: COMMAND: what`, then where to look.
    std::string_view command;
    for (size_t i = 0; i < subs.size(); ++i)
      if (subs[i]->parsed()) command = kCommands[i].name;
    std::string what = e.what();
    if (dynamic_cast<const CLI::ExtrasError*>(&e)) {
      const std::string marker = "not expected: ";
      size_t at = what.find(marker);
      std::string args = at == std::string::npos ? what : what.substr(at + marker.size());
      what = args.rfind('-', 0) == 0 ? fmt::format("unknown option {}", args) : fmt::format("unexpected argument {}", args);
    }
    if (command.empty())
      fmt::print(stderr, "logpipe: {}\nRun `logpipe --help` for the commands.\n", what);
    else
      fmt::print(stderr, "logpipe: {}: {}\nRun `logpipe {} --help` for its options.\n", command, what, command);
    return kExitUsage;
  }
  if (!completion_shell.empty()) {
    std::fputs(completion_script(app, completion_shell).c_str(), stdout);
    return kExitOk;
  }
  for (size_t i = 0; i < subs.size(); ++i)
    if (subs[i]->parsed()) {
      g_command = kCommands[i].name;
      return runs[i]();
    }
  std::fputs(app.help().c_str(), stdout);
  return kExitUsage;
}

}  // namespace logpipe::cli

namespace {
int run(int argc, char** argv) {
  try {
    return logpipe::cli::run_main(argc, argv);
  } catch (const logpipe::Error& e) {
    if (e.exit_code() == logpipe::kExitOk) return 0;  // broken pipe: like ripgrep, not an error
    std::string_view what = e.what(), command = logpipe::cli::g_command;
    // Usage errors name the command (`logpipe: stream: --window: ...`), as parse errors do.
    if (e.exit_code() == logpipe::kExitUsage && !command.empty() &&
        !(what.substr(0, command.size()) == command && what.substr(command.size(), 1) == ":"))
      fmt::print(stderr, "logpipe: {}: {}\n", command, what);
    else
      fmt::print(stderr, "logpipe: {}\n", what);
    return e.exit_code();
  } catch (const std::exception& e) {
    fmt::print(stderr, "logpipe: {}\n", e.what());
    return logpipe::kExitRuntime;
  }
}
}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a closed pipe is reported by write() and ends us with exit 0
  std::signal(SIGINT, logpipe::cli::on_stop_signal);
  std::signal(SIGTERM, logpipe::cli::on_stop_signal);
  logpipe::cli::raise_descriptor_limit();
  const int rc = run(argc, argv);
  if (logpipe::endpoints_abandoned()) {  // a Kafka client left running: see endpoint.h
    std::fflush(nullptr);
    std::_Exit(rc);
  }
  return rc;
}

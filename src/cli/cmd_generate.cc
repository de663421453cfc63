// logpipe generate: synthetic traffic with an error model and scheduled incidents.
// Options come from --profile FILE.toml ([traffic] and [[incident]]) and then from the flags,
// which override the profile. The engine (core/generator.cc) fills buffers; this file paces
// them to the wall clock when asked, writes them to the endpoint and writes --truth.
#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <limits>
#include <optional>
#include <thread>

#include "cli/command.h"
#include "logpipe/config.h"
#include "logpipe/io/endpoint.h"
#include "logpipe/io/files.h"
#include "logpipe/error.h"
#include "logpipe/generator.h"
#include "logpipe/timeutil.h"

namespace logpipe::cli {
namespace {

constexpr int64_t kUsPerSecond = 1'000'000;
constexpr uint64_t kDefaultUnpacedCount = 100'000;
constexpr const char* kDefaultStart = "2025-06-23T00:00:00Z";

// Every setting of a run, whichever source it came from.
struct Settings {
  std::string format = "combined";
  std::optional<uint64_t> count;  // 0 = no limit; absent = the default of the mode
  std::string duration;
  double rate = 100;
  bool rate_given = false;
  bool no_pace = false;
  std::string start;
  uint64_t seed = 1;
  uint64_t users = 20000, ips = 50000, urls = 20000;
  double error_rate = 0.02;
  std::string status_mix = "404=5,403=1,401=1,500=1,502=0.5,503=0.5";
  double bad_users = 0.01, bad_user_error_rate = 0.5, bad_urls = 0.01;
  double daily_cycle = 0;
  bool with_duration = false;
  std::string host;
};

struct GenerateCli {
  Settings flags;  // values bound to CLI11; applied only where the flag was given
  std::string profile;
  std::string truth;
  std::string output = "-";
  bool verbose = false;
  bool no_incidents = false;
  EndpointOptions net;  // --tls-*, --kafka-option[-file] for -o tls:// and kafka://
  std::vector<std::pair<CLI::Option*, void (*)(Settings&, const Settings&)>> bound;
};

// --- profile ------------------------------------------------------------------------------------

std::string normalise_key(std::string_view key) {
  std::string k(key);
  std::replace(k.begin(), k.end(), '-', '_');
  return k;
}

[[noreturn]] void profile_error(const std::string& path, const toml::node& node,
                                std::string_view what) {
  const auto& src = node.source();
  usage_error("--profile {}:{}: {}", path, src.begin.line, what);
}

double number_of(const std::string& path, const toml::node& node, std::string_view key) {
  if (auto v = node.value<double>()) return *v;
  profile_error(path, node, fmt::format("'{}' must be a number", key));
}

uint64_t count_of(const std::string& path, const toml::node& node, std::string_view key) {
  auto v = node.value<int64_t>();
  if (!v || *v < 0)
    profile_error(path, node, fmt::format("'{}' must be a non-negative integer", key));
  return static_cast<uint64_t>(*v);
}

std::string string_of(const std::string& path, const toml::node& node, std::string_view key) {
  if (auto v = node.value<std::string>()) return *v;
  profile_error(path, node, fmt::format("'{}' must be a string", key));
}

bool bool_of(const std::string& path, const toml::node& node, std::string_view key) {
  if (auto v = node.value<bool>()) return *v;
  profile_error(path, node, fmt::format("'{}' must be true or false", key));
}

// A duration as a string (`90s`, `2h`) or a number of seconds.
int64_t duration_of(const std::string& path, const toml::node& node, std::string_view key) {
  int64_t us;
  if (auto s = node.value<std::string>()) {
    if (parse_duration(*s, us)) return us;
  } else if (auto d = node.value<double>()) {
    if (duration_in_range(*d * 1e6 + 0.5)) return static_cast<int64_t>(*d * 1e6 + 0.5);
  }
  profile_error(path, node,
                fmt::format("'{}' must be a duration such as \"90s\", \"30m\", \"2h\"", key));
}

// `status_mix = "404=3,500=1"` or an inline table `{ 404 = 3, 500 = 1 }`.
std::string status_mix_of(const std::string& path, const toml::node& node) {
  if (auto s = node.value<std::string>()) return *s;
  if (const toml::table* t = node.as_table()) {
    std::string mix;
    for (const auto& [k, v] : *t) {
      if (!mix.empty()) mix += ',';
      mix += fmt::format("{}={}", k.str(), number_of(path, v, "status_mix"));
    }
    return mix;
  }
  profile_error(path, node, "'status_mix' must be a string \"404=3,500=1\" or a table");
}

void apply_traffic(const std::string& path, const toml::table& t, Settings& s) {
  for (const auto& [raw_key, v] : t) {
    std::string k = normalise_key(raw_key.str());
    if (k == "format")
      s.format = string_of(path, v, k);
    else if (k == "count")
      s.count = count_of(path, v, k);
    else if (k == "duration")
      s.duration = fmt::format("{}us", duration_of(path, v, k));
    else if (k == "rate") {
      s.rate = number_of(path, v, k);
      s.rate_given = true;
    } else if (k == "no_pace")
      s.no_pace = bool_of(path, v, k);
    else if (k == "start")
      s.start = string_of(path, v, k);
    else if (k == "seed")
      s.seed = count_of(path, v, k);
    else if (k == "users")
      s.users = count_of(path, v, k);
    else if (k == "ips")
      s.ips = count_of(path, v, k);
    else if (k == "urls")
      s.urls = count_of(path, v, k);
    else if (k == "error_rate")
      s.error_rate = number_of(path, v, k);
    else if (k == "status_mix")
      s.status_mix = status_mix_of(path, v);
    else if (k == "bad_users")
      s.bad_users = number_of(path, v, k);
    else if (k == "bad_user_error_rate")
      s.bad_user_error_rate = number_of(path, v, k);
    else if (k == "bad_urls")
      s.bad_urls = number_of(path, v, k);
    else if (k == "daily_cycle")
      s.daily_cycle = number_of(path, v, k);
    else if (k == "with_duration")
      s.with_duration = bool_of(path, v, k);
    else if (k == "host")
      s.host = string_of(path, v, k);
    else
      profile_error(path, v, fmt::format("unknown key '{}' in [traffic]", raw_key.str()));
  }
}

// An [[incident]] table; `start` is an offset from --start (or an absolute RFC 3339 time).
// `ramp = true` makes an error_burst a ramp from the traffic's error rate (base_error_rate),
// `ramp_from = F` a ramp from F.
Incident incident_of(const std::string& path, const toml::table& t, int64_t start_us,
                     double base_error_rate) {
  Incident inc;
  const toml::node* kind = t.get("kind");
  if (!kind)
    profile_error(path, t, "[[incident]] needs 'kind' (error_burst, ddos, bad_user, latency)");
  if (!parse_incident_kind(string_of(path, *kind, "kind"), inc.kind))
    profile_error(path, *kind, "'kind' must be error_burst, ddos, bad_user or latency");
  const toml::node* start = t.get("start");
  const toml::node* duration = t.get("duration");
  if (!start || !duration) profile_error(path, t, "[[incident]] needs 'start' and 'duration'");
  int64_t absolute;
  if (auto s = start->value<std::string>();
      s && !parse_duration(*s, absolute) && parse_iso_time(*s, absolute))
    inc.start_us = absolute;
  else
    inc.start_us = start_us + duration_of(path, *start, "start");
  inc.end_us = inc.start_us + duration_of(path, *duration, "duration");
  const toml::node* ramp = nullptr;
  for (const auto& [raw_key, v] : t) {
    std::string k = normalise_key(raw_key.str());
    if (k == "kind" || k == "start" || k == "duration") continue;
    if (k == "url")
      inc.url = string_of(path, v, k);
    else if (k == "ip" || k == "subnet")
      inc.ip = string_of(path, v, k);
    else if (k == "user")
      inc.user = string_of(path, v, k);
    else if (k == "error_rate")
      inc.error_rate = number_of(path, v, k);
    else if (k == "share")
      inc.share = number_of(path, v, k);
    else if (k == "rate")
      inc.rate = number_of(path, v, k);
    else if (k == "factor")
      inc.factor = number_of(path, v, k);
    else if (k == "ramp")
      ramp = &v;
    else if (k == "ramp_from") {
      inc.ramp_from = number_of(path, v, k);
      if (inc.ramp_from < 0) profile_error(path, v, "'ramp_from' must be between 0 and 1");
    } else
      profile_error(path, v, fmt::format("unknown key '{}' in [[incident]]", raw_key.str()));
  }
  if (ramp && bool_of(path, *ramp, "ramp")) {
    if (!inc.is_ramp()) inc.ramp_from = base_error_rate;
  } else if (ramp && inc.is_ramp()) {
    profile_error(path, *ramp, "'ramp = false' contradicts 'ramp_from'");
  }
  return inc;
}

// A [[steady]] table: a url and/or a user with a rate of its own (requests per second).
SteadyFlow steady_of(const std::string& path, const toml::table& t) {
  SteadyFlow flow;
  for (const auto& [raw_key, v] : t) {
    std::string k = normalise_key(raw_key.str());
    if (k == "url")
      flow.url = string_of(path, v, k);
    else if (k == "user")
      flow.user = string_of(path, v, k);
    else if (k == "rate")
      flow.rate = number_of(path, v, k);
    else
      profile_error(path, v, fmt::format("unknown key '{}' in [[steady]]", raw_key.str()));
  }
  if (!t.get("rate")) profile_error(path, t, "[[steady]] needs 'rate' (requests per second)");
  return flow;
}

toml::table load_profile(const std::string& path) {
  std::string text = read_settings_file(path, "--profile");  // a missing file: exit 1, like --config
  try {
    return toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    const auto& src = e.source();
    if (src.begin.line == 0) usage_error("--profile {}: {}", path, e.description());
    usage_error("--profile {}:{}:{}: {}", path, src.begin.line, src.begin.column, e.description());
  }
}

// --- run
// ------------------------------------------------------------------------------------------

int64_t wall_us() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * kUsPerSecond + ts.tv_nsec / 1000;
}

int run_generate(GenerateCli& cli) {
  // 1. Settings: defaults, then the profile's [traffic], then the flags that were given.
  Settings s;
  toml::table profile;
  if (!cli.profile.empty()) {
    profile = load_profile(cli.profile);
    for (const auto& [key, node] : profile) {
      std::string k(key.str());
      if (k == "traffic") {
        if (!node.is_table()) profile_error(cli.profile, node, "[traffic] must be a table");
        apply_traffic(cli.profile, *node.as_table(), s);
      } else if (k != "incident" && k != "steady") {
        profile_error(
            cli.profile, node,
            fmt::format("unknown table '{}' (expected [traffic], [[steady]] or [[incident]])", k));
      }
    }
  }
  for (const auto& [option, apply] : cli.bound)
    if (option->count() > 0) apply(s, cli.flags);

  // 2. Validate and resolve.
  GeneratorOptions g;
  if (!parse_generate_format(s.format, g.format))
    usage_error("--format: '{}' is not one of combined, common, clickstream, edx, applog", s.format);
  bool pace = s.rate_given && !s.no_pace;
  std::string start_text = s.start.empty() ? (pace ? "now" : kDefaultStart) : s.start;
  if (!parse_time_arg(start_text, g.start_us))
    usage_error("--start: '{}' is not a time (2025-06-23T08:00:00Z, 2025-06-23 or now)",
                start_text);
  if (s.start.empty() && pace) g.start_us -= g.start_us % kUsPerSecond;
  int64_t duration_us = 0;
  if (!s.duration.empty() && (!parse_duration(s.duration, duration_us) || duration_us <= 0))
    usage_error("--duration: '{}' is not a duration such as 30s, 30m, 24h", s.duration);
  uint64_t count = s.count.value_or(duration_us == 0 && !pace ? kDefaultUnpacedCount : 0);
  g.seed = s.seed;
  g.users = s.users;
  g.ips = s.ips;
  g.urls = s.urls;
  g.rate = s.rate;
  g.daily_cycle = s.daily_cycle;
  g.error_rate = s.error_rate;
  g.status_mix = parse_status_mix(s.status_mix);
  g.bad_users = s.bad_users;
  g.bad_user_error_rate = s.bad_user_error_rate;
  g.bad_urls = s.bad_urls;
  g.with_duration = s.with_duration;
  g.host = !s.host.empty()                    ? s.host
           : g.format == GenerateFormat::kEdx ? "lms.example.org"
                                              : "shop.example.com";
  if (const toml::array* list = profile["steady"].as_array()) {
    for (const toml::node& node : *list) {
      if (!node.is_table()) profile_error(cli.profile, node, "[[steady]] must be a table");
      g.steady.push_back(steady_of(cli.profile, *node.as_table()));
    }
  } else if (profile.contains("steady")) {
    profile_error(cli.profile, *profile.get("steady"), "write steady flows as [[steady]] tables");
  }
  if (const toml::array* list = profile["incident"].as_array()) {
    for (const toml::node& node : *list) {
      if (!node.is_table()) profile_error(cli.profile, node, "[[incident]] must be a table");
      // Read (and checked) even with --no-incidents, so that a typo is found either way.
      Incident inc = incident_of(cli.profile, *node.as_table(), g.start_us, g.error_rate);
      if (!cli.no_incidents) g.incidents.push_back(std::move(inc));
    }
  } else if (profile.contains("incident")) {
    profile_error(cli.profile, *profile.get("incident"), "write incidents as [[incident]] tables");
  }
  Generator generator(g);  // validates every value, naming the option
  if (g.error_rate == 0) {
    // --error-rate 0: no error from the traffic itself; say what still adds some.
    double bad = g.format == GenerateFormat::kEdx ? 0 : generator.bad_user_traffic_share() * g.bad_user_error_rate;
    if (bad > 0)
      fmt::print(stderr,
                 "logpipe: warning: --error-rate 0, but bad users still fail {:.4f} of requests "
                 "(--bad-users 0 for none)\n",
                 bad);
    size_t failing = 0;
    for (const Incident& inc : g.incidents)
      if (inc.kind != IncidentKind::kLatency && inc.kind != IncidentKind::kDdos) ++failing;
    if (failing)
      fmt::print(stderr, "logpipe: warning: --error-rate 0, but {} incident{} of the profile add errors "
                 "(--no-incidents for none)\n", failing, failing == 1 ? "" : "s");
  }
  if (g.format != GenerateFormat::kEdx && g.error_rate > 0 && generator.normal_error_rate() == 0 &&
      generator.bad_user_traffic_share() * g.bad_user_error_rate > g.error_rate * 1.0001)
    fmt::print(
        stderr,
        "logpipe: warning: bad users alone fail {:.4f} of requests, more than --error-rate {}; "
        "lower --bad-users or --bad-user-error-rate\n",
        generator.bad_user_traffic_share() * g.bad_user_error_rate, g.error_rate);

  // 3. Open every destination before any work.
  std::unique_ptr<ByteSink> truth;
  if (!cli.truth.empty()) truth = open_output(cli.truth);
  EndpointOptions net = cli.net;
  finish_endpoint_options(net);  // LOGPIPE_KAFKA_* from the environment
  std::unique_ptr<ByteSink> out = open_sink(cli.output, net);

  // 4. Run. Unpaced: as fast as the sink takes it. Paced: log time follows the wall clock.
  const int64_t end_us =
      duration_us > 0 ? g.start_us + duration_us : std::numeric_limits<int64_t>::max();
  uint64_t remaining = count > 0 ? count : std::numeric_limits<uint64_t>::max();
  const int64_t wall_start = wall_us();
  bool reader_gone = false;
  try {
    while (remaining > 0 && !g_stop_requested) {
      int64_t until = end_us;
      if (pace) until = std::min(end_us, g.start_us + (wall_us() - wall_start) + 1);
      bool wrote = false;
      while (remaining > 0 && !g_stop_requested) {
        uint64_t before = generator.stats().lines;
        std::string_view batch = generator.next_batch(remaining, until);
        if (batch.empty()) break;
        remaining -= generator.stats().lines - before;
        out->write(batch);
        wrote = true;
      }
      if (generator.next_time_us() >= end_us) break;
      if (!pace) continue;
      if (wrote) out->flush();
      // Sleep until the next line is due, in slices short enough to notice a signal.
      int64_t due = wall_start + (generator.next_time_us() - g.start_us);
      int64_t wait = std::min<int64_t>(due - wall_us(), 50'000);
      if (wait > 0) std::this_thread::sleep_for(std::chrono::microseconds(wait));
    }
    out->close();
  } catch (const Error& e) {
    if (e.exit_code() != kExitOk) throw;
    reader_gone = true;  // closed pipe: stop quietly, still write the truth
  }
  int64_t stop_us = std::min(generator.next_time_us(), end_us);
  if (truth) {
    truth->write(truth_lines(g.incidents, g.start_us, stop_us));
    truth->close();
  }
  if (cli.verbose) {
    double seconds = static_cast<double>(wall_us() - wall_start) / 1e6;
    const GeneratorStats& st = generator.stats();
    fmt::print(
        stderr,
        "logpipe: generated {} lines, {} bytes ({} errors, {} incident lines), log time {} to {}, "
        "in {:.3f} s: {:.0f} lines/s, {:.1f} MB/s\n",
        st.lines, st.bytes, st.errors, st.incident_lines, format_rfc3339(g.start_us),
        format_rfc3339(stop_us), seconds, static_cast<double>(st.lines) / seconds,
        static_cast<double>(st.bytes) / seconds / 1e6);
  }
  (void)reader_gone;
  return kExitOk;
}

}  // namespace

RunFn setup_generate(CLI::App& command) {
  auto cli = std::make_shared<GenerateCli>();
  Settings& f = cli->flags;
  auto bind = [&](CLI::Option* option, void (*apply)(Settings&, const Settings&)) {
    cli->bound.emplace_back(option, apply);
    return option;
  };
  command.footer(
      "Without --rate the output is not paced; without --count/--duration an unpaced run writes "
      "100000 lines and a paced run goes on until interrupted. See man logpipe-generate.");
  bind(
      command.add_option("--format", f.format, "Output format: combined, common, clickstream, edx, applog")
          ->check(CLI::IsMember({"combined", "common", "clickstream", "edx", "applog"}))
          ->capture_default_str(),
      [](Settings& s, const Settings& v) { s.format = v.format; });
  bind(command.add_option("-n,--count", f.count, "Number of lines to write (0 = no limit)")
           ->type_name("UINT")
           ->check(whole_number(0)),
       [](Settings& s, const Settings& v) { s.count = v.count; });
  bind(
      command.add_option("--duration", f.duration, "Stop after this much log time (30s, 30m, 24h)"),
      [](Settings& s, const Settings& v) { s.duration = v.duration; });
  bind(command
           .add_option("--rate", f.rate,
                       "Lines per second of log time; paces output to the wall clock")
           ->check(positive_number()),
       [](Settings& s, const Settings& v) {
         s.rate = v.rate;
         s.rate_given = true;
       });
  bind(command.add_flag("--no-pace", f.no_pace,
                        "Write as fast as possible; timestamps still advance at --rate"),
       [](Settings& s, const Settings& v) { s.no_pace = v.no_pace; });
  bind(command.add_option(
           "--start", f.start,
           "Log time of the first line (RFC 3339, a date, or now; default now when paced, "
           "else 2025-06-23T00:00:00Z)"),
       [](Settings& s, const Settings& v) { s.start = v.start; });
  bind(command.add_option("--seed", f.seed, "Random seed: same seed and options, same bytes")
           ->check(whole_number(0))
           ->capture_default_str(),
       [](Settings& s, const Settings& v) { s.seed = v.seed; });
  bind(command.add_option("--users", f.users, "Distinct user names")->check(whole_number(1))->capture_default_str(),
       [](Settings& s, const Settings& v) { s.users = v.users; });
  bind(command.add_option("--ips", f.ips, "Distinct client addresses")->check(whole_number(1))->capture_default_str(),
       [](Settings& s, const Settings& v) { s.ips = v.ips; });
  bind(command.add_option("--urls", f.urls, "Distinct URLs (Zipf popularity)")
           ->check(whole_number(1))
           ->capture_default_str(),
       [](Settings& s, const Settings& v) { s.urls = v.urls; });
  bind(command
           .add_option("--error-rate", f.error_rate,
                       "Share of requests that fail (status of --status-mix)")
           ->capture_default_str(),
       [](Settings& s, const Settings& v) { s.error_rate = v.error_rate; });
  bind(command
           .add_option("--status-mix", f.status_mix,
                       "Weights of the error statuses, e.g. '404=3,401=1,500=0.5'")
           ->capture_default_str(),
       [](Settings& s, const Settings& v) { s.status_mix = v.status_mix; });
  bind(command.add_option("--bad-users", f.bad_users, "Share of users that are bad")
           ->capture_default_str(),
       [](Settings& s, const Settings& v) { s.bad_users = v.bad_users; });
  bind(command
           .add_option("--bad-user-error-rate", f.bad_user_error_rate,
                       "Share of a bad user's requests that fail")
           ->capture_default_str(),
       [](Settings& s, const Settings& v) { s.bad_user_error_rate = v.bad_user_error_rate; });
  bind(command
           .add_option("--bad-urls", f.bad_urls,
                       "Share of URLs the bad users' errors concentrate on")
           ->capture_default_str(),
       [](Settings& s, const Settings& v) { s.bad_urls = v.bad_urls; });
  bind(command
           .add_option("--daily-cycle", f.daily_cycle,
                       "Amplitude 0..0.95 of the daily traffic cycle (peak 15:00 UTC; 0 = flat)")
           ->capture_default_str(),
       [](Settings& s, const Settings& v) { s.daily_cycle = v.daily_cycle; });
  bind(command.add_flag("--with-duration", f.with_duration,
                        "Append the response time in microseconds (%D) to access-log lines"),
       [](Settings& s, const Settings& v) { s.with_duration = v.with_duration; });
  bind(command.add_option(
           "--host", f.host,
           "Site name in referers and edx 'host' (default shop.example.com, edx lms.example.org)"),
       [](Settings& s, const Settings& v) { s.host = v.host; });
  command
      .add_option("--profile", cli->profile,
                  "TOML profile: [traffic] settings and [[incident]] tables");
  command.add_option("--truth", cli->truth, "Write one JSON line per injected incident to FILE");
  command.add_flag("--no-incidents", cli->no_incidents,
                   "Leave out the profile's [[incident]] tables: the same traffic without its "
                   "anomalies (a calibration history)");
  command
      .add_option("-o,--output", cli->output,
                  "Output endpoint: -, FILE[.gz|.zst], tcp://HOST:PORT, ...")
      ->capture_default_str();
  command.add_flag("-v,--verbose", cli->verbose,
                   "Print lines, bytes and lines/s on stderr at the end");
  add_endpoint_options(command, cli->net, /*input_side=*/false);
  return [cli] { return run_generate(*cli); };
}

}  // namespace logpipe::cli

// Synthetic traffic for `logpipe generate`: realistic web or Open edX logs with a configurable
// error model and scheduled incidents. The engine knows nothing of the CLI, TOML or endpoints:
// it fills a reused buffer with whole lines, and the caller decides where they go and when.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace logpipe {

/// The output formats of `generate` (docs/reference.md "generate").
/// kApplog: application-log lines (`date time level request_id session user action method url
/// referer`, level ERROR for failed requests) that `--format fields:...` reads back.
enum class GenerateFormat : uint8_t { kCombined, kCommon, kClickstream, kEdx, kApplog };

/// Parses `combined`, `common`, `clickstream`, `edx` or `applog`. False on anything else.
bool parse_generate_format(std::string_view text, GenerateFormat& out) noexcept;

/// One error status and its relative weight in the error mix.
struct StatusWeight {
  int status = 0;
  double weight = 0;
};

/// Parses `404=3,401=1,500=0.5`: statuses 400..599, weights > 0, at least one entry.
/// Throws Error (usage) naming `--status-mix` when malformed.
std::vector<StatusWeight> parse_status_mix(std::string_view text);

/// The kinds of scheduled incidents of a profile.
enum class IncidentKind : uint8_t { kErrorBurst, kDdos, kBadUser, kLatency };

/// `error_burst`, `ddos`, `bad_user`, `latency`.
std::string_view incident_kind_name(IncidentKind kind) noexcept;
/// Parses an incident kind name. False when unknown.
bool parse_incident_kind(std::string_view text, IncidentKind& out) noexcept;

/// A scheduled anomaly. Times are absolute (UTC microseconds); the profile loader resolves
/// offsets from --start.
struct Incident {
  IncidentKind kind = IncidentKind::kErrorBurst;
  int64_t start_us = 0;
  int64_t end_us = 0;
  std::string url;   ///< error_burst (empty = global), latency: the path affected
  std::string ip;    ///< ddos: one address `198.51.100.7`, or an IPv4 subnet `203.0.113.0/24`
  std::string user;  ///< bad_user: the user name that fails
  double error_rate = 0.5;  ///< error_burst, bad_user: share of the key's requests that fail
  double share = -1;        ///< share of base traffic sent to the url/user (-1 = kind default)
  double rate = 100;        ///< ddos: extra lines per second of log time
  double factor = 10;       ///< latency: multiplier of the url's response time
  /// error_burst: when >= 0, a ramp: the affected requests fail at a share that grows linearly
  /// from ramp_from at start_us to error_rate at end_us, instead of error_rate from the start.
  /// -1 = no ramp (the profile's `ramp = true` sets it to the traffic's error rate).
  double ramp_from = -1;

  bool is_ramp() const noexcept { return ramp_from >= 0; }
  /// The share of affected requests that fail at log time t: error_rate, or for a ramp its
  /// linear value at t (clamped to the incident's window).
  double error_rate_at(int64_t t_us) const noexcept;
  /// The `key` of the truth file: url, ip/subnet or user ("" for a global error burst).
  std::string_view key() const noexcept;
  /// `share` with the kind's default resolved (0.05 for error_burst and latency, 0.01 for
  /// bad_user, 0 for ddos).
  double effective_share() const noexcept;
};

/// A key with a steady request rate of its own for the whole run, on top of the base traffic
/// and not scaled by the daily cycle: requests for `url` made by the visitors of the session
/// pool, requests made by `user` (one visit of theirs at a time), or both. Arrivals are a Poisson
/// process, so a window's count varies as real traffic does. Scenarios need it to give a key an
/// exact rate ("a URL with 22 requests a minute") before, during and after an incident.
struct SteadyFlow {
  std::string url;   ///< the path requested ("" = the visitor's next page, by popularity)
  std::string user;  ///< who requests ("" = the visitors of the session pool)
  double rate = 1;   ///< mean requests per second of log time
};

/// Everything that shapes the generated traffic. Defaults are the documented defaults of the
/// CLI; `validate_generator_options` checks ranges.
struct GeneratorOptions {
  GenerateFormat format = GenerateFormat::kCombined;
  uint64_t seed = 1;
  uint64_t users = 20000;    ///< distinct user names (logged-in traffic)
  uint64_t ips = 50000;      ///< distinct client addresses
  uint64_t urls = 20000;     ///< distinct pages, Zipf popularity
  double rate = 100;         ///< base lines per second of log time (mean over a day)
  int64_t start_us = 0;      ///< log time of the first line (UTC microseconds)
  double daily_cycle = 0;    ///< amplitude 0..1 of the daily rate cycle (peak 15:00 UTC)
  double error_rate = 0.02;  ///< share of all base requests that fail
  std::vector<StatusWeight> status_mix = {{404, 5}, {403, 1},   {401, 1},
                                          {500, 1}, {502, 0.5}, {503, 0.5}};
  double bad_users = 0.01;                ///< share of users that are "bad"
  double bad_user_error_rate = 0.5;       ///< share of a bad user's requests that fail
  double bad_urls = 0.01;                 ///< share of URLs the bad users' errors concentrate on
  bool with_duration = false;             ///< append ` %D` (microseconds) to access-log lines
  std::string host = "shop.example.com";  ///< site name in referers (edx: `host` field)
  std::vector<SteadyFlow> steady;
  std::vector<Incident> incidents;
};

/// Throws Error (usage) naming the option when a value is out of range.
void validate_generator_options(const GeneratorOptions& options);

/// What a generator produced so far.
struct GeneratorStats {
  uint64_t lines = 0;
  uint64_t bytes = 0;
  uint64_t errors = 0;          ///< lines with a status >= 400
  uint64_t incident_lines = 0;  ///< ddos lines and lines redirected to an incident's key
};

/// Produces lines in log-time order. Same options (seed included), same bytes. Not thread-safe.
class Generator {
 public:
  /// Builds the populations (URLs, users, agents, alias tables). Validates the options.
  explicit Generator(GeneratorOptions options);
  ~Generator();
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  /// Generates at most `max_lines` lines whose log time is before `end_us` into an internal
  /// buffer and returns them (each ends with '\n'; valid until the next call). Returns an empty
  /// view when the next line is at or after `end_us`.
  std::string_view next_batch(size_t max_lines, int64_t end_us);
  /// Log time of the next line that would be generated.
  int64_t next_time_us() const noexcept;
  const GeneratorStats& stats() const noexcept;
  /// Expected share of base traffic that comes from bad users (for the docs and tests).
  double bad_user_traffic_share() const noexcept;
  /// The error rate applied to ordinary (not bad) users so that the overall base error share
  /// equals options.error_rate.
  double normal_error_rate() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The --truth file: one JSON line per incident that overlaps [first_us, stop_us), its interval
/// clipped to that range: `{"kind":"ddos","start":"...","end":"...","key":"203.0.113.0/24"}`.
/// A ramp adds the failing share at the (clipped) start and end of its line:
/// `"error_rate_from":0.01,"error_rate_to":0.06`.
std::string truth_lines(const std::vector<Incident>& incidents, int64_t first_us, int64_t stop_us);

}  // namespace logpipe

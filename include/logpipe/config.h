// The configuration file that `calibrate` writes and `stream --config` reads (docs/reference.md "stream"):
//
//   [window]
//   size_s = 60            # also hop_s, lateness_s, max_keys
//   [errors]
//   statuses = [500, "4xx", "502-504"]
//   levels = ["ERROR", "FATAL"]
//   [metrics.url_error_rate]
//   threshold = 0.3
//   min_requests = 20
//
// The same file may also carry what a service would otherwise pass on its command line
// (docs/operations.md): [input], [alerts], [tls], [kafka], [prometheus]. Flags override it.
//
// The TOML library stays in config.cc; this header only speaks of logpipe types.
#pragma once

#include "logpipe/alerts.h"
#include "logpipe/metrics.h"

#include <array>
#include <bitset>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace logpipe {

/// Settings of one metric; absent ones keep the defaults (no threshold = never alerts).
struct MetricSettings {
  std::optional<double> threshold;
  std::optional<uint64_t> min_requests;
  std::optional<CusumRule> cusum;  ///< rule = "cusum" and its parameters
};

/// The command-line settings a service config file may carry ([input], [alerts], [tls], [kafka],
/// [prometheus]). Absent ones leave the flag's default. Plain types only: the CLI applies them.
struct ServiceSettings {
  std::vector<std::string> inputs;            ///< [input] endpoint = "..." or endpoints = [...]
  std::optional<std::string> listen;          ///< [input] listen (server mode)
  std::optional<std::string> format;          ///< [input] format
  std::optional<std::string> rejects;         ///< [input] rejects
  std::optional<std::string> state;           ///< [input] state (stream --state)
  std::optional<std::string> group;           ///< [input] group (Kafka consumer group)
  std::optional<std::string> where;           ///< [input] where (--where EXPR)
  std::optional<std::string> bots;            ///< [input] bots (--bots FILE)
  std::optional<int64_t> idle_exit_us;        ///< [input] idle_exit ("10s" or seconds)
  std::optional<bool> follow;                 ///< [input] follow
  std::optional<bool> scale_out;              ///< [input] scale_out
  std::vector<std::string> alerts;            ///< [alerts] endpoint = "..." or endpoints = [...]
  std::optional<std::string> metrics_listen;  ///< [prometheus] listen = "HOST:PORT"
  std::optional<size_t> metrics_top_keys;     ///< [prometheus] top_keys
  std::optional<std::string> generator_url;   ///< [alerts] generator_url
  std::optional<std::string> runbook_url;     ///< [alerts] runbook_url
  /// [alerts.severity] METRIC = "LEVEL", one per metric, sorted by metric name.
  std::vector<std::pair<std::string, std::string>> severities;
  std::optional<std::string> tls_cert;        ///< [tls] cert
  std::optional<std::string> tls_key;         ///< [tls] key
  std::optional<std::string> tls_ca;          ///< [tls] ca
  std::optional<std::string> kafka_option_file;  ///< [kafka] option_file
  /// [kafka] every other key, flattened (`security.protocol = "SSL"` is a dotted TOML key and
  /// gives "security.protocol"), in file order, passed to librdkafka unchanged.
  std::vector<std::pair<std::string, std::string>> kafka_options;
  std::vector<std::pair<std::string, std::string>> kafka_consumer_options;  ///< [kafka.consumer]
  std::vector<std::pair<std::string, std::string>> kafka_producer_options;  ///< [kafka.producer]
  std::optional<size_t> max_keys;             ///< [window] max_keys
};

/// Everything a configuration file may hold.
struct ThresholdConfig {
  std::optional<int64_t> window_us;    ///< [window] size_s
  std::optional<int64_t> hop_us;       ///< [window] hop_s
  std::optional<int64_t> lateness_us;  ///< [window] lateness_s
  std::array<MetricSettings, kMetricCount> metrics;
  /// [baselines.METRIC] "key" = value: what the history taught about known keys.
  std::array<std::vector<std::pair<std::string, double>>, kMetricCount> baselines;
  std::optional<std::bitset<1000>> error_statuses;  ///< [errors] statuses
  std::vector<std::string> error_levels;            ///< [errors] levels (when has_error_levels)
  bool has_error_levels = false;
  ServiceSettings service;  ///< [input], [alerts], [tls], [kafka], [prometheus]
  /// `FILE:LINE: [window] KEY` of the [window] settings present (flag names for the others), for
  /// EngineConfig::validate's messages.
  SettingOrigins origins;

  /// Copies window sizes, min_requests and the [errors] rules into an engine configuration.
  void apply_to(EngineConfig& engine) const;
  /// Copies the [errors] rules (statuses, levels) that the file sets.
  void apply_to(ErrorRules& errors) const;
  /// The thresholds per metric (nullopt = computed, never alerts).
  std::array<std::optional<double>, kMetricCount> thresholds() const;
  /// The rules of every metric (fixed or statistical) with the baselines of known keys.
  AlertRules rules() const;
};

/// Reads a configuration file. Unknown metric names and unknown keys of the known tables are
/// errors (a typo must not silently disable an alert), and so is a top-level table whose name is
/// one or two letters away from a known one (`[allerts]`); other top-level tables are ignored so
/// that tools may add their own notes. Throws Error (usage) naming the file, line and key.
ThresholdConfig load_threshold_config(const std::string& path);
/// The whole of a small text file (a settings file, a profile). Throws Error (runtime, exit 1)
/// naming `option` and the path when it cannot be opened or read.
std::string read_settings_file(const std::string& path, std::string_view option);

/// Parses a TOML text (the same rules; `name` is used in messages).
ThresholdConfig parse_threshold_config(std::string_view text, std::string_view name);

/// Writes a configuration as TOML that load_threshold_config reads back (for calibrate).
/// `comments[m]`, when not empty, is written as a `#` line above the metric's table.
std::string format_threshold_config(const ThresholdConfig& config,
                                    const std::array<std::string, kMetricCount>* comments = nullptr);

/// Parses `NAME=VALUE` of --threshold / --min-requests: the metric id and the value text.
/// Throws Error (usage) naming `option` on an unknown metric or a missing `=`.
std::pair<MetricId, std::string_view> parse_metric_assignment(std::string_view text, std::string_view option);


}  // namespace logpipe

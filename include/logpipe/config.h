// The thresholds file that `calibrate` writes and `stream --config` reads (SPEC.md "stream"):
//
//   [window]
//   size_s = 60            # also hop_s, lateness_s
//   [errors]
//   statuses = [500, "4xx", "502-504"]
//   [metrics.url_error_rate]
//   threshold = 0.3
//   min_requests = 20
//
// The TOML library stays in config.cc; this header only speaks of logpipe types.
#pragma once

#include "logpipe/metrics.h"

#include <array>
#include <bitset>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace logpipe {

/// Settings of one metric; absent ones keep the defaults (no threshold = never alerts).
struct MetricSettings {
  std::optional<double> threshold;
  std::optional<uint64_t> min_requests;
};

/// Everything a thresholds file may hold.
struct ThresholdConfig {
  std::optional<int64_t> window_us;    ///< [window] size_s
  std::optional<int64_t> hop_us;       ///< [window] hop_s
  std::optional<int64_t> lateness_us;  ///< [window] lateness_s
  std::array<MetricSettings, kMetricCount> metrics;
  std::optional<std::bitset<1000>> error_statuses;  ///< [errors] statuses

  /// Copies window sizes, min_requests and error statuses into an engine configuration.
  void apply_to(EngineConfig& engine) const;
  /// The thresholds per metric (nullopt = computed, never alerts).
  std::array<std::optional<double>, kMetricCount> thresholds() const;
};

/// Reads a thresholds file. Unknown metric names and unknown keys of the known tables are
/// errors (a typo must not silently disable an alert); other top-level tables are ignored so
/// that tools may add their own notes. Throws Error (usage) naming the file and the key.
ThresholdConfig load_threshold_config(const std::string& path);

/// Parses a TOML text (the same rules; `name` is used in messages).
ThresholdConfig parse_threshold_config(std::string_view text, std::string_view name);

/// Writes a configuration as TOML that load_threshold_config reads back (for calibrate).
/// `comments[m]`, when not empty, is written as a `#` line above the metric's table.
std::string format_threshold_config(const ThresholdConfig& config,
                                    const std::array<std::string, kMetricCount>* comments = nullptr);

/// Parses `NAME=VALUE` of --threshold / --min-requests: the metric id and the value text.
/// Throws Error (usage) naming `option` on an unknown metric or a missing `=`.
std::pair<MetricId, std::string_view> parse_metric_assignment(std::string_view text, std::string_view option);

/// Parses an [errors] statuses entry: `500`, `5xx`, `400-499`. False when malformed.
bool add_error_statuses(std::string_view spec, std::bitset<1000>& statuses) noexcept;

}  // namespace logpipe

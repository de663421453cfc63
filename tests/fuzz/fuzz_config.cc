// Fuzzes the TOML thresholds loader (src/core/config.cc) that `stream --config` reads, and the
// duration and metric-assignment parsers of the same options (--window, --threshold NAME=V).
// Besides memory safety and UB: a bad file raises logpipe::Error only (toml++'s own exceptions
// must not escape), and an accepted file survives calibrate's writer: parsing
// format_threshold_config(c) gives c back exactly.
#include "logpipe/config.h"
#include "logpipe/error.h"
#include "logpipe/timeutil.h"

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace {

// Durations are written as seconds in a double: exact below 2^51 us (71 years), rounded above.
bool close_enough(const std::optional<int64_t>& a, const std::optional<int64_t>& b) {
  if (!a || !b) return !a && !b;
  int64_t d = *a > *b ? *a - *b : *b - *a;
  return *a < (int64_t{1} << 51) ? d == 0 : static_cast<double>(d) <= static_cast<double>(*a) * 1e-14;
}

bool same(const logpipe::ThresholdConfig& a, const logpipe::ThresholdConfig& b) {
  if (!close_enough(a.window_us, b.window_us) || !close_enough(a.hop_us, b.hop_us) ||
      !close_enough(a.lateness_us, b.lateness_us))
    return false;
  if (a.error_statuses != b.error_statuses) return false;
  for (size_t m = 0; m < logpipe::kMetricCount; ++m)
    if (a.metrics[m].threshold != b.metrics[m].threshold || a.metrics[m].min_requests != b.metrics[m].min_requests)
      return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  int64_t us = 0;
  if (logpipe::parse_duration(text, us) && (us < 0 || us > logpipe::kMaxDurationUs + 1)) std::abort();
  try {
    (void)logpipe::parse_metric_assignment(text, "--threshold");
  } catch (const logpipe::Error&) {
  }

  logpipe::ThresholdConfig config;
  try {
    config = logpipe::parse_threshold_config(text, "fuzz.toml");
  } catch (const logpipe::Error&) {
    return 0;
  }
  logpipe::EngineConfig engine;
  config.apply_to(engine);
  try {
    engine.validate();
  } catch (const logpipe::Error&) {
  }
  std::string written = logpipe::format_threshold_config(config);
  logpipe::ThresholdConfig again;
  try {
    again = logpipe::parse_threshold_config(written, "written.toml");
  } catch (const logpipe::Error&) {
    std::abort();  // calibrate wrote a file that stream --config refuses
  }
  if (!same(config, again)) std::abort();
  return 0;
}

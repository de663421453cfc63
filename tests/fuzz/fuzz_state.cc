// Fuzzes the restart state that `stream --state` reads back (StreamService::restore_state, with
// AlertEvaluator::restore_state inside): a file damaged on disk, cut short or from another
// version. Besides memory safety and UB: bad text raises logpipe::Error only, and an accepted
// state saves back to text that restores to the same text (nothing half-loaded).
#include "logpipe/error.h"
#include "logpipe/stream_service.h"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {
class FixedClock final : public logpipe::Clock {
 public:
  int64_t steady_us() override { return 0; }
  int64_t wall_us() override { return 0; }
};

std::string round_trip(std::string_view text, bool& ok) {
  FixedClock clock;
  logpipe::ServiceConfig config;
  logpipe::StreamService service(config, {}, nullptr, nullptr, clock, nullptr);
  try {
    service.restore_state(text);
  } catch (const logpipe::Error&) {
    ok = false;
    return {};
  }
  ok = true;
  return service.save_state();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text = "logpipe-stream-state 1\nwindow 60000000 60000000 ";
  text.append(reinterpret_cast<const char*>(data), size);
  bool ok = false;
  const std::string saved = round_trip(text, ok);
  if (!ok) return 0;
  bool again = false;
  if (round_trip(saved, again) != saved || !again) std::abort();
  return 0;
}

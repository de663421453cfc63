// Fuzzes the partial aggregates that scaled-out `stream` instances exchange over Kafka
// (decode_partial_message, then PartialMerger::apply into a WindowEngine): a message from a
// broken or hostile peer. Besides memory safety and UB: an accepted message encodes to bytes
// that decode to the same message (nothing half-read), and merging it raises logpipe::Error only.
#include "logpipe/error.h"
#include "logpipe/scale_out.h"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {
struct Ignore final : logpipe::WindowObserver {
  void on_window(const logpipe::WindowView&) override {}
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  logpipe::PartialMessage m;
  if (!logpipe::decode_partial_message(in, m)) return 0;
  std::string once, twice;
  logpipe::encode_partial_message(m, once);
  logpipe::PartialMessage again;
  if (!logpipe::decode_partial_message(once, again)) std::abort();
  logpipe::encode_partial_message(again, twice);
  if (once != twice) std::abort();
  if (m.sources_total == 0 || m.sources_total > 64) return 0;  // a merger's engine holds them all
  Ignore ignore;
  logpipe::EngineConfig config;
  logpipe::WindowEngine engine(config, ignore);
  logpipe::PartialMerger merger(engine, m.config_fingerprint, m.sources_total);
  try {
    merger.apply(m, "fuzz");
    merger.apply(m, "fuzz");  // the same again: copies
    engine.flush();
  } catch (const logpipe::Error&) {
  }
  return 0;
}

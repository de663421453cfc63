// Fuzzes the TZif reader and the POSIX TZ rules (timezone.cc): bytes that are not a valid TZif
// file are refused with logpipe::Error; a zone that loads answers offsets within a day of UTC,
// changes of offset after the time asked, and local times that map back near where they came from.
#include "logpipe/error.h"
#include "logpipe/timezone.h"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  logpipe::TimeZone zone;
  try {
    zone = logpipe::TimeZone::from_tzif("fuzz", bytes);
  } catch (const logpipe::Error&) {
    return 0;
  }
  const int64_t day = 86400LL * 1000000;
  for (int64_t t : {int64_t{0}, int64_t{1750665600} * 1000000, int64_t{4102444800} * 1000000, -int64_t{2208988800} * 1000000}) {
    int32_t offset = zone.offset_at(t);
    if (offset < -26 * 3600 || offset > 26 * 3600) std::abort();
    if (zone.next_change(t) <= t) std::abort();
    int64_t back = zone.to_utc(t + int64_t(offset) * 1000000);
    if (back < t - 2 * day || back > t + 2 * day) std::abort();
  }
  return 0;
}

// Fuzzes the edx (JSON) parser, simdjson On-Demand included.
#include "logpipe/format.h"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto parser = logpipe::make_parser("edx");
  logpipe::Record r;
  (void)parser->parse(std::string_view(reinterpret_cast<const char*>(data), size), r);
  return 0;
}

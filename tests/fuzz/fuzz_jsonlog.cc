// Fuzzes the JSON access-log parsers (jsonlog.cc, simdjson On-Demand) and their mapping compiler:
// the first line is a mapping (`json:` + it; an unknown one must be refused with logpipe::Error),
// the rest are lines read with it and with every preset. A record's numbers stay in range.
#include "logpipe/error.h"
#include "logpipe/format.h"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

void check(const logpipe::Record& r) {
  if (r.status != 0 && (r.status < 100 || r.status > 999)) std::abort();
  if (r.bytes < -1 || r.duration_us < -1) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t nl = input.find('\n');
  if (nl == std::string_view::npos) return 0;
  static auto presets = [] {
    std::vector<std::unique_ptr<logpipe::Parser>> v;
    for (const char* f : {"json", "json:nginx", "json:caddy", "json:traefik", "json:ecs"}) v.push_back(logpipe::make_parser(f));
    return v;
  }();
  std::unique_ptr<logpipe::Parser> own;
  try {
    own = logpipe::make_parser("json:" + std::string(input.substr(0, nl)));
  } catch (const logpipe::Error&) {
  }
  std::string_view rest = input.substr(nl + 1);
  logpipe::Record r;
  while (!rest.empty()) {
    size_t e = rest.find('\n');
    std::string_view line = rest.substr(0, e);
    if (own && own->parse(line, r) == logpipe::ParseError::kNone) check(r);
    for (auto& p : presets)
      if (p->parse(line, r) == logpipe::ParseError::kNone) check(r);
    if (e == std::string_view::npos) break;
    rest.remove_prefix(e + 1);
  }
  return 0;
}

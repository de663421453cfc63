// Fuzzes the common/combined/clickstream parser and format detection: no crash, no read outside
// the line, and a successful parse only yields views inside the line.
#include "logpipe/format.h"

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

void check_inside(std::string_view field, std::string_view line) {
  if (field.empty()) return;
  if (field.data() < line.data() || field.data() + field.size() > line.data() + line.size()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto parser = logpipe::make_parser("clickstream");
  std::string_view line(reinterpret_cast<const char*>(data), size);
  logpipe::Record r;
  if (parser->parse(line, r) == logpipe::ParseError::kNone) {
    for (auto f : {r.ip, r.ident, r.user, r.method, r.url, r.protocol, r.referer, r.agent, r.session})
      check_inside(f, line);
    if (r.status != 0 && (r.status < 100 || r.status > 999)) std::abort();
  }
  std::string_view sample[] = {line};
  (void)logpipe::detect_format(sample);
  return 0;
}

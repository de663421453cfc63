// Fuzzes the line prefixes (prefix.cc, Docker's reader in jsonlog.cc): the first byte picks
// syslog+, cri+ or docker+ and the inner format, the rest is one line. The split must never read
// outside the line, and the message of a syslog or CRI prefix is the line's tail.
#include "logpipe/format.h"

#include "parsers.h"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const char* kFormats[] = {"syslog+combined", "syslog+edx", "syslog+fields:level message",
                                   "cri+combined", "cri+json", "docker+combined", "docker+syslog+edx",
                                   "docker+fields:message"};
  static std::unique_ptr<logpipe::Parser> parsers[8];
  const size_t pick = data[0] % 8;
  if (!parsers[pick]) parsers[pick] = logpipe::make_parser(kFormats[pick]);
  std::string_view line(reinterpret_cast<const char*>(data) + 1, size - 1);
  logpipe::Record r;
  (void)parsers[pick]->parse(line, r);

  using namespace logpipe::detail;
  PrefixParts parts;
  for (bool is_syslog : {true, false}) {
    bool ok = is_syslog ? split_syslog(line, SyslogYear{2025, 6}, parts) : split_cri(line, parts);
    if (!ok) continue;
    if (parts.message_begin > line.size() || parts.message_end != line.size() ||
        parts.message != line.substr(parts.message_begin))
      std::abort();
    if (!parts.host.empty() &&
        (parts.host.data() < line.data() || parts.host.data() + parts.host.size() > line.data() + line.size()))
      std::abort();
  }
  static DockerLineReader docker;
  if (docker.read(line, parts) == logpipe::ParseError::kNone &&
      (parts.message_begin >= parts.message_end || parts.message_end > line.size() || line[parts.message_begin] != '"'))
    std::abort();
  return 0;
}

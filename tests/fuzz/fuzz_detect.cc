// Fuzzes format detection (formats.cc): the input's lines are a sample. Whatever the sample,
// detection names a format that make_parser accepts (it never throws) and that reads the
// sample without crashing, and an empty sample reads well.
#include "logpipe/error.h"
#include "logpipe/format.h"

#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> sample;
  while (!input.empty() && sample.size() < 16) {
    size_t e = input.find('\n');
    sample.push_back(input.substr(0, e));
    if (e == std::string_view::npos) break;
    input.remove_prefix(e + 1);
  }
  logpipe::FormatGuess g = logpipe::detect_format(sample);
  if (g.lines == 0 && !g.reads_well()) std::abort();
  if (!g.reads_well() && g.suggestion.empty()) std::abort();
  std::unique_ptr<logpipe::Parser> parser;
  try {
    parser = logpipe::make_parser(g.format);
  } catch (const logpipe::Error&) {
    std::abort();  // detection named a format that does not exist
  }
  logpipe::Record r;
  for (auto line : sample) (void)parser->parse(line, r);
  return 0;
}

// Fuzzes the --where compiler and matcher (filter.cc) and the JSON of export (export.cc): the
// first line of the input is an expression, the rest an access-log line. An expression either
// compiles or is refused with logpipe::Error (usage); a compiled one matches any record without
// crashing, and `not (E)` gives the opposite answer (for an E without a `)` of its own). Every record exports as one JSON object.
#include "logpipe/error.h"
#include "logpipe/export.h"
#include "logpipe/filter.h"
#include "logpipe/format.h"

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const size_t nl = bytes.find('\n');
  const std::string_view expr = bytes.substr(0, nl);
  const std::string_view line = nl == std::string_view::npos ? std::string_view() : bytes.substr(nl + 1);
  static std::unique_ptr<logpipe::Parser> parser = logpipe::make_parser("combined");
  logpipe::Record record;
  const bool parsed = parser->parse(line, record) == logpipe::ParseError::kNone;
  std::string out;
  if (parsed)
    for (auto names : {logpipe::ExportNames::kEcs, logpipe::ExportNames::kLogpipe}) {
      out.clear();
      logpipe::append_record_json(out, record, names);
      if (out.size() < 2 || out.front() != '{' || out.back() != '}') std::abort();
    }
  try {
    auto f = logpipe::RecordFilter::compile(expr);
    const std::string negated = "not (" + std::string(expr) + ")";
    std::unique_ptr<logpipe::RecordFilter> g;
    // An expression with a `)` of its own could close the wrapper's parenthesis early.
    if (expr.find(')') == std::string_view::npos) try {
      g = std::make_unique<logpipe::RecordFilter>(logpipe::RecordFilter::compile(negated));
    } catch (const logpipe::Error&) {
      // only the nesting bound may refuse the negation of an expression that compiled
    }
    logpipe::Record empty;
    for (const logpipe::Record* r : {&empty, parsed ? &record : &empty}) {
      const bool m = f.matches(*r);
      if (g && g->matches(*r) == m) std::abort();
    }
  } catch (const logpipe::Error& e) {
    if (e.exit_code() != logpipe::kExitUsage) std::abort();
  }
  return 0;
}

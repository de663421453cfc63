#include "logpipe/scan.h"

#include "logpipe/error.h"
#include "logpipe/input.h"

#include <fmt/format.h>

#include <vector>

namespace logpipe {

Scanner::Scanner(ScanOptions options, MalformedLog& malformed)
    : options_(std::move(options)), malformed_(malformed) {
  if (options_.format != "auto") {
    parser_ = make_parser(options_.format);
    format_ = std::string(parser_->name());
  }
}

Scanner::~Scanner() = default;

void Scanner::scan(ByteSource& source, RecordSink& sink) {
  LineReader reader(source);
  std::string_view line;
  Record record;
  // With `auto`, keep the first lines until enough are seen to decide, then replay them.
  std::vector<std::string> pending;
  auto handle = [&](std::string_view l, uint64_t number) {
    ++stats_.lines;
    stats_.bytes += l.size() + 1;
    if (is_blank(l)) {
      ++stats_.blank;
      return;
    }
    ParseError e = parser_->parse(l, record);
    if (e == ParseError::kNone) {
      ++stats_.records;
      sink.on_record(record);
    } else {
      ++stats_.malformed;
      malformed_.add(source.name(), number, l, e);
    }
  };
  constexpr size_t kSampleLines = 16;
  while (reader.next(line)) {
    if (stop_ && *stop_) break;
    if (!parser_) {
      pending.emplace_back(line);
      if (pending.size() < kSampleLines) continue;
      std::vector<std::string_view> views(pending.begin(), pending.end());
      parser_ = make_parser(detect_format(views));
      format_ = std::string(parser_->name());
      if (options_.verbose) fmt::print(stderr, "logpipe: {}: detected format {}\n", source.name(), format_);
      uint64_t first = reader.line_number() - pending.size() + 1;
      for (size_t i = 0; i < pending.size(); ++i) handle(pending[i], first + i);
      pending.clear();
      continue;
    }
    handle(line, reader.line_number());
  }
  if (!parser_ && !pending.empty()) {
    std::vector<std::string_view> views(pending.begin(), pending.end());
    parser_ = make_parser(detect_format(views));
    format_ = std::string(parser_->name());
    if (options_.verbose) fmt::print(stderr, "logpipe: {}: detected format {}\n", source.name(), format_);
    uint64_t first = reader.line_number() - pending.size() + 1;
    for (size_t i = 0; i < pending.size(); ++i) handle(pending[i], first + i);
  }
}

void Scanner::scan_paths(const std::vector<std::string>& paths, RecordSink& sink) {
  // Open every file first: a missing file is a setup error before any work (STYLE.md rule 4).
  std::vector<std::unique_ptr<ByteSource>> sources;
  sources.reserve(paths.size());
  for (const auto& p : paths) sources.push_back(open_input(p));
  for (auto& s : sources) {
    scan(*s, sink);
    s.reset();  // close files as we go
    if (stop_ && *stop_) break;
  }
}

}  // namespace logpipe

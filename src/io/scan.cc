#include "logpipe/io/scan.h"

#include "logpipe/error.h"
#include "logpipe/io/endpoint.h"
#include "logpipe/io/files.h"

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

namespace {
constexpr size_t kSampleLines = 16;
}

void Scanner::handle(std::string_view line, std::string_view source, uint64_t number, RecordSink& sink) {
  ++stats_.lines;
  stats_.bytes += line.size() + 1;
  if (is_blank(line)) {
    ++stats_.blank;
    return;
  }
  ParseError e = parser_->parse(line, record_);
  if (e == ParseError::kNone) {
    ++stats_.records;
    sink.on_record(record_);
  } else {
    ++stats_.malformed;
    malformed_.add(source, number, line, e);
  }
}

bool Scanner::buffer_for_detection(std::string_view line) {
  pending_.emplace_back(line);
  return pending_.size() >= kSampleLines;
}

void Scanner::decide_format(std::string_view source, uint64_t last_line, RecordSink& sink) {
  if (!parser_) {
    std::vector<std::string_view> views(pending_.begin(), pending_.end());
    parser_ = make_parser(detect_format(views));
    format_ = std::string(parser_->name());
    if (options_.verbose) fmt::print(stderr, "logpipe: {}: detected format {}\n", source, format_);
  }
  uint64_t first = last_line - pending_.size() + 1;
  for (size_t i = 0; i < pending_.size(); ++i) handle(pending_[i], source, first + i, sink);
  pending_.clear();
}

void Scanner::scan(ByteSource& source, RecordSink& sink) {
  LineReader reader(source);
  std::string_view line;
  uint64_t last = 0;  // number of the last line buffered for detection
  try {
    while (reader.next(line)) {
      if (stop_ && *stop_) break;
      if (reader.truncated()) {  // the source failed inside this line; next() throws after it
        if (!pending_.empty()) decide_format(source.name(), last, sink);
        ++stats_.lines;
        ++stats_.malformed;
        malformed_.add(source.name(), reader.line_number(), line, ParseError::kTruncatedLine);
        continue;
      }
      if (!parser_) {
        last = reader.line_number();
        if (buffer_for_detection(line)) decide_format(source.name(), last, sink);
        continue;
      }
      handle(line, source.name(), reader.line_number(), sink);
    }
  } catch (const Error&) {
    // A compressed file cut short: the lines kept for detection are counted before the error.
    if (!pending_.empty()) decide_format(source.name(), last, sink);
    throw;
  }
  if (!pending_.empty()) decide_format(source.name(), reader.line_number(), sink);
}

void Scanner::scan(LineSource& input, RecordSink& sink) {
  // A stop signal ends the input without losing what already arrived.
  StopDrainingSource source(input, stop_);
  std::string_view line;
  for (;;) {
    LineSource::Status status = source.next(line, 100);
    if (status == LineSource::Status::kEnd) break;
    if (status == LineSource::Status::kTimeout) continue;
    if (source.truncated()) {
      // A producer went away mid-line: the half line is malformed even when it would parse.
      ++stats_.lines;
      ++stats_.malformed;
      malformed_.add(source.name(), source.line_number(), line, ParseError::kTruncatedLine);
      continue;
    }
    if (!parser_) {
      if (buffer_for_detection(line)) decide_format(source.name(), source.line_number(), sink);
      continue;
    }
    handle(line, source.name(), source.line_number(), sink);
  }
  // Detection over fewer lines than the sample: line numbers are per producer, so report the
  // buffered lines as the last ones seen.
  if (!pending_.empty()) decide_format(source.name(), source.line_number(), sink);
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

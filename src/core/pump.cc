// The record pump (include/logpipe/pump.h): the one read loop, format resolution and
// malformed-line accounting of every command, and the split of large files over threads.
#include "logpipe/pump.h"

#include "logpipe/error.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <thread>

namespace logpipe {
namespace {

// A diagnostic on stderr that never throws: a closed stderr (`2>&1 | grep -q`) must not abort a
// run whose worker threads are still going.
void note(const std::string& text) noexcept { std::fputs(text.c_str(), stderr); }

// A malformed line seen on a worker thread, replayed later in order.
struct Bad {
  uint64_t line;
  ParseError why;
};

// Split points of a range-readable input: range i is [cuts[i], cuts[i+1]), every cut just after
// a newline (a huge last line gives fewer ranges).
std::vector<uint64_t> split_points(PumpInput& input, uint64_t size, unsigned parts) {
  std::vector<uint64_t> cuts{0};
  char buf[64 * 1024];
  for (unsigned i = 1; i < parts; ++i) {
    uint64_t pos = std::max(size * i / parts, cuts.back());
    auto src = input.range(pos, size);
    for (;;) {
      size_t got = 0;
      try {
        got = pos < size ? src->read(buf, sizeof buf) : 0;
      } catch (const Error&) {
        // The file shrank (truncated under us): no more cuts; reading the ranges reports it
        // after counting every line there is.
      }
      if (got == 0) {
        pos = size;
        break;
      }
      if (const void* nl = std::memchr(buf, '\n', got)) {
        pos += static_cast<uint64_t>(static_cast<const char*>(nl) - buf) + 1;
        break;
      }
      pos += got;
    }
    if (pos >= size) break;
    if (pos > cuts.back()) cuts.push_back(pos);
  }
  cuts.push_back(size);
  return cuts;
}

}  // namespace

std::unique_ptr<ByteSource> PumpInput::range(uint64_t, uint64_t) { return nullptr; }

RecordPump::RecordPump(PumpOptions options, MalformedLog& malformed)
    : options_(std::move(options)), malformed_(malformed) {
  if (options_.format != "auto") {
    parser_ = make_parser(options_.format);
    format_ = std::string(parser_->name());
  }
}

RecordPump::~RecordPump() = default;

// A line kept while the format is unknown.
struct RecordPump::Sampled {
  std::string source;  // its source's name (a listener's lines come from several clients)
  uint64_t line;
  bool truncated;
  uint32_t partition;
  bool too_long;
};

// The one place a format is detected: on the sampled first lines of each input (lines cut at
// --max-line-bytes left out), and `also`, a line too large to be copied into the sample, by a vote
// (detect_format). An input that no format reads well is named with the best candidates and a
// command that names its format; it is then read with the best one (and fails the run at the end
// if that reads too little of it).
void RecordPump::resolve_format(std::span<const std::string> sample, std::span<const Sampled> about,
                                std::string_view also, const std::string& source) {
  std::vector<std::string_view> views;
  for (size_t i = 0; i < sample.size(); ++i)
    if (!about[i].too_long) views.push_back(sample[i]);
  if (!also.empty()) views.push_back(also);
  FormatGuess guess = detect_format(views);
  parser_ = make_parser(guess.format);
  format_ = std::string(parser_->name());
  if (guess.reads_well()) {
    if (options_.verbose) {
      size_t parsed = guess.candidates.empty() ? 0 : guess.candidates.front().parsed;
      note(fmt::format("logpipe: {}: detected format {} ({} of {} sample lines)\n", source, format_, parsed,
                       guess.lines));
    }
    return;
  }
  std::string best;
  for (size_t i = 0; i < guess.candidates.size() && i < 3; ++i)
    best += fmt::format("{}{}, {} of {} lines", i ? "; " : "", guess.candidates[i].format, guess.candidates[i].parsed,
                        guess.lines);
  if (best.empty()) best = fmt::format("none of the known formats reads any of its first {} lines", guess.lines);
  else best = "best: " + best;
  note(fmt::format("logpipe: {}: no known format reads its first lines well ({}); reading it as {}. Name its "
                   "format, for example: logpipe analyze --format '{}' {}\n",
                   source, best, format_, guess.suggestion, source));
}

std::string format_list(const std::vector<std::pair<std::string, std::string>>& input_formats,
                        const std::string& fallback) {
  std::vector<std::string_view> seen;
  std::string out;
  for (const auto& [input, format] : input_formats) {
    if (format.empty() || std::find(seen.begin(), seen.end(), format) != seen.end()) continue;
    seen.push_back(format);
    if (!out.empty()) out += ", ";
    out += format;
  }
  return out.empty() ? fallback : out;
}

std::string RecordPump::formats() const {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const InputReport& r : reports_) pairs.emplace_back(r.name, r.format);
  return format_list(pairs, format_);
}

// Each input is detected on its own lines (`auto`), and its counts are kept apart.
void RecordPump::begin_input(PumpInput& input) {
  if (options_.format == "auto") {
    parser_.reset();
    format_.clear();
  }
  reports_.push_back(InputReport{input.name(), {}, {}, {}});
  input_start_ = stats_;
  malformed_at_start_ = malformed_.total();
  malformed_.begin_input();
}

void RecordPump::end_input(size_t index, bool count_records) {
  InputReport& r = reports_[index];
  r.format = parser_ ? format_ : std::string();
  r.stats.lines = stats_.lines - input_start_.lines;
  r.stats.blank = stats_.blank - input_start_.blank;
  r.stats.bytes = stats_.bytes - input_start_.bytes;
  r.stats.malformed = malformed_.total() - malformed_at_start_;
  if (count_records) {
    r.stats.records = stats_.records - input_start_.records;
  } else {  // lines handed to a LineSink: what it did not reject is a record
    uint64_t taken = r.stats.lines - std::min(r.stats.lines, r.stats.blank);
    r.stats.records = taken - std::min(taken, r.stats.malformed);
    stats_.records += r.stats.records;
    stats_.malformed += r.stats.malformed;
  }
  r.first_malformed = malformed_.input_first();
}

void RecordPump::check_inputs() const {
  if (options_.max_malformed >= 1.0) return;
  std::string text;
  for (const InputReport& in : reports_) {
    const PumpStats& s = in.stats;
    const uint64_t non_blank = s.records + s.malformed;
    if (non_blank == 0) continue;  // an empty input: nothing was wrong with it
    if (s.records > 0 && static_cast<double>(s.malformed) <= options_.max_malformed * static_cast<double>(non_blank))
      continue;
    const std::string& format = in.format.empty() ? options_.format : in.format;
    if (!text.empty()) text += "\nlogpipe: ";
    if (s.records == 0)
      text += fmt::format("{}: no record could be read with format {} ({} malformed line{}; first: {})", in.name,
                          format, s.malformed, s.malformed == 1 ? "" : "s", in.first_malformed);
    else
      text += fmt::format("{}: {} of {} lines malformed with format {} ({:.1f}%, more than --max-malformed {}%); "
                          "first: {}",
                          in.name, s.malformed, non_blank, format,
                          100.0 * static_cast<double>(s.malformed) / static_cast<double>(non_blank),
                          100.0 * options_.max_malformed, in.first_malformed);
  }
  if (text.empty()) return;
  text += "\nlogpipe: name the format with --format, or accept such inputs with --max-malformed 100%";
  if (options_.input_errors)
    for (const auto& e : *options_.input_errors) text += "\nlogpipe: " + e;
  throw Error(kExitData, text);
}

// Counts one line and hands its record to the sink (or the line to MalformedLog).
void RecordPump::handle(std::string_view line, const LineOrigin& where, RecordSink& sink) {
  if (!where.too_long && is_blank(line)) {
    ++stats_.blank;
    return;
  }
  ParseError e = where.truncated  ? ParseError::kTruncatedLine
                 : where.too_long ? ParseError::kLineTooLong
                                  : parser_->parse(line, record_);
  origin_ = &where;
  if (e == ParseError::kNone) e = sink.on_record(record_);
  if (e == ParseError::kNone) {
    ++stats_.records;
    return;
  }
  ++stats_.malformed;
  malformed_.add(where.source, where.line, line, e);
}

// Reads one input in order, calling on_line(line, origin) for every line once the format is
// known (the first lines are kept until it is, then replayed). Returns true when the input was
// read through: to its end, ended by the observer, or drained after a stop (a network input);
// false when a stop signal cut a file short.
template <typename OnLine, typename TakeRest>
bool RecordPump::read(PumpInput& input, PumpObserver* observer, OnLine&& on_line, TakeRest&& take_rest) {
  LineSource& raw = input.lines();
  // A network input drains what already arrived on a stop; a file stops at once (everything
  // there has "arrived", and stopping is what the user asked for).
  StopDrainingSource drained(raw, options_.stop);
  LineSource& source = input.network() ? static_cast<LineSource&>(drained) : raw;
  std::vector<std::string> sample;
  std::vector<Sampled> about;
  size_t sample_bytes = 0;
  auto replay = [&] {
    if (sample.empty()) return;
    if (!parser_) resolve_format(sample, about, {}, input.name());
    for (size_t i = 0; i < sample.size(); ++i)
      on_line(sample[i],
              LineOrigin{about[i].source, about[i].line, about[i].truncated, about[i].partition, about[i].too_long});
    sample.clear();
    about.clear();
    sample_bytes = 0;
  };
  uint64_t lines = 0;
  bool offered = false;  // the rest of the input offered to take_rest (once the format is known)
  try {
    std::string_view line;
    for (;;) {
      if (!offered && parser_ && sample.empty() && !input.network()) {
        offered = true;
        if (take_rest(raw)) {
          if (!stop_requested(options_.stop)) return true;
          stopped_ = true;
          return false;
        }
      }
      if (!input.network() && stop_requested(options_.stop)) {
        replay();
        stopped_ = true;
        return false;
      }
      LineSource::Status status = source.next(line, options_.poll_ms);
      if (status == LineSource::Status::kLine) {
        const LineSize size = source.line_size();
        if (size == LineSize::kRest) {  // more of a line cut at --max-line-bytes: already counted
          stats_.bytes += line.size();
          continue;
        }
        ++stats_.lines;
        stats_.bytes += line.size() + 1;
        const LineOrigin where{source.name(), source.line_number(), source.truncated(), source.partition(),
                               size == LineSize::kCut};
        if (parser_) {
          on_line(line, where);
        } else if (sample_bytes + line.size() > kFormatSampleBytes) {
          // Too large to keep a copy of: it decides the format with the lines kept before it.
          resolve_format(sample, about, where.too_long ? std::string_view{} : line, input.name());
          replay();
          on_line(line, where);
        } else {
          sample.emplace_back(line);
          about.push_back({source.name(), where.line, where.truncated, where.partition, where.too_long});
          sample_bytes += line.size();
          if (sample.size() >= kFormatSampleLines) replay();
        }
        if (observer && (++lines & 4095) == 0 && !observer->on_tick(input, false)) {
          replay();
          return true;
        }
        continue;
      }
      if (status == LineSource::Status::kEnd) {
        replay();
        if (drained.stopped()) stopped_ = true;
        return true;
      }
      // Nothing arrived for a poll interval: a pause is enough to decide the format.
      replay();
      if (observer && !observer->on_tick(input, true)) return true;
    }
  } catch (const Error&) {
    replay();  // the lines kept for detection still count when the input fails
    throw;
  }
}

// Reads a splittable input as byte ranges on several threads. Range 0 continues `sink` on this
// thread, its malformed lines straight to the log; later ranges fill split sinks and keep their
// malformed lines, replayed in order with their file line numbers before the sinks are joined.
// Returns false when the sink does not split (the caller reads the input in order).
bool RecordPump::read_split(PumpInput& input, RecordSink& sink) {
  const uint64_t size = input.splittable_size();
  unsigned parts = std::max(1u, options_.threads);
  parts = static_cast<unsigned>(std::min<uint64_t>(parts, std::max<uint64_t>(1, size / kMinRangeBytes)));
  if (parts < 2) return false;
  std::vector<std::unique_ptr<RecordSink>> partial(1);
  for (unsigned i = 1; i < parts; ++i) {
    partial.push_back(sink.split());
    if (!partial.back()) return false;
  }
  if (!parser_) {  // detect on the first lines, read through a range (nothing is consumed)
    auto head = input.range(0, size);
    LineReader reader(*head, 64 * 1024, kFormatSampleBytes);
    std::vector<std::string> sample;
    std::vector<Sampled> about;
    size_t bytes = 0;
    std::string_view l;
    while (sample.size() < kFormatSampleLines && bytes < kFormatSampleBytes && reader.next(l)) {
      if (reader.line_size() == LineSize::kRest) continue;
      sample.emplace_back(l);
      about.push_back({input.name(), reader.line_number(), false, 0, reader.line_size() == LineSize::kCut});
      bytes += l.size();
    }
    resolve_format(sample, about, {}, input.name());
  }
  std::vector<uint64_t> cuts = split_points(input, size, parts);
  const size_t n = cuts.size() - 1;
  partial.resize(n);
  if (options_.verbose && n > 1) note(fmt::format("logpipe: {}: {} ranges on {} threads\n", input.name(), n, n));

  struct Range {
    PumpStats stats;
    std::vector<Bad> bad;
    uint64_t lines = 0;
    std::exception_ptr failure;
  };
  std::vector<Range> ranges(n);
  auto run_range = [&](size_t i) {
    Range& out = ranges[i];
    try {
      std::unique_ptr<Parser> own = i == 0 ? nullptr : make_parser(format_);
      Parser& parser = i == 0 ? *parser_ : *own;
      RecordSink& to = i == 0 ? sink : *partial[i];
      Record record;
      // pread into the reader's buffer: measured faster than mmap here (page faults cost more
      // than the copy on a virtual machine).
      auto bytes = input.range(cuts[i], cuts[i + 1]);
      LineReader reader(*bytes, 1 << 20, input.max_line_bytes());
      std::string_view line;
      while (reader.next(line)) {
        if (stop_requested(options_.stop)) break;
        const LineSize size = reader.line_size();
        if (size == LineSize::kRest) {  // more of a line cut at --max-line-bytes: already counted
          out.stats.bytes += line.size();
          continue;
        }
        out.lines = reader.line_number();  // kept if the range fails later
        ++out.stats.lines;
        out.stats.bytes += line.size() + 1;
        if (size != LineSize::kCut && is_blank(line)) {
          ++out.stats.blank;
          continue;
        }
        ParseError e = size == LineSize::kCut ? ParseError::kLineTooLong : parser.parse(line, record);
        if (e == ParseError::kNone) e = to.on_record(record);
        if (e == ParseError::kNone) {
          ++out.stats.records;
          continue;
        }
        ++out.stats.malformed;
        if (i == 0) malformed_.add(input.name(), reader.line_number(), line, e);
        else out.bad.push_back({reader.line_number(), e});
      }
      out.lines = reader.line_number();
    } catch (...) {
      out.failure = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  for (size_t i = 1; i < n; ++i) threads.emplace_back(run_range, i);
  run_range(0);
  for (auto& t : threads) t.join();
  // A range that failed (the file was truncated under us) still gave its lines before the
  // failure: everything read is counted and joined, then the first failure is thrown.
  std::exception_ptr failure;
  for (auto& r : ranges)
    if (r.failure && !failure) failure = r.failure;
  uint64_t offset = 0;
  for (size_t i = 0; i < n; ++i) {
    for (const Bad& b : ranges[i].bad) malformed_.add(input.name(), offset + b.line, {}, b.why);
    offset += ranges[i].lines;
    stats_.lines += ranges[i].stats.lines;
    stats_.bytes += ranges[i].stats.bytes;
    stats_.blank += ranges[i].stats.blank;
    stats_.records += ranges[i].stats.records;
    stats_.malformed += ranges[i].stats.malformed;
    if (i > 0) sink.join(*partial[i]);
  }
  if (failure) std::rethrow_exception(failure);
  if (stop_requested(options_.stop)) stopped_ = true;
  return true;
}

void RecordPump::run(std::span<const std::unique_ptr<PumpInput>> inputs, RecordSink& sink, PumpObserver* observer) {
  read_through_.assign(inputs.size(), false);
  reports_.clear();
  for (size_t i = 0; i < inputs.size() && !stopped_; ++i) {
    PumpInput& input = *inputs[i];
    if (observer) observer->on_input(input);
    begin_input(input);
    bool complete = false;
    try {
      if (input.splittable_size() > 0 && options_.threads > 1 && read_split(input, sink)) {
        complete = !stopped_;
      } else {
        complete = read(
            input, observer, [&](std::string_view line, const LineOrigin& where) { handle(line, where, sink); },
            [](LineSource&) { return false; });
      }
    } catch (const Error& e) {
      end_input(i, true);
      if (observer) observer->on_input_end(input, false);
      if (!options_.input_errors || e.exit_code() != kExitRuntime) throw;
      options_.input_errors->push_back(e.what());
      continue;
    }
    end_input(i, true);
    read_through_[i] = complete;
    if (observer) observer->on_input_end(input, complete);
  }
  check_inputs();
}

void RecordPump::run_lines(std::span<const std::unique_ptr<PumpInput>> inputs, LineSink& sink,
                           PumpObserver* observer) {
  read_through_.assign(inputs.size(), false);
  reports_.clear();
  std::string announced;  // the format the sink was last told
  bool told = false;
  for (size_t i = 0; i < inputs.size() && !stopped_; ++i) {
    PumpInput& input = *inputs[i];
    if (observer) observer->on_input(input);
    begin_input(input);
    bool complete = false;
    try {
      // The sink learns the format before the first line of an input, and again whenever an
      // input's format differs from the one before (the previous input was written out by then).
      auto announce = [&] {
        if (told && announced == format_) return;
        sink.on_format(format_);
        announced = format_;
        told = true;
      };
      complete = read(
          input, observer,
          [&](std::string_view line, const LineOrigin& where) {
            announce();
            if (!where.too_long && is_blank(line)) ++stats_.blank;
            sink.on_line(line, where);
          },
          [&](LineSource& lines) {
            std::string_view unread;
            ByteSource* rest = observer ? nullptr : lines.hand_over(unread);
            if (!rest) return false;
            const std::string name = lines.name();
            const uint64_t line_number = lines.line_number();
            announce();
            sink.on_input_end();  // the lines handed out so far go first
            return sink.read_rest(*rest, unread, name, line_number, input.max_line_bytes(), options_.stop, stats_);
          });
    } catch (const Error& e) {
      // An input that failed: what it gave is still written out. A data error (--strict) stops
      // everything: nothing after the bad line may be written.
      if (e.exit_code() == kExitRuntime) sink.on_input_end();
      end_input(i, false);
      if (observer) observer->on_input_end(input, false);
      if (!options_.input_errors || e.exit_code() != kExitRuntime) throw;
      options_.input_errors->push_back(e.what());
      continue;
    }
    sink.on_input_end();
    end_input(i, false);
    read_through_[i] = complete;
    if (observer) observer->on_input_end(input, complete);
  }
  check_inputs();
}

}  // namespace logpipe

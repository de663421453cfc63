// The scan driver of `analyze`: inputs -> lines -> parser -> Report, on one thread or, for large
// regular files, on several: the file is split into byte ranges at line boundaries, each range
// is parsed into its own continuation Report on its own thread, and the partial reports are
// merged in input order. Malformed lines are replayed in order with their file line numbers,
// so messages and counts are what one thread prints.
#include "logpipe/io/endpoint.h"
#include "logpipe/error.h"
#include "logpipe/io/files.h"
#include "logpipe/io/report_scan.h"

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <thread>

namespace logpipe {
namespace {

// A diagnostic on stderr that never throws: a closed stderr (`2>&1 | grep -q`) must not abort a
// run whose worker threads are still going.
void note(const std::string& text) noexcept { std::fputs(text.c_str(), stderr); }


/// Reads bytes [begin, end) of an open file with pread: threads share the descriptor.
class RangeSource final : public ByteSource {
 public:
  RangeSource(int fd, uint64_t begin, uint64_t end, const std::string& name)
      : fd_(fd), pos_(begin), end_(end), name_(name) {}
  size_t read(char* buf, size_t n) override {
    n = static_cast<size_t>(std::min<uint64_t>(n, end_ - pos_));
    if (n == 0) return 0;
    for (;;) {
      ssize_t got = ::pread(fd_, buf, n, static_cast<off_t>(pos_));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) system_error(errno, "cannot read '" + name_ + "'");
      pos_ += static_cast<uint64_t>(got);
      return static_cast<size_t>(got);
    }
  }
  const std::string& name() const noexcept override { return name_; }

 private:
  int fd_;
  uint64_t pos_, end_;
  std::string name_;
};

/// One input, opened before any work.
struct Input {
  std::string path;
  int fd = -1;              // regular, uncompressed file that may be split
  uint64_t size = 0;
  std::unique_ptr<ByteSource> stream;  // stdin, pipes, gzip, zstd
  std::unique_ptr<LineSource> lines;   // network endpoints (tcp://, tls://, udp://, kafka://)
  ~Input() {
    if (fd >= 0) ::close(fd);
  }
};

bool is_compressed(const unsigned char* m, size_t n) {
  return (n >= 2 && m[0] == 0x1f && m[1] == 0x8b) ||
         (n >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd);
}

std::unique_ptr<Input> open_one(const std::string& path, const EndpointOptions& endpoint) {
  auto in = std::make_unique<Input>();
  in->path = path;
  if (endpoint_scheme(path) != "file") {
    in->lines = open_line_source(path, endpoint);
    return in;
  }
  if (path != "-") {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) system_error(errno, "cannot open '" + path + "'");
    struct stat st;
    unsigned char magic[4];
    ssize_t got = 0;
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) got = ::pread(fd, magic, sizeof magic, 0);
    if (S_ISREG(st.st_mode) && got >= 0 && !is_compressed(magic, static_cast<size_t>(got))) {
      in->fd = fd;
      in->size = static_cast<uint64_t>(st.st_size);
      return in;
    }
    ::close(fd);
  }
  in->stream = open_input(path);
  return in;
}

/// A malformed line seen on a worker thread, replayed later in order.
struct Bad {
  uint64_t line;
  ParseError why;
};

/// Parses lines of one reader into a report. `bad` collects malformed lines (worker threads)
/// or `malformed` takes them directly (the calling thread, which may hold --rejects/--strict).
struct Worker {
  Parser& parser;
  Report& report;
  const ReportScanOptions& options;
  MalformedLog* malformed = nullptr;
  std::vector<Bad>* bad = nullptr;
  Record record;

  // `truncated`: the input ended inside this line (a client went away, a compressed file was cut
  // short): malformed even when what arrived would parse.
  void line(const std::string& source, std::string_view l, uint64_t number, bool truncated = false) {
    if (is_blank(l)) return;
    ParseError e = truncated ? ParseError::kTruncatedLine : parser.parse(l, record);
    if (e == ParseError::kNone) {
      report.on_record(record);
    } else if (malformed) {
      malformed->add(source, number, l, e);
    } else {
      bad->push_back({number, e});
    }
  }

  void run(LineReader& reader) {
    std::string_view l;
    uint64_t reported = 0;
    while (reader.next(l)) {
      if (options.stop && *options.stop) break;
      line(reader.name(), l, reader.line_number(), reader.truncated());
      if (options.progress_bytes && (reader.line_number() & 4095) == 0) {
        options.progress_bytes->fetch_add(reader.bytes_read() - reported, std::memory_order_relaxed);
        reported = reader.bytes_read();
      }
    }
    if (options.progress_bytes)
      options.progress_bytes->fetch_add(reader.bytes_read() - reported, std::memory_order_relaxed);
  }
};

/// Split points: range i is [cuts[i], cuts[i+1]), every cut just after a newline.
std::vector<uint64_t> split_points(int fd, uint64_t size, unsigned parts, const std::string& name) {
  std::vector<uint64_t> cuts{0};
  char buf[64 * 1024];
  for (unsigned i = 1; i < parts; ++i) {
    uint64_t pos = std::max(size * i / parts, cuts.back());
    for (;;) {
      if (pos >= size) break;
      ssize_t got = ::pread(fd, buf, sizeof buf, static_cast<off_t>(pos));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) system_error(errno, "cannot read '" + name + "'");
      if (got == 0) {
        pos = size;
        break;
      }
      const void* nl = std::memchr(buf, '\n', static_cast<size_t>(got));
      if (nl) {
        pos += static_cast<uint64_t>(static_cast<const char*>(nl) - buf) + 1;
        break;
      }
      pos += static_cast<uint64_t>(got);
    }
    if (pos >= size) break;  // a huge last line: fewer ranges
    if (pos > cuts.back()) cuts.push_back(pos);
  }
  cuts.push_back(size);
  return cuts;
}

}  // namespace

std::string scan_for_report(const std::vector<std::string>& paths, const ReportScanOptions& options,
                            MalformedLog& malformed, Report& report) {
  const EndpointOptions defaults;
  std::vector<std::unique_ptr<Input>> inputs;
  for (const auto& p : paths) {
    inputs.push_back(open_one(p, options.endpoint ? *options.endpoint : defaults));
    // The name says which port a `--listen tcp://HOST:0` server got.
    if (options.verbose && inputs.back()->lines) note(fmt::format("logpipe: reading {}\n", inputs.back()->lines->name()));
  }

  std::unique_ptr<Parser> parser;
  std::string format;
  auto set_format = [&](std::string f, const std::string& from) {
    parser = make_parser(f);
    format = std::string(parser->name());
    if (options.verbose && options.format == "auto")
      note(fmt::format("logpipe: {}: detected format {}\n", from, format));
  };
  if (options.format != "auto") set_format(options.format, "");

  constexpr size_t kSampleLines = 16;
  for (auto& in : inputs) {
    if (options.stop && *options.stop) break;
    // A stream or network input that fails mid-read keeps what it gave (see input_errors).
    auto failed = [&](const Error& e) {
      if (!options.input_errors || e.exit_code() != kExitRuntime) return false;
      options.input_errors->push_back(e.what());
      return true;
    };
    if (in->lines) try {  // a network endpoint: read until it ends or SIGINT/SIGTERM, then report
      // SIGINT/SIGTERM end the input without losing what already arrived (StopDrainingSource).
      StopDrainingSource src(*in->lines, options.stop);
      std::string_view l;
      auto next = [&]() {
        for (;;) {
          LineSource::Status st = src.next(l, 200);
          if (st == LineSource::Status::kLine) return true;
          if (st == LineSource::Status::kEnd) return false;
        }
      };
      // Replays the lines kept for detection once the format is known (also when the input
      // fails or a signal comes before the sample is full).
      std::vector<std::string> pending;
      std::vector<std::pair<uint64_t, bool>> numbers;  // line number, truncated
      std::string pending_source;
      auto replay = [&] {
        if (pending.empty() && parser) return;
        std::vector<std::string_view> views(pending.begin(), pending.end());
        if (!parser) set_format(detect_format(views), in->path);
        Worker w{*parser, report, options, &malformed};
        for (size_t i = 0; i < pending.size(); ++i) w.line(pending_source, pending[i], numbers[i].first, numbers[i].second);
        pending.clear();
      };
      try {
        if (!parser) {
          while (pending.size() < kSampleLines && next()) {
            pending.emplace_back(l);
            numbers.emplace_back(src.line_number(), src.truncated());
            pending_source = src.name();
          }
        }
        replay();
      } catch (const Error&) {
        replay();  // the lines kept for detection still count
        throw;
      }
      Worker w{*parser, report, options, &malformed};
      while (next()) {
        w.line(src.name(), l, src.line_number(), src.truncated());
        if (options.progress_bytes) options.progress_bytes->fetch_add(l.size() + 1, std::memory_order_relaxed);
      }
      if (options.read_sources) {
        options.read_sources->push_back(std::move(in->lines));
      } else {
        in->lines->commit();
        in->lines.reset();
      }
      continue;
    } catch (const Error& e) {
      if (!failed(e)) throw;
      in->lines.reset();
      continue;
    }
    if (in->stream) try {
      LineReader reader(*in->stream);
      std::string_view l;
      if (!parser) {  // detect on the head of the first input, then replay it
        std::vector<std::string> pending;
        std::vector<bool> cut;
        auto replay = [&] {
          std::vector<std::string_view> views(pending.begin(), pending.end());
          set_format(detect_format(views), in->path);
          Worker w{*parser, report, options, &malformed};
          for (size_t i = 0; i < pending.size(); ++i) w.line(in->path, pending[i], i + 1, cut[i]);
        };
        try {
          while (pending.size() < kSampleLines && reader.next(l)) {
            pending.emplace_back(l);
            cut.push_back(reader.truncated());
          }
        } catch (const Error&) {
          replay();  // a tiny file cut short: its lines still count
          throw;
        }
        replay();
      }
      Worker w{*parser, report, options, &malformed};
      w.run(reader);
      in->stream.reset();
      continue;
    } catch (const Error& e) {
      if (!failed(e)) throw;
      in->stream.reset();
      continue;
    }

    if (!parser) {  // detect on the first lines of the file, read with pread
      RangeSource head(in->fd, 0, in->size, in->path);
      LineReader reader(head, 64 * 1024);
      std::vector<std::string> sample;
      std::string_view l;
      while (sample.size() < kSampleLines && reader.next(l)) sample.emplace_back(l);
      std::vector<std::string_view> views(sample.begin(), sample.end());
      set_format(detect_format(views), in->path);
    }
    unsigned parts = std::max(1u, options.threads);
    parts = static_cast<unsigned>(std::min<uint64_t>(parts, std::max<uint64_t>(1, in->size / kMinRangeBytes)));
    std::vector<uint64_t> cuts = parts > 1 ? split_points(in->fd, in->size, parts, in->path)
                                           : std::vector<uint64_t>{0, in->size};
    size_t n = cuts.size() - 1;
    if (options.verbose && n > 1) note(fmt::format("logpipe: {}: {} ranges on {} threads\n", in->path, n, n));

    // Range 0 continues the main report on this thread (its malformed lines go straight to the log,
    // in order); later ranges get continuation reports and replay their malformed lines after.
    std::vector<std::unique_ptr<Report>> partial(n);
    std::vector<std::vector<Bad>> bad(n);
    std::vector<uint64_t> lines(n, 0);
    std::vector<std::exception_ptr> failure(n);
    auto run_range = [&](size_t i) {
      try {
        std::unique_ptr<Parser> own = i == 0 ? nullptr : make_parser(format);
        Worker w{i == 0 ? *parser : *own, i == 0 ? report : *partial[i], options,
                 i == 0 ? &malformed : nullptr, &bad[i]};
        // pread into the reader's buffer: measured faster than mmap here (page faults cost
        // more than the copy on this virtual machine).
        RangeSource src(in->fd, cuts[i], cuts[i + 1], in->path);
        LineReader reader(src);
        w.run(reader);
        lines[i] = reader.line_number();
      } catch (...) {
        failure[i] = std::current_exception();
      }
    };
    for (size_t i = 1; i < n; ++i) partial[i] = report.continuation();
    std::vector<std::thread> threads;
    for (size_t i = 1; i < n; ++i) threads.emplace_back(run_range, i);
    run_range(0);
    for (auto& t : threads) t.join();
    for (auto& f : failure)
      if (f) std::rethrow_exception(f);
    uint64_t offset = 0;
    for (size_t i = 0; i < n; ++i) {
      for (const Bad& b : bad[i]) malformed.add(in->path, offset + b.line, {}, b.why);
      offset += lines[i];
      if (i > 0) report.merge(*partial[i]);
    }
  }
  if (!parser && options.format == "auto") format = "";
  return format;
}

}  // namespace logpipe

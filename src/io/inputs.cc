// Pump inputs for every endpoint (include/logpipe/io/inputs.h).
#include "logpipe/io/inputs.h"

#include "logpipe/error.h"
#include "logpipe/io/files.h"

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cerrno>
#include <cstdio>

namespace logpipe {
namespace {

// A regular file that ends before the size it had when it was opened was truncated while being
// read: what was read is counted and the input fails, naming it, so that a report of part of the
// file never looks complete (3,000,000 lines truncated under analyze gave a report of 162,320
// lines and exit 0).

// Reads a descriptor, counting the raw bytes (compressed ones for a compressed file) for progress.
// `size` is a regular file's size when opened (0: not a regular file).
class CountingFdSource final : public ByteSource {
 public:
  CountingFdSource(int fd, const std::string& name, std::atomic<uint64_t>& counter, uint64_t size)
      : fd_(fd), name_(name), counter_(counter), size_(size) {}
  size_t read(char* buf, size_t n) override {
    for (;;) {
      ssize_t r = ::read(fd_, buf, n);
      if (r > 0) {
        counter_.fetch_add(static_cast<uint64_t>(r), std::memory_order_relaxed);
        position_ += static_cast<uint64_t>(r);
        return static_cast<size_t>(r);
      }
      if (r == 0) {
        if (position_ < size_) throw truncated_while_read(name_, size_, fd_);
        return 0;
      }
      if (errno != EINTR) system_error(errno, "cannot read '" + name_ + "'");
    }
  }
  const std::string& name() const noexcept override { return name_; }

 private:
  int fd_;
  const std::string& name_;
  std::atomic<uint64_t>& counter_;
  uint64_t size_;
  uint64_t position_ = 0;
};

// Reads bytes [begin, end) of an open file with pread: threads share the descriptor.
class RangeSource final : public ByteSource {
 public:
  RangeSource(int fd, uint64_t begin, uint64_t end, uint64_t file_size, const std::string& name,
              std::atomic<uint64_t>& counter)
      : fd_(fd), pos_(begin), end_(end), file_size_(file_size), name_(name), counter_(counter) {}
  size_t read(char* buf, size_t n) override {
    n = static_cast<size_t>(std::min<uint64_t>(n, end_ - pos_));
    if (n == 0) return 0;
    for (;;) {
      ssize_t got = ::pread(fd_, buf, n, static_cast<off_t>(pos_));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) system_error(errno, "cannot read '" + name_ + "'");
      if (got == 0) throw truncated_while_read(name_, file_size_, fd_);  // the range was inside the file
      pos_ += static_cast<uint64_t>(got);
      counter_.fetch_add(static_cast<uint64_t>(got), std::memory_order_relaxed);
      return static_cast<size_t>(got);
    }
  }
  const std::string& name() const noexcept override { return name_; }

 private:
  int fd_;
  uint64_t pos_, end_;
  uint64_t file_size_;  // when opened
  const std::string& name_;
  std::atomic<uint64_t>& counter_;
};

// A file or stdin for a batch command.
class BatchFileInput final : public PumpInput {
 public:
  BatchFileInput(const std::string& path, size_t max_line) : name_(path), max_line_(max_line) {
    if (path == "-") {
      fd_ = 0;
      owned_ = false;
      return;
    }
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      rlimit limit{};
      if (errno == EMFILE && ::getrlimit(RLIMIT_NOFILE, &limit) == 0)
        runtime_error("cannot open '{}': too many open files (every input is opened before any work; the limit "
                      "is {} descriptors: raise it with ulimit -n, or LimitNOFILE= in a systemd unit)",
                      path, static_cast<unsigned long long>(limit.rlim_cur));
      system_error(errno, "cannot open '" + path + "'");
    }
    struct stat st {};
    if (::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode)) {
      size_ = static_cast<uint64_t>(st.st_size);
      char head[4];
      ssize_t got = ::pread(fd_, head, sizeof head, 0);
      if (got >= 0 && compression_of(std::string_view(head, static_cast<size_t>(got))) == Compression::kNone)
        splittable_ = size_;
    }
    ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
  }
  ~BatchFileInput() override {
    lines_.reset();
    if (owned_) ::close(fd_);
  }
  const std::string& name() const noexcept override { return name_; }
  LineSource& lines() override {
    if (!lines_) {
      // A small plain file needs a buffer of its size, not the 1 MiB (2 MiB huge page) a large
      // one gets: 3,000 small files cost 6.7 s of page zeroing.
      size_t buffer = splittable_ > 0 && splittable_ < (1u << 20) ? static_cast<size_t>(splittable_) + 1 : 1u << 20;
      lines_ = std::make_unique<ByteLineSource>(
          maybe_decompress(std::make_unique<CountingFdSource>(fd_, name_, read_, size_)), max_line_, buffer);
    }
    return *lines_;
  }
  uint64_t splittable_size() const noexcept override { return splittable_; }
  std::unique_ptr<ByteSource> range(uint64_t begin, uint64_t end) override {
    return std::make_unique<RangeSource>(fd_, begin, end, size_, name_, read_);
  }
  uint64_t bytes_read() const noexcept override { return read_.load(std::memory_order_relaxed); }
  uint64_t size() const noexcept override { return size_; }
  size_t max_line_bytes() const noexcept override { return max_line_; }

 private:
  std::string name_;
  size_t max_line_;
  int fd_ = -1;
  bool owned_ = true;
  uint64_t size_ = 0;
  uint64_t splittable_ = 0;
  std::atomic<uint64_t> read_{0};
  std::unique_ptr<LineSource> lines_;
};

// Counts the bytes of the lines a source hands out (a socket or a topic has no size).
class CountingLineSource final : public LineSource {
 public:
  CountingLineSource(std::unique_ptr<LineSource> inner, std::atomic<uint64_t>& counter)
      : inner_(std::move(inner)), counter_(counter) {}
  Status next(std::string_view& line, int timeout_ms) override {
    Status s = inner_->next(line, timeout_ms);
    if (s == Status::kLine) counter_.fetch_add(line.size() + 1, std::memory_order_relaxed);
    return s;
  }
  const std::string& name() const noexcept override { return inner_->name(); }
  uint64_t line_number() const noexcept override { return inner_->line_number(); }
  bool truncated() const noexcept override { return inner_->truncated(); }
  uint32_t partition() const noexcept override { return inner_->partition(); }
  std::vector<PartitionState> partitions() const override { return inner_->partitions(); }
  uint32_t partition_count() override { return inner_->partition_count(); }
  void forget(uint32_t partition) override { inner_->forget(partition); }
  LineSize line_size() const noexcept override { return inner_->line_size(); }
  void commit() override { inner_->commit(); }
  Position position() const override { return inner_->position(); }
  bool commit(const Position& position) override { return inner_->commit(position); }
  uint64_t commits_confirmed() const noexcept override { return inner_->commits_confirmed(); }
  Position committed() const override { return inner_->committed(); }
  bool resume_at(const Position& position) override { return inner_->resume_at(position); }
  void finish() override { inner_->finish(); }

 private:
  std::unique_ptr<LineSource> inner_;
  std::atomic<uint64_t>& counter_;
};

// Any endpoint read through its line source: network inputs, and files for `stream` (polled
// stdin, --follow).
class EndpointInput final : public PumpInput {
 public:
  EndpointInput(std::unique_ptr<LineSource> lines, bool network)
      : lines_(std::move(lines), read_), network_(network) {}
  const std::string& name() const noexcept override { return lines_.name(); }
  LineSource& lines() override { return lines_; }
  bool network() const noexcept override { return network_; }
  uint64_t bytes_read() const noexcept override { return read_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> read_{0};
  CountingLineSource lines_;
  bool network_;
};

}  // namespace

std::unique_ptr<PumpInput> open_pump_input(const std::string& endpoint, const EndpointOptions& options,
                                           FileReading files) {
  const bool file = endpoint_scheme(endpoint) == "file";
  if (file && files == FileReading::kBatch) return std::make_unique<BatchFileInput>(endpoint, options.max_line_bytes);
  return std::make_unique<EndpointInput>(open_line_source(endpoint, options), !file);
}

std::vector<std::unique_ptr<PumpInput>> open_pump_inputs(const std::vector<std::string>& endpoints,
                                                         const EndpointOptions& options, FileReading files,
                                                         bool verbose) {
  std::vector<std::unique_ptr<PumpInput>> inputs;
  for (const auto& e : endpoints) {
    inputs.push_back(open_pump_input(e, options, files));
    if (verbose && inputs.back()->network()) std::fprintf(stderr, "logpipe: reading %s\n", inputs.back()->name().c_str());
  }
  return inputs;
}

// The state file (--state) starts with the committed position of every input that has one (a
// followed file: where its next uncounted line starts), one line each, then a blank line, then
// the service's state (StreamService::save_state).
namespace {
constexpr std::string_view kInputsMagic = "logpipe-stream-inputs 1\n";

}  // namespace

std::string save_input_positions(const std::vector<std::unique_ptr<PumpInput>>& inputs) {
  std::string out(kInputsMagic);
  for (const auto& in : inputs) {
    const LineSource::Position p = in->lines().committed();
    if (p.empty() || in->network()) continue;  // Kafka keeps its own offsets
    fmt::format_to(std::back_inserter(out), "input {}:{}", in->name().size(), in->name());
    for (int64_t v : p) fmt::format_to(std::back_inserter(out), " {}", v);
    out += '\n';
  }
  out += '\n';
  return out;
}

// Gives each input the position saved for it (matched by name) and returns the rest of the text.
std::string_view restore_input_positions(std::string_view text, const std::vector<std::unique_ptr<PumpInput>>& inputs,
                                         bool verbose) {
  if (!text.starts_with(kInputsMagic)) runtime_error("not a logpipe stream state (or another version)");
  text.remove_prefix(kInputsMagic.size());
  for (;;) {
    const size_t eol = text.find('\n');
    if (eol == std::string_view::npos) runtime_error("the input positions are cut short");
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol + 1);
    if (line.empty()) return text;
    size_t colon = line.find(':');
    size_t len = 0;
    if (!line.starts_with("input ") || colon == std::string_view::npos ||
        std::from_chars(line.data() + 6, line.data() + colon, len).ec != std::errc() || line.size() < colon + 1 + len)
      runtime_error("an input position is malformed");
    const std::string_view name = line.substr(colon + 1, len);
    std::string_view numbers = line.substr(colon + 1 + len);
    LineSource::Position p;
    while (!numbers.empty()) {
      int64_t v = 0;
      auto [end, ec] = std::from_chars(numbers.data() + 1, numbers.data() + numbers.size(), v);
      if (numbers[0] != ' ' || ec != std::errc()) runtime_error("an input position is malformed");
      p.push_back(v);
      numbers.remove_prefix(static_cast<size_t>(end - numbers.data()));
    }
    for (const auto& in : inputs) {
      if (in->name() != name) continue;
      if (in->lines().resume_at(p)) {
        if (verbose) fmt::print(stderr, "logpipe: stream: {}: continuing at line {}\n", name, p.size() > 3 ? p[3] + 1 : 0);
      } else {
        fmt::print(stderr, "logpipe: stream: {}: not the file the state names (rotated or truncated since): reading it "
                           "from its start\n", name);
      }
    }
  }
}

}  // namespace logpipe

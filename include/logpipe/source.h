// What the core reads from: byte sources, the line reader, and line sources (one or many
// producers, with timeouts so that a quiet live input still lets time pass). The core only sees
// these interfaces; files, compression, sockets and Kafka implement them in the io layer
// (include/logpipe/io/).
#pragma once

#include "logpipe/huge_alloc.h"

#include <cstddef>
#include <cstdint>
#include <atomic>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace logpipe {

/// A source of bytes: a file, stdin, a decompressor, a socket.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  /// Reads up to n bytes; returns 0 at end of input. Throws Error on I/O failure or corrupt
  /// compressed data (the message names the source).
  virtual size_t read(char* buf, size_t n) = 0;
  /// The name used in messages: the path, `-` for stdin, or the endpoint.
  virtual const std::string& name() const noexcept = 0;
};

/// --max-line-bytes by default: longer lines are cut (memory stays bounded whatever the input,
/// /dev/zero included).
inline constexpr size_t kDefaultMaxLineBytes = 64u << 20;

/// How a line handed out by a reader relates to the line cap (--max-line-bytes).
enum class LineSize : uint8_t {
  kWhole,  ///< an ordinary line
  kCut,    ///< the first max-line-bytes of a longer line: counted as one malformed line, not parsed
  kRest,   ///< more of that longer line, in pieces up to its newline: skipped (already counted)
};

/// The line cap shared by every reader (files, pipes, sockets): a line with more than `max`
/// bytes before its newline is handed out as its first `max` bytes (kCut), then the rest in
/// pieces of whatever is buffered (kRest), so that no reader holds more than about `max` bytes
/// of one line and a stop signal is still seen between pieces.
class LongLineCutter {
 public:
  explicit LongLineCutter(size_t max_line) noexcept : max_(max_line) {}
  /// A line ends here (at its newline, or at the end of input): kWhole, or kRest when it is the
  /// end of a line already cut.
  LineSize end_line() noexcept {
    LineSize s = cutting_ ? LineSize::kRest : LineSize::kWhole;
    cutting_ = false;
    return s;
  }
  /// The line being read has `length` bytes buffered; `complete` when its newline follows them.
  /// Returns how many of them to hand out now as a piece (its kind in `size`: kCut, or kRest
  /// before the newline), or 0: the line ends here whole or as the last kRest piece (end_line()),
  /// or, when not complete, more must be read first.
  size_t cut(size_t length, bool complete, LineSize& size) noexcept {
    if (cutting_) {
      if (complete) return 0;
      size = LineSize::kRest;
      return length;
    }
    if (length <= max_) return 0;
    cutting_ = true;
    size = LineSize::kCut;
    return max_;
  }
  /// True inside a line that was cut (its rest is being skipped).
  bool cutting() const noexcept { return cutting_; }
  size_t max() const noexcept { return max_; }

 private:
  size_t max_;
  bool cutting_ = false;
};

/// Splits a byte source into lines with one large reused buffer: no per-line allocation. The last
/// line without a final newline is a line. A trailing CR is stripped. Every returned view is
/// followed in memory by at least kLinePadding readable bytes (for SIMD parsers).
///
/// When the source fails mid-stream (a gzip or zstd file cut short, a read error), every complete
/// line read before is still returned, then the partial line left in the buffer (if any) with
/// truncated() true, and only the next call throws the source's Error: nothing read is lost.
///
/// A line longer than `max_line` bytes is handed out in pieces (LineSize): the buffer never grows
/// much beyond `max_line`.
class LineReader {
 public:
  static constexpr size_t kLinePadding = 64;
  explicit LineReader(ByteSource& source, size_t buffer_size = 1 << 20, size_t max_line = kDefaultMaxLineBytes);
  /// Next line, or false at end of input. The view is valid until the next call. Throws the
  /// source's Error once the lines read before the failure have been returned.
  bool next(std::string_view& line);
  /// True when the line just returned was cut short because the source failed inside it: callers
  /// count it as malformed (ParseError::kTruncatedLine).
  bool truncated() const noexcept { return truncated_; }
  /// Whether the line just returned is whole or a piece of a line longer than the cap.
  LineSize line_size() const noexcept { return size_; }
  /// 1-based number of the line last returned (pieces of a cut line share its number).
  uint64_t line_number() const noexcept { return line_number_; }
  /// Total bytes consumed so far (including newlines).
  uint64_t bytes_read() const noexcept { return bytes_read_; }
  const std::string& name() const noexcept { return source_.name(); }
  /// The bytes read from the source but not handed out as lines yet.
  std::string_view unread() const noexcept { return {buffer_.data() + begin_, end_ - begin_}; }
  /// True once the source failed or ended (what is unread is all there will be).
  bool exhausted() const noexcept { return eof_; }

 private:
  bool refill();
  bool take_piece(std::string_view& line, size_t n);
  void release() noexcept;
  ByteSource& source_;
  std::vector<char, HugePageAllocator<char>> buffer_;  // 1 MiB: one huge page, not 257 faults
  size_t begin_ = 0;  // start of unread data
  size_t end_ = 0;    // end of valid data
  size_t scan_ = 0;   // where to resume the newline search
  bool eof_ = false;
  bool truncated_ = false;
  LongLineCutter cutter_;
  LineSize size_ = LineSize::kWhole;
  std::exception_ptr error_;  // the source's failure, thrown once its lines are handed out
  uint64_t line_number_ = 0;
  uint64_t bytes_read_ = 0;
};

/// Set by SIGINT/SIGTERM and read by long loops on any thread. A lock-free atomic, so that a
/// signal handler may store into it.
using StopFlag = std::atomic<bool>;
static_assert(StopFlag::is_always_lock_free);

/// True when `flag` is set (a null flag is never set).
inline bool stop_requested(const StopFlag* flag) noexcept {
  return flag && flag->load(std::memory_order_relaxed);
}

/// A source of lines from one or many producers.
class LineSource {
 public:
  enum class Status { kLine, kTimeout, kEnd };
  virtual ~LineSource() = default;
  /// Waits at most timeout_ms for the next line. kLine: `line` holds it (valid until the next
  /// call; no trailing newline). kTimeout: nothing arrived (lets callers close windows, handle
  /// signals). kEnd: the input is finished. Throws Error on I/O failure.
  virtual Status next(std::string_view& line, int timeout_ms) = 0;
  /// The name for messages and FILE:LINE reports (path, endpoint, or endpoint/client).
  virtual const std::string& name() const noexcept = 0;
  /// Line number within the current producer (file line, or per connection), 1-based.
  virtual uint64_t line_number() const noexcept = 0;
  /// True when the line just returned was cut short because its producer went away mid-line (a
  /// client disconnected): callers count it as malformed (ParseError::kTruncatedLine).
  virtual bool truncated() const noexcept { return false; }
  /// The partition of the line just returned (Kafka), 0 for unpartitioned sources.
  virtual uint32_t partition() const noexcept { return 0; }
  /// A partitioned source's partitions now assigned to this reader, and whether each has handed
  /// out everything it holds (caught up: an idle partition may then stop holding event time
  /// back). Empty for unpartitioned sources.
  struct PartitionState {
    uint32_t partition;
    bool caught_up;
    /// Messages not read yet: the broker's high watermark (as of the last fetch) minus the next
    /// offset to read; -1 when not known yet.
    int64_t lag = -1;
  };
  virtual std::vector<PartitionState> partitions() const { return {}; }
  /// The partitions of the whole input (Kafka: of the topic, all readers together), 0 for
  /// unpartitioned sources. May ask the brokers (bounded wait); throws Error when they do not say.
  virtual uint32_t partition_count() { return 0; }
  /// The caller dropped what it had counted of `partition` (stream --scale-out, a revoked
  /// partition): messages of it delivered again later are handed out again, not skipped.
  virtual void forget(uint32_t partition) { (void)partition; }
  /// Whether the line just returned is whole or a piece of a line longer than --max-line-bytes
  /// (callers count a kCut piece as one malformed line, ParseError::kLineTooLong, and skip kRest
  /// pieces).
  virtual LineSize line_size() const noexcept { return LineSize::kWhole; }
  /// Everything returned so far has been fully processed (Kafka commits offsets; others no-op).
  virtual void commit() {}
  /// Where the source stands: Kafka, per partition, the offset after the last message whose
  /// lines were all returned (-1: none); empty for sources without offsets. Taken now and
  /// committed later with commit(position), once the records read so far are fully processed.
  using Position = std::vector<int64_t>;
  virtual Position position() const { return {}; }
  /// Commits a position taken earlier (partitions no longer assigned are skipped). Returns true
  /// when the commit is done on return; false when it failed (reported; a later commit covers it)
  /// or is asynchronous (Kafka: confirmed later, counted by commits_confirmed()).
  virtual bool commit(const Position& position) {
    (void)position;
    return true;
  }
  /// Asynchronous commits (Kafka) confirmed so far; 0 for sources whose commit() is synchronous.
  virtual uint64_t commits_confirmed() const noexcept { return 0; }
  /// Restarts (stream --state): the last position committed (commit() or commit(position)), or
  /// empty; resume_at() gives a source that has read nothing yet a position saved by an earlier
  /// run, and returns false when it cannot continue there (then it reads from its start).
  /// A followed file's position is {device, inode, byte offset, line number} of its next line.
  virtual Position committed() const { return {}; }
  virtual bool resume_at(const Position& position) {
    (void)position;
    return false;
  }
  /// A plain byte stream (a file, stdin) may give up the rest of its bytes to a reader of whole
  /// blocks (anonymize's fast path): returns its byte source and sets `unread` to what it has read
  /// but not returned as lines, or returns null when it is not such a stream. The line source is
  /// not used afterwards.
  virtual ByteSource* hand_over(std::string_view& unread) {
    (void)unread;
    return nullptr;
  }
  /// Stops taking new data (a stop signal): no new client is accepted, and each open connection
  /// hands out the partial line it holds (truncated() true) before next() returns kEnd. Call it
  /// when next() has just returned kTimeout. Files and Kafka: no-op (they end at kEnd).
  virtual void finish() {}
};

/// A byte source read as lines (LineReader): blocking reads, never a timeout. Owns the source.
class ByteLineSource final : public LineSource {
 public:
  /// `buffer_size`: the reader's first buffer (a small file needs no more than its size).
  explicit ByteLineSource(std::unique_ptr<ByteSource> bytes, size_t max_line = kDefaultMaxLineBytes,
                          size_t buffer_size = 1 << 20)
      : bytes_(std::move(bytes)), reader_(*bytes_, buffer_size, max_line) {}
  Status next(std::string_view& line, int) override { return reader_.next(line) ? Status::kLine : Status::kEnd; }
  const std::string& name() const noexcept override { return bytes_->name(); }
  uint64_t line_number() const noexcept override { return reader_.line_number(); }
  bool truncated() const noexcept override { return reader_.truncated(); }
  LineSize line_size() const noexcept override { return reader_.line_size(); }
  ByteSource* hand_over(std::string_view& unread) override {
    if (reader_.exhausted()) return nullptr;  // a failure may be pending: read it line by line
    unread = reader_.unread();
    return bytes_.get();
  }

 private:
  std::unique_ptr<ByteSource> bytes_;
  LineReader reader_;
};

/// Wraps a source so that a stop signal loses nothing: while `*stop` is zero it is the source;
/// once set, it hands out the lines that already arrived (next() with no wait), then calls
/// finish() and hands out the partial lines of open connections, then returns kEnd; each of the
/// two phases lasts at most kStopDrainLimitUs (a sender that keeps flooding does not hold us).
/// Readers treat that kEnd as the end of input.
class StopDrainingSource final : public LineSource {
 public:
  static constexpr int64_t kStopDrainLimitUs = 10'000'000;
  StopDrainingSource(LineSource& source, const StopFlag* stop) : source_(source), stop_(stop) {}
  Status next(std::string_view& line, int timeout_ms) override;
  const std::string& name() const noexcept override { return source_.name(); }
  uint64_t line_number() const noexcept override { return source_.line_number(); }
  bool truncated() const noexcept override { return source_.truncated(); }
  uint32_t partition() const noexcept override { return source_.partition(); }
  std::vector<PartitionState> partitions() const override { return source_.partitions(); }
  uint32_t partition_count() override { return source_.partition_count(); }
  void forget(uint32_t partition) override { source_.forget(partition); }
  LineSize line_size() const noexcept override { return source_.line_size(); }
  void commit() override { source_.commit(); }
  Position position() const override { return source_.position(); }
  bool commit(const Position& position) override { return source_.commit(position); }
  uint64_t commits_confirmed() const noexcept override { return source_.commits_confirmed(); }
  Position committed() const override { return source_.committed(); }
  bool resume_at(const Position& position) override { return source_.resume_at(position); }
  void finish() override { source_.finish(); }
  /// True once the stop flag was seen (the input ended because of it).
  bool stopped() const noexcept { return phase_ != Phase::kRunning; }

 private:
  enum class Phase { kRunning, kDraining, kFinished };
  LineSource& source_;
  const StopFlag* stop_;
  Phase phase_ = Phase::kRunning;
  int64_t drain_deadline_us_ = 0;
};

}  // namespace logpipe

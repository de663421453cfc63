// The record pump: the one read loop of every command that reads logs (analyze, stream,
// calibrate, anonymize).
//
//   input (PumpInput: a file, stdin, a socket server, a Kafka topic; opened by the io layer)
//     -> lines (LineSource, with timeouts so that a quiet live input still lets time pass)
//     -> format resolution (`auto`: the first lines of each input are sampled, its format voted
//        on them, and the sampled lines replayed)
//     -> parser -> malformed-line accounting (MalformedLog: counts, FILE:LINE, --rejects, --strict)
//     -> a sink: records (RecordSink) or, for anonymize, the lines themselves (LineSink)
//
// with hooks for what a live command does between lines (PumpObserver: periodic ticks, quiet
// inputs, the end of an input, which is where offsets may be committed). A stop signal ends a
// file at once and drains a network input of what already arrived (StopDrainingSource). A large
// regular file can be split into byte ranges parsed on several threads when the sink can split
// and join (analyze's Report): malformed lines are then replayed in order, so counts and FILE:LINE
// are what one thread gives. Each input's counts are kept: an input from which no record could be
// read, or whose malformed share exceeds --max-malformed, fails the run (exit 3) once every input
// was read, naming the input, its format and its first bad line -- for every command alike.
#pragma once

#include "logpipe/format.h"
#include "logpipe/malformed.h"
#include "logpipe/record.h"
#include "logpipe/source.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace logpipe {

/// One input of a command, opened before any work. The io layer implements it (io/inputs.h);
/// tests implement it in memory.
class PumpInput {
 public:
  virtual ~PumpInput() = default;
  /// The name for messages (path, endpoint).
  virtual const std::string& name() const noexcept = 0;
  /// The input's lines, in order.
  virtual LineSource& lines() = 0;
  /// A network input (socket, Kafka): it has no end of its own, and a stop signal drains what
  /// already arrived instead of ending it at once.
  virtual bool network() const noexcept { return false; }
  /// The size of a regular, uncompressed file whose byte ranges may be read on several threads;
  /// 0 for an input read only in order.
  virtual uint64_t splittable_size() const noexcept { return 0; }
  /// A reader of bytes [begin, end) of a splittable input; several may be used at once, on
  /// different threads.
  virtual std::unique_ptr<ByteSource> range(uint64_t begin, uint64_t end);
  /// Raw bytes consumed so far (compressed bytes for a compressed file), for progress bars;
  /// safe to read from another thread.
  virtual uint64_t bytes_read() const noexcept { return 0; }
  /// The raw size when known in advance (a regular file), else 0.
  virtual uint64_t size() const noexcept { return 0; }
  /// --max-line-bytes: the line cap of this input's readers (ranges, a sink's own reading).
  virtual size_t max_line_bytes() const noexcept { return kDefaultMaxLineBytes; }
};

/// Receives the parsed records of a pump, in input order.
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  /// One record (views valid during the call). kNone: taken. Another error: the sink cannot use
  /// the record (a stream cannot place a record without a time in a window) and the pump counts
  /// its line as malformed with that reason.
  virtual ParseError on_record(const Record& record) = 0;
  /// For a split file: an empty sink, with the same settings, for the input range right after
  /// everything this one has seen, to be filled on another thread; null (the default) when the
  /// sink needs every record in order on one thread.
  virtual std::unique_ptr<RecordSink> split() { return nullptr; }
  /// Appends a sink returned by split() whose range directly follows what this one has seen.
  virtual void join(RecordSink& later) { (void)later; }
};

/// Counts of a pump. lines = records + malformed + blank (rejected records count as malformed).
struct PumpStats {
  uint64_t lines = 0;
  uint64_t records = 0;
  uint64_t blank = 0;
  uint64_t malformed = 0;
  uint64_t bytes = 0;  ///< line bytes, newlines included (decompressed)
};

/// Where a line comes from.
struct LineOrigin {
  const std::string& source;  ///< the line source's name (a path, or an endpoint and its client)
  uint64_t line = 0;          ///< 1-based line number within that source
  bool truncated = false;     ///< cut short by a failing input or a client that went away
  uint32_t partition = 0;     ///< the source's partition (Kafka), 0 for unpartitioned sources
  bool too_long = false;      ///< the first --max-line-bytes of a longer line (LineSize::kCut);
                              ///< the rest of that line is never handed out
};

/// Receives the lines of a pump themselves (anonymize rewrites them byte for byte).
class LineSink {
 public:
  virtual ~LineSink() = default;
  /// The format of the lines that follow: before the first line, and again when an input of
  /// another format begins (formats are detected per input).
  virtual void on_format(const std::string& format) = 0;
  /// Every line, blank ones included, in input order (views valid during the call).
  virtual void on_line(std::string_view line, const LineOrigin& where) = 0;
  /// The current input ended (or failed, or was stopped): write out what is buffered.
  virtual void on_input_end() {}
  /// Optional fast path for a plain byte input (a file, stdin) once the format is known: the sink
  /// reads the rest itself in whole-line blocks, with no copy per line. `unread` comes first,
  /// then `rest`; the first of those lines is line `lines_before + 1` of `source`. A line longer
  /// than `max_line` bytes is one malformed line (ParseError::kLineTooLong), its rest skipped. It
  /// stops at a stop signal between blocks and throws the input's Error after what was read
  /// before the failure (as the pump would). It adds the lines, blank lines and bytes it read to
  /// `counted` (also before throwing). Returns false when the sink has no such path (the default).
  virtual bool read_rest(ByteSource& rest, std::string_view unread, const std::string& source,
                         uint64_t lines_before, size_t max_line, const StopFlag* stop, PumpStats& counted) {
    (void)rest;
    (void)unread;
    (void)source;
    (void)lines_before;
    (void)max_line;
    (void)stop;
    (void)counted;
    return false;
  }
};

/// Hooks of a live command between lines. Every call happens on the pump's thread.
class PumpObserver {
 public:
  virtual ~PumpObserver() = default;
  /// An input is about to be read.
  virtual void on_input(PumpInput& input) { (void)input; }
  /// Every few thousand lines, and after every poll interval in which a live input gave nothing
  /// (`quiet`): periodic work (statistics, the clock of a quiet stream, checkpoints). Returning
  /// false ends the input now, as if it had ended (--idle-exit on a pipe).
  virtual bool on_tick(PumpInput& input, bool quiet) {
    (void)input;
    (void)quiet;
    return true;
  }
  /// The input ended: `complete` when every line it gave was handed out (RecordPump::read_through),
  /// false when a stop signal cut a file short or the input failed.
  virtual void on_input_end(PumpInput& input, bool complete) {
    (void)input;
    (void)complete;
  }
};

/// How a pump reads.
struct PumpOptions {
  std::string format = "auto";  ///< --format; `auto` is detected on each input's first lines
  bool verbose = false;         ///< print the detected formats (and splits) on stderr
  unsigned threads = 1;         ///< byte ranges per splittable input, when the sink splits
  const StopFlag* stop = nullptr;  ///< a stop signal (SIGINT, SIGTERM)
  int poll_ms = 100;            ///< how long a read waits before a quiet tick
  /// When set, an input that fails while being read (a gzip or zstd file cut short, a socket
  /// error, a fatal broker error) is recorded here, its message naming it, and the pump goes on
  /// with the next input: the lines read before the failure stay counted. Otherwise it throws.
  std::vector<std::string>* input_errors = nullptr;
  /// --max-malformed: once every input was read, an input whose malformed lines are more than this
  /// share of its non-blank lines, or that gave no record at all, makes run() throw Error (exit 3)
  /// naming it. 1 (100%) turns the check off; an input with no line at all always passes.
  double max_malformed = 0.5;
};


/// What one input gave: its format and counts, and its first malformed line.
struct InputReport {
  std::string name;
  std::string format;      ///< "" when the input gave no line to detect a format from
  PumpStats stats;         ///< for run_lines(): records = non-blank lines the sink did not reject
  std::string first_malformed;  ///< `FILE:LINE: reason`, empty when none
};

/// Lines sampled to detect a format.
inline constexpr size_t kFormatSampleLines = 16;
/// At most this many bytes of sampled lines are kept (copied) while the format is unknown: a line
/// that would pass it decides the format with those before it (16 sniffed lines of 64 MiB used to
/// pin 1 GiB per listener).
inline constexpr size_t kFormatSampleBytes = 1u << 20;
/// Byte ranges smaller than this are not worth a thread.
inline constexpr uint64_t kMinRangeBytes = 256 * 1024;

/// The format list of some inputs, as a report shows it: each (input, format)'s format once, in
/// order of appearance (`combined, edx`); `fallback` when none has one.
std::string format_list(const std::vector<std::pair<std::string, std::string>>& input_formats,
                        const std::string& fallback);

/// The pump. One run per command; not thread-safe (its split workers are its own).
class RecordPump {
 public:
  /// Throws Error (usage) for an unknown --format.
  RecordPump(PumpOptions options, MalformedLog& malformed);
  ~RecordPump();
  RecordPump(const RecordPump&) = delete;
  RecordPump& operator=(const RecordPump&) = delete;

  /// Reads every input in order into `sink`.
  void run(std::span<const std::unique_ptr<PumpInput>> inputs, RecordSink& sink, PumpObserver* observer = nullptr);
  /// Reads every input in order, handing out lines instead of records (the format is still
  /// resolved, for the sink's sake; nothing is parsed here).
  void run_lines(std::span<const std::unique_ptr<PumpInput>> inputs, LineSink& sink,
                 PumpObserver* observer = nullptr);

  /// The format of the input being read (or of the last one): the --format value's canonical
  /// name, or the detected one ("" while `auto` has seen no line of it).
  const std::string& format() const noexcept { return format_; }
  /// The formats of all inputs read so far, each once, in order of appearance (`combined, edx`).
  std::string formats() const;
  const PumpStats& stats() const noexcept { return stats_; }
  /// Where the record being handed to a RecordSink comes from (valid during on_record, on the
  /// pump's thread; not for split files): a sink that tracks event time per partition asks here.
  const LineOrigin& origin() const noexcept { return *origin_; }
  /// Per input, in order, once run() or run_lines() returned (or threw).
  const std::vector<InputReport>& inputs() const noexcept { return reports_; }
  /// True when a stop signal ended the reading.
  bool stopped() const noexcept { return stopped_; }
  /// True when every line input i gave was handed to the sink: it was read to its end, or it is a
  /// network input drained after a stop signal (neither a file cut short by the stop, nor a
  /// failed input). What it gave may then be committed once processed (Kafka offsets).
  bool read_through(size_t i) const noexcept { return i < read_through_.size() && read_through_[i]; }

 private:
  struct Lines;
  struct Sampled;
  void resolve_format(std::span<const std::string> sample, std::span<const Sampled> about,
                      std::string_view also, const std::string& source);
  void begin_input(PumpInput& input);
  void end_input(size_t index, bool count_records);
  // Throws Error (exit 3) naming the inputs that fail --max-malformed.
  void check_inputs() const;
  // Reads an input in order; true when it was read through (see read_through()). Once the format
  // is known, `take_rest(source)` may read the rest of a plain input itself (true: it did).
  template <typename OnLine, typename TakeRest>
  bool read(PumpInput& input, PumpObserver* observer, OnLine&& on_line, TakeRest&& take_rest);
  bool read_split(PumpInput& input, RecordSink& sink);
  void handle(std::string_view line, const LineOrigin& where, RecordSink& sink);

  PumpOptions options_;
  MalformedLog& malformed_;
  std::unique_ptr<Parser> parser_;
  std::string format_;
  Record record_;
  const LineOrigin* origin_ = nullptr;
  PumpStats stats_;
  bool stopped_ = false;
  std::vector<bool> read_through_;
  std::vector<InputReport> reports_;
  PumpStats input_start_;           // stats_ when the current input began
  uint64_t malformed_at_start_ = 0;  // malformed_.total() then
};

}  // namespace logpipe

// Byte sinks: stdout, files (gzip/zstd by suffix), with one buffered writer API.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace logpipe {

/// A buffered destination of bytes. write() copies into a buffer; flush() pushes it out.
/// Failures (disk full, closed pipe) throw Error naming the destination.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual void write(std::string_view data) = 0;
  virtual void flush() = 0;
  /// Flushes and finalises (compression trailers). Safe to call twice.
  virtual void close() = 0;
  /// False while something written is still on its way or was lost: sinks that deliver in the
  /// background (alertmanager://) and drop the oldest when their queue is full. The others deliver
  /// in flush() (or throw), so after a flush() they have delivered everything.
  virtual bool all_delivered() const noexcept { return true; }
  virtual const std::string& name() const noexcept = 0;
};

/// Opens `-` (stdout) or a path for writing. A path ending in `.gz` or `.zst` is compressed.
/// `append` opens an existing file for appending (alerts). Throws Error when it cannot open.
/// A regular file keeps only whole writes: a failed write (disk full) is truncated away.
std::unique_ptr<ByteSink> open_output(const std::string& path, bool append = false);

/// Opens a path for a result that is only useful whole (a report, thresholds, an anonymised
/// copy): the bytes go to a temporary file next to it, renamed over `path` by close(). If the
/// sink is destroyed without a successful close() (an error, disk full), the temporary file is
/// removed and `path` is left as it was. `-` and existing non-regular files (/dev/full, a FIFO)
/// are written in place, as open_output does, and so is a file whose directory refuses new files.
std::unique_ptr<ByteSink> open_output_replacing(const std::string& path);

}  // namespace logpipe

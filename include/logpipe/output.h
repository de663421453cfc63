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
std::unique_ptr<ByteSink> open_output(const std::string& path, bool append = false);

}  // namespace logpipe

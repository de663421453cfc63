// Byte sinks: where the core writes bytes (reports, rejected lines, anonymised logs). Files,
// compression and network outputs implement it in the io layer (include/logpipe/io/).
#pragma once

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

}  // namespace logpipe

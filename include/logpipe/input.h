// Byte sources and the line reader. Compression is detected by magic bytes, not by name.
#pragma once

#include "logpipe/huge_alloc.h"

#include <cstddef>
#include <cstdint>
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

/// Opens a path (`-` for stdin) for reading; gzip and zstd are detected by their magic bytes and
/// decompressed on the fly. Throws Error (runtime) when the file cannot be opened.
std::unique_ptr<ByteSource> open_input(const std::string& path);

/// Wraps a source so that gzip or zstd content is decompressed (detected from the first bytes).
std::unique_ptr<ByteSource> maybe_decompress(std::unique_ptr<ByteSource> raw);

/// Splits a byte source into lines with one large reused buffer: no per-line allocation. The last
/// line without a final newline is a line. A trailing CR is stripped. Every returned view is
/// followed in memory by at least kLinePadding readable bytes (for SIMD parsers).
///
/// When the source fails mid-stream (a gzip or zstd file cut short, a read error), every complete
/// line read before is still returned, then the partial line left in the buffer (if any) with
/// truncated() true, and only the next call throws the source's Error: nothing read is lost.
class LineReader {
 public:
  static constexpr size_t kLinePadding = 64;
  explicit LineReader(ByteSource& source, size_t buffer_size = 1 << 20);
  /// Next line, or false at end of input. The view is valid until the next call. Throws the
  /// source's Error once the lines read before the failure have been returned.
  bool next(std::string_view& line);
  /// True when the line just returned was cut short because the source failed inside it: callers
  /// count it as malformed (ParseError::kTruncatedLine).
  bool truncated() const noexcept { return truncated_; }
  /// 1-based number of the line last returned.
  uint64_t line_number() const noexcept { return line_number_; }
  /// Total bytes consumed so far (including newlines).
  uint64_t bytes_read() const noexcept { return bytes_read_; }
  const std::string& name() const noexcept { return source_.name(); }

 private:
  bool refill();
  ByteSource& source_;
  std::vector<char, HugePageAllocator<char>> buffer_;  // 1 MiB: one huge page, not 257 faults
  size_t begin_ = 0;  // start of unread data
  size_t end_ = 0;    // end of valid data
  size_t scan_ = 0;   // where to resume the newline search
  bool eof_ = false;
  bool truncated_ = false;
  std::exception_ptr error_;  // the source's failure, thrown once its lines are handed out
  uint64_t line_number_ = 0;
  uint64_t bytes_read_ = 0;
};

}  // namespace logpipe

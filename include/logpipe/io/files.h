// Files and standard streams: reading with transparent gzip/zstd decompression (detected by
// magic bytes, not by name), and writing with compression chosen by suffix.
#pragma once

#include "logpipe/error.h"
#include "logpipe/io/layer.h"
#include "logpipe/sink.h"
#include "logpipe/source.h"

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace logpipe {

/// The compression of data that starts with `head`: gzip (1f 8b), zstd (28 b5 2f fd) or none.
enum class Compression : uint8_t { kNone, kGzip, kZstd };
Compression compression_of(std::string_view head) noexcept;

/// Compression of the file at `path` from its first bytes (kNone when it cannot be read).
Compression file_compression(const std::string& path) noexcept;

/// Opens a path (`-` for stdin) for reading; gzip and zstd are detected by their magic bytes and
/// decompressed on the fly. Throws Error (runtime) when the file cannot be opened.
std::unique_ptr<ByteSource> open_input(const std::string& path);

/// Reads descriptor `fd` (not owned) after replaying `head`, bytes already read from it (to sniff
/// the magic), decompressing gzip or zstd.
std::unique_ptr<ByteSource> decompress_fd(int fd, std::string head, const std::string& name);

/// The failure of a regular file (open on `fd`) that ended before the size it had when opened: it
/// was truncated while being read (copytruncate rotation, a file rewritten in place). A runtime
/// error naming it, with both sizes.
Error truncated_while_read(const std::string& name, uint64_t size_when_opened, int fd);

/// Wraps a source so that gzip or zstd content is decompressed (detected from the first bytes).
std::unique_ptr<ByteSource> maybe_decompress(std::unique_ptr<ByteSource> raw);

/// Opens `-` (stdout) or a path for writing. A path ending in `.gz` or `.zst` is compressed.
/// `append` opens an existing file for appending (alerts). Throws Error when it cannot open.
/// A regular file keeps only whole writes: a failed write (disk full) is truncated away.
std::unique_ptr<ByteSink> open_output(const std::string& path, bool append = false);

/// Opens a path for a result that is only useful whole (a report, thresholds, an anonymised
/// copy): the bytes go to a temporary file next to it, renamed over `path` by close(). If the
/// sink is destroyed without a successful close() (an error, disk full), the temporary file is
/// removed and `path` is left as it was. `-` and existing non-regular files (/dev/full, a FIFO)
/// are written in place, as open_output does, and so is a file whose directory refuses new files.
/// `always_zstd`: compressed with zstd whatever the name (unless it ends in `.gz`): saved states.
std::unique_ptr<ByteSink> open_output_replacing(const std::string& path, bool always_zstd = false);

}  // namespace logpipe

// Lines from a path or stdin, with poll() timeouts so that a caller waiting on a quiet pipe can
// still close windows and notice signals, and with `follow` (tail -F): keep reading as the file
// grows, reopen it when it is rotated (new inode), start over when it is truncated.
//
// One large reused buffer, lines returned as views into it (no per-line allocation). gzip and
// zstd are recognised by their magic bytes on the first read and decoded through the core's
// decompressors (blocking reads then: a compressed pipe is not a live stream).
#include "endpoint_factories.h"

#include "logpipe/error.h"
#include "logpipe/io/files.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace logpipe::detail {
namespace {

constexpr size_t kChunk = 1 << 20;
constexpr size_t kPadding = LineReader::kLinePadding;
constexpr int kFollowPollMs = 200;

class FileLineSource final : public LineSource {
 public:
  FileLineSource(const std::string& path, bool follow, size_t max_line)
      : path_(path), follow_(follow && path != "-"), cutter_(max_line) {
    if (path == "-") {
      fd_ = 0;
      owned_ = false;
    } else {
      fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd_ < 0) system_error(errno, "cannot open '" + path + "'");
    }
    struct stat st {};
    if (::fstat(fd_, &st) == 0) {
      regular_ = S_ISREG(st.st_mode);
      if (regular_) size_at_open_ = st.st_size;
      dev_ = st.st_dev;
      ino_ = st.st_ino;
    }
    if (!regular_ && follow_) follow_ = false;  // a pipe or socket already "follows"
    // The buffer is allocated on the first read, the size of a small file (3,000 files opened
    // before any work held 3 GB of buffers), and freed at the end of the input.
    first_chunk_ = regular_ && !follow_ && size_at_open_ < static_cast<off_t>(kChunk)
                       ? static_cast<size_t>(size_at_open_) + 1
                       : kChunk;
  }
  ~FileLineSource() override {
    if (owned_ && fd_ >= 0) ::close(fd_);
  }

  Status next(std::string_view& line, int timeout_ms) override {
    truncated_ = false;
    for (;;) {
      if (scan_ < end_) {
        if (const void* nl = std::memchr(buffer_.data() + scan_, '\n', end_ - scan_)) {
          size_t at = static_cast<size_t>(static_cast<const char*>(nl) - buffer_.data());
          if (size_t piece = cutter_.cut(at - begin_, true, size_)) return take_piece(line, piece);
          line = take(at, at + 1);
          return Status::kLine;
        }
        scan_ = end_;
      }
      // No newline buffered: a line over --max-line-bytes goes out in pieces, the buffer stays bounded.
      if (size_t piece = cutter_.cut(end_ - begin_, false, size_)) return take_piece(line, piece);
      if (eof_) {
        if (begin_ < end_) {  // last line without a final newline
          line = take(end_, end_);
          truncated_ = error_ != nullptr;  // the decoder failed inside this line
          return Status::kLine;
        }
        if (error_) std::rethrow_exception(error_);  // after every line read before it
        std::vector<char>().swap(buffer_);
        begin_ = end_ = scan_ = 0;
        return Status::kEnd;
      }
      int got = fill(timeout_ms);
      if (got < 0) return Status::kTimeout;
      if (got == 0 && pending_rotation_) {
        // The old file is done: flush its unterminated last line before switching.
        if (begin_ < end_) {
          line = take(end_, end_);
          return Status::kLine;
        }
        if (!reopen()) return Status::kTimeout;
      }
    }
  }
  const std::string& name() const noexcept override { return path_; }
  uint64_t line_number() const noexcept override { return line_number_; }

  // A followed file has a position (stream --state): the start of its next line. Lines are
  // committed in memory here; the caller saves committed() and gives it back to resume_at().
  Position position() const override {
    if (!follow_ || decoder_ || pending_rotation_) return {};
    const off_t next_line = offset_ - static_cast<off_t>(end_ - begin_);
    return {static_cast<int64_t>(dev_), static_cast<int64_t>(ino_), static_cast<int64_t>(next_line),
            static_cast<int64_t>(line_number_)};
  }
  void commit() override { committed_ = position(); }
  bool commit(const Position& p) override {
    committed_ = p;
    return true;
  }
  Position committed() const override { return committed_; }
  bool resume_at(const Position& p) override {
    if (!follow_ || sniffed_ || p.size() != 4 || p[2] < 0) return false;
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || static_cast<int64_t>(st.st_dev) != p[0] || static_cast<int64_t>(st.st_ino) != p[1] ||
        st.st_size < p[2])
      return false;  // another file has the name (rotated), or it was truncated: from its start
    if (::lseek(fd_, static_cast<off_t>(p[2]), SEEK_SET) < 0) return false;
    offset_ = static_cast<off_t>(p[2]);
    line_number_ = static_cast<uint64_t>(p[3]);
    sniffed_ = true;  // followed files are never compressed
    committed_ = p;
    return true;
  }
  bool truncated() const noexcept override { return truncated_; }
  LineSize line_size() const noexcept override { return size_; }

 private:
  // A piece of a line over the cap (size_ set by the cutter): the next `n` bytes.
  Status take_piece(std::string_view& line, size_t n) {
    line = std::string_view(buffer_.data() + begin_, n);
    begin_ += n;
    scan_ = std::max(scan_, begin_);
    if (size_ == LineSize::kCut) ++line_number_;
    return Status::kLine;
  }

  // The line [begin_, end) ends; the next starts at next_begin. Strips one trailing CR.
  std::string_view take(size_t end, size_t next_begin) {
    std::string_view l(buffer_.data() + begin_, end - begin_);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    begin_ = scan_ = next_begin;
    size_ = cutter_.end_line();
    if (size_ == LineSize::kWhole) ++line_number_;
    return l;
  }

  // Reads more bytes after end_. Returns bytes read, 0 at end of file, -1 on timeout.
  int fill(int timeout_ms) {
    if (buffer_.empty()) buffer_.resize(first_chunk_ + kPadding);
    if (begin_ > 0) {  // move the partial line to the front
      std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      scan_ -= begin_;
      begin_ = 0;
    }
    if (buffer_.size() - kPadding - end_ < std::min(kChunk / 2, first_chunk_))  // a long line: grow, not far past the cap
      buffer_.resize(std::max(buffer_.size() + kChunk / 2, std::min(buffer_.size() * 2, cutter_.max() + kChunk + kPadding)));
    char* dst = buffer_.data() + end_;
    size_t room = buffer_.size() - kPadding - end_;
    if (decoder_) {
      size_t n = 0;
      try {
        n = decoder_->read(dst, room);
      } catch (...) {  // a compressed file cut short: hand out what was decoded, then fail
        error_ = std::current_exception();
        eof_ = true;
        return 0;
      }
      if (n == 0) eof_ = true;
      end_ += n;
      return static_cast<int>(n > 0);
    }
    if (!regular_) {
      pollfd p{fd_, POLLIN, 0};
      int r = ::poll(&p, 1, timeout_ms);
      if (r == 0) return -1;
      if (r < 0) {
        if (errno == EINTR) return -1;
        system_error(errno, "cannot poll '" + path_ + "'");
      }
    }
    ssize_t n;
    do n = ::read(fd_, dst, room);
    while (n < 0 && errno == EINTR);
    if (n < 0) system_error(errno, "cannot read '" + path_ + "'");
    if (n == 0) return at_end(timeout_ms);
    offset_ += n;
    if (!sniffed_) {
      sniffed_ = true;
      if (!follow_ && compression_of(std::string_view(dst, static_cast<size_t>(n))) != Compression::kNone) {
        // Hand the bytes read so far back to the decoder and read through it from now on.
        decoder_ = decompress_fd(fd_, std::string(dst, static_cast<size_t>(n)), path_);
        return 1;
      }
    }
    end_ += static_cast<size_t>(n);
    return 1;
  }

  int at_end(int timeout_ms) {
    if (!follow_) {
      // Shorter than when it was opened: truncated while being read. What was read is handed
      // out, then the input fails, naming the file (as analyze does, inputs.cc).
      if (regular_ && offset_ < size_at_open_)
        error_ = std::make_exception_ptr(truncated_while_read(path_, static_cast<uint64_t>(size_at_open_), fd_));
      eof_ = true;
      return 0;
    }
    struct stat st {};
    if (::stat(path_.c_str(), &st) == 0) {
      if (st.st_dev != dev_ || st.st_ino != ino_) {  // rotated: a new file has the name
        pending_rotation_ = true;
        return 0;
      }
      if (st.st_size < offset_) {  // truncated in place (copytruncate)
        ::lseek(fd_, 0, SEEK_SET);
        offset_ = 0;
        return 1;
      }
    }
    ::poll(nullptr, 0, std::min(timeout_ms, kFollowPollMs));
    return -1;
  }

  bool reopen() {
    pending_rotation_ = false;
    int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;  // gone between stat and open: try again later
    struct stat st {};
    ::fstat(fd, &st);
    ::close(fd_);
    fd_ = fd;
    dev_ = st.st_dev;
    ino_ = st.st_ino;
    offset_ = 0;
    line_number_ = 0;
    return true;
  }

  std::string path_;
  int fd_ = -1;
  bool owned_ = true;
  bool regular_ = false;
  bool follow_;
  bool sniffed_ = false;
  bool eof_ = false;
  bool pending_rotation_ = false;
  bool truncated_ = false;
  LongLineCutter cutter_;
  LineSize size_ = LineSize::kWhole;
  std::exception_ptr error_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  off_t offset_ = 0;
  off_t size_at_open_ = 0;  // a regular file's size when opened (without follow: where it must end)
  std::unique_ptr<ByteSource> decoder_;
  std::vector<char> buffer_;
  size_t first_chunk_ = kChunk;
  size_t begin_ = 0, end_ = 0, scan_ = 0;
  uint64_t line_number_ = 0;
  Position committed_;
};

}  // namespace

std::unique_ptr<LineSource> open_file_lines(const std::string& path, const EndpointOptions& o) {
  return std::make_unique<FileLineSource>(path, o.follow, o.max_line_bytes);
}

}  // namespace logpipe::detail

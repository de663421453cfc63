// Writing bytes: stdout or files, optionally gzip (.gz) or zstd (.zst) by suffix. A closed pipe
// (EPIPE) ends the program quietly with exit 0, as `logpipe ... | head` expects.
#include "logpipe/io/files.h"

#include "logpipe/error.h"

#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <climits>
#include <cstdlib>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace logpipe {
namespace {

constexpr size_t kBufferSize = 1 << 16;

void write_all(int fd, const char* p, size_t n, const std::string& name) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE) throw Error(kExitOk, "");  // reader went away: stop quietly
      system_error(errno, "cannot write '" + name + "'");
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

// Receives the final bytes (after compression) of a sink.
//
// Two guards against partial garbage when a disk fills up:
// - A regular file keeps only whole writes: when a write fails, the file is truncated back to
//   where that write started. Callers write whole lines, so an alerts file or a generated log
//   never ends in half a line.
// - A replacing writer (open_output_replacing) writes to a temporary file in the same directory
//   and renames it over the target in close(); destroyed without close() (an error), it removes
//   the temporary, so the target is either the complete new file or untouched.
class FdWriter {
 public:
  FdWriter(int fd, std::string name, bool owned) : fd_(fd), name_(std::move(name)), owned_(owned) {
    struct stat st;
    rollback_ = owned_ && ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode);
  }
  FdWriter(FdWriter&& o) noexcept
      : fd_(o.fd_), name_(std::move(o.name_)), temp_(std::move(o.temp_)), target_(std::move(o.target_)),
        owned_(o.owned_), rollback_(o.rollback_) {
    o.fd_ = -1;
    o.temp_.clear();
  }
  FdWriter& operator=(FdWriter&&) = delete;
  ~FdWriter() {
    if (owned_ && fd_ >= 0) ::close(fd_);
    if (!temp_.empty()) ::unlink(temp_.c_str());  // not committed: leave the target as it was
  }
  /// Makes close() rename `temp` (the file open on fd) to `target`.
  void replace_on_close(std::string temp, std::string target) {
    temp_ = std::move(temp);
    target_ = std::move(target);
  }
  void write(const char* p, size_t n) {
    if (!rollback_) return write_all(fd_, p, n, name_);
    off_t start = ::lseek(fd_, 0, SEEK_END);  // O_APPEND or not, a write goes to the end here
    try {
      write_all(fd_, p, n, name_);
    } catch (...) {
      if (start >= 0 && ::ftruncate(fd_, start) != 0) {
        // Nothing more to do: the write error being reported matters more.
      }
      throw;
    }
  }
  void close() {
    if (owned_ && fd_ >= 0) {
      int fd = fd_;
      fd_ = -1;
      if (::close(fd) != 0) system_error(errno, "cannot write '" + name_ + "'");
    }
    if (!temp_.empty()) {
      if (::rename(temp_.c_str(), target_.c_str()) != 0) system_error(errno, "cannot write '" + name_ + "'");
      temp_.clear();
    }
  }
  const std::string& name() const noexcept { return name_; }
  /// True until close() renamed the temporary file of a replacing writer.
  bool replacing() const noexcept { return !temp_.empty(); }

 private:
  int fd_;
  std::string name_;
  std::string temp_, target_;  // replacing writer: the temporary file and the file it becomes
  bool owned_;
  bool rollback_ = false;  // a regular file: undo a failed write
};

class PlainSink final : public ByteSink {
 public:
  explicit PlainSink(FdWriter out) : out_(std::move(out)) { buffer_.reserve(kBufferSize); }
  ~PlainSink() override {
    try {
      if (!out_.replacing()) close();  // a replacing writer commits only on an explicit close()
    } catch (...) {
    }
  }
  void write(std::string_view data) override {
    if (buffer_.size() + data.size() > kBufferSize) {
      flush();
      if (data.size() >= kBufferSize) {
        out_.write(data.data(), data.size());
        return;
      }
    }
    buffer_.append(data);
  }
  void flush() override {
    if (!buffer_.empty()) out_.write(buffer_.data(), buffer_.size());
    buffer_.clear();
  }
  void close() override {
    if (closed_) return;
    closed_ = true;
    flush();
    out_.close();
  }
  const std::string& name() const noexcept override { return out_.name(); }

 private:
  FdWriter out_;
  std::string buffer_;
  bool closed_ = false;
};

class GzipSink final : public ByteSink {
 public:
  explicit GzipSink(FdWriter out) : out_(std::move(out)), chunk_(kBufferSize) {
    std::memset(&z_, 0, sizeof z_);
    if (deflateInit2(&z_, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
      runtime_error("{}: cannot start gzip encoder", out_.name());
  }
  ~GzipSink() override {
    try {
      if (!out_.replacing()) close();  // a replacing writer commits only on an explicit close()
    } catch (...) {
    }
    deflateEnd(&z_);
  }
  void write(std::string_view data) override { pump(data, Z_NO_FLUSH); }
  void flush() override { pump({}, Z_SYNC_FLUSH); }
  void close() override {
    if (closed_) return;
    closed_ = true;
    pump({}, Z_FINISH);
    out_.close();
  }
  const std::string& name() const noexcept override { return out_.name(); }

 private:
  void pump(std::string_view data, int mode) {
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z_.avail_in = static_cast<uInt>(data.size());
    do {
      z_.next_out = reinterpret_cast<Bytef*>(chunk_.data());
      z_.avail_out = static_cast<uInt>(chunk_.size());
      int rc = deflate(&z_, mode);
      if (rc == Z_STREAM_ERROR) runtime_error("{}: gzip encoder failed", out_.name());
      out_.write(chunk_.data(), chunk_.size() - z_.avail_out);
    } while (z_.avail_out == 0 || z_.avail_in > 0);
  }
  FdWriter out_;
  std::vector<char> chunk_;
  z_stream z_;
  bool closed_ = false;
};

class ZstdSink final : public ByteSink {
 public:
  explicit ZstdSink(FdWriter out)
      : out_(std::move(out)), chunk_(ZSTD_CStreamOutSize()), ctx_(ZSTD_createCCtx()) {
    if (!ctx_) runtime_error("{}: cannot start zstd encoder", out_.name());
    ZSTD_CCtx_setParameter(ctx_, ZSTD_c_compressionLevel, 3);
  }
  ~ZstdSink() override {
    try {
      if (!out_.replacing()) close();  // a replacing writer commits only on an explicit close()
    } catch (...) {
    }
    ZSTD_freeCCtx(ctx_);
  }
  void write(std::string_view data) override { pump(data, ZSTD_e_continue); }
  void flush() override { pump({}, ZSTD_e_flush); }
  void close() override {
    if (closed_) return;
    closed_ = true;
    pump({}, ZSTD_e_end);
    out_.close();
  }
  const std::string& name() const noexcept override { return out_.name(); }

 private:
  void pump(std::string_view data, ZSTD_EndDirective mode) {
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    for (;;) {
      ZSTD_outBuffer out{chunk_.data(), chunk_.size(), 0};
      size_t remaining = ZSTD_compressStream2(ctx_, &out, &in, mode);
      if (ZSTD_isError(remaining)) runtime_error("{}: zstd encoder failed", out_.name());
      out_.write(chunk_.data(), out.pos);
      bool done = mode == ZSTD_e_continue ? in.pos == in.size : remaining == 0;
      if (done) break;
    }
  }
  FdWriter out_;
  std::vector<char> chunk_;
  ZSTD_CCtx* ctx_;
  bool closed_ = false;
};

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::unique_ptr<ByteSink> make_sink(FdWriter w, const std::string& path, bool always_zstd = false) {
  if (ends_with(path, ".gz")) return std::make_unique<GzipSink>(std::move(w));
  if (always_zstd || ends_with(path, ".zst")) return std::make_unique<ZstdSink>(std::move(w));
  return std::make_unique<PlainSink>(std::move(w));
}

std::unique_ptr<ByteSink> open_in_place(const std::string& path, bool append, bool always_zstd) {
  if (path == "-") return make_sink(FdWriter(1, "stdout", false), path, always_zstd);
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
  int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) system_error(errno, "cannot open '" + path + "' for writing");
  return make_sink(FdWriter(fd, path, true), path, always_zstd);
}

}  // namespace

std::unique_ptr<ByteSink> open_output(const std::string& path, bool append) {
  return open_in_place(path, append, false);
}

std::unique_ptr<ByteSink> open_output_replacing(const std::string& path, bool always_zstd) {
  if (path == "-") return open_in_place(path, false, always_zstd);
  // Through a symlink, the file it points to is replaced, not the link.
  std::string target = path;
  struct stat st;
  bool exists = ::stat(path.c_str(), &st) == 0;
  if (exists && !S_ISREG(st.st_mode)) return open_in_place(path, false, always_zstd);  // /dev/full, a FIFO
  if (struct stat lst; ::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode)) {
    char resolved[PATH_MAX];
    if (::realpath(path.c_str(), resolved)) target = resolved;
  }
  size_t slash = target.rfind('/');
  std::string dir = slash == std::string::npos ? "" : target.substr(0, slash + 1);
  std::string base = slash == std::string::npos ? target : target.substr(slash + 1);
  std::string temp = dir + "." + base + ".tmp-XXXXXX";  // same directory: rename is atomic
  int fd = ::mkstemp(temp.data());
  // A directory we may not create files in, holding a file we may write: write it in place.
  if (fd < 0) return open_in_place(path, false, always_zstd);
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  // mkstemp creates 0600; give the file the mode the target has, or the one open(2) would give.
  mode_t mode;
  if (exists) {
    mode = st.st_mode & 07777;
  } else {
    mode_t mask = ::umask(0);
    ::umask(mask);
    mode = 0644 & ~mask;
  }
  ::fchmod(fd, mode);
  FdWriter w(fd, path, true);
  w.replace_on_close(temp, target);
  return make_sink(std::move(w), path, always_zstd);
}

}  // namespace logpipe

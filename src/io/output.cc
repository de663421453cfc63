// Writing bytes: stdout or files, optionally gzip (.gz) or zstd (.zst) by suffix. A closed pipe
// (EPIPE) ends the program quietly with exit 0, as `logpipe ... | head` expects.
#include "logpipe/output.h"

#include "logpipe/error.h"

#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
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
class FdWriter {
 public:
  FdWriter(int fd, std::string name, bool owned) : fd_(fd), name_(std::move(name)), owned_(owned) {}
  FdWriter(FdWriter&& o) noexcept : fd_(o.fd_), name_(std::move(o.name_)), owned_(o.owned_) {
    o.fd_ = -1;
  }
  FdWriter& operator=(FdWriter&&) = delete;
  ~FdWriter() {
    if (owned_ && fd_ >= 0) ::close(fd_);
  }
  void write(const char* p, size_t n) { write_all(fd_, p, n, name_); }
  void close() {
    if (owned_ && fd_ >= 0) {
      int fd = fd_;
      fd_ = -1;
      if (::close(fd) != 0) system_error(errno, "cannot write '" + name_ + "'");
    }
  }
  const std::string& name() const noexcept { return name_; }

 private:
  int fd_;
  std::string name_;
  bool owned_;
};

class PlainSink final : public ByteSink {
 public:
  explicit PlainSink(FdWriter out) : out_(std::move(out)) { buffer_.reserve(kBufferSize); }
  ~PlainSink() override {
    try {
      close();
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
      close();
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
      close();
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

}  // namespace

std::unique_ptr<ByteSink> open_output(const std::string& path, bool append) {
  if (path == "-") return std::make_unique<PlainSink>(FdWriter(1, "stdout", false));
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
  int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) system_error(errno, "cannot open '" + path + "' for writing");
  FdWriter w(fd, path, true);
  if (ends_with(path, ".gz")) return std::make_unique<GzipSink>(std::move(w));
  if (ends_with(path, ".zst")) return std::make_unique<ZstdSink>(std::move(w));
  return std::make_unique<PlainSink>(std::move(w));
}

}  // namespace logpipe

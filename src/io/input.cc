// Reading bytes: files and stdin through read(2), gzip through zlib, zstd through libzstd; the
// compression is recognised by magic bytes so that a rotated `access.log.1` that is really gzip
// still reads.
#include "logpipe/io/files.h"

#include "logpipe/error.h"

#include <fmt/format.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace logpipe {
namespace {

class FdSource final : public ByteSource {
 public:
  FdSource(int fd, std::string name, bool owned) : fd_(fd), name_(std::move(name)), owned_(owned) {}
  ~FdSource() override {
    if (owned_) ::close(fd_);
  }
  size_t read(char* buf, size_t n) override {
    for (;;) {
      ssize_t r = ::read(fd_, buf, n);
      if (r >= 0) return static_cast<size_t>(r);
      if (errno == EINTR) continue;
      system_error(errno, "cannot read '" + name_ + "'");
    }
  }
  const std::string& name() const noexcept override { return name_; }

 private:
  int fd_;
  std::string name_;
  bool owned_;
};

// Puts back bytes that were read to sniff the magic number.
class PeekedSource final : public ByteSource {
 public:
  PeekedSource(std::unique_ptr<ByteSource> inner, std::string head)
      : inner_(std::move(inner)), head_(std::move(head)) {}
  size_t read(char* buf, size_t n) override {
    if (offset_ < head_.size()) {
      size_t k = std::min(n, head_.size() - offset_);
      std::memcpy(buf, head_.data() + offset_, k);
      offset_ += k;
      return k;
    }
    return inner_->read(buf, n);
  }
  const std::string& name() const noexcept override { return inner_->name(); }

 private:
  std::unique_ptr<ByteSource> inner_;
  std::string head_;
  size_t offset_ = 0;
};

constexpr size_t kChunk = 1 << 17;

// A decoder that finds corrupt data (a bad trailer checksum, a damaged frame) after the current
// read() already produced bytes must still hand those out: they were decoded before the damage
// (with a bad gzip CRC, all of them are the file's data). The error is kept and thrown by the
// next read(), so that the line reader returns every line before it. A gzip file of 1,000 lines
// with a bad CRC used to give 0 records, one of 200,000 lines 198,408.
class DecoderFailure {
 protected:
  // Throws now when the read produced nothing; else keeps the error for the next read.
  void fail(std::string message, size_t produced) {
    if (produced == 0) throw Error(kExitRuntime, std::move(message));
    failure_ = std::move(message);
  }
  void throw_pending() const {
    if (!failure_.empty()) throw Error(kExitRuntime, failure_);
  }

 private:
  std::string failure_;
};

class GzipSource final : public ByteSource, DecoderFailure {
 public:
  explicit GzipSource(std::unique_ptr<ByteSource> inner) : inner_(std::move(inner)), in_(kChunk) {
    std::memset(&z_, 0, sizeof z_);
    if (inflateInit2(&z_, 16 + MAX_WBITS) != Z_OK) runtime_error("{}: cannot start gzip decoder", name());
  }
  ~GzipSource() override { inflateEnd(&z_); }
  size_t read(char* buf, size_t n) override {
    throw_pending();
    z_.next_out = reinterpret_cast<Bytef*>(buf);
    z_.avail_out = static_cast<uInt>(n);
    while (z_.avail_out == n) {
      if (z_.avail_in == 0) {
        if (input_done_) {
          if (!stream_end_) runtime_error("{}: truncated gzip data", name());
          break;
        }
        size_t got = inner_->read(in_.data(), in_.size());
        if (got == 0) {
          input_done_ = true;
          continue;
        }
        z_.next_in = reinterpret_cast<Bytef*>(in_.data());
        z_.avail_in = static_cast<uInt>(got);
      }
      if (stream_end_) {
        // Concatenated gzip members (cat a.gz b.gz) are one stream, as gzip -d treats them.
        inflateReset(&z_);
        stream_end_ = false;
      }
      int rc = inflate(&z_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        stream_end_ = true;
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        fail(fmt::format("{}: corrupt gzip data ({})", name(), z_.msg ? z_.msg : "inflate failed"), n - z_.avail_out);
      }
    }
    return n - z_.avail_out;
  }
  const std::string& name() const noexcept override { return inner_->name(); }

 private:
  std::unique_ptr<ByteSource> inner_;
  std::vector<char> in_;
  z_stream z_;
  bool input_done_ = false;
  bool stream_end_ = false;
};

class ZstdSource final : public ByteSource, DecoderFailure {
 public:
  explicit ZstdSource(std::unique_ptr<ByteSource> inner)
      : inner_(std::move(inner)), in_(ZSTD_DStreamInSize()), ctx_(ZSTD_createDCtx()) {
    if (!ctx_) runtime_error("{}: cannot start zstd decoder", name());
  }
  ~ZstdSource() override { ZSTD_freeDCtx(ctx_); }
  size_t read(char* buf, size_t n) override {
    throw_pending();
    ZSTD_outBuffer out{buf, n, 0};
    while (out.pos == 0) {
      if (!flushing_ && in_pos_ == in_size_) {
        if (input_done_) {
          if (last_ret_ != 0) runtime_error("{}: truncated zstd data", name());
          return 0;
        }
        in_size_ = inner_->read(in_.data(), in_.size());
        in_pos_ = 0;
        if (in_size_ == 0) {
          input_done_ = true;
          continue;
        }
      }
      // Input in steps of zstd's hint (about a block), and none while it still has output to
      // flush: a frame's checksum is then read by a call of its own. zstd reports no output from
      // a call that fails, so a bad checksum read together with the last block took that
      // block's lines with it (all of a small file's).
      ZSTD_inBuffer in{in_.data(), flushing_ ? in_pos_ : std::min(in_size_, in_pos_ + hint_), in_pos_};
      size_t ret = ZSTD_decompressStream(ctx_, &out, &in);
      in_pos_ = in.pos;
      if (ZSTD_isError(ret))
        fail(fmt::format("{}: corrupt zstd data ({})", name(), ZSTD_getErrorName(ret)), out.pos);
      flushing_ = out.pos == out.size;
      hint_ = ret ? ret : 1;
      last_ret_ = ret;
    }
    return out.pos;
  }
  const std::string& name() const noexcept override { return inner_->name(); }

 private:
  std::unique_ptr<ByteSource> inner_;
  std::vector<char> in_;
  size_t in_pos_ = 0, in_size_ = 0;
  size_t last_ret_ = 0;
  size_t hint_ = 1;        // input zstd asks for next
  bool flushing_ = false;  // the last call filled the output: zstd may hold more to flush
  bool input_done_ = false;
  ZSTD_DCtx* ctx_;
};

}  // namespace

Error truncated_while_read(const std::string& name, uint64_t size_when_opened, int fd) {
  struct stat st {};
  std::string now = ::fstat(fd, &st) == 0 ? std::to_string(st.st_size) : std::string("?");
  return Error(kExitRuntime, fmt::format("{}: truncated while being read (it had {} bytes when opened, {} now)", name,
                                         size_when_opened, now));
}

std::unique_ptr<ByteSource> maybe_decompress(std::unique_ptr<ByteSource> raw) {
  std::string head(4, '\0');
  size_t got = 0;
  while (got < 4) {
    size_t r = raw->read(head.data() + got, 4 - got);
    if (r == 0) break;
    got += r;
  }
  head.resize(got);
  Compression c = compression_of(head);
  auto peeked = std::make_unique<PeekedSource>(std::move(raw), head);
  if (c == Compression::kGzip) return std::make_unique<GzipSource>(std::move(peeked));
  if (c == Compression::kZstd) return std::make_unique<ZstdSource>(std::move(peeked));
  return peeked;
}

Compression compression_of(std::string_view head) noexcept {
  const auto* h = reinterpret_cast<const unsigned char*>(head.data());
  if (head.size() >= 2 && h[0] == 0x1f && h[1] == 0x8b) return Compression::kGzip;
  if (head.size() >= 4 && h[0] == 0x28 && h[1] == 0xb5 && h[2] == 0x2f && h[3] == 0xfd) return Compression::kZstd;
  return Compression::kNone;
}

Compression file_compression(const std::string& path) noexcept {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Compression::kNone;
  char head[4];
  ssize_t got = ::pread(fd, head, sizeof head, 0);
  ::close(fd);
  return got > 0 ? compression_of(std::string_view(head, static_cast<size_t>(got))) : Compression::kNone;
}

std::unique_ptr<ByteSource> decompress_fd(int fd, std::string head, const std::string& name) {
  return maybe_decompress(std::make_unique<PeekedSource>(std::make_unique<FdSource>(fd, name, false), std::move(head)));
}

std::unique_ptr<ByteSource> open_input(const std::string& path) {
  if (path == "-") return maybe_decompress(std::make_unique<FdSource>(0, "-", false));
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) system_error(errno, "cannot open '" + path + "'");
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return maybe_decompress(std::make_unique<FdSource>(fd, path, true));
}

}  // namespace logpipe

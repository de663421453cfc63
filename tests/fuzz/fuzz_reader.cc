// Fuzzes the byte-source stack: magic-byte detection, gzip and zstd decoders, the line reader.
// Corrupt compressed data must raise logpipe::Error, never crash or loop.
#include "logpipe/error.h"
#include "logpipe/io/files.h"

#include <cstdint>
#include <cstring>
#include <string>

namespace {

class MemorySource : public logpipe::ByteSource {
 public:
  MemorySource(const uint8_t* d, size_t n) : data_(d), size_(n) {}
  size_t read(char* buf, size_t n) override {
    size_t k = std::min(n, size_ - pos_);
    std::memcpy(buf, data_ + pos_, k);
    pos_ += k;
    return k;
  }
  const std::string& name() const noexcept override { return name_; }

 private:
  const uint8_t* data_;
  size_t size_, pos_ = 0;
  std::string name_ = "fuzz";
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto src = logpipe::maybe_decompress(std::make_unique<MemorySource>(data, size));
    logpipe::LineReader reader(*src, 64);
    std::string_view line;
    size_t total = 0;
    while (reader.next(line)) total += line.size();
    (void)total;
  } catch (const logpipe::Error&) {
  }
  return 0;
}

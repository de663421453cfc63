// String interning: maps a string to a dense 32-bit id, with its bytes copied once into an
// arena. Open addressing, precomputed hashes: the hot-path lookup allocates nothing.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

namespace logpipe {

namespace detail {
inline uint64_t read64(const char* p) noexcept {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline uint64_t mix(uint64_t a, uint64_t b) noexcept {
  __uint128_t r = static_cast<__uint128_t>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}
}  // namespace detail

/// 64-bit hash of a byte string (wyhash-style mixing; not cryptographic). Inline: every key
/// table hashes on its hot path.
inline uint64_t hash_bytes(std::string_view s) noexcept {
  constexpr uint64_t kP0 = 0xa0761d6478bd642full, kP1 = 0xe7037ed1a0b428dbull;
  const char* p = s.data();
  size_t n = s.size();
  uint64_t h = kP0 ^ n;
  while (n >= 8) {
    h = detail::mix(h ^ detail::read64(p), kP1);
    p += 8;
    n -= 8;
  }
  uint64_t tail = 0;
  if (n) std::memcpy(&tail, p, n);
  return detail::mix(h ^ tail, kP1 ^ n);
}

class StringTable {
 public:
  static constexpr uint32_t kNotFound = UINT32_MAX;
  StringTable();
  /// The id of s, inserting it when new. Ids are dense: 0, 1, 2, ...
  uint32_t intern(std::string_view s);
  /// The id of s or kNotFound.
  uint32_t find(std::string_view s) const noexcept;
  /// The string of an id (stable for the table's lifetime).
  std::string_view str(uint32_t id) const noexcept { return strings_[id]; }
  size_t size() const noexcept { return strings_.size(); }
  /// Forgets everything (ids restart at 0); memory is kept for reuse.
  void clear();

 private:
  void grow();
  std::string_view store(std::string_view s);
  struct Slot {
    uint64_t hash;
    uint32_t id;  // kNotFound = empty
  };
  std::vector<Slot> slots_;
  std::vector<std::string_view> strings_;
  std::vector<std::unique_ptr<char[]>> blocks_;
  size_t block_used_ = 0;
  size_t block_size_ = 0;
};

}  // namespace logpipe

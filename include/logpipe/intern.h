// String interning: maps a string to a dense 32-bit id, with its bytes copied once into an
// arena. Open addressing, precomputed hashes: the hot-path lookup allocates nothing.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace logpipe {

/// 64-bit hash of a byte string (wyhash-style mixing; not cryptographic).
uint64_t hash_bytes(std::string_view s) noexcept;

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

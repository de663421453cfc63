#include "logpipe/intern.h"

#include <cstring>

namespace logpipe {
namespace {

constexpr size_t kInitialSlots = 1024;
constexpr size_t kBlockSize = 1 << 20;

}  // namespace

StringTable::StringTable() : slots_(kInitialSlots, Slot{0, kNotFound}) {}

uint32_t StringTable::find(std::string_view s) const noexcept {
  uint64_t h = hash_bytes(s);
  size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const Slot& slot = slots_[i];
    if (slot.id == kNotFound) return kNotFound;
    if (slot.hash == h && strings_[slot.id] == s) return slot.id;
  }
}

uint32_t StringTable::intern(std::string_view s) {
  uint64_t h = hash_bytes(s);
  size_t mask = slots_.size() - 1;
  size_t i = h & mask;
  for (;; i = (i + 1) & mask) {
    Slot& slot = slots_[i];
    if (slot.id == kNotFound) break;
    if (slot.hash == h && strings_[slot.id] == s) return slot.id;
  }
  uint32_t id = static_cast<uint32_t>(strings_.size());
  strings_.push_back(store(s));
  slots_[i] = Slot{h, id};
  if (strings_.size() * 2 > slots_.size()) grow();
  return id;
}

std::string_view StringTable::store(std::string_view s) {
  if (s.empty()) return {};
  if (s.size() > kBlockSize / 4) {  // big strings get their own block
    blocks_.emplace_back(new char[s.size()]);
    std::memcpy(blocks_.back().get(), s.data(), s.size());
    std::string_view v(blocks_.back().get(), s.size());
    // keep the current small block at the end of the list
    if (blocks_.size() > 1) std::swap(blocks_[blocks_.size() - 1], blocks_[blocks_.size() - 2]);
    return v;
  }
  if (blocks_.empty() || block_used_ + s.size() > block_size_) {
    blocks_.emplace_back(new char[kBlockSize]);
    block_used_ = 0;
    block_size_ = kBlockSize;
  }
  char* dst = blocks_.back().get() + block_used_;
  std::memcpy(dst, s.data(), s.size());
  block_used_ += s.size();
  return {dst, s.size()};
}

void StringTable::grow() {
  std::vector<Slot> bigger(slots_.size() * 2, Slot{0, kNotFound});
  size_t mask = bigger.size() - 1;
  for (const Slot& slot : slots_) {
    if (slot.id == kNotFound) continue;
    size_t i = slot.hash & mask;
    while (bigger[i].id != kNotFound) i = (i + 1) & mask;
    bigger[i] = slot;
  }
  slots_.swap(bigger);
}

void StringTable::clear() {
  slots_.assign(kInitialSlots, Slot{0, kNotFound});
  strings_.clear();
  blocks_.clear();
  block_used_ = block_size_ = 0;
}

}  // namespace logpipe

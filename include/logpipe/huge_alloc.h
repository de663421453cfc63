// Large tables on transparent huge pages. On the virtual machines we measured, a first touch of
// a 4 KiB page costs 15-50 us (a page fault through the hypervisor), so a 4 MiB hash table cost
// ~1,000 faults every time it grew; on a 2 MiB huge page the same memory costs one fault.
// Blocks of at least kHugeAllocMin bytes are mmap'd 2 MiB-aligned with MADV_HUGEPAGE (a hint:
// where huge pages are off, they are ordinary pages); smaller ones come from operator new.
#pragma once

#include <cstddef>
#include <new>

namespace logpipe {

/// Smallest block that gets its own huge-page mapping (smaller ones: operator new).
inline constexpr size_t kHugeAllocMin = 256 << 10;

/// Allocates `bytes` (zero-filled when bytes >= kHugeAllocMin). Throws std::bad_alloc.
void* huge_alloc(size_t bytes);
/// Frees a block from huge_alloc; `bytes` must be the size it was allocated with.
void huge_free(void* p, size_t bytes) noexcept;

/// A std allocator over huge_alloc, for the big vectors of hot tables.
template <typename T>
struct HugePageAllocator {
  using value_type = T;
  HugePageAllocator() noexcept = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}
  T* allocate(size_t n) {
    if (n > static_cast<size_t>(-1) / sizeof(T)) throw std::bad_alloc();
    return static_cast<T*>(huge_alloc(n * sizeof(T)));
  }
  void deallocate(T* p, size_t n) noexcept { huge_free(p, n * sizeof(T)); }
  template <typename U>
  bool operator==(const HugePageAllocator<U>&) const noexcept { return true; }
};

}  // namespace logpipe

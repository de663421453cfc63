#include "logpipe/huge_alloc.h"

#include <sys/mman.h>

#include <cstdint>

namespace logpipe {
namespace {

constexpr size_t kHugePage = 2 << 20;

size_t round_up(size_t n) noexcept { return (n + kHugePage - 1) & ~(kHugePage - 1); }

}  // namespace

void* huge_alloc(size_t bytes) {
  if (bytes < kHugeAllocMin) return ::operator new(bytes);
  const size_t size = round_up(bytes);
  // Map one huge page more than needed and trim both ends to a 2 MiB boundary: THP needs
  // aligned 2 MiB ranges.
  void* raw = ::mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHugePage - 1) & ~static_cast<uintptr_t>(kHugePage - 1);
  if (aligned > start) ::munmap(raw, aligned - start);
  const size_t tail = start + size + kHugePage - (aligned + size);
  if (tail) ::munmap(reinterpret_cast<void*>(aligned + size), tail);
  void* p = reinterpret_cast<void*>(aligned);
  ::madvise(p, size, MADV_HUGEPAGE);  // a hint: fails harmlessly where THP is unavailable
  return p;
}

void huge_free(void* p, size_t bytes) noexcept {
  if (!p) return;
  if (bytes < kHugeAllocMin) {
    ::operator delete(p);
    return;
  }
  ::munmap(p, round_up(bytes));
}

}  // namespace logpipe

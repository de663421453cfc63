#include "logpipe/huge_alloc.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <vector>

using namespace logpipe;

TEST_CASE("huge_alloc: small and large blocks are usable; large ones zeroed and 2 MiB-aligned") {
  for (size_t bytes : {size_t{1}, size_t{4096}, kHugeAllocMin - 1, kHugeAllocMin, size_t{3} << 20, (size_t{4} << 20) + 1}) {
    CAPTURE(bytes);
    auto* p = static_cast<unsigned char*>(huge_alloc(bytes));
    REQUIRE(p != nullptr);
    if (bytes >= kHugeAllocMin) {
      CHECK(reinterpret_cast<uintptr_t>(p) % (2 << 20) == 0);
      CHECK(p[0] == 0);
      CHECK(p[bytes - 1] == 0);
    }
    std::memset(p, 0xab, bytes);  // every byte writable (ASan checks the small ones)
    CHECK(p[bytes - 1] == 0xab);
    huge_free(p, bytes);
  }
}

TEST_CASE("HugePageAllocator: a vector grows across the threshold and keeps its values") {
  std::vector<uint64_t, HugePageAllocator<uint64_t>> v;
  for (uint64_t i = 0; i < 600000; ++i) v.push_back(i * 3);  // 4.8 MB: several huge blocks
  uint64_t sum = 0;
  for (uint64_t x : v) sum += x;
  CHECK(sum == 3 * (600000ull * 599999ull / 2));
}

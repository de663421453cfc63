// HMAC-SHA256 for pseudonymisation (docs/reference.md "anonymize"). OpenSSL stays in src/core/hmac.cc.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace logpipe {

/// HMAC-SHA256 with one key, computed many times. The key schedule is done once; each call only
/// re-initialises the context, so the per-line cost is two SHA-256 passes and no allocation.
/// Not thread-safe: one instance per thread.
class HmacSha256 {
 public:
  static constexpr size_t kSize = 32;     ///< bytes of a MAC
  static constexpr size_t kHexSize = 64;  ///< characters of a MAC in hex

  /// Any key length is accepted (RFC 2104: keys longer than 64 bytes are hashed first). Throws
  /// Error (runtime) when OpenSSL cannot provide HMAC-SHA256.
  explicit HmacSha256(std::string_view key);
  ~HmacSha256();
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;

  /// The MAC of `data`.
  std::array<uint8_t, kSize> mac(std::string_view data);
  /// The MAC of `data` as 64 lowercase hex digits written to `out` (no terminator): byte for byte
  /// Python's `hmac.new(key, data, hashlib.sha256).hexdigest()`.
  void hex(std::string_view data, char* out);
  /// Convenience: hex() as a string (tests, setup code; not for hot paths).
  std::string hex(std::string_view data);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace logpipe

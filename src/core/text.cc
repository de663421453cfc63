#include "logpipe/text.h"

#include "logpipe/record.h"
#include "logpipe/timeutil.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <iterator>

namespace logpipe {

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  for (size_t i = 0; i < n; ++i) {
    // Runs of printable ASCII are copied at once (export writes mostly those: 3x faster than a
    // byte at a time).
    size_t j = i;
    while (j < n && p[j] >= 0x20 && p[j] < 0x80 && p[j] != '"' && p[j] != '\\') ++j;
    if (j > i) {
      out.append(s.data() + i, j - i);
      i = j;
      if (i == n) break;
    }
    unsigned char c = p[i];
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      switch (c) {
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        case '\r': out += "\\r"; break;
        default: fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
      }
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      // Validate one UTF-8 sequence; pass it through when valid, escape the byte otherwise.
      size_t len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 0;
      bool ok = len > 0 && i + len <= n;
      for (size_t k = 1; ok && k < len; ++k) ok = (p[i + k] & 0xc0) == 0x80;
      if (ok && len == 3) {
        unsigned cp = ((c & 0x0f) << 12) | ((p[i + 1] & 0x3f) << 6);
        ok = cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff);
      }
      if (ok && len == 4) {
        unsigned cp = ((c & 0x07) << 18) | ((p[i + 1] & 0x3f) << 12);
        ok = cp >= 0x10000 && cp <= 0x10ffff;
      }
      if (ok) {
        out.append(reinterpret_cast<const char*>(p + i), len);
        i += len - 1;
      } else {
        fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
      }
    }
  }
  out += '"';
}

std::string grouped(uint64_t v) {
  char digits[20];
  size_t n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  std::string out;
  out.reserve(n + n / 3);
  for (size_t i = n; i-- > 0;) {
    out += digits[i];
    if (i && i % 3 == 0) out += ',';
  }
  return out;
}

std::string human_bytes(uint64_t b) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", b) : fmt::format("{:.1f} {}", v, kUnits[u]);
}

std::string time_text(int64_t us) {
  if (us == kNoTime) return "-";
  char buf[32];
  return std::string(buf, format_rfc3339_seconds(us, buf));
}

std::string prometheus_label(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string csp_script_hash(std::string_view script) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(script.data(), script.size(), md, &n, EVP_sha256(), nullptr);
  unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
  const int len = EVP_EncodeBlock(b64, md, static_cast<int>(n));
  return fmt::format("'sha256-{}'", std::string_view(reinterpret_cast<const char*>(b64), static_cast<size_t>(len)));
}

}  // namespace logpipe

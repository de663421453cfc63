#include "logpipe/netaddr.h"

#include <arpa/inet.h>

#include <cstring>

namespace logpipe {

bool truncate_ip(std::string_view ip, std::string& out) {
  char text[64];
  if (ip.empty() || ip.size() >= sizeof text) return false;
  std::memcpy(text, ip.data(), ip.size());
  text[ip.size()] = '\0';
  unsigned char addr[16];
  char result[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, text, addr) == 1) {
    addr[3] = 0;
    if (!inet_ntop(AF_INET, addr, result, sizeof result)) return false;
  } else if (inet_pton(AF_INET6, text, addr) == 1) {
    static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(addr, kMapped, 12) == 0)
      addr[15] = 0;  // ::ffff:a.b.c.d is an IPv4 client: /24 like IPv4
    else
      std::memset(addr + 6, 0, 10);
    if (!inet_ntop(AF_INET6, addr, result, sizeof result)) return false;
  } else {
    return false;
  }
  out.append(result);
  return true;
}


namespace {
// A dotted quad in canonical form (what inet_ntop writes: no leading zero, each part <= 255):
// its /24 is its text up to the last dot. Anything else takes the general path.
bool canonical_ipv4(std::string_view ip, size_t& last_dot) {
  size_t parts = 0, i = 0;
  while (i < ip.size()) {
    const size_t begin = i;
    unsigned value = 0;
    while (i < ip.size() && ip[i] >= '0' && ip[i] <= '9' && i - begin < 3) value = value * 10 + unsigned(ip[i++] - '0');
    const size_t len = i - begin;
    if (len == 0 || value > 255 || (len > 1 && ip[begin] == '0')) return false;
    if (++parts == 4) return i == ip.size();
    if (i >= ip.size() || ip[i] != '.') return false;
    last_dot = i++;
  }
  return false;
}
}  // namespace

bool append_network_prefix(std::string_view ip, std::string& out) {
  size_t last_dot = 0;
  if (canonical_ipv4(ip, last_dot)) {  // the common case, without inet_pton and inet_ntop
    out.append(ip.substr(0, last_dot + 1)).append("0/24");
    return true;
  }
  const size_t at = out.size();
  if (!truncate_ip(ip, out)) return false;
  // An IPv4 network (also an IPv4-mapped one) is written with dots.
  out += out.find('.', at) == std::string::npos ? "/48" : "/24";
  return true;
}

// IPv4 maps to ::ffff:a.b.c.d, which is also what the IPv6 text of a mapped address gives.
bool parse_ip_address(std::string_view text, std::array<unsigned char, 16>& out, bool* v4) noexcept {
  char buf[64];
  if (text.empty() || text.size() >= sizeof buf) return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  unsigned char v4bytes[4];
  if (inet_pton(AF_INET, buf, v4bytes) == 1) {
    out = {};
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, v4bytes, 4);
    if (v4) *v4 = true;
    return true;
  }
  if (inet_pton(AF_INET6, buf, out.data()) == 1) {
    if (v4) *v4 = false;
    return true;
  }
  return false;
}

}  // namespace logpipe

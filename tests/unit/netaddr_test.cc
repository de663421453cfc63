// Client networks: the fast path for dotted quads gives what inet_pton/inet_ntop give.
#include "logpipe/netaddr.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>

#include <random>
#include <string>

using namespace logpipe;

namespace {
// The reference: the libc parser and printer, independent of netaddr.cc's own text handling.
std::string reference_v4(const std::string& ip) {
  unsigned char a[4];
  if (inet_pton(AF_INET, ip.c_str(), a) != 1) return "?";
  a[3] = 0;
  char text[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, a, text, sizeof text);
  return std::string(text) + "/24";
}
}  // namespace

TEST_CASE("netaddr: a /24 of any IPv4 text matches inet_pton/inet_ntop") {
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::string ip;
    for (int p = 0; p < 4; ++p) {
      if (p) ip += '.';
      const unsigned r = rng() % 10;
      if (r == 0) ip += "0" + std::to_string(rng() % 100);  // a leading zero: refused by both
      else ip += std::to_string(r == 1 ? 256 + rng() % 100 : rng() % 256);
    }
    std::string got;
    const bool ok = append_network_prefix(ip, got);
    const std::string want = reference_v4(ip);
    if (want == "?") {
      CHECK_MESSAGE(!ok, ip);
    } else {
      CHECK_MESSAGE(got == want, ip);
    }
  }
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "1.2.3.", ".1.2.3", "a.b.c.d", "1.2.3.4 ", "1..2.3", "1234.1.1.1"}) {
    std::string got;
    CHECK_MESSAGE(!append_network_prefix(bad, got), bad);
    CHECK(got.empty());
  }
  std::string got = "x ";
  CHECK(append_network_prefix("10.1.2.3", got));
  CHECK(got == "x 10.1.2.0/24");  // appends
}

TEST_CASE("netaddr: IPv6 and IPv4-mapped addresses") {
  std::string got;
  CHECK(append_network_prefix("2001:db8:1:2::5", got));
  CHECK(got == "2001:db8:1::/48");
  got.clear();
  CHECK(append_network_prefix("::ffff:192.0.2.77", got));
  CHECK(got == "::ffff:192.0.2.0/24");
}

// Client addresses: their network (/24 of IPv4, /48 of IPv6), for anonymize's --ip truncate and
// for the per-network request rate (prefix_request_rate).
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace logpipe {

/// Appends the address truncated to /24 (IPv4, also IPv4-mapped IPv6) or /48 (IPv6), in
/// canonical form (`203.0.113.0`, `2001:db8:1::`). False when `ip` is not an address.
bool truncate_ip(std::string_view ip, std::string& out);

/// Appends the network of an address with its length: `203.0.113.0/24`, `2001:db8:1::/48`.
/// False when `ip` is not an address.
bool append_network_prefix(std::string_view ip, std::string& out);

/// Parses an IPv4 or IPv6 address into 16 bytes, IPv4 as ::ffff:a.b.c.d; `v4` (when given) says
/// which it was. False when `text` is not an address. No allocation.
bool parse_ip_address(std::string_view text, std::array<unsigned char, 16>& out, bool* v4 = nullptr) noexcept;

}  // namespace logpipe

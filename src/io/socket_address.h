// Internal: host name resolution shared by the socket outputs (tcp_sink.cc, alertmanager.cc).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

namespace logpipe::detail {

struct SocketAddress {
  sockaddr_storage storage;
  socklen_t length;
  int family;
};

// Every stream-socket address of HOST:PORT (IPv4 and IPv6, in getaddrinfo's order). Throws Error
// (runtime, message prefixed by `name`) when the host cannot be resolved or has no address.
std::vector<SocketAddress> resolve_stream_addresses(const std::string& name, const std::string& host,
                                                    uint16_t port);

}  // namespace logpipe::detail

// Internal (socket.cc): host name resolution and connecting, shared by the socket outputs (tcp_sink.cc,
// alertmanager.cc).
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

// One connection attempt to `address`, waiting at most `timeout_ms` for it to complete. Returns
// the connected socket (non-blocking, close-on-exec, TCP_NODELAY set), or -1 with `error` set to
// the errno value of the failure (ETIMEDOUT after the timeout). A signal during the wait ends the
// attempt with EINTR when `interruptible` (the caller then looks at why it was woken); otherwise
// the wait goes on until the same deadline.
int connect_stream(const SocketAddress& address, int timeout_ms, bool interruptible, int& error);

}  // namespace logpipe::detail

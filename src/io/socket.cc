// Host name resolution and non-blocking connects, shared by the socket outputs (tcp_sink.cc,
// alertmanager.cc through http_client.cc).
#include "socket.h"

#include "logpipe/error.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace logpipe::detail {
namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::vector<SocketAddress> resolve_stream_addresses(const std::string& name, const std::string& host,
                                                    uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string port_text = std::to_string(port);
  int rc = ::getaddrinfo(host.c_str(), port_text.c_str(), &hints, &res);
  if (rc != 0) runtime_error("{}: cannot resolve '{}': {}", name, host, gai_strerror(rc));
  std::vector<SocketAddress> addresses;
  for (addrinfo* a = res; a; a = a->ai_next) {
    SocketAddress addr;
    std::memcpy(&addr.storage, a->ai_addr, a->ai_addrlen);
    addr.length = a->ai_addrlen;
    addr.family = a->ai_family;
    addresses.push_back(addr);
  }
  ::freeaddrinfo(res);
  if (addresses.empty()) runtime_error("{}: '{}' has no address", name, host);
  return addresses;
}

int connect_stream(const SocketAddress& address, int timeout_ms, bool interruptible, int& error) {
  int fd = ::socket(address.family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    error = errno;
    return -1;
  }
  int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&address.storage), address.length);
  if (rc != 0 && errno == EINPROGRESS) {
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(deadline - now_ms(), 0)));
      if (rc == 1) {
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        errno = err;
        rc = err == 0 ? 0 : -1;
        break;
      }
      if (rc == 0 || errno != EINTR || interruptible) {
        if (rc == 0) errno = ETIMEDOUT;
        rc = -1;
        break;
      }
    }
  }
  if (rc != 0) {
    error = errno;
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

}  // namespace logpipe::detail

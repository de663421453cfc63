// Internal: a minimal HTTP/1.1 client for the outputs that speak HTTP (alertmanager://,
// alertmanager+tls://): one request per connection (`Connection: close`), plain or TLS (the
// server's certificate checked, tls_client.h), everything within a deadline, on non-blocking
// sockets (no Asio in this translation unit). Enough for small JSON POSTs; not a general client.
#pragma once

#include "socket.h"

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace logpipe::detail {

/// The answer to one request.
struct HttpResponse {
  int status = 0;     ///< HTTP status; 0 when there was no complete answer (see error)
  std::string body;   ///< the body's first 64 KiB
  std::string error;  ///< why there was no answer (connect, TLS, timeout), or empty
  /// The server's certificate was refused, or the server refused the TLS handshake (an alert):
  /// trying again will get the same answer.
  bool permanent = false;
};

class HttpClient {
 public:
  /// Resolves `host` now (a bad name is a setup error naming `name`). `tls` is the client
  /// context (new_client_ssl_ctx) for HTTPS, or null for plain HTTP.
  HttpClient(std::string name, std::string host, uint16_t port, std::shared_ptr<SSL_CTX> tls);
  /// POSTs `body` to `path` on a fresh connection, within `timeout` (connect aside, 3 s).
  HttpResponse post(std::string_view path, std::string_view content_type, std::string_view body,
                    std::chrono::milliseconds timeout);
  const std::string& name() const noexcept { return name_; }

 private:
  std::string name_, host_;
  uint16_t port_;
  std::shared_ptr<SSL_CTX> tls_;
  std::vector<SocketAddress> addresses_;
};

}  // namespace logpipe::detail

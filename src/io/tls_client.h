// Internal: TLS client pieces that tls.cc shares with the HTTP client of alertmanager.cc, which
// speaks OpenSSL directly on its own non-blocking socket (no Asio in that translation unit).
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "logpipe/io/endpoint.h"

namespace logpipe::detail {

// The client context every TLS client of logpipe uses: TLS 1.2 or later, the server's chain
// checked against --tls-ca (or the system's CA store), --tls-cert/--tls-key as the client
// certificate when given. Throws Error (usage) naming `name` for an unreadable file.
std::shared_ptr<SSL_CTX> new_client_ssl_ctx(const std::string& name, const EndpointOptions& o);

// Makes the handshake of `ssl` check that the server's certificate is for `host` (a name, with
// SNI, or an IP address).
void expect_server_identity(SSL* ssl, const std::string& host);

}  // namespace logpipe::detail

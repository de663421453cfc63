// tls:// endpoint: set-up errors that need no peer. Handshakes, refusals and verification are
// tested with the openssl CLI as the peer in tests/cli/tls_endpoint.sh.
#include "logpipe/io/endpoint.h"
#include "logpipe/error.h"

#include <doctest/doctest.h>

#include <string>

using namespace logpipe;

namespace {

template <typename F>
std::pair<int, std::string> error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return {e.exit_code(), e.what()};
  }
  return {0, ""};
}

}  // namespace

TEST_CASE("tls: a server needs a certificate and its key") {
  EndpointOptions o;
  o.listen = true;
  auto [code, message] = error_of([&] { open_line_source("tls://127.0.0.1:0", o); });
  CHECK(code == kExitUsage);
  CHECK(message == "tls://127.0.0.1:0: a TLS server needs --tls-cert and --tls-key");
}

TEST_CASE("tls: an unreadable certificate is a usage error naming the flag and the file") {
  EndpointOptions o;
  o.listen = true;
  o.tls_cert = "/nonexistent/server.pem";
  o.tls_key = "/nonexistent/server.key";
  auto [code, message] = error_of([&] { open_line_source("tls://127.0.0.1:0", o); });
  CHECK(code == kExitUsage);
  CHECK(message.find("--tls-cert '/nonexistent/server.pem'") != std::string::npos);
}

TEST_CASE("tls: a client that cannot connect fails at open, naming the endpoint") {
  EndpointOptions o;
  auto [code, message] = error_of([&] { open_sink("tls://127.0.0.1:9", o); });
  CHECK(code == kExitRuntime);
  CHECK(message.find("tls://127.0.0.1:9: cannot connect: ") == 0);
  CHECK(error_of([&] { open_line_source("tls://127.0.0.1:9", o); }).first == kExitRuntime);
}

TEST_CASE("tls: a malformed address is a usage error") {
  EndpointOptions o;
  CHECK(error_of([&] { open_sink("tls://127.0.0.1", o); }).first == kExitUsage);
  CHECK(error_of([&] { open_sink("tls://127.0.0.1:99999", o); }).first == kExitUsage);
}

// The HTTP client of alertmanager:// (http_client.h).
#include "http_client.h"

#include "tls_client.h"

#include "logpipe/error.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

namespace logpipe::detail {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kConnectTimeoutMs = 3000;

// Waits for `events` on fd until the deadline; false on timeout.
bool wait_fd(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int rc = ::poll(&p, 1, static_cast<int>(left));
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) return false;
  }
}

int connect_any(const std::vector<SocketAddress>& addresses, std::string& error) {
  for (const SocketAddress& a : addresses) {
    int err = 0;
    int fd = connect_stream(a, kConnectTimeoutMs, /*interruptible=*/false, err);
    if (fd >= 0) return fd;
    error = fmt::format("connect: {}", std::strerror(err));
  }
  return -1;
}

// One connection, plain or TLS.
struct Connection {
  int fd = -1;
  SSL* ssl = nullptr;
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    if (ssl) {
      SSL_shutdown(ssl);  // close_notify, best effort (non-blocking: no waiting for the answer)
      SSL_free(ssl);
    }
    if (fd >= 0) ::close(fd);
  }
};

// Why a TLS call failed: the certificate check's verdict when it failed, else OpenSSL's error.
std::string tls_error(const char* what, SSL* ssl, int ssl_error) {
  long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK)
    return fmt::format("{}: certificate verify failed ({})", what, X509_verify_cert_error_string(verify));
  unsigned long e = ERR_get_error();
  if (e != 0) {
    char text[256];
    ERR_error_string_n(e, text, sizeof text);
    return fmt::format("{}: {}", what, text);
  }
  if (ssl_error == SSL_ERROR_SYSCALL && errno != 0) return fmt::format("{}: {}", what, std::strerror(errno));
  return fmt::format("{}: connection closed", what);
}

// Waits for what a TLS call asked for (SSL_ERROR_WANT_READ/WRITE); false on another error.
bool tls_wait(const Connection& c, int ssl_error, Clock::time_point deadline, bool& timed_out) {
  if (ssl_error != SSL_ERROR_WANT_READ && ssl_error != SSL_ERROR_WANT_WRITE) return false;
  timed_out = !wait_fd(c.fd, ssl_error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
  return !timed_out;
}

bool tls_handshake(Connection& c, SSL_CTX* ctx, const std::string& host, Clock::time_point deadline,
                   std::string& error, bool& permanent) {
  c.ssl = SSL_new(ctx);
  if (!c.ssl) {
    error = "TLS: cannot create a session";
    return false;
  }
  SSL_set_fd(c.ssl, c.fd);
  SSL_set_options(c.ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);  // the answer is judged by its content
  expect_server_identity(c.ssl, host);
  for (;;) {
    ERR_clear_error();
    errno = 0;
    int rc = SSL_connect(c.ssl);
    if (rc == 1) return true;
    int e = SSL_get_error(c.ssl, rc);
    bool timed_out = false;
    if (tls_wait(c, e, deadline, timed_out)) continue;
    // A verdict of TLS (our check of the certificate, or the server's alert) will not change;
    // a connection reset or a timeout may.
    permanent = !timed_out && e == SSL_ERROR_SSL;
    error = timed_out ? "TLS handshake: no answer within 10 s" : tls_error("TLS handshake", c.ssl, e);
    return false;
  }
}

bool send_all(Connection& c, std::string_view data, Clock::time_point deadline, std::string& error) {
  size_t sent = 0;
  while (sent < data.size()) {
    size_t chunk = std::min<size_t>(data.size() - sent, INT_MAX);
    if (c.ssl) {
      ERR_clear_error();
      errno = 0;
      int n = SSL_write(c.ssl, data.data() + sent, static_cast<int>(chunk));
      if (n > 0) {
        sent += static_cast<size_t>(n);
        continue;
      }
      int e = SSL_get_error(c.ssl, n);
      bool timed_out = false;
      if (tls_wait(c, e, deadline, timed_out)) continue;
      error = timed_out ? "timeout sending" : tls_error("TLS send", c.ssl, e);
      return false;
    }
    ssize_t n = ::send(c.fd, data.data() + sent, chunk, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_fd(c.fd, POLLOUT, deadline)) {
        error = "timeout sending";
        return false;
      }
    } else {
      error = fmt::format("send: {}", std::strerror(errno));
      return false;
    }
  }
  return true;
}

// Reads until the server closes the connection (we ask for Connection: close).
bool receive_all(Connection& c, std::string& response, Clock::time_point deadline, std::string& error) {
  char buf[4096];
  for (;;) {
    if (c.ssl) {
      ERR_clear_error();
      errno = 0;
      int n = SSL_read(c.ssl, buf, sizeof buf);
      if (n > 0) {
        if (response.size() < 65536) response.append(buf, static_cast<size_t>(n));
        continue;
      }
      int e = SSL_get_error(c.ssl, n);
      if (e == SSL_ERROR_ZERO_RETURN) return true;
      bool timed_out = false;
      if (tls_wait(c, e, deadline, timed_out)) continue;
      error = timed_out ? "no answer within 10 s" : tls_error("TLS receive", c.ssl, e);
      return false;
    }
    ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
    if (n > 0) {
      if (response.size() < 65536) response.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) return true;
    if (errno == EAGAIN || errno == EINTR) {
      if (!wait_fd(c.fd, POLLIN, deadline)) {
        error = "no answer within 10 s";
        return false;
      }
      continue;
    }
    error = fmt::format("recv: {}", std::strerror(errno));
    return false;
  }
}

}  // namespace

HttpClient::HttpClient(std::string name, std::string host, uint16_t port, std::shared_ptr<SSL_CTX> tls)
    : name_(std::move(name)), host_(std::move(host)), port_(port), tls_(std::move(tls)) {
  addresses_ = resolve_stream_addresses(name_, host_, port_);
}

// One POST on a fresh connection (alerts are rare: no keep-alive to manage). For an answer >= 300,
// `body` holds the start of its body.
HttpResponse HttpClient::post(std::string_view path, std::string_view content_type, std::string_view body,
                              std::chrono::milliseconds timeout) {
  HttpResponse r;
  Connection c;
  c.fd = connect_any(addresses_, r.error);
  if (c.fd < 0) return r;
  auto deadline = Clock::now() + timeout;
  if (tls_ && !tls_handshake(c, tls_.get(), host_, deadline, r.error, r.permanent)) return r;
  std::string request = fmt::format(
      "POST {} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: logpipe\r\nContent-Type: {}\r\n"
      "Content-Length: {}\r\nConnection: close\r\n\r\n",
      path, host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_, port_, content_type, body.size());
  request += body;
  std::string response;
  if (!send_all(c, request, deadline, r.error) || !receive_all(c, response, deadline, r.error)) return r;
  // "HTTP/1.1 200 OK\r\n..."
  if (response.size() >= 12 && response.compare(0, 5, "HTTP/") == 0) {
    size_t sp = response.find(' ');
    if (sp != std::string::npos && sp + 4 <= response.size()) r.status = std::atoi(response.c_str() + sp + 1);
  }
  if (r.status < 100) {
    r.status = 0;
    r.error = response.empty() ? "connection closed without an answer" : "not an HTTP answer";
    return r;
  }
  size_t head_end = response.find("\r\n\r\n");
  r.body = head_end == std::string::npos ? response.substr(0, response.find('\r')) : response.substr(head_end + 4);
  while (!r.body.empty() && (r.body.back() == '\n' || r.body.back() == '\r')) r.body.pop_back();
  return r;
}

}  // namespace logpipe::detail

// The Prometheus endpoint of `stream --metrics-listen`: one thread, one io_context, each
// connection reads the request head (up to a blank line or 8 KiB) and gets the current snapshot.
#include "logpipe/io/metrics_server.h"

#include "logpipe/io/endpoint.h"
#include "logpipe/error.h"

#include <boost/asio.hpp>

#include <mutex>
#include <thread>

namespace logpipe {

namespace asio = boost::asio;
using asio::ip::tcp;

struct MetricsServer::Impl {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::mutex mutex;
  std::string text = "# no window closed yet\n";
  std::thread thread;

  struct Session : std::enable_shared_from_this<Session> {
    tcp::socket socket;
    Impl& server;
    std::string request, response;
    Session(tcp::socket s, Impl& i) : socket(std::move(s)), server(i) {}
    void start() { read(); }
    void read() {
      request.resize(request.size() + 1024);
      auto self = shared_from_this();
      socket.async_read_some(asio::buffer(request.data() + request.size() - 1024, 1024),
                             [this, self](boost::system::error_code ec, size_t n) {
                               request.resize(request.size() - 1024 + n);
                               if (ec) return;
                               if (request.find("\r\n\r\n") != std::string::npos ||
                                   request.find("\n\n") != std::string::npos || request.size() > 8192)
                                 respond();
                               else
                                 read();
                             });
    }
    void respond() {
      std::string body;
      {
        std::lock_guard lock(server.mutex);
        body = server.text;
      }
      bool get = request.rfind("GET ", 0) == 0 || request.rfind("HEAD ", 0) == 0;
      if (!get) {
        response = "HTTP/1.0 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      } else {
        response = "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
        if (request.rfind("GET ", 0) == 0) response += body;
      }
      auto self = shared_from_this();
      asio::async_write(socket, asio::buffer(response), [this, self](boost::system::error_code, size_t) {
        boost::system::error_code ignored;
        socket.shutdown(tcp::socket::shutdown_both, ignored);
      });
    }
  };

  void accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) std::make_shared<Session>(std::move(s), *this)->start();
      accept();
    });
  }
};

MetricsServer::MetricsServer(const std::string& host_port) : impl_(std::make_unique<Impl>()) {
  auto [host, port] = split_host_port(host_port);
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) usage_error("--metrics-listen: '{}' is not an IP address", host);
  tcp::endpoint ep(address, port);
  impl_->acceptor.open(ep.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(ep, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) runtime_error("--metrics-listen: cannot listen on {}: {}", host_port, ec.message());
  impl_->accept();
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

MetricsServer::~MetricsServer() {
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void MetricsServer::publish(std::string text) {
  std::lock_guard lock(impl_->mutex);
  impl_->text = std::move(text);
}

unsigned short MetricsServer::port() const noexcept { return impl_->acceptor.local_endpoint().port(); }

}  // namespace logpipe

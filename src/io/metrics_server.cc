// The HTTP endpoint of `stream --metrics-listen` / `--http-listen`: one thread, one io_context;
// each connection reads the request head (up to a blank line or 8 KiB). GET /metrics (any path
// without the live view) gets the current Prometheus snapshot; with the live view, / gets the
// page and /events stays open as a Server-Sent Events stream: the replay of the kept windows,
// then every event the board publishes, and a comment every 15 s (a dead client is dropped at
// the next write; one that reads nothing for 8 MiB of events is dropped too).
#include "logpipe/io/metrics_server.h"

#include "logpipe/live.h"

#include "logpipe/io/endpoint.h"
#include "logpipe/error.h"

#include <boost/asio.hpp>

#include <chrono>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace logpipe {

namespace asio = boost::asio;
using asio::ip::tcp;

struct MetricsServer::Impl {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::mutex mutex;
  std::string text = "# no window closed yet\n";
  std::thread thread;
  LiveBoard* board = nullptr;  // --http-listen
  asio::steady_timer heartbeat{io};

  struct Session;
  std::vector<std::weak_ptr<Session>> subscribers;  // /events clients (io thread only)

  // Queues an event for every /events client (io thread).
  void broadcast(const std::shared_ptr<const std::string>& event) {
    std::erase_if(subscribers, [](const std::weak_ptr<Session>& w) { return w.expired(); });
    for (auto& w : subscribers)
      if (auto s = w.lock()) s->push(event);
  }
  void beat() {
    heartbeat.expires_after(std::chrono::seconds(15));
    heartbeat.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      broadcast(std::make_shared<const std::string>(": keep-alive\n\n"));
      beat();
    });
  }

  struct Session : std::enable_shared_from_this<Session> {
    tcp::socket socket;
    Impl& server;
    std::string request, response;
    std::deque<std::shared_ptr<const std::string>> queue;  // events not written yet
    size_t queued_bytes = 0;
    bool writing = false;
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
    // The path of the request line, without its query.
    std::string_view path() const {
      std::string_view line(request);
      line = line.substr(0, line.find_first_of("\r\n"));
      size_t sp = line.find(' ');
      if (sp == std::string_view::npos) return {};
      line.remove_prefix(sp + 1);
      line = line.substr(0, line.find(' '));
      return line.substr(0, line.find('?'));
    }
    void respond() {
      const bool head = request.rfind("HEAD ", 0) == 0;
      const bool get = request.rfind("GET ", 0) == 0 || head;
      const std::string_view p = path();
      if (!get) {
        response = "HTTP/1.0 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      } else if (server.board && p == "/events" && !head) {
        subscribe();
        return;
      } else if (server.board && (p == "/" || p == "/index.html")) {
        reply("text/html; charset=utf-8", live_page_html(), head);
      } else if (server.board && p != "/metrics") {
        reply("text/plain; charset=utf-8", "not found: / is the live view, /metrics the Prometheus text\n", head,
              "404 Not Found");
      } else {
        std::string body;
        {
          std::lock_guard lock(server.mutex);
          body = server.text;
        }
        reply("text/plain; version=0.0.4; charset=utf-8", body, head);
      }
      auto self = shared_from_this();
      asio::async_write(socket, asio::buffer(response), [this, self](boost::system::error_code, size_t) {
        boost::system::error_code ignored;
        socket.shutdown(tcp::socket::shutdown_both, ignored);
      });
    }
    void reply(std::string_view type, std::string_view body, bool head, std::string_view status = "200 OK") {
      response = "HTTP/1.0 ";
      response += status;
      response += "\r\nContent-Type: ";
      response += type;
      response += "\r\nCache-Control: no-store\r\nContent-Length: " + std::to_string(body.size()) +
                  "\r\nConnection: close\r\n\r\n";
      if (!head) response += body;
    }
    // /events: the headers and the replay, then whatever the board publishes.
    void subscribe() {
      push(std::make_shared<const std::string>(
          "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
          "Connection: close\r\n\r\nretry: 2000\n\n" + server.board->replay()));
      server.subscribers.push_back(weak_from_this());
      // A read that ends when the client closes (nothing else is expected from it).
      request.resize(64);
      auto self = shared_from_this();
      socket.async_read_some(asio::buffer(request), [this, self](boost::system::error_code ec, size_t) {
        if (ec) close();
      });
    }
    void push(const std::shared_ptr<const std::string>& event) {
      if (!socket.is_open()) return;
      queued_bytes += event->size();
      queue.push_back(event);
      if (queued_bytes > (size_t{8} << 20)) return close();  // a client that does not read
      if (!writing) write_next();
    }
    void write_next() {
      if (queue.empty()) {
        writing = false;
        return;
      }
      writing = true;
      auto self = shared_from_this();
      asio::async_write(socket, asio::buffer(*queue.front()), [this, self](boost::system::error_code ec, size_t) {
        if (ec) {
          close();
          queue.clear();
          writing = false;
          return;
        }
        queued_bytes -= queue.front()->size();
        queue.pop_front();
        write_next();
      });
    }
    // The pending write ends with an error; its buffer (the queue's front) stays alive until then.
    void close() {
      boost::system::error_code ignored;
      socket.close(ignored);
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

void MetricsServer::serve_live(LiveBoard& board) {
  // Before any window: the board's listener runs on the service's thread and posts to ours.
  asio::post(impl_->io, [this, &board] {
    impl_->board = &board;
    impl_->beat();
  });
  board.on_event([this](const std::string& event) {
    auto shared = std::make_shared<const std::string>(event);
    asio::post(impl_->io, [this, shared] { impl_->broadcast(shared); });
  });
}

void MetricsServer::publish(std::string text) {
  std::lock_guard lock(impl_->mutex);
  impl_->text = std::move(text);
}

unsigned short MetricsServer::port() const noexcept { return impl_->acceptor.local_endpoint().port(); }

}  // namespace logpipe

// Socket inputs with Boost.Asio, single-threaded: the io_context runs inside LineSource::next,
// so lines are handed out on the caller's thread with no locks and no queue of copies.
//
// TCP: each connection owns its buffer. When a read completes with at least one full line the
// connection joins the ready list and stops reading until its lines are consumed (backpressure
// per client); lines are views into that buffer. A client that disconnects mid-line yields its
// partial line once, flagged truncated() so that the caller counts it as malformed: it can never
// be glued to another client's bytes. Server mode (--listen) accepts any number of clients;
// client mode connects to HOST:PORT and ends when the server closes.
//
// UDP: one datagram at a time; each datagram holds one or more lines (a last line without a
// newline is a line: syslog senders do not terminate datagrams).
#include "io/endpoint_impl.h"

#include "logpipe/error.h"
#include "logpipe/input.h"

#include <boost/asio.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <list>

namespace logpipe::detail {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;

constexpr size_t kReadSize = 64 * 1024;
constexpr size_t kPadding = LineReader::kLinePadding;
constexpr size_t kMaxLine = 64 * 1024 * 1024;  // a client sending endless bytes without newline

asio::ip::address parse_address(const std::string& host, const std::string& spec) {
  boost::system::error_code ec;
  auto a = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) usage_error("endpoint '{}': '{}' is not an IP address", spec, host);
  return a;
}

struct Connection {
  explicit Connection(tcp::socket s) : socket(std::move(s)) {
    boost::system::error_code ec;
    auto peer = socket.remote_endpoint(ec);
    peer_name = ec ? "?" : peer.address().to_string() + ":" + std::to_string(peer.port());
    buffer.resize(kReadSize + kPadding);
  }
  tcp::socket socket;
  std::string peer_name;
  std::vector<char> buffer;
  size_t begin = 0, end = 0, scan = 0;
  bool closed = false;
  uint64_t line_number = 0;

  bool has_line() {
    if (scan >= end) return false;
    if (std::memchr(buffer.data() + scan, '\n', end - scan)) return true;
    scan = end;
    return false;
  }
};

class TcpLineSource final : public LineSource {
 public:
  TcpLineSource(const std::string& host_port, const EndpointOptions& o)
      : spec_("tcp://" + host_port), listen_(o.listen), acceptor_(io_) {
    auto [host, port] = split_host_port(host_port);
    boost::system::error_code ec;
    if (listen_) {
      tcp::endpoint ep(parse_address(host, spec_), port);
      acceptor_.open(ep.protocol(), ec);
      if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
      if (!ec) acceptor_.bind(ep, ec);
      if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
      if (ec) runtime_error("{}: cannot listen: {}", spec_, ec.message());
      // Name the bound port (port 0 = any free port, for tests and ad-hoc runs).
      auto bound = acceptor_.local_endpoint();
      spec_ = bound.address().is_v6() ? fmt::format("tcp://[{}]:{}", bound.address().to_string(), bound.port())
                                      : fmt::format("tcp://{}:{}", bound.address().to_string(), bound.port());
      accept();
    } else {
      tcp::resolver resolver(io_);
      auto results = resolver.resolve(host, std::to_string(port), ec);
      if (ec) runtime_error("{}: cannot resolve '{}': {}", spec_, host, ec.message());
      tcp::socket socket(io_);
      asio::connect(socket, results, ec);
      if (ec) runtime_error("{}: cannot connect: {}", spec_, ec.message());
      add(std::move(socket));
    }
    name_ = spec_;
  }

  Status next(std::string_view& line, int timeout_ms) override {
    truncated_ = false;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      if (current_) {
        Connection& c = *current_;
        if (c.has_line()) {
          char* start = c.buffer.data() + c.begin;
          auto* nl = static_cast<char*>(std::memchr(c.buffer.data() + c.scan, '\n', c.end - c.scan));
          size_t len = static_cast<size_t>(nl - start);
          c.begin = c.scan = c.begin + len + 1;
          if (len && start[len - 1] == '\r') --len;
          line = std::string_view(start, len);
          ++c.line_number;
          return Status::kLine;
        }
        if (c.closed) {
          if (c.begin < c.end) {  // the client went away mid-line
            line = std::string_view(c.buffer.data() + c.begin, c.end - c.begin);
            c.begin = c.scan = c.end;
            ++c.line_number;
            truncated_ = true;
            return Status::kLine;
          }
          remove(current_);
        } else {
          read(current_);  // its lines are consumed: read more
        }
        current_ = nullptr;
      }
      if (!ready_.empty()) {
        current_ = ready_.front();
        ready_.pop_front();
        name_ = spec_ + "/" + current_->peer_name;
        continue;
      }
      if (!listen_ && connections_.empty()) return Status::kEnd;
      if (io_.stopped()) io_.restart();
      if (io_.run_one_until(deadline) == 0 && std::chrono::steady_clock::now() >= deadline) return Status::kTimeout;
    }
  }
  const std::string& name() const noexcept override { return name_; }
  uint64_t line_number() const noexcept override { return current_ ? current_->line_number : 0; }
  bool truncated() const noexcept override { return truncated_; }

 private:
  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) add(std::move(socket));
      accept();  // transient errors (EMFILE...) do not stop the server
    });
  }

  void add(tcp::socket socket) {
    connections_.emplace_back(std::move(socket));
    read(&connections_.back());
  }

  void remove(Connection* c) {
    for (auto it = connections_.begin(); it != connections_.end(); ++it)
      if (&*it == c) {
        connections_.erase(it);
        return;
      }
  }

  void read(Connection* c) {
    if (c->begin > 0) {
      std::memmove(c->buffer.data(), c->buffer.data() + c->begin, c->end - c->begin);
      c->end -= c->begin;
      c->scan -= c->begin;
      c->begin = 0;
    }
    if (c->buffer.size() - kPadding - c->end < kReadSize / 2) {
      if (c->end >= kMaxLine) {  // hand the oversized partial line out; it will not parse
        ready_.push_back(c);
        c->buffer[c->end] = '\n';
        ++c->end;
        return;
      }
      c->buffer.resize(c->buffer.size() * 2);
    }
    size_t room = c->buffer.size() - kPadding - c->end;
    c->socket.async_read_some(asio::buffer(c->buffer.data() + c->end, room),
                              [this, c](boost::system::error_code ec, size_t n) {
                                c->end += n;
                                if (ec) {
                                  c->closed = true;
                                  ready_.push_back(c);  // hands out what is left, then is removed
                                } else if (c->has_line()) {
                                  ready_.push_back(c);
                                } else {
                                  read(c);
                                }
                              });
  }

  std::string spec_;
  std::string name_;
  bool listen_;
  bool truncated_ = false;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::list<Connection> connections_;  // stable addresses
  std::deque<Connection*> ready_;
  Connection* current_ = nullptr;
};

class UdpLineSource final : public LineSource {
 public:
  UdpLineSource(const std::string& host_port, const EndpointOptions&) : spec_("udp://" + host_port), socket_(io_) {
    auto [host, port] = split_host_port(host_port);
    udp::endpoint ep(parse_address(host, spec_), port);
    boost::system::error_code ec;
    socket_.open(ep.protocol(), ec);
    if (!ec) socket_.set_option(udp::socket::reuse_address(true), ec);
    if (!ec) socket_.set_option(asio::socket_base::receive_buffer_size(8 << 20), ec), ec = {};
    if (!ec) socket_.bind(ep, ec);
    if (ec) runtime_error("{}: cannot listen: {}", spec_, ec.message());
    auto bound = socket_.local_endpoint();
    spec_ = bound.address().is_v6() ? fmt::format("udp://[{}]:{}", bound.address().to_string(), bound.port())
                                    : fmt::format("udp://{}:{}", bound.address().to_string(), bound.port());
    buffer_.resize(65536 + kPadding);
  }

  Status next(std::string_view& line, int timeout_ms) override {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      if (begin_ < end_) {
        const char* start = buffer_.data() + begin_;
        auto* nl = static_cast<const char*>(std::memchr(start, '\n', end_ - begin_));
        size_t len = nl ? static_cast<size_t>(nl - start) : end_ - begin_;
        begin_ += len + (nl ? 1 : 0);
        if (len && start[len - 1] == '\r') --len;
        line = std::string_view(start, len);
        ++line_number_;
        return Status::kLine;
      }
      if (!receiving_) {
        receiving_ = true;
        socket_.async_receive_from(asio::buffer(buffer_.data(), buffer_.size() - kPadding), peer_,
                                   [this](boost::system::error_code ec, size_t n) {
                                     receiving_ = false;
                                     begin_ = 0;
                                     end_ = ec ? 0 : n;
                                   });
      }
      if (io_.stopped()) io_.restart();
      if (io_.run_one_until(deadline) == 0 && std::chrono::steady_clock::now() >= deadline) return Status::kTimeout;
    }
  }
  const std::string& name() const noexcept override { return spec_; }
  uint64_t line_number() const noexcept override { return line_number_; }

 private:
  std::string spec_;
  asio::io_context io_;
  udp::socket socket_;
  udp::endpoint peer_;
  std::vector<char> buffer_;
  size_t begin_ = 0, end_ = 0;
  bool receiving_ = false;
  uint64_t line_number_ = 0;
};

}  // namespace

std::unique_ptr<LineSource> open_tcp_lines(const std::string& host_port, const EndpointOptions& o) {
  return std::make_unique<TcpLineSource>(host_port, o);
}

std::unique_ptr<LineSource> open_udp_lines(const std::string& host_port, const EndpointOptions& o) {
  return std::make_unique<UdpLineSource>(host_port, o);
}

}  // namespace logpipe::detail

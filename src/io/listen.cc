// Socket inputs: Boost.Asio sockets in non-blocking mode driven by poll(2) inside
// LineSource::next, so lines are handed out on the caller's thread with no locks and no queue of
// copies. (Asio's own run_one_until() on Boost 1.74 sometimes missed readiness that arrived
// while it waited, leaving a client unread; a plain poll() over the sockets cannot.)
//
// TCP: each connection owns its buffer. When a read brings at least one full line the
// connection joins the ready list and stops reading until its lines are consumed (backpressure
// per client); lines are views into that buffer. A client that disconnects mid-line yields its
// partial line once, flagged truncated() so that the caller counts it as malformed: it can never
// be glued to another client's bytes. Server mode (--listen) accepts any number of clients;
// client mode connects to HOST:PORT and ends when the server closes. With --idle-exit, both end
// after that long without data (open connections first hand out what they hold).
//
// UDP: one datagram at a time; each datagram holds one or more lines (a last line without a
// newline is a line: syslog senders do not terminate datagrams).
#include "endpoint_factories.h"

#include "logpipe/error.h"
#include "logpipe/io/files.h"

#include <boost/asio.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <list>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

namespace logpipe::detail {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;

constexpr size_t kReadSize = 64 * 1024;
constexpr size_t kPadding = LineReader::kLinePadding;

asio::ip::address parse_address(const std::string& host, const std::string& spec) {
  boost::system::error_code ec;
  auto a = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) usage_error("endpoint '{}': '{}' is not an IP address", spec, host);
  return a;
}

struct Connection {
  Connection(tcp::socket s, size_t max_line) : socket(std::move(s)), cutter(max_line) {
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
  bool reading = true;  // waiting for bytes (false while its lines are handed out)
  uint64_t line_number = 0;
  LongLineCutter cutter;  // --max-line-bytes: a longer line leaves in pieces

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
      : spec_("tcp://" + host_port), listen_(o.listen), idle_exit_us_(o.idle_exit_us), max_line_(o.max_line_bytes),
        acceptor_(io_) {
    auto [host, port] = split_host_port(host_port);
    boost::system::error_code ec;
    if (listen_) {
      tcp::endpoint ep(parse_address(host, spec_), port);
      acceptor_.open(ep.protocol(), ec);
      if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
      if (!ec) acceptor_.bind(ep, ec);
      if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
      if (!ec) acceptor_.non_blocking(true, ec);
      if (ec) runtime_error("{}: cannot listen: {}", spec_, ec.message());
      // Name the bound port (port 0 = any free port, for tests and ad-hoc runs).
      auto bound = acceptor_.local_endpoint();
      spec_ = bound.address().is_v6() ? fmt::format("tcp://[{}]:{}", bound.address().to_string(), bound.port())
                                      : fmt::format("tcp://{}:{}", bound.address().to_string(), bound.port());
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
          if (size_t piece = c.cutter.cut(len, true, size_)) return take_piece(c, line, piece);
          c.begin = c.scan = c.begin + len + 1;
          if (len && start[len - 1] == '\r') --len;
          line = std::string_view(start, len);
          size_ = c.cutter.end_line();
          if (size_ == LineSize::kWhole) ++c.line_number;
          return Status::kLine;
        }
        // No newline buffered: a line over --max-line-bytes leaves in pieces.
        if (size_t piece = c.cutter.cut(c.end - c.begin, false, size_)) return take_piece(c, line, piece);
        if (c.closed) {
          if (c.begin < c.end) {  // the client went away mid-line
            line = std::string_view(c.buffer.data() + c.begin, c.end - c.begin);
            c.begin = c.scan = c.end;
            size_ = c.cutter.end_line();
            if (size_ == LineSize::kWhole) ++c.line_number;
            truncated_ = true;
            return Status::kLine;
          }
          remove(current_);
        } else {
          c.reading = true;  // its lines are consumed: read more
        }
        current_ = nullptr;
      }
      if (!ready_.empty()) {
        current_ = ready_.front();
        ready_.pop_front();
        name_ = listen_ ? spec_ + "/" + current_->peer_name : spec_;  // a server names the client
        continue;
      }
      if ((!listen_ || idle_ended_) && connections_.empty()) return Status::kEnd;
      auto until = deadline;
      if (idle_exit_us_ > 0 && !idle_ended_) {
        auto idle_end = last_data_ + std::chrono::microseconds(idle_exit_us_);
        if (std::chrono::steady_clock::now() >= idle_end) {
          end_idle();
          continue;
        }
        until = std::min(until, idle_end);
      }
      if (!wait(until) && until == deadline) return Status::kTimeout;
    }
  }
  const std::string& name() const noexcept override { return name_; }
  uint64_t line_number() const noexcept override { return current_ ? current_->line_number : 0; }
  bool truncated() const noexcept override { return truncated_; }
  LineSize line_size() const noexcept override { return size_; }
  void finish() override {
    if (!idle_ended_) end_idle();
  }

 private:
  // Waits for the listener or a reading client with poll(2), then accepts and reads without
  // blocking. Returns false when the deadline passed with nothing to hand out.
  bool wait(std::chrono::steady_clock::time_point deadline) {
    fds_.clear();
    polled_.clear();
    if (listen_ && !idle_ended_) fds_.push_back({acceptor_.native_handle(), POLLIN, 0});
    for (auto& c : connections_)
      if (c.reading) {
        fds_.push_back({c.socket.native_handle(), POLLIN, 0});
        polled_.push_back(&c);
      }
    int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
    int r = ::poll(fds_.data(), fds_.size(), std::max(left, 0));
    if (r < 0 && errno != EINTR) system_error(errno, "cannot poll '" + spec_ + "'");
    if (r <= 0) return std::chrono::steady_clock::now() < deadline;
    size_t first = listen_ && !idle_ended_ ? 1 : 0;
    if (first && fds_[0].revents) accept_all();
    for (size_t i = first; i < fds_.size(); ++i)
      if (fds_[i].revents) read(polled_[i - first]);
    return true;
  }

  // A piece of a line over the cap (size_ set by the cutter): the next `n` bytes of c.
  Status take_piece(Connection& c, std::string_view& line, size_t n) {
    line = std::string_view(c.buffer.data() + c.begin, n);
    c.begin += n;
    c.scan = std::max(c.scan, c.begin);
    if (size_ == LineSize::kCut) ++c.line_number;
    return Status::kLine;
  }

  // --idle-exit: no new client, and each open connection hands out what it holds (a partial
  // line as a truncated line: it is counted, not dropped) before the source ends.
  void end_idle() {
    idle_ended_ = true;
    boost::system::error_code ignored;
    if (listen_) acceptor_.close(ignored);
    for (auto& c : connections_) {
      c.closed = true;
      c.reading = false;
      ready_.push_back(&c);
    }
  }

  void accept_all() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket(io_);
      acceptor_.accept(socket, ec);
      if (ec) return;  // would block, or a transient error (EMFILE...): the server goes on
      add(std::move(socket));
    }
  }

  void add(tcp::socket socket) {
    boost::system::error_code ec;
    socket.non_blocking(true, ec);
    connections_.emplace_back(std::move(socket), max_line_);
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
      if (c->end > max_line_ || c->cutter.cutting()) {  // a line over the cap: hand out a piece first
        c->reading = false;
        ready_.push_back(c);
        return;
      }
      c->buffer.resize(c->buffer.size() * 2);
    }
    boost::system::error_code ec;
    size_t n = c->socket.read_some(asio::buffer(c->buffer.data() + c->end, c->buffer.size() - kPadding - c->end), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again || ec == asio::error::interrupted) return;
    c->end += n;
    if (n > 0) last_data_ = std::chrono::steady_clock::now();
    if (ec) {
      c->closed = true;  // end of stream or reset: hand out what is left, then drop it
      c->reading = false;
      ready_.push_back(c);
    } else if (c->has_line() || c->end > max_line_) {
      c->reading = false;  // backpressure: read again once these lines are consumed
      ready_.push_back(c);
    }
  }

  std::string spec_;
  std::string name_;
  bool listen_;
  bool truncated_ = false;
  LineSize size_ = LineSize::kWhole;
  int64_t idle_exit_us_;  // --idle-exit: end after this long without data (0 = never)
  size_t max_line_;       // --max-line-bytes
  bool idle_ended_ = false;
  std::chrono::steady_clock::time_point last_data_ = std::chrono::steady_clock::now();
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::list<Connection> connections_;  // stable addresses
  std::deque<Connection*> ready_;
  Connection* current_ = nullptr;
  std::vector<pollfd> fds_;
  std::vector<Connection*> polled_;
};

// UDP has no flow control: when datagrams arrive faster than they are read, the kernel drops
// them once the socket's receive buffer is full. We ask for a large buffer (the kernel caps it at
// net.core.rmem_max), drain the socket with as few system calls as we can, and count the drops:
// SO_RXQ_OVFL stamps each datagram with the socket's drop count, and at the end the count is read
// from /proc/net/udp (drops after the last datagram received are there too). Drops are not
// silent: a warning while they happen, and at the end the input fails, naming how many, after
// every datagram received was counted (exit status 1). (The kernel dropped 17,476 datagrams
// under analyze, which said nothing and exited 0.)
class UdpLineSource final : public LineSource {
 public:
  static constexpr int kReceiveBuffer = 32 << 20;

  UdpLineSource(const std::string& host_port, const EndpointOptions& o)
      : spec_("udp://" + host_port), idle_exit_us_(o.idle_exit_us), socket_(io_) {
    auto [host, port] = split_host_port(host_port);
    udp::endpoint ep(parse_address(host, spec_), port);
    boost::system::error_code ec;
    socket_.open(ep.protocol(), ec);
    if (!ec) socket_.set_option(udp::socket::reuse_address(true), ec);
    if (!ec) socket_.set_option(asio::socket_base::receive_buffer_size(kReceiveBuffer), ec), ec = {};
    if (!ec) socket_.bind(ep, ec);
    if (ec) runtime_error("{}: cannot listen: {}", spec_, ec.message());
    auto bound = socket_.local_endpoint();
    spec_ = bound.address().is_v6() ? fmt::format("udp://[{}]:{}", bound.address().to_string(), bound.port())
                                    : fmt::format("udp://{}:{}", bound.address().to_string(), bound.port());
    socket_.non_blocking(true, ec);
    const int fd = socket_.native_handle();
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
    int size = 0;
    socklen_t len = sizeof size;
    if (::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, &len) == 0) buffer_bytes_ = size;
    struct stat st {};
    if (::fstat(fd, &st) == 0) inode_ = st.st_ino;
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
      if (finished_) return end();
      // Read first, poll only when nothing is waiting: one system call per datagram in a burst.
      if (receive()) continue;
      auto until = deadline;
      if (idle_exit_us_ > 0) {
        auto idle_end = last_data_ + std::chrono::microseconds(idle_exit_us_);
        if (std::chrono::steady_clock::now() >= idle_end) return end();
        until = std::min(until, idle_end);
      }
      pollfd p{socket_.native_handle(), POLLIN, 0};
      int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      until - std::chrono::steady_clock::now()).count());
      int r = ::poll(&p, 1, std::max(left, 0));
      if (r < 0 && errno != EINTR) system_error(errno, "cannot poll '" + spec_ + "'");
      if (r <= 0 && until == deadline) return Status::kTimeout;
    }
  }
  const std::string& name() const noexcept override { return spec_; }
  uint64_t line_number() const noexcept override { return line_number_; }
  // A stop signal: what is queued was read by the caller's draining; the next call ends.
  void finish() override { finished_ = true; }

 private:
  // One datagram into the buffer; false when none is waiting.
  bool receive() {
    iovec iov{buffer_.data(), buffer_.size() - kPadding};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(uint32_t))];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(socket_.native_handle(), &msg, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return false;
      system_error(errno, "cannot receive on '" + spec_ + "'");
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
        uint32_t dropped = 0;
        std::memcpy(&dropped, CMSG_DATA(c), sizeof dropped);
        note_drops(dropped);
      }
    begin_ = 0;
    end_ = static_cast<size_t>(n);
    last_data_ = std::chrono::steady_clock::now();
    return true;
  }

  void note_drops(uint64_t total) {
    if (total <= dropped_) return;
    dropped_ = total;
    auto now = std::chrono::steady_clock::now();
    if (now - last_warning_ < std::chrono::seconds(10)) return;
    last_warning_ = now;
    std::fprintf(stderr, "logpipe: %s: warning: the kernel dropped %llu datagrams so far (receive buffer of %d KiB full)\n",
                 spec_.c_str(), static_cast<unsigned long long>(dropped_), buffer_bytes_ / 1024);
  }

  // The socket's drop count from /proc/net/udp or udp6 (the last column of its inode's row).
  uint64_t kernel_drops() const {
    for (const char* table : {"/proc/net/udp", "/proc/net/udp6"}) {
      std::FILE* f = std::fopen(table, "r");
      if (!f) continue;
      char row[512];
      uint64_t drops = 0;
      bool found = false;
      while (!found && std::fgets(row, sizeof row, f)) {
        unsigned long long inode = 0, count = 0;
        // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
        if (std::sscanf(row, " %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %*s %*s %llu", &inode, &count) == 2 &&
            inode == inode_) {
          drops = count;
          found = true;
        }
      }
      std::fclose(f);
      if (found) return drops;
    }
    return 0;
  }

  // The end of the input (--idle-exit, or a stop once drained): fails when datagrams were lost.
  Status end() {
    note_drops(std::max<uint64_t>(dropped_, kernel_drops()));
    if (dropped_ > 0)
      runtime_error("{}: {} datagram{} dropped by the kernel (receive buffer of {} KiB full: send slower, or raise "
                    "net.core.rmem_max, up to {} MiB is asked for); every datagram received was counted",
                    spec_, dropped_, dropped_ == 1 ? "" : "s", buffer_bytes_ / 1024, kReceiveBuffer >> 20);
    return Status::kEnd;
  }

  std::string spec_;
  int64_t idle_exit_us_;
  std::chrono::steady_clock::time_point last_data_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_warning_{};
  asio::io_context io_;
  udp::socket socket_;
  std::vector<char> buffer_;
  size_t begin_ = 0, end_ = 0;
  uint64_t line_number_ = 0;
  uint64_t dropped_ = 0;  // datagrams the kernel dropped, as far as we know
  int buffer_bytes_ = 0;  // the receive buffer the kernel granted (it reports twice the usable size)
  ino_t inode_ = 0;
  bool finished_ = false;
};

}  // namespace

std::unique_ptr<LineSource> open_tcp_lines(const std::string& host_port, const EndpointOptions& o) {
  return std::make_unique<TcpLineSource>(host_port, o);
}

std::unique_ptr<LineSource> open_udp_lines(const std::string& host_port, const EndpointOptions& o) {
  return std::make_unique<UdpLineSource>(host_port, o);
}

}  // namespace logpipe::detail

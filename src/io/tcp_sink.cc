// tcp:// output: a line-oriented client that survives its server going away.
//
// Bytes are kept in `pending_` until the kernel accepted them. When the connection breaks the
// sink reconnects with exponential backoff (100 ms doubling to 5 s) and resends from the start of
// the first line the kernel did not fully take, so the new connection only ever sees whole lines
// (the old one may have received a fragment of that line). While disconnected it buffers up to
// kMaxPending bytes and then blocks: lines are never dropped silently. If the process must stop
// (a signal, or close() after kCloseDeadline without a server) it fails with exit 1 and says how
// many bytes were not delivered.
//
// Limit of plain TCP: bytes the kernel accepted but the peer never read (peer crash) are lost
// without notice; only an application-level acknowledgement could close that gap.
#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

#include "backoff.h"
#include "endpoint_factories.h"
#include "socket.h"
#include "logpipe/error.h"

namespace logpipe::detail {
namespace {

constexpr size_t kSendThreshold = 64 << 10;  // write() sends once this much is pending
constexpr size_t kMaxPending = 64 << 20;     // beyond this, write() blocks until delivered
constexpr size_t kCompactAt = 1 << 20;       // erase delivered bytes in steps of this size
constexpr std::chrono::milliseconds kFirstBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{5000};
constexpr int64_t kConnectTimeoutMs = 3000;
constexpr int64_t kCloseDeadlineMs = 30000;  // close(): how long to wait for a server
constexpr int64_t kAfterSignalMs = 5000;     // after SIGINT/SIGTERM: how long to keep trying

int64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

class TcpSink final : public ByteSink {
 public:
  TcpSink(std::string host, uint16_t port, std::string name)
      : host_(std::move(host)), port_(port), name_(std::move(name)) {
    resolve();  // a bad host name is a setup error; a refused connection is retried later
    if (!try_connect())
      fmt::print(stderr, "logpipe: {}: cannot connect ({}); buffering and retrying\n", name_,
                 last_error_);
  }
  ~TcpSink() override {
    try {
      close();
    } catch (...) {
    }
    if (fd_ >= 0) ::close(fd_);
  }

  void write(std::string_view data) override {
    pending_.append(data);
    if (pending_.size() - sent_ >= kSendThreshold) send_available();
    // Over the bound: block until enough was delivered (reconnecting as needed).
    while (undelivered() > kMaxPending) {
      wait_for_connection(no_deadline());
      send_available();
    }
  }

  void flush() override { send_available(); }

  void close() override {
    if (closed_) return;
    closed_ = true;
    int64_t deadline = now_ms() + kCloseDeadlineMs;
    while (undelivered() > 0) {
      if (!wait_for_connection(deadline)) break;
      send_available(deadline);
    }
    if (fd_ >= 0) {
      ::shutdown(fd_, SHUT_WR);
      ::close(fd_);
      fd_ = -1;
    }
    if (undelivered() > 0)
      runtime_error("{}: gave up after {} s without a server: {} bytes not delivered ({})", name_,
                    kCloseDeadlineMs / 1000, undelivered(), last_error_);
  }

  const std::string& name() const noexcept override { return name_; }

 private:
  static int64_t no_deadline() { return INT64_MAX; }
  size_t undelivered() const noexcept { return pending_.size() - line_start_; }

  void resolve() { addresses_ = resolve_stream_addresses(name_, host_, port_); }

  // One non-blocking connection attempt per address; true when connected.
  bool try_connect() {
    for (const Address& a : addresses_) {
      int err = 0;
      int fd = connect_stream(a, static_cast<int>(kConnectTimeoutMs), /*interruptible=*/true, err);
      if (fd >= 0) {
        fd_ = fd;
        backoff_.reset();
        if (was_connected_) fmt::print(stderr, "logpipe: {}: reconnected\n", name_);
        was_connected_ = true;
        return true;
      }
      last_error_ = std::strerror(err);
    }
    next_attempt_ms_ = now_ms() + backoff_.next().count();
    return false;
  }

  void disconnect(int err) {
    last_error_ = std::strerror(err);
    fmt::print(
        stderr,
        "logpipe: {}: connection lost ({}) after {} bytes sent on it (what the server received "
        "but had not read is lost with it); buffering and reconnecting\n",
        name_, last_error_, connection_bytes_);
    connection_bytes_ = 0;
    ::close(fd_);
    fd_ = -1;
    sent_ = line_start_;  // resend from the start of the partly sent line
    next_attempt_ms_ = now_ms() + backoff_.next().count();
  }

  // A peer that closed its end shows up as readable with 0 bytes: notice it before sending
  // into a dead connection.
  bool peer_closed() {
    char c;
    ssize_t r = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r == 0) return true;
    if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return true;
    return false;
  }

  // Sends what the connection takes; reconnects (without sleeping) when a retry is due.
  // With a deadline, waits for the socket to drain everything until that time.
  void send_available(int64_t deadline = 0) {
    if (sent_ == pending_.size()) return;
    if (fd_ < 0) {
      if (now_ms() < next_attempt_ms_ || !try_connect()) return;
    }
    if (peer_closed()) {
      disconnect(ECONNRESET);
      return;
    }
    while (sent_ < pending_.size()) {
      ssize_t n = ::send(fd_, pending_.data() + sent_, pending_.size() - sent_, MSG_NOSIGNAL);
      if (n > 0) {
        sent_ += static_cast<size_t>(n);
        connection_bytes_ += static_cast<uint64_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        // A slow reader: block (backpressure) when over the bound or when asked to drain.
        if (undelivered() <= kMaxPending && deadline == 0) break;
        if (!wait_writable(deadline == 0 ? no_deadline() : deadline)) break;
        continue;
      }
      disconnect(n < 0 ? errno : ECONNRESET);
      return;
    }
    // Forget what was delivered, up to the last complete line (compacting in large steps).
    if (sent_ == pending_.size()) {
      pending_.clear();
      sent_ = line_start_ = 0;
    } else if (sent_ > line_start_) {
      size_t nl = pending_.rfind('\n', sent_ - 1);
      if (nl != std::string::npos && nl + 1 > line_start_) line_start_ = nl + 1;
      if (line_start_ >= kCompactAt) {
        pending_.erase(0, line_start_);
        sent_ -= line_start_;
        line_start_ = 0;
      }
    }
  }

  bool wait_writable(int64_t deadline) {
    for (;;) {
      int64_t left = deadline - now_ms();
      if (left <= 0) return false;
      pollfd p{fd_, POLLOUT, 0};
      int rc = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1000)));
      if (rc > 0) return true;
      if (rc < 0 && errno == EINTR) note_signal();
    }
  }

  // Sleeps through the backoff until connected; false when the deadline passes first.
  bool wait_for_connection(int64_t deadline) {
    while (fd_ < 0) {
      int64_t now = now_ms();
      if (now >= deadline) return false;
      if (now >= next_attempt_ms_) {
        if (try_connect()) break;
        continue;
      }
      int64_t sleep_ms = std::min(next_attempt_ms_, deadline) - now;
      timespec ts{static_cast<time_t>(sleep_ms / 1000),
                  static_cast<long>(sleep_ms % 1000) * 1'000'000};
      if (::nanosleep(&ts, nullptr) != 0 && errno == EINTR) note_signal();
    }
    return true;
  }

  // A signal (SIGINT/SIGTERM) interrupted a wait: keep trying for a short while, then give up
  // loudly rather than hang.
  void note_signal() {
    int64_t now = now_ms();
    if (signal_deadline_ms_ == 0)
      signal_deadline_ms_ = now + kAfterSignalMs;
    else if (now >= signal_deadline_ms_)
      runtime_error("{}: interrupted: {} bytes not delivered ({})", name_, undelivered(),
                    fd_ < 0 ? last_error_ : std::string("server not reading"));
  }

  using Address = SocketAddress;
  std::string host_;
  uint16_t port_;
  std::string name_;
  std::vector<Address> addresses_;
  int fd_ = -1;
  std::string pending_;
  size_t sent_ = 0;        // bytes of pending_ already handed to the kernel on this connection
  size_t line_start_ = 0;  // start of the first line not fully handed to the kernel
  uint64_t connection_bytes_ = 0;  // sent on the current connection, for the loss message
  Backoff backoff_{kFirstBackoff, kMaxBackoff};
  int64_t next_attempt_ms_ = 0;
  int64_t signal_deadline_ms_ = 0;
  bool was_connected_ = false;
  bool closed_ = false;
  std::string last_error_;
};

}  // namespace

std::unique_ptr<ByteSink> open_tcp_sink(const std::string& spec, const EndpointOptions&) {
  auto [host, port] = split_host_port(spec);
  return std::make_unique<TcpSink>(host, port, "tcp://" + spec);
}

}  // namespace logpipe::detail

// tcp:// output: a line-oriented client that survives its server going away.
//
// Bytes are kept in `pending_` until the kernel accepted them. When the connection breaks the
// sink reconnects with exponential backoff (100 ms doubling to 5 s) and resends from the start of
// the first line the kernel did not fully take, so the new connection only ever sees whole lines
// (the old one may have received a fragment of that line). A connection that takes no byte for
// kSendTimeoutMs while data waits (a server that stopped reading, a peer that vanished without a
// reset) is treated as broken the same way.
//
// Two policies when the server does not keep up:
// - lines (generate -o, --window-log, anonymize -o): while disconnected or slow, buffer up to
//   kMaxPending bytes and then block (backpressure): lines are never dropped silently;
// - alerts (stream --alerts tcp://): never block the input. At most EndpointOptions::alert_queue
//   alerts (lines) wait; beyond, the oldest not yet on the wire are dropped and counted, with a
//   warning; close() then fails naming them (a receiver that never read used to freeze stream,
//   input included, and SIGTERM was ignored for 90 s or more).
// Either way a stop signal (EndpointOptions::stop, or a signal interrupting a wait) leaves at most
// kAfterSignalMs more to deliver, then the sink fails with exit 1 saying how many bytes were not
// delivered; close() without a signal gives up after kCloseDeadlineMs.
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

#include <algorithm>
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
constexpr size_t kMaxPending = 64 << 20;     // lines: beyond this, write() blocks until delivered
constexpr size_t kCompactAt = 1 << 20;       // erase delivered bytes in steps of this size
constexpr std::chrono::milliseconds kFirstBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{5000};
constexpr int64_t kConnectTimeoutMs = 3000;
constexpr int64_t kSendTimeoutMs = 30000;    // no byte taken for this long: the connection is dead
constexpr int64_t kCloseDeadlineMs = 30000;  // close(): how long to wait for a server
constexpr int64_t kAfterSignalMs = 5000;     // after SIGINT/SIGTERM: how long to keep trying
constexpr int64_t kWarnIntervalMs = 10000;

int64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

class TcpSink final : public ByteSink {
 public:
  // `max_lines` > 0: the alerts policy (a bounded queue of that many lines, never blocking).
  TcpSink(std::string host, uint16_t port, std::string name, const StopFlag* stop, size_t max_lines,
          int64_t retry_for_ms)
      : host_(std::move(host)), port_(port), name_(std::move(name)), stop_(stop), max_lines_(max_lines),
        retry_for_ms_(retry_for_ms) {
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
    if (max_lines_) {
      queued_lines_ += static_cast<size_t>(std::count(data.begin(), data.end(), '\n'));
      send_available();
      drop_oldest();
      return;
    }
    if (pending_.size() - sent_ >= kSendThreshold) send_available();
    // Over the bound: block until enough was delivered (reconnecting as needed, for --retry-for).
    while (undelivered() > kMaxPending) {
      if (!wait_for_connection(give_up_ms()))
        runtime_error("{}: no connection for {} s: {} bytes not delivered ({})", name_, retry_for_ms_ / 1000,
                      undelivered(), last_error_);
      send_available(no_deadline(), kMaxPending);
    }
  }

  void flush() override { send_available(); }

  void close() override {
    if (closed_) return;
    closed_ = true;
    int64_t deadline = std::min(now_ms() + kCloseDeadlineMs, give_up_ms());
    std::string interrupted;  // a stop signal ended the wait: reported after the counts
    try {
      while (undelivered() > 0 && now_ms() < deadline) {
        if (!wait_for_connection(deadline)) break;
        send_available(deadline, 0);
      }
    } catch (const Error& e) {
      interrupted = e.what();
    }
    const std::string why = fd_ < 0 ? last_error_ : std::string("server not reading");
    if (fd_ >= 0) {
      ::shutdown(fd_, SHUT_WR);
      ::close(fd_);
      fd_ = -1;
    }
    if (dropped_)
      fmt::print(stderr, "logpipe: {}: {} alert{} dropped in all (queue of {} full: {})\n", name_, dropped_,
                 dropped_ == 1 ? "" : "s", max_lines_, why);
    if (!interrupted.empty()) throw Error(kExitRuntime, interrupted);
    if (undelivered() > 0 && fd_ < 0 && down_since_ms_ && now_ms() >= give_up_ms())
      runtime_error("{}: no connection for {} s: {} bytes not delivered ({})", name_, retry_for_ms_ / 1000,
                    undelivered(), why);
    if (undelivered() > 0)
      runtime_error("{}: gave up after {} s: {} bytes not delivered ({})", name_, kCloseDeadlineMs / 1000,
                    undelivered(), why);
    if (dropped_) runtime_error("{}: {} alert{} not delivered (dropped)", name_, dropped_, dropped_ == 1 ? "" : "s");
  }

  bool all_delivered() const noexcept override { return dropped_ == 0 && undelivered() == 0; }
  const std::string& name() const noexcept override { return name_; }

 private:
  static int64_t no_deadline() { return INT64_MAX; }
  // While there is no connection: when --retry-for runs out.
  int64_t give_up_ms() const { return down_since_ms_ ? down_since_ms_ + retry_for_ms_ : INT64_MAX; }
  size_t undelivered() const noexcept { return pending_.size() - line_start_; }

  void resolve() { addresses_ = resolve_stream_addresses(name_, host_, port_); }

  // One non-blocking connection attempt per address; true when connected.
  bool try_connect() {
    for (const Address& a : addresses_) {
      int err = 0;
      int fd = connect_stream(a, static_cast<int>(kConnectTimeoutMs), /*interruptible=*/true, err);
      if (fd >= 0) {
        fd_ = fd;
        down_since_ms_ = 0;
        backoff_.reset();
        if (was_connected_) fmt::print(stderr, "logpipe: {}: reconnected\n", name_);
        was_connected_ = true;
        progress_ms_ = now_ms();
        return true;
      }
      last_error_ = std::strerror(err);
      if (err == EINTR) note_signal();
    }
    if (!down_since_ms_) down_since_ms_ = now_ms();
    next_attempt_ms_ = now_ms() + backoff_.next().count();
    return false;
  }

  void disconnect(const std::string& why) {
    last_error_ = why;
    fmt::print(
        stderr,
        "logpipe: {}: connection lost ({}) after {} bytes sent on it (what the server received "
        "but had not read is lost with it); buffering and reconnecting\n",
        name_, last_error_, connection_bytes_);
    connection_bytes_ = 0;
    ::close(fd_);
    fd_ = -1;
    down_since_ms_ = now_ms();
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

  // Sends what the connection takes; reconnects (without sleeping) when a retry is due. Then
  // waits for the socket, until `deadline`, while more than `keep` bytes are undelivered (the
  // default: no wait).
  void send_available(int64_t deadline = 0, size_t keep = SIZE_MAX) {
    if (sent_ == pending_.size()) return;
    if (fd_ < 0) {
      if (now_ms() < next_attempt_ms_ || !try_connect()) return;
    }
    if (peer_closed()) {
      disconnect(std::strerror(ECONNRESET));
      return;
    }
    while (sent_ < pending_.size()) {
      ssize_t n = ::send(fd_, pending_.data() + sent_, pending_.size() - sent_, MSG_NOSIGNAL);
      if (n > 0) {
        sent_ += static_cast<size_t>(n);
        connection_bytes_ += static_cast<uint64_t>(n);
        progress_ms_ = now_ms();
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (now_ms() - progress_ms_ >= kSendTimeoutMs) {
          disconnect(fmt::format("the server took no byte for {} s", kSendTimeoutMs / 1000));
          return;
        }
        // A slow reader: wait (backpressure) only when asked to.
        if (undelivered() <= keep || deadline == 0) break;
        if (!wait_writable(deadline)) break;
        continue;
      }
      disconnect(std::strerror(n < 0 ? errno : ECONNRESET));
      return;
    }
    forget_delivered();
  }

  // Forgets what was delivered, up to the last complete line (compacting in large steps).
  void forget_delivered() {
    if (sent_ == pending_.size()) {
      pending_.clear();
      sent_ = line_start_ = 0;
      queued_lines_ = 0;
    } else if (sent_ > line_start_) {
      size_t nl = pending_.rfind('\n', sent_ - 1);
      if (nl != std::string::npos && nl + 1 > line_start_) {
        if (max_lines_)
          queued_lines_ -= static_cast<size_t>(std::count(pending_.begin() + static_cast<std::ptrdiff_t>(line_start_),
                                                          pending_.begin() + static_cast<std::ptrdiff_t>(nl + 1), '\n'));
        line_start_ = nl + 1;
      }
      if (line_start_ >= kCompactAt) {
        pending_.erase(0, line_start_);
        sent_ -= line_start_;
        line_start_ = 0;
      }
    }
  }

  // The alerts policy: beyond max_lines_ queued lines, the oldest that are not on the wire yet
  // (the one partly sent stays: the server has its beginning) are dropped, in one erase.
  void drop_oldest() {
    if (queued_lines_ <= max_lines_) return;
    size_t from = line_start_;
    if (sent_ > line_start_) {  // skip the line partly sent
      size_t nl = pending_.find('\n', sent_ - 1);
      if (nl == std::string::npos) return;
      from = nl + 1;
    }
    size_t to = from, count = 0;
    while (queued_lines_ - count > max_lines_ && to < pending_.size()) {
      size_t nl = pending_.find('\n', to);
      if (nl == std::string::npos) break;
      to = nl + 1;
      ++count;
    }
    if (count == 0) return;
    pending_.erase(from, to - from);
    queued_lines_ -= count;
    dropped_ += count;
    int64_t now = now_ms();
    if (now - last_drop_warning_ms_ >= kWarnIntervalMs) {
      last_drop_warning_ms_ = now;
      fmt::print(stderr, "logpipe: {}: alert queue full ({} alerts; {}); dropping the oldest ({} dropped so far)\n",
                 name_, max_lines_, fd_ < 0 ? last_error_ : std::string("the server is not reading"), dropped_);
    }
  }

  bool wait_writable(int64_t deadline) {
    for (;;) {
      int64_t left = std::min(deadline, stop_deadline()) - now_ms();
      if (left <= 0) {
        check_signal_deadline();
        return false;
      }
      pollfd p{fd_, POLLOUT, 0};
      int rc = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 200)));
      if (rc > 0) return true;
      if (rc < 0 && errno == EINTR) note_signal();
      check_signal_deadline();
      if (now_ms() - progress_ms_ >= kSendTimeoutMs) return true;  // send() notices the stall
    }
  }

  // Sleeps through the backoff until connected; false when the deadline passes first.
  bool wait_for_connection(int64_t deadline) {
    while (fd_ < 0) {
      check_signal_deadline();
      int64_t now = now_ms();
      if (now >= std::min(deadline, stop_deadline())) return false;
      if (now >= next_attempt_ms_) {
        if (try_connect()) break;
        continue;
      }
      int64_t sleep_ms = std::min({next_attempt_ms_, deadline, stop_deadline(), now + 200}) - now;
      timespec ts{static_cast<time_t>(sleep_ms / 1000), static_cast<long>(sleep_ms % 1000) * 1'000'000};
      if (::nanosleep(&ts, nullptr) != 0 && errno == EINTR) note_signal();
    }
    return true;
  }

  // A stop signal (seen through the flag, or interrupting a wait) leaves kAfterSignalMs to
  // deliver what is left: every wait ends by then.
  void note_signal() {
    if (signal_deadline_ms_ == 0) signal_deadline_ms_ = now_ms() + kAfterSignalMs;
  }
  int64_t stop_deadline() {
    if (stop_requested(stop_)) note_signal();
    return signal_deadline_ms_ ? signal_deadline_ms_ : INT64_MAX;
  }
  void check_signal_deadline() {
    if (stop_deadline() <= now_ms())
      runtime_error("{}: interrupted: {} bytes not delivered ({})", name_, undelivered(),
                    fd_ < 0 ? last_error_ : std::string("server not reading"));
  }

  using Address = SocketAddress;
  std::string host_;
  uint16_t port_;
  std::string name_;
  const StopFlag* stop_;
  size_t max_lines_;  // > 0: the alerts policy
  int64_t retry_for_ms_;   // --retry-for
  int64_t down_since_ms_ = 0;  // the connection is down since (0: connected)
  std::vector<Address> addresses_;
  int fd_ = -1;
  std::string pending_;
  size_t sent_ = 0;        // bytes of pending_ already handed to the kernel on this connection
  size_t line_start_ = 0;  // start of the first line not fully handed to the kernel
  size_t queued_lines_ = 0;  // alerts policy: lines from line_start_ on
  uint64_t dropped_ = 0;     // alerts policy: lines dropped from a full queue
  uint64_t connection_bytes_ = 0;  // sent on the current connection, for the loss message
  Backoff backoff_{kFirstBackoff, kMaxBackoff};
  int64_t next_attempt_ms_ = 0;
  int64_t progress_ms_ = 0;  // when the connection last took a byte (or was made)
  int64_t signal_deadline_ms_ = 0;
  int64_t last_drop_warning_ms_ = INT64_MIN / 2;
  bool was_connected_ = false;
  bool closed_ = false;
  std::string last_error_ = "not connected yet";
};

}  // namespace

std::unique_ptr<ByteSink> open_tcp_sink(const std::string& spec, const EndpointOptions& o) {
  auto [host, port] = split_host_port(spec);
  return std::make_unique<TcpSink>(host, port, "tcp://" + spec, o.stop, 0, o.retry_for_us / 1000);
}

std::unique_ptr<ByteSink> open_tcp_alert_sink(const std::string& spec, const EndpointOptions& o) {
  auto [host, port] = split_host_port(spec);
  return std::make_unique<TcpSink>(host, port, "tcp://" + spec, o.stop, std::max<size_t>(1, o.alert_queue),
                                   o.retry_for_us / 1000);
}

}  // namespace logpipe::detail

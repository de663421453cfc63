// alertmanager://HOST:PORT[/PREFIX]: alerts to the Prometheus Alertmanager API v2.
//
// The sink receives the alert JSON lines every other sink gets (SPEC.md alert schema) and turns
// each into an Alertmanager alert: labels alertname=metric, key (absent for global metrics),
// instance (the host name) and the --alert-label extras; annotations with the value, threshold,
// counts and window bounds. Delivery runs on a background thread, so the engine never waits for
// HTTP: write() parses and queues, flush() only wakes the thread.
//
// Why these times: Alertmanager compares startsAt/endsAt with its own clock, while our windows are
// in event time, which for a replay of history may be months old. So a firing alert starts at its
// window's start (never later than now) and carries endsAt = now + kFiringValidity; the thread
// re-posts every firing episode each kRepostInterval with a fresh endsAt, as Prometheus does, so
// Alertmanager neither resolves it on its own nor keeps it forever if logpipe dies. A resolved
// event carries endsAt = the resolving window's start (never later than now), which Alertmanager
// takes as resolved at once.
//
// Failures: connection errors, timeouts, 5xx, 408 and 429 are retried with exponential backoff
// (kFirstBackoff doubling to kMaxBackoff), alerts kept in order in a bounded queue
// (EndpointOptions::alert_queue); when it is full the oldest alert is dropped and counted, with a
// warning on stderr. Other 4xx answers mean Alertmanager will never take that batch: it is dropped
// with the answer printed. close() waits up to kCloseDeadline for the queue to empty and throws,
// naming how many alerts were not delivered, when it does not (stream then does not commit Kafka
// offsets past them).
//
// alertmanager+tls://HOST:PORT[/PREFIX] is the same over HTTPS: the server's certificate is
// checked against --tls-ca (or the system's CA store) and must name HOST; --tls-cert/--tls-key
// present a client certificate. Plain alertmanager:// is for loopback or a trusted network
// (docs/security.md).
#include "endpoint_factories.h"
#include "socket.h"
#include "tls_client.h"

#include "logpipe/error.h"
#include "logpipe/text.h"
#include "logpipe/timeutil.h"

#include <fmt/format.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

namespace logpipe::detail {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kFirstBackoff = 100ms;
constexpr auto kMaxBackoff = 5s;
constexpr int kConnectTimeoutMs = 3000;
constexpr auto kResponseTimeout = 10s;
constexpr auto kCloseDeadline = 30s;
constexpr auto kRepostInterval = 60s;
constexpr int64_t kFiringValidityUs = 5 * 60 * 1'000'000LL;  // 5 reposts may be missed
constexpr size_t kBatch = 500;                                 // alerts per POST
constexpr auto kWarnInterval = 10s;

int64_t wall_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string rfc3339(int64_t us) {
  char buf[32];
  return std::string(buf, format_rfc3339_seconds(us, buf));
}

// The fields of one alert line, as raw JSON text (strings without their quotes, still escaped).
struct AlertLine {
  std::string_view state, metric, key, value, threshold, requests, errors, window_start, window_end;
};

// A flat JSON object of string and number values, which is what append_alert_json writes. Values
// are kept escaped: they are copied into another JSON document.
bool parse_alert_line(std::string_view s, AlertLine& a) {
  size_t i = 0;
  auto skip_space = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) ++i;
  };
  auto string_at = [&](std::string_view& out) {
    if (i >= s.size() || s[i] != '"') return false;
    size_t start = ++i;
    while (i < s.size() && s[i] != '"') i += s[i] == '\\' ? 2 : 1;
    if (i >= s.size()) return false;
    out = s.substr(start, i - start);
    ++i;
    return true;
  };
  skip_space();
  if (i >= s.size() || s[i++] != '{') return false;
  for (;;) {
    skip_space();
    std::string_view name, value;
    if (!string_at(name)) return false;
    skip_space();
    if (i >= s.size() || s[i++] != ':') return false;
    skip_space();
    if (i < s.size() && s[i] == '"') {
      if (!string_at(value)) return false;
    } else {
      size_t start = i;
      while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ' ') ++i;
      value = s.substr(start, i - start);
      if (value.empty()) return false;
    }
    if (name == "state") a.state = value;
    else if (name == "metric") a.metric = value;
    else if (name == "key") a.key = value;
    else if (name == "value") a.value = value;
    else if (name == "threshold") a.threshold = value;
    else if (name == "requests") a.requests = value;
    else if (name == "errors") a.errors = value;
    else if (name == "window_start") a.window_start = value;
    else if (name == "window_end") a.window_end = value;
    skip_space();
    if (i >= s.size()) return false;
    if (s[i] == '}') break;
    if (s[i++] != ',') return false;
  }
  return (a.state == "firing" || a.state == "resolved") && !a.metric.empty() &&
         !a.window_start.empty() && !a.window_end.empty();
}

struct Target {
  std::string host;
  uint16_t port = 0;
  std::string path;  // /PREFIX/api/v2/alerts
};

class AlertmanagerSink final : public ByteSink {
 public:
  AlertmanagerSink(Target target, std::string name, const EndpointOptions& o, bool tls)
      : target_(std::move(target)), name_(std::move(name)), max_queue_(o.alert_queue) {
    if (tls) tls_ = new_client_ssl_ctx(name_, o);  // a bad --tls-* file is a setup error
    resolve();
    // Labels shared by every alert: instance (the host name, unless --alert-label sets it) and
    // the --alert-label extras, already validated by the CLI.
    std::map<std::string, std::string> labels;
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0 && host[0]) labels["instance"] = host;
    for (const auto& [k, v] : o.alert_labels) labels[k] = v;
    for (const auto& [k, v] : labels) {
      if (k == "alertname" || k == "key") continue;  // ours
      common_labels_ += ',';
      append_json_string(common_labels_, k);
      common_labels_ += ':';
      append_json_string(common_labels_, v);
    }
    if (max_queue_ == 0) max_queue_ = 1;
    thread_ = std::thread([this] { run(); });
  }

  ~AlertmanagerSink() override {
    try {
      close();
    } catch (...) {
    }
    stop_thread();
  }

  void write(std::string_view data) override {
    line_.append(data);
    size_t start = 0, nl;
    std::unique_lock lock(mutex_);
    while ((nl = line_.find('\n', start)) != std::string::npos) {
      enqueue(std::string_view(line_).substr(start, nl - start));
      start = nl + 1;
    }
    line_.erase(0, start);
  }

  void flush() override { wake_.notify_one(); }

  void close() override {
    if (closed_) return;
    closed_ = true;
    {
      std::unique_lock lock(mutex_);
      if (!line_.empty()) enqueue(line_);
      line_.clear();
      closing_ = true;
      close_deadline_ = Clock::now() + kCloseDeadline;
      wake_.notify_one();
      done_.wait(lock, [&] { return queue_.empty() || Clock::now() >= close_deadline_ || thread_done_; });
    }
    stop_thread();
    std::unique_lock lock(mutex_);
    if (dropped_)
      fmt::print(stderr, "logpipe: {}: {} alert{} dropped in all (queue of {} full)\n", name_, dropped_,
                 dropped_ == 1 ? "" : "s", max_queue_);
    if (!queue_.empty())
      runtime_error("{}: {} alert{} not delivered after {} s ({})", name_, queue_.size(),
                    queue_.size() == 1 ? "" : "s",
                    std::chrono::duration_cast<std::chrono::seconds>(kCloseDeadline).count(), last_error_);
  }

  bool all_delivered() const noexcept override {
    std::unique_lock lock(mutex_);
    return queue_.empty() && dropped_ == 0 && rejected_ == 0;
  }

  const std::string& name() const noexcept override { return name_; }

 private:
  struct Entry {
    uint64_t seq;
    bool firing;
    std::string fingerprint;  // metric \0 key: which episode it belongs to
    std::string object;       // the JSON object without endsAt and its closing brace
    std::string ends_at;      // resolved: fixed; firing: computed when sent
  };

  // Called with mutex_ held.
  void enqueue(std::string_view line) {
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) return;
    AlertLine a;
    if (!parse_alert_line(line, a)) {
      fmt::print(stderr, "logpipe: {}: not an alert line, skipped: {:.200}\n", name_, line);
      return;
    }
    Entry e;
    e.seq = ++seq_;
    e.firing = a.state == "firing";
    e.fingerprint.append(a.metric).append(1, '\0').append(a.key);
    int64_t now = wall_us();
    int64_t start_us = now;
    parse_iso_time(a.window_start, start_us);
    std::string& o = e.object;
    o = R"({"labels":{"alertname":")";
    o.append(a.metric).append("\"");
    if (!a.key.empty()) o.append(R"(,"key":")").append(a.key).append("\"");
    o += common_labels_;
    o += R"(},"annotations":{"summary":")";
    o.append(a.metric);
    if (!a.key.empty()) o.append(" of ").append(a.key);
    o.append(e.firing ? " is " : " back to ").append(a.value).append(e.firing ? " > " : " <= ").append(a.threshold);
    o.append(R"(","value":")").append(a.value);
    o.append(R"(","threshold":")").append(a.threshold);
    if (!a.requests.empty()) o.append(R"(","requests":")").append(a.requests);
    if (!a.errors.empty()) o.append(R"(","errors":")").append(a.errors);
    o.append(R"(","window_start":")").append(a.window_start);
    o.append(R"(","window_end":")").append(a.window_end);
    o.append(R"("},"startsAt":")");
    if (e.firing) {
      o += rfc3339(std::min(start_us, now));
      o += '"';
      firing_[e.fingerprint] = o;  // re-posted until resolved
    } else {
      auto it = firing_.find(e.fingerprint);
      if (it != firing_.end()) {
        // Same startsAt as the firing post: Alertmanager matches on labels, but keep it tidy.
        size_t p = it->second.rfind(R"("startsAt":")");
        o += std::string_view(it->second).substr(p + 12);
        firing_.erase(it);
      } else {
        o += rfc3339(std::min(start_us, now));
        o += '"';
      }
      e.ends_at = rfc3339(std::min(start_us, now));
    }
    if (queue_.size() >= max_queue_) {
      queue_.pop_front();
      ++dropped_;
      auto t = Clock::now();
      if (t - last_drop_warning_ >= kWarnInterval) {
        last_drop_warning_ = t;
        fmt::print(stderr, "logpipe: {}: alert queue full ({} alerts, Alertmanager unreachable: {}); "
                   "dropping the oldest ({} dropped so far)\n", name_, max_queue_, last_error_, dropped_);
      }
    }
    queue_.push_back(std::move(e));
  }

  void stop_thread() {
    {
      std::unique_lock lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

  // The delivery thread: queued alerts first, in order; firing episodes re-posted periodically.
  void run() {
    auto backoff = std::chrono::duration_cast<Clock::duration>(kFirstBackoff);
    auto next_attempt = Clock::now();
    auto next_repost = Clock::now() + kRepostInterval;
    std::unique_lock lock(mutex_);
    for (;;) {
      auto now = Clock::now();
      if (stopping_ || (closing_ && (queue_.empty() || now >= close_deadline_))) break;
      bool repost_due = !firing_.empty() && now >= next_repost;
      if ((queue_.empty() && !repost_due) || now < next_attempt) {
        auto until = now < next_attempt ? next_attempt : next_repost;
        if (closing_) until = std::min(until, close_deadline_);
        wake_.wait_until(lock, until);
        continue;
      }
      // Build one POST body from the front of the queue (or the firing episodes).
      std::string body = "[";
      uint64_t last_seq = 0;
      size_t count = 0;
      std::string ends_at = rfc3339(wall_us() + kFiringValidityUs);
      auto add = [&](const std::string& object, const std::string& end) {
        if (count++) body += ',';
        body += object;
        body.append(R"(,"endsAt":")").append(end).append("\"}");
      };
      bool repost = queue_.empty();
      if (!repost) {
        for (const Entry& e : queue_) {
          if (count == kBatch) break;
          add(e.object, e.firing ? ends_at : e.ends_at);
          last_seq = e.seq;
        }
      } else {
        for (const auto& [fp, object] : firing_) add(object, ends_at);
      }
      body += ']';
      lock.unlock();
      std::string error;
      int status = post(body, error);
      lock.lock();
      now = Clock::now();
      bool retry = status == 0 || status >= 500 || status == 408 || status == 429;
      if (!retry) {
        if (status >= 300) {
          rejected_ += repost ? 0 : count;
          fmt::print(stderr, "logpipe: {}: Alertmanager refused {} alert{} (HTTP {}): {:.300}\n", name_, count,
                     count == 1 ? "" : "s", status, error);
        }
        if (!repost)
          while (!queue_.empty() && queue_.front().seq <= last_seq) queue_.pop_front();
        else
          next_repost = now + kRepostInterval;
        delivered_ += repost ? 0 : count;
        if (failing_) fmt::print(stderr, "logpipe: {}: delivering again\n", name_);
        failing_ = false;
        backoff = std::chrono::duration_cast<Clock::duration>(kFirstBackoff);
        next_attempt = now;
        done_.notify_all();
        continue;
      }
      last_error_ = status ? fmt::format("HTTP {}", status) : error;
      if (!failing_ || now - last_failure_warning_ >= kWarnInterval) {
        last_failure_warning_ = now;
        fmt::print(stderr, "logpipe: {}: cannot deliver {} alert{} ({}); retrying, {} queued\n", name_, count,
                   count == 1 ? "" : "s", last_error_, queue_.size());
      }
      failing_ = true;
      next_attempt = now + backoff;
      backoff = std::min(backoff * 2, std::chrono::duration_cast<Clock::duration>(kMaxBackoff));
    }
    thread_done_ = true;
    done_.notify_all();
  }

  void resolve() { addresses_ = resolve_stream_addresses(name_, target_.host, target_.port); }

  // Waits for `events` on fd until the deadline; false on timeout.
  static bool wait_fd(int fd, short events, Clock::time_point deadline) {
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      pollfd p{fd, events, 0};
      int rc = ::poll(&p, 1, static_cast<int>(left));
      if (rc > 0) return true;
      if (rc < 0 && errno != EINTR) return false;
    }
  }

  int connect_any(std::string& error) {
    for (const Address& a : addresses_) {
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
  static std::string tls_error(const char* what, SSL* ssl, int ssl_error) {
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
  static bool tls_wait(const Connection& c, int ssl_error, Clock::time_point deadline, bool& timed_out) {
    if (ssl_error != SSL_ERROR_WANT_READ && ssl_error != SSL_ERROR_WANT_WRITE) return false;
    timed_out = !wait_fd(c.fd, ssl_error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
    return !timed_out;
  }

  bool tls_handshake(Connection& c, Clock::time_point deadline, std::string& error) {
    c.ssl = SSL_new(tls_.get());
    if (!c.ssl) {
      error = "TLS: cannot create a session";
      return false;
    }
    SSL_set_fd(c.ssl, c.fd);
    SSL_set_options(c.ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);  // the answer is judged by its content
    expect_server_identity(c.ssl, target_.host);
    for (;;) {
      ERR_clear_error();
      errno = 0;
      int rc = SSL_connect(c.ssl);
      if (rc == 1) return true;
      int e = SSL_get_error(c.ssl, rc);
      bool timed_out = false;
      if (tls_wait(c, e, deadline, timed_out)) continue;
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

  // One POST on a fresh connection (alerts are rare: no keep-alive to manage). Returns the HTTP
  // status, or 0 with `error` set when there was no complete answer. For an answer >= 300,
  // `error` holds the start of its body.
  int post(const std::string& body, std::string& error) {
    Connection c;
    c.fd = connect_any(error);
    if (c.fd < 0) return 0;
    auto deadline = Clock::now() + kResponseTimeout;
    if (tls_ && !tls_handshake(c, deadline, error)) return 0;
    std::string request = fmt::format(
        "POST {} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: logpipe\r\nContent-Type: application/json\r\n"
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        target_.path, target_.host.find(':') != std::string::npos ? "[" + target_.host + "]" : target_.host,
        target_.port, body.size());
    request += body;
    std::string response;
    if (!send_all(c, request, deadline, error) || !receive_all(c, response, deadline, error)) return 0;
    // "HTTP/1.1 200 OK\r\n..."
    int status = 0;
    if (response.size() >= 12 && response.compare(0, 5, "HTTP/") == 0) {
      size_t sp = response.find(' ');
      if (sp != std::string::npos && sp + 4 <= response.size()) status = std::atoi(response.c_str() + sp + 1);
    }
    if (status < 100) {
      error = response.empty() ? "connection closed without an answer" : "not an HTTP answer";
      return 0;
    }
    if (status >= 300) {
      size_t head_end = response.find("\r\n\r\n");
      error = head_end == std::string::npos ? response.substr(0, response.find('\r'))
                                            : response.substr(head_end + 4);
      while (!error.empty() && (error.back() == '\n' || error.back() == '\r')) error.pop_back();
    }
    return status;
  }

  using Address = SocketAddress;
  Target target_;
  std::string name_;
  size_t max_queue_;
  std::vector<Address> addresses_;
  std::shared_ptr<SSL_CTX> tls_;  // alertmanager+tls://: the client context; null for plain HTTP
  std::string common_labels_;  // ,"instance":"host",... (JSON, after alertname and key)
  std::string line_;           // a partial line from write()
  bool closed_ = false;

  mutable std::mutex mutex_;  // guards everything below
  std::condition_variable wake_, done_;
  std::deque<Entry> queue_;
  std::map<std::string, std::string> firing_;  // fingerprint -> object (re-posted)
  uint64_t seq_ = 0, dropped_ = 0, rejected_ = 0, delivered_ = 0;
  bool closing_ = false, stopping_ = false, thread_done_ = false, failing_ = false;
  Clock::time_point close_deadline_{}, last_drop_warning_{}, last_failure_warning_{};
  std::string last_error_ = "not tried yet";
  std::thread thread_;
};

}  // namespace

std::unique_ptr<ByteSink> open_alertmanager_sink(const std::string& spec, const EndpointOptions& o, bool tls) {
  const std::string scheme = tls ? "alertmanager+tls://" : "alertmanager://";
  Target t;
  size_t slash = spec.find('/');
  std::string host_port = spec.substr(0, slash);
  std::string prefix = slash == std::string::npos ? "" : spec.substr(slash);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (host_port.empty()) usage_error("bad endpoint '{}{}': expected {}HOST:PORT", scheme, spec, scheme);
  auto [host, port] = split_host_port(host_port);
  if (port == 0) usage_error("bad endpoint '{}{}': port 0", scheme, spec);
  t.host = host;
  t.port = port;
  t.path = prefix + "/api/v2/alerts";
  return std::make_unique<AlertmanagerSink>(std::move(t), scheme + spec, o, tls);
}

}  // namespace logpipe::detail

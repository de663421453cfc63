// tls://HOST:PORT with Boost.Asio and OpenSSL (the only file that includes either for TLS).
//
// Input, server side (--listen): many clients at once, each with its own line buffer, so a line is
// never glued onto another client's data; a client that disconnects mid-line yields its partial
// line as a line (the parser then counts it malformed, it does not vanish). With --tls-ca the
// server requires a client certificate signed by that CA (mutual TLS). A client that fails the
// handshake (plaintext, no certificate, wrong CA, TLS < 1.2) is refused and logged on stderr; the
// others keep being served.
//
// Input, client side: connects, verifies the server, reads lines until the server closes.
// Output: a client that verifies the server and reconnects with backoff when the connection drops.
//
// The input runs the Asio event loop in the caller's thread, inside next(): no thread, no lock, no
// copy of the data. A returned line is a view into its connection's buffer, which is not touched
// until the caller asks for the next line.
#include "backoff.h"
#include "background.h"
#include "endpoint_factories.h"
#include "tls_client.h"

#include "logpipe/error.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace logpipe::detail {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using SslStream = ssl::stream<tcp::socket>;

constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr auto kConnectTimeout = std::chrono::seconds(10);
constexpr size_t kInitialBuffer = 64 * 1024;
constexpr size_t kMaxConnections = 4096;        // established (handshake done) clients
constexpr size_t kMaxPendingHandshakes = 256;   // all addresses; beyond, the oldest is dropped
constexpr size_t kMaxHandshakingPerAddress = 8;  // one address (an IPv6 /64): handshakes at once
constexpr size_t kMaxPendingPerAddress = 64;     // handshaking + waiting their turn; beyond, refused
constexpr auto kLogInterval = std::chrono::seconds(10);  // refusals by a limit: one line per interval

// TLS 1.2 or newer, no compression, no renegotiation by the peer.
void restrict_protocols(ssl::context& ctx) {
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                  ssl::context::no_compression | ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx.native_handle(), SSL_OP_NO_RENEGOTIATION);
}

void load_certificate(ssl::context& ctx, const std::string& name, const EndpointOptions& o) {
  boost::system::error_code ec;
  ctx.use_certificate_chain_file(o.tls_cert, ec);
  if (ec) usage_error("{}: --tls-cert '{}': {}", name, o.tls_cert, ec.message());
  ctx.use_private_key_file(o.tls_key, ssl::context::pem, ec);
  if (ec) usage_error("{}: --tls-key '{}': {}", name, o.tls_key, ec.message());
}

ssl::context make_server_context(const std::string& name, const EndpointOptions& o) {
  if (o.tls_cert.empty() || o.tls_key.empty())
    usage_error("{}: a TLS server needs --tls-cert and --tls-key", name);
  ssl::context ctx(ssl::context::tls_server);
  restrict_protocols(ctx);
  // No session tickets. A TLS 1.3 server sends its tickets after the handshake, and a client that
  // only writes (Python's ssl, most shippers) never reads them: when it closes, its kernel finds
  // them unread and resets the connection instead of closing it, and a reset throws away what
  // is still in the client's send queue, so the end of what it sent never reaches us (20 clients
  // writing 1,000 lines each and closing gave 11,042 records). Without tickets nothing is sent
  // to a client after the handshake, and its close is a clean FIN. A log sink loses nothing
  // from the full handshakes that resumption would have saved.
  SSL_CTX_set_num_tickets(ctx.native_handle(), 0);
  SSL_CTX_set_options(ctx.native_handle(), SSL_OP_NO_TICKET);
  load_certificate(ctx, name, o);
  if (!o.tls_ca.empty()) {
    boost::system::error_code ec;
    ctx.load_verify_file(o.tls_ca, ec);
    if (ec) usage_error("{}: --tls-ca '{}': {}", name, o.tls_ca, ec.message());
    // Mutual TLS: no certificate, or one not signed by the CA, fails the handshake.
    ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.tls_ca.c_str()))
      SSL_CTX_set_client_CA_list(ctx.native_handle(), names);
  }
  return ctx;
}

ssl::context make_client_context(const std::string& name, const EndpointOptions& o) {
  ssl::context ctx(ssl::context::tls_client);
  restrict_protocols(ctx);
  boost::system::error_code ec;
  if (!o.tls_ca.empty()) {
    ctx.load_verify_file(o.tls_ca, ec);
    if (ec) usage_error("{}: --tls-ca '{}': {}", name, o.tls_ca, ec.message());
  } else {
    ctx.set_default_verify_paths(ec);  // the system's CA store
  }
  ctx.set_verify_mode(ssl::verify_peer);
  if (!o.tls_cert.empty()) load_certificate(ctx, name, o);
  return ctx;
}

}  // namespace

// Certificate checks of a client connection: the chain (context) and the name or address, in
// the subjectAltName only. OpenSSL falls back to the subject's CN when a certificate has no DNS
// name in its subjectAltName, so a certificate with CN=localhost and no subjectAltName was
// accepted for localhost, although the docs (and RFC 6125) say the name is checked against the
// subjectAltName: NEVER_CHECK_SUBJECT turns the fallback off.
void expect_server_identity(SSL* ssl, const std::string& host) {
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  if (!ec) {
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl, host.c_str());  // SNI
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
  }
}

std::shared_ptr<SSL_CTX> new_client_ssl_ctx(const std::string& name, const EndpointOptions& o) {
  ssl::context ctx = make_client_context(name, o);
  SSL_CTX* raw = ctx.native_handle();
  SSL_CTX_up_ref(raw);  // outlives `ctx`, which drops its own reference
  return std::shared_ptr<SSL_CTX>(raw, SSL_CTX_free);
}

namespace {

// The reason of a failed handshake, with OpenSSL's verification detail when there is one.
std::string describe(const boost::system::error_code& ec, SslStream* stream) {
  std::string reason = ec.message();
  if (stream) {
    long verify = SSL_get_verify_result(stream->native_handle());
    if (verify != X509_V_OK) reason += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
  }
  return reason;
}

// Connects, handshakes and verifies within kConnectTimeout, running `io` in this thread. Throws
// Error (runtime) naming the endpoint; `permanent` tells a certificate problem (retrying will not
// help) from a network one.
struct ConnectError {
  std::string message;
  bool permanent;
};

std::unique_ptr<SslStream> connect_client(asio::io_context& io, ssl::context& ctx,
                                          const std::string& host, uint16_t port,
                                          ConnectError* error) {
  auto stream = std::make_unique<SslStream>(io, ctx);
  expect_server_identity(stream->native_handle(), host);
  boost::system::error_code result = asio::error::would_block;
  bool handshake_stage = false;
  tcp::resolver resolver(io);
  resolver.async_resolve(host, std::to_string(port), [&](auto ec, tcp::resolver::results_type rs) {
    if (ec) {
      result = ec;
      return;
    }
    asio::async_connect(stream->lowest_layer(), rs, [&](auto ec2, const tcp::endpoint&) {
      if (ec2) {
        result = ec2;
        return;
      }
      handshake_stage = true;
      stream->async_handshake(ssl::stream_base::client, [&](auto ec3) {
        result = ec3 ? ec3 : boost::system::error_code{};
      });
    });
  });
  io.restart();
  io.run_for(kConnectTimeout);
  if (result == asio::error::would_block) {
    resolver.cancel();
    stream->lowest_layer().close();
    io.restart();
    io.run();  // let the cancelled handlers finish: they refer to this frame
    result = asio::error::timed_out;
  }
  if (result) {
    if (error) {
      error->message = handshake_stage ? "TLS handshake failed: " + describe(result, stream.get())
                                       : "cannot connect: " + result.message();
      error->permanent = handshake_stage && result.category() == asio::error::get_ssl_category();
    }
    return nullptr;
  }
  return stream;
}

// ---------------------------------------------------------------------------------------------
// Input

// One client connection and its line buffer: bytes [begin, end) are unread, [scan, end) not yet
// searched for a newline.
struct Connection {
  Connection(std::unique_ptr<SslStream> s, asio::io_context& io, size_t max_line)
      : stream_ptr(std::move(s)), stream(*stream_ptr), timer(io), cutter(max_line) {}
  std::unique_ptr<SslStream> stream_ptr;
  SslStream& stream;
  asio::steady_timer timer;  // handshake deadline
  std::string name;          // tls://LISTEN/PEER
  std::vector<char> buffer;
  size_t begin = 0, end = 0, scan = 0;
  uint64_t line_number = 0;
  bool closed = false;  // no more data will come (EOF or error)
  bool queued = false;  // in the ready queue
  LongLineCutter cutter;  // --max-line-bytes: a longer line leaves in pieces
  std::string address;    // the peer's address (an IPv6 /64) while its handshake is pending
  bool pending = false;   // handshake not finished
  bool waiting = false;   // pending, its handshake not started (its address has enough going)
  bool evicted = false;   // its pending handshake was dropped to admit a newer one
};

class TlsLines final : public LineSource {
 public:
  // Server: listens on host:port.
  TlsLines(const std::string& host_port, const EndpointOptions& o, bool listen)
      : endpoint_("tls://" + host_port), ctx_(listen ? make_server_context(endpoint_, o)
                                                     : make_client_context(endpoint_, o)),
        acceptor_(io_), idle_exit_us_(o.idle_exit_us), max_line_(o.max_line_bytes) {
    auto [host, port] = split_host_port(host_port);
    if (listen) {
      boost::system::error_code ec;
      tcp::resolver resolver(io_);
      auto results = resolver.resolve(host, std::to_string(port), tcp::resolver::passive, ec);
      if (ec || results.empty())
        runtime_error("{}: cannot resolve '{}': {}", endpoint_, host, ec.message());
      tcp::endpoint local = results.begin()->endpoint();
      acceptor_.open(local.protocol(), ec);
      if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
      if (!ec) acceptor_.bind(local, ec);
      if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
      if (ec) runtime_error("{}: cannot listen: {}", endpoint_, ec.message());
      // Name the bound port (port 0 = any free port, for tests and ad-hoc runs), as tcp:// does.
      tcp::endpoint bound = acceptor_.local_endpoint(ec);
      if (!ec)
        endpoint_ = bound.address().is_v6()
                        ? fmt::format("tls://[{}]:{}", bound.address().to_string(), bound.port())
                        : fmt::format("tls://{}:{}", bound.address().to_string(), bound.port());
      accept();
    } else {
      ConnectError error;
      auto stream = connect_client(io_, ctx_, host, port, &error);
      if (!stream) runtime_error("{}: {}", endpoint_, error.message);
      auto c = std::make_shared<Connection>(std::move(stream), io_, max_line_);
      c->name = endpoint_;
      c->buffer.resize(kInitialBuffer);
      connections_.push_back(c);
      read(c);
    }
    last_data_ = Clock::now();
  }

  // Closes every socket and lets the aborted handlers run, so that none outlives this object.
  ~TlsLines() override {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (auto& c : connections_) c->stream.lowest_layer().close(ignored);
    closing_ = true;
    io_.restart();
    io_.poll();
  }

  Status next(std::string_view& line, int timeout_ms) override {
    truncated_ = false;
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    bool polled = false;  // with timeout 0, still look once for ready events
    for (;;) {
      if (current_ && take_line(*current_, line)) return Status::kLine;
      if (current_) {
        finish_current();
        continue;
      }
      if (!ready_.empty()) {
        current_ = ready_.front();
        ready_.pop_front();
        current_->queued = false;
        continue;
      }
      if (!acceptor_.is_open() && connections_.empty()) return Status::kEnd;  // client: closed
      if (idle_ended_) return Status::kEnd;  // finish() or --idle-exit: what was held is out
      auto now = Clock::now();
      auto until = deadline;
      if (idle_exit_us_ > 0) {
        auto idle_end = last_data_ + std::chrono::microseconds(idle_exit_us_);
        if (now >= idle_end) {
          end_idle();
          continue;
        }
        until = std::min(until, idle_end);
      }
      if (io_.stopped()) io_.restart();
      if (now >= deadline) {
        if (polled) return Status::kTimeout;
        polled = true;
        io_.poll();
        continue;
      }
      io_.run_one_for(until - now);
    }
  }

  const std::string& name() const noexcept override {
    return current_ ? current_->name : endpoint_;
  }
  uint64_t line_number() const noexcept override { return current_ ? current_->line_number : 0; }
  bool truncated() const noexcept override { return truncated_; }
  LineSize line_size() const noexcept override { return size_; }
  void finish() override {
    if (!idle_ended_) end_idle();
  }

 private:
  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) {
        if (closing_) return;
        if (ec != asio::error::operation_aborted) {
          log("accept failed: {}", ec.message());
          // Out of descriptors and similar: wait a little instead of spinning.
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        if (acceptor_.is_open()) accept();
        return;
      }
      std::string peer = peer_name(socket);
      std::string address = address_key(socket);
      auto slots = by_address_.find(address);
      if (connections_.size() - pending_count_ >= kMaxConnections) {
        log_limited(refused_full_, "refused {}: {} clients already connected", peer, kMaxConnections);
      } else if (slots != by_address_.end() &&
                 slots->second.handshaking + slots->second.waiting.size() >= kMaxPendingPerAddress) {
        log_limited(refused_address_, "refused {}: {} TLS handshakes already pending from {}", peer,
                    kMaxPendingPerAddress, address);
      } else {
        if (pending_count_ >= kMaxPendingHandshakes) evict_oldest_pending();
        auto c = std::make_shared<Connection>(std::make_unique<SslStream>(std::move(socket), ctx_), io_, max_line_);
        c->name = endpoint_ + "/" + peer;
        c->address = std::move(address);
        c->pending = true;
        ++pending_count_;
        pending_.push_back(c);
        connections_.push_back(c);
        start_deadline(c);
        Slots& mine = by_address_[c->address];  // after the eviction, which may erase entries
        if (mine.handshaking < kMaxHandshakingPerAddress) {
          ++mine.handshaking;
          handshake(c);
        } else {
          c->waiting = true;  // a burst from one address (a NAT, shippers reconnecting) queues
          mine.waiting.push_back(c);
        }
      }
      accept();
    });
  }

  // Pending handshakes are bounded apart from established clients, and per address: silent
  // connections (4,096 of them used to fill every slot until their 10 s handshake timeout, and
  // reconnecting kept the listener closed to everyone, authenticated peers included) now cost
  // one address at most kMaxPendingPerAddress slots, and all of them together at most
  // kMaxPendingHandshakes, the oldest dropped first (a real client's handshake takes
  // milliseconds). One address handshakes kMaxHandshakingPerAddress clients at once; the rest
  // of its burst waits its turn (20 shippers behind one NAT that connect together used to see 12
  // of them refused). IPv6 addresses count by /64, what one host usually gets.
  static std::string address_key(const tcp::socket& socket) {
    boost::system::error_code ec;
    tcp::endpoint peer = socket.remote_endpoint(ec);
    if (ec) return "?";
    asio::ip::address a = peer.address();
    if (a.is_v6() && !a.to_v6().is_v4_mapped()) {
      auto bytes = a.to_v6().to_bytes();
      std::fill(bytes.begin() + 8, bytes.end(), 0);
      return asio::ip::address_v6(bytes).to_string() + "/64";
    }
    return a.is_v6() ? asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_string() : a.to_string();
  }

  // The handshake of c is over (done, failed, timed out or dropped), or c was dropped while
  // waiting for its turn. A handshake slot freed goes to the next waiting client of the address.
  void end_pending(Connection& c) {
    if (!c.pending) return;
    c.pending = false;
    --pending_count_;
    auto it = by_address_.find(c.address);
    if (it != by_address_.end()) {
      Slots& slots = it->second;
      if (c.waiting) {
        c.waiting = false;
        std::erase_if(slots.waiting, [&](const std::weak_ptr<Connection>& w) {
          auto p = w.lock();
          return !p || p.get() == &c;
        });
      } else {
        --slots.handshaking;
        while (slots.handshaking < kMaxHandshakingPerAddress && !slots.waiting.empty()) {
          std::shared_ptr<Connection> next = slots.waiting.front().lock();
          slots.waiting.pop_front();
          if (!next || !next->waiting) continue;
          next->waiting = false;
          ++slots.handshaking;
          handshake(next);
        }
      }
      if (slots.handshaking == 0 && slots.waiting.empty()) by_address_.erase(it);
    }
    while (!pending_.empty() && (pending_.front().expired() || !pending_.front().lock()->pending)) pending_.pop_front();
  }

  // A client still waiting for its turn has no operation under way to report its end: this
  // reports it and forgets it (a handshaking one is reported by its handshake's handler).
  void drop_waiting(const std::shared_ptr<Connection>& c) {
    std::string client = c->name.substr(endpoint_.size() + 1);
    if (c->evicted)
      log_limited(evicted_, "refused client {}: {} TLS handshakes pending, the oldest dropped", client,
                  kMaxPendingHandshakes);
    else
      log_limited(timed_out_, "refused client {}: no TLS handshake within 10 s", client);
    end_pending(*c);
    c->timer.cancel();
    drop(c);
  }

  void evict_oldest_pending() {
    while (!pending_.empty()) {
      std::shared_ptr<Connection> oldest = pending_.front().lock();
      pending_.pop_front();
      if (!oldest || !oldest->pending) continue;
      oldest->evicted = true;
      if (oldest->waiting) {
        drop_waiting(oldest);
        return;
      }
      end_pending(*oldest);
      boost::system::error_code ignored;
      oldest->stream.lowest_layer().close(ignored);  // its handshake handler drops it
      return;
    }
  }

  // Refusals under a flood: at most `burst` lines per kLogInterval for each kind (1 for the
  // limits, a few for failed handshakes, which name their reason), then a count. The count of
  // those not printed is given with the next line, or when the input ends.
  struct Throttle {
    explicit Throttle(unsigned burst_lines) : burst(burst_lines) {}
    unsigned burst;
    unsigned printed = 0;  // lines in the current interval
    Clock::time_point since{};
    uint64_t quiet = 0;  // refusals not printed since the last line
    std::string text;    // the last one
  };
  template <typename... Args>
  void log_limited(Throttle& t, fmt::format_string<Args...> f, Args&&... args) {
    auto now = Clock::now();
    t.text = fmt::format(f, std::forward<Args>(args)...);
    if (now - t.since >= kLogInterval) {
      t.since = now;
      t.printed = 0;
    }
    if (t.printed >= t.burst) {
      ++t.quiet;
      return;
    }
    ++t.printed;
    flush_log(t);
  }
  void flush_log(Throttle& t) {
    if (t.text.empty()) return;
    log("{}{}", t.text, t.quiet ? fmt::format(" ({} more like it since the last report)", t.quiet) : "");
    t.text.clear();
    t.quiet = 0;
  }
  void flush_logs() {
    for (Throttle* t : {&refused_full_, &refused_address_, &evicted_, &timed_out_, &failed_})
      if (t->quiet) flush_log(*t);
  }

  static std::string peer_name(const tcp::socket& socket) {
    boost::system::error_code ec;
    tcp::endpoint peer = socket.remote_endpoint(ec);
    if (ec) return "?";
    std::string address = peer.address().to_string();
    if (peer.address().is_v6()) address = "[" + address + "]";
    return address + ":" + std::to_string(peer.port());
  }

  // The handshake deadline runs from the accept, the wait for a turn included.
  void start_deadline(const std::shared_ptr<Connection>& c) {
    c->timer.expires_after(kHandshakeTimeout);
    c->timer.async_wait([this, c](boost::system::error_code ec) {
      if (ec || closing_) return;
      if (c->waiting)
        drop_waiting(c);
      else
        c->stream.lowest_layer().close();  // a silent client does not hold a slot
    });
  }

  void handshake(const std::shared_ptr<Connection>& c) {
    c->stream.async_handshake(ssl::stream_base::server, [this, c](boost::system::error_code ec) {
      c->timer.cancel();
      if (closing_) return;
      end_pending(*c);
      if (ec) {
        std::string client = c->name.substr(endpoint_.size() + 1);
        if (c->evicted)
          log_limited(evicted_, "refused client {}: {} TLS handshakes pending, the oldest dropped", client,
                      kMaxPendingHandshakes);
        else if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor)
          log_limited(timed_out_, "refused client {}: no TLS handshake within 10 s", client);
        else
          log_limited(failed_, "refused client {}: {}", client, describe(ec, &c->stream));
        drop(c);
        return;
      }
      c->buffer.resize(kInitialBuffer);
      read(c);
    });
  }

  // Reads more into the connection's buffer: compacts it first, grows it when one line fills it.
  void read(const std::shared_ptr<Connection>& c) {
    if (c->begin > 0 && (c->end == c->buffer.size() || c->begin == c->end)) {
      std::memmove(c->buffer.data(), c->buffer.data() + c->begin, c->end - c->begin);
      c->end -= c->begin;
      c->scan -= c->begin;
      c->begin = 0;
    }
    if (c->end == c->buffer.size())  // one line fills it: grow, not far past --max-line-bytes
      c->buffer.resize(std::max(c->buffer.size() + 1, std::min(c->buffer.size() * 2, max_line_ + kInitialBuffer)));
    c->stream.async_read_some(
        asio::buffer(c->buffer.data() + c->end, c->buffer.size() - c->end),
        [this, c](boost::system::error_code ec, size_t n) {
          if (closing_) return;
          c->end += n;
          if (ec) {
            // A client that closes without a TLS close_notify (stream_truncated) is the common
            // way to end: not worth a message. Other errors are.
            if (ec != asio::error::eof && ec != ssl::error::stream_truncated &&
                ec != asio::error::operation_aborted)
              log("client {}: {}", c->name.substr(endpoint_.size() + 1), ec.message());
            c->closed = true;
          } else {
            last_data_ = Clock::now();
          }
          if (!c->queued) {
            c->queued = true;
            ready_.push_back(c);
          }
        });
  }

  // --idle-exit: no new client; each connection hands out what it holds (a partial line as a
  // truncated line, so it is counted rather than dropped), then next() returns kEnd.
  void end_idle() {
    flush_logs();
    idle_ended_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (auto& c : connections_) {
      c->closed = true;
      if (!c->queued && c->begin < c->end) {
        c->queued = true;
        ready_.push_back(c);
      }
    }
  }

  // The next complete line of c, or its partial last line once c is closed, or a piece of a line
  // longer than --max-line-bytes.
  bool take_line(Connection& c, std::string_view& line) {
    if (c.begin == c.end) return false;
    const char* base = c.buffer.data();
    const void* nl = std::memchr(base + c.scan, '\n', c.end - c.scan);
    size_t stop;
    size_t piece = c.cutter.cut(nl ? static_cast<size_t>(static_cast<const char*>(nl) - base) - c.begin : c.end - c.begin,
                                nl != nullptr, size_);
    if (piece) {
      line = std::string_view(base + c.begin, piece);
      c.begin += piece;
      c.scan = std::max(c.scan, c.begin);
      if (size_ == LineSize::kCut) ++c.line_number;
      return true;
    } else if (nl) {
      stop = static_cast<size_t>(static_cast<const char*>(nl) - base);
    } else if (c.closed) {
      stop = c.end;  // disconnected mid-line: deliver what we have
      truncated_ = true;
    } else {
      c.scan = c.end;
      return false;
    }
    line = std::string_view(base + c.begin, stop - c.begin);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    c.begin = c.scan = stop < c.end ? stop + 1 : stop;
    size_ = c.cutter.end_line();
    if (size_ == LineSize::kWhole) ++c.line_number;
    return true;
  }

  // current_ has no complete line left: read more, or forget it when the client has gone.
  void finish_current() {
    std::shared_ptr<Connection> c = std::move(current_);
    current_.reset();
    if (c->closed)
      drop(c);
    else
      read(c);
  }

  void drop(const std::shared_ptr<Connection>& c) {
    boost::system::error_code ignored;
    c->stream.lowest_layer().close(ignored);
    for (auto it = connections_.begin(); it != connections_.end(); ++it)
      if (*it == c) {
        connections_.erase(it);
        break;
      }
  }

  template <typename... Args>
  void log(fmt::format_string<Args...> f, Args&&... args) {
    std::fprintf(stderr, "logpipe: %s: %s\n", endpoint_.c_str(),
                 fmt::format(f, std::forward<Args>(args)...).c_str());
  }

  std::string endpoint_;
  asio::io_context io_;
  ssl::context ctx_;
  tcp::acceptor acceptor_;
  int64_t idle_exit_us_;
  size_t max_line_;         // --max-line-bytes
  LineSize size_ = LineSize::kWhole;
  bool truncated_ = false;  // the last line was cut short by its client's disconnect
  bool idle_ended_ = false;
  Clock::time_point last_data_;
  std::vector<std::shared_ptr<Connection>> connections_;
  std::deque<std::weak_ptr<Connection>> pending_;  // handshakes in accept order (oldest first)
  size_t pending_count_ = 0;
  struct Slots {
    size_t handshaking = 0;
    std::deque<std::weak_ptr<Connection>> waiting;  // their turn to come, oldest first
  };
  std::unordered_map<std::string, Slots> by_address_;  // addresses with pending clients
  Throttle refused_full_{1}, refused_address_{1}, evicted_{1}, timed_out_{4}, failed_{20};
  std::deque<std::shared_ptr<Connection>> ready_;  // connections with new data or closed
  std::shared_ptr<Connection> current_;            // the one the last line came from
  bool closing_ = false;
};

// ---------------------------------------------------------------------------------------------
// Output

class TlsSink final : public ByteSink {
 public:
  TlsSink(const std::string& host_port, const EndpointOptions& o)
      : endpoint_("tls://" + host_port), ctx_(make_client_context(endpoint_, o)),
        reconnect_window_(std::chrono::microseconds(o.retry_for_us)), stop_(o.stop) {
    auto hp = split_host_port(host_port);
    host_ = hp.first;
    port_ = hp.second;
    ConnectError error;
    if (!connect(error)) runtime_error("{}: {}", endpoint_, error.message);
    buffer_.reserve(kBufferSize);
  }

  ~TlsSink() override {
    try {
      close();
    } catch (const Error& e) {
      std::fprintf(stderr, "logpipe: %s\n", e.what());
    }
  }

  void write(std::string_view data) override {
    if (closed_) runtime_error("{}: write after close", endpoint_);
    buffer_.append(data);
    if (buffer_.size() >= kBufferSize) flush();
  }

  // Sends the buffer; when the connection has dropped, reconnects with exponential backoff
  // (0.1 s to 5 s) and sends it again, for at most --retry-for. Bytes the old connection
  // accepted but the server never read may be lost or sent twice: TCP cannot tell which. A server
  // that takes nothing for kSendTimeout counts as a dropped connection (a write used to block for
  // as long as it did not read), and after a stop signal at most kAfterStop is left to deliver.
  void flush() override {
    if (buffer_.empty()) return;
    auto give_up = Clock::now() + reconnect_window_;
    Backoff backoff(std::chrono::milliseconds(100), std::chrono::milliseconds(5000));
    for (;;) {
      check_stop();
      if (!stream_) {
        ConnectError error;
        if (!connect(error)) {
          auto wait = backoff.next();
          if (error.permanent) runtime_error("{}: {}", endpoint_, error.message);
          if (Clock::now() + wait > give_up)
            runtime_error("{}: no connection for {} s: {} bytes not delivered ({})", endpoint_,
                          std::chrono::duration_cast<std::chrono::seconds>(reconnect_window_).count(),
                          buffer_.size(), error.message);
          std::fprintf(stderr, "logpipe: %s: %s; retrying in %lld ms\n", endpoint_.c_str(),
                       error.message.c_str(), static_cast<long long>(wait.count()));
          for (auto until = Clock::now() + wait; Clock::now() < until;) {  // a stop is seen within 0.2 s
            check_stop();
            std::this_thread::sleep_for(std::min<Clock::duration>(until - Clock::now(), std::chrono::milliseconds(200)));
          }
          continue;
        }
      }
      boost::system::error_code ec = write_all();
      if (!ec) {
        throw_if_refused();
        break;
      }
      await_server_end(std::chrono::seconds(1));  // the reason may follow the reset
      throw_if_refused();
      std::fprintf(stderr, "logpipe: %s: connection lost (%s); reconnecting\n", endpoint_.c_str(),
                   ec.message().c_str());
      drop_connection();
    }
    buffer_.clear();
  }

  // Sends close_notify and waits (kCloseWait at most) for the server to close in turn, so that a
  // server that refused this client after the handshake is told from one that took everything.
  void close() override {
    if (closed_) return;
    flush();
    closed_ = true;
    if (!stream_) return;
    boost::system::error_code ignored;
    // A server refuses a client certificate one round trip after the handshake: a connection
    // younger than that waits for the verdict (3 handshakes and 200 ms, the handshake timing the
    // round trip and the server's speed), and so does not shut down before it arrives.
    auto verdict = connected_at_ + 3 * handshake_time_ + std::chrono::milliseconds(200);
    if (Clock::now() < verdict)
      await_server_end(std::chrono::duration_cast<std::chrono::milliseconds>(verdict - Clock::now()));
    io_.restart();
    io_.poll();  // an alert already received
    if (server_end_ == asio::error::would_block) {
      stream_->lowest_layer().cancel(ignored);  // the watch: the shutdown reads the server's end
      io_.restart();
      io_.run();
      boost::system::error_code result = asio::error::would_block;
      stream_->async_shutdown([&](boost::system::error_code ec) { result = ec; });
      io_.restart();
      io_.run_for(kCloseWait);
      if (result == asio::error::would_block) {
        stream_->lowest_layer().cancel(ignored);
        io_.restart();
        io_.run();
      } else {
        server_end_ = result;
      }
    }
    try {
      throw_if_refused();
      if (server_end_ == asio::error::connection_reset || server_end_ == asio::error::broken_pipe)
        runtime_error("{}: the server reset the connection instead of closing it: what it had not read "
                      "is lost", endpoint_);
    } catch (...) {
      drop_connection();
      throw;
    }
    drop_connection();
  }

  const std::string& name() const noexcept override { return endpoint_; }

 private:
  // Writes the whole buffer on the connection, a TLS record at a time, running the event loop in
  // slices so that a stop signal and a stalled server are noticed: timed_out when one write took
  // no byte for kSendTimeout.
  boost::system::error_code write_all() {
    for (size_t offset = 0; offset < buffer_.size();) {
      boost::system::error_code result = asio::error::would_block;
      size_t written = 0;
      stream_->async_write_some(asio::buffer(buffer_.data() + offset, buffer_.size() - offset),
                                [&](boost::system::error_code ec, size_t n) {
                                  result = ec;
                                  written = n;
                                });
      io_.restart();
      const auto started = Clock::now();
      while (result == asio::error::would_block) {
        io_.run_one_for(std::chrono::milliseconds(200));  // the write's handler, or the watch's
        if (result != asio::error::would_block) break;
        const bool stopping = stop_deadline_passed();
        if (stopping || Clock::now() - started >= kSendTimeout) {
          boost::system::error_code ignored;
          stream_->lowest_layer().cancel(ignored);
          io_.restart();
          io_.run();  // the cancelled write finishes: its handler refers to this frame
          if (stopping) check_stop();
          return asio::error::timed_out;
        }
      }
      if (result) return result;
      offset += written;
    }
    return {};
  }

  // Our servers never send data, but a server may end the connection with a TLS alert at any
  // time: with TLS 1.3 a server checks the client's certificate after the client has finished its
  // handshake, so a refused client only learns it from what arrives next. A read stays posted on
  // the connection to catch it (writes carry on meanwhile: one read and one write at a time is
  // what an SSL stream allows). Without it, a refused client "sent" everything into a connection
  // the server had closed, reconnected 58 times over 200,000 lines and exited 0, 0 records
  // received.
  bool connect(ConnectError& error) {
    auto started = Clock::now();
    stream_ = connect_client(io_, ctx_, host_, port_, &error);
    if (!stream_) return false;
    handshake_time_ = Clock::now() - started;
    watch_server();
    return true;
  }
  void watch_server() {
    server_end_ = asio::error::would_block;
    connected_at_ = Clock::now();
    stream_->async_read_some(asio::buffer(watch_buffer_), [this](boost::system::error_code ec, size_t) {
      if (!ec) {
        watch_server();  // data from the server: not expected, ignored
        return;
      }
      server_end_ = ec;
    });
  }
  // Runs the event loop until the server's end is known, for `wait` at most.
  void await_server_end(std::chrono::milliseconds wait) {
    if (!stream_) return;
    io_.restart();
    for (auto until = Clock::now() + wait; server_end_ == asio::error::would_block && Clock::now() < until;)
      if (io_.run_one_for(until - Clock::now()) == 0) break;  // timed out, or nothing posted
  }
  // The server ended the connection with a TLS alert (its verdict on our certificate, a protocol
  // refusal): retrying would get the same answer.
  void throw_if_refused() {
    if (server_end_ == asio::error::would_block || server_end_.category() != asio::error::get_ssl_category())
      return;
    closed_ = true;  // reported once: the destructor's close() does not try again
    runtime_error("{}: the server refused this client: {} (what was sent on this connection is lost)",
                  endpoint_, server_end_.message());
  }
  // Closes the connection and lets its handlers finish (they refer to this object).
  void drop_connection() {
    if (!stream_) return;
    boost::system::error_code ignored;
    stream_->lowest_layer().close(ignored);
    io_.restart();
    io_.run();
    stream_.reset();
  }

  bool stop_deadline_passed() {
    if (!stop_requested(stop_)) return false;
    if (stop_seen_ == Clock::time_point{}) stop_seen_ = Clock::now();
    return Clock::now() - stop_seen_ >= kAfterStop;
  }
  void check_stop() {
    if (stop_deadline_passed())
      runtime_error("{}: interrupted: {} bytes not delivered ({})", endpoint_, buffer_.size(),
                    stream_ ? "server not reading" : "no connection");
  }

  static constexpr size_t kBufferSize = 64 * 1024;
  static constexpr auto kSendTimeout = std::chrono::seconds(30);
  static constexpr auto kAfterStop = std::chrono::seconds(5);
  std::string endpoint_;
  asio::io_context io_;
  ssl::context ctx_;
  Clock::duration reconnect_window_;  // --retry-for
  std::string host_;
  uint16_t port_ = 0;
  static constexpr auto kCloseWait = std::chrono::seconds(5);
  std::unique_ptr<SslStream> stream_;
  std::string buffer_;
  std::array<char, 256> watch_buffer_{};
  boost::system::error_code server_end_ = asio::error::would_block;  // how the server ended it
  Clock::time_point connected_at_{};  // the handshake of this connection ended
  Clock::duration handshake_time_{};  // and took this long
  bool closed_ = false;
  const StopFlag* stop_;
  Clock::time_point stop_seen_{};
};

// tls:// alerts: delivered by a thread of their own through a TlsSink, so that a receiver that
// stops reading never blocks the input (a TlsSink write waits for the server: up to its send
// timeout). At most `max_lines` alerts (lines) wait; beyond, the oldest are dropped and counted,
// and close() fails naming them. close() waits 30 s for the queue to empty (5 s after a stop
// signal, close_deadline()), then tells the TlsSink to give up (its own stop flag) and reports what
// was not delivered.
class QueuedAlertLines final : public ByteSink {
 public:
  QueuedAlertLines(const std::string& host_port, EndpointOptions o)
      : name_("tls://" + host_port), max_lines_(std::max<size_t>(1, o.alert_queue)), stop_(o.stop) {
    o.stop = &inner_stop_;
    inner_ = std::make_unique<TlsSink>(host_port, o);  // a bad certificate or host: a setup error
    thread_ = std::thread([this] { run(); });
  }
  // Destroyed without close() (an exception on the way out): what could not be delivered is
  // still said, as TlsSink does.
  ~QueuedAlertLines() override {
    try {
      close();
    } catch (const Error& e) {
      std::fprintf(stderr, "logpipe: %s\n", e.what());
    }
    stop_thread();
  }

  void write(std::string_view data) override {
    std::unique_lock lock(mutex_);
    if (!failure_.empty() && !failure_reported_) {  // delivery gave up (refused, or no server for 60 s)
      failure_reported_ = true;
      runtime_error("{}", failure_);
    }
    while (!data.empty()) {
      size_t nl = data.find('\n');
      size_t end = nl == std::string_view::npos ? data.size() : nl + 1;
      queue_.emplace_back(data.substr(0, end));
      data.remove_prefix(end);
    }
    size_t over = queue_.size() > max_lines_ ? queue_.size() - max_lines_ : 0;
    if (over) {
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(over));
      dropped_ += over;
      auto now = Clock::now();
      if (now - last_drop_warning_ >= std::chrono::seconds(10)) {
        last_drop_warning_ = now;
        std::fprintf(stderr, "logpipe: %s: alert queue full (%zu alerts; the server is not reading); dropping the oldest (%llu dropped so far)\n",
                     name_.c_str(), max_lines_, static_cast<unsigned long long>(dropped_));
      }
    }
  }
  void flush() override { wake_.notify_one(); }

  void close() override {
    if (closed_) return;
    closed_ = true;
    const auto deadline = close_deadline(stop_);
    {
      std::unique_lock lock(mutex_);
      closing_ = true;
      wake_.notify_one();
      done_.wait_until(lock, deadline, [&] { return (queue_.empty() && !sending_) || thread_done_; });
    }
    inner_stop_ = true;  // a send still waiting for the server gives up
    stop_thread();
    std::unique_lock lock(mutex_);
    if (dropped_)
      std::fprintf(stderr, "logpipe: %s: %llu alert%s dropped in all (queue of %zu full)\n", name_.c_str(),
                   static_cast<unsigned long long>(dropped_), dropped_ == 1 ? "" : "s", max_lines_);
    if (!failure_.empty() && !failure_reported_) runtime_error("{}", failure_);
    if (!queue_.empty())
      runtime_error("{}: {} alert{} not delivered (the server is not reading)", name_, queue_.size(),
                    queue_.size() == 1 ? "" : "s");
    if (dropped_) runtime_error("{}: {} alert{} not delivered (dropped)", name_, dropped_, dropped_ == 1 ? "" : "s");
  }

  bool all_delivered() const noexcept override {
    std::unique_lock lock(mutex_);
    return queue_.empty() && !sending_ && dropped_ == 0 && failure_.empty();
  }
  const std::string& name() const noexcept override { return name_; }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return !queue_.empty() || closing_ || quit_; });
      if (quit_ || (queue_.empty() && closing_)) break;
      std::string batch;
      size_t lines = queue_.size();
      for (const auto& l : queue_) batch += l;
      queue_.clear();
      sending_ = true;
      lock.unlock();
      std::string error;
      try {
        inner_->write(batch);
        inner_->flush();
      } catch (const Error& e) {
        error = e.what();
      }
      lock.lock();
      sending_ = false;
      if (!error.empty()) {
        failure_ = fmt::format("{} ({} alert{} not delivered)", error, lines, lines == 1 ? "" : "s");
        break;
      }
      done_.notify_all();
    }
    if (failure_.empty() && closing_) {
      lock.unlock();
      try {
        inner_->close();
      } catch (const Error& e) {
        lock.lock();
        failure_ = e.what();
        lock.unlock();
      }
      lock.lock();
    }
    thread_done_ = true;
    done_.notify_all();
  }

  void stop_thread() { stop_and_join(thread_, mutex_, wake_, quit_); }

  std::string name_;
  size_t max_lines_;
  const StopFlag* stop_;
  StopFlag inner_stop_{false};
  std::unique_ptr<TlsSink> inner_;
  bool closed_ = false;
  mutable std::mutex mutex_;  // guards everything below
  std::condition_variable wake_, done_;
  std::deque<std::string> queue_;
  uint64_t dropped_ = 0;
  bool sending_ = false, closing_ = false, quit_ = false, thread_done_ = false;
  std::string failure_;
  bool failure_reported_ = false;
  Clock::time_point last_drop_warning_{};
  std::thread thread_;
};

}  // namespace

std::unique_ptr<ByteSink> open_tls_alert_sink(const std::string& host_port, const EndpointOptions& o) {
  return std::make_unique<QueuedAlertLines>(host_port, o);
}

std::unique_ptr<LineSource> open_tls_lines(const std::string& host_port, const EndpointOptions& o) {
  return std::make_unique<TlsLines>(host_port, o, o.listen);
}

std::unique_ptr<ByteSink> open_tls_sink(const std::string& host_port, const EndpointOptions& o) {
  return std::make_unique<TlsSink>(host_port, o);
}

}  // namespace logpipe::detail

#include "logpipe/io/endpoint.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <string>

#include "socket.h"
#include "logpipe/error.h"

using namespace logpipe;

namespace {

// A server with lines ready and one client holding a partial line: finish() releases it.
class FakeServer : public LineSource {
 public:
  Status next(std::string_view& line, int) override {
    truncated_ = false;
    if (ready_.empty()) return finished_ ? Status::kEnd : Status::kTimeout;
    current_ = ready_.front();
    ready_.pop_front();
    truncated_ = finished_ && ready_.empty();
    line = current_;
    return Status::kLine;
  }
  const std::string& name() const noexcept override { return name_; }
  uint64_t line_number() const noexcept override { return 0; }
  bool truncated() const noexcept override { return truncated_; }
  void finish() override {
    finished_ = true;
    ready_.push_back("half a li");
  }
  std::deque<std::string> ready_{"a", "b"};

 private:
  std::string current_, name_ = "fake";
  bool finished_ = false, truncated_ = false;
};

}  // namespace

TEST_CASE("StopDrainingSource: before a stop, it is the source") {
  FakeServer server;
  StopFlag stop{false};
  StopDrainingSource source(server, &stop);
  std::string_view line;
  CHECK(source.next(line, 0) == LineSource::Status::kLine);
  CHECK(line == "a");
  CHECK(source.next(line, 0) == LineSource::Status::kLine);
  CHECK(source.next(line, 0) == LineSource::Status::kTimeout);  // no end: the server waits
  CHECK_FALSE(source.stopped());
}

TEST_CASE("StopDrainingSource: a stop hands out what arrived, then the partial lines, then ends") {
  FakeServer server;
  StopFlag stop{true};
  StopDrainingSource source(server, &stop);
  std::string_view line;
  REQUIRE(source.next(line, 200) == LineSource::Status::kLine);
  CHECK(line == "a");
  REQUIRE(source.next(line, 200) == LineSource::Status::kLine);
  CHECK(line == "b");
  CHECK_FALSE(source.truncated());
  REQUIRE(source.next(line, 200) == LineSource::Status::kLine);  // after finish()
  CHECK(line == "half a li");
  CHECK(source.truncated());
  CHECK(source.next(line, 200) == LineSource::Status::kEnd);
  CHECK(source.stopped());
}

// The connect step shared by tcp:// and alertmanager:// (src/io/socket.h).
TEST_CASE("connect_stream: connects to a listener, reports a refused port by its errno") {
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(listener >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(listener, 4) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  uint16_t port = ntohs(addr.sin_port);

  auto addresses = detail::resolve_stream_addresses("test", "127.0.0.1", port);
  REQUIRE(addresses.size() == 1);
  CHECK(addresses[0].family == AF_INET);
  int err = 0;
  int fd = detail::connect_stream(addresses[0], 1000, true, err);
  REQUIRE(fd >= 0);
  int nodelay = 0;
  socklen_t optlen = sizeof nodelay;
  REQUIRE(::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &optlen) == 0);
  CHECK(nodelay != 0);
  CHECK((::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
  ::close(fd);

  ::close(listener);  // nothing listens there any more
  fd = detail::connect_stream(addresses[0], 1000, false, err);
  CHECK(fd == -1);
  CHECK(err == ECONNREFUSED);
  CHECK_THROWS_AS(detail::resolve_stream_addresses("test", "no-such-host.invalid", 80), Error);
}

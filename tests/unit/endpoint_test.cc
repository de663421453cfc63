#include "logpipe/endpoint.h"

#include <doctest/doctest.h>

#include <deque>
#include <string>

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
  volatile int stop = 0;
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
  volatile int stop = 1;
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

TEST_CASE("line_source_bytes: lines joined by newlines, then the end") {
  FakeServer server;
  server.ready_ = {"first", "second"};
  volatile int stop = 1;  // the fake never ends by itself: a stop ends it after its lines
  auto bytes = line_source_bytes(server, &stop);
  std::string all;
  char buf[4];
  for (size_t n; (n = bytes->read(buf, sizeof buf)) > 0;) all.append(buf, n);
  CHECK(all == "first\nsecond\nhalf a li\n");
}

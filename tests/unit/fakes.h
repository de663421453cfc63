// Fakes shared by the unit tests: in-memory byte sources and sinks, pump inputs, a scripted line
// source (lines, quiet polls, the end, a failure) for live inputs.
#pragma once

#include "logpipe/alerts.h"
#include "logpipe/error.h"
#include "logpipe/pump.h"
#include "logpipe/sink.h"
#include "logpipe/source.h"
#include "logpipe/stream_service.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace logpipe::testing {

/// Bytes from a string, in reads of at most `chunk` bytes (uneven reads find boundary bugs).
class StringSource final : public ByteSource {
 public:
  explicit StringSource(std::string data, std::string name = "mem", size_t chunk = 7777)
      : data_(std::move(data)), name_(std::move(name)), chunk_(chunk) {}
  size_t read(char* buf, size_t n) override {
    n = std::min({n, data_.size() - pos_, chunk_});
    if (n) std::memcpy(buf, data_.data() + pos_, n);
    pos_ += n;
    return n;
  }
  const std::string& name() const noexcept override { return name_; }

 private:
  std::string data_;
  std::string name_;
  size_t chunk_;
  size_t pos_ = 0;
};

/// Collects what is written.
class StringSink final : public ByteSink {
 public:
  void write(std::string_view d) override { data.append(d); }
  void flush() override {}
  void close() override {}
  const std::string& name() const noexcept override { return name_; }
  std::string data;

 private:
  std::string name_ = "out";
};

/// A pump input over a string: a file (splittable when asked) or a network input.
class MemoryInput final : public PumpInput {
 public:
  MemoryInput(std::string data, std::string name = "mem", bool splittable = false)
      : data_(std::move(data)), name_(std::move(name)), splittable_(splittable) {}
  const std::string& name() const noexcept override { return name_; }
  LineSource& lines() override {
    if (!lines_) lines_ = std::make_unique<ByteLineSource>(std::make_unique<StringSource>(data_, name_));
    return *lines_;
  }
  uint64_t splittable_size() const noexcept override { return splittable_ ? data_.size() : 0; }
  std::unique_ptr<ByteSource> range(uint64_t begin, uint64_t end) override {
    return std::make_unique<StringSource>(data_.substr(begin, end - begin), name_);
  }

 private:
  std::string data_;
  std::string name_;
  bool splittable_;
  std::unique_ptr<LineSource> lines_;
};

/// A clock that moves only when told (stream_service.h).
class FakeClock final : public Clock {
 public:
  int64_t steady_us() override { return now_us; }
  int64_t wall_us() override { return 1'750'665'600'000'000 + now_us; }
  int64_t now_us = 0;
};

/// A live line source that plays a script: lines, quiet polls (each may move a FakeClock), a
/// failure, then the end (or, with `endless`, quiet polls for ever, as a server nobody closes).
/// Its position is the number of lines handed out; commits are recorded.
class ScriptedLineSource final : public LineSource {
 public:
  struct Step {
    enum Kind { kLine, kQuiet, kFail, kPartial } kind;
    std::string text;
    int64_t advance_us = 0;  ///< kQuiet: how far the clock moves during the poll
  };
  explicit ScriptedLineSource(std::vector<Step> steps, std::string name = "tcp://test", bool endless = false,
                              FakeClock* clock = nullptr)
      : steps_(steps.begin(), steps.end()), name_(std::move(name)), endless_(endless), clock_(clock) {}
  Status next(std::string_view& line, int) override {
    confirmed_ = sent_;
    truncated_ = false;
    ++polls;
    if (steps_.empty()) return endless_ && !finished_ ? Status::kTimeout : Status::kEnd;
    Step s = std::move(steps_.front());
    steps_.pop_front();
    switch (s.kind) {
      case Step::kQuiet:
        if (clock_) clock_->now_us += s.advance_us;
        return Status::kTimeout;
      case Step::kFail: runtime_error("{}: connection reset", name_);
      case Step::kPartial: truncated_ = true; [[fallthrough]];
      case Step::kLine:
        current_ = std::move(s.text);
        line = current_;
        ++line_number_;
        return Status::kLine;
    }
    return Status::kEnd;
  }
  const std::string& name() const noexcept override { return name_; }
  uint64_t line_number() const noexcept override { return line_number_; }
  bool truncated() const noexcept override { return truncated_; }
  void finish() override { finished_ = true; }
  void commit() override { ++commits; }
  Position position() const override { return with_positions ? Position{static_cast<int64_t>(line_number_)} : Position{}; }
  bool commit(const Position& p) override {
    committed.push_back(p.at(0));
    if (async_commits) ++sent_;  // confirmed at the next next() call, as Kafka's arrive later
    return !async_commits;
  }
  uint64_t commits_confirmed() const noexcept override { return confirmed_; }
  size_t steps_left() const noexcept { return steps_.size(); }
  int polls = 0;
  int commits = 0;                ///< commit() of everything
  std::vector<int64_t> committed;  ///< positions committed while running
  bool with_positions = false;     ///< behave as Kafka (offsets) rather than a socket
  bool async_commits = false;      ///< commit(position) confirms later (commits_confirmed())

 private:
  std::deque<Step> steps_;
  std::string name_;
  bool endless_;
  FakeClock* clock_;
  bool finished_ = false;
  bool truncated_ = false;
  std::string current_;
  uint64_t line_number_ = 0;
  uint64_t sent_ = 0, confirmed_ = 0;
};

/// A network pump input over a ScriptedLineSource.
class ScriptedInput final : public PumpInput {
 public:
  explicit ScriptedInput(std::unique_ptr<ScriptedLineSource> lines, bool network = true)
      : lines_(std::move(lines)), network_(network) {}
  const std::string& name() const noexcept override { return lines_->name(); }
  LineSource& lines() override { return *lines_; }
  bool network() const noexcept override { return network_; }
  ScriptedLineSource& script() noexcept { return *lines_; }

 private:
  std::unique_ptr<ScriptedLineSource> lines_;
  bool network_;
};

inline ScriptedLineSource::Step line(std::string text) { return {ScriptedLineSource::Step::kLine, std::move(text)}; }
inline ScriptedLineSource::Step quiet(int64_t advance_us = 0) {
  return {ScriptedLineSource::Step::kQuiet, {}, advance_us};
}
inline ScriptedLineSource::Step fail() { return {ScriptedLineSource::Step::kFail, {}}; }
inline ScriptedLineSource::Step partial(std::string text) {
  return {ScriptedLineSource::Step::kPartial, std::move(text)};
}

/// Keeps every alert it is sent, with the fake time it arrived; can pretend a delivery is pending.
class CollectingAlertSink final : public AlertSink {
 public:
  explicit CollectingAlertSink(FakeClock* clock = nullptr) : clock_(clock) {}
  void send(std::span<const Alert> alerts) override {
    for (const Alert& a : alerts) {
      received.push_back(a);
      at_us.push_back(clock_ ? clock_->now_us : 0);
    }
  }
  void close() override { ++closes; }
  bool all_delivered() const noexcept override { return delivered; }
  const std::string& name() const noexcept override { return name_; }
  std::vector<Alert> received;
  std::vector<int64_t> at_us;
  bool delivered = true;
  int closes = 0;

 private:
  FakeClock* clock_;
  std::string name_ = "collect";
};

}  // namespace logpipe::testing

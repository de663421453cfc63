// stream --scale-out in the service loop (stream_service.h, ScaleOut), with a fake partials
// channel (an in-memory log that both instances share) and scripted partitioned inputs: the
// instances' alerts equal one service over the same lines; a reader commits a partition only past
// panes the brokers acknowledged; a merger that takes over restores the committed state and does
// not send again the alerts of windows evaluated before.
#include "logpipe/stream_service.h"

#include "fakes.h"

#include <doctest/doctest.h>

#include <deque>
#include <string>
#include <tuple>
#include <vector>

using namespace logpipe;
using namespace logpipe::testing;

namespace {

constexpr int64_t kS = 1'000'000;

// The partials topic: messages in order, the merge group's committed offset and state.
struct PartialsLog {
  std::vector<std::string> messages;
  int64_t committed_offset = -1;
  std::string committed_state;
  uint64_t acknowledged = UINT64_MAX;  // messages acknowledged so far (UINT64_MAX: all)
};

// One instance's view: sends append; when it owns the log it reads it from the committed offset.
class FakeChannel final : public PartialsChannel {
 public:
  FakeChannel(PartialsLog& log, bool owner) : log_(log), owner_(owner) {}
  uint64_t send(std::string_view payload) override {
    log_.messages.emplace_back(payload);
    return ++sent_;
  }
  uint64_t acknowledged() override { return std::min<uint64_t>(sent_, log_.acknowledged); }
  bool drain(int) override { return acknowledged() >= sent_; }
  Polled poll(int) override {
    Polled p;
    if (!owner_) return p;
    if (!took_) {
      took_ = true;
      p.event = Event::kTakeOver;
      p.state = log_.committed_state;
      next_ = log_.committed_offset < 0 ? 0 : static_cast<size_t>(log_.committed_offset);
      return p;
    }
    if (next_ >= log_.messages.size()) return p;
    p.event = Event::kMessage;
    p.offset = static_cast<int64_t>(next_);
    p.payload = log_.messages[next_++];
    return p;
  }
  void commit(int64_t offset, std::string_view state) override {
    log_.committed_offset = offset;
    log_.committed_state = state;
  }
  const std::string& name() const noexcept override { return name_; }

 private:
  PartialsLog& log_;
  bool owner_;
  bool took_ = false;
  size_t next_ = 0;
  uint64_t sent_ = 0;
  std::string name_ = "kafka://b/logpipe.g.partials";
};

// A Kafka-like input of two partitions, both assigned here unless `only` says one: lines tagged
// with their partition, quiet polls move the clock. Positions are lines handed out per partition.
class TwoPartitions final : public LineSource {
 public:
  struct Step {
    int partition;  // -1: a quiet poll of `advance_us`
    std::string text;
    int64_t advance_us = 0;
  };
  TwoPartitions(std::vector<Step> steps, FakeClock& clock, std::vector<uint32_t> assigned)
      : steps_(steps.begin(), steps.end()), clock_(clock), assigned_(std::move(assigned)) {}
  Status next(std::string_view& line, int) override {
    if (steps_.empty()) return Status::kEnd;
    Step s = std::move(steps_.front());
    steps_.pop_front();
    if (s.partition < 0) {
      clock_.now_us += s.advance_us;
      return Status::kTimeout;
    }
    current_ = std::move(s.text);
    partition_ = static_cast<uint32_t>(s.partition);
    ++done_[partition_];
    ++line_number_;
    line = current_;
    return Status::kLine;
  }
  const std::string& name() const noexcept override { return name_; }
  uint64_t line_number() const noexcept override { return line_number_; }
  uint32_t partition() const noexcept override { return partition_; }
  std::vector<PartitionState> partitions() const override {
    std::vector<PartitionState> out;
    const bool caught_up = steps_.empty() || steps_.front().partition < 0;
    for (uint32_t p : assigned_) out.push_back({p, caught_up, 0});
    return out;
  }
  uint32_t partition_count() override { return 2; }
  Position position() const override { return {done_[0], done_[1]}; }
  bool commit(const Position& p) override {
    committed.push_back(p);
    return true;
  }
  void commit() override { committed.push_back(position()); }
  std::vector<Position> committed;

 private:
  std::deque<Step> steps_;
  FakeClock& clock_;
  std::vector<uint32_t> assigned_;
  std::string name_ = "kafka://b/t";
  std::string current_;
  uint32_t partition_ = 0;
  int64_t done_[2] = {0, 0};
  uint64_t line_number_ = 0;
};

class TwoPartitionInput final : public PumpInput {
 public:
  explicit TwoPartitionInput(std::unique_ptr<TwoPartitions> l) : lines_(std::move(l)) {}
  const std::string& name() const noexcept override { return lines_->name(); }
  LineSource& lines() override { return *lines_; }
  bool network() const noexcept override { return true; }
  TwoPartitions& script() { return *lines_; }

 private:
  std::unique_ptr<TwoPartitions> lines_;
};

// 08:MM:SS on 2025-06-23 from `ip`, an error when `error`.
std::string at(int minute, int second, bool error, const std::string& ip) {
  char buf[200];
  std::snprintf(buf, sizeof buf, "%s - - [23/Jun/2025:08:%02d:%02d +0000] \"GET /pay HTTP/1.1\" %d 10 \"-\" \"ua\"",
                ip.c_str(), minute, second, error ? 500 : 200);
  return buf;
}

// Five minutes (or `minutes`); minute 2 is an error burst. Partition 0 holds 10.0.0.x, partition 1 10.0.1.x;
// the steps give partition 0's whole backlog before partition 1's (a Kafka backlog in bursts).
std::vector<TwoPartitions::Step> traffic(std::vector<std::string>* in_time_order = nullptr, int minutes = 5) {
  std::vector<TwoPartitions::Step> p0, p1;
  for (int m = 0; m < minutes; ++m)
    for (int s = 0; s < 60; s += 2) {
      const bool burst = m == 2 && s % 4 == 0;
      p0.push_back({0, at(m, s, burst, "10.0.0." + std::to_string(s % 5))});
      p1.push_back({1, at(m, s + 1, burst, "10.0.1." + std::to_string(s % 7))});
      if (in_time_order) {
        in_time_order->push_back(p0.back().text);
        in_time_order->push_back(p1.back().text);
      }
    }
  std::vector<TwoPartitions::Step> out = p0;
  out.insert(out.end(), p1.begin(), p1.end());
  return out;
}

// Live: the partitions in time order, a quiet spell after each half minute's lines, which lets
// the ticks send partials, note and commit positions.
std::vector<TwoPartitions::Step> live(const std::vector<TwoPartitions::Step>& steps) {
  std::vector<TwoPartitions::Step> paced;
  const size_t half = steps.size() / 2;
  for (size_t i = 0; i < half; ++i) {
    paced.push_back(steps[i]);
    paced.push_back(steps[half + i]);
    if (i % 15 == 14) paced.push_back({-1, {}, 1 * kS});
  }
  return paced;
}

ServiceConfig config(PartialsChannel* channel) {
  ServiceConfig c;
  c.rules.metrics[kErrorRate].threshold = 0.2;
  c.commit_every_us = 1 * kS;
  c.scale_out = channel;
  return c;
}

using Seen = std::tuple<std::string, int64_t, double, uint64_t>;  // state and metric, window start, value, requests
std::vector<Seen> seen(const CollectingAlertSink& sink) {
  std::vector<Seen> out;
  for (const Alert& a : sink.received)
    out.emplace_back(std::string(a.firing ? "firing " : "resolved ") + std::string(kMetrics[a.metric].name) + " " + a.key,
                     a.window_start_us, a.value.value, a.value.requests);
  return out;
}

// One service over the lines in time order, without scale-out: the reference.
std::vector<Seen> reference(const std::vector<std::string>& lines) {
  FakeClock clock;
  CollectingAlertSink sink;
  std::vector<ScriptedLineSource::Step> steps;
  for (const auto& l : lines) steps.push_back(line(l));
  std::vector<std::unique_ptr<PumpInput>> inputs;
  inputs.push_back(std::make_unique<ScriptedInput>(std::make_unique<ScriptedLineSource>(steps, "-"), false));
  MalformedLog malformed;
  RecordPump pump(PumpOptions{"combined"}, malformed);
  StreamService service(config(nullptr), {&sink}, nullptr, nullptr, clock, nullptr);
  service.watch(pump, malformed);
  pump.run(inputs, service, &service);
  service.finish(inputs, pump, false);
  return seen(sink);
}

struct Instance {
  Instance(PartialsLog& log, bool owner, std::vector<TwoPartitions::Step> steps, std::vector<uint32_t> assigned)
      : channel(log, owner) {
    auto lines = std::make_unique<TwoPartitions>(std::move(steps), clock, std::move(assigned));
    script = lines.get();
    inputs.push_back(std::make_unique<TwoPartitionInput>(std::move(lines)));
  }
  void run() {
    RecordPump pump(PumpOptions{"combined"}, malformed);
    StreamService service(config(&channel), {&sink}, nullptr, nullptr, clock, nullptr);
    service.watch(pump, malformed);
    pump.run(inputs, service, &service);
    service.finish(inputs, pump, false);
    summary = service.scale_out_summary();
  }
  FakeClock clock;
  FakeChannel channel;
  CollectingAlertSink sink;
  MalformedLog malformed;
  std::vector<std::unique_ptr<PumpInput>> inputs;
  TwoPartitions* script = nullptr;
  std::string summary;
};

}  // namespace

TEST_CASE("scale-out: one instance reading both partitions and merging = one service over the lines") {
  std::vector<std::string> ordered;
  auto steps = traffic(&ordered);
  const std::vector<Seen> want = reference(ordered);
  REQUIRE(want.size() >= 2);  // the burst fires and resolves
  PartialsLog log;
  Instance one(log, true, steps, {0, 1});
  one.run();
  CHECK(seen(one.sink) == want);
  CHECK(!log.messages.empty());
  CHECK(one.summary.find("300 records read here, 0 late") != std::string::npos);
}

TEST_CASE("scale-out: panes sent in several messages: the progress comes after the last of them") {
  // 45 minutes of two partitions, all published at the end: 90 panes, more than one message
  // holds. Progress sent with the first message closed the windows of the panes in the others.
  std::vector<std::string> ordered;
  auto steps = traffic(&ordered, 45);
  const std::vector<Seen> want = reference(ordered);
  PartialsLog log;
  Instance one(log, true, steps, {0, 1});
  one.run();
  CHECK(log.messages.size() >= 2);
  CHECK(seen(one.sink) == want);
  CHECK(one.summary.find("0 late)") != std::string::npos);
}

TEST_CASE("scale-out: two instances, one partition each, one merging = one service over the lines") {
  std::vector<std::string> ordered;
  auto steps = traffic(&ordered);
  const std::vector<Seen> want = reference(ordered);
  std::vector<TwoPartitions::Step> s0, s1;
  for (const auto& s : steps) (s.partition == 0 ? s0 : s1).push_back(s);
  PartialsLog log;
  Instance reader(log, false, s1, {1});
  reader.run();  // publishes partition 1 whole, then says it is idle
  CHECK(reader.sink.received.empty());
  CHECK(reader.summary.find("merged nothing") != std::string::npos);
  Instance merger(log, true, s0, {0});
  merger.run();
  CHECK(seen(merger.sink) == want);
}

TEST_CASE("scale-out: a reader commits a partition only past panes the brokers acknowledged") {
  PartialsLog log;
  log.acknowledged = 0;  // the brokers acknowledge nothing
  auto paced = live(traffic());
  Instance one(log, false, paced, {0, 1});
  one.run();
  CHECK(!log.messages.empty());
  CHECK(one.script->committed.empty());  // neither while running nor at the end
  PartialsLog acked;
  Instance two(acked, false, paced, {0, 1});
  two.run();
  REQUIRE(!two.script->committed.empty());
  CHECK(two.script->committed.back() == LineSource::Position{150, 150});  // the end: everything
  CHECK(two.script->committed.size() >= 2);  // and positions while running
}

TEST_CASE("scale-out: a merger taking over continues from the committed state, without repeats") {
  std::vector<std::string> ordered;
  auto steps = traffic(&ordered);
  const std::vector<Seen> want = reference(ordered);
  // The readers' messages, as one instance reading both partitions publishes them.
  PartialsLog full;
  Instance writer(full, false, live(steps), {0, 1});
  writer.run();
  REQUIRE(full.messages.size() >= 4);
  // A first merger reads the log up to 03:30 (the burst of minute 2 fired, its resolve at
  // minute 3 is still to come) and commits (as at its last --commit-interval) ...
  PartialsLog log;
  REQUIRE(full.messages.size() == 11);  // one every 30 s of event time, and the last
  log.messages.assign(full.messages.begin(), full.messages.begin() + 7);
  std::vector<TwoPartitions::Step> pauses(8, {-1, {}, 1 * kS});
  Instance first(log, true, pauses, {});
  first.run();
  // ... its end leaves the open windows (partitions not idle yet) to the next merger.
  REQUIRE(log.committed_offset >= 0);
  REQUIRE(!log.committed_state.empty());
  // Not from the start: the messages of windows already evaluated are not read again.
  CHECK(log.committed_offset > 0);
  // The rest arrives; a second merger takes over from the commit.
  log.messages = full.messages;
  Instance second(log, true, pauses, {});
  second.run();
  CHECK(first.sink.received.size() == 1);   // the firing
  CHECK(second.sink.received.size() == 1);  // the resolve, from the restored episode
  std::vector<Seen> both = seen(first.sink);
  for (const Seen& s : seen(second.sink)) both.push_back(s);
  CHECK(both == want);
}

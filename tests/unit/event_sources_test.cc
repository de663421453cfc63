// Event-time sources per input and per partition (event_sources.h): partitions registered at
// assignment hold the watermark until they deliver, a caught-up quiet partition goes idle, a
// revoked one stops counting, a finished input hands over to the next.
#include "logpipe/event_sources.h"

#include "fakes.h"

#include <doctest/doctest.h>

using namespace logpipe;
using namespace logpipe::testing;

namespace {

constexpr int64_t kS = 1'000'000;
constexpr int64_t kT0 = 1'750'665'600 * kS;

// A partitioned input whose assignment the test sets.
class PartitionedLines final : public LineSource {
 public:
  Status next(std::string_view&, int) override { return Status::kEnd; }
  const std::string& name() const noexcept override { return name_; }
  uint64_t line_number() const noexcept override { return 0; }
  std::vector<PartitionState> partitions() const override { return states; }
  std::vector<PartitionState> states;

 private:
  std::string name_ = "kafka://b/t";
};

class PartitionedInput final : public PumpInput {
 public:
  const std::string& name() const noexcept override { return lines_.name(); }
  LineSource& lines() override { return lines_; }
  bool network() const noexcept override { return true; }
  PartitionedLines lines_;
};

struct Count final : WindowObserver {
  int windows = 0;
  void on_window(const WindowView&) override { ++windows; }
};

Record at(int64_t seconds) {
  Record r;
  r.time_us = kT0 + seconds * kS;
  r.status = 200;
  return r;
}

}  // namespace

TEST_CASE("event sources: assigned partitions hold the watermark; a caught-up quiet one goes idle") {
  Count out;
  EngineConfig c;
  WindowEngine engine(c, out);
  EventSources sources(engine, 5 * kS);
  PartitionedInput input;
  input.lines_.states = {{0, false}, {1, false}};
  sources.on_input(input);
  sources.on_tick(input, 0);  // both partitions registered before any record
  std::string name = "kafka://b/t";
  // Partition 0 delivers three minutes in one burst: partition 1 has said nothing yet.
  for (int s = 0; s < 180; ++s) engine.add(at(s), sources.source_of(LineOrigin{name, 0, false, 0}));
  CHECK(out.windows == 0);
  // Partition 1 delivers its first minute: the watermark is its newest time.
  for (int s = 0; s < 70; ++s) engine.add(at(s), sources.source_of(LineOrigin{name, 0, false, 1}));
  CHECK(out.windows == 1);  // 69 s > 60 + 5
  CHECK(engine.stats().late == 0);
  // Partition 1 has handed out everything (caught up) and stays quiet: after 5 s it goes idle
  // and partition 0 leads alone.
  input.lines_.states = {{0, false}, {1, true}};
  sources.on_tick(input, 1 * kS);  // it delivered since the last tick: active, quiet from now
  sources.on_tick(input, 4 * kS);
  CHECK(out.windows == 1);
  sources.on_tick(input, 6 * kS + 1);
  CHECK(out.windows == 2);  // frontier 179 s: [60, 120) closes, [120, 180) waits for 185 s
  CHECK(engine.stats().idle_sources == 1);
  // Revoked (another instance has it now): it no longer counts at all.
  input.lines_.states = {{0, false}};
  sources.on_tick(input, 7 * kS);
  CHECK(engine.stats().sources == 1);
  sources.on_input_end();
  CHECK(engine.stats().sources == 0);
}

TEST_CASE("event sources: a partition that never says it caught up goes idle after three timeouts") {
  Count out;
  EngineConfig c;
  WindowEngine engine(c, out);
  EventSources sources(engine, 5 * kS);
  PartitionedInput input;
  input.lines_.states = {{0, false}, {1, false}};
  sources.on_input(input);
  sources.on_tick(input, 0);
  std::string name = "kafka://b/t";
  for (int s = 0; s < 100; ++s) engine.add(at(s), sources.source_of(LineOrigin{name, 0, false, 0}));
  sources.on_tick(input, 14 * kS);
  CHECK(out.windows == 0);
  sources.on_tick(input, 15 * kS);
  CHECK(out.windows == 1);
}

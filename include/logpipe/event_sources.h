// Which source of event time a record comes from, for the window engine's per-source watermark
// (metrics.h): one source per unpartitioned input (a file, a socket server), one per partition of
// a partitioned one (a Kafka topic). Partitions are registered as soon as they are assigned (so
// that the first one read cannot run ahead of the others), removed when revoked or when their
// input ends, and marked idle when they have handed out everything they hold and stayed quiet
// for the idle timeout (or stayed quiet three times that long, should the broker never say).
//
// A pump observer's hooks drive it: on_input, on_record (for each record, through the pump's
// origin), on_tick, on_input_end. stream and calibrate use it alike.
#pragma once

#include "logpipe/metrics.h"
#include "logpipe/pump.h"

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace logpipe {

/// What EventSources drives: a WindowEngine's sources (the default), or the panes a scale-out
/// reader publishes per partition (stream --scale-out). Source 0 is the first input's whole source.
class SourceTarget {
 public:
  virtual ~SourceTarget() = default;
  /// Registers a source for `partition` of the input.
  virtual SourceId add_source(uint32_t partition) = 0;
  virtual void set_idle(SourceId source, bool idle) = 0;
  virtual void remove_source(SourceId source) = 0;
};

class EventSources {
 public:
  /// `idle_timeout_us`: how long a caught-up partition may stay quiet before it stops holding
  /// event time back.
  EventSources(WindowEngine& engine, int64_t idle_timeout_us)
      : engine_target_(engine), engine_(engine_target_), idle_timeout_us_(idle_timeout_us) {}
  EventSources(SourceTarget& target, int64_t idle_timeout_us)
      : engine_target_(nullptr), engine_(target), idle_timeout_us_(idle_timeout_us) {}
  EventSources(const EventSources&) = delete;  // engine_ may refer to engine_target_
  EventSources& operator=(const EventSources&) = delete;
  /// A new input starts: the previous one's sources were removed at its end.
  void on_input(PumpInput& input);
  /// The engine source of a record from `origin` (counts it as activity of that source).
  SourceId source_of(const LineOrigin& origin);
  /// Periodic: follows the assignment of a partitioned input, marks quiet caught-up partitions idle.
  void on_tick(PumpInput& input, int64_t now_us);
  /// The input ended: its sources no longer hold event time.
  void on_input_end();
  /// Every assigned partition has handed out what it holds (as of the last tick; true for an
  /// unpartitioned input). Only then may a quiet spell move event time on (StreamService): a
  /// pause between the fetches of a backlog is not a quiet stream.
  bool caught_up() const noexcept { return caught_up_; }

 private:
  struct Partition {
    SourceId source;
    uint64_t records = 0;       // records counted so far
    uint64_t seen_records = 0;  // at the tick that last saw it move
    int64_t quiet_since_us = 0;
  };
  Partition& partition(uint32_t p, int64_t now_us);
  Partition& add_partition(uint32_t p, int64_t now_us);  // registered once, holding event time

  struct EngineTarget final : SourceTarget {
    explicit EngineTarget(WindowEngine& e) : engine(&e) {}
    explicit EngineTarget(std::nullptr_t) {}
    SourceId add_source(uint32_t) override { return engine->add_source(); }
    void set_idle(SourceId s, bool idle) override { engine->set_idle(s, idle); }
    void remove_source(SourceId s) override { engine->remove_source(s); }
    WindowEngine* engine = nullptr;
  };
  EngineTarget engine_target_;
  SourceTarget& engine_;
  PumpInput* input_ = nullptr;  // the input being read (its partition assignment)
  bool maybe_partitioned_ = false;  // a Kafka input: its records may carry partitions
  int64_t idle_timeout_us_;
  bool first_input_ = true;
  bool partitioned_ = false;
  SourceId whole_ = 0;  // the source of an unpartitioned input
  std::unordered_map<uint32_t, Partition> partitions_;
  int64_t last_tick_us_ = 0;
  bool caught_up_ = true;
};

}  // namespace logpipe

#include "logpipe/event_sources.h"

namespace logpipe {

void EventSources::on_input(PumpInput& input) {
  input_ = &input;
  maybe_partitioned_ = input.name().starts_with("kafka://");
  // The engine's source 0 serves the first input; later inputs get their own (the previous one
  // was removed at its end, so a finished file does not hold the next one back).
  whole_ = first_input_ ? 0 : engine_.add_source(0);
  first_input_ = false;
  partitioned_ = false;
  caught_up_ = true;
  partitions_.clear();
}

EventSources::Partition& EventSources::partition(uint32_t p, int64_t now_us) {
  auto it = partitions_.find(p);
  if (it != partitions_.end()) return it->second;
  if (!partitioned_) {  // the input turns out to be partitioned: its whole source goes away
    partitioned_ = true;
    engine_.remove_source(whole_);
    // Every partition assigned now holds event time from the start, not only those a tick saw:
    // after a restart from committed offsets the first fetch answers come before any tick, and
    // the first partition read would run ahead of the others (their records late).
    if (input_)
      for (const auto& st : input_->lines().partitions())
        if (st.partition != p) add_partition(st.partition, now_us);
  }
  return add_partition(p, now_us);
}

EventSources::Partition& EventSources::add_partition(uint32_t p, int64_t now_us) {
  auto [it, added] = partitions_.try_emplace(p, Partition{});
  if (added) {
    it->second.source = engine_.add_source(p);
    it->second.quiet_since_us = now_us;
  }
  return it->second;
}

SourceId EventSources::source_of(const LineOrigin& origin) {
  if (!partitioned_) {
    // A Kafka input's first records may come before any tick saw its assignment (a restart from
    // committed offsets fetches at once): register the assignment now, or every record would go
    // to one source and the first partition read would run ahead of the others.
    if (!maybe_partitioned_ || !input_ || input_->lines().partitions().empty()) return whole_;
  }
  auto it = partitions_.find(origin.partition);
  Partition& part = it != partitions_.end() ? it->second : partition(origin.partition, last_tick_us_);
  ++part.records;
  return part.source;
}

void EventSources::on_tick(PumpInput& input, int64_t now_us) {
  last_tick_us_ = now_us;
  std::vector<LineSource::PartitionState> states = input.lines().partitions();
  caught_up_ = true;
  for (const auto& st : states) caught_up_ = caught_up_ && st.caught_up;
  if (states.empty() && !partitioned_) return;
  std::unordered_map<uint32_t, bool> assigned;
  for (const auto& st : states) {
    assigned.emplace(st.partition, st.caught_up);
    Partition& part = partition(st.partition, now_us);
    if (part.records != part.seen_records) {  // it delivered since the last tick: active
      part.seen_records = part.records;
      part.quiet_since_us = now_us;
      engine_.set_idle(part.source, false);
      continue;
    }
    const int64_t quiet = now_us - part.quiet_since_us;
    if ((st.caught_up && quiet >= idle_timeout_us_) || quiet >= 3 * idle_timeout_us_) engine_.set_idle(part.source, true);
  }
  // Revoked partitions (another instance reads them now) no longer hold event time.
  for (auto it = partitions_.begin(); it != partitions_.end();) {
    if (assigned.count(it->first)) {
      ++it;
      continue;
    }
    engine_.remove_source(it->second.source);
    it = partitions_.erase(it);
  }
}

void EventSources::on_input_end() {
  if (!partitioned_) {
    engine_.remove_source(whole_);
  } else {
    for (auto& [p, part] : partitions_) engine_.remove_source(part.source);
  }
  partitions_.clear();
}

}  // namespace logpipe

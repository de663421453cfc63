#include "logpipe/event_sources.h"

namespace logpipe {

void EventSources::on_input(PumpInput&) {
  // The engine's source 0 serves the first input; later inputs get their own (the previous one
  // was removed at its end, so a finished file does not hold the next one back).
  whole_ = first_input_ ? 0 : engine_.add_source();
  first_input_ = false;
  partitioned_ = false;
  partitions_.clear();
}

EventSources::Partition& EventSources::partition(uint32_t p, int64_t now_us) {
  auto it = partitions_.find(p);
  if (it != partitions_.end()) return it->second;
  if (!partitioned_) {  // the input turns out to be partitioned: its whole source goes away
    partitioned_ = true;
    engine_.remove_source(whole_);
  }
  Partition part{engine_.add_source()};
  part.quiet_since_us = now_us;
  return partitions_.emplace(p, part).first->second;
}

SourceId EventSources::source_of(const LineOrigin& origin) {
  if (!partitioned_) return whole_;
  auto it = partitions_.find(origin.partition);
  Partition& part = it != partitions_.end() ? it->second : partition(origin.partition, last_tick_us_);
  ++part.records;
  return part.source;
}

void EventSources::on_tick(PumpInput& input, int64_t now_us) {
  last_tick_us_ = now_us;
  std::vector<LineSource::PartitionState> states = input.lines().partitions();
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

// Scale-out: several `stream` instances of one consumer group compute the metrics of the whole
// topic exactly (docs/architecture.md, "Scale-out"). The repartition-and-aggregate model of Kafka
// Streams: each instance aggregates the records of the partitions it reads per pane and publishes
// each pane of each partition once it is complete for that partition (PartialBuilder); the
// instance that owns the partials merges them (PartialMerger) into a WindowEngine whose sources
// are the input partitions, so that its windows close by the same rule as one process reading
// every partition (the watermark is the minimum over the partitions of their newest time).
//
// Kafka does partitioning, membership, fail-over and durability; this file is the part that needs
// no broker: what is published, its wire form, and how copies are merged once.
#pragma once

#include "logpipe/aggregate.h"
#include "logpipe/metrics.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace logpipe {

/// What a reader announces of a source (input partition) it reads: the newest event time it read
/// (every pane the lateness rule completed before that was published first), and whether the
/// source is idle (caught up and quiet: it no longer holds the watermark back).
struct SourceProgress {
  uint32_t source = 0;
  int64_t newest_us = kNoTime;
  bool idle = false;
  bool operator==(const SourceProgress&) const = default;
};

/// The reading side. Aggregates each source's records per pane (one tumbling WindowEngine of
/// pane length per source, with the configuration's lateness) and calls `publish` with each pane
/// once complete for its source: the source's newest time passed the pane's end plus the
/// lateness, or the source went idle, or the input ended. Empty panes are not published.
class PartialBuilder {
 public:
  using Publish = std::function<void(uint32_t source, int64_t pane_index, const PaneAggregate& pane)>;
  PartialBuilder(const EngineConfig& config, Publish publish);
  ~PartialBuilder();
  PartialBuilder(const PartialBuilder&) = delete;
  PartialBuilder& operator=(const PartialBuilder&) = delete;

  /// kLate: the record's pane was already published for its source (counted in late()).
  WindowEngine::AddResult add(uint32_t source, const Record& record);
  /// Idle: the source's open panes are published now and its progress says idle; a record makes
  /// it active again (a record for a pane published meanwhile is late).
  void set_idle(uint32_t source, bool idle);
  /// A source no longer read here (a revoked partition): forgotten without publishing (its new
  /// reader re-reads it from the last commit).
  void remove(uint32_t source);
  /// End of input: every open pane of every source.
  void flush();
  /// One entry per source read here (ascending), for the next message.
  std::vector<SourceProgress> progress() const;
  uint64_t late() const noexcept;
  uint64_t records() const noexcept;

 private:
  struct PerSource;
  PerSource& source(uint32_t s);
  EngineConfig pane_config_;
  int64_t pane_us_;
  Publish publish_;
  std::vector<std::unique_ptr<PerSource>> sources_;  // indexed by source; null when not read here
  uint64_t removed_late_ = 0, removed_records_ = 0;  // of sources removed
};

/// One message of the partials topic: sections (panes of sources) and the sender's progress,
/// which comes after the sections in effect (a merger applies the sections first).
struct PartialMessage {
  /// Instances that window differently must not mix: window, hop, lateness and key cap.
  uint64_t config_fingerprint = 0;
  /// Sources (input partitions) in all: the merger waits for every one of them.
  uint32_t sources_total = 0;
  struct Section {
    uint32_t source = 0;
    int64_t pane_index = 0;
    PaneAggregate pane;
  };
  std::vector<Section> sections;
  std::vector<SourceProgress> progress;
};

/// The configuration's fingerprint as PartialMessage carries it.
uint64_t partial_config_fingerprint(const EngineConfig& config) noexcept;
/// Appends the versioned wire form (docs/architecture.md, "Scale-out").
void encode_partial_message(const PartialMessage& m, std::string& out);
/// Replaces `m` with what encode wrote; false on malformed input or another version.
bool decode_partial_message(std::string_view in, PartialMessage& m);

/// The merging side: feeds a WindowEngine whose sources are 0..sources_total-1 (it adds the
/// ones missing). The first copy of a (source, pane) wins; another copy (a reader that took the
/// source over re-read it) is counted and ignored.
class PartialMerger {
 public:
  PartialMerger(WindowEngine& engine, uint64_t config_fingerprint, uint32_t sources_total);
  /// Applies a message: its sections, then its progress. Throws Error (runtime) naming `from`
  /// when the message was made with another configuration or partition count.
  void apply(const PartialMessage& m, std::string_view from);
  uint64_t duplicates() const noexcept { return duplicates_; }
  uint64_t late_sections() const noexcept { return late_sections_; }

 private:
  WindowEngine& engine_;
  uint64_t fingerprint_;
  uint32_t sources_total_;
  std::set<std::pair<int64_t, uint32_t>> accepted_;  // (pane, source), pruned as panes die
  uint64_t duplicates_ = 0, late_sections_ = 0;
};

}  // namespace logpipe

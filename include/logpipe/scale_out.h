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
#include <map>
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
  /// A quiet input (the reader's quiet clock): every source's event time moves to its own newest
  /// record plus `quiet_us` without a record, closing (publishing) the panes that the lateness
  /// rule completes then, and the progress says so. Never moves a source backwards. Each source
  /// moves from its own time, not from the newest of all: a partition whose next fetch is still
  /// under way looks caught up (the broker's high watermark is known as of the last fetch) and
  /// would otherwise be moved past the records it is about to deliver (late at the reader).
  void advance_by(int64_t quiet_us);
  /// Every pane of `source` up to `pane_index` was published (or was empty): true also for a
  /// source not read here.
  bool published_through(uint32_t source, int64_t pane_index) const;
  int64_t pane_us() const noexcept { return pane_us_; }
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
  /// when the message was made with another configuration or partition count. `offset`: the
  /// message's place in the partials topic (restart_offset()), -1 when not known.
  void apply(const PartialMessage& m, std::string_view from, int64_t offset = -1);
  /// Where a merger taking over must start reading the partials topic to rebuild every pane a
  /// window not yet closed can hold, and every source's progress: the offset of the oldest message
  /// holding an accepted section of such a pane or the last progress of a source, or `next_offset`
  /// (the offset after the last message applied) when none. Without the progress, a successor
  /// that started after a dead reader's last message knew nothing of its partitions, and the
  /// watermark moved on without them: their next reader's records came too late.
  int64_t restart_offset(int64_t next_offset) const;
  /// Every source's reader said, in its last message, that it is idle (caught up and quiet).
  bool all_idle() const noexcept;
  uint64_t duplicates() const noexcept { return duplicates_; }
  uint64_t late_sections() const noexcept { return late_sections_; }

 private:
  WindowEngine& engine_;
  uint64_t fingerprint_;
  uint32_t sources_total_;
  std::set<std::pair<int64_t, uint32_t>> accepted_;  // (pane, source), pruned as panes die
  std::map<int64_t, int64_t> pane_offsets_;           // pane -> oldest offset of a section accepted
  std::vector<int64_t> max_accepted_;                 // per source: its newest pane accepted
  std::vector<int64_t> progress_offsets_;             // per source: offset of its last progress, -1
  std::vector<bool> idle_;                            // per source: idle, as its last message said
  int64_t log_time_ = kNoTime;                        // the newest time any message announced
  uint64_t duplicates_ = 0, late_sections_ = 0;
};

/// The internal topic as `stream --scale-out` uses it (the io layer: an idempotent producer and a
/// consumer of group GROUP.merge on the one partition of logpipe.GROUP.partials; fakes in tests).
/// Every instance sends its partials; the instance that owns the partition merges them.
class PartialsChannel {
 public:
  virtual ~PartialsChannel() = default;
  /// Queues one message; returns its number (1, 2, ...). Throws Error when it cannot be queued.
  virtual uint64_t send(std::string_view payload) = 0;
  /// The highest n such that messages 1..n were all acknowledged by the brokers. Throws Error
  /// when one could not be delivered.
  virtual uint64_t acknowledged() = 0;
  /// Waits until everything sent is acknowledged, at most `timeout_ms`; false on timeout.
  virtual bool drain(int timeout_ms) = 0;
  /// Merger side, waiting at most `timeout_ms`. kTakeOver: this instance now owns the partials (merge from
  /// scratch, after restoring `state`: what the previous owner committed, maybe empty);
  /// kLost: another instance owns them now; kMessage: the next message (`payload`, `offset`:
  /// valid until the next poll); kNothing: nothing new.
  enum class Event : uint8_t { kNothing, kTakeOver, kLost, kMessage };
  struct Polled {
    Event event = Event::kNothing;
    std::string_view payload;
    int64_t offset = -1;
    std::string state;
  };
  virtual Polled poll(int timeout_ms = 0) = 0;
  /// Commits, as owner, where a merger taking over starts (`offset`) and the state it restores.
  virtual void commit(int64_t offset, std::string_view state) = 0;
  /// The name for messages (the topic's endpoint).
  virtual const std::string& name() const noexcept = 0;
};

}  // namespace logpipe

// The service loop of `stream`: what happens between the lines of a live input. The record pump
// (pump.h) reads; this is its sink and its observer:
//
//   records            -> the window engine -> alert episodes (AlertEvaluator) -> alert sinks
//                                            -> other observers (the window log)
//   a quiet input      -> event time follows the wall clock, so windows still close and episodes
//                         still resolve when the traffic stops; --idle-exit ends a quiet pipe
//   every few seconds  -> --stats on stderr, the Prometheus snapshot, Kafka checkpoints: a
//                         position becomes committable once every window that can hold a record
//                         read before it has closed, and is committed once every alert sink has
//                         delivered what it was given (at-least-once)
//   the end            -> open windows evaluated, sinks closed, offsets committed only when
//                         everything was delivered and no input failed
//
// Side effects go through interfaces that tests fake: the Clock, the AlertSinks, the
// MetricsPublisher, the inputs' LineSources.
#pragma once

#include "logpipe/alerts.h"
#include "logpipe/event_sources.h"
#include "logpipe/metrics.h"
#include "logpipe/pump.h"
#include "logpipe/scale_out.h"

#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace logpipe {

/// Time as the service sees it: a steady clock for intervals, the wall clock for lag.
class Clock {
 public:
  virtual ~Clock() = default;
  /// Monotonic microseconds (intervals, quiet spells).
  virtual int64_t steady_us() = 0;
  /// Microseconds since the Unix epoch (how far event time lags behind).
  virtual int64_t wall_us() = 0;
};

/// The system's clocks.
class SystemClock final : public Clock {
 public:
  int64_t steady_us() override;
  int64_t wall_us() override;
};

/// Where the Prometheus text snapshot goes (the io layer's MetricsServer).
class MetricsPublisher {
 public:
  virtual ~MetricsPublisher() = default;
  /// Replaces the text served from now on (thread-safe).
  virtual void publish(std::string text) = 0;
};

/// Settings of the service loop.
struct ServiceConfig {
  EngineConfig engine;
  AlertRules rules;  ///< how each metric pages (a settings file's [metrics.*], --threshold)
  int64_t idle_exit_us = 0;       ///< end a quiet file or pipe after this long (network inputs do it themselves)
  int64_t stats_every_us = 0;     ///< --stats period; 0 = no periodic statistics
  int64_t commit_every_us = 5'000'000;  ///< how often a Kafka position is noted (--commit-interval)
  int64_t publish_every_us = 500'000;   ///< how often the Prometheus snapshot is refreshed
  int64_t partition_idle_us = 5'000'000;  ///< a caught-up partition quiet this long stops holding event time
  bool verbose = false;           ///< say when offsets are committed, and the summary at the end
  /// Prometheus: per keyed metric, the window values of this many top keys (a `key` label);
  /// 0 = only the largest value, without its key (bounded series: --metrics-top-keys).
  size_t metrics_top_keys = 0;
  /// stream --scale-out (docs/architecture.md, "Scale-out"): the records read here are published
  /// per partition and pane on this channel instead of being counted; the windows, alerts and
  /// statistics are those of the partials merged while this instance owns them. Null: off.
  PartialsChannel* scale_out = nullptr;
};

/// What the loop did, for the summary and tests.
struct ServiceStats {
  uint64_t commits = 0;  ///< positions committed while running
};

class StreamService final : public RecordSink, public PumpObserver {
 public:
  /// `sinks` receive every window's alerts; `extra` (may be null) sees every closed window after
  /// the alerts (the window log); `metrics` (may be null) gets the Prometheus snapshot;
  /// `diagnostics` (may be null) gets --stats and notes. All must outlive the service.
  StreamService(ServiceConfig config, std::vector<AlertSink*> sinks, WindowObserver* extra,
                MetricsPublisher* metrics, Clock& clock, std::FILE* diagnostics);
  ~StreamService() override;

  /// The pump whose lines are counted in the statistics (set before running it).
  void watch(const RecordPump& pump, const MalformedLog& malformed) noexcept {
    pump_ = &pump;
    malformed_ = &malformed;
  }

  // RecordSink: a record without a time cannot be placed in a window: a malformed line.
  ParseError on_record(const Record& record) override;
  // PumpObserver.
  void on_input(PumpInput& input) override;
  bool on_tick(PumpInput& input, bool quiet) override;
  void on_input_end(PumpInput& input, bool complete) override;

  /// End of input (or a stop): evaluates the open windows, closes the sinks (which deliver what is
  /// left, or throw), and commits the inputs that `pump` read through when every alert was
  /// delivered and `input_failed` is false; otherwise says on `diagnostics` why nothing was
  /// committed. Publishes a last snapshot.
  /// `keep_open` (a stop with stream --state): the open windows are neither evaluated nor
  /// resolved, they are left to the next run, and Kafka commits only the position whose windows
  /// had all closed (their records are re-read and counted by the next run).
  void finish(std::span<const std::unique_ptr<PumpInput>> inputs, const RecordPump& pump, bool input_failed,
              bool keep_open = false);

  /// Restarts (stream --state): the window cursor and the alert state (AlertEvaluator::save_state)
  /// as text. restore_state, on a fresh service before any record, continues from there: windows
  /// already evaluated are not evaluated again (records read again for them are `replayed`), open
  /// episodes stay open. Throws Error when the text is not a state or its windows differ.
  std::string save_state() const;
  void restore_state(std::string_view text);

  const WindowEngine& engine() const noexcept;
  const AlertEvaluator& alerts() const noexcept;
  /// --scale-out: what this instance read and sent, and what it merged (empty otherwise).
  std::string scale_out_summary() const;
  /// --scale-out: records this instance's reader dropped as late (behind their partition's newest
  /// time by more than the lateness); 0 otherwise.
  uint64_t scale_out_late() const noexcept;
  const ServiceStats& stats() const noexcept { return stats_; }
  /// The Prometheus text of the current state (served by --metrics-listen).
  std::string prometheus_text() const;

 private:
  struct Checkpoint {
    LineSource::Position position;
    int64_t newest_time_us;
  };
  void emit(const std::vector<Alert>& alerts);
  void periodic(int64_t now_us);
  void checkpoint(LineSource& source, int64_t now_us);
  void take_committable();
  void note_commits(const LineSource& source, uint64_t n);  // counted, and said with -v
  void note_confirmed_commits(const LineSource& source);    // the asynchronous ones confirmed since
  bool windows_closed_through(int64_t time_us) const;
  uint64_t lines() const noexcept;
  uint64_t malformed() const noexcept;

  // The windows and their alerts. A scale-out merger rebuilds them when it takes the partials
  // over (from the state its predecessor committed) or loses them.
  struct Evaluation;
  struct ScaleOut;
  void rebuild_evaluation();
  void scale_out_tick(PumpInput& input, int64_t now_us);
  void finish_scale_out(std::span<const std::unique_ptr<PumpInput>> inputs, const RecordPump& pump,
                        bool input_failed, bool keep_open);

  ServiceConfig config_;
  std::vector<AlertSink*> sinks_;
  WindowObserver* extra_;
  std::unique_ptr<Evaluation> ev_;
  std::unique_ptr<ScaleOut> scale_;  // --scale-out
  std::unique_ptr<EventSources> sources_;
  MetricsPublisher* metrics_;
  Clock& clock_;
  std::FILE* diagnostics_;
  const RecordPump* pump_ = nullptr;
  const MalformedLog* malformed_ = nullptr;
  ServiceStats stats_;

  // The quiet-input clock: when data last arrived, and the newest event time then.
  int64_t last_data_us_ = 0;
  int64_t time_at_last_data_ = kNoTime;
  uint64_t lines_at_last_data_ = 0;
  // Periodic work.
  int64_t next_stats_us_ = 0, stats_time_us_ = 0, next_publish_us_ = 0, next_checkpoint_us_ = 0;
  uint64_t stats_lines_ = 0, stats_bytes_ = 0;
  // At-least-once: positions waiting for their windows to close, then for alert delivery.
  std::deque<Checkpoint> checkpoints_;
  std::optional<LineSource::Position> closed_;
  LineSource* checkpoint_source_ = nullptr;  // the input the positions above are of
  uint64_t confirmed_commits_ = 0;  // its asynchronous commits confirmed so far (stats_.commits has them)
  // Prometheus: the partitions of the input being read, as of the last snapshot (their lag).
  std::string partitions_input_;
  std::vector<LineSource::PartitionState> partitions_;
};

}  // namespace logpipe

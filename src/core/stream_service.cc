// The service loop of `stream` (include/logpipe/stream_service.h).
#include "logpipe/stream_service.h"

#include "logpipe/error.h"
#include "logpipe/text.h"

#include <fmt/format.h>

#include <cinttypes>
#include <chrono>
#include <cstdio>
#include <iterator>

namespace logpipe {

int64_t SystemClock::steady_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t SystemClock::wall_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct StreamService::Evaluation {
  Evaluation(StreamService& s, WindowObserver* extra)
      : alerts(s.config_.rules, [&s](const std::vector<Alert>& batch) { s.emit(batch); }),
        engine(s.config_.engine, observers) {
    observers.add(alerts);
    alerts.keep_top_keys(s.config_.metrics_top_keys);
    if (extra) observers.add(*extra);
  }
  ObserverList observers;
  AlertEvaluator alerts;
  WindowEngine engine;
};

// --scale-out (docs/architecture.md, "Scale-out"). The reader: records go to a PartialBuilder per
// partition, whose completed panes are sent on the channel with this instance's progress; a
// partition's position is committed only once every pane that can hold a record before it was
// sent and acknowledged (the next reader rebuilds the rest whole). The merger: while this
// instance owns the partials, their messages feed the Evaluation's engine (PartialMerger: the
// first copy of a pane wins), and it commits where a successor must start and its alert state.
struct StreamService::ScaleOut final : SourceTarget {
  ScaleOut(StreamService& s, PartialsChannel& ch)
      : service(s),
        channel(ch),
        builder(s.config_.engine,
                [this](uint32_t source, int64_t pane, const PaneAggregate& aggregate) {
                  PartialMessage::Section& sec = pending.sections.emplace_back();
                  sec.source = source;
                  sec.pane_index = pane;
                  sec.pane.reset(service.config_.engine.max_keys, service.config_.engine.max_latency_keys);
                  sec.pane.merge(aggregate);
                }),
        fingerprint(partial_config_fingerprint(s.config_.engine)) {}

  // SourceTarget: EventSources' source p + 1 is partition p (0 is an unpartitioned input's).
  SourceId add_source(uint32_t partition) override { return partition + 1; }
  void set_idle(SourceId s, bool idle) override {
    if (s) builder.set_idle(s - 1, idle);
  }
  void remove_source(SourceId s) override {
    if (!s) return;
    const uint32_t p = s - 1;
    builder.remove(p);  // revoked: its open panes are rebuilt by its next reader
    if (input) input->forget(p);
    for (Note& n : notes)  // positions of it noted here are not ours to commit any more
      if (p < n.position.size()) n.position[p] = -1;
  }

  // The input's partition count, asked once (the merger and the messages use it).
  uint32_t partitions() {
    if (sources_total == 0) {
      sources_total = input->partition_count();
      if (sources_total == 0) runtime_error("{}: --scale-out needs a partitioned input (Kafka)", input->name());
    }
    return sources_total;
  }

  // Sends the panes completed since the last call, with the progress; without panes only every
  // second (a heartbeat: the merger learns that event time moved or a partition went idle).
  void send(int64_t now_us, bool force) {
    if (pending.sections.empty() && !force && now_us < next_heartbeat_us) return;
    if (!input) return;
    partitions();
    pending.config_fingerprint = fingerprint;
    pending.sources_total = sources_total;
    pending.progress = builder.progress();
    if (pending.sections.empty() && pending.progress.empty()) return;
    // Bounded messages (brokers refuse more than message.max.bytes, 1 MB by default).
    constexpr size_t kMaxSections = 64;
    std::vector<PartialMessage::Section> all = std::move(pending.sections);
    size_t i = 0;
    std::vector<SourceProgress> progress = std::move(pending.progress);
    do {
      pending.sections.clear();
      for (; i < all.size() && pending.sections.size() < kMaxSections; ++i)
        pending.sections.push_back(std::move(all[i]));
      // The progress goes with the last chunk only: the merger applies a message's progress
      // after its sections, and would close windows whose panes are in the next chunks.
      if (i >= all.size()) pending.progress = std::move(progress);
      bytes.clear();
      encode_partial_message(pending, bytes);
      last_sent = channel.send(bytes);
      ++messages_sent;
      bytes_sent += bytes.size();
    } while (i < all.size());
    pending.sections.clear();
    pending.progress.clear();
    next_heartbeat_us = now_us + kHeartbeatUs;
  }

  // A position noted every --commit-interval becomes committable once every pane of each of its
  // partitions up to the newest time read then was sent, and is committed once acknowledged.
  void checkpoint(LineSource& source, bool note) {
    if (note) {
      Note n{source.position(), {}, 0, false};
      if (!n.position.empty()) {
        n.newest.assign(n.position.size(), kNoTime);
        for (const SourceProgress& pr : builder.progress())
          if (pr.source < n.newest.size()) n.newest[pr.source] = pr.newest_us;
        if (notes.empty() || notes.back().position != n.position) notes.push_back(std::move(n));
      }
    }
    for (Note& n : notes) {
      if (n.sent) continue;
      bool all = true;
      for (size_t p = 0; p < n.position.size() && all; ++p)
        if (n.position[p] >= 0 && n.newest[p] != kNoTime)
          all = builder.published_through(static_cast<uint32_t>(p), floor_div(n.newest[p], builder.pane_us()));
      if (!all) break;
      n.sent = true;
      n.needs_ack = last_sent;
    }
    const uint64_t acked = notes.empty() ? 0 : channel.acknowledged();
    std::optional<LineSource::Position> commit;
    while (!notes.empty() && notes.front().sent && acked >= notes.front().needs_ack) {
      commit = std::move(notes.front().position);
      notes.pop_front();
    }
    if (commit && source.commit(*commit)) service.note_commits(source, 1);
  }

  // Applies what arrived on the partials while this instance owns them (a bounded batch per tick).
  void merge(int wait_ms = 0) {
    for (int i = 0; i < 10'000; ++i) {
      PartialsChannel::Polled got = channel.poll(i == 0 ? wait_ms : 0);
      if (got.event == PartialsChannel::Event::kNothing) break;
      if (got.event == PartialsChannel::Event::kTakeOver || got.event == PartialsChannel::Event::kLost) {
        const bool take = got.event == PartialsChannel::Event::kTakeOver;
        merging = take;
        merger.reset();
        next_offset = -1;
        service.rebuild_evaluation();
        if (take && !got.state.empty()) {
          try {
            service.restore_state(got.state);
          } catch (const Error& e) {  // saved by instances that windowed otherwise
            got.state.clear();
            service.rebuild_evaluation();
            if (service.diagnostics_)
              fmt::print(service.diagnostics_, "logpipe: {}: the committed merge state is not usable ({}): merging "
                         "without it\n", channel.name(), e.what());
          }
        }
        if (service.diagnostics_)
          fmt::print(service.diagnostics_, "logpipe: stream: {} the partials of {}{}\n",
                     take ? "merging" : "no longer merging", channel.name(),
                     !take ? ""
                     : !got.state.empty()
                         ? fmt::format(" from offset {} (continuing from the state its previous merger committed)",
                                       got.offset)
                         : fmt::format(" from offset {}", std::max<int64_t>(got.offset, 0)));
        continue;
      }
      if (!decode_partial_message(got.payload, message)) {
        ++malformed_messages;
        if (service.diagnostics_)
          fmt::print(service.diagnostics_, "logpipe: {}: message at offset {} is not a partial aggregate of this "
                     "version: skipped\n", channel.name(), got.offset);
        continue;
      }
      next_offset = got.offset + 1;
      if (!merger) {
        merger = std::make_unique<PartialMerger>(service.ev_->engine, fingerprint, input ? partitions() : 0);
      }
      try {
        merger->apply(message, channel.name(), got.offset);
      } catch (const Error& e) {
        // Another configuration or partition count (refused before anything is applied): skipped,
        // so that one foreign message does not stop every merger in turn. Said once per reason.
        ++refused_messages;
        if (service.diagnostics_ && e.what() != last_refusal) {
          last_refusal = e.what();
          fmt::print(service.diagnostics_, "logpipe: message at offset {} skipped: {}\n", got.offset, last_refusal);
        }
        continue;
      }
      ++messages_merged;
    }
  }

  void commit_merger() {
    if (!merging || !merger || next_offset < 0) return;
    for (AlertSink* sink : service.sinks_)
      if (!sink->all_delivered()) return;
    const std::string state = service.save_state();
    if (state.size() > kMetadataLimit && state_bytes <= kMetadataLimit && service.diagnostics_)
      fmt::print(service.diagnostics_, "logpipe: {}: the merge state is {} bytes, more than the {} bytes a broker "
                 "keeps by default (offset.metadata.max.bytes): raise it, or a successor starts from an older "
                 "commit\n", channel.name(), state.size(), kMetadataLimit);
    state_bytes = state.size();
    channel.commit(merger->restart_offset(next_offset), state);
  }

  // Every input partition idle (or never read) at the merger: nothing more is coming.
  bool all_idle() const { return merger && merger->all_idle(); }

  struct Note {
    LineSource::Position position;
    std::vector<int64_t> newest;  // per partition: newest event time read when noted
    uint64_t needs_ack = 0;       // the message that carried its last pane
    bool sent = false;            // every pane it needs was sent
  };
  static constexpr int64_t kHeartbeatUs = 1'000'000;
  static constexpr size_t kMetadataLimit = 4096;  // brokers' default offset.metadata.max.bytes
  size_t state_bytes = 0;  // of the last merge state committed
  StreamService& service;
  PartialsChannel& channel;
  PartialBuilder builder;
  PartialMessage pending;  // sections completed since the last send
  uint64_t fingerprint;
  uint32_t sources_total = 0;
  LineSource* input = nullptr;
  std::string bytes;
  uint64_t last_sent = 0, messages_sent = 0, bytes_sent = 0;
  int64_t next_heartbeat_us = 0;
  int64_t newest_read_us = kNoTime;  // the quiet clock of the reader
  std::deque<Note> notes;
  // Merger.
  bool merging = false;
  std::unique_ptr<PartialMerger> merger;
  PartialMessage message;
  int64_t next_offset = -1;  // after the last message applied
  uint64_t messages_merged = 0, malformed_messages = 0, refused_messages = 0;
  std::string last_refusal;
};

const WindowEngine& StreamService::engine() const noexcept { return ev_->engine; }
const AlertEvaluator& StreamService::alerts() const noexcept { return ev_->alerts; }

void StreamService::rebuild_evaluation() { ev_ = std::make_unique<Evaluation>(*this, extra_); }

StreamService::StreamService(ServiceConfig config, std::vector<AlertSink*> sinks, WindowObserver* extra,
                             MetricsPublisher* metrics, Clock& clock, std::FILE* diagnostics)
    : config_(std::move(config)),
      sinks_(std::move(sinks)),
      extra_(extra),
      ev_(std::make_unique<Evaluation>(*this, extra)),
      metrics_(metrics),
      clock_(clock),
      diagnostics_(diagnostics) {
  if (config_.scale_out) {
    scale_ = std::make_unique<ScaleOut>(*this, *config_.scale_out);
    sources_ = std::make_unique<EventSources>(*scale_, config_.partition_idle_us);
  } else {
    sources_ = std::make_unique<EventSources>(ev_->engine, config_.partition_idle_us);
  }
  const int64_t now = clock_.steady_us();
  last_data_us_ = stats_time_us_ = now;
  next_stats_us_ = now + config_.stats_every_us;
  next_publish_us_ = now;
  next_checkpoint_us_ = now + config_.commit_every_us;
}

StreamService::~StreamService() = default;

void StreamService::emit(const std::vector<Alert>& alerts) {
  for (AlertSink* sink : sinks_) sink->send(alerts);
}

uint64_t StreamService::lines() const noexcept { return pump_ ? pump_->stats().lines : 0; }
uint64_t StreamService::malformed() const noexcept { return malformed_ ? malformed_->total() : 0; }

ParseError StreamService::on_record(const Record& r) {
  const SourceId source = pump_ ? sources_->source_of(pump_->origin()) : 0;
  if (scale_) {
    const uint32_t partition = source ? source - 1 : (pump_ ? pump_->origin().partition : 0);
    if (scale_->builder.add(partition, r) == WindowEngine::AddResult::kNoTime) return ParseError::kBadTime;
    scale_->newest_read_us = std::max(scale_->newest_read_us, r.time_us);
    return ParseError::kNone;
  }
  return ev_->engine.add(r, source) == WindowEngine::AddResult::kNoTime ? ParseError::kBadTime : ParseError::kNone;
}

void StreamService::on_input(PumpInput& input) {
  checkpoints_.clear();
  closed_.reset();
  checkpoint_source_ = nullptr;
  confirmed_commits_ = 0;
  if (scale_) scale_->input = &input.lines();
  sources_->on_input(input);
}

// --scale-out has one input, whose partitions stay registered to the end: finish() publishes
// their open panes and says they are idle (removing them would drop both).
void StreamService::on_input_end(PumpInput&, bool) {
  if (!scale_) sources_->on_input_end();
}

bool StreamService::on_tick(PumpInput& input, bool quiet) {
  const int64_t now = clock_.steady_us();
  sources_->on_tick(input, now);
  if (quiet) {
    if (lines() != lines_at_last_data_) {  // data arrived since the last quiet spell
      lines_at_last_data_ = lines();
      last_data_us_ = now;
      time_at_last_data_ = scale_ ? scale_->newest_read_us : ev_->engine.stats().max_time_us;
    }
    const int64_t quiet_us = now - last_data_us_;
    // Event time follows the wall clock while nothing arrives, so a window still closes (and an
    // episode still resolves) when the traffic stops.
    // Not while a partition still holds records: a pause between the fetches of a backlog
    // (another broker's answer pending) is not a quiet stream, and would close its windows early.
    // With --scale-out the reader's panes advance (the merger's windows follow their progress).
    if (time_at_last_data_ != kNoTime && sources_->caught_up()) {
      if (scale_) scale_->builder.advance_by(quiet_us);  // each partition from its own newest record
      // One process: from the sources' watermark (the oldest newest time of those that hold it),
      // not from the newest record of all: a partition whose next fetch is still under way looks
      // caught up, and moving event time past it made its next records late. Once they are idle,
      // that is the newest time of all.
      else if (const int64_t from = ev_->engine.data_frontier_us(); from != kNoTime)
        ev_->engine.advance_to(from + quiet_us);
    }
    // Network sources apply --idle-exit themselves (Kafka counts from its partition assignment,
    // which takes seconds); files and pipes here.
    if (config_.idle_exit_us && !input.network() && quiet_us >= config_.idle_exit_us) return false;
  }
  if (metrics_ && now >= next_publish_us_) {  // the Kafka lag of the snapshot below
    partitions_ = input.lines().partitions();
    if (partitions_input_ != input.name()) partitions_input_ = input.name();
  }
  if (scale_) {
    scale_out_tick(input, now);
    return true;
  }
  periodic(now);
  checkpoint(input.lines(), now);
  return true;
}

void StreamService::scale_out_tick(PumpInput& input, int64_t now) {
  ScaleOut& so = *scale_;
  so.send(now, false);
  so.merge();
  periodic(now);
  const bool note = now >= next_checkpoint_us_;
  if (note) next_checkpoint_us_ = now + config_.commit_every_us;
  note_confirmed_commits(input.lines());
  so.checkpoint(input.lines(), note);
  if (note) so.commit_merger();
}

uint64_t StreamService::scale_out_late() const noexcept { return scale_ ? scale_->builder.late() : 0; }

std::string StreamService::scale_out_summary() const {
  if (!scale_) return {};
  const ScaleOut& so = *scale_;
  std::string out = fmt::format("logpipe: stream: scale-out: {} records read here, {} late; {} partial messages sent "
                                "({}); ",
                                so.builder.records(), so.builder.late(), so.messages_sent,
                                human_bytes(so.bytes_sent));
  if (so.messages_merged == 0 && !so.merging) return out + "merged nothing (another instance merges)\n";
  return out + fmt::format("merged {} messages ({} duplicate sections, {} late){}; merge state {} bytes\n",
                           so.messages_merged, so.merger ? so.merger->duplicates() : 0,
                           so.merger ? so.merger->late_sections() : 0,
                           so.malformed_messages || so.refused_messages
                               ? fmt::format(", {} malformed and {} of another configuration skipped",
                                             so.malformed_messages, so.refused_messages)
                               : "",
                           so.state_bytes);
}

void StreamService::periodic(int64_t now) {
  if (config_.stats_every_us && now >= next_stats_us_ && diagnostics_) {
    const EngineStats& es = ev_->engine.stats();
    const uint64_t bytes = pump_ ? pump_->stats().bytes : 0;
    double dt = std::max<double>(1, static_cast<double>(now - stats_time_us_)) / 1e6;
    double lag = es.max_time_us == kNoTime ? 0.0 : static_cast<double>(clock_.wall_us() - es.max_time_us) / 1e6;
    fmt::print(diagnostics_,
               "logpipe: stream: {} lines ({:.0f} lines/s, {:.1f} MB/s), {} malformed, {} late, lag {:.1f}s, "
               "{} panes, {} keys, {} windows, {} firing\n",
               lines(), static_cast<double>(lines() - stats_lines_) / dt,
               static_cast<double>(bytes - stats_bytes_) / dt / 1e6, malformed(), es.late, lag, es.open_panes,
               es.tracked_keys, es.windows_closed, ev_->alerts.firing());
    stats_lines_ = lines();
    stats_bytes_ = bytes;
    stats_time_us_ = now;
    next_stats_us_ = now + config_.stats_every_us;
  }
  if (metrics_ && now >= next_publish_us_) {
    metrics_->publish(prometheus_text());
    next_publish_us_ = now + config_.publish_every_us;
  }
}

// Every window containing event time t has closed.
bool StreamService::windows_closed_through(int64_t t) const {
  const EngineConfig& c = ev_->engine.config();
  const int64_t hop = c.hop_us ? c.hop_us : c.window_us;
  const int64_t last_start = floor_div(t, hop) * hop;
  return ev_->alerts.last_window_end_us() >= last_start + c.window_us;
}

// At-least-once while running (Kafka): every --commit-interval the source's position is noted with
// the newest event time read so far. It becomes committable once every window that can hold a
// record read before it has closed (their alerts were then written), and is committed once every
// alert sink has delivered what it was given. A killed run re-reads at most what came after the
// last commit. Sources without offsets (files, sockets) skip all this. Ticks come only once every
// line read so far was handed to the engine (pump.h), so a position never covers unread records.
void StreamService::checkpoint(LineSource& source, int64_t now) {
  note_confirmed_commits(source);
  if (now < next_checkpoint_us_) return;
  next_checkpoint_us_ = now + config_.commit_every_us;
  checkpoint_source_ = &source;
  LineSource::Position p = source.position();
  if (p.empty()) return;
  const int64_t newest = ev_->engine.stats().max_time_us;
  if (newest == kNoTime) {
    closed_ = std::move(p);  // nothing with a time was read: only malformed or blank lines
  } else if (checkpoints_.empty() || checkpoints_.back().position != p) {
    checkpoints_.push_back({std::move(p), newest});
  }
  take_committable();
  if (!closed_) return;
  // Not yet (alertmanager:// still retrying), or never in this run (its full queue dropped alerts:
  // committing would lose them for good; a restart re-reads and re-sends them).
  for (AlertSink* sink : sinks_)
    if (!sink->all_delivered()) return;
  if (source.commit(*closed_)) note_commits(source, 1);  // synchronous (a followed file)
  closed_.reset();
}

// Kafka confirms commits later (a commit never waits for a coordinator that may be gone): the
// ones confirmed since the last call are counted and said.
void StreamService::note_confirmed_commits(const LineSource& source) {
  if (uint64_t confirmed = source.commits_confirmed(); confirmed > confirmed_commits_) {
    note_commits(source, confirmed - confirmed_commits_);
    confirmed_commits_ = confirmed;
  }
}

void StreamService::note_commits(const LineSource& source, uint64_t n) {
  stats_.commits += n;
  if (config_.verbose && diagnostics_)
    fmt::print(diagnostics_, "logpipe: stream: committed {} up to the windows closed so far\n", source.name());
}

// The oldest noted positions whose windows have all closed: the newest of them becomes closed_.
void StreamService::take_committable() {
  while (!checkpoints_.empty() && windows_closed_through(checkpoints_.front().newest_time_us)) {
    closed_ = std::move(checkpoints_.front().position);
    checkpoints_.pop_front();
  }
}

void StreamService::finish(std::span<const std::unique_ptr<PumpInput>> inputs, const RecordPump& pump,
                           bool input_failed, bool keep_open) {
  if (scale_) {
    finish_scale_out(inputs, pump, input_failed, keep_open);
    return;
  }
  // Evaluate the open windows and flush their alerts. Only then are Kafka offsets committed:
  // every record read so far has had its window evaluated and its alerts delivered (a run killed
  // before this point re-reads from the last commit). close() waits until the sinks delivered
  // everything (Kafka: acknowledged; alertmanager://: accepted, within its deadline) and throws
  // otherwise, so nothing is committed past a lost alert. Stopped with --state (keep_open), the
  // open windows go on in the next run: they are not evaluated, and only what is committable
  // (every window that can hold a record before the position has closed) is committed.
  if (!keep_open) ev_->engine.flush();
  for (AlertSink* sink : sinks_) sink->close();
  bool delivered = true;
  for (AlertSink* sink : sinks_) delivered = delivered && sink->all_delivered();
  if (input_failed) {
    // The input failed: nothing is committed, a restart re-reads it.
  } else if (keep_open) {
    take_committable();
    if (delivered && closed_ && checkpoint_source_) checkpoint_source_->commit(*closed_);
  } else if (delivered) {
    for (size_t i = 0; i < inputs.size(); ++i)
      if (pump.read_through(i)) inputs[i]->lines().commit();
  } else if (diagnostics_) {
    for (const auto& in : inputs)
      if (!in->lines().position().empty())
        fmt::print(diagnostics_, "logpipe: {}: offsets not committed past the dropped alerts: a restart re-reads them\n",
                   in->name());
  }
  if (metrics_) metrics_->publish(prometheus_text());
}

// --scale-out. The reader: at the end of input every open pane is sent and every partition read
// here said idle; once the brokers acknowledged them, the input is committed (a stop keeps the
// open panes to their next reader, and commits only what is committable). The merger: at the end
// of input it waits (a bounded time) until every partition is idle at the merge, then evaluates
// the open windows; otherwise (a stop, or readers still going) it leaves them to its successor.
// Its commit comes last: where a successor starts, with the alert state.
void StreamService::finish_scale_out(std::span<const std::unique_ptr<PumpInput>> inputs, const RecordPump& pump,
                                     bool input_failed, bool keep_open) {
  ScaleOut& so = *scale_;
  const bool end = !keep_open && !input_failed;
  // The reader. A failure here (the brokers refuse the partials, or do not confirm the commit)
  // is thrown after the merger's part: its sinks are closed and its state committed first.
  std::exception_ptr reader_failure;
  try {
    if (end) {
      so.builder.flush();
      // Every partition read here is idle now, also one assigned but never read.
      for (const SourceProgress& p : so.builder.progress()) so.builder.set_idle(p.source, true);
      if (so.input)
        for (const LineSource::PartitionState& p : so.input->partitions()) so.builder.set_idle(p.partition, true);
    }
    so.send(clock_.steady_us(), true);
    constexpr int kDrainMs = 5000;
    const bool drained = so.channel.drain(kDrainMs);
    if (!drained && diagnostics_)
      fmt::print(diagnostics_, "logpipe: {}: partial aggregates not acknowledged within {} s: offsets not committed "
                 "past them (their partitions' next reader rebuilds them)\n", so.channel.name(), kDrainMs / 1000);
    if (drained && end) {
      for (size_t i = 0; i < inputs.size(); ++i)
        if (pump.read_through(i)) inputs[i]->lines().commit();
    } else if (drained && !input_failed && so.input) {
      so.checkpoint(*so.input, false);  // a stop: only what is committable
    }
  } catch (const Error&) {
    reader_failure = std::current_exception();
  }
  // The merger.
  so.merge();  // what arrived since the last tick (and a take-over not seen yet)
  if (so.merging) {
    if (end) {
      // Wait for every partition's last panes (the readers end about together): polls of
      // 100 ms, for at most 30 s.
      for (int i = 0; i < 300 && !so.all_idle(); ++i) so.merge(100);
    }
    if (end && so.all_idle()) {
      ev_->engine.flush();
    } else if (diagnostics_) {
      fmt::print(diagnostics_, "logpipe: stream: open windows left to the next merger of {}{}\n", so.channel.name(),
                 end ? " (partitions still read elsewhere)" : "");
    }
  }
  for (AlertSink* sink : sinks_) sink->close();
  so.commit_merger();
  so.channel.drain(5000);
  if (metrics_) metrics_->publish(prometheus_text());
  if (reader_failure) std::rethrow_exception(reader_failure);
}

namespace {
constexpr std::string_view kServiceStateMagic = "logpipe-stream-state 1\n";
}

std::string StreamService::save_state() const {
  const EngineConfig& c = ev_->engine.config();
  std::string out(kServiceStateMagic);
  fmt::format_to(std::back_inserter(out), "window {} {} {}\n", c.window_us, c.hop_us ? c.hop_us : c.window_us,
                 ev_->engine.next_window());
  out += ev_->alerts.save_state();
  return out;
}

void StreamService::restore_state(std::string_view text) {
  if (!text.starts_with(kServiceStateMagic)) runtime_error("not a logpipe stream state (or another version)");
  text.remove_prefix(kServiceStateMagic.size());
  const size_t eol = text.find('\n');
  int64_t window = 0, hop = 0, next = 0;
  char tail = 0;
  const std::string line(text.substr(0, eol));
  if (eol == std::string_view::npos ||
      std::sscanf(line.c_str(), "window %" SCNd64 " %" SCNd64 " %" SCNd64 "%c", &window, &hop, &next, &tail) != 3)
    runtime_error("stream state: the window line is malformed");
  const EngineConfig& c = ev_->engine.config();
  const int64_t our_hop = c.hop_us ? c.hop_us : c.window_us;
  if (window != c.window_us || hop != our_hop)
    runtime_error("the state was saved with {} s windows every {} s, this run has {} s every {} s: use the same "
                  "--window and --hop, or another state file",
                  window / 1'000'000, hop / 1'000'000, c.window_us / 1'000'000, our_hop / 1'000'000);
  ev_->alerts.restore_state(text.substr(eol + 1));
  ev_->engine.resume(next);
}

// The Prometheus snapshot (docs/reference.md "Prometheus"), following the naming guide: one
// family per quantity, base units (ratios, seconds), counters ending in _total, and a bounded set
// of series. A keyed metric's window value comes as its largest value only (no label: the key of
// the largest changes every window, and a label per key would be a new series each time); the
// values of the top --metrics-top-keys keys, with a `key` label, only when asked for.
std::string StreamService::prometheus_text() const {
  const EngineStats& es = ev_->engine.stats();
  std::string out;
  auto header = [&](std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out), "# HELP {0} {1}\n# TYPE {0} {2}\n", name, help, type);
  };
  auto metric = [&](std::string_view name, std::string_view type, std::string_view help, auto value) {
    header(name, type, help);
    fmt::format_to(std::back_inserter(out), "{} {}\n", name, value);
  };
  metric("logpipe_lines_total", "counter", "Lines read.", lines());
  metric("logpipe_records_total", "counter", "Records counted in windows.", es.records);
  metric("logpipe_malformed_total", "counter", "Malformed lines skipped.", malformed());
  metric("logpipe_late_records_total", "counter", "Records dropped because their windows had closed.", es.late);
  metric("logpipe_windows_closed_total", "counter", "Windows evaluated.", es.windows_closed);
  metric("logpipe_evicted_keys_total", "counter", "Keys dropped by --max-keys.", es.evicted_keys);
  metric("logpipe_alerts_fired_total", "counter", "Alerts fired.", ev_->alerts.fired());
  metric("logpipe_alerts_resolved_total", "counter", "Alerts resolved.", ev_->alerts.resolved());
  metric("logpipe_incidents_total", "counter", "Incidents opened (alerts of one cause share one).",
         ev_->alerts.incidents());
  std::array<size_t, kMetricCount> firing{};
  ev_->alerts.for_each_firing([&](MetricId m, std::string_view) { ++firing[m]; });
  header("logpipe_alerts_firing", "gauge", "Alert episodes currently firing, per metric.");
  for (size_t m = 0; m < kMetricCount; ++m)
    fmt::format_to(std::back_inserter(out), "logpipe_alerts_firing{{metric=\"{}\"}} {}\n", kMetrics[m].name,
                   firing[m]);
  const bool have_time = es.max_time_us != kNoTime;
  metric("logpipe_newest_event_timestamp_seconds", "gauge", "Event time of the newest record read (0: none yet).",
         have_time ? static_cast<double>(es.max_time_us) / 1e6 : 0.0);
  metric("logpipe_last_window_end_timestamp_seconds", "gauge", "End of the last closed window (event time).",
         static_cast<double>(ev_->alerts.last_window_end_us()) / 1e6);
  metric("logpipe_input_lag_seconds", "gauge", "Wall clock minus the newest event time read (0: none yet).",
         have_time ? static_cast<double>(clock_.wall_us() - es.max_time_us) / 1e6 : 0.0);
  bool lag_header = false;
  for (const LineSource::PartitionState& p : partitions_) {
    if (p.lag < 0) continue;
    if (!lag_header) {
      header("logpipe_kafka_partition_lag_messages", "gauge",
             "Messages of an assigned Kafka partition not read yet (high watermark minus position).");
      lag_header = true;
    }
    fmt::format_to(std::back_inserter(out), "logpipe_kafka_partition_lag_messages{{input=\"{}\",partition=\"{}\"}} {}\n",
                   prometheus_label(partitions_input_), p.partition, p.lag);
  }
  for (size_t i = 0; i < kMetricCount; ++i) {
    const auto m = static_cast<MetricId>(i);
    const MetricDef& d = kMetrics[m];
    const std::string family = fmt::format("logpipe_window_{}", d.prometheus);
    const std::string_view unit = d.kind == MetricKind::kP99LatencyMs ? "seconds"
                                  : d.kind == MetricKind::kRequestRate ? "requests per second"
                                                                       : "ratio 0..1";
    if (d.dimension == Dimension::kGlobal) {
      metric(family, "gauge", fmt::format("Metric {} in the last closed window, {}.", d.name, unit),
             ev_->alerts.last_global()[m].value * d.prometheus_scale);
    } else {
      metric(family + "_max", "gauge",
             fmt::format("Metric {} in the last closed window, {}: the largest over the keys with enough requests "
                         "(0: none).", d.name, unit),
             ev_->alerts.last_max()[m].second.value * d.prometheus_scale);
      if (config_.metrics_top_keys) {
        header(family, "gauge",
               fmt::format("Metric {} in the last closed window, {}, of the top keys (--metrics-top-keys).", d.name,
                           unit));
        for (const auto& [key, v] : ev_->alerts.last_top(m))
          fmt::format_to(std::back_inserter(out), "{}{{key=\"{}\"}} {}\n", family, prometheus_label(key),
                         v.value * d.prometheus_scale);
      }
    }
    if (ev_->alerts.thresholds()[m])
      metric(family + "_threshold", "gauge", fmt::format("Fixed alert threshold of metric {}, {}.", d.name, unit),
             *ev_->alerts.thresholds()[m] * d.prometheus_scale);
  }
  return out;
}

}  // namespace logpipe

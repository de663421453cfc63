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

StreamService::StreamService(ServiceConfig config, std::vector<AlertSink*> sinks, WindowObserver* extra,
                             MetricsPublisher* metrics, Clock& clock, std::FILE* diagnostics)
    : config_(std::move(config)),
      sinks_(std::move(sinks)),
      alerts_(config_.rules, [this](const std::vector<Alert>& batch) { emit(batch); }),
      engine_(config_.engine, observers_),
      sources_(engine_, config_.partition_idle_us),
      metrics_(metrics),
      clock_(clock),
      diagnostics_(diagnostics) {
  observers_.add(alerts_);
  alerts_.keep_top_keys(config_.metrics_top_keys);
  if (extra) observers_.add(*extra);
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
  const SourceId source = pump_ ? sources_.source_of(pump_->origin()) : 0;
  return engine_.add(r, source) == WindowEngine::AddResult::kNoTime ? ParseError::kBadTime : ParseError::kNone;
}

void StreamService::on_input(PumpInput& input) {
  checkpoints_.clear();
  closed_.reset();
  checkpoint_source_ = nullptr;
  confirmed_commits_ = 0;
  sources_.on_input(input);
}

void StreamService::on_input_end(PumpInput&, bool) { sources_.on_input_end(); }

bool StreamService::on_tick(PumpInput& input, bool quiet) {
  const int64_t now = clock_.steady_us();
  sources_.on_tick(input, now);
  if (quiet) {
    if (lines() != lines_at_last_data_) {  // data arrived since the last quiet spell
      lines_at_last_data_ = lines();
      last_data_us_ = now;
      time_at_last_data_ = engine_.stats().max_time_us;
    }
    const int64_t quiet_us = now - last_data_us_;
    // Event time follows the wall clock while nothing arrives, so a window still closes (and an
    // episode still resolves) when the traffic stops.
    // Not while a partition still holds records: a pause between the fetches of a backlog
    // (another broker's answer pending) is not a quiet stream, and would close its windows early.
    if (time_at_last_data_ != kNoTime && sources_.caught_up()) engine_.advance_to(time_at_last_data_ + quiet_us);
    // Network sources apply --idle-exit themselves (Kafka counts from its partition assignment,
    // which takes seconds); files and pipes here.
    if (config_.idle_exit_us && !input.network() && quiet_us >= config_.idle_exit_us) return false;
  }
  if (metrics_ && now >= next_publish_us_) {  // the Kafka lag of the snapshot below
    partitions_ = input.lines().partitions();
    if (partitions_input_ != input.name()) partitions_input_ = input.name();
  }
  periodic(now);
  checkpoint(input.lines(), now);
  return true;
}

void StreamService::periodic(int64_t now) {
  if (config_.stats_every_us && now >= next_stats_us_ && diagnostics_) {
    const EngineStats& es = engine_.stats();
    const uint64_t bytes = pump_ ? pump_->stats().bytes : 0;
    double dt = std::max<double>(1, static_cast<double>(now - stats_time_us_)) / 1e6;
    double lag = es.max_time_us == kNoTime ? 0.0 : static_cast<double>(clock_.wall_us() - es.max_time_us) / 1e6;
    fmt::print(diagnostics_,
               "logpipe: stream: {} lines ({:.0f} lines/s, {:.1f} MB/s), {} malformed, {} late, lag {:.1f}s, "
               "{} panes, {} keys, {} windows, {} firing\n",
               lines(), static_cast<double>(lines() - stats_lines_) / dt,
               static_cast<double>(bytes - stats_bytes_) / dt / 1e6, malformed(), es.late, lag, es.open_panes,
               es.tracked_keys, es.windows_closed, alerts_.firing());
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
  const EngineConfig& c = engine_.config();
  const int64_t hop = c.hop_us ? c.hop_us : c.window_us;
  const int64_t last_start = floor_div(t, hop) * hop;
  return alerts_.last_window_end_us() >= last_start + c.window_us;
}

// At-least-once while running (Kafka): every --commit-interval the source's position is noted with
// the newest event time read so far. It becomes committable once every window that can hold a
// record read before it has closed (their alerts were then written), and is committed once every
// alert sink has delivered what it was given. A killed run re-reads at most what came after the
// last commit. Sources without offsets (files, sockets) skip all this. Ticks come only once every
// line read so far was handed to the engine (pump.h), so a position never covers unread records.
void StreamService::checkpoint(LineSource& source, int64_t now) {
  // Kafka confirms commits later (a commit never waits for a coordinator that may be gone).
  if (uint64_t confirmed = source.commits_confirmed(); confirmed > confirmed_commits_) {
    note_commits(source, confirmed - confirmed_commits_);
    confirmed_commits_ = confirmed;
  }
  if (now < next_checkpoint_us_) return;
  next_checkpoint_us_ = now + config_.commit_every_us;
  checkpoint_source_ = &source;
  LineSource::Position p = source.position();
  if (p.empty()) return;
  const int64_t newest = engine_.stats().max_time_us;
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
  // Evaluate the open windows and flush their alerts. Only then are Kafka offsets committed:
  // every record read so far has had its window evaluated and its alerts delivered (a run killed
  // before this point re-reads from the last commit). close() waits until the sinks delivered
  // everything (Kafka: acknowledged; alertmanager://: accepted, within its deadline) and throws
  // otherwise, so nothing is committed past a lost alert. Stopped with --state (keep_open), the
  // open windows go on in the next run: they are not evaluated, and only what is committable
  // (every window that can hold a record before the position has closed) is committed.
  if (!keep_open) engine_.flush();
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

namespace {
constexpr std::string_view kServiceStateMagic = "logpipe-stream-state 1\n";
}

std::string StreamService::save_state() const {
  const EngineConfig& c = engine_.config();
  std::string out(kServiceStateMagic);
  fmt::format_to(std::back_inserter(out), "window {} {} {}\n", c.window_us, c.hop_us ? c.hop_us : c.window_us,
                 engine_.next_window());
  out += alerts_.save_state();
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
  const EngineConfig& c = engine_.config();
  const int64_t our_hop = c.hop_us ? c.hop_us : c.window_us;
  if (window != c.window_us || hop != our_hop)
    runtime_error("the state was saved with {} s windows every {} s, this run has {} s every {} s: use the same "
                  "--window and --hop, or another state file",
                  window / 1'000'000, hop / 1'000'000, c.window_us / 1'000'000, our_hop / 1'000'000);
  alerts_.restore_state(text.substr(eol + 1));
  engine_.resume(next);
}

// The Prometheus snapshot (docs/reference.md "Prometheus"), following the naming guide: one
// family per quantity, base units (ratios, seconds), counters ending in _total, and a bounded set
// of series. A keyed metric's window value comes as its largest value only (no label: the key of
// the largest changes every window, and a label per key would be a new series each time); the
// values of the top --metrics-top-keys keys, with a `key` label, only when asked for.
std::string StreamService::prometheus_text() const {
  const EngineStats& es = engine_.stats();
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
  metric("logpipe_alerts_fired_total", "counter", "Alerts fired.", alerts_.fired());
  metric("logpipe_alerts_resolved_total", "counter", "Alerts resolved.", alerts_.resolved());
  metric("logpipe_incidents_total", "counter", "Incidents opened (alerts of one cause share one).",
         alerts_.incidents());
  std::array<size_t, kMetricCount> firing{};
  alerts_.for_each_firing([&](MetricId m, std::string_view) { ++firing[m]; });
  header("logpipe_alerts_firing", "gauge", "Alert episodes currently firing, per metric.");
  for (size_t m = 0; m < kMetricCount; ++m)
    fmt::format_to(std::back_inserter(out), "logpipe_alerts_firing{{metric=\"{}\"}} {}\n", kMetrics[m].name,
                   firing[m]);
  const bool have_time = es.max_time_us != kNoTime;
  metric("logpipe_newest_event_timestamp_seconds", "gauge", "Event time of the newest record read (0: none yet).",
         have_time ? static_cast<double>(es.max_time_us) / 1e6 : 0.0);
  metric("logpipe_last_window_end_timestamp_seconds", "gauge", "End of the last closed window (event time).",
         static_cast<double>(alerts_.last_window_end_us()) / 1e6);
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
             alerts_.last_global()[m].value * d.prometheus_scale);
    } else {
      metric(family + "_max", "gauge",
             fmt::format("Metric {} in the last closed window, {}: the largest over the keys with enough requests "
                         "(0: none).", d.name, unit),
             alerts_.last_max()[m].second.value * d.prometheus_scale);
      if (config_.metrics_top_keys) {
        header(family, "gauge",
               fmt::format("Metric {} in the last closed window, {}, of the top keys (--metrics-top-keys).", d.name,
                           unit));
        for (const auto& [key, v] : alerts_.last_top(m))
          fmt::format_to(std::back_inserter(out), "{}{{key=\"{}\"}} {}\n", family, prometheus_label(key),
                         v.value * d.prometheus_scale);
      }
    }
    if (alerts_.thresholds()[m])
      metric(family + "_threshold", "gauge", fmt::format("Fixed alert threshold of metric {}, {}.", d.name, unit),
             *alerts_.thresholds()[m] * d.prometheus_scale);
  }
  return out;
}

}  // namespace logpipe

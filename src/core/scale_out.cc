// Scale-out building blocks (include/logpipe/scale_out.h): per-source pane publishing, the
// partials' wire form, and the merge that keeps the first copy of each pane.
#include "logpipe/scale_out.h"

#include "logpipe/error.h"
#include "logpipe/record.h"
#include "logpipe/timeutil.h"

#include <algorithm>
#include <numeric>

namespace logpipe {

// ---------------------------------------------------------------------------------------------
// PartialBuilder

namespace {
// Hands each closed pane of one source's engine to the builder's publish function.
class PanePublisher final : public WindowObserver {
 public:
  PanePublisher(uint32_t source, int64_t pane_us, const PartialBuilder::Publish& publish)
      : source_(source), pane_us_(pane_us), publish_(publish) {}
  void on_window(const WindowView& w) override {
    if (w.totals().requests == 0) return;  // an empty pane (a gap in time) is not sent
    publish_(source_, floor_div(w.start_us(), pane_us_), w.aggregate());
  }

 private:
  uint32_t source_;
  int64_t pane_us_;
  const PartialBuilder::Publish& publish_;
};
}  // namespace

struct PartialBuilder::PerSource {
  PerSource(uint32_t s, const EngineConfig& c, int64_t pane_us, const Publish& publish)
      : publisher(s, pane_us, publish), engine(c, publisher) {}
  PanePublisher publisher;
  WindowEngine engine;
  bool idle = false;
  int64_t advanced = kNoTime;  // advance_by(): the quiet clock's time
};

PartialBuilder::PartialBuilder(const EngineConfig& config, Publish publish)
    : pane_config_(config), publish_(std::move(publish)) {
  const int64_t hop = config.hop_us ? config.hop_us : config.window_us;
  pane_us_ = std::gcd(config.window_us, hop);
  // One tumbling window per pane: it closes by the lateness rule, on this source's time alone.
  pane_config_.window_us = pane_config_.hop_us = pane_us_;
}

PartialBuilder::~PartialBuilder() = default;

PartialBuilder::PerSource& PartialBuilder::source(uint32_t s) {
  if (s >= sources_.size()) sources_.resize(s + 1);
  if (!sources_[s]) sources_[s] = std::make_unique<PerSource>(s, pane_config_, pane_us_, publish_);
  return *sources_[s];
}

WindowEngine::AddResult PartialBuilder::add(uint32_t s, const Record& record) {
  PerSource& p = source(s);
  p.idle = false;
  return p.engine.add(record);
}

void PartialBuilder::set_idle(uint32_t s, bool idle) {
  PerSource& p = source(s);
  if (idle && !p.idle) p.engine.flush();  // nothing more is expected: its panes are complete
  p.idle = idle;
}

void PartialBuilder::remove(uint32_t s) {
  if (s < sources_.size() && sources_[s]) {
    removed_late_ += sources_[s]->engine.stats().late;
    removed_records_ += sources_[s]->engine.stats().records;
    sources_[s].reset();
  }
}

void PartialBuilder::flush() {
  for (auto& p : sources_)
    if (p) p->engine.flush();
}

void PartialBuilder::advance_by(int64_t quiet_us) {
  for (auto& p : sources_) {
    // The pane engine's one source: its newest record (kNoTime before the first).
    const int64_t newest = p ? p->engine.data_frontier_us() : kNoTime;
    if (newest == kNoTime) continue;
    // Bounded like a record's time (no overflow for a bogus far-future record).
    const int64_t t = std::min(newest, WindowEngine::kMaxPartialTimeUs) + std::max<int64_t>(quiet_us, 0);
    if (t <= std::max(p->advanced, p->engine.frontier_us())) continue;
    p->advanced = t;
    p->engine.advance_to(t);
  }
}

bool PartialBuilder::published_through(uint32_t s, int64_t pane_index) const {
  if (s >= sources_.size() || !sources_[s] || sources_[s]->engine.stats().records == 0) return true;
  const int64_t next = sources_[s]->engine.next_window();
  return next != INT64_MIN && next > pane_index;
}

std::vector<SourceProgress> PartialBuilder::progress() const {
  std::vector<SourceProgress> out;
  for (uint32_t s = 0; s < sources_.size(); ++s)
    if (sources_[s])
      out.push_back({s, std::max(sources_[s]->engine.frontier_us(), sources_[s]->advanced), sources_[s]->idle});
  return out;
}

uint64_t PartialBuilder::late() const noexcept {
  uint64_t n = removed_late_;
  for (const auto& p : sources_)
    if (p) n += p->engine.stats().late;
  return n;
}

uint64_t PartialBuilder::records() const noexcept {
  uint64_t n = removed_records_;
  for (const auto& p : sources_)
    if (p) n += p->engine.stats().records;
  return n;
}

// ---------------------------------------------------------------------------------------------
// Wire form: "LPS" + version byte, then varints (signed ones zigzag-encoded):
//   fingerprint, sources_total, n_sections, n_sections x {source, pane_index, length, pane bytes
//   (PaneAggregate::serialize)}, n_progress, n_progress x {source, newest_us, idle byte}.

namespace {
constexpr std::string_view kMessageMagic = "LPS";
constexpr char kMessageVersion = 1;
constexpr uint64_t kMaxCount = 1u << 20;  // sections or progress entries: refuses absurd counts
// Times far beyond any log (year ~146,000) are refused, so that no arithmetic on them can
// overflow; so are pane indices beyond 2^40 (WindowEngine::add_partial bounds them again by its
// pane length: 2^40 panes of 60 s would overflow).
constexpr int64_t kMaxTimeUs = WindowEngine::kMaxPartialTimeUs;
constexpr int64_t kMaxPaneIndex = int64_t{1} << 40;

uint64_t zigzag(int64_t v) noexcept {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t unzigzag(uint64_t v) noexcept {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}
}  // namespace

uint64_t partial_config_fingerprint(const EngineConfig& c) noexcept {
  const int64_t hop = c.hop_us ? c.hop_us : c.window_us;
  std::string bytes;
  for (uint64_t v : {static_cast<uint64_t>(c.window_us), static_cast<uint64_t>(hop),
                     static_cast<uint64_t>(c.lateness_us), static_cast<uint64_t>(c.max_keys),
                     static_cast<uint64_t>(c.max_latency_keys)})
    wire::put_varint(bytes, v);
  return hash_bytes(bytes);
}

void encode_partial_message(const PartialMessage& m, std::string& out) {
  using wire::put_varint;
  out += kMessageMagic;
  out += kMessageVersion;
  put_varint(out, m.config_fingerprint);
  put_varint(out, m.sources_total);
  put_varint(out, m.sections.size());
  std::string pane;
  for (const auto& s : m.sections) {
    put_varint(out, s.source);
    put_varint(out, zigzag(s.pane_index));
    pane.clear();
    s.pane.serialize(pane);
    put_varint(out, pane.size());
    out += pane;
  }
  put_varint(out, m.progress.size());
  for (const auto& p : m.progress) {
    put_varint(out, p.source);
    put_varint(out, zigzag(p.newest_us));
    out += static_cast<char>(p.idle ? 1 : 0);
  }
}

bool decode_partial_message(std::string_view in, PartialMessage& m) {
  using wire::get_varint;
  m.sections.clear();
  m.progress.clear();
  if (in.size() < kMessageMagic.size() + 1 || in.substr(0, kMessageMagic.size()) != kMessageMagic ||
      in[kMessageMagic.size()] != kMessageVersion)
    return false;
  in.remove_prefix(kMessageMagic.size() + 1);
  uint64_t v = 0, n = 0;
  if (!get_varint(in, m.config_fingerprint) || !get_varint(in, v) || v > UINT32_MAX) return false;
  m.sources_total = static_cast<uint32_t>(v);
  // Each entry takes bytes of the input: a count larger than what is left is refused before any
  // allocation, and entries are added as they are read (a short message cannot make a million).
  if (!get_varint(in, n) || n > kMaxCount || n > in.size()) return false;
  for (uint64_t i = 0; i < n; ++i) {
    auto& s = m.sections.emplace_back();
    uint64_t source = 0, pane = 0, length = 0;
    if (!get_varint(in, source) || source >= m.sources_total || !get_varint(in, pane) ||
        !get_varint(in, length) || length > in.size())
      return false;
    s.source = static_cast<uint32_t>(source);
    s.pane_index = unzigzag(pane);
    if (s.pane_index > kMaxPaneIndex || s.pane_index < -kMaxPaneIndex) return false;
    if (!s.pane.deserialize(in.substr(0, length))) return false;
    in.remove_prefix(length);
  }
  if (!get_varint(in, n) || n > kMaxCount || n > in.size()) return false;
  for (uint64_t i = 0; i < n; ++i) {
    auto& p = m.progress.emplace_back();
    uint64_t source = 0, newest = 0;
    if (!get_varint(in, source) || source >= m.sources_total || !get_varint(in, newest) || in.empty() ||
        static_cast<unsigned char>(in.front()) > 1)
      return false;
    p.source = static_cast<uint32_t>(source);
    p.newest_us = unzigzag(newest);
    if (p.newest_us != kNoTime && (p.newest_us > kMaxTimeUs || p.newest_us < -kMaxTimeUs)) return false;
    p.idle = in.front() == 1;
    in.remove_prefix(1);
  }
  return in.empty();
}

// ---------------------------------------------------------------------------------------------
// PartialMerger

PartialMerger::PartialMerger(WindowEngine& engine, uint64_t config_fingerprint, uint32_t sources_total)
    : engine_(engine), fingerprint_(config_fingerprint), sources_total_(sources_total) {
  while (engine_.stats().sources < sources_total_) engine_.add_source();
}

void PartialMerger::apply(const PartialMessage& m, std::string_view from, int64_t offset) {
  if (m.config_fingerprint != fingerprint_)
    runtime_error("{}: partial aggregates made with another window, hop, lateness or key cap "
                  "(every instance of a group must run with the same settings)", from);
  if (m.sources_total != sources_total_)
    runtime_error("{}: partial aggregates of {} partitions, this instance reads {}", from,
                  m.sources_total, sources_total_);
  const int64_t next_window = engine_.next_window();
  const int64_t hop_us = engine_.config().hop_us;
  for (const auto& s : m.sections) {
    if (accepted_.count({s.pane_index, s.source})) {
      ++duplicates_;
      continue;
    }
    // A pane whose windows all closed, of a source with a later pane accepted: a copy that a new
    // reader published again after a fail-over (its records were counted with the first copy).
    // Only a pane newer than any of its source's is new data that came too late.
    const int64_t bound = WindowEngine::kMaxPartialTimeUs / engine_.pane_us();  // no overflow below
    if (s.source < max_accepted_.size() && s.pane_index <= max_accepted_[s.source] && s.pane_index > -bound &&
        next_window != INT64_MIN && floor_div(s.pane_index * engine_.pane_us(), hop_us) < next_window) {
      ++duplicates_;
      continue;
    }
    if (engine_.add_partial(s.source, s.pane_index, s.pane) == WindowEngine::AddResult::kLate) {
      ++late_sections_;
      continue;
    }
    accepted_.insert({s.pane_index, s.source});
    if (s.source >= max_accepted_.size()) max_accepted_.resize(s.source + 1, INT64_MIN);
    max_accepted_[s.source] = std::max(max_accepted_[s.source], s.pane_index);
    if (offset >= 0) pane_offsets_.try_emplace(s.pane_index, offset);  // the oldest copy accepted
  }
  // An idle source does not stop holding the watermark back, as it does in one process: here its
  // reader may have died, and records may wait for it at the broker. Its reader's message says it
  // was caught up while the log had reached log_time_: it holds the watermark there, and each of
  // its reader's messages (a heartbeat a second) moves it on. A dead reader's partition holds
  // until its next reader says more. The same log gives the same decisions (no clock here).
  for (const auto& p : m.progress)
    if (p.newest_us != kNoTime) log_time_ = std::max(log_time_, p.newest_us);
  for (const auto& p : m.progress) {
    if (offset >= 0) {
      if (p.source >= progress_offsets_.size()) progress_offsets_.resize(p.source + 1, -1);
      progress_offsets_[p.source] = offset;
    }
    engine_.set_progress(p.source, p.newest_us);
    if (p.idle && log_time_ != kNoTime) engine_.set_progress(p.source, log_time_);
    if (p.source >= idle_.size()) idle_.resize(p.source + 1, false);
    idle_[p.source] = p.idle;
  }
  // A pane is dead once every window holding it has closed: no copy of it can count any more.
  const int64_t next = engine_.next_window();
  if (next == INT64_MIN) return;
  const int64_t pane_us = engine_.pane_us(), hop = engine_.config().hop_us;  // set by the engine
  while (!accepted_.empty() && floor_div(accepted_.begin()->first * pane_us, hop) < next)
    accepted_.erase(accepted_.begin());
  while (!pane_offsets_.empty() && floor_div(pane_offsets_.begin()->first * pane_us, hop) < next)
    pane_offsets_.erase(pane_offsets_.begin());
}

bool PartialMerger::all_idle() const noexcept {
  if (idle_.size() < sources_total_) return false;
  for (uint32_t i = 0; i < sources_total_; ++i)
    if (!idle_[i]) return false;
  return true;
}

int64_t PartialMerger::restart_offset(int64_t next_offset) const {
  int64_t at = next_offset;
  for (const auto& [pane, offset] : pane_offsets_) at = std::min(at, offset);
  for (int64_t offset : progress_offsets_)
    if (offset >= 0) at = std::min(at, offset);
  return at;
}

}  // namespace logpipe

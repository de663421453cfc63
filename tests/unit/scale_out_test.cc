// Scale-out (scale_out.h): panes published per source by several readers and merged by one
// instance give the windows of one process reading every source, whatever the interleaving of
// the readers' messages; a second copy of a pane (a fail-over re-read) counts once.
#include "logpipe/scale_out.h"

#include "logpipe/error.h"
#include "logpipe/timeutil.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

using namespace logpipe;

namespace {

constexpr int64_t kS = 1'000'000;

struct Line {
  uint32_t source;
  Record record;
  std::string url, ip;
};

// Four sources over 12 minutes, read in bursts of one source at a time (as Kafka hands out a
// partition's backlog), each source's times out of order by up to 3 s (under the 5 s lateness).
std::vector<Line> traffic(uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::vector<Line>> per(4);
  const int statuses[] = {200, 200, 200, 200, 404, 500, 503};
  for (uint32_t s = 0; s < 4; ++s) {
    int64_t t = 1'750'000'000 * kS;
    for (int i = 0; i < 900 + 150 * static_cast<int>(s); ++i) {
      t += static_cast<int64_t>(rng() % 1'000'000);
      Line l;
      l.source = s;
      l.url = "/p" + std::to_string(rng() % 40);
      l.ip = "10.0." + std::to_string(s) + "." + std::to_string(rng() % 30);
      l.record.time_us = t - static_cast<int64_t>(rng() % 3'000'000);
      l.record.status = statuses[rng() % 7];
      l.record.duration_us = static_cast<int64_t>(rng() % 800'000);
      per[s].push_back(std::move(l));
    }
  }
  std::vector<Line> out;
  std::vector<size_t> at(4, 0);
  for (bool more = true; more;) {
    more = false;
    for (uint32_t s = 0; s < 4; ++s) {
      size_t burst = 50 + rng() % 200;
      for (; burst && at[s] < per[s].size(); --burst) out.push_back(std::move(per[s][at[s]++]));
      more = more || at[s] < per[s].size();
    }
  }
  for (auto& l : out) {
    l.record.url = l.url;
    l.record.ip = l.ip;
  }
  return out;
}

// What a window says, in a comparable form.
struct Seen {
  int64_t start;
  KeyStats totals;
  std::map<std::string, KeyStats> urls;
  std::map<std::string, uint64_t> ips;
  double p99_p1_ms;
  bool operator==(const Seen&) const = default;
};
struct Recorder final : WindowObserver {
  std::vector<Seen> windows;
  void on_window(const WindowView& w) override {
    Seen s{w.start_us(), w.totals(), {}, {}, 0};
    const KeyTable& urls = w.table(Dimension::kUrl);
    for (const auto& e : urls.entries()) s.urls[std::string(urls.key(e))] = e.stats;
    const KeyTable& ips = w.table(Dimension::kIp);
    for (const auto& e : ips.entries()) s.ips[std::string(ips.key(e))] = e.stats.requests;
    w.for_each_key(kUrlP99LatencyMs, [&](std::string_view key, const MetricValue& v) {
      if (key == "/p1") s.p99_p1_ms = v.value;
    });
    windows.push_back(std::move(s));
  }
};

EngineConfig sliding() {
  EngineConfig c;
  c.window_us = 120 * kS;
  c.hop_us = 60 * kS;
  return c;
}

// One reader: a builder whose published sections and progress go out as a message every
// `every` records, into `log` (the partials topic, in order of append).
struct Reader {
  Reader(const EngineConfig& c, std::vector<std::string>& log, size_t every, uint32_t sources_total = 4)
      : builder(c, [this](uint32_t s, int64_t k, const PaneAggregate& p) {
          PartialMessage::Section sec;
          sec.source = s;
          sec.pane_index = k;
          sec.pane.merge(p);
          pending.sections.push_back(std::move(sec));
        }),
        log_(log), every_(every), sources_total_(sources_total), fingerprint_(partial_config_fingerprint(c)) {}
  void add(const Line& l) {
    CHECK(builder.add(l.source, l.record) == WindowEngine::AddResult::kAdded);
    if (++count_ % every_ == 0) send();
  }
  void send() {
    pending.config_fingerprint = fingerprint_;
    pending.sources_total = sources_total_;
    pending.progress = builder.progress();
    std::string bytes;
    encode_partial_message(pending, bytes);
    log_.push_back(std::move(bytes));
    pending.sections.clear();
  }
  PartialBuilder builder;
  PartialMessage pending;

 private:
  std::vector<std::string>& log_;
  size_t every_, count_ = 0;
  uint32_t sources_total_;
  uint64_t fingerprint_;
};

// The merging instance reads the log in order. Sections that were copies: `duplicates` (the pane
// was still open) or `late` (every window holding it had closed).
std::vector<Seen> merge_log(const EngineConfig& c, const std::vector<std::string>& log, uint64_t* duplicates = nullptr,
                            uint64_t* late = nullptr) {
  Recorder rec;
  WindowEngine engine(c, rec);
  PartialMerger merger(engine, partial_config_fingerprint(c), 4);
  PartialMessage m;
  for (const auto& bytes : log) {
    REQUIRE(decode_partial_message(bytes, m));
    merger.apply(m, "partials");
  }
  engine.flush();
  if (duplicates) *duplicates = merger.duplicates();
  if (late) *late = merger.late_sections();
  return rec.windows;
}

std::vector<Seen> one_process(const EngineConfig& c, const std::vector<Line>& lines) {
  Recorder rec;
  WindowEngine engine(c, rec);
  for (int i = 1; i < 4; ++i) engine.add_source();
  for (const auto& l : lines) CHECK(engine.add(l.record, l.source) == WindowEngine::AddResult::kAdded);
  engine.flush();
  return rec.windows;
}

}  // namespace

TEST_CASE("scale-out: two readers and a merger give the windows of one process over every source") {
  for (uint32_t seed : {1u, 2u, 3u}) {
    CAPTURE(seed);
    const EngineConfig c = sliding();
    const auto lines = traffic(seed);
    const auto truth = one_process(c, lines);
    REQUIRE(truth.size() >= 10);
    // Reader A reads sources 0 and 1, reader B 2 and 3; their messages interleave in the log in
    // the order they are sent.
    std::vector<std::string> log;
    Reader a(c, log, 37), b(c, log, 53);
    for (const auto& l : lines) (l.source < 2 ? a : b).add(l);
    a.builder.flush();
    b.builder.flush();
    a.send();
    b.send();
    uint64_t duplicates = 1, late = 1;
    const auto merged = merge_log(c, log, &duplicates, &late);
    CHECK(duplicates == 0);
    CHECK(late == 0);
    CHECK(merged.size() == truth.size());
    CHECK(merged == truth);
    CHECK(a.builder.late() + b.builder.late() == 0);
    CHECK(a.builder.records() + b.builder.records() == lines.size());
  }
}

TEST_CASE("scale-out: a source re-read by another reader after a fail-over counts once") {
  const EngineConfig c = sliding();
  const auto lines = traffic(7);
  const auto truth = one_process(c, lines);
  std::vector<std::string> log;
  Reader a(c, log, 41), b(c, log, 41);
  // Reader A reads everything; then reader B (the new owner of source 1) re-reads source 1 from
  // its start, as after a restart at an old commit: its panes are second copies.
  for (const auto& l : lines) a.add(l);
  a.builder.flush();
  a.send();
  const size_t a_messages = log.size();
  for (const auto& l : lines)
    if (l.source == 1) b.add(l);
  b.builder.flush();
  b.send();
  size_t b_sections = 0;
  PartialMessage m;
  for (size_t i = a_messages; i < log.size(); ++i) {
    REQUIRE(decode_partial_message(log[i], m));
    b_sections += m.sections.size();
  }
  REQUIRE(b_sections >= 10);
  uint64_t duplicates = 0, late = 0;
  const auto merged = merge_log(c, log, &duplicates, &late);
  CHECK(merged == truth);
  // After A's last progress most of source 1's windows had closed, the last ones were still
  // open: every copy of B is recognised as one (a pane no newer than source 1's newest accepted),
  // none counts as late traffic.
  CHECK(duplicates == b_sections);
  CHECK(late == 0);
  // The same with B's copies arriving while A's windows are still open: the merger has to
  // recognise them as copies, not as more traffic.
  std::vector<std::string> log2;
  Reader a2(c, log2, 41), b2(c, log2, 41);
  for (const auto& l : lines) {
    a2.add(l);
    if (l.source == 1) b2.add(l);
  }
  a2.builder.flush();
  b2.builder.flush();
  a2.send();
  b2.send();
  const auto merged2 = merge_log(c, log2, &duplicates);
  CHECK(merged2 == truth);
  CHECK(duplicates > 0);
}

TEST_CASE("scale-out: a merger waits for every source; an idle one stops holding it back") {
  EngineConfig c;  // 60 s tumbling windows
  Recorder rec;
  WindowEngine engine(c, rec);
  PartialMerger merger(engine, partial_config_fingerprint(c), 2);
  std::vector<std::string> log;
  Reader a(c, log, 1000, 2);
  const int64_t t0 = 1'750'000'020 * kS - (1'750'000'020 * kS) % (60 * kS);  // on a minute
  std::vector<Line> lines(200);
  for (int i = 0; i < 200; ++i) {
    lines[i].source = 0;
    lines[i].url = "/a";
    lines[i].record.url = lines[i].url;
    lines[i].record.time_us = t0 + i * kS;
    lines[i].record.status = 200;
  }
  for (const auto& l : lines) a.add(l);
  a.send();
  PartialMessage m;
  REQUIRE(decode_partial_message(log.back(), m));
  merger.apply(m, "partials");
  CHECK(rec.windows.empty());  // source 1 has said nothing: nothing can close
  // Source 1's reader says it is idle (caught up, quiet): source 0 alone leads.
  PartialMessage idle;
  idle.config_fingerprint = partial_config_fingerprint(c);
  idle.sources_total = 2;
  idle.progress = {{1, kNoTime, true}};
  merger.apply(idle, "partials");
  // Source 0 read 0..199 s: minutes 0-2 end (plus the 5 s lateness) before 199 s, minute 3 is
  // open (and its pane not published yet).
  REQUIRE(rec.windows.size() == 3);
  for (const auto& w : rec.windows) CHECK(w.totals.requests == 60);
  // Then source 1 comes back with a record of minute 1, closed meanwhile: new traffic that came
  // too late (one process would drop it too), not a copy.
  Line back = lines[70];
  back.source = 1;
  back.record.url = back.url;
  Reader b(c, log, 1000, 2);
  b.add(back);
  b.builder.flush();
  b.send();
  REQUIRE(decode_partial_message(log.back(), m));
  REQUIRE(m.sections.size() == 1);
  merger.apply(m, "partials");
  CHECK(merger.late_sections() == 1);
  CHECK(merger.duplicates() == 0);
  CHECK(engine.stats().late == 1);
}

TEST_CASE("scale-out: the wire form round-trips and refuses what it cannot read") {
  const EngineConfig c = sliding();
  std::vector<std::string> log;
  Reader a(c, log, 100000);
  for (const auto& l : traffic(5))
    if (l.source < 2) a.add(l);
  a.builder.flush();
  a.send();
  const std::string wire = log.back();
  PartialMessage m;
  REQUIRE(decode_partial_message(wire, m));
  CHECK(m.sources_total == 4);
  CHECK(m.sections.size() >= 10);
  CHECK(m.progress.size() == 2);
  std::string again;
  encode_partial_message(m, again);
  CHECK(again == wire);
  for (size_t n = 0; n < wire.size(); n += 97) CHECK_FALSE(decode_partial_message(std::string_view(wire).substr(0, n), m));
  CHECK_FALSE(decode_partial_message(wire + "x", m));
  // A count larger than the bytes left is refused before anything is allocated for it.
  CHECK_FALSE(decode_partial_message(std::string("LPS\x01\x00\x02\x80\x80\x3f", 9), m));
  CHECK(m.sections.empty());
  std::string other = wire;
  other[3] = 2;  // another version
  CHECK_FALSE(decode_partial_message(other, m));
  // Another configuration or partition count is refused by the merger, naming the sender.
  Recorder rec;
  EngineConfig tumbling;
  WindowEngine engine(tumbling, rec);
  PartialMerger merger(engine, partial_config_fingerprint(tumbling), 4);
  REQUIRE(decode_partial_message(wire, m));
  CHECK_THROWS_WITH_AS(merger.apply(m, "kafka://b/partials"), doctest::Contains("kafka://b/partials"), Error);
  PartialMerger merger3(engine, partial_config_fingerprint(c), 3);
  CHECK_THROWS_AS(merger3.apply(m, "partials"), Error);
  // A pane index beyond any time is late, before any arithmetic on it (2^40 panes of 60 s would
  // overflow a 64-bit microsecond count).
  PaneAggregate one;
  one.reset(0, SIZE_MAX);
  Record r;
  r.time_us = 0;
  r.status = 200;
  Classifier classify{ErrorRules{}};
  one.add(classify.outcome(r), RecordKeys(r), -1);
  CHECK(engine.add_partial(0, int64_t{1} << 40, one) == WindowEngine::AddResult::kLate);
  CHECK(engine.add_partial(0, -(int64_t{1} << 40), one) == WindowEngine::AddResult::kLate);
}

TEST_CASE("scale-out: a successor starts where it learns every source's progress (a dead reader's too)") {
  // Found by tests/cli/kafka_scale_out_kill.sh: the merger committed an offset after the last
  // message of a reader that then died; its successor never learnt where that reader's partition
  // stood, the watermark moved on without it, and its next reader's records came too late.
  EngineConfig c;
  Recorder rec;
  WindowEngine engine(c, rec);
  PartialMerger merger(engine, partial_config_fingerprint(c), 2);
  PartialMessage m;
  m.config_fingerprint = partial_config_fingerprint(c);
  m.sources_total = 2;
  const int64_t t0 = 1'750'000'020 * kS;
  m.progress = {{0, t0, false}};
  merger.apply(m, "partials", 5);  // source 0's last word: its reader dies after it
  m.progress = {{1, t0 + 30 * kS, false}};
  merger.apply(m, "partials", 6);
  CHECK(merger.restart_offset(7) == 5);
  m.progress = {{0, t0 + 31 * kS, false}, {1, t0 + 32 * kS, false}};  // a new reader of source 0
  merger.apply(m, "partials", 9);
  CHECK(merger.restart_offset(10) == 9);
  PartialMerger fresh(engine, partial_config_fingerprint(c), 2);
  CHECK(fresh.restart_offset(3) == 3);  // nothing applied: the next offset
}

TEST_CASE("scale-out: the quiet clock moves each source from its own newest record") {
  // Source 0 has read to minute 10; source 1, whose next fetch is still under way, to minute 4
  // (it looks caught up: the broker's high watermark is known as of its last fetch). A quiet
  // spell of 3 s moves each by 3 s: source 1's records of minute 5, delivered next, are not late
  // (moving both to source 0's time made them late at the reader, and lost at the merger).
  EngineConfig c;  // 60 s tumbling panes, 5 s lateness
  std::vector<std::string> log;
  Reader r(c, log, 1000000, 2);
  const int64_t t0 = 1'750'000'020 * kS - (1'750'000'020 * kS) % (60 * kS);
  auto line = [&](uint32_t source, int64_t t) {
    Line l;
    l.source = source;
    l.url = "/a";
    l.record.url = l.url;
    l.record.time_us = t;
    l.record.status = 200;
    return l;
  };
  for (int64_t s = 0; s < 600; s += 2) r.add(line(0, t0 + s * kS));
  for (int64_t s = 0; s < 299; s += 2) r.add(line(1, t0 + s * kS));
  r.builder.advance_by(3 * kS);
  const auto progress = r.builder.progress();
  REQUIRE(progress.size() == 2);
  CHECK(progress[0].newest_us == t0 + 601 * kS);
  CHECK(progress[1].newest_us == t0 + 301 * kS);
  for (int64_t s = 300; s < 360; s += 2) r.add(line(1, t0 + s * kS));  // CHECKs kAdded
  CHECK(r.builder.late() == 0);
  // A quiet spell longer than a pane plus the lateness does close source 1's minute 5.
  r.builder.advance_by(70 * kS);
  CHECK(r.builder.published_through(1, floor_div(t0 + 300 * kS, r.builder.pane_us())));
  CHECK(r.builder.add(1, line(1, t0 + 330 * kS).record) == WindowEngine::AddResult::kLate);
  CHECK(r.builder.late() == 1);
}

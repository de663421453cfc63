// The mergeable building blocks of every aggregation (aggregate.h): histograms, key tables, pane
// aggregates, their merge (exact for disjoint inputs) and their wire form.
#include "logpipe/aggregate.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

using namespace logpipe;

namespace {

// A deterministic stream of classified records over a few hundred keys.
struct Sample {
  Record record;
  std::string url, user, ip;
};

std::vector<Sample> samples(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Sample> out(n);
  const int statuses[] = {200, 200, 200, 304, 404, 500, 503};
  for (size_t i = 0; i < n; ++i) {
    Sample& s = out[i];
    s.url = "/p" + std::to_string(rng() % 200);
    s.user = rng() % 3 ? "u" + std::to_string(rng() % 50) : "";
    s.ip = "10.0." + std::to_string(rng() % 4) + "." + std::to_string(rng() % 250);
    s.record.status = statuses[rng() % 7];
    s.record.duration_us = rng() % 5 ? static_cast<int64_t>(rng() % 2'000'000) : -1;
  }
  for (auto& s : out) {  // views only once the strings stopped moving
    s.record.url = s.url;
    s.record.user = s.user;
    s.record.ip = s.ip;
  }
  return out;
}

void add_all(PaneAggregate& p, const std::vector<Sample>& v, size_t from, size_t to) {
  Classifier c;
  for (size_t i = from; i < to; ++i) {
    const Record& r = v[i].record;
    p.add(c.outcome(r), RecordKeys(r), r.duration_us);
  }
}

// Everything an observer can read of an aggregate, in a canonical (sorted) text.
std::string dump(const PaneAggregate& p) {
  std::vector<std::string> rows;
  auto stats = [](const KeyStats& s) {
    return std::to_string(s.requests) + "/" + std::to_string(s.with_status) + "/" + std::to_string(s.errors) + "/" +
           std::to_string(s.server_errors);
  };
  for (size_t d = 0; d < kKeyedDimensions; ++d)
    for (const auto& e : p.keys[d].entries()) {
      std::string row = std::to_string(d) + " " + std::string(p.keys[d].key(e)) + " " + stats(e.stats);
      if (const LatencyHistogram* h = p.latency(e))
        row += " p50=" + std::to_string(h->quantile_us(0.5)) + " p99=" + std::to_string(h->quantile_us(0.99)) +
               " n=" + std::to_string(h->count());
      rows.push_back(row);
    }
  std::sort(rows.begin(), rows.end());
  std::string out = "totals " + stats(p.totals) + "\n";
  for (const auto& r : rows) out += r + "\n";
  return out;
}

}  // namespace

TEST_CASE("latency histogram: quantiles stay within one bucket of the exact value") {
  LatencyHistogram h;
  for (int v = 1; v <= 100000; ++v) h.add(v);
  for (double q : {0.5, 0.9, 0.99}) {
    double exact = q * 100000;
    CHECK(h.quantile_us(q) == doctest::Approx(exact).epsilon(0.0625));
  }
  LatencyHistogram empty;
  CHECK(empty.quantile_us(0.99) == 0);
}

TEST_CASE("latency histogram: a quantile is never outside the samples") {
  // Every request took exactly 2 s: the p99 is 2000 ms, not the midpoint of its bucket
  // (2031.6 ms), which would fire a threshold of 2000 that no request crossed.
  LatencyHistogram same;
  for (int i = 0; i < 50; ++i) same.add(2'000'000);
  CHECK(same.quantile_us(0.99) == 2'000'000);
  CHECK(same.quantile_us(0.5) == 2'000'000);
  // 1..100 ms: the p99 (99 ms, nearest rank) falls in a bucket whose midpoint (102.4 ms) is above
  // the slowest request; it is reported as that request, 100 ms.
  LatencyHistogram ramp;
  for (int ms = 1; ms <= 100; ++ms) ramp.add(ms * 1000);
  CHECK(ramp.quantile_us(0.99) == 100'000);
  CHECK(ramp.quantile_us(0.01) >= 1000);
  // merge() carries the extremes; clear() forgets them.
  LatencyHistogram merged;
  merged.merge(same);
  merged.merge(ramp);
  CHECK(merged.quantile_us(1.0) == 2'000'000);
  merged.clear();
  merged.add(7);
  CHECK(merged.quantile_us(0.99) == 7);
}

TEST_CASE("key table: the cap keeps the heavy keys with exact counts and never over-counts") {
  KeyTable t(64);
  // One heavy key among a flood of distinct light ones.
  uint64_t heavy = 0;
  for (int i = 0; i < 10000; ++i) {
    std::string k = "light-" + std::to_string(i);
    ++t.stats(t.upsert(k, std::hash<std::string>{}(k))).requests;
    ++t.stats(t.upsert("heavy", std::hash<std::string>{}("heavy"))).requests;
    ++heavy;
  }
  CHECK(t.size() <= 64);
  uint32_t id = t.find("heavy", std::hash<std::string>{}("heavy"));
  REQUIRE(id != KeyTable::kNone);
  CHECK(t.stats(id).requests == heavy);  // never evicted: exact
  CHECK(t.evicted_keys() > 0);
  CHECK(t.evicted_floor() == 1);
  for (const auto& x : t.entries())
    if (t.key(x) != "heavy") CHECK(x.stats.requests == 1);
}

TEST_CASE("key table: dense ids, hints, top n by requests with ties by key") {
  KeyTable t;
  uint32_t b = t.upsert("b"), a = t.upsert("a"), c = t.upsert("c");
  CHECK(b == 0);
  CHECK(a == 1);
  CHECK(c == 2);
  CHECK(t.upsert("a") == a);
  CHECK(t.upsert_hinted("a", a) == a);
  CHECK(t.upsert_hinted("c", a) == c);  // a wrong hint costs a lookup, nothing else
  CHECK(t.upsert_hinted("d", 999) == 3);
  t.stats(a).requests = 5;
  t.stats(b).requests = 7;
  t.stats(c).requests = 5;
  CHECK(t.top(2) == std::vector<uint32_t>{b, a});  // a before c: same count, smaller key
  CHECK(t.top(0) == std::vector<uint32_t>{b, a, c, 3});
  CHECK(t.find("zz") == KeyTable::kNone);
}

TEST_CASE("pane aggregate: any split of the input merges into the aggregate of the whole") {
  const auto v = samples(3000, 7);
  PaneAggregate whole;
  whole.reset(0, SIZE_MAX);
  add_all(whole, v, 0, v.size());
  const std::string expected = dump(whole);
  CHECK(whole.totals.requests == 3000);
  for (size_t cut : {size_t{0}, size_t{1}, size_t{999}, size_t{2999}, size_t{3000}}) {
    PaneAggregate first, second;
    first.reset(0, SIZE_MAX);
    second.reset(0, SIZE_MAX);
    add_all(first, v, 0, cut);
    add_all(second, v, cut, v.size());
    first.merge(second);
    CAPTURE(cut);
    CHECK(dump(first) == expected);
  }
}

TEST_CASE("pane aggregate: the wire form reads back to the same aggregate, and merges as it") {
  const auto v = samples(2000, 11);
  PaneAggregate a, b;
  a.reset(0, SIZE_MAX);
  b.reset(0, SIZE_MAX);
  add_all(a, v, 0, 1200);
  add_all(b, v, 1200, v.size());
  std::string wire;
  b.serialize(wire);
  PaneAggregate read;
  REQUIRE(read.deserialize(wire));
  CHECK(dump(read) == dump(b));
  PaneAggregate local = a;
  local.merge(b);
  a.merge(read);
  CHECK(dump(a) == dump(local));
  // An empty aggregate has a wire form too.
  PaneAggregate empty, back;
  empty.reset(0, SIZE_MAX);
  std::string none;
  empty.serialize(none);
  REQUIRE(back.deserialize(none));
  CHECK(back.totals.requests == 0);
}

TEST_CASE("pane aggregate: malformed wire data is refused, never misread") {
  const auto v = samples(300, 3);
  PaneAggregate p;
  p.reset(0, SIZE_MAX);
  add_all(p, v, 0, v.size());
  std::string wire;
  p.serialize(wire);
  PaneAggregate out;
  // Every strict prefix is incomplete; a trailing byte is garbage; another version is refused.
  for (size_t n = 0; n < wire.size(); n += 7) CHECK_FALSE(out.deserialize(std::string_view(wire).substr(0, n)));
  CHECK_FALSE(out.deserialize(wire + "x"));
  std::string other = wire;
  other[3] = 2;
  CHECK_FALSE(out.deserialize(other));
  // Random bytes: refused or read, but never a crash (the fuzzer goes further).
  std::mt19937 rng(5);
  for (int i = 0; i < 2000; ++i) {
    std::string junk = wire;
    junk[rng() % junk.size()] = static_cast<char>(rng());
    (void)out.deserialize(junk);
  }
}

TEST_CASE("key table: a capped merge never over-counts, and floors add up") {
  KeyTable a(16), b(16);
  for (int i = 0; i < 100; ++i) {
    a.stats(a.upsert("heavy")).requests += 3;
    a.stats(a.upsert("a" + std::to_string(i))).requests += 1;
    b.stats(b.upsert("heavy")).requests += 2;
    b.stats(b.upsert("b" + std::to_string(i))).requests += 1;
  }
  uint64_t floor = a.evicted_floor() + b.evicted_floor();
  a.merge(b);
  CHECK(a.evicted_floor() == floor);
  uint32_t h = a.find("heavy");
  REQUIRE(h != KeyTable::kNone);
  CHECK(a.stats(h).requests == 500);
  for (const auto& e : a.entries())
    if (a.key(e) != "heavy") CHECK(e.stats.requests <= 1);
}

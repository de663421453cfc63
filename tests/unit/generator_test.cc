// The traffic engine: determinism, round trip through the core parsers, the error model and the
// incidents. Counts are taken by parsing the output (or by splitting fields), never from the
// generator's own statistics.
#include "logpipe/generator.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "logpipe/error.h"
#include "logpipe/format.h"
#include "logpipe/timeutil.h"

using namespace logpipe;

namespace {

int64_t at(const char* text) {
  int64_t us = 0;
  REQUIRE(parse_iso_time(text, us));
  return us;
}

GeneratorOptions base_options() {
  GeneratorOptions o;
  o.start_us = at("2025-06-23T00:00:00Z");
  o.rate = 1000;
  return o;
}

// Generates n lines into one string.
std::string generate(Generator& g, size_t n, int64_t end_us = INT64_MAX) {
  std::string out;
  size_t lines = 0;
  while (lines < n) {
    std::string_view batch = g.next_batch(n - lines, end_us);
    if (batch.empty()) break;
    for (char c : batch) lines += c == '\n';
    out.append(batch);
  }
  return out;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t i = 0;
  while (i < text.size()) {
    size_t nl = text.find('\n', i);
    lines.push_back(text.substr(i, nl - i));
    i = nl + 1;
  }
  return lines;
}

// Parses every line with the core parser of `format`; fails the test on the first bad one.
std::vector<Record> parse_all(std::string_view format, std::string_view text,
                              std::vector<std::string>& keep) {
  auto parser = make_parser(format);
  std::vector<Record> records;
  for (std::string_view line : split_lines(text)) {
    Record r;
    ParseError e = parser->parse(line, r);
    if (e != ParseError::kNone)
      FAIL("line does not parse (", describe(e), "): ", std::string(line));
    // Views point into the parser's scratch for some fields: keep copies of what we check.
    keep.emplace_back(r.user);
    keep.emplace_back(r.url);
    keep.emplace_back(r.ip);
    records.push_back(r);
  }
  return records;
}

}  // namespace

TEST_CASE("generate: --status-mix parses weights and rejects what is not STATUS=WEIGHT") {
  auto mix = parse_status_mix("404=3, 401=1,500=0.5,501=0.1");
  REQUIRE(mix.size() == 4);
  CHECK(mix[0].status == 404);
  CHECK(mix[0].weight == 3);
  CHECK(mix[3].status == 501);
  CHECK(mix[3].weight == doctest::Approx(0.1));
  CHECK_THROWS_AS(parse_status_mix("200=1"), Error);
  CHECK_THROWS_AS(parse_status_mix("404"), Error);
  CHECK_THROWS_AS(parse_status_mix("404=0"), Error);
  CHECK_THROWS_AS(parse_status_mix("404=1,404=2"), Error);
  CHECK_THROWS_AS(parse_status_mix("404=x"), Error);
}

TEST_CASE("generate: same seed and options give the same bytes; another seed does not") {
  GeneratorOptions o = base_options();
  Generator a(o), b(o);
  std::string ta = generate(a, 5000), tb = generate(b, 5000);
  CHECK(ta == tb);
  o.seed = 2;
  Generator c(o);
  CHECK(generate(c, 5000) != ta);
}

TEST_CASE("generate: batch boundaries do not change the bytes") {
  GeneratorOptions o = base_options();
  Generator a(o), b(o);
  std::string one = generate(a, 3000);
  std::string pieces;
  for (int i = 0; i < 300; ++i) pieces += generate(b, 10);
  CHECK(one == pieces);
}

TEST_CASE("generate: every format parses with the core parser, 20000 lines, none malformed") {
  for (auto [name, format] : {std::pair{"combined", GenerateFormat::kCombined},
                              std::pair{"common", GenerateFormat::kCommon},
                              std::pair{"clickstream", GenerateFormat::kClickstream},
                              std::pair{"edx", GenerateFormat::kEdx}}) {
    CAPTURE(name);
    GeneratorOptions o = base_options();
    o.format = format;
    Generator g(o);
    std::string text = generate(g, 20000);
    std::vector<std::string> keep;
    auto records = parse_all(name, text, keep);
    CHECK(records.size() == 20000);
    size_t with_user = 0;
    for (const auto& r : records) with_user += !r.user.empty();
    CHECK(with_user > 2000);
    if (format == GenerateFormat::kEdx) {
      CHECK(!records[0].course_id.empty());
      CHECK(records[0].status == 0);
    }
    // Timestamps advance at --rate: 1000 lines per second.
    CHECK(records.back().time_us - records.front().time_us >= 19'000'000);
    CHECK(records.back().time_us - records.front().time_us <= 20'000'000);
  }
}

TEST_CASE("generate: --with-duration appends %D that the logformat parser reads") {
  GeneratorOptions o = base_options();
  o.with_duration = true;
  Generator g(o);
  std::string text = generate(g, 2000);
  std::vector<std::string> keep;
  auto records = parse_all(R"(logformat:%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" %D)",
                           text, keep);
  REQUIRE(records.size() == 2000);
  for (const auto& r : records) CHECK(r.duration_us > 0);
}

TEST_CASE("generate: error share and status weights match the flags within 5% over 200000 lines") {
  GeneratorOptions o = base_options();
  o.error_rate = 0.05;
  o.status_mix = parse_status_mix("404=3,401=1,500=0.5,501=0.1");
  o.bad_users = 0.02;
  o.bad_user_error_rate = 0.6;
  Generator g(o);
  std::string text = generate(g, 200000);
  std::map<int, double> errors;
  double total = 0, failed = 0;
  for (std::string_view line : split_lines(text)) {
    // Status: the first field after the quoted request.
    size_t q = line.find("\" ");
    int status = std::stoi(std::string(line.substr(q + 2, 3)));
    ++total;
    if (status >= 400) {
      ++failed;
      errors[status] += 1;
    }
  }
  CHECK(failed / total == doctest::Approx(0.05).epsilon(0.05));
  std::map<int, double> want = {{404, 3}, {401, 1}, {500, 0.5}, {501, 0.1}};
  CHECK(errors.size() == want.size());  // exactly the statuses of the mix
  for (auto [status, weight] : want) {
    CAPTURE(status);
    CHECK(errors[status] / failed == doctest::Approx(weight / 4.6).epsilon(0.05));
  }
}

TEST_CASE("generate: bad users carry their errors, on the bad URLs") {
  GeneratorOptions o = base_options();
  o.error_rate = 0.02;
  o.bad_users = 0.02;
  o.bad_user_error_rate = 0.8;
  o.bad_urls = 0.001;
  o.users = 2000;
  o.urls = 5000;
  Generator g(o);
  std::string text = generate(g, 200000);
  std::vector<std::string> keep;
  auto records = parse_all("combined", text, keep);
  std::map<std::string, std::pair<int, int>> per_user;  // requests, errors
  std::map<std::string, int> error_urls;
  for (const auto& r : records) {
    if (r.user.empty()) continue;
    auto& c = per_user[std::string(r.user)];
    ++c.first;
    if (r.status >= 400) {
      ++c.second;
      ++error_urls[std::string(r.path())];
    }
  }
  // Users with at least 30 requests: a few fail most of the time, the rest rarely.
  int bad = 0, good = 0;
  for (const auto& [user, c] : per_user) {
    if (c.first < 30) continue;
    double rate = static_cast<double>(c.second) / c.first;
    if (rate > 0.6)
      ++bad;
    else if (rate < 0.1)
      ++good;
  }
  CHECK(bad >= 5);
  CHECK(good > 10 * bad);
  // Errors concentrate: the 5 URLs with most errors hold more than half of them.
  std::vector<int> counts;
  int all = 0;
  for (const auto& [url, n] : error_urls) {
    counts.push_back(n);
    all += n;
  }
  std::sort(counts.rbegin(), counts.rend());
  int top = 0;
  for (size_t i = 0; i < 5 && i < counts.size(); ++i) top += counts[i];
  CHECK(top * 2 > all);
}

TEST_CASE("generate: --ips N gives N distinct addresses once enough sessions ran") {
  GeneratorOptions o = base_options();
  o.ips = 20000;
  Generator g(o);
  std::string text = generate(g, 300000);
  std::set<std::string_view> ips;
  for (std::string_view line : split_lines(text)) ips.insert(line.substr(0, line.find(' ')));
  CHECK(ips.size() <= 20000);
  CHECK(ips.size() >= 19990);
}

TEST_CASE("generate: incidents show in their windows and only there") {
  GeneratorOptions o = base_options();
  o.rate = 100;
  o.error_rate = 0.01;
  int64_t t0 = o.start_us;
  Incident burst;
  burst.kind = IncidentKind::kErrorBurst;
  burst.url = "/api/v1/payment";
  burst.error_rate = 0.7;
  burst.start_us = t0 + 600'000'000;
  burst.end_us = t0 + 900'000'000;
  Incident ddos;
  ddos.kind = IncidentKind::kDdos;
  ddos.ip = "203.0.113.0/24";
  ddos.rate = 50;
  ddos.start_us = t0 + 1200'000'000;
  ddos.end_us = t0 + 1320'000'000;
  Incident user;
  user.kind = IncidentKind::kBadUser;
  user.user = "mallory";
  user.error_rate = 0.9;
  user.start_us = t0 + 1500'000'000;
  user.end_us = t0 + 1800'000'000;
  o.incidents = {burst, ddos, user};
  Generator g(o);
  std::string text = generate(g, SIZE_MAX, t0 + 2400'000'000);  // 40 minutes
  std::vector<std::string> keep;
  auto records = parse_all("combined", text, keep);
  int in_burst = 0, burst_errors = 0, burst_outside = 0, ddos_in = 0, ddos_out = 0, mallory = 0,
      mallory_errors = 0, mallory_outside = 0;
  for (const auto& r : records) {
    bool in_b = r.time_us >= burst.start_us && r.time_us < burst.end_us;
    if (r.path() == "/api/v1/payment") {
      if (in_b) {
        ++in_burst;
        burst_errors += r.status >= 400;
      } else {
        ++burst_outside;
      }
    }
    if (r.ip.starts_with("203.0.113.")) {
      if (r.time_us >= ddos.start_us && r.time_us < ddos.end_us)
        ++ddos_in;
      else
        ++ddos_out;
    }
    if (r.user == "mallory") {
      if (r.time_us >= user.start_us && r.time_us < user.end_us) {
        ++mallory;
        mallory_errors += r.status >= 400;
      } else {
        ++mallory_outside;
      }
    }
  }
  // share 0.05 of 100 lines/s for 300 s: ~1500 requests, 70% failing.
  CHECK(in_burst > 1200);
  CHECK(in_burst < 1800);
  CHECK(static_cast<double>(burst_errors) / in_burst == doctest::Approx(0.7).epsilon(0.1));
  CHECK(burst_outside == 0);
  CHECK(ddos_in == 50 * 120);
  CHECK(ddos_out == 0);
  // share 0.01 of 100 lines/s for 300 s: ~300 requests, 90% failing.
  CHECK(mallory > 200);
  CHECK(static_cast<double>(mallory_errors) / mallory == doctest::Approx(0.9).epsilon(0.1));
  CHECK(mallory_outside == 0);

  CHECK(truth_lines(o.incidents, t0, t0 + 2400'000'000) ==
        "{\"kind\":\"error_burst\",\"start\":\"2025-06-23T00:10:00Z\",\"end\":\"2025-06-23T00:15:"
        "00Z\",\"key\":\"/api/v1/payment\"}\n"
        "{\"kind\":\"ddos\",\"start\":\"2025-06-23T00:20:00Z\",\"end\":\"2025-06-23T00:22:00Z\","
        "\"key\":\"203.0.113.0/24\"}\n"
        "{\"kind\":\"bad_user\",\"start\":\"2025-06-23T00:25:00Z\",\"end\":\"2025-06-23T00:30:"
        "00Z\",\"key\":\"mallory\"}\n");
  // Clipped to what was generated; incidents after the end are left out.
  CHECK(truth_lines(o.incidents, t0, t0 + 780'000'000) ==
        "{\"kind\":\"error_burst\",\"start\":\"2025-06-23T00:10:00Z\",\"end\":\"2025-06-23T00:13:"
        "00Z\",\"key\":\"/api/v1/payment\"}\n");
}

TEST_CASE("generate: a latency incident multiplies the url's response time in its window") {
  GeneratorOptions o = base_options();
  o.rate = 100;
  o.with_duration = true;
  Incident slow;
  slow.kind = IncidentKind::kLatency;
  slow.url = "/reports/export";
  slow.factor = 20;
  slow.start_us = o.start_us + 300'000'000;
  slow.end_us = o.start_us + 600'000'000;
  o.incidents = {slow};
  Generator g(o);
  std::string text = generate(g, SIZE_MAX, o.start_us + 900'000'000);
  std::vector<std::string> keep;
  auto records = parse_all(R"(logformat:%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" %D)",
                           text, keep);
  std::vector<int64_t> inside, others;
  for (const auto& r : records) {
    bool in = r.time_us >= slow.start_us && r.time_us < slow.end_us;
    if (r.path() == "/reports/export") {
      CHECK(in);
      inside.push_back(r.duration_us);
    }
  }
  REQUIRE(inside.size() > 1000);
  std::sort(inside.begin(), inside.end());
  CHECK(inside[inside.size() / 2] > 20 * 8000);  // median far above any page's normal time
}

TEST_CASE("generate: invalid options name the option") {
  GeneratorOptions o = base_options();
  o.error_rate = 1.5;
  CHECK_THROWS_WITH_AS(Generator{o}, doctest::Contains("--error-rate"), Error);
  o = base_options();
  Incident bad;
  bad.kind = IncidentKind::kDdos;
  bad.ip = "not-an-ip";
  bad.start_us = o.start_us;
  bad.end_us = o.start_us + 1;
  o.incidents = {bad};
  CHECK_THROWS_WITH_AS(Generator{o}, doctest::Contains("incident 1 (ddos)"), Error);
}

namespace {

// Status of an access-log line: the first field after the quoted request.
int status_of(std::string_view line) {
  size_t q = line.find("\" ");
  return std::stoi(std::string(line.substr(q + 2, 3)));
}

// An incident of `kind` over [start_us, end_us); the caller sets its key and effects.
Incident incident(IncidentKind kind, int64_t start_us, int64_t end_us) {
  Incident inc;
  inc.kind = kind;
  inc.start_us = start_us;
  inc.end_us = end_us;
  return inc;
}

// Share of failing lines among `records` whose time is in [from_us, to_us) and that `pick`s.
template <typename Pick>
double error_share(const std::vector<Record>& records, int64_t from_us, int64_t to_us, Pick pick,
                   size_t* count = nullptr) {
  double n = 0, failed = 0;
  for (const auto& r : records) {
    if (r.time_us < from_us || r.time_us >= to_us || !pick(r)) continue;
    ++n;
    failed += r.status >= 400;
  }
  if (count) *count = static_cast<size_t>(n);
  return n > 0 ? failed / n : -1;
}

}  // namespace

TEST_CASE("generate: a global ramp's error share rises linearly from ramp_from to error_rate") {
  GeneratorOptions o = base_options();
  o.rate = 200;
  o.error_rate = 0.01;
  int64_t t0 = o.start_us, minute = 60'000'000;
  Incident ramp = incident(IncidentKind::kErrorBurst, t0 + 10 * minute, t0 + 30 * minute);
  ramp.ramp_from = 0.01;
  ramp.error_rate = 0.21;
  o.incidents = {ramp};
  Generator g(o);
  std::string text = generate(g, SIZE_MAX, t0 + 40 * minute);
  std::vector<std::string> keep;
  auto records = parse_all("combined", text, keep);
  auto all = [](const Record&) { return true; };
  // Each 5-minute quarter of the ramp holds 60000 lines; its expected share is the ramp's value
  // at the quarter's middle: 0.01 + 0.2 * (0.125, 0.375, 0.625, 0.875).
  const double want[] = {0.035, 0.085, 0.135, 0.185};
  for (int q = 0; q < 4; ++q) {
    CAPTURE(q);
    double share = error_share(records, ramp.start_us + q * 5 * minute,
                               ramp.start_us + (q + 1) * 5 * minute, all);
    CHECK(share == doctest::Approx(want[q]).epsilon(0.06));
  }
  // Before and after, the base rate; no jump to the peak at the start.
  CHECK(error_share(records, t0, ramp.start_us, all) == doctest::Approx(0.01).epsilon(0.15));
  CHECK(error_share(records, ramp.end_us, t0 + 40 * minute, all) ==
        doctest::Approx(0.01).epsilon(0.15));
  CHECK(error_share(records, ramp.start_us, ramp.start_us + minute, all) < 0.025);
}

TEST_CASE("generate: a url ramp acts on that url only; ramp_from 0 starts from no error") {
  GeneratorOptions o = base_options();
  o.rate = 200;
  o.error_rate = 0.01;
  int64_t t0 = o.start_us, minute = 60'000'000;
  Incident ramp = incident(IncidentKind::kErrorBurst, t0 + 5 * minute, t0 + 25 * minute);
  ramp.url = "/api/v1/payment";
  ramp.share = 0.1;
  ramp.ramp_from = 0;
  ramp.error_rate = 0.8;
  o.incidents = {ramp};
  Generator g(o);
  std::string text = generate(g, SIZE_MAX, t0 + 25 * minute);
  std::vector<std::string> keep;
  auto records = parse_all("combined", text, keep);
  auto pay = [](const Record& r) { return r.path() == "/api/v1/payment"; };
  auto others = [](const Record& r) { return r.path() != "/api/v1/payment"; };
  // Halves of the ramp: 0.8 * 0.25 and 0.8 * 0.75 on ~12000 requests each.
  size_t n1 = 0, n2 = 0;
  CHECK(error_share(records, ramp.start_us, ramp.start_us + 10 * minute, pay, &n1) ==
        doctest::Approx(0.2).epsilon(0.08));
  CHECK(error_share(records, ramp.start_us + 10 * minute, ramp.end_us, pay, &n2) ==
        doctest::Approx(0.6).epsilon(0.05));
  CHECK(n1 > 10000);
  CHECK(n2 > 10000);
  CHECK(error_share(records, ramp.start_us, ramp.end_us, others) ==
        doctest::Approx(0.01).epsilon(0.15));
}

TEST_CASE("generate: --truth gives a ramp's error rate at both ends of its clipped interval") {
  int64_t t0 = at("2025-06-23T00:00:00Z"), minute = 60'000'000;
  Incident ramp = incident(IncidentKind::kErrorBurst, t0 + 10 * minute, t0 + 30 * minute);
  ramp.url = "/api/v1/orders";
  ramp.ramp_from = 0.01;
  ramp.error_rate = 0.21;
  Incident burst = incident(IncidentKind::kErrorBurst, t0 + 40 * minute, t0 + 41 * minute);
  std::vector<Incident> list = {ramp, burst};
  CHECK(truth_lines(list, t0, t0 + 60 * minute) ==
        "{\"kind\":\"error_burst\",\"start\":\"2025-06-23T00:10:00Z\",\"end\":\"2025-06-23T00:30:"
        "00Z\",\"key\":\"/api/v1/orders\",\"error_rate_from\":0.01,\"error_rate_to\":0.21}\n"
        "{\"kind\":\"error_burst\",\"start\":\"2025-06-23T00:40:00Z\",\"end\":\"2025-06-23T00:41:"
        "00Z\",\"key\":\"\"}\n");
  // Generated from 00:15 to 00:20: a quarter and a half of the way up (0.06 and 0.11).
  CHECK(truth_lines(list, t0 + 15 * minute, t0 + 20 * minute) ==
        "{\"kind\":\"error_burst\",\"start\":\"2025-06-23T00:15:00Z\",\"end\":\"2025-06-23T00:20:"
        "00Z\",\"key\":\"/api/v1/orders\",\"error_rate_from\":0.06,\"error_rate_to\":0.11}\n");
}

TEST_CASE("generate: a steady url and a steady user get their rate, as Poisson arrivals") {
  GeneratorOptions o = base_options();
  o.rate = 50;
  o.error_rate = 0.01;
  int64_t t0 = o.start_us, minute = 60'000'000;
  o.steady = {SteadyFlow{"/api/v1/orders", "", 0.5}, SteadyFlow{"", "carol.small", 2.0 / 60}};
  Generator g(o);
  std::string text = generate(g, SIZE_MAX, t0 + 120 * minute);
  std::vector<std::string> keep;
  auto records = parse_all("combined", text, keep);
  std::vector<int> per_minute(120, 0);
  size_t orders = 0, carol = 0;
  std::set<std::string> carol_ips;
  int64_t last = INT64_MIN;
  for (const auto& r : records) {
    CHECK(r.time_us >= last);  // the flows merge in log-time order
    last = r.time_us;
    if (r.path() == "/api/v1/orders") {
      ++orders;
      ++per_minute[static_cast<size_t>((r.time_us - t0) / minute)];
    }
    if (r.user == "carol.small") {
      ++carol;
      carol_ips.insert(std::string(r.ip));
    }
  }
  // 0.5/s for 2 h: mean 3600, standard deviation 60. 2/min: mean 240, deviation 15.5.
  CHECK(orders > 3600 - 300);
  CHECK(orders < 3600 + 300);
  CHECK(carol > 240 - 78);
  CHECK(carol < 240 + 78);
  CHECK(carol_ips.size() == 1);
  // Poisson counts: per-minute variance close to the mean (30), not 0 as a fixed step would give.
  double mean = static_cast<double>(orders) / 120, var = 0;
  for (int c : per_minute) var += (c - mean) * (c - mean);
  var /= 119;
  CHECK(var > 15);
  CHECK(var < 60);
}

TEST_CASE("generate: incidents act on a steady flow: errors, latency, a bad user at its own rate") {
  GeneratorOptions o = base_options();
  o.rate = 50;
  o.error_rate = 0.01;
  o.with_duration = true;
  int64_t t0 = o.start_us, minute = 60'000'000;
  o.steady = {SteadyFlow{"/api/v1/orders", "", 1.0}, SteadyFlow{"/reports/daily", "", 0.2},
              SteadyFlow{"", "carol.small", 0.1}};
  // share 0: the url keeps its steady rate, only its errors change
  Incident burst = incident(IncidentKind::kErrorBurst, t0 + 20 * minute, t0 + 40 * minute);
  burst.url = "/api/v1/orders";
  burst.error_rate = 0.08;
  burst.share = 0;
  Incident slow = incident(IncidentKind::kLatency, t0 + 20 * minute, t0 + 40 * minute);
  slow.url = "/reports/daily";
  slow.factor = 10;
  slow.share = 0;
  Incident user = incident(IncidentKind::kBadUser, t0 + 20 * minute, t0 + 60 * minute);
  user.user = "carol.small";
  user.error_rate = 0.4;
  user.share = 0;
  o.incidents = {burst, slow, user};
  Generator g(o);
  std::string text = generate(g, SIZE_MAX, t0 + 60 * minute);
  std::vector<std::string> keep;
  auto records = parse_all(R"(logformat:%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" %D)",
                           text, keep);
  auto orders = [](const Record& r) { return r.path() == "/api/v1/orders"; };
  size_t before = 0, during = 0;
  double base = error_share(records, t0, burst.start_us, orders, &before);
  double hot = error_share(records, burst.start_us, burst.end_us, orders, &during);
  CHECK(before > 1000);  // 1/s for 20 min: 1200 each
  CHECK(during > 1000);
  CHECK(during < 1400);  // share 0: no extra traffic
  CHECK(base < 0.03);
  CHECK(hot == doctest::Approx(0.08).epsilon(0.35));
  std::vector<int64_t> normal, slowed;
  for (const auto& r : records)
    if (r.path() == "/reports/daily")
      (r.time_us >= slow.start_us && r.time_us < slow.end_us ? slowed : normal)
          .push_back(r.duration_us);
  REQUIRE(normal.size() > 300);
  REQUIRE(slowed.size() > 150);
  std::sort(normal.begin(), normal.end());
  std::sort(slowed.begin(), slowed.end());
  double ratio = static_cast<double>(slowed[slowed.size() / 2]) / normal[normal.size() / 2];
  CHECK(ratio == doctest::Approx(10).epsilon(0.2));
  auto carol = [](const Record& r) { return r.user == "carol.small"; };
  size_t carol_hot = 0;
  CHECK(error_share(records, user.start_us, user.end_us, carol, &carol_hot) ==
        doctest::Approx(0.4).epsilon(0.3));
  CHECK(carol_hot > 180);  // 0.1/s for 40 min: 240
  CHECK(carol_hot < 300);
}

TEST_CASE("generate: steady flows and ramps keep same seed, same bytes, whatever the batches") {
  GeneratorOptions o = base_options();
  o.steady = {SteadyFlow{"/api/v1/orders", "", 3}, SteadyFlow{"", "carol.small", 1}};
  Incident ramp =
      incident(IncidentKind::kErrorBurst, o.start_us + 1'000'000, o.start_us + 4'000'000);
  ramp.ramp_from = 0.02;
  ramp.error_rate = 0.5;
  o.incidents = {ramp};
  Generator a(o), b(o);
  std::string one = generate(a, 5000);
  std::string pieces;
  for (int i = 0; i < 500; ++i) pieces += generate(b, 10);
  CHECK(one == pieces);
  size_t lines = 0;
  for (std::string_view line : split_lines(one))
    lines += line.find("/api/v1/orders ") != std::string_view::npos;
  CHECK(lines > 0);
  int failed = 0;
  for (std::string_view line : split_lines(one)) failed += status_of(line) >= 400;
  CHECK(failed > 100);  // the ramp ran
}

TEST_CASE("generate: a ramp that is not an error burst, or a steady flow without key, is refused") {
  GeneratorOptions o = base_options();
  Incident slow = incident(IncidentKind::kLatency, o.start_us, o.start_us + 1);
  slow.url = "/search";
  slow.ramp_from = 0.1;
  o.incidents = {slow};
  CHECK_THROWS_WITH_AS(Generator{o}, doctest::Contains("only an error_burst can be a ramp"), Error);
  o = base_options();
  o.steady = {SteadyFlow{"", "", 1}};
  CHECK_THROWS_WITH_AS(Generator{o}, doctest::Contains("steady 1: needs a 'url'"), Error);
  o.steady = {SteadyFlow{"/x", "", 0}};
  CHECK_THROWS_WITH_AS(Generator{o}, doctest::Contains("steady 1: rate"), Error);
  o.steady = {SteadyFlow{"no-slash", "", 1}};
  CHECK_THROWS_WITH_AS(Generator{o}, doctest::Contains("must start with /"), Error);
}

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

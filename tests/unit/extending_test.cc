// The worked examples of docs/extending.md, compiled and run here. The code between
// `// [example: NAME]` and `// [end]` is copied verbatim into the guide;
// tests/cli/docs_extending_examples.sh checks that the guide and this file agree.
#include "logpipe/format.h"
#include "logpipe/metrics.h"
#include "logpipe/timeutil.h"

#include <doctest/doctest.h>

#include <charconv>
#include <string>
#include <vector>

using namespace logpipe;

namespace {

// [example: format]
// `ts=2025-06-23T08:00:00Z status=500 path=/pay user=ann` -- key=value pairs, any order.
// A parser fills a Record with views into the line and never throws on data: a bad line
// returns a ParseError, which the caller counts as malformed.
class KeyValueParser final : public Parser {
 public:
  std::string_view name() const noexcept override { return "keyvalue"; }
  ParseError parse(std::string_view line, Record& r) override {
    r.clear();
    while (!line.empty()) {
      size_t end = line.find(' ');
      std::string_view pair = line.substr(0, end);
      line = end == std::string_view::npos ? std::string_view{} : line.substr(end + 1);
      size_t eq = pair.find('=');
      if (eq == std::string_view::npos) return ParseError::kBadField;
      std::string_view key = pair.substr(0, eq), value = pair.substr(eq + 1);
      if (key == "ts") {
        if (!parse_iso_time(value, r.time_us)) return ParseError::kBadTime;
      } else if (key == "status") {
        auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), r.status);
        if (ec != std::errc() || p != value.data() + value.size()) return ParseError::kBadStatus;
      } else if (key == "path") {
        r.url = value;
      } else if (key == "user") {
        r.user = value;
      }  // other keys are ignored
    }
    return r.time_us == kNoTime ? ParseError::kMissingField : ParseError::kNone;
  }
};
// [end]

// [example: job]
// A streaming job is a WindowObserver: the engine hands it every closed window, in order.
// This one keeps, per window, the user with the most failed requests.
struct WorstUserPerWindow final : WindowObserver {
  struct Row {
    int64_t window_start_us;
    std::string user;
    uint64_t errors;
  };
  std::vector<Row> rows;
  void on_window(const WindowView& w) override {
    Row row{w.start_us(), "", 0};
    w.for_each_key(kUserErrorRate, [&](std::string_view user, const MetricValue& v) {
      if (v.errors > row.errors) row = {w.start_us(), std::string(user), v.errors};
    });
    rows.push_back(std::move(row));
  }
};
// [end]

}  // namespace

TEST_CASE("extending: the key=value format of the guide parses, and refuses a bad line") {
  KeyValueParser p;
  Record r;
  REQUIRE(p.parse("ts=2025-06-23T08:00:00Z status=500 path=/pay user=ann", r) == ParseError::kNone);
  CHECK(r.status == 500);
  CHECK(r.url == "/pay");
  CHECK(r.user == "ann");
  CHECK(format_rfc3339(r.time_us) == "2025-06-23T08:00:00Z");
  CHECK(p.parse("ts=2025-06-23T08:00:00Z status=5x0", r) == ParseError::kBadStatus);
  CHECK(p.parse("status=200", r) == ParseError::kMissingField);
  CHECK(p.parse("garbage", r) == ParseError::kBadField);
}

TEST_CASE("extending: the streaming job of the guide sees the worst user of each window") {
  // [example: run]
  KeyValueParser parser;
  WorstUserPerWindow job;
  EngineConfig config;  // 60 s tumbling windows, 5 s lateness
  WindowEngine engine(config, job);
  Record record;
  for (std::string_view line : {"ts=2025-06-23T08:00:01Z status=500 path=/pay user=ann",
                                "ts=2025-06-23T08:00:02Z status=503 path=/pay user=ann",
                                "ts=2025-06-23T08:00:03Z status=404 path=/x user=bob",
                                "ts=2025-06-23T08:01:10Z status=500 path=/pay user=bob"}) {
    if (parser.parse(line, record) == ParseError::kNone) engine.add(record);
  }
  engine.flush();  // end of input: close the open windows
  // [end]
  REQUIRE(job.rows.size() == 2);
  CHECK(format_rfc3339(job.rows[0].window_start_us) == "2025-06-23T08:00:00Z");
  CHECK(job.rows[0].user == "ann");
  CHECK(job.rows[0].errors == 2);
  CHECK(job.rows[1].user == "bob");
  CHECK(job.rows[1].errors == 1);
}

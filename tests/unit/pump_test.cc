// The record pump: format resolution with the sampled lines replayed, malformed accounting,
// sinks that refuse records, stop signals (files stop, network inputs drain), quiet ticks, failing
// inputs, the thread split, and the line sink of anonymize.
#include "logpipe/pump.h"

#include "logpipe/report.h"

#include "fakes.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace logpipe;
using namespace logpipe::testing;

namespace {

std::string access(int i, int status = 200) {
  return "10.0.0." + std::to_string(i % 7) + " - - [23/Jun/2025:08:00:" + std::to_string(10 + i % 40) +
         " +0000] \"GET /p" + std::to_string(i % 5) + " HTTP/1.1\" " + std::to_string(status) + " 12 \"-\" \"ua\"";
}

// Keeps what it is given: each record's url and the line's place.
struct Collect final : RecordSink {
  std::vector<std::string> urls;
  ParseError refuse = ParseError::kNone;  // returned for urls equal to refuse_url
  std::string refuse_url;
  ParseError on_record(const Record& r) override {
    if (!refuse_url.empty() && r.url == refuse_url) return refuse;
    urls.emplace_back(r.url);
    return ParseError::kNone;
  }
};

std::vector<std::unique_ptr<PumpInput>> one(std::unique_ptr<PumpInput> in) {
  std::vector<std::unique_ptr<PumpInput>> v;
  v.push_back(std::move(in));
  return v;
}

struct Ticks final : PumpObserver {
  int quiet = 0, busy = 0, ends = 0, complete = 0;
  int end_after_quiet = -1;  // return false at this quiet tick
  bool on_tick(PumpInput&, bool q) override {
    q ? ++quiet : ++busy;
    return !(q && quiet == end_after_quiet);
  }
  void on_input_end(PumpInput&, bool c) override {
    ++ends;
    complete += c;
  }
};

}  // namespace

TEST_CASE("pump: auto detects once on the sampled lines and replays them with their numbers") {
  std::string data;
  for (int i = 0; i < 40; ++i) data += (i == 3 ? std::string("garbage") : access(i)) + "\n";
  data += "\n";  // blank: neither record nor malformed
  MalformedLog malformed;
  RecordPump pump(PumpOptions{}, malformed);
  Collect sink;
  auto inputs = one(std::make_unique<MemoryInput>(data, "a.log"));
  pump.run(inputs, sink);
  CHECK(pump.format() == "combined");
  CHECK(sink.urls.size() == 39);
  CHECK(sink.urls[0] == "/p0");
  CHECK(sink.urls[3] == "/p4");  // the fourth record is line 5: line 4 was malformed
  CHECK(pump.stats().lines == 41);
  CHECK(pump.stats().records == 39);
  CHECK(pump.stats().malformed == 1);
  CHECK(pump.stats().blank == 1);
  CHECK(malformed.total() == 1);
  CHECK(pump.read_through(0));
  CHECK_FALSE(pump.stopped());
}

TEST_CASE("pump: a record the sink refuses is a malformed line with the sink's reason") {
  std::string data = access(0) + "\n" + access(1) + "\n" + access(2) + "\n";
  MalformedLog malformed;
  RecordPump pump(PumpOptions{"combined"}, malformed);
  Collect sink;
  sink.refuse_url = "/p1";
  sink.refuse = ParseError::kBadTime;
  auto inputs = one(std::make_unique<MemoryInput>(data, "b.log"));
  pump.run(inputs, sink);
  CHECK(sink.urls == std::vector<std::string>{"/p0", "/p2"});
  CHECK(malformed.count(ParseError::kBadTime) == 1);
  CHECK(pump.stats().records == 2);
  CHECK(pump.stats().malformed == 1);
}

TEST_CASE("pump: a stop ends a file at once, and it is not read through") {
  std::string data;
  for (int i = 0; i < 100; ++i) data += access(i) + "\n";
  StopFlag stop{true};
  MalformedLog malformed;
  RecordPump pump(PumpOptions{"combined", false, 1, &stop}, malformed);
  Collect sink;
  auto inputs = one(std::make_unique<MemoryInput>(data));
  pump.run(inputs, sink);
  CHECK(sink.urls.empty());
  CHECK(pump.stopped());
  CHECK_FALSE(pump.read_through(0));
}

TEST_CASE("pump: a stop drains a network input, its cut-short line counted as malformed") {
  StopFlag stop{false};
  auto script = std::make_unique<ScriptedLineSource>(
      std::vector<ScriptedLineSource::Step>{line(access(0)), quiet(), line(access(1)), partial(access(2))},
      "tcp://test", /*endless=*/true);
  ScriptedLineSource* raw = script.get();
  MalformedLog malformed;
  RecordPump pump(PumpOptions{"combined", false, 1, &stop}, malformed);
  Collect sink;
  struct StopAtQuiet final : PumpObserver {
    StopFlag& stop;
    explicit StopAtQuiet(StopFlag& s) : stop(s) {}
    bool on_tick(PumpInput&, bool quiet) override {
      if (quiet) stop = true;  // a signal arrives while the input is quiet
      return true;
    }
  } observer(stop);
  auto inputs = one(std::make_unique<ScriptedInput>(std::move(script)));
  pump.run(inputs, sink, &observer);
  CHECK(sink.urls == std::vector<std::string>{"/p0", "/p1"});
  CHECK(malformed.count(ParseError::kTruncatedLine) == 1);
  CHECK(pump.stopped());
  CHECK(pump.read_through(0));  // everything that arrived was handed out: it may be committed
  CHECK(raw->polls > 3);
}

TEST_CASE("pump: quiet polls tick the observer, which may end the input (--idle-exit)") {
  auto script = std::make_unique<ScriptedLineSource>(
      std::vector<ScriptedLineSource::Step>{line(access(0)), quiet(), quiet(), quiet(), line(access(1))},
      "tcp://test");
  MalformedLog malformed;
  RecordPump pump(PumpOptions{}, malformed);
  Collect sink;
  Ticks ticks;
  ticks.end_after_quiet = 2;
  auto inputs = one(std::make_unique<ScriptedInput>(std::move(script)));
  pump.run(inputs, sink, &ticks);
  // The first quiet poll is enough to decide the format from the one line kept.
  CHECK(pump.format() == "combined");
  CHECK(sink.urls == std::vector<std::string>{"/p0"});
  CHECK(ticks.quiet == 2);
  CHECK(ticks.ends == 1);
  CHECK(ticks.complete == 1);
}

TEST_CASE("pump: a failing input keeps what it gave, is named, and the next input is read") {
  auto script = std::make_unique<ScriptedLineSource>(
      std::vector<ScriptedLineSource::Step>{line(access(0)), line(access(1)), fail()}, "tcp://dies");
  std::vector<std::unique_ptr<PumpInput>> inputs;
  inputs.push_back(std::make_unique<ScriptedInput>(std::move(script)));
  inputs.push_back(std::make_unique<MemoryInput>(access(2) + "\n", "next.log"));
  std::vector<std::string> errors;
  MalformedLog malformed;
  PumpOptions o;
  o.input_errors = &errors;
  RecordPump pump(o, malformed);
  Collect sink;
  pump.run(inputs, sink);
  CHECK(sink.urls == std::vector<std::string>{"/p0", "/p1", "/p2"});
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] == "tcp://dies: connection reset");
  CHECK_FALSE(pump.read_through(0));
  CHECK(pump.read_through(1));
  // Without input_errors the failure is thrown, after the lines before it were counted.
  auto again = std::make_unique<ScriptedLineSource>(std::vector<ScriptedLineSource::Step>{line(access(0)), fail()});
  RecordPump strict(PumpOptions{}, malformed);
  Collect sink2;
  auto inputs2 = one(std::make_unique<ScriptedInput>(std::move(again)));
  CHECK_THROWS_AS(strict.run(inputs2, sink2), Error);
  CHECK(sink2.urls == std::vector<std::string>{"/p0"});
}

TEST_CASE("pump: a file split over threads gives the report and the malformed lines of one thread") {
  std::string data;
  for (int i = 0; i < 30000; ++i) data += (i % 997 == 5 ? std::string("bad line ") + std::to_string(i) : access(i, i % 11 ? 200 : 503)) + "\n";
  auto run = [&](unsigned threads, std::string& first) {
    MalformedLog malformed;
    RecordPump pump(PumpOptions{"auto", false, threads}, malformed);
    Report report;
    auto inputs = one(std::make_unique<MemoryInput>(data, "big.log", /*splittable=*/true));
    pump.run(inputs, report);
    report.finish_sessions();
    CHECK(malformed.total() == 31);
    CHECK(pump.stats().lines == 30000);
    std::FILE* f = std::tmpfile();
    malformed.print_summary(f);
    std::rewind(f);
    char buf[256] = {};
    first = std::fgets(buf, sizeof buf, f) ? buf : "";
    std::fclose(f);
    return write_json(summarize(report, SummaryOptions{}));
  };
  std::string first1, first3;
  std::string one_thread = run(1, first1), three = run(3, first3);
  CHECK(one_thread == three);
  CHECK(first1 == first3);
  CHECK(first1.find("big.log:6: ") != std::string::npos);
}

TEST_CASE("pump: the line sink gets the format first, then every line, blank ones too") {
  struct Lines final : LineSink {
    std::string format;
    std::vector<std::string> seen;
    int ends = 0;
    void on_format(const std::string& f) override { format = f; }
    void on_line(std::string_view l, const LineOrigin& where) override {
      seen.push_back(std::string(l) + "@" + std::to_string(where.line) + (where.truncated ? "!" : ""));
    }
    void on_input_end() override { ++ends; }
  } sink;
  MalformedLog malformed;
  RecordPump pump(PumpOptions{}, malformed);
  auto inputs = one(std::make_unique<MemoryInput>("{\"a\": 1}\n\n{\"b\": 2}\n"));
  pump.run_lines(inputs, sink);
  CHECK(sink.format == "edx");
  CHECK(sink.seen == std::vector<std::string>{"{\"a\": 1}@1", "@2", "{\"b\": 2}@3"});
  CHECK(sink.ends == 1);
  CHECK(malformed.total() == 0);
}

// ---------------------------------------------------------------------------------------------
// Per-input formats and the exit status of unreadable inputs (issue 18).

namespace {

std::string applog_lines(int n) {
  std::string s;
  for (int i = 0; i < n; ++i)
    s += "2023-12-22 22:07:3" + std::to_string(i % 10) + ".780 INFO req_" + std::to_string(i) +
         " sess user view_page GET /p" + std::to_string(i % 3) + "\n";
  return s;
}

std::vector<std::unique_ptr<PumpInput>> inputs_of(std::vector<std::pair<std::string, std::string>> files) {
  std::vector<std::unique_ptr<PumpInput>> v;
  for (auto& [name, data] : files) v.push_back(std::make_unique<MemoryInput>(data, name));
  return v;
}

std::string error_of(RecordPump& pump, std::span<const std::unique_ptr<PumpInput>> inputs, RecordSink& sink) {
  try {
    pump.run(inputs, sink);
  } catch (const Error& e) {
    CHECK(e.exit_code() == kExitData);
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("pump: each input is detected on its own lines; the formats are kept per input") {
  // The first input decided for all: a directory of mixed logs was read with one format.
  std::string access_lines;
  for (int i = 0; i < 20; ++i) access_lines += access(i) + "\n";
  auto inputs = inputs_of({{"access.log", access_lines},
                           {"app.log", applog_lines(20)},
                           {"empty.log", ""},
                           {"edx.log", R"({"username": "ann", "event_type": "play_video"})" "\n"}});
  MalformedLog malformed;
  RecordPump pump(PumpOptions{}, malformed);
  Collect sink;
  pump.run(inputs, sink);
  CHECK(malformed.total() == 0);
  CHECK(sink.urls.size() == 41);  // the edX record has no url
  REQUIRE(pump.inputs().size() == 4);
  CHECK(pump.inputs()[0].format == "combined");
  CHECK(pump.inputs()[1].format == "applog");
  CHECK(pump.inputs()[2].format == "");
  CHECK(pump.inputs()[3].format == "edx");
  CHECK(pump.inputs()[1].stats.records == 20);
  CHECK(pump.formats() == "combined, applog, edx");
}

TEST_CASE("pump: an input that gave no record fails the run (exit 3), naming it, its format and first bad line") {
  // A run where every line was malformed exited 0.
  auto inputs = inputs_of({{"good.log", access(1) + "\n"}, {"bad.log", "garbage one\ngarbage two\n"}});
  MalformedLog malformed;
  RecordPump pump(PumpOptions{"combined"}, malformed);
  Collect sink;
  std::string what = error_of(pump, inputs, sink);
  CHECK(what.starts_with("bad.log: no record could be read with format combined (2 malformed lines; first: "
                         "bad.log:1: bad or missing time)"));
  CHECK(what.find("good.log") == std::string::npos);
  CHECK(sink.urls.size() == 1);  // every input was read first
}

TEST_CASE("pump: more malformed lines than --max-malformed fails; the share itself passes; 100% never fails") {
  auto lines = [](int good, int bad) {
    std::string s;
    for (int i = 0; i < good; ++i) s += access(i) + "\n";
    for (int i = 0; i < bad; ++i) s += "garbage\n";
    return s + "\n\n";  // blank lines count for nothing
  };
  // The exit-3 message of one input read as combined with --max-malformed `share`, "" when none.
  auto check = [&](const char* name, std::string data, double share) {
    auto inputs = inputs_of({{name, std::move(data)}});
    MalformedLog malformed;
    PumpOptions o{"combined"};
    o.max_malformed = share;
    RecordPump pump(o, malformed);
    Collect sink;
    std::string what = error_of(pump, inputs, sink);
    CHECK(pump.inputs()[0].stats.blank == 2);
    return what;
  };
  CHECK(PumpOptions{"combined"}.max_malformed == 0.5);
  CHECK(check("half.log", lines(3, 3), 0.5) == "");  // 3 of 6: exactly the default 50%
  CHECK(check("most.log", lines(2, 4), 0.5)
            .starts_with("most.log: 4 of 6 lines malformed with format combined (66.7%, more than --max-malformed "
                         "50%); first: most.log:3: "));
  CHECK_FALSE(check("few.log", lines(5, 1), 0.1).empty());
  CHECK(check("bad.log", lines(0, 4), 1) == "");  // 100%: even nothing readable passes
}

TEST_CASE("pump: records a sink refuses count as malformed for the check (stream: no time)") {
  auto inputs = inputs_of({{"a.log", access(1) + "\n" + access(2) + "\n"}});
  MalformedLog malformed;
  RecordPump pump(PumpOptions{"combined"}, malformed);
  Collect sink;
  sink.refuse_url = "/p1";
  sink.refuse = ParseError::kBadTime;
  CHECK(error_of(pump, inputs, sink) == "");  // one of two
  auto again = inputs_of({{"a.log", access(1) + "\n" + access(6) + "\n"}});
  RecordPump pump2(PumpOptions{"combined"}, malformed);
  Collect sink2;
  sink2.refuse_url = "/p1";
  sink2.refuse = ParseError::kBadTime;
  CHECK(error_of(pump2, again, sink2).starts_with("a.log: no record could be read with format combined"));
}

TEST_CASE("pump: the line sink's rejects are checked per input too, and it learns each input's format") {
  struct Lines final : LineSink {
    std::vector<std::string> formats;
    MalformedLog* log = nullptr;
    void on_format(const std::string& f) override { formats.push_back(f); }
    void on_line(std::string_view l, const LineOrigin& where) override {
      if (l.starts_with("garbage")) log->add(where.source, where.line, l, ParseError::kBadJson);
    }
  } sink;
  MalformedLog malformed;
  sink.log = &malformed;
  auto inputs = inputs_of({{"a.json", "{\"username\": \"a\"}\n"}, {"b.log", access(1) + "\n"},
                           {"c.log", access(2) + "\ngarbage\ngarbage\n"}});
  RecordPump pump(PumpOptions{}, malformed);
  try {
    pump.run_lines(inputs, sink);
    FAIL("expected exit 3");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).starts_with("c.log: 2 of 3 lines malformed with format combined"));
  }
  CHECK(sink.formats == std::vector<std::string>{"edx", "combined"});  // told again only on a change
}

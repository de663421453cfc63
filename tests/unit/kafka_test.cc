// kafka:// endpoint: errors that need no broker, and the scale-out merge partition's hand-over
// against an in-process mock cluster. Delivery, commits and outages are tested against the mock
// cluster in tests/cli/kafka_endpoint.sh.
#include "logpipe/io/endpoint.h"
#include "logpipe/error.h"
#include "logpipe/scale_out.h"

#include <doctest/doctest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <string>
#include <vector>

using namespace logpipe;

namespace {

// The exit code and message of the Error that `f` throws (0 and "" when it does not throw).
template <typename F>
std::pair<int, std::string> error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return {e.exit_code(), e.what()};
  }
  return {0, ""};
}

}  // namespace

TEST_CASE("kafka: an endpoint without a topic, or with an empty broker list, is a usage error") {
  EndpointOptions o;
  for (const char* bad : {"kafka://127.0.0.1:9092", "kafka://127.0.0.1:9092/", "kafka:///topic",
                          "kafka://127.0.0.1:9092/a/b"}) {
    auto [code, message] = error_of([&] { open_line_source(bad, o); });
    CHECK_MESSAGE(code == kExitUsage, bad);
    CHECK(message.find("expected kafka://BROKER[,BROKER...]/TOPIC") != std::string::npos);
    CHECK(error_of([&] { open_sink(bad, o); }).first == kExitUsage);
  }
}

TEST_CASE("kafka: an unknown or invalid librdkafka option is a usage error naming the key only") {
  EndpointOptions o;
  o.kafka_options = {{"no.such.property", "s3cret"}};
  auto [code, message] = error_of([&] { open_sink("kafka://127.0.0.1:9/t", o); });
  CHECK(code == kExitUsage);
  CHECK(message.find("kafka://127.0.0.1:9/t: --kafka-option no.such.property") == 0);
  CHECK(message.find("s3cret") == std::string::npos);
  o.kafka_options = {{"session.timeout.ms", "soon"}};
  CHECK(error_of([&] { open_line_source("kafka://127.0.0.1:9/t", o); }).first == kExitUsage);
}

TEST_CASE("kafka: a shared property of one role reaches that role only; role options their role") {
  EndpointOptions o;
  o.kafka_options = {{"linger.ms", "soon"}};  // a producer property with a bad value
  CHECK(error_of([&] { open_sink("kafka://127.0.0.1:9/t", o); }).first == kExitUsage);
  o.kafka_options = {{"session.timeout.ms", "soon"}};  // a consumer property: not the producer's
  auto sink = open_sink("kafka://127.0.0.1:9/t", o);
  CHECK(sink != nullptr);
  o.kafka_options.clear();
  o.kafka_producer_options = {{"linger.ms", "soon"}};
  auto [code, message] = error_of([&] { open_sink("kafka://127.0.0.1:9/t", o); });
  CHECK(code == kExitUsage);
  CHECK(message.find("kafka://127.0.0.1:9/t: --kafka-producer-option linger.ms") == 0);
  o.kafka_producer_options.clear();
  o.kafka_consumer_options = {{"session.timeout.ms", "soon"}};
  auto consumer = error_of([&] { open_line_source("kafka://127.0.0.1:9/t", o); });
  CHECK(consumer.first == kExitUsage);
  CHECK(consumer.second.find("kafka://127.0.0.1:9/t: --kafka-consumer-option session.timeout.ms") == 0);
}

TEST_CASE("kafka: close() fails, naming the endpoint, when messages cannot be delivered") {
  EndpointOptions o;
  // Port 9 on loopback: nothing listens; fail after 300 ms instead of librdkafka's 5 minutes.
  o.kafka_options = {{"message.timeout.ms", "300"}, {"log_level", "0"}};
  auto sink = open_sink("kafka://127.0.0.1:9/t", o);
  sink->write("10.0.0.1 - - line one\n10.0.0.2 - - line");
  auto [code, message] = error_of([&] { sink->close(); });
  CHECK(code == kExitRuntime);
  CHECK(message.find("kafka://127.0.0.1:9/t: 2 messages could not be delivered") == 0);
}

// stream --scale-out's merge partition against an in-process mock cluster (the real protocol on
// loopback): an instance joining the group does not take the partition from its owner (with
// the eager assignors it could, and the newcomer evaluated the windows since the last commit
// again: duplicate alerts); the owner leaving hands it over with what it committed.
TEST_CASE("kafka scale-out: the merge partition stays with its owner when an instance joins, moves when it leaves") {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  REQUIRE(rk);
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(rk, 1);
  REQUIRE(cluster);
  REQUIRE(rd_kafka_mock_topic_create(cluster, "logpipe.unit.partials", 1, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
  const std::string input = std::string("kafka://") + rd_kafka_mock_cluster_bootstraps(cluster) + "/in";
  EndpointOptions o;
  o.kafka_group = "unit";
  o.kafka_options = {{"log_level", "0"}};
  o.kafka_consumer_options = {{"heartbeat.interval.ms", "200"}, {"session.timeout.ms", "6000"}};
  using Event = PartialsChannel::Event;
  // Polls until `want` arrives (true) or `seconds` pass (false); every event is recorded.
  auto wait_for = [](PartialsChannel& c, Event want, double seconds, std::vector<PartialsChannel::Polled>& seen) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(int64_t(seconds * 1000));
    while (std::chrono::steady_clock::now() < until) {
      PartialsChannel::Polled p = c.poll(100);
      if (p.event == Event::kNothing) continue;
      seen.push_back(p);
      if (p.event == want) return true;
    }
    return false;
  };
  {
    std::vector<PartialsChannel::Polled> a_seen, b_seen;
    EndpointOptions oa = o;
    oa.kafka_consumer_options.push_back({"client.id", "z-owner"});
    auto a = open_partials_channel(input, oa);
    REQUIRE(wait_for(*a, Event::kTakeOver, 30, a_seen));
    CHECK(a_seen.back().state.empty());
    a->send("one");
    REQUIRE(a->drain(10000));
    REQUIRE(wait_for(*a, Event::kMessage, 10, a_seen));
    CHECK(a_seen.back().payload == "one");  // valid until the next poll
    const int64_t after_one = a_seen.back().offset + 1;
    a->commit(after_one, "state after one");

    // On a broker, member ids begin with the client id and the eager assignors sort members by
    // id: the newcomer's sorts first, so range would give it the partition. (The mock names
    // members otherwise: there, range kept the partition with its owner too, tried; this test
    // guards the stay and the hand-over, tests/cli/kafka_scale_out*.sh the assignor.)
    EndpointOptions ob = o;
    ob.kafka_consumer_options.push_back({"client.id", "a-newcomer"});
    auto b = open_partials_channel(input, ob);
    // Both poll (each serves its own group membership) while B joins: a rejoin takes a
    // heartbeat or two; 8 s is many of them.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(8);
    bool a_lost = false, b_took = false;
    while (std::chrono::steady_clock::now() < until) {
      a_lost = a_lost || a->poll(50).event == Event::kLost;
      b_took = b_took || b->poll(50).event == Event::kTakeOver;
    }
    CHECK_FALSE(a_lost);
    CHECK_FALSE(b_took);
    b->send("two");  // any instance sends; the owner reads
    REQUIRE(b->drain(10000));
    a_seen.clear();
    REQUIRE(wait_for(*a, Event::kMessage, 10, a_seen));
    CHECK(a_seen.back().payload == "two");
    CHECK(a_seen.back().offset == after_one);

    a.reset();  // leaves the group, its commit served
    REQUIRE(wait_for(*b, Event::kTakeOver, 30, b_seen));
    CHECK(b_seen.back().state == "state after one");
    CHECK(b_seen.back().offset == after_one);
    b_seen.clear();
    REQUIRE(wait_for(*b, Event::kMessage, 10, b_seen));
    CHECK(b_seen.back().payload == "two");
  }
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(rk);
}

// kafka:// endpoint: errors that need no broker. Delivery, commits and outages are tested against
// the mock cluster in tests/cli/kafka_endpoint.sh.
#include "logpipe/io/endpoint.h"
#include "logpipe/error.h"

#include <doctest/doctest.h>

#include <string>

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
